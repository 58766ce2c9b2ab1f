//! Combines one CSV file from each shard (results.csv or errors.csv) into one, in input line
//! order. A shard writes rows as they complete, and a resumed shard appends its redone rows at
//! the end, so its file is not in line order. Only an index is held in memory (line, shard,
//! byte offset: 24 bytes a row); each row is copied from its file as it is written, and a
//! file is seeked only where its rows are out of order.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use csv::{ByteRecord, Position};

use crate::output::line_order::{line_column, reader};
use crate::output::writer::finish_synced;
use crate::output::OutputError;

/// One shard's copy of a file.
pub(crate) struct Part {
    pub(crate) path: PathBuf,
}

/// Where one row sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) line: u64,
    pub(crate) part: usize,
    pub(crate) byte: u64,
}

/// A file's rows by line, and its header.
pub(crate) struct Indexed {
    pub(crate) header: ByteRecord,
    pub(crate) entries: Vec<Entry>,
}

/// Reads every part's line numbers. The parts must share one header; a part that does not
/// exist (a shard with nothing to report) is skipped.
pub(crate) fn index(parts: &[Part]) -> Result<Option<Indexed>, MergeRowsError> {
    let mut header: Option<(ByteRecord, PathBuf)> = None;
    let mut entries = Vec::new();
    for (number, part) in parts.iter().enumerate() {
        if !part.path.exists() {
            continue;
        }
        let mut reader = reader(&part.path)?;
        let mut record = ByteRecord::new();
        let read = |reader: &mut csv::Reader<File>, record: &mut ByteRecord| {
            reader
                .read_byte_record(record)
                .map_err(|e| OutputError::csv(&part.path, e))
        };
        if !read(&mut reader, &mut record)? {
            continue;
        }
        let column = line_column(&record, &part.path)?;
        match &header {
            Some((first, first_path)) if *first != record => {
                return Err(MergeRowsError::OtherHeader {
                    first: first_path.clone(),
                    other: part.path.clone(),
                })
            }
            Some(_) => {}
            None => header = Some((record.clone(), part.path.clone())),
        }
        loop {
            let byte = reader.position().byte();
            if !read(&mut reader, &mut record)? {
                break;
            }
            let line = std::str::from_utf8(record.get(column).unwrap_or_default())
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| MergeRowsError::BadLine {
                    path: part.path.clone(),
                    row: reader.position().record(),
                })?;
            entries.push(Entry {
                line,
                part: number,
                byte,
            });
        }
    }
    entries.sort_unstable();
    Ok(header.map(|(header, _)| Indexed { header, entries }))
}

/// Writes `indexed`'s rows in line order to `out`, copying each from its part.
pub(crate) fn write_in_line_order(
    parts: &[Part],
    indexed: &Indexed,
    out: &Path,
) -> Result<(), OutputError> {
    let mut readers = Vec::with_capacity(parts.len());
    for part in parts {
        // A part with no rows is never read; it may not exist.
        readers.push(part.path.exists().then(|| reader(&part.path)).transpose()?);
    }
    let file = crate::output::writer::private_file(out, false)?;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(BufWriter::new(file));
    let io = |e: csv::Error| OutputError::csv(out, e);
    writer.write_byte_record(&indexed.header).map_err(io)?;
    let mut record = ByteRecord::new();
    for entry in &indexed.entries {
        let part = &parts[entry.part];
        let Some(reader) = readers[entry.part].as_mut() else {
            continue;
        };
        if reader.position().byte() != entry.byte {
            let mut position = Position::new();
            position.set_byte(entry.byte);
            reader
                .seek(position)
                .map_err(|e| OutputError::csv(&part.path, e))?;
        }
        reader
            .read_byte_record(&mut record)
            .map_err(|e| OutputError::csv(&part.path, e))?;
        writer.write_byte_record(&record).map_err(io)?;
    }
    finish_synced(writer, out)
}

#[derive(Debug, thiserror::Error)]
pub enum MergeRowsError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{} and {} have different columns; they are not shards of one input", first.display(), other.display())]
    OtherHeader { first: PathBuf, other: PathBuf },
    #[error("{}: row {row} has no line number; this file was not written by mfa-enroll", path.display())]
    BadLine { path: PathBuf, row: u64 },
}
