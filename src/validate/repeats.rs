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
/// The spill's folder in the output directory.
pub(crate) const SPILL_DIR: &str = ".repeats";

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
    /// Rows that would send a pairing message: marked so, and not repeating an earlier row
    /// (a repeat is a duplicate, which sends nothing).
    pub(crate) messages: u64,
    /// The first lines of those rows, in line order, for a message that names them.
    pub(crate) first_message_lines: Vec<u64>,
}

/// Lines of message rows kept for [`Found::first_message_lines`].
const MESSAGE_LINES_KEPT: usize = 5;

/// The spill of one survey; its files are removed when it is dropped.
pub(crate) struct RepeatSpill(Spill);

impl RepeatSpill {
    /// A private directory for the spill inside `out_dir`.
    pub(crate) fn create(out_dir: &Path) -> io::Result<RepeatSpill> {
        Spill::create(out_dir, SPILL_DIR).map(RepeatSpill)
    }

    pub(crate) fn add(&mut self, key: u64, line: u64, sends_message: bool) -> io::Result<()> {
        // A full disk, or a crash, while the survey spills (the tests).
        crate::failpoints::failpoint!("spill-write", |_| Err(io::ErrorKind::StorageFull.into()));
        crate::failpoints::crash_point!("spill-crash");
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
            ..Found::default()
        };
        let mut lines = HashSet::new();
        self.0.for_each_part(|entries| {
            for group in entries.chunk_by(|a, b| a.0 == b.0) {
                if group.len() > 1 {
                    lines.extend(group.iter().map(|(_, line)| line & !SENDS_MESSAGE));
                }
                // The first line of a key goes ahead; the others are duplicates and send
                // nothing. First by line, the flag set aside: a flagged line sorts last.
                let first = group
                    .iter()
                    .map(|&(_, line)| line)
                    .min_by_key(|line| line & !SENDS_MESSAGE);
                if let Some(first) = first.filter(|line| line & SENDS_MESSAGE != 0) {
                    found.messages += 1;
                    keep_first_lines(&mut found.first_message_lines, first & !SENDS_MESSAGE);
                }
            }
        })?;
        found.repeats.lines = Some(lines);
        Ok(found)
    }
}

/// Keeps the lowest [`MESSAGE_LINES_KEPT`] lines, sorted.
fn keep_first_lines(kept: &mut Vec<u64>, line: u64) {
    let at = kept.partition_point(|&l| l < line);
    if at < MESSAGE_LINES_KEPT {
        kept.insert(at, line);
        kept.truncate(MESSAGE_LINES_KEPT);
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
            (found.messages, found.first_message_lines),
            (2, vec![2, 4]),
            "line 9 would have sent; lines 2 and 4 still do"
        );
    }

    /// The flag must not decide which line comes first: a pairing row followed by a plain
    /// repeat of it still sends its message, and a plain row's pairing repeat sends none.
    #[test]
    fn the_first_line_of_a_key_goes_ahead_whatever_it_sends() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = RepeatSpill::create(dir.path()).unwrap();
        for (key, line, sends) in [
            (11u64, 2, true),
            (11, 9, false),
            (12, 3, false),
            (12, 7, true),
        ] {
            spill.add(key, line, sends).unwrap();
        }
        let found = spill.finish().unwrap();
        assert_eq!((found.messages, found.first_message_lines), (1, vec![2]));
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
