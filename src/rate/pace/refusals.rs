//! What a 429 does to the pace: a 429 of timing eases it without a pause, any other pauses
//! the whole run and, when the pause ends, cuts the pace to what PingOne accepted; after a
//! pause one request probes alone, and a refused probe is a storm, whose cut an accepted
//! probe undoes. A raise refused within its trial is `raises.rs`'s. A 503 with
//! `Retry-After` pauses the run too, without a cut.

use std::time::Duration;

use tokio::time::Instant;

use super::{
    Change, Gate, Pace, Ticket, DEFAULT_PAUSE, ESCALATE, FULL_SECOND, LOWEST_RATE, MAX_RETRY_AFTER,
    MEASURED_BELOW, RAISE_TRIAL, TIMING_CUT, UNDO_TRIAL,
};

/// The pace after a 429, from the requests accepted in the second before the refused one was
/// sent: that count when it is well under the pace (PingOne's limit), else 3 % under the pace
/// (a refusal of timing). `None` when nothing was accepted, which measures nothing (a storm
/// that began during a pause).
pub(crate) fn cut_to(rate: f64, accepted: f64) -> Option<f64> {
    if accepted <= 0.0 {
        return None;
    }
    let to = if accepted < rate * MEASURED_BELOW {
        accepted
    } else {
        rate * (1.0 - TIMING_CUT)
    };
    Some(to.max(LOWEST_RATE))
}

