//! Shared by the integration tests: a sandbox on 127.0.0.1 port 0, a config file pointing at
//! it, the real binary run against it, and readers for what the binary wrote.
// Each test crate (`it`, `rate_limits`) uses a part of this file.
#![allow(dead_code)]

// The benchmark's cases (`bench_smoke` runs them) bring the launcher the tests and the
// benchmark share; a crate may load a file only once, so the tests take it from there.
#[path = "../../bench/cases.rs"]
pub mod cases;

use cases::launch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};

pub const BIN: &str = env!("CARGO_BIN_EXE_mfa-enroll");
pub const POLICY: &str = mfa_enroll::sandbox::SANDBOX_POLICY_ID;

pub async fn sandbox(options: SandboxOptions) -> Sandbox {
    Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxOptions {
            record_arrivals: true,
            ..options
        },
    )
    .await
    .expect("sandbox starts on loopback")
}

/// A scratch directory with an input, a config and an output directory.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write fixture");
        path
    }

    /// A config for `sandbox` with the given extra `[limits]`/`[enroll]` lines appended.
    pub fn config_for(&self, sandbox: &Sandbox, limits: &str, enroll: &str) -> PathBuf {
        let snippet = sandbox.config_snippet();
        let text = format!("{snippet}{enroll}\n[limits]\n{limits}\n");
        self.write("mfa-enroll.toml", &text)
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    pub fn results(&self) -> Vec<HashMap<String, String>> {
        read_csv(&self.out().join("results.csv"))
    }

    pub fn errors(&self) -> Vec<HashMap<String, String>> {
        read_csv(&self.out().join("errors.csv"))
    }

    pub fn summary(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out().join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary.json parses")
    }
}

pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Rows by input line; panics when a line appears twice.
pub fn by_line(rows: &[HashMap<String, String>]) -> HashMap<u64, HashMap<String, String>> {
    let mut map = HashMap::new();
    for row in rows {
        let line: u64 = row["line"].parse().expect("line is a number");
        assert!(
            map.insert(line, row.clone()).is_none(),
            "line {line} appears twice in results.csv"
        );
    }
    map
}

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
    pub fn both(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the real binary in `dir` with the sandbox's secret in the environment.
pub async fn run_binary(dir: &Path, secret: Option<&str>, args: &[&str]) -> Run {
    let child = launch::command(Path::new(BIN), dir, secret, args)
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

/// results.csv, errors.csv and summary.json readable by their owner only, in a private
/// directory: they hold personal data.
pub fn assert_private_outputs(out: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["results.csv", "errors.csv", "summary.json"] {
        let mode = std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let mode = std::fs::metadata(out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the directory is private too");
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

/// A CSV of `n` users by ID, one SMS device each, with distinct valid US numbers.
pub fn sms_rows(n: usize) -> String {
    let mut text = String::from("user_id,type,phone\n");
    for i in 0..n {
        text.push_str(&format!("{},SMS,{}\n", user_id(i), us_number(i)));
    }
    text
}

pub fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Distinct, valid US numbers (area code 512, exchanges 200-999).
pub fn us_number(i: usize) -> String {
    format!("+1512{}{:04}", 200 + (i / 10_000) % 800, i % 10_000)
}

/// Fast backoff so fault tests do not wait seconds per retry.
/// Enough retries that a 30% failure rate (two requests per try once a POST went unclear)
/// exhausts a row about once in a million runs, not once in a hundred.
pub const FAST_RETRIES: &str = "backoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 20\n";

/// Starts the binary with no secret in its environment, without waiting for it.
pub fn spawn_without_secret(dir: &Path, args: &[&str]) -> tokio::process::Child {
    launch::command(Path::new(BIN), dir, None, args)
        .spawn()
        .expect("the binary starts")
}

/// Starts the binary without waiting for it.
pub fn spawn_binary(dir: &Path, secret: &str, args: &[&str]) -> tokio::process::Child {
    launch::command(Path::new(BIN), dir, Some(secret), args)
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
    launch::command(Path::new(BIN), ws.dir.path(), Some(&secret), args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// A sandbox on loopback and a workspace whose config points at it, with extra `[limits]`
/// and `[enroll]` lines: the setup most tests start from.
pub async fn setup(options: SandboxOptions, limits: &str, enroll: &str) -> (Sandbox, Workspace) {
    let sandbox = sandbox(options).await;
    let ws = Workspace::new();
    ws.config_for(&sandbox, limits, enroll);
    (sandbox, ws)
}

/// The devices on the sandbox, as (user ID, type, destination digits or email, extension).
pub fn device_keys(sandbox: &Sandbox) -> Vec<(String, String, String, String)> {
    sandbox
        .all_devices()
        .into_iter()
        .map(|(user, d)| {
            let destination = match (&d.phone, &d.email) {
                (Some(p), _) => p.chars().filter(char::is_ascii_digit).collect(),
                (_, Some(e)) => e.to_lowercase(),
                _ => String::new(),
            };
            (
                user,
                d.device_type,
                destination,
                d.extension.unwrap_or_default(),
            )
        })
        .collect()
}

/// The binary as a command in `dir`, with a scrubbed environment and no secret: for tests
/// that set the environment themselves.
pub fn launch_command(dir: &Path, args: &[&str]) -> tokio::process::Command {
    launch::command(Path::new(BIN), dir, None, args)
}

/// A stand-in for PingOne on loopback, for answers the sandbox never gives (a 404 that names
/// nothing, a quota reset that is not a date): any token is issued, every user has no
/// devices and may have MFA switched on, and each device POST is answered with what
/// `answer` returns for the user: a status and a body.
pub struct Stub {
    pub addr: std::net::SocketAddr,
    pub environment_id: String,
}

pub async fn stub_pingone(answer: fn(&str) -> (u16, String)) -> Stub {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let json = |status: u16, body: String| {
        let status = StatusCode::from_u16(status).expect("a status");
        (status, [("content-type", "application/json")], body)
    };
    let app = axum::Router::new()
        .route(
            "/{env}/as/token",
            post(move || async move {
                json(
                    200,
                    r#"{"access_token":"stub","token_type":"Bearer","expires_in":3600}"#.into(),
                )
            }),
        )
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(move || async move { json(200, r#"{"_embedded":{"devices":[]}}"#.into()) }).post(
                move |Path((_, user)): Path<(String, String)>| async move {
                    let (status, body) = answer(&user);
                    json(status, body)
                },
            ),
        )
        .route(
            "/v1/environments/{env}/users/{user}/mfaEnabled",
            get(move || async move { json(200, r#"{"mfaEnabled":false}"#.into()) })
                .put(move || async move { json(200, r#"{"mfaEnabled":true}"#.into()) }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stub {
        addr,
        environment_id: "5f4a8e2c-0000-4c1e-9d53-00000000e4b1".into(),
    }
}

impl Stub {
    /// A config pointing at the stub, with extra `[enroll]` lines.
    pub fn config(&self, ws: &Workspace, enroll: &str) {
        ws.write(
            "mfa-enroll.toml",
            &format!(
                "[pingone]\nenvironment_id = \"{env}\"\nclient_id = \"stub\"\n\
                 api_url = \"http://{addr}/v1\"\nauth_url = \"http://{addr}\"\n\
                 [enroll]\npolicy_id = \"{POLICY}\"\n{enroll}\n[limits]\nrate = 1000\n{FAST_RETRIES}",
                env = self.environment_id,
                addr = self.addr,
            ),
        );
    }
}

/// Copies the files of `from` (an output directory) into `to`, which is created.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
