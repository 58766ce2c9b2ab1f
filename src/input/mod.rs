//! CSV records -> [`Record`]s with their line numbers, streamed: one reused buffer, never the
//! whole file in memory.
//!
//! The header is matched case-insensitively after trimming. Values stay raw bytes until a
//! field is asked for, so a row with broken UTF-8 is a row problem, not a file problem, and
//! errors.csv can carry the row exactly as it came. Phone numbers stay text throughout.

pub(crate) mod tracking;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use strum::VariantArray;
use tracking::TrackingReader;
pub(crate) use tracking::MAX_RECORD_BYTES;

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
    #[error("{path}: line {line}: a record starting here is longer than {} MB; a CSV record is one user's device (check the delimiter, or that this is the right file)", MAX_RECORD_BYTES / (1024 * 1024))]
    RecordTooLong { path: PathBuf, line: u64 },
    #[error("{path}: line {line}: a quote opens here and never closes, so the rest of the file would be one field; close the quote or remove it (nothing was sent)")]
    UnclosedQuote { path: PathBuf, line: u64 },
    #[error(
        "cannot copy the input into the output directory ({source}); check the free space there"
    )]
    Spool { source: io::Error },
}

/// The columns the tool reads. Anything else in the header is carried to errors.csv only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub(crate) enum Column {
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
    /// An earlier errors.csv's `error_code`: not a device field, but an `UNCONFIRMED` there
    /// means the device may exist already.
    EarlierErrorCode,
    /// An earlier errors.csv's `line` and `original_line`: where the row first came from.
    EarlierLine,
    OriginalLine,
}

impl Column {
    pub(crate) fn name(self) -> &'static str {
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
            Column::EarlierErrorCode => "error_code",
            Column::EarlierLine => "line",
            Column::OriginalLine => "original_line",
        }
    }
}

/// Columns an earlier errors.csv adds; ignored on input so errors.csv can be fed back (but
/// for `original_line`, see [`Record::original_line`]).
pub(crate) const REPORT_COLUMNS: [&str; 5] = [
    "line",
    "error_code",
    "error_message",
    "pingone_error_id",
    "original_line",
];

/// Where each known column sits in this file, and which columns errors.csv carries.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    positions: [Option<usize>; Column::VARIANTS.len()],
    /// The header as the file wrote it.
    pub(crate) raw: ByteRecord,
    /// Indexes of the columns errors.csv repeats: all but [`REPORT_COLUMNS`].
    pub(crate) carried: Vec<usize>,
}

impl Header {
    /// Stands in until the real header is read.
    fn placeholder() -> Header {
        Header {
            positions: [None; Column::VARIANTS.len()],
            raw: ByteRecord::new(),
            carried: Vec::new(),
        }
    }

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
        let mut positions = [None; Column::VARIANTS.len()];
        let mut carried = Vec::with_capacity(raw.len());
        // Name -> first column: a header of 100,000 columns must not take quadratic time.
        let mut seen: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(raw.len());
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
                if let Some(first) = seen.insert(name.clone(), index) {
                    return Err(bad(format!(
                        "column {name:?} appears twice (columns {} and {}); keep one",
                        first + 1,
                        index + 1
                    )));
                }
            }
            if let Some(k) = Column::VARIANTS.iter().position(|c| c.name() == name) {
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
            return Err(bad(format!(
                "the required column \"type\" is missing ({} per row){}",
                crate::model::DeviceType::list_for_messages(),
                delimiter_hint(raw)
            )));
        }
        if header.position(Column::UserId).is_none() && header.position(Column::Username).is_none()
        {
            return Err(bad(format!(
                "neither \"user_id\" nor \"username\" is present; one of them names each row's user{}",
                delimiter_hint(raw)
            )));
        }
        Ok(header)
    }

    pub(crate) fn position(&self, column: Column) -> Option<usize> {
        let k = Column::VARIANTS.iter().position(|c| *c == column)?;
        self.positions[k]
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }
}

