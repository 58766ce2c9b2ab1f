//! Users imported minutes ago (issue #37), against the real binary and the sandbox's late
//! users (`--late-users`: missing for their first asks, then there): a user PingOne does not
//! know yet is asked again over `user_not_found_grace_s`, by username and by ID, and counted
//! late when found; one that never appears is `USER_NOT_FOUND` after the grace; a grace of 0
//! asks once; the wait holds no request slot (rows behind it go on); and rows of disabled or
//! locked users are counted in an online plan and in a live run, their devices created.

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// Users 0..3 are there from the start; "late4" (by username) and users 5, 6 and 7 (by ID)
/// are late: three rows by ID waiting at once would fill every place among the rows in
/// progress with one request in flight, were the places held while they wait.
fn tenant(late_asks: u64) -> SandboxOptions {
    let listed = (0..4).map(|i| (user_id(i), format!("person{i}")));
    SandboxOptions {
        directory: Directory::listed(listed),
        late_users: (4..8).map(|i| (user_id(i), format!("late{i}"))).collect(),
        late_asks,
        ..SandboxOptions::default()
    }
}

/// The late users' rows first (one by username, three by ID), then users 0..3 by ID.
fn input() -> String {
    let mut csv = String::from("user_id,username,type,phone,email\n");
    csv.push_str(&format!(",late4,SMS,{},\n", us_number(4)));
    for i in 5..8 {
        csv.push_str(&format!("{},,SMS,{},\n", user_id(i), us_number(i)));
    }
    for i in 0..4 {
        csv.push_str(&format!("{},,SMS,{},\n", user_id(i), us_number(i)));
    }
    csv
}

/// `input()` and `more` rows after it.
async fn late_run(late_asks: u64, limits: &str, more: &str) -> (Sandbox, Workspace, Run) {
    let (sandbox, ws) = setup(tenant(late_asks), limits, "").await;
    ws.write("in.csv", &format!("{}{more}", input()));
    let args = ["--metrics-file", "late.prom"];
    let run = enroll(&ws, &sandbox, "in.csv", &args).await;
    (sandbox, ws, run)
}

