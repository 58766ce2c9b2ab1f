//! The lines where the input's records start, as summary.json keeps them (`input.lines`), so
//! that `merge`, which has the shards' directories and not the input, can tell a line number
//! of the input from one that was edited. Kept as runs of consecutive lines: one run for a
//! plain file, a few more for blank lines and quoted line breaks. A file with more runs than
//! [`MAX_RUNS`] keeps only its last line.

use serde::{Deserialize, Serialize};

/// Runs kept at most: summary.json stays small whatever the file.
pub(crate) const MAX_RUNS: usize = 10_000;

/// The lines where the input's records start: summary.json's `input.lines`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordLines {
    /// The line the last record starts on.
    pub(crate) last: u64,
    /// `[first, last]` of each run of consecutive record lines, in order; `None` past
    /// [`MAX_RUNS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) runs: Option<Vec<[u64; 2]>>,
}

impl RecordLines {
    pub(crate) fn new() -> Self {
        Self {
            last: 0,
            runs: Some(Vec::new()),
        }
    }

    /// The next record starts on `line` (lines only grow).
    pub(crate) fn push(&mut self, line: u64) {
        self.last = line;
        let Some(runs) = &mut self.runs else { return };
        if let Some(run) = runs.last_mut().filter(|run| run[1] + 1 == line) {
            run[1] = line;
        } else if runs.len() == MAX_RUNS {
            self.runs = None;
        } else {
            runs.push([line, line]);
        }
    }

    /// Whether a record starts on `line`; past [`MAX_RUNS`], whether it is in range.
    pub(crate) fn has(&self, line: u64) -> bool {
        match &self.runs {
            Some(runs) => {
                let after = runs.partition_point(|run| run[0] <= line);
                after > 0 && line <= runs[after - 1][1]
            }
            None => (2..=self.last).contains(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_follow_the_lines_and_answer_for_each() {
        let mut lines = RecordLines::new();
        for line in [2, 3, 4, 6, 9, 10] {
            lines.push(line);
        }
        assert_eq!(lines.runs, Some(vec![[2, 4], [6, 6], [9, 10]]));
        let found: Vec<u64> = (0..12).filter(|&l| lines.has(l)).collect();
        assert_eq!(found, vec![2, 3, 4, 6, 9, 10]);
    }

    #[test]
    fn past_the_bound_only_the_range_is_kept() {
        let mut lines = RecordLines::new();
        for k in 0..=MAX_RUNS as u64 {
            lines.push(2 + 2 * k);
        }
        assert_eq!(lines.runs, None);
        assert_eq!(lines.last, 2 + 2 * MAX_RUNS as u64);
        assert!(lines.has(3) && lines.has(lines.last) && !lines.has(lines.last + 1));
        assert!(!lines.has(1));
    }
}
