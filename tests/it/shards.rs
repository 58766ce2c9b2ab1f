//! `run --shard K/N` and `merge`, against the real binary: shards running at the same time
//! against one standing sandbox agree line for line with one whole run, and merge refuses
//! whatever is not one finished sharded run of one input.

use std::collections::HashMap;
use std::time::Duration;

use mfa_enroll::sandbox::json::Device;
use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

const USERS: usize = 45;
const SEEDED_ID_PREFIX: &str = "00000000-0000-4000-9000-";

fn username(i: usize) -> String {
    format!("user{i:03}")
}

fn id_of(i: usize) -> String {
    Directory::open_id_for(&username(i))
}

/// The tenant both runs start from: the users, and some devices they already have (with
/// fixed IDs, so a skipped row names the same device in both runs).
fn tenant() -> SandboxOptions {
    let mut users: Vec<(String, String)> = (0..USERS).map(|i| (id_of(i), username(i))).collect();
    users.push((uuid::Uuid::new_v4().to_string(), "twin".into()));
    users.push((uuid::Uuid::new_v4().to_string(), "TWIN".into()));
    SandboxOptions {
        directory: Directory::listed(users),
        ..SandboxOptions::default()
    }
}

fn seed(sandbox: &Sandbox) {
    for i in (0..USERS).step_by(4) {
        let device = Device {
            id: format!("{SEEDED_ID_PREFIX}{i:012}"),
            device_type: "SMS".into(),
            status: Some("ACTIVE".into()),
            phone: Some(us_number(i * 10)),
            created_at: Some("2024-01-01T00:00:00.000Z".into()),
            ..Default::default()
        };
        sandbox.seed_device(&id_of(i), device);
    }
}

/// Every user is named by username in some rows and by user_id in others, spread through
/// the file. Row (c) names row (a)'s device again the other way: a shard assignment by the
/// raw column would send the two to different shards, and both would create it.
fn mixed_input() -> String {
    let mut csv = String::from("user_id,username,type,phone,email\n");
    for i in 0..USERS {
        csv.push_str(&format!(",{},SMS,{},\n", username(i), us_number(i * 10)));
    }
    for i in 0..USERS {
        let email = format!("{}@example.com", username(i));
        csv.push_str(&format!("{},,EMAIL,,{email}\n", id_of(i)));
    }
    for i in (0..USERS).rev() {
        csv.push_str(&format!("{},,SMS,{},\n", id_of(i), us_number(i * 10)));
        if i % 9 == 0 {
            csv.push_str(&format!(",{},SMS,+1 555 01{i:02},\n", username(i)));
            csv.push_str(&format!(",ghost{i},EMAIL,,ghost{i}@example.com\n"));
        }
    }
    csv.push_str(",twin,EMAIL,,twin@example.com\n");
    csv
}

