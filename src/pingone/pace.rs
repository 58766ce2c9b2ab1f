//! The throttle's decisions, as a state machine without I/O or clock of its own: when the
//! next request may go, what an answer does to the pace, and how many requests to keep in
//! flight. `throttle.rs` runs it with real waits; the tests here hand it instants.
//!
//! - **Pace**: requests go on a grid of evenly spaced turns (GCRA with no burst), spaced so
//!   that no window of one second plus [`NETWORK_JITTER`] holds more than `rate` turns (a
//!   pace of 19.4/s holds 20 with 55 ms to spare).
//! - **Measure and cut**: a 429 pauses the whole run for its `Retry-After`. The requests
//!   PingOne accepted among those sent in the second before the refused one are what it
//!   allows this run; when the pause ends the pace becomes that count. When PingOne had
//!   accepted all the pace sent, the refusal was one of timing (requests that reached it
//!   bunched), and the pace drops by 3 % instead, which widens the spacing. 429s of requests
//!   sent before the cut do not cut again.
//! - **Probe**: after a pause one request goes alone. A refused probe means PingOne refuses
//!   everything for now (a storm): no further cut, another pause, another probe. When a
//!   probe is accepted after a storm, the cut the storm caused is undone, since a storm
//!   says nothing about the limit; if the limit did fall meanwhile, the next 429 measures it.
//! - **Raise**: after a quiet spell (a minute at first) the pace is raised by 5 % (at least
//!   one request per second); a raise refused within seconds is taken back and doubles the
//!   spell (up to ten minutes), one that holds halves it (down to five seconds), so a raised
//!   limit is found in minutes and a settled run tries rarely.
//! - **In flight**: `concurrency = "auto"` keeps `rate` × the latency of recent answers (the
//!   larger of their mean and p90) × 1.5, plus two, in flight, within
//!   [`AUTO_FEWEST`]..=[`AUTO_MOST`]; a number pins it. The mean is what Little's law asks
//!   for; the p90 covers latency that varies; the two spare are the requests that hold a
//!   place while they wait for their turn.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Concurrency, AUTO_FEWEST, AUTO_MOST};

/// How much later one request may reach PingOne than another sent after it; the spacing
/// leaves room for it, so no one-second window of the server's clock sees more than `rate`.
/// A new connection, a token, a busy machine all delay one request and not the next: 10 ms
/// let a run on a loaded 2-core machine put 21 requests in one second at 20/s, once in three.
pub(crate) const NETWORK_JITTER: f64 = 0.025;
/// Longest wait a `Retry-After` can impose on the run; a bigger value is taken as this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// The pause after a 429 that names no `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The quiet spell before the first raise after a cut, and its bounds.
const FIRST_RAISE_AFTER: Duration = Duration::from_secs(60);
const SHORTEST_RAISE_AFTER: Duration = Duration::from_secs(5);
const LONGEST_RAISE_AFTER: Duration = Duration::from_secs(600);
/// A cut to what PingOne accepted needs it to have accepted less than this share of the pace;
/// above it, the refusal is one of timing, and the pace drops by [`TIMING_CUT`].
const MEASURED_BELOW: f64 = 0.9;
const TIMING_CUT: f64 = 0.03;
/// The slowest pace a cut makes.
const LOWEST_RATE: f64 = 0.5;
/// A 429 this soon after a raise means the raise went past the limit.
const RAISE_TRIAL: Duration = Duration::from_secs(5);
/// A cut this soon after a storm's cut was undone is kept, storm or not: the undoing was
/// wrong, and undoing again would oscillate.
const UNDO_TRIAL: Duration = Duration::from_secs(10);
/// How long accepted requests are remembered for measuring, and how many at most.
const MEASURE_MEMORY: Duration = Duration::from_secs(2);
const MEASURE_MOST: usize = 1 << 16;
/// In flight, auto: a margin over Little's law for latency that varies.
const HEADROOM: f64 = 1.5;
/// In flight, auto, before any latency is known.
const AUTO_START: usize = 8;
/// Places beyond Little's law: requests waiting for their turn hold one.
const SPARE: usize = 2;
/// Latencies kept for the estimate, and how often it is taken again.
const LATENCY_SAMPLES: usize = 256;
const LATENCY_EVERY: u32 = 16;

