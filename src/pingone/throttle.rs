//! One gate for every API request of a run (tokens excepted): at most `concurrency` in flight,
//! evenly paced under `rate` per second, and slowed as a whole when PingOne answers 429.
//!
//! Pacing uses `governor`, with the period and burst chosen so that no one-second window sees
//! more than `rate` requests even when the network delays some requests by up to 10 ms more
//! than others. After a
//! 429 every request waits out `Retry-After`, and the rate drops to what the server actually
//! accepted in the last second; it creeps back up only after a quiet spell, and each new 429
//! doubles that spell, so a run settles under a server limit instead of oscillating around it.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// How much later one request may reach PingOne than another sent after it; the pacing leaves
/// room for it, so no one-second window of the server's clock sees more than `rate`.
const NETWORK_JITTER: f64 = 0.010;
/// From this rate on, a burst of two absorbs timer lateness (a late wake-up is made up by the
/// next request instead of being lost); below it, one more request per window costs too much.
const BURST_FROM_RATE: f64 = 40.0;
/// The share of the measured server limit a run settles at after a 429: just under it, since
/// the pacing already keeps every window under the rate, and answers may bunch by a request
/// or so in the second they are counted over.
const SETTLE_SHARE: f64 = 0.99;
/// Longest wait a `Retry-After` can impose on the run; a bigger value is taken as this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// After a cut, the pace is raised again only after this long without a 429. A raise past
/// the server's limit costs a whole `Retry-After` pause (PingOne gives whole seconds), so
/// probing more often than once a minute would cost more than it could find.
const FIRST_PROBE_AFTER: Duration = Duration::from_secs(60);
const MAX_PROBE_AFTER: Duration = Duration::from_secs(600);
const LOWEST_RATE: f64 = 0.5;

pub(crate) struct Throttle {
    configured_rate: f64,
    in_flight: Semaphore,
    pace: Mutex<Pace>,
}

struct Pace {
    rate: f64,
    limiter: Arc<DefaultDirectRateLimiter>,
    paused_until: Option<Instant>,
    last_change: Instant,
    probe_after: Duration,
    last_cut: Option<Instant>,
    /// When each of the last second's accepted requests completed.
    accepted: VecDeque<Instant>,
}

/// GCRA with period p and burst b lets through at most `floor(W / p) + b` requests in any
/// window of W seconds. With W = 1 s + jitter, that must not pass `rate`.
fn quota_for(rate: f64) -> Quota {
    let window = 1.0 + NETWORK_JITTER;
    // A window holds whole requests: 7.3/s allows 7 in any second.
    let limit = if rate >= 1.0 { rate.floor() } else { rate };
    let (burst, period) = if limit >= BURST_FROM_RATE {
        // floor(W/p) + 2 <= limit  <=>  p > W / (limit - 1)
        (2, window / (limit - 1.0) * 1.001)
    } else {
        // floor(W/p) + 1 <= limit  <=>  p > W / limit
        (1, window * 1.015 / limit)
    };
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(Duration::from_secs_f64(period))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

fn limiter_for(rate: f64) -> Arc<DefaultDirectRateLimiter> {
    Arc::new(RateLimiter::direct(quota_for(rate)))
}

impl Throttle {
    pub(crate) fn new(rate: u32, concurrency: usize) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            configured_rate: rate,
            in_flight: Semaphore::new(concurrency.max(1)),
            pace: Mutex::new(Pace {
                rate,
                limiter: limiter_for(rate),
                paused_until: None,
                last_change: Instant::now(),
                probe_after: FIRST_PROBE_AFTER,
                last_cut: None,
                accepted: VecDeque::new(),
            }),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.pace.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rate the run is paced at now (requests per second).
    #[cfg(test)]
    pub(crate) fn current_rate(&self) -> f64 {
        self.pace().rate
    }

    /// Waits for a slot in flight and a turn under the rate. Hold the permit while the request runs.
    pub(crate) async fn admit(&self) -> SemaphorePermit<'_> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .expect("the in-flight semaphore is never closed");
        loop {
            let (limiter, paused_until) = {
                let pace = self.pace();
                (pace.limiter.clone(), pace.paused_until)
            };
            if let Some(until) = paused_until {
                if until > Instant::now() {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
            }
            limiter.until_ready().await;
            // A 429 may have paused the run while this request waited for its turn.
            let paused = self.pace().paused_until.is_some_and(|u| u > Instant::now());
            if !paused {
                return permit;
            }
        }
    }

    /// Feeds back every answer: 429 slows the run, anything else counts as accepted.
    pub(crate) fn on_answer(&self, status: u16, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut pace = self.pace();
        if status == 429 {
            let wait = retry_after
                .unwrap_or(Duration::from_secs(1))
                .min(MAX_RETRY_AFTER);
            let until = now + wait;
            pace.paused_until = Some(pace.paused_until.map_or(until, |u| u.max(until)));
            // The 429s of requests already in flight arrive together: cut once per burst.
            let recently_cut = pace
                .last_cut
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1));
            if !recently_cut {
                trim(&mut pace.accepted, now);
                let accepted = pace.accepted.len() as f64;
                let new_rate = if accepted >= 1.0 {
                    (accepted * SETTLE_SHARE).min(pace.rate * SETTLE_SHARE)
                } else {
                    pace.rate / 2.0
                }
                .max(LOWEST_RATE);
                if pace.last_cut.is_some() {
                    pace.probe_after = (pace.probe_after * 2).min(MAX_PROBE_AFTER);
                }
                pace.last_cut = Some(now);
                pace.last_change = now;
                pace.rate = new_rate;
                pace.limiter = limiter_for(new_rate);
                tracing::warn!(
                    rate = crate::logging::rounded_rate(new_rate),
                    retry_after_ms = wait.as_millis() as u64,
                    "PingOne answered 429: the whole run slows down"
                );
            }
            return;
        }
        pace.accepted.push_back(now);
        if pace.accepted.len() > 4096 {
            trim(&mut pace.accepted, now);
        }
        if pace.rate < self.configured_rate
            && now.duration_since(pace.last_change) >= pace.probe_after
        {
            let raised = (pace.rate * 1.05 + 0.5).min(self.configured_rate);
            pace.rate = raised;
            pace.limiter = limiter_for(raised);
            pace.last_change = now;
            tracing::debug!(
                rate = crate::logging::rounded_rate(raised),
                "no 429 for a while: pace raised"
            );
        }
    }
}

