//! Reading an output directory back, as `--resume` and `merge` do: summary.json, results.csv
//! and errors.csv, each within a bound, so an edited or foreign file is a clear refusal and
//! never unbounded memory; and a row cut short by a crash or a full disk (the file does not
//! end with a line ending) is never taken for a row.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, Position};

use super::summary::Summary;
use super::writer::Tallies;
use super::{OutputError, SUMMARY_FILE};
use crate::bounded::{self, BoundedReadError};
use crate::input::MAX_RECORD_BYTES;

/// The longest row of results.csv or errors.csv read back (bytes): an input record's bound,
/// with room for the tool's own columns and PingOne's messages.
pub(crate) const MAX_ROW_BYTES: u64 = 4 * MAX_RECORD_BYTES;

/// Why summary.json could not be read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SummaryProblem {
    #[error("there is no summary.json")]
    Missing,
    #[error("summary.json cannot be read ({0})")]
    Unreadable(#[source] io::Error),
    #[error(
        "summary.json is larger than {}, which no run writes",
        bounded::size_text(bounded::SUMMARY_FILE_CEILING)
    )]
    TooLarge,
    #[error("summary.json is not a summary mfa-enroll wrote ({0})")]
    NotASummary(#[source] serde_json::Error),
}

/// summary.json in `dir`, read within its ceiling.
pub(crate) fn summary(dir: &Path) -> Result<Summary, SummaryProblem> {
    let path = dir.join(SUMMARY_FILE);
    let text = match bounded::read_own(&path, bounded::SUMMARY_FILE_CEILING) {
        Ok(text) => text,
        Err(BoundedReadError::Unreadable { source, .. })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            return Err(SummaryProblem::Missing)
        }
        Err(BoundedReadError::Unreadable { source, .. }) => {
            return Err(SummaryProblem::Unreadable(source))
        }
        Err(BoundedReadError::TooLarge { .. }) => return Err(SummaryProblem::TooLarge),
        Err(BoundedReadError::NotText { .. }) => {
            return Err(SummaryProblem::Unreadable(
                io::ErrorKind::InvalidData.into(),
            ))
        }
    };
    serde_json::from_slice(&text).map_err(SummaryProblem::NotASummary)
}

/// Whether `summary`'s counts (rows, and rows per outcome) are those of `rows`; if not, how
/// each counts, for a message: `(the summary's, the rows')`.
pub(crate) fn counts_differ(summary: &Summary, rows: &Tallies) -> Option<(String, String)> {
    let counted: BTreeMap<String, u64> = rows
        .outcomes
        .iter()
        .map(|(outcome, n)| (outcome.as_str().to_string(), *n))
        .collect();
    let said: BTreeMap<String, u64> = summary
        .outcomes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(outcome, n)| (outcome.clone(), *n))
        .collect();
    if summary.rows == rows.rows && said == counted {
        return None;
    }
    let describe = |rows: u64, outcomes: &BTreeMap<String, u64>| {
        let each: Vec<String> = outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
        format!("{rows} rows ({})", each.join(", "))
    };
    Some((describe(summary.rows, &said), describe(rows.rows, &counted)))
}

/// Counts what csv takes from the file since the last row began, and refuses past the bound.
struct Bounded<R> {
    inner: R,
    since_row: u64,
    refused: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // csv reads ahead by its buffer at most; beyond that, one row is too long.
        if self.since_row > MAX_ROW_BYTES + 64 * 1024 {
            self.refused = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a row is longer than any row mfa-enroll writes",
            ));
        }
        let n = self.inner.read(buf)?;
        self.since_row += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Bounded<R> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.since_row = 0;
        self.inner.seek(position)
    }
}

/// The rows of one results.csv or errors.csv, header first. Every row must have the
/// header's fields; a last row cut short is left out (see [`RowReader::torn_row`]).
pub(crate) struct RowReader {
    path: PathBuf,
    reader: csv::Reader<Bounded<File>>,
    header: ByteRecord,
    /// Where the complete rows end: the file's length, or where a torn last row starts.
    len: u64,
    ends_whole: bool,
    torn_row: Option<u64>,
}

