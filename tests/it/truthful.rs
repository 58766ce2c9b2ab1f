//! "Every record is true", against the real binary and the sandbox: under harsh faults no row
//! says `failed` for a device that exists, a device is claimed by one row, and a resume never
//! mixes targets. Each test names the promise it guards.

use std::collections::{HashMap, HashSet};

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// Fast backoff, and only one retry: the harsh setting where records used to lie.
const ONE_RETRY: &str =
    "rate = 100000\nconcurrency = 16\nbackoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 1\nlist_lag_s = 0\n";

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// What the server holds: (user, phone digits) -> device IDs.
fn server_devices(sandbox: &Sandbox) -> HashMap<(String, String), Vec<String>> {
    let mut map: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (user, device) in sandbox.all_devices() {
        let phone = digits(device.phone.as_deref().unwrap_or(""));
        map.entry((user, phone)).or_default().push(device.id);
    }
    map
}

/// Feeds `input` and then each errors.csv back, `rounds` times, in `on_existing` mode, and
/// checks after every round that each record agrees with the server.
async fn harsh_rounds(on_existing: &str, rounds: usize) {
    let (sandbox, ws) = setup(
        SandboxOptions {
            fail_rate: 0.3,
            ambiguous_rate: 0.1,
            ..SandboxOptions::default()
        },
        ONE_RETRY,
        // The faults are the subject, not messages: the guard's read meets them too.
        &format!("on_existing = \"{on_existing}\"\nallow_messages = true"),
    )
    .await;
    ws.write("in.csv", &sms_rows(500));
    // Device ID -> the round and line that reported it created.
    let mut reported: HashMap<String, (usize, u64)> = HashMap::new();
    let mut input = "in.csv".to_string();
    let mut unconfirmed_at_end = HashSet::new();
    for round in 0..rounds {
        let out = format!("round-{round}");
        let run = enroll_to(&ws, &sandbox, &input, &out, &[]).await;
        assert!([0, 1].contains(&run.code), "{}", run.both());
        let results = read_csv(&ws.path(&out).join("results.csv"));
        let server = server_devices(&sandbox);
        unconfirmed_at_end.clear();
        for row in &results {
            let key = (row["user_id"].clone(), digits(&row["destination"]));
            let on_server = server.get(&key).cloned().unwrap_or_default();
            let code = row["error_code"].as_str();
            match (row["outcome"].as_str(), code) {
                ("created", _) => {
                    assert!(
                        on_server.contains(&row["device_id"]),
                        "round {round}: created row's device is on the server: {row:?}"
                    );
                    let first = reported.insert(row["device_id"].clone(), (round, 0));
                    assert!(first.is_none(), "one device, one created row: {row:?}");
                }
                ("skipped_existing", _) => assert!(on_server.contains(&row["device_id"])),
                ("failed", "UNCONFIRMED") => {
                    unconfirmed_at_end.insert(key);
                }
                ("failed", _) => assert!(
                    on_server.is_empty(),
                    "round {round}: a failed row whose device exists: {row:?}"
                ),
                other => panic!("round {round}: unexpected {other:?}: {row:?}"),
            }
        }
        let errors = ws.path(&out).join("errors.csv");
        if read_csv(&errors).is_empty() {
            break;
        }
        input = format!("{out}/errors.csv");
    }
    // Every device on the server was reported by a row, or is covered by an UNCONFIRMED one.
    for (key, ids) in server_devices(&sandbox) {
        for id in ids {
            assert!(
                reported.contains_key(&id) || unconfirmed_at_end.contains(&key),
                "device {id} of {key:?} is in no record"
            );
        }
    }
    let tally = sandbox.tally();
    assert!(
        tally.ambiguous_failures > 10,
        "the faults did happen: {tally:?}"
    );
    assert_eq!(tally.duplicate_devices, 0, "no device created twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_harsh_faults_every_record_agrees_with_the_server_in_skip_mode() {
    harsh_rounds("skip", 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_harsh_faults_every_record_agrees_with_the_server_in_create_mode() {
    harsh_rounds("create", 6).await;
}

/// Drops rows from results.csv, as if the run had died before writing them: its summary.json
/// then still says the run is under way, as a run that dies leaves it.
fn forget_rows(ws: &Workspace, lines: &[&str]) {
    let path = ws.out().join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !lines.iter().any(|line| l.starts_with(&format!("{line},"))))
        .collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    let mut summary = ws.summary();
    summary["finished"] = serde_json::Value::Bool(false);
    std::fs::write(ws.out().join("summary.json"), summary.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_named_two_ways_is_created_by_one_row_across_a_resume() {
    for (on_existing, second_outcome) in [("skip", "skipped_existing"), ("create", "invalid")] {
        for forgotten in [&["2", "3"][..], &["3"][..]] {
            let (sandbox, ws) = setup(
                SandboxOptions::default(),
                "rate = 1000",
                &format!("on_existing = \"{on_existing}\""),
            )
            .await;
            let id = Directory::open_id_for("jdoe");
            ws.write(
                "in.csv",
                &format!("user_id,username,type,phone\n{id},,SMS,+15125550101\n,jdoe,SMS,+1 512 555 0101\n"),
            );
            let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
            assert!([0, 1].contains(&first.code), "{}", first.both());
            // The run "died" before recording these rows; the device it made stays.
            forget_rows(&ws, forgotten);
            let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
            let why = format!("{on_existing}, forgot {forgotten:?}: {}", resumed.both());
            assert!([0, 1].contains(&resumed.code), "{why}");
            let results = by_line(&ws.results());
            assert_eq!(results[&2]["outcome"], "created", "{why}");
            assert_eq!(results[&3]["outcome"], second_outcome, "{why}");
            if on_existing == "create" {
                assert_eq!(results[&3]["error_code"], "DUPLICATE_ROW", "{why}");
            } else {
                assert_eq!(results[&3]["device_id"], results[&2]["device_id"], "{why}");
            }
            assert_eq!(ws.summary()["outcomes"]["created"], 1, "{why}");
            assert_eq!(sandbox.all_devices().len(), 1, "{why}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_another_target_and_a_directory_with_no_run() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(3));
    let empty = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(empty.code, 2, "{}", empty.both());
    assert!(
        empty.stderr.contains("holds no earlier run"),
        "{}",
        empty.stderr
    );
    assert_eq!(sandbox.tally().requests, 0);

    // Written against the built-in sandbox; resumed against the standing one: refused.
    let in_process = enroll(&ws, &sandbox, "in.csv", &["--sandbox"]).await;
    assert_eq!(in_process.code, 0, "{}", in_process.both());
    assert_eq!(ws.summary()["target"]["kind"], "sandbox");
    let other = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(other.code, 2, "{}", other.both());
    assert!(
        other.stderr.contains("the built-in sandbox"),
        "{}",
        other.stderr
    );
    assert!(
        other.stderr.contains(&sandbox.addr().to_string()),
        "{}",
        other.stderr
    );
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");

    // And the reverse, and another environment at the same host.
    enroll_to(&ws, &sandbox, "in.csv", "real", &[]).await;
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("real/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["target"]["kind"], "pingone");
    assert_eq!(summary["target"]["api_host"], sandbox.addr().to_string());
    let reverse = enroll_to(&ws, &sandbox, "in.csv", "real", &["--resume", "--sandbox"]).await;
    assert_eq!(reverse.code, 2, "{}", reverse.both());
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let environment = sandbox.options().environment_id.clone();
    ws.write(
        "mfa-enroll.toml",
        &config.replace(&environment, "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"),
    );
    let other_env = enroll_to(&ws, &sandbox, "in.csv", "real", &["--resume"]).await;
    assert_eq!(other_env.code, 2, "{}", other_env.both());
    assert!(
        other_env.stderr.contains("6f1c2d3e"),
        "{}",
        other_env.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_row_fed_back_is_checked_first_even_in_create_mode() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "on_existing = \"create\"",
    )
    .await;
    // What an earlier run's unclear POST left behind: the device, and an UNCONFIRMED row.
    let user = user_id(1);
    let existing = mfa_enroll::sandbox::json::Device {
        id: "7d1c0e00-0000-4000-8000-000000000001".into(),
        device_type: "SMS".into(),
        status: Some("ACTIVE".into()),
        phone: Some("+15125550101".into()),
        created_at: Some("2024-01-01T00:00:00.000Z".into()),
        ..Default::default()
    };
    sandbox.seed_device(&user, existing);
    ws.write(
        "errors.csv",
        &format!(
            "user_id,type,phone,line,error_code,error_message\n\
             {user},SMS,+15125550101,2,UNCONFIRMED,unclear\n\
             {},SMS,+15125550102,3,RETRIES_EXHAUSTED,gave up\n",
            user_id(2)
        ),
    );
    let run = enroll(&ws, &sandbox, "errors.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "created");
    assert_eq!(
        results[&2]["device_id"],
        "7d1c0e00-0000-4000-8000-000000000001"
    );
    assert_eq!(results[&2]["attempts"], "0", "nothing was sent for it");
    assert_eq!(results[&3]["outcome"], "created");
    assert_eq!(sandbox.devices_of(&user).len(), 1, "no second device");
    assert_eq!(sandbox.tally().posts, 1, "one POST, for line 3 only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_row_stays_unconfirmed_while_its_devices_cannot_be_read() {
    // Every read fails: the device an earlier round may have made can be neither found nor
    // ruled out, so "failed" would be a claim nobody can make.
    let options = SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    };
    let limits = "rate = 1000\nmax_retries = 1\nbackoff_initial_ms = 5\nbackoff_max_s = 1";
    for mode in ["skip", "create"] {
        let (sandbox, ws) = setup(
            options.clone(),
            limits,
            // The faults are the subject, not messages: the guard's read meets them too.
            &format!("on_existing = \"{mode}\"\nallow_messages = true"),
        )
        .await;
        ws.write(
            "errors.csv",
            &format!(
                "user_id,type,phone,line,error_code,error_message\n{},SMS,+15125550101,2,UNCONFIRMED,unclear\n",
                user_id(1)
            ),
        );
        let run = enroll(&ws, &sandbox, "errors.csv", &[]).await;
        assert_eq!(run.code, 1, "{mode}: {}", run.both());
        let row = &ws.results()[0];
        assert_eq!(row["error_code"], "UNCONFIRMED", "{mode}: {row:?}");
        assert_eq!(sandbox.tally().posts, 0, "{mode}: nothing sent blind");
    }
}
