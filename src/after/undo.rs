//! `undo RUN_DIR`: delete exactly the devices a run created, each once, and nothing else.
//!
//! Candidates are `created` rows. Each device is read first and deleted only when it is
//! still what the run recorded (type, destination, status): one changed or activated since
//! is `kept_changed`, one gone is `already_gone`; a `skipped_existing` row's device was the
//! user's before the run and is `kept_not_created` without a request. `--dry-run` reads only
//! and says `would_delete`.
//!
//! Exactly once: each row is on disk in undo.csv as soon as its DELETE is answered; a DELETE
//! whose answer never came is sent again (it is idempotent: a 404 means it is gone). After a
//! crash, `--resume` keeps the rows already `deleted`, `already_gone` or kept, and reads the
//! others again: a device the crashed undo deleted before it could record it reads as gone
//! and is recorded `already_gone` (with a detail saying so), never deleted twice. A second
//! undo of a finished one is refused by the same output directory (its undo.csv is there);
//! with another `--out` it reads every device gone and sends no DELETE.
//!
//! `--restore-mfa`: after a row's device is gone, a user this run switched on
//! (`user_mfa_switched`) who has no device left is switched off again.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::output::AfterRow;
use super::record::Rows;
use super::verify::changed;
use super::After;
use super::AfterError;
use crate::pingone::one_device::Deleted;
use crate::pingone::ApiError;
use crate::record::journal::{self, Removal};
use crate::record::{Outcome, ResultRow};

/// The name of undo's CSV in its output directory.
pub(crate) const UNDO_FILE: &str = "undo.csv";

/// undo.csv's `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UndoOutcome {
    Deleted,
    AlreadyGone,
    KeptChanged,
    KeptNotCreated,
    #[default]
    Failed,
    WouldDelete,
    /// A device a `replace` run deleted (`removed_device_ids`): PingOne keeps nothing to
    /// bring it back; the line names its type and destination.
    NotRestorable,
}

impl UndoOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UndoOutcome::Deleted => "deleted",
            UndoOutcome::AlreadyGone => "already_gone",
            UndoOutcome::KeptChanged => "kept_changed",
            UndoOutcome::KeptNotCreated => "kept_not_created",
            UndoOutcome::Failed => "failed",
            UndoOutcome::WouldDelete => "would_delete",
            UndoOutcome::NotRestorable => "not_restorable",
        }
    }
}

/// One row of undo.csv.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UndoRow {
    pub(crate) line: u64,
    pub(crate) user_id: String,
    pub(crate) username: String,
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) destination: String,
    pub(crate) device_id: String,
    pub(crate) outcome: UndoOutcome,
    pub(crate) detail: String,
    /// `--restore-mfa`: `switched_off` when this row's user was switched off again.
    pub(crate) user_mfa: String,
}

impl AfterRow for UndoRow {
    fn line(&self) -> u64 {
        self.line
    }

    fn label(&self) -> &'static str {
        self.outcome.as_str()
    }

    fn is_done(&self) -> bool {
        self.outcome != UndoOutcome::Failed
    }
}

/// The rows undo looks at: those with a device the run recorded.
pub(crate) fn candidate(row: &ResultRow) -> bool {
    super::verify::recorded(row)
}

/// How this undo treats each row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub(crate) dry_run: bool,
    pub(crate) restore_mfa: bool,
}

fn base(row: &ResultRow, outcome: UndoOutcome, detail: &str) -> UndoRow {
    UndoRow {
        line: row.line,
        user_id: row.user_id.clone(),
        username: row.username.clone(),
        device_type: row.device_type.clone(),
        destination: row.destination.clone(),
        device_id: row.device_id.clone(),
        outcome,
        detail: detail.to_string(),
        user_mfa: String::new(),
    }
}

/// A request that failed for good fails the row; one a stop cut short leaves it unrecorded.
fn failed(row: &ResultRow, error: ApiError) -> Option<UndoRow> {
    if matches!(error, ApiError::Stopped) {
        return None;
    }
    Some(base(
        row,
        UndoOutcome::Failed,
        &format!("PingOne answered {error}; nothing is known to be deleted"),
    ))
}

/// One row undone (or not), and a `not_restorable` line for each device the run removed
/// after it (`replace`), written with it; nothing when a stop cut it short.
pub(crate) async fn undo_row_and_removed(
    after: &After,
    mode: Mode,
    row: ResultRow,
) -> Vec<UndoRow> {
    let removed = not_restorable(&row);
    match undo_row(after, mode, row).await {
        Some(own) => std::iter::once(own).chain(removed).collect(),
        None => Vec::new(),
    }
}

/// The devices a `replace` run removed after `row`, as undo.csv lines.
fn not_restorable(row: &ResultRow) -> Vec<UndoRow> {
    let mut destinations = row.removed_destinations.split_ascii_whitespace();
    row.removed_ids()
        .map(|device_id| UndoRow {
            device_id: device_id.to_string(),
            destination: destinations.next().unwrap_or_default().to_string(),
            outcome: UndoOutcome::NotRestorable,
            detail: "deleted by the replace run as stale (its destination matched none of the \
                     user's rows of this type); PingOne keeps nothing to restore it from"
                .to_string(),
            ..base(row, UndoOutcome::NotRestorable, "")
        })
        .collect()
}

