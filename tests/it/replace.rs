//! `on_existing = "replace"` (nightly sync) against the real binary and a sandbox on
//! loopback: a changed number replaces the old device, created before the old one is
//! deleted (by the sandbox's arrival order); devices waiting for activation go too; other
//! types and users are never touched; an invalid or failed row holds its group; the cap stops
//! the run (exit 3) and `--resume` with a higher one finishes, nothing deleted twice; a crash
//! between a creation and its removals loses nothing; a DELETE whose answer was lost is
//! retried and its 404 counts; a crash right after a DELETE loses no removal (the journal:
//! `--resume` records it once, `undo` lists it even when no row does); an online dry run
//! plans the removals and says the cap; undo lists what was removed as `not_restorable`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

use crate::verify::after_command;

/// `[enroll]` of a replace run with a cap.
fn replacing(cap: u64) -> String {
    format!("on_existing = \"replace\"\nmax_deletes = {cap}\n")
}

/// A device the user had before the run: `kind` SMS/VOICE with a phone, EMAIL with an email.
fn seed(sandbox: &Sandbox, user: usize, id: &str, kind: &str, destination: &str, status: &str) {
    let (phone, email) = match kind {
        "EMAIL" => (None, Some(destination.to_string())),
        _ => (Some(destination.to_string()), None),
    };
    sandbox.seed_device(
        &user_id(user),
        Device {
            id: id.into(),
            device_type: kind.into(),
            status: Some(status.into()),
            phone,
            email,
            created_at: Some("2020-01-01T00:00:00Z".into()),
            ..Default::default()
        },
    );
}

/// A seeded device's ID: stale ones start with `old`, kept ones with `keep`.
fn id(n: u32) -> String {
    format!("00000000-0000-4000-a000-{n:012}")
}

fn ids_of(sandbox: &Sandbox, user: usize) -> HashSet<String> {
    sandbox
        .devices_of(&user_id(user))
        .into_iter()
        .map(|d| d.id)
        .collect()
}

fn removed_by_line(ws: &Workspace, out: &str) -> HashMap<u64, Vec<String>> {
    read_csv(&ws.path(out).join("results.csv"))
        .into_iter()
        .map(|row| {
            let ids = row["removed_device_ids"]
                .split_whitespace()
                .map(str::to_string)
                .collect();
            (row["line"].parse().expect("a line"), ids)
        })
        .collect()
}

