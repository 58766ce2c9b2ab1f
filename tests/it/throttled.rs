//! What PingOne's pushing back does to a run's record: an online plan estimates its time at
//! the rate PingOne allowed when it answered 429 to the plan's own reads; an API that cannot
//! be reached is retried on the backoff docs/rate-limits.md states, and rows failing side by side stop the
//! run only once the failures have lasted that backoff, the rows it cut short not attempted.

use std::time::Duration;

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::bench::pace::api_gone_after_one_look;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_plan_estimates_at_the_rate_pingone_allowed_and_says_so() {
    let options = SandboxOptions {
        rate: Some(10),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 50\nmax_retries = 10", "").await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(sandbox.tally().throttled_429 > 0, "the server did throttle");
    let plan = &ws.summary()["plan"];
    assert_eq!(plan["rate_basis"], "server_limit", "{plan}");
    assert_eq!(plan["configured_rate"], 50);
    let rate = plan["rate"].as_u64().unwrap();
    assert!((1..=10).contains(&rate), "{plan}");
    let needed = plan["requests_needed"].as_f64().unwrap();
    let estimate = plan["duration_at_rate_s"].as_f64().unwrap();
    assert!((estimate - needed / rate as f64).abs() < 0.01, "{plan}");
    assert!(
        run.stdout
            .contains("what PingOne allowed when it answered 429"),
        "{}",
        run.stdout
    );

    // Unthrottled, the plan keeps the configured rate and says nothing more.
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 50", "").await;
    ws.write("in.csv", &sms_rows(5));
    let run = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let plan = &ws.summary()["plan"];
    assert_eq!(plan["rate_basis"], "configured", "{plan}");
    assert_eq!(plan["rate"], 50);
}

/// A config whose tokens come from `sandbox` and whose API answers the run's first look, then
/// refuses every connection: an API host lost once the run has begun.
fn api_unreachable(ws: &Workspace, sandbox: &Sandbox, limits: &str) {
    let config = sandbox
        .config_snippet()
        .replace(&sandbox.api_url(), &api_gone_after_one_look());
    ws.write(
        "mfa-enroll.toml",
        &format!("{config}enable_mfa = false\n[limits]\n{limits}\n"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_backs_off_as_documented_and_stops_the_run_once_ridden_out() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    // Few rows and a count out of reach: each row rides out its whole backoff.
    let ws = Workspace::new();
    let backoff = "backoff_initial_ms = 1000\nbackoff_max_s = 30\nmax_retries = 2";
    let patient = format!("{backoff}\nstop_after_failures = 1000");
    api_unreachable(&ws, &sandbox, &patient);
    ws.write("in.csv", &sms_rows(4));
    let started = std::time::Instant::now();
    // Only the rows' requests ride out the backoff, not the new-device notices' guard's read.
    let run = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.both());
    // 1 s, then 2 s at least; jitter only adds.
    assert!(took >= Duration::from_secs(3), "gave up after {took:?}");
    for row in ws.results() {
        assert_eq!(row["error_code"], "RETRIES_EXHAUSTED", "{row:?}");
    }
    assert_eq!(ws.summary()["requests"]["retries"], 2 * 4);

    // Many rows failing side by side reach stop_after_failures (5) in a tenth of a second at
    // 50/s, but every row is still riding out its backoff (1 s, then 2 s): the run stops
    // only once the failures have lasted that long. The rows that used their retries say
    // so; those the stop cut short were not attempted.
    let ws = Workspace::new();
    api_unreachable(
        &ws,
        &sandbox,
        &format!("{backoff}\nstop_after_failures = 5"),
    );
    ws.write("in.csv", &sms_rows(20));
    let started = std::time::Instant::now();
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{}", run.both());
    assert_eq!(ws.summary()["stopped_early"]["code"], "REPEATED_FAILURES");
    assert!(took >= Duration::from_secs(3), "stopped after {took:?}");
    let results = ws.results();
    assert_eq!(results.len(), 20);
    for row in &results {
        let code = row["error_code"].as_str();
        assert!(
            ["RETRIES_EXHAUSTED", "NOT_ATTEMPTED"].contains(&code),
            "{row:?}"
        );
    }
    let cut_short: Vec<_> = results
        .iter()
        .filter(|r| r["error_code"] == "NOT_ATTEMPTED")
        .collect();
    assert!(!cut_short.is_empty(), "the stop cut rows short");
    assert!(
        cut_short.iter().all(|r| r["attempts"] == "0"),
        "{cut_short:?}"
    );
}
