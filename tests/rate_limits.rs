//! The rate-limit promises, measured at the sandbox. These two scenarios run one after the
//! other in a test binary of their own, so other tests' processes do not skew the arrival
//! times they judge.

mod common;

use common::*;
use mfa_enroll::sandbox::SandboxOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_promises() {
    the_server_never_sees_more_than_rate_requests_in_any_second().await;
    a_server_throttling_below_the_rate_slows_the_run_instead_of_failing_rows().await;
}

async fn the_server_never_sees_more_than_rate_requests_in_any_second() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 20\nconcurrency = 16", "").await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    // 40 GETs (existence checks) and 40 POSTs.
    assert_eq!(sandbox.arrivals().len(), 80);
    let peak = sandbox.max_requests_in_any_second();
    assert!(peak <= 20, "{peak} requests arrived within one second");
    assert!(peak >= 15, "the run should use its rate, peak was {peak}");
}

async fn a_server_throttling_below_the_rate_slows_the_run_instead_of_failing_rows() {
    let sandbox = sandbox(SandboxOptions {
        rate: Some(8),
        ..SandboxOptions::default()
    })
    .await;
    let ws = Workspace::new();
    // The tool is told 40/s; the server allows 8/s and answers 429 with Retry-After.
    ws.config_for(
        &sandbox,
        "rate = 40\nconcurrency = 8\nmax_retries = 3",
        "on_existing = \"create\"",
    );
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = ws.results();
    assert!(results.iter().all(|r| r["outcome"] == "created"));
    let tally = sandbox.tally();
    assert!(tally.throttled_429 > 0, "the server did throttle");
    assert_eq!(tally.devices_created, 40);
    assert_eq!(tally.duplicate_devices, 0);
    let summary = ws.summary();
    assert_eq!(summary["requests"]["throttled_429"], tally.throttled_429);
    // Slowed as a whole: far fewer 429s than rows, so rows did not each hammer the server.
    assert!(
        tally.throttled_429 < 20,
        "{} 429s for 40 rows",
        tally.throttled_429
    );
}
