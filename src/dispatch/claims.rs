//! A live run's claims on devices: which line each device is, so a device is reported
//! created by one row only (see `decide`), and in `create` mode which devices this run made.
//! Only a live run builds them; a dry run creates nothing to claim.
//!
//! A claim is consulted only by rows of the device's user (PingOne's devices are a user's),
//! and a user's rows run one at a time in file order (`queues`), so once the user's last row
//! is done nothing in this run can ask about the user's devices again: what this run claimed
//! for the user goes then ([`DeviceClaims::release`]), and a live run's memory stays flat
//! with the number of devices it creates (issue 36: 1,000,000 rows). The claims of an
//! earlier run's finished rows (`--resume`) stay for the whole run.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use super::guard::lock;
use crate::model::{Claims, DeviceIdentity, OnExisting};

/// What this run claimed and created for one user whose rows are not all done.
#[derive(Debug, Default)]
struct UserClaims {
    devices: Vec<String>,
    created: Vec<u64>,
}

/// Which line reported each device created, and in `create` mode which devices this run
/// created.
pub(super) struct DeviceClaims {
    /// Device ID -> the line that reported it `created`, this run's and finished rows'.
    claims: Mutex<Claims>,
    /// `create` mode only: digest of (user ID, device identity) -> line, of the devices this
    /// run created. A digest, so a long run's memory does not grow with every device's strings.
    created: Option<Mutex<HashMap<u64, u64>>>,
    /// User ID -> this run's entries in `claims` and `created` for the user, until the
    /// user's last row is done. Keyed by the ID itself: two users sharing a key would lose
    /// each other's claims early.
    by_user: Mutex<HashMap<String, UserClaims>>,
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
            by_user: Mutex::default(),
        }
    }

    /// The claims, held while a row decides which device is its own.
    pub(super) fn lock(&self) -> MutexGuard<'_, Claims> {
        lock(&self.claims)
    }

    /// Records that `line` reported `device_id`, one of `user_id`'s, created.
    pub(super) fn claim(&self, user_id: &str, device_id: &str, line: u64) {
        lock(&self.claims).insert(device_id, line);
        let mut by_user = lock(&self.by_user);
        let user = by_user.entry(user_id.to_string()).or_default();
        user.devices.push(device_id.to_string());
    }

    /// Create mode: the line that created this device for this user in this run, if any.
    pub(super) fn created_in_run(&self, user_id: &str, identity: &DeviceIdentity) -> Option<u64> {
        let created = self.created.as_ref()?;
        lock(created).get(&digest(user_id, identity)).copied()
    }

    /// Create mode: remembers that `line` created this device for this user.
    pub(super) fn remember_created(&self, user_id: &str, identity: &DeviceIdentity, line: u64) {
        if let Some(created) = &self.created {
            let key = digest(user_id, identity);
            lock(created).insert(key, line);
            let mut by_user = lock(&self.by_user);
            by_user
                .entry(user_id.to_string())
                .or_default()
                .created
                .push(key);
        }
    }

    /// Forgets what this run claimed and created for the user: no row to come is the user's.
    pub(super) fn release(&self, user_id: &str) {
        let Some(user) = lock(&self.by_user).remove(user_id) else {
            return;
        };
        let mut claims = lock(&self.claims);
        for device in &user.devices {
            claims.remove(device);
        }
        drop(claims);
        if let Some(created) = &self.created {
            let mut created = lock(created);
            for key in &user.created {
                created.remove(key);
            }
        }
    }
}

fn digest(user_id: &str, identity: &DeviceIdentity) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (user_id, identity).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Destination, DeviceType};

    fn email(n: usize) -> DeviceIdentity {
        let destination = Destination::Email(format!("user{n}@example.com"));
        DeviceIdentity::new(DeviceType::Email, &destination, None)
    }

    /// What a run keeps stays bounded by the users with rows to come, not by the devices
    /// the run has created: each user's claims go with the user's last row, the others' stay.
    #[test]
    fn a_users_claims_go_with_the_users_last_row() {
        let claims = DeviceClaims::new(Claims::new(), OnExisting::Create);
        claims.claim("kept", "kept-device", 1);
        claims.remember_created("kept", &email(0), 1);
        for n in 0..10_000 {
            let (user, device) = (format!("user-{n}"), format!("device-{n}"));
            claims.claim(&user, &device, n as u64 + 2);
            claims.remember_created(&user, &email(n), n as u64 + 2);
            claims.release(&user);
            assert_eq!(claims.lock().get(&device), None, "released: {device}");
        }
        assert_eq!(claims.lock().len(), 1, "only the kept user's claim");
        assert_eq!(claims.lock().get("kept-device"), Some(1));
        assert_eq!(claims.created_in_run("kept", &email(0)), Some(1));
        assert_eq!(claims.created_in_run("user-0", &email(0)), None);
        assert_eq!(claims.created.as_ref().map(|c| lock(c).len()), Some(1));
        assert_eq!(lock(&claims.by_user).len(), 1);
    }

    /// An earlier run's claims are not this run's to forget.
    #[test]
    fn claims_of_an_earlier_run_stay() {
        let mut before = Claims::new();
        before.insert("earlier-device", 3);
        let claims = DeviceClaims::new(before, OnExisting::Skip);
        claims.claim("user", "new-device", 9);
        claims.release("user");
        assert_eq!(claims.lock().get("earlier-device"), Some(3));
        assert_eq!(claims.lock().get("new-device"), None);
    }
}