/// A header read as one field that holds another common separator was most likely written
/// with that separator: say which `--delimiter` reads it.
fn delimiter_hint(raw: &ByteRecord) -> String {
    let [field] = raw.iter().collect::<Vec<_>>()[..] else {
        return String::new();
    };
    let hint = |shown: &str, flag: &str| {
        format!("; the header is one field that holds {shown}: if the file is separated by them, pass --delimiter {flag}")
    };
    if field.contains(&b';') {
        hint("semicolons", "';'")
    } else if field.contains(&b'\t') {
        hint("tabs", "'\\t'")
    } else if field.contains(&b'|') {
        hint("vertical bars", "'|'")
    } else {
        String::new()
    }
}

/// One input record: where it starts in the file, and its fields as written.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// 1-based line where the record starts; the header is line 1.
    pub(crate) line: u64,
    pub(crate) raw: ByteRecord,
}

/// A field that is not valid UTF-8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotUtf8(pub(crate) Column);

impl Record {
    /// The trimmed value of `column`, or "" when the file has no such column or the row is short.
    pub(crate) fn get<'a>(&'a self, header: &Header, column: Column) -> Result<&'a str, NotUtf8> {
        match header.position(column).and_then(|i| self.raw.get(i)) {
            None => Ok(""),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(str::trim)
                .map_err(|_| NotUtf8(column)),
        }
    }

    /// The line of the first input this record came from: an errors.csv fed back names it in
    /// `original_line` (or, written before that column, in `line`), so it survives any number
    /// of feedbacks; any other input's record is its own.
    pub(crate) fn original_line(&self, header: &Header) -> u64 {
        [Column::OriginalLine, Column::EarlierLine]
            .into_iter()
            .find_map(|column| {
                let text = self.get(header, column).ok()?;
                text.parse::<u64>().ok().filter(|line| *line > 0)
            })
            .unwrap_or(self.line)
    }
}

/// Where the input comes from. It is read once, whatever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    File(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl InputSource {
    pub(crate) fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            InputSource::Stdin
        } else {
            InputSource::File(arg.to_path_buf())
        }
    }

    /// How messages name it.
    pub(crate) fn display_path(&self) -> PathBuf {
        match self {
            InputSource::File(path) => path.clone(),
            InputSource::Stdin => PathBuf::from("standard input"),
        }
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, InputError> {
        match self {
            InputSource::Stdin => Ok(Box::new(io::stdin())),
            InputSource::File(path) => {
                let unreadable = |source| InputError::Unreadable {
                    path: path.clone(),
                    source,
                };
                if path.is_dir() {
                    return Err(unreadable(io::Error::other(
                        "it is a directory; give the CSV file itself",
                    )));
                }
                // A fifo or a /dev/fd path from `<(zcat …)` opens like a file and is read once.
                Ok(Box::new(File::open(path).map_err(unreadable)?))
            }
        }
    }
}

/// Streams the records of one CSV input.
pub(crate) struct InputReader {
    path: PathBuf,
    reader: csv::Reader<TrackingReader<BufReader<Box<dyn Read + Send>>>>,
    header: Header,
}

impl InputReader {
    /// Opens a file and reads its header.
    #[cfg(test)]
    pub(crate) fn open(path: &Path, delimiter: u8) -> Result<InputReader, InputError> {
        Self::from_source(&InputSource::File(path.to_path_buf()), delimiter, false)
    }

