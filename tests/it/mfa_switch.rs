//! Users' MFA switch, against the real binary and the sandbox: `--enable-mfa` switches each
//! user on once, right after the user's first device (no PUT for a user the username look-up
//! found on); a run without it neither reads nor sets the switch; an online dry run reads and plans it; a switch that could not be set keeps the
//! device and is finished by `--resume` or by errors.csv fed back, never by a second device;
//! a shard switches on only its own users.

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

const USERS: usize = 6;

/// Six users; the even ones start with their MFA on, the odd ones off (PingOne's default).
/// Users 0 and 2 are named by username, whose look-up says they are on.
fn directory() -> Directory {
    let listed = (0..USERS).map(|i| (user_id(i), format!("person{i}")));
    let on = (0..USERS).filter(|i| i % 2 == 0).map(user_id);
    Directory::listed(listed).with_mfa_on(on)
}

/// Two rows per user, a user's rows far apart; users 0, 1 and 2 named by username.
fn input() -> String {
    let mut csv = String::from("user_id,username,type,phone,email\n");
    for i in 0..USERS {
        let (id, name) = if i < 3 {
            (String::new(), format!("person{i}"))
        } else {
            (user_id(i), String::new())
        };
        csv.push_str(&format!("{id},{name},SMS,{},\n", us_number(i)));
    }
    for i in 0..USERS {
        csv.push_str(&format!("{},,EMAIL,,p{i}@example.com\n", user_id(i)));
    }
    csv
}

