//! `verify RUN_DIR` against the real binary and a sandbox on loopback: a run, then changes
//! made in the sandbox as someone would make them afterwards, then verify. It names each
//! kind of drift by line, sends nothing but GETs, refuses what it cannot prove, and works on
//! a shard's directory and a merge's; an interrupted verify exits 3 and `--resume` reads
//! only what it had not recorded.

use std::collections::HashMap;
use std::time::Duration;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

use crate::undo::rows_in;

/// `verify RUN_DIR --config mfa-enroll.toml` plus `extra`, with the sandbox's secret.
pub(crate) async fn after_command(
    ws: &Workspace,
    sandbox: &Sandbox,
    command: &str,
    run_dir: &str,
    extra: &[&str],
) -> Run {
    let secret = sandbox.options().client_secret.expose().to_string();
    let mut args = vec![command, run_dir, "--config", "mfa-enroll.toml"];
    args.extend_from_slice(extra);
    run_binary(ws.dir.path(), Some(&secret), &args).await
}

/// verify.csv (or undo.csv) rows by line, with the column `column`.
pub(crate) fn column_by_line(path: &std::path::Path, column: &str) -> HashMap<u64, String> {
    read_csv(path)
        .into_iter()
        .map(|row| (row["line"].parse().expect("a line"), row[column].clone()))
        .collect()
}

/// (user, device ID) of each results.csv row, by line.
pub(crate) fn devices_by_line(ws: &Workspace, out: &str) -> HashMap<u64, (String, String)> {
    read_csv(&ws.path(out).join("results.csv"))
        .into_iter()
        .map(|row| {
            let line = row["line"].parse().expect("a line");
            (line, (row["user_id"].clone(), row["device_id"].clone()))
        })
        .collect()
}

/// Nine users, one device each; user 7 already has its device (skipped_existing).
fn input() -> String {
    let mut csv = String::from("user_id,type,phone,email,status\n");
    for i in 0..9 {
        let status = if i == 5 || i == 6 {
            "ACTIVATION_REQUIRED"
        } else {
            ""
        };
        if i == 3 {
            csv.push_str(&format!(
                "{},EMAIL,,u{i}@example.com,{status}\n",
                user_id(i)
            ));
        } else {
            csv.push_str(&format!("{},SMS,{},,{status}\n", user_id(i), us_number(i)));
        }
    }
    csv
}

