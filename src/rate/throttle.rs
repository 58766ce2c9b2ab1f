//! One gate for every API request of a run (tokens excepted): a turn under the pace and a
//! place in flight, and every wait for them cut short by a stop. What the pace decides (the
//! spacing, a 429's pause and cut, the probe, the raise, how many in flight) is `pace/`'s,
//! a state machine without I/O; here it meets the clock, the places in flight
//! (`in_flight.rs`) and the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, SemaphorePermit};
use tokio::time::Instant;

use super::in_flight::Places;
use super::pace::{Answer, Change, Pace, Step, Ticket};
use crate::config::Concurrency;
use crate::logging::rounded_rate;
use crate::stop::Stop;

/// The run's one throttle: the pace (a turn for each request), the places in flight, and
/// the stop that ends every wait for them.
pub(crate) struct Throttle {
    pace: Mutex<Pace>,
    in_flight: Places,
    /// Bumped when requests waiting on the pace should look again (a pause, a probe's answer).
    changed: watch::Sender<u64>,
    stop: Arc<Stop>,
}

/// A request's turn: hold it while the request runs, then say how it was answered. Dropped
/// unanswered, the request counts as lost (no answer).
pub(crate) struct Turn<'a> {
    throttle: &'a Throttle,
    ticket: Ticket,
    answer: Answer,
    permit: Option<SemaphorePermit<'a>>,
}

impl Turn<'_> {
    /// Feeds back the answer: a 429 pauses and may cut the pace, a 503 with `Retry-After`
    /// pauses it, anything else counts as accepted by PingOne's rate limit.
    pub(crate) fn answered(mut self, status: u16, retry_after: Option<Duration>) {
        self.answer = match (status, retry_after) {
            (429, _) => Answer::Limited(retry_after),
            (503, Some(wait)) => Answer::Unavailable(wait),
            _ => Answer::Accepted,
        };
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.throttle
            .finish(self.ticket, self.answer, self.permit.take());
    }
}

/// Why [`Throttle::admit`] gave no turn: the run was asked to stop while the request waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped;

/// Why a wait ended.
enum Woke {
    Time,
    Changed,
}

impl Throttle {
    pub(crate) fn new(rate: u32, concurrency: Concurrency, stop: Arc<Stop>) -> Self {
        let pace = Pace::new(rate, concurrency, Instant::now());
        let size = pace.in_flight_limit();
        Self {
            pace: Mutex::new(pace),
            in_flight: Places::new(size),
            changed: watch::Sender::new(0),
            stop,
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.pace.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pace now, in requests per second.
    #[cfg(test)]
    pub(crate) fn current_rate(&self) -> f64 {
        self.pace().rate()
    }

    /// The pace PingOne's 429s held the run to, when below the configured rate.
    pub(crate) fn server_limit(&self) -> Option<u32> {
        self.pace().server_limit()
    }

    /// How many requests may be in flight now.
    pub(crate) fn in_flight_limit(&self) -> usize {
        self.pace().in_flight_limit()
    }

    /// The most requests this run had in flight at once.
    pub(crate) fn most_in_flight(&self) -> usize {
        self.pace().most_in_flight()
    }

    /// Waits for a place in flight and a turn under the pace; `Stopped` as soon as the run
    /// is asked to stop, however long the wait would have been.
    pub(crate) async fn admit(&self) -> Result<Turn<'_>, Stopped> {
        let permit = tokio::select! {
            biased;
            () = self.stop.requested() => return Err(Stopped),
            permit = self.in_flight.acquire() => permit.map_err(|_| Stopped)?,
        };
        let mut changes = self.changed.subscribe();
        loop {
            changes.borrow_and_update();
            let step = self.pace().next(Instant::now());
            self.log_changes();
            let ticket = match step {
                Step::Go(ticket) => ticket,
                Step::At { slot, revision } => {
                    // A pause in between takes the turn back: look again at once.
                    loop {
                        match self.wait(Some(slot), &mut changes).await? {
                            Woke::Time => break,
                            Woke::Changed if self.pace().revision() != revision => break,
                            Woke::Changed => {}
                        }
                    }
                    match self.pace().confirm_at(revision, slot, Instant::now()) {
                        Some(ticket) => ticket,
                        None => continue,
                    }
                }
                Step::PausedUntil(until) => {
                    self.wait(Some(until), &mut changes).await?;
                    continue;
                }
                Step::AwaitProbe => {
                    self.wait(None, &mut changes).await?;
                    continue;
                }
            };
            return Ok(Turn {
                throttle: self,
                ticket,
                answer: Answer::Lost,
                permit: Some(permit),
            });
        }
    }

    /// Until `deadline` (or for ever), a change of the pace, or the stop.
    async fn wait(
        &self,
        deadline: Option<Instant>,
        changes: &mut watch::Receiver<u64>,
    ) -> Result<Woke, Stopped> {
        let sleep = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = self.stop.requested() => Err(Stopped),
            // The sender lives in `self`: this cannot fail while we wait.
            _ = changes.changed() => Ok(Woke::Changed),
            () = sleep => Ok(Woke::Time),
        }
    }

