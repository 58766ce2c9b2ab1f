//! The first SIGINT or SIGTERM ends the run within two seconds at every stage, also where the
//! run waits on something that will not come: a fifo that has no writer yet (the input, the
//! config, the secret file), a token endpoint that never answers, an answer that trickles.

use std::time::{Duration, Instant};

use crate::hostile::server::{self, Behaviour, Devices, Hostile, Token};
use mfa_enroll_test_support::*;

/// What the contract allows from the signal to the exit.
const WITHIN: Duration = Duration::from_secs(2);

fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
}

/// Signals `child` after `after`, and returns how it ended and how long that took.
async fn signal_and_wait(
    child: tokio::process::Child,
    signal: &str,
    after: Duration,
) -> (Run, Duration) {
    tokio::time::sleep(after).await;
    send_signal(&child, signal);
    let signalled = Instant::now();
    let run = must_end(child, Duration::from_secs(30)).await;
    (run, signalled.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_a_fifo_has_no_writer_ends_the_run() {
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!("[enroll]\npolicy_id = \"{POLICY}\"\n"),
    );
    mkfifo(&ws.path("users.fifo"));
    for (signal, mode) in [("INT", "--dry-run"), ("TERM", "--sandbox")] {
        let out = format!("out-{signal}");
        let args = enroll_args("users.fifo", &out, &[mode]);
        let child = spawn_binary(ws.dir.path(), "unused", &args);
        let (run, took) = signal_and_wait(child, signal, Duration::from_millis(500)).await;
        assert_eq!(run.code, 3, "SIG{signal}: {}", run.both());
        assert!(took < WITHIN, "SIG{signal}: {took:?}");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(ws.path(&out).join("summary.json")).expect("summary.json"),
        )
        .expect("it parses");
        assert_eq!(summary["stopped_early"]["code"], "INTERRUPTED");
        assert!(
            !ws.path(&out).join("results.csv").exists(),
            "nothing recorded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_the_config_or_the_secret_is_a_silent_fifo_ends_the_run() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    mkfifo(&ws.path("config.fifo"));
    mkfifo(&ws.path("secret.fifo"));
    let hostile = Hostile::start(Behaviour::default()).await;
    ws.write("mfa-enroll.toml", &hostile.config(""));
    for (config, secret_file) in [
        ("config.fifo", None),
        ("mfa-enroll.toml", Some("secret.fifo")),
    ] {
        let mut command = launch_command(
            ws.dir.path(),
            &["run", "in.csv", "--config", config, "--out", "out"],
        );
        if let Some(file) = secret_file {
            command.env("PINGONE_CLIENT_SECRET_FILE", file);
        }
        let child = command.spawn().expect("the binary starts");
        let (run, took) = signal_and_wait(child, "TERM", Duration::from_millis(500)).await;
        assert_eq!(run.code, 3, "{config}: {}", run.both());
        assert!(took < WITHIN, "{config}: {took:?}");
        assert!(
            run.stderr
                .contains("interrupted by SIGTERM while the configuration was being read"),
            "{}",
            run.stderr
        );
        assert!(!ws.path("out").exists(), "--out is not claimed");
    }
    assert_eq!(Hostile::count(&hostile.counts().tokens), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_while_the_server_says_nothing_ends_the_run() {
    // The first token never comes; then an answer that trickles for ever. Both would hold
    // the run for timeout_s (here 60 s) without the stop.
    for behaviour in [
        Behaviour {
            token: Token::Silent,
            ..Behaviour::default()
        },
        Behaviour {
            devices: Devices::Trickle,
            ..Behaviour::default()
        },
    ] {
        let hostile = Hostile::start(behaviour).await;
        let ws = Workspace::new();
        ws.write("mfa-enroll.toml", &hostile.config("timeout_s = 60"));
        ws.write("in.csv", &sms_rows(3));
        let child = spawn_binary(
            ws.dir.path(),
            server::SECRET,
            &enroll_args("in.csv", "out", &[]),
        );
        let (run, took) = signal_and_wait(child, "INT", Duration::from_millis(1500)).await;
        assert_eq!(run.code, 3, "{behaviour:?}: {}", run.both());
        assert!(took < WITHIN, "{behaviour:?}: {took:?}");
        assert_eq!(ws.summary()["stopped_early"]["code"], "INTERRUPTED");
        let rows = ws.results();
        assert_eq!(rows.len(), 3, "every row recorded");
        assert!(
            rows.iter().all(|r| r["error_code"] == "NOT_ATTEMPTED"),
            "{rows:?}"
        );
        assert_eq!(Hostile::count(&hostile.counts().posts), 0);
    }
}
