//! Unattended runs: nothing secret leaks anywhere, wrong credentials or roles and failure
//! storms stop the run with exit 3 and a message that names the cause, and --help shows the
//! three uses. (Logs are `logs.rs`'s, output files and the metrics file `outputs.rs`'s.)

use std::path::Path;

use mfa_enroll::config::Secret;
use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

const CANARY: &str = "CanarySecret-7f3e9b21d04c";

fn canary_options() -> SandboxOptions {
    SandboxOptions {
        client_secret: Secret::new(CANARY),
        ..SandboxOptions::default()
    }
}

/// Every file under `dir`, as text.
fn all_files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(all_files(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    found
}

fn assert_nothing_leaks(sandbox: &Sandbox, run: &Run, out: &Path, secrets: &[&str]) {
    let mut needles: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    needles.extend(sandbox.issued_tokens());
    let mut haystacks = vec![
        ("stdout".to_string(), run.stdout.clone()),
        ("stderr".to_string(), run.stderr.clone()),
    ];
    haystacks.extend(all_files(out));
    for needle in &needles {
        for (name, text) in &haystacks {
            assert!(
                !text.contains(needle.as_str()),
                "{name} contains a secret or token"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_and_tokens_appear_in_no_output_log_or_file() {
    // A normal run with row failures, verbose text logs.
    let (sandbox, ws) = setup(
        SandboxOptions {
            fail_rate: 0.2,
            ..canary_options()
        },
        &format!("rate = 1000\n{FAST_RETRIES}"),
        "",
    )
    .await;
    ws.write(
        "in.csv",
        &format!("{}{},SMS,+1 555 0100\n", sms_rows(20), user_id(50)),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &["--verbose"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(!sandbox.issued_tokens().is_empty());
    assert_nothing_leaks(&sandbox, &run, &ws.out(), &[CANARY]);

    // The same with JSON logs and an online dry run.
    let json_args = ["--log-format", "json", "--dry-run", "--online"];
    let json = enroll_to(&ws, &sandbox, "in.csv", "plan", &json_args).await;
    assert_eq!(json.code, 1, "{}", json.both());
    assert_nothing_leaks(&sandbox, &json, &ws.path("plan"), &[CANARY]);

    // A refused secret is not echoed either.
    let wrong = "WrongSecret-55aa01";
    let refused = enroll_with_secret(&ws, wrong, "in.csv", "refused", &["-v"]).await;
    assert_eq!(refused.code, 3, "{}", refused.both());
    assert_nothing_leaks(&sandbox, &refused, &ws.path("refused"), &[CANARY, wrong]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_role_stops_the_run_with_exit_3() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            no_role: true,
            ..SandboxOptions::default()
        },
        "rate = 1000\nconcurrency = 1",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(50));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(run.stdout.contains("Identity Data Admin"), "{}", run.stdout);
    assert_eq!(ws.summary()["stopped_early"]["code"], "MISSING_ROLE");
    assert!(
        sandbox.tally().requests <= 2,
        "stopped at once, not row by row"
    );
    let results = ws.results();
    assert_eq!(results.len(), 50, "every row still has its row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_name_the_cause_including_the_region() {
    // The sandbox must be running for the refusal to come from its token endpoint.
    let (_sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &sms_rows(2));
    let run = enroll_with_secret(&ws, "wrong", "in.csv", "out", &["--log-format", "json"]).await;
    assert_eq!(run.code, 3);
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "CREDENTIALS_REFUSED");
    let reason = summary["stopped_early"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("invalid_client") && reason.contains("region"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_server_errors_stops_the_run_early() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            fail_rate: 1.0,
            ..SandboxOptions::default()
        },
        // Retries that take 75 ms in all (5 + 10 + 20 + 40): 5xx stop the run once the
        // failures have lasted that long, and at 100/s that is within the count.
        "rate = 100\nconcurrency = 2\nstop_after_failures = 12\n\
         backoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 4",
        // The faults are the subject, not messages: the notices' guard's read meets them too.
        "allow_messages = true",
    )
    .await;
    ws.write("in.csv", &sms_rows(500));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "REPEATED_FAILURES");
    assert!(run.stdout.contains("5xx"), "{}", run.stdout);
    assert!(
        sandbox.tally().requests < 40,
        "{} requests",
        sandbox.tally().requests
    );
    assert_eq!(ws.results().len(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_shows_the_three_uses_and_version_prints() {
    let dir = tempfile::tempdir().unwrap();
    let help = run_binary(dir.path(), None, &["run", "--help"]).await;
    assert_eq!(help.code, 0);
    for use_case in ["Pre-check", "Migration", "Nightly job", "--resume"] {
        assert!(
            help.stdout.contains(use_case),
            "{use_case} missing from --help"
        );
    }
    let version = run_binary(dir.path(), None, &["--version"]).await;
    assert_eq!(
        version.stdout.trim(),
        format!("mfa-enroll {}", env!("CARGO_PKG_VERSION"))
    );
}