fn trim(accepted: &mut VecDeque<Instant>, now: Instant) {
    while accepted
        .front()
        .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
    {
        accepted.pop_front();
    }
    while accepted.len() > 4096 {
        accepted.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_window_of_a_second_and_the_jitter_passes_the_rate() {
        for rate in [
            1.0, 2.0, 5.0, 10.0, 20.0, 39.0, 40.0, 50.0, 200.0, 1000.0, 0.5, 7.3,
        ] {
            let quota = quota_for(rate);
            let period = quota.replenish_interval().as_secs_f64();
            let burst = f64::from(quota.burst_size().get());
            let most = ((1.0 + NETWORK_JITTER) / period).floor() + burst;
            assert!(
                most <= rate.floor().max(1.0),
                "rate {rate}: {most} in a window"
            );
            assert!(
                1.0 / period >= rate * 0.93 || rate < 20.0,
                "rate {rate}: paced at {}",
                1.0 / period
            );
        }
    }

    #[tokio::test]
    async fn a_429_pauses_and_cuts_to_what_was_accepted() {
        let throttle = Throttle::new(100, 4);
        for _ in 0..20 {
            throttle.on_answer(201, None);
        }
        throttle.on_answer(429, Some(Duration::from_millis(200)));
        let rate = throttle.current_rate();
        assert!((19.0..=20.0).contains(&rate), "{rate}");
        // A second 429 of the same burst does not cut again.
        throttle.on_answer(429, Some(Duration::from_millis(200)));
        assert_eq!(throttle.current_rate(), rate);
        let start = Instant::now();
        drop(throttle.admit().await);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }
}

#[cfg(test)]
mod creep_tests {
    use super::*;

    /// The pace after a 429 creeps back up only after a quiet spell, and each new 429 doubles
    /// the spell. The clock is tokio's, paused, so the test takes no time.
    #[tokio::test(start_paused = true)]
    async fn the_pace_creeps_back_after_a_quiet_spell_that_doubles() {
        let throttle = Throttle::new(100, 4);
        for _ in 0..40 {
            throttle.on_answer(201, None);
        }
        throttle.on_answer(429, Some(Duration::from_millis(100)));
        let cut = throttle.current_rate();
        assert!((39.0..=40.0).contains(&cut), "{cut}");

        tokio::time::advance(FIRST_PROBE_AFTER - Duration::from_secs(1)).await;
        throttle.on_answer(201, None);
        assert_eq!(throttle.current_rate(), cut, "not before the quiet spell");
        tokio::time::advance(Duration::from_secs(1)).await;
        throttle.on_answer(201, None);
        let raised = throttle.current_rate();
        assert!((raised - (cut * 1.05 + 0.5)).abs() < 1e-9, "{raised}");

        // A second 429 doubles the spell: one spell of quiet no longer raises the pace.
        tokio::time::advance(Duration::from_secs(2)).await;
        throttle.on_answer(429, None);
        let second_cut = throttle.current_rate();
        tokio::time::advance(FIRST_PROBE_AFTER).await;
        throttle.on_answer(201, None);
        assert_eq!(throttle.current_rate(), second_cut, "the spell doubled");
        tokio::time::advance(FIRST_PROBE_AFTER).await;
        throttle.on_answer(201, None);
        assert!(throttle.current_rate() > second_cut);
        // And never above the configured rate.
        for _ in 0..200 {
            tokio::time::advance(MAX_PROBE_AFTER).await;
            throttle.on_answer(201, None);
        }
        assert_eq!(throttle.current_rate(), 100.0);
    }
}

#[cfg(test)]
mod cap_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_of_a_day_pauses_the_run_two_minutes_at_most() {
        let throttle = Throttle::new(10, 1);
        throttle.on_answer(429, Some(Duration::from_secs(86_400)));
        let started = Instant::now();
        drop(throttle.admit().await);
        let waited = started.elapsed();
        assert!(waited >= MAX_RETRY_AFTER, "{waited:?}");
        assert!(
            waited < MAX_RETRY_AFTER + Duration::from_secs(1),
            "{waited:?}"
        );
    }
}
