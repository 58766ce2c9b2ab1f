//! The throttle's decisions, as a state machine without I/O or clock of its own: when the
//! next request may go, what an answer does to the pace, and how many requests to keep in
//! flight. `rate/throttle.rs` runs it with real waits; the tests here hand it instants.
//! This file holds the state and the numbers that tune it; `turns.rs` the grid of turns and
//! the answers fed back, `refusals.rs` what a 429 does (ease, pause, cut, probe, storm), and
//! `raises.rs` the raises and a refused one taken back.
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
//! - **Unavailable**: a 503 with `Retry-After` pauses the whole run for it as a 429 does,
//!   and a probe goes alone after it, but nothing is measured or cut: a 503 speaks of
//!   PingOne's health, not of this run's rate, and a cut would slow the hours after a
//!   minute's outage (`refusals.rs`).
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

mod raises;
mod refusals;
mod turns;

/// How much later one request may reach PingOne than another sent after it; the spacing
/// leaves room for it, so no one-second window of the server's clock sees more than `rate`.
/// A new connection, a token, a busy machine all delay one request and not the next: 10 ms
/// let a run on a loaded 2-core machine put 21 requests in one second at 20/s, once in three.
pub(crate) const NETWORK_JITTER: f64 = 0.025;
/// A turn taken this long after its slot was slept through, not just late on a busy
/// machine: the clock jumped (the process was stopped and continued), and the grid starts
/// again from now rather than sending every turn it slept through at once. A second: wakes
/// a few hundred milliseconds late are common on a loaded machine, and starting the grid
/// again for each of them upset the pace's answers to a storm of 429s (tests/rate_limits.rs).
const CLOCK_JUMP: Duration = Duration::from_secs(1);
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

/// Whether a request may go alone (a probe), with the others, or not at all yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Requests go at their turns.
    Open,
    /// A 429 paused the run.
    Paused { until: Instant },
    /// The pause is over: one request goes alone, and the others wait for its answer.
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

/// The pace's receipt for a request that went (from [`Step::Go`] or [`Pace::confirm`]): when,
/// after which 429, and whether it was the probe. It comes back with the answer.
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
    /// 503 with a `Retry-After`: PingOne is unwell and said how long to leave it alone.
    Unavailable(Duration),
    /// No answer (a network failure, a timeout, or the caller gave up).
    Lost,
}

/// What changed in the pace, for the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Change {
    /// A 429 paused the run.
    Paused { paused: Duration },
    /// A 503 with `Retry-After` paused the run, the pace unchanged.
    Unavailable { paused: Duration },
    /// A 429 of timing eased the pace, without a pause.
    Eased { from: f64, to: f64 },
    /// The pause ended and the count measured PingOne's limit below the pace.
    Cut { from: f64, to: f64 },
    /// A raise met a 429 and was taken back, without a pause.
    TakenBack { from: f64, to: f64 },
    /// A second after a refused raise, PingOne had accepted more than the pace before it.
    Counted { to: f64 },
    /// A probe was refused too.
    Storm { paused: Duration },
    /// A probe was accepted after a storm: the pace before the storm's cut is back.
    Undone { to: f64 },
    /// A quiet spell raised the pace, or undid an ease.
    Raised { to: f64 },
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

/// The count still to make after a refused raise was taken back: at `count_at`, what PingOne
/// accepted in the second before the refused request was sent (the raise was to `raised`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct TakenBack {
    count_at: Instant,
    refused_sent_at: Instant,
    raised: f64,
}

/// The state machine the module doc describes: one per run, which the throttle holds under a
/// lock and hands the time of each request and answer.
pub(crate) struct Pace {
    /// The configured rate: the pace never goes above it.
    ceiling: f64,
    /// The pace now, in requests per second.
    rate: f64,
    /// `auto`, or the number of requests in flight pinned.
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
    /// When a storm's cut was last undone: a cut within [`UNDO_TRIAL`] of it is kept.
    undone_at: Option<Instant>,
    /// When each recently accepted request was sent.
    accepted: VecDeque<Instant>,
    /// When each recent request was sent.
    sent: VecDeque<Instant>,
    /// Requests sent so far.
    sent_total: u64,
    /// The start of the quiet spell a raise waits for: the last change of the pace, or the
    /// end of the last pause.
    quiet_since: Instant,
    /// How long the quiet spell before the next raise lasts.
    raise_after: Duration,
    /// The last raise, until the next 429; one within [`RAISE_TRIAL`] of it takes it back.
    raised: Option<Raise>,
    taken_back: Option<TakenBack>,
    /// How long answers take, for what `auto` keeps in flight.
    latencies: Latencies,
    /// Requests sent and not yet answered, and the most at once.
    in_flight: usize,
    most_in_flight: usize,
    /// PingOne answered 429 at least once.
    was_limited: bool,
    /// Cuts below the pace so far (a storm makes at most one; a raise taken back is none).
    cuts: u64,
    /// What changed since the throttle last asked, for the log.
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

    /// The most requests in flight at once so far.
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
}

/// What the tests of every part of the pace share: requests taking turns and answered on
/// a clock the tests move by hand; and the tests of what the state reports.
#[cfg(test)]
mod tests {
    use super::*;

    /// Sends at every turn from `now` until `until`, each accepted 5 ms later; the last turn.
    pub(super) fn send_at_the_pace(
        pace: &mut Pace,
        mut now: Instant,
        until: Instant,
    ) -> (Ticket, Instant) {
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
    pub(super) fn eased_at_20(start: Instant) -> (Pace, Instant) {
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

    /// The next turn at `now` or later, as a request waiting on the pace would take it.
    pub(super) fn take_turn(pace: &mut Pace, now: &mut Instant) -> Ticket {
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
    pub(super) fn answer_next(
        pace: &mut Pace,
        now: &mut Instant,
        answer: Answer,
    ) -> (Instant, bool) {
        let ticket = take_turn(pace, now);
        let looks_again = pace.answered(ticket, answer, *now + Duration::from_millis(5));
        (ticket.sent_at, looks_again)
    }

    /// A pace set to 80/s that PingOne let send `accepted` requests before a 429
    /// (`Retry-After: 1`): after the pause it is cut to that count and the probe is
    /// accepted. The instant it stands at.
    pub(super) fn cut_from_80(accepted: usize, start: Instant) -> (Pace, Instant) {
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
}
