//! Why and when a run stops early. One [`Stop`] is shared by the signal handler, the API
//! client (refused credentials, a missing role, a failure storm) and the engine, which stops
//! dispatching as soon as it is set; requests already in flight finish (for a moment:
//! see `pingone::IN_FLIGHT_GRACE`). Waits that may last race [`Stop::requested`]: a turn
//! under the pace, a retry's backoff, a place in the engine's queues; a wait that cannot
//! look at a flag runs on a thread of its own ([`unless_stopped`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

// EnumIter: a test walks every reason (its message left empty) to check README names it.
#[derive(Debug, Clone, PartialEq, Eq, strum::EnumIter)]
pub(crate) enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupted(&'static str),
    /// The token endpoint refused the client credentials.
    CredentialsRefused(String),
    /// The token works but lacks the role the device API needs.
    MissingRole(String),
    /// The first request's 403 said `LICENSE_EXCEEDED`: no role fixes it.
    LicenseExceeded(String),
    /// The first request's 403 said the environment does not exist or is not the token's.
    OtherEnvironment(String),
    /// A 429 `QUOTA_EXCEEDED`: the license's quota is used up until its reset time.
    QuotaExceeded(String),
    /// The last requests all failed for the same server-side reason.
    RepeatedFailures(String),
    /// The input could not be read to the end.
    InputBroken(String),
    /// results.csv or errors.csv could not be written (disk full, permissions).
    OutputBroken(String),
    /// `--shard`: a username could not be looked up, so which shard owns its rows is unknown.
    ShardOwnerUnknown(String),
    /// The token endpoint's answer could not be used whatever the retries (past its ceiling,
    /// no token a few times in a row, a redirect).
    TokenUnusable(String),
    /// `replace`: the next deletion would pass `max_deletes`.
    DeleteCapReached(String),
}

impl StopReason {
    /// A stable code for summary.json and for the rows left unsent.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Interrupted(_) => "INTERRUPTED",
            Self::CredentialsRefused(_) => "CREDENTIALS_REFUSED",
            Self::MissingRole(_) => "MISSING_ROLE",
            Self::LicenseExceeded(_) => "LICENSE_EXCEEDED",
            Self::OtherEnvironment(_) => "ENVIRONMENT_REFUSED",
            Self::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            Self::RepeatedFailures(_) => "REPEATED_FAILURES",
            Self::InputBroken(_) => "INPUT_BROKEN",
            Self::OutputBroken(_) => "OUTPUT_BROKEN",
            Self::ShardOwnerUnknown(_) => "SHARD_OWNER_UNKNOWN",
            Self::TokenUnusable(_) => "TOKEN_UNUSABLE",
            Self::DeleteCapReached(_) => "DELETE_CAP_REACHED",
        }
    }

    /// The reason as records and the terminal show it. A reason built from the
    /// configuration alone (the token endpoint's refusal names the auth URL's host and the
    /// worker environment's ID, what the reader must check; neither is a secret) is shown
    /// whole; one that may quote a row or a server's words is masked as logs are
    /// (`logging::mask_text`), since summary.json and report.html travel further than
    /// results.csv.
    pub(crate) fn shown(&self) -> String {
        match self {
            Self::Interrupted(_)
            | Self::CredentialsRefused(_)
            | Self::TokenUnusable(_)
            | Self::DeleteCapReached(_) => self.to_string(),
            Self::MissingRole(_)
            | Self::LicenseExceeded(_)
            | Self::OtherEnvironment(_)
            | Self::QuotaExceeded(_)
            | Self::RepeatedFailures(_)
            | Self::InputBroken(_)
            | Self::OutputBroken(_)
            | Self::ShardOwnerUnknown(_) => crate::logging::mask_text(&self.to_string()),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Interrupted(signal) => write!(f, "interrupted by {signal}"),
            Self::CredentialsRefused(m)
            | Self::MissingRole(m)
            | Self::LicenseExceeded(m)
            | Self::OtherEnvironment(m)
            | Self::QuotaExceeded(m)
            | Self::RepeatedFailures(m)
            | Self::InputBroken(m)
            | Self::OutputBroken(m)
            | Self::ShardOwnerUnknown(m)
            | Self::TokenUnusable(m)
            | Self::DeleteCapReached(m) => f.write_str(m),
        }
    }
}

/// The run's stop flag: set once, with the first reason, and watched by every stage and wait.
#[derive(Debug, Default)]
pub struct Stop {
    is_set: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    /// Wakes whatever waits in [`Stop::requested`].
    wake: tokio::sync::Notify,
}

impl Stop {
    /// Records the first reason; later ones are ignored (the first cause is the one to fix).
    pub(crate) fn request(&self, reason: StopReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.is_set.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Returns once a stop is requested: a wait that may last (opening a fifo, the first
    /// token, a slow answer) races this, so the first signal ends it at once.
    pub(crate) async fn requested(&self) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            // Registered before the flag is read, so a request in between is not missed.
            woken.as_mut().enable();
            if self.is_requested() {
                return;
            }
            woken.await;
        }
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

/// `work`'s result, run on a thread of its own; `None` when a stop came first. For waits that
/// cannot look at the flag: opening a fifo that has no writer yet, reading a config or secret
/// file that is a pipe, reading the input's header from a silent pipe. The thread ends with
/// the process.
pub(crate) async fn unless_stopped<T, F>(stop: &Stop, work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    tokio::select! {
        biased;
        () = stop.requested() => None,
        finished = result => match finished {
            Ok(value) => Some(value),
            // The thread panicked; its message is already on stderr.
            Err(_) => std::panic::resume_unwind(Box::new("a reading thread stopped unexpectedly")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn readme_says_what_to_do_after_every_stop() {
        let readme = include_str!("../README.md");
        for reason in StopReason::iter() {
            let row = format!("| `{}`", reason.code());
            let listed =
                readme.contains(&row) || readme.contains(&format!(", `{}` |", reason.code()));
            assert!(listed, "README's stop codes table lacks {}", reason.code());
        }
    }
}
