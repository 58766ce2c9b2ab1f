//! Combines one CSV file from each shard (results.csv or errors.csv) into one, in input line
//! order. A shard writes rows as they complete, and a resumed shard appends its redone rows at
//! the end, so its file is not in line order. Only an index is held in memory (line, shard,
//! byte offset: 24 bytes a row); each row is copied from its file as it is written, and a
//! file is seeked only where its rows are out of order.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::files::Staged;
use crate::record::line_order::line_column;
use crate::record::read_back::RowReader;
use crate::record::writer::finish_synced;
use crate::record::OutputError;

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

/// One row as the index reads it, for a caller that checks more than its line.
pub(crate) struct Row<'a> {
    pub(crate) part: usize,
    /// 1-based, after the header.
    pub(crate) number: u64,
    pub(crate) line: u64,
    pub(crate) header: &'a ByteRecord,
    pub(crate) record: &'a ByteRecord,
}

/// Reads every part's line numbers, handing each complete row to `check` (a torn last row,
/// cut short by a crash, is left out). The parts must share one header; a part that does
/// not exist (a shard with nothing to report) is skipped.
pub(crate) fn index<E: From<MergeRowsError>>(
    parts: &[Part],
    mut check: impl FnMut(Row<'_>) -> Result<(), E>,
) -> Result<Option<Indexed>, E> {
    let mut header: Option<(ByteRecord, PathBuf)> = None;
    let mut entries = Vec::new();
    let mut record = ByteRecord::new();
    for (number, part) in parts.iter().enumerate() {
        if !part.path.exists() {
            continue;
        }
        let Some(mut reader) = RowReader::open(&part.path).map_err(MergeRowsError::from)? else {
            continue;
        };
        let column = line_column(reader.header(), &part.path).map_err(MergeRowsError::from)?;
        match &header {
            Some((first, first_path)) if first != reader.header() => {
                return Err(MergeRowsError::OtherHeader {
                    first: first_path.clone(),
                    other: part.path.clone(),
                }
                .into())
            }
            Some(_) => {}
            None => header = Some((reader.header().clone(), part.path.clone())),
        }
        while let Some((byte, row)) = reader.next(&mut record).map_err(MergeRowsError::from)? {
            let line = std::str::from_utf8(record.get(column).unwrap_or_default())
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| MergeRowsError::BadLine {
                    path: part.path.clone(),
                    row,
                })?;
            check(Row {
                part: number,
                number: row,
                line,
                header: reader.header(),
                record: &record,
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

/// Writes `indexed`'s rows in line order to a new file beside `target`, copying each from its
/// part; committing it puts it in place.
pub(crate) fn write_in_line_order(
    parts: &[Part],
    indexed: &Indexed,
    target: &Path,
) -> Result<Staged, OutputError> {
    let mut readers = Vec::with_capacity(parts.len());
    for part in parts {
        // A part with no rows is never read; it may not exist.
        readers.push(match part.path.exists() {
            true => RowReader::open(&part.path)?,
            false => None,
        });
    }
    let mut staged = Staged::new(target)?;
    let out = &staged.path().to_path_buf();
    let file = staged
        .file()
        .try_clone()
        .map_err(|e| OutputError::io(out, e))?;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(BufWriter::new(file));
    let io = |e: csv::Error| OutputError::csv(out, e);
    writer.write_byte_record(&indexed.header).map_err(io)?;
    let mut record = ByteRecord::new();
    let mut next_byte = vec![None; parts.len()];
    for entry in &indexed.entries {
        let Some(reader) = readers[entry.part].as_mut() else {
            continue;
        };
        if next_byte[entry.part] != Some(entry.byte) {
            reader.seek(entry.byte)?;
        }
        if reader.next(&mut record)?.is_none() {
            return Err(OutputError::Damaged {
                path: parts[entry.part].path.clone(),
                row: 0,
                problem: "changed while it was merged".into(),
            });
        }
        next_byte[entry.part] = Some(reader.position());
        writer.write_byte_record(&record).map_err(io)?;
    }
    finish_synced(writer, out)?;
    Ok(staged)
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