async fn tenant(options: SandboxOptions, limits: &str, enroll: &str) -> (Sandbox, Workspace) {
    let options = SandboxOptions {
        directory: directory(),
        ..options
    };
    let (sandbox, ws) = setup(options, limits, enroll).await;
    ws.write("in.csv", &input());
    (sandbox, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_mfa_switches_each_user_on_once_after_the_first_device() {
    let (sandbox, ws) = tenant(SandboxOptions::default(), "rate = 1000", "").await;
    let args = ["--enable-mfa", "--metrics-file", "mfa.prom"];
    let run = enroll(&ws, &sandbox, "in.csv", &args).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let rows = ws.results();
    for row in &rows {
        assert_eq!(row["outcome"], "created", "{row:?}");
        assert_eq!(row["user_mfa_enabled"], "true", "{row:?}");
        assert_eq!(row["pingone_error_id"], "", "{row:?}");
    }
    // Every even user is on before the run: the look-up says so of a username's user, a GET
    // of a user named by ID (read before any PUT).
    let found_on = |i: usize| i.is_multiple_of(2);
    for i in 0..USERS {
        let user = user_id(i);
        assert!(sandbox.mfa_enabled_of(&user), "user {i}");
        let asked = sandbox.requests_about(&user);
        let puts = asked.iter().filter(|r| **r == "PUT mfaEnabled").count();
        let switched = rows
            .iter()
            .filter(|r| r["user_id"] == user && r["user_mfa_switched"] == "true")
            .count();
        if found_on(i) {
            assert_eq!((puts, switched), (0, 0), "found on: no PUT: {asked:?}");
            continue;
        }
        // Right after the user's first device, in its turn (after reading the switch of a
        // user named by ID): never before it.
        let put = asked.iter().position(|r| *r == "PUT mfaEnabled");
        let post = asked.iter().position(|r| *r == "POST devices");
        let read = usize::from(i >= 3);
        assert_eq!(put, post.map(|p| p + 1 + read), "user {i}: {asked:?}");
        assert_eq!(
            puts, 1,
            "once per user, although the rows are apart: {asked:?}"
        );
        assert_eq!(switched, 1, "the row whose turn switched the user on");
    }
    let tally = sandbox.tally();
    assert_eq!(tally.mfa_switch_puts, USERS as u64 - 3);
    assert_eq!(tally.users_with_device_mfa_off, 0);
    let summary = ws.summary();
    assert_eq!(summary["requests"]["put"], USERS - 3);
    assert_eq!(summary["settings"]["enable_mfa"], true);
    let users = &summary["users_mfa"];
    assert_eq!(
        (&users["switched_on"], &users["found_on"]),
        (&3.into(), &3.into())
    );
    assert_eq!(users["left_off"], 0);
    // The end line, the metrics file and the report say the same.
    let said = "users' MFA: 3 switched on by this run, 3 found on, 0 left off";
    assert!(run.stdout.contains(said), "{}", run.stdout);
    let metrics = std::fs::read_to_string(ws.path("mfa.prom")).unwrap();
    for line in [
        "mfa_enroll_users_mfa{state=\"switched_on\"} 3",
        "mfa_enroll_users_mfa{state=\"found_on\"} 3",
        "mfa_enroll_users_mfa{state=\"left_off\"} 0",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(
        report.contains("3 switched on by this run, 3 found on, 0 left off"),
        "report.html"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_enable_mfa_the_switch_is_neither_read_nor_set() {
    let (sandbox, ws) = tenant(SandboxOptions::default(), "rate = 1000", "").await;
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    for row in ws.results() {
        let i = (0..USERS).find(|i| user_id(*i) == row["user_id"]).unwrap();
        if !row["username"].is_empty() {
            // The username look-up carries the switch: known without a request.
            let expected = if i % 2 == 0 { "true" } else { "false" };
            assert_eq!(row["user_mfa_enabled"], expected, "{row:?}");
        } else if i >= 3 {
            assert_eq!(row["user_mfa_enabled"], "", "not known: {row:?}");
        }
        assert_eq!(row["user_mfa_switched"], "false", "{row:?}");
    }
    for i in 0..USERS {
        let asked = sandbox.requests_about(&user_id(i));
        assert!(
            !asked.iter().any(|r| r.ends_with("mfaEnabled")),
            "{asked:?}"
        );
        assert_eq!(sandbox.mfa_enabled_of(&user_id(i)), i % 2 == 0);
    }
    let tally = sandbox.tally();
    assert_eq!(tally.mfa_switch_puts, 0);
    assert_eq!(
        tally.users_with_device_mfa_off,
        USERS as u64 / 2,
        "the sandbox's tally shows who cannot use the device"
    );
    let summary = ws.summary();
    assert_eq!(summary["requests"]["put"], 0);
    // Found on by the look-up: users 0 and 2; the rest have a device and were not switched.
    let users = &summary["users_mfa"];
    assert_eq!(
        (&users["found_on"], &users["left_off"]),
        (&2.into(), &4.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_online_dry_run_reads_each_switch_once_and_plans_it() {
    let (sandbox, ws) = tenant(SandboxOptions::default(), "rate = 1000", "").await;
    let plan = enroll(
        &ws,
        &sandbox,
        "in.csv",
        &["--dry-run", "--online", "--enable-mfa"],
    )
    .await;
    assert_eq!(plan.code, 0, "{}", plan.both());
    for row in ws.results() {
        let i = (0..USERS).find(|i| user_id(*i) == row["user_id"]).unwrap();
        let expected = if i % 2 == 0 { "true" } else { "false" };
        assert_eq!(row["user_mfa_enabled"], expected, "{row:?}");
    }
    for i in 0..USERS {
        let asked = sandbox.requests_about(&user_id(i));
        let reads = asked.iter().filter(|r| **r == "GET mfaEnabled").count();
        // Users 0 to 2 came through the username look-up, which carries the switch.
        assert_eq!(reads, usize::from(i >= 3), "user {i}: {asked:?}");
    }
    assert_eq!(sandbox.tally().mfa_switch_puts, 0, "a plan never PUTs");
    let with_flag = ws.summary()["plan"].clone();
    assert_eq!(with_flag["users_mfa_off"], 3);
    assert_eq!(with_flag["users_mfa_to_switch_on"], 3);

    let plain = enroll_to(
        &ws,
        &sandbox,
        "in.csv",
        "plan-2",
        &["--dry-run", "--online"],
    )
    .await;
    assert_eq!(plain.code, 0, "{}", plain.both());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("plan-2/summary.json")).unwrap())
            .unwrap();
    let without_flag = &summary["plan"];
    assert_eq!(without_flag["users_mfa_off"], 3);
    assert_eq!(without_flag["users_mfa_to_switch_on"], 0);
    let needed = |plan: &serde_json::Value| plan["requests_needed"].as_u64().unwrap();
    assert_eq!(
        needed(&with_flag) - needed(without_flag),
        USERS as u64,
        "one PUT per user"
    );
}

/// A run whose token may not set user 3's switch: its rows keep their devices, with
/// MFA_NOT_ENABLED. The refusal is never the run's first answer: rows are handed on in file
/// order, and the first rows' username look-ups succeed before user 3's row is handed on.
async fn refused_switch(on_existing: &str) -> (Sandbox, Workspace) {
    let options = SandboxOptions {
        refuse_mfa_switch: [user_id(3)].into_iter().collect(),
        ..SandboxOptions::default()
    };
    let enroll_lines = format!("on_existing = \"{on_existing}\"");
    let (sandbox, ws) = tenant(options, "rate = 1000\nconcurrency = 1", &enroll_lines).await;
    let run = enroll(&ws, &sandbox, "in.csv", &["--enable-mfa"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let refused: Vec<_> = ws
        .results()
        .into_iter()
        .filter(|r| r["user_id"] == user_id(3))
        .collect();
    assert_eq!(refused.len(), 2);
    for row in &refused {
        assert_eq!(row["outcome"], "created", "the device outcome stays true");
        assert!(!row["device_id"].is_empty());
        assert_eq!(row["error_code"], "MFA_NOT_ENABLED", "{row:?}");
        assert!(row["error_message"].contains("403"), "{row:?}");
        assert!(!row["pingone_error_id"].is_empty(), "{row:?}");
        assert_eq!(row["user_mfa_enabled"], "");
    }
    let errors = ws.errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for row in &errors {
        assert_eq!(row["error_code"], "MFA_NOT_ENABLED");
        assert!(refused
            .iter()
            .any(|r| r["pingone_error_id"] == row["pingone_error_id"]));
    }
    assert!(!sandbox.mfa_enabled_of(&user_id(3)));
    assert_eq!(sandbox.tally().devices_created, 2 * USERS as u64);
    (sandbox, ws)
}

/// A row as these tests judge it: (device ID, user_mfa_enabled, outcome).
type UserRow = (String, String, String);

/// User 3's rows in `out`, by line.
fn user_3_rows(ws: &Workspace, out: &str) -> Vec<UserRow> {
    let mut rows: Vec<_> = read_csv(&ws.path(&format!("{out}/results.csv")))
        .into_iter()
        .filter(|r| r["user_id"] == user_id(3))
        .collect();
    rows.sort_by_key(|r| r["line"].parse::<u64>().unwrap());
    rows.iter()
        .map(|r| {
            let fields = (&r["device_id"], &r["user_mfa_enabled"], &r["outcome"]);
            (fields.0.clone(), fields.1.clone(), fields.2.clone())
        })
        .collect()
}

/// User 3's rows end with the devices the first run made, the user switched on, and no
/// device made twice.
fn assert_finished(sandbox: &Sandbox, before: &[UserRow], after: &[UserRow]) {
    assert_eq!(after.len(), 2, "{after:?}");
    for ((device, _, _), (again, switch, outcome)) in before.iter().zip(after) {
        assert_eq!(device, again, "the device the first run made");
        assert_eq!(switch, "true");
        assert_eq!(outcome, "created");
    }
    assert!(sandbox.mfa_enabled_of(&user_id(3)));
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, 2 * USERS as u64, "none made twice");
    assert_eq!(tally.duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finishes_a_switch_that_could_not_be_set_without_a_second_device() {
    let (sandbox, ws) = refused_switch("skip").await;
    let before = user_3_rows(&ws, "out");
    sandbox.grant_mfa_switch();
    // No --enable-mfa: the resumed run carries it on from the run it continues.
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_finished(&sandbox, &before, &user_3_rows(&ws, "out"));
    assert_eq!(ws.results().len(), 2 * USERS, "one row per record");
    assert_eq!(ws.summary()["outcomes"]["created"], 2 * USERS);
    assert!(ws.errors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_csv_fed_back_with_enable_mfa_finishes_the_job_even_in_create_mode() {
    // Create mode would POST without looking: the earlier MFA_NOT_ENABLED makes it look.
    let (sandbox, ws) = refused_switch("create").await;
    let before = user_3_rows(&ws, "out");
    sandbox.grant_mfa_switch();
    let retry = enroll_to(&ws, &sandbox, "out/errors.csv", "retry", &["--enable-mfa"]).await;
    assert_eq!(retry.code, 0, "{}", retry.both());
    assert_finished(&sandbox, &before, &user_3_rows(&ws, "retry"));
    // The report's own columns were read as such, not carried as input columns.
    let header = std::fs::read_to_string(ws.path("retry/errors.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert_eq!(header.matches("pingone_error_id").count(), 1, "{header}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_switches_on_only_its_own_users() {
    let (sandbox, ws) = tenant(SandboxOptions::default(), "rate = 1000", "").await;
    let run = enroll(&ws, &sandbox, "in.csv", &["--shard", "0/2", "--enable-mfa"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let ours: std::collections::HashSet<String> = ws
        .results()
        .into_iter()
        .map(|r| r["user_id"].clone())
        .collect();
    assert!(!ours.is_empty() && ours.len() < USERS, "{ours:?}");
    // Even users are found on (by the username's look-up, or a GET by ID): no PUT.
    let needs_put = |i: usize| ours.contains(&user_id(i)) && !i.is_multiple_of(2);
    for i in 0..USERS {
        let put = sandbox
            .requests_about(&user_id(i))
            .contains(&"PUT mfaEnabled");
        assert_eq!(put, needs_put(i), "user {i}");
    }
    let puts = (0..USERS).filter(|i| needs_put(*i)).count();
    assert_eq!(sandbox.tally().mfa_switch_puts, puts as u64);
}
