//! What a run leaves behind: results.csv (every input record, flushed as it completes),
//! errors.csv (the invalid and failed rows, itself a valid input), summary.json, the lock on
//! the output directory, and the progress display, which only reads counters.

pub mod describe;
pub(crate) mod latency;
pub mod line_order;
pub(crate) mod lock;
pub mod metrics;
pub(crate) mod progress;
pub(crate) mod read_back;
pub(crate) mod record_lines;
pub mod report;
pub(crate) mod resume;
pub(crate) mod summary;
pub mod timeline;
pub(crate) mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use crate::codes::Code;

pub(crate) use writer::{Recorder, RecorderHandle, Tallies};

pub(crate) const RESULTS_FILE: &str = "results.csv";
pub(crate) const ERRORS_FILE: &str = "errors.csv";
pub(crate) const SUMMARY_FILE: &str = "summary.json";

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
    #[error("the results writer stopped unexpectedly (a bug in mfa-enroll); results.csv holds every row finished before it: run again with --resume")]
    WriterCrashed,
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

/// One row of results.csv. The file's columns are these fields, in this order: the header,
/// the writer and resume's reader all follow from this struct. Reading takes a missing column
/// as its default, so a column added later does not make older output directories unresumable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ResultRow {
    pub(crate) line: u64,
    pub(crate) user_id: String,
    pub(crate) username: String,
    /// The normalised type, or the cell as written when it was not a type.
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) destination: String,
    pub(crate) outcome: Outcome,
    pub(crate) device_id: String,
    pub(crate) device_status: String,
    /// The status PingOne sent for the request that settled the row.
    pub(crate) http_status: Option<u16>,
    /// POST attempts made for this row.
    pub(crate) attempts: u32,
    pub(crate) error_code: Option<Code>,
    pub(crate) error_message: String,
    /// The user's MFA switch: on (found on, or switched on by this run), off (found off and
    /// left off), or not known.
    pub(crate) user_mfa_enabled: Option<bool>,
    /// The `id` of PingOne's error body for this row's failure, which Ping support uses.
    pub(crate) pingone_error_id: String,
    /// The line of the first input this row came from: a fed-back errors.csv's own
    /// `original_line` (or its `line`), else `line`. Empty in files written before it existed.
    pub(crate) original_line: Option<u64>,
}

impl ResultRow {
    /// Rows that go to errors.csv and make the exit code 1: invalid and failed rows, and a
    /// device that is there for a user whose MFA could not be switched on.
    pub(crate) fn is_problem(&self) -> bool {
        self.outcome.is_problem() || self.error_code == Some(Code::MfaNotEnabled)
    }

    /// Rows a resume leaves alone: their device is there and nothing is left to do.
    pub(crate) fn is_done(&self) -> bool {
        self.outcome.is_final_success() && !self.is_problem()
    }

    /// The header of results.csv, as the struct defines it.
    pub(crate) fn header() -> Vec<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        // Serialising a value is the one way csv gives the header of a struct.
        if writer.serialize(ResultRow::default()).is_err() {
            return Vec::new();
        }
        let bytes = writer.into_inner().unwrap_or_default();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        reader
            .headers()
            .map(|h| h.iter().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// What happened to one input record: its results.csv row, and what errors.csv and the
/// tallies need besides.
#[derive(Debug, Clone)]
pub(crate) struct RowResult {
    pub(crate) row: ResultRow,
    /// Whether creating this row's device sends (or would send) a pairing message.
    pub(crate) sends_message: bool,
    /// The record as read, for errors.csv.
    pub(crate) raw: ByteRecord,
}

impl RowResult {
    /// A result with the record's identity filled in and nothing else.
    pub(crate) fn new(line: u64, raw: ByteRecord, outcome: Outcome) -> Self {
        Self {
            row: ResultRow {
                line,
                outcome,
                ..ResultRow::default()
            },
            sends_message: false,
            raw,
        }
    }

    pub(crate) fn with_error(mut self, code: Code, message: impl Into<String>) -> Self {
        self.row.error_code = Some(code);
        self.row.error_message = message.into();
        self
    }
}
