//! Progress for people and for schedulers. The display reads counters that the results writer
//! ([`LiveCounters`]) and the API client keep; it never drives the work. A run that sends
//! counts its progress in requests done against the requests it plans
//! (`dispatch::workload`), with rows done beside them, and estimates the time left from the
//! pace PingOne actually grants (`eta.rs`); a run that sends nothing counts rows. On a
//! terminal: an indicatif bar. Without one: a log line every few seconds.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::eta::Pace;
use crate::pingone::RequestStats;
use crate::record::LiveCounters;

const DRAW_EVERY: Duration = Duration::from_millis(200);
/// The pace is sampled at least this often between log lines.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The progress display while it runs: a task drawing the bar (or logging a line) until
/// [`Progress::finish`].
pub(crate) struct Progress {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What the display shows besides the counters.
pub(crate) struct ProgressSource {
    /// The rows this run writes (a resumed run's finished rows are not among them).
    pub(crate) total: Option<u64>,
    pub(crate) counters: Arc<LiveCounters>,
    pub(crate) requests: Option<Arc<RequestStats>>,
    /// The requests the run plans for those rows, when it sends and knows its rows.
    pub(crate) planned_requests: Option<u64>,
    /// The word for rows that went well: "created/skipped", "valid", "planned".
    pub(crate) success_word: &'static str,
    /// How often a progress line is logged without a terminal.
    pub(crate) log_every: Duration,
}

/// The counters at one moment.
struct Reading {
    rows: u64,
    /// Requests sent, 429s included.
    sent: u64,
    throttled: u64,
}

impl Reading {
    fn take(source: &ProgressSource) -> Reading {
        let (sent, throttled) = source.requests.as_ref().map_or((0, 0), |r| {
            (
                RequestStats::get(&r.requests),
                RequestStats::get(&r.throttled),
            )
        });
        Reading {
            rows: LiveCounters::get(&source.counters.done),
            sent,
            throttled,
        }
    }

    /// Requests done: sent and not refused with a 429 (a refused one is sent again).
    fn requests_done(&self) -> u64 {
        self.sent.saturating_sub(self.throttled)
    }
}

/// The work a run measures its progress in: requests against a plan, or rows without one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Work {
    done: u64,
    /// Units left; `None` when the run's size is not known (`--shard`).
    left: Option<u64>,
}

impl ProgressSource {
    fn work(&self, reading: &Reading) -> Work {
        let rows_left = self.total.map(|t| t.saturating_sub(reading.rows));
        let Some(planned) = self.planned_requests else {
            return Work {
                done: reading.rows,
                left: rows_left,
            };
        };
        let done = reading.requests_done();
        let left = match rows_left {
            None => None,
            Some(0) => Some(0),
            // The plan fell short (retries, say) while rows remain: they cost what this
            // run's rows have cost so far.
            Some(rows) if done >= planned => Some(rows * done.div_ceil(reading.rows.max(1)).max(1)),
            Some(_) => Some(planned - done),
        };
        Work { done, left }
    }

    fn unit(&self) -> &'static str {
        if self.planned_requests.is_some() {
            "requests"
        } else {
            "rows"
        }
    }
}

/// What the display keeps between ticks: the pace, the 429s it has seen, and when the last
/// line was logged.
struct Tracker {
    pace: Pace,
    throttled: u64,
    last_log: (Instant, u64),
}

impl Tracker {
    /// Feeds the pace what was done by `now`; a new 429 means a new pace.
    fn observe(&mut self, now: Instant, reading: &Reading, work: Work) {
        if reading.throttled > self.throttled {
            self.throttled = reading.throttled;
            self.pace.changed(work.done);
        }
        self.pace.observe(now, work.done);
    }
}

impl Progress {
    /// `bar_allowed`: text logs, not --quiet; the bar appears only if stderr is a terminal.
    pub(crate) fn start(source: ProgressSource, bar_allowed: bool) -> Progress {
        let (stop, mut stopped) = watch::channel(false);
        let use_bar = bar_allowed && std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let bar = use_bar.then(|| make_bar(&source));
            if let Some(bar) = &bar {
                crate::logging::set_active_bar(Some(bar.clone()));
            }
            let mut tracker = Tracker {
                pace: Pace::default(),
                throttled: 0,
                last_log: (Instant::now(), 0),
            };
            let tick = match &bar {
                Some(_) => DRAW_EVERY,
                None => source.log_every.min(SAMPLE_EVERY),
            };
            loop {
                let finished = tokio::select! {
                    _ = tokio::time::sleep(tick) => false,
                    _ = stopped.changed() => true,
                };
                let now = Instant::now();
                let reading = Reading::take(&source);
                let work = source.work(&reading);
                tracker.observe(now, &reading, work);
                match &bar {
                    Some(bar) => draw(bar, &source, &reading, &tracker.pace),
                    None if finished => {}
                    None if now.duration_since(tracker.last_log.0) >= source.log_every => {
                        tracker.last_log = log_progress(&source, &reading, &tracker);
                    }
                    None => {}
                }
                if finished {
                    break;
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
                crate::logging::set_active_bar(None);
            }
        });
        Progress { stop, task }
    }

    pub(crate) async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The estimate as the bar shows it.
