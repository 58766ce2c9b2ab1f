//! The command line's terminal conventions, against the real binary: colour follows
//! `--color` and `NO_COLOR` in the logs and in clap's help and errors; JSON log fields keep
//! their types; `-q` keeps the one-line outcome (`-qq` drops it); every example that `--help`
//! shows can be pasted into a shell as it is printed at 80 columns.

use std::path::Path;

use clap::Parser;
use std::process::Stdio;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Whether `text` holds an SGR (colour or style) escape: ESC [ digits and semicolons, m.
/// A progress bar's cursor movements are not colour.
fn has_sgr(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|after| {
        after.strip_prefix('[').is_some_and(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == ';'))
                .unwrap_or(rest.len());
            rest[end..].starts_with('m')
        })
    })
}

/// The binary in `dir` with `args`, its stderr a pipe (not a terminal).
async fn piped(dir: &Path, args: &[&str]) -> Run {
    run_binary(dir, None, args).await
}

/// The binary on a terminal (a pty from `script`), with `NO_COLOR` as given; stdout and
/// stderr together.
fn on_terminal(dir: &Path, args: &[&str], no_color: Option<&str>) -> String {
    let line = std::iter::once(bin().to_str().expect("a UTF-8 path"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = command
        .output()
        .expect("script(1) runs: apt-get install -y bsdutils (scripts/test does)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_follows_the_color_flag_and_no_color() {
    let ws = Workspace::new();
    ws.write("one.csv", &sms_rows(1));
    let dir = ws.dir.path();
    // clap's help and errors.
    assert!(has_sgr(
        &piped(dir, &["--color", "always", "--help"]).await.stdout
    ));
    assert!(!has_sgr(
        &piped(dir, &["--color", "never", "--help"]).await.stdout
    ));
    assert!(
        !has_sgr(&piped(dir, &["--help"]).await.stdout),
        "auto, not a terminal"
    );
    let error = piped(dir, &["run", "--color=always"]).await;
    assert_eq!(error.code, 2);
    assert!(has_sgr(&error.stderr), "{}", error.stderr);
    assert!(!has_sgr(
        &piped(dir, &["run", "--color=never"]).await.stderr
    ));

    // The logs: a run without a default policy warns, so there is a line to colour.
    let run = |out: &'static str, color: &'static str| {
        [
            "run",
            "one.csv",
            "--dry-run",
            "--out",
            out,
            "--color",
            color,
        ]
    };
    let always = piped(dir, &run("always", "always")).await;
    assert!(has_sgr(&always.stderr), "{}", always.stderr);
    assert!(!has_sgr(&on_terminal(dir, &run("never", "never"), None)));

    // auto: colour on a terminal, unless NO_COLOR is set and not empty.
    let auto = |out: &'static str| ["run", "one.csv", "--dry-run", "--out", out];
    let terminal = on_terminal(dir, &auto("auto"), None);
    assert!(has_sgr(&terminal), "{terminal}");
    assert!(terminal.contains("1 row: 1 invalid"), "{terminal}");
    assert!(!has_sgr(&on_terminal(dir, &auto("no-color"), Some("1"))));
    assert!(has_sgr(&on_terminal(dir, &auto("empty"), Some(""))));
    assert!(
        has_sgr(&on_terminal(dir, &run("forced", "always"), Some("1"))),
        "the flag wins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_fields_keep_their_types() {
    // A server that allows 5 requests a second and a tool at 40: the pace is cut (a log line
    // with the new rate), and the run lasts long enough for a progress line.
    let (sandbox, ws) = setup(
        SandboxOptions {
            rate: Some(5),
            ..SandboxOptions::default()
        },
        "rate = 40\nbackoff_initial_ms = 100\nmax_retries = 20",
        "on_existing = \"create\"",
    )
    .await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &["--log-format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let events: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let field = |message: &str, name: &str| {
        events
            .iter()
            .find(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(message))
            })
            .map(|e| e[name].clone())
            .unwrap_or_else(|| panic!("no {message:?} line in {}", run.stderr))
    };
    assert!(field("PingOne answered 429", "rate").is_f64());
    assert!(field("progress", "rows_per_s").is_f64());
    // No field anywhere holds a number written as text.
    for event in &events {
        for (name, value) in event.as_object().unwrap() {
            if let Some(text) = value.as_str() {
                assert!(text.parse::<f64>().is_err(), "{name} = {text:?} in {event}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_keeps_the_outcome_line_and_qq_drops_it() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(2));
    let args = |out: &'static str, quiet: &'static str| {
        vec![
            "run",
            "in.csv",
            "--dry-run",
            "--policy-id",
            POLICY,
            "--out",
            out,
            quiet,
        ]
    };
    let loud = piped(ws.dir.path(), &args("loud", "-v")).await;
    assert!(loud.stdout.lines().count() > 1, "{}", loud.stdout);
    let quiet = piped(ws.dir.path(), &args("quiet", "-q")).await;
    assert_eq!(quiet.code, 0);
    assert_eq!(quiet.stdout.lines().count(), 1, "{}", quiet.stdout);
    assert!(
        quiet.stdout.starts_with("2 rows: 2 valid ("),
        "{}",
        quiet.stdout
    );
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    let silent = piped(ws.dir.path(), &args("silent", "-qq")).await;
    assert_eq!(silent.code, 0);
    assert!(silent.stdout.is_empty(), "{}", silent.stdout);
}

/// The example commands of one `--help` text as printed at 80 columns: the indented lines
/// under "Example", each with its continuation lines.
fn examples_in(help: &str) -> Vec<String> {
    let mut commands: Vec<String> = Vec::new();
    let mut in_examples = false;
    let mut continues = false;
    for line in help.lines() {
        if line.starts_with("Example") {
            in_examples = true;
            continue;
        }
        if !in_examples {
            continue;
        }
        if continues {
            let last = commands.last_mut().expect("a command before");
            last.push('\n');
            last.push_str(line);
        } else if line.starts_with("    ") {
            commands.push(line.trim_start().to_string());
        }
        continues = line.ends_with('\\');
    }
    commands
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_help_example_pastes_into_a_shell() {
    let ws = Workspace::new();
    // Stand-ins that record what they were given: one line per argument, then a blank line.
    let bin = ws.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = ws.path("calls.log");
    let recorder = "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> \"$CALLS\"\necho >> \"$CALLS\"\n";
    let zcat = "#!/bin/sh\ntrue\n".to_string();
    for (name, script) in [
        (
            "mfa-enroll",
            recorder.replace("$CALLS", &log.display().to_string()),
        ),
        ("zcat", zcat),
    ] {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut pasted = 0;
    for help_args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["merge", "--help"],
        vec!["sandbox", "--help"],
        vec!["completions", "--help"],
        vec!["man", "--help"],
    ] {
        let help = launch_command(ws.dir.path(), &help_args)
            .env("COLUMNS", "80")
            .output()
            .await
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        let examples = examples_in(&help);
        for example in &examples {
            let syntax = std::process::Command::new("sh")
                .args(["-n", "-c", example])
                .status()
                .unwrap();
            assert!(syntax.success(), "sh -n refuses {example:?}");
        }
        // Pasted one after the other, as a reader would (a variable set by one is used by
        // the next), in a scratch HOME, with the stand-ins first on the PATH.
        let script = examples.join("\n");
        std::fs::write(&log, "").unwrap();
        let home = ws.path("home");
        std::fs::create_dir_all(&home).unwrap();
        let ran = std::process::Command::new("sh")
            .args(["-e", "-c", &script])
            .current_dir(&home)
            .env("HOME", &home)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(
            ran.status.success(),
            "{help_args:?}'s examples fail in a shell: {}\n{script}",
            String::from_utf8_lossy(&ran.stderr)
        );
        let calls = std::fs::read_to_string(&log).unwrap();
        for call in calls.split("\n\n").filter(|c| !c.trim().is_empty()) {
            let argv: Vec<&str> = call.lines().collect();
            let parsed = mfa_enroll::cli::Cli::try_parse_from(
                std::iter::once("mfa-enroll").chain(argv.iter().copied()),
            );
            assert!(
                parsed.is_ok(),
                "{help_args:?} gives mfa-enroll {argv:?}: {parsed:?}"
            );
            pasted += 1;
        }
    }
    assert!(pasted >= 15, "only {pasted} examples were found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bar_counts_requests_against_the_plan_with_rows_beside_them() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(40));
    // The built-in sandbox at 20 a second: 40 device reads and 40 POSTs take 4 s, long
    // enough for the bar to be drawn many times.
    let args = [
        "run",
        "in.csv",
        "--sandbox",
        "--no-enable-mfa",
        "--rate",
        "20",
        "--policy-id",
        POLICY,
    ];
    let screen = on_terminal(ws.dir.path(), &args, None);
    assert!(screen.contains("/80 requests · "), "{screen}");
    let after_eta: Vec<&str> = screen.split("/40 rows · ETA ").skip(1).collect();
    assert!(
        after_eta
            .iter()
            .any(|after| after.starts_with(|c: char| c.is_ascii_digit())),
        "rows beside the requests, and a time left: {screen}"
    );
    assert!(screen.contains("requests/s"), "{screen}");
}
