//! After a run: `verify` (do the records still hold?) and `undo` (delete exactly what the run
//! created). Both read a run's record (`record.rs`: the directory proven as `--resume`
//! proves it, its rows streamed), ask PingOne about each row with the run's client (its
//! pace, retries, token and health checks), and write their own record (`output.rs`: a CSV
//! in line order, summary.json, `--resume`). `verify.rs` and `undo.rs` hold what each
//! decides per row; this file holds what both share: their errors, their start (settings,
//! target, client) and the loop that takes rows through PingOne, a bounded number at a time.

pub(crate) mod output;
pub(crate) mod record;
mod report;
pub(crate) mod undo;
pub mod undo_plan;
pub mod verify;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use crate::cli::{AfterArgs, RunArgs};
use crate::config::{ConfigError, Settings};
use crate::dispatch::retry::RetryPolicy;
use crate::pingone::{Client, RequestStats};
use crate::record::summary::Target;
use crate::record::{OutputError, ResultRow};
use crate::stop::Stop;
use output::{AfterRow, Sink};

/// Why `verify` or `undo` refused before sending anything (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AfterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: cannot prove this directory holds a finished run's record: {why}", dir.display())]
    Unproven { dir: PathBuf, why: String },
    #[error("{}: its run was against {earlier}, but this config points at {now}; use the run's config", dir.display())]
    OtherTarget {
        dir: PathBuf,
        earlier: String,
        now: String,
    },
    #[error("{}: holds no {file} to resume; run without --resume", dir.display())]
    NothingToResume { dir: PathBuf, file: String },
    #[error("{}: an earlier record is there; add --resume to continue it, or choose another --out", path.display())]
    WouldOverwrite { path: PathBuf },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    NotConfirmed(String),
}

/// What `verify` and `undo` work with once started.
pub(crate) struct After {
    pub(crate) settings: Settings,
    pub(crate) target: Target,
    pub(crate) client: Arc<Client>,
    pub(crate) retry: RetryPolicy,
    pub(crate) stats: Arc<RequestStats>,
    pub(crate) stop: Arc<Stop>,
    pub(crate) run_dir: PathBuf,
    pub(crate) out_dir: PathBuf,
    pub(crate) started: std::time::Instant,
    pub(crate) started_at: String,
}

/// The settings as a live run against the config's target loads them (the connection is
/// required: a device ID is only meaningful in the environment that made it).
pub(crate) fn load(args: &AfterArgs, default_out: &str) -> Result<Settings, ConfigError> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run_dir.join(default_out));
    let run_args = RunArgs {
        out,
        resume: args.resume,
        environment_id: args.environment_id.clone(),
        metrics_file: args.metrics_file.clone(),
        log_format: args.log_format,
        quiet: u8::from(args.quiet),
        verbose: args.verbose,
        // verify and undo never switch anyone on: a run's config need not have made its choice.
        no_enable_mfa: true,
        ..RunArgs::flags_unset(
            args.run_dir.join(crate::record::RESULTS_FILE),
            args.config.clone(),
        )
    };
    Settings::load(&run_args, &crate::config::process_env)
}

impl After {
    /// The client and what goes with it, for the settings' target.
    pub(crate) fn start(
        settings: Settings,
        run_dir: PathBuf,
        stop: Arc<Stop>,
    ) -> Result<After, AfterError> {
        let Some(connection) = settings.connection.clone() else {
            return Err(AfterError::Client("no connection settings".into()));
        };
        let target = Target::Pingone {
            environment_id: connection.environment_id.clone(),
            api_host: connection.api_host(),
            worker_environment_id: Some(connection.worker_environment_id.clone()),
        };
        let stats = Arc::new(RequestStats::default());
        let client = Client::new(&connection, &settings.limits, stop.clone(), stats.clone())
            .map_err(|e| AfterError::Client(e.to_string()))?;
        Ok(After {
            retry: RetryPolicy::new(&settings.limits, stats.clone(), stop.clone()),
            out_dir: settings.out_dir.clone(),
            target,
            client: Arc::new(client),
            stats,
            stop,
            run_dir,
            settings,
            started: std::time::Instant::now(),
            started_at: crate::record::summary::now_rfc3339(),
        })
    }

    /// Requests in flight at once: the configured concurrency's most.
    fn width(&self) -> usize {
        self.settings.limits.concurrency.most().max(1)
    }

