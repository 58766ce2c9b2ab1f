//! New-device notices are held by `--allow-messages` as pairing codes are (issue 37): a live
//! run whose rows would create devices under a policy whose `newDeviceNotification` is not
//! `NONE` is refused before anything is written (exit 2, how many rows, the first lines),
//! and one whose policy cannot be read is refused too, saying so; `--allow-messages` lets
//! both through. The sandbox is asked only GETs until then: no POST.

use mfa_enroll::sandbox::{PolicyRules, SandboxOptions};
use mfa_enroll_test_support::*;

/// A sandbox whose every policy notifies new devices (`EMAIL_THEN_SMS`, the API's default),
/// or whose token cannot read the policies (`unreadable`).
fn options(notice: &str, unreadable: bool) -> SandboxOptions {
    SandboxOptions {
        policy_rules: PolicyRules {
            new_device_notification: notice.into(),
            ..PolicyRules::default()
        },
        no_config_role: unreadable,
        ..SandboxOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_that_would_cause_new_device_notices_is_refused_unless_allowed() {
    let (sandbox, ws) = setup(options("EMAIL_THEN_SMS", false), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(7));
    let refused = enroll_to(&ws, &sandbox, "in.csv", "refused", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    let said = &refused.stderr;
    assert!(said.contains("up to 7 rows would create devices"), "{said}");
    assert!(said.contains("lines 2, 3, 4, 5, 6, ..."), "{said}");
    assert!(said.contains("EMAIL_THEN_SMS"), "{said}");
    assert!(said.contains("--allow-messages"), "{said}");
    assert_eq!(sandbox.tally().posts, 0, "nothing sent");
    assert!(!ws.path("refused/results.csv").exists());

    let allowed = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.both());
    assert_eq!(sandbox.tally().devices_created, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_the_token_cannot_read_leaves_notices_unknown_and_the_run_refused() {
    let (sandbox, ws) = setup(options("NONE", true), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let refused = enroll_to(&ws, &sandbox, "in.csv", "refused", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    let said = &refused.stderr;
    assert!(
        said.contains("may not read device authentication policy"),
        "{said}"
    );
    assert!(said.contains("is not known"), "{said}");
    assert_eq!(sandbox.tally().posts, 0, "nothing sent");

    let allowed = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.both());
    assert_eq!(sandbox.tally().devices_created, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_says_none_lets_the_run_go() {
    let (sandbox, ws) = setup(options("NONE", false), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 3);
}

/// PingOne failing the policy's read on every retry may be well again for the first POST:
/// the run waits for consent rather than risk notices nobody agreed to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_pingone_fails_to_answer_leaves_the_run_refused() {
    let failing = SandboxOptions {
        fail_rate: 1.0,
        ..options("NONE", false)
    };
    let (sandbox, ws) = setup(
        failing,
        "rate = 1000\nmax_retries = 2\nbackoff_initial_ms = 5",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(3));
    let refused = enroll_to(&ws, &sandbox, "in.csv", "refused", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    let said = &refused.stderr;
    assert!(
        said.contains("could not be read after every retry"),
        "{said}"
    );
    assert!(said.contains("is not known"), "{said}");
    assert_eq!(sandbox.tally().posts, 0, "nothing sent");
}
