//! Stage 3: the rows, in file order, each to its result. Invalid rows are recorded at once;
//! valid rows go to the engine (live or online dry run) or straight to results (offline).
//! After a stop, the rows not yet sent are recorded as not attempted, without validating
//! them, so every record still gets its row and the stop takes moments.

use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt;

use super::finish::{self, Clock};
use super::prepare::OutputDir;
use super::survey::{self, InputFacts, Rows};
use super::RunError;
use crate::cli::LogFormat;
use crate::codes::Code;
use crate::config::{Connection, RunMode, Settings};
use crate::dispatch::retry::RetryPolicy;
use crate::dispatch::{self, results, Engine, EngineConfig, Job};
use crate::input::{Column, Header, InputReader, Record};
use crate::model::DeviceType;
use crate::output::progress::{LiveCounters, Progress, ProgressSource};
use crate::output::resume;
use crate::output::summary::{Summary, Target};
use crate::output::writer::{ErrorsLayout, Tallies};
use crate::output::{Outcome, Recorder, RecorderHandle, RowResult};
use crate::pingone::{Client, RequestStats};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::stop::{Stop, StopReason};
use crate::validate::stream::{StreamError, ValidatedRows, Verdict};
use crate::validate::{self, RowError};

/// What stage 3 hands to stage 4.
pub struct Executed {
    /// The summary as written when sending began.
    pub summary: Summary,
    /// This run's rows (rows finished by an earlier run are not in here).
    pub tallies: Tallies,
    pub stats: Arc<RequestStats>,
    pub client: Option<Arc<Client>>,
    pub engine: Option<Arc<Engine>>,
    pub sandbox: Option<Sandbox>,
    /// The input's SHA-256 when this stage read the input itself.
    pub sha256: Option<String>,
}

async fn start_sandbox(settings: &Settings) -> Result<Option<Sandbox>, RunError> {
    if !(settings.use_sandbox && settings.mode.sends_requests()) {
        return Ok(None);
    }
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), SandboxOptions::default())
        .await
        .map_err(|source| RunError::Sandbox { source })?;
    tracing::warn!(
        "SANDBOX: running against a simulated PingOne at {}; nothing real is touched",
        sandbox.addr()
    );
    Ok(Some(sandbox))
}

/// The client, once its first token shows the server's certificate is trusted: a TLS
/// problem is a refusal before anything is sent or recorded.
async fn client_for(
    settings: &Settings,
    connection: Option<Connection>,
    stats: &Arc<RequestStats>,
    stop: &Arc<Stop>,
) -> Result<Option<Arc<Client>>, RunError> {
    if !settings.mode.sends_requests() {
        return Ok(None);
    }
    let connection = connection.ok_or(RunError::NoConnection)?;
    let client = Client::new(&connection, &settings.limits, stop.clone(), stats.clone())
        .map_err(|source| RunError::HttpClient { source })?;
    match client.preflight().await {
        Err(crate::pingone::ApiError::Untrusted { host, problem }) => {
            Err(RunError::Untrusted { host, problem })
        }
        _ => Ok(Some(Arc::new(client))),
    }
}

fn engine_for(
    settings: &Settings,
    out: &OutputDir,
    client: &Arc<Client>,
    stats: &Arc<RequestStats>,
    recorder: RecorderHandle,
    stop: &Arc<Stop>,
) -> Arc<Engine> {
    // On --resume, a device made since the first run started is a row's own: the run that
    // made it died before recording it.
    let since = out.has_results.then(|| {
        let first_started = out
            .earlier
            .as_ref()
            .and_then(|s| humantime::parse_rfc3339_weak(&s.first_started_at).ok());
        // Without the earlier start time, any matching device may be the earlier run's.
        first_started.unwrap_or(SystemTime::UNIX_EPOCH) - dispatch::CLOCK_SKEW
    });
    Engine::new(
        client.clone(),
        RetryPolicy::new(&settings.limits, stats.clone(), stop.clone()),
        recorder,
        stop.clone(),
        EngineConfig {
            mode: settings.mode,
            on_existing: settings.enroll.on_existing,
            created_by_earlier_run_since: since,
            concurrency: settings.limits.concurrency,
            claimed_before: out.finished.claimed_devices.clone(),
        },
    )
}

pub async fn execute(
    settings: &Settings,
    out: &OutputDir,
    target: &Target,
    rows: Rows,
    facts: &InputFacts,
    stop: &Arc<Stop>,
    clock: &Clock,
) -> Result<Executed, RunError> {
    let sandbox = start_sandbox(settings).await?;
    let connection = match &sandbox {
        Some(sandbox) => Some(sandbox.connection()),
        None => settings.connection.clone(),
    };
    let stats = Arc::new(RequestStats::default());
    let client = client_for(settings, connection, &stats, stop).await?;
    let (reader, _spool) = survey::open_rows(settings, rows)?;
    // Every refusal has passed: now results.csv may change. It keeps one row per record, so
    // the rows to do again leave it before they are appended anew.
    if out.has_results {
        resume::keep_only_finished(&out.dir, &out.finished)?;
    }
    let summary = finish::initial_summary(settings, out, target, facts, clock);
    summary.write(&out.dir)?;

    let counters = Arc::new(LiveCounters::default());
    let layout = ErrorsLayout {
        input_header: reader.header().raw.clone(),
        carried: reader.header().carried.clone(),
    };
    let recorder = Recorder::start(
        &out.dir,
        layout,
        out.has_results,
        counters.clone(),
        stop.clone(),
    )?;
    let engine = client
        .as_ref()
        .map(|client| engine_for(settings, out, client, &stats, recorder.handle(), stop));
    let progress = start_progress(settings, out, facts, counters, client.is_some(), &stats);
    let sha256 = feed(settings, out, reader, engine.clone(), &recorder, stop).await;
    let tallies = match recorder.finish() {
        Ok(t) => t,
        Err(e) => {
            // The stop was already requested; the summary says why.
            tracing::error!("{e}");
            Tallies::default()
        }
    };
    progress.finish().await;
    Ok(Executed {
        summary,
        tallies,
        stats,
        client,
        engine,
        sandbox,
        sha256,
    })
}

