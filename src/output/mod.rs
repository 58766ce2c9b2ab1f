//! What a run leaves behind: results.csv (every input record, flushed as it completes),
//! errors.csv (the invalid and failed rows, itself a valid input), summary.json, the lock on
//! the output directory, and the progress display, which only reads counters.

pub mod lock;
pub mod progress;
pub mod resume;
pub mod summary;
pub mod writer;

use std::fmt;

use csv::ByteRecord;

pub use writer::{Recorder, RecorderHandle, Tallies};

pub const RESULTS_FILE: &str = "results.csv";
pub const ERRORS_FILE: &str = "errors.csv";
pub const SUMMARY_FILE: &str = "summary.json";

pub const RESULTS_HEADER: [&str; 12] = [
    "line",
    "user_id",
    "username",
    "type",
    "destination",
    "outcome",
    "device_id",
    "device_status",
    "http_status",
    "attempts",
    "error_code",
    "error_message",
];

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Refused(String),
}

impl OutputError {
    pub fn io(path: &std::path::Path, error: impl fmt::Display) -> Self {
        OutputError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Created,
    SkippedExisting,
    Invalid,
    Failed,
    /// Offline dry run: the row passed every check.
    Valid,
    WouldCreate,
    WouldSkipExisting,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Created,
        Outcome::SkippedExisting,
        Outcome::Invalid,
        Outcome::Failed,
        Outcome::Valid,
        Outcome::WouldCreate,
        Outcome::WouldSkipExisting,
    ];

    pub fn as_str(self) -> &'static str {
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

    pub fn parse(text: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// Rows that go to errors.csv and make the exit code 1.
    pub fn is_problem(self) -> bool {
        matches!(self, Outcome::Invalid | Outcome::Failed)
    }

    /// Rows a resume leaves alone.
    pub fn is_final_success(self) -> bool {
        matches!(self, Outcome::Created | Outcome::SkippedExisting)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one input record: one row of results.csv.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub line: u64,
    pub user_id: String,
    pub username: String,
    /// The normalised type, or the cell as written when it was not a type.
    pub device_type: String,
    pub destination: String,
    pub outcome: Outcome,
    pub device_id: String,
    pub device_status: String,
    pub http_status: Option<u16>,
    /// POST attempts made for this row.
    pub attempts: u32,
    pub error_code: String,
    pub error_message: String,
    /// Whether creating this row's device sends (or would send) a pairing message.
    pub sends_message: bool,
    /// The record as read, for errors.csv.
    pub raw: ByteRecord,
}

impl RowResult {
    /// A result with the record's identity filled in and nothing else.
    pub fn new(line: u64, raw: ByteRecord, outcome: Outcome) -> Self {
        Self {
            line,
            user_id: String::new(),
            username: String::new(),
            device_type: String::new(),
            destination: String::new(),
            outcome,
            device_id: String::new(),
            device_status: String::new(),
            http_status: None,
            attempts: 0,
            error_code: String::new(),
            error_message: String::new(),
            sends_message: false,
            raw,
        }
    }

    pub fn with_error(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.error_code = code.into();
        self.error_message = message.into();
        self
    }
}
