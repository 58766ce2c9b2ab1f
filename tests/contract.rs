//! Contract lines that had no test, each as a run of the real binary: an empty header,
//! `--delimiter`, `default_country`, `[enroll] allow_messages`, email masking in text logs,
//! file modes after `--resume`, and the standing sandbox's options.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use mfa_enroll::sandbox::SandboxOptions;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_header_is_a_file_error() {
    let ws = Workspace::new();
    ws.write("empty.csv", "");
    ws.write("blank.csv", " , \n1,2\n");
    for file in ["empty.csv", "blank.csv"] {
        let run = run_binary(ws.dir.path(), None, &["run", file, "--dry-run"]).await;
        assert_eq!(run.code, 2, "{file}: {}", run.both());
        assert!(
            run.stderr.contains(&format!("{file}: the file is empty")),
            "{}",
            run.stderr
        );
        assert!(
            !ws.path("enroll-out").exists(),
            "no output directory for a bad file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delimiter_default_country_and_allow_messages_from_the_config() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "default_country = \"GB\"\nallow_messages = true",
    )
    .await;
    // Semicolons, a national UK number, and a device that makes PingOne message its user.
    ws.write(
        "in.csv",
        &format!(
            "user_id;type;phone;status\n{};SMS;020 7946 0018;ACTIVATION_REQUIRED\n{};SMS;+1 512 555 0101;\n",
            user_id(1),
            user_id(2)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &["--delimiter", ";"]).await;
    assert_eq!(run.code, 0, "allowed by the config: {}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(
        results[&2]["destination"], "+442079460018",
        "read as a GB number"
    );
    assert_eq!(
        results[&3]["destination"], "+15125550101",
        "a + still means international"
    );
    assert_eq!(ws.summary()["pairing_messages"]["SMS"], 1);

    // Without allow_messages the same file is refused before anything is sent.
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    ws.write(
        "mfa-enroll.toml",
        &config.replace("allow_messages = true", "allow_messages = false"),
    );
    let refused = enroll_to(&ws, &sandbox, "in.csv", "second", &["--delimiter", ";"]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(refused
        .stderr
        .contains("1 rows would create ACTIVATION_REQUIRED"));
}

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
async fn files_stay_private_after_a_resume_rewrites_them() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(5));
    let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(first.code, 0, "{}", first.both());
    // Loosen them by hand; the resume's rewrite must not keep or widen that.
    for name in ["results.csv", "errors.csv", "summary.json"] {
        let path = ws.out().join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_file(&path).ok();
        if name == "results.csv" {
            std::fs::write(&path, "line,outcome\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_private_outputs(&ws.out());
}

/// Starts `mfa-enroll sandbox ARGS` and reads its banner: (child, config snippet, secret).
async fn standing(dir: &std::path::Path, args: &[&str]) -> (tokio::process::Child, String, String) {
    let mut all = vec!["sandbox", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = spawn_without_secret(dir, &all);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut snippet, mut secret, mut in_snippet) = (String::new(), String::new(), false);
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("[pingone]") {
            in_snippet = true;
        }
        if line.starts_with("Then run:") {
            in_snippet = false;
        }
        if in_snippet {
            snippet.push_str(&line);
            snippet.push('\n');
        }
        if let Some(value) = line.trim().strip_prefix("export PINGONE_CLIENT_SECRET=") {
            secret = value.to_string();
        }
        if line.starts_with("Ctrl-C stops") {
            break;
        }
    }
    (child, snippet, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standing_sandbox_options_work_from_the_command_line() {
    let ws = Workspace::new();
    let known = user_id(1);
    ws.write("users.csv", &format!("user_id,username\n{known},jdoe\n"));
    let policy = "11111111-2222-4333-8444-555555555555";
    let (mut child, snippet, secret) = standing(
        ws.dir.path(),
        &[
            "--users",
            "users.csv",
            "--policies",
            policy,
            "--max-devices",
            "1",
            "--token-ttl",
            "1",
        ],
    )
    .await;
    // At 3 requests a second the run outlives a one-second token several times.
    ws.write(
        "mfa-enroll.toml",
        &format!("{snippet}\n[limits]\nrate = 3\n"),
    );
    ws.write(
        "in.csv",
        &format!(
            "user_id,username,type,phone,policy_id\n\
             ,jdoe,SMS,+15125550101,{policy}\n\
             {known},,SMS,+15125550102,{policy}\n\
             {},,SMS,+15125550103,{policy}\n\
             {known},,SMS,+15125550104,{unlisted}\n",
            user_id(2),
            unlisted = "22222222-2222-4222-8222-222222222222"
        ),
    );
    let run = enroll_with_secret(&ws, &secret, "in.csv", "out", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "created", "--users resolves jdoe");
    assert_eq!(
        results[&3]["error_code"], "LIMIT_EXCEEDED",
        "--max-devices 1"
    );
    assert_eq!(
        results[&4]["error_code"], "USER_NOT_FOUND",
        "--users lists who exists"
    );
    assert_eq!(
        results[&5]["error_code"], "INVALID_VALUE",
        "--policies lists what exists"
    );
    let tokens = ws.summary()["requests"]["tokens"].as_u64().unwrap();
    assert!(tokens >= 2, "--token-ttl 1 makes the run renew: {tokens}");
    send_signal(&child, "INT");
    child.wait().await.unwrap();

    let (child, snippet, secret) = standing(ws.dir.path(), &["--no-role"]).await;
    ws.write("mfa-enroll.toml", &snippet);
    ws.write("in2.csv", &sms_rows(2));
    let run = enroll_with_secret(&ws, &secret, "in2.csv", "out2", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out2/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["stopped_early"]["code"], "MISSING_ROLE");
    send_signal(&child, "INT");
}

/// Parses Prometheus text: (metric with labels) -> value.
fn metrics(path: &std::path::Path) -> std::collections::HashMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.ends_with('\n'),
        "the text format ends every line, the last too"
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("name value");
            (name.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_tells_a_scheduler_how_each_run_ended() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = sms_rows(3);
    csv.push_str(&format!("{},SMS,not-a-phone\n", user_id(9)));
    ws.write("in.csv", &csv);
    ws.write("good.csv", &sms_rows(2));
    let prom = ws.path("mfa_enroll.prom");
    let prom_arg = prom.to_str().unwrap();
    let good = enroll_to(
        &ws,
        &sandbox,
        "good.csv",
        "good",
        &["--metrics-file", prom_arg],
    )
    .await;
    assert_eq!(good.code, 0, "{}", good.both());
    let first = metrics(&prom);
    assert_eq!(first["mfa_enroll_exit_code"], 0.0);
    let success = first["mfa_enroll_last_success_timestamp_seconds"];
    assert!(success > 1.7e9, "{success}");

    let run = enroll(&ws, &sandbox, "in.csv", &["--metrics-file", prom_arg]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let m = metrics(&prom);
    assert_eq!(m["mfa_enroll_exit_code"], 1.0);
    // The first two users got their devices from good.csv.
    assert_eq!(m["mfa_enroll_rows{outcome=\"created\"}"], 1.0);
    assert_eq!(m["mfa_enroll_rows{outcome=\"skipped_existing\"}"], 2.0);
    assert_eq!(m["mfa_enroll_rows{outcome=\"invalid\"}"], 1.0);
    assert_eq!(m["mfa_enroll_error_rows{code=\"INVALID_PHONE\"}"], 1.0);
    assert_eq!(m["mfa_enroll_requests{kind=\"post\"}"], 1.0);
    assert_eq!(
        m["mfa_enroll_last_success_timestamp_seconds"], success,
        "a run with problems keeps the last success"
    );
    assert!(m.contains_key("mfa_enroll_duration_seconds"));

    // Refused before sending (exit 2): still written, so a scheduler sees it.
    let refused = enroll(&ws, &sandbox, "in.csv", &["--metrics-file", prom_arg]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    let m = metrics(&prom);
    assert_eq!(m["mfa_enroll_exit_code"], 2.0);
    assert_eq!(m["mfa_enroll_last_success_timestamp_seconds"], success);
}
