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

use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;

use super::{lock, Engine, Job};
use crate::codes::Code;
use crate::output::RowResult;
use crate::pingone::ApiError;

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

impl Engine {
    fn known_switch(&self, user_id: &str) -> Option<Switch> {
        lock(&self.switches).get(&key(user_id)).cloned()
    }

    /// Keeps what was learned, except that a request the stopping run never sent says nothing.
    /// A user's first known switch is counted, for the plan: the entry itself goes with the
    /// user's last row.
    fn remember_switch(&self, user_id: &str, switch: &Switch) {
        if matches!(switch, Switch::Failed(ApiError::Stopped)) {
            return;
        }
        let earlier = lock(&self.switches).insert(key(user_id), switch.clone());
        if let (None | Some(Switch::Failed(_)), Switch::Known(on)) = (earlier, switch) {
            self.switches_known.fetch_add(1, Ordering::Relaxed);
            if !on {
                self.switches_off.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Forgets the user's switch after the user's last row, as the plan's counts are
    /// (`later`): no row to come needs it.
    pub(super) fn release_switch(&self, job: &Job, user_id: &str) {
        if job.continues || self.config.kinds.other_kind_after(&job.spec.user, job.line) {
            return;
        }
        lock(&self.switches).remove(&key(user_id));
    }

    /// A plan: the switch the username look-up returned with the user, when it did.
    pub(super) fn note_looked_up_switch(&self, user_id: &str, mfa_enabled: Option<bool>) {
        if let Some(on) = mfa_enabled {
            self.remember_switch(user_id, &Switch::Known(on));
        }
    }

    /// A live run with `enable_mfa`: switches the user's MFA on, once per user per run.
    pub(super) async fn switch_on(&self, user_id: &str) -> Switch {
        self.learn_switch(user_id, true).await
    }

    /// A plan: the user's switch as it is now, read once per user.
    pub(super) async fn read_switch(&self, user_id: &str) -> Switch {
        self.learn_switch(user_id, false).await
    }

    /// The user's switch as this run knows it, or else as PingOne answers a PUT (`set`) or a
    /// GET of it.
    async fn learn_switch(&self, user_id: &str, set: bool) -> Switch {
        if let Some(known) = self.known_switch(user_id) {
            return known;
        }
        let answer = if set {
            self.retry.run(|| self.client.enable_mfa(user_id)).await
        } else {
            self.retry.run(|| self.client.mfa_enabled(user_id)).await
        };
        let switch = match answer {
            Ok(on) => Switch::Known(on),
            Err(e) => Switch::Failed(e),
        };
        self.remember_switch(user_id, &switch);
        switch
    }

    /// A plan's users: (whose switch is known, of them found off).
    pub(crate) fn mfa_switch_counts(&self) -> (u64, u64) {
        (
            self.switches_known.load(Ordering::Relaxed),
            self.switches_off.load(Ordering::Relaxed),
        )
    }
}

/// A plan's row with the switch it found.
pub(super) fn planned(mut result: RowResult, switch: &Switch) -> RowResult {
    result.row.user_mfa_enabled = match switch {
        Switch::Known(on) => Some(*on),
        Switch::Failed(_) => None,
    };
    result
}

/// A live row after its user's switch was set (or not). A row whose device is there but whose
/// user is still off gets `MFA_NOT_ENABLED`; a failed row keeps its own code, and is redone
/// with its switch anyway.
pub(super) fn switched(mut result: RowResult, switch: &Switch) -> RowResult {
    let (why, id) = match switch {
        Switch::Known(true) => {
            result.row.user_mfa_enabled = Some(true);
            return result;
        }
        Switch::Known(false) => {
            result.row.user_mfa_enabled = Some(false);
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
    let earlier = std::mem::take(&mut result.row.error_message);
    let earlier = if earlier.is_empty() {
        String::new()
    } else {
        format!(" ({earlier})")
    };
    result.row.pingone_error_id = id.unwrap_or_default().to_string();
    result.with_error(
        Code::MfaNotEnabled,
        format!(
            "the device is there{earlier}, but the user's MFA could not be switched on: {why}; \
             until it is, the user cannot use the device. --resume, or this errors.csv fed back \
             with --enable-mfa, switches it on without creating the device again"
        ),
    )
}