    /// Opens `source` and reads its header. With `hold_copy`, the bytes read are kept for
    /// [`InputReader::copy_to`], so a source that can be read only once can be read again.
    pub(crate) fn from_source(
        source: &InputSource,
        delimiter: u8,
        hold_copy: bool,
    ) -> Result<InputReader, InputError> {
        let path = source.display_path();
        let inner = BufReader::with_capacity(256 * 1024, source.open()?);
        let tracking = TrackingReader::new(inner, delimiter, hold_copy);
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            // Short or long rows are row problems, reported with their line, not file errors.
            .flexible(true)
            .from_reader(tracking);
        let mut this = InputReader {
            path,
            reader,
            header: Header::placeholder(),
        };
        let raw = match this.next_raw()? {
            Some(record) => record.raw,
            None => {
                return Err(InputError::EmptyHeader {
                    path: this.path.clone(),
                })
            }
        };
        this.header = Header::parse(&raw, &this.path)?;
        Ok(this)
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Names the input `path` in messages (a spool stands for the user's input).
    pub(crate) fn named(mut self, path: PathBuf) -> Self {
        self.path = path;
        self
    }

    /// Every byte read from now on, and those held since opening, are also written to `file`.
    pub(crate) fn copy_to(&mut self, file: File) -> Result<(), InputError> {
        self.reader
            .get_mut()
            .copy_to(file)
            .map_err(|source| InputError::Spool { source })
    }

    /// The next record, or `None` at the end of the input.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, InputError> {
        let record = self.next_raw()?;
        if record.is_none() {
            self.reader
                .get_mut()
                .finish_copy()
                .map_err(|source| InputError::Spool { source })?;
        }
        Ok(record)
    }

    fn next_raw(&mut self) -> Result<Option<Record>, InputError> {
        let mut raw = ByteRecord::new();
        let read = self.reader.read_byte_record(&mut raw);
        let next_start = self.reader.position().byte();
        let tracking = self.reader.get_mut();
        if let Some(line) = tracking.unclosed_quote {
            return Err(InputError::UnclosedQuote {
                path: self.path.clone(),
                line,
            });
        }
        match read {
            Ok(false) => Ok(None),
            Ok(true) => {
                let byte = raw.position().map(|p| p.byte()).unwrap_or(0);
                let line = tracking.line_at(byte);
                tracking.record_starts_at(next_start);
                Ok(Some(Record { line, raw }))
            }
            Err(e) => {
                if let Some(tracking::Refusal::RecordTooLong { line }) = tracking.refusal {
                    return Err(InputError::RecordTooLong {
                        path: self.path.clone(),
                        line,
                    });
                }
                let byte = e.position().map(|p| p.byte()).unwrap_or(next_start);
                let line = tracking.line_at(byte);
                Err(InputError::Broken {
                    path: self.path.clone(),
                    line,
                    message: e.to_string(),
                })
            }
        }
    }

    /// SHA-256 of every byte read so far, in hex; the whole input's once the end is reached.
    pub(crate) fn sha256_hex(&self) -> String {
        self.reader.get_ref().sha256_hex()
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
        assert!(err.to_string().ends_with("the file is empty; the first line must be a header such as user_id,type,phone,email"), "{err}");
        std::fs::write(file.path(), "type,phone,Type\n").unwrap();
        let err = InputReader::open(file.path(), b',').err().unwrap();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_a_field_problem() {
        let (_f, mut r) = reader_for(b"user_id,type\n\xff\xfe,SMS\n", b',');
        let h = r.header().clone();
        let rec = r.next_record().unwrap().unwrap();
        assert!(matches!(
            rec.get(&h, Column::UserId),
            Err(NotUtf8(Column::UserId))
        ));
        assert_eq!(rec.get(&h, Column::Type).unwrap(), "SMS");
        // The row, not the file, carries the problem, with its code and what to do.
        let mut validator = crate::validate::Validator::new(h, Default::default());
        let error = validator.validate(&rec).unwrap_err();
        assert_eq!(error.code, crate::codes::Code::InvalidEncoding);
        // The row's other problems (no phone, no policy) follow the first.
        assert!(
            error.message.starts_with(
                "INVALID_ENCODING: column user_id is not valid UTF-8; save the file as UTF-8 | "
            ),
            "{}",
            error.message
        );
    }
}
