//! The contract's exit codes, and what a finished run or merge reports: its exit status and
//! its summary. A run and a merge both end here, so neither depends on the other.

use crate::record::summary::Summary;

/// The process exit codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every row created or skipped (dry run: every row valid).
    Success = 0,
    /// The run finished, and some rows are invalid or failed.
    RowProblems = 1,
    /// Nothing was sent: usage, config, input, or an --out that would be overwritten.
    NothingSent = 2,
    /// The run stopped early; resume it.
    StoppedEarly = 3,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// How a run or a merge ended.
#[derive(Debug)]
pub struct RunReport {
    pub exit: ExitStatus,
    pub summary: Summary,
}