/// The devices a `replace` run journaled for deletion that no row of results.csv lists (a
/// run killed after their DELETE, whose resume did not put them on a row; or a DELETE that
/// failed): read before anything is deleted, so a journal that cannot be read refuses undo.
pub(crate) fn unrecorded_removals(run_dir: &Path) -> Result<Vec<Removal>, AfterError> {
    let unproven = |why: String| AfterError::Unproven {
        dir: run_dir.to_path_buf(),
        why,
    };
    let journaled = journal::read(run_dir).map_err(|e| unproven(e.to_string()))?;
    if journaled.is_empty() {
        return Ok(Vec::new());
    }
    let mut on_rows = HashSet::new();
    for row in Rows::open(run_dir)? {
        let row = row.map_err(|e| unproven(e.to_string()))?;
        on_rows.extend(row.removed_ids().map(str::to_string));
    }
    Ok(journaled
        .into_iter()
        .filter(|r| !on_rows.contains(&r.device_id))
        .collect())
}

/// A journaled device no row lists, as an undo.csv line: `not_restorable` when PingOne no
/// longer has it (nothing removed is missing from undo.csv); nothing when it is still there
/// (its DELETE failed: it was not removed); `failed` when it cannot be read; `None` too when
/// a stop cut the read short.
pub(crate) async fn unrecorded_line(after: &After, removal: Removal) -> Option<UndoRow> {
    let (client, retry) = (&after.client, &after.retry);
    let read = retry
        .run(|| client.get_device(&removal.user_id, &removal.device_id))
        .await;
    let (outcome, detail) = match read {
        Ok(Some(_)) => return None,
        Ok(None) => (
            UndoOutcome::NotRestorable,
            "deleted by the replace run as stale (its removals journal says so; the run was \
             killed before its row could list it); PingOne keeps nothing to restore it from"
                .to_string(),
        ),
        Err(ApiError::Stopped) => return None,
        Err(e) => (
            UndoOutcome::Failed,
            format!("journaled for deletion by the replace run, and PingOne answered {e}"),
        ),
    };
    Some(UndoRow {
        line: removal.line,
        user_id: removal.user_id,
        device_type: removal.device_type,
        destination: removal.destination,
        device_id: removal.device_id,
        outcome,
        detail,
        ..UndoRow::default()
    })
}

/// One row undone (or not); `None` when a stop cut it short.
pub(crate) async fn undo_row(after: &After, mode: Mode, row: ResultRow) -> Option<UndoRow> {
    if row.outcome != Outcome::Created {
        let why = "the user had this device before the run (skipped_existing): never deleted";
        return Some(base(&row, UndoOutcome::KeptNotCreated, why));
    }
    let (client, retry) = (&after.client, &after.retry);
    let user = row.user_id.as_str();
    let device = match retry.run(|| client.get_device(user, &row.device_id)).await {
        Ok(device) => device,
        Err(e) => return failed(&row, e),
    };
    let Some(device) = device else {
        let gone = base(
            &row,
            UndoOutcome::AlreadyGone,
            "PingOne has no device with this ID",
        );
        return Some(restore(after, mode, &row, gone).await);
    };
    let status = device.status.clone().unwrap_or_default();
    let reason = changed(&row, &device).or_else(|| {
        (!row.device_status.is_empty() && !status.is_empty() && status != row.device_status)
            .then(|| format!("its status is now {status}, not {}", row.device_status))
    });
    if let Some(why) = reason {
        return Some(base(
            &row,
            UndoOutcome::KeptChanged,
            &format!("{why}: kept"),
        ));
    }
    if mode.dry_run {
        return Some(base(
            &row,
            UndoOutcome::WouldDelete,
            "still as the run recorded it",
        ));
    }
    let deleted = match retry.run(|| client.delete_device(user, &row.device_id)).await {
        Ok(Deleted::Now) => base(&row, UndoOutcome::Deleted, ""),
        Ok(Deleted::AlreadyGone) => base(
            &row,
            UndoOutcome::AlreadyGone,
            "gone by the time of the DELETE (404): deleted meanwhile, or by an attempt whose answer was lost",
        ),
        Err(e) => return failed(&row, e),
    };
    Some(restore(after, mode, &row, deleted).await)
}

/// `--restore-mfa`: the row's user, switched on by the run and now without a device, is
/// switched off again. Rows of one user run at once may each see the other's device still
/// there, but the one that reads last sees none.
async fn restore(after: &After, mode: Mode, row: &ResultRow, mut out: UndoRow) -> UndoRow {
    if !mode.restore_mfa || mode.dry_run || !row.user_mfa_switched {
        return out;
    }
    let (client, retry) = (&after.client, &after.retry);
    let user = row.user_id.as_str();
    out.user_mfa = match retry.run(|| client.list_devices(user)).await {
        Ok(devices) if devices.is_empty() => match retry.run(|| client.disable_mfa(user)).await {
            Ok(false) => "switched_off".into(),
            Ok(true) => "still_on: PingOne reports it on after the PUT".into(),
            Err(e) => format!("not_switched_off: PingOne answered {e}"),
        },
        Ok(devices) => format!("kept_on: the user has {} other devices", devices.len()),
        Err(e) => format!("not_switched_off: PingOne answered {e}"),
    };
    out
}
