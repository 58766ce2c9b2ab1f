//! The one place every input byte passes, once: between the source (a file, a pipe, standard
//! input) and the CSV parser. It
//! - feeds a SHA-256, so summary.json names the exact input without a second read;
//! - notes the runs of line endings, so line numbers are right whatever ends a line (LF,
//!   CR LF, or a CR alone, as older spreadsheet exports write) and for blank lines (csv 1.4
//!   places a record just past the first byte of the line ending before it, and miscounts
//!   CRLF), and so the reader can see which line endings came between two records;
//! - follows RFC 4180 quoting, so a quote that never closes is reported at the line where it
//!   opened instead of swallowing the rest of the file into one field;
//! - refuses a record longer than [`MAX_RECORD_BYTES`], so `/dev/zero` or a stream without a
//!   newline cannot take all memory;
//! - copies the bytes to a spool file when asked, so a pipe can be read once and sent from
//!   the copy.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use aws_lc_rs::digest;

/// The longest header or record accepted (bytes). Real rows are a few hundred bytes.
pub(crate) const MAX_RECORD_BYTES: u64 = 1024 * 1024;

/// A run of line-ending bytes (`\r`, `\n`): where it starts, how many lines it ends (a CR
/// LF ends one, as does a CR or an LF alone), and the bytes it is made of.
#[derive(Debug, Clone, Copy)]
struct EndOfLineRun {
    start: u64,
    breaks: u64,
    gap: Gap,
}

/// The line-ending bytes between two records, as the file wrote them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) carriage_returns: u64,
    pub(crate) line_feeds: u64,
}

/// Where the RFC 4180 reading of the bytes stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    /// Inside a quoted field that opened on this line.
    Quoted {
        opened_on: u64,
    },
    /// A quote inside a quoted field: the field's end, or the first of a doubled quote.
    QuoteInQuoted {
        opened_on: u64,
    },
}

/// Why the tracker stopped the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A record grew past [`MAX_RECORD_BYTES`]; it started on this line.
    RecordTooLong { line: u64 },
}

/// Where copied bytes go.
enum Copy {
    Off,
    /// Kept until the spool file exists (only the header and the parser's first buffer).
    Held(Vec<u8>),
    To(BufWriter<File>),
}

pub(crate) struct TrackingReader<R> {
    inner: R,
    delimiter: u8,
    hasher: digest::Context,
    offset: u64,
    /// Runs read but not yet passed by a record; the last may still be growing.
    runs: VecDeque<EndOfLineRun>,
    run_open: bool,
    /// The last byte read was a CR: an LF now completes its CR LF, one line ending.
    after_carriage_return: bool,
    breaks_passed: u64,
    breaks_seen: u64,
    /// The last run [`TrackingReader::line_at`] passed: the gap before the record it placed.
    last_passed: Option<Gap>,
    quoting: Quoting,
    /// Where the record being read starts; bytes past it plus the bound are refused.
    record_start: u64,
    pub(super) refusal: Option<Refusal>,
    /// Set at the end of the input when a quoted field was still open: the line it opened on.
    pub(super) unclosed_quote: Option<u64>,
    copy: Copy,
}

impl<R: Read> TrackingReader<R> {
    pub(crate) fn new(inner: R, delimiter: u8, hold_copy: bool) -> Self {
        Self {
            inner,
            delimiter,
            hasher: digest::Context::new(&digest::SHA256),
            offset: 0,
            runs: VecDeque::new(),
            run_open: false,
            after_carriage_return: false,
            breaks_passed: 0,
            breaks_seen: 0,
            last_passed: None,
            quoting: Quoting::FieldStart,
            record_start: 0,
            refusal: None,
            unclosed_quote: None,
            copy: if hold_copy {
                Copy::Held(Vec::new())
            } else {
                Copy::Off
            },
        }
    }

    fn watch(&mut self, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            let is_line_end = byte == b'\r' || byte == b'\n';
            if is_line_end {
                if !self.run_open {
                    self.runs.push_back(EndOfLineRun {
                        start: self.offset + i as u64,
                        breaks: 0,
                        gap: Gap::default(),
                    });
                    self.run_open = true;
                }
                // CR LF is one line ending; a CR or an LF alone is one too.
                let ends_a_line = byte == b'\r' || !self.after_carriage_return;
                self.breaks_seen += u64::from(ends_a_line);
                if let Some(run) = self.runs.back_mut() {
                    run.breaks += u64::from(ends_a_line);
                    if byte == b'\r' {
                        run.gap.carriage_returns += 1;
                    } else {
                        run.gap.line_feeds += 1;
                    }
                }
            } else {
                self.run_open = false;
            }
            self.after_carriage_return = byte == b'\r';
            self.quoting = match (self.quoting, byte) {
                (Quoting::Quoted { opened_on }, b'"') => Quoting::QuoteInQuoted { opened_on },
                (Quoting::Quoted { .. }, _) => self.quoting,
                (Quoting::QuoteInQuoted { opened_on }, b'"') => Quoting::Quoted { opened_on },
                (Quoting::FieldStart, b'"') => Quoting::Quoted {
                    opened_on: self.breaks_seen + 1,
                },
                _ if is_line_end || byte == self.delimiter => Quoting::FieldStart,
                // csv reads a stray quote, or text after a closing quote, as part of the field.
                _ => Quoting::Unquoted,
            };
        }
    }

    /// The copy so far goes to `file`, and every byte read from now on follows it.
    pub(crate) fn copy_to(&mut self, file: File) -> io::Result<()> {
        let mut writer = BufWriter::with_capacity(256 * 1024, file);
        if let Copy::Held(held) = &self.copy {
            writer.write_all(held)?;
        }
        self.copy = Copy::To(writer);
        Ok(())
    }

    /// Flushes the copy; the spool is whole once the input has been read to its end.
    pub(crate) fn finish_copy(&mut self) -> io::Result<()> {
        if let Copy::To(writer) = &mut self.copy {
            writer.flush()?;
            writer.get_ref().sync_all()?;
        }
        Ok(())
    }
}

