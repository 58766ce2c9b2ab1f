//! Stage 3: the rows, in file order, each to its result. Invalid rows are recorded at once;
//! valid rows go to the engine (live or online dry run) or straight to results (offline).
//! After a stop, the rows not yet sent are recorded as not attempted, without validating
//! them, so every record still gets its row and the stop takes moments.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures::StreamExt;

use super::context::RunContext;
use super::error::RunError;
use super::handoff::{Executed, InputFacts, OutputDir, Rows};
use super::{notices, quotas};
use crate::cli::LogFormat;
use crate::codes::Code;
use crate::config::{Connection, RunMode, Settings};
use crate::dispatch::retry::RetryPolicy;
use crate::dispatch::workload::{PlanRules, RequestPlan};
use crate::dispatch::{self, results, Engine, EngineConfig, Job, Unresolved};
use crate::input::{Header, InputReader, Record};
use crate::pingone::{ApiError, Client, PreflightHost, RequestStats};
use crate::present::progress::{Progress, ProgressSource};
use crate::record::journal::{Journal, JOURNAL_FILE};
use crate::record::resume;
use crate::record::summary::now_rfc3339;
use crate::record::timeline::Sampler;
use crate::record::writer::ErrorsLayout;
use crate::record::{
    LiveCounters, Outcome, OutputError, Recorder, RecorderHandle, RowResult, Tallies,
};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::shard::Assignment;
use crate::stop::{Stop, StopReason};
use crate::validate::stream::{OnStop, StreamError, ValidatedRows, Verdict};
use crate::validate::{self, DeviceSpec};

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
    ctx: &RunContext,
    connection: Option<Connection>,
    stats: &Arc<RequestStats>,
) -> Result<Option<Arc<Client>>, RunError> {
    let (settings, stop) = (&ctx.settings, &ctx.stop);
    if !settings.mode.sends_requests() {
        return Ok(None);
    }
    let connection = connection.ok_or(RunError::NoConnection)?;
    let client = Client::new(&connection, &settings.limits, stop.clone(), stats.clone())
        .map_err(|source| RunError::HttpClient { source })?;
    tracing::info!(
        run_id = client.run_id(),
        "every request's X-Ping-External-Transaction-ID starts with this run's id"
    );
    match client.preflight().await {
        Ok(()) => Ok(Some(Arc::new(client))),
        Err((_, ApiError::Untrusted { host, problem })) => {
            Err(RunError::Untrusted { host, problem })
        }
        // A host could not be reached at all: nothing was sent to the API.
        Err((which, problem)) => Err(RunError::Unreachable {
            role: match which {
                PreflightHost::Token => "token host",
                PreflightHost::Api => "API host",
            },
            host: match which {
                PreflightHost::Token => connection.auth_host(),
                PreflightHost::Api => connection.api_host(),
            },
            set_by: match which {
                PreflightHost::Token => connection.auth_url_set_by.clone(),
                PreflightHost::Api => connection.api_url_set_by.clone(),
            },
            problem: match problem {
                ApiError::Connect(text) => text,
                other => other.to_string(),
            },
        }),
    }
}

/// What stage 3 works from: the run's context, the output directory, and what the survey
/// learned of the input.
#[derive(Clone, Copy)]
struct Sending<'a> {
    ctx: &'a RunContext,
    out: &'a OutputDir,
    facts: &'a InputFacts,
}

fn engine_for(
    sending: Sending<'_>,
    client: &Arc<Client>,
    stats: &Arc<RequestStats>,
    recorder: RecorderHandle,
) -> Arc<Engine> {
    let Sending { ctx, out, facts } = sending;
    let (settings, stop) = (&ctx.settings, &ctx.stop);
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
            concurrency: settings.limits.concurrency.most(),
            claimed_before: out.finished.claimed_devices.clone(),
            kinds: facts.later.kinds,
            enable_mfa: ctx.enable_mfa(out),
            late_usernames: settings.shard.is_none(),
            replace: facts.groups.clone().zip(settings.enroll.max_deletes),
            journal: Arc::new(Journal::new(&out.dir, &out.journaled)),
        },
    )
}

