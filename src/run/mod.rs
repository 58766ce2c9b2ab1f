//! One run, start to finish, as named stages, each in its own file:
//!
//! 1. `prepare`: open the input (its header is checked before any output directory
//!    exists), then the output directory: lock it, read an earlier run, refuse what would
//!    overwrite a record or resume against another target.
//! 2. `survey`: read the whole input once (validating it when the run sends), copying it into
//!    a spool, so a pipe or standard input works, and finding which lines may repeat
//!    another; refuse before sending when the input differs from a resumed run's or would
//!    message users without permission.
//! 3. `execute`: stream the rows through the engine (or, offline, straight to the
//!    results), recording every row.
//! 4. `finish`: the summary, the exit status, the final log lines.
//!
//! Every refusal before sending is a [`RunError`] (exit 2); a stop at any stage is exit 3.

mod describe;
mod execute;
mod finish;
mod prepare;
mod signals;
mod survey;

use std::path::PathBuf;
use std::sync::Arc;

pub use describe::describe;
pub use signals::install_signal_handlers;

use crate::config::{RunMode, Settings};
use crate::input::{InputError, InputReader};
use crate::output::summary::{Summary, Target};
use crate::output::OutputError;
use crate::stop::Stop;

/// The process exit codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every row created or skipped (dry run: every row valid).
    Success = 0,
    /// The run finished, and some rows are invalid or failed.
    RowProblems = 1,
    /// Nothing was sent: usage, config, input, or an --out that would be overwritten.
    NothingSent = 2,
    /// The run stopped early; resume it.
    StoppedEarly = 3,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A refusal before anything was sent (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: this directory holds the record of an earlier run; pass --resume to continue it, or choose another --out (nothing was sent)", path.display())]
    WouldOverwrite { path: PathBuf },
    #[error("--resume: {} holds no earlier run (no results.csv, no summary.json); run without --resume to start one (nothing was sent)", dir.display())]
    NothingToResume { dir: PathBuf },
    #[error("--resume: {} was written against {earlier}, but this run is against {now}; resume against the same target, or choose another --out (nothing was sent)", dir.display())]
    OtherTarget {
        dir: PathBuf,
        earlier: Target,
        now: Target,
    },
    #[error("--resume: {} holds {earlier}, but this run asks for {now}; resume with the same --shard (nothing was sent)", dir.display())]
    OtherShard {
        dir: PathBuf,
        earlier: String,
        now: String,
    },
    #[error("{}: the input differs from the one this output directory's run used ({earlier_path}); resume with the same input, or choose another --out (nothing was sent)", input.display())]
    OtherInput {
        input: PathBuf,
        earlier_path: String,
    },
    #[error("{rows} rows would create ACTIVATION_REQUIRED devices, and PingOne would send each of those users a pairing message (at most 50 SMS and 50 emails per user per day); pass --allow-messages or set [enroll] allow_messages = true if that is intended (nothing was sent)")]
    WouldMessageUsers { rows: u64 },
    #[error("cannot write the duplicate check's working files in the output directory: {source}")]
    Spill {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the sandbox on loopback: {source}")]
    Sandbox {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the HTTPS client: {source}")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },
    #[error("no PingOne connection is configured; set [pingone] in the config, or use --sandbox or --dry-run")]
    NoConnection,
    #[error("the TLS certificate of {host} is not trusted ({problem}); if a TLS-inspecting proxy or a private CA signs it, set [pingone] ca_file to that CA's PEM certificate (nothing was sent)")]
    Untrusted { host: String, problem: String },
}

#[derive(Debug)]
pub struct RunReport {
    pub exit: ExitStatus,
    pub summary: Summary,
}

/// Where this run's requests go, as summary.json records it.
fn target_of(settings: &Settings) -> Target {
    match (&settings.mode, settings.use_sandbox, &settings.connection) {
        (RunMode::DryRunOffline, _, _) => Target::Offline,
        (_, true, _) => Target::Sandbox,
        (_, false, Some(connection)) => Target::Pingone {
            environment_id: connection.environment_id.clone(),
            api_host: connection.api_host(),
        },
        (_, false, None) => Target::Offline,
    }
}

pub async fn run(settings: Settings, stop: Arc<Stop>) -> Result<RunReport, RunError> {
    let clock = finish::Clock::start();
    let target = target_of(&settings);
    // The input first: a bad header must not leave an output directory behind.
    let input = InputReader::from_source(&settings.input, settings.delimiter, true)?;
    let out = prepare::output_dir(&settings, &target)?;
    let survey = match survey::survey(&settings, input, &out, &stop)? {
        survey::Surveyed::Whole(survey) => survey,
        survey::Surveyed::Stopped => {
            return finish::stopped_before_sending(&settings, &out, target, &stop, clock)
        }
    };
    let facts = survey.facts;
    let executed =
        execute::execute(&settings, &out, &target, survey.rows, &facts, &stop, &clock).await?;
    finish::finish(&settings, out, executed, &stop, clock).await
}