impl RowReader {
    /// Opens `path` and reads its header; `Ok(None)` for a file with no header at all.
    pub(crate) fn open(path: &Path) -> Result<Option<RowReader>, OutputError> {
        let mut file = bounded::open_own(path).map_err(|e| OutputError::io(path, e))?;
        let len = file.metadata().map_err(|e| OutputError::io(path, e))?.len();
        let mut last = [0u8; 1];
        if len > 0 {
            file.seek(SeekFrom::Start(len - 1))
                .and_then(|_| file.read_exact(&mut last))
                .and_then(|_| file.rewind())
                .map_err(|e| OutputError::io(path, e))?;
        }
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Bounded {
                inner: file,
                since_row: 0,
                refused: false,
            });
        let mut this = RowReader {
            path: path.to_path_buf(),
            reader,
            header: ByteRecord::new(),
            len,
            ends_whole: last[0] == b'\n' || last[0] == b'\r',
            torn_row: None,
        };
        let mut header = ByteRecord::new();
        if this.next_raw(&mut header)?.is_none() {
            return Ok(None);
        }
        this.header = header;
        Ok(Some(this))
    }

    pub(crate) fn header(&self) -> &ByteRecord {
        &self.header
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based row (after the header) that was cut short, once the reading reached it.
    pub(crate) fn torn_row(&self) -> Option<u64> {
        self.torn_row
    }

    /// The next complete row into `record`, with the byte where it starts and its 1-based
    /// number after the header; `None` at the end, or at a torn last row.
    pub(crate) fn next(
        &mut self,
        record: &mut ByteRecord,
    ) -> Result<Option<(u64, u64)>, OutputError> {
        let Some(byte) = self.next_raw(record)? else {
            return Ok(None);
        };
        let row = self.reader.position().record().saturating_sub(1);
        if !self.ends_whole && self.reader.position().byte() >= self.len {
            self.torn_row = Some(row);
            return Ok(None);
        }
        if record.len() != self.header.len() {
            return Err(OutputError::Damaged {
                path: self.path.clone(),
                row,
                problem: format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    self.header.len()
                ),
            });
        }
        Ok(Some((byte, row)))
    }

    /// Where the next row starts.
    pub(crate) fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Reads on from the row that starts at `byte` (as [`RowReader::next`] gave it).
    pub(crate) fn seek(&mut self, byte: u64) -> Result<(), OutputError> {
        let mut position = Position::new();
        position.set_byte(byte);
        self.reader
            .seek(position)
            .map_err(|e| OutputError::csv(&self.path, e))
    }

    fn next_raw(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, OutputError> {
        let byte = self.reader.position().byte();
        self.reader.get_mut().since_row = 0;
        match self.reader.read_byte_record(record) {
            Ok(true) => Ok(Some(byte)),
            Ok(false) => Ok(None),
            Err(_) if self.reader.get_ref().refused => Err(OutputError::Damaged {
                path: self.path.clone(),
                row: self.reader.position().record(),
                problem: format!(
                    "is longer than {}, longer than any row mfa-enroll writes",
                    bounded::size_text(MAX_ROW_BYTES)
                ),
            }),
            Err(e) => Err(OutputError::csv(&self.path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (byte, row number, first field) of each complete row.
    type Rows = Vec<(u64, u64, Vec<u8>)>;

    fn rows_of(text: &[u8]) -> (Rows, Option<u64>) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let mut reader = RowReader::open(file.path()).unwrap().unwrap();
        let mut record = ByteRecord::new();
        let mut rows = Vec::new();
        while let Some((byte, row)) = reader.next(&mut record).unwrap() {
            rows.push((byte, row, record.get(0).unwrap().to_vec()));
        }
        (rows, reader.torn_row())
    }

    #[test]
    fn a_torn_last_row_is_left_out() {
        let (rows, torn) = rows_of(b"line,outcome\n2,created\n3,fail");
        assert_eq!(rows, vec![(13, 1, b"2".to_vec())]);
        assert_eq!(torn, Some(2));
        let (rows, torn) = rows_of(b"line,outcome\n2,created\n3,failed\n");
        assert_eq!(rows.len(), 2);
        assert_eq!(torn, None);
    }

    #[test]
    fn damaged_and_endless_rows_are_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "line,outcome\n2\n3,failed\n").unwrap();
        let mut reader = RowReader::open(file.path()).unwrap().unwrap();
        let err = reader.next(&mut ByteRecord::new()).unwrap_err();
        assert!(err.to_string().contains("row 1 has 1 fields"), "{err}");

        let mut endless = b"line,outcome\n2,\"".to_vec();
        endless.resize(endless.len() + MAX_ROW_BYTES as usize + 200_000, b'x');
        endless.extend_from_slice(b"\"\n");
        std::fs::write(file.path(), endless).unwrap();
        let mut reader = RowReader::open(file.path()).unwrap().unwrap();
        let err = reader.next(&mut ByteRecord::new()).unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
    }

    #[test]
    fn a_summary_is_read_within_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(summary(dir.path()), Err(SummaryProblem::Missing)));
        std::fs::write(dir.path().join(SUMMARY_FILE), "{").unwrap();
        assert!(matches!(
            summary(dir.path()),
            Err(SummaryProblem::NotASummary(_))
        ));
        let file = File::create(dir.path().join(SUMMARY_FILE)).unwrap();
        file.set_len(bounded::SUMMARY_FILE_CEILING + 10).unwrap();
        assert!(matches!(summary(dir.path()), Err(SummaryProblem::TooLarge)));
    }
}
