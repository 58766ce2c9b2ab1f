//! The run `verify` and `undo` read: its directory proven to hold one finished run's whole
//! record against this config's target, as `--resume` proves it (summary.json readable,
//! its counts those of results.csv), and then its rows, streamed one at a time so memory
//! stays flat at any size. A shard's directory and a merge's are read the same way: each
//! holds one results.csv and the summary.json that counts it.

use std::path::Path;

use csv::ByteRecord;

use super::AfterError;
use crate::config::RunMode;
use crate::record::read_back::{self, RowReader};
use crate::record::summary::{Summary, Target};
use crate::record::writer::Tallies;
use crate::record::{OutputError, ResultRow, RESULTS_FILE};

/// The marker a merge leaves until it has written every file (`merge/mod.rs`).
const MERGE_UNFINISHED: &str = ".merge-unfinished";

/// A run's directory, proven.
pub(crate) struct RunRecord {
    /// Every row of results.csv, counted.
    pub(crate) tallies: Tallies,
    /// Whether results.csv has the `user_mfa_switched` column (runs before it had not).
    pub(crate) has_mfa_switched: bool,
}

/// Proves `dir` holds a finished live run against `now`, and counts its rows.
pub(crate) fn prove(dir: &Path, now: &Target) -> Result<RunRecord, AfterError> {
    let unproven = |why: String| AfterError::Unproven {
        dir: dir.to_path_buf(),
        why,
    };
    if !dir.is_dir() {
        return Err(unproven("there is no such directory".into()));
    }
    let summary = read_back::summary(dir).map_err(|e| unproven(e.to_string()))?;
    if dir.join(MERGE_UNFINISHED).exists() {
        return Err(unproven(
            "its merge did not finish; run mfa-enroll merge again".into(),
        ));
    }
    match summary.mode {
        RunMode::Live => {}
        RunMode::DryRunOffline | RunMode::DryRunOnline => {
            return Err(unproven("it holds a dry run, which created nothing".into()))
        }
    }
    if !summary.finished {
        return Err(unproven(
            "its run has not finished (it is still running, or it was killed): finish it with \
             `mfa-enroll run … --resume` first"
                .into(),
        ));
    }
    check_target(dir, &summary, now)?;
    let (tallies, has_mfa_switched) = count_rows(dir)?;
    if let Some((said, found)) = read_back::counts_differ(&summary, &tallies) {
        return Err(unproven(format!(
            "summary.json counts {said}, but results.csv holds {found}"
        )));
    }
    Ok(RunRecord {
        tallies,
        has_mfa_switched,
    })
}

/// The run's target must be this config's: a device ID means nothing in another environment.
fn check_target(dir: &Path, summary: &Summary, now: &Target) -> Result<(), AfterError> {
    match &summary.target {
        Some(Target::Sandbox) => Err(AfterError::Unproven {
            dir: dir.to_path_buf(),
            why: "its run was against the built-in sandbox (--sandbox), which kept nothing \
                  once the run ended; rehearse against a standing `mfa-enroll sandbox` instead"
                .into(),
        }),
        Some(Target::Offline) | None => Err(AfterError::Unproven {
            dir: dir.to_path_buf(),
            why: "summary.json does not say which environment its run was against".into(),
        }),
        Some(earlier) if earlier == now => Ok(()),
        Some(earlier) => Err(AfterError::OtherTarget {
            dir: dir.to_path_buf(),
            earlier: earlier.to_string(),
            now: now.to_string(),
        }),
    }
}

/// Every complete row of results.csv counted, as summary.json counts them.
fn count_rows(dir: &Path) -> Result<(Tallies, bool), AfterError> {
    let mut tallies = Tallies::default();
    let mut rows = Rows::open(dir)?;
    let has_mfa_switched = rows.has_column("user_mfa_switched");
    for row in rows.by_ref() {
        tallies.add(&row?, false);
    }
    if let Some(torn) = rows.reader.torn_row() {
        return Err(AfterError::Unproven {
            dir: dir.to_path_buf(),
            why: format!("results.csv ends in row {torn} cut short; it is not a finished record"),
        });
    }
    Ok((tallies, has_mfa_switched))
}

/// The rows of a run's results.csv, one at a time, read by column name.
pub(crate) struct Rows {
    reader: RowReader,
    record: ByteRecord,
}

impl Rows {
    pub(crate) fn open(dir: &Path) -> Result<Rows, AfterError> {
        let path = dir.join(RESULTS_FILE);
        let unproven = |why: String| AfterError::Unproven {
            dir: dir.to_path_buf(),
            why,
        };
        let reader = match RowReader::open(&path) {
            Ok(Some(reader)) => reader,
            Ok(None) => return Err(unproven("results.csv is empty".into())),
            Err(e) => return Err(unproven(e.to_string())),
        };
        for needed in ["line", "outcome", "user_id", "device_id"] {
            if !reader.header().iter().any(|h| h == needed.as_bytes()) {
                return Err(unproven(format!("results.csv has no {needed} column")));
            }
        }
        Ok(Rows {
            reader,
            record: ByteRecord::new(),
        })
    }

    fn has_column(&self, name: &str) -> bool {
        self.reader.header().iter().any(|h| h == name.as_bytes())
    }
}

impl Iterator for Rows {
    type Item = Result<ResultRow, OutputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (_, row) = match self.reader.next(&mut self.record) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        Some(
            self.record
                .deserialize::<ResultRow>(Some(self.reader.header()))
                .map_err(|e| OutputError::Damaged {
                    path: self.reader.path().to_path_buf(),
                    row,
                    problem: format!("cannot be read ({e})"),
                }),
        )
    }
}
