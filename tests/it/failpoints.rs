//! The failure paths hit on purpose, not by a SIGKILL's timing: the real binary runs with
//! `FAILPOINTS=name=action` in its environment (src/failpoints.rs lists the points; a test
//! build carries them) and dies, panics or fails exactly where the test says. Each test then
//! judges the files and what the sandbox received, and most run again to show the
//! directory is left resumable (or the merge redoable).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// `run in.csv --config mfa-enroll.toml --out out` plus `extra`, with `failpoints` set.
async fn enroll_failing(
    ws: &Workspace,
    sandbox: &Sandbox,
    failpoints: &str,
    extra: &[&str],
) -> Run {
    let secret = sandbox.options().client_secret.expose().to_string();
    let mut command = launch_command(ws.dir.path(), &enroll_args("in.csv", "out", extra));
    command
        .env("PINGONE_CLIENT_SECRET", secret)
        .env("FAILPOINTS", failpoints);
    must_end(
        command.spawn().expect("the binary starts"),
        Duration::from_secs(300),
    )
    .await
}

/// Any command of the binary in `dir` with `failpoints` set and no secret.
async fn run_failing(dir: &Path, failpoints: &str, args: &[&str]) -> Run {
    let mut command = launch_command(dir, args);
    command.env("FAILPOINTS", failpoints);
    must_end(
        command.spawn().expect("the binary starts"),
        Duration::from_secs(300),
    )
    .await
}

/// The run died where the failpoint said, as a crash does (no exit code of its own).
fn assert_crashed_at(run: &Run, point: &str) {
    assert!(
        run.stderr
            .contains(&format!("failpoint {point}: the process dies here")),
        "the failpoint {point} was hit: {}",
        run.both()
    );
    assert!(
        ![0, 1, 2, 3].contains(&run.code),
        "a crash, not an exit: {}",
        run.code
    );
}

/// A sandbox, and a workspace whose run sends one request at a time, with `rows` SMS rows.
async fn one_at_a_time(rows: usize) -> (Sandbox, Workspace) {
    let limits = "rate = 1000\nconcurrency = 1";
    let (sandbox, ws) = setup(SandboxOptions::default(), limits, "").await;
    ws.write("in.csv", &sms_rows(rows));
    (sandbox, ws)
}

/// `--resume` of the run in `ws` ends with exit 0, every one of its `rows` created, and
/// as many devices on the sandbox, none twice.
async fn resume_creates_every_row(ws: &Workspace, sandbox: &Sandbox, rows: usize) {
    let resumed = enroll(ws, sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(outcomes(ws)["created"], rows);
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, rows as u64, "{tally:?}");
    assert_eq!(tally.duplicate_devices, 0);
}

