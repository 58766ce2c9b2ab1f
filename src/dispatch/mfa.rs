//! Users' MFA switch. PingOne creates users with `mfaEnabled` off, and such a user cannot
//! complete an MFA action with the device a run creates. With `enable_mfa`, a live run
//! switches each user's MFA on once a device of theirs is there (created or found by this
//! run), in the same turn as that device (one idempotent PUT, retried like a read), so a run
//! stopped anywhere leaves nobody switched on without a device; the device's POST does not
//! need the switch. A PUT goes only where the switch was read off: the username look-up
//! carries it, and a user named by ID has it read first (one GET). An online dry run reads each user's switch once and plans it. A
//! live run without `enable_mfa` leaves the switch alone and unread, so it costs no request.
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
use crate::record::summary::MfaUsers;
use crate::record::RowResult;

/// What the run knows of one user's switch.
#[derive(Debug, Clone)]
pub(super) enum Switch {
    /// As read: the username look-up's user, or a plan's GET.
    Read(bool),
    /// As PingOne reported it after this run's PUT.
    Set(bool),
    /// Could not be read (a plan) or set (a live run): PingOne's answer.
    Failed(ApiError),
}

impl Switch {
    fn is_on(&self) -> bool {
        matches!(self, Switch::Read(true) | Switch::Set(true))
    }

    /// The switch as a row reports it (`None`: not known).
    fn state(&self) -> Option<bool> {
        match self {
            Switch::Read(on) | Switch::Set(on) => Some(*on),
            Switch::Failed(_) => None,
        }
    }
}

/// Users are kept by a digest of their ID, so a long run's memory does not grow with every
/// ID's string.
fn key(user_id: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    user_id.to_lowercase().hash(&mut hasher);
    hasher.finish()
}

/// What the run keeps of one user while the user has rows to come.
#[derive(Debug, Default)]
struct User {
    switch: Option<Switch>,
    /// Counted among the users left off (a device, and the switch not on).
    counted_off: bool,
}

/// The switches of users with rows to come, and the users counted by what happened to their
/// switch. Built by every run that asks PingOne.
#[derive(Default)]
pub(super) struct Switches {
    /// A live run switches users on (`enable_mfa`).
    enable: bool,
    /// By [`key`]: what the run knows of each user, while the user has rows to come.
    users: Mutex<HashMap<u64, User>>,
    switched_on: AtomicU64,
    found_on: AtomicU64,
    /// Users whose switch was read off (a plan), or who were left off with a device (live).
    found_off: AtomicU64,
    left_off: AtomicU64,
}

impl Switches {
    pub(super) fn new(enable: bool) -> Switches {
        Switches {
            enable,
            ..Switches::default()
        }
    }

    fn known(&self, user_id: &str) -> Option<Switch> {
        lock(&self.users)
            .get(&key(user_id))
            .and_then(|user| user.switch.clone())
    }

