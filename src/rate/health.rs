//! The health check on PingOne's answers: when a streak of requests, across all rows, fails
//! for one server-side reason, the run stops (`stop_after_failures`), so that a resume picks
//! up later instead of burning through the file.
//!
//! Refusals (401/403) stop the run as soon as the streak reaches the count: waiting does not
//! mend them. 5xx or no answer stop it only once the streak has also lasted one request's
//! backoff ([`Limits::backoff_floor`], 31 s with the defaults): rows failing side by side
//! reach the count within a second, while every one of them is still riding out the backoff
//! docs/rate-limits.md promises, and a blip of a second or two must not stop a 200,000-row nightly run.
//! A state machine without a clock of its own: the caller hands it the instant.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Limits;

/// The server-side reasons a streak is made of; a failure of another kind starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    Auth,
    Server,
    Network,
}

impl FailureClass {
    fn what(self) -> &'static str {
        match self {
            Self::Auth => "were refused (401/403): check the worker app's roles",
            Self::Server => "failed on PingOne's side (5xx): the service is in trouble",
            Self::Network => "got no answer: check the network and the region",
        }
    }

    /// Whether a streak of this kind must first last one request's backoff.
    fn is_ridden_out(self) -> bool {
        match self {
            Self::Auth => false,
            Self::Server | Self::Network => true,
        }
    }
}

/// The streak of failures the module doc describes: one per run, fed every answer.
#[derive(Debug)]
pub(crate) struct Health {
    stop_after: u32,
    ride_out: Duration,
    any_success: bool,
    streak: u32,
    class: Option<FailureClass>,
    /// When the streak's first failure came.
    since: Option<Instant>,
}

impl Health {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            stop_after: limits.stop_after_failures,
            ride_out: limits.backoff_floor(),
            any_success: false,
            streak: 0,
            class: None,
            since: None,
        }
    }

    /// Whether PingOne ever answered a request with success.
    pub(crate) fn any_success(&self) -> bool {
        self.any_success
    }

    /// An answer that is no failure ends the streak.
    pub(crate) fn success(&mut self) {
        self.any_success = true;
        self.streak = 0;
        self.class = None;
        self.since = None;
    }

    /// Counts one failure at `now` (`said` is its message); returns the stop message when
    /// the streak now stops the run.
    pub(crate) fn failure(
        &mut self,
        class: FailureClass,
        said: &str,
        now: Instant,
    ) -> Option<String> {
        if self.class == Some(class) {
            self.streak += 1;
        } else {
            self.class = Some(class);
            self.streak = 1;
            self.since = Some(now);
        }
        let lasted = self.since.map_or(Duration::ZERO, |since| now - since);
        let ridden_out = !class.is_ridden_out() || lasted >= self.ride_out;
        (self.streak >= self.stop_after && ridden_out).then(|| {
            format!(
                "the last {} all {}; the last said: {said}. Run again later with --resume",
                crate::words::count(self.streak, "request", "requests"),
                class.what()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 requests in a row; backoff 1 s then 2 s (3 s at least).
    fn health() -> Health {
        Health::new(&Limits {
            stop_after_failures: 5,
            max_retries: 2,
            backoff_initial: Duration::from_secs(1),
            ..Limits::default()
        })
    }

    /// Feeds `count` failures of `class`, one every `gap` from `start`; the first stop message.
    fn fail(
        health: &mut Health,
        class: FailureClass,
        count: u32,
        start: Instant,
        gap: Duration,
    ) -> Option<(u32, String)> {
        (0..count).find_map(|i| {
            let said = health.failure(class, "connection refused", start + gap * i);
            said.map(|message| (i + 1, message))
        })
    }

    #[test]
    fn refusals_stop_the_run_at_the_count_at_once() {
        let mut health = health();
        let now = Instant::now();
        let (at, message) =
            fail(&mut health, FailureClass::Auth, 10, now, Duration::ZERO).expect("a stop");
        assert_eq!(at, 5);
        assert!(
            message.contains("the last 5 requests all were refused"),
            "{message}"
        );
    }

    #[test]
    fn no_answer_at_the_count_within_a_second_is_a_blip_not_a_stop() {
        let mut health = health();
        let now = Instant::now();
        // 40 rows failing side by side: the count within 0.4 s, no stop.
        let gap = Duration::from_millis(10);
        assert_eq!(fail(&mut health, FailureClass::Network, 40, now, gap), None);
        // The streak goes on: the first failure once it has lasted 3 s stops the run.
        assert_eq!(
            health.failure(FailureClass::Server, "503", now),
            None,
            "a new streak"
        );
        let later = now + Duration::from_millis(2_999);
        assert_eq!(
            fail(&mut health, FailureClass::Server, 10, later, Duration::ZERO),
            None
        );
        let (at, message) = fail(
            &mut health,
            FailureClass::Server,
            1,
            now + Duration::from_secs(3),
            gap,
        )
        .expect("ridden out: a stop");
        assert_eq!(at, 1);
        assert!(
            message.contains("the last 12 requests all failed on PingOne's side"),
            "{message}"
        );
    }

    #[test]
    fn an_answer_between_two_blips_starts_the_count_and_the_clock_again() {
        let mut health = health();
        let now = Instant::now();
        let gap = Duration::from_millis(100);
        assert_eq!(fail(&mut health, FailureClass::Network, 20, now, gap), None);
        health.success();
        // 2 s of failures again: 4 s after the first blip began, but the new streak is young.
        let again = now + Duration::from_secs(2);
        assert_eq!(
            fail(&mut health, FailureClass::Network, 20, again, gap),
            None
        );
        assert!(health.any_success());
    }

    #[test]
    fn a_streak_shorter_than_the_count_never_stops_the_run() {
        let mut health = health();
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        assert_eq!(
            fail(&mut health, FailureClass::Server, 4, now, minute),
            None
        );
    }
}
