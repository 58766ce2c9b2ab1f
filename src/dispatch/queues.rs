//! The users' queues: one queue per user with rows waiting, drained by one worker, so a
//! user's rows run one at a time in file order; the admission that bounds how many rows wait
//! in all; and the device lists kept for users whose queue emptied.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::guard::lock;
use super::Job;
use crate::pingone::wire::Device;
use crate::stop::Stop;

/// Device lists kept for users whose queue emptied (see [`DeviceLists`]).
const KEPT_DEVICE_LISTS: usize = 4096;
/// How long a kept list is trusted: someone else (the user, another admin) may add a device
/// meanwhile, and a list older than this is read again. A list in use by a busy queue can be
/// as old as the queue's retries, so this adds no staleness of a new kind.
const KEPT_DEVICE_LIST_FOR: Duration = Duration::from_secs(60);

/// The bytes of a record one place among the waiting rows stands for: a usual row (a few
/// hundred bytes) takes one place, a row near the 1 MB record ceiling takes up to all of them,
/// so the records waiting hold at most the places times this, not the places times 1 MB.
const ADMITTED_BYTES: usize = 16 * 1024;

/// The places a record of `bytes` takes: one, and one more per [`ADMITTED_BYTES`], never more
/// than there are (a record larger than them all waits alone).
fn places_for(bytes: usize, places: u32) -> u32 {
    u32::try_from(1 + bytes / ADMITTED_BYTES)
        .unwrap_or(u32::MAX)
        .min(places)
}

/// A queued row with its place among the rows allowed to wait (given back when dropped, once
/// the row has its result).
pub(super) type Waiting = (Job, OwnedSemaphorePermit);

/// The queues of users with rows waiting, the admission that bounds them, and the device
/// lists of users whose queue emptied.
pub(super) struct UserQueues {
    /// User ID -> the user's rows waiting behind the one its worker is on.
    waiting: Mutex<HashMap<String, VecDeque<Waiting>>>,
    device_lists: Mutex<DeviceLists>,
    admission: Arc<Semaphore>,
    admission_size: u32,
}

impl UserQueues {
    pub(super) fn new(concurrency: usize) -> UserQueues {
        // Room for rows queued behind a busy user without letting the whole file into memory.
        let admission_size = (concurrency * 8).max(64) as u32;
        UserQueues {
            waiting: Mutex::default(),
            device_lists: Mutex::default(),
            admission: Arc::new(Semaphore::new(admission_size as usize)),
            admission_size,
        }
    }

    /// Waits for a place among the rows allowed to wait, as large as `job`'s record (see
    /// [`ADMITTED_BYTES`]); `None` once the run stops.
    pub(super) async fn admit(&self, job: &Job, stop: &Stop) -> Option<OwnedSemaphorePermit> {
        let places = places_for(job.raw.as_slice().len(), self.admission_size);
        tokio::select! {
            biased;
            () = stop.requested() => None,
            permit = self.admission.clone().acquire_many_owned(places) => permit.ok(),
        }
    }

    /// Queues the row behind its user's earlier rows. A user with no queue gets one, and the
    /// row comes back: the caller starts the user's worker with it.
    pub(super) fn enqueue(
        &self,
        job: Job,
        user_id: &str,
        permit: OwnedSemaphorePermit,
    ) -> Option<Waiting> {
        let mut waiting = lock(&self.waiting);
        if let Some(queue) = waiting.get_mut(user_id) {
            queue.push_back((job, permit));
            return None;
        }
        waiting.insert(user_id.to_string(), VecDeque::new());
        Some((job, permit))
    }

    /// The devices kept for the user when an earlier queue of the user emptied, if still
    /// trusted.
    pub(super) fn kept_devices(&self, user_id: &str) -> Option<Vec<Device>> {
        lock(&self.device_lists).take(user_id)
    }

    /// The user's next row; or, when none waits, closes the user's queue and keeps the
    /// devices its worker knows (taken from `devices`) for a later row of the user.
    pub(super) fn next(&self, user_id: &str, devices: &mut Option<Vec<Device>>) -> Option<Waiting> {
        let mut waiting = lock(&self.waiting);
        match waiting.get_mut(user_id).and_then(VecDeque::pop_front) {
            Some(next) => Some(next),
            None => {
                // Kept before the queue goes: a later row of this user starts a new
                // worker only after this, so it finds the list as this worker left it.
                if let Some(known) = devices.take() {
                    lock(&self.device_lists).keep(user_id, known);
                }
                waiting.remove(user_id);
                None
            }
        }
    }

    /// Waits until every admitted row has given its place back.
    pub(super) async fn finish(&self) {
        let _ = self.admission.acquire_many(self.admission_size).await;
    }
}

/// The device lists of users whose queue emptied, kept for a later row of the same user, so
/// a user's devices are read once per run, not once per row, also when the user's rows are
/// far apart in the file. A list is kept only when it is known to be current: this run's own
/// creations are added to it, and an unclear answer drops it. The oldest goes first, and none
/// is trusted for longer than [`KEPT_DEVICE_LIST_FOR`].
#[derive(Default)]
struct DeviceLists {
    lists: HashMap<String, (Instant, Vec<Device>)>,
    order: VecDeque<String>,
}

impl DeviceLists {
    fn take(&mut self, user_id: &str) -> Option<Vec<Device>> {
        // Its place in `order` stays behind; eviction skips names no longer kept.
        let (kept_at, devices) = self.lists.remove(user_id)?;
        (kept_at.elapsed() < KEPT_DEVICE_LIST_FOR).then_some(devices)
    }

    fn keep(&mut self, user_id: &str, devices: Vec<Device>) {
        let entry = (Instant::now(), devices);
        if self.lists.insert(user_id.to_string(), entry).is_none() {
            self.order.push_back(user_id.to_string());
        }
        while self.lists.len() > KEPT_DEVICE_LISTS || self.order.len() > 2 * KEPT_DEVICE_LISTS {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.lists.remove(&oldest);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records near the 1 MB ceiling take places by their size, so the rows allowed to wait
    /// hold the places times 16 KB of records at most, plus one record waiting alone.
    #[test]
    fn a_large_record_takes_places_by_its_size() {
        assert_eq!(places_for(300, 128), 1);
        assert_eq!(places_for(ADMITTED_BYTES, 128), 2);
        assert_eq!(places_for(500 * 1024, 128), 32);
        assert_eq!(
            places_for(1024 * 1024, 64),
            64,
            "alone, never more than all"
        );
    }
}
