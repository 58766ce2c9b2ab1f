//! `--resume`: what an earlier run already finished. Rows it `created` or `skipped_existing`
//! are kept and left alone, unless the user's MFA switch is still to be set
//! (`MFA_NOT_ENABLED`); every other row is dropped from results.csv and processed again,
//! so the file keeps one row per input record. Reading and rewriting are separate steps, so a
//! resume that is refused (another input file, say) changes nothing.
//!
//! results.csv is read by column name into [`ResultRow`], so a column added in a later
//! version does not make an older output directory unresumable.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::Path;

use csv::ByteRecord;

use super::read_back::RowReader;
use super::writer::Tallies;
use super::{Outcome, OutputError, ResultRow, RESULTS_FILE};
use crate::codes::Code;
use crate::files::Staged;
use crate::model::Claims;

/// What the newest row of one input line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Earlier {
    /// `created` or `skipped_existing`: left alone. Its row number in results.csv.
    Finished { row: u64 },
    /// Not finished, and no attempt left it uncertain (invalid, `USER_NOT_FOUND`, a 400,
    /// `NOT_ATTEMPTED`, …): no device of an earlier run's can be this row's.
    Settled,
    /// `UNCONFIRMED`: a POST PingOne may have acted on, whose device no read showed yet.
    Unconfirmed,
}

/// What the earlier runs finished.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    /// The lines whose newest row finished them, settled them or left them `UNCONFIRMED`; a
    /// line whose newest row is `INTERNAL_ERROR`, like a line with no row, is not here.
    lines: HashMap<u64, Earlier>,
    finished: usize,
    /// The devices finished lines reported created: a device belongs to one row only.
    pub(crate) claimed_devices: Claims,
    /// Their outcomes and types, so the summary covers the whole file.
    pub(crate) tallies: Tallies,
    /// What results.csv holds, for the proof that it is the record of this input's run.
    pub(crate) file: FileFacts,
    /// `replace`: lines whose newest row has its device and owes removals, as written.
    owed: HashMap<u64, ResultRow>,
}

/// Every complete row of results.csv, counted.
#[derive(Debug, Default, Clone)]
pub(crate) struct FileFacts {
    /// Every row's outcome, type and code, as summary.json counts them.
    pub(crate) tallies: Tallies,
    /// The lowest and highest line any row names.
    pub(crate) lines: Option<(u64, u64)>,
    /// A last row cut short by a crash or a full disk, left out of everything here.
    pub(crate) torn_row: Option<u64>,
}

impl Finished {
    pub(crate) fn contains(&self, line: u64) -> bool {
        matches!(self.lines.get(&line), Some(Earlier::Finished { .. }))
    }

    /// Whether the line's newest row says no attempt of an earlier run left anything
    /// uncertain: then no device an earlier run made can be this row's.
    pub(crate) fn settled(&self, line: u64) -> bool {
        self.lines.get(&line) == Some(&Earlier::Settled)
    }

    /// Whether the line's newest row is `UNCONFIRMED`: its POST may have made a device that
    /// PingOne's list did not show yet.
    pub(crate) fn unconfirmed(&self, line: u64) -> bool {
        self.lines.get(&line) == Some(&Earlier::Unconfirmed)
    }

    /// The line's newest row, when it has its device and owes removals (see `owed`).
    pub(crate) fn owed(&self, line: u64) -> Option<&ResultRow> {
        self.owed.get(&line)
    }

    pub(crate) fn len(&self) -> usize {
        self.finished
    }
}

/// Whether a row that is not done says no device an earlier run made can be its own: it
/// sent nothing, or PingOne's answer settled that nothing was made. A device that is there
/// (`created` while the user's MFA switch is still to be set), an attempt PingOne may have
/// acted on (`UNCONFIRMED`) or a bug mid-row (`INTERNAL_ERROR`) leave it the row's.
fn rules_out_an_earlier_device(row: &ResultRow) -> bool {
    match row.outcome {
        Outcome::Invalid | Outcome::Valid | Outcome::WouldCreate | Outcome::WouldSkipExisting => {
            true
        }
        Outcome::Failed => !matches!(
            row.error_code,
            Some(Code::Unconfirmed | Code::InternalError) | None
        ),
        Outcome::Created | Outcome::SkippedExisting => false,
    }
}

/// Columns resume cannot do without; any other may be missing (older files) or extra (newer).
const REQUIRED_COLUMNS: [&str; 2] = ["line", "outcome"];

fn open_results(path: &Path) -> Result<RowReader, OutputError> {
    let reader = RowReader::open(path)?.ok_or_else(|| OutputError::NotResults {
        path: path.to_path_buf(),
        missing: REQUIRED_COLUMNS[0],
    })?;
    for missing in REQUIRED_COLUMNS {
        if !reader.header().iter().any(|h| h == missing.as_bytes()) {
            return Err(OutputError::NotResults {
                path: path.to_path_buf(),
                missing,
            });
        }
    }
    Ok(reader)
}

/// Each complete row of results.csv with its row number. A run killed mid-write can leave a
/// torn last row: it is left out, since that row was not finished.
fn rows(
    reader: &mut RowReader,
) -> impl Iterator<Item = Result<(u64, ResultRow), OutputError>> + '_ {
    let mut record = ByteRecord::new();
    std::iter::from_fn(move || {
        let (_, row) = match reader.next(&mut record) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        Some(
            record
                .deserialize::<ResultRow>(Some(reader.header()))
                .map(|result| (row, result))
                .map_err(|e| OutputError::Damaged {
                    path: reader.path().to_path_buf(),
                    row,
                    problem: format!("cannot be read ({e})"),
                }),
        )
    })
}

