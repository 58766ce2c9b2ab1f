//! Honest progress (issue 32), against the real binary and the sandbox: a run counts its
//! progress in requests done against the requests it plans (look-ups, device reads, MFA
//! switches, POSTs), with rows done beside them, and a resumed run plans only the rows it
//! will process. How close the estimate comes to the real time is judged in
//! `tests/rate_limits.rs`, alone, and measured by the bench (`--case eta`).

use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// The JSON log events of `run` with this message.
fn events(run: &Run, message: &str) -> Vec<serde_json::Value> {
    run.stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|e| e["message"] == message)
        .collect()
}

/// Progress logged every 200 ms, as JSON.
const WATCHED: [&str; 4] = ["--log-format", "json", "--progress-every-ms", "200"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_requests_done_against_the_plan_with_rows_beside_them() {
    // 20 users, 3 rows each, half named by username; devices read first, MFA switched on:
    // 1 look-up (the 10 usernames in one batch) + 20 reads + 30 switches (a GET for each
    // user by ID, a PUT per user) + 60 POSTs = 111 requests, at 40 a second.
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 40",
        "on_existing = \"skip\"\nenable_mfa = true",
    )
    .await;
    let users = 20;
    let mut csv = String::from("user_id,username,type,phone\n");
    for i in 0..users * 3 {
        let user = i % users;
        let (id, name) = if user % 2 == 0 {
            (String::new(), format!("progress-{user}"))
        } else {
            (user_id(user), String::new())
        };
        csv.push_str(&format!("{id},{name},SMS,{}\n", us_number(i)));
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &WATCHED).await;
    assert_eq!(run.code, 0, "{}", run.both());
    // A batch's look-up, device reads, a switch's GET for each user named by ID and a PUT
    // per user, POSTs, and the new-device notices' guard's read of the one policy.
    let planned = 1 + 20 + (10 + 20) + 60 + 1;
    assert_eq!(
        sandbox.arrivals().len(),
        planned,
        "the plan is what the engine sent"
    );
    let started = events(&run, "run started");
    assert_eq!(started[0]["requests_planned"], planned, "{}", run.stderr);
    let lines = events(&run, "progress");
    assert!(lines.len() >= 5, "{}", run.stderr);
    let mut before = 0;
    for line in &lines {
        assert_eq!(line["requests_planned"], planned, "{line}");
        assert_eq!(line["total"], 60, "rows beside the requests: {line}");
        let done = line["requests_done"].as_u64().expect("requests done");
        assert!(before <= done && done <= planned as u64, "{line}");
        before = done;
    }
    // Requests climb while rows are still to come, and the line says both.
    assert!(
        lines.iter().any(|l| l["requests_done"].as_u64() > Some(0)
            && l["done"].as_u64() < Some(60)
            && l["eta_s"].is_u64()
            && l["requests_per_s"].is_f64()),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_plans_only_the_rows_it_will_process() {
    // A quota of 18 requests stops the first run after about 18 of its 30 POSTs; --resume
    // after the quota's reset does the rest.
    let options = SandboxOptions {
        quota: Some(18),
        quota_period: Duration::from_secs(3600),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(
        options,
        "rate = 10
concurrency = 2",
        "on_existing = \"create\"",
    )
    .await;
    ws.write("in.csv", &sms_rows(30));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let created = ws
        .results()
        .iter()
        .filter(|r| r["outcome"] == "created")
        .count();
    assert!((1..30).contains(&created), "{created}");

    sandbox.end_quota_period();
    let sent_before = sandbox.arrivals().len();
    let mut args = vec!["--resume"];
    args.extend(WATCHED);
    let run = enroll(&ws, &sandbox, "in.csv", &args).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let sent = sandbox.arrivals().len() - sent_before;
    let to_do = 30 - created;
    // A POST per row still to do, and a read first for a row whose device the first run
    // may have made: the plan is what the run sent.
    let started = events(&run, "run started");
    assert_eq!(started[0]["requests_planned"], sent, "{}", run.stderr);
    assert!(sent >= to_do, "{sent}");
    let lines = events(&run, "progress");
    assert!(!lines.is_empty(), "{}", run.stderr);
    for line in &lines {
        assert_eq!(
            line["total"], to_do,
            "the finished rows are not counted: {line}"
        );
        assert_eq!(line["requests_planned"], sent, "{line}");
    }
}
