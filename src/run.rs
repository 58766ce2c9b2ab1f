//! One run, start to finish: check the input and the output directory, start the sandbox if
//! asked, validate the whole file first (a live run refuses before sending anything when the
//! file would message users without permission), then stream the rows through the engine and
//! write the summary. Returns the exit status; every refusal before sending is a [`RunError`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::StreamExt;

use crate::config::{RunMode, Settings};
use crate::dispatch::retry::RetryPolicy;
use crate::dispatch::{self, Engine, EngineConfig, EngineMode, Job};
use crate::input::{InputError, InputReader, Record};
use crate::model::{DeviceType, OnExisting};
use crate::output::progress::{LiveCounters, Progress, ProgressSource};
use crate::output::summary::{
    now_rfc3339, InputInfo, Plan, RequestCounts, SettingsEcho, StoppedEarly, Summary,
};
use crate::output::writer::ErrorsLayout;
use crate::output::{
    lock, resume, Outcome, OutputError, Recorder, RowResult, Tallies, RESULTS_FILE,
};
use crate::pingone::{Client, RequestStats};
use crate::sandbox::{Sandbox, SandboxOptions, SANDBOX_POLICY_ID};
use crate::stop::{Stop, StopReason};
use crate::validate::stream::ValidatedRows;
use crate::validate::{self, Rules};

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
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug)]
pub struct RunReport {
    pub exit: ExitStatus,
    pub summary: Summary,
}

/// Rows that a live run would have PingOne message, per type.
#[derive(Debug, Default)]
struct FirstPass {
    records: u64,
    messages: std::collections::BTreeMap<DeviceType, u64>,
    sha256: String,
}

fn prepare_out_dir(dir: &Path) -> Result<(), OutputError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| OutputError::io(dir, e))
}

fn rules_for(settings: &Settings) -> Rules {
    let sandbox_policy = settings
        .use_sandbox
        .then(|| uuid::Uuid::parse_str(SANDBOX_POLICY_ID).expect("a valid constant"));
    Rules {
        default_policy: settings.enroll.policy_id.or(sandbox_policy),
        default_status: settings.enroll.status,
        default_country: settings.enroll.default_country,
    }
}

/// Reads and validates the whole file once: counts records, and the pairing messages of the
/// rows still to do; hashes the file.
fn first_pass(settings: &Settings, finished: &resume::Finished) -> Result<FirstPass, InputError> {
    let reader = InputReader::open(&settings.input, settings.delimiter)?;
    let (checker, finisher) = validate::split(reader.header().clone(), rules_for(settings));
    let mut rows = ValidatedRows::start(reader, checker, finisher);
    let mut pass = FirstPass::default();
    for item in rows.by_ref() {
        let (record, verdict) = item?;
        pass.records += 1;
        if let Ok(spec) = verdict {
            if spec.sends_pairing_message() && !finished.contains(record.line) {
                *pass.messages.entry(spec.device_type).or_default() += 1;
            }
        }
    }
    pass.sha256 = rows.sha256_hex().unwrap_or_default().to_string();
    Ok(pass)
}

fn invalid_result(
    record: &Record,
    header: &crate::input::Header,
    error: crate::validate::RowError,
) -> RowResult {
    use crate::input::Column;
    let cell = |c: Column| record.get(header, c).unwrap_or("").to_string();
    let mut r = RowResult::new(record.line, record.raw.clone(), Outcome::Invalid);
    r.user_id = cell(Column::UserId);
    r.username = cell(Column::Username);
    r.device_type = cell(Column::Type).to_ascii_uppercase();
    r.destination = match r.device_type.parse::<DeviceType>() {
        Ok(DeviceType::Email) => cell(Column::Email),
        _ => cell(Column::Phone),
    };
    r.with_error(error.code.as_str(), error.message)
}

