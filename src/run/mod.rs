//! One run, start to finish, as named stages, each in its own file:
//!
//! 1. `prepare`: open the input (its header is checked before any output directory
//!    exists; a fifo with no writer yet waits on a thread, so a signal is heard), then the
//!    output directory: lock it, read an earlier run, refuse what would overwrite a record
//!    or resume against another target.
//! 2. `survey`: read the whole input once (validating it when the run sends), copying it into
//!    a spool, so a pipe or standard input works, and finding which lines may repeat
//!    another; refuse before sending when the input differs from a resumed run's or would
//!    message users without permission.
//! 3. `execute`: stream the rows through the engine (or, offline, straight to the
//!    results), recording every row.
//! 4. `finish`: the summary, the exit status, the final log lines.
//!
//! Every refusal before sending is a [`RunError`] (exit 2); a stop at any stage is exit 3.
//!
//! Stages go one way: each takes what the one before returned (the types in `handoff`) and
//! hands its own result on; none imports another. What several stages share (the clock, the
//! rules rows fall back on, the summary as sending begins) lives here.

mod execute;
mod finish;
mod handoff;
mod prepare;
mod signals;
mod survey;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub use signals::{install_signal_handlers, load_settings, Loaded};

use crate::codes::Code;
use crate::config::{RunMode, Settings};
pub(crate) use crate::exit::{ExitStatus, RunReport};
use crate::input::InputError;
use crate::output::summary::{
    now_rfc3339, InputInfo, Notice, SettingsEcho, ShardInfo, Summary, Target,
};
use crate::output::{report, OutputError, SUMMARY_FILE};
use crate::sandbox::SANDBOX_POLICY_ID;
use crate::stop::Stop;
use crate::validate::Rules;
use crate::words::count;
use handoff::{InputFacts, OutputDir, Surveyed};

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
    #[error("--resume: {} cannot be shown to hold an earlier run of this input, target and shard: {why}; run without --resume into a new --out (nothing was sent, and nothing in the directory changed)", dir.display())]
    ResumeUnproven { dir: PathBuf, why: String },
    #[error("--resume: {} was written against {earlier}, but this run is against {now}; resume against the same target, or choose another --out (nothing was sent)", dir.display())]
    OtherTarget {
        dir: PathBuf,
        // Boxed: two targets would make every `RunError` as large as both.
        earlier: Box<Target>,
        now: Box<Target>,
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
    #[error("{} create ACTIVATION_REQUIRED devices ({}), and PingOne would send each of those users a pairing message (at most 50 SMS and 50 emails per user per day); pass --allow-messages or set [enroll] allow_messages = true if that is intended (nothing was sent)", count(*rows, "row would", "rows would"), crate::words::first_lines(*rows, first_lines))]
    WouldMessageUsers { rows: u64, first_lines: Vec<u64> },
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
    #[error("cannot reach the {role} {host}, set by {set_by} ({problem}); check that setting, the network, DNS and any proxy (HTTPS_PROXY), then run again (nothing was sent)")]
    Unreachable {
        role: &'static str,
        host: String,
        set_by: String,
        problem: String,
    },
}

/// Where this run's requests go, as summary.json records it.
fn target_of(settings: &Settings) -> Target {
    match (&settings.mode, settings.use_sandbox, &settings.connection) {
        (RunMode::DryRunOffline, _, _) => Target::Offline,
        (_, true, _) => Target::Sandbox,
        (_, false, Some(connection)) => Target::Pingone {
            environment_id: connection.environment_id.clone(),
            api_host: connection.api_host(),
            worker_environment_id: Some(connection.worker_environment_id.clone()),
        },
        (_, false, None) => Target::Offline,
    }
}

/// When the run started, by the clock and by the calendar.
pub(crate) struct Clock {
    started: Instant,
    started_at: String,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            started: Instant::now(),
            started_at: now_rfc3339(),
        }
    }
}

/// Whether this run switches users' MFA on: asked for, or carried on from the run that
/// `--resume` continues (whose rows of users still to switch on it redoes).
pub(crate) fn enable_mfa(settings: &Settings, out: &OutputDir) -> bool {
    let earlier = out.has_results
        && out
            .earlier
            .as_ref()
            .is_some_and(|summary| summary.settings.enable_mfa);
    settings.enroll.enable_mfa || earlier
}

/// The defaults a row falls back on.
fn rules_for(settings: &Settings) -> Rules {
    let sandbox_policy = settings
        .use_sandbox
        .then(|| uuid::Uuid::parse_str(SANDBOX_POLICY_ID).ok())
        .flatten();
    Rules {
        default_policy: settings.enroll.policy_id.or(sandbox_policy),
        default_status: settings.enroll.status,
        default_country: settings.enroll.default_country,
    }
}