/// Every row of the spooled input to its result, through the engine when the run sends.
pub(crate) async fn execute(
    ctx: &RunContext,
    out: &OutputDir,
    rows: Rows,
    facts: &InputFacts,
) -> Result<Executed, RunError> {
    let (settings, stop) = (&ctx.settings, &ctx.stop);
    let sandbox = start_sandbox(settings).await?;
    let connection = match &sandbox {
        Some(sandbox) => Some(sandbox.connection()),
        None => settings.connection.clone(),
    };
    let stats = Arc::new(RequestStats::default());
    let client = client_for(ctx, connection, &stats).await?;
    // The timeline starts before the guard's reads, so that it counts every request the
    // summary does.
    let counters = Arc::new(LiveCounters::default());
    let sampler = Sampler::start(counters.clone(), stats.clone(), now_rfc3339());
    notices::hold(
        (settings, stop),
        client.as_ref().filter(|_| sandbox.is_none()),
        &stats,
        &facts.policies,
    )
    .await?;
    let (reader, spool) = rows.open(settings)?;
    let summary = begin_changing(ctx, out, facts)?;
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
    let sending = Sending { ctx, out, facts };
    let engine = client
        .as_ref()
        .map(|client| engine_for(sending, client, &stats, recorder.handle()));
    let progress = start_progress(sending, counters.clone(), client.is_some(), &stats);
    let sending_from = Instant::now();
    feed(sending, reader, engine.clone(), &recorder).await;
    let quotas = match (&client, &engine) {
        (Some(client), Some(engine))
            if settings.mode == RunMode::DryRunOnline && !stop.is_requested() =>
        {
            quotas::plan(ctx, client, engine, spool.0.clone()).await
        }
        _ => None,
    };
    drop(spool);
    let (tallies, tallies_known, in_line_order) = finish_recording(recorder, stop);
    let timeline = sampler.finish().await;
    progress.finish().await;
    Ok(Executed {
        summary,
        tallies,
        tallies_known,
        in_line_order,
        stats,
        client,
        engine,
        sandbox,
        sending_from,
        timeline,
        quotas,
    })
}

/// Every refusal has passed: now the directory may change. The summary says first that a run
/// is under way (`"finished": false`): a crash from here on leaves no finished summary whose
/// counts results.csv no longer has. results.csv keeps one row per record, so the rows to do
/// again leave it before they are appended anew.
fn begin_changing(
    ctx: &RunContext,
    out: &OutputDir,
    facts: &InputFacts,
) -> Result<crate::record::summary::Summary, RunError> {
    let summary = ctx.initial_summary(out, facts);
    summary.write(&out.dir)?;
    if out.has_results {
        resume::keep_only_finished(&out.dir, &out.finished)?;
    }
    if !ctx.settings.resume {
        // A new run's journal is its own: one left beside a record removed by hand would
        // put that run's removals on this run's rows.
        crate::files::clear_own(&out.dir.join(JOURNAL_FILE)).map_err(OutputError::from)?;
    }
    Ok(summary)
}

/// What the writer recorded, whether those counts are known, and whether it wrote in line
/// order. A failed write has stopped the run already; a crashed writer stops it here, and
/// leaves its counts unknown.
fn finish_recording(recorder: Recorder, stop: &Stop) -> (Tallies, bool, bool) {
    let written = recorder.finish();
    if let Some(e) = &written.failure {
        tracing::error!("{e}");
        if !stop.is_requested() {
            stop.request(StopReason::OutputBroken(e.to_string()));
        }
    }
    let known = !matches!(written.failure, Some(OutputError::WriterCrashed));
    (written.tallies, known, written.in_line_order)
}