/// Spacing of turns at `rate` requests per second: a window of 1 s + jitter holds at most
/// `floor(W / p) + 1` turns, which must not pass `rate` (rounded up).
pub(crate) fn spacing(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 + NETWORK_JITTER) / rate.max(LOWEST_RATE) * 1.0001)
}

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

/// The pace after a 429, from the requests accepted in the second before the refused one was
/// sent: that count when it is well under the pace (PingOne's limit), else 3 % under the pace
/// (a refusal of timing). `None` when nothing was accepted, which measures nothing (a storm
/// that began during a pause).
pub(crate) fn cut_to(rate: f64, accepted_before: usize) -> Option<f64> {
    if accepted_before == 0 {
        return None;
    }
    let accepted = accepted_before as f64;
    let to = if accepted < rate * MEASURED_BELOW {
        accepted
    } else {
        rate * (1.0 - TIMING_CUT)
    };
    Some(to.max(LOWEST_RATE))
}

/// The pace one raise above `rate`: 5 % more, at least one more, never past `ceiling`.
pub(crate) fn raised(rate: f64, ceiling: f64) -> f64 {
    (rate + (rate * 0.05).max(1.0)).min(ceiling)
}

/// Whether a request may go alone (a probe), with the others, or not at all yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    Paused { until: Instant },
    Probing { sent: bool },
}

/// What a request waiting for its turn does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Go now.
    Go(Ticket),
    /// A turn is reserved at `slot`; at that time, [`Pace::confirm`] it.
    At { slot: Instant, revision: u64 },
    /// The run is paused until then.
    PausedUntil(Instant),
    /// Another request is probing; wait until it is answered.
    AwaitProbe,
}

/// A request that went: when, under which pace, and whether it was the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) sent_at: Instant,
    revision: u64,
    probe: bool,
}

/// How a request ended, as the pace sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Any answer but 429: the rate limit let it through.
    Accepted,
    /// 429, with its `Retry-After`.
    Limited(Option<Duration>),
    /// No answer (a network failure, a timeout, or the caller gave up).
    Lost,
}

