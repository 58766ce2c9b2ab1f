//! `--environment-id ID` on `run`, `check`, `verify` and `undo`: it overrides the config
//! file's `[pingone] environment_id`, and every API request goes to that environment (the
//! paths the sandbox received), also when the file names another.

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

use crate::verify::after_command;

/// An environment that is not the sandbox's: the config file names it.
const ELSEWHERE: &str = "e15e0000-0000-4000-8000-00000000e15e";

/// A sandbox that records requests, and a config file whose target is [`ELSEWHERE`].
async fn misdirected() -> (Sandbox, Workspace) {
    let options = SandboxOptions {
        record_arrivals: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let own = &sandbox.options().environment_id;
    assert!(config.contains(own.as_str()), "{config}");
    ws.write("mfa-enroll.toml", &config.replace(own.as_str(), ELSEWHERE));
    ws.write("in.csv", &sms_rows(3));
    (sandbox, ws)
}

/// Every API request the sandbox received from the `from`-th on went to `environment` (the
/// preflight's `HEAD /v1` names none); returns their methods.
fn methods_in(sandbox: &Sandbox, from: usize, environment: &str) -> Vec<String> {
    let prefix = format!("/v1/environments/{environment}/");
    let seen = sandbox.requests_seen();
    let since = seen.get(from..).unwrap_or_default();
    for request in since.iter().filter(|r| r.path != "/v1") {
        assert!(
            request.path.starts_with(&prefix),
            "{} {} is not in {environment}",
            request.method,
            request.path
        );
    }
    since.iter().map(|r| r.method.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flag_overrides_the_config_files_target_for_every_command() {
    let (sandbox, ws) = misdirected().await;
    let own = sandbox.options().environment_id.clone();

    // The file's target alone: the sandbox refuses the other environment (its token, asked
    // there, first), nothing created.
    let refused = enroll_to(&ws, &sandbox, "in.csv", "refused", &[]).await;
    assert_ne!(refused.code, 0, "{}", refused.both());
    assert_eq!(sandbox.tally().devices_created, 0);

    let seen_before = sandbox.requests_seen().len();
    let run = enroll(&ws, &sandbox, "in.csv", &["--environment-id", &own]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 3);
    assert_eq!(ws.summary()["target"]["environment_id"], own.as_str());
    assert!(methods_in(&sandbox, seen_before, &own).contains(&"POST".to_string()));

    let secret = sandbox.options().client_secret.expose().to_string();
    let check = run_binary(
        ws.dir.path(),
        Some(&secret),
        &[
            "check",
            "in.csv",
            "--config",
            "mfa-enroll.toml",
            "--environment-id",
            &own,
        ],
    )
    .await;
    assert!(
        check.stdout.contains(&format!("for environment {own}")),
        "{}",
        check.both()
    );
    assert_eq!(check.code, 0, "{}", check.both());

    let verify = after_command(&ws, &sandbox, "verify", "out", &["--environment-id", &own]).await;
    assert_eq!(verify.code, 0, "{}", verify.both());
    let undo = after_command(
        &ws,
        &sandbox,
        "undo",
        "out",
        &["--yes", "--environment-id", &own],
    )
    .await;
    assert_eq!(undo.code, 0, "{}", undo.both());
    assert_eq!(sandbox.deleted_devices().len(), 3);

    // Every request sent with the flag went to the sandbox's own environment.
    assert!(methods_in(&sandbox, seen_before, &own).contains(&"DELETE".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_that_is_no_uuid_is_refused_naming_it_and_nothing_is_sent() {
    let (sandbox, ws) = misdirected().await;
    let run = enroll(&ws, &sandbox, "in.csv", &["--environment-id", "production"]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("--environment-id"), "{}", run.stderr);
    assert_eq!(sandbox.tally().requests, 0);
}