pub async fn run(mut settings: Settings, stop: Arc<Stop>) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    // The input first: a bad file must not leave an output directory behind.
    drop(InputReader::open(&settings.input, settings.delimiter)?);
    prepare_out_dir(&settings.out_dir)?;
    let _lock = lock::acquire(&settings.out_dir)?;
    let results_path = settings.out_dir.join(RESULTS_FILE);
    let has_results = results_path.exists();
    if has_results && !settings.resume {
        return Err(RunError::Refused(format!(
            "{} already holds the record of an earlier run; pass --resume to continue it, or choose another --out (nothing was sent)",
            results_path.display()
        )));
    }
    let previous = if has_results {
        Summary::read(&settings.out_dir)
    } else {
        if settings.resume {
            tracing::info!(
                "--resume: {} has no results.csv yet; starting from the first row",
                settings.out_dir.display()
            );
        }
        None
    };

    let finished = if has_results {
        resume::read_finished(&settings.out_dir)?
    } else {
        resume::Finished::default()
    };
    // Validate the whole file before anything is sent.
    let pre = if settings.mode == RunMode::DryRunOffline && previous.is_none() {
        None
    } else {
        Some(first_pass(&settings, &finished)?)
    };
    if let (Some(prev), Some(pre)) = (&previous, &pre) {
        if let Some(prev_hash) = &prev.input.sha256 {
            if *prev_hash != pre.sha256 {
                return Err(RunError::Refused(format!(
                    "{}: the input differs from the one this output directory's run used ({}); resume with the same file, or choose another --out",
                    settings.input.display(),
                    prev.input.path
                )));
            }
        }
    }
    if has_results {
        resume::keep_only_finished(&settings.out_dir, &finished)?;
    }
    let messages: u64 = pre.as_ref().map(|p| p.messages.values().sum()).unwrap_or(0);
    if settings.mode == RunMode::Live
        && !settings.use_sandbox
        && !settings.enroll.allow_messages
        && messages > 0
    {
        return Err(RunError::Refused(format!(
            "{messages} rows would create ACTIVATION_REQUIRED devices, and PingOne would send each of those users a pairing message (at most 50 SMS and 50 emails per user per day); pass --allow-messages or set [enroll] allow_messages = true if that is intended (nothing was sent)"
        )));
    }

    // The sandbox, when asked for, stands in for PingOne.
    let sandbox = if settings.use_sandbox && settings.mode.sends_requests() {
        let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxOptions::default())
            .await
            .map_err(|e| RunError::Refused(format!("cannot start the sandbox on loopback: {e}")))?;
        tracing::warn!(
            "SANDBOX: running against a simulated PingOne at {}; nothing real is touched",
            sandbox.addr()
        );
        settings.connection = Some(sandbox.connection());
        Some(sandbox)
    } else {
        None
    };

    let first_started_at = previous
        .as_ref()
        .map(|p| p.first_started_at.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| started_at.clone());
    let mut summary = Summary {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        mode: match settings.mode {
            RunMode::Live => "live",
            RunMode::DryRunOffline => "dry_run",
            RunMode::DryRunOnline => "dry_run_online",
        }
        .into(),
        sandbox: settings.use_sandbox,
        input: InputInfo {
            path: settings.input.display().to_string(),
            sha256: pre.as_ref().map(|p| p.sha256.clone()),
            records: pre.as_ref().map(|p| p.records),
        },
        first_started_at: first_started_at.clone(),
        started_at,
        settings: SettingsEcho {
            rate: settings.limits.rate,
            concurrency: settings.limits.concurrency,
            max_retries: settings.limits.max_retries,
            on_existing: match settings.enroll.on_existing {
                OnExisting::Skip => "skip".into(),
                OnExisting::Create => "create".into(),
            },
        },
        resumed_rows: finished.len() as u64,
        ..Summary::default()
    };
    summary.write(&settings.out_dir)?;

    // From here on, rows go out and results come back.
    let stats = Arc::new(RequestStats::default());
    let counters = Arc::new(LiveCounters::default());
    let reader = InputReader::open(&settings.input, settings.delimiter)?;
    let layout = ErrorsLayout {
        input_header: reader.header().raw.clone(),
        carried: reader.header().carried.clone(),
    };
    let recorder = Recorder::start(
        &settings.out_dir,
        layout,
        has_results,
        counters.clone(),
        stop.clone(),
    )?;
    let sends = settings.mode.sends_requests();
    let progress = Progress::start(
        ProgressSource {
            total: pre.as_ref().map(|p| p.records - finished.len() as u64),
            counters: counters.clone(),
            requests: sends.then(|| stats.clone()),
            success_word: match settings.mode {
                RunMode::Live => "created/skipped",
                RunMode::DryRunOffline => "valid",
                RunMode::DryRunOnline => "planned",
            },
        },
        !settings.quiet && settings.log_format == crate::cli::LogFormat::Text,
    );

    tracing::info!(
        mode = summary.mode.as_str(),
        input = %settings.input.display(),
        out = %settings.out_dir.display(),
        records = summary.input.records,
        resumed_rows = summary.resumed_rows,
        rate = settings.limits.rate,
        concurrency = settings.limits.concurrency,
        "run started"
    );
    let header = reader.header().clone();
    let (checker, finisher) = validate::split(header.clone(), rules_for(&settings));
    let mut validated = ValidatedRows::start(reader, checker, finisher);
    let recorder_handle = recorder.handle();
    let mut engine: Option<Arc<Engine>> = None;
    let mut client: Option<Arc<Client>> = None;
    if sends {
        let connection = settings
            .connection
            .as_ref()
            .ok_or_else(|| RunError::Refused("no PingOne connection is configured".into()))?;
        let api = Arc::new(
            Client::new(connection, &settings.limits, stop.clone(), stats.clone())
                .map_err(|e| RunError::Refused(format!("cannot set up HTTPS: {e}")))?,
        );
        let since = (settings.resume && has_results).then(|| {
            humantime::parse_rfc3339_weak(&first_started_at).unwrap_or(SystemTime::UNIX_EPOCH)
                - dispatch::CLOCK_SKEW
        });
        engine = Some(Engine::new(
            api.clone(),
            RetryPolicy::new(&settings.limits, stats.clone(), stop.clone()),
            recorder_handle.clone(),
            stop.clone(),
            EngineConfig {
                mode: if settings.mode == RunMode::Live {
                    EngineMode::Live
                } else {
                    EngineMode::Plan
                },
                on_existing: settings.enroll.on_existing,
                created_by_earlier_run_since: since,
                concurrency: settings.limits.concurrency,
            },
        ));
        client = Some(api);
    }

    // The rows, in file order. Invalid rows are recorded at once; after a stop, the rest are
    // recorded as not attempted, so every record still gets its row.
    let skip = &finished;
    let rows = std::iter::from_fn(|| loop {
        let (record, verdict) = match validated.next() {
            Some(Ok(pair)) => pair,
            None => return None,
            Some(Err(e)) => {
                stop.request(StopReason::InputBroken(e.to_string()));
                return None;
            }
        };
        if skip.contains(record.line) {
            continue;
        }
        match verdict {
            Err(error) => recorder_handle.record(invalid_result(&record, &header, error)),
            // errors.csv never needs a valid row's fields.
            Ok(spec) if !sends => recorder_handle.record(dispatch::spec_result(
                record.line,
                csv::ByteRecord::new(),
                &spec,
                &spec.user.id_text(),
                Outcome::Valid,
            )),
            Ok(spec) if stop.is_requested() => {
                recorder_handle.record(dispatch::not_attempted(Job {
                    line: record.line,
                    spec,
                    raw: record.raw,
                }))
            }
            Ok(spec) => {
                return Some(Job {
                    line: record.line,
                    spec,
                    raw: record.raw,
                })
            }
        }
    });
    match &engine {
        Some(engine) => {
            let resolving = engine.clone();
            futures::stream::iter(rows)
                .map(|job| {
                    let engine = resolving.clone();
                    async move { engine.resolve(job).await }
                })
                .buffered(settings.limits.concurrency.max(1) * 2)
                .for_each(|resolved| {
                    let engine = engine.clone();
                    async move { engine.assign(resolved).await }
                })
                .await;
            engine.finish().await;
        }
        None => rows.for_each(drop),
    }
    let input_sha256 = validated
        .sha256_hex()
        .map(str::to_string)
        .or_else(|| pre.as_ref().map(|p| p.sha256.clone()));
    drop(recorder_handle);
    let users_over_limit = engine
        .as_ref()
        .map(|e| e.users_over_message_limit())
        .unwrap_or_default();
    let usernames_resolved = engine.as_ref().map(|e| e.usernames_resolved()).unwrap_or(0);
    let max_allowed_devices = engine.as_ref().and_then(|e| e.max_allowed_devices());
    drop(engine);
    let written = recorder.finish();
    progress.finish().await;
    let tallies = match written {
        Ok(t) => t,
        Err(e) => {
            // The stop was already requested; the summary says why.
            tracing::error!("{e}");
            Tallies::default()
        }
    };
    let mut all = finished.tallies.clone();
    all.merge(&tallies);

    let elapsed = started.elapsed().as_secs_f64();
    summary.set_tallies(&all);
    summary.input.sha256 = input_sha256;
    summary.input.records.get_or_insert(all.rows);
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = round3(elapsed);
    summary.throughput_rows_per_s = round3(tallies.rows as f64 / elapsed.max(1e-9));
    summary.requests = RequestCounts {
        total: RequestStats::get(&stats.requests),
        get: RequestStats::get(&stats.gets),
        post: RequestStats::get(&stats.posts),
        retries: RequestStats::get(&stats.retries),
        throttled_429: RequestStats::get(&stats.throttled),
        tokens: client.as_ref().map(|c| c.tokens_fetched()).unwrap_or(0),
    };
    if settings.mode == RunMode::DryRunOnline {
        let would_create = all.count(Outcome::WouldCreate);
        let would_skip = all.count(Outcome::WouldSkipExisting);
        let per_create = if settings.enroll.on_existing == OnExisting::Skip {
            2
        } else {
            1
        };
        let requests_needed = would_create * per_create + would_skip + usernames_resolved;
        summary.plan = Some(Plan {
            max_allowed_devices,
            pairing_messages: all.messages_by_type.clone(),
            users_over_daily_message_limit: users_over_limit,
            requests_needed,
            rate: settings.limits.rate,
            duration_at_rate_s: round3(requests_needed as f64 / f64::from(settings.limits.rate)),
        });
    }
    let exit = match stop.reason() {
        Some(reason) => {
            summary.stopped_early = Some(StoppedEarly {
                code: reason.code().into(),
                reason: crate::logging::mask_text(&reason.to_string()),
            });
            ExitStatus::StoppedEarly
        }
        None if all.problems() > 0 => ExitStatus::RowProblems,
        None => ExitStatus::Success,
    };
    summary.finished = true;
    summary.exit_code = Some(exit.code());
    summary.write(&settings.out_dir)?;
    let count = |o: Outcome| all.count(o);
    tracing::info!(
        exit_code = exit.code(),
        rows = all.rows,
        created = count(Outcome::Created),
        skipped_existing = count(Outcome::SkippedExisting),
        invalid = count(Outcome::Invalid),
        failed = count(Outcome::Failed),
        valid = count(Outcome::Valid),
        would_create = count(Outcome::WouldCreate),
        would_skip_existing = count(Outcome::WouldSkipExisting),
        requests = summary.requests.total,
        retries = summary.requests.retries,
        throttled_429 = summary.requests.throttled_429,
        duration_s = summary.duration_s,
        stopped_early = summary.stopped_early.as_ref().map(|s| s.code.as_str()),
        "run finished"
    );
    if let Some(sandbox) = sandbox {
        let tally = sandbox.tally();
        tracing::info!(
            requests = tally.requests,
            devices_created = tally.devices_created,
            duplicate_devices = tally.duplicate_devices,
            throttled_429 = tally.throttled_429,
            "sandbox tally"
        );
        sandbox.shutdown().await;
    }
    Ok(RunReport { exit, summary })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Ctrl-C and SIGTERM: the first stops the run gracefully, the second exits at once (3).
