//! Rate control: how fast a run sends and how many requests it keeps in flight, from what the
//! answers say, and when a streak of failures stops the run. Knows nothing of PingOne's
//! client: the client (`pingone`) asks the [`throttle::Throttle`] for a turn before each API
//! request, says how it was answered (a status and a `Retry-After`), and feeds
//! [`health::Health`] and [`latency::Latency`].
//!
//! - `throttle.rs`: the one gate every request passes, with real waits, a stop and the log.
//! - `pace/`: the throttle's decisions, a state machine without I/O: the grid of turns
//!   (`pace/turns.rs`), what a 429 does (`pace/refusals.rs`), and raises (`pace/raises.rs`).
//! - `in_flight.rs`: how many requests to keep in flight, and the semaphore that holds them.
//! - `health.rs`: the streak of failures that stops a run.
//! - `latency.rs`: the latency histogram and the time in flight the report shows.

pub(crate) mod health;
mod in_flight;
pub(crate) mod latency;
mod pace;
pub(crate) mod throttle;

pub(crate) use pace::MAX_RETRY_AFTER;