fn eta_text(eta: Option<Duration>) -> String {
    match eta {
        Some(eta) => format!(
            "ETA {}",
            humantime::format_duration(Duration::from_secs(eta.as_secs()))
        ),
        None => "ETA unknown".to_string(),
    }
}

fn draw(bar: &ProgressBar, source: &ProgressSource, reading: &Reading, pace: &Pace) {
    let now = Instant::now();
    let c = &source.counters;
    let work = source.work(reading);
    let eta = work
        .left
        .and_then(|left| pace.time_left(now, work.done, left));
    bar.set_position(work.done);
    if let Some(left) = work.left {
        bar.set_length(work.done + left);
    }
    bar.set_prefix(match (source.planned_requests, source.total) {
        (Some(_), Some(total)) => format!("{}/{total} rows · {}", reading.rows, eta_text(eta)),
        (_, _) => eta_text(eta),
    });
    let rate = pace.per_second(now, work.done).unwrap_or(0.0);
    bar.set_message(format!(
        "{:.1} {}/s · {} {} · {} failed · {} invalid{}",
        rate,
        source.unit(),
        LiveCounters::get(&c.succeeded),
        source.success_word,
        LiveCounters::get(&c.failed),
        LiveCounters::get(&c.invalid),
        if reading.throttled > 0 {
            format!(" · {}×429", reading.throttled)
        } else {
            String::new()
        }
    ));
}

/// One progress log line; returns when and at how many rows it was written.
fn log_progress(source: &ProgressSource, reading: &Reading, tracker: &Tracker) -> (Instant, u64) {
    let c = &source.counters;
    let now = Instant::now();
    let (last_at, last_rows) = tracker.last_log;
    let rows_per_s =
        reading.rows.saturating_sub(last_rows) as f64 / now.duration_since(last_at).as_secs_f64();
    let work = source.work(reading);
    let eta = work
        .left
        .and_then(|left| tracker.pace.time_left(now, work.done, left));
    let sends = source.requests.is_some();
    tracing::info!(
        done = reading.rows,
        total = source.total,
        succeeded = LiveCounters::get(&c.succeeded),
        failed = LiveCounters::get(&c.failed),
        invalid = LiveCounters::get(&c.invalid),
        requests = reading.sent,
        throttled_429 = reading.throttled,
        requests_done = sends.then(|| reading.requests_done()),
        requests_planned = source.planned_requests,
        // The pace the estimate is made from (in rows without a plan: see rows_per_s).
        requests_per_s = source
            .planned_requests
            .and(tracker.pace.per_second(now, work.done))
            .map(crate::logging::rounded_rate),
        rows_per_s = crate::logging::rounded_rate(rows_per_s),
        eta_s = eta.map(|e| e.as_secs_f64().round() as u64),
        "progress"
    );
    (now, reading.rows)
}

fn make_bar(source: &ProgressSource) -> ProgressBar {
    let total = source
        .total
        .map(|rows| source.planned_requests.unwrap_or(rows));
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = match (source.planned_requests, source.total) {
        (Some(_), Some(_)) => {
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} requests · {prefix}\n  {msg}"
        }
        (None, Some(_)) => {
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows · {prefix}\n  {msg}"
        }
        (_, None) => "{spinner} [{elapsed_precise}] {pos} rows\n  {msg}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(total: Option<u64>, planned: Option<u64>) -> ProgressSource {
        ProgressSource {
            total,
            counters: Arc::default(),
            requests: Some(Arc::default()),
            planned_requests: planned,
            success_word: "created/skipped",
            log_every: Duration::from_secs(5),
        }
    }

    fn reading(rows: u64, sent: u64, throttled: u64) -> Reading {
        Reading {
            rows,
            sent,
            throttled,
        }
    }

    #[test]
    fn a_run_that_sends_counts_requests_done_against_its_plan() {
        let planned = source(Some(60), Some(120));
        // 40 sent, 10 of them refused with a 429: 30 done, 90 to go.
        let work = planned.work(&reading(0, 40, 10));
        assert_eq!(
            work,
            Work {
                done: 30,
                left: Some(90)
            }
        );
        // Every row written: nothing is left, whatever the plan said.
        assert_eq!(planned.work(&reading(60, 100, 0)).left, Some(0));
        // Past the plan with rows to go: they cost what rows cost so far (3 a row).
        assert_eq!(planned.work(&reading(50, 150, 0)).left, Some(30));
    }

    #[test]
    fn a_run_without_a_plan_counts_rows() {
        assert_eq!(
            source(Some(60), None).work(&reading(20, 0, 0)),
            Work {
                done: 20,
                left: Some(40)
            }
        );
        assert_eq!(source(None, None).work(&reading(20, 0, 0)).left, None);
    }
}
