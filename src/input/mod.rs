//! CSV records -> [`Record`]s with their line numbers, streamed: one reused buffer, never the
//! whole file in memory.
//!
//! The header is matched case-insensitively after trimming. Values stay raw bytes until a
//! field is asked for, so a row with broken UTF-8 is a row problem, not a file problem, and
//! errors.csv can carry the row exactly as it came. Phone numbers stay text throughout.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use csv::ByteRecord;

/// A problem with the file as a whole: nothing is sent (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: cannot read the input file ({source}); check the path and permissions")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{path}: the file is empty; the first line must be a header such as user_id,type,phone,email")]
    EmptyHeader { path: PathBuf },
    #[error("{path}: line 1: {problem}")]
    BadHeader { path: PathBuf, problem: String },
    #[error("{path}: line {line}: the file could not be read past this point ({message})")]
    Broken {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// The columns the tool reads. Anything else in the header is carried to errors.csv only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    UserId,
    Username,
    Type,
    Phone,
    Email,
    Extension,
    PolicyId,
    Status,
    Nickname,
    NotificationLocale,
    NotificationVariant,
}

impl Column {
    const ALL: [Column; 11] = [
        Column::UserId,
        Column::Username,
        Column::Type,
        Column::Phone,
        Column::Email,
        Column::Extension,
        Column::PolicyId,
        Column::Status,
        Column::Nickname,
        Column::NotificationLocale,
        Column::NotificationVariant,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::UserId => "user_id",
            Column::Username => "username",
            Column::Type => "type",
            Column::Phone => "phone",
            Column::Email => "email",
            Column::Extension => "extension",
            Column::PolicyId => "policy_id",
            Column::Status => "status",
            Column::Nickname => "nickname",
            Column::NotificationLocale => "notification_locale",
            Column::NotificationVariant => "notification_variant",
        }
    }
}

/// Columns an earlier errors.csv adds; ignored on input so errors.csv can be fed back.
pub const REPORT_COLUMNS: [&str; 3] = ["line", "error_code", "error_message"];

/// Where each known column sits in this file, and which columns errors.csv carries.
#[derive(Debug, Clone)]
pub struct Header {
    positions: [Option<usize>; Column::ALL.len()],
    /// The header as the file wrote it.
    pub raw: ByteRecord,
    /// Indexes of the columns errors.csv repeats: all but [`REPORT_COLUMNS`].
    pub carried: Vec<usize>,
}

impl Header {
    fn parse(raw: &ByteRecord, path: &Path) -> Result<Header, InputError> {
        let bad = |problem: String| InputError::BadHeader {
            path: path.to_path_buf(),
            problem,
        };
        if raw.is_empty() || raw.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            return Err(InputError::EmptyHeader {
                path: path.to_path_buf(),
            });
        }
        let mut positions = [None; Column::ALL.len()];
        let mut carried = Vec::with_capacity(raw.len());
        let mut seen: Vec<String> = Vec::with_capacity(raw.len());
        for (index, field) in raw.iter().enumerate() {
            let name = std::str::from_utf8(field)
                .map_err(|_| {
                    bad(format!(
                        "column {} is not valid UTF-8; save the file as UTF-8",
                        index + 1
                    ))
                })?
                .trim()
                .to_ascii_lowercase();
            if !name.is_empty() {
                if let Some(first) = seen.iter().position(|s| *s == name) {
                    return Err(bad(format!(
                        "column {name:?} appears twice (columns {} and {}); keep one",
                        first + 1,
                        index + 1
                    )));
                }
            }
            seen.push(name.clone());
            if let Some(k) = Column::ALL.iter().position(|c| c.name() == name) {
                positions[k] = Some(index);
            }
            if !REPORT_COLUMNS.contains(&name.as_str()) {
                carried.push(index);
            }
        }
        let header = Header {
            positions,
            raw: raw.clone(),
            carried,
        };
        if header.position(Column::Type).is_none() {
            return Err(bad(
                "the required column \"type\" is missing (SMS, VOICE, EMAIL or WHATSAPP per row)"
                    .into(),
            ));
        }
        if header.position(Column::UserId).is_none() && header.position(Column::Username).is_none()
        {
            return Err(bad(
                "neither \"user_id\" nor \"username\" is present; one of them names each row's user"
                    .into(),
            ));
        }
        Ok(header)
    }

    pub fn position(&self, column: Column) -> Option<usize> {
        let k = Column::ALL.iter().position(|c| *c == column)?;
        self.positions[k]
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// One input record: where it starts in the file, and its fields as written.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line where the record starts; the header is line 1.
    pub line: u64,
    pub raw: ByteRecord,
}

