//! The contract's "Exactly once" and "Nothing lost", against the sandbox: no device is ever
//! created twice, across faults, crashes, signals and reruns (also a kill that leaves a created
//! device unrecorded), and every row is accounted for.

use std::collections::HashMap;
use std::time::Duration;

use mfa_enroll::sandbox::{Directory, SandboxOptions};
use mfa_enroll_test_support::*;

/// Every line of `csv` exactly once in results.csv, each `created`, each device on the server.
fn assert_all_created_once(ws: &Workspace, sandbox: &mfa_enroll::sandbox::Sandbox, rows: usize) {
    let results = by_line(&ws.results());
    assert_eq!(results.len(), rows, "one row per record");
    let devices: HashMap<String, String> = sandbox
        .all_devices()
        .into_iter()
        .map(|(user, d)| (d.id, user))
        .collect();
    for (line, row) in &results {
        assert_eq!(row["outcome"], "created", "line {line}: {row:?}");
        assert_eq!(
            devices.get(&row["device_id"]),
            Some(&row["user_id"]),
            "line {line}: the device in results.csv exists for that user"
        );
    }
    let tally = sandbox.tally();
    assert_eq!(tally.duplicate_devices, 0, "no device created twice");
    assert_eq!(tally.devices_created as usize, rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_duplicates_over_thousands_of_rows_with_failures_and_unclear_answers() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            fail_rate: 0.1,
            ambiguous_rate: 0.1,
            ..SandboxOptions::default()
        },
        &format!("rate = 100000\nconcurrency = 16\n{FAST_RETRIES}"),
        "",
    )
    .await;
    // 1,000 users with two devices each, the second named by username half the time.
    let mut csv = String::from("user_id,username,type,phone,email\n");
    for i in 0..1000 {
        let name = format!("user{i}");
        let id = Directory::open_id_for(&name);
        csv.push_str(&format!("{id},,SMS,{},\n", us_number(i)));
        if i % 2 == 0 {
            csv.push_str(&format!(",{name},EMAIL,,{name}@example.com\n"));
        } else {
            csv.push_str(&format!("{id},,EMAIL,,{name}@example.com\n"));
        }
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    // A 5xx to a POST may have been acted on: those rows are UNCONFIRMED, and resumes settle them.
    resume_until_settled(&ws, &sandbox, "in.csv", run).await;
    let tally = sandbox.tally();
    assert!(
        tally.ambiguous_failures > 50,
        "the faults did happen: {tally:?}"
    );
    assert!(tally.injected_failures > 50, "{tally:?}");
    assert_all_created_once(&ws, &sandbox, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_mode_also_never_duplicates_after_unclear_answers() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            ambiguous_rate: 0.2,
            ..SandboxOptions::default()
        },
        &format!("rate = 100000\nconcurrency = 16\n{FAST_RETRIES}"),
        "on_existing = \"create\"",
    )
    .await;
    ws.write("in.csv", &sms_rows(500));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(sandbox.tally().ambiguous_failures > 20);
    assert_all_created_once(&ws, &sandbox, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_sigkill_resumes_to_the_right_outcome_without_duplicates() {
    for on_existing in ["skip", "create"] {
        let (sandbox, ws) = setup(
            SandboxOptions::default(),
            "rate = 60\nconcurrency = 8",
            &format!("on_existing = \"{on_existing}\""),
        )
        .await;
        ws.write("in.csv", &sms_rows(150));
        let mut child = spawn_enroll(&ws, &sandbox, "in.csv");
        wait_for_rows(&ws.out(), 30).await;
        child.start_kill().expect("SIGKILL");
        let killed = finish(child).await;
        assert_ne!(killed.code, 0);
        let partial = ws.results().len();
        assert!(
            (30..150).contains(&partial),
            "{partial} rows before the kill"
        );

        // The killed run's lock file is still there; it must not block the resume.
        assert!(ws.out().join(".mfa-enroll.lock").exists());
        let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
        assert_eq!(resumed.code, 0, "{on_existing}: {}", resumed.both());
        assert_all_created_once(&ws, &sandbox, 150);
        let summary = ws.summary();
        assert_eq!(summary["resumed_rows"].as_u64().unwrap() as usize, partial);
        assert_eq!(summary["outcomes"]["created"], 150);
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
async fn sigint_and_sigterm_stop_cleanly_with_exit_3_and_resume() {
    for signal in ["INT", "TERM"] {
        let (sandbox, ws) =
            setup(SandboxOptions::default(), "rate = 60\nconcurrency = 8", "").await;
        ws.write("in.csv", &sms_rows(200));
        let child = spawn_enroll(&ws, &sandbox, "in.csv");
        wait_for_rows(&ws.out(), 20).await;
        send_signal(&child, signal);
        let stopped = finish(child).await;
        assert_eq!(stopped.code, 3, "SIG{signal}: {}", stopped.both());
        assert!(stopped.stdout.contains("--resume"), "{}", stopped.stdout);

        let summary = ws.summary();
        assert_eq!(summary["finished"], true);
        assert_eq!(summary["exit_code"], 3);
        assert_eq!(summary["stopped_early"]["code"], "INTERRUPTED");
        let results = by_line(&ws.results());
        assert_eq!(results.len(), 200, "every row has its row, sent or not");
        let not_attempted = results
            .values()
            .filter(|r| r["error_code"] == "NOT_ATTEMPTED")
            .count();
        assert!(not_attempted > 0);
        let created = results
            .values()
            .filter(|r| r["outcome"] == "created")
            .count();
        assert_eq!(
            created + not_attempted,
            200,
            "in flight finished, nothing half-done"
        );

        let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
        assert_eq!(resumed.code, 0, "{}", resumed.both());
        assert_all_created_once(&ws, &sandbox, 200);
        assert!(
            ws.errors().is_empty(),
            "errors.csv lists only what is still wrong"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_rows_go_in_file_order_and_a_device_named_twice_is_created_once() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 100000\nconcurrency = 16",
        "",
    )
    .await;
    // 30 users, three devices each, their rows spread over the file and named both ways;
    // the fourth row of each user repeats the first, named the other way.
    let mut csv = String::from("user_id,username,type,phone,email\n");
    for round in 0..4 {
        for u in 0..30 {
            let name = format!("member{u}");
            let id = Directory::open_id_for(&name);
            let (by_id, by_name) = (format!("{id},"), format!(",{name}"));
            let who = if (u + round) % 2 == 0 {
                &by_id
            } else {
                &by_name
            };
            let row = match round {
                0 => format!("{who},SMS,{},\n", us_number(u)),
                1 => format!("{who},EMAIL,,{name}@example.com\n"),
                2 => format!("{who},VOICE,{},\n", us_number(100 + u)),
                _ => {
                    let other = if u % 2 == 0 { &by_name } else { &by_id };
                    format!("{other},SMS,{},\n", us_number(u))
                }
            };
            csv.push_str(&row);
        }
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    for u in 0..30 {
        let id = Directory::open_id_for(&format!("member{u}"));
        let types: Vec<String> = sandbox
            .devices_of(&id)
            .iter()
            .map(|d| d.device_type.clone())
            .collect();
        assert_eq!(
            types,
            ["SMS", "EMAIL", "VOICE"],
            "user {u}: created once each, in file order"
        );
    }
    let results = ws.results();
    let skipped: Vec<_> = results
        .iter()
        .filter(|r| r["outcome"] == "skipped_existing")
        .collect();
    assert_eq!(
        skipped.len(),
        30,
        "the repeated device is found, not created"
    );
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_output_directory_is_refused() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 10", "").await;
    ws.write("in.csv", &sms_rows(100));
    let first = spawn_enroll(&ws, &sandbox, "in.csv");
    wait_for_rows(&ws.out(), 1).await;
    let second = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(second.code, 2, "{}", second.both());
    let pid = first.id().unwrap().to_string();
    assert!(
        second.stderr.contains(&format!("process {pid}")),
        "{}",
        second.stderr
    );
    send_signal(&first, "INT");
    assert_eq!(finish(first).await.code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_different_input() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write(
        "in.csv",
        &format!("{}{},SMS,+1 555 0100\n", sms_rows(3), user_id(7)),
    );
    assert_eq!(enroll(&ws, &sandbox, "in.csv", &[]).await.code, 1);
    let before = std::fs::read(ws.out().join("results.csv")).unwrap();
    ws.write("in.csv", &sms_rows(4));
    let run = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("differs"), "{}", run.stderr);
    let after = std::fs::read(ws.out().join("results.csv")).unwrap();
    assert_eq!(before, after, "a refused resume changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_mode_still_refuses_a_device_named_twice_in_one_file() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "on_existing = \"create\"",
    )
    .await;
    let id = Directory::open_id_for("pat");
    ws.write(
        "in.csv",
        &format!("user_id,username,type,phone\n,pat,SMS,+15122001000\n{id},,SMS,+1 512 200 1000\n"),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&ws.results());
    assert_eq!(rows[&2]["outcome"], "created");
    assert_eq!(rows[&3]["outcome"], "invalid");
    assert_eq!(rows[&3]["error_code"], "DUPLICATE_ROW");
    assert!(rows[&3]["error_message"].contains("line 2"));
    assert_eq!(sandbox.devices_of(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_without_waiting_for_requests_in_flight() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            latency: std::time::Duration::from_secs(5),
            ..SandboxOptions::default()
        },
        "rate = 100\nconcurrency = 4",
        // The rows' requests are the first in flight, not the new-device notices' guard's
        // policy read.
        "allow_messages = true",
    )
    .await;
    ws.write("in.csv", &sms_rows(20));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    // Wait until requests are in flight (each takes 5 s to answer).
    for _ in 0..200 {
        if !sandbox.arrivals().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(!sandbox.arrivals().is_empty(), "the run sent something");
    send_signal(&child, "INT");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    send_signal(&child, "INT");
    let stopped = finish(child).await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    assert!(stopped.stderr.contains("again"), "{}", stopped.stderr);
    // Had it waited, the rows in flight would have their rows and the summary its end.
    assert!(
        ws.results().len() < 20,
        "it did not wait for the answers in flight"
    );
    assert_eq!(ws.summary()["finished"], false);
}

/// Issue #33 item 5: PingOne's device list shows a new device only after a while. Every
/// create takes effect and its answer is lost; a read soon after misses the device. The POST
/// is never sent twice: reads over `list_lag_s` find it, and when the lag is longer than
/// that, the row is UNCONFIRMED and a resume finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_listed_only_seconds_later_is_never_created_twice() {
    let lagging = |ms| SandboxOptions {
        ambiguous_rate: 1.0,
        list_lag: Duration::from_millis(ms),
        ..SandboxOptions::default()
    };
    // The list catches up within list_lag_s: each row finds its device.
    let (sandbox, ws) = setup(lagging(1500), "rate = 1000\nlist_lag_s = 4", "").await;
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    for row in ws.results() {
        assert_eq!(row["outcome"], "created", "{row:?}");
        assert_eq!(row["attempts"], "1", "one POST: {row:?}");
    }
    let tally = sandbox.tally();
    assert_eq!((tally.posts, tally.duplicate_devices), (3, 0), "{tally:?}");

    // The list lags longer than list_lag_s: UNCONFIRMED, nothing sent twice; the resume
    // reads over the lag again and finds every device.
    let (sandbox, ws) = setup(lagging(3000), "rate = 1000\nlist_lag_s = 1", "").await;
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    for row in ws.results() {
        assert_eq!(row["error_code"], "UNCONFIRMED", "{row:?}");
    }
    assert_eq!(sandbox.tally().posts, 3, "no second POST");
    ws.config_for(&sandbox, "rate = 1000\nlist_lag_s = 4", "");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_all_created_once(&ws, &sandbox, 3);
    assert_eq!(sandbox.tally().posts, 3, "found, not sent again");
}

/// Issue #33 item 12: one address with an international domain, in Unicode in one place and
/// in punycode in another, is one device: within a file, and against the user's devices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_domain_in_unicode_and_in_punycode_is_one_device() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let id = user_id(1);
    ws.write(
        "in.csv",
        &format!("user_id,type,email\n{id},EMAIL,jane@bücher.example\n{id},EMAIL,Jane@XN--BCHER-KVA.example\n"),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(sandbox.all_devices().len(), 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "created", "{:?}", results[&2]);
    assert_ne!(results[&3]["outcome"], "created", "{:?}", results[&3]);

    // A later file names the same address the other way: the device is the user's already.
    ws.write(
        "again.csv",
        &format!("user_id,type,email\n{id},EMAIL,jane@xn--bcher-kva.example\n"),
    );
    let again = enroll_to(&ws, &sandbox, "again.csv", "again", &[]).await;
    assert_eq!(again.code, 0, "{}", again.both());
    let row = &read_csv(&ws.path("again").join("results.csv"))[0];
    assert_eq!(row["outcome"], "skipped_existing", "{row:?}");
    assert_eq!(sandbox.all_devices().len(), 1);
}
