//! What the logs on standard error say and hide: JSON logs parse line by line (the start,
//! progress, the finish, an event per failed row), and text and JSON logs alike mask the emails
//! and phone numbers that results.csv keeps whole.

use mfa_enroll_test_support::*;
use std::time::Duration;

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

/// Every window of `width` digits of `number`'s national digits.
fn national_windows(number: &str, width: usize) -> Vec<String> {
    let digits: String = number
        .chars()
        .filter(char::is_ascii_digit)
        .skip(1)
        .collect();
    (0..=digits.len() - width)
        .map(|i| digits[i..i + width].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_show_a_phone_number_whoever_writes_them() {
    // libphonenumber logs the national digits it parses, at trace.
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let numbers = ["+1 (512) 873-4096", "+15129361702", "1-512-648-2957"];
    let mut csv = String::from("user_id,type,phone\n");
    for (i, number) in numbers.iter().enumerate() {
        csv.push_str(&format!("{},SMS,\"{number}\"\n", user_id(i)));
    }
    ws.write("in.csv", &csv);
    let secret = sandbox.options().client_secret.expose().to_string();
    for (k, filter) in [
        "trace",
        "trace,rlibphonenumber=trace,hyper=trace,reqwest=trace",
    ]
    .iter()
    .enumerate()
    {
        for format in ["text", "json"] {
            let out = format!("out-{k}-{format}");
            let args = enroll_args("in.csv", &out, &["--log-format", format]);
            let mut command = launch_command(ws.dir.path(), &args);
            command
                .env("PINGONE_CLIENT_SECRET", &secret)
                .env("RUST_LOG", filter);
            let run = must_end(command.spawn().expect("starts"), Duration::from_secs(120)).await;
            assert_eq!(run.code, 0, "{}", run.both());
            // Timestamps hold digits of their own: look past each line's first field.
            let logged: String = run
                .stderr
                .lines()
                .map(|l| l.split_once(['"', ' ']).map_or(l, |(_, rest)| rest))
                .map(|l| l.split_once("Z").map_or(l, |(_, rest)| rest))
                .collect::<Vec<_>>()
                .join("\n");
            for number in numbers {
                for window in national_windows(number, 6) {
                    assert!(
                        !logged.contains(&window),
                        "RUST_LOG={filter} --log-format {format}: {window} of {number} leaked:\n{}",
                        run.stderr
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_error_never_echoes_a_secret() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    for (k, text) in [
        "[pingone]\nclient_secret = hunter2-unquoted\n",
        "[pingone]\nclient_secret = \"hunter2-never-closed\n",
        "[pingone]\nclient_secret = \"\"\"\nhunter2-first\nhunter2-second\n",
        "[limits]\nrate = 5\n[vault]\napi_token = hunter2 in another table\n",
        "pingone = { client_secret = 'hunter2-inline' }\n",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("c{k}.toml");
        ws.write(&name, text);
        let run = run_binary(
            ws.dir.path(),
            None,
            &["run", "in.csv", "--dry-run", "--config", &name],
        )
        .await;
        assert_eq!(run.code, 2, "{text:?}: {}", run.both());
        assert!(!run.both().contains("hunter2"), "{text:?}: {}", run.both());
        assert!(run.stderr.contains(&name), "{}", run.stderr);
        // A syntax error says where it is; valid TOML is refused by the key's name.
        assert!(
            run.stderr.contains("line ") || run.stderr.contains("[pingone] client_secret"),
            "{}",
            run.stderr
        );
    }
}
