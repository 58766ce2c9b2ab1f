//! What a real tenant does that a toy one does not, against the real binary: paged lists,
//! VOICE extensions that make another line, and the status PingOne actually sent.

mod common;

use common::*;
use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Directory, SandboxOptions};

fn phone_device(kind: &str, phone: &str, extension: Option<&str>) -> Device {
    Device {
        id: uuid::Uuid::new_v4().to_string(),
        device_type: kind.into(),
        status: Some("ACTIVE".into()),
        phone: Some(phone.into()),
        extension: extension.map(str::to_string),
        created_at: Some("2024-01-01T00:00:00.000Z".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_on_a_later_page_is_seen_and_not_created_again() {
    let options = SandboxOptions {
        page_size: Some(1),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 100000\nconcurrency = 8", "").await;
    let mut csv = String::from("user_id,type,phone\n");
    for i in 0..40 {
        let user = user_id(i);
        for k in 0..3 {
            sandbox.seed_device(&user, phone_device("SMS", &us_number(i * 3 + k), None));
        }
        // The row names the third device: on page 3 of the user's list.
        csv.push_str(&format!("{user},SMS,{}\n", us_number(i * 3 + 2)));
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = ws.results();
    assert!(
        results.iter().all(|r| r["outcome"] == "skipped_existing"),
        "{results:?}"
    );
    assert_eq!(sandbox.tally().devices_created, 0);
    assert_eq!(sandbox.tally().duplicate_devices, 0);
    // Three pages per user, one look per user.
    assert_eq!(ws.summary()["requests"]["get"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_shared_on_two_pages_is_ambiguous() {
    let directory = Directory::listed([
        (user_id(1), "jdoe".to_string()),
        (user_id(2), "jdoe".to_string()),
        (user_id(3), "solo".to_string()),
    ]);
    let options = SandboxOptions {
        page_size: Some(1),
        directory,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    ws.write(
        "in.csv",
        "username,type,phone\njdoe,SMS,+15125550101\nsolo,SMS,+15125550102\n",
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["error_code"], "AMBIGUOUS_USER");
    assert_eq!(results[&3]["outcome"], "created");
    assert_eq!(results[&3]["user_id"], user_id(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_extension_is_another_line() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    // A desk phone behind a switchboard: the user already has extension 313#.
    let user = user_id(1);
    sandbox.seed_device(&user, phone_device("VOICE", "+1.5125550101", Some("313#")));
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,extension\n\
             {user},VOICE,+15125550101,313#\n\
             {user},VOICE,+15125550101,314#\n\
             {user},VOICE,+1 512 555 0101,314#\n\
             {user},VOICE,+15125550101,\n"
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "skipped_existing", "same extension");
    assert_eq!(results[&3]["outcome"], "created", "another extension");
    assert_eq!(results[&4]["error_code"], "DUPLICATE_ROW", "line 3 again");
    assert_eq!(
        results[&5]["outcome"], "created",
        "no extension is another line too"
    );
    assert_eq!(sandbox.devices_of(&user).len(), 3);
    assert_eq!(sandbox.tally().duplicate_devices, 0);
    let extensions: Vec<Option<String>> = sandbox
        .devices_of(&user)
        .into_iter()
        .map(|d| d.extension)
        .collect();
    assert!(extensions.contains(&Some("314#".into())), "{extensions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_status_is_the_one_pingone_sent() {
    for (status, expected) in [
        (axum::http::StatusCode::OK, "200"),
        (axum::http::StatusCode::CREATED, "201"),
    ] {
        let options = SandboxOptions {
            create_status: status,
            ..SandboxOptions::default()
        };
        let (sandbox, ws) = setup(options, "rate = 1000", "").await;
        ws.write("in.csv", &sms_rows(3));
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 0, "{}", run.both());
        for row in ws.results() {
            assert_eq!(row["http_status"], expected, "{row:?}");
        }
    }
}
