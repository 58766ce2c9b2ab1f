//! The engine's one way to take a lock. A row's work runs under `catch_unwind` (a bug on one
//! row is recorded `INTERNAL_ERROR` and the run goes on), so a lock that a panicking row held
//! stays usable instead of failing every row after it.

use std::sync::{Mutex, MutexGuard};

/// Takes the lock, also when a panicking row left it poisoned.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
