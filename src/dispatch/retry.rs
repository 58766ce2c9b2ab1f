//! When and how long to wait before trying a request again: exponential backoff with jitter
//! (backon), never shorter than the server's `Retry-After`, and cut short when the run stops.
//! A request whose retries a stop cut short, with nothing PingOne may have acted on, ends
//! `Stopped` (the row is not attempted), not as though its retries were used up.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::config::Limits;
use crate::pingone::{ApiError, RequestStats};
use crate::rate::MAX_RETRY_AFTER;
use crate::stop::Stop;

/// How often, and how far apart, a request is tried again (`[limits]`), counted in the run's
/// request stats and cut short by its stop.
#[derive(Clone)]
pub(crate) struct RetryPolicy {
    max_retries: usize,
    initial: Duration,
    max: Duration,
    /// How long a device list may lag a creation (`list_lag_s`).
    list_lag: Duration,
    /// How long a user PingOne does not know is asked again (`user_not_found_grace_s`).
    user_grace: Duration,
    stats: Arc<RequestStats>,
    stop: Arc<Stop>,
}

impl RetryPolicy {
    pub(crate) fn new(limits: &Limits, stats: Arc<RequestStats>, stop: Arc<Stop>) -> Self {
        Self {
            max_retries: limits.max_retries,
            initial: limits.backoff_initial,
            max: limits.backoff_max,
            list_lag: limits.list_lag,
            user_grace: limits.user_not_found_grace,
            stats,
            stop,
        }
    }

    pub(crate) fn max_retries(&self) -> usize {
        self.max_retries
    }

    pub(crate) fn list_lag(&self) -> Duration {
        self.list_lag
    }

    pub(crate) fn user_grace(&self) -> Duration {
        self.user_grace
    }

    /// Waits `delay`, or less when the run stops meanwhile.
    pub(crate) async fn wait(&self, delay: Duration) {
        sleep_unless_stopped(delay, self.stop.clone()).await;
    }

    /// Runs `attempt` until it succeeds, fails for good, the retries are used up, or the run
    /// stops.
    pub(crate) async fn run<T, F, Fut>(&self, attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        self.run_while(attempt, |_| true).await
    }

    /// As [`Self::run`], but a retryable failure is tried again only while `go_on` says so:
    /// a POST whose failure PingOne may have acted on is never sent again blindly.
    pub(crate) async fn run_while<T, F, Fut>(
        &self,
        attempt: F,
        go_on: impl Fn(&ApiError) -> bool,
    ) -> Result<T, ApiError>
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
        let outcome = attempt
            .retry(backoff)
            .sleep(move |delay: Duration| sleep_unless_stopped(delay, sleep_stop.clone()))
            .when(move |e: &ApiError| e.is_retryable() && !stop.is_requested() && go_on(e))
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
            .await;
        match outcome {
            // The stop, not the schedule, ended the retries; an error PingOne may have acted
            // on is kept, since the row must then be settled by a read, not called unsent.
            Err(e) if e.is_retryable() && !e.may_have_acted() && self.stop.is_requested() => {
                Err(ApiError::Stopped)
            }
            other => other,
        }
    }
}

async fn sleep_unless_stopped(delay: Duration, stop: Arc<Stop>) {
    tokio::select! {
        () = stop.requested() => {}
        () = tokio::time::sleep(delay) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn policy(max_retries: usize, stop: Arc<Stop>) -> (RetryPolicy, Arc<RequestStats>) {
        let limits = Limits {
            max_retries,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            ..Limits::default()
        };
        let stats = Arc::new(RequestStats::default());
        (RetryPolicy::new(&limits, stats.clone(), stop), stats)
    }

    /// Runs a policy over answers that fail with `error` every time; returns the tries made.
    async fn tries(max_retries: usize, error: ApiError, stop: Arc<Stop>) -> (u32, u64) {
        let (policy, stats) = policy(max_retries, stop);
        let count = AtomicU32::new(0);
        let outcome: Result<(), ApiError> = policy
            .run(|| {
                count.fetch_add(1, Ordering::SeqCst);
                let error = error.clone();
                async move { Err(error) }
            })
            .await;
        assert!(outcome.is_err());
        (count.into_inner(), RequestStats::get(&stats.retries))
    }

    #[tokio::test]
    async fn retries_what_is_retryable_and_counts_each_retry() {
        let status = |s: u16| ApiError::from_status(s, None, None);
        let cases = [
            (status(503), 3, 2),
            (status(429), 3, 2),
            (status(408), 3, 2),
            (status(500), 3, 2),
            (status(502), 3, 2),
            (status(504), 3, 2),
            (status(415), 1, 0),
            (ApiError::Transport("reset".into()), 3, 2),
            (status(400), 1, 0),
            (status(404), 1, 0),
            (status(403), 1, 0),
            (ApiError::Stopped, 1, 0),
        ];
        // What a row's "gave up after N retries" says.
        assert_eq!(policy(7, Arc::new(Stop::default())).0.max_retries(), 7);
        for (error, expected_tries, expected_retries) in cases {
            let label = error.to_string();
            let (made, retries) = tries(2, error, Arc::new(Stop::default())).await;
            assert_eq!(made, expected_tries, "{label}");
            assert_eq!(retries, expected_retries, "{label}");
        }
    }

    /// A stop during a backoff of minutes ends it at once, and the request ends `Stopped`
    /// unless PingOne may have acted on it. The clock is tokio's, paused: an unended sleep
    /// would show as minutes of virtual time.
    #[tokio::test(start_paused = true)]
    async fn a_stop_cuts_a_backoff_short_and_says_the_row_was_not_attempted() {
        for (error, ends_stopped) in [
            (ApiError::from_status(429, None, None), true),
            (ApiError::Connect("refused".into()), true),
            (ApiError::from_status(503, None, None), false),
            (ApiError::Transport("reset".into()), false),
        ] {
            let stop = Arc::new(Stop::default());
            let limits = Limits {
                max_retries: 5,
                backoff_initial: Duration::from_secs(60),
                backoff_max: Duration::from_secs(600),
                ..Limits::default()
            };
            let stats = Arc::new(RequestStats::default());
            let policy = RetryPolicy::new(&limits, stats, stop.clone());
            let stopper = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                stopper.request(crate::stop::StopReason::Interrupted("SIGINT"));
            });
            let started = tokio::time::Instant::now();
            let label = error.to_string();
            let outcome: Result<(), ApiError> = policy
                .run(|| {
                    let error = error.clone();
                    async move { Err(error) }
                })
                .await;
            let waited = started.elapsed();
            assert!(waited < Duration::from_secs(6), "{label}: {waited:?}");
            let stopped = matches!(outcome, Err(ApiError::Stopped));
            assert_eq!(stopped, ends_stopped, "{label}: {outcome:?}");
        }
    }

    #[tokio::test]
    async fn a_stop_ends_the_retries_and_retry_after_lengthens_the_wait() {
        let stop = Arc::new(Stop::default());
        stop.request(crate::stop::StopReason::Interrupted("SIGINT"));
        let (made, _) = tries(5, ApiError::from_status(503, None, None), stop).await;
        assert_eq!(made, 1, "no retry once the run is stopping");

        let limited = ApiError::from_status(429, None, Some(Duration::from_millis(300)));
        let started = std::time::Instant::now();
        let (made, _) = tries(1, limited, Arc::new(Stop::default())).await;
        assert_eq!(made, 2);
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "the server's Retry-After is never cut short by the backoff"
        );
    }
}