impl Pace {
    /// A 429 of the request `ticket` went with: a raise in its trial is taken back, one of
    /// timing eases the pace, any other pauses the run (a probe's: a storm). True when the
    /// requests waiting on the pace should look again.
    pub(super) fn limited(
        &mut self,
        ticket: Ticket,
        retry_after: Option<Duration>,
        now: Instant,
    ) -> bool {
        self.was_limited = true;
        let paused = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_RETRY_AFTER);
        let until = now + paused;
        if ticket.epoch != self.epoch {
            // Sent before the last ease or pause: the same burst, nothing more to do. It may
            // still lengthen the pause it belongs to.
            if let Gate::Paused { until: current } = &mut self.gate {
                *current = (*current).max(until);
            }
            return false;
        }
        self.epoch += 1;
        let raise_failed = self
            .raised
            .take()
            .filter(|raise| now.saturating_duration_since(raise.at) < RAISE_TRIAL);
        if let Some(raise) = raise_failed.filter(|_| !ticket.probe) {
            self.take_back(raise, ticket.sent_at, now);
            return true;
        }
        let escalating = self
            .eased
            .take()
            .filter(|(at, _)| now.saturating_duration_since(*at) < ESCALATE);
        let timing = !ticket.probe
            && escalating.is_none()
            && self.gate == Gate::Open
            && self.sent_in_second_before(ticket.sent_at) as f64 >= FULL_SECOND * self.rate;
        if timing {
            self.ease(now);
            return false;
        }
        if let Some((_, before)) = escalating {
            // More than timing: the pause measures from the pace before the ease.
            self.rate = before;
        }
        self.eased_from = None;
        self.taken_back = None;
        self.revision += 1;
        self.gate = Gate::Paused { until };
        self.next_turn = until;
        self.quiet_since = until;
        if ticket.probe {
            if !self.in_storm {
                self.changes.push(Change::Storm { paused });
            }
            self.in_storm = true;
            return true;
        }
        self.pending_cut = Some(ticket.sent_at);
        let recently_undone = self
            .undone_at
            .is_some_and(|at| now.saturating_duration_since(at) < UNDO_TRIAL);
        self.before_cut = (!recently_undone).then_some(self.rate);
        self.in_storm = false;
        self.changes.push(Change::Paused { paused });
        true
    }

    /// A 503 with `Retry-After`: the whole run waits it out, then one request probes, as
    /// after a 429's pause; a pause already under way is only lengthened. The pace is not
    /// cut and no 429 is counted: a 503 is PingOne's health, not this run's rate, and what
    /// PingOne accepted in the second before it measures no limit. True when the requests
    /// waiting on the pace should look again.
    pub(super) fn unavailable(&mut self, retry_after: Duration, now: Instant) -> bool {
        let paused = retry_after.min(MAX_RETRY_AFTER);
        let until = now + paused;
        if let Gate::Paused { until: current } = &mut self.gate {
            *current = (*current).max(until);
            self.next_turn = self.next_turn.max(until);
            return false;
        }
        self.revision += 1;
        self.gate = Gate::Paused { until };
        self.next_turn = self.next_turn.max(until);
        self.quiet_since = self.quiet_since.max(until);
        self.changes.push(Change::Unavailable { paused });
        true
    }

    /// The pause is over: make the cut it waited for, and let one probe go.
    pub(super) fn end_pause(&mut self) {
        self.gate = Gate::Probing { sent: false };
        let Some(refused_sent_at) = self.pending_cut.take() else {
            return;
        };
        let to = cut_to(self.rate, self.accepted_before(refused_sent_at));
        if let Some(to) = to.filter(|to| *to < self.rate) {
            self.refused = Some(self.rate);
            self.changes.push(Change::Cut {
                from: self.rate,
                to,
            });
            self.rate = to;
            self.cuts += 1;
        }
    }

    /// A 429 of timing: the pace eases by 3 %; the others go on.
    fn ease(&mut self, now: Instant) {
        self.taken_back = None;
        let from = self.rate;
        self.rate = (from * (1.0 - TIMING_CUT)).max(LOWEST_RATE);
        self.eased = Some((now, from));
        self.eased_from.get_or_insert(from);
        self.quiet_since = now;
        self.changes.push(Change::Eased {
            from,
            to: self.rate,
        });
    }

    /// A probe was accepted: the run goes on, at the pace from before a storm's cut.
    pub(super) fn open(&mut self, now: Instant) {
        self.gate = Gate::Open;
        self.quiet_since = now;
        let before = self.before_cut.take();
        if std::mem::take(&mut self.in_storm) {
            if let Some(before) = before.filter(|b| *b > self.rate) {
                self.rate = before;
                self.undone_at = Some(now);
                self.changes.push(Change::Undone { to: before });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Concurrency;
    use crate::rate::pace::tests::{eased_at_20, take_turn};
    use crate::rate::pace::{Answer, Step};

    #[test]
    fn a_cut_takes_the_count_or_three_percent_when_pingone_took_all_the_pace_sent() {
        // (pace, accepted in the second before the 429, pace after)
        for (rate, accepted, expected) in [
            (160.0, 40.0, Some(40.0)),
            (40.0, 15.0, Some(15.0)),
            (40.0, 35.0, Some(35.0)),
            (40.0, 39.0, Some(38.8)),
            // Exactly 0.9 of the pace is no longer "well under" it.
            (40.0, 36.0, Some(38.8)),
            (40.0, 35.9, Some(35.9)),
            (40.0, 55.0, Some(38.8)),
            (20.0, 0.0, None),
            (1.0, 1.0, Some(0.97)),
            (0.5, 1.0, Some(0.5)),
        ] {
            let to = cut_to(rate, accepted);
            let close = match (to, expected) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(close, "{rate} {accepted}: {to:?}");
        }
    }

    /// A 429 after a second at the full pace eases it without a pause; a second one within
    /// two seconds undoes the ease and pauses the run.
    #[test]
    fn a_429_of_timing_eases_the_pace_and_a_second_one_pauses() {
        let (mut pace, slot) = eased_at_20(Instant::now());
        let one_second = Some(Duration::from_secs(1));
        assert!(matches!(pace.next(slot), Step::At { .. }), "no pause");
        // The next turn is refused too: more than timing.
        let Step::At { slot, revision } = pace.next(slot) else {
            panic!("the pace goes on")
        };
        let again = pace.confirm(revision, slot).unwrap();
        assert!(pace.answered(again, Answer::Limited(one_second), slot));
        assert_eq!(pace.rate(), 20.0, "the ease is undone");
        assert!(matches!(pace.next(slot), Step::PausedUntil(_)));
    }

    /// After a pause one request probes alone; the others wait for its answer.
    #[test]
    fn after_a_pause_one_probe_goes_alone() {
        let start = Instant::now();
        let mut pace = Pace::new(10, Concurrency::Auto, start);
        let Step::Go(first) = pace.next(start) else {
            panic!("the first request goes at once")
        };
        let ms = Duration::from_millis;
        assert!(pace.answered(first, Answer::Limited(Some(ms(1500))), start + ms(5)));
        assert_eq!(
            pace.next(start + ms(10)),
            Step::PausedUntil(start + ms(1505))
        );
        let after = start + ms(1600);
        let Step::Go(probe) = pace.next(after) else {
            panic!("the probe goes when the pause ends")
        };
        assert!(probe.probe);
        assert_eq!(pace.next(after), Step::AwaitProbe);
        assert!(pace.answered(probe, Answer::Accepted, after + ms(5)));
        assert!(matches!(pace.next(after + ms(5)), Step::At { .. }));
    }

    /// A probe that gets no answer teaches nothing: another request probes while the others
    /// still wait. A lost request of an open run changes nothing.
    #[test]
    fn a_lost_probe_lets_another_probe_and_a_lost_request_changes_nothing() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace::new(10, Concurrency::Auto, start);
        let Step::Go(first) = pace.next(start) else {
            panic!("the first request goes at once")
        };
        assert!(!pace.answered(first, Answer::Lost, start + ms(5)));
        let mut now = start + ms(5);
        let second = take_turn(&mut pace, &mut now);
        assert!(!second.probe, "an ordinary turn");
        let one_second = Answer::Limited(Some(Duration::from_secs(1)));
        assert!(pace.answered(second, one_second, now + ms(5)), "a pause");
        now += Duration::from_secs(2);
        let Step::Go(probe) = pace.next(now) else {
            panic!("the probe")
        };
        assert!(probe.probe);
        assert_eq!(pace.next(now), Step::AwaitProbe);
        assert!(
            pace.answered(probe, Answer::Lost, now + ms(5)),
            "the others look again"
        );
        let Step::Go(again) = pace.next(now + ms(5)) else {
            panic!("another probe goes")
        };
        assert!(again.probe);
    }

    /// A storm is logged once, however many probes it refuses.
    #[test]
    fn a_storm_is_logged_once_however_many_probes_it_refuses() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace::new(10, Concurrency::Auto, start);
        let Step::Go(first) = pace.next(start) else {
            panic!("the first request goes at once")
        };
        let one_second = Answer::Limited(Some(Duration::from_secs(1)));
        pace.answered(first, one_second, start + ms(5));
        let mut now = start + ms(5);
        for _ in 0..3 {
            now += Duration::from_secs(1);
            let Step::Go(probe) = pace.next(now) else {
                panic!("a probe")
            };
            assert!(probe.probe);
            pace.answered(probe, one_second, now + ms(5));
            now += ms(5);
        }
        let changes = pace.take_changes();
        let storms = changes
            .iter()
            .filter(|c| matches!(c, Change::Storm { .. }))
            .count();
        assert_eq!(storms, 1, "{changes:?}");
    }

    /// A 503 with `Retry-After` pauses every request, then one probes alone; the pace is
    /// not cut and the run is not counted as limited.
    #[test]
    fn a_503_with_retry_after_pauses_the_run_and_probes_without_a_cut() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace::new(10, Concurrency::Auto, start);
        let Step::Go(first) = pace.next(start) else {
            panic!("the first request goes at once")
        };
        assert!(pace.answered(first, Answer::Unavailable(ms(2000)), start + ms(5)));
        assert_eq!(
            pace.next(start + ms(10)),
            Step::PausedUntil(start + ms(2005))
        );
        let after = start + ms(2100);
        let Step::Go(probe) = pace.next(after) else {
            panic!("the probe goes when the pause ends")
        };
        assert!(probe.probe);
        assert_eq!(pace.next(after), Step::AwaitProbe);
        assert!(pace.answered(probe, Answer::Accepted, after + ms(5)));
        assert!(matches!(pace.next(after + ms(5)), Step::At { .. }));
        assert_eq!(pace.rate(), 10.0, "no cut");
        assert_eq!(pace.server_limit(), None, "no 429");
        let changes = pace.take_changes();
        assert!(
            changes
                .iter()
                .all(|c| matches!(c, Change::Unavailable { .. })),
            "{changes:?}"
        );
    }
}
