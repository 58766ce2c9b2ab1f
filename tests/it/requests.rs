//! What reaches PingOne, judged at the sandbox: each create body is exactly what the file says
//! (E.164 phones, fields as written, nothing else), the request floor (one device read per user
//! however far apart its rows, one look-up per username, one POST per device), and never more
//! requests in flight than `concurrency`.

use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_receives_exactly_what_the_file_says() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,email,extension,nickname,status,notification_locale,notification_variant\n\
             {},SMS,+1 (512) 555-0101,,,Work phone,,,\n\
             {},VOICE,1-512-555-0102,,313#,Desk,ACTIVE,,\n\
             {},EMAIL,,Jane@Example.com,,,ACTIVATION_REQUIRED,fr-CA,short\n",
            user_id(1),
            user_id(2),
            user_id(3)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let mut bodies: Vec<serde_json::Value> = sandbox
        .create_bodies()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    bodies.sort_by_key(|b| b["type"].as_str().unwrap_or("").to_string());
    let policy = serde_json::json!({"id": POLICY});
    assert_eq!(
        bodies,
        vec![
            serde_json::json!({"type": "EMAIL", "email": "Jane@Example.com", "policy": policy,
                "status": "ACTIVATION_REQUIRED",
                "notification": {"template": {"locale": "fr-CA", "variant": "short"}}}),
            serde_json::json!({"type": "SMS", "phone": "+15125550101", "policy": policy,
                "nickname": "Work phone"}),
            serde_json::json!({"type": "VOICE", "phone": "+15125550102", "policy": policy,
                "extension": "313#", "status": "ACTIVE", "nickname": "Desk"}),
        ],
        "E.164 phones, fields as written, nothing else"
    );
}

/// The request floor: one device read per user (not per row, also when a user's rows are far
/// apart in the file), one look-up per distinct username, one POST per device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_devices_are_read_once_however_far_apart_their_rows() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "concurrency = 4", "").await;
    let users = 20;
    let mut csv = String::from("user_id,username,type,phone\n");
    for i in 0..users * 3 {
        let user = i % users;
        let (id, name) = if user % 2 == 0 {
            (String::new(), format!("far-apart-{user}"))
        } else {
            (user_id(user), String::new())
        };
        csv.push_str(&format!("{id},{name},SMS,{}\n", us_number(i)));
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let requests = &ws.summary()["requests"];
    assert_eq!(requests["post"], users * 3, "one POST per device");
    assert_eq!(
        requests["get"],
        users + users / 2,
        "one device read per user and one look-up per username"
    );
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_requests_in_flight_than_concurrency() {
    let options = SandboxOptions {
        latency: Duration::from_millis(150),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 100000\nconcurrency = 3", "").await;
    ws.write("in.csv", &sms_rows(30));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(
        sandbox.max_in_flight(),
        3,
        "the cap is used, and never passed"
    );
}
