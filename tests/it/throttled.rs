//! What PingOne's pushing back does to a run's record: an online plan estimates its time at
//! the rate PingOne allowed when it answered 429 to the plan's own reads, and an API that
//! cannot be reached is retried on the backoff README states before the run gives up.

use std::time::Duration;

use crate::common::*;
use mfa_enroll::sandbox::SandboxOptions;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_is_retried_on_the_backoff_readme_states() {
    // A port nothing listens on: every connection is refused at once.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!(
            "[pingone]\nenvironment_id = \"5a4db0c5-0000-4000-8000-00000000e4b1\"\n\
             client_id = \"app\"\napi_url = \"http://127.0.0.1:{port}/v1\"\n\
             auth_url = \"http://127.0.0.1:{port}\"\n\
             [enroll]\npolicy_id = \"{POLICY}\"\n\
             [limits]\nbackoff_initial_ms = 100\nbackoff_max_s = 1\nmax_retries = 3\n\
             stop_after_failures = 5\n"
        ),
    );
    ws.write("in.csv", &sms_rows(20));
    let started = std::time::Instant::now();
    let run = enroll_with_secret(&ws, "secret", "in.csv", "out", &[]).await;
    let took = started.elapsed();
    assert_ne!(run.code, 0, "{}", run.both());
    // 100 + 200 + 400 ms: no row, and so no run, gives up sooner.
    assert!(took >= Duration::from_millis(700), "gave up after {took:?}");
    let results = ws.results();
    assert_eq!(results.len(), 20);
    let exhausted = results
        .iter()
        .filter(|r| r["error_code"] == "RETRIES_EXHAUSTED")
        .count() as u64;
    for row in &results {
        let code = row["error_code"].as_str();
        assert!(
            ["RETRIES_EXHAUSTED", "NOT_ATTEMPTED"].contains(&code),
            "{row:?}"
        );
    }
    // Every row that says it used its three retries did.
    let retries = ws.summary()["requests"]["retries"].as_u64().unwrap();
    assert!(
        retries >= 3 * exhausted,
        "{exhausted} rows say they gave up after 3 retries; {retries} retries in all"
    );
}
