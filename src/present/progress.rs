//! Progress for people and for schedulers. The display reads counters that the results writer
//! ([`LiveCounters`]) and the API client keep; it never drives the work. On a terminal: an
//! indicatif bar (done of total, created, failed, rate, ETA). Without one: a log line every
//! few seconds.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pingone::RequestStats;
use crate::record::LiveCounters;

const LOG_EVERY: Duration = Duration::from_secs(5);
const DRAW_EVERY: Duration = Duration::from_millis(200);

/// The progress display while it runs: a task drawing the bar (or logging a line) until
/// [`Progress::finish`].
pub(crate) struct Progress {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What the display shows besides the counters.
pub(crate) struct ProgressSource {
    pub(crate) total: Option<u64>,
    pub(crate) counters: Arc<LiveCounters>,
    pub(crate) requests: Option<Arc<RequestStats>>,
    /// The word for rows that went well: "created/skipped", "valid", "planned".
    pub(crate) success_word: &'static str,
}

impl Progress {
    /// `bar_allowed`: text logs, not --quiet; the bar appears only if stderr is a terminal.
    pub(crate) fn start(source: ProgressSource, bar_allowed: bool) -> Progress {
        let (stop, mut stopped) = watch::channel(false);
        let use_bar = bar_allowed && std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let bar = use_bar.then(|| make_bar(source.total));
            if let Some(bar) = &bar {
                crate::logging::set_active_bar(Some(bar.clone()));
            }
            let mut last_log = (tokio::time::Instant::now(), 0u64);
            let tick = if bar.is_some() { DRAW_EVERY } else { LOG_EVERY };
            loop {
                let finished = tokio::select! {
                    _ = tokio::time::sleep(tick) => false,
                    _ = stopped.changed() => true,
                };
                match &bar {
                    Some(bar) => draw(bar, &source),
                    None if !finished => last_log = log_progress(&source, last_log),
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

/// Requests sent and 429s received so far.
fn request_counts(source: &ProgressSource) -> (u64, u64) {
    source.requests.as_ref().map_or((0, 0), |r| {
        (
            RequestStats::get(&r.requests),
            RequestStats::get(&r.throttled),
        )
    })
}

fn draw(bar: &ProgressBar, source: &ProgressSource) {
    let c = &source.counters;
    let (requests, throttled) = request_counts(source);
    bar.set_position(LiveCounters::get(&c.done));
    bar.set_message(format!(
        "{:.1} rows/s · {} {} · {} failed · {} invalid · {} requests{}",
        bar.per_sec(),
        LiveCounters::get(&c.succeeded),
        source.success_word,
        LiveCounters::get(&c.failed),
        LiveCounters::get(&c.invalid),
        requests,
        if throttled > 0 {
            format!(" · {throttled}×429")
        } else {
            String::new()
        }
    ));
}

/// One progress log line; returns when and at how many rows it was written.
fn log_progress(
    source: &ProgressSource,
    (last_at, last_done): (tokio::time::Instant, u64),
) -> (tokio::time::Instant, u64) {
    let c = &source.counters;
    let done = LiveCounters::get(&c.done);
    let (requests, throttled) = request_counts(source);
    let now = tokio::time::Instant::now();
    let rate = (done - last_done) as f64 / now.duration_since(last_at).as_secs_f64();
    let eta = source.total.and_then(|t| {
        (rate > 0.0).then(|| Duration::from_secs_f64(t.saturating_sub(done) as f64 / rate))
    });
    tracing::info!(
        done,
        total = source.total,
        succeeded = LiveCounters::get(&c.succeeded),
        failed = LiveCounters::get(&c.failed),
        invalid = LiveCounters::get(&c.invalid),
        requests,
        throttled_429 = throttled,
        rows_per_s = crate::logging::rounded_rate(rate),
        eta_s = eta.map(|e| e.as_secs()),
        "progress"
    );
    (now, done)
}

fn make_bar(total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows · ETA {eta}\n  {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos} rows\n  {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
