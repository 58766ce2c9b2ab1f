//! What the logs on standard error say and hide: JSON logs parse line by line (the start,
//! progress, the finish, an event per failed row), and text and JSON logs alike mask the emails
//! and phone numbers that results.csv keeps whole.

use crate::common::*;
use mfa_enroll::sandbox::SandboxOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_mask_emails_and_phones() {
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,email,phone\n{},EMAIL,jane.doe@@example.com,\n{},SMS,,+1 555 0100 999\n",
            user_id(1),
            user_id(2)
        ),
    );
    let run = run_binary(ws.dir.path(), None, &["run", "in.csv", "--dry-run"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(run.stderr.contains("INVALID_EMAIL"), "{}", run.stderr);
    assert!(!run.stderr.contains("jane.doe"), "{}", run.stderr);
    assert!(!run.stderr.contains("555 0100"), "{}", run.stderr);
    assert!(run.stderr.contains("j***@"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_line_by_line_and_mask_personal_data() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let ws = Workspace::new();
    // 70 rows at 10/s: long enough for a progress line (every 5 s).
    ws.config_for(&sandbox, "rate = 10", "on_existing = \"create\"");
    let mut csv = String::from("user_id,type,phone,email\n");
    for i in 0..68 {
        csv.push_str(&format!("{},SMS,{},\n", user_id(i), us_number(i)));
    }
    csv.push_str(&format!("{},EMAIL,,\n", user_id(90))); // line 70
    csv.push_str(&format!("{},SMS,+1 555 0100,\n", user_id(91))); // line 71
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &["--log-format", "json"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let events: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let with_message = |m: &str| {
        events
            .iter()
            .filter(|e| e["message"].as_str().is_some_and(|s| s.starts_with(m)))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(with_message("run started").len(), 1);
    assert!(
        !with_message("progress").is_empty(),
        "a progress line every few seconds"
    );
    let finished = with_message("run finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["exit_code"], 1);
    assert_eq!(finished[0]["created"], 68);
    let failed_rows = with_message("row");
    assert!(failed_rows
        .iter()
        .any(|e| e["line"] == 70 && e["code"] == "MISSING_EMAIL"));
    // Phone numbers appear masked in logs, whole in results.csv.
    let phone = us_number(3);
    assert!(
        !run.stderr.contains(&phone[2..]),
        "a phone number leaked into the logs"
    );
    assert!(!run.stderr.contains("555 0100"));
    assert!(run.stderr.contains("+1******0100") || run.stderr.contains("+1*****0100"));
    let results = std::fs::read_to_string(ws.out().join("results.csv")).unwrap();
    assert!(results.contains(&phone));
}