/// The progress display, and the log line that opens the run.
fn start_progress(
    sending: Sending<'_>,
    counters: Arc<LiveCounters>,
    sends: bool,
    stats: &Arc<RequestStats>,
) -> Progress {
    let Sending { ctx, out, facts } = sending;
    let settings = &ctx.settings;
    let planned = planned_requests(sending).filter(|_| sends);
    tracing::info!(
        mode = ?settings.mode,
        input = %settings.input.display_path().display(),
        out = %out.dir.display(),
        records = facts.records,
        resumed_rows = out.finished.len(),
        rate = settings.limits.rate,
        concurrency = %settings.limits.concurrency.explained(),
        requests_planned = planned,
        "run started"
    );
    if settings.enroll.enable_mfa_by_default {
        tracing::warn!(
            "--sandbox rehearses enable_mfa = true: each user's MFA is switched on once a device of \
             theirs exists; --no-enable-mfa leaves it off. A live run against PingOne must choose"
        );
    }
    Progress::start(
        ProgressSource {
            // A shard's share is known only as its rows are read.
            total: facts
                .records
                .filter(|_| settings.shard.is_none())
                .map(|r| r.saturating_sub(out.finished.len() as u64)),
            counters,
            requests: sends.then(|| stats.clone()),
            planned_requests: planned,
            success_word: match settings.mode {
                RunMode::Live => "created/skipped",
                RunMode::DryRunOffline => "valid",
                RunMode::DryRunOnline => "planned",
            },
            log_every: settings.progress_every,
        },
        !settings.quiet && settings.log_format == LogFormat::Text,
    )
}

/// The requests this run plans for the rows it will work (`None` with `--shard`, whose
/// share of the rows is known only as they are read).
fn planned_requests(sending: Sending<'_>) -> Option<u64> {
    let Sending { ctx, out, facts } = sending;
    let settings = &ctx.settings;
    let rules = PlanRules {
        mode: settings.mode,
        on_existing: settings.enroll.on_existing,
        enable_mfa: ctx.enable_mfa(out),
    };
    let work = facts.later.workload.filter(|_| settings.shard.is_none())?;
    // The new-device notices' guard read each policy first (`hold_notices`).
    let guarded =
        settings.mode == RunMode::Live && !settings.use_sandbox && !settings.enroll.allow_messages;
    let guard_reads = if guarded {
        facts.policies.by_policy.len() as u64
    } else {
        0
    };
    RequestPlan::for_rows(work, rules).map(|plan| plan.total() + guard_reads)
}

/// Stage 3's next row. The failpoint `spool-read` (`return(LINE)`) fails the read at line
/// LINE, as a disk error under the spool would.
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
fn next_row(
    validated: &mut ValidatedRows,
    settings: &Settings,
) -> Option<Result<(Record, Verdict), StreamError>> {
    let next = validated.next()?;
    #[cfg(feature = "failpoints")]
    if let Ok((record, _)) = &next {
        if crate::failpoints::chosen("spool-read", &record.line.to_string()) {
            return Some(Err(StreamError::Input(crate::input::InputError::Broken {
                path: settings.input.display_path(),
                line: record.line,
                message: "failpoint spool-read".into(),
            })));
        }
    }
    Some(next)
}

