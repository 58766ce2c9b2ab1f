//! The throttle's decisions, as a state machine without I/O or clock of its own: when the
//! next request may go, what an answer does to the pace, and how many requests to keep in
//! flight. `throttle.rs` runs it with real waits; the tests here hand it instants.
//!
//! - **Pace**: requests go on a grid of evenly spaced turns (GCRA with no burst), spaced so
//!   that no window of one second plus [`NETWORK_JITTER`] holds more than `rate` turns (a
//!   pace of 19.4/s holds 20 with 55 ms to spare).
//! - **Ease**: a 429 after a whole second at the full pace is most likely one of timing
//!   (requests that reached PingOne bunched): the refused request waits out its
//!   `Retry-After` (the retry policy's job) and the pace eases by 3 %, without a pause, for
//!   [`EASE_KEPT`] without a 429. A second 429 within [`ESCALATE`] says more than timing:
//!   the ease is undone and the run pauses, as below.
//! - **Measure and cut**: any other 429 pauses the whole run for its `Retry-After`. The
//!   requests PingOne accepted among those sent in the second before the refused one are
//!   what it allows this run; when the pause ends the pace becomes that count, or 3 % less
//!   when PingOne had accepted all the pace sent. 429s of requests sent before an ease or a
//!   pause do not act again.
//! - **Probe**: after a pause one request goes alone. A refused probe means PingOne refuses
//!   everything for now (a storm): no further cut, another pause, another probe. When a
//!   probe is accepted after a storm, the cut the storm caused is undone, since a storm
//!   says nothing about the limit; if the limit did fall meanwhile, the next 429 measures it.
//! - **Raise**: after a quiet spell (half a minute at first) the pace is raised by 5 % (at least
//!   one request per second), or half the way back to the pace the last measured cut came
//!   from: that count may have been low (another client filled the window that second). A
//!   raise refused within seconds is taken back at once, without a pause: the pace before
//!   it returns, and its next turn waits until the raise's requests, counted as if sent at
//!   that pace, have left PingOne's window. A second later the requests PingOne accepted in
//!   the second before the refusal are counted, and the pace rises to that count when it is
//!   higher (the limit rose). A refused raise doubles the spell (up to ten minutes); one
//!   that holds halves it (down to five seconds), so a raised limit is found in minutes and
//!   a settled run tries rarely, at the cost of a few 429s each time.
//! - **In flight**: `concurrency = "auto"` keeps what the pace needs at the latency measured
//!   (`in_flight.rs`); a number pins it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::in_flight::{auto_in_flight, Latencies};
use crate::config::Concurrency;

/// How much later one request may reach PingOne than another sent after it; the spacing
/// leaves room for it, so no one-second window of the server's clock sees more than `rate`.
/// A new connection, a token, a busy machine all delay one request and not the next: 10 ms
/// let a run on a loaded 2-core machine put 21 requests in one second at 20/s, once in three.
pub(crate) const NETWORK_JITTER: f64 = 0.025;
/// Longest wait a `Retry-After` can impose on the run; a bigger value is taken as this.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// The pause after a 429 that names no `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The quiet spell before the first raise after a cut, and its bounds. A refused raise
/// costs a few 429s and no pause, so the first comes soon: a count that another client's
/// requests made low (a dry run just before) is won back within half a minute.
const FIRST_RAISE_AFTER: Duration = Duration::from_secs(30);
const SHORTEST_RAISE_AFTER: Duration = Duration::from_secs(5);
const LONGEST_RAISE_AFTER: Duration = Duration::from_secs(600);
/// A cut to what PingOne accepted needs it to have accepted less than this share of the pace;
/// above it, the refusal is one of timing, and the pace drops by [`TIMING_CUT`].
const MEASURED_BELOW: f64 = 0.9;
const TIMING_CUT: f64 = 0.03;
/// A 429 eases the pace instead of pausing the run when the run sent at least this share of
/// the pace in the second before the refused request (a whole second at the full pace).
const FULL_SECOND: f64 = 0.85;
/// A second 429 this soon after an ease pauses the run.
pub(crate) const ESCALATE: Duration = Duration::from_secs(2);
/// An ease is undone after this long without a 429: a refusal of timing says nothing about
/// the limit, and 3 % kept until the first raise would hold a run at 20/s to 94.6 % of it.
const EASE_KEPT: Duration = Duration::from_secs(10);
/// The slowest pace a cut makes.
const LOWEST_RATE: f64 = 0.5;
/// A 429 this soon after a raise means the raise went past the limit.
const RAISE_TRIAL: Duration = Duration::from_secs(5);
/// How long after a refused raise PingOne's limit is counted: a second and the
/// [`NETWORK_JITTER`], when the answers to the requests sent before the refused one are in
/// and the raise's requests have left PingOne's window.
const COUNT_AFTER_RAISE: Duration = Duration::from_millis(1025);
/// A cut this soon after a storm's cut was undone is kept, storm or not: the undoing was
/// wrong, and undoing again would oscillate.
const UNDO_TRIAL: Duration = Duration::from_secs(10);
/// How long accepted requests are remembered for measuring, and how many at most.
const MEASURE_MEMORY: Duration = Duration::from_secs(2);
const MEASURE_MOST: usize = 1 << 16;

