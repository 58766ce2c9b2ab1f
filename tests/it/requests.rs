//! What reaches PingOne, judged at the sandbox: each create body is exactly what the file says
//! (E.164 phones, fields as written, nothing else), the request floor (one device read per user
//! however far apart its rows, one look-up per batch of usernames, one POST per device), and never more
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
/// apart in the file), one look-up per batch of distinct usernames, one POST per device.
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
        users + 1 + 1,
        "one device read per user, one look-up for the ten usernames (one batch), and the new-device notices' guard's read of the policy"
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

/// Every API request carries its own `X-Ping-External-Transaction-ID` (PingOne's limit is 100
/// characters), a row's `transaction_id` is the one its last POST carried, and a failed
/// request's log line names it. Injected 5xx and revoked tokens make retries and resends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_its_own_transaction_id_and_rows_name_their_posts() {
    let options = SandboxOptions {
        fail_rate: 0.3,
        reject_valid_tokens: 2,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, &format!("rate = 1000\n{FAST_RETRIES}"), "").await;
    let mut csv = String::from("user_id,username,type,phone\n");
    for i in 0..24 {
        let (id, name) = if i % 3 == 0 {
            (String::new(), format!("traced-{i}"))
        } else {
            (user_id(i), String::new())
        };
        csv.push_str(&format!("{id},{name},SMS,{}\n", us_number(i)));
    }
    ws.write("in.csv", &csv);
    // A row may still run out of retries (exit 1): its record is judged all the same.
    let run = enroll(&ws, &sandbox, "in.csv", &["--verbose"]).await;
    assert!(run.code == 0 || run.code == 1, "{}", run.both());
    let seen = sandbox.requests_seen();
    assert!(
        sandbox.tally().injected_failures > 0,
        "some requests failed"
    );
    let ids: Vec<&str> = seen
        .iter()
        .map(|r| {
            r.transaction_id
                .as_deref()
                .unwrap_or_else(|| panic!("no id: {r:?}"))
        })
        .collect();
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "ids are unique: {ids:?}");
    assert!(ids.iter().all(|id| id.len() <= 100), "{ids:?}");
    let run_id = ids[0].split("-n").next().unwrap();
    assert!(
        ids.iter().all(|id| id.starts_with(run_id)),
        "one run: {ids:?}"
    );
    let results = ws.results();
    assert_eq!(results.len(), 24);
    assert!(
        results.iter().any(|r| r["outcome"] == "created"),
        "{results:?}"
    );
    for row in &results {
        let id = &row["transaction_id"];
        if row["attempts"] == "0" {
            assert_eq!(id, "", "no POST, no id: {row:?}");
            continue;
        }
        let line = &row["line"];
        assert!(
            id.ends_with(&format!("-L{line}-a{}", row["attempts"]))
                || id.ends_with(&format!("-L{line}-a{}-t2", row["attempts"])),
            "the row's line and last attempt: {row:?}"
        );
        let posts: Vec<_> = seen
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains(&row["user_id"]))
            .collect();
        assert_eq!(
            posts.last().and_then(|r| r.transaction_id.as_deref()),
            Some(id.as_str()),
            "the id of the row's last POST: {row:?}"
        );
    }
    let failed = ids.iter().any(|id| {
        run.stderr
            .contains(&format!("transaction_id=\"{id}\" method"))
    });
    assert!(
        failed,
        "a failed request's log line names its id:\n{}",
        run.stderr
    );
}

/// A results.csv written before `transaction_id` existed still resumes: its rows keep their
/// record (the column empty), and the rows this run sends name their POST's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_results_csv_without_transaction_id_resumes() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = sms_rows(3);
    csv.push_str(&format!("{},SMS,not-a-phone\n", user_id(9)));
    ws.write("in.csv", &csv);
    let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(first.code, 1, "{}", first.both());
    // The file as an older version wrote it: no transaction_id column.
    let path = ws.out().join("results.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| &header[i] != "transaction_id")
        .collect();
    assert!(keep.len() < header.len(), "{header:?}");
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(keep.iter().map(|&i| &header[i]))
        .unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        writer
            .write_record(keep.iter().map(|&i| &record[i]))
            .unwrap();
    }
    std::fs::write(&path, writer.into_inner().unwrap()).unwrap();
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 1, "{}", resumed.both());
    let results = ws.results();
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r["transaction_id"].is_empty()));
    assert_eq!(
        results.iter().filter(|r| r["outcome"] == "created").count(),
        3,
        "the record read by header name: {results:?}"
    );
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}

/// A file whose every row names a user of its own by username runs to its end: the look-ups
/// that run ahead of the rows keep going while the queued rows wait for a place (issue 36:
/// look-ups left unpolled there held every place in flight, the rows waited for one, and the
/// run stopped after a few dozen rows at concurrency 4). A hang fails the run's own bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_one_row_per_username_runs_to_its_end() {
    let limits = "rate = 1000000\nconcurrency = 4";
    let (sandbox, ws) = setup(SandboxOptions::default(), limits, "").await;
    let rows = 600;
    let mut input = String::from("username,type,phone\n");
    for i in 0..rows {
        input.push_str(&format!("one-row-user-{i},SMS,+15122{i:06}\n"));
    }
    ws.write("in.csv", &input);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, rows, "a device per row");
    assert_eq!(tally.duplicate_devices, 0);
}
