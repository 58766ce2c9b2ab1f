//! What is retried, how long a retry waits, and what a row says when retrying ends: server
//! errors are retried and a 400 is final, a Retry-After given as an HTTP date is waited out,
//! retries exhausted before any POST say RETRIES_EXHAUSTED with no attempt, and a stop after an
//! unclear POST says UNCONFIRMED until a resume finds the device.

use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_a_400_is_final() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            fail_rate: 0.3,
            policies: Some(Default::default()),
            ..SandboxOptions::default()
        },
        &format!("rate = 1000\n{FAST_RETRIES}"),
        "",
    )
    .await;
    let unknown_policy = "11111111-2222-4333-8444-555555555555";
    let mut csv = sms_rows(30);
    csv.push_str(&format!("{},SMS,+15122009999\n", user_id(99)).replace("SMS,", "SMS,"));
    let csv = csv.replace("user_id,type,phone\n", "user_id,type,phone,policy_id\n");
    let csv: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l}\n"),
            31 => format!("{l},{unknown_policy}\n"),
            _ => format!("{l},\n"),
        })
        .collect();
    ws.write("in.csv", &csv);
    let mut run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    // Each run's summary counts its own requests: a last resume may have had nothing to retry.
    let retries = |ws: &Workspace| ws.summary()["requests"]["retries"].as_u64().unwrap();
    let mut retried = retries(&ws);
    // A 5xx to a POST may have been acted on: that row is UNCONFIRMED, never sent twice in
    // a run; a resume reads the devices and sends it only when it is not there.
    for _ in 0..8 {
        if !ws
            .results()
            .iter()
            .any(|r| r["error_code"] == "UNCONFIRMED")
        {
            break;
        }
        run = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
        retried += retries(&ws);
    }
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    for line in 2..=31 {
        assert_eq!(
            results[&line]["outcome"], "created",
            "line {line}: {:?}",
            results[&line]
        );
    }
    let rejected = &results[&32];
    assert_eq!(rejected["outcome"], "failed");
    assert_eq!(rejected["http_status"], "400");
    assert_eq!(
        rejected["error_code"], "INVALID_VALUE",
        "PingOne's own code"
    );
    let tally = sandbox.tally();
    assert!(tally.injected_failures > 0);
    assert!(retried > 0, "no run retried the injected failures");
    assert_eq!(tally.duplicate_devices, 0);
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
    // The faults are the subject, not messages: the notices' guard's read meets them too.
    let (sandbox, ws) = setup(failing, limits, "allow_messages = true").await;
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
