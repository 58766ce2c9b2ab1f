//! `undo RUN_DIR` against the real binary and a sandbox on loopback: it deletes exactly the
//! devices the run created and still as recorded, each once, across a SIGKILL and
//! `--resume`; a second undo sends no DELETE; `--dry-run` and a missing `--yes` delete
//! nothing; a typed `yes` on a terminal goes ahead.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

use crate::verify::{after_command, column_by_line, devices_by_line};

/// The device user 7 had before the run.
const EARLIER: &str = "00000000-0000-4000-9000-000000000007";

#[tokio::test]
async fn undo_deletes_exactly_what_the_run_created_once_and_a_second_undo_sends_no_delete() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    sandbox.seed_device(
        &user_id(7),
        Device {
            id: EARLIER.into(),
            device_type: "SMS".into(),
            status: Some("ACTIVE".into()),
            phone: Some(us_number(7)),
            ..Default::default()
        },
    );
    ws.write("in.csv", &sms_rows(9));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let devices = devices_by_line(&ws, "out");
    // Line 3's device gets a new phone, line 4's is removed by someone else.
    let (u, d) = devices[&3].clone();
    assert!(sandbox.change_device(&u, &d, |d| d.phone = Some(us_number(99))));
    let (u, d) = devices[&4].clone();
    assert!(sandbox.remove_device(&u, &d));

    let dry = after_command(&ws, &sandbox, "undo", "out", &["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.both());
    let planned = column_by_line(&ws.out().join("undo-dry-run/undo.csv"), "outcome");
    assert_eq!(planned[&2], "would_delete");
    assert_eq!(planned[&9], "kept_not_created");
    let unconfirmed = after_command(&ws, &sandbox, "undo", "out", &[]).await;
    assert_eq!(unconfirmed.code, 2, "{}", unconfirmed.both());
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    assert!(
        unconfirmed.stderr.contains("nothing was deleted"),
        "{}",
        unconfirmed.stderr
    );
    assert!(
        sandbox.deleted_devices().is_empty(),
        "neither deleted anything"
    );

    let undo = after_command(&ws, &sandbox, "undo", "out", &["--yes"]).await;
    assert_eq!(undo.code, 0, "{}", undo.both());
    let outcomes = column_by_line(&ws.out().join("undo/undo.csv"), "outcome");
    let expected: HashMap<u64, &str> = (2..=10)
        .map(|line| {
            let outcome = match line {
                3 => "kept_changed",
                4 => "already_gone",
                9 => "kept_not_created",
                _ => "deleted",
            };
            (line, outcome)
        })
        .collect();
    let outcomes_str: HashMap<u64, &str> = outcomes.iter().map(|(l, o)| (*l, o.as_str())).collect();
    assert_eq!(outcomes_str, expected);
    let wanted: HashSet<String> = [2, 5, 6, 7, 8, 10]
        .iter()
        .map(|l| devices[l].1.clone())
        .collect();
    let deleted = sandbox.deleted_devices();
    assert_eq!(deleted.len(), wanted.len(), "each once: {deleted:?}");
    assert_eq!(deleted.into_iter().collect::<HashSet<_>>(), wanted);
    assert_eq!(
        sandbox.devices_of(&user_id(7)).len(),
        1,
        "the earlier device stays"
    );
    assert_eq!(
        sandbox.devices_of(&user_id(1)).len(),
        1,
        "the changed one stays"
    );

    let deletes_sent = || {
        (0..9)
            .flat_map(|i| sandbox.requests_about(&user_id(i)))
            .filter(|r| *r == "DELETE device")
            .count()
    };
    let sent = deletes_sent();
    let again = after_command(&ws, &sandbox, "undo", "out", &["--yes"]).await;
    assert_eq!(
        again.code,
        2,
        "undo.csv is never overwritten: {}",
        again.both()
    );
    let elsewhere =
        after_command(&ws, &sandbox, "undo", "out", &["--yes", "--out", "undo-2"]).await;
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.both());
    assert_eq!(deletes_sent(), sent, "no DELETE the second time");
    assert_eq!(sandbox.deleted_devices().len(), wanted.len());
    assert_eq!(sandbox.tally().devices_deleted, wanted.len() as u64);
    let second = column_by_line(&ws.path("undo-2/undo.csv"), "outcome");
    assert!(second.values().all(|o| o != "deleted"), "{second:?}");
    crate::verify::assert_private_outputs_of(&ws.out().join("undo"), &["undo.csv", "summary.json"]);
}

