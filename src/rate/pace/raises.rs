//! Raises: after a quiet spell the pace tries a faster one, and an ease of timing is undone;
//! a raise refused within its trial is taken back at once, without a pause, and a second
//! later the count of what PingOne accepted may lift the pace to a limit that rose.

use tokio::time::Instant;

use super::turns::spacing;
use super::{
    Change, Gate, Pace, Raise, TakenBack, COUNT_AFTER_RAISE, EASE_KEPT, LONGEST_RAISE_AFTER,
    SHORTEST_RAISE_AFTER, TIMING_CUT,
};

/// The pace one raise above `rate`: 5 % more, at least one more, and half the way back to the
/// pace a measured cut came from (`refused`), when known; never past `ceiling`.
pub(crate) fn raised(rate: f64, ceiling: f64, refused: Option<f64>) -> f64 {
    let halfway = refused.map_or(0.0, |refused| (refused - rate) / 2.0);
    (rate + (rate * 0.05).max(1.0).max(halfway)).min(ceiling)
}

/// The pace after a raise met a 429: what PingOne accepted in the second before (its limit,
/// now measured over a second of this run's own requests), 3 % under the raise at most, and
/// never under the pace before the raise.
pub(crate) fn after_failed_raise(before: f64, raised: f64, accepted: f64) -> f64 {
    accepted.min(raised * (1.0 - TIMING_CUT)).max(before)
}

impl Pace {
    /// After an accepted request: an ease kept long enough without a 429 is undone, and a
    /// quiet spell long enough tries a raise.
    pub(super) fn maybe_raise(&mut self, now: Instant) {
        let quiet = now.saturating_duration_since(self.quiet_since);
        if self.gate == Gate::Open && quiet >= EASE_KEPT {
            if let Some(from) = self.eased_from.take() {
                self.rate = from.min(self.ceiling);
                self.quiet_since = now;
                self.changes.push(Change::Raised { to: self.rate });
                return;
            }
        }
        if self.gate != Gate::Open || self.rate >= self.ceiling || quiet < self.raise_after {
            return;
        }
        // The raise before this one held (no 429 within its trial): try sooner next time.
        if self.raised.is_some() {
            self.raise_after = (self.raise_after / 2).max(SHORTEST_RAISE_AFTER);
        }
        self.raised = Some(Raise {
            before: self.rate,
            at: now,
            first_turn: self.next_turn.max(now),
            sent_before: self.sent_total,
        });
        self.rate = raised(self.rate, self.ceiling, self.refused);
        self.quiet_since = now;
        self.changes.push(Change::Raised { to: self.rate });
    }

    /// A raise met a 429 within its trial: the pace before it returns at once, without a
    /// pause. PingOne's window still holds the raise's requests, so the next turn is where
    /// the grid of the pace before would have put it had they gone at that pace, none
    /// earlier than it went (no window then holds more than that pace allowed), or a second
    /// and the jitter from now, when they have all left it. Then the next turn counts what
    /// PingOne accepted.
    pub(super) fn take_back(&mut self, raise: Raise, refused_sent_at: Instant, now: Instant) {
        let raised = self.rate;
        self.rate = raise.before;
        self.raise_after = (self.raise_after * 2).min(LONGEST_RAISE_AFTER);
        self.refused = None;
        // Turns reserved at the raised pace are void: their requests ask again.
        self.revision += 1;
        // The raise's requests replayed on the slower grid: each takes the next turn of
        // that pace, or its own send time when it went later (requests may have gone late
        // and close together). Those older than MEASURE_MEMORY are out of every window.
        let sent_in_raise = usize::try_from(self.sent_total - raise.sent_before)
            .unwrap_or(usize::MAX)
            .min(self.sent.len());
        let gap = spacing(self.rate);
        let as_if_at_the_pace = self
            .sent
            .iter()
            .skip(self.sent.len() - sent_in_raise)
            .fold(raise.first_turn, |turn, sent| turn.max(*sent) + gap);
        // By then the raise's requests are all out of any window that holds the next turn.
        self.next_turn = as_if_at_the_pace.min(now + COUNT_AFTER_RAISE);
        self.quiet_since = now;
        self.taken_back = Some(TakenBack {
            count_at: now + COUNT_AFTER_RAISE,
            refused_sent_at,
            raised,
        });
        self.changes.push(Change::TakenBack {
            from: raised,
            to: self.rate,
        });
    }