/// How many requests the sandbox saw about the late users: look-ups of "late4", reads of
/// user 5's devices.
fn asks(sandbox: &Sandbox) -> (usize, usize) {
    let looked_up = sandbox.requests_about("late4").len();
    let read = sandbox
        .requests_about(&user_id(5))
        .iter()
        .filter(|r| **r == "GET devices")
        .count();
    (looked_up, read)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_appears_after_two_asks_is_enrolled_and_counted_late() {
    let (sandbox, ws, run) = late_run(2, "rate = 1000", "").await;
    assert_eq!(run.code, 0, "{}", run.both());
    for row in ws.results() {
        assert_eq!(row["outcome"], "created", "{row:?}");
    }
    // Missing for two asks, found on the third: by username and by ID alike.
    assert_eq!(asks(&sandbox), (3, 3));
    for user in (4..8).map(user_id) {
        assert_eq!(sandbox.devices_of(&user).len(), 1, "{user}");
    }
    assert_eq!(ws.summary()["users_late"], 4, "{}", ws.summary());
    assert!(
        run.stdout.contains("4 users PingOne did not know at first"),
        "{}",
        run.both()
    );
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(report.contains("Users found late"), "report.html");
    let metrics = std::fs::read_to_string(ws.path("late.prom")).unwrap();
    assert!(metrics.contains("mfa_enroll_users_late 4"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_that_never_appears_is_user_not_found_after_the_grace() {
    // A second row of user 5: it does not wait again for a user the grace did not find.
    let second = format!("{},,EMAIL,,late5@example.com\n", user_id(5));
    let (sandbox, ws, run) =
        late_run(1000, "rate = 1000\nuser_not_found_grace_s = 1", &second).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&ws.results());
    for line in [2, 3, 4, 5, 10] {
        assert_eq!(
            rows[&line]["error_code"], "USER_NOT_FOUND",
            "{:?}",
            rows[&line]
        );
    }
    for line in 6..10 {
        assert_eq!(rows[&line]["outcome"], "created", "{:?}", rows[&line]);
    }
    // Asked at once, then after 0.5 s and 1 s: three asks each, nothing created; the second
    // row of user 5 reads its devices once.
    assert_eq!(asks(&sandbox), (3, 4));
    assert!(sandbox.devices_of(&user_id(5)).is_empty());
    assert_eq!(ws.summary()["users_late"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_of_zero_asks_once() {
    let (sandbox, ws, run) = late_run(2, "rate = 1000\nuser_not_found_grace_s = 0", "").await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&ws.results());
    for line in 2..6 {
        assert_eq!(
            rows[&line]["error_code"], "USER_NOT_FOUND",
            "{:?}",
            rows[&line]
        );
    }
    // No second ask: one look-up of late4, one read of user 5's devices.
    let user5 = sandbox.requests_about(&user_id(5));
    assert_eq!((asks(&sandbox).0, user5.len()), (1, 1), "{user5:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_holds_no_request_slot_so_the_rows_behind_go_on() {
    // One request in flight; the late users appear only on their fourth ask (after 0.5, 1
    // and 2 s of waits), long after the other four users' rows could all be done.
    let (sandbox, ws, run) = late_run(3, "rate = 1000\nconcurrency = 1", "").await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(ws.summary()["users_late"], 4);
    let order = sandbox.user_requests();
    let position = |user: &str| {
        order
            .iter()
            .position(|(who, what)| *who == user.to_lowercase() && *what == "POST devices")
            .unwrap_or_else(|| panic!("no POST for {user}: {order:?}"))
    };
    let others_done = (0..4).map(|i| position(&user_id(i))).max().unwrap();
    for late in (4..8).map(user_id) {
        assert!(
            position(&late) > others_done,
            "the rows behind a late user waited for it: {order:?}"
        );
    }
}

/// person0 is disabled, person1 locked, person2 neither: two rows of person0, one of each
/// other, all by username.
fn inactive_tenant() -> SandboxOptions {
    let listed = (0..3).map(|i| (user_id(i), format!("person{i}")));
    SandboxOptions {
        directory: Directory::listed(listed).with_standing([user_id(0)], [user_id(1)]),
        ..SandboxOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_disabled_and_locked_users_are_counted_and_their_devices_created() {
    let (sandbox, ws) = setup(inactive_tenant(), "rate = 1000", "").await;
    let mut csv = String::from("user_id,username,type,phone,email\n");
    csv.push_str(",person0,SMS,+15125550100,\n,person0,EMAIL,,p0@example.com\n");
    csv.push_str(",person1,SMS,+15125550101,\n,person2,SMS,+15125550102,\n");
    ws.write("in.csv", &csv);
    let plan = enroll_to(&ws, &sandbox, "in.csv", "plan", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("plan/summary.json")).unwrap())
            .unwrap();
    let inactive = &summary["rows_of_inactive_users"];
    assert_eq!(
        (&inactive["disabled"], &inactive["locked"]),
        (&2.into(), &1.into())
    );
    assert!(plan
        .stdout
        .contains("2 rows of disabled users and 1 row of locked users"));
    let report = std::fs::read_to_string(ws.path("plan/report.html")).unwrap();
    assert!(report.contains("Rows of inactive users"));

    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let inactive = &ws.summary()["rows_of_inactive_users"];
    assert_eq!(
        (&inactive["disabled"], &inactive["locked"]),
        (&2.into(), &1.into())
    );
    for row in ws.results() {
        assert_eq!(row["outcome"], "created", "{row:?}");
    }
    assert_eq!(sandbox.devices_of(&user_id(0)).len(), 2);
    assert_eq!(sandbox.devices_of(&user_id(1)).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standing_sandbox_plays_late_disabled_and_locked_users_from_its_files() {
    let ws = Workspace::new();
    let users = format!(
        "user_id,username,enabled,account_status\n{},person0,false,\n{},person1,,LOCKED\n",
        user_id(0),
        user_id(1)
    );
    ws.write("users.csv", &users);
    ws.write(
        "late.csv",
        &format!("user_id,username\n{},late9\n", user_id(9)),
    );
    let args = [
        "--users",
        "users.csv",
        "--late-users",
        "late.csv",
        "--late-asks",
        "1",
    ];
    let standing = crate::sandbox::standing(ws.dir.path(), &args).await;
    ws.write(
        "mfa-enroll.toml",
        &format!("{}\n[limits]\nrate = 1000\n", standing.config),
    );
    let csv = ",late9,SMS,+15125550109,\n,person0,SMS,+15125550100,\n,person1,SMS,+15125550101,\n";
    ws.write(
        "in.csv",
        &format!("user_id,username,type,phone,email\n{csv}"),
    );
    let run = enroll_with_secret(&ws, &standing.secret, "in.csv", "out", &[]).await;
    send_signal(&standing.child, "INT");
    assert_eq!(run.code, 0, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(summary["users_late"], 1, "{summary}");
    let inactive = &summary["rows_of_inactive_users"];
    assert_eq!(
        (&inactive["disabled"], &inactive["locked"]),
        (&1.into(), &1.into())
    );
    for row in ws.results() {
        assert_eq!(row["outcome"], "created", "{row:?}");
    }
}
