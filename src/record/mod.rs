//! The record a run leaves on disk, and everything that writes or reads it: results.csv
//! (every input record, flushed as it completes; one [`ResultRow`] per record, made only
//! through [`RowResult`]'s builder in `row.rs`), errors.csv (the invalid and failed rows,
//! itself a valid input), summary.json (`summary.rs`, with its latency figures in
//! `latency.rs` and its input lines in `record_lines.rs`), timeline.json (`timeline.rs`), the
//! lock on the output directory (`lock.rs`), the removals journal of `replace`
//! (`journal.rs`), both CSVs put in line order at the end (`line_order.rs`), and what
//! `--resume` and `merge` read back (`read_back.rs`, `resume.rs`).
//!
//! What people see of the record (the report, progress, the metrics file, the end-of-run
//! text) is the `present` module beside this one, which reads this module; nothing here
//! knows of it. The counts the progress display shows are [`LiveCounters`], which the writer
//! keeps.

pub(crate) mod counters;
pub(crate) mod journal;
pub(crate) mod latency;
pub mod line_order;
pub(crate) mod lock;
pub(crate) mod read_back;
pub(crate) mod record_lines;
pub(crate) mod resume;
pub(crate) mod row;
pub(crate) mod summary;
mod tallies;
pub mod timeline;
pub(crate) mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::codes::Code;

pub(crate) use counters::LiveCounters;
pub(crate) use row::{ResultRow, RowResult};
pub(crate) use writer::{Recorder, RecorderHandle, Tallies};

pub(crate) const RESULTS_FILE: &str = "results.csv";
pub(crate) const ERRORS_FILE: &str = "errors.csv";
pub(crate) const SUMMARY_FILE: &str = "summary.json";
/// Every file of the record, as a run or a merge leaves it (report.html, which `present`
/// writes, aside).
pub(crate) const RECORD_FILES: [&str; 4] = [
    RESULTS_FILE,
    ERRORS_FILE,
    SUMMARY_FILE,
    timeline::TIMELINE_FILE,
];

/// Why an output file could not be written or read. The `io::Error` is kept, so a caller can
/// tell a full disk from a broken pipe.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{}: another mfa-enroll run ({holder}) is using this output directory; wait for it to finish or choose another --out", dir.display())]
    Locked { dir: PathBuf, holder: String },
    #[error("{}: this command names the directory twice (it already holds its lock); give each directory once", dir.display())]
    LockedByThisCommand { dir: PathBuf },
    #[error("{}: this is not a results.csv written by mfa-enroll (it has no {missing:?} column); choose another --out", path.display())]
    NotResults {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("{}: row {row} {problem}; this file is not one mfa-enroll wrote whole (was it edited?)", path.display())]
    Damaged {
        path: PathBuf,
        row: u64,
        problem: String,
    },
    #[error("--out {}: this is a file, not a directory; choose a directory for results.csv, errors.csv and summary.json (it is created if missing)", path.display())]
    OutIsAFile { path: PathBuf },
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error("the results writer stopped unexpectedly (a bug in mfa-enroll); results.csv holds every row finished before it: run again with --resume")]
    WriterCrashed,
    #[error("{}: the file was moved, replaced or removed while the run was writing it; the rows since went with it: put it back (the file this run wrote) and run again with --resume", path.display())]
    MovedAway { path: PathBuf },
}

impl OutputError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn csv(path: &Path, source: csv::Error) -> Self {
        OutputError::Csv {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What became of a row: results.csv's `outcome` column.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Created,
    SkippedExisting,
    Invalid,
    #[default]
    Failed,
    /// Offline dry run: the row passed every check.
    Valid,
    WouldCreate,
    WouldSkipExisting,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::SkippedExisting => "skipped_existing",
            Outcome::Invalid => "invalid",
            Outcome::Failed => "failed",
            Outcome::Valid => "valid",
            Outcome::WouldCreate => "would_create",
            Outcome::WouldSkipExisting => "would_skip_existing",
        }
    }

    /// Rows that go to errors.csv and make the exit code 1.
    pub(crate) fn is_problem(self) -> bool {
        matches!(self, Outcome::Invalid | Outcome::Failed)
    }

    /// Rows a resume leaves alone.
    pub(crate) fn is_final_success(self) -> bool {
        matches!(self, Outcome::Created | Outcome::SkippedExisting)
    }
}

/// How the summaries count a row: by its outcome, except that a row the run never sent is
/// `not_attempted`, apart from `failed`. In results.csv such a row stays `failed` with the
/// code `NOT_ATTEMPTED`, and goes to errors.csv, so feeding that back sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Counted {
    Outcome(Outcome),
    NotAttempted,
}

impl Counted {
    pub(crate) fn of(row: &ResultRow) -> Counted {
        if row.error_code == Some(Code::NotAttempted) {
            Counted::NotAttempted
        } else {
            Counted::Outcome(row.outcome)
        }
    }

    /// The key in summary.json's `outcomes` and the metrics' `outcome` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Counted::Outcome(outcome) => outcome.as_str(),
            Counted::NotAttempted => NOT_ATTEMPTED,
        }
    }
}

/// The summaries' name for rows the run never sent.
pub(crate) const NOT_ATTEMPTED: &str = "not_attempted";

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
