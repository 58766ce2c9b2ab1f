//! Users PingOne does not know yet. PingOne is eventually consistent: a user imported moments
//! before the run may answer 404, or be missing from a username's look-up, for a short while.
//! Such a user is asked again, spaced ([`waits`]), for `user_not_found_grace_s` before the row
//! is `USER_NOT_FOUND`; users found on a second ask are counted (`users_late`).
//!
//! - A username the look-up did not find is queued apart, under [`late_key`], so the rows
//!   behind it go on; its worker asks again between waits and, once the user is there, hands
//!   the row to the user's own queue (rows by ID of the same user run there too: one at a
//!   time, so a device is never created twice). With `--shard` a username is not asked again:
//!   which shard owns it is known only by its ID (see [`super::EngineConfig`]).
//! - A row naming its user by ID that ended `USER_NOT_FOUND` (a 404 whose body names the user:
//!   PingOne did not act on it) reads the user's devices between waits, and is worked again
//!   once a read finds the user.
//! - A wait holds no request slot: the row gives up its place among the rows in progress,
//!   and each ask goes through the throttle as any request. A stop ends the wait at once;
//!   the row is then `NOT_ATTEMPTED` (nothing was sent for it that PingOne acted on), and
//!   `--resume` asks again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use super::guard::lock;
use super::lookups::Resolution;
use super::rows::InProgress;
use super::{decide, results, Engine, Job};
use crate::codes::Code;
use crate::model::UserRef;
use crate::pingone::wire::{Device, Standing};
use crate::record::summary::InactiveRows;
use crate::record::RowResult;

/// The first wait before a user is asked again; each next one doubles.
const FIRST_WAIT: Duration = Duration::from_millis(500);

/// What no user ID looks like (IDs are UUIDs): the queue of a username not found yet.
const LATE_PREFIX: &str = "late username:";

/// The waits before each new ask, doubling from half a second, the last cut so that all of
/// them add up to `grace`. No grace: no wait, no second ask.
pub(super) fn waits(grace: Duration) -> Vec<Duration> {
    let mut waits = Vec::new();
    let (mut spent, mut next) = (Duration::ZERO, FIRST_WAIT);
    while spent < grace {
        let wait = next.min(grace - spent);
        waits.push(wait);
        spent += wait;
        next = next.saturating_mul(2);
    }
    waits
}

/// The queue key of a username that PingOne's look-up did not find.
pub(super) fn late_key(name: &str) -> String {
    format!("{LATE_PREFIX}{}", name.to_lowercase())
}

/// Whether a queue key is [`late_key`]'s rather than a user's ID.
pub(super) fn is_late_key(key: &str) -> bool {
    key.starts_with(LATE_PREFIX)
}

/// Users found on a second ask, and what the grace learned of usernames with rows to come.
#[derive(Default)]
pub(super) struct LateUsers {
    late: AtomicU64,
    /// Case-folded username -> its user found late (ID, account), or `None`: not found in
    /// the grace. Kept until the username's last row, so its later rows do not wait again.
    usernames: Mutex<HashMap<String, Option<(String, Standing)>>>,
    /// Users named by ID not found over a whole grace, while rows of theirs are to come: the
    /// next row of the user does not wait again.
    missing_ids: Mutex<HashSet<String>>,
    /// Rows worked whose user is disabled, locked (what the engine learns of accounts is
    /// counted here, beside the users found late).
    disabled: AtomicU64,
    locked: AtomicU64,
}

impl LateUsers {
    /// Users found on a second ask.
    pub(super) fn count(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }

    fn counted(&self) {
        self.late.fetch_add(1, Ordering::Relaxed);
    }

