//! `run --dry-run --online` counts the file's messages against PingOne's daily quotas as
//! `check` does (issue 37): pairing codes and new-device notices, per user and per
//! environment, SMS and voice together and email apart, and says in summary.json's plan,
//! report.html and the end text which rows would pass a quota and in how many days a daily
//! schedule fits. Nothing is written to the tenant.

use mfa_enroll::sandbox::{NotificationQuotaRule, PolicyRules, SandboxOptions};
use mfa_enroll_test_support::*;
use serde_json::Value;

/// The plan's quota `per` (`user`, `environment`) over `counts` with this daily `total`.
fn quota<'a>(plan: &'a Value, per: &str, counts: &str, total: u64) -> &'a Value {
    plan["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["per"] == per && q["counts"] == counts && q["total"] == total)
        .unwrap_or_else(|| panic!("no {per} {counts} {total}: {plan}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_online_dry_run_names_the_rows_past_each_quota_and_the_days_it_needs() {
    let rule = |per_user, sms_voice, total| NotificationQuotaRule {
        per_user,
        sms_voice,
        total,
    };
    let options = SandboxOptions {
        // Every device created notifies its user by email first.
        policy_rules: PolicyRules {
            new_device_notification: "EMAIL_THEN_SMS".into(),
            ..PolicyRules::default()
        },
        notification_quotas: vec![rule(true, true, 2), rule(false, false, 3)],
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    // User 0: three SMS pairing codes (lines 2-4), the third past the per-user quota of 2;
    // user 1: an active EMAIL device (line 5). Each row's device also makes an email notice:
    // four emails, the fourth (line 5) past the environment's quota of 3.
    let mut csv = String::from("user_id,type,phone,email,status\n");
    for n in 0..3 {
        csv.push_str(&format!(
            "{},SMS,{},,ACTIVATION_REQUIRED\n",
            user_id(0),
            us_number(n)
        ));
    }
    csv.push_str(&format!("{},EMAIL,,u1@example.com,\n", user_id(1)));
    ws.write("in.csv", &csv);
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    assert_eq!(sandbox.tally().posts, 0);
    let summary = ws.summary();
    let plan_json = &summary["plan"];

    let per_user = quota(plan_json, "user", "sms_and_voice", 2);
    assert_eq!(per_user["sent"], 3, "{per_user}");
    assert_eq!(per_user["rows_past"], 1, "{per_user}");
    assert_eq!(per_user["first_lines_past"], serde_json::json!([4]));
    assert_eq!(per_user["users_over"], 1, "{per_user}");
    assert_eq!(per_user["days"], 2, "{per_user}");

    let environment = quota(plan_json, "environment", "email", 3);
    assert_eq!(environment["sent"], 4, "{environment}");
    assert_eq!(environment["rows_past"], 1, "{environment}");
    assert_eq!(environment["first_lines_past"], serde_json::json!([5]));
    assert_eq!(environment["days"], 2, "{environment}");
    let said = environment["said"].as_str().unwrap();
    assert!(said.contains("--shard K/2"), "{said}");

    // PingOne's platform limits are counted too, and hold.
    let platform = quota(plan_json, "user", "email", 50);
    assert_eq!(
        (platform["rows_past"].as_u64(), platform["sent"].as_u64()),
        (Some(0), Some(3))
    );
    assert!(plan_json["quotas_note"].is_null(), "{plan_json}");

    let end = plan.both();
    assert!(
        end.contains("quota: 2 SMS and voice messages per user per day"),
        "{end}"
    );
    assert!(end.contains("1 row (line 5) would fail that day"), "{end}");
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(report.contains("Daily message quota"), "report.html");
    assert!(
        report.contains("1 row (line 4) would fail that day"),
        "report.html"
    );
}

/// A token that may not read notification policies: the platform limits are still counted,
/// and the plan says why the policy's quotas are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_notification_quotas_are_said_and_the_platform_limits_still_counted() {
    let options = SandboxOptions {
        no_config_role: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    let plan_json = &ws.summary()["plan"];
    assert_eq!(
        plan_json["quotas"].as_array().map(Vec::len),
        Some(2),
        "{plan_json}"
    );
    let note = plan_json["quotas_note"].as_str().unwrap_or_default();
    assert!(note.contains("403"), "{plan_json}");
}
