//! Issue 21's combined run, against the real binary: a worker app in the administrators'
//! environment, `--enable-mfa` with half the users off, a policy without WHATSAPP, phone
//! extensions off, and then the license's quota, resumed after each reset until done. Every
//! row and every user's switch must end right, and no device be made twice.

use mfa_enroll::sandbox::{Directory, PolicyRules, SandboxOptions};
use mfa_enroll_test_support::*;

const ADMINS: &str = "ad0115e0-0000-4000-8000-0000000000ad";
const USERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_tenant_with_a_quota_ends_with_every_row_and_switch_right() {
    let listed = (0..USERS).map(|i| (user_id(i), format!("member{i}")));
    let options = SandboxOptions {
        worker_environment_id: Some(ADMINS.into()),
        directory: Directory::listed(listed).with_mfa_on((0..USERS).step_by(2).map(user_id)),
        policy_rules: PolicyRules {
            disabled: ["WHATSAPP".to_string()].into_iter().collect(),
            ..PolicyRules::default()
        },
        extensions_enabled: false,
        // The whole file takes 38 requests (2 look-ups, 6 PUTs, 6 reads, 24 POSTs): the
        // quota runs out once. A resume redoes the 12 refused rows too (26 with the users'
        // requests), which leaves room for the creates left over.
        quota: Some(34),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000\nconcurrency = 4", "").await;
    let mut csv = String::from("user_id,username,type,phone,email,extension\n");
    for i in 0..USERS {
        let (id, name) = if i % 3 == 0 {
            (String::new(), format!("member{i}"))
        } else {
            (user_id(i), String::new())
        };
        let phone = us_number(i);
        csv.push_str(&format!("{id},{name},SMS,{phone},,\n"));
        csv.push_str(&format!("{id},{name},EMAIL,,m{i}@example.com,\n"));
        csv.push_str(&format!("{id},{name},WHATSAPP,{phone},,\n"));
        csv.push_str(&format!("{id},{name},VOICE,{phone},,42#\n"));
    }
    ws.write("in.csv", &csv);

    let mut run = enroll(&ws, &sandbox, "in.csv", &["--enable-mfa"]).await;
    let mut quota_stops = 0;
    while run.code == 3 && quota_stops < 6 {
        assert_eq!(
            ws.summary()["stopped_early"]["code"],
            "QUOTA_EXCEEDED",
            "{}",
            run.both()
        );
        for row in ws.results() {
            assert_ne!(row["error_code"], "RETRIES_EXHAUSTED", "{row:?}");
        }
        quota_stops += 1;
        sandbox.end_quota_period();
        run = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    }
    assert!(quota_stops >= 1, "the quota ran out: {}", run.both());
    assert_eq!(run.code, 1, "refused rows remain: {}", run.both());

    let results = by_line(&ws.results());
    assert_eq!(results.len(), 4 * USERS);
    for (line, row) in &results {
        let expected = match (line - 2) % 4 {
            0 | 1 => ("created", ""),
            // The policy does not enable WHATSAPP; the MFA settings have extensions off.
            _ => ("failed", "INVALID_VALUE"),
        };
        assert_eq!(
            (row["outcome"].as_str(), row["error_code"].as_str()),
            expected,
            "line {line}: {row:?}"
        );
        // A failed row claims the switch only when this run knows it (a resumed run may
        // not: the user's device rows were finished by an earlier one).
        let known = if expected.0 == "created" {
            &["true"][..]
        } else {
            &["true", ""][..]
        };
        assert!(
            known.contains(&row["user_mfa_enabled"].as_str()),
            "line {line}: {row:?}"
        );
    }
    for i in 0..USERS {
        assert!(sandbox.mfa_enabled_of(&user_id(i)), "user {i}");
        assert_eq!(sandbox.devices_of(&user_id(i)).len(), 2, "user {i}");
    }
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, 2 * USERS as u64);
    assert_eq!(tally.duplicate_devices, 0);
    assert_eq!(tally.users_with_device_mfa_off, 0);
    assert!(tally.quota_429 >= 1);
    let target = &ws.summary()["target"];
    assert_eq!(target["worker_environment_id"], ADMINS);
    assert_eq!(target["environment_id"], sandbox.options().environment_id);
}
