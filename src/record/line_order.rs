//! results.csv and errors.csv in line order when a run ends, so they read beside the input.
//! Rows are written as they complete (a crash loses nothing), so concurrency, rows recorded
//! before the ones still in flight, and `--resume`'s appended rows leave a file out of order.
//! At the end each file is rewritten in line order, through a temporary file and a rename:
//! a crash during it leaves the file as it was.
//!
//! Memory stays flat whatever the file's length. A streaming pass first checks the order and
//! leaves a file that is already in order alone. Otherwise an external merge sort: runs of
//! rows up to [`RUN_BYTES`] are sorted in memory and spilled to files beside the output,
//! then merged, at most [`FAN_IN`] at a time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::writer::finish_synced;
use super::OutputError;
use crate::files::{create_new, Staged};

/// Rows held in memory at once while sorting, by their size, with an allowance per row for
/// the record's own bookkeeping (its boxed header, the field ends counted apart, and the
/// allocator's share). 8 MB keeps the sort inside the 64 MB a live run of a million rows
/// is held to: the sort comes at the run's end, on top of what the run itself holds (about
/// 54 MB measured, issue 36; 16 MB put it at 69 MB). 10 million rows make about 160 runs,
/// merged in two rounds.
const RUN_BYTES: usize = 8 * 1024 * 1024;
const ROW_OVERHEAD: usize = 160;
/// Runs merged at once; more are merged in rounds (each run open costs a file and a buffer).
const FAN_IN: usize = 128;

/// What [`put_in_line_order`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reordered {
    /// The file was already in line order (or absent): it was left alone.
    AlreadyInOrder,
    /// The file was rewritten in line order, sorted in this many runs.
    Sorted { rows: u64, runs: usize },
}

/// The line column: the last column named `line` (errors.csv repeats the input's columns
/// first, and an input may have had one of its own).
pub(crate) fn line_column(header: &ByteRecord, path: &Path) -> Result<usize, OutputError> {
    header
        .iter()
        .rposition(|name| name == b"line")
        .ok_or_else(|| OutputError::NotResults {
            path: path.to_path_buf(),
            missing: "line",
        })
}

/// A CSV file read record by record, its header as the first record, rows of any length.
pub(crate) fn reader(path: &Path) -> Result<csv::Reader<File>, OutputError> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| OutputError::csv(path, e))
}

fn writer(file: File) -> csv::Writer<BufWriter<File>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(BufWriter::new(file))
}

/// A row's line; one that cannot be read (a torn last row) sorts last.
fn line_of(record: &ByteRecord, column: usize) -> u64 {
    std::str::from_utf8(record.get(column).unwrap_or_default())
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Reads one record; `false` at the end.
fn next(
    reader: &mut csv::Reader<File>,
    record: &mut ByteRecord,
    path: &Path,
) -> Result<bool, OutputError> {
    reader
        .read_byte_record(record)
        .map_err(|e| OutputError::csv(path, e))
}

/// How much a sort holds in memory and merges at once.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    run_bytes: usize,
    fan_in: usize,
}

/// Rewrites the CSV at `path` (results.csv or errors.csv) in line order, unless it already
/// is. Rows with the same line keep their order.
pub fn put_in_line_order(path: &Path) -> Result<Reordered, OutputError> {
    reorder(
        path,
        Bounds {
            run_bytes: RUN_BYTES,
            fan_in: FAN_IN,
        },
    )
}

fn reorder(path: &Path, bounds: Bounds) -> Result<Reordered, OutputError> {
    if !path.exists() {
        return Ok(Reordered::AlreadyInOrder);
    }
    let mut input = reader(path)?;
    let mut header = ByteRecord::new();
    if !next(&mut input, &mut header, path)? {
        return Ok(Reordered::AlreadyInOrder);
    }
    let column = line_column(&header, path)?;
    if is_in_order(&mut input, column, path)? {
        return Ok(Reordered::AlreadyInOrder);
    }
    let mut input = reader(path)?;
    next(&mut input, &mut header, path)?;
    let work = Spill::create(path)?;
    let (rows, mut runs) = sorted_runs(&mut input, column, path, &work, bounds.run_bytes)?;
    let run_count = runs.len();
    while runs.len() > bounds.fan_in {
        let group: Vec<PathBuf> = runs.drain(..bounds.fan_in).collect();
        let merged = work.next_path();
        merge_runs(&group, column, None, &merged, create_new(&merged)?)?;
        runs.push(merged);
    }
    // A new file beside the old one, renamed over it: never written through a link.
    let mut ordered = Staged::new(path)?;
    let file = ordered
        .file()
        .try_clone()
        .map_err(|e| OutputError::io(path, e))?;
    merge_runs(&runs, column, Some(&header), ordered.path(), file)?;
    ordered.commit()?;
    Ok(Reordered::Sorted {
        rows,
        runs: run_count,
    })
}

fn is_in_order(
    input: &mut csv::Reader<File>,
    column: usize,
    path: &Path,
) -> Result<bool, OutputError> {
    let mut record = ByteRecord::new();
    let mut previous = 0u64;
    while next(input, &mut record, path)? {
        let line = line_of(&record, column);
        if line < previous {
            return Ok(false);
        }
        previous = line;
    }
    Ok(true)
}

