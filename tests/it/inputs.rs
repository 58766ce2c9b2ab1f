//! The input file and the errors and noise around it, against the real binary: standard
//! input, fifos and process substitution read once; endless streams, unclosed quotes and huge
//! headers bounded; an empty header refused; `--delimiter` and `default_country` honoured;
//! signals honoured while reading.

use std::io::Write;
use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;
use tokio::io::AsyncWriteExt;

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_input_is_read_once_and_resumes_by_its_hash() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let csv = sms_rows(20);
    let feed = |text: String, extra: &'static [&'static str]| {
        let mut child = spawn_with_stdin(&ws, &sandbox, &enroll_args("-", "out", extra));
        let mut stdin = child.stdin.take().unwrap();
        async move {
            stdin.write_all(text.as_bytes()).await.unwrap();
            drop(stdin);
            must_end(child, Duration::from_secs(60)).await
        }
    };
    let run = feed(csv.clone(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(ws.results().len(), 20);
    assert_eq!(sandbox.all_devices().len(), 20);
    let summary = ws.summary();
    assert_eq!(summary["input"]["path"], "standard input");
    assert_eq!(summary["input"]["sha256"], sha256_hex(csv.as_bytes()));
    assert!(
        !ws.out().join(".input-spool.csv").exists(),
        "the spool is gone"
    );

    let same = feed(csv.clone(), &["--resume"]).await;
    assert_eq!(same.code, 0, "{}", same.both());
    assert_eq!(ws.summary()["resumed_rows"], 20);
    let other = feed(sms_rows(21), &["--resume"]).await;
    assert_eq!(other.code, 2, "{}", other.both());
    assert!(other.stderr.contains("input differs"), "{}", other.stderr);
    assert_eq!(sandbox.all_devices().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_and_process_substitution_are_read_once() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(10));
    // `run <(cat in.csv)`: bash hands the binary a /dev/fd path to a pipe.
    let secret = sandbox.options().client_secret.expose().to_string();
    let substituted = tokio::process::Command::new("bash")
        .arg("-c")
        .arg("exec \"$0\" run <(cat in.csv) --config mfa-enroll.toml --out out")
        .arg(bin())
        .current_dir(ws.dir.path())
        .env("PINGONE_CLIENT_SECRET", &secret)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let run = must_end(substituted, Duration::from_secs(60)).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(ws.results().len(), 10);

    // A fifo written once, with other rows than the first file's.
    let fifo = ws.path("users.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let csv = sms_rows(15);
    let writer = std::thread::spawn(move || {
        let mut pipe = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        pipe.write_all(csv.as_bytes()).unwrap();
    });
    let child = spawn_binary(
        ws.dir.path(),
        &secret,
        &enroll_args("users.fifo", "fifo-out", &[]),
    );
    let run = must_end(child, Duration::from_secs(60)).await;
    writer.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.both());
    let results = by_line(&read_csv(&ws.path("fifo-out/results.csv")));
    assert_eq!(results.len(), 15, "every row of the one read");
    assert_eq!(results[&16]["destination"], us_number(14));
    assert_eq!(
        sandbox.all_devices().len(),
        15,
        "10 + 5 new: the first 10 existed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_record_is_a_file_error_not_unbounded_memory() {
    let ws = Workspace::new();
    let run = run_binary(ws.dir.path(), None, &["run", "/dev/zero", "--dry-run"]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("/dev/zero: line 1"), "{}", run.stderr);
    assert!(run.stderr.contains("longer than 1 MB"), "{}", run.stderr);

    let mut long = b"user_id,type,phone\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    std::fs::write(ws.path("long.csv"), &long).unwrap();
    let run = run_binary(ws.dir.path(), None, &["run", "long.csv", "--dry-run"]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("long.csv: line 2"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclosed_quote_is_a_file_error_at_the_line_it_opened() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = sms_rows(2);
    csv.push_str(&format!("{},SMS,\"+1 512 555 0199\n", user_id(7)));
    csv.push_str(&sms_rows(30).replace("user_id,type,phone\n", ""));
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("in.csv: line 4"), "{}", run.stderr);
    assert!(run.stderr.contains("quote opens here"), "{}", run.stderr);
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
    assert!(!ws.out().join("results.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_of_100000_columns_is_read_in_linear_time() {
    let ws = Workspace::new();
    let columns = 100_000;
    let mut header = String::from("user_id,type,email");
    let mut row = format!("{},EMAIL,a@example.com", user_id(1));
    for i in 3..columns {
        header.push_str(&format!(",c{i}"));
        row.push(',');
    }
    ws.write("wide.csv", &format!("{header}\n{row}\n"));
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    let child = spawn_without_secret(
        ws.dir.path(),
        &["run", "wide.csv", "--dry-run", "--quiet", "--out", "out"],
    );
    // Quadratic, this took minutes; the bound only tells a hang from a finish.
    let run = must_end(child, Duration::from_secs(90)).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(ws.results()[0]["outcome"], "valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_reading_stops_the_run_before_anything_is_sent() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    // Standard input that never ends: the run waits on it, and still hears SIGTERM.
    let mut child = spawn_with_stdin(&ws, &sandbox, &enroll_args("-", "out", &[]));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(sms_rows(5).as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    send_signal(&child, "TERM");
    let run = must_end(child, Duration::from_secs(10)).await;
    drop(stdin);
    assert_eq!(run.code, 3, "{}", run.both());
    assert_eq!(ws.summary()["stopped_early"]["code"], "INTERRUPTED");
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");

    // A large file: the first pass stops too, before any row is recorded or sent.
    ws.write("big.csv", &sms_rows(300_000));
    let child = spawn_binary(
        ws.dir.path(),
        sandbox.options().client_secret.expose(),
        &enroll_args("big.csv", "big", &[]),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    send_signal(&child, "INT");
    let run = must_end(child, Duration::from_secs(30)).await;
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(
        !ws.path("big/results.csv").exists(),
        "stopped while validating"
    );
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");

    // An offline dry run stopped once it is recording rows records every row, the unread
    // ones as not attempted, quickly. (Stopped in its first pass, it records none, as above.)
    let child = spawn_binary(
        ws.dir.path(),
        "unused",
        &["run", "big.csv", "--dry-run", "--out", "dry"],
    );
    wait_for_rows(&ws.path("dry"), 1).await;
    send_signal(&child, "TERM");
    let run = must_end(child, Duration::from_secs(30)).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let rows = read_csv(&ws.path("dry/results.csv"));
    assert_eq!(rows.len(), 300_000, "every record has its row");
    let not_attempted = rows
        .iter()
        .filter(|r| r["error_code"] == "NOT_ATTEMPTED")
        .count();
    assert!(not_attempted > 0, "the stop came before the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_what_to_fix() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(2));
    ws.write("bad.toml", "[limits]\nconcurrency = 4\nrate = \"fast\"\n");
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--dry-run", "--config", "bad.toml"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr.contains("[limits] rate: line 3: invalid type"),
        "{}",
        run.stderr
    );

    ws.write("taken", "a file");
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--dry-run", "--out", "taken"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr
            .contains("--out taken: this is a file, not a directory"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_says_once_how_many_rows_were_not_attempted() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            latency: Duration::from_millis(100),
            ..SandboxOptions::default()
        },
        "rate = 1000\nconcurrency = 2",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(300));
    let child = spawn_enroll_with(&ws, &sandbox, "in.csv", &["--quiet"]);
    wait_for_rows(&ws.out(), 4).await;
    send_signal(&child, "INT");
    let run = finish(child).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let not_attempted = ws
        .results()
        .iter()
        .filter(|r| r["error_code"] == "NOT_ATTEMPTED")
        .count();
    assert!(not_attempted > 100, "{not_attempted}");
    let mentions: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("NOT_ATTEMPTED") || l.contains("not attempted"))
        .collect();
    assert_eq!(mentions.len(), 1, "{}", run.stderr);
    assert!(
        mentions[0].contains(&format!("{not_attempted} rows")),
        "{}",
        mentions[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_is_refused_before_anything_is_recorded() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(2));
    // Port 1 on loopback: nothing listens there.
    ws.write(
        "mfa-enroll.toml",
        &format!(
            "[pingone]\nenvironment_id = \"{}\"\nclient_id = \"x\"\napi_url = \"http://127.0.0.1:1/v1\"\nauth_url = \"http://127.0.0.1:1\"\n\
             [enroll]\npolicy_id = \"{POLICY}\"\nenable_mfa = false\n[limits]\nmax_retries = 1\nbackoff_initial_ms = 5\nbackoff_max_s = 1\n",
            mfa_enroll::sandbox::SANDBOX_ENVIRONMENT_ID
        ),
    );
    let run = run_binary(
        ws.dir.path(),
        Some("secret"),
        &["run", "in.csv", "--out", "out"],
    )
    .await;
    // Nothing could be sent: exit 2 naming the host (tests/it/unreachable.rs has the rest).
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr
            .contains("cannot reach the token host 127.0.0.1:1"),
        "{}",
        run.stderr
    );
    assert!(!ws.out().join("summary.json").exists(), "nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_formulas_are_kept_verbatim_so_errors_csv_feeds_back() {
    let ws = Workspace::new();
    let formula_nickname = "=HYPERLINK(\"http://x.example\",\"open\")";
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,nickname\n\
             {},SMS,+15125550101,\"{}\"\n\
             {},SMS,@SUM(1),x\n",
            user_id(1),
            formula_nickname.replace('"', "\"\""),
            user_id(2)
        ),
    );
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--dry-run", "--out", "out"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "valid", "{:?}", results[&2]);
    assert_eq!(results[&3]["destination"], "@SUM(1)", "written as read");
    assert_eq!(results[&3]["error_code"], "INVALID_PHONE");
    let errors = ws.errors();
    assert_eq!(errors[0]["phone"], "@SUM(1)");
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "out/errors.csv", "--dry-run", "--out", "again"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert_eq!(
        read_csv(&ws.path("again/errors.csv"))[0]["phone"],
        "@SUM(1)"
    );
    let text = std::fs::read_to_string(ws.path("in.csv")).unwrap();
    assert!(
        text.contains("HYPERLINK"),
        "the nickname row is valid and untouched"
    );
}

/// The duplicate check remembers only the lines the survey found may repeat another, so it
/// must still catch a duplicate spelled another way and far away, in every kind of run, also
/// read from standard input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_spelled_otherwise_far_below_is_caught_in_every_run() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    let mut csv = String::from("user_id,username,type,phone,email\n");
    csv.push_str(&format!("{},,SMS,+1 (512) 200-0005,\n", user_id(1)));
    csv.push_str(",jdoe,EMAIL,,J.Doe@Example.com\n");
    for i in 10..400 {
        csv.push_str(&format!("{},,SMS,{},\n", user_id(i), us_number(i)));
    }
    csv.push_str(&format!("{},,SMS,1-512-200-0005,\n", user_id(1)));
    csv.push_str(",JDOE,EMAIL,,j.doe@example.com\n");
    // The same number for another user, and another number ending alike: not duplicates.
    csv.push_str(&format!("{},,SMS,+15122000005,\n", user_id(2)));
    csv.push_str(&format!("{},,SMS,+15122010005,\n", user_id(1)));
    ws.write("in.csv", &csv);
    let last = 2 + 2 + 390;
    let check =
        |rows: &std::collections::HashMap<u64, std::collections::HashMap<String, String>>,
         kind: &str| {
            for (line, first) in [(last, 2), (last + 1, 3)] {
                assert_eq!(
                    rows[&line]["error_code"], "DUPLICATE_ROW",
                    "{kind}: line {line}"
                );
                assert!(
                    rows[&line]["error_message"].contains(&format!("as line {first}")),
                    "{kind}: {}",
                    rows[&line]["error_message"]
                );
            }
            for line in [last + 2, last + 3] {
                assert_eq!(rows[&line]["error_code"], "", "{kind}: line {line}");
            }
            let duplicates = rows.values().filter(|r| r["error_code"] == "DUPLICATE_ROW");
            assert_eq!(duplicates.count(), 2, "{kind}");
        };
    let dry = enroll_to(&ws, &sandbox, "in.csv", "dry", &["--dry-run"]).await;
    assert_eq!(dry.code, 1, "{}", dry.both());
    check(
        &by_line(&read_csv(&ws.path("dry/results.csv"))),
        "offline dry run",
    );

    let mut child = spawn_with_stdin(&ws, &sandbox, &enroll_args("-", "piped", &["--dry-run"]));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(csv.as_bytes()).await.unwrap();
    drop(stdin);
    assert_eq!(finish(child).await.code, 1);
    check(
        &by_line(&read_csv(&ws.path("piped/results.csv"))),
        "standard input",
    );

    let live = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(live.code, 1, "{}", live.both());
    check(&by_line(&ws.results()), "live run");
    assert_eq!(sandbox.tally().duplicate_devices, 0);
    assert!(!ws.out().join(".repeats").exists(), "the spill is removed");
}

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
async fn the_delimiter_and_default_country_change_how_the_file_is_read() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "default_country = \"GB\"",
    )
    .await;
    // Semicolons, and a national UK number beside an international one.
    ws.write(
        "in.csv",
        &format!(
            "user_id;type;phone\n{};SMS;020 7946 0018\n{};SMS;+1 512 555 0101\n",
            user_id(1),
            user_id(2)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &["--delimiter", ";"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(
        results[&2]["destination"], "+442079460018",
        "read as a GB number"
    );
    assert_eq!(
        results[&3]["destination"], "+15125550101",
        "a + still means international"
    );
}