/// Streams every record to its result.
async fn feed(
    sending: Sending<'_>,
    reader: InputReader,
    engine: Option<Arc<Engine>>,
    recorder: &Recorder,
) {
    let Sending { ctx, out, facts } = sending;
    let (settings, stop) = (&ctx.settings, &ctx.stop);
    let header = reader.header().clone();
    let shard = facts.assignment;
    let (checker, finisher) =
        validate::split_knowing(header.clone(), ctx.rules.clone(), facts.repeats.clone());
    let mut validated = ValidatedRows::start(
        reader,
        checker,
        finisher,
        stop.clone(),
        OnStop::ReadToTheEnd,
    );
    let handle = recorder.handle();
    let sends = engine.is_some();
    // Each record's place in the file, counted as the survey counted it.
    let mut places = 0u64..;
    let mut last_read = 1;
    let jobs = std::iter::from_fn(|| loop {
        let place = places.next().unwrap_or(u64::MAX);
        let (record, verdict) = match next_row(&mut validated, settings)? {
            Ok(pair) => pair,
            Err(StreamError::Input(e)) => {
                tracing::error!("{e}");
                stop.request(StopReason::InputBroken(e.to_string()));
                if shard.is_none() {
                    record_unread(last_read, facts, out, &header, &handle);
                }
                return None;
            }
            // Not met here: this pass reads to the end after a stop (`OnStop::ReadToTheEnd`).
            Err(StreamError::Stopped) => return None,
        };
        last_read = record.line;
        if out.finished.contains(record.line) {
            continue;
        }
        match route(record, verdict, &header, sends, shard.as_ref(), stop) {
            Route::Record(result) => handle.record(result),
            Route::Send(job) => return Some(as_resumed(job, out, facts.later.continues(place))),
            Route::NotOurs => {}
        }
    });
    match engine {
        Some(engine) => send(ctx, engine, jobs, shard.as_ref()).await,
        None => jobs.for_each(drop),
    }
}

/// A job with what this run knows of it: whether rows to come need its user's state, and on
/// --resume what the line's earlier row said.
fn as_resumed(job: Job, out: &OutputDir, continues: bool) -> Job {
    Job {
        continues,
        settled_before: out.finished.settled(job.line),
        unconfirmed_before_run: out.finished.unconfirmed(job.line),
        owed_before: out.finished.owed(job.line).cloned().map(Box::new),
        ..job
    }
}

/// The rows to send through the engine: read a little ahead (so usernames are looked up in
/// batches), their users resolved concurrently and handed on in file order, then queued;
/// returns once every row has its result.
async fn send(
    ctx: &RunContext,
    engine: Arc<Engine>,
    jobs: impl Iterator<Item = Job>,
    shard: Option<&Assignment>,
) {
    let resolving = engine.clone();
    let reading = engine.clone();
    let concurrency = ctx.settings.limits.concurrency.most().max(1);
    futures::stream::iter(jobs)
        // Rows read ahead (`buffered` fills up to its size at every poll): their usernames
        // gather into the batches the rows being resolved send.
        .map(|job| {
            reading.read_ahead(&job);
            std::future::ready(job)
        })
        .buffered(dispatch::READ_AHEAD_ROWS)
        .map(|job| {
            let engine = resolving.clone();
            // Each look-up a task of its own: `buffered` polls its futures only while this
            // stream is polled, and it is not while `assign` waits for a place among the
            // queued rows. A look-up left unpolled there keeps its place in flight (and its
            // answer unread), so the rows that would free a queued place wait for that place:
            // with a row per username the run stopped after a few hundred rows (issue 36).
            tokio::spawn(async move { engine.resolve(job).await })
        })
        .buffered(concurrency * 2)
        .map(joined)
        .inspect(|resolved| engine.passed_resolution(resolved))
        .filter_map(|resolved| std::future::ready(keep_resolved(resolved, shard, &ctx.stop)))
        .for_each(|resolved| {
            let engine = engine.clone();
            async move { engine.assign(resolved).await }
        })
        .await;
    engine.finish().await;
}

