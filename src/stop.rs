//! Why and when a run stops early. One [`Stop`] is shared by the signal handler, the API
//! client (refused credentials, a missing role, a failure storm) and the engine, which stops
//! dispatching as soon as it is set; requests already in flight finish. Whatever waits (a
//! turn under the pace, a retry's backoff, a queue) also waits for [`Stop::requested`], so a
//! stop ends every wait at once instead of after it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted(&'static str),
    /// The token endpoint refused the client credentials.
    CredentialsRefused(String),
    /// The token works but lacks the role the device API needs.
    MissingRole(String),
    /// The last requests all failed for the same server-side reason.
    RepeatedFailures(String),
    /// The input could not be read to the end.
    InputBroken(String),
    /// results.csv or errors.csv could not be written (disk full, permissions).
    OutputBroken(String),
    /// `--shard`: a username could not be looked up, so which shard owns its rows is unknown.
    ShardOwnerUnknown(String),
}

impl StopReason {
    /// A stable code for summary.json and for the rows left unsent.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Interrupted(_) => "INTERRUPTED",
            Self::CredentialsRefused(_) => "CREDENTIALS_REFUSED",
            Self::MissingRole(_) => "MISSING_ROLE",
            Self::RepeatedFailures(_) => "REPEATED_FAILURES",
            Self::InputBroken(_) => "INPUT_BROKEN",
            Self::OutputBroken(_) => "OUTPUT_BROKEN",
            Self::ShardOwnerUnknown(_) => "SHARD_OWNER_UNKNOWN",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Interrupted(signal) => write!(f, "interrupted by {signal}"),
            Self::CredentialsRefused(m)
            | Self::MissingRole(m)
            | Self::RepeatedFailures(m)
            | Self::InputBroken(m)
            | Self::OutputBroken(m)
            | Self::ShardOwnerUnknown(m) => f.write_str(m),
        }
    }
}

#[derive(Debug)]
pub struct Stop {
    is_set: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    /// Turns true once; every waiter watches it.
    signal: tokio::sync::watch::Sender<bool>,
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            is_set: AtomicBool::new(false),
            reason: Mutex::new(None),
            signal: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Stop {
    /// Records the first reason; later ones are ignored (the first cause is the one to fix).
    pub(crate) fn request(&self, reason: StopReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.is_set.store(true, Ordering::SeqCst);
        self.signal.send_replace(true);
    }

    /// Resolves once the run is asked to stop (at once when it already was): a wait that
    /// selects on it ends with the stop, not after it.
    pub(crate) async fn requested(&self) {
        let mut watching = self.signal.subscribe();
        // The sender lives as long as `self`, so this ends only with the stop.
        let _ = watching.wait_for(|is_set| *is_set).await;
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.is_set.load(Ordering::SeqCst)
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