    fn finish(&self, ticket: Ticket, answer: Answer, permit: Option<SemaphorePermit<'_>>) {
        let (wake, limit) = {
            let mut pace = self.pace();
            let wake = pace.answered(ticket, answer, Instant::now());
            (wake, pace.in_flight_limit())
        };
        self.log_changes();
        self.in_flight.resize(limit, permit);
        if wake {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Logs what the pace did; `rate` is always the pace after it, `from` the one before.
    fn log_changes(&self) {
        let (changes, now) = {
            let mut pace = self.pace();
            (pace.take_changes(), pace.rate())
        };
        for change in changes {
            match change {
                Change::Paused { paused } => tracing::warn!(
                    rate = rounded_rate(now),
                    retry_after_ms = paused.as_millis() as u64,
                    "PingOne answered 429: the whole run waits"
                ),
                Change::Unavailable { paused } => tracing::warn!(
                    retry_after_ms = paused.as_millis() as u64,
                    "PingOne answered 503 with Retry-After: the whole run waits, the pace unchanged"
                ),
                Change::Eased { from, to } => tracing::warn!(
                    from = rounded_rate(from),
                    rate = rounded_rate(to),
                    "PingOne answered 429 to one request of a second at the full pace: pace eased, no pause"
                ),
                Change::Cut { from, to } => tracing::warn!(
                    from = rounded_rate(from),
                    rate = rounded_rate(to),
                    "pace cut to what PingOne accepted in the second before its 429"
                ),
                // Trying a raise is how a risen limit is found; its refusal is expected.
                Change::TakenBack { from, to } => tracing::info!(
                    from = rounded_rate(from),
                    rate = rounded_rate(to),
                    "PingOne answered 429 to a raised pace: raise taken back, no pause"
                ),
                Change::Counted { to } => tracing::info!(
                    rate = rounded_rate(to),
                    "PingOne accepted more than the pace before the raise: pace raised to its count"
                ),
                Change::Storm { paused } => tracing::warn!(
                    retry_after_ms = paused.as_millis() as u64,
                    "PingOne refuses every request for now: one request probes after each wait, no further cut"
                ),
                Change::Undone { to } => tracing::info!(
                    rate = rounded_rate(to),
                    "PingOne accepts requests again: the pace before the storm is back"
                ),
                Change::Raised { to } => {
                    tracing::debug!(rate = rounded_rate(to), "no 429 for a while: pace raised")
                }
            }
        }
    }
}

/// The throttle against a stand-in for PingOne's rate limit, on tokio's paused clock: the
/// tasks really wait, and a minute of them takes milliseconds.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::MAX_RETRY_AFTER;
    use std::collections::VecDeque;

    /// PingOne as the sandbox models it: a sliding one-second window of `limit` accepted
    /// requests, 429 with `Retry-After` in whole seconds, and a storm that refuses everything.
    struct Server {
        limit: u32,
        /// From this time on, the limit is `raised_to`.
        raise: Option<(Instant, u32)>,
        storms: Vec<(Instant, Instant)>,
        window: VecDeque<Instant>,
        /// Every arrival: when, and whether it was accepted.
        log: Vec<(Instant, bool)>,
        in_flight: usize,
        most_in_flight: usize,
        /// Every other 429 takes this long to answer, longer than the pause it caused.
        late_429s: Option<Duration>,
    }

    impl Server {
        fn new(limit: u32) -> Self {
            Self {
                limit,
                raise: None,
                storms: Vec::new(),
                window: VecDeque::new(),
                log: Vec::new(),
                in_flight: 0,
                most_in_flight: 0,
                late_429s: None,
            }
        }

        fn arrive(&mut self, now: Instant) -> (u16, Option<Duration>) {
            let second = Duration::from_secs(1);
            while self.window.front().is_some_and(|t| now - *t >= second) {
                self.window.pop_front();
            }
            let limit = match self.raise {
                Some((from, raised)) if now >= from => raised,
                _ => self.limit,
            };
            let storm = self
                .storms
                .iter()
                .any(|(from, to)| now >= *from && now < *to);
            let full = self.window.len() >= limit as usize;
            self.log.push((now, !storm && !full));
            if storm {
                return (429, Some(second));
            }
            if full {
                let oldest = self.window.front().copied().unwrap_or(now);
                let wait = second - (now - oldest);
                return (
                    429,
                    Some(Duration::from_secs(wait.as_secs_f64().ceil() as u64)),
                );
            }
            self.window.push_back(now);
            (201, None)
        }

        /// How long the answer to the request that just arrived takes.
        fn latency(&self, usual: Duration) -> Duration {
            match (self.late_429s, self.log.last()) {
                (Some(late), Some((_, false))) if self.refused().is_multiple_of(2) => late,
                _ => usual,
            }
        }

        /// Accepted requests per second between two times.
        fn accepted_rate(&self, from: Instant, to: Instant) -> f64 {
            let n = self
                .log
                .iter()
                .filter(|(t, ok)| *ok && *t >= from && *t < to)
                .count();
            n as f64 / (to - from).as_secs_f64()
        }

        /// When each request from `from` on was refused.
        fn refused_since(&self, from: Instant) -> Vec<Instant> {
            self.log
                .iter()
                .filter(|(t, ok)| !ok && *t >= from)
                .map(|(t, _)| *t)
                .collect()
        }

        fn refused(&self) -> usize {
            self.log.iter().filter(|(_, ok)| !ok).count()
        }
    }

    /// `workers` tasks send through `throttle` to `server` until `until`, when the run's stop
    /// ends them; every answer takes `latency`, a 429's too, so requests already on their way
    /// meet the same full window.
    async fn drive(
        throttle: Arc<Throttle>,
        server: Arc<Mutex<Server>>,
        latency: Duration,
        workers: usize,
        until: Instant,
    ) {
        let stop = throttle.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(until).await;
            stop.request(crate::stop::StopReason::Interrupted("SIGINT"));
        });
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (throttle, server) = (throttle.clone(), server.clone());
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let Ok(turn) = throttle.admit().await else {
                            return;
                        };
                        let (status, retry_after, latency) = {
                            let mut server = server.lock().unwrap();
                            server.in_flight += 1;
                            server.most_in_flight = server.most_in_flight.max(server.in_flight);
                            let (status, retry_after) = server.arrive(Instant::now());
                            (status, retry_after, server.latency(latency))
                        };
                        tokio::time::sleep(latency).await;
                        server.lock().unwrap().in_flight -= 1;
                        turn.answered(status, retry_after);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    fn throttle(rate: u32, concurrency: Concurrency) -> Arc<Throttle> {
        Arc::new(Throttle::new(rate, concurrency, Arc::new(Stop::default())))
    }