/// The columns that must agree between a sharded and a whole run: all of them, except that
/// a device made during the run has an ID of each sandbox's own making, and a transaction id
/// starts with its own run's id (what follows it, the line and attempt, must agree).
fn comparable(row: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = row
        .iter()
        .map(|(column, value)| {
            let made_in_run =
                column == "device_id" && !value.is_empty() && !value.starts_with(SEEDED_ID_PREFIX);
            let value = if made_in_run {
                "(made in the run)"
            } else if column == "transaction_id" {
                value.find("-L").map_or(value.as_str(), |at| &value[at..])
            } else {
                value
            };
            (column.clone(), value.to_string())
        })
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_at_once_agree_with_one_whole_run() {
    let limits = "rate = 200\nconcurrency = 4\n";
    let (shared, ws) = setup(tenant(), limits, "").await;
    seed(&shared);
    ws.write("in.csv", &mixed_input());
    let secret = shared.options().client_secret.expose().to_string();
    let shard_dirs = ["s0", "s1", "s2"];
    let children: Vec<_> = (0..3)
        .map(|k| {
            let shard = format!("{k}/3");
            let args = enroll_args("in.csv", shard_dirs[k], &["--shard", &shard, "-q"]);
            spawn_binary(ws.dir.path(), &secret, &args)
        })
        .collect();
    for child in children {
        let run = finish(child).await;
        assert_eq!(run.code, 1, "invalid rows make exit 1: {}", run.both());
    }
    let mut args = vec!["merge"];
    args.extend(shard_dirs);
    args.extend(["--out", "merged"]);
    let merged_run = run_binary(ws.dir.path(), None, &args).await;
    assert_eq!(merged_run.code, 1, "{}", merged_run.both());
    assert!(
        merged_run.stdout.contains("USER_NOT_FOUND"),
        "{}",
        merged_run.stdout
    );

    let tally = shared.tally();
    assert_eq!(tally.duplicate_devices, 0, "no device was created twice");

    // The same file, whole, on a fresh tenant in the same state.
    let (fresh, whole_ws) = setup(tenant(), limits, "").await;
    seed(&fresh);
    whole_ws.write("in.csv", &mixed_input());
    let whole_run = enroll(&whole_ws, &fresh, "in.csv", &["-q"]).await;
    assert_eq!(whole_run.code, 1, "{}", whole_run.both());
    assert_eq!(fresh.tally().devices_created, tally.devices_created);

    let merged = read_csv(&ws.path("merged/results.csv"));
    let whole = by_line(&whole_ws.results());
    let lines: Vec<u64> = merged.iter().map(|r| r["line"].parse().unwrap()).collect();
    let mut in_order = lines.clone();
    in_order.sort_unstable();
    assert_eq!(lines, in_order, "merged results.csv is in line order");
    assert_eq!(merged.len(), whole.len(), "every line once");
    for row in &merged {
        let line: u64 = row["line"].parse().unwrap();
        assert_eq!(comparable(row), comparable(&whole[&line]), "line {line}");
    }
    let outcome_count = |o: &str| merged.iter().filter(|r| r["outcome"] == o).count();
    assert!(outcome_count("skipped_existing") >= 2 * USERS / 4);
    assert!(outcome_count("created") >= USERS);

    // errors.csv: the whole run's rows, in line order, and a valid input.
    let merged_errors = read_csv(&ws.path("merged/errors.csv"));
    let mut whole_errors = whole_ws.errors();
    whole_errors.sort_by_key(|r| r["line"].parse::<u64>().unwrap());
    assert_eq!(merged_errors, whole_errors);
    let recheck = run_binary(
        ws.dir.path(),
        None,
        &["run", "merged/errors.csv", "--dry-run", "--out", "recheck"],
    )
    .await;
    assert_eq!(recheck.code, 1, "{}", recheck.both());

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("merged/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["outcomes"], whole_ws.summary()["outcomes"]);
    assert_eq!(summary["rows"], merged.len());
    assert_eq!(summary["shards"].as_array().unwrap().len(), 3);
    let posts: u64 = (0..3)
        .map(|k| {
            shard_summary(&ws, shard_dirs[k])["requests"]["post"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(summary["requests"]["post"], posts);
    for (k, dir) in shard_dirs.iter().enumerate() {
        let s = shard_summary(&ws, dir);
        assert_eq!(s["shard"]["index"], k);
        assert_eq!(s["shard"]["count"], 3);
        assert_eq!(s["shard"]["keyed_by"], "resolved_user_id");
        assert_eq!(s["input"]["sha256"], summary["input"]["sha256"]);
    }
}

/// The merged summary is the run's: its mode, sandbox, target, input and settings are the
/// shards', it is finished, and it names the version that merged it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_summary_carries_the_shards_run() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(12));
    sandbox_shards(&ws, "in.csv", "s", 2).await;
    let merged = merge(&ws, &["s0", "s1"], "m").await;
    assert!(merged.code <= 1, "{}", merged.both());
    let (summary, first) = (shard_summary(&ws, "m"), shard_summary(&ws, "s0"));
    assert_eq!(summary["sandbox"], true);
    for key in ["mode", "sandbox", "target", "input", "settings"] {
        assert_eq!(summary[key], first[key], "{key}");
    }
    assert_eq!(summary["finished"], true);
    assert_eq!(summary["tool_version"], env!("CARGO_PKG_VERSION"));
}

fn shard_summary(ws: &Workspace, dir: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(ws.path(dir).join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A file that names users by ID only needs no look-ups to split: no GET /users at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_user_ids_splits_without_lookups() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 500\n", "").await;
    ws.write("in.csv", &sms_rows(30));
    for k in 0..2 {
        let shard = format!("{k}/2");
        let run = enroll_to(
            &ws,
            &sandbox,
            "in.csv",
            &format!("s{k}"),
            &["--shard", &shard],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.both());
        assert_eq!(
            shard_summary(&ws, &format!("s{k}"))["shard"]["keyed_by"],
            "reference"
        );
    }
    // One device read per user and, in each shard, the new-device notices' guard's read of
    // the policy: no look-ups to decide the shards.
    let gets: u64 = (0..2)
        .map(|k| {
            shard_summary(&ws, &format!("s{k}"))["requests"]["get"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(gets, 30 + 2);
    assert_eq!(sandbox.tally().devices_created, 30);
    let merged = run_binary(ws.dir.path(), None, &["merge", "s1", "s0", "--out", "m"]).await;
    assert_eq!(merged.code, 0, "{}", merged.both());
    assert_eq!(read_csv(&ws.path("m/results.csv")).len(), 30);
}

/// Offline dry-run shards of `input` into `prefix{K}` for every K of `count`.
async fn dry_shards(ws: &Workspace, input: &str, prefix: &str, count: u32) {
    for k in 0..count {
        let (shard, out) = (format!("{k}/{count}"), format!("{prefix}{k}"));
        let run = run_binary(
            ws.dir.path(),
            None,
            &["run", input, "--dry-run", "--shard", &shard, "--out", &out],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.both());
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

async fn merge(ws: &Workspace, dirs: &[&str], out: &str) -> Run {
    let mut args = vec!["merge"];
    args.extend(dirs);
    args.extend(["--out", out]);
    run_binary(ws.dir.path(), None, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_what_is_not_one_finished_sharded_run() {
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    ws.write("a.csv", &sms_rows(40));
    ws.write("b.csv", &sms_rows(41));
    dry_shards(&ws, "a.csv", "a", 3).await;
    dry_shards(&ws, "b.csv", "b", 3).await;
    dry_shards(&ws, "a.csv", "two", 2).await;
    let whole = run_binary(
        ws.dir.path(),
        None,
        &["run", "a.csv", "--dry-run", "--out", "whole"],
    )
    .await;
    assert_eq!(whole.code, 0);
    copy_dir(&ws.path("a1"), &ws.path("a1-copy"));
    let cases: [(&[&str], &str); 7] = [
        (&["a0", "a1"], "shards 2/3 of 3 are missing"),
        (&["a0", "a1", "a1", "a2"], "a1 is given twice"),
        (&["a0", "a1", "a1-copy", "a2"], "shard 1/3 is given twice"),
        (&["a0", "a1", "b2"], "processed different inputs"),
        (&["a0", "a1", "two1"], "but"),
        (&["a0", "a1", "whole"], "was not sharded"),
        (&["a0", "a1", "nowhere"], "no summary.json"),
    ];
    for (dirs, says) in cases {
        let run = merge(&ws, dirs, "m").await;
        assert_eq!(run.code, 2, "{dirs:?}: {}", run.both());
        assert!(run.stderr.contains(says), "{dirs:?}: {}", run.stderr);
        assert!(
            !ws.path("m/results.csv").exists(),
            "{dirs:?}: nothing written"
        );
    }
    let merged = merge(&ws, &["a2", "a0", "a1"], "m").await;
    assert_eq!(merged.code, 0, "{}", merged.both());
    let mode = |dir| shard_summary(&ws, dir)["mode"].clone();
    assert_eq!(mode("m"), mode("a0"), "a merge of dry runs is a dry run");
    let again = merge(&ws, &["a2", "a0", "a1"], "m").await;
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("earlier run or merge"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_of_different_targets_are_refused() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &sms_rows(10));
    let standing = enroll_to(&ws, &sandbox, "in.csv", "s0", &["--shard", "0/2"]).await;
    assert!(standing.code <= 1, "{}", standing.both());
    let built_in = run_binary(
        ws.dir.path(),
        None,
        &[
            "run",
            "in.csv",
            "--sandbox",
            "--shard",
            "1/2",
            "--out",
            "s1",
        ],
    )
    .await;
    assert!(built_in.code <= 1, "{}", built_in.both());
    let run = merge(&ws, &["s0", "s1"], "m").await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("ran against"), "{}", run.stderr);
    assert!(run.stderr.contains("built-in sandbox"), "{}", run.stderr);
}

/// A shard that stopped is named with the command that resumes it; once resumed (as the
/// same shard, and only as that), the merge goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_shard_is_named_and_resumed() {
    let options = SandboxOptions {
        latency: Duration::from_millis(100),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "concurrency = 1\n", "").await;
    ws.write("in.csv", &sms_rows(40));
    let first = enroll_to(&ws, &sandbox, "in.csv", "s0", &["--shard", "0/2"]).await;
    assert_eq!(first.code, 0, "{}", first.both());
    let secret = sandbox.options().client_secret.expose().to_string();
    let args = enroll_args("in.csv", "s1", &["--shard", "1/2"]);
    let child = spawn_binary(ws.dir.path(), &secret, &args);
    wait_for_rows(&ws.path("s1"), 2).await;
    send_signal(&child, "TERM");
    assert_eq!(finish(child).await.code, 3);

    let refused = merge(&ws, &["s0", "s1"], "m").await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(
        refused.stderr.contains("shard 1/2 stopped early"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--shard 1/2 --out s1 --resume"),
        "{}",
        refused.stderr
    );

    let wrong = enroll_to(
        &ws,
        &sandbox,
        "in.csv",
        "s1",
        &["--shard", "0/2", "--resume"],
    )
    .await;
    assert_eq!(wrong.code, 2, "{}", wrong.both());
    assert!(wrong.stderr.contains("--shard 1/2"), "{}", wrong.stderr);
    let resumed = enroll_to(
        &ws,
        &sandbox,
        "in.csv",
        "s1",
        &["--shard", "1/2", "--resume"],
    )
    .await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());

    let merged = merge(&ws, &["s0", "s1"], "m").await;
    assert_eq!(merged.code, 0, "{}", merged.both());
    let resumed_rows = |dir| shard_summary(&ws, dir)["resumed_rows"].as_u64().unwrap();
    assert!(resumed_rows("s1") > 0);
    assert_eq!(resumed_rows("m"), resumed_rows("s0") + resumed_rows("s1"));
    let rows = read_csv(&ws.path("m/results.csv"));
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r["outcome"] == "created"));
    assert_eq!(sandbox.tally().devices_created, 40);
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}
