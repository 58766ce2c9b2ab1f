//! What a run wrote, counted: rows per outcome, per type and per code, the first lines of
//! each code, and the rows that need another run. The writer counts a batch once both files
//! took it whole, so these are the counts of the rows on disk, for summary.json and the exit
//! code.

use std::collections::BTreeMap;

use super::{Counted, Outcome, ResultRow};
use crate::codes::Code;

/// Counts of what was written, for summary.json and the exit code.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tallies {
    pub(crate) rows: u64,
    pub(crate) outcomes: BTreeMap<Counted, u64>,
    /// type -> outcome -> rows
    pub(crate) by_type: BTreeMap<String, BTreeMap<Counted, u64>>,
    /// Pairing messages sent (or, in a dry run, that a real run would send), per type.
    pub(crate) messages_by_type: BTreeMap<String, u64>,
    /// Rows per error code, with the first lines that have it.
    pub(crate) codes: BTreeMap<Code, CodeCount>,
    /// When the last row that was not `NOT_ATTEMPTED` was recorded: the end of the time
    /// spent sending.
    pub(crate) last_done_at: Option<std::time::Instant>,
    /// Rows that go to errors.csv (see [`ResultRow::is_problem`]).
    pub(crate) problem_rows: u64,
    /// Devices the rows say were removed (`removed_device_ids`; an online dry run: would be).
    pub(crate) devices_removed: u64,
}

/// How many rows have one error code, and the first few of their lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeCount {
    pub(crate) rows: u64,
    pub(crate) first_lines: Vec<u64>,
}

/// Lines kept per code for the end-of-run table.
const FIRST_LINES_KEPT: usize = 5;

impl Tallies {
    pub(crate) fn add(&mut self, row: &ResultRow, sends_message: bool) {
        let (outcome, device_type) = (Counted::of(row), row.device_type.as_str());
        self.rows += 1;
        self.devices_removed += row.removed_ids().count() as u64;
        if row.is_problem() {
            self.problem_rows += 1;
        }
        if let Some(code) = &row.error_code {
            let seen = self.codes.entry(code.clone()).or_default();
            seen.rows += 1;
            // The lowest lines, whatever order rows complete in.
            if seen.first_lines.len() < FIRST_LINES_KEPT {
                seen.first_lines.push(row.line);
            } else if let Some(highest) = seen.first_lines.iter_mut().max() {
                *highest = (*highest).min(row.line);
            }
        }
        *self.outcomes.entry(outcome).or_default() += 1;
        let type_key = if device_type.is_empty() {
            "(none)"
        } else {
            device_type
        };
        // Looked up before inserting: a million rows need not allocate a million keys.
        match self.by_type.get_mut(type_key) {
            Some(outcomes) => *outcomes.entry(outcome).or_default() += 1,
            None => {
                let outcomes = BTreeMap::from([(outcome, 1)]);
                self.by_type.insert(type_key.to_string(), outcomes);
            }
        }
        // A valid row of an offline dry run would be created: a real run sends its message.
        let creates = matches!(
            row.outcome,
            Outcome::Created | Outcome::WouldCreate | Outcome::Valid
        );
        if sends_message && creates {
            *self
                .messages_by_type
                .entry(type_key.to_string())
                .or_default() += 1;
        }
    }

    /// Adds another run's counts, as a resume does with the rows it carries over.
    pub(crate) fn merge(&mut self, other: &Tallies) {
        self.rows += other.rows;
        self.problem_rows += other.problem_rows;
        self.devices_removed += other.devices_removed;
        for (outcome, n) in &other.outcomes {
            *self.outcomes.entry(*outcome).or_default() += n;
        }
        for (device_type, outcomes) in &other.by_type {
            let target = self.by_type.entry(device_type.clone()).or_default();
            for (outcome, n) in outcomes {
                *target.entry(*outcome).or_default() += n;
            }
        }
        for (device_type, n) in &other.messages_by_type {
            *self
                .messages_by_type
                .entry(device_type.clone())
                .or_default() += n;
        }
        for (code, count) in &other.codes {
            let mine = self.codes.entry(code.clone()).or_default();
            mine.rows += count.rows;
            mine.first_lines.extend(&count.first_lines);
            mine.first_lines.sort_unstable();
            mine.first_lines.truncate(FIRST_LINES_KEPT);
        }
        self.last_done_at = self.last_done_at.max(other.last_done_at);
    }

    pub(crate) fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes
            .get(&Counted::Outcome(outcome))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn not_attempted(&self) -> u64 {
        self.outcomes
            .get(&Counted::NotAttempted)
            .copied()
            .unwrap_or(0)
    }

    /// Rows that reached an outcome: all but those the run never sent.
    pub(crate) fn done(&self) -> u64 {
        self.rows - self.not_attempted()
    }

    /// Rows that go to errors.csv (see [`ResultRow::is_problem`]).
    pub(crate) fn problems(&self) -> u64 {
        self.problem_rows
    }
}