/// The user's requests as the sandbox received them: every POST came before every DELETE.
fn assert_created_before_deleted(sandbox: &Sandbox, user: usize) {
    let seen = sandbox.requests_about(&user_id(user));
    let last_post = seen.iter().rposition(|r| *r == "POST devices");
    let first_delete = seen.iter().position(|r| *r == "DELETE device");
    if let (Some(post), Some(delete)) = (last_post, first_delete) {
        assert!(
            post < delete,
            "user {user}: a DELETE before a POST: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_changed_number_replaces_the_old_device_after_the_new_one_exists() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    // User 0's number changed: the old one, and an old one still waiting for activation,
    // are stale; the email device is another type, never touched.
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    seed(
        &sandbox,
        0,
        &id(2),
        "SMS",
        &us_number(101),
        "ACTIVATION_REQUIRED",
    );
    seed(&sandbox, 0, &id(3), "EMAIL", "u0@example.com", "ACTIVE");
    // User 1's number is unchanged: nothing to create, nothing to delete.
    seed(&sandbox, 1, &id(4), "SMS", &us_number(1), "ACTIVE");
    // User 2 has two rows of SMS: the device neither names goes, after the second row.
    seed(&sandbox, 2, &id(5), "SMS", &us_number(202), "ACTIVE");
    // User 5 is not in the file: never touched.
    seed(&sandbox, 5, &id(6), "SMS", &us_number(105), "ACTIVE");
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone\n{},SMS,{}\n{},SMS,{}\n{},SMS,{}\n{},SMS,{}\n",
            user_id(0),
            us_number(0),
            user_id(1),
            us_number(1),
            user_id(2),
            us_number(2),
            user_id(2),
            us_number(102),
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let rows = by_line(&ws.results());
    assert_eq!(rows[&2]["outcome"], "created");
    assert_eq!(rows[&3]["outcome"], "skipped_existing");
    let removed = removed_by_line(&ws, "out");
    assert_eq!(
        removed[&2].iter().cloned().collect::<HashSet<_>>(),
        HashSet::from([id(1), id(2)])
    );
    assert!(removed[&3].is_empty());
    assert!(removed[&4].is_empty(), "user 2's first row is not the last");
    assert_eq!(removed[&5], vec![id(5)]);
    assert_eq!(
        rows[&5]["removed_destinations"],
        us_number(202),
        "undo needs the destination"
    );
    for user in [0, 2] {
        assert_created_before_deleted(&sandbox, user);
    }
    let user0 = sandbox.devices_of(&user_id(0));
    assert_eq!(user0.len(), 2, "the new SMS and the email: {user0:?}");
    assert!(ids_of(&sandbox, 0).contains(&id(3)), "another type stays");
    assert_eq!(ids_of(&sandbox, 1), HashSet::from([id(4)]));
    assert_eq!(sandbox.devices_of(&user_id(2)).len(), 2);
    assert_eq!(
        ids_of(&sandbox, 5),
        HashSet::from([id(6)]),
        "not in the file"
    );
    let deleted = sandbox.deleted_devices();
    assert_eq!(deleted.len(), 3, "each once: {deleted:?}");
    let summary = ws.summary();
    assert_eq!(summary["devices_removed"], 3, "{summary}");
    assert_eq!(summary["removals"]["this_run"], 3);
    assert_eq!(summary["removals"]["cap_reached"], false);
    assert_eq!(summary["requests"]["delete"], 3);
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(
        report.contains("Devices removed"),
        "report.html lists removals"
    );
}

#[tokio::test]
async fn an_invalid_or_failed_row_holds_its_users_removals_of_that_type() {
    // A cap of one device per user: user 1's new number cannot be added while the old one
    // is there, so the row fails, and the old device must stay (never no device at all).
    let options = SandboxOptions {
        max_devices: 1,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", &replacing(10)).await;
    // (Waiting for activation: not counted against the cap of one.)
    seed(
        &sandbox,
        0,
        &id(1),
        "EMAIL",
        "old0@example.com",
        "ACTIVATION_REQUIRED",
    );
    seed(&sandbox, 1, &id(2), "SMS", &us_number(101), "ACTIVE");
    seed(
        &sandbox,
        2,
        &id(3),
        "SMS",
        &us_number(102),
        "ACTIVATION_REQUIRED",
    );
    // User 0: one EMAIL row valid, one invalid: the old email stays.
    // User 2: the same, with the invalid row first: the old SMS stays.
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,email\n{u0},EMAIL,,new0@example.com\n{u0},EMAIL,,not-an-email\n{u1},SMS,{p1},\n{u2},SMS,12,\n{u2},SMS,{p2},\n",
            u0 = user_id(0),
            u1 = user_id(1),
            u2 = user_id(2),
            p1 = us_number(1),
            p2 = us_number(2),
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&ws.results());
    assert_eq!(rows[&2]["outcome"], "created");
    assert_eq!(rows[&3]["outcome"], "invalid");
    assert_eq!(rows[&4]["outcome"], "failed");
    assert_eq!(rows[&6]["outcome"], "created");
    assert!(
        sandbox.deleted_devices().is_empty(),
        "nothing deleted for a held group: {:?}",
        sandbox.deleted_devices()
    );
    assert!(ids_of(&sandbox, 0).contains(&id(1)));
    assert!(ids_of(&sandbox, 1).contains(&id(2)));
    assert!(ids_of(&sandbox, 2).contains(&id(3)));
    assert!(
        rows[&6]["error_message"].contains("line 5 of this user and type is invalid"),
        "{:?}",
        rows[&6]
    );
    let summary = ws.summary();
    assert_eq!(summary["devices_removed"], 0);
    assert_eq!(summary["removals"]["held"], 3, "{summary}");
    let held: Vec<u64> = summary["removals"]["held_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["line"].as_u64().unwrap())
        .collect();
    assert_eq!(held.len(), 3, "{held:?}");
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(
        report.contains("Stale devices kept"),
        "report.html lists held removals"
    );
}

#[tokio::test]
async fn replace_without_max_deletes_is_a_config_error_and_sends_nothing() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "on_existing = \"replace\"\n",
    )
    .await;
    ws.write("in.csv", &sms_rows(2));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("max_deletes"), "{}", run.stderr);
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
    // The flag alone is enough.
    let flagged = enroll(&ws, &sandbox, "in.csv", &["--max-deletes", "5"]).await;
    assert_eq!(flagged.code, 0, "{}", flagged.both());
}

