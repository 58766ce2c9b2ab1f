//! `--resume`: what an earlier run already finished. Rows it `created` or `skipped_existing`
//! are kept and left alone, unless the user's MFA switch is still to be set
//! (`MFA_NOT_ENABLED`); every other row is dropped from results.csv and processed again,
//! so the file keeps one row per input record. Reading and rewriting are separate steps, so a
//! resume that is refused (another input file, say) changes nothing.
//!
//! results.csv is read by column name into [`ResultRow`], so a column added in a later
//! version does not make an older output directory unresumable.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::writer::{private_file, Tallies};
use super::{OutputError, ResultRow, RESULTS_FILE};
use crate::model::Claims;

/// What the earlier runs finished.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    /// Input line -> index (0-based, after the header) of its newest row in results.csv, for
    /// the lines that need nothing more.
    rows: HashMap<u64, u64>,
    /// The devices finished lines reported created: a device belongs to one row only.
    pub(crate) claimed_devices: Claims,
    /// Their outcomes and types, so the summary covers the whole file.
    pub(crate) tallies: Tallies,
}

impl Finished {
    pub(crate) fn contains(&self, line: u64) -> bool {
        self.rows.contains_key(&line)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Columns resume cannot do without; any other may be missing (older files) or extra (newer).
const REQUIRED_COLUMNS: [&str; 2] = ["line", "outcome"];

fn open_results(path: &Path) -> Result<csv::Reader<File>, OutputError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| OutputError::csv(path, e))?;
    let header = reader
        .headers()
        .map_err(|e| OutputError::csv(path, e))?
        .clone();
    for missing in REQUIRED_COLUMNS {
        if !header.iter().any(|h| h == missing) {
            return Err(OutputError::NotResults {
                path: path.to_path_buf(),
                missing,
            });
        }
    }
    Ok(reader)
}

/// Each readable row of results.csv with its index. A run killed mid-write can leave a torn
/// last line: it is skipped, since that row was not finished.
fn rows<'a>(
    reader: &'a mut csv::Reader<File>,
    path: &Path,
) -> impl Iterator<Item = Result<(u64, ResultRow), OutputError>> + 'a {
    let path = path.to_path_buf();
    reader
        .deserialize::<ResultRow>()
        .enumerate()
        .filter_map(move |(index, row)| match row {
            Err(e) if e.is_io_error() => Some(Err(OutputError::csv(&path, e))),
            Err(_) => None,
            Ok(row) => Some(Ok((index as u64, row))),
        })
}

/// Reads results.csv in `out_dir` without changing it: which lines are finished.
pub(crate) fn read_finished(out_dir: &Path) -> Result<Finished, OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    // The newest row for a line wins; only finished lines are kept, so memory follows them.
    let mut finished: HashMap<u64, (u64, ResultRow)> = HashMap::new();
    for row in rows(&mut reader, &path) {
        let (index, row) = row?;
        if row.is_done() {
            finished.insert(row.line, (index, row));
        } else {
            finished.remove(&row.line);
        }
    }
    let mut result = Finished::default();
    for (line, (index, row)) in finished {
        result.tallies.add(&row, false);
        if !row.device_id.is_empty() && row.outcome == super::Outcome::Created {
            result.claimed_devices.insert(&row.device_id, line);
        }
        result.rows.insert(line, index);
    }
    Ok(result)
}

/// Rewrites results.csv with only the finished rows, through a temporary file and a rename:
/// a crash during it leaves the old file whole.
pub(crate) fn keep_only_finished(out_dir: &Path, finished: &Finished) -> Result<(), OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    let temporary = out_dir.join(format!("{RESULTS_FILE}.resume-tmp"));
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(private_file(&temporary, false)?));
    writer
        .write_record(ResultRow::header())
        .map_err(|e| OutputError::csv(&temporary, e))?;
    for row in rows(&mut reader, &path) {
        let (index, row) = row?;
        if finished.rows.get(&row.line) == Some(&index) {
            writer
                .serialize(&row)
                .map_err(|e| OutputError::csv(&temporary, e))?;
        }
    }
    let file = writer
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?;
    file.sync_all()
        .map_err(|e| OutputError::io(&temporary, e))?;
    drop(file);
    std::fs::rename(&temporary, &path).map_err(|e| OutputError::io(&path, e))?;
    if let Ok(dir) = File::open(out_dir) {
        let _ = dir.sync_all();
    }
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
            "outcome,added_later,line,device_id\n\
             created,x,2,dev-a\n\
             failed,x,3,\n\
             skipped_existing,x,4,dev-b\n\
             created,x,5,dev-c\n\
             failed,x,5,\n",
        )
        .unwrap();
        let finished = read_finished(dir.path()).unwrap();
        assert!(finished.contains(2) && finished.contains(4));
        assert!(!finished.contains(3), "failed rows are done again");
        assert!(!finished.contains(5), "the newest row of a line wins");
        assert_eq!(finished.claimed_devices.get("dev-a"), Some(2));
        assert_eq!(
            finished.claimed_devices.get("dev-b"),
            None,
            "skipped_existing claims nothing: another row may have created it"
        );
        assert_eq!(finished.claimed_devices.len(), 1);
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
