//! README promises that had no test, or a test that could not fail: token renewal judged by
//! the 401s the server counted, a kill that certainly leaves a device unrecorded, the daily
//! message limit, what reaches the server, and the concurrency cap.

mod common;

use std::time::Duration;

use common::*;
use mfa_enroll::sandbox::SandboxOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    let options = SandboxOptions {
        token_ttl: Duration::from_secs(2),
        ..SandboxOptions::default()
    };
    // Create mode: one request per row, 60 rows at 15/s, so the run outlives two tokens.
    let (sandbox, ws) = setup(options, "rate = 15", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(60));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let tally = sandbox.tally();
    assert_eq!(
        tally.unauthorized_401, 0,
        "renewed before, never after a 401"
    );
    assert!(tally.token_requests >= 3, "{tally:?}");
    assert!(ws.results().iter().all(|r| r["attempts"] == "1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_401_renews_the_token_once_and_a_second_is_final() {
    for (rejected, outcome) in [(1, "created"), (2, "failed")] {
        let options = SandboxOptions {
            reject_valid_tokens: rejected,
            ..SandboxOptions::default()
        };
        let (sandbox, ws) = setup(options, "rate = 100", "on_existing = \"create\"").await;
        ws.write("in.csv", &sms_rows(1));
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        let row = &ws.results()[0];
        assert_eq!(row["outcome"], outcome, "{rejected}: {}", run.both());
        let tally = sandbox.tally();
        assert_eq!(tally.unauthorized_401, rejected, "{tally:?}");
        assert_eq!(
            tally.token_requests, 2,
            "one renewal, never a second: {tally:?}"
        );
        if outcome == "failed" {
            assert_eq!(row["http_status"], "401");
            assert_eq!(row["error_code"], "ACCESS_FAILED");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_created_but_unrecorded_when_killed_is_the_rows_own_on_resume() {
    for on_existing in ["skip", "create"] {
        let options = SandboxOptions {
            hold_answers_after_creates: Some(20),
            ..SandboxOptions::default()
        };
        let enroll_mode = format!("on_existing = \"{on_existing}\"");
        let (sandbox, ws) = setup(options, "rate = 1000\nconcurrency = 1", &enroll_mode).await;
        ws.write("in.csv", &sms_rows(60));
        let mut child = spawn_enroll(&ws, &sandbox, "in.csv");
        // The 21st device exists; its answer never comes. Kill the client now.
        while sandbox.tally().devices_created < 21 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.start_kill().expect("SIGKILL");
        finish(child).await;
        let recorded = ws
            .results()
            .iter()
            .filter(|r| r["outcome"] == "created")
            .count();
        assert_eq!(recorded, 20, "{on_existing}: the 21st device is unrecorded");

        let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
        assert_eq!(resumed.code, 0, "{on_existing}: {}", resumed.both());
        let results = by_line(&ws.results());
        assert_eq!(results.len(), 60);
        assert!(results.values().all(|r| r["outcome"] == "created"));
        let tally = sandbox.tally();
        assert_eq!(tally.devices_created, 60, "{on_existing}: {tally:?}");
        assert_eq!(tally.duplicate_devices, 0, "{on_existing}");
        // Line 22 (the 21st row) names the device made before the kill.
        let user = user_id(20);
        assert_eq!(sandbox.devices_of(&user).len(), 1);
        assert_eq!(results[&22]["device_id"], sandbox.devices_of(&user)[0].id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_names_the_user_a_run_would_message_past_the_daily_limit() {
    // Without the device cap (the token cannot read MFA settings), 51 pairing SMS for one user.
    let options = SandboxOptions {
        no_config_role: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 100000", "").await;
    let busy = user_id(1);
    let mut csv = String::from("user_id,type,phone,status\n");
    for i in 0..51 {
        csv.push_str(&format!(
            "{busy},SMS,{},ACTIVATION_REQUIRED\n",
            us_number(i)
        ));
    }
    csv.push_str(&format!(
        "{},SMS,{},ACTIVATION_REQUIRED\n",
        user_id(2),
        us_number(99)
    ));
    ws.write("in.csv", &csv);
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    let over = &ws.summary()["plan"]["users_over_daily_message_limit"];
    assert_eq!(over.as_array().unwrap().len(), 1, "{over}");
    assert_eq!(over[0]["user_id"], busy);
    assert_eq!(over[0]["sms"], 51);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    // Three seconds, as a date: longer than any backoff or default pause the tool has.
    let options = SandboxOptions {
        rate: Some(5),
        retry_after: Some(Duration::from_secs(3)),
        retry_after_as_date: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 50", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(12));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let arrivals = sandbox.arrivals();
    let first_429 = arrivals
        .iter()
        .position(|a| a.answered_429)
        .expect("the server did throttle");
    let next = arrivals[first_429 + 1..]
        .iter()
        .map(|a| a.at)
        .next()
        .expect("the run went on");
    // The date has one-second resolution: the wait is at least two of the three seconds.
    let waited = next - arrivals[first_429].at;
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_exhausted_before_any_post_and_unconfirmed_after_an_unclear_one() {
    // Every request fails before any effect: the existence check never succeeds, no POST is
    // ever sent, and the row says so.
    let failing = SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    };
    let limits = "rate = 1000\nmax_retries = 1\nbackoff_initial_ms = 5\nbackoff_max_s = 1";
    let (sandbox, ws) = setup(failing, limits, "").await;
    ws.write("in.csv", &sms_rows(2));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    for row in ws.results() {
        assert_eq!(row["error_code"], "RETRIES_EXHAUSTED", "{row:?}");
        assert_eq!(row["attempts"], "0", "no POST was sent");
    }
    assert_eq!(sandbox.tally().posts, 0);

    // A create that took effect but answered 500, then a stop while the run waits to look:
    // nobody can tell yet, so UNCONFIRMED, and the resume finds the device.
    let unclear = SandboxOptions {
        ambiguous_rate: 1.0,
        ..SandboxOptions::default()
    };
    let slow_backoff = "rate = 1000\nconcurrency = 1\nbackoff_initial_ms = 5000\nbackoff_max_s = 5";
    let (sandbox, ws) = setup(unclear, slow_backoff, "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(1));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    while sandbox.tally().ambiguous_failures == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    send_signal(&child, "INT");
    let run = finish(child).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let row = &ws.results()[0];
    assert_eq!(row["outcome"], "failed");
    assert_eq!(row["error_code"], "UNCONFIRMED", "{row:?}");
    assert_eq!(row["attempts"], "1");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(ws.results()[0]["outcome"], "created");
    assert_eq!(
        sandbox.tally().devices_created,
        1,
        "found, not created again"
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
