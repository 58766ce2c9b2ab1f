//! When and how long to wait before trying a request again: exponential backoff with jitter
//! (backon), never shorter than the server's `Retry-After`, and cut short when the run stops.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::config::Limits;
use crate::pingone::throttle::MAX_RETRY_AFTER;
use crate::pingone::{ApiError, RequestStats};
use crate::stop::Stop;

#[derive(Clone)]
pub struct RetryPolicy {
    max_retries: usize,
    initial: Duration,
    max: Duration,
    stats: Arc<RequestStats>,
    stop: Arc<Stop>,
}

impl RetryPolicy {
    pub fn new(limits: &Limits, stats: Arc<RequestStats>, stop: Arc<Stop>) -> Self {
        Self {
            max_retries: limits.max_retries,
            initial: limits.backoff_initial,
            max: limits.backoff_max,
            stats,
            stop,
        }
    }

    pub fn max_retries(&self) -> usize {
        self.max_retries
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up.
    pub async fn run<T, F, Fut>(&self, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.initial)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_retries);
        let stop = self.stop.clone();
        let sleep_stop = self.stop.clone();
        attempt
            .retry(backoff)
            .sleep(move |delay: Duration| sleep_unless_stopped(delay, sleep_stop.clone()))
            .when(move |e: &ApiError| e.is_retryable() && !stop.is_requested())
            // backon passes None once the retries are used up: keep it None, or it retries forever.
            .adjust(|e: &ApiError, delay: Option<Duration>| {
                delay.map(|d| match e.retry_after() {
                    Some(server) => d.max(server.min(MAX_RETRY_AFTER)),
                    None => d,
                })
            })
            .notify(|e: &ApiError, delay: Duration| {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    delay_ms = delay.as_millis() as u64,
                    "retrying after: {}",
                    crate::logging::LogSafe(&e.to_string())
                );
            })
            .await
    }
}

async fn sleep_unless_stopped(delay: Duration, stop: Arc<Stop>) {
    let deadline = tokio::time::Instant::now() + delay;
    while !stop.is_requested() {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return;
        }
        tokio::time::sleep((deadline - now).min(Duration::from_millis(100))).await;
    }
}
