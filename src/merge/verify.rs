//! What merge checks of every row of a shard's results.csv before trusting it: its line is
//! one where a record of the input starts (summary.json keeps those lines), and one the shard
//! owns; its outcome is one of its kind of run, and agrees with its own fields (a device ID
//! where there must be one, a code where there must be one); and the shard's rows add up to
//! the counts its summary.json gives; and no device is reported created by two rows, within a
//! shard or across shards (one device is one row's only). A shard's record edited after it ran, or
//! written by something else, is refused, naming the shard and the line.

use super::rows::Row;
use super::{MergeError, ShardDir};
use crate::codes::Code;
use crate::config::RunMode;
use crate::model::Claims;
use crate::record::read_back;
use crate::record::writer::Tallies;
use crate::record::{Outcome, ResultRow};

/// The outcomes each kind of run writes in a shard (a shard never records a row it did not
/// validate, so an offline shard has no `failed` rows).
fn outcomes_of(mode: RunMode) -> &'static [Outcome] {
    match mode {
        RunMode::Live => &[
            Outcome::Created,
            Outcome::SkippedExisting,
            Outcome::Invalid,
            Outcome::Failed,
        ],
        RunMode::DryRunOnline => &[
            Outcome::WouldCreate,
            Outcome::WouldSkipExisting,
            Outcome::Invalid,
            Outcome::Failed,
        ],
        RunMode::DryRunOffline => &[Outcome::Valid, Outcome::Invalid],
    }
}

/// What is wrong with a row's outcome given its own fields; `None` when they agree.
fn disagreement(row: &ResultRow, mode: RunMode) -> Option<String> {
    let outcome = row.outcome;
    if !outcomes_of(mode).contains(&outcome) {
        return Some(format!(
            "outcome {outcome} is not one a {} writes",
            mode.describe()
        ));
    }
    let has_device = !row.device_id.is_empty();
    let has_code = row.error_code.is_some();
    let needs_device = matches!(outcome, Outcome::Created | Outcome::SkippedExisting);
    let may_have_device = needs_device || outcome == Outcome::WouldSkipExisting;
    if needs_device && !has_device {
        return Some(format!("outcome {outcome} without a device ID"));
    }
    if has_device && !may_have_device {
        return Some(format!("outcome {outcome} with a device ID"));
    }
    // A device that is there carries a code only when the user's MFA is still to switch on.
    let code_fits = match &row.error_code {
        None => !outcome.is_problem(),
        Some(Code::MfaNotEnabled) => needs_device,
        Some(_) => outcome.is_problem(),
    };
    if !code_fits {
        return Some(match has_code {
            true => format!(
                "outcome {outcome} with error code {}",
                row.error_code.as_ref().map_or("", Code::as_str)
            ),
            false => format!("outcome {outcome} without an error code"),
        });
    }
    let sends = mode == RunMode::Live;
    if row.attempts > 0 && (!sends || row.error_code == Some(Code::NotAttempted)) {
        return Some(format!(
            "{} attempts on a row that sent nothing",
            row.attempts
        ));
    }
    None
}

/// Whether the shard owns the row: a row that sends nothing belongs to the shard of its
/// line, a row that reached PingOne to the shard of its user (by the ID or the username the
/// shard decided by). An `invalid` row the engine wrote (a device another line created) is
/// its user's.
fn owns(shard: &ShardDir, row: &ResultRow) -> bool {
    let own = shard.info.shard();
    let by_user = (!row.user_id.is_empty() && own.owns_user_id(&row.user_id))
        || (!row.username.is_empty() && own.owns_username(&row.username));
    match row.outcome {
        Outcome::Invalid => {
            own.owns_line(row.line) || (row.error_code == Some(Code::DuplicateRow) && by_user)
        }
        Outcome::Created
        | Outcome::SkippedExisting
        | Outcome::Failed
        | Outcome::Valid
        | Outcome::WouldCreate
        | Outcome::WouldSkipExisting => by_user,
    }
}

/// The checks on one shard's rows, and their counts.
pub(super) struct ShardRows<'a> {
    shard: &'a ShardDir,
    tallies: Tallies,
}

impl<'a> ShardRows<'a> {
    pub(super) fn new(shard: &'a ShardDir) -> Self {
        Self {
            shard,
            tallies: Tallies::default(),
        }
    }

    fn refuse(&self, row: &Row<'_>, why: String) -> MergeError {
        MergeError::BadRow {
            dir: self.shard.dir.clone(),
            shard: self.shard.name(),
            row: row.number,
            line: row.line,
            why,
        }
    }