/// Reads results.csv in `out_dir` without changing it: which lines are finished.
pub(crate) fn read_finished(out_dir: &Path) -> Result<Finished, OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    // The newest row for a line wins; only finished rows are kept whole, so memory follows them.
    let mut kept: HashMap<u64, (u64, ResultRow)> = HashMap::new();
    let mut result = Finished::default();
    let mut rows_read = rows(&mut reader);
    for row in rows_read.by_ref() {
        let (number, row) = row?;
        let file = &mut result.file;
        file.tallies.add(&row, false);
        file.lines = Some(match file.lines {
            None => (row.line, row.line),
            Some((low, high)) => (low.min(row.line), high.max(row.line)),
        });
        if row.is_done() {
            result.lines.remove(&row.line);
            result.owed.remove(&row.line);
            kept.insert(row.line, (number, row));
        } else {
            kept.remove(&row.line);
            result.owed.remove(&row.line);
            if matches!(
                row.error_code,
                Some(Code::RemovalsOwed | Code::DeleteCapReached)
            ) {
                result.owed.insert(row.line, row.clone());
            }
            if rules_out_an_earlier_device(&row) {
                result.lines.insert(row.line, Earlier::Settled);
            } else if row.error_code == Some(Code::Unconfirmed) {
                result.lines.insert(row.line, Earlier::Unconfirmed);
            } else {
                result.lines.remove(&row.line);
            }
        }
    }
    drop(rows_read);
    result.file.torn_row = reader.torn_row();
    for (line, (number, row)) in kept {
        result.tallies.add(&row, false);
        if !row.device_id.is_empty() && row.outcome == Outcome::Created {
            result.claimed_devices.insert(&row.device_id, line);
        }
        result.lines.insert(line, Earlier::Finished { row: number });
        result.finished += 1;
    }
    Ok(result)
}

/// Rewrites results.csv with only the finished rows, as a new file renamed over the old one:
/// a crash during it leaves the old file whole, and a link at the name is never written
/// through.
pub(crate) fn keep_only_finished(out_dir: &Path, finished: &Finished) -> Result<(), OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    let mut staged = Staged::new(&path)?;
    let temporary = staged.path().to_path_buf();
    let file = staged
        .file()
        .try_clone()
        .map_err(|e| OutputError::io(&temporary, e))?;
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(file));
    writer
        .write_record(ResultRow::header())
        .map_err(|e| OutputError::csv(&temporary, e))?;
    for row in rows(&mut reader) {
        let (number, row) = row?;
        if finished.lines.get(&row.line) == Some(&Earlier::Finished { row: number }) {
            writer
                .serialize(&row)
                .map_err(|e| OutputError::csv(&temporary, e))?;
        }
    }
    writer
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?;
    staged.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_by_column_name_whatever_the_order_or_extra_columns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(RESULTS_FILE),
            "outcome,added_later,line,device_id,error_code\n\
             created,x,2,dev-a,\n\
             failed,x,3,,USER_NOT_FOUND\n\
             skipped_existing,x,4,dev-b,\n\
             created,x,5,dev-c,\n\
             failed,x,5,,UNCONFIRMED\n\
             invalid,x,6,,INVALID_PHONE\n\
             failed,x,7,,NOT_ATTEMPTED\n\
             created,x,8,dev-",
        )
        .unwrap();
        let finished = read_finished(dir.path()).unwrap();
        assert!(finished.contains(2) && finished.contains(4));
        assert!(!finished.contains(3), "failed rows are done again");
        assert!(!finished.contains(5), "the newest row of a line wins");
        assert!(!finished.contains(8), "a torn last row is not a row");
        assert_eq!(finished.len(), 2);
        assert_eq!(finished.claimed_devices.get("dev-a"), Some(2));
        assert_eq!(
            finished.claimed_devices.get("dev-b"),
            None,
            "skipped_existing claims nothing: another row may have created it"
        );
        assert_eq!(finished.claimed_devices.len(), 1);
        // Which unfinished lines no attempt left uncertain.
        let settled: Vec<u64> = (2..=8).filter(|&l| finished.settled(l)).collect();
        assert_eq!(settled, vec![3, 6, 7]);
        assert_eq!(finished.file.tallies.rows, 7);
        assert_eq!(finished.file.lines, Some((2, 7)));
        assert_eq!(finished.file.torn_row, Some(8));
        assert_eq!(
            finished.file.tallies.count(Outcome::Failed),
            2,
            "NOT_ATTEMPTED apart"
        );
    }

    #[test]
    fn a_file_without_the_needed_columns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RESULTS_FILE), "a,b\n1,2\n").unwrap();
        let err = read_finished(dir.path()).unwrap_err();
        assert!(matches!(err, OutputError::NotResults { .. }), "{err}");
    }

    #[test]
    fn a_device_whose_user_still_needs_mfa_is_not_finished() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(RESULTS_FILE),
            "line,outcome,device_id,error_code\n\
             2,created,dev-a,\n\
             3,created,dev-b,MFA_NOT_ENABLED\n\
             4,skipped_existing,dev-c,MFA_NOT_ENABLED\n",
        )
        .unwrap();
        let finished = read_finished(dir.path()).unwrap();
        assert!(finished.contains(2));
        assert!(!finished.contains(3) && !finished.contains(4));
        assert_eq!(
            finished.claimed_devices.get("dev-b"),
            None,
            "the row redone claims it again"
        );
    }
}