pub fn install_signal_handlers(stop: Arc<Stop>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for signals; Ctrl-C will end the run at once");
            return;
        };
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            seen += 1;
            if seen > 1 {
                eprintln!("{name} again: exiting now; results.csv holds every row finished so far. Resume with --resume.");
                std::process::exit(ExitStatus::StoppedEarly.code());
            }
            tracing::warn!("{name}: no new requests; waiting for those in flight (press Ctrl-C again to exit at once)");
            stop.request(StopReason::Interrupted(name));
        }
    });
}

/// The human summary printed at the end.
pub fn describe(report: &RunReport, out_dir: &Path) -> String {
    let s = &report.summary;
    let mut text = String::new();
    let outcomes: Vec<String> = s.outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
    text.push_str(&format!(
        "{} rows: {} ({:.1}s, {:.1} rows/s)\n",
        s.rows,
        if outcomes.is_empty() {
            "none".to_string()
        } else {
            outcomes.join(", ")
        },
        s.duration_s,
        s.throughput_rows_per_s
    ));
    if s.requests.total > 0 {
        text.push_str(&format!(
            "requests: {} ({} GET, {} POST), {} retries, {} answered 429\n",
            s.requests.total,
            s.requests.get,
            s.requests.post,
            s.requests.retries,
            s.requests.throttled_429
        ));
    }
    if s.resumed_rows > 0 {
        text.push_str(&format!(
            "{} rows were finished by an earlier run and left alone\n",
            s.resumed_rows
        ));
    }
    if let Some(plan) = &s.plan {
        let messages: u64 = plan.pairing_messages.values().sum();
        text.push_str(&format!(
            "plan: a real run needs about {} requests, {:.0}s at {} requests/s; it would send {} pairing messages",
            plan.requests_needed, plan.duration_at_rate_s, plan.rate, messages
        ));
        if !plan.users_over_daily_message_limit.is_empty() {
            text.push_str(&format!(
                "; {} users would pass PingOne's 50 SMS or emails a day",
                plan.users_over_daily_message_limit.len()
            ));
        }
        text.push('\n');
    }
    if let Some(stopped) = &s.stopped_early {
        text.push_str(&format!(
            "STOPPED EARLY ({}): {}\nrun the same command with --resume to continue\n",
            stopped.code, stopped.reason
        ));
    }
    text.push_str(&format!(
        "results: {}  errors: {}  summary: {}\n",
        out_dir.join("results.csv").display(),
        out_dir.join("errors.csv").display(),
        out_dir.join("summary.json").display()
    ));
    text
}
