//! Which lines may repeat an earlier row, found on disk, so the duplicate check holds only
//! those rows in memory, and what it knows of them is one bit per line of the input.
//!
//! The survey pass spills each row's key with its line to disk (`crate::spill`), which hands
//! them back sorted by key in bounded memory, and every key that occurs more than once gives
//! its lines. The second pass checks duplicates among those lines only: a row whose key no
//! other row has cannot be a duplicate. A file of a million identical rows marks a million
//! bits, not a million entries of a set.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::spill::Spill;

/// A line that sends a pairing message carries this bit in the spill.
const SENDS_MESSAGE: u64 = 1 << 63;
/// The spill's folder in the output directory.
pub(crate) const SPILL_DIR: &str = ".repeats";

/// The lines that share their key with another line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Repeats {
    /// One bit per line; `None`: not surveyed, so any line may repeat another. Shared, as the
    /// stage that reads it is handed a copy.
    lines: Option<Arc<[u64]>>,
}

impl Repeats {
    /// Every line may repeat another: the duplicate check remembers every row.
    pub(crate) fn unknown() -> Repeats {
        Repeats { lines: None }
    }

    /// No line repeats another (the survey's own pass, which finds them).
    pub(crate) fn none() -> Repeats {
        Repeats {
            lines: Some(Arc::from(Vec::new())),
        }
    }

    pub(crate) fn may_repeat(&self, line: u64) -> bool {
        let Some(bits) = &self.lines else {
            return true;
        };
        let word = usize::try_from(line / 64).unwrap_or(usize::MAX);
        bits.get(word).is_some_and(|w| w & (1 << (line % 64)) != 0)
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

/// The key being read back, as its lines come in order.
struct Group {
    key: u64,
    /// The line the key came with first, marked once a second one comes.
    opening: u64,
    lines: u64,
    /// The lowest line, its flag kept: the row that goes ahead.
    first: u64,
}

/// What [`RepeatSpill::finish`] gathers, group by group.
struct Gathering {
    bits: Vec<u64>,
    found: Found,
    group: Option<Group>,
}

impl Gathering {
    fn mark(&mut self, line: u64) {
        let line = line & !SENDS_MESSAGE;
        if let Some(word) = usize::try_from(line / 64)
            .ok()
            .and_then(|word| self.bits.get_mut(word))
        {
            *word |= 1 << (line % 64);
        }
    }

    fn take(&mut self, key: u64, line: u64) {
        match &mut self.group {
            Some(group) if group.key == key => {
                group.lines += 1;
                // First by line, the flag set aside: a flagged line sorts last.
                if line & !SENDS_MESSAGE < group.first & !SENDS_MESSAGE {
                    group.first = line;
                }
                let opening = (group.lines == 2).then_some(group.opening);
                if let Some(opening) = opening {
                    self.mark(opening);
                }
                self.mark(line);
            }
            _ => {
                self.close();
                self.group = Some(Group {
                    key,
                    opening: line,
                    lines: 1,
                    first: line,
                });
            }
        }
    }

    /// The first line of a key goes ahead; the others are duplicates and send nothing.
    fn close(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        if group.first & SENDS_MESSAGE != 0 {
            self.found.messages += 1;
            keep_first_lines(
                &mut self.found.first_message_lines,
                group.first & !SENDS_MESSAGE,
            );
        }
    }
}

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

    /// Reads the keys back in order and marks the lines of keys that occur more than once;
    /// `last_line` is the input's last record's line.
    pub(crate) fn finish(self, last_line: u64) -> io::Result<Found> {
        let words = usize::try_from(last_line / 64 + 1).unwrap_or(usize::MAX);
        let mut gathering = Gathering {
            bits: vec![0; words],
            found: Found::default(),
            group: None,
        };
        self.0
            .for_each_sorted(|key, line| gathering.take(key, line))?;
        gathering.close();
        let mut found = gathering.found;
        found.repeats.lines = Some(Arc::from(gathering.bits));
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
        let found = spill.finish(10_000).unwrap();
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
        let found = spill.finish(10_000).unwrap();
        assert_eq!((found.messages, found.first_message_lines), (1, vec![2]));
    }

    /// A file of one row repeated marks a bit per line (no set of lines), and the first
    /// line alone goes ahead and counts as a message.
    #[test]
    fn many_rows_of_one_key_mark_every_line_and_the_first_goes_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = RepeatSpill::create(dir.path()).unwrap();
        for line in (2..20_002u64).rev() {
            spill.add(77, line, true).unwrap();
        }
        spill.add(78, 20_002, true).unwrap();
        let found = spill.finish(20_002).unwrap();
        assert!((2..20_002).all(|line| found.repeats.may_repeat(line)));
        assert!(!found.repeats.may_repeat(1) && !found.repeats.may_repeat(20_002));
        assert!(!found.repeats.may_repeat(u64::MAX), "past the input");
        assert_eq!(
            (found.messages, found.first_message_lines),
            (2, vec![2, 20_002])
        );
    }

    #[test]
    fn the_spill_is_removed_with_the_survey() {
        let dir = tempfile::tempdir().unwrap();
        let spill = RepeatSpill::create(dir.path()).unwrap();
        assert!(dir.path().join(".repeats").is_dir());
        drop(spill.finish(2).unwrap());
        assert!(!dir.path().join(".repeats").exists());
    }
}
