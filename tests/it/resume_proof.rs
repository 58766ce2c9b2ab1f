//! `--resume` continues only what it can show to be an earlier run of this input, target and
//! shard, against the real binary: a summary.json missing, unreadable, of another input,
//! target or shard, or disagreeing with results.csv is refused with exit 2, nothing sent and
//! nothing in the directory changed.

use std::collections::BTreeMap;
use std::path::Path;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            (name, bytes)
        })
        .collect()
}

/// Rewrites `dir`'s summary.json through `change`.
fn edit_summary(dir: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut summary);
    std::fs::write(&path, summary.to_string()).unwrap();
}

/// Rewrites `dir`'s results.csv, line by line, through `change`.
fn edit_results(dir: &Path, change: impl Fn(&str) -> Option<String>) {
    let path = dir.join("results.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<String> = text.lines().filter_map(&change).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// A run's row for `line` with its line number replaced.
fn renumber(from: u64, to: u64) -> impl Fn(&str) -> Option<String> {
    move |row: &str| match row.strip_prefix(&format!("{from},")) {
        Some(rest) => Some(format!("{to},{rest}")),
        None => Some(row.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_what_it_cannot_prove_and_changes_nothing() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    // Line 4 is blank: no record starts there. Line 7 is invalid, so the run ends with 1.
    let input = format!(
        "user_id,type,phone\n{}\n{}\n\n{}\n{}\n{},SMS,+1 555 0100\n",
        format_args!("{},SMS,{}", user_id(0), us_number(0)),
        format_args!("{},SMS,{}", user_id(1), us_number(1)),
        format_args!("{},SMS,{}", user_id(2), us_number(2)),
        format_args!("{},SMS,{}", user_id(3), us_number(3)),
        user_id(4),
    );
    ws.write("in.csv", &input);
    // Another input with as many rows and the same outcomes.
    ws.write("other.csv", &input.replace(&us_number(0), &us_number(9)));
    assert_eq!(
        enroll_to(&ws, &sandbox, "in.csv", "base", &[]).await.code,
        1
    );
    assert_eq!(
        enroll_to(&ws, &sandbox, "other.csv", "other", &[])
            .await
            .code,
        1
    );
    let sandboxed = enroll_to(&ws, &sandbox, "in.csv", "sandboxed", &["--sandbox"]).await;
    assert_eq!(sandboxed.code, 1, "{}", sandboxed.both());
    let sharded = enroll_to(&ws, &sandbox, "in.csv", "sharded", &["--shard", "0/1"]).await;
    assert_eq!(sharded.code, 1, "{}", sharded.both());
    let summary_of = |dir: &str| std::fs::read(ws.path(dir).join("summary.json")).unwrap();

    type Break<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, &str, Break)> = vec![
        (
            "no summary.json, another input",
            "other.csv",
            Box::new(|d: &Path| std::fs::remove_file(d.join("summary.json")).unwrap()),
        ),
        (
            "summary.json is not JSON",
            "in.csv",
            Box::new(|d: &Path| std::fs::write(d.join("summary.json"), "{\"rows\": 5,").unwrap()),
        ),
        (
            "summary.json cannot be read",
            "in.csv",
            Box::new(|d: &Path| {
                std::fs::remove_file(d.join("summary.json")).unwrap();
                std::fs::create_dir(d.join("summary.json")).unwrap();
            }),
        ),
        (
            "another input's summary",
            "in.csv",
            Box::new(|d: &Path| {
                std::fs::write(d.join("summary.json"), summary_of("other")).unwrap()
            }),
        ),
        (
            "another target's summary",
            "in.csv",
            Box::new(|d: &Path| {
                std::fs::write(d.join("summary.json"), summary_of("sandboxed")).unwrap()
            }),
        ),
        (
            "another shard's summary",
            "in.csv",
            Box::new(|d: &Path| {
                std::fs::write(d.join("summary.json"), summary_of("sharded")).unwrap()
            }),
        ),
        (
            "a summary with no target",
            "in.csv",
            Box::new(|d: &Path| {
                edit_summary(d, |s| {
                    s.as_object_mut()
                        .unwrap()
                        .remove("target")
                        .map(drop)
                        .unwrap()
                })
            }),
        ),
        (
            "a row more than the summary counts",
            "in.csv",
            Box::new(|d: &Path| {
                edit_results(d, |row| Some(row.to_string()));
                let text = std::fs::read_to_string(d.join("results.csv")).unwrap();
                let last = text.lines().last().unwrap().to_string();
                std::fs::write(d.join("results.csv"), format!("{text}{last}\n")).unwrap();
            }),
        ),
        (
            "a row fewer than the summary counts",
            "in.csv",
            Box::new(|d: &Path| {
                edit_results(d, |row| (!row.starts_with("3,")).then(|| row.to_string()))
            }),
        ),
        (
            "a failed row edited to created",
            "in.csv",
            Box::new(|d: &Path| edit_results(d, |row| Some(row.replace(",invalid,", ",created,")))),
        ),
        (
            "a line the input does not have",
            "in.csv",
            Box::new(|d: &Path| edit_results(d, renumber(3, 9999))),
        ),
        (
            "line 0",
            "in.csv",
            Box::new(|d: &Path| edit_results(d, renumber(2, 0))),
        ),
        (
            "a blank line's number",
            "in.csv",
            Box::new(|d: &Path| edit_results(d, renumber(3, 4))),
        ),
        (
            "a summary whose run never wrote a results.csv",
            "in.csv",
            Box::new(|d: &Path| std::fs::remove_file(d.join("results.csv")).unwrap()),
        ),
        (
            "summary.json past its ceiling",
            "in.csv",
            Box::new(|d: &Path| {
                let file = std::fs::File::create(d.join("summary.json")).unwrap();
                file.set_len(65 * 1024 * 1024).unwrap();
            }),
        ),
        (
            "a results.csv row longer than any run writes",
            "in.csv",
            Box::new(|d: &Path| {
                // Line 2's row again, its user ID 5 MiB long, after a run that died.
                let path = d.join("results.csv");
                let mut text = std::fs::read_to_string(&path).unwrap();
                let row = text
                    .lines()
                    .find(|r| r.starts_with("2,"))
                    .unwrap()
                    .to_string();
                let long = row.replace(&user_id(0), &"x".repeat(5 * 1024 * 1024));
                text.push_str(&format!("{long}\n"));
                std::fs::write(&path, text).unwrap();
                edit_summary(d, |s| s["finished"] = serde_json::Value::Bool(false));
            }),
        ),
        (
            "results.csv beside a summary of a run that stopped while reading",
            "in.csv",
            Box::new(|d: &Path| {
                edit_summary(d, |s| s["input"]["sha256"] = serde_json::Value::Null)
            }),
        ),
    ];
    for (number, (case, input, break_it)) in cases.iter().enumerate() {
        let dir = ws.path(&format!("case-{number}"));
        copy_dir(&ws.path("base"), &dir);
        break_it(&dir);
        let before = snapshot(&dir);
        let requests = sandbox.tally().requests;
        let out = format!("case-{number}");
        let run = enroll_to(&ws, &sandbox, input, &out, &["--resume"]).await;
        assert_eq!(run.code, 2, "{case}: {}", run.both());
        assert!(
            run.stderr.contains("nothing was sent"),
            "{case}: {}",
            run.stderr
        );
        assert_eq!(sandbox.tally().requests, requests, "{case}: nothing sent");
        assert_eq!(snapshot(&dir), before, "{case}: the directory is as it was");
    }

    // The untouched record resumes, and its lock file is gone again.
    let resumed = enroll_to(&ws, &sandbox, "in.csv", "base", &["--resume"]).await;
    assert_eq!(resumed.code, 1, "{}", resumed.both());
    let summary = std::fs::read_to_string(ws.path("base/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["resumed_rows"], 4);
    assert!(!ws.path("base/.mfa-enroll.lock").exists());
}
