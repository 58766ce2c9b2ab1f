//! How honest the progress estimate is (issue 32): a run whose time the server's rate
//! decides, its progress lines (JSON, without a terminal) stamped as they arrive, and each
//! line's `eta_s` against the time the run really had left. Shared by the bench's case and
//! the timed test in `tests/rate_limits.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use mfa_enroll::sandbox::SandboxOptions;
use tokio::io::AsyncBufReadExt;

use super::{path_text, rows_for, secret_of, start_sandbox, write_config, write_input, Figure};
use super::{Sizes, CREATE};
use crate::launch;

/// One progress line: when it arrived (since the run began) and what it said.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Duration,
    pub fields: serde_json::Value,
}

/// A run watched line by line.
pub struct Watched {
    pub code: i32,
    /// Every line of standard error, for assertion messages.
    pub stderr: String,
    /// The progress lines, in order.
    pub progress: Vec<Line>,
    /// From the start to the exit.
    pub wall: Duration,
}

/// Runs `bin args…` in `dir` with JSON logs on standard error (the args say so), stamping
/// each progress line as it arrives.
pub async fn watch(bin: &Path, dir: &Path, secret: &str, args: &[&str]) -> Watched {
    let started = Instant::now();
    let mut child = launch::command(bin, dir, Some(secret), args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let (mut text, mut progress) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let at = started.elapsed();
        text.push_str(&line);
        text.push('\n');
        let Ok(fields) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if fields["message"] == "progress" {
            progress.push(Line { at, fields });
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .expect("the run ends")
        .expect("wait");
    Watched {
        code: status.code().unwrap_or(-1),
        stderr: text,
        progress,
        wall: started.elapsed(),
    }
}

/// A progress line's estimate beside the truth.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// When the line came, as a share of the whole run (0 to 1).
    pub share: f64,
    /// What it said was left (`eta_s`); `None` when it said nothing.
    pub eta_s: Option<f64>,
    /// What really was left: from the line to the run's exit.
    pub left_s: f64,
}

impl Estimate {
    /// How far the estimate was off, as a share of what was really left.
    pub fn error(&self) -> Option<f64> {
        self.eta_s
            .map(|eta| (eta - self.left_s).abs() / self.left_s.max(f64::EPSILON))
    }
}

impl Watched {
    /// Every progress line's estimate beside the time really left.
    pub fn estimates(&self) -> Vec<Estimate> {
        let wall = self.wall.as_secs_f64();
        self.progress
            .iter()
            .map(|line| Estimate {
                share: line.at.as_secs_f64() / wall,
                eta_s: line.fields["eta_s"].as_f64(),
                left_s: wall - line.at.as_secs_f64(),
            })
            .collect()
    }

    /// The first line's estimate at or after `share` of the run.
    pub fn estimate_at(&self, share: f64) -> Option<Estimate> {
        self.estimates().into_iter().find(|e| e.share >= share)
    }
}

/// The run both the bench and the timed test measure: `rows` rows by ID, one POST each
/// (create mode), the server allowing `server_rate` a second and the tool told `tool_rate`,
/// progress logged every `every_ms`.
pub async fn server_paced_run(
    bin: &Path,
    work: &Path,
    rows: usize,
    server_rate: u32,
    tool_rate: u32,
    every_ms: u64,
) -> Watched {
    let sandbox = start_sandbox(SandboxOptions {
        rate: Some(server_rate),
        ..SandboxOptions::default()
    })
    .await;
    let name = format!("eta-{server_rate}-{tool_rate}");
    let input = work.join(format!("{name}.csv"));
    write_input(&input, rows);
    let limits = format!("rate = {tool_rate}\nmax_retries = 10");
    let config = write_config(work, &name, &sandbox, CREATE, &limits);
    let out = work.join(format!("{name}-out"));
    let _ = std::fs::remove_dir_all(&out);
    let every = every_ms.to_string();
    let args = [
        "run",
        path_text(&input),
        "--config",
        path_text(&config),
        "--out",
        path_text(&out),
        "--log-format",
        "json",
        "--progress-every-ms",
        &every,
    ];
    let watched = watch(bin, work, &secret_of(&sandbox), &args).await;
    sandbox.shutdown().await;
    watched
}

/// The estimate's error at 10, 25 and 50 % of a run the server's rate paces, with the tool
/// at the server's rate and at four times it (where only the pace granted tells the time).
pub async fn estimate(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let mut figures = Vec::new();
    let server = (sizes.rate / 4).max(10);
    for tool in [server, server * 4] {
        let rows = rows_for(f64::from(server), sizes.rate_seconds.max(4));
        let run = server_paced_run(bin, work, rows, server, tool, 500).await;
        assert_eq!(run.code, 0, "estimate case:\n{}", run.stderr);
        let case = format!("progress estimate, {rows} rows, server {server}/s, tool {tool}/s");
        for share in [0.10, 0.25, 0.50] {
            // No estimate by then counts as wholly wrong.
            let error = run
                .estimate_at(share)
                .and_then(|e| e.error())
                .map_or(100.0, |e| 100.0 * e);
            figures.push(Figure::at_most(
                &format!("{case}: error at {:.0} % of the run", 100.0 * share),
                error,
                "% of the time left",
                20.0,
            ));
        }
    }
    figures
}
