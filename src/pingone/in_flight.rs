//! How many requests `concurrency = "auto"` keeps in flight: what the pace needs at the
//! latency the run measures. The pace × the latency of recent answers (the larger of their
//! mean and p90) × 1.5, plus two, within [`AUTO_FEWEST`]..=[`AUTO_MOST`]. The mean is what
//! Little's law asks for (a heavy tail holds places long); the p90 covers latency that
//! varies; the two spare are requests that hold a place while they wait for their turn.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::{AUTO_FEWEST, AUTO_MOST};

/// In flight, auto: a margin over Little's law for latency that varies.
const HEADROOM: f64 = 1.5;
/// In flight, auto, before any latency is known.
const AUTO_START: usize = 8;
/// Places beyond Little's law: requests waiting for their turn hold one.
const SPARE: usize = 2;
/// Latencies kept for the estimate, and how often it is taken again.
const LATENCY_SAMPLES: usize = 256;
const LATENCY_EVERY: u32 = 16;

/// Requests to keep in flight to carry `rate` at `latency` (Little's law, with headroom).
pub(crate) fn auto_in_flight(rate: f64, latency: Option<Duration>) -> usize {
    let Some(latency) = latency else {
        return AUTO_START;
    };
    let needed = (rate * latency.as_secs_f64() * HEADROOM).ceil();
    // Float to integer saturates; the clamp bounds it anyway.
    (needed as usize)
        .saturating_add(SPARE)
        .clamp(AUTO_FEWEST, AUTO_MOST)
}

/// The latency of the latest answers, for Little's law: the larger of their mean (what a
/// heavy tail costs in places held) and their p90 (what varies).
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    samples: VecDeque<Duration>,
    since_taken: u32,
    pub(crate) estimate: Option<Duration>,
}

impl Latencies {
    pub(crate) fn add(&mut self, latency: Duration) {
        if self.samples.len() == LATENCY_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(latency);
        self.since_taken += 1;
        // The first answer sets it at once: the start is when it matters most.
        if self.estimate.is_some() && self.since_taken < LATENCY_EVERY {
            return;
        }
        self.since_taken = 0;
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        let p90 = sorted
            .get(sorted.len() * 9 / 10)
            .copied()
            .unwrap_or_default();
        // At most LATENCY_SAMPLES samples: the count fits a u32.
        let mean = sorted.iter().sum::<Duration>() / sorted.len().max(1) as u32;
        self.estimate = Some(p90.max(mean));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_what_littles_law_asks_with_headroom_within_its_bounds() {
        let ms = Duration::from_millis;
        for (rate, latency, expected) in [
            (50.0, Some(ms(250)), 21),
            (50.0, Some(ms(5)), AUTO_FEWEST),
            (320.0, Some(ms(100)), 50),
            (1_000_000.0, Some(ms(100)), AUTO_MOST),
            (50.0, None, AUTO_START),
        ] {
            assert_eq!(
                auto_in_flight(rate, latency),
                expected,
                "{rate} {latency:?}"
            );
        }
    }
}
