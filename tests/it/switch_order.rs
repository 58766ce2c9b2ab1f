//! The MFA switch's choice and its order, and rows finishing from the first second, against
//! the real binary and the sandbox on loopback: a live run against PingOne must be told
//! `enable_mfa` (exit 2, nothing sent, otherwise), `--sandbox` switches users on unless told
//! not to; a run stopped at any point leaves nobody switched on without a device; a row's
//! next request goes before another row's first, so POSTs come from the start and few rows
//! are in progress at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// Users by ID, one SMS device each, none with a device or MFA on (PingOne's default).
async fn tenant(users: usize, limits: &str) -> (Sandbox, Workspace) {
    let options = SandboxOptions {
        latency: Duration::from_millis(20),
        directory: Directory::listed((0..users).map(|i| (user_id(i), format!("person{i}")))),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, limits, "").await;
    ws.write("in.csv", &sms_rows(users));
    (sandbox, ws)
}

/// Starts the run, and stops it with SIGINT once the sandbox has seen `requests` API
/// requests (or lets it finish, if it ends first).
async fn stopped_after(ws: &Workspace, sandbox: &Sandbox, requests: u64, extra: &[&str]) -> Run {
    let mut child = spawn_enroll_with(ws, sandbox, "in.csv", extra);
    for _ in 0..6000 {
        if sandbox.tally().requests >= requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if matches!(child.try_wait(), Ok(None)) {
        send_signal(&child, "INT");
    }
    finish(child).await
}

/// Users whose MFA is on and who have no device: asked for MFA with nothing to answer it.
fn switched_on_without_a_device(sandbox: &Sandbox, users: usize) -> Vec<String> {
    (0..users)
        .map(user_id)
        .filter(|u| sandbox.mfa_enabled_of(u) && sandbox.devices_of(u).is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_must_be_told_whether_to_switch_users_mfa_on() {
    let (sandbox, ws) = tenant(3, "rate = 1000").await;
    // The config as a user might write it: no enable_mfa line.
    let config = sandbox.config_snippet();
    ws.write(
        "mfa-enroll.toml",
        &format!("{config}\n[limits]\nrate = 1000\n"),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    for said in [
        "[enroll] enable_mfa",
        "--enable-mfa",
        "--no-enable-mfa",
        "nothing was sent",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
    assert_eq!(sandbox.tally().token_requests, 0, "not even a token");
    assert!(!ws.out().join("results.csv").exists());
    // Told either way, it runs; false leaves the switch alone.
    let run = enroll(&ws, &sandbox, "in.csv", &["--no-enable-mfa"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().mfa_switch_puts, 0);
    assert_eq!(sandbox.tally().users_with_device_mfa_off, 3);
    assert!(
        run.stdout
            .contains("0 switched on by this run, 0 found on, 3 left off"),
        "{}",
        run.stdout
    );
    // A dry run needs no choice: it sends no PUT.
    let run = enroll_to(&ws, &sandbox, "in.csv", "plan", &["--dry-run"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_run_switches_users_on_unless_told_otherwise_and_says_so() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(4));
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    let run = enroll_as(&ws, None, "in.csv", "rehearsal", &["--sandbox"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stderr.contains("--sandbox rehearses enable_mfa = true"),
        "{}",
        run.stderr
    );
    let rows = read_csv(&ws.path("rehearsal").join("results.csv"));
    for row in &rows {
        assert_eq!(row["user_mfa_enabled"], "true", "{row:?}");
        assert_eq!(row["user_mfa_switched"], "true", "{row:?}");
    }
    let summary = read_summary(&ws.path("rehearsal"));
    assert_eq!(summary["users_mfa"]["switched_on"], 4);
    assert_eq!(summary["requests"]["put"], 4);
    let run = enroll_as(
        &ws,
        None,
        "in.csv",
        "told",
        &["--sandbox", "--no-enable-mfa"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        !run.stderr.contains("--sandbox rehearses"),
        "{}",
        run.stderr
    );
    let summary = read_summary(&ws.path("told"));
    assert_eq!(summary["requests"]["put"], 0);
    assert_eq!(summary["users_mfa"]["left_off"], 4);
}

fn read_summary(out: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_anywhere_leaves_nobody_switched_on_without_a_device() {
    const USERS: usize = 300;
    for stop_at in [3, 12, 40, 120, 300] {
        let (sandbox, ws) = tenant(USERS, "rate = 400\nconcurrency = 16").await;
        let run = stopped_after(&ws, &sandbox, stop_at, &["--enable-mfa"]).await;
        assert!(
            run.code == 3 || run.code == 1 || run.code == 0,
            "{}",
            run.both()
        );
        let orphans = switched_on_without_a_device(&sandbox, USERS);
        assert!(orphans.is_empty(), "stopped after {stop_at}: {orphans:?}");
        let rows = ws.results();
        assert_eq!(rows.len(), USERS, "every row recorded");
        for row in &rows {
            let user = &row["user_id"];
            let on = sandbox.mfa_enabled_of(user);
            // A row claims the switch on only when it is.
            if row["user_mfa_enabled"] == "true" {
                assert!(on, "stopped after {stop_at}: {row:?}");
            }
            if row["user_mfa_switched"] == "true" {
                assert!(on && !sandbox.devices_of(user).is_empty(), "{row:?}");
            }
            if row["error_code"] == "NOT_ATTEMPTED" {
                assert_ne!(row["user_mfa_enabled"], "true", "{row:?}");
            }
        }
        let switched = rows
            .iter()
            .filter(|r| r["user_mfa_switched"] == "true")
            .count() as u64;
        assert_eq!(switched, sandbox.tally().mfa_switch_puts, "one row per PUT");
        assert_eq!(ws.summary()["users_mfa"]["switched_on"], switched);
        // What was stopped is finished by --resume: every user with a device, and on.
        let run = enroll(&ws, &sandbox, "in.csv", &["--resume", "--enable-mfa"]).await;
        assert_eq!(run.code, 0, "stopped after {stop_at}: {}", run.both());
        let tally = sandbox.tally();
        assert_eq!(tally.users_with_device_mfa_off, 0);
        assert_eq!(tally.devices_created, USERS as u64);
        assert_eq!(tally.duplicate_devices, 0);
        assert!(switched_on_without_a_device(&sandbox, USERS).is_empty());
    }
}

/// Per user, in the order the sandbox saw them: the most users at once that had a request
/// seen and their POST not yet (rows in progress), and where the first POST came.
fn progress_of(log: &[(String, &'static str)]) -> (usize, Option<usize>) {
    let mut open: HashSet<&str> = HashSet::new();
    let mut most = 0;
    for (user, what) in log {
        // Its first request opens a row, its POST closes it (a PUT after it is the same
        // row's, counted as closed: the count is a floor of the rows in progress).
        match *what {
            "GET devices" => open.insert(user.as_str()),
            _ => open.remove(user.as_str()),
        };
        most = most.max(open.len());
    }
    let first_post = log.iter().position(|(_, what)| *what == "POST devices");
    (most, first_post)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_finish_from_the_first_requests_and_few_are_in_progress() {
    const USERS: usize = 400;
    const IN_FLIGHT: usize = 4;
    let limits = format!("rate = 100\nconcurrency = {IN_FLIGHT}");
    for extra in [&[][..], &["--enable-mfa"][..]] {
        let (sandbox, ws) = tenant(USERS, &limits).await;
        let run = stopped_after(&ws, &sandbox, 120, extra).await;
        assert_eq!(run.code, 3, "{}", run.both());
        let log = sandbox.user_requests();
        assert!(log.len() >= 100, "{}", log.len());
        let (most, first_post) = progress_of(&log);
        // The in-flight places, and the engine's two spare rows.
        assert!(
            most <= IN_FLIGHT + 2,
            "{extra:?}: {most} rows in progress at once"
        );
        let first_post = first_post.expect("a POST");
        assert!(
            first_post < 2 * (IN_FLIGHT + 2),
            "{extra:?}: first POST at {first_post}"
        );
        // Steadily: every window of 20 requests after the start holds POSTs.
        let posts: Vec<bool> = log.iter().map(|(_, w)| *w == "POST devices").collect();
        for (at, window) in posts.chunks(20).enumerate().take(5) {
            assert!(
                window.iter().any(|p| *p),
                "{extra:?}: no POST in requests {}..",
                at * 20
            );
        }
        let created: HashMap<String, usize> = sandbox
            .all_devices()
            .into_iter()
            .map(|(user, _)| (user, 1))
            .collect();
        let rows = ws.results();
        let done = rows.iter().filter(|r| r["outcome"] == "created").count();
        assert_eq!(done, created.len(), "every device recorded");
    }
}
