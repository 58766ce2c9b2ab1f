//! A live run's claims on devices: which line each device is, so a device is reported
//! created by one row only (see `decide`), and in `create` mode which devices this run made.
//! Only a live run builds them; a dry run creates nothing to claim.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use super::guard::lock;
use crate::model::{Claims, DeviceIdentity, OnExisting};

/// Which line reported each device created, and in `create` mode which devices this run
/// created.
pub(super) struct DeviceClaims {
    /// Device ID -> the line that reported it `created`, this run's and finished rows'.
    claims: Mutex<Claims>,
    /// `create` mode only: digest of (user ID, device identity) -> line, of the devices this
    /// run created. A digest, so a long run's memory does not grow with every device's strings.
    created: Option<Mutex<HashMap<u64, u64>>>,
}

impl DeviceClaims {
    /// Starts from the devices that an earlier run's finished rows reported created.
    pub(super) fn new(claimed_before: Claims, on_existing: OnExisting) -> DeviceClaims {
        DeviceClaims {
            claims: Mutex::new(claimed_before),
            created: match on_existing {
                OnExisting::Skip | OnExisting::Replace => None,
                OnExisting::Create => Some(Mutex::default()),
            },
        }
    }

    /// The claims, held while a row decides which device is its own.
    pub(super) fn lock(&self) -> MutexGuard<'_, Claims> {
        lock(&self.claims)
    }

    /// Records that `line` reported `device_id` created.
    pub(super) fn claim(&self, device_id: &str, line: u64) {
        lock(&self.claims).insert(device_id, line);
    }

    /// Create mode: the line that created this device for this user in this run, if any.
    pub(super) fn created_in_run(&self, user_id: &str, identity: &DeviceIdentity) -> Option<u64> {
        let created = self.created.as_ref()?;
        lock(created).get(&digest(user_id, identity)).copied()
    }

    /// Create mode: remembers that `line` created this device for this user.
    pub(super) fn remember_created(&self, user_id: &str, identity: &DeviceIdentity, line: u64) {
        if let Some(created) = &self.created {
            lock(created).insert(digest(user_id, identity), line);
        }
    }
}

fn digest(user_id: &str, identity: &DeviceIdentity) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (user_id, identity).hash(&mut hasher);
    hasher.finish()
}
