//! A plan that knows what each policy allows: an online dry run reads each policy the file
//! names and the MFA settings once, plans `METHOD_DISABLED`, `EXTENSIONS_DISABLED`, the cap
//! over ACTIVE and BLOCKED devices only, and the new-device notices; the real run against the
//! same sandbox then ends every row as the plan said.

use std::collections::HashMap;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{PolicyRules, SandboxOptions};
use mfa_enroll_test_support::*;

const NO_WHATSAPP: &str = "00000000-0000-4000-8000-00000000a001";
const NO_VOICE_PAIRING: &str = "00000000-0000-4000-8000-00000000a002";

fn seeded(kind: &str, phone: &str, status: &str) -> Device {
    Device {
        id: uuid::Uuid::new_v4().to_string(),
        device_type: kind.into(),
        status: Some(status.into()),
        phone: Some(phone.into()),
        created_at: Some("2024-01-01T00:00:00.000Z".into()),
        ..Default::default()
    }
}

fn options() -> SandboxOptions {
    let rules = |disabled: &[&str], pairing: &[&str], notice: &str| PolicyRules {
        disabled: disabled.iter().map(|t| t.to_string()).collect(),
        pairing_disabled: pairing.iter().map(|t| t.to_string()).collect(),
        new_device_notification: notice.into(),
    };
    SandboxOptions {
        max_devices: 3,
        extensions_enabled: false,
        policy_rules_by_id: HashMap::from([
            (NO_WHATSAPP.into(), rules(&["WHATSAPP"], &[], "NONE")),
            (
                NO_VOICE_PAIRING.into(),
                rules(&[], &["VOICE"], "EMAIL_THEN_SMS"),
            ),
        ]),
        // The API's default (the sandbox's is NONE): the plan counts these policies' notices.
        policy_rules: rules(&[], &[], "EMAIL_THEN_SMS"),
        ..SandboxOptions::default()
    }
}

/// An outcome and an error code, as results.csv spells them.
type Ending = (&'static str, &'static str);

/// (line, what the plan says, what the real run then says).
const EXPECTED: [(u64, Ending, Ending); 10] = [
    (
        2,
        ("failed", "METHOD_DISABLED"),
        ("failed", "INVALID_VALUE"),
    ),
    (3, ("would_create", ""), ("created", "")),
    (
        4,
        ("failed", "EXTENSIONS_DISABLED"),
        ("failed", "INVALID_VALUE"),
    ),
    (
        5,
        ("failed", "METHOD_DISABLED"),
        ("failed", "INVALID_VALUE"),
    ),
    (6, ("would_create", ""), ("created", "")),
    (7, ("failed", "DEVICE_LIMIT"), ("failed", "LIMIT_EXCEEDED")),
    (8, ("would_create", ""), ("created", "")),
    (9, ("failed", "DEVICE_LIMIT"), ("failed", "LIMIT_EXCEEDED")),
    (10, ("would_skip_existing", ""), ("skipped_existing", "")),
    (11, ("would_create", ""), ("created", "")),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_and_then_the_real_run_agree_row_for_row() {
    let (sandbox, ws) = setup(options(), "rate = 1000", "").await;
    let u = user_id;
    // User 3 has 2 ACTIVE devices and 2 awaiting activation: only the first two count.
    for (i, status) in [
        "ACTIVE",
        "ACTIVE",
        "ACTIVATION_REQUIRED",
        "ACTIVATION_REQUIRED",
    ]
    .iter()
    .enumerate()
    {
        sandbox.seed_device(&u(3), seeded("SMS", &us_number(300 + i), status));
    }
    for i in 0..3 {
        sandbox.seed_device(&u(4), seeded("SMS", &us_number(400 + i), "BLOCKED"));
    }
    sandbox.seed_device(&u(5), seeded("WHATSAPP", &us_number(500), "ACTIVE"));
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,email,extension,policy_id,status\n\
             {u1},WHATSAPP,{p1},,,{NO_WHATSAPP},\n\
             {u1},SMS,{p1},,,{NO_WHATSAPP},\n\
             {u2},VOICE,{p2},,313#,,\n\
             {u2},VOICE,{p2},,,{NO_VOICE_PAIRING},\n\
             {u3},SMS,{p3},,,,\n\
             {u3},EMAIL,,u3@example.com,,,\n\
             {u3},SMS,{p3b},,,,ACTIVATION_REQUIRED\n\
             {u4},SMS,{p4},,,,\n\
             {u5},WHATSAPP,{p5},,,{NO_WHATSAPP},\n\
             {u6},EMAIL,,u6@example.com,,,\n",
            u1 = u(1),
            u2 = u(2),
            u3 = u(3),
            u4 = u(4),
            u5 = u(5),
            u6 = u(6),
            p1 = us_number(100),
            p2 = us_number(200),
            p3 = us_number(310),
            p3b = us_number(311),
            p4 = us_number(410),
            p5 = us_number(500),
        ),
    );
    let plan = enroll_to(&ws, &sandbox, "in.csv", "plan", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 1, "{}", plan.both());
    assert_eq!(sandbox.tally().posts, 0);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("plan/summary.json")).unwrap())
            .unwrap();
    // A device list per row and a switch per user; each of the 3 policies once; the
    // settings once.
    // And the notification policy's quotas once.
    assert_eq!(summary["requests"]["get"], 10 + 6 + 3 + 1 + 1);
    // Lines 6, 8 and 11 create under a policy that notifies; line 3's policy says NONE.
    assert_eq!(summary["plan"]["new_device_notices"], 3);
    let note = summary["plan"]["new_device_notices_note"].as_str().unwrap();
    assert!(note.contains("unverified"), "{note}");

    let run = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let planned = by_line(&read_csv(&ws.path("plan/results.csv")));
    let done = by_line(&ws.results());
    for (line, (plan_outcome, plan_code), (run_outcome, run_code)) in EXPECTED {
        let (p, r) = (&planned[&line], &done[&line]);
        assert_eq!(p["outcome"], plan_outcome, "plan, line {line}: {p:?}");
        assert_eq!(p["error_code"], plan_code, "plan, line {line}: {p:?}");
        assert_eq!(r["outcome"], run_outcome, "run, line {line}: {r:?}");
        assert_eq!(r["error_code"], run_code, "run, line {line}: {r:?}");
    }
    assert_eq!(planned.len(), EXPECTED.len());
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}
