//! The time a run has left, from the pace it is actually granted: units of work done (the
//! requests PingOne took, or rows where nothing is sent) over the last [`WINDOW`], never
//! the configured rate (PingOne's 429s may hold the run below it) nor rows per second (a
//! row costs one request or four, and a burst of rows an earlier look-up settled says
//! nothing of the rows to come). The window is long enough that one slow second moves the
//! estimate little, and short enough that a pace PingOne changed for good shows within a
//! minute. A 429 changes the pace (a pause, then a cut): the pace is measured anew from the
//! first unit done after it, once that spans a second; until then the window before stands.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How far back the pace is measured.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// The least span of time an estimate is made from: less is a burst, not a pace.
const LEAST_SPAN: Duration = Duration::from_secs(1);
/// Samples are kept this far apart at least, so the window holds a bounded number.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// An estimate past this says "a very long time" as well as any.
const LONGEST: Duration = Duration::from_secs(100 * 24 * 3600);

/// The units done at moments of the recent past.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// (when, units done by then), oldest first; the first is at or before the window's start.
    samples: VecDeque<(Instant, u64)>,
    /// The pace changed when this many units were done; the next unit starts a new window.
    changed_at: Option<u64>,
    /// When the new window started; it replaces the old once it spans [`LEAST_SPAN`].
    fresh_since: Option<Instant>,
}

impl Pace {
    /// Notes the units done by `now`. The time before the first unit is the run's start-up
    /// (the token, the first turn), not its pace, so sampling starts with the first unit.
    pub(crate) fn observe(&mut self, now: Instant, done: u64) {
        if done == 0 {
            return;
        }
        let resumed = self.changed_at.is_some_and(|then| done > then);
        let due = self
            .samples
            .back()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= SAMPLE_EVERY);
        if due || resumed {
            self.samples.push_back((now, done));
        }
        if resumed {
            (self.changed_at, self.fresh_since) = (None, Some(now));
        }
        if let Some(since) = self
            .fresh_since
            .filter(|since| now.saturating_duration_since(*since) >= LEAST_SPAN)
        {
            self.samples.retain(|(at, _)| *at >= since);
            self.fresh_since = None;
        }
        // The oldest sample kept is the last one at or before the window's start.
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The pace changed (PingOne answered 429) when `done` units were done: the pace before
    /// says little of the pace after.
    pub(crate) fn changed(&mut self, done: u64) {
        self.changed_at = Some(done);
        self.fresh_since = None;
    }

    /// Units per second over the window, once it spans [`LEAST_SPAN`].
    pub(crate) fn per_second(&self, now: Instant, done: u64) -> Option<f64> {
        let (since, then) = *self.samples.front()?;
        let span = now.saturating_duration_since(since);
        (span >= LEAST_SPAN).then(|| done.saturating_sub(then) as f64 / span.as_secs_f64())
    }

    /// The time `left` units take at the window's pace; `None` while no pace is known (too
    /// early, or nothing done in the whole window: a long pause says nothing of the end).
    pub(crate) fn time_left(&self, now: Instant, done: u64, left: u64) -> Option<Duration> {
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let rate = self.per_second(now, done)?;
        (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate).min(LONGEST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pace fed `per_second` units a second for `seconds`, sampled every 200 ms, from `t0`.
    fn steady(pace: &mut Pace, t0: Instant, from: u64, per_second: u64, seconds: u64) -> u64 {
        let mut done = from;
        for tick in 1..=seconds * 5 {
            done = from + per_second * tick / 5;
            pace.observe(t0 + Duration::from_millis(200 * tick), done);
        }
        done
    }

    #[test]
    fn the_estimate_is_the_work_left_at_the_pace_of_the_window() {
        let t0 = Instant::now();
        let mut pace = Pace::default();
        assert_eq!(pace.time_left(t0, 0, 100), None, "nothing done yet");
        pace.observe(t0, 1);
        let half = t0 + Duration::from_millis(500);
        pace.observe(half, 11);
        assert_eq!(
            pace.time_left(half, 11, 100),
            None,
            "half a second is a burst"
        );
        let done = steady(&mut pace, half, 11, 20, 9);
        let now = half + Duration::from_secs(9);
        let left = pace.time_left(now, done, 200).unwrap();
        assert!((left.as_secs_f64() - 10.0).abs() < 0.3, "{left:?}");
        assert_eq!(pace.time_left(now, done, 0), Some(Duration::ZERO));
    }

    #[test]
    fn the_start_up_before_the_first_unit_is_not_pace() {
        let t0 = Instant::now();
        let mut pace = Pace::default();
        // Five seconds of nothing (a slow token), then 10 a second.
        pace.observe(t0, 0);
        pace.observe(t0 + Duration::from_secs(5), 0);
        let start = t0 + Duration::from_secs(5);
        let done = steady(&mut pace, start, 0, 10, 4);
        let rate = pace
            .per_second(start + Duration::from_secs(4), done)
            .unwrap();
        assert!((rate - 10.0).abs() < 0.5, "{rate}");
    }

    #[test]
    fn a_pace_that_changed_for_good_shows_within_the_window() {
        let t0 = Instant::now();
        let mut pace = Pace::default();
        let done = steady(&mut pace, t0, 0, 100, 120);
        let later = t0 + Duration::from_secs(120);
        let done = steady(&mut pace, later, done, 10, 70);
        let now = later + Duration::from_secs(70);
        let rate = pace.per_second(now, done).unwrap();
        assert!((rate - 10.0).abs() < 0.5, "{rate}");
        assert!(
            pace.samples.len() <= 5 * 61,
            "bounded: {}",
            pace.samples.len()
        );
    }

    #[test]
    fn after_a_429_the_pace_is_measured_anew_once_it_spans_a_second() {
        let t0 = Instant::now();
        let mut pace = Pace::default();
        // A burst of 20, a 429, a second's pause, then 20 a second.
        pace.observe(t0, 20);
        pace.changed(20);
        pace.observe(t0 + Duration::from_millis(500), 20);
        let resumed = t0 + Duration::from_secs(1);
        pace.observe(resumed, 21);
        let half = resumed + Duration::from_millis(500);
        pace.observe(half, 31);
        let before = pace.per_second(half, 31).unwrap();
        assert!(
            (before - 7.3).abs() < 0.1,
            "the old window stands: {before}"
        );
        let done = steady(&mut pace, half, 31, 20, 3);
        let rate = pace
            .per_second(half + Duration::from_secs(3), done)
            .unwrap();
        assert!(
            (rate - 20.0).abs() < 0.1,
            "the pause is not the pace: {rate}"
        );
    }

    #[test]
    fn a_window_without_progress_has_no_estimate() {
        let t0 = Instant::now();
        let mut pace = Pace::default();
        let done = steady(&mut pace, t0, 0, 10, 3);
        for s in 4..70 {
            pace.observe(t0 + Duration::from_secs(s), done);
        }
        assert_eq!(pace.time_left(t0 + Duration::from_secs(70), done, 50), None);
    }
}
