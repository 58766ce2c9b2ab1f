//! `merge` verifies what it merges, against the real binary: a shard's results.csv edited
//! after the run (a line number out of the input, a row moved to another shard, an outcome
//! its fields or its kind of run deny, counts its summary.json does not give) is refused with
//! exit 2, naming the shard and the line, and nothing is merged. A device ID claimed by two
//! rows, within a shard or across shards, is refused naming both lines.

use std::path::Path;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Rewrites results.csv in `dir`, row by row, through `change` (the header passes as is).
fn edit_rows(dir: &Path, change: impl Fn(&str) -> Option<String>) {
    let path = dir.join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap().to_string()];
    kept.extend(lines.filter_map(change));
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
}

/// The row of `line` in the shard directory that has it, and that directory's index.
fn find_row(ws: &Workspace, line: u64) -> (usize, String) {
    for shard in 0..2 {
        let text = std::fs::read_to_string(ws.path(&format!("s{shard}/results.csv"))).unwrap();
        if let Some(row) = text.lines().find(|r| r.starts_with(&format!("{line},"))) {
            return (shard, row.to_string());
        }
    }
    panic!("line {line} is in no shard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_rows_a_shard_cannot_have_written_naming_shard_and_line() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    // Line 5 is blank; lines 13 and 14 are invalid.
    let mut input = String::from("user_id,type,phone\n");
    for i in 0..3 {
        input.push_str(&format!("{},SMS,{}\n", user_id(i), us_number(i)));
    }
    input.push('\n');
    for i in 3..10 {
        input.push_str(&format!("{},SMS,{}\n", user_id(i), us_number(i)));
    }
    input.push_str(&format!(
        "{},SMS,+1 555 0100\n{},FAX,+15125550100\n",
        user_id(20),
        user_id(21)
    ));
    ws.write("in.csv", &input);
    for shard in ["0/2", "1/2"] {
        let out = format!("s{}", &shard[..1]);
        let run = enroll_to(&ws, &sandbox, "in.csv", &out, &["--shard", shard]).await;
        assert_eq!(run.code, 1, "{shard}: {}", run.both());
    }
    let whole = run_binary(
        ws.dir.path(),
        None,
        &["merge", "s0", "s1", "--out", "whole"],
    )
    .await;
    assert_eq!(
        whole.code,
        1,
        "the untouched shards merge: {}",
        whole.both()
    );

    let (invalid_shard, invalid_row) = find_row(&ws, 13);
    let (created_shard, created_row) = find_row(&ws, 3);
    let renumber = |row: &str, to: u64| {
        let (_, rest) = row.split_once(',').unwrap();
        format!("{to},{rest}")
    };
    // (what, the shard edited, its row before, after (None: removed), the line named)
    let cases: Vec<(&str, usize, String, Option<String>, u64)> = vec![
        (
            "a line past the input",
            created_shard,
            created_row.clone(),
            Some(renumber(&created_row, 9999)),
            9999,
        ),
        (
            "line 0",
            created_shard,
            created_row.clone(),
            Some(renumber(&created_row, 0)),
            0,
        ),
        (
            "a blank line",
            created_shard,
            created_row.clone(),
            Some(renumber(&created_row, 5)),
            5,
        ),
        (
            "invalid edited to created, no device ID",
            invalid_shard,
            invalid_row.clone(),
            Some(
                invalid_row
                    .replace(",invalid,", ",created,")
                    .replace("INVALID_PHONE", ""),
            ),
            13,
        ),
        (
            "an outcome a live run never writes",
            created_shard,
            created_row.clone(),
            Some(created_row.replace(",created,", ",valid,")),
            3,
        ),
        (
            "a failed row without its code",
            invalid_shard,
            invalid_row.clone(),
            Some(invalid_row.replace("INVALID_PHONE", "")),
            13,
        ),
    ];
    for (number, (case, shard, before, after, line)) in cases.into_iter().enumerate() {
        let dirs = [format!("c{number}-0"), format!("c{number}-1")];
        for (k, dir) in dirs.iter().enumerate() {
            copy_dir(&ws.path(&format!("s{k}")), &ws.path(dir));
        }
        edit_rows(&ws.path(&dirs[shard]), |row| {
            if row == before {
                after.clone()
            } else {
                Some(row.to_string())
            }
        });
        let out = format!("c{number}-merged");
        let merge = run_binary(
            ws.dir.path(),
            None,
            &["merge", &dirs[0], &dirs[1], "--out", &out],
        )
        .await;
        assert_eq!(merge.code, 2, "{case}: {}", merge.both());
        assert!(
            merge.stderr.contains(&format!("(shard {shard}/2)")),
            "{case}: {}",
            merge.stderr
        );
        assert!(
            merge.stderr.contains(&format!("line {line}:")),
            "{case}: {}",
            merge.stderr
        );
        assert!(
            !ws.path(&out).join("results.csv").exists(),
            "{case}: nothing merged"
        );
    }

    // A row moved to the other shard: that shard does not own it.
    let (other, moved) = (1 - created_shard, created_row.clone());
    copy_dir(&ws.path("s0"), &ws.path("m-0"));
    copy_dir(&ws.path("s1"), &ws.path("m-1"));
    edit_rows(&ws.path(&format!("m-{created_shard}")), |row| {
        (row != moved).then(|| row.to_string())
    });
    let path = ws.path(&format!("m-{other}/results.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}{moved}\n")).unwrap();
    let merge = run_binary(ws.dir.path(), None, &["merge", "m-0", "m-1", "--out", "m"]).await;
    assert_eq!(merge.code, 2, "{}", merge.both());
    assert!(
        merge.stderr.contains(&format!("(shard {other}/2)")),
        "{}",
        merge.stderr
    );
    assert!(
        merge.stderr.contains("line 3: the row is another shard's"),
        "{}",
        merge.stderr
    );

    // A row dropped: the shard's summary counts one more than its results.csv holds.
    copy_dir(&ws.path("s0"), &ws.path("d-0"));
    copy_dir(&ws.path("s1"), &ws.path("d-1"));
    edit_rows(&ws.path(&format!("d-{created_shard}")), |row| {
        (row != created_row).then(|| row.to_string())
    });
    let merge = run_binary(ws.dir.path(), None, &["merge", "d-0", "d-1", "--out", "d"]).await;
    assert_eq!(merge.code, 2, "{}", merge.both());
    assert!(
        merge
            .stderr
            .contains(&format!("(shard {created_shard}/2): summary.json counts")),
        "{}",
        merge.stderr
    );
    assert_eq!(
        merge.stderr.matches("nothing was merged").count(),
        1,
        "{}",
        merge.stderr
    );
}

/// The created rows of a shard's results.csv: (line, device ID).
fn created_rows(dir: &Path) -> Vec<(u64, String)> {
    read_csv(&dir.join("results.csv"))
        .into_iter()
        .filter(|row| row["outcome"] == "created")
        .map(|row| (row["line"].parse().unwrap(), row["device_id"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_a_device_claimed_by_two_rows_naming_both_lines() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(24));
    sandbox_shards(&ws, "in.csv", "s", 2).await;
    let whole = run_binary(
        ws.dir.path(),
        None,
        &["merge", "s0", "s1", "--out", "whole"],
    )
    .await;
    assert_eq!(
        whole.code,
        0,
        "the untouched shards merge: {}",
        whole.both()
    );
    let (zero, one) = (created_rows(&ws.path("s0")), created_rows(&ws.path("s1")));
    assert!(zero.len() >= 2 && !one.is_empty(), "{zero:?} {one:?}");
    // (case, the shard edited, the device ID taken over, the row that takes it, the first line)
    let cases = [
        ("within a shard", 0, &zero[1].1, &zero[0], zero[1].0),
        ("across shards", 1, &zero[0].1, &one[0], zero[0].0),
    ];
    for (number, (case, shard, claimed, (line, own_id), first)) in cases.into_iter().enumerate() {
        let dirs = [format!("c{number}-0"), format!("c{number}-1")];
        for (k, dir) in dirs.iter().enumerate() {
            copy_dir(&ws.path(&format!("s{k}")), &ws.path(dir));
        }
        edit_rows(&ws.path(&dirs[shard]), |row| {
            Some(row.replace(own_id.as_str(), claimed))
        });
        let out = format!("c{number}-merged");
        let merge = run_binary(
            ws.dir.path(),
            None,
            &["merge", &dirs[0], &dirs[1], "--out", &out],
        )
        .await;
        assert_eq!(merge.code, 2, "{case}: {}", merge.both());
        // Both lines named, each with its shard's directory.
        let names = |l: u64| merge.stderr.contains(&format!("line {l} ("));
        assert!(
            merge
                .stderr
                .contains(&format!("device {claimed} is claimed by line"))
                && names(first)
                && names(*line),
            "{case}: {}",
            merge.stderr
        );
        assert!(
            !ws.path(&out).join("results.csv").exists(),
            "{case}: nothing merged"
        );
    }
}