    const SECOND: Duration = Duration::from_secs(1);
    const MS: Duration = Duration::from_millis(1);

    /// Settle: at four times the server's limit, one cut measures the limit and the run
    /// stays just under it, at every limit and latency the issue names; also when 429s of
    /// requests already on their way come back after the pause: they cut nothing more.
    #[tokio::test(start_paused = true)]
    async fn a_run_four_times_over_the_limit_settles_at_it_after_one_cut() {
        let cases = [20, 40, 100, 300]
            .into_iter()
            .flat_map(|limit| [(limit, 5 * MS, None), (limit, 100 * MS, None)])
            .chain([(40, 100 * MS, Some(1500 * MS))]);
        for (limit, latency, late_429s) in cases {
            {
                let start = Instant::now();
                let throttle = throttle(limit * 4, Concurrency::Auto);
                let mut stand_in = Server::new(limit);
                stand_in.late_429s = late_429s;
                let server = Arc::new(Mutex::new(stand_in));
                let end = start + 60 * SECOND;
                drive(throttle.clone(), server.clone(), latency, 400, end).await;
                let server = server.lock().unwrap();
                let share = server.accepted_rate(start, end) / f64::from(limit);
                let refused = server.refused() as f64 / server.log.len() as f64;
                let label = format!("limit {limit}, latency {latency:?}, late 429s {late_429s:?}");
                assert!(share >= 0.96, "{label}: {share:.3} of the limit");
                assert!(refused <= 0.01, "{label}: {refused:.4} refused");
                assert_eq!(throttle.current_rate(), f64::from(limit), "{label}");
                assert_eq!(throttle.pace().cuts(), 1, "{label}");
            }
        }
    }