/// A field that is not valid UTF-8.
#[derive(Debug, Clone, Copy)]
pub struct NotUtf8(pub Column);

impl Record {
    /// The trimmed value of `column`, or "" when the file has no such column or the row is short.
    pub fn get<'a>(&'a self, header: &Header, column: Column) -> Result<&'a str, NotUtf8> {
        match header.position(column).and_then(|i| self.raw.get(i)) {
            None => Ok(""),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(str::trim)
                .map_err(|_| NotUtf8(column)),
        }
    }
}

/// A run of line-ending bytes (`\r`, `\n`) in the input: where it starts, how many newlines.
#[derive(Debug, Clone, Copy)]
struct EndOfLineRun {
    start: u64,
    newlines: u64,
}

/// Watches every byte the CSV parser reads: feeds a SHA-256, so summary.json can name the
/// exact input without a second pass, and notes the runs of line endings, so line numbers are
/// right for CRLF files and blank lines too. (csv 1.4 places a record at the line ending
/// before it, and its own line count is off for CRLF.)
pub struct TrackingReader<R> {
    inner: R,
    hasher: digest::Context,
    offset: u64,
    /// Runs read but not yet passed by a record; the last may still be growing.
    runs: VecDeque<EndOfLineRun>,
    run_open: bool,
    newlines_passed: u64,
}

