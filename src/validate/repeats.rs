//! Which lines may repeat an earlier row, found on disk, so the duplicate check holds only
//! those rows in memory and a file of ten million rows needs no more than one of a thousand.
//!
//! The survey pass spills each row's key with its line to disk (`crate::spill`). Each part
//! is then read alone (a sixty-fourth of the file), sorted, and every key that occurs more
//! than once gives its lines. The second pass checks duplicates
//! among those lines only: a row whose key no other row has cannot be a duplicate.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use crate::spill::Spill;

/// A line that sends a pairing message carries this bit in the spill.
const SENDS_MESSAGE: u64 = 1 << 63;

/// The lines that share their key with another line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Repeats {
    /// `None`: not surveyed, so any line may repeat another.
    lines: Option<HashSet<u64>>,
}

impl Repeats {
    /// Every line may repeat another: the duplicate check remembers every row.
    pub(crate) fn unknown() -> Repeats {
        Repeats { lines: None }
    }

    /// No line repeats another (the survey's own pass, which finds them).
    pub(crate) fn none() -> Repeats {
        Repeats {
            lines: Some(HashSet::new()),
        }
    }

    pub(crate) fn may_repeat(&self, line: u64) -> bool {
        self.lines
            .as_ref()
            .is_none_or(|lines| lines.contains(&line))
    }
}

/// What the spill found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) repeats: Repeats,
    /// Rows that would send a pairing message but repeat an earlier row (so will not).
    pub(crate) repeated_messages: u64,
}

/// The spill of one survey; its files are removed when it is dropped.
pub(crate) struct RepeatSpill(Spill);

impl RepeatSpill {
    /// A private directory for the spill inside `out_dir`.
    pub(crate) fn create(out_dir: &Path) -> io::Result<RepeatSpill> {
        Spill::create(out_dir, ".repeats").map(RepeatSpill)
    }

    pub(crate) fn add(&mut self, key: u64, line: u64, sends_message: bool) -> io::Result<()> {
        let line = if sends_message {
            line | SENDS_MESSAGE
        } else {
            line
        };
        self.0.add(key, line)
    }

    /// Reads each part alone and collects the lines of keys that occur more than once.
    pub(crate) fn finish(self) -> io::Result<Found> {
        let mut found = Found {
            repeats: Repeats::none(),
            repeated_messages: 0,
        };
        let mut lines = HashSet::new();
        // Sorted by key, then line (the flag bit aside): the first line of a key goes ahead.
        self.0.for_each_part(|entries| {
            for group in entries.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
                lines.extend(group.iter().map(|(_, line)| line & !SENDS_MESSAGE));
                // The first row goes ahead; the others are duplicates and send nothing.
                found.repeated_messages += group[1..]
                    .iter()
                    .filter(|(_, line)| line & SENDS_MESSAGE != 0)
                    .count() as u64;
            }
        })?;
        found.repeats.lines = Some(lines);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_seen_twice_give_lines_and_the_first_message_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = RepeatSpill::create(dir.path()).unwrap();
        let keys = [
            (7u64 << 58 | 1, 2, true),
            (3, 3, false),
            (7 << 58 | 1, 9, true),
            (5, 4, true),
        ];
        for (key, line, sends) in keys {
            spill.add(key, line, sends).unwrap();
        }
        for line in 10..10_000u64 {
            spill
                .add(line.wrapping_mul(0x9E37_79B9_7F4A_7C15), line, false)
                .unwrap();
        }
        let found = spill.finish().unwrap();
        let repeated: Vec<u64> = (0..10_000)
            .filter(|l| found.repeats.may_repeat(*l))
            .collect();
        assert_eq!(repeated, vec![2, 9]);
        assert_eq!(
            found.repeated_messages, 1,
            "line 9 would have sent; line 2 still does"
        );
    }

    #[test]
    fn the_spill_is_removed_with_the_survey() {
        let dir = tempfile::tempdir().unwrap();
        let spill = RepeatSpill::create(dir.path()).unwrap();
        assert!(dir.path().join(".repeats").is_dir());
        drop(spill.finish().unwrap());
        assert!(!dir.path().join(".repeats").exists());
    }
}