    /// Takes every row `pick` keeps (and the sink does not hold as done) through `work`, a
    /// bounded number at once, recording each as it completes. A row whose work the stop cut
    /// short (`None`) is not recorded: `--resume` does it again. Stops taking rows at a stop.
    pub(crate) async fn each_row<R, P, W, Fut>(
        &self,
        rows: record::Rows,
        sink: &mut Sink<R>,
        pick: P,
        work: W,
    ) -> Result<(), AfterError>
    where
        R: AfterRow,
        P: Fn(&ResultRow) -> bool,
        W: Fn(ResultRow) -> Fut,
        // A row's lines (undo: its device and those a replace run removed), written
        // together; none when a stop cut the row short.
        Fut: Future<Output = Vec<R>>,
    {
        let stop = self.stop.clone();
        let done = std::mem::take(&mut sink.done);
        let mut failure = None;
        let wanted = rows
            .take_while(|_| !stop.is_requested())
            .filter_map(|row| match row {
                Ok(row) if pick(&row) && !done.contains(&row.line) => Some(Ok(row)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .map_while(|row| match row {
                Ok(row) => Some(row),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            });
        let mut results = futures::stream::iter(wanted)
            .map(&work)
            .buffer_unordered(self.width());
        while let Some(lines) = results.next().await {
            for row in &lines {
                sink.write(row)?;
            }
        }
        drop(results);
        sink.done = done;
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Why the stop came, for the summary and the log; `None` when none came.
    pub(crate) fn stopped_early(&self) -> Option<String> {
        self.stop.reason().map(|r| r.to_string())
    }
}

/// How a `verify` or an `undo` ended.
pub struct Ended {
    pub exit: crate::exit::ExitStatus,
    pub(crate) summary: output::AfterSummary,
    pub out_dir: PathBuf,
}

impl Ended {
    /// The one-line outcome: the counts, and where the files are.
    pub fn describe(&self) -> String {
        let counts = self
            .summary
            .states
            .as_ref()
            .or(self.summary.outcomes.as_ref())
            .map(|counts| {
                counts
                    .iter()
                    .map(|(label, n)| format!("{n} {label}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let counts = if counts.is_empty() {
            "no rows".to_string()
        } else {
            counts
        };
        format!(
            "{}: {counts}; {} in {}",
            self.summary.command,
            self.summary
                .stopped_early
                .as_deref()
                .map_or("finished".to_string(), |why| format!(
                    "stopped early ({why})"
                )),
            self.out_dir.display()
        )
    }
}

/// Counts by label as summary.json names them.
fn named(
    counts: &std::collections::BTreeMap<&'static str, u64>,
) -> std::collections::BTreeMap<String, u64> {
    counts.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl After {
    /// summary.json as this command ends, `good` saying whether every row went well.
    fn summary(
        &self,
        command: &str,
        counts: &std::collections::BTreeMap<&'static str, u64>,
        good: bool,
    ) -> output::AfterSummary {
        let stopped_early = self.stopped_early();
        let exit = match (&stopped_early, good) {
            (Some(_), _) => crate::exit::ExitStatus::StoppedEarly,
            (None, true) => crate::exit::ExitStatus::Success,
            (None, false) => crate::exit::ExitStatus::RowProblems,
        };
        output::AfterSummary {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            run_dir: self.run_dir.display().to_string(),
            target: self.target.clone(),
            started_at: self.started_at.clone(),
            finished_at: crate::record::summary::now_rfc3339(),
            duration_s: self.started.elapsed().as_secs_f64(),
            finished: stopped_early.is_none(),
            exit_code: exit.code(),
            stopped_early,
            rows: counts.values().sum(),
            states: None,
            outcomes: None,
            mfa_switched_off: None,
            notices: Vec::new(),
            requests: output::Requests::of(&self.stats),
        }
    }
}

/// Writes summary.json, the metrics file and the report, and says how the command ended.
fn finish(
    after: &After,
    out: &output::OutDir,
    summary: output::AfterSummary,
    label: &str,
) -> Result<Ended, AfterError> {
    summary.write(&out.dir)?;
    let exit = match summary.exit_code {
        0 => crate::exit::ExitStatus::Success,
        1 => crate::exit::ExitStatus::RowProblems,
        _ => crate::exit::ExitStatus::StoppedEarly,
    };
    if let Some(path) = &after.settings.metrics_file {
        let counts = summary.states.as_ref().or(summary.outcomes.as_ref());
        let counts: Vec<(&str, u64)> = counts
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        let r = &summary.requests;
        let requests = [("get", r.get), ("delete", r.delete), ("put", r.put)];
        if let Err(e) =
            crate::present::metrics::write_after(path, label, &counts, &requests, exit.code())
        {
            tracing::warn!("cannot write the metrics file: {e}");
        }
    }
    if let Err(e) = report::write(&out.dir, &summary) {
        tracing::warn!("cannot write the report: {e}");
    }
    Ok(Ended {
        exit,
        summary,
        out_dir: out.dir.clone(),
    })
}