    /// A row worked whose user's account is as `standing` says.
    pub(super) fn note_standing(&self, standing: Standing) {
        if standing.disabled {
            self.disabled.fetch_add(1, Ordering::Relaxed);
        }
        if standing.locked {
            self.locked.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn inactive_rows(&self) -> InactiveRows {
        InactiveRows {
            disabled: self.disabled.load(Ordering::Relaxed),
            locked: self.locked.load(Ordering::Relaxed),
        }
    }

    /// What the grace learned of a username, forgotten with its last row (`continues`).
    fn known(&self, name: &str, continues: bool) -> Option<Option<(String, Standing)>> {
        let mut usernames = lock(&self.usernames);
        match continues {
            true => usernames.get(&name.to_lowercase()).cloned(),
            false => usernames.remove(&name.to_lowercase()),
        }
    }

    /// Forgets a user named by ID that the grace did not find: no row of theirs is to come.
    pub(super) fn release_id(&self, user_id: &str) {
        lock(&self.missing_ids).remove(&user_id.to_lowercase());
    }

    /// What the grace learned of a username; kept only while rows naming it are to come.
    fn learned(&self, name: &str, id: Option<(String, Standing)>, continues: bool) {
        let mut usernames = lock(&self.usernames);
        if continues {
            usernames.insert(name.to_lowercase(), id);
        } else {
            usernames.remove(&name.to_lowercase());
        }
    }
}

impl Engine {
    /// The worker of a username's queue whose look-up found no user: asks again over the
    /// grace, then hands each row to its user's queue, or records it.
    pub(super) async fn drain_late(
        self: Arc<Self>,
        first: Job,
        key: String,
        permit: OwnedSemaphorePermit,
    ) {
        let mut next = Some((first, permit));
        let mut no_devices = None;
        while let Some((job, permit)) = next.take() {
            match self.await_username(&job).await {
                Ok((user_id, standing)) => {
                    let job = Job { standing, ..job };
                    if let Some((job, permit)) = self.queues.enqueue(job, &user_id, permit) {
                        tokio::spawn(self.clone().drain_user(job, user_id, permit));
                    }
                }
                Err(result) => {
                    self.recorder.record(result);
                    drop(permit);
                }
            }
            next = self.queues.next(&key, &mut no_devices);
        }
    }

    /// The row's user, asked for again between waits: its ID and account, or the row's
    /// result.
    async fn await_username(&self, job: &Job) -> Result<(String, Standing), RowResult> {
        let name = match &job.spec.user {
            UserRef::Username(name) => name.as_str(),
            UserRef::Id(id) => return Ok((id.to_string(), job.standing)),
        };
        match self.late.known(name, job.continues) {
            Some(Some(found)) => return Ok(found),
            Some(None) => return Err(self.unresolved(job, name, Resolution::NotFound).0),
            None => {}
        }
        for wait in waits(self.retry.user_grace()) {
            self.retry.wait(wait).await;
            if self.stop.is_requested() {
                return Err(results::not_attempted(job, ""));
            }
            let answer = self
                .usernames
                .ask_again(&self.client, &self.retry, name)
                .await;
            match answer {
                Resolution::NotFound => continue,
                Resolution::Found(id, mfa_enabled, standing) => {
                    self.late.counted();
                    self.note_found(&id, mfa_enabled);
                    let found = (id.clone(), standing);
                    self.late.learned(name, Some(found), job.continues);
                    return Ok((id, standing));
                }
                other => return Err(self.unresolved(job, name, other).0),
            }
        }
        self.late.learned(name, None, job.continues);
        // As a row not asked again says it: a sharded run's rows agree with a whole run's.
        Err(self.unresolved(job, name, Resolution::NotFound).0)
    }

    /// A row by ID that ended `USER_NOT_FOUND`: the user's devices are read between waits
    /// (no place among the rows in progress held meanwhile), and the row is worked again
    /// once a read finds the user. `first`: the row's result as it stands.
    pub(super) async fn await_user_id<'a>(
        &'a self,
        job: &Job,
        user_id: &str,
        devices: &mut Option<Vec<Device>>,
        place: &mut Option<InProgress<'a>>,
        first: RowResult,
    ) -> RowResult {
        if lock(&self.late.missing_ids).contains(&user_id.to_lowercase()) {
            return first;
        }
        *place = None;
        for wait in waits(self.retry.user_grace()) {
            self.retry.wait(wait).await;
            if self.stop.is_requested() {
                return results::not_attempted(job, user_id);
            }
            match self.retry.run(|| self.client.list_devices(user_id)).await {
                Ok(found) => {
                    self.late.counted();
                    *devices = Some(found);
                    // What was learned of the user while PingOne did not know it is void.
                    if let Some(switches) = self.mode.switches() {
                        switches.release(user_id);
                    }
                    *place = self
                        .rows
                        .start(|| self.client.in_flight_limit(), &self.stop)
                        .await;
                    if place.is_none() {
                        return results::not_attempted(job, user_id);
                    }
                    return self.work(job, user_id, devices).await;
                }
                Err(e) if decide::rules_out_every_device(&e) => continue,
                Err(e) if e.is_retryable() && self.stop.is_requested() => {
                    return results::not_attempted(job, user_id)
                }
                Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
            }
        }
        lock(&self.late.missing_ids).insert(user_id.to_lowercase());
        first
    }

    /// Whether a row's result is one the grace asks again for: a user named by ID that
    /// PingOne answered 404 for (a username's look-up is asked again before its row is
    /// queued).
    pub(super) fn asks_again(&self, job: &Job, result: &RowResult) -> bool {
        matches!(job.spec.user, UserRef::Id(_))
            && result.row.error_code == Some(Code::UserNotFound)
            && !self.retry.user_grace().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_half_a_second_and_add_up_to_the_grace() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(waits(Duration::from_secs(5)), ms(&[500, 1000, 2000, 1500]));
        assert_eq!(waits(Duration::from_secs(1)), ms(&[500, 500]));
        assert!(waits(Duration::ZERO).is_empty());
        assert!(is_late_key(&late_key("Bob")) && !is_late_key("aaaaaaaa-0000"));
    }
}
