//! Stage 4: what the run leaves for the next morning: results.csv and errors.csv put in line
//! order, summary.json (written at the start with `"finished": false`, rewritten here),
//! timeline.json and report.html, the exit status, and the final log lines.

use std::path::Path;

use super::context::RunContext;
use super::error::RunError;
use super::handoff::{Executed, InputFacts, OutputDir};
use crate::config::{RunMode, Settings};
use crate::exit::{ExitStatus, RunReport};
use crate::failpoints::crash_point;
use crate::model::OnExisting;
use crate::pingone::RequestStats;
use crate::present::report;
use crate::record::latency::LatencyFigures;
use crate::record::summary::{
    now_rfc3339, outcome_names, Plan, RateBasis, RequestCounts, StoppedEarly, Summary, ThisRun,
};
use crate::record::timeline::Timeline;
use crate::record::writer::Tallies;
use crate::record::{line_order, Outcome, ERRORS_FILE, RESULTS_FILE};
use crate::stop::{Stop, StopReason};

fn exit_status(ctx: &RunContext, all: &Tallies) -> ExitStatus {
    match ctx.stop.reason() {
        // An offline dry run that met a broken file sent nothing: a file error.
        Some(StopReason::InputBroken(_)) if ctx.settings.mode == RunMode::DryRunOffline => {
            ExitStatus::NothingSent
        }
        Some(_) => ExitStatus::StoppedEarly,
        None if all.problems() > 0 => ExitStatus::RowProblems,
        None => ExitStatus::Success,
    }
}

