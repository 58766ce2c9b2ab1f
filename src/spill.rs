//! Pairs of numbers spilled to disk and read back in parts, each part sorted: how a pass over
//! a file of ten million rows finds which rows share a key with another (the duplicate check,
//! the rows of one user) while holding a sixty-fourth of the pairs in memory at a time.
//!
//! Each pair is a key and a value; the pair goes to one of [`PARTS`] files by the key's top
//! bits, so every pair of one key lands in the same part. The files live in a private
//! directory inside the output directory and are removed when the spill is dropped.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Spill files; each holds about 1/PARTS of the pairs while it is sorted.
const PARTS: usize = 64;

pub(crate) struct Spill {
    dir: PathBuf,
    parts: Vec<BufWriter<File>>,
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
        Ok(Spill { dir, parts })
    }

    pub(crate) fn add(&mut self, key: u64, value: u64) -> io::Result<()> {
        let part = (key >> 58) as usize % PARTS;
        let writer = &mut self.parts[part];
        writer.write_all(&key.to_le_bytes())?;
        writer.write_all(&value.to_le_bytes())
    }

    /// Hands each part to `each`, sorted by key and then value, one part at a time.
    pub(crate) fn for_each_part(mut self, mut each: impl FnMut(&[(u64, u64)])) -> io::Result<()> {
        for writer in &mut self.parts {
            writer.flush()?;
        }
        for part in 0..PARTS {
            let mut entries = read_part(&self.dir.join(part.to_string()))?;
            entries.sort_unstable();
            each(&entries);
        }
        Ok(())
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
        let (key, value) = buffer.split_at(8);
        let key = u64::from_le_bytes(key.try_into().unwrap_or_default());
        let value = u64::from_le_bytes(value.try_into().unwrap_or_default());
        entries.push((key, value));
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