    /// Storm and probe: eight seconds of 429s for everything make one cut at most, one
    /// probe per pause, and the pace from before the storm is back as soon as it ends.
    #[tokio::test(start_paused = true)]
    async fn a_storm_is_one_cut_probed_through_and_undone_when_it_ends() {
        let start = Instant::now();
        let throttle = throttle(160, Concurrency::Auto);
        let mut stand_in = Server::new(40);
        let (storm_from, storm_to) = (start + 20 * SECOND, start + 28 * SECOND);
        stand_in.storms.push((storm_from, storm_to));
        let server = Arc::new(Mutex::new(stand_in));
        let end = start + 60 * SECOND;
        drive(throttle.clone(), server.clone(), 5 * MS, 200, end).await;
        let server = server.lock().unwrap();
        // The first cut measured the limit; the storm cut once more at most.
        assert!(
            throttle.pace().cuts() <= 2,
            "{} cuts",
            throttle.pace().cuts()
        );
        let in_storm = server
            .log
            .iter()
            .filter(|(t, ok)| !ok && *t >= storm_from && *t < storm_to)
            .count();
        assert!(in_storm <= 8 + 2, "{in_storm} refused during the storm");
        let after = server.accepted_rate(storm_to + 2 * SECOND, storm_to + 12 * SECOND);
        assert!(after >= 0.95 * 40.0, "{after}/s after the storm");
        assert_eq!(throttle.current_rate(), 40.0);
    }

    /// Undo, kept: a storm's cut is undone when it ends, but a cut within ten seconds of
    /// that undo is kept, storm or not: undoing again would oscillate.
    #[tokio::test(start_paused = true)]
    async fn a_cut_soon_after_a_storm_was_undone_is_kept() {
        let start = Instant::now();
        let throttle = throttle(160, Concurrency::Auto);
        let mut stand_in = Server::new(40);
        stand_in
            .storms
            .push((start + 20 * SECOND, start + 24 * SECOND));
        stand_in
            .storms
            .push((start + 29 * SECOND, start + 31 * SECOND));
        let server = Arc::new(Mutex::new(stand_in));
        drive(throttle.clone(), server, 5 * MS, 200, start + 45 * SECOND).await;
        let rate = throttle.current_rate();
        assert!(
            (36.0..40.0).contains(&rate),
            "{rate}: the second cut is kept"
        );
    }

    /// Measure: a limit that falls for good is measured by the next 429 and kept, since
    /// PingOne accepts the probe at the lower pace.
    #[tokio::test(start_paused = true)]
    async fn a_limit_that_falls_is_measured_and_kept() {
        let start = Instant::now();
        let throttle = throttle(40, Concurrency::Auto);
        let mut stand_in = Server::new(40);
        stand_in.raise = Some((start + 10 * SECOND, 15));
        let server = Arc::new(Mutex::new(stand_in));
        let end = start + 40 * SECOND;
        drive(throttle.clone(), server.clone(), 5 * MS, 50, end).await;
        assert_eq!(throttle.current_rate(), 15.0);
        let server = server.lock().unwrap();
        let after = server.accepted_rate(start + 15 * SECOND, end);
        assert!(after >= 0.95 * 15.0, "{after}/s");
    }

    /// Raise, refused: a run settled at the limit tries a raise rarely (after half a minute,
    /// then one, two, four) and takes each one back at once, without a pause: no second of
    /// the run falls below 0.9 of the limit, and each raise costs a few 429s.
    #[tokio::test(start_paused = true)]
    async fn a_settled_run_tries_raises_rarely_and_takes_them_back() {
        let start = Instant::now();
        let throttle = throttle(160, Concurrency::Auto);
        let server = Arc::new(Mutex::new(Server::new(40)));
        let end = start + 600 * SECOND;
        drive(throttle.clone(), server.clone(), 5 * MS, 50, end).await;
        // The first cut measured the limit; the raises were taken back, no cut.
        assert_eq!(throttle.pace().cuts(), 1);
        assert_eq!(throttle.current_rate(), 40.0);
        let server = server.lock().unwrap();
        let refused = server.refused_since(start + 2 * SECOND);
        let seconds_refused: std::collections::BTreeSet<u64> =
            refused.iter().map(|t| (*t - start).as_secs()).collect();
        let raises: Vec<u64> = seconds_refused
            .iter()
            .copied()
            .filter(|s| !seconds_refused.contains(&(s - 1)))
            .collect();
        assert_eq!(raises.len(), 4, "429s in seconds {seconds_refused:?}");
        assert!(refused.len() <= 4 * 3, "{} refused", refused.len());
        for second in 2..599 {
            let from = start + second * SECOND;
            let accepted = server.accepted_rate(from, from + SECOND);
            assert!(accepted >= 0.9 * 40.0, "{accepted} in second {second}");
        }
        let share = server.accepted_rate(start, end) / 40.0;
        assert!(share >= 0.97, "{share:.3} of the limit");
    }

