//! Line endings, against the real binary and the sandbox: LF, CR LF, a CR alone (older
//! spreadsheet exports) and mixtures give every record its own line, so resume, errors.csv
//! fed back and merging shards work on any of them; a line ending of the wrong kind inside a
//! record never lets a part of that record be sent on its own.

use std::collections::HashMap;

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// `sms_rows(n)` with each line ended by `eol(i)` (the header is line 0).
fn sms_rows_ending(n: usize, eol: Ending) -> String {
    sms_rows(n)
        .lines()
        .enumerate()
        .map(|(i, line)| format!("{line}{}", eol(i)))
        .collect()
}

/// Which line ending ends line `i` of a file (the header is 0).
type Ending = fn(usize) -> &'static str;

fn lines_of(rows: &[HashMap<String, String>]) -> Vec<u64> {
    let mut lines: Vec<u64> = rows.iter().map(|r| r["line"].parse().unwrap()).collect();
    lines.sort_unstable();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_has_its_own_line_whatever_the_line_endings() {
    let endings: [(&str, Ending); 4] = [
        ("LF", |_| "\n"),
        ("CR LF", |_| "\r\n"),
        ("CR alone", |_| "\r"),
        (
            "mixed LF and CR LF",
            |i| if i % 3 == 1 { "\n" } else { "\r\n" },
        ),
    ];
    for (name, eol) in endings {
        let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
        ws.write("in.csv", &sms_rows_ending(30, eol));
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 0, "{name}: {}", run.both());
        let results = ws.results();
        assert_eq!(lines_of(&results), (2..=31).collect::<Vec<_>>(), "{name}");
        for row in &results {
            // Line L names the row the file has on line L: user L - 2.
            let line: usize = row["line"].parse().unwrap();
            assert_eq!(row["user_id"], user_id(line - 2), "{name}: {row:?}");
        }
        assert_eq!(sandbox.all_devices().len(), 30, "{name}");
    }
}

/// Stops a rate-limited run of `input` after some rows, then resumes it to the end.
async fn interrupt_and_resume(ws: &Workspace, sandbox: &Sandbox, input: &str, rows: usize) {
    let child = spawn_enroll(ws, sandbox, input);
    wait_for_rows(&ws.out(), 15).await;
    send_signal(&child, "INT");
    assert_eq!(finish(child).await.code, 3);
    let resumed = enroll(ws, sandbox, input, &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let results = ws.results();
    assert_eq!(
        lines_of(&results),
        (2..=rows as u64 + 1).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| r["outcome"] == "created"));
    assert!(ws.errors().is_empty());
    assert_eq!(sandbox.all_devices().len(), rows, "each device once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_cr_file_resumes_and_its_shards_merge() {
    let rows = 120;
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 60\nconcurrency = 4", "").await;
    ws.write("in.csv", &sms_rows_ending(rows, |_| "\r"));
    interrupt_and_resume(&ws, &sandbox, "in.csv", rows).await;

    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    ws.write("in.csv", &sms_rows_ending(rows, |_| "\r"));
    for shard in ["0/2", "1/2"] {
        let out = format!("s{}", &shard[..1]);
        let run = enroll_to(&ws, &sandbox, "in.csv", &out, &["--shard", shard]).await;
        assert_eq!(run.code, 0, "{shard}: {}", run.both());
    }
    let merge = run_binary(
        ws.dir.path(),
        None,
        &["merge", "s0", "s1", "--out", "merged"],
    )
    .await;
    assert_eq!(merge.code, 0, "{}", merge.both());
    let merged = read_csv(&ws.path("merged/results.csv"));
    assert_eq!(
        merged
            .iter()
            .map(|r| r["line"].parse().unwrap())
            .collect::<Vec<u64>>(),
        (2..=rows as u64 + 1).collect::<Vec<_>>(),
        "every line once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_line_ending_keeps_its_record_whole_and_unsent() {
    // (file's line ending, the stray one, its name in the message)
    for (eol, stray, lone) in [("\n", "\r", "carriage return"), ("\r", "\n", "line feed")] {
        let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
        // Line 3's nickname holds the stray: its first part alone would be a valid row.
        let input = [
            "user_id,type,phone,nickname".to_string(),
            format!("{},SMS,{},Ann", user_id(0), us_number(0)),
            format!("{},SMS,{},Jo{stray}hn", user_id(1), us_number(1)),
            format!("{},SMS,{},Bob", user_id(2), us_number(2)),
            String::new(),
        ]
        .join(eol);
        ws.write("in.csv", &input);
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 1, "{lone}: {}", run.both());
        let results = by_line(&ws.results());
        assert_eq!(results.len(), 3, "{lone}: {results:?}");
        let split = &results[&3];
        assert_eq!(split["outcome"], "invalid", "{lone}: {split:?}");
        assert_eq!(split["error_code"], "STRAY_LINE_BREAK");
        assert!(
            split["error_message"].contains(&format!("line 3 ends with a {lone}")),
            "{split:?}"
        );
        // The stray ended line 3, so the next record starts on line 5.
        assert_eq!(results[&5]["outcome"], "created", "{lone}: {results:?}");
        assert!(
            sandbox.devices_of(&user_id(1)).is_empty(),
            "{lone}: no part of line 3 was sent"
        );
        assert_eq!(sandbox.tally().posts, 2, "{lone}");

        // errors.csv carries the record whole; with the break removed it goes through.
        let errors = ws.errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["nickname"], format!("Jo{stray}hn"));
        let fixed = std::fs::read_to_string(ws.out().join("errors.csv"))
            .unwrap()
            .replace(&format!("\"Jo{stray}hn\""), "John");
        ws.write("fixed.csv", &fixed);
        let again = enroll_to(&ws, &sandbox, "fixed.csv", "again", &[]).await;
        assert_eq!(again.code, 0, "{lone}: {}", again.both());
        let devices = sandbox.devices_of(&user_id(1));
        assert_eq!(devices.len(), 1, "{lone}");
        assert_eq!(devices[0].nickname.as_deref(), Some("John"));
    }
}