    /// Checks one row of the shard, and returns it as read.
    pub(super) fn check(&mut self, row: &Row<'_>) -> Result<ResultRow, MergeError> {
        let result: ResultRow = row
            .record
            .deserialize(Some(row.header))
            .map_err(|e| self.refuse(row, format!("cannot be read ({e})")))?;
        let summary = &self.shard.summary;
        let is_record_line = match &summary.input.lines {
            Some(lines) => lines.has(row.line),
            None => row.line >= 2,
        };
        if !is_record_line {
            return Err(self.refuse(row, "no record of the input starts on this line".into()));
        }
        if let Some(why) = disagreement(&result, summary.mode) {
            return Err(self.refuse(row, why));
        }
        if !owns(self.shard, &result) {
            return Err(self.refuse(
                row,
                format!("the row is another shard's, not {}'s", self.shard.name()),
            ));
        }
        self.tallies.add(&result, false);
        Ok(result)
    }

    /// The shard's rows add up to its summary's counts.
    pub(super) fn finish(self) -> Result<(), MergeError> {
        match read_back::counts_differ(&self.shard.summary, &self.tallies) {
            None => Ok(()),
            Some((said, found)) => Err(MergeError::ShardCounts {
                dir: self.shard.dir.clone(),
                shard: self.shard.name(),
                said,
                found,
            }),
        }
    }
}

/// The devices the shards' rows report created, each with the line (and shard) that did.
#[derive(Default)]
pub(super) struct DeviceClaims {
    lines: Claims,
    /// The shard of each line claimed, by its position among the shards given.
    shards: std::collections::HashMap<u64, usize>,
}

impl DeviceClaims {
    /// Records the device `row` (of `shards[part]`) reports created; a device another row
    /// reported created already is refused, naming both lines and their shards' directories.
    pub(super) fn claim(
        &mut self,
        row: &ResultRow,
        shards: &[ShardDir],
        part: usize,
    ) -> Result<(), MergeError> {
        // Only `created` claims a device: two rows may both find one device that was there
        // before (`skipped_existing`, the same user named by ID and by username).
        if row.outcome != Outcome::Created || row.device_id.is_empty() {
            return Ok(());
        }
        if let Some(first_line) = self.lines.get(&row.device_id) {
            let first_part = self.shards.get(&first_line).copied().unwrap_or(part);
            let dir = |part: usize| shards.get(part).map(|s| s.dir.clone()).unwrap_or_default();
            return Err(MergeError::ClaimedTwice {
                device_id: row.device_id.clone(),
                first_line,
                first_dir: dir(first_part),
                line: row.line,
                dir: dir(part),
            });
        }
        self.lines.insert(&row.device_id, row.line);
        self.shards.insert(row.line, part);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: Outcome, device_id: &str, code: Option<Code>, attempts: u32) -> ResultRow {
        ResultRow {
            line: 2,
            outcome,
            device_id: device_id.into(),
            error_code: code,
            attempts,
            ..ResultRow::default()
        }
    }

    #[test]
    fn an_outcome_must_agree_with_its_fields_and_its_kind_of_run() {
        let live = RunMode::Live;
        let failed = Some(Code::RetriesExhausted);
        let cases = [
            (row(Outcome::Created, "d", None, 1), live, true),
            (row(Outcome::Created, "", None, 1), live, false),
            (row(Outcome::Created, "d", failed.clone(), 1), live, false),
            (
                row(Outcome::Created, "d", Some(Code::MfaNotEnabled), 1),
                live,
                true,
            ),
            (
                row(Outcome::Failed, "", Some(Code::MfaNotEnabled), 1),
                live,
                false,
            ),
            (row(Outcome::SkippedExisting, "d", None, 0), live, true),
            (
                row(Outcome::Invalid, "", Some(Code::InvalidPhone), 0),
                live,
                true,
            ),
            (row(Outcome::Invalid, "", None, 0), live, false),
            (
                row(Outcome::Invalid, "d", Some(Code::InvalidPhone), 0),
                live,
                false,
            ),
            (row(Outcome::Failed, "", failed.clone(), 3), live, true),
            (
                row(Outcome::Failed, "", Some(Code::NotAttempted), 0),
                live,
                true,
            ),
            (
                row(Outcome::Failed, "", Some(Code::NotAttempted), 1),
                live,
                false,
            ),
            (row(Outcome::Valid, "", None, 0), live, false),
            (
                row(Outcome::Valid, "", None, 0),
                RunMode::DryRunOffline,
                true,
            ),
            (
                row(Outcome::Failed, "", failed, 0),
                RunMode::DryRunOffline,
                false,
            ),
            (
                row(Outcome::WouldCreate, "", None, 0),
                RunMode::DryRunOnline,
                true,
            ),
            (
                row(Outcome::WouldSkipExisting, "", None, 0),
                RunMode::DryRunOnline,
                true,
            ),
            (
                row(Outcome::WouldCreate, "", None, 1),
                RunMode::DryRunOnline,
                false,
            ),
            (
                row(Outcome::Created, "d", None, 1),
                RunMode::DryRunOnline,
                false,
            ),
        ];
        for (row, mode, agrees) in cases {
            let found = disagreement(&row, mode);
            assert_eq!(found.is_none(), agrees, "{row:?} in a {mode:?}: {found:?}");
        }
    }
}