/// Four users whose number changed, each with one stale device.
fn four_changed(sandbox: &Sandbox, ws: &Workspace) -> HashSet<String> {
    for user in 0..4 {
        seed(
            sandbox,
            user,
            &id(user as u32 + 1),
            "SMS",
            &us_number(100 + user),
            "ACTIVE",
        );
    }
    ws.write("in.csv", &sms_rows(4));
    (1..=4).map(id).collect()
}

#[tokio::test]
async fn the_cap_stops_the_run_and_resume_with_a_higher_cap_finishes_nothing_deleted_twice() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(2)).await;
    let stale = four_changed(&sandbox, &ws);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "DELETE_CAP_REACHED",
        "{summary}"
    );
    // Users run side by side: a deletion the cap allowed may still be waiting for its turn
    // when the stop comes, and then is not sent (its row owes it).
    let first = sandbox.deleted_devices().len();
    assert!((1..=2).contains(&first), "never past the cap: {first}");
    assert_eq!(summary["removals"]["this_run"], first as u64);
    let capped: Vec<_> = ws
        .results()
        .into_iter()
        .filter(|r| r["error_code"] == "DELETE_CAP_REACHED")
        .collect();
    assert!(!capped.is_empty(), "{:?}", ws.results());
    assert!(
        capped.iter().all(|r| r["outcome"] == "created"),
        "its device is there: {capped:?}"
    );

    let resumed = enroll(
        &ws,
        &sandbox,
        "in.csv",
        &["--resume", "--max-deletes", "10"],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let deleted = sandbox.deleted_devices();
    assert_eq!(deleted.len(), 4, "each once: {deleted:?}");
    assert_eq!(deleted.into_iter().collect::<HashSet<_>>(), stale);
    let posts = (0..4)
        .flat_map(|u| sandbox.requests_about(&user_id(u)))
        .filter(|r| *r == "POST devices")
        .count();
    assert_eq!(posts, 4, "no second POST on resume");
    let rows = ws.results();
    assert!(rows.iter().all(|r| r["outcome"] == "created"), "{rows:?}");
    let recorded: HashSet<String> = removed_by_line(&ws, "out")
        .into_values()
        .flatten()
        .collect();
    assert_eq!(recorded, stale, "every removal recorded, none lost");
    assert_eq!(ws.summary()["devices_removed"], 4);
    for user in 0..4 {
        assert_eq!(sandbox.devices_of(&user_id(user)).len(), 1);
    }
}

#[tokio::test]
async fn a_crash_between_a_creation_and_its_removals_leaves_both_to_resume() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    let stale = four_changed(&sandbox, &ws);
    let secret = sandbox.options().client_secret.expose().to_string();
    let mut command = launch_command(ws.dir.path(), &enroll_args("in.csv", "out", &[]));
    command
        .env("PINGONE_CLIENT_SECRET", &secret)
        .env("FAILPOINTS", "before-removals=return");
    let crashed = must_end(command.spawn().expect("starts"), Duration::from_secs(300)).await;
    assert!(
        crashed.stderr.contains("failpoint before-removals"),
        "{}",
        crashed.both()
    );
    assert!(sandbox.deleted_devices().is_empty(), "the crash came first");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let deleted = sandbox.deleted_devices();
    assert_eq!(deleted.len(), 4, "each once: {deleted:?}");
    assert_eq!(deleted.into_iter().collect::<HashSet<_>>(), stale);
    assert_eq!(sandbox.tally().duplicate_devices, 0, "no device made twice");
    for user in 0..4 {
        let devices = sandbox.devices_of(&user_id(user));
        assert_eq!(devices.len(), 1, "the new device only: {devices:?}");
    }
    let recorded: HashSet<String> = removed_by_line(&ws, "out")
        .into_values()
        .flatten()
        .collect();
    assert_eq!(recorded, stale, "every removal recorded");
}

/// One user whose number changed (stale device `id(1)`), run with `after-delete=return`:
/// killed once PingOne answered the DELETE, before the row is written.
async fn killed_after_a_delete() -> (Sandbox, Workspace) {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    ws.write("in.csv", &sms_rows(1));
    let secret = sandbox.options().client_secret.expose().to_string();
    let mut command = launch_command(ws.dir.path(), &enroll_args("in.csv", "out", &[]));
    command
        .env("PINGONE_CLIENT_SECRET", &secret)
        .env("FAILPOINTS", "after-delete=return");
    let crashed = must_end(command.spawn().expect("starts"), Duration::from_secs(300)).await;
    assert!(
        crashed.stderr.contains("failpoint after-delete"),
        "{}",
        crashed.both()
    );
    assert_eq!(sandbox.deleted_devices(), vec![id(1)], "the DELETE went");
    assert!(ws.results().is_empty(), "the row was not written");
    (sandbox, ws)
}

