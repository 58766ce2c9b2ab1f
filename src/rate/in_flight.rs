//! How many requests `concurrency = "auto"` keeps in flight: what the pace needs at the
//! latency the run measures. The pace × the latency of recent answers (the larger of their
//! mean and p90) × 1.5, plus two, within [`AUTO_FEWEST`]..=[`AUTO_MOST`]. The mean is what
//! Little's law asks for (a heavy tail holds places long); the p90 covers latency that
//! varies; the two spare are requests that hold a place while they wait for their turn.
//! Also the places themselves ([`Places`]): a semaphore the throttle resizes to that number.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

use crate::config::{AUTO_FEWEST, AUTO_HEADROOM as HEADROOM, AUTO_MOST, AUTO_SPARE as SPARE};

/// In flight, auto, before any latency is known.
const AUTO_START: usize = 8;
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

/// The places in flight: a semaphore with a permit for each request allowed in flight at
/// once, resized to the pace's limit as answers come back.
pub(crate) struct Places {
    semaphore: Semaphore,
    count: Mutex<PlaceCount>,
}

/// The semaphore's permits: how many exist, and how many to retire as requests finish,
/// since a semaphore can only shrink by permits coming back.
struct PlaceCount {
    size: usize,
    surplus: usize,
}

impl Places {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            semaphore: Semaphore::new(size),
            count: Mutex::new(PlaceCount { size, surplus: 0 }),
        }
    }

    /// Waits for a place; an error only if the semaphore is closed, which it never is.
    pub(crate) async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.semaphore.acquire().await
    }

    /// Brings the places in flight to `limit`: new permits at once, fewer as they come back.
    pub(crate) fn resize(&self, limit: usize, returning: Option<SemaphorePermit<'_>>) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        let effective = count.size - count.surplus;
        if limit > effective {
            let grow = limit - effective;
            let kept = grow.min(count.surplus);
            count.surplus -= kept;
            count.size += grow - kept;
            self.semaphore.add_permits(grow - kept);
        } else {
            count.surplus += effective - limit;
        }
        if let Some(permit) = returning {
            if count.surplus > 0 {
                count.surplus -= 1;
                count.size -= 1;
                permit.forget();
            }
        }
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

    /// Places given up but still held (a surplus) are taken back first when the limit
    /// grows again: no permit is added for them, and none is forgotten when they return.
    #[tokio::test]
    async fn growing_again_takes_back_the_places_a_shrink_had_not_yet_given_up() {
        let places = Places::new(AUTO_START);
        let start = places.semaphore.available_permits();
        let held: Vec<_> = (0..start)
            .map(|_| places.semaphore.try_acquire().expect("a place"))
            .collect();
        places.resize(start - 2, None);
        places.resize(start, None);
        assert_eq!(places.semaphore.available_permits(), 0, "no permit added");
        for permit in held {
            places.resize(start, Some(permit));
        }
        assert_eq!(
            places.semaphore.available_permits(),
            start,
            "none forgotten"
        );
        // Shrinking for good gives up places as their permits return, then no more.
        let held: Vec<_> = (0..start)
            .map(|_| places.semaphore.try_acquire().expect("a place"))
            .collect();
        places.resize(start - 2, None);
        for permit in held {
            places.resize(start - 2, Some(permit));
        }
        assert_eq!(places.semaphore.available_permits(), start - 2);
    }

    /// The places in flight follow the limit: a larger one adds permits at once (taking back
    /// a surplus first); a smaller one takes permits back only as requests return theirs.
    #[tokio::test]
    async fn resizing_grows_at_once_and_shrinks_as_permits_return() {
        let places = Places::new(AUTO_START);
        let start = places.semaphore.available_permits();
        places.resize(start + 4, None);
        assert_eq!(places.semaphore.available_permits(), start + 4);
        let held: Vec<_> = (0..start + 4)
            .map(|_| places.semaphore.try_acquire().expect("a place"))
            .collect();
        places.resize(start + 1, None);
        let mut held = held.into_iter();
        // Three permits that come back are taken out; the fourth is a place again.
        for _ in 0..3 {
            places.resize(start + 1, held.next());
        }
        assert_eq!(places.semaphore.available_permits(), 0);
        places.resize(start + 1, held.next());
        assert_eq!(places.semaphore.available_permits(), 1);
        // Growing again takes back the surplus before it adds permits.
        places.resize(start + 3, None);
        assert_eq!(places.semaphore.available_permits(), 3);
        drop(held);
        assert_eq!(places.semaphore.available_permits(), start + 3);
    }
}