/// What a run says once, at its start, about the whole run: a default it lacks.
fn notices(settings: &Settings) -> Vec<Notice> {
    let mut notices = Vec::new();
    if rules_for(settings).default_policy.is_none() {
        let config = match &settings.config_file {
            Some(path) => format!("in {}", path.display()),
            None => "(no config file was loaded)".to_string(),
        };
        notices.push(Notice {
            code: Code::MissingPolicy.as_str().to_string(),
            message: format!(
                "no default device authentication policy: no --policy-id, and no [enroll] \
                 policy_id {config}; rows with an empty policy_id are invalid (MISSING_POLICY), \
                 and every other check still runs"
            ),
        });
    }
    notices
}

/// The run's first log lines: which config file it read, and its notices.
fn announce(settings: &Settings) {
    match &settings.config_file {
        Some(path) => tracing::info!(config = %path.display(), "config file loaded"),
        None => tracing::info!(
            "no config file loaded (no --config, and no mfa-enroll.toml in the working directory)"
        ),
    }
    for notice in notices(settings) {
        tracing::warn!(code = notice.code, "{}", notice.message);
    }
}

/// summary.json as written when the run begins sending (or stops before it could).
fn initial_summary(
    settings: &Settings,
    out: &OutputDir,
    target: &Target,
    facts: &InputFacts,
    clock: &Clock,
) -> Summary {
    let first_started_at = out
        .earlier
        .as_ref()
        .filter(|_| out.has_results)
        .map(|p| p.first_started_at.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| clock.started_at.clone());
    Summary {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        mode: settings.mode,
        sandbox: settings.use_sandbox,
        target: Some(target.clone()),
        input: InputInfo {
            path: settings.input.display_path().display().to_string(),
            sha256: facts.sha256.clone(),
            records: facts.records,
            lines: facts.lines.clone(),
        },
        shard: facts.assignment.map(|a| ShardInfo {
            index: a.shard.index,
            count: a.shard.count,
            keyed_by: a.keyed_by,
        }),
        first_started_at,
        started_at: clock.started_at.clone(),
        settings: SettingsEcho {
            rate: settings.limits.rate,
            concurrency: settings.limits.concurrency,
            max_retries: settings.limits.max_retries,
            on_existing: settings.enroll.on_existing,
            enable_mfa: enable_mfa(settings, out),
        },
        resumed_rows: out.finished.len() as u64,
        notices: notices(settings),
        ..Summary::default()
    }
}

pub async fn run(settings: Settings, stop: Arc<Stop>) -> Result<RunReport, RunError> {
    let clock = Clock::start();
    let target = target_of(&settings);
    // The input first: a bad header must not leave an output directory behind.
    let Some(input) = prepare::input(&settings, &stop).await? else {
        let out = prepare::output_dir(&settings, &target)?;
        return finish::stopped_before_sending(&settings, &out, target, &stop, clock);
    };
    announce(&settings);
    let out = prepare::output_dir(&settings, &target)?;
    let refused = |error: RunError| {
        report_refusal(&settings, &out, &target, &clock, &error);
        error
    };
    let (rows, facts) = match survey::survey(&settings, input, &out, &stop).map_err(refused)? {
        Surveyed::Whole { rows, facts } => (rows, *facts),
        Surveyed::Stopped => {
            return finish::stopped_before_sending(&settings, &out, target, &stop, clock)
        }
    };
    let executed = execute::execute(&settings, &out, &target, rows, &facts, &stop, &clock)
        .await
        .map_err(refused)?;
    finish::finish(&settings, out, executed, &stop, clock).await
}

/// A refusal once `--out` exists leaves a report that says why nothing was sent, unless the
/// directory holds an earlier run's record (its report stays that run's).
fn report_refusal(
    settings: &Settings,
    out: &OutputDir,
    target: &Target,
    clock: &Clock,
    error: &RunError,
) {
    if out.dir.join(SUMMARY_FILE).exists() || out.has_results {
        return;
    }
    let mut summary = initial_summary(settings, out, target, &InputFacts::default(), clock);
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = clock.started.elapsed().as_secs_f64();
    summary.exit_code = Some(ExitStatus::NothingSent.code());
    let message = crate::logging::mask_text(&error.to_string());
    if let Err(e) = report::write_refusal(&out.dir, &summary, &message) {
        tracing::warn!("cannot write the report: {e}");
    }
}
