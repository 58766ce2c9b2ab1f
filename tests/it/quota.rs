//! The second kind of 429: `QUOTA_EXCEEDED` is the license's quota, which waiting seconds does
//! not bring back. The run stops within seconds (exit 3, `QUOTA_EXCEEDED`, naming the reset
//! time) without retrying or sitting out the `Retry-After`, records the rest `NOT_ATTEMPTED`,
//! and `--resume` after the reset finishes it. A reset time that is not a date is shown as
//! the text PingOne sent.

use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_stops_the_run_within_seconds_and_resume_after_the_reset_finishes_it() {
    // 60 requests an hour, of the 80 the file needs (a read and a POST a row); its 429s say
    // Retry-After: 3600.
    let options = SandboxOptions {
        quota: Some(60),
        quota_period: Duration::from_secs(3600),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000\nconcurrency = 4", "").await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "QUOTA_EXCEEDED");
    let reason = summary["stopped_early"]["reason"].as_str().unwrap();
    assert!(reason.contains("resets at 20"), "the reset time: {reason}");
    assert!(reason.contains("--resume"), "{reason}");
    // Paced by a Retry-After of an hour (120 s at most), the stop would take minutes.
    let took = summary["duration_s"].as_f64().unwrap();
    assert!(
        took < 60.0,
        "stopped within seconds, not after a pause: {took} s"
    );
    assert_eq!(summary["requests"]["retries"], 0, "a quota is not retried");
    let results = ws.results();
    assert_eq!(results.len(), 40);
    let mut created = 0;
    for row in &results {
        match (row["outcome"].as_str(), row["error_code"].as_str()) {
            ("created", "") => created += 1,
            ("failed", "NOT_ATTEMPTED") => assert_eq!(row["attempts"], "0"),
            // A request in flight that met the quota itself.
            ("failed", "QUOTA_EXCEEDED") => assert!(!row["pingone_error_id"].is_empty()),
            other => panic!("{other:?}: {row:?}"),
        }
    }
    assert!((1..40).contains(&created), "{created}");
    assert!(
        sandbox.tally().quota_429 <= 4,
        "each request in flight met it once: {:?}",
        sandbox.tally()
    );

    sandbox.end_quota_period();
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, 40);
    assert_eq!(tally.duplicate_devices, 0);
}

/// PingOne's quota 429 for every device POST, with a reset time that is no date.
fn quota_with_odd_reset(_user: &str) -> (u16, String) {
    let body = r#"{"id":"q-err-1","code":"REQUEST_LIMITED","message":"Quota.",
        "details":[{"code":"QUOTA_EXCEEDED","innerError":{"quotaResetTime":"after the \u001b[31m weekend"}}]}"#;
    (429, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_time_that_is_not_a_date_is_shown_as_text() {
    let stub = stub_pingone(quota_with_odd_reset).await;
    let ws = Workspace::new();
    stub.config(&ws, "");
    ws.write("in.csv", &sms_rows(3));
    let run = enroll_with_secret(&ws, "any", "in.csv", "out", &["--concurrency", "1"]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let stopped = &ws.summary()["stopped_early"];
    assert_eq!(stopped["code"], "QUOTA_EXCEEDED");
    let reason = stopped["reason"].as_str().unwrap();
    assert!(
        reason.contains("\"after the [31m weekend\" (as PingOne sent it)"),
        "as text, without its control character: {reason}"
    );
    // One request at a time: the first POST (whichever user's) met the quota, and nothing
    // was sent after it.
    let results = ws.results();
    let met: Vec<_> = results
        .iter()
        .filter(|r| r["error_code"] == "QUOTA_EXCEEDED")
        .collect();
    assert_eq!(met.len(), 1, "{results:?}");
    assert_eq!(met[0]["pingone_error_id"], "q-err-1");
    let unsent = results
        .iter()
        .filter(|r| r["error_code"] == "NOT_ATTEMPTED");
    assert_eq!(unsent.count(), 2, "{results:?}");
}
