//! Users' MFA switch. PingOne creates users with `mfaEnabled` off, and such a user cannot
//! complete an MFA action with the device a run creates. With `enable_mfa`, a live run
//! switches each user's MFA on once, before the user's first device (one idempotent PUT,
//! retried like a read); an online dry run reads each user's switch once (the username
//! look-up may already carry it) and plans it. A live run without `enable_mfa` leaves the
//! switch alone and unread, so it costs no request.
//!
//! A user whose switch could not be set keeps the device outcome that is true, with the code
//! `MFA_NOT_ENABLED`: the row goes to errors.csv, `--resume` redoes it, and the device found
//! there is the row's, so the device is never created twice.
//!
//! What the run knows of a switch is kept while the user has rows to come (`later`), then
//! forgotten, so memory stays flat with the number of users.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::guard::lock;
use super::retry::RetryPolicy;
use crate::codes::Code;
use crate::pingone::{ApiError, Client};
use crate::record::RowResult;

/// What the run knows of one user's switch.
#[derive(Debug, Clone)]
pub(super) enum Switch {
    /// Found so (a plan), or as PingOne reported it after this run's PUT.
    Known(bool),
    /// Could not be read (a plan) or set (a live run): PingOne's answer.
    Failed(ApiError),
}

/// Users are kept by a digest of their ID, so a long run's memory does not grow with every
/// ID's string.
fn key(user_id: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    user_id.to_lowercase().hash(&mut hasher);
    hasher.finish()
}

/// The switches of users with rows to come, and how many users' switches were learned. Built
/// by an online dry run, and by a live run with `enable_mfa`.
#[derive(Default)]
pub(super) struct Switches {
    /// By [`key`]: what the run knows of each switch, while the user has rows to come.
    known: Mutex<HashMap<u64, Switch>>,
    /// Users whose switch was learned, and of them found off.
    users_known: AtomicU64,
    users_off: AtomicU64,
}

impl Switches {
    fn known(&self, user_id: &str) -> Option<Switch> {
        lock(&self.known).get(&key(user_id)).cloned()
    }

    /// Keeps what was learned, except that a request the stopping run never sent says nothing.
    /// A user's first known switch is counted, for the plan: the entry itself goes with the
    /// user's last row.
    fn remember(&self, user_id: &str, switch: &Switch) {
        if matches!(switch, Switch::Failed(ApiError::Stopped)) {
            return;
        }
        let earlier = lock(&self.known).insert(key(user_id), switch.clone());
        if let (None | Some(Switch::Failed(_)), Switch::Known(on)) = (earlier, switch) {
            self.users_known.fetch_add(1, Ordering::Relaxed);
            if !on {
                self.users_off.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Forgets the user's switch after the user's last row, as the plan's counts are
    /// (`later`): no row to come needs it.
    pub(super) fn release(&self, user_id: &str) {
        lock(&self.known).remove(&key(user_id));
    }

    /// A plan: the switch the username look-up returned with the user, when it did.
    pub(super) fn note_looked_up(&self, user_id: &str, mfa_enabled: Option<bool>) {
        if let Some(on) = mfa_enabled {
            self.remember(user_id, &Switch::Known(on));
        }
    }

    /// A live run with `enable_mfa`: switches the user's MFA on, once per user per run.
    pub(super) async fn switch_on(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        user_id: &str,
    ) -> Switch {
        self.learn(client, retry, user_id, true).await
    }

    /// A plan: the user's switch as it is now, read once per user.
    pub(super) async fn read(&self, client: &Client, retry: &RetryPolicy, user_id: &str) -> Switch {
        self.learn(client, retry, user_id, false).await
    }

    /// The user's switch as this run knows it, or else as PingOne answers a PUT (`set`) or a
    /// GET of it.
    async fn learn(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        user_id: &str,
        set: bool,
    ) -> Switch {
        if let Some(known) = self.known(user_id) {
            return known;
        }
        let answer = if set {
            retry.run(|| client.enable_mfa(user_id)).await
        } else {
            retry.run(|| client.mfa_enabled(user_id)).await
        };
        let switch = match answer {
            Ok(on) => Switch::Known(on),
            Err(e) => Switch::Failed(e),
        };
        self.remember(user_id, &switch);
        switch
    }

    /// A plan's users: (whose switch is known, of them found off).
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.users_known.load(Ordering::Relaxed),
            self.users_off.load(Ordering::Relaxed),
        )
    }
}

/// A plan's row with the switch it found.
pub(super) fn planned(result: RowResult, switch: &Switch) -> RowResult {
    result.with_mfa_enabled(match switch {
        Switch::Known(on) => Some(*on),
        Switch::Failed(_) => None,
    })
}

/// A live row after its user's switch was set (or not). A row whose device is there but whose
/// user is still off gets `MFA_NOT_ENABLED`; a failed row keeps its own code, and is redone
/// with its switch anyway.
pub(super) fn switched(mut result: RowResult, switch: &Switch) -> RowResult {
    let (why, id) = match switch {
        Switch::Known(true) => return result.with_mfa_enabled(Some(true)),
        Switch::Known(false) => {
            result = result.with_mfa_enabled(Some(false));
            (
                "PingOne took the PUT but reports the switch still off".to_string(),
                None,
            )
        }
        Switch::Failed(e) => (format!("PingOne answered {e}"), e.pingone_id()),
    };
    if !result.row.outcome.is_final_success() {
        return result;
    }
    let earlier = &result.row.error_message;
    let earlier = if earlier.is_empty() {
        String::new()
    } else {
        format!(" ({earlier})")
    };
    result.with_pingone_error_id(id).with_error(
        Code::MfaNotEnabled,
        format!(
            "the device is there{earlier}, but the user's MFA could not be switched on: {why}; \
             until it is, the user cannot use the device. --resume, or this errors.csv fed back \
             with --enable-mfa, switches it on without creating the device again"
        ),
    )
}
