//! Pairs of numbers spilled to disk and read back in order: how a pass over a file of ten
//! million rows finds which rows share a key with another (the duplicate check, the rows of
//! one user) with memory that stays flat whatever the file's shape.
//!
//! Each pair is a key and a value; the pair goes to one of [`PARTS`] files by the key's top
//! bits, so every pair of one key lands in the same part. A part is sorted in memory when it
//! is small (the usual case: a sixty-fourth of the file); a part larger than [`RUN_PAIRS`]
//! (a file of identical rows puts every pair in one part) is sorted in runs of that size,
//! each written beside it, and the runs merged, at most [`FAN_IN`] at a time. The files live
//! in a private directory inside the output directory and are removed when the spill is
//! dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Spill files; each holds about 1/PARTS of the pairs while it is sorted.
const PARTS: usize = 64;
/// Pairs sorted in memory at once, at most (16 bytes each: 4 MB).
const RUN_PAIRS: usize = 1 << 18;
/// Runs merged at once; more are merged in rounds (each open run costs a file and a buffer).
const FAN_IN: usize = 64;

pub(crate) struct Spill {
    dir: PathBuf,
    parts: Vec<BufWriter<File>>,
    /// [`RUN_PAIRS`], smaller in tests so that a few pairs make many runs.
    run_pairs: usize,
    /// The most pairs held in memory at once while reading back.
    most_held: usize,
}

impl Spill {
    /// A private directory `name` for the spill inside `out_dir`: one a killed run left there
    /// is replaced; anything else at the name (a link, a folder of someone else's) is refused.
    pub(crate) fn create(out_dir: &Path, name: &str) -> io::Result<Spill> {
        let dir = out_dir.join(name);
        crate::files::fresh_own_dir(&dir).map_err(io::Error::other)?;
        let mut parts = Vec::with_capacity(PARTS);
        for part in 0..PARTS {
            parts.push(BufWriter::new(File::create(dir.join(part.to_string()))?));
        }
        Ok(Spill {
            dir,
            parts,
            run_pairs: RUN_PAIRS,
            most_held: 0,
        })
    }

    pub(crate) fn add(&mut self, key: u64, value: u64) -> io::Result<()> {
        let part = (key >> 58) as usize % PARTS;
        write_pair(&mut self.parts[part], (key, value))
    }

    /// Hands every pair to `each`, sorted by key and then value, one part after another.
    /// Returns the most pairs held in memory at once.
    pub(crate) fn for_each_sorted(mut self, mut each: impl FnMut(u64, u64)) -> io::Result<usize> {
        for writer in &mut self.parts {
            writer.flush()?;
        }
        for part in 0..PARTS {
            let path = self.dir.join(part.to_string());
            let runs = self.sort_part(&path, &mut each)?;
            if !runs.is_empty() {
                self.merge_runs(part, runs, &mut each)?;
            }
            // The part is read: its disk goes back before the next one is sorted.
            std::fs::remove_file(&path)?;
        }
        Ok(self.most_held)
    }

    /// Sorts one part: handed straight to `each` when it fits in one run, otherwise written
    /// as sorted runs, whose paths come back.
    fn sort_part(
        &mut self,
        path: &Path,
        each: &mut impl FnMut(u64, u64),
    ) -> io::Result<Vec<PathBuf>> {
        let size = std::fs::metadata(path)?.len() / 16;
        let mut reader = BufReader::new(File::open(path)?);
        let capacity = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(self.run_pairs);
        let mut run = Vec::with_capacity(capacity);
        let mut runs = Vec::new();
        loop {
            run.clear();
            while run.len() < self.run_pairs {
                match read_pair(&mut reader)? {
                    Some(pair) => run.push(pair),
                    None => break,
                }
            }
            self.most_held = self.most_held.max(run.len());
            let last = run.len() < self.run_pairs;
            run.sort_unstable();
            if last && runs.is_empty() {
                run.iter().for_each(|&(key, value)| each(key, value));
                return Ok(runs);
            }
            if !run.is_empty() {
                let run_path = path.with_extension(runs.len().to_string());
                let mut writer = BufWriter::new(File::create(&run_path)?);
                for &pair in &run {
                    write_pair(&mut writer, pair)?;
                }
                writer.flush()?;
                runs.push(run_path);
            }
            if last {
                return Ok(runs);
            }
        }
    }