impl<R: Read> Read for TrackingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset.saturating_sub(self.record_start) > MAX_RECORD_BYTES {
            let line = self.line_at(self.record_start);
            self.refusal = Some(Refusal::RecordTooLong { line });
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a record is longer than the bound",
            ));
        }
        // Never hand the parser more than the bound allows, whatever buffer it offers.
        let allowance = MAX_RECORD_BYTES + 1 - self.offset.saturating_sub(self.record_start);
        let room = buf
            .len()
            .min(usize::try_from(allowance).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..room])?;
        let bytes = &buf[..n];
        self.hasher.update(bytes);
        self.watch(bytes);
        match &mut self.copy {
            Copy::Off => {}
            Copy::Held(held) => held.extend_from_slice(bytes),
            Copy::To(writer) => writer.write_all(bytes)?,
        }
        if n == 0 && !buf.is_empty() {
            if let Quoting::Quoted { opened_on } = self.quoting {
                self.unclosed_quote = Some(opened_on);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> TrackingReader<R> {
    /// The 1-based line of a record that csv places at `byte`: every line ending that starts
    /// at or before it comes before the record's first character.
    pub(super) fn line_at(&mut self, byte: u64) -> u64 {
        self.last_passed = None;
        while self.runs.front().is_some_and(|run| run.start <= byte) {
            // Never pop the run still growing at the end of the buffer; count it when it is whole.
            if self.runs.len() == 1 && self.run_open {
                return self.breaks_passed + self.runs[0].breaks + 1;
            }
            if let Some(run) = self.runs.pop_front() {
                self.breaks_passed += run.breaks;
                self.last_passed = Some(run.gap);
            }
        }
        self.breaks_passed + 1
    }

    /// The line endings just before the record the last [`TrackingReader::line_at`] placed
    /// (`None` for the first record of the file). csv places a record just past the first
    /// byte of the line ending before it, and a record is never empty, so that run is whole.
    pub(super) fn gap_before(&self) -> Option<Gap> {
        self.last_passed
    }

    /// The parser has reached the record that starts at `byte`.
    pub(super) fn record_starts_at(&mut self, byte: u64) {
        self.record_start = byte;
    }

    /// SHA-256 of every byte read so far, in hex.
    pub(crate) fn sha256_hex(&self) -> String {
        let digest = self.hasher.clone().finish();
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unclosed(text: &str) -> Option<u64> {
        let mut reader = TrackingReader::new(text.as_bytes(), b',', false);
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink).unwrap();
        reader.unclosed_quote
    }

    #[test]
    fn quotes_are_followed_as_csv_reads_them() {
        assert_eq!(unclosed("a,b\n1,\"x\ny\"\n2,3\n"), None);
        assert_eq!(unclosed("a,b\n1,\"x\"\"y\"\n"), None, "a doubled quote");
        assert_eq!(unclosed("a,b\n1,ab\"c\n"), None, "a stray quote is text");
        assert_eq!(
            unclosed("a,b\n1,\"x\"z\n"),
            None,
            "text after a closing quote"
        );
        assert_eq!(unclosed("a,b\n1,2\n3,\"open\n4,5\n6,7\n"), Some(3));
        assert_eq!(unclosed("a,b\r\n1,2\r\n\"open,\r\n"), Some(3));
        assert_eq!(
            unclosed("a,b\n\"x\"\"\n"),
            Some(2),
            "the doubled quote leaves it open"
        );
    }

    #[test]
    fn a_stream_without_newlines_is_refused_after_the_bound() {
        let endless = std::io::repeat(0).take(MAX_RECORD_BYTES * 4);
        let mut reader = TrackingReader::new(endless, b',', false);
        let mut sink = Vec::new();
        let err = reader.read_to_end(&mut sink).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(reader.refusal, Some(Refusal::RecordTooLong { line: 1 }));
        assert_eq!(sink.len() as u64, MAX_RECORD_BYTES + 1);
    }
}
