//! `mfa-enroll check [INPUT]` against the real binary and the sandbox (issue 37): a tenant
//! with a disabled method (exit 1, naming the setting and the rows), wrong credentials
//! (exit 2), everything in order (exit 0, also as JSON), settings the token may not read
//! ("not checked", not a failure), a missing role, and the messages the file would cause
//! against the notification policy's quotas. Every check reads only, a handful of requests
//! whatever the number of users.

use mfa_enroll::sandbox::{NotificationQuotaRule, PolicyRules, SandboxOptions};
use mfa_enroll_test_support::*;

/// `check in.csv --config mfa-enroll.toml` plus `extra`, with `secret`.
async fn check(ws: &Workspace, secret: &str, extra: &[&str]) -> Run {
    let mut args = vec!["check", "in.csv", "--config", "mfa-enroll.toml"];
    args.extend_from_slice(extra);
    run_binary(ws.dir.path(), Some(secret), &args).await
}

fn secret_of(sandbox: &mfa_enroll::sandbox::Sandbox) -> String {
    sandbox.options().client_secret.expose().to_string()
}

/// The checklist's line for `check` whose text holds `needle`.
fn line_with<'a>(run: &'a Run, start: &str, needle: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.starts_with(start) && l.contains(needle))
        .unwrap_or_else(|| panic!("no line {start:?} with {needle:?}: {}", run.both()))
}

/// SMS and EMAIL rows for `users` users, ACTIVE: what a tenant in order takes.
fn active_rows(users: usize) -> String {
    let mut csv = String::from("user_id,type,phone,email,extension\n");
    for i in 0..users {
        csv.push_str(&format!("{},SMS,{},,\n", user_id(i), us_number(i)));
        csv.push_str(&format!("{},EMAIL,,u{i}@example.com,\n", user_id(i)));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_in_order_passes_with_a_handful_of_reads_and_nothing_written() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &active_rows(40));
    let run = check(&ws, &secret_of(&sandbox), &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(!run.stdout.contains('✗'), "{}", run.both());
    for check in [
        "✓ input",
        "✓ hosts",
        "✓ token",
        "✓ clock",
        "✓ policy",
        "✓ device cap",
        "✓ notification policy",
        "✓ messages",
        "✓ role",
    ] {
        line_with(&run, check, "");
    }
    let tally = sandbox.tally();
    // A token, one policy, MFA settings, notification policies, one look-up: never per user.
    assert!(tally.requests <= 5, "{tally:?}");
    assert_eq!((tally.posts, tally.mfa_switch_puts), (0, 0), "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_method_fails_naming_the_policy_setting_and_the_rows() {
    let options = SandboxOptions {
        policy_rules: PolicyRules {
            disabled: ["VOICE".to_string()].into_iter().collect(),
            ..PolicyRules::default()
        },
        extensions_enabled: false,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "", "").await;
    let mut csv = active_rows(2);
    csv.push_str(&format!("{},VOICE,{},,\n", user_id(0), us_number(0)));
    csv.push_str(&format!("{},VOICE,{},,42#\n", user_id(1), us_number(1)));
    ws.write("in.csv", &csv);
    let run = check(&ws, &secret_of(&sandbox), &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let method = line_with(&run, "✗ policy", "does not enable VOICE");
    assert!(
        method.contains(POLICY) && method.contains("2 rows (lines 6, 7)"),
        "{method}"
    );
    let extensions = line_with(&run, "✗ phone extensions", "phoneExtensions.enabled");
    assert!(extensions.contains("1 row (line 7)"), "{extensions}");
    line_with(&run, "✓ token", "");
    assert_eq!(sandbox.tally().posts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_exit_2_with_the_refusal() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &active_rows(1));
    let run = check(&ws, "not-the-secret", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    line_with(&run, "✗ token", "refused the client credentials");
    assert!(!run.both().contains("not-the-secret"), "{}", run.both());
    let tally = sandbox.tally();
    assert_eq!((tally.token_refusals, tally.requests), (1, 0), "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checklist_as_json_for_pipelines() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &active_rows(3));
    let run = check(&ws, &secret_of(&sandbox), &["--log-format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is JSON");
    assert_eq!(json["exit_code"], 0);
    let checks = json["checks"].as_array().expect("checks");
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "role" && c["status"] == "pass"),
        "{json}"
    );
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_the_token_may_not_read_are_not_checked_and_no_failure() {
    let options = SandboxOptions {
        no_config_role: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "", "").await;
    ws.write("in.csv", &active_rows(2));
    let run = check(&ws, &secret_of(&sandbox), &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    for what in ["policy", "mfa settings", "notification policy"] {
        line_with(&run, &format!("- not checked: {what}"), "(403)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_role_fails_the_role_line() {
    let options = SandboxOptions {
        no_role: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "", "").await;
    ws.write("in.csv", &active_rows(1));
    let run = check(&ws, &secret_of(&sandbox), &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    line_with(&run, "✗ role", "Identity Data Admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_notification_quotas_name_the_rows_and_the_days() {
    let quota = |per_user, sms_voice, total| NotificationQuotaRule {
        per_user,
        sms_voice,
        total,
    };
    let options = SandboxOptions {
        // Notices off: only the pairing codes count.
        policy_rules: PolicyRules {
            new_device_notification: "NONE".into(),
            ..PolicyRules::default()
        },
        notification_quotas: vec![quota(true, true, 2), quota(false, false, 1)],
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "", "").await;
    let mut csv = String::from("user_id,type,phone,email,status\n");
    // User 0: three SMS codes (lines 2-4), one over the per-user quota of 2; users 1 and 2:
    // an email code each (lines 5, 6), one over the environment's quota of 1.
    for n in 0..3 {
        csv.push_str(&format!(
            "{},SMS,{},,ACTIVATION_REQUIRED\n",
            user_id(0),
            us_number(n)
        ));
    }
    for i in 1..3 {
        csv.push_str(&format!(
            "{},EMAIL,,u{i}@example.com,ACTIVATION_REQUIRED\n",
            user_id(i)
        ));
    }
    ws.write("in.csv", &csv);
    let run = check(&ws, &secret_of(&sandbox), &["--allow-messages"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let per_user = line_with(&run, "✗ quota", "2 SMS and voice messages per user per day");
    assert!(
        per_user.contains("1 user would pass it")
            && per_user.contains("1 row (line 4)")
            && per_user.contains("2 days"),
        "{per_user}"
    );
    let environment = line_with(&run, "✗ quota", "1 emails per environment per day");
    assert!(
        environment.contains("1 row (line 6)") && environment.contains("2 days"),
        "{environment}"
    );
    line_with(
        &run,
        "✓ quota",
        "50 SMS and voice messages per user per day",
    );
    line_with(
        &run,
        "✓ messages",
        "5 pairing codes and up to 0 new-device notices",
    );

    // Without --allow-messages, the pairing codes themselves hold a live run.
    let held = check(&ws, &secret_of(&sandbox), &[]).await;
    line_with(&held, "✗ messages", "--allow-messages");
}
