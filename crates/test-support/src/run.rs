//! The real binary, run the way a person runs it: in a test's workspace, with a scrubbed
//! environment (`launch`), the client secret when the test gives one, and a bound on how
//! long it may take; what it printed and how it ended, as a [`Run`].

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use mfa_enroll::sandbox::Sandbox;

use crate::launch::{self, bin};
use crate::Workspace;

/// How a run of the binary ended: its exit code (-1 when a signal ended it) and what it
/// printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Standard output, then standard error: for assertion messages.
    pub fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the real binary in `dir` with the sandbox's secret in the environment.
pub async fn run_binary(dir: &Path, secret: Option<&str>, args: &[&str]) -> Run {
    let child = launch::command(bin(), dir, secret, args)
        .spawn()
        .expect("the binary runs");
    must_end(child, Duration::from_secs(300)).await
}

/// Waits for a child that must end by itself; a hang is a failure, not a slow machine.
pub async fn must_end(child: tokio::process::Child, within: Duration) -> Run {
    tokio::time::timeout(within, child.wait_with_output())
        .await
        .expect("the run ended instead of hanging")
        .expect("output")
        .into()
}

/// `run INPUT --config mfa-enroll.toml --out out` plus `extra`, with the sandbox's secret.
pub async fn enroll(ws: &Workspace, sandbox: &Sandbox, input: &str, extra: &[&str]) -> Run {
    enroll_to(ws, sandbox, input, "out", extra).await
}

/// `run INPUT --sandbox --shard K/COUNT --out {prefix}K` for every K, against the built-in
/// sandbox; each shard ends 0 or 1 (rows it could not create).
pub async fn sandbox_shards(ws: &Workspace, input: &str, prefix: &str, count: u32) {
    for k in 0..count {
        let (shard, out) = (format!("{k}/{count}"), format!("{prefix}{k}"));
        let args = ["run", input, "--sandbox", "--shard", &shard, "--out", &out];
        let run = run_binary(ws.dir.path(), None, &args).await;
        assert!([0, 1].contains(&run.code), "{shard}: {}", run.both());
    }
}

/// A run whose POSTs met answers PingOne may have acted on leaves those rows UNCONFIRMED
/// (exit 1): the POST is never sent twice in a run. `--resume` until every row is settled
/// (exit 0), at most eight times; each earlier run must have ended 0 or 1.
pub async fn resume_until_settled(
    ws: &Workspace,
    sandbox: &Sandbox,
    input: &str,
    first: Run,
) -> Run {
    let mut run = first;
    for _ in 0..8 {
        if run.code == 0 {
            return run;
        }
        assert_eq!(run.code, 1, "{}", run.both());
        run = enroll(ws, sandbox, input, &["--resume"]).await;
    }
    assert_eq!(
        run.code,
        0,
        "still unsettled after eight resumes: {}",
        run.both()
    );
    run
}

/// The same, into another output directory.
pub async fn enroll_to(
    ws: &Workspace,
    sandbox: &Sandbox,
    input: &str,
    out: &str,
    extra: &[&str],
) -> Run {
    let secret = sandbox.options().client_secret.expose().to_string();
    enroll_with_secret(ws, &secret, input, out, extra).await
}

/// `run INPUT --config mfa-enroll.toml --out OUT` followed by `extra`: how most tests run.
pub fn enroll_args<'a>(input: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", input, "--config", "mfa-enroll.toml", "--out", out];
    args.extend_from_slice(extra);
    args
}

/// `run INPUT --config mfa-enroll.toml --out OUT`, with whatever secret the test chooses.
pub async fn enroll_with_secret(
    ws: &Workspace,
    secret: &str,
    input: &str,
    out: &str,
    extra: &[&str],
) -> Run {
    enroll_as(ws, Some(secret), input, out, extra).await
}

/// The same, with no secret in the environment at all when `secret` is `None`.
pub async fn enroll_as(
    ws: &Workspace,
    secret: Option<&str>,
    input: &str,
    out: &str,
    extra: &[&str],
) -> Run {
    run_binary(ws.dir.path(), secret, &enroll_args(input, out, extra)).await
}

/// `enroll` without waiting: for tests that signal or kill the run.
pub fn spawn_enroll(ws: &Workspace, sandbox: &Sandbox, input: &str) -> tokio::process::Child {
    spawn_enroll_with(ws, sandbox, input, &[])
}

/// The same, with more arguments.
pub fn spawn_enroll_with(
    ws: &Workspace,
    sandbox: &Sandbox,
    input: &str,
    extra: &[&str],
) -> tokio::process::Child {
    let secret = sandbox.options().client_secret.expose().to_string();
    spawn_binary(ws.dir.path(), &secret, &enroll_args(input, "out", extra))
}

/// Starts the binary with no secret in its environment, without waiting for it.
pub fn spawn_without_secret(dir: &Path, args: &[&str]) -> tokio::process::Child {
    launch::command(bin(), dir, None, args)
        .spawn()
        .expect("the binary starts")
}

/// Starts the binary without waiting for it.
pub fn spawn_binary(dir: &Path, secret: &str, args: &[&str]) -> tokio::process::Child {
    launch::command(bin(), dir, Some(secret), args)
        .spawn()
        .expect("the binary starts")
}

/// Waits until results.csv in `out` holds at least `rows` data rows.
pub async fn wait_for_rows(out: &Path, rows: usize) {
    let path = out.join("results.csv");
    for _ in 0..600 {
        let count = std::fs::read_to_string(&path)
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if count >= rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("results.csv never reached {rows} rows");
}

pub fn send_signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

pub async fn finish(child: tokio::process::Child) -> Run {
    must_end(child, Duration::from_secs(120)).await
}

/// `spawn_enroll` with arguments of the test's choosing and standard input piped.
pub fn spawn_with_stdin(ws: &Workspace, sandbox: &Sandbox, args: &[&str]) -> tokio::process::Child {
    let secret = sandbox.options().client_secret.expose().to_string();
    launch::command(bin(), ws.dir.path(), Some(&secret), args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// The binary as a command in `dir`, with a scrubbed environment and no secret: for tests
/// that set the environment themselves.
pub fn launch_command(dir: &Path, args: &[&str]) -> tokio::process::Command {
    launch::command(bin(), dir, None, args)
}