fn deletes_of(sandbox: &Sandbox, user: usize) -> usize {
    sandbox
        .requests_about(&user_id(user))
        .into_iter()
        .filter(|r| *r == "DELETE device")
        .count()
}

#[tokio::test]
async fn a_crash_after_a_delete_loses_no_removal_resume_records_it_and_undo_lists_it() {
    let (sandbox, ws) = killed_after_a_delete().await;
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(
        removed_by_line(&ws, "out")[&2],
        vec![id(1)],
        "the journaled removal is on its row"
    );
    let row = &ws.results()[0];
    assert_eq!(row["outcome"], "created", "{row:?}");
    assert_eq!(row["removed_destinations"], us_number(100));
    let summary = ws.summary();
    assert_eq!(summary["devices_removed"], 1, "counted once: {summary}");
    assert_eq!(summary["removals"]["this_run"], 0, "no DELETE this run");
    assert_eq!(deletes_of(&sandbox, 0), 1, "one DELETE in all");
    assert_eq!(sandbox.deleted_devices(), vec![id(1)]);
    let undo = after_command(&ws, &sandbox, "undo", "out", &["--dry-run"]).await;
    assert_eq!(undo.code, 1, "{}", undo.both());
    let lines = read_csv(&ws.out().join("undo-dry-run/undo.csv"));
    let gone: Vec<_> = lines
        .iter()
        .filter(|l| l["outcome"] == "not_restorable")
        .collect();
    assert_eq!(gone.len(), 1, "listed once: {lines:?}");
    assert_eq!(gone[0]["device_id"], id(1));
    assert_eq!(gone[0]["destination"], us_number(100));
}

#[tokio::test]
async fn a_journaled_device_still_listed_on_resume_is_deleted_again_and_recorded_once() {
    let (sandbox, ws) = killed_after_a_delete().await;
    // PingOne's lists may lag after a delete: the device shows again in the user's list.
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(removed_by_line(&ws, "out")[&2], vec![id(1)], "listed once");
    assert_eq!(ws.summary()["devices_removed"], 1);
    assert_eq!(ws.summary()["removals"]["this_run"], 1, "this run's DELETE");
    assert_eq!(deletes_of(&sandbox, 0), 2, "one DELETE a run");
    assert!(!ids_of(&sandbox, 0).contains(&id(1)), "gone");
}

#[tokio::test]
async fn a_new_run_starts_its_own_journal() {
    let (sandbox, ws) = killed_after_a_delete().await;
    // The killed run's record thrown away by hand; a new run on the same directory.
    for name in ["results.csv", "errors.csv", "summary.json"] {
        let _ = std::fs::remove_file(ws.out().join(name));
    }
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(ws
        .results()
        .iter()
        .all(|r| r["removed_device_ids"].is_empty()));
    let undo = after_command(&ws, &sandbox, "undo", "out", &["--dry-run"]).await;
    let lines = read_csv(&ws.out().join("undo-dry-run/undo.csv"));
    assert!(
        lines.iter().all(|l| l["outcome"] != "not_restorable"),
        "this run removed nothing: {lines:?}\n{}",
        undo.both()
    );
}

