//! Which lines may repeat an earlier row, found on disk, so the duplicate check holds only
//! those rows in memory and a file of ten million rows needs no more than one of a thousand.
//!
//! The survey pass writes each row's key with its line into one of `PARTS` files by the
//! key's top bits. Each part is then read alone (a sixty-fourth of the file), sorted, and
//! every key that occurs more than once gives its lines. The second pass checks duplicates
//! among those lines only: a row whose key no other row has cannot be a duplicate.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Spill files; each holds about 1/PARTS of the rows while it is sorted.
const PARTS: usize = 64;
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
    /// Rows that would send a pairing message: marked so, and not repeating an earlier row
    /// (a repeat is a duplicate, which sends nothing).
    pub(crate) messages: u64,
    /// The first lines of those rows, in line order, for a message that names them.
    pub(crate) first_message_lines: Vec<u64>,
}

/// Lines of message rows kept for [`Found::first_message_lines`].
const MESSAGE_LINES_KEPT: usize = 5;

/// The spill files of one survey; removed when dropped.
pub(crate) struct RepeatSpill {
    dir: PathBuf,
    parts: Vec<BufWriter<File>>,
}

impl RepeatSpill {
    /// A private directory for the spill inside `out_dir`.
    pub(crate) fn create(out_dir: &Path) -> io::Result<RepeatSpill> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = out_dir.join(".repeats");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let mut parts = Vec::with_capacity(PARTS);
        for part in 0..PARTS {
            parts.push(BufWriter::new(File::create(dir.join(part.to_string()))?));
        }
        Ok(RepeatSpill { dir, parts })
    }

    pub(crate) fn add(&mut self, key: u64, line: u64, sends_message: bool) -> io::Result<()> {
        let part = (key >> 58) as usize % PARTS;
        let line = if sends_message {
            line | SENDS_MESSAGE
        } else {
            line
        };
        let writer = &mut self.parts[part];
        writer.write_all(&key.to_le_bytes())?;
        writer.write_all(&line.to_le_bytes())
    }

    /// Reads each part alone and collects the lines of keys that occur more than once.
    pub(crate) fn finish(mut self) -> io::Result<Found> {
        for writer in &mut self.parts {
            writer.flush()?;
        }
        let mut found = Found {
            repeats: Repeats::none(),
            ..Found::default()
        };
        let lines = found.repeats.lines.get_or_insert_with(HashSet::new);
        for part in 0..PARTS {
            let mut entries = read_part(&self.dir.join(part.to_string()))?;
            // By key, then by line without the flag: the first line of a key goes ahead,
            // whether or not it sends a message.
            entries.sort_unstable_by_key(|&(key, line)| (key, line & !SENDS_MESSAGE));
            for group in entries.chunk_by(|a, b| a.0 == b.0) {
                if group.len() > 1 {
                    lines.extend(group.iter().map(|(_, line)| line & !SENDS_MESSAGE));
                }
                // The others are duplicates and send nothing.
                let (_, first) = group[0];
                if first & SENDS_MESSAGE != 0 {
                    found.messages += 1;
                    keep_first_lines(&mut found.first_message_lines, first & !SENDS_MESSAGE);
                }
            }
        }
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

fn read_part(path: &Path) -> io::Result<Vec<(u64, u64)>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut entries = Vec::new();
    let mut buffer = [0u8; 16];
    loop {
        match reader.read_exact(&mut buffer) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(entries),
            Err(e) => return Err(e),
        }
        let (key, line) = buffer.split_at(8);
        let key = u64::from_le_bytes(key.try_into().unwrap_or_default());
        let line = u64::from_le_bytes(line.try_into().unwrap_or_default());
        // Sorted by key, then line (the flag bit aside): the first line of a key goes ahead.
        entries.push((key, line));
    }
}

impl Drop for RepeatSpill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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