/// The progress display, and the log line that opens the run.
fn start_progress(
    settings: &Settings,
    out: &OutputDir,
    facts: &InputFacts,
    counters: Arc<LiveCounters>,
    sends: bool,
    stats: &Arc<RequestStats>,
) -> Progress {
    tracing::info!(
        mode = ?settings.mode,
        input = %settings.input.display_path().display(),
        out = %out.dir.display(),
        records = facts.records,
        resumed_rows = out.finished.len(),
        rate = settings.limits.rate,
        concurrency = settings.limits.concurrency,
        "run started"
    );
    Progress::start(
        ProgressSource {
            total: facts
                .records
                .map(|r| r.saturating_sub(out.finished.len() as u64)),
            counters,
            requests: sends.then(|| stats.clone()),
            success_word: match settings.mode {
                RunMode::Live => "created/skipped",
                RunMode::DryRunOffline => "valid",
                RunMode::DryRunOnline => "planned",
            },
        },
        !settings.quiet && settings.log_format == LogFormat::Text,
    )
}

/// Streams every record to its result; returns the input's SHA-256 once read to the end.
async fn feed(
    settings: &Settings,
    out: &OutputDir,
    reader: InputReader,
    engine: Option<Arc<Engine>>,
    recorder: &Recorder,
    stop: &Arc<Stop>,
) -> Option<String> {
    let header = reader.header().clone();
    let (checker, finisher) = validate::split(header.clone(), survey::rules_for(settings));
    let mut validated = ValidatedRows::start(reader, checker, finisher, stop.clone());
    let handle = recorder.handle();
    let sends = engine.is_some();
    let jobs = std::iter::from_fn(|| loop {
        let (record, verdict) = match validated.next()? {
            Ok(pair) => pair,
            Err(StreamError::Input(e)) => {
                tracing::error!("{e}");
                stop.request(StopReason::InputBroken(e.to_string()));
                return None;
            }
            Err(StreamError::Stopped) => return None,
        };
        if out.finished.contains(record.line) {
            continue;
        }
        match route(record, verdict, &header, sends, stop) {
            Route::Record(result) => handle.record(result),
            Route::Send(job) => return Some(job),
        }
    });
    match engine {
        Some(engine) => {
            let resolving = engine.clone();
            let concurrency = settings.limits.concurrency.max(1);
            futures::stream::iter(jobs)
                .map(|job| {
                    let engine = resolving.clone();
                    async move { engine.resolve(job).await }
                })
                .buffered(concurrency * 2)
                .for_each(|resolved| {
                    let engine = engine.clone();
                    async move { engine.assign(resolved).await }
                })
                .await;
            engine.finish().await;
        }
        None => jobs.for_each(drop),
    }
    validated.sha256_hex().map(str::to_string)
}

enum Route {
    Record(RowResult),
    Send(Job),
}

/// Where one record goes: straight to results.csv, or to PingOne.
fn route(record: Record, verdict: Verdict, header: &Header, sends: bool, stop: &Stop) -> Route {
    match verdict {
        // The run stopped before this record was validated.
        None => Route::Record(record_result(&record, header, Outcome::Failed).with_error(
            Code::NotAttempted,
            "the run stopped before this row was read; run again with --resume",
        )),
        Some(Err(error)) => Route::Record(invalid(&record, header, error)),
        // errors.csv never needs a valid row's fields.
        Some(Ok(spec)) if !sends => Route::Record(results::spec_result(
            record.line,
            csv::ByteRecord::new(),
            &spec,
            &spec.user.id_text(),
            Outcome::Valid,
        )),
        Some(Ok(spec)) => {
            let job = Job {
                line: record.line,
                spec,
                raw: record.raw,
            };
            if stop.is_requested() {
                Route::Record(results::not_attempted(&job, &job.spec.user.id_text()))
            } else {
                Route::Send(job)
            }
        }
    }
}

/// A result for a record as written, before or without validation.
fn record_result(record: &Record, header: &Header, outcome: Outcome) -> RowResult {
    let cell = |c: Column| record.get(header, c).unwrap_or("").to_string();
    let mut r = RowResult::new(record.line, record.raw.clone(), outcome);
    r.row.user_id = cell(Column::UserId);
    r.row.username = cell(Column::Username);
    r.row.device_type = cell(Column::Type).to_ascii_uppercase();
    // A row whose type is not one of ours shows its phone cell, the commoner destination.
    let uses_phone = r
        .row
        .device_type
        .parse::<DeviceType>()
        .map_or(true, DeviceType::uses_phone);
    r.row.destination = cell(if uses_phone {
        Column::Phone
    } else {
        Column::Email
    });
    r
}

fn invalid(record: &Record, header: &Header, error: RowError) -> RowResult {
    record_result(record, header, Outcome::Invalid).with_error(error.code, error.message)
}
