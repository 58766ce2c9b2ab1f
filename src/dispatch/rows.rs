//! How many rows are in progress at once. The throttle gives places in flight in the order
//! requests ask for them; with every queued row started at once, each row's first request
//! (the read of the user's devices) would go before any row's second (the POST), and rows
//! would finish only once nearly every user had been read: the progress bar at 0, an MFA
//! switch or a stop meeting rows half-done. A row starts here only while fewer rows are in
//! progress than requests may be in flight, with a few spare, so a row's next request goes
//! before another row's first: rows in progress stay about the in-flight count, and finish
//! steadily from the first seconds. The pace stays as full as the places in flight keep it,
//! since each row in progress always has its next request asking.

use std::sync::Mutex;

use tokio::sync::Notify;

use super::guard::lock;
use crate::stop::Stop;

/// Rows in progress beyond the places in flight: rows that are between two requests (a
/// backoff, a row being recorded) leave the places busy.
const SPARE: usize = 2;

/// The rows in progress now, and the wake-up of a row waiting to start.
#[derive(Default)]
pub(super) struct RowsInProgress {
    count: Mutex<usize>,
    freed: Notify,
}

/// A row's place among those in progress, given back when dropped.
pub(super) struct InProgress<'a> {
    rows: &'a RowsInProgress,
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        *lock(&self.rows.count) -= 1;
        self.rows.freed.notify_one();
    }
}

impl RowsInProgress {
    /// Waits until the row may start: fewer rows in progress than `places` (requests allowed
    /// in flight now, which `concurrency = "auto"` changes as the run goes) and the spare.
    /// `None` once the run is asked to stop: the row was never sent.
    pub(super) async fn start(
        &self,
        places: impl Fn() -> usize,
        stop: &Stop,
    ) -> Option<InProgress<'_>> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the count is read, so a row ending in between is not missed.
            freed.as_mut().enable();
            let most = places().saturating_add(SPARE);
            let room_left = {
                let mut count = lock(&self.count);
                if *count < most {
                    *count += 1;
                    Some(*count < most)
                } else {
                    None
                }
            };
            if let Some(room_left) = room_left {
                // The places grew: the next waiting row may start too.
                if room_left {
                    self.freed.notify_one();
                }
                return Some(InProgress { rows: self });
            }
            tokio::select! {
                biased;
                () = stop.requested() => return None,
                () = &mut freed => {}
            }
        }
    }
}
