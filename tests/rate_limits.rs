//! The rate-limit promises, measured at the sandbox. These two scenarios run one after the
//! other in a test binary of their own, outside `tests/it/` (cargo runs test binaries one at a
//! time), so other tests' processes do not skew the arrival times they judge.

#[path = "it/common.rs"]
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
    // The promise is an upper bound; how close a run gets to it is the bench's to measure
    // (`cargo bench --bench throughput -- --case rate`), never a timed test's.
    let peak = sandbox.max_requests_in_any_second();
    assert!(peak <= 20, "{peak} requests arrived within one second");
}

async fn a_server_throttling_below_the_rate_slows_the_run_instead_of_failing_rows() {
    let options = SandboxOptions {
        rate: Some(8),
        ..SandboxOptions::default()
    };
    // The tool is told 40/s; the server allows 8/s and answers 429 with Retry-After.
    let limits = "rate = 40\nconcurrency = 8\nmax_retries = 3";
    let (sandbox, ws) = setup(options, limits, "on_existing = \"create\"").await;
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
    // Slowed as a whole: once a 429 pauses the run, only the requests already in flight
    // (at most `concurrency`) can meet another, so no one-second window of the server's
    // holds more 429s than that. Rows retrying on their own would pile up far more.
    let concurrency = 8;
    let arrivals = sandbox.arrivals();
    for (i, first) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|a| a.at - first.at < std::time::Duration::from_secs(1))
            .filter(|a| a.answered_429)
            .count();
        assert!(
            in_window <= concurrency,
            "{in_window} 429s within one second from {:?}",
            first.at
        );
    }
}