fn outcomes(ws: &Workspace) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for row in ws.results() {
        *counts.entry(row["outcome"].clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_a_post_answer_leaves_the_device_to_the_rows_resume() {
    let (sandbox, ws) = one_at_a_time(5).await;
    // The third POST is answered 201, then the process dies before the row is recorded.
    // Rows take their turns in no fixed order, and the writer records rows in batches, so
    // an earlier answered row may be unrecorded too: the rows are found from what was left.
    let crashed = enroll_failing(&ws, &sandbox, "post-answered=2*off->return", &[]).await;
    assert_crashed_at(&crashed, "post-answered");
    assert_eq!(sandbox.tally().devices_created, 3);
    let recorded: Vec<String> = ws.results().iter().map(|r| r["user_id"].clone()).collect();
    let unrecorded: Vec<usize> = (0..5)
        .filter(|i| sandbox.devices_of(&user_id(*i)).len() == 1)
        .filter(|i| !recorded.contains(&user_id(*i)))
        .collect();
    assert!(
        !unrecorded.is_empty(),
        "a device exists whose row does not: recorded {recorded:?}"
    );

    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let results = by_line(&ws.results());
    assert_eq!(results.len(), 5);
    assert!(
        results.values().all(|r| r["outcome"] == "created"),
        "{results:?}"
    );
    // sms_rows puts user i on line i + 2.
    for lost in unrecorded {
        assert_eq!(
            results[&(lost as u64 + 2)]["device_id"],
            sandbox.devices_of(&user_id(lost))[0].id,
            "the row names the device the crashed run made"
        );
    }
    let tally = sandbox.tally();
    assert_eq!(
        tally.devices_created, 5,
        "no second device for the lost row: {tally:?}"
    );
    assert_eq!(tally.duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_rows_and_the_summary_resumes_without_sending_again() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(6));
    let crashed = enroll_failing(&ws, &sandbox, "before-final-summary=return", &[]).await;
    assert_crashed_at(&crashed, "before-final-summary");
    assert_eq!(ws.results().len(), 6, "every row reached results.csv");
    assert_eq!(
        ws.summary()["finished"],
        false,
        "summary.json still says unfinished"
    );
    let posts = sandbox.tally().posts;

    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_eq!(sandbox.tally().posts, posts, "nothing sent twice");
    let summary = ws.summary();
    assert_eq!(summary["finished"], true);
    assert_eq!(summary["rows"], 6);
    assert_eq!(summary["outcomes"]["created"], 6);
    assert_eq!(summary["resumed_rows"], 6);
    assert_eq!(outcomes(&ws)["created"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_results_write_stops_output_broken_with_summary_and_results_agreeing() {
    let (sandbox, ws) = one_at_a_time(10).await;
    // The writer's third write to a file fails, as on a full disk (the first two are the
    // headers): a batch of rows is cut back, and nothing more is written.
    let broken = enroll_failing(&ws, &sandbox, "results-write=2*off->return", &[]).await;
    assert_eq!(broken.code, 3, "{}", broken.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "OUTPUT_BROKEN",
        "{summary}"
    );
    let results = ws.results();
    assert!(results.len() < 10, "the failed batch is not in results.csv");
    assert_eq!(
        summary["rows"],
        results.len(),
        "summary.json counts what results.csv holds"
    );
    let created = outcomes(&ws).get("created").copied().unwrap_or(0);
    assert_eq!(
        summary["outcomes"]["created"].as_u64().unwrap_or(0) as usize,
        created
    );

    resume_creates_every_row(&ws, &sandbox, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_that_dies_between_its_renames_is_done_again() {
    let ws = Workspace::new();
    let mut csv = sms_rows(40);
    csv.push_str("not-a-uuid,SMS,+15125550100\n");
    ws.write("in.csv", &csv);
    for k in 0..2 {
        let (shard, out) = (format!("{k}/2"), format!("s{k}"));
        let args = [
            "run",
            "in.csv",
            "--dry-run",
            "--shard",
            &shard,
            "--out",
            &out,
        ];
        let run = run_binary(ws.dir.path(), None, &args).await;
        assert_eq!(run.code, 1, "{}", run.both());
    }
    let merge = ["merge", "s0", "s1", "--out", "m"];
    // errors.csv is in place, results.csv not yet.
    let crashed = run_failing(ws.dir.path(), "merge-renames=return", &merge).await;
    assert_crashed_at(&crashed, "merge-renames");
    assert!(ws.path("m/errors.csv").exists() && !ws.path("m/results.csv").exists());

    let again = run_binary(ws.dir.path(), None, &merge).await;
    assert_eq!(again.code, 1, "{}", again.both());
    let clean = run_binary(
        ws.dir.path(),
        None,
        &["merge", "s0", "s1", "--out", "clean"],
    )
    .await;
    assert_eq!(clean.code, 1, "{}", clean.both());
    for file in ["results.csv", "errors.csv"] {
        let merged = read_csv(&ws.path(&format!("m/{file}")));
        assert_eq!(
            merged,
            read_csv(&ws.path(&format!("clean/{file}"))),
            "{file}"
        );
    }
    assert_eq!(read_csv(&ws.path("m/results.csv")).len(), 41);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("m/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rows"], 41);
    assert!(!ws.path("m/.merge-unfinished").exists());
    // A finished merge is still never overwritten.
    let third = run_binary(ws.dir.path(), None, &merge).await;
    assert_eq!(third.code, 2, "{}", third.both());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_on_one_row_records_internal_error_and_resume_finishes_it() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(8));
    let run = enroll_failing(&ws, &sandbox, "row-work=return(4)", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results.len(), 8);
    assert_eq!(results[&4]["outcome"], "failed");
    assert_eq!(results[&4]["error_code"], "INTERNAL_ERROR");
    for line in (2..=9).filter(|&l| l != 4) {
        assert_eq!(results[&line]["outcome"], "created", "line {line}");
    }
    assert_eq!(ws.summary()["error_codes"]["INTERNAL_ERROR"]["rows"], 1);
    assert_eq!(ws.errors().len(), 1);
    assert_eq!(sandbox.tally().devices_created, 7);

    resume_creates_every_row(&ws, &sandbox, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_stops_being_trusted_fails_rows_connection_failed() {
    let (sandbox, ws) = one_at_a_time(6).await;
    // Trusted when the token was fetched (before any row), then not.
    let run = enroll_failing(&ws, &sandbox, "certificate-check=return", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results.len(), 6);
    for (line, row) in &results {
        assert_eq!(row["outcome"], "failed", "line {line}");
        assert_eq!(row["error_code"], "CONNECTION_FAILED", "line {line}");
        assert!(
            ["0", "1"].contains(&row["attempts"].as_str()),
            "an untrusted certificate is not retried"
        );
    }
    assert_eq!(ws.summary()["error_codes"]["CONNECTION_FAILED"]["rows"], 6);
    let tally = sandbox.tally();
    assert_eq!(tally.token_requests, 1, "{tally:?}");
    assert_eq!(
        tally.requests, 0,
        "nothing reached the server once untrusted"
    );

    resume_creates_every_row(&ws, &sandbox, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_username_look_up_leaves_the_shard_owner_unknown_and_resumable() {
    // Users named by ID and by username in one file: a username row's shard is decided by
    // the user ID PingOne resolves it to, so a failed look-up leaves it undecided.
    let mut csv = String::from("user_id,username,type,phone\n");
    for i in 0..12 {
        let name = format!("user{i}");
        if i % 2 == 0 {
            csv.push_str(&format!(
                "{},,SMS,{}\n",
                Directory::open_id_for(&name),
                us_number(i)
            ));
        } else {
            csv.push_str(&format!(",{name},SMS,{}\n", us_number(i)));
        }
    }
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000\nbackoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 2",
        "",
    )
    .await;
    ws.write("in.csv", &csv);
    let stopped = enroll_failing(
        &ws,
        &sandbox,
        "username-lookup=return(user5)",
        &["--shard", "0/2"],
    )
    .await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "SHARD_OWNER_UNKNOWN",
        "{summary}"
    );
    assert!(
        summary["stopped_early"]["reason"]
            .as_str()
            .is_some_and(|m| m.contains("line 7")),
        "{summary}"
    );

    let resumed = enroll(&ws, &sandbox, "in.csv", &["--shard", "0/2", "--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let other = enroll_to(&ws, &sandbox, "in.csv", "other", &["--shard", "1/2"]).await;
    assert_eq!(other.code, 0, "{}", other.both());
    let mut lines: Vec<u64> = [ws.results(), read_csv(&ws.path("other/results.csv"))]
        .concat()
        .iter()
        .map(|r| r["line"].parse().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        (2..=13).collect::<Vec<u64>>(),
        "every line in one shard"
    );
    assert_eq!(sandbox.tally().devices_created, 12);
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_renewal_stops_the_run_and_resume_finishes() {
    let options = SandboxOptions {
        token_ttl: Duration::from_secs(2),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 15", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(40));
    let stopped = enroll_failing(&ws, &sandbox, "token-renewal=return(refused)", &[]).await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "CREDENTIALS_REFUSED",
        "{summary}"
    );
    let created = outcomes(&ws).get("created").copied().unwrap_or(0);
    assert!(
        created > 0 && created < 40,
        "stopped at the renewal: {created}"
    );
    assert_eq!(sandbox.tally().devices_created as usize, created);

    resume_creates_every_row(&ws, &sandbox, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_or_a_crash_in_the_duplicate_check_spill_leaves_a_clean_rerun() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(5));
    let full = enroll_failing(&ws, &sandbox, "spill-write=return", &[]).await;
    assert_eq!(full.code, 2, "{}", full.both());
    assert!(full.stderr.contains("no storage space"), "{}", full.stderr);
    let crashed = enroll_failing(&ws, &sandbox, "spill-crash=return", &[]).await;
    assert_crashed_at(&crashed, "spill-crash");
    assert_eq!(
        sandbox.tally().posts,
        0,
        "nothing sent before the survey finished"
    );

    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(outcomes(&ws)["created"], 5);
    let leftovers: Vec<String> = std::fs::read_dir(ws.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".repeats"))
        .collect();
    assert!(leftovers.is_empty(), "the spill is gone: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_that_breaks_mid_read_stops_input_broken_and_resume_finishes() {
    let (sandbox, ws) = one_at_a_time(8).await;
    // The read of line 6 fails: lines 2 to 5 were read and go; the rest cannot be.
    let run = enroll_failing(&ws, &sandbox, "spool-read=return(6)", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(
        run.stderr
            .contains("line 6: the file could not be read past this point"),
        "{}",
        run.both()
    );
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "INPUT_BROKEN");
    let results = by_line(&ws.results());
    assert_eq!(results.len(), 8, "every row has its record");
    // The stop keeps the rows read but not yet sent from going.
    for line in 2..=5 {
        let row = &results[&line];
        assert!(
            row["outcome"] == "created" || row["error_code"] == "NOT_ATTEMPTED",
            "line {line}: {row:?}"
        );
    }
    for line in 6..=9 {
        let row = &results[&line];
        assert_eq!(row["error_code"], "NOT_ATTEMPTED", "line {line}");
        assert!(
            row["error_message"].contains("could not be read"),
            "{row:?}"
        );
    }
    let created = outcomes(&ws).get("created").copied().unwrap_or(0);
    assert_eq!(sandbox.tally().devices_created, created as u64);

    resume_creates_every_row(&ws, &sandbox, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_renewal_that_gets_no_answer_is_retried_and_the_run_goes_on() {
    let options = SandboxOptions {
        token_ttl: Duration::from_secs(2),
        ..SandboxOptions::default()
    };
    let limits = format!("rate = 15\n{FAST_RETRIES}");
    let (sandbox, ws) = setup(options, &limits, "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(40));
    // The first renewal gets no answer; the next one is answered.
    let run = enroll_failing(&ws, &sandbox, "token-renewal=1*return->off", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    // The request that needed the token waited out a backoff and went again.
    assert_eq!(ws.summary()["requests"]["retries"], 1, "{}", run.both());
    assert_eq!(outcomes(&ws)["created"], 40);
    let tally = sandbox.tally();
    assert!(tally.token_requests >= 2, "renewed after all: {tally:?}");
    assert_eq!(tally.devices_created, 40);
    assert_eq!(tally.duplicate_devices, 0);
}
