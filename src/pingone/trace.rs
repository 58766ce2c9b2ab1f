//! The `X-Ping-External-Transaction-ID` every API request carries, so that PingOne support
//! can find any request from a row of results.csv or a log line.
//!
//! An id is the run's id (made once per client: the start time and a random part, so runs,
//! resumed ones included, never share ids) and then either the row's line and POST attempt
//! (`…-L42-a2`, a device creation) or a counter (`…-n17`, look-ups, reads, MFA switches).
//! The resend after a renewed token is another request and gets `-t2`. PingOne allows 100
//! characters; the longest id this makes is well under that (see the test).

use std::sync::atomic::{AtomicU64, Ordering};

use super::ApiError;

/// The header's name, as PingOne documents it.
pub(crate) const HEADER: &str = "X-Ping-External-Transaction-ID";

/// Which row's POST attempt a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowAttempt {
    pub(crate) line: u64,
    pub(crate) attempt: u32,
}

/// What one call of the client sends under: the row's attempt, if any, and (filled by the
/// client) the id of the last request it sent.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) row: Option<RowAttempt>,
    pub(crate) sent: String,
}

impl Trace {
    pub(crate) fn for_row(line: u64, attempt: u32) -> Self {
        Self {
            row: Some(RowAttempt { line, attempt }),
            sent: String::new(),
        }
    }
}

/// The run's id and the counter of requests that belong to no row.
#[derive(Debug)]
pub(crate) struct Transactions {
    run: String,
    unrowed: AtomicU64,
}

impl Transactions {
    pub(crate) fn new() -> Self {
        let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let compact: String = started.chars().filter(|c| *c != '-' && *c != ':').collect();
        Self {
            run: format!("mfe-{compact}-{:06x}", fastrand::u32(..0x100_0000)),
            unrowed: AtomicU64::new(0),
        }
    }

    pub(crate) fn run_id(&self) -> &str {
        &self.run
    }

    /// The id of a request that belongs to no row and is sent once.
    pub(crate) fn unrowed(&self) -> String {
        self.next(&mut Trace::default(), false)
    }

    /// The id of the next request under `trace`; `renewed` for the resend after a 401.
    pub(crate) fn next(&self, trace: &mut Trace, renewed: bool) -> String {
        let base = match trace.row {
            Some(RowAttempt { line, attempt }) => format!("{}-L{line}-a{attempt}", self.run),
            None => format!(
                "{}-n{}",
                self.run,
                self.unrowed.fetch_add(1, Ordering::Relaxed) + 1
            ),
        };
        let id = if renewed && trace.row.is_some() {
            format!("{base}-t2")
        } else {
            base
        };
        trace.sent.clone_from(&id);
        id
    }
}

impl super::Client {
    /// The id this run's transaction ids start with.
    pub(crate) fn run_id(&self) -> &str {
        self.transactions.run_id()
    }
}

/// The answer to the request `id`, unchanged; one that failed is logged with the id, so the
/// log line that tells of it leads PingOne support to the request.
pub(crate) fn logged<T, U>(
    answer: Result<(u16, T, U), ApiError>,
    method: &reqwest::Method,
    id: &str,
) -> Result<(u16, T, U), ApiError> {
    match &answer {
        Ok((status, _, _)) if !(200..300).contains(status) => {
            tracing::debug!(transaction_id = id, %method, status, "PingOne answered {status}");
        }
        Ok(_) => {}
        Err(error) => tracing::debug!(
            transaction_id = id,
            %method,
            "request failed: {}",
            crate::logging::LogSafe(&error.to_string())
        ),
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PingOne's limit on the header's length.
    const MAX_LEN: usize = 100;

    #[test]
    fn the_longest_id_fits_pingones_limit_and_ids_differ() {
        let ids = Transactions::new();
        let mut row = Trace::for_row(u64::MAX, u32::MAX);
        let longest = ids.next(&mut row, true);
        assert!(longest.len() <= MAX_LEN, "{longest}");
        assert_eq!(row.sent, longest);
        let mut other = Trace::default();
        let (a, b) = (ids.next(&mut other, false), ids.next(&mut other, true));
        assert_ne!(a, b);
        assert!(a.starts_with(ids.run_id()) && b.starts_with(ids.run_id()));
        assert_ne!(ids.next(&mut row, false), longest, "the resend differs");
    }
}