/// A look-up task's answer. One that panicked stops the run, as it did when look-ups ran in
/// the task that sends the rows.
fn joined<T>(joined: Result<T, tokio::task::JoinError>) -> T {
    match joined {
        Ok(answer) => answer,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The input broke after line `last_read`: each record the survey saw after it is recorded
/// `NOT_ATTEMPTED` by its line alone (its fields cannot be read), so every record still has
/// its row, and --resume reads them again. With `--shard` their shard is unknown: they are
/// left to merge and --resume, as after a stop.
fn record_unread(
    last_read: u64,
    facts: &InputFacts,
    out: &OutputDir,
    header: &Header,
    handle: &RecorderHandle,
) {
    let Some(lines) = &facts.lines else { return };
    for line in (last_read + 1..=lines.last).filter(|line| lines.has(*line)) {
        if out.finished.contains(line) {
            continue;
        }
        let unread = Record {
            line,
            raw: csv::ByteRecord::new(),
            stray_break: None,
        };
        handle.record(
            RowResult::from_record(&unread, header, Outcome::Failed).with_error(
                Code::NotAttempted,
                "the input could not be read from here on; make it readable, then run again with --resume",
            ),
        );
    }
}

/// Where one record goes: [`route`]'s answer.
enum Route {
    Record(RowResult),
    Send(Job),
    /// `--shard`: another shard's row, or (after a stop) one whose shard is not known. It is
    /// left out of this shard's results; merge and --resume account for it.
    NotOurs,
}

/// Where one record goes: straight to results.csv, to PingOne, or to another shard.
fn route(
    record: Record,
    verdict: Verdict,
    header: &Header,
    sends: bool,
    shard: Option<&Assignment>,
    stop: &Stop,
) -> Route {
    let owns_line = |line| shard.is_none_or(|a| a.shard.owns_line(line));
    // `Some(false)`: another shard's; `None`: known once the user is resolved.
    let owns_user = |spec: &DeviceSpec| match shard {
        None => Some(true),
        Some(a) => a.owns_before_resolving(&spec.user),
    };
    match verdict {
        // The run stopped before this record was validated, so its shard is unknown.
        None if shard.is_some() => Route::NotOurs,
        None => Route::Record(
            RowResult::from_record(&record, header, Outcome::Failed).with_error(
                Code::NotAttempted,
                "the run stopped before this row was read; run again with --resume",
            ),
        ),
        Some(Err(_)) if !owns_line(record.line) => Route::NotOurs,
        Some(Err(error)) => Route::Record(RowResult::invalid(&record, header, error)),
        Some(Ok(spec)) if owns_user(&spec) == Some(false) => Route::NotOurs,
        // errors.csv never needs a valid row's fields.
        Some(Ok(spec)) if !sends => Route::Record(RowResult::from_spec(
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
                settled_before: false,
                unconfirmed_before_run: false,
                owed_before: None,
                // Until the caller knows better: keeping a user's state is always safe.
                continues: true,
                standing: Default::default(),
            };
            match (stop.is_requested(), owns_user(&job.spec)) {
                (true, Some(_)) => {
                    Route::Record(results::not_attempted(&job, &job.spec.user.id_text()))
                }
                (true, None) => Route::NotOurs,
                (false, _) => Route::Send(job),
            }
        }
    }
}

/// `--shard`: drops the rows whose user turned out to be another shard's. A username that
/// could not be looked up leaves its shard unknown: the shard stops (exit 3), for --resume.
fn keep_resolved(
    resolved: Result<(Job, String), Unresolved>,
    shard: Option<&Assignment>,
    stop: &Stop,
) -> Option<Result<(Job, String), Unresolved>> {
    let Some(assignment) = shard else {
        return Some(resolved);
    };
    let is_ours = match &resolved {
        Ok((job, user_id)) => assignment.owns_resolved(&job.spec.user, user_id),
        Err(unresolved) if unresolved.is_answer => {
            assignment.owns_unknown_user(&unresolved.job.spec.user)
        }
        Err(unresolved) => match assignment.owns_before_resolving(&unresolved.job.spec.user) {
            Some(decided) => decided,
            None => {
                stop.request(StopReason::ShardOwnerUnknown(format!(
                    "line {}: its username could not be looked up ({}), so which shard owns it is unknown; resume this shard with --resume",
                    unresolved.job.line, unresolved.result.row.error_message
                )));
                false
            }
        },
    };
    is_ours.then_some(resolved)
}
