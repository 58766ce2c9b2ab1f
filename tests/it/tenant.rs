//! What a real tenant does that a toy one does not, against the real binary: paged lists,
//! VOICE extensions that make another line, and the status PingOne actually sent.

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Directory, SandboxOptions};
use mfa_enroll_test_support::*;

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
    // Three pages per user, one look per user, and the new-device notices' guard's read of
    // the policy.
    assert_eq!(ws.summary()["requests"]["get"], 120 + 1);
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

/// A sandbox over https with a certificate from a private CA, as a TLS-inspecting proxy or a
/// company CA presents it; the workspace holds the CA as ca.pem.
async fn https_sandbox(options: SandboxOptions) -> (mfa_enroll::sandbox::Sandbox, Workspace) {
    let generated = mfa_enroll::sandbox::tls::generate_for_localhost().unwrap();
    let options = SandboxOptions {
        tls: Some(generated.server),
        ..options
    };
    let (sandbox, ws) = setup(options, "rate = 100000\nconcurrency = 8", "").await;
    ws.write("ca.pem", &generated.ca_pem);
    (sandbox, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_works_with_ca_file_and_stops_before_sending_without_it() {
    let (sandbox, ws) = https_sandbox(SandboxOptions::default()).await;
    assert!(sandbox.api_url().starts_with("https://localhost:"));
    ws.write("in.csv", &sms_rows(5));
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let without_ca = config.replace(
        "ca_file = \"sandbox-ca.pem\"   # the sandbox's own CA\n",
        "",
    );
    ws.write("mfa-enroll.toml", &without_ca);
    let refused = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(refused.stderr.contains("not trusted"), "{}", refused.stderr);
    assert!(refused.stderr.contains("ca_file"), "{}", refused.stderr);
    assert_eq!(sandbox.tally().token_requests, 0, "no request got through");
    assert!(
        !ws.out().join("results.csv").exists(),
        "nothing recorded either"
    );

    let with_ca = without_ca.replace("api_url = ", "ca_file = \"ca.pem\"\napi_url = ");
    ws.write("mfa-enroll.toml", &with_ca);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 5);
}

/// Issue 13's run: a paged tenant answering 200, private_key_jwt, https with a private CA,
/// users with devices already; every row right and no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_tenants_quirks_all_at_once() {
    let pair = rcgen::KeyPair::generate().unwrap();
    let options = SandboxOptions {
        page_size: Some(1),
        create_status: axum::http::StatusCode::OK,
        token_auth: mfa_enroll::config::TokenAuthMethod::PrivateKeyJwt,
        client_public_key: Some(pair.public_key_pem().into_bytes()),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = https_sandbox(options).await;
    ws.write("client-key.pem", &pair.serialize_pem());
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    ws.write(
        "mfa-enroll.toml",
        &config.replace("sandbox-ca.pem", "ca.pem").replace(
            "\"client-key.pem\"   # the private half of --client-public-key",
            "\"client-key.pem\"",
        ),
    );
    let mut csv = String::from("user_id,type,phone,extension\n");
    for i in 0..20 {
        let user = user_id(i);
        sandbox.seed_device(&user, phone_device("SMS", &us_number(i * 3), None));
        sandbox.seed_device(
            &user,
            phone_device("VOICE", &us_number(i * 3 + 1), Some("1#")),
        );
        csv.push_str(&format!("{user},SMS,{},\n", us_number(i * 3)));
        csv.push_str(&format!("{user},VOICE,{},2#\n", us_number(i * 3 + 1)));
        csv.push_str(&format!("{user},SMS,{},\n", us_number(i * 3 + 2)));
    }
    ws.write("in.csv", &csv);
    let run = enroll_as(&ws, None, "in.csv", "out", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = by_line(&ws.results());
    for i in 0..20u64 {
        let line = 2 + i * 3;
        assert_eq!(results[&line]["outcome"], "skipped_existing");
        assert_eq!(
            results[&(line + 1)]["outcome"],
            "created",
            "another extension"
        );
        assert_eq!(results[&(line + 1)]["http_status"], "200");
        assert_eq!(results[&(line + 2)]["outcome"], "created");
    }
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, 40);
    assert_eq!(tally.duplicate_devices, 0);
}
