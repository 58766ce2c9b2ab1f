//! The counts of rows written so far, by outcome: the results writer adds to them as each row
//! reaches the disk, and the progress display and the timeline's sampler only read them. They
//! live with the record, not the display, so that the writer knows nothing of what is shown.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Outcome;

/// Rows written so far, by outcome.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    pub(crate) done: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Rows recorded `NOT_ATTEMPTED` (counted in `failed` too): not done, only written.
    pub(crate) not_attempted: AtomicU64,
}

impl LiveCounters {
    pub(crate) fn add(&self, outcome: Outcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Invalid => &self.invalid,
            Outcome::Failed => &self.failed,
            Outcome::Created
            | Outcome::SkippedExisting
            | Outcome::Valid
            | Outcome::WouldCreate
            | Outcome::WouldSkipExisting => &self.succeeded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Rows that reached an outcome so far (rows recorded not attempted excepted).
    pub(crate) fn done_rows(&self) -> u64 {
        Self::get(&self.done).saturating_sub(Self::get(&self.not_attempted))
    }
}
