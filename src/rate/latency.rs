//! How long PingOne takes to answer, and how many requests are in flight, measured by one
//! hook in `Client::exchange` around each API request (tokens excepted): a histogram of the
//! latency on fixed buckets (so runs and shards add up bucket by bucket), and the time
//! requests have spent in flight, from which the timeline reads the average number in flight
//! over any span (Little's law, exactly: the integral of in-flight requests over time).
//!
//! Kept apart from the throttle, which measures latency for its own pacing decisions: this is
//! what the report and the metrics file show.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

/// Bucket bounds per decade: about 10 % apart, and holding 1, 2.5, 3, 5 and 6 of every
/// decade, so the metrics file's coarser buckets (Prometheus' usual ones) add up exactly.
const MANTISSAS: [f64; 22] = [
    1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.0, 3.3, 3.6, 4.0, 4.5, 5.0, 5.6, 6.0,
    7.0, 8.0, 9.0,
];
/// The first decade starts at 0.1 ms (loopback answers that fast); the last bound is 120 s,
/// past the longest `timeout_s` a run is likely to set. Longer answers share one last bucket.
const FIRST_DECADE_MS: i32 = -1;
const DECADES: i32 = 6;
const LAST_BOUNDS_MS: [f64; 2] = [110_000.0, 120_000.0];

/// The upper bounds of the histogram's buckets, in milliseconds, ascending. One more bucket
/// past the last bound holds anything longer.
pub(crate) fn bounds_ms() -> &'static [f64] {
    static BOUNDS: LazyLock<Vec<f64>> = LazyLock::new(|| {
        let mut bounds = Vec::new();
        for decade in FIRST_DECADE_MS..FIRST_DECADE_MS + DECADES {
            for mantissa in MANTISSAS {
                // Rounded to 0.01 ms: 0.30000000000000004 would be a poor bucket name.
                let bound = mantissa * 10f64.powi(decade);
                bounds.push((bound * 100.0).round() / 100.0);
            }
        }
        bounds.extend(LAST_BOUNDS_MS);
        bounds
    });
    &BOUNDS
}

/// Requests in flight: how many, the sum of their start times, and the time finished
/// requests spent in flight; under one lock, so a reading is never torn between them.
#[derive(Debug, Default)]
struct Flight {
    in_flight: u64,
    started_sum_ns: u128,
    finished_busy_ns: u128,
}

/// One run's latency histogram and time in flight; shared through `RequestStats`.
#[derive(Debug)]
pub(crate) struct Latency {
    origin: Instant,
    /// Requests per bucket of [`bounds_ms`], and one more for longer ones.
    buckets: Vec<AtomicU64>,
    total_us: AtomicU64,
    flight: Mutex<Flight>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            buckets: (0..=bounds_ms().len()).map(|_| AtomicU64::new(0)).collect(),
            total_us: AtomicU64::new(0),
            flight: Mutex::new(Flight::default()),
        }
    }
}

/// What the histogram holds: requests per bucket (one more than [`bounds_ms`]) and the sum
/// of their latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LatencyCounts {
    pub(crate) per_bucket: Vec<u64>,
    pub(crate) sum_s: f64,
}

impl Latency {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, Flight> {
        self.flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request leaves; dropping the guard records its answer (or its failure).
    pub(crate) fn start(&self) -> Timing<'_> {
        let started_ns = self.now_ns();
        let mut flight = self.flight();
        flight.in_flight += 1;
        flight.started_sum_ns += u128::from(started_ns);
        Timing {
            latency: self,
            started_ns,
        }
    }

    fn finish(&self, started_ns: u64) {
        let ended_ns = self.now_ns();
        let took_ns = ended_ns.saturating_sub(started_ns);
        {
            let mut flight = self.flight();
            flight.in_flight = flight.in_flight.saturating_sub(1);
            flight.started_sum_ns = flight.started_sum_ns.saturating_sub(u128::from(started_ns));
            flight.finished_busy_ns += u128::from(took_ns);
        }
        let took_ms = took_ns as f64 / 1e6;
        let bucket = bounds_ms().partition_point(|bound| *bound < took_ms);
        if let Some(counter) = self.buckets.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.total_us.fetch_add(took_ns / 1000, Ordering::Relaxed);
    }

    /// Seconds spent in flight by every request so far, those still in flight included: its
    /// growth over a span, divided by the span, is the average number in flight.
    pub(crate) fn busy_seconds(&self) -> f64 {
        let now_ns = u128::from(self.now_ns());
        let flight = self.flight();
        let running = (u128::from(flight.in_flight) * now_ns).saturating_sub(flight.started_sum_ns);
        (flight.finished_busy_ns + running) as f64 / 1e9
    }

    pub(crate) fn counts(&self) -> LatencyCounts {
        LatencyCounts {
            per_bucket: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum_s: self.total_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// One request in flight; see [`Latency::start`].
pub(crate) struct Timing<'a> {
    latency: &'a Latency,
    started_ns: u64,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        self.latency.finish(self.started_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_ascend_and_hold_the_usual_prometheus_bounds() {
        let bounds = bounds_ms();
        assert!(
            bounds.windows(2).all(|pair| pair[0] < pair[1]),
            "{bounds:?}"
        );
        for usual_ms in [
            1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 30_000.0,
        ] {
            assert!(bounds.contains(&usual_ms), "{usual_ms} ms is a bound");
        }
        assert_eq!(bounds.first(), Some(&0.1));
        assert_eq!(bounds.last(), Some(&120_000.0));
    }

    #[test]
    fn a_request_lands_in_its_bucket_and_its_time_in_flight_is_counted() {
        let latency = Latency::default();
        let timing = latency.start();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let busy_while_in_flight = latency.busy_seconds();
        assert!(busy_while_in_flight >= 0.02, "{busy_while_in_flight}");
        drop(timing);
        let counts = latency.counts();
        assert_eq!(counts.per_bucket.iter().sum::<u64>(), 1);
        let bucket = counts.per_bucket.iter().position(|n| *n == 1).unwrap();
        let bound = bounds_ms()[bucket];
        assert!((20.0..200.0).contains(&bound), "bucket up to {bound} ms");
        let busy = latency.busy_seconds();
        assert!(busy >= busy_while_in_flight, "{busy}");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(
            latency.busy_seconds(),
            busy,
            "nothing in flight adds nothing"
        );
    }
}