    /// A second after a raise was taken back: when PingOne accepted more than the pace in
    /// the second before the refusal, its limit rose, and the pace goes up to it. The
    /// raise's requests have left the window by then: the next turn need not wait for them.
    pub(super) fn count_after_taken_back(&mut self, now: Instant) {
        let Some(taken_back) = self.taken_back.filter(|t| now >= t.count_at) else {
            return;
        };
        self.taken_back = None;
        let accepted = self.accepted_before(taken_back.refused_sent_at);
        let to = after_failed_raise(self.rate, taken_back.raised, accepted);
        if to > self.rate {
            self.rate = to;
            let after_last = self.sent.back().map_or(now, |last| *last + spacing(to));
            self.next_turn = self.next_turn.min(after_last);
            // Turns reserved at the slower pace ask again.
            self.revision += 1;
            self.changes.push(Change::Counted { to });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use super::*;
    use crate::config::Concurrency;
    use crate::rate::pace::tests::{
        answer_next, cut_from_80, eased_at_20, send_at_the_pace, take_turn,
    };
    use crate::rate::pace::{Answer, Step, Ticket, NETWORK_JITTER};

    #[test]
    fn a_raise_adds_five_percent_or_one_and_stops_at_the_configured_rate() {
        for (rate, ceiling, expected) in [
            (40.0, 160.0, 42.0),
            (10.0, 160.0, 11.0),
            (300.0, 400.0, 315.0),
            (399.0, 400.0, 400.0),
        ] {
            assert_eq!(raised(rate, ceiling, None), expected, "{rate}");
        }
    }

    #[test]
    fn a_raise_after_a_measured_cut_goes_half_the_way_back_and_a_refused_one_measures() {
        // Cut from 50 to 1 (another client filled the window): the raise goes to 25.5.
        assert_eq!(raised(1.0, 50.0, Some(50.0)), 25.5);
        assert_eq!(raised(40.0, 160.0, Some(160.0)), 100.0);
        // Refused at 25.5 with 20 accepted in the second before: 20.
        assert_eq!(after_failed_raise(1.0, 25.5, 20.0), 20.0);
        // Refused at 42 with 40 accepted: back to 40, never below the pace before.
        assert_eq!(after_failed_raise(40.0, 42.0, 40.0), 40.0);
        assert_eq!(after_failed_raise(40.0, 42.0, 30.0), 40.0);
        // All of a raise accepted yet refused: a refusal of timing, 3 % under it.
        assert!((after_failed_raise(40.0, 42.0, 45.0) - 40.74).abs() < 1e-9);
    }

    /// One request through a stand-in for PingOne that accepts 20 in any second: whether
    /// it was accepted. Its answer comes 5 ms later.
    fn one_request(pace: &mut Pace, now: &mut Instant, window: &mut VecDeque<Instant>) -> bool {
        let ticket = take_turn(pace, now);
        while window
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        let accepted = window.len() < 20;
        let answer = if accepted {
            window.push_back(*now);
            Answer::Accepted
        } else {
            Answer::Limited(Some(Duration::from_secs(1)))
        };
        *now += Duration::from_millis(5);
        pace.answered(ticket, answer, *now);
        accepted
    }

    /// A raise whose requests went late and close together (nobody asked for a turn for
    /// two seconds after the raise): when it is taken back, the next turn still waits for
    /// PingOne's window, and nothing sent after it meets a 429.
    #[test]
    fn a_raise_whose_requests_went_late_is_taken_back_behind_them() {
        let start = Instant::now();
        let mut pace = Pace::new(80, Concurrency::Auto, start);
        let (mut now, mut window) = (start, VecDeque::new());
        while pace.rate() != 50.0 {
            one_request(&mut pace, &mut now, &mut window);
        }
        now += Duration::from_secs(2);
        while one_request(&mut pace, &mut now, &mut window) {}
        assert_eq!(pace.rate(), 20.0, "taken back");
        let until = now + Duration::from_secs(3);
        let mut refused = 0;
        while now < until {
            refused += usize::from(!one_request(&mut pace, &mut now, &mut window));
        }
        assert_eq!(refused, 0, "{:?}", pace.take_changes());
        assert_eq!(pace.rate(), 20.0);
    }

    /// A raise refused within its trial is taken back at once, without a pause, and the
    /// turns after it leave no window fuller than the pace before the raise would have, for
    /// as long as the raise's requests are in it. A second later, PingOne having accepted
    /// more than that pace, the pace rises to the count.
    #[test]
    fn a_refused_raise_is_taken_back_without_a_pause_and_the_window_kept() {
        let ms = Duration::from_millis;
        let answer = answer_next;
        let one_second = Answer::Limited(Some(Duration::from_secs(1)));
        // PingOne accepts 20, refuses the 21st: the pause measures 20.
        let (mut pace, mut now) = cut_from_80(20, Instant::now());
        // Half a minute at 20/s, then the raise, half the way back to 80; ten of its
        // requests are accepted, the eleventh refused.
        let mut sent = Vec::new();
        while pace.rate() == 20.0 {
            sent.push(answer(&mut pace, &mut now, Answer::Accepted).0);
        }
        assert_eq!(pace.rate(), 50.0);
        for _ in 0..10 {
            sent.push(answer(&mut pace, &mut now, Answer::Accepted).0);
        }
        // A request holds a turn of the raised pace when the raise is refused.
        let Step::At {
            revision: stale, ..
        } = pace.next(now)
        else {
            panic!("a turn ahead at the raised pace")
        };
        let (refused_at, looks_again) = answer(&mut pace, &mut now, one_second);
        sent.push(refused_at);
        assert!(looks_again, "the waiting requests take new turns");
        assert_eq!(pace.rate(), 20.0, "taken back");
        assert!(
            !matches!(pace.next(now + ms(5)), Step::PausedUntil(_)),
            "no pause"
        );
        let changes = pace.take_changes();
        assert_eq!(
            changes.last(),
            Some(&Change::TakenBack {
                from: 50.0,
                to: 20.0
            }),
            "{changes:?}"
        );
        let taken_back = sent.len();
        while now < refused_at + COUNT_AFTER_RAISE {
            sent.push(answer(&mut pace, &mut now, Answer::Accepted).0);
        }
        let window = Duration::from_secs_f64(1.0 + NETWORK_JITTER);
        for (i, at) in sent.iter().enumerate().skip(taken_back) {
            let in_window = sent[..=i].iter().filter(|t| **t + window > *at).count();
            assert!(
                in_window <= 20,
                "{in_window} in the window ending at turn {i}"
            );
        }
        // PingOne accepted the ten and all those before them in that second.
        let counted = sent
            .iter()
            .filter(|t| **t < refused_at && **t + Duration::from_secs(1) >= refused_at)
            .count();
        assert!(counted > 20, "{counted}");
        sent.push(answer(&mut pace, &mut now, Answer::Accepted).0);
        assert_eq!(pace.rate(), counted as f64);
        assert_eq!(
            pace.take_changes(),
            vec![Change::Counted { to: counted as f64 }]
        );
        // No turn came sooner than the faster pace allows, the one after the count included.
        let closest = sent[taken_back..]
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .min()
            .unwrap();
        assert!(closest >= spacing(counted as f64), "{closest:?}");
        assert_eq!(pace.confirm(stale, now), None, "the raised turn stays void");
    }

    /// Raises that hold come sooner each time: each one that held halves the spell before
    /// the next but one (down to 5 s). Raises at 30 s and 60 s, then 15 s, 7.5 s and 5 s
    /// apart: five in a minute and a half, where a doubling spell would make two.
    #[test]
    fn raises_that_hold_come_sooner_each_time() {
        let (mut pace, mut now) = cut_from_80(20, Instant::now());
        let cut_at = now;
        pace.take_changes();
        while now < cut_at + Duration::from_secs(90) {
            answer_next(&mut pace, &mut now, Answer::Accepted);
        }
        let raises = pace
            .take_changes()
            .iter()
            .filter(|c| matches!(c, Change::Raised { .. }))
            .count();
        assert!(raises >= 4, "{raises} raises in a minute and a half");
    }

    /// A refused raise from a slow pace: its requests hold PingOne's window for a second
    /// at most, however long the slow pace would have taken to send them.
    #[test]
    fn a_raise_taken_back_from_a_slow_pace_waits_a_second_at_most() {
        let ms = Duration::from_millis;
        let one_second = Answer::Limited(Some(Duration::from_secs(1)));
        let (mut pace, mut now) = cut_from_80(4, Instant::now());
        while pace.rate() == 4.0 {
            answer_next(&mut pace, &mut now, Answer::Accepted);
        }
        assert_eq!(pace.rate(), 42.0, "half the way back to 80");
        // Twenty requests of the raise on their way (five seconds of the pace of 4/s), and
        // the first answered 429.
        let raised: Vec<Ticket> = (0..20).map(|_| take_turn(&mut pace, &mut now)).collect();
        let answered_at = now + ms(5);
        assert!(pace.answered(raised[0], one_second, answered_at));
        assert_eq!(pace.rate(), 4.0);
        let mut after = answered_at;
        take_turn(&mut pace, &mut after);
        assert!(
            after <= answered_at + COUNT_AFTER_RAISE,
            "{:?} later",
            after - answered_at
        );
    }

    /// An ease of timing is undone once the pace has gone ten seconds without a 429.
    #[test]
    fn an_ease_of_timing_is_undone_after_ten_quiet_seconds() {
        let (mut pace, slot) = eased_at_20(Instant::now());
        let (_, now) = send_at_the_pace(&mut pace, slot, slot + Duration::from_secs(9));
        assert!((pace.rate() - 19.4).abs() < 1e-9, "kept for ten seconds");
        send_at_the_pace(&mut pace, now, now + Duration::from_secs(2));
        assert_eq!(pace.rate(), 20.0, "undone");
    }
}