    /// Raise, taken back: when a raise's 429 comes back (100 ms here), the requests sent
    /// since meet 429s too, but none sent after: the next turn waits until PingOne's window
    /// has room for it at the pace before the raise.
    #[tokio::test(start_paused = true)]
    async fn after_a_raise_is_taken_back_no_request_meets_a_429() {
        let start = Instant::now();
        let throttle = throttle(400, Concurrency::Auto);
        let server = Arc::new(Mutex::new(Server::new(100)));
        let end = start + 100 * SECOND;
        drive(throttle.clone(), server.clone(), 100 * MS, 400, end).await;
        let server = server.lock().unwrap();
        let refused = server.refused_since(start + 2 * SECOND);
        assert!(!refused.is_empty(), "a raise was tried and refused");
        // A raise's 429s all fall within one latency of its first.
        let mut first = refused[0];
        for at in &refused {
            if *at - first > SECOND {
                first = *at;
            }
            assert!(
                *at - first <= 110 * MS,
                "{:?} after its raise's first 429",
                *at - first
            );
        }
        assert_eq!(throttle.current_rate(), 100.0);
    }

    /// Another client filled most of the window when the run began (a dry run that just
    /// ended, a job sharing the license): the cut measures only this run's share then, and
    /// the first raise, half the way back, finds the limit again.
    #[tokio::test(start_paused = true)]
    async fn a_share_measured_while_another_client_filled_the_window_is_won_back() {
        let start = Instant::now();
        let throttle = throttle(50, Concurrency::Auto);
        let mut stand_in = Server::new(20);
        stand_in.window.extend(std::iter::repeat_n(start, 15));
        let server = Arc::new(Mutex::new(stand_in));
        let end = start + 90 * SECOND;
        drive(throttle.clone(), server.clone(), 5 * MS, 50, end).await;
        assert_eq!(throttle.current_rate(), 20.0);
        let server = server.lock().unwrap();
        let after = server.accepted_rate(start + 65 * SECOND, end);
        assert!(after >= 0.95 * 20.0, "{after}/s");
    }

    /// Raise: a limit that rises is found in minutes, not hours.
    #[tokio::test(start_paused = true)]
    async fn a_limit_that_rises_is_found_in_minutes() {
        let start = Instant::now();
        let throttle = throttle(160, Concurrency::Auto);
        let mut stand_in = Server::new(40);
        stand_in.raise = Some((start + 30 * SECOND, 80));
        let server = Arc::new(Mutex::new(stand_in));
        let end = start + 400 * SECOND;
        drive(throttle.clone(), server.clone(), 5 * MS, 100, end).await;
        let rate = throttle.current_rate();
        assert!((72.0..=80.0).contains(&rate), "{rate}");
    }

    /// A pause voids the turns requests were waiting for: they ask again at once instead of
    /// sleeping until their old turns, so the probe goes when the pause ends (at once, for a
    /// `Retry-After` of 0), not a turn of a slow pace later.
    #[tokio::test(start_paused = true)]
    async fn a_pause_sends_the_requests_waiting_for_turns_to_ask_again_at_once() {
        let throttle = throttle(1, Concurrency::Pinned(3));
        // Twice: the second time, the turns were reserved after the first pause.
        for round in 0..2 {
            let first = throttle.admit().await.expect("a turn");
            let start = Instant::now();
            // Two more take the turns a second and two seconds from now.
            let waiting: Vec<_> = (0..2)
                .map(|_| {
                    let throttle = throttle.clone();
                    tokio::spawn(async move {
                        let turn = throttle.admit().await.expect("a turn");
                        let sent_at = Instant::now();
                        turn.answered(201, None);
                        sent_at
                    })
                })
                .collect();
            tokio::time::sleep(10 * MS).await;
            first.answered(429, Some(Duration::ZERO));
            let mut sent = Vec::new();
            for task in waiting {
                sent.push(task.await.unwrap() - start);
            }
            let probe = sent.iter().min().unwrap();
            assert!(
                *probe < 100 * MS,
                "round {round}: the probe went {probe:?} after the refused request"
            );
        }
    }