#[tokio::test]
async fn verify_names_each_kind_of_drift_by_line_and_sends_no_write() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    sandbox.seed_device(
        &user_id(7),
        Device {
            id: "00000000-0000-4000-9000-000000000007".into(),
            device_type: "SMS".into(),
            status: Some("ACTIVE".into()),
            phone: Some(us_number(7)),
            ..Default::default()
        },
    );
    ws.write("in.csv", &input());
    let run = enroll(
        &ws,
        &sandbox,
        "in.csv",
        &["--enable-mfa", "--allow-messages"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    let devices = devices_by_line(&ws, "out");
    let device = |line: u64| devices[&line].clone();
    // Line i + 2 is user i. What others change after the run:
    let (u, d) = device(3);
    assert!(sandbox.remove_device(&u, &d), "line 3: gone");
    let (u, d) = device(4);
    assert!(sandbox.change_device(&u, &d, |d| d.phone = Some(us_number(99))));
    sandbox.set_mfa_enabled(&user_id(3), false); // line 5
    sandbox.remove_user(&user_id(4)); // line 6
    let (u, d) = device(8);
    assert!(sandbox.change_device(&u, &d, |d| d.status = Some("ACTIVE".into())));
    sandbox.seed_device(
        &user_id(0),
        Device {
            id: "00000000-0000-4000-9000-000000000100".into(),
            device_type: "EMAIL".into(),
            email: Some("new@example.com".into()),
            ..Default::default()
        },
    );
    let before = sandbox.tally();

    let verify = after_command(&ws, &sandbox, "verify", "out", &[]).await;
    assert_eq!(
        verify.code,
        1,
        "some records no longer hold: {}",
        verify.both()
    );
    let states = column_by_line(&ws.out().join("verify/verify.csv"), "state");
    let expected: HashMap<u64, &str> = [
        (2, "HOLDS"),
        (3, "DEVICE_GONE"),
        (4, "DESTINATION_CHANGED"),
        (5, "MFA_OFF"),
        (6, "USER_GONE"),
        (7, "ACTIVATION_PENDING"),
        (8, "HOLDS"),
        (9, "HOLDS"),
        (10, "HOLDS"),
    ]
    .into_iter()
    .collect();
    let states: HashMap<u64, &str> = states.iter().map(|(l, s)| (*l, s.as_str())).collect();
    assert_eq!(states, expected);
    let details = column_by_line(&ws.out().join("verify/verify.csv"), "detail");
    assert!(details[&7].contains("days ago"), "{}", details[&7]);
    assert!(details[&8].contains("activated since"), "{}", details[&8]);

    let after = sandbox.tally();
    assert_eq!(after.posts, before.posts, "verify sends no POST");
    assert_eq!(after.mfa_switch_puts, before.mfa_switch_puts, "nor a PUT");
    assert_eq!(after.devices_deleted, 0, "nor a DELETE");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.out().join("verify/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["states"]["HOLDS"], 4, "{summary}");
    assert_eq!(summary["states"]["DEVICE_GONE"], 1, "{summary}");
    assert_eq!(summary["requests"]["delete"], 0, "{summary}");
    assert_eq!(summary["requests"]["post"], 0, "{summary}");
    assert_eq!(summary["requests"]["put"], 0, "{summary}");
    assert_eq!(summary["exit_code"], 1);
    assert_private_outputs_of(&ws.out().join("verify"), &["verify.csv", "summary.json"]);
}

/// The named files in `dir` are readable by their owner only.
pub(crate) fn assert_private_outputs_of(dir: &std::path::Path, names: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    for name in names {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn a_run_that_still_holds_verifies_with_exit_0_and_a_second_verify_needs_resume() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(6));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let verify = after_command(&ws, &sandbox, "verify", "out", &[]).await;
    assert_eq!(verify.code, 0, "{}", verify.both());
    let again = after_command(&ws, &sandbox, "verify", "out", &[]).await;
    assert_eq!(
        again.code,
        2,
        "an earlier verify.csv is never overwritten: {}",
        again.both()
    );
    assert!(again.stderr.contains("--resume"), "{}", again.stderr);
    let resumed = after_command(&ws, &sandbox, "verify", "out", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let rows = read_csv(&ws.out().join("verify/verify.csv"));
    assert_eq!(rows.len(), 6, "every row once: {rows:?}");
}

#[tokio::test]
async fn verify_refuses_a_run_it_cannot_prove_or_another_target() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    // A summary that disagrees with results.csv proves nothing.
    copy_dir(&ws.out(), &ws.path("edited"));
    let results = ws.path("edited/results.csv");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&results, format!("{}\n", lines.join("\n"))).unwrap();
    let edited = after_command(&ws, &sandbox, "verify", "edited", &[]).await;
    assert_eq!(edited.code, 2, "{}", edited.both());
    assert!(
        edited.stderr.contains("summary.json counts"),
        "{}",
        edited.stderr
    );
    // Another sandbox is another target.
    let other = sandbox_with(SandboxOptions {
        environment_id: "5a4db0c5-0000-4000-8000-0000000000ff".into(),
        ..SandboxOptions::default()
    })
    .await;
    ws.config_for(&other, "rate = 1000", "");
    let elsewhere = after_command(&ws, &other, "verify", "out", &[]).await;
    assert_eq!(elsewhere.code, 2, "{}", elsewhere.both());
    assert!(
        elsewhere.stderr.contains("its run was against"),
        "{}",
        elsewhere.stderr
    );
    assert_eq!(other.tally().requests, 0, "nothing was sent");
    assert!(!ws.out().join("verify").exists() || !ws.out().join("verify/verify.csv").exists());
}

async fn sandbox_with(options: SandboxOptions) -> Sandbox {
    mfa_enroll_test_support::sandbox(options).await
}

#[tokio::test]
async fn verify_reads_a_shard_and_the_merge_of_its_shards() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(8));
    for k in 0..2 {
        let (shard, out) = (format!("{k}/2"), format!("shard-{k}"));
        let run = enroll_to(&ws, &sandbox, "in.csv", &out, &["--shard", &shard]).await;
        assert_eq!(run.code, 0, "{}", run.both());
    }
    let merge = run_binary(
        ws.dir.path(),
        None,
        &["merge", "shard-0", "shard-1", "--out", "merged"],
    )
    .await;
    assert_eq!(merge.code, 0, "{}", merge.both());
    let (u, d) = devices_by_line(&ws, "merged")[&2].clone();
    assert!(sandbox.remove_device(&u, &d));
    let merged = after_command(&ws, &sandbox, "verify", "merged", &[]).await;
    assert_eq!(merged.code, 1, "{}", merged.both());
    let states = column_by_line(&ws.path("merged/verify/verify.csv"), "state");
    assert_eq!(states.len(), 8);
    assert_eq!(states[&2], "DEVICE_GONE");
    assert_eq!(states.values().filter(|s| *s == "HOLDS").count(), 7);
    let shard = if devices_by_line(&ws, "shard-0").contains_key(&2) {
        "shard-0"
    } else {
        "shard-1"
    };
    let one = after_command(&ws, &sandbox, "verify", shard, &[]).await;
    assert_eq!(one.code, 1, "{}", one.both());
    let states = column_by_line(&ws.path(shard).join("verify/verify.csv"), "state");
    assert_eq!(states[&2], "DEVICE_GONE");
}

#[tokio::test]
async fn an_interrupted_verify_exits_3_and_its_resume_reads_only_the_rest() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(30));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    ws.config_for(&sandbox, "rate = 5", "");
    let secret = sandbox.options().client_secret.expose().to_string();
    let args = ["verify", "out", "--config", "mfa-enroll.toml"];
    let child = spawn_binary(ws.dir.path(), &secret, &args);
    let csv = ws.out().join("verify/verify.csv");
    for _ in 0..1200 {
        if rows_in(&csv) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    send_signal(&child, "INT");
    let stopped = finish(child).await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.out().join("verify/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["finished"], false, "{summary}");
    let recorded = rows_in(&csv);
    assert!(
        (3..30).contains(&recorded),
        "{recorded} rows before the stop"
    );
    let gets_before = sandbox.tally().requests;

    ws.config_for(&sandbox, "rate = 1000", "");
    let resumed = after_command(&ws, &sandbox, "verify", "out", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(read_csv(&csv).len(), 30, "every line once");
    let read_again = sandbox.tally().requests - gets_before;
    assert_eq!(
        read_again,
        (30 - recorded) as u64,
        "the resume reads only the rows not recorded (one GET each)"
    );
}