#[tokio::test]
async fn undo_lists_a_journaled_removal_that_no_row_lists() {
    let (sandbox, ws) = killed_after_a_delete().await;
    // Undo reads only finished runs; one whose row lacks the removal (as a resume of a
    // version without the journal would leave) must still not hide it.
    let journal = std::fs::read_to_string(ws.out().join(".removals")).expect("a journal");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let results = ws.out().join("results.csv");
    let text = std::fs::read_to_string(&results).unwrap();
    let stripped = text.replace(&id(1), "").replace(&us_number(100), "");
    let mut rows = read_csv(&results);
    assert_eq!(rows.len(), 1);
    // The phone is also the row's old number only in removed_destinations: the row's own
    // destination is another number.
    assert_ne!(rows[0]["destination"], us_number(100));
    std::fs::write(&results, stripped).unwrap();
    rows = read_csv(&results);
    assert_eq!(rows[0]["removed_device_ids"], "", "no row lists it now");
    assert!(journal.contains(&id(1)), "{journal}");
    let undo = after_command(&ws, &sandbox, "undo", "out", &["--dry-run"]).await;
    assert_eq!(undo.code, 1, "{}", undo.both());
    let lines = read_csv(&ws.out().join("undo-dry-run/undo.csv"));
    let gone: Vec<_> = lines
        .iter()
        .filter(|l| l["outcome"] == "not_restorable")
        .collect();
    assert_eq!(gone.len(), 1, "{lines:?}");
    assert_eq!(gone[0]["device_id"], id(1));
    assert_eq!(gone[0]["user_id"], user_id(0));
    assert_eq!(gone[0]["type"], "SMS");
    assert_eq!(gone[0]["destination"], us_number(100));
    // A journaled device PingOne still has (its DELETE failed) was not removed: undo reads
    // it by ID and does not call it removed.
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    let again = after_command(
        &ws,
        &sandbox,
        "undo",
        "out",
        &["--dry-run", "--out", "again"],
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.both());
    let lines = read_csv(&ws.path("again").join("undo.csv"));
    assert!(
        lines.iter().all(|l| l["outcome"] != "not_restorable"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_delete_whose_answer_was_lost_is_retried_and_its_404_counts_as_removed() {
    let options = SandboxOptions {
        lost_delete_answers: 1,
        ..SandboxOptions::default()
    };
    let limits = format!("rate = 1000\n{FAST_RETRIES}");
    let (sandbox, ws) = setup(options, &limits, &replacing(10)).await;
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    ws.write("in.csv", &sms_rows(1));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(removed_by_line(&ws, "out")[&2], vec![id(1)]);
    let deletes = sandbox
        .requests_about(&user_id(0))
        .into_iter()
        .filter(|r| *r == "DELETE device")
        .count();
    assert_eq!(deletes, 2, "the lost answer's DELETE was sent again");
    assert_eq!(sandbox.deleted_devices(), vec![id(1)], "deleted once");
    assert_eq!(ws.summary()["devices_removed"], 1);
}

#[tokio::test]
async fn an_online_dry_run_plans_every_removal_and_says_the_cap_would_be_reached() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(3)).await;
    let stale = four_changed(&sandbox, &ws);
    let run = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        sandbox.deleted_devices().is_empty(),
        "a dry run deletes nothing"
    );
    let planned: HashSet<String> = removed_by_line(&ws, "out")
        .into_values()
        .flatten()
        .collect();
    assert_eq!(planned, stale);
    let rows = ws.results();
    assert!(
        rows.iter().all(|r| r["outcome"] == "would_create"),
        "{rows:?}"
    );
    let summary = ws.summary();
    assert_eq!(summary["devices_removed"], 4);
    assert_eq!(summary["removals"]["planned"], true);
    assert_eq!(summary["removals"]["cap_reached"], true, "{summary}");
    assert!(
        run.both().contains("max_deletes"),
        "the end says the cap: {}",
        run.both()
    );
}

#[tokio::test]
async fn undo_of_a_replace_run_lists_the_removed_devices_as_not_restorable() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    ws.write("in.csv", &sms_rows(2));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let undo = after_command(&ws, &sandbox, "undo", "out", &["--yes"]).await;
    assert_eq!(undo.code, 1, "not wholly undone: {}", undo.both());
    let lines = read_csv(&ws.out().join("undo/undo.csv"));
    let gone: Vec<_> = lines
        .iter()
        .filter(|l| l["outcome"] == "not_restorable")
        .collect();
    assert_eq!(gone.len(), 1, "{lines:?}");
    assert_eq!(gone[0]["device_id"], id(1));
    assert_eq!(gone[0]["type"], "SMS");
    assert_eq!(gone[0]["destination"], us_number(100));
    let deleted: Vec<_> = lines.iter().filter(|l| l["outcome"] == "deleted").collect();
    assert_eq!(deleted.len(), 2, "the devices the run created: {lines:?}");
}