    /// Merges a part's sorted runs into `each`, in rounds of [`FAN_IN`] when there are more.
    fn merge_runs(
        &self,
        part: usize,
        mut runs: Vec<PathBuf>,
        each: &mut impl FnMut(u64, u64),
    ) -> io::Result<()> {
        let mut round = 0;
        while runs.len() > FAN_IN {
            let merged = self.dir.join(format!("{part}.merged{round}"));
            let mut writer = BufWriter::new(File::create(&merged)?);
            let mut failed = None;
            merge(&runs[..FAN_IN], &mut |key, value| {
                if let Err(e) = write_pair(&mut writer, (key, value)) {
                    failed.get_or_insert(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            writer.flush()?;
            runs.drain(..FAN_IN);
            runs.push(merged);
            round += 1;
        }
        merge(&runs, each)
    }
}

/// Merges sorted runs on disk into one sorted stream; each merged run is removed.
fn merge(runs: &[PathBuf], each: &mut impl FnMut(u64, u64)) -> io::Result<()> {
    let mut readers = runs
        .iter()
        .map(|path| File::open(path).map(BufReader::new))
        .collect::<io::Result<Vec<_>>>()?;
    let mut heads = BinaryHeap::with_capacity(readers.len());
    for (at, reader) in readers.iter_mut().enumerate() {
        if let Some(pair) = read_pair(reader)? {
            heads.push(Reverse((pair, at)));
        }
    }
    while let Some(Reverse(((key, value), at))) = heads.pop() {
        each(key, value);
        if let Some(pair) = read_pair(&mut readers[at])? {
            heads.push(Reverse((pair, at)));
        }
    }
    drop(readers);
    // A run's disk goes back once it is read.
    runs.iter().try_for_each(std::fs::remove_file)
}

fn write_pair(writer: &mut impl Write, (key, value): (u64, u64)) -> io::Result<()> {
    writer.write_all(&key.to_le_bytes())?;
    writer.write_all(&value.to_le_bytes())
}

/// The next pair; `None` at the end.
fn read_pair(reader: &mut impl Read) -> io::Result<Option<(u64, u64)>> {
    let mut buffer = [0u8; 16];
    match reader.read_exact(&mut buffer) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (key, value) = buffer.split_at(8);
    let key = u64::from_le_bytes(key.try_into().unwrap_or_default());
    let value = u64::from_le_bytes(value.try_into().unwrap_or_default());
    Ok(Some((key, value)))
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs in an order that is not sorted: many of one key (as a file of identical rows
    /// gives), the rest spread over the parts.
    fn pairs() -> Vec<(u64, u64)> {
        let mut pairs: Vec<(u64, u64)> = (0..5_000u64).map(|line| (42, 10_000 - line)).collect();
        pairs.extend((0..3_000u64).map(|n| (n.wrapping_mul(0x9E37_79B9_7F4A_7C15), n)));
        pairs
    }

    fn read_back(run_pairs: usize) -> (Vec<(u64, u64)>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::create(dir.path(), ".spill").unwrap();
        spill.run_pairs = run_pairs;
        for (key, value) in pairs() {
            spill.add(key, value).unwrap();
        }
        let mut back = Vec::new();
        let held = spill
            .for_each_sorted(|key, value| back.push((key, value)))
            .unwrap();
        assert!(
            !dir.path().join(".spill").exists(),
            "every part and run is removed with the spill"
        );
        (back, held)
    }

    /// One key's pairs are held in runs, not all at once, and come back in order: this is
    /// what keeps a file of identical rows from holding every row in memory.
    #[test]
    fn a_part_larger_than_a_run_is_sorted_in_runs_and_comes_back_whole() {
        let mut expected = pairs();
        expected.sort_unstable();
        // 5,000 pairs of one key in runs of 64: 79 runs, merged in two rounds.
        let (back, held) = read_back(64);
        assert_eq!(back, expected);
        assert!(held <= 64, "{held} pairs held at once");
        let (whole, _) = read_back(RUN_PAIRS);
        assert_eq!(whole, expected);
    }
}