/// What changed in the pace, for the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Change {
    /// A 429 paused the run.
    Paused {
        paused: Duration,
    },
    /// The pause ended and the count measured PingOne's limit below the pace.
    Cut {
        from: f64,
        to: f64,
    },
    /// A probe was refused too.
    Storm {
        paused: Duration,
    },
    Undone {
        to: f64,
    },
    Raised {
        to: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PendingCut {
    /// Count what PingOne accepted in the second before the refused request was sent.
    Measure { refused_sent_at: Instant },
    /// A raise met a 429: back to the pace before it.
    TakeBack { to: f64 },
}

/// The latency of the latest answers, for Little's law: the larger of their mean (what a
/// heavy tail costs in places held) and their p90 (what varies).
#[derive(Debug, Default)]
struct Latencies {
    samples: VecDeque<Duration>,
    since_taken: u32,
    estimate: Option<Duration>,
}

impl Latencies {
    fn add(&mut self, latency: Duration) {
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

pub(crate) struct Pace {
    /// The configured rate: the pace never goes above it.
    ceiling: f64,
    rate: f64,
    concurrency: Concurrency,
    gate: Gate,
    /// Bumped by every pause: a turn reserved or a request sent under an older revision
    /// belongs to the pace before it.
    revision: u64,
    /// The next free turn (GCRA's theoretical arrival time).
    next_turn: Instant,
    /// The cut a pause makes when it ends: by the count of what PingOne accepted (counted
    /// then, so the answers still in flight at the 429 are in), or back to before a raise.
    pending_cut: Option<PendingCut>,
    /// The pace before the last raise.
    before_raise: f64,
    /// The pace before the last cut, until a probe shows whether it was a storm.
    before_cut: Option<f64>,
    /// A probe was refused since the last cut.
    in_storm: bool,
    undone_at: Option<Instant>,
    /// When each recently accepted request was sent.
    accepted: VecDeque<Instant>,
    quiet_since: Instant,
    raise_after: Duration,
    raised_at: Option<Instant>,
    latencies: Latencies,
    in_flight: usize,
    most_in_flight: usize,
    was_limited: bool,
    /// Cuts so far (a storm makes at most one).
    cuts: u64,
    changes: Vec<Change>,
}

impl Pace {
    pub(crate) fn new(rate: u32, concurrency: Concurrency, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            ceiling: rate,
            rate,
            concurrency,
            gate: Gate::Open,
            revision: 0,
            next_turn: now,
            pending_cut: None,
            before_raise: rate,
            before_cut: None,
            in_storm: false,
            undone_at: None,
            accepted: VecDeque::new(),
            quiet_since: now,
            raise_after: FIRST_RAISE_AFTER,
            raised_at: None,
            latencies: Latencies::default(),
            in_flight: 0,
            most_in_flight: 0,
            was_limited: false,
            cuts: 0,
            changes: Vec::new(),
        }
    }

    /// The pace now, in requests per second.
    #[cfg(test)]
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The pace's revision: a pause bumps it, and a turn reserved before it is void.
    pub(crate) fn revision(&self) -> u64 {
        self.revision
    }

    /// The pace PingOne's 429s brought the run to, when it is below the configured rate.
    pub(crate) fn server_limit(&self) -> Option<u32> {
        // At least LOWEST_RATE and below the configured rate, a u32: the cast cannot wrap.
        (self.was_limited && self.rate < self.ceiling).then(|| self.rate.floor().max(1.0) as u32)
    }

    pub(crate) fn most_in_flight(&self) -> usize {
        self.most_in_flight
    }

    #[cfg(test)]
    pub(crate) fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Requests allowed in flight now: the pinned number, or what the rate needs.
    pub(crate) fn in_flight_limit(&self) -> usize {
        match self.concurrency {
            Concurrency::Pinned(n) => n.max(1),
            Concurrency::Auto => auto_in_flight(self.rate, self.latencies.estimate),
        }
    }

    /// What changed since last asked, oldest first.
    pub(crate) fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

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
        (revision == self.revision && self.gate == Gate::Open).then(|| self.send(now, false))
    }

    fn send(&mut self, now: Instant, probe: bool) -> Ticket {
        self.in_flight += 1;
        self.most_in_flight = self.most_in_flight.max(self.in_flight);
        Ticket {
            sent_at: now,
            revision: self.revision,
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
                self.remember_accepted(ticket.sent_at, now);
                if ticket.probe {
                    self.open(now);
                    return true;
                }
                self.maybe_raise(now);
                false
            }
            Answer::Limited(retry_after) => self.limited(ticket, retry_after, now),
        }
    }

    fn remember_accepted(&mut self, sent_at: Instant, now: Instant) {
        self.accepted.push_back(sent_at);
        if self.accepted.len() > MEASURE_MOST {
            self.accepted.pop_front();
        }
        if self.accepted.len().is_multiple_of(256) {
            self.trim_accepted(now);
        }
    }

    fn trim_accepted(&mut self, now: Instant) {
        while self
            .accepted
            .front()
            .is_some_and(|sent| now.saturating_duration_since(*sent) > MEASURE_MEMORY)
        {
            self.accepted.pop_front();
        }
    }

    fn limited(&mut self, ticket: Ticket, retry_after: Option<Duration>, now: Instant) -> bool {
        self.was_limited = true;
        let paused = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_RETRY_AFTER);
        let until = now + paused;
        if ticket.revision != self.revision {
            // Sent before the last pause began: the same burst, no second cut. It may still
            // lengthen the pause it belongs to.
            if let Gate::Paused { until: current } = &mut self.gate {
                *current = (*current).max(until);
            }
            return false;
        }
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
        let raise_failed = self
            .raised_at
            .take()
            .is_some_and(|at| now.saturating_duration_since(at) < RAISE_TRIAL);
        self.pending_cut = Some(if raise_failed {
            self.raise_after = (self.raise_after * 2).min(LONGEST_RAISE_AFTER);
            PendingCut::TakeBack {
                to: self.before_raise,
            }
        } else {
            PendingCut::Measure {
                refused_sent_at: ticket.sent_at,
            }
        });
        let recently_undone = self
            .undone_at
            .is_some_and(|at| now.saturating_duration_since(at) < UNDO_TRIAL);
        self.before_cut = (!recently_undone).then_some(self.rate);
        self.in_storm = false;
        self.changes.push(Change::Paused { paused });
        true
    }

    /// The pause is over: make the cut it waited for, and let one probe go.
    fn end_pause(&mut self) {
        self.gate = Gate::Probing { sent: false };
        let to = match self.pending_cut.take() {
            None => return,
            Some(PendingCut::TakeBack { to }) => Some(to),
            Some(PendingCut::Measure { refused_sent_at }) => {
                let from = refused_sent_at.checked_sub(Duration::from_secs(1));
                let accepted = self.accepted.iter().filter(|sent| {
                    **sent < refused_sent_at && from.is_none_or(|from| **sent >= from)
                });
                cut_to(self.rate, accepted.count())
            }
        };
        if let Some(to) = to.filter(|to| *to < self.rate) {
            self.changes.push(Change::Cut {
                from: self.rate,
                to,
            });
            self.rate = to;
            self.cuts += 1;
        }
    }

    /// A probe was accepted: the run goes on, at the pace from before a storm's cut.
    fn open(&mut self, now: Instant) {
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

    fn maybe_raise(&mut self, now: Instant) {
        if self.gate != Gate::Open
            || self.rate >= self.ceiling
            || now.saturating_duration_since(self.quiet_since) < self.raise_after
        {
            return;
        }
        // The raise before this one held (no 429 within its trial): try sooner next time.
        if self.raised_at.is_some() {
            self.raise_after = (self.raise_after / 2).max(SHORTEST_RAISE_AFTER);
        }
        self.before_raise = self.rate;
        self.rate = raised(self.rate, self.ceiling);
        self.quiet_since = now;
        self.raised_at = Some(now);
        self.changes.push(Change::Raised { to: self.rate });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_cut_takes_the_count_or_three_percent_when_pingone_took_all_the_pace_sent() {
        // (pace, accepted in the second before the 429, pace after)
        for (rate, accepted, expected) in [
            (160.0, 40, Some(40.0)),
            (40.0, 15, Some(15.0)),
            (40.0, 35, Some(35.0)),
            (40.0, 39, Some(38.8)),
            (40.0, 55, Some(38.8)),
            (20.0, 0, None),
            (1.0, 1, Some(0.97)),
            (0.5, 1, Some(0.5)),
        ] {
            let to = cut_to(rate, accepted);
            let close = match (to, expected) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (a, b) => a == b,
            };
            assert!(close, "{rate} {accepted}: {to:?}");
        }
    }

    #[test]
    fn a_raise_adds_five_percent_or_one_and_stops_at_the_configured_rate() {
        for (rate, ceiling, expected) in [
            (40.0, 160.0, 42.0),
            (10.0, 160.0, 11.0),
            (300.0, 400.0, 315.0),
            (399.0, 400.0, 400.0),
        ] {
            assert_eq!(raised(rate, ceiling), expected, "{rate}");
        }
    }

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
}