#[tokio::test]
async fn the_nightly_sync_cronjob_replaces_within_its_cap_and_then_verifies_that_run() {
    use crate::deploy::{assert_pod_basics, deploy, flag, mount_of, pod_spec, strings};
    let cron = deploy("cronjob-nightly-sync.yaml");
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let pod = pod_spec(&cron);
    assert_pod_basics("cronjob-nightly-sync", pod);
    let run_args = strings(&pod["initContainers"][0]["args"]);
    let verify_args = strings(&pod["containers"][0]["args"]);
    assert_eq!(flag(&run_args, "--on-existing"), "replace");
    let cap: u64 = flag(&run_args, "--max-deletes").parse().expect("a cap");
    assert!(cap > 0);
    assert_eq!(verify_args[0], "verify");
    assert_eq!(
        verify_args[1],
        flag(&run_args, "--out"),
        "verify reads that very run"
    );
    let (data_dir, _) = mount_of(pod, "persistentVolumeClaim");
    assert!(flag(&run_args, "--out").starts_with(&data_dir));

    // The two steps as Kubernetes runs them, against a sandbox: paths moved into a scratch
    // directory, the config file the sandbox's.
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    seed(&sandbox, 0, &id(1), "SMS", &us_number(100), "ACTIVE");
    let root = ws.dir.path();
    let input = root.join(flag(&run_args, "run").trim_start_matches('/'));
    std::fs::create_dir_all(input.parent().unwrap()).unwrap();
    std::fs::write(&input, sms_rows(3)).unwrap();
    // As pod-input-loader.yaml has it made: the folder of the metrics file.
    std::fs::create_dir_all(root.join("data/sync")).unwrap();
    let config = ws.path("mfa-enroll.toml");
    let here = |args: &[String]| -> Vec<String> {
        args.iter()
            .map(|a| match a.as_str() {
                "/etc/mfa-enroll/mfa-enroll.toml" => config.display().to_string(),
                _ => a
                    .replace("$(JOB_NAME)", "night-1")
                    .replace("/data/", &format!("{}/data/", root.display())),
            })
            .collect()
    };
    let secret = sandbox.options().client_secret.expose().to_string();
    let (run_args, verify_args) = (here(&run_args), here(&verify_args));
    let run_refs: Vec<&str> = run_args.iter().map(String::as_str).collect();
    let run = run_binary(root, Some(&secret), &run_refs).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.deleted_devices(), vec![id(1)]);
    let verify_refs: Vec<&str> = verify_args.iter().map(String::as_str).collect();
    let verify = run_binary(root, Some(&secret), &verify_refs).await;
    assert_eq!(verify.code, 0, "every record holds: {}", verify.both());
}

#[tokio::test]
async fn a_file_naming_users_both_ways_is_refused_before_anything_is_sent() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,username,type,phone\n{},,SMS,{}\n,jane,SMS,{}\n",
            user_id(0),
            us_number(0),
            us_number(1)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr.contains("line 2") && run.stderr.contains("line 3"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
}

#[tokio::test]
async fn each_shard_removes_only_its_own_users_devices_and_merge_adds_them_up() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", &replacing(10)).await;
    for user in 0..6 {
        seed(
            &sandbox,
            user,
            &id(user as u32 + 1),
            "SMS",
            &us_number(100 + user),
            "ACTIVE",
        );
    }
    ws.write("in.csv", &sms_rows(6));
    let mut total = 0;
    for k in 0..2 {
        let before: HashSet<String> = sandbox.deleted_devices().into_iter().collect();
        let (shard, out) = (format!("{k}/2"), format!("shard-{k}"));
        let run = enroll_to(&ws, &sandbox, "in.csv", &out, &["--shard", &shard]).await;
        assert_eq!(run.code, 0, "{}", run.both());
        let users: HashSet<usize> = read_csv(&ws.path(&out).join("results.csv"))
            .iter()
            .map(|r| {
                (0..6)
                    .find(|u| user_id(*u) == r["user_id"])
                    .expect("a user")
            })
            .collect();
        let now: HashSet<String> = sandbox
            .deleted_devices()
            .into_iter()
            .filter(|d| !before.contains(d))
            .collect();
        let own: HashSet<String> = users.iter().map(|u| id(*u as u32 + 1)).collect();
        assert_eq!(
            now, own,
            "shard {k} removed its own users' stale devices only"
        );
        total += now.len();
    }
    assert_eq!(total, 6);
    let merged = run_binary(
        ws.dir.path(),
        None,
        &["merge", "shard-0", "shard-1", "--out", "merged"],
    )
    .await;
    assert_eq!(merged.code, 0, "{}", merged.both());
    let text = std::fs::read_to_string(ws.path("merged/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["devices_removed"], 6, "{summary}");
    assert_eq!(
        summary["removals"]["max_deletes"], 20,
        "each shard's cap, added"
    );
}
