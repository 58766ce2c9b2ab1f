//! `--dry-run --online`: read-only requests that answer a migration's questions (what would be
//! created, how many pairing messages, who would pass the daily message limit), and a real run
//! afterwards that does what the plan said.

use std::collections::HashSet;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Directory, SandboxOptions};
use mfa_enroll_test_support::*;

fn device(kind: &str, phone: Option<&str>, email: Option<&str>) -> Device {
    Device {
        id: uuid::Uuid::new_v4().to_string(),
        device_type: kind.into(),
        status: Some("ACTIVE".into()),
        phone: phone.map(Into::into),
        email: email.map(Into::into),
        created_at: Some("2024-01-01T00:00:00.000Z".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_dry_run_reads_only_and_a_real_run_then_does_what_it_said() {
    let (alice, bob, carol, dave) = (user_id(1), user_id(2), user_id(3), user_id(4));
    let sam_a = user_id(5);
    let sam_b = user_id(6);
    let directory = Directory::listed([
        (alice.clone(), "alice".to_string()),
        (bob.clone(), "bob".to_string()),
        (carol.clone(), "carol".to_string()),
        (dave.clone(), "dave".to_string()),
        (sam_a, "sam".to_string()),
        (sam_b, "sam".to_string()),
    ]);
    let policy = POLICY.to_string();
    let sandbox = sandbox(SandboxOptions {
        directory,
        policies: Some(HashSet::from([policy.clone()])),
        max_devices: 5,
        ..SandboxOptions::default()
    })
    .await;
    // Alice is at the cap; Bob already has his SMS phone (spelled PingOne's way); Dave has 4.
    for i in 0..5 {
        sandbox.seed_device(
            &alice,
            device("EMAIL", None, Some(&format!("a{i}@example.com"))),
        );
    }
    let bobs_phone = device("SMS", Some("+1.5122000002"), None);
    let bobs_phone_id = bobs_phone.id.clone();
    sandbox.seed_device(&bob, bobs_phone);
    for i in 0..4 {
        sandbox.seed_device(
            &dave,
            device("EMAIL", None, Some(&format!("d{i}@example.com"))),
        );
    }

    let unknown_policy = "99999999-8888-4777-8666-555555555555";
    let csv = format!(
        "user_id,username,type,phone,email,policy_id,status\n\
         {alice},,SMS,+15122000001,,,\n\
         {bob},,SMS,+1 512 200 0002,,,\n\
         {bob},,EMAIL,,bob@example.com,,\n\
         ,carol,SMS,+15122000003,,,\n\
         ,sam,EMAIL,,sam@example.com,,\n\
         ,ghost,SMS,+15122000004,,,\n\
         {carol},,EMAIL,,carol@example.com,{unknown_policy},\n\
         {carol},,SMS,+15122000003,,,\n\
         {dave},,SMS,+15122000005,,,\n\
         {dave},,VOICE,+15122000006,,,\n\
         {bob},,SMS,+15122000007,,,ACTIVATION_REQUIRED\n"
    );
    let ws = Workspace::new();
    ws.config_for(&sandbox, "rate = 500", "");
    ws.write("in.csv", &csv);
    let before = sandbox.devices_of(&bob).len();

    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 1, "some rows would fail\n{}", plan.both());
    let tally = sandbox.tally();
    assert_eq!(tally.posts, 0, "a dry run never POSTs");
    assert_eq!(tally.devices_created, 0);
    assert_eq!(sandbox.devices_of(&bob).len(), before);

    let expected = [
        (2, "failed", "DEVICE_LIMIT"),
        (3, "would_skip_existing", ""),
        (4, "would_create", ""),
        (5, "would_create", ""),
        (6, "failed", "AMBIGUOUS_USER"),
        (7, "failed", "USER_NOT_FOUND"),
        (8, "failed", "POLICY_NOT_FOUND"),
        (9, "would_skip_existing", ""),
        (10, "would_create", ""),
        (11, "failed", "DEVICE_LIMIT"),
        (12, "would_create", ""),
    ];
    let planned = by_line(&ws.results());
    assert_eq!(planned.len(), expected.len());
    for (line, outcome, code) in expected {
        let row = &planned[&line];
        assert_eq!(row["outcome"], outcome, "line {line}: {row:?}");
        assert_eq!(row["error_code"], code, "line {line}: {row:?}");
    }
    assert_eq!(
        planned[&3]["device_id"], bobs_phone_id,
        "the existing device is named"
    );
    assert_eq!(planned[&5]["user_id"], carol, "usernames are resolved");

    let summary = ws.summary();
    assert_eq!(summary["mode"], "dry_run_online");
    assert_eq!(summary["outcomes"]["would_create"], 4);
    assert_eq!(summary["outcomes"]["would_skip_existing"], 2);
    assert_eq!(summary["outcomes"]["failed"], 5);
    assert_eq!(summary["by_type"]["SMS"]["would_create"], 3);
    let plan_json = &summary["plan"];
    assert_eq!(plan_json["max_allowed_devices"], 5);
    assert_eq!(plan_json["pairing_messages"]["SMS"], 1);
    assert_eq!(plan_json["rate"], 500);
    assert!(plan_json["requests_needed"].as_u64().unwrap() >= 4 * 2 + 2);
    assert!(plan.stdout.contains("plan:"), "{}", plan.stdout);

    // The real run, on a fresh output directory.
    let real = enroll_to(&ws, &sandbox, "in.csv", "real", &["--allow-messages"]).await;
    assert_eq!(real.code, 1, "{}", real.both());
    let done = by_line(&read_csv(&ws.path("real/results.csv")));
    for (line, planned_row) in &planned {
        let expected = match planned_row["outcome"].as_str() {
            "would_create" => "created",
            "would_skip_existing" => "skipped_existing",
            other => other,
        };
        assert_eq!(
            done[line]["outcome"], expected,
            "line {line}: plan {planned_row:?}, real {:?}",
            done[line]
        );
    }
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_counts_pairing_messages_and_the_cap_counts_only_active_devices() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            max_devices: 15,
            ..SandboxOptions::default()
        },
        "rate = 100000\nconcurrency = 8",
        "status = \"ACTIVATION_REQUIRED\"",
    )
    .await;
    let mut csv = String::from("username,type,phone,email,status\n");
    for i in 0..20 {
        csv.push_str(&format!("chatty,SMS,{},,\n", us_number(i)));
    }
    csv.push_str("quiet,EMAIL,,q@example.com,\n");
    // ACTIVE devices count against pairing.maxAllowedDevices: 15 pass, the 16th does not.
    for i in 0..16 {
        csv.push_str(&format!("busy,SMS,{},,ACTIVE\n", us_number(100 + i)));
    }
    ws.write("in.csv", &csv);
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 1, "{}", plan.both());
    let summary = ws.summary();
    // Devices waiting for activation do not count against the cap (PINGONE.md).
    assert_eq!(summary["outcomes"]["would_create"], 36);
    assert_eq!(summary["outcomes"]["failed"], 1, "the 16th ACTIVE device");
    assert_eq!(summary["error_codes"]["DEVICE_LIMIT"]["first_lines"][0], 38);
    assert_eq!(summary["plan"]["pairing_messages"]["SMS"], 20);
    assert_eq!(summary["plan"]["pairing_messages"]["EMAIL"], 1);
    assert_eq!(
        summary["plan"]["users_over_daily_message_limit"],
        serde_json::json!([])
    );
    assert_eq!(sandbox.tally().posts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_names_the_user_a_run_would_message_past_the_daily_limit() {
    // Without the device cap (the token cannot read MFA settings), 51 pairing SMS for one
    // user: rows together, then each followed by another user's and more users after the
    // last (the plan of a user goes with the user's last row; the summary still names them).
    for spread in [false, true] {
        let options = SandboxOptions {
            no_config_role: true,
            ..SandboxOptions::default()
        };
        let (sandbox, ws) = setup(options, "rate = 100000", "").await;
        let busy = user_id(1);
        let mut csv = String::from("user_id,type,phone,status\n");
        for i in 0..51 {
            csv.push_str(&format!(
                "{busy},SMS,{},ACTIVATION_REQUIRED\n",
                us_number(i)
            ));
            if spread {
                csv.push_str(&format!(
                    "{},SMS,{},\n",
                    user_id(100 + i),
                    us_number(100 + i)
                ));
            }
        }
        let others = if spread { 200..300 } else { 2..3 };
        for i in others {
            csv.push_str(&format!(
                "{},SMS,{},ACTIVATION_REQUIRED\n",
                user_id(i),
                us_number(i)
            ));
        }
        ws.write("in.csv", &csv);
        let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
        assert_eq!(plan.code, 0, "{}", plan.both());
        let over = &ws.summary()["plan"]["users_over_daily_message_limit"];
        assert_eq!(
            over.as_array().map(Vec::len),
            Some(1),
            "spread {spread}: {over}"
        );
        assert_eq!(over[0]["user_id"], busy);
        assert_eq!(over[0]["sms"], 51);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_read_configuration_gets_one_message_not_failed_rows() {
    let options = SandboxOptions {
        no_config_role: true,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(30));
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    assert!(ws.results().iter().all(|r| r["outcome"] == "would_create"));
    let policy_lines = plan
        .stderr
        .lines()
        .filter(|l| l.contains("device authentication policies (403)"))
        .count();
    assert_eq!(policy_lines, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("MFA settings (403)"),
        "{}",
        plan.stderr
    );
    assert!(
        ws.summary()["stopped_early"].is_null(),
        "not a missing role"
    );
    assert_eq!(sandbox.tally().posts, 0, "a dry run never posts");
}

/// Rows of `n` one-row users by ID, listed in the directory: users between the rows under
/// test, so that what the plan keeps of a user must outlive many other users' rows.
fn fillers(from: usize, n: usize) -> (Vec<(String, String)>, String) {
    let users: Vec<(String, String)> = (from..from + n)
        .map(|i| (user_id(i), String::new()))
        .collect();
    let rows = users
        .iter()
        .enumerate()
        .map(|(k, (id, _))| format!("{id},,SMS,{}\n", us_number(from + k)))
        .collect();
    (users, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_keeps_what_it_knows_of_a_user_until_the_users_last_row() {
    // Memory stays flat because a user's plan goes with the user's last row; a user whose
    // rows are far apart, or named both ways, still plans as one user.
    let (one, two, three) = (user_id(1), user_id(2), user_id(3));
    let (mut listed, first) = fillers(100, 150);
    let (more, second) = fillers(300, 150);
    listed.extend(more);
    listed.extend([
        (one.clone(), "uone".to_string()),
        (two.clone(), "utwo".to_string()),
        (three.clone(), String::new()),
    ]);
    let sandbox = sandbox(SandboxOptions {
        directory: Directory::listed(listed),
        max_devices: 3,
        ..SandboxOptions::default()
    })
    .await;
    let csv = format!(
        "user_id,username,type,phone\n\
         {one},,SMS,+15122000001\n\
         ,utwo,SMS,+15122000002\n\
         {three},,SMS,+15122000031\n\
         {first}\
         ,uone,SMS,+1 512 200 0001\n\
         {two},,SMS,+1.512.200.0002\n\
         {three},,SMS,+15122000032\n\
         {second}\
         {three},,SMS,+15122000033\n\
         {three},,SMS,+15122000034\n"
    );
    let ws = Workspace::new();
    ws.config_for(&sandbox, "rate = 100000", "");
    ws.write("in.csv", &csv);
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 1, "{}", plan.both());
    let rows = by_line(&ws.results());
    let expect = |line: u64, outcome: &str, code: &str, says: &str| {
        let row = &rows[&line];
        assert_eq!(row["outcome"], outcome, "line {line}: {row:?}");
        assert_eq!(row["error_code"], code, "line {line}: {row:?}");
        assert!(row["error_message"].contains(says), "line {line}: {row:?}");
    };
    // Named by ID, then by username 150 users later: the same device, planned once.
    expect(
        155,
        "would_skip_existing",
        "",
        "line 2 creates this device first",
    );
    // By username, then by ID.
    expect(
        156,
        "would_skip_existing",
        "",
        "line 3 creates this device first",
    );
    // Four devices spread through the file against a cap of three.
    expect(157, "would_create", "", "");
    expect(308, "would_create", "", "");
    expect(309, "failed", "DEVICE_LIMIT", "earlier rows add 3");
    let created = rows
        .values()
        .filter(|r| r["outcome"] == "would_create")
        .count();
    assert_eq!(created, 5 + 300, "{}", plan.both());
}