    /// Keeps what was learned, except that a request the stopping run never sent says nothing.
    /// A user's first switch read, and a PUT that switched the user on, are counted; the entry
    /// itself goes with the user's last row.
    fn remember(&self, user_id: &str, switch: &Switch) {
        if matches!(switch, Switch::Failed(ApiError::Stopped)) {
            return;
        }
        let mut users = lock(&self.users);
        let user = users.entry(key(user_id)).or_default();
        let earlier = user.switch.replace(switch.clone());
        let counter = match (earlier, switch) {
            (None | Some(Switch::Failed(_)), Switch::Read(true)) => &self.found_on,
            (None | Some(Switch::Failed(_)), Switch::Read(false)) => &self.found_off,
            (_, Switch::Set(true)) => &self.switched_on,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A live row that has a device whose user is not on: counted once per user.
    fn count_left_off(&self, user_id: &str) {
        let mut users = lock(&self.users);
        let user = users.entry(key(user_id)).or_default();
        if !std::mem::replace(&mut user.counted_off, true) {
            self.left_off.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets the user after the user's last row, as the plan's counts are (`later`): no
    /// row to come needs it.
    pub(super) fn release(&self, user_id: &str) {
        lock(&self.users).remove(&key(user_id));
    }

    /// The switch the username look-up returned with the user, when it did.
    pub(super) fn note_looked_up(&self, user_id: &str, mfa_enabled: Option<bool>) {
        if let Some(on) = mfa_enabled {
            if self.known(user_id).is_none() {
                self.remember(user_id, &Switch::Read(on));
            }
        }
    }

    /// A live row whose device is settled. With a device of the user there (created or
    /// found), and `enable_mfa`, switches the user on in this same turn, once per user and
    /// only where the switch is not known on. Without a device the switch waits for one: a
    /// later row of the user, or `--resume`.
    pub(super) async fn settle_live(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        user_id: &str,
        result: RowResult,
    ) -> RowResult {
        let has_device = result.row.outcome.is_final_success() && !result.row.device_id.is_empty();
        if !has_device {
            let known = self.known(user_id);
            return result.with_mfa_enabled(known.as_ref().and_then(Switch::state));
        }
        let mut known = self.known(user_id);
        if known.is_none() && self.enable {
            // Read first (a username's look-up already carried it): a PUT only where the
            // switch is off, and `user_mfa_switched` only for a user this run turned on,
            // whom `undo --restore-mfa` may turn off again.
            known = Some(self.read(client, retry, user_id).await);
        }
        let (switch, put_now) = match known {
            Some(known) if known.is_on() || !self.enable => (Some(known), false),
            // Set (on or off) or failed already: one PUT per user per run.
            Some(known @ (Switch::Set(_) | Switch::Failed(_))) => (Some(known), false),
            Some(Switch::Read(false)) | None if self.enable => {
                let switch = match retry.run(|| client.enable_mfa(user_id)).await {
                    Ok(on) => Switch::Set(on),
                    Err(e) => Switch::Failed(e),
                };
                self.remember(user_id, &switch);
                (Some(switch), true)
            }
            unread => (unread, false),
        };
        if !switch.as_ref().is_some_and(Switch::is_on) {
            self.count_left_off(user_id);
        }
        switched(result, switch.as_ref(), self.enable, put_now)
    }

    /// A plan: the user's switch as it is now, read once per user.
    pub(super) async fn read(&self, client: &Client, retry: &RetryPolicy, user_id: &str) -> Switch {
        if let Some(known) = self.known(user_id) {
            return known;
        }
        let switch = match retry.run(|| client.mfa_enabled(user_id)).await {
            Ok(on) => Switch::Read(on),
            Err(e) => Switch::Failed(e),
        };
        self.remember(user_id, &switch);
        switch
    }

    /// Users by what happened to their switch. A plan's users left off are those it found
    /// off: a real run switches them on only with `enable_mfa`.
    pub(super) fn users(&self, plan: bool) -> MfaUsers {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MfaUsers {
            switched_on: get(&self.switched_on),
            found_on: get(&self.found_on),
            left_off: if plan {
                get(&self.found_off)
            } else {
                get(&self.left_off)
            },
        }
    }

    /// A plan's users: (whose switch is known, of them found off).
    pub(super) fn counts(&self) -> (u64, u64) {
        let off = self.found_off.load(Ordering::Relaxed);
        (self.found_on.load(Ordering::Relaxed) + off, off)
    }
}

/// A plan's row with the switch it found.
pub(super) fn planned(result: RowResult, switch: &Switch) -> RowResult {
    result.with_mfa_enabled(switch.state())
}

/// A live row whose device is there, with its user's switch as this run left it (`put_now`:
/// this row's turn sent the PUT). With `enable_mfa`, a user still off gets `MFA_NOT_ENABLED`.
fn switched(result: RowResult, switch: Option<&Switch>, enable: bool, put_now: bool) -> RowResult {
    let why = match switch {
        Some(Switch::Set(true)) => {
            return result
                .with_mfa_enabled(Some(true))
                .with_mfa_switched(put_now)
        }
        Some(known) if known.is_on() || !enable => return result.with_mfa_enabled(known.state()),
        None if !enable => return result,
        Some(Switch::Set(false)) => {
            "PingOne took the PUT but reports the switch still off".to_string()
        }
        Some(Switch::Failed(ApiError::Stopped)) => {
            "the run stopped before the switch's PUT was sent".to_string()
        }
        Some(Switch::Failed(e)) => format!("PingOne answered {e}"),
        // With enable_mfa a device always comes with a PUT's answer; said plainly if not.
        Some(Switch::Read(_)) | None => "the switch was not set".to_string(),
    };
    let id = match switch {
        Some(Switch::Failed(e)) => e.pingone_id(),
        _ => None,
    };
    let result = result.with_mfa_enabled(switch.and_then(Switch::state));
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
