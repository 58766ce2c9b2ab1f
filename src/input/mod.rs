//! CSV records -> [`Record`]s with their line numbers, streamed: one reused buffer, never the
//! whole file in memory.
//!
//! A line ends at an LF, a CR LF or a CR alone, so every record has its own line number
//! whatever wrote the file. The header's line ending is the file's: a line ending of the
//! other kind between two records (a CR alone in an LF or CR LF file, an LF alone in a CR
//! file) is taken for a break inside one record, as a stray CR in a spreadsheet cell makes.
//! The parts are joined back into one record, with the break inside the field it split, and
//! the record is marked ([`Record::stray_break`]) so that validation refuses it whole: no
//! part of a record is ever sent on its own.
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
pub(crate) use tracking::MAX_RECORD_BYTES;
use tracking::{Gap, TrackingReader};

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
    #[error("{path}: line {line}: a record starting here is longer than {} MB; a CSV record is one user's device (check the delimiter and the line endings, or that this is the right file)", MAX_RECORD_BYTES / (1024 * 1024))]
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
    /// A line ending of another kind than the file's broke this record (see the module doc).
    pub(crate) stray_break: Option<StrayBreak>,
}

/// The first line ending inside a record that is not of the file's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StrayBreak {
    /// The line it ends.
    pub(crate) line: u64,
    pub(crate) ending: LineEnding,
}

/// The file's line ending, as its header's shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnding {
    /// LF or CR LF: a CR alone is stray.
    LineFeed,
    /// A CR alone (older spreadsheet exports): an LF alone is stray.
    CarriageReturn,
}

impl LineEnding {
    fn of(gap: Gap) -> LineEnding {
        if gap.line_feeds > 0 {
            LineEnding::LineFeed
        } else {
            LineEnding::CarriageReturn
        }
    }

    /// Whether `gap` holds none of this file's line endings: then it is no line ending of
    /// the file's, but a stray inside a record.
    fn is_stray(self, gap: Gap) -> bool {
        match self {
            LineEnding::LineFeed => gap.line_feeds == 0,
            LineEnding::CarriageReturn => gap.carriage_returns == 0,
        }
    }

    /// The bytes of a stray `gap`, as they stood in the field.
    fn stray_bytes(self, gap: Gap) -> Vec<u8> {
        match self {
            LineEnding::LineFeed => vec![b'\r'; gap.carriage_returns as usize],
            LineEnding::CarriageReturn => vec![b'\n'; gap.line_feeds as usize],
        }
    }

