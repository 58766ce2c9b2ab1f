//! A stop in the middle of a large file still gives every record its row: the rows the run
//! never reached are recorded `NOT_ATTEMPTED`, results.csv is in line order, and errors.csv
//! holds those rows with their values, so --resume and feeding errors.csv back both work.
//! How long the stop takes is the bench's figure (`cargo bench --bench throughput -- --case
//! sigint`), never a test's.

use std::collections::HashMap;
use std::time::Duration;

use mfa_enroll_test_support::*;

/// Large enough that a stop leaves most of the file unreached, in a debug build too.
const ROWS: usize = 60_000;

fn lines_of(rows: &[HashMap<String, String>]) -> Vec<u64> {
    rows.iter()
        .map(|row| row["line"].parse().expect("a line number"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_mid_file_records_every_row_in_line_order() {
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    ws.write("users.csv", &sms_rows(ROWS));
    for (out, mode) in [("out-dry", "offline dry run"), ("out-live", "live run")] {
        let extra: &[&str] = if out == "out-dry" {
            &["--sandbox", "--quiet", "--dry-run"]
        } else {
            &["--sandbox", "--quiet"]
        };
        let args = enroll_args("users.csv", out, extra);
        let child = spawn_binary(ws.dir.path(), "unused", &args);
        // Into stage 3, a few rows recorded (the survey of a debug build on a busy machine
        // may take minutes): the rest are the rows the stop leaves unreached.
        let results = ws.path(out).join("results.csv");
        for _ in 0..6000 {
            if std::fs::metadata(&results).is_ok_and(|m| m.len() > 4096) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        send_signal(&child, "INT");
        let run = must_end(child, Duration::from_secs(600)).await;
        assert_eq!(run.code, 3, "{mode}: {}", run.both());

        let results = read_csv(&ws.path(out).join("results.csv"));
        let every_line: Vec<u64> = (2..ROWS as u64 + 2).collect();
        assert!(
            lines_of(&results) == every_line,
            "{mode}: {} rows for {ROWS} records, or not in line order",
            results.len()
        );
        // A request in flight past the stop's 1 s is UNCONFIRMED (the contract); none other.
        let stopped = |row: &HashMap<String, String>| {
            matches!(row["error_code"].as_str(), "NOT_ATTEMPTED" | "UNCONFIRMED")
        };
        let unreached: Vec<HashMap<String, String>> =
            results.iter().filter(|row| stopped(row)).cloned().collect();
        assert!(
            unreached.len() > ROWS / 2,
            "{mode}: the stop came early, yet only {} rows are NOT_ATTEMPTED",
            unreached.len()
        );
        for row in &results {
            let line: usize = row["line"].parse().unwrap();
            let done = matches!(row["outcome"].as_str(), "valid" | "created");
            assert!(done || stopped(row), "{mode}: line {line}: {row:?}");
            assert_eq!(row["user_id"], user_id(line - 2), "{mode}: line {line}");
            assert_eq!(row["type"], "SMS", "{mode}: line {line}");
            if row["error_code"] == "NOT_ATTEMPTED" {
                assert_eq!(row["attempts"], "0", "{mode}: line {line}");
            }
        }

        // errors.csv: exactly the rows that need another run, each with the input's own
        // values: the unreached ones, and a created row whose user the stop left switched off
        // (`--sandbox` switches users on once their device exists; the PUT had not gone out).
        let needs_another_run =
            |row: &HashMap<String, String>| stopped(row) || row["error_code"] == "MFA_NOT_ENABLED";
        let expected: Vec<HashMap<String, String>> = results
            .iter()
            .filter(|row| needs_another_run(row))
            .cloned()
            .collect();
        let errors = read_csv(&ws.path(out).join("errors.csv"));
        assert_eq!(
            lines_of(&errors),
            lines_of(&expected),
            "{mode}: errors.csv holds the rows that need another run, in line order"
        );
        for row in &errors {
            let line: usize = row["line"].parse().unwrap();
            assert_eq!(row["user_id"], user_id(line - 2), "{mode}: line {line}");
            assert_eq!(row["phone"], us_number(line - 2), "{mode}: line {line}");
            assert!(needs_another_run(row), "{mode}: line {line}: {row:?}");
        }
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(ws.path(out).join("summary.json")).expect("summary.json"),
        )
        .expect("it parses");
        assert_eq!(summary["stopped_early"]["code"], "INTERRUPTED", "{mode}");
    }
}