impl<R: Read> Read for TrackingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        for (i, byte) in buf[..n].iter().enumerate() {
            match byte {
                b'\r' | b'\n' => {
                    if !self.run_open {
                        self.runs.push_back(EndOfLineRun {
                            start: self.offset + i as u64,
                            newlines: 0,
                        });
                        self.run_open = true;
                    }
                    if *byte == b'\n' {
                        if let Some(run) = self.runs.back_mut() {
                            run.newlines += 1;
                        }
                    }
                }
                _ => self.run_open = false,
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> TrackingReader<R> {
    /// The 1-based line of a record that csv places at `byte`: every line ending that starts
    /// at or before it comes before the record's first character.
    fn line_at(&mut self, byte: u64) -> u64 {
        while self.runs.front().is_some_and(|run| run.start <= byte) {
            // Never pop the run still growing at the end of the buffer; count it when it is whole.
            if self.runs.len() == 1 && self.run_open {
                return self.newlines_passed + self.runs[0].newlines + 1;
            }
            if let Some(run) = self.runs.pop_front() {
                self.newlines_passed += run.newlines;
            }
        }
        self.newlines_passed + 1
    }
}

/// Streams the records of one CSV file.
pub struct InputReader {
    path: PathBuf,
    reader: csv::Reader<TrackingReader<BufReader<File>>>,
    header: Header,
}

impl InputReader {
    pub fn open(path: &Path, delimiter: u8) -> Result<InputReader, InputError> {
        if path.is_dir() {
            return Err(InputError::Unreadable {
                path: path.to_path_buf(),
                source: io::Error::other("it is a directory; give the CSV file itself"),
            });
        }
        let file = File::open(path).map_err(|source| InputError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let tracking = TrackingReader {
            inner: BufReader::with_capacity(256 * 1024, file),
            hasher: digest::Context::new(&digest::SHA256),
            offset: 0,
            runs: VecDeque::new(),
            run_open: false,
            newlines_passed: 0,
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            // Short or long rows are row problems, reported with their line, not file errors.
            .flexible(true)
            .from_reader(tracking);
        let mut raw = ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut raw)
            .map_err(|e| broken(path, e.position().map(|p| p.line()).unwrap_or(1), &e))?;
        if !has_header {
            return Err(InputError::EmptyHeader {
                path: path.to_path_buf(),
            });
        }
        let header = Header::parse(&raw, path)?;
        Ok(InputReader {
            path: path.to_path_buf(),
            reader,
            header,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, InputError> {
        let mut raw = ByteRecord::new();
        match self.reader.read_byte_record(&mut raw) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let byte = raw.position().map(|p| p.byte()).unwrap_or(0);
                let line = self.reader.get_mut().line_at(byte);
                Ok(Some(Record { line, raw }))
            }
            Err(e) => {
                let byte = e.position().map(|p| p.byte()).unwrap_or(0);
                let line = self.reader.get_mut().line_at(byte);
                Err(broken(&self.path, line, &e))
            }
        }
    }

    /// SHA-256 of every byte read so far, in hex; the whole file's once the end is reached.
    pub fn sha256_hex(&self) -> String {
        let digest = self.reader.get_ref().hasher.clone().finish();
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn broken(path: &Path, line: u64, error: &csv::Error) -> InputError {
    InputError::Broken {
        path: path.to_path_buf(),
        line,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_for(bytes: &[u8], delimiter: u8) -> (tempfile::NamedTempFile, InputReader) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let reader = InputReader::open(file.path(), delimiter).unwrap();
        (file, reader)
    }

    #[test]
    fn bom_crlf_quotes_and_case_insensitive_header() {
        let text = "\u{feff} User_ID ,TYPE,Phone,Extra\r\n\
                    a,SMS,\"+1 (512) 555-1234\",x\r\n\
                    b,EMAIL,\"multi\r\nline\",y\r\n\
                    c,SMS,0015125551234,z\r\n";
        let (_f, mut r) = reader_for(text.as_bytes(), b',');
        let h = r.header().clone();
        assert_eq!(h.position(Column::UserId), Some(0));
        assert_eq!(h.position(Column::Phone), Some(2));
        let first = r.next_record().unwrap().unwrap();
        assert_eq!(first.line, 2);
        assert_eq!(first.get(&h, Column::Phone).unwrap(), "+1 (512) 555-1234");
        let second = r.next_record().unwrap().unwrap();
        assert_eq!(second.line, 3);
        let third = r.next_record().unwrap().unwrap();
        assert_eq!(
            third.line, 5,
            "a quoted newline moves the next record's line"
        );
        // Leading zeros survive: phone numbers are text.
        assert_eq!(third.get(&h, Column::Phone).unwrap(), "0015125551234");
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn line_numbers_for_lf_crlf_and_blank_lines() {
        for eol in ["\n", "\r\n"] {
            let text = ["type,user_id", "SMS,a", "", "SMS,\"b", "c\"", "SMS,d", ""].join(eol);
            let (_f, mut r) = reader_for(text.as_bytes(), b',');
            let lines: Vec<u64> = std::iter::from_fn(|| r.next_record().unwrap())
                .map(|rec| rec.line)
                .collect();
            assert_eq!(lines, vec![2, 4, 6], "{eol:?}");
        }
    }

    #[test]
    fn delimiter_and_report_columns_are_not_carried() {
        let text = "username;type;line;error_code;error_message;dept\nj;SMS;4;X;y;HR\n";
        let (_f, r) = reader_for(text.as_bytes(), b';');
        assert_eq!(r.header().carried, vec![0, 1, 5]);
    }

    #[test]
    fn missing_required_columns_are_file_errors() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "user_id,phone\nx,1\n").unwrap();
        let err = InputReader::open(file.path(), b',').err().unwrap();
        assert!(err.to_string().contains("\"type\""), "{err}");
        std::fs::write(file.path(), "").unwrap();
        let err = InputReader::open(file.path(), b',').err().unwrap();
        assert!(matches!(err, InputError::EmptyHeader { .. }));
        std::fs::write(file.path(), "type,phone,Type\n").unwrap();
        let err = InputReader::open(file.path(), b',').err().unwrap();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_a_field_problem() {
        let (_f, mut r) = reader_for(b"user_id,type\n\xff\xfe,SMS\n", b',');
        let h = r.header().clone();
        let rec = r.next_record().unwrap().unwrap();
        assert!(rec.get(&h, Column::UserId).is_err());
        assert_eq!(rec.get(&h, Column::Type).unwrap(), "SMS");
    }
}