    /// How a message names the stray and the file's own.
    pub(crate) fn describe_stray(self) -> (&'static str, &'static str) {
        match self {
            LineEnding::LineFeed => ("a carriage return (CR) alone", "LF or CR LF"),
            LineEnding::CarriageReturn => ("a line feed (LF) alone", "a CR alone"),
        }
    }
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
    /// Known from the first record on: the line ending the header's shows.
    line_ending: Option<LineEnding>,
    /// The record read ahead, to see whether a stray line ending joins it to the one before.
    ahead: Option<Record>,
    ended: bool,
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
            line_ending: None,
            ahead: None,
            ended: false,
        };
        let raw = match this.next_raw()? {
            Some((record, _)) => record.raw,
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

    /// The next record, or `None` at the end of the input. One record is read ahead: a
    /// stray line ending before it makes it part of this one.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, InputError> {
        let mut record = match self.ahead.take() {
            Some(record) => record,
            None => match self.next_part()? {
                Some((record, gap)) => {
                    // The first record's gap is the header's line ending: the file's.
                    self.line_ending.get_or_insert(LineEnding::of(gap));
                    record
                }
                None => return Ok(None),
            },
        };
        while let Some((next, gap)) = self.next_part()? {
            let line_ending = *self.line_ending.get_or_insert(LineEnding::of(gap));
            if !line_ending.is_stray(gap) {
                self.ahead = Some(next);
                break;
            }
            self.join(&mut record, next, gap, line_ending)?;
        }
        Ok(Some(record))
    }

    /// The next record as csv split it, with the line endings before it; the spool is
    /// finished at the end of the input.
    fn next_part(&mut self) -> Result<Option<(Record, Gap)>, InputError> {
        if self.ended {
            return Ok(None);
        }
        let part = self.next_raw()?;
        if part.is_none() {
            self.ended = true;
            self.reader
                .get_mut()
                .finish_copy()
                .map_err(|source| InputError::Spool { source })?;
        }
        // Only the header has nothing before it.
        Ok(part.map(|(record, gap)| (record, gap.unwrap_or_default())))
    }

    /// `next` continues `record` past a stray line ending: the field the break split is
    /// whole again, with the break inside it, as the file wrote it.
    fn join(
        &self,
        record: &mut Record,
        next: Record,
        gap: Gap,
        line_ending: LineEnding,
    ) -> Result<(), InputError> {
        let size = record.raw.as_slice().len() + next.raw.as_slice().len();
        if size as u64 > MAX_RECORD_BYTES {
            return Err(InputError::RecordTooLong {
                path: self.path.clone(),
                line: record.line,
            });
        }
        let mut joined = ByteRecord::with_capacity(size + 8, record.raw.len() + next.raw.len());
        let split = record.raw.len().saturating_sub(1);
        for field in record.raw.iter().take(split) {
            joined.push_field(field);
        }
        let mut field = record.raw.get(split).unwrap_or_default().to_vec();
        field.extend(line_ending.stray_bytes(gap));
        field.extend_from_slice(next.raw.get(0).unwrap_or_default());
        joined.push_field(&field);
        for field in next.raw.iter().skip(1) {
            joined.push_field(field);
        }
        joined.set_position(record.raw.position().cloned());
        record.raw = joined;
        let breaks = gap.carriage_returns.max(gap.line_feeds);
        record.stray_break.get_or_insert(StrayBreak {
            line: next.line.saturating_sub(breaks),
            ending: line_ending,
        });
        Ok(())
    }

    fn next_raw(&mut self) -> Result<Option<(Record, Option<Gap>)>, InputError> {
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
                let gap = tracking.gap_before();
                tracking.record_starts_at(next_start);
                let record = Record {
                    line,
                    raw,
                    stray_break: None,
                };
                Ok(Some((record, gap)))
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

    /// (line, fields, stray line) of every record of `text`.
    fn records_of(text: &str) -> Vec<(u64, Vec<String>, Option<u64>)> {
        let (_f, mut r) = reader_for(text.as_bytes(), b',');
        std::iter::from_fn(|| r.next_record().unwrap())
            .map(|rec| {
                let fields = rec
                    .raw
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                (rec.line, fields, rec.stray_break.map(|s| s.line))
            })
            .collect()
    }

    fn lines_of(text: &str) -> Vec<u64> {
        records_of(text)
            .into_iter()
            .map(|(line, ..)| line)
            .collect()
    }

    #[test]
    fn every_kind_of_line_ending_gives_each_record_its_own_line() {
        let rows = ["type,user_id", "SMS,a", "SMS,b", "", "SMS,c"];
        for eol in ["\n", "\r\n", "\r"] {
            assert_eq!(lines_of(&rows.join(eol)), vec![2, 3, 5], "{eol:?}");
        }
        // Mixed LF and CR LF; a quoted field's line breaks count too, CR alone included.
        let text = "type,user_id\r\nSMS,a\nSMS,\"b\r\nc\rd\"\r\nSMS,e\n";
        assert_eq!(lines_of(text), vec![2, 3, 6]);
        let records = records_of(text);
        assert_eq!(
            records[1].1[1], "b\r\nc\rd",
            "quoted breaks are the field's text"
        );
        assert!(records.iter().all(|(.., stray)| stray.is_none()));
        // A CR file whose rows end CR LF here and there, and doubled CRs (a blank line).
        assert_eq!(
            lines_of("type,user_id\rSMS,a\r\nSMS,b\r\rSMS,c\r"),
            vec![2, 3, 5]
        );
    }

    #[test]
    fn a_stray_line_ending_joins_the_parts_of_its_record() {
        // LF file: a CR alone inside an unquoted field splits nothing.
        let text = "user_id,type,nickname\na,SMS,Jo\rhn\nb,SMS,x\n";
        assert_eq!(
            records_of(text),
            vec![
                (2, vec!["a".into(), "SMS".into(), "Jo\rhn".into()], Some(2)),
                (4, vec!["b".into(), "SMS".into(), "x".into()], None),
            ]
        );
        // Two strays, the second right after a delimiter; CR LF file.
        let text = "user_id,type,nickname\r\na\r,SMS,\r\rx\r\nb,SMS,y\r\n";
        let records = records_of(text);
        assert_eq!(records[0].0, 2);
        assert_eq!(records[0].1, vec!["a\r", "SMS", "\r\rx"]);
        assert_eq!(records[0].2, Some(2), "the first stray ends line 2");
        assert_eq!(records[1].0, 6, "lone CRs end lines 2 to 4, a CR LF line 5");
        // CR file: an LF alone is the stray.
        let text = "user_id,type,nickname\ra,SMS,Jo\nhn\rb,SMS,x\r";
        let records = records_of(text);
        assert_eq!(records[0].1[2], "Jo\nhn");
        assert_eq!(records[0].2, Some(2));
        assert_eq!((records[1].0, records[1].2), (4, None));
    }

    #[test]
    fn joined_parts_stay_within_the_record_bound() {
        // An LF header over CR rows: every row is one stray-joined record, so it is bounded.
        let mut text = String::from("user_id,type\n");
        let row = format!("{},SMS\r", "u".repeat(1000));
        for _ in 0..2000 {
            text.push_str(&row);
        }
        let (_f, mut r) = reader_for(text.as_bytes(), b',');
        let err = r.next_record().unwrap_err();
        assert!(
            matches!(err, InputError::RecordTooLong { line: 2, .. }),
            "{err}"
        );
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