/// The working folder of one sort, beside the file, removed when dropped.
struct Spill {
    dir: PathBuf,
    made: std::cell::Cell<usize>,
}

impl Spill {
    fn create(path: &Path) -> Result<Spill, OutputError> {
        let name = path
            .file_name()
            .map_or_else(|| "rows".into(), |n| n.to_string_lossy().into_owned());
        let dir = path.with_file_name(runs_dir(&name));
        // One a killed sort left is replaced; anything else at the name is refused.
        crate::files::fresh_own_dir(&dir)?;
        Ok(Spill {
            dir,
            made: std::cell::Cell::new(0),
        })
    }

    fn next_path(&self) -> PathBuf {
        let number = self.made.get();
        self.made.set(number + 1);
        self.dir.join(format!("run-{number}.csv"))
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The sort's folder beside the file named `name`.
pub(crate) fn runs_dir(name: &str) -> String {
    format!(".{name}.runs")
}

/// Reads the rows in runs of at most `run_bytes`, each sorted by line and written to a
/// file of its own (no header). Returns the rows read and the runs' files.
fn sorted_runs(
    input: &mut csv::Reader<File>,
    column: usize,
    path: &Path,
    work: &Spill,
    run_bytes: usize,
) -> Result<(u64, Vec<PathBuf>), OutputError> {
    let mut runs = Vec::new();
    let mut rows = 0u64;
    let mut batch: Vec<(u64, ByteRecord)> = Vec::new();
    let mut held = 0usize;
    let mut record = ByteRecord::new();
    loop {
        let more = next(input, &mut record, path)?;
        if more {
            rows += 1;
            held += record.as_slice().len() + record.len() * 8 + ROW_OVERHEAD;
            batch.push((line_of(&record, column), record.clone()));
        }
        if (!more && !batch.is_empty()) || held >= run_bytes {
            batch.sort_by_key(|(line, _)| *line);
            let run = work.next_path();
            let mut out = writer(create_new(&run)?);
            for (_, row) in batch.drain(..) {
                out.write_byte_record(&row)
                    .map_err(|e| OutputError::csv(&run, e))?;
            }
            out.flush().map_err(|e| OutputError::io(&run, e))?;
            runs.push(run);
            held = 0;
        }
        if !more {
            return Ok((rows, runs));
        }
    }
}

/// Merges sorted runs into `out` (with `header` first, when given), synced to disk.
fn merge_runs(
    runs: &[PathBuf],
    column: usize,
    header: Option<&ByteRecord>,
    out: &Path,
    file: File,
) -> Result<(), OutputError> {
    let mut writer = writer(file);
    let io = |e: csv::Error| OutputError::csv(out, e);
    if let Some(header) = header {
        writer.write_byte_record(header).map_err(io)?;
    }
    let mut readers = Vec::with_capacity(runs.len());
    let mut heads = Vec::with_capacity(runs.len());
    // The smallest line first; among equal lines, the earlier run (rows kept in order).
    let mut queue = BinaryHeap::new();
    for (index, run) in runs.iter().enumerate() {
        let mut reader = reader(run)?;
        let mut record = ByteRecord::new();
        if next(&mut reader, &mut record, run)? {
            queue.push(Reverse((line_of(&record, column), index)));
        }
        readers.push(reader);
        heads.push(record);
    }
    while let Some(Reverse((_, index))) = queue.pop() {
        writer.write_byte_record(&heads[index]).map_err(io)?;
        if next(&mut readers[index], &mut heads[index], &runs[index])? {
            queue.push(Reverse((line_of(&heads[index], column), index)));
        }
    }
    finish_synced(writer, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_order_is_left_alone_and_one_out_of_order_is_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        std::fs::write(&path, "line,outcome\n2,created\n3,invalid\n5,failed\n").unwrap();
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(put_in_line_order(&path).unwrap(), Reordered::AlreadyInOrder);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );

        std::fs::write(
            &path,
            "line,outcome\n5,\"failed, twice\nquoted\"\n2,created\n4,a\n3,invalid\n4,b\n",
        )
        .unwrap();
        assert_eq!(
            put_in_line_order(&path).unwrap(),
            Reordered::Sorted { rows: 5, runs: 1 }
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "line,outcome\n2,created\n3,invalid\n4,a\n4,b\n5,\"failed, twice\nquoted\"\n"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no working file is left behind");
    }

    #[test]
    fn many_runs_merge_in_rounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.csv");
        // A line column that is not the first (errors.csv's input may have its own `line`).
        let rows = 5_000u64;
        let mut text = String::from("line,note,line\n");
        for i in 0..rows {
            let line = (i * 7919) % rows + 2;
            text.push_str(&format!("x,{},{line}\n", "y".repeat(40)));
        }
        std::fs::write(&path, text).unwrap();
        let small = Bounds {
            run_bytes: 4096,
            fan_in: 3,
        };
        let Reordered::Sorted { runs, .. } = reorder(&path, small).unwrap() else {
            panic!("not sorted");
        };
        assert!(runs > 27, "{runs} runs take several rounds of 3");
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let lines: Vec<u64> = reader
            .records()
            .map(|r| r.unwrap()[2].parse().unwrap())
            .collect();
        assert_eq!(lines, (2..rows + 2).collect::<Vec<_>>());
    }
}