fn stopped_early(stop: &Stop) -> Option<StoppedEarly> {
    stop.reason().map(|reason| StoppedEarly {
        code: reason.code().into(),
        reason: reason.shown(),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// An online dry run's answer to "what will the migration do?".
fn plan(settings: &Settings, executed: &Executed, all: &Tallies) -> Option<Plan> {
    let engine = executed.engine.as_ref()?;
    if settings.mode != RunMode::DryRunOnline {
        return None;
    }
    let would_create = all.count(Outcome::WouldCreate);
    let would_skip = all.count(Outcome::WouldSkipExisting);
    let per_create = match settings.enroll.on_existing {
        OnExisting::Skip | OnExisting::Replace => 2,
        OnExisting::Create => 1,
    };
    let (users_known, users_mfa_off) = engine.mfa_switch_counts();
    // With enable_mfa, a real run sends a PUT per user once a device is there; it skips only
    // users its username look-up found on, so this counts one for each user known.
    let enable_mfa = executed.summary.settings.enable_mfa;
    let puts = if enable_mfa { users_known } else { 0 };
    // With replace, a DELETE for each stale device the plan found.
    let deletes = engine.removals().map_or(0, |r| r.this_run);
    let requests_needed =
        would_create * per_create + would_skip + engine.username_lookups() + puts + deletes;
    let configured = settings.limits.rate;
    // What PingOne allowed when it throttled these reads is what a real run will get.
    let (rate, rate_basis) = match executed.client.as_ref().and_then(|c| c.server_limit()) {
        Some(allowed) if allowed < configured => (allowed, RateBasis::ServerLimit),
        _ => (configured, RateBasis::Configured),
    };
    Some(Plan {
        max_allowed_devices: engine.max_allowed_devices(),
        pairing_messages: all.messages_by_type.clone(),
        users_over_daily_message_limit: engine.users_over_message_limit(),
        new_device_notices: engine.new_device_notices(),
        new_device_notices_note: crate::dispatch::NOTICES_NOTE.into(),
        quotas: executed
            .quotas
            .as_ref()
            .map(|q| q.0.clone())
            .unwrap_or_default(),
        quotas_note: executed.quotas.as_ref().and_then(|q| q.1.clone()),
        users_mfa_off,
        users_mfa_to_switch_on: if enable_mfa { users_mfa_off } else { 0 },
        requests_needed,
        rate,
        rate_basis,
        configured_rate: configured,
        duration_at_rate_s: round3(requests_needed as f64 / f64::from(rate.max(1))),
    })
}

/// The run's record completed and its outcome decided; the output directory's lock goes
/// with `out`, once everything is written.
pub(crate) async fn finish(
    ctx: &RunContext,
    out: OutputDir,
    mut executed: Executed,
) -> Result<RunReport, RunError> {
    let settings = &ctx.settings;
    let mut all = out.finished.tallies.clone();
    all.merge(&executed.tallies);
    let mut exit = exit_status(ctx, &all);
    let mut summary = summarise(ctx, &executed, &all, exit);
    // A summary says it is finished only when its counts are those of results.csv.
    summary.finished = executed.tallies_known;
    if !executed.in_line_order {
        put_in_line_order(&out.dir);
    }
    // Every row is in results.csv, and summary.json still says the run is unfinished.
    crash_point!("before-final-summary");
    if let Err(e) = summary.write(&out.dir) {
        // Requests were sent: not exit 2. summary.json still says the run is under way,
        // which --resume continues.
        tracing::error!("cannot write the summary: {e}; run again with --resume");
        exit = ExitStatus::StoppedEarly;
    }
    write_metrics(settings, &summary, exit);
    write_report(&out.dir, &summary, executed.timeline.as_ref());
    log_finish(&summary, &all, exit);
    if let Some(sandbox) = executed.sandbox.take() {
        let tally = sandbox.tally();
        tracing::info!(
            requests = tally.requests,
            devices_created = tally.devices_created,
            duplicate_devices = tally.duplicate_devices,
            throttled_429 = tally.throttled_429,
            users_with_device_mfa_off = tally.users_with_device_mfa_off,
            "sandbox tally"
        );
        sandbox.shutdown().await;
    }
    Ok(RunReport { exit, summary })
}

/// The final summary: the directory's totals (`all`), and what this run did.
fn summarise(ctx: &RunContext, executed: &Executed, all: &Tallies, exit: ExitStatus) -> Summary {
    let mut summary = executed.summary.clone();
    summary.set_tallies(all);
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = round3(ctx.clock.started.elapsed().as_secs_f64());
    let mine = &executed.tallies;
    let sending_s = mine.last_done_at.map_or(0.0, |last| {
        last.saturating_duration_since(executed.sending_from)
            .as_secs_f64()
    });
    summary.throughput_rows_per_s = if sending_s > 0.0 {
        round3(mine.done() as f64 / sending_s)
    } else {
        0.0
    };
    summary.this_run = Some(ThisRun {
        rows: mine.rows,
        outcomes: outcome_names(mine),
        rows_done: mine.done(),
        sending_s: round3(sending_s),
    });
    let stats = &executed.stats;
    summary.requests = RequestCounts {
        total: RequestStats::get(&stats.requests),
        get: RequestStats::get(&stats.gets),
        post: RequestStats::get(&stats.posts),
        put: RequestStats::get(&stats.puts),
        delete: RequestStats::get(&stats.deletes),
        retries: RequestStats::get(&stats.retries),
        throttled_429: RequestStats::get(&stats.throttled),
        tokens: executed.client.as_ref().map_or(0, |c| c.token_requests()),
        most_in_flight: executed.client.as_ref().map_or(0, |c| c.most_in_flight()),
    };
    summary.latency = LatencyFigures::from_counts(&stats.latency.counts());
    summary.users_mfa = executed
        .engine
        .as_ref()
        .map_or_else(Default::default, |e| e.mfa_users());
    if let Some(engine) = &executed.engine {
        summary.users_late = engine.users_late();
        summary.rows_of_inactive_users = engine.inactive_rows();
    }
    summary.plan = plan(&ctx.settings, executed, all);
    summary.removals = executed.engine.as_ref().and_then(|e| e.removals());
    summary.stopped_early = stopped_early(&ctx.stop);
    summary.finished = true;
    summary.exit_code = Some(exit.code());
    summary
}

/// results.csv and errors.csv in line order; a failure leaves them complete, out of order.
fn put_in_line_order(dir: &Path) {
    for file in [RESULTS_FILE, ERRORS_FILE] {
        if let Err(e) = line_order::put_in_line_order(&dir.join(file)) {
            tracing::warn!("{file} holds every row, but could not be put in line order: {e}");
        }
    }
}

/// timeline.json and report.html; a failure is logged, and never changes the run's outcome.
fn write_report(dir: &Path, summary: &Summary, timeline: Option<&Timeline>) {
    if let Some(timeline) = timeline {
        if let Err(e) = timeline.write(dir) {
            tracing::warn!("cannot write the timeline: {e}");
        }
    }
    match report::write(dir, summary, timeline) {
        Ok(path) => tracing::info!(report = %path.display(), "report written"),
        Err(e) => tracing::warn!("cannot write the report: {e}"),
    }
}

/// `--metrics-file`; a failure to write it is logged, and never changes the run's outcome.
fn write_metrics(settings: &Settings, summary: &Summary, exit: ExitStatus) {
    if let Some(path) = &settings.metrics_file {
        if let Err(e) = crate::present::metrics::write(path, summary, exit.code()) {
            tracing::warn!("cannot write the metrics file: {e}");
        }
    }
}

fn log_finish(summary: &Summary, all: &Tallies, exit: ExitStatus) {
    let count = |o: Outcome| all.count(o);
    tracing::info!(
        exit_code = exit.code(),
        rows = all.rows,
        created = count(Outcome::Created),
        skipped_existing = count(Outcome::SkippedExisting),
        invalid = count(Outcome::Invalid),
        failed = count(Outcome::Failed),
        not_attempted = all.not_attempted(),
        valid = count(Outcome::Valid),
        would_create = count(Outcome::WouldCreate),
        would_skip_existing = count(Outcome::WouldSkipExisting),
        requests = summary.requests.total,
        retries = summary.requests.retries,
        throttled_429 = summary.requests.throttled_429,
        most_in_flight = summary.requests.most_in_flight,
        duration_s = summary.duration_s,
        stopped_early = summary.stopped_early.as_ref().map(|s| s.code.as_str()),
        "run finished"
    );
}

/// A signal came while the input was still being read: nothing was sent and no row was
/// recorded. The summary says so; a rerun (with or without --resume) starts from the top.
pub(crate) fn stopped_before_sending(
    ctx: &RunContext,
    out: &OutputDir,
) -> Result<RunReport, RunError> {
    let mut summary = ctx.initial_summary(out, &InputFacts::default());
    summary.set_tallies(&out.finished.tallies);
    // results.csv is as the earlier run left it: the summary keeps saying whose it is, and
    // counts what it holds.
    if let Some(earlier) = out.earlier.as_ref().filter(|_| out.has_results) {
        summary.input = earlier.input.clone();
        summary.shard = earlier.shard;
        summary.set_tallies(&out.finished.file.tallies);
    }
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = round3(ctx.clock.started.elapsed().as_secs_f64());
    summary.stopped_early = stopped_early(&ctx.stop);
    summary.finished = true;
    summary.exit_code = Some(ExitStatus::StoppedEarly.code());
    summary.write(&out.dir)?;
    write_metrics(&ctx.settings, &summary, ExitStatus::StoppedEarly);
    write_report(&out.dir, &summary, None);
    tracing::warn!("stopped while reading the input; nothing was sent");
    Ok(RunReport {
        exit: ExitStatus::StoppedEarly,
        summary,
    })
}