/// Spacing of turns at `rate` requests per second: a window of 1 s + jitter holds at most
/// `floor(W / p) + 1` turns, which must not pass `rate` (rounded up).
pub(crate) fn spacing(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 + NETWORK_JITTER) / rate.max(LOWEST_RATE) * 1.0001)
}

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

/// A request that went: when, after which 429, and whether it was the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) sent_at: Instant,
    epoch: u64,
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
    /// A 429 of timing eased the pace, without a pause.
    Eased {
        from: f64,
        to: f64,
    },
    /// The pause ended and the count measured PingOne's limit below the pace.
    Cut {
        from: f64,
        to: f64,
    },
    /// A raise met a 429 and was taken back, without a pause.
    TakenBack {
        from: f64,
        to: f64,
    },
    /// A second after a refused raise, PingOne had accepted more than the pace before it.
    Counted {
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

/// A raise in its trial: the pace before it, when its turns began on the grid, and the
/// requests sent before.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Raise {
    before: f64,
    at: Instant,
    first_turn: Instant,
    sent_before: u64,
}

/// A refused raise taken back: at `count_at`, count what PingOne accepted in the second
/// before the refused request was sent.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TakenBack {
    count_at: Instant,
    refused_sent_at: Instant,
    raised: f64,
}

pub(crate) struct Pace {
    /// The configured rate: the pace never goes above it.
    ceiling: f64,
    rate: f64,
    concurrency: Concurrency,
    gate: Gate,
    /// Bumped by every pause: a turn reserved under an older revision is void.
    revision: u64,
    /// Bumped by every 429 that eased or paused: a 429 of a request sent before it is of the
    /// same burst, and acts no more.
    epoch: u64,
    /// The last ease, and the pace before it, until [`ESCALATE`] has passed.
    eased: Option<(Instant, f64)>,
    /// The pace before the first of the eases since the last pause, until [`EASE_KEPT`]
    /// has passed without a 429.
    eased_from: Option<f64>,
    /// The next free turn (GCRA's theoretical arrival time).
    next_turn: Instant,
    /// The cut a pause makes when it ends, by the count of what PingOne accepted in the
    /// second before this instant (the refused request's), counted then, so the answers
    /// still in flight at the 429 are in.
    pending_cut: Option<Instant>,
    /// The pace the last measured cut came from, PingOne having refused it: the limit lies
    /// below it, maybe far above the count (another client may have filled the window that
    /// second), so the first raise goes half the way back. A refused raise forgets it.
    refused: Option<f64>,
    /// The pace before the last cut, until a probe shows whether it was a storm.
    before_cut: Option<f64>,
    /// A probe was refused since the last cut.
    in_storm: bool,
    undone_at: Option<Instant>,
    /// When each recently accepted request was sent.
    accepted: VecDeque<Instant>,
    /// When each recent request was sent.
    sent: VecDeque<Instant>,
    /// Requests sent so far.
    sent_total: u64,
    quiet_since: Instant,
    raise_after: Duration,
    raised: Option<Raise>,
    taken_back: Option<TakenBack>,
    latencies: Latencies,
    in_flight: usize,
    most_in_flight: usize,
    was_limited: bool,
    /// Cuts below the pace so far (a storm makes at most one; a raise taken back is none).
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
            epoch: 0,
            eased: None,
            eased_from: None,
            next_turn: now,
            pending_cut: None,
            refused: None,
            before_cut: None,
            in_storm: false,
            undone_at: None,
            accepted: VecDeque::new(),
            sent: VecDeque::new(),
            sent_total: 0,
            quiet_since: now,
            raise_after: FIRST_RAISE_AFTER,
            raised: None,
            taken_back: None,
            latencies: Latencies::default(),
            in_flight: 0,
            most_in_flight: 0,
            was_limited: false,
            cuts: 0,
            changes: Vec::new(),
        }
    }

    /// The pace now, in requests per second.
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

    fn limited(&mut self, ticket: Ticket, retry_after: Option<Duration>, now: Instant) -> bool {
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

    /// The pause is over: make the cut it waited for, and let one probe go.
    fn end_pause(&mut self) {
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

    /// A raise met a 429 within its trial: the pace before it returns at once, without a
    /// pause. PingOne's window still holds the raise's requests, so the next turn is where
    /// the grid of the pace before would have put it had they gone at that pace, none
    /// earlier than it went (no window then holds more than that pace allowed), or a second
    /// and the jitter from now, when they have all left it. Then the next turn counts what
    /// PingOne accepted.
    fn take_back(&mut self, raise: Raise, refused_sent_at: Instant, now: Instant) {
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
    fn count_after_taken_back(&mut self, now: Instant) {
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

    /// Requests PingOne accepted among those sent in the second before `refused_sent_at`.
    fn accepted_before(&self, refused_sent_at: Instant) -> f64 {
        in_second_before(&self.accepted, refused_sent_at) as f64
    }

    fn sent_in_second_before(&self, refused_sent_at: Instant) -> usize {
        in_second_before(&self.sent, refused_sent_at)
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

    /// Sends at every turn from `now` until `until`, each accepted 5 ms later; the last turn.
    fn send_at_the_pace(pace: &mut Pace, mut now: Instant, until: Instant) -> (Ticket, Instant) {
        let mut last = None;
        while now < until {
            let ticket = match pace.next(now) {
                Step::Go(ticket) => ticket,
                Step::At { slot, revision } => {
                    now = slot;
                    pace.confirm(revision, now).expect("no pause came")
                }
                other => panic!("{other:?}"),
            };
            pace.answered(ticket, Answer::Accepted, now + Duration::from_millis(5));
            last = Some(ticket);
        }
        (last.expect("a turn"), now)
    }

    /// A pace of 20/s that has sent at its full pace for 1.5 s, and whose next turn was
    /// refused, 429 with `Retry-After: 1`; the instant of that turn.
    fn eased_at_20(start: Instant) -> (Pace, Instant) {
        let mut pace = Pace::new(20, Concurrency::Auto, start);
        let (_, now) = send_at_the_pace(&mut pace, start, start + Duration::from_millis(1500));
        let Step::At { slot, revision } = pace.next(now) else {
            panic!("the pace goes on")
        };
        let refused = pace.confirm(revision, slot).unwrap();
        let one_second = Some(Duration::from_secs(1));
        assert!(
            !pace.answered(refused, Answer::Limited(one_second), slot),
            "no pause"
        );
        assert!((pace.rate() - 19.4).abs() < 1e-9, "{}", pace.rate());
        (pace, slot)
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

    /// The limit a summary reports is the pace 429s brought the run to, below the
    /// configured rate, whole requests per second; none without a 429 or back at the rate.
    #[test]
    fn the_server_limit_is_the_pace_a_429_cut_to_below_the_configured_rate() {
        let start = Instant::now();
        let (mut pace, _) = cut_from_80(20, start);
        assert_eq!(pace.server_limit(), Some(20));
        // A pace of 19.4 after an ease reports 19.
        pace.rate = 19.4;
        assert_eq!(pace.server_limit(), Some(19));
        // Back at the configured rate: PingOne did not hold the run below it.
        pace.rate = 80.0;
        assert_eq!(pace.server_limit(), None);
        let unlimited = Pace::new(80, Concurrency::Auto, start);
        assert_eq!(unlimited.server_limit(), None);
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

    /// The next turn at `now` or later, as a request waiting on the pace would take it.
    fn take_turn(pace: &mut Pace, now: &mut Instant) -> Ticket {
        loop {
            match pace.next(*now) {
                Step::Go(ticket) => return ticket,
                Step::At { slot, revision } => {
                    *now = slot;
                    if let Some(ticket) = pace.confirm(revision, slot) {
                        return ticket;
                    }
                }
                Step::PausedUntil(until) => *now = until,
                Step::AwaitProbe => panic!("one request at a time here"),
            }
        }
    }

    /// One request at its turn, answered 5 ms later: when it went, and whether the
    /// requests waiting on the pace look again.
    fn answer_next(pace: &mut Pace, now: &mut Instant, answer: Answer) -> (Instant, bool) {
        let ticket = take_turn(pace, now);
        let looks_again = pace.answered(ticket, answer, *now + Duration::from_millis(5));
        (ticket.sent_at, looks_again)
    }

    /// A pace set to 80/s that PingOne let send `accepted` requests before a 429
    /// (`Retry-After: 1`): after the pause it is cut to that count and the probe is
    /// accepted. The instant it stands at.
    fn cut_from_80(accepted: usize, start: Instant) -> (Pace, Instant) {
        let mut pace = Pace::new(80, Concurrency::Auto, start);
        let mut now = start;
        for _ in 0..accepted {
            answer_next(&mut pace, &mut now, Answer::Accepted);
        }
        let one_second = Answer::Limited(Some(Duration::from_secs(1)));
        assert!(answer_next(&mut pace, &mut now, one_second).1, "a pause");
        answer_next(&mut pace, &mut now, Answer::Accepted);
        assert_eq!(pace.rate(), accepted as f64);
        (pace, now)
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
