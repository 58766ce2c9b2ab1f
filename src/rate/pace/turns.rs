//! The grid of turns: when the next request may go (GCRA with no burst, spaced by
//! [`spacing`]), the probe that goes alone after a pause, and what each answer feeds back;
//! with the memory of when recent requests were sent and accepted, which a 429 counts.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{
    Answer, Gate, Pace, Step, Ticket, CLOCK_JUMP, LOWEST_RATE, MEASURE_MEMORY, MEASURE_MOST,
    NETWORK_JITTER,
};

/// Spacing of turns at `rate` requests per second: a window of 1 s + jitter holds at most
/// `floor(W / p) + 1` turns, which must not pass `rate` (rounded up).
pub(crate) fn spacing(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 + NETWORK_JITTER) / rate.max(LOWEST_RATE) * 1.0001)
}

impl Pace {
    /// The next step of a request that wants to go at `now`.
    pub(crate) fn next(&mut self, now: Instant) -> Step {
        if let Gate::Paused { until } = self.gate {
            if now < until {
                return Step::PausedUntil(until);
            }
            self.end_pause();
        }
        match self.gate {
            Gate::Probing { sent: true } => Step::AwaitProbe,
            // The pause left the grid empty: the probe goes at once.
            Gate::Probing { sent: false } => {
                self.gate = Gate::Probing { sent: true };
                self.next_turn = now + spacing(self.rate);
                Step::Go(self.send(now, true))
            }
            Gate::Open | Gate::Paused { .. } => {
                self.count_after_taken_back(now);
                let slot = self.next_turn.max(now);
                self.next_turn = slot + spacing(self.rate);
                if slot <= now {
                    Step::Go(self.send(now, false))
                } else {
                    Step::At {
                        slot,
                        revision: self.revision,
                    }
                }
            }
        }
    }

    /// At its slot, a reserved turn goes, unless a pause came in between (then: [`Pace::next`]).
    pub(crate) fn confirm(&mut self, revision: u64, now: Instant) -> Option<Ticket> {
        self.count_after_taken_back(now);
        (revision == self.revision && self.gate == Gate::Open).then(|| self.send(now, false))
    }

    /// As [`Pace::confirm`], for a turn reserved at `slot`, unless the clock jumped: a turn
    /// taken more than [`CLOCK_JUMP`] after its slot was slept through (the process was
    /// stopped, SIGSTOP, or its machine suspended), and so were the other turns reserved
    /// then, which would all go at once. The grid starts again from now instead: the turns
    /// reserved are void, and their requests ask again (`None`).
    pub(crate) fn confirm_at(
        &mut self,
        revision: u64,
        slot: Instant,
        now: Instant,
    ) -> Option<Ticket> {
        if revision == self.revision && now.saturating_duration_since(slot) > CLOCK_JUMP {
            self.revision += 1;
            self.next_turn = self.next_turn.max(now);
            return None;
        }
        self.confirm(revision, now)
    }

    /// A request goes now: counted in flight and remembered.
    fn send(&mut self, now: Instant, probe: bool) -> Ticket {
        self.in_flight += 1;
        self.most_in_flight = self.most_in_flight.max(self.in_flight);
        self.sent_total += 1;
        remember(&mut self.sent, now, now);
        Ticket {
            sent_at: now,
            epoch: self.epoch,
            probe,
        }
    }

    /// Feeds back how a request ended. True when requests waiting on the pace should look
    /// again (a pause began, or a probe was answered).
    pub(crate) fn answered(&mut self, ticket: Ticket, answer: Answer, now: Instant) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        match answer {
            Answer::Lost if ticket.probe => {
                // Nothing learnt: another request probes.
                self.gate = Gate::Probing { sent: false };
                true
            }
            Answer::Lost => false,
            Answer::Accepted => {
                self.latencies
                    .add(now.saturating_duration_since(ticket.sent_at));
                remember(&mut self.accepted, ticket.sent_at, now);
                // A probe answered while a 503 paused the run again opens nothing: the
                // pause ends with a probe of its own.
                if ticket.probe && matches!(self.gate, Gate::Probing { .. }) {
                    self.open(now);
                    return true;
                }
                self.maybe_raise(now);
                false
            }
            Answer::Limited(retry_after) => self.limited(ticket, retry_after, now),
            Answer::Unavailable(retry_after) => self.unavailable(retry_after, now),
        }
    }

    /// Requests PingOne accepted among those sent in the second before `refused_sent_at`.
    pub(super) fn accepted_before(&self, refused_sent_at: Instant) -> f64 {
        in_second_before(&self.accepted, refused_sent_at) as f64
    }

    /// Requests sent in the second before `refused_sent_at`, accepted or not.
    pub(super) fn sent_in_second_before(&self, refused_sent_at: Instant) -> usize {
        in_second_before(&self.sent, refused_sent_at)
    }
}

/// Adds `at` to recent times, forgetting those past [`MEASURE_MEMORY`] now and then; never
/// more than [`MEASURE_MOST`] are kept.
fn remember(times: &mut VecDeque<Instant>, at: Instant, now: Instant) {
    times.push_back(at);
    if times.len() > MEASURE_MOST {
        times.pop_front();
    }
    if times.len().is_multiple_of(256) {
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > MEASURE_MEMORY)
        {
            times.pop_front();
        }
    }
}

/// How many of `times` fall in the second before `until`.
fn in_second_before(times: &VecDeque<Instant>, until: Instant) -> usize {
    let from = until.checked_sub(Duration::from_secs(1));
    times
        .iter()
        .filter(|t| **t < until && from.is_none_or(|from| **t >= from))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Concurrency;
    use crate::rate::pace::tests::take_turn;

    #[test]
    fn no_window_of_a_second_and_the_jitter_holds_more_than_the_rate() {
        for rate in [
            0.5, 1.0, 2.0, 5.0, 7.0, 7.3, 10.0, 19.4, 20.0, 39.0, 40.0, 50.0, 100.0, 200.0, 300.0,
            1000.0, 100_000.0,
        ] {
            let gap = spacing(rate).as_secs_f64();
            let most = ((1.0 + NETWORK_JITTER) / gap).floor() + 1.0;
            assert!(most <= rate.ceil(), "rate {rate}: {most} in a window");
            let share = 1.0 / gap / rate;
            assert!(share >= 0.975, "rate {rate}: paced at {share} of it");
        }
    }

    /// The most requests in flight at once, for the summary: counted as they go and come.
    #[test]
    fn the_most_in_flight_is_counted_as_requests_go_and_come_back() {
        let start = Instant::now();
        let mut pace = Pace::new(1000, Concurrency::Pinned(8), start);
        let mut now = start;
        let first: Vec<Ticket> = (0..3).map(|_| take_turn(&mut pace, &mut now)).collect();
        for ticket in first {
            pace.answered(ticket, Answer::Accepted, now);
        }
        let second: Vec<Ticket> = (0..2).map(|_| take_turn(&mut pace, &mut now)).collect();
        for ticket in second {
            pace.answered(ticket, Answer::Accepted, now);
        }
        assert_eq!(pace.most_in_flight(), 3);
    }
}
