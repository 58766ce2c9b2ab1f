//! `on_existing = "replace"`: the stale devices of a user's group (see [`super::groups`])
//! deleted at the turn of the group's last row, after the row's device (and the MFA switch)
//! is settled, in the same turn: the row reaches results.csv only once its removals are done
//! or owed, so a crash between a creation and its removals leaves the row unrecorded, and
//! `--resume` finds its device (without a second POST) and deletes what is stale then.
//!
//! Each DELETE is retried as a read is (PingOne answers 404 for a device already gone, so a
//! DELETE whose answer was lost is safe to send again, and counts as removed). The run never
//! deletes more than `max_deletes`: the deletion that would pass it is not sent, the row says
//! `DELETE_CAP_REACHED` and the run stops (exit 3). A row whose removals are left undone
//! keeps its outcome (its device is there) and says `REMOVALS_OWED` or `DELETE_CAP_REACHED`,
//! so resume works it again. A held group (a row invalid or failed) deletes nothing; its
//! stale devices are counted, and listed in summary.json and report.html.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::decide;
use super::groups::{Hold, ReplaceGroups, Turn, Wanted};
use super::guard::lock;
use super::retry::RetryPolicy;
use super::Job;
use crate::codes::Code;
use crate::failpoints::crash_point;
use crate::pingone::wire::Device;
use crate::pingone::Client;
use crate::record::journal::{Journal, Removal};
use crate::record::summary::HeldRemoval;
use crate::record::{Outcome, RowResult};
use crate::stop::{Stop, StopReason};

/// Held groups listed by name in summary.json and report.html; the rest only counted.
const HELD_LISTED: usize = 100;

/// A run's deletions against its cap, and the groups it held.
#[derive(Debug)]
pub(crate) struct RemovalBook {
    cap: u64,
    /// Deletions this run sent (and PingOne confirmed, or answered 404 to), or reserved for
    /// one in flight.
    taken: AtomicU64,
    /// Stale devices the cap kept (those of the row that met it; rows after it stopped).
    owed_at_cap: AtomicU64,
    held: Mutex<Held>,
    /// Written before each DELETE; what earlier runs wrote there, read on --resume.
    journal: Arc<Journal>,
}

#[derive(Debug, Default)]
struct Held {
    devices: u64,
    listed: Vec<HeldRemoval>,
}

impl RemovalBook {
    pub(crate) fn new(cap: u64, journal: Arc<Journal>) -> RemovalBook {
        RemovalBook {
            cap,
            journal,
            taken: AtomicU64::new(0),
            owed_at_cap: AtomicU64::new(0),
            held: Mutex::default(),
        }
    }

    /// One deletion more, if the cap allows it.
    fn take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.cap).then_some(n + 1)
            })
            .is_ok()
    }

    /// An online dry run: `n` deletions more in the plan, however many the cap allows.
    fn plan(&self, n: u64) {
        self.taken.fetch_add(n, Ordering::SeqCst);
    }

    /// Whether the cap stopped the run (a plan: would stop a real run).
    pub(crate) fn cap_reached(&self) -> bool {
        self.owed_at_cap.load(Ordering::SeqCst) > 0 || self.taken.load(Ordering::SeqCst) > self.cap
    }

    /// A reserved deletion that was not made (it failed, or the stop came first).
    fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::SeqCst);
    }

    /// Devices this run deleted.
    pub(crate) fn removed(&self) -> u64 {
        self.taken.load(Ordering::SeqCst)
    }

    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    /// Held stale devices, and the first groups that held them.
    pub(crate) fn held(&self) -> (u64, Vec<HeldRemoval>) {
        let held = lock(&self.held);
        (held.devices, held.listed.clone())
    }

    fn hold(&self, removal: HeldRemoval) {
        let mut held = lock(&self.held);
        held.devices += removal.devices;
        if held.listed.len() < HELD_LISTED {
            held.listed.push(removal);
        }
    }
}

/// What removing a row's group's stale devices reads and writes.
pub(super) struct Remover<'a> {
    pub(super) client: &'a Client,
    pub(super) retry: &'a RetryPolicy,
    pub(super) stop: &'a Stop,
    pub(super) groups: &'a ReplaceGroups,
    pub(super) book: &'a RemovalBook,
}