    /// Issue #33 item 11: after the process was stopped (SIGSTOP) and continued, every turn
    /// reserved before is overdue at once; they do not all go together: the grid starts
    /// again, and no second at the server holds more than the rate.
    #[tokio::test(start_paused = true)]
    async fn a_clock_jump_does_not_release_the_turns_it_slept_through_at_once() {
        let throttle = throttle(30, Concurrency::Pinned(8));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let until = Instant::now() + 14 * SECOND;
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (throttle, sent) = (throttle.clone(), sent.clone());
                tokio::spawn(async move {
                    while let Ok(turn) = throttle.admit().await {
                        sent.lock().unwrap().push(Instant::now());
                        turn.answered(201, None);
                        if Instant::now() >= until {
                            return;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(2 * SECOND).await;
        // The process stops for ten seconds: tokio's clock jumps, as after SIGCONT.
        tokio::time::advance(10 * SECOND).await;
        for worker in workers {
            worker.await.unwrap();
        }
        let sent = sent.lock().unwrap();
        let jumped = sent.iter().filter(|t| **t >= until - 3 * SECOND).count();
        assert!(jumped > 30, "the run went on after the jump: {jumped}");
        for (i, first) in sent.iter().enumerate() {
            let in_second = sent[i..]
                .iter()
                .take_while(|t| **t - *first < SECOND)
                .count();
            assert!(
                in_second <= 30,
                "{in_second} requests in the second from {i}"
            );
        }
    }

    /// Stop: a stop ends every wait at once, a pause of two minutes and a slow pace alike.
    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_every_wait_at_once() {
        let stop = Arc::new(Stop::default());
        let throttle = Arc::new(Throttle::new(1, Concurrency::Pinned(8), stop.clone()));
        let turn = throttle.admit().await.unwrap();
        turn.answered(429, Some(Duration::from_secs(86_400)));
        // Eight wait out the pause (capped at two minutes), more for a place in flight.
        let waiting: Vec<_> = (0..20)
            .map(|_| {
                let throttle = throttle.clone();
                tokio::spawn(async move { throttle.admit().await.map(drop) })
            })
            .collect();
        tokio::time::sleep(3 * SECOND).await;
        let stopped_at = Instant::now();
        stop.request(crate::stop::StopReason::Interrupted("SIGINT"));
        for task in waiting {
            assert_eq!(task.await.unwrap(), Err(Stopped));
        }
        assert!(stopped_at.elapsed() < 10 * MS, "{:?}", stopped_at.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_of_a_day_pauses_the_run_two_minutes_at_most() {
        let throttle = throttle(10, Concurrency::Pinned(1));
        throttle
            .admit()
            .await
            .unwrap()
            .answered(429, Some(Duration::from_secs(86_400)));
        let started = Instant::now();
        drop(throttle.admit().await.unwrap());
        let waited = started.elapsed();
        assert!(waited >= MAX_RETRY_AFTER, "{waited:?}");
        assert!(waited < MAX_RETRY_AFTER + SECOND, "{waited:?}");
    }

    /// In flight: a pinned number is never passed; auto carries the rate at 250 ms and keeps
    /// few in flight at 5 ms.
    #[tokio::test(start_paused = true)]
    async fn in_flight_is_pinned_or_what_the_latency_needs() {
        for (concurrency, latency, most, least_share) in [
            (Concurrency::Pinned(3), 250 * MS, 3, 0.0),
            (Concurrency::Auto, 250 * MS, 30, 0.95),
            (Concurrency::Auto, 5 * MS, 3, 0.95),
        ] {
            let start = Instant::now();
            let throttle = throttle(50, concurrency);
            let server = Arc::new(Mutex::new(Server::new(1000)));
            let end = start + 30 * SECOND;
            drive(throttle.clone(), server.clone(), latency, 100, end).await;
            let server = server.lock().unwrap();
            let label = format!("{concurrency} at {latency:?}");
            assert!(
                server.most_in_flight <= most,
                "{label}: {}",
                server.most_in_flight
            );
            let share = server.accepted_rate(start + 2 * SECOND, end) / 50.0;
            assert!(share >= least_share, "{label}: {share:.3} of the rate");
        }
    }
}