/// Data rows in a CSV, 0 while it does not exist.
pub(crate) fn rows_in(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[tokio::test]
async fn undo_killed_midway_and_resumed_deletes_every_device_once() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(30));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let created: HashSet<String> = devices_by_line(&ws, "out")
        .into_values()
        .map(|(_, d)| d)
        .collect();
    assert_eq!(created.len(), 30);
    // A slow pace, so the kill lands mid-way (two requests a row).
    ws.config_for(&sandbox, "rate = 10", "");
    let secret = sandbox.options().client_secret.expose().to_string();
    let args = ["undo", "out", "--config", "mfa-enroll.toml", "--yes"];
    let mut child = spawn_binary(ws.dir.path(), &secret, &args);
    let csv = ws.out().join("undo/undo.csv");
    for _ in 0..1200 {
        if rows_in(&csv) >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(rows_in(&csv) >= 4, "undo never recorded 4 rows");
    send_signal(&child, "KILL");
    let _ = child.wait().await;
    let recorded = rows_in(&csv);
    assert!(recorded < 30, "the kill came mid-way ({recorded} rows)");

    ws.config_for(&sandbox, "rate = 1000", "");
    let resumed = after_command(&ws, &sandbox, "undo", "out", &["--yes", "--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let deleted = sandbox.deleted_devices();
    let unique: HashSet<String> = deleted.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        deleted.len(),
        "no device deleted twice: {deleted:?}"
    );
    assert_eq!(
        unique, created,
        "every device the run created, and no other"
    );
    assert!(sandbox.all_devices().is_empty());
    let outcomes = column_by_line(&csv, "outcome");
    assert_eq!(read_csv(&csv).len(), 30, "one row per line");
    assert_eq!(outcomes.len(), 30);
    assert!(
        outcomes
            .values()
            .all(|o| o == "deleted" || o == "already_gone"),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_yes_on_a_terminal_confirms_and_anything_else_deletes_nothing() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let secret = sandbox.options().client_secret.expose().to_string();
    let on_terminal = |answer: &'static str, out: &'static str| {
        let line = format!(
            "'{}' undo out --config mfa-enroll.toml --out {out}",
            bin().display()
        );
        let mut command = tokio::process::Command::new("script");
        command
            .args(["-qec", &line, "/dev/null"])
            .current_dir(ws.dir.path())
            .env("PINGONE_CLIENT_SECRET", &secret)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("script(1) runs");
        let mut stdin = child.stdin.take().expect("a pipe");
        async move {
            use tokio::io::AsyncWriteExt;
            // The plan is shown before the question; the answer waits in the terminal.
            stdin.write_all(answer.as_bytes()).await.unwrap();
            let output = tokio::time::timeout(Duration::from_secs(120), async {
                let output = child.wait_with_output();
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(stdin);
                output.await
            })
            .await
            .expect("undo ended")
            .expect("output");
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
    };
    let refused = on_terminal("no\n", "undo-no").await;
    assert!(refused.contains("Type yes"), "{refused}");
    assert!(refused.contains("nothing was deleted"), "{refused}");
    assert!(sandbox.deleted_devices().is_empty());
    let confirmed = on_terminal("yes\n", "undo-yes").await;
    assert!(
        confirmed.contains("line 2: user"),
        "the plan shows the first rows: {confirmed}"
    );
    assert_eq!(sandbox.deleted_devices().len(), 3, "{confirmed}");
}

/// Reads results.csv's `user_mfa_switched`, which a run with `enable_mfa` writes on the row
/// whose turn switched its user on.
#[tokio::test]
async fn restore_mfa_switches_off_only_users_the_run_switched_on_who_have_no_device_left() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    // User 2 keeps a device of their own; user 3's MFA was on before the run.
    sandbox.seed_device(
        &user_id(2),
        Device {
            id: "00000000-0000-4000-9000-000000000002".into(),
            device_type: "EMAIL".into(),
            status: Some("ACTIVE".into()),
            email: Some("own@example.com".into()),
            ..Default::default()
        },
    );
    sandbox.set_mfa_enabled(&user_id(3), true);
    ws.write("in.csv", &sms_rows(4));
    let run = enroll(&ws, &sandbox, "in.csv", &["--enable-mfa"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!((0..4).all(|i| sandbox.mfa_enabled_of(&user_id(i))));
    let undo = after_command(&ws, &sandbox, "undo", "out", &["--yes", "--restore-mfa"]).await;
    assert_eq!(undo.code, 0, "{}", undo.both());
    assert!(
        !sandbox.mfa_enabled_of(&user_id(0)),
        "switched on by the run, no device left"
    );
    assert!(!sandbox.mfa_enabled_of(&user_id(1)));
    assert!(sandbox.mfa_enabled_of(&user_id(2)), "still has a device");
    assert!(sandbox.mfa_enabled_of(&user_id(3)), "was on before the run");
    let column = column_by_line(&ws.out().join("undo/undo.csv"), "user_mfa");
    assert_eq!(column[&2], "switched_off");
    assert!(column[&4].starts_with("kept_on"), "{}", column[&4]);
}