impl Remover<'_> {
    /// The row's result once its group's stale devices are removed (or held, or owed);
    /// `devices`: the user's devices as the row's turn knows them.
    pub(super) async fn after_row(
        &self,
        job: &Job,
        user_id: &str,
        result: RowResult,
        devices: &mut Option<Vec<Device>>,
    ) -> RowResult {
        let well = matches!(
            result.row.outcome,
            Outcome::Created | Outcome::SkippedExisting
        );
        let result = self.journaled(job, user_id, result, devices).await;
        let device_type = job.spec.device_type;
        match self
            .groups
            .worked(&job.spec.user, device_type, job.line, well)
        {
            Turn::NotLast => result,
            Turn::Held(hold, wanted) => self.held(job, user_id, result, hold, &wanted).await,
            Turn::Remove(wanted) => {
                // The window create-before-delete exists for: the device is there, nothing
                // stale is deleted yet, and the row is not recorded.
                crash_point!("before-removals");
                self.remove(job, user_id, result, &wanted, devices).await
            }
        }
    }

    /// `--resume`: the devices an earlier run journaled for this row and could not record
    /// (it was killed after their DELETE): each one the user's list no longer has was
    /// removed, and goes on the row (once). One still listed (PingOne's lists may lag after
    /// a delete) is stale still, and [`Self::remove`] deletes it again (a 404 counts as
    /// removed). They were deleted by the earlier run, so they count against this run's cap
    /// only when this run sends a DELETE for them.
    async fn journaled(
        &self,
        job: &Job,
        user_id: &str,
        result: RowResult,
        devices: &mut Option<Vec<Device>>,
    ) -> RowResult {
        let earlier: Vec<&Removal> = self
            .book
            .journal
            .earlier(job.line)
            .iter()
            .filter(|r| !result.row.removed_ids().any(|id| id == r.device_id))
            .collect();
        if earlier.is_empty() {
            return result;
        }
        if devices.is_none() {
            match self.retry.run(|| self.client.list_devices(user_id)).await {
                Ok(fresh) => *devices = Some(fresh),
                Err(e) => {
                    let why = format!("the user's devices could not be read ({e})");
                    return owed_with(result, Code::RemovalsOwed, &why, 0);
                }
            }
        }
        let listed = devices.as_deref().unwrap_or_default();
        let gone = earlier
            .into_iter()
            .filter(|r| !listed.iter().any(|d| d.id == r.device_id))
            .map(|r| (r.device_id.clone(), r.destination.clone()));
        result.with_removed_ids(gone)
    }

    /// An online dry run's row: at its group's last row, the stale devices a real run would
    /// delete, in `removed_device_ids`, sending nothing but a read.
    pub(super) async fn plan_row(&self, job: &Job, user_id: &str, result: RowResult) -> RowResult {
        let well = matches!(
            result.row.outcome,
            Outcome::WouldCreate | Outcome::WouldSkipExisting
        );
        let device_type = job.spec.device_type;
        let wanted = match self
            .groups
            .worked(&job.spec.user, device_type, job.line, well)
        {
            Turn::NotLast => return result,
            Turn::Held(hold, wanted) => {
                return self.held(job, user_id, result, hold, &wanted).await
            }
            Turn::Remove(wanted) => wanted,
        };
        let listed = match self.retry.run(|| self.client.list_devices(user_id)).await {
            Ok(listed) => listed,
            Err(e) => {
                let note = format!("the stale devices could not be planned: the user's devices could not be read ({e})");
                return add_note(result, &note);
            }
        };
        let stale = decide::stale(&listed, device_type, |d| wanted.contains(d));
        self.book.plan(stale.len() as u64);
        result.with_removed(&stale)
    }

    /// A held group: nothing deleted; its stale devices counted and the row says why.
    async fn held(
        &self,
        job: &Job,
        user_id: &str,
        result: RowResult,
        hold: Hold,
        wanted: &Wanted,
    ) -> RowResult {
        let read = self.retry.run(|| self.client.list_devices(user_id)).await;
        let Ok(devices) = read else {
            return result;
        };
        let stale =
            decide::stale(&devices, job.spec.device_type, |d| wanted.contains(d)).len() as u64;
        if stale == 0 {
            return result;
        }
        self.book.hold(HeldRemoval {
            line: job.line,
            user_id: user_id.to_string(),
            device_type: job.spec.device_type.as_str().to_string(),
            devices: stale,
            reason: hold.reason(),
        });
        let note = format!(
            "{stale} stale {} device(s) kept: {}",
            job.spec.device_type.as_str(),
            hold.reason()
        );
        add_note(result, &note)
    }

    /// Deletes the group's stale devices, each once, within the cap.
    async fn remove(
        &self,
        job: &Job,
        user_id: &str,
        result: RowResult,
        wanted: &Wanted,
        devices: &mut Option<Vec<Device>>,
    ) -> RowResult {
        // The list as this turn knows it (the row's own device added), or read now: a
        // device deleted moments ago may still be listed, and deleting it again answers 404.
        let listed = match devices.take() {
            Some(known) => known,
            None => match self.retry.run(|| self.client.list_devices(user_id)).await {
                Ok(fresh) => fresh,
                Err(e) => {
                    let why = format!("the user's devices could not be read ({e})");
                    return owed_with(result, Code::RemovalsOwed, &why, 0);
                }
            },
        };
        let stale = decide::stale(&listed, job.spec.device_type, |d| wanted.contains(d));
        let mut removed: Vec<&Device> = Vec::new();
        let mut problem = None;
        for (done, device) in stale.iter().enumerate() {
            if self.stop.is_requested() {
                problem = Some((Code::RemovalsOwed, "the run stopped first".to_string()));
                break;
            }
            if !self.book.take() {
                let due = (stale.len() - done) as u64;
                self.book.owed_at_cap.fetch_add(due, Ordering::SeqCst);
                self.stop.request(StopReason::DeleteCapReached(format!(
                    "max_deletes = {} reached: this run deleted {} devices, and line {} had {due} \
                     more stale device(s) due (an online dry run counts every one); nothing past \
                     the cap was deleted. Run again with --resume and a higher --max-deletes",
                    self.book.cap,
                    self.book.removed(),
                    job.line
                )));
                problem = Some((
                    Code::DeleteCapReached,
                    format!(
                        "{due} stale device(s) not deleted: max_deletes = {} reached",
                        self.book.cap
                    ),
                ));
                break;
            }
            if let Err(why) = self.delete_one(job, user_id, device).await {
                self.book.give_back();
                problem = Some((Code::RemovalsOwed, why));
                break;
            }
            removed.push(device);
        }
        let result = result.with_removed(&removed);
        let left = stale.len() - removed.len();
        let kept: Vec<Device> = listed
            .iter()
            .filter(|d| !removed.iter().any(|r| r.id == d.id))
            .cloned()
            .collect();
        *devices = Some(kept);
        match problem {
            None => result,
            Some((code, why)) => owed_with(result, code, &why, left),
        }
    }

    /// Journals one stale device, then deletes it; `Err`: why it was not deleted.
    async fn delete_one(&self, job: &Job, user_id: &str, device: &Device) -> Result<(), String> {
        let device_id = device.id.as_str();
        // On disk before the DELETE is sent: a crash after it, before the row is written,
        // leaves the removal for --resume (and undo) to find.
        let removal = Removal::of(job.line, user_id, device);
        if let Err(e) = self.book.journal.append(&removal) {
            return Err(format!(
                "the removals journal could not be written ({e}), so {device_id} was not deleted"
            ));
        }
        match self
            .retry
            .run(|| self.client.delete_device(user_id, device_id))
            .await
        {
            Ok(_) => {
                crash_point!("after-delete");
                Ok(())
            }
            Err(e) => Err(format!("deleting {device_id} failed ({e})")),
        }
    }
}

/// A row whose removals are still owed (`left` of them, when known), with why.
fn owed_with(result: RowResult, code: Code, why: &str, left: usize) -> RowResult {
    let left = match left {
        0 => String::new(),
        n => format!("{n} "),
    };
    let message = format!(
        "the device is there; {left}stale device(s) of this user and type are still to be deleted: {why}; --resume deletes them"
    );
    let earlier = result.row.error_message.clone();
    let r = result.with_error(code, message);
    if earlier.is_empty() {
        r
    } else {
        add_note(r, &earlier)
    }
}

/// The row's message with `note` after it.
fn add_note(result: RowResult, note: &str) -> RowResult {
    let message = match result.row.error_message.as_str() {
        "" => note.to_string(),
        earlier => format!("{earlier}; {note}"),
    };
    result.with_note(message)
}
