//! Validation as a stream over a whole file, on three threads: one reads the CSV and runs the
//! cheap field checks, one normalises phones, and the caller's thread checks duplicates in
//! file order. Phone normalisation is the largest single cost, so it gets a thread to itself.
//!
//! Every stage heeds the run's stop flag: once a stop is asked for, records are passed on
//! unvalidated (the caller records them as not attempted, fast), and a consumer waiting on a
//! pipe that sends nothing still sees the stop within a fraction of a second.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Checked, DeviceSpec, FieldChecker, Finisher, RowError};
use crate::input::{InputError, InputReader, Record};
use crate::stop::Stop;

/// How often a consumer waiting for rows looks at the stop flag.
const STOP_CHECK_EVERY: Duration = Duration::from_millis(100);

/// Records per message between the threads: large enough to make the hand-off cheap, small
/// enough that little is in memory at once.
const BATCH: usize = 512;
/// Bytes of records per message at most (one record may pass it alone): records near the
/// 1 MB record ceiling travel a few at a time, so what waits between the threads stays
/// near a dozen megabytes whatever the records' size, not `BATCH` megabytes a message.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches a stage may run ahead of the next.
const AHEAD: usize = 4;

/// A record's verdict so far; `None` once the run stopped: not validated.
type Batch = Vec<(Record, Option<Result<Checked, RowError>>)>;

/// A record's final verdict; `None` when the run stopped before it was validated.
pub(crate) type Verdict = Option<Result<DeviceSpec, RowError>>;

/// Why the stream ended early.
#[derive(Debug)]
pub(crate) enum StreamError {
    Input(InputError),
    /// The run was asked to stop while the stream waited for input.
    Stopped,
}

enum Message {
    Rows(Batch),
    End { sha256: String },
    Failed(InputError),
}

/// What a consumer waiting for rows does once the run is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnStop {
    /// Give up after [`STOP_CHECK_EVERY`] without rows: the input may be a pipe that sends
    /// nothing more (the survey's first read).
    StopWaiting,
    /// Read on to the end, unvalidated: the input is a file read whole once already (the
    /// rows' pass), so it cannot wait, and every record must still get its row. A slow
    /// reader thread (a busy machine) would otherwise cost records their rows.
    ReadToTheEnd,
}

/// Every record of the file with its verdict, in file order.
pub(crate) struct ValidatedRows {
    messages: Receiver<Message>,
    current: std::vec::IntoIter<(Record, Option<Result<Checked, RowError>>)>,
    stop: Arc<Stop>,
    on_stop: OnStop,
    finisher: Finisher,
    sha256: Option<String>,
    finished: bool,
    _threads: [JoinHandle<()>; 2],
}

fn read_and_check(
    mut reader: InputReader,
    checker: FieldChecker,
    stop: Arc<Stop>,
    out: SyncSender<Message>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut batch_bytes = 0;
    let mut stopped = false;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                if batch.is_empty() {
                    stopped = stop.is_requested();
                }
                let verdict = (!stopped).then(|| checker.check(&record));
                batch_bytes += record.raw.as_slice().len();
                batch.push((record, verdict));
                if batch.len() == BATCH || batch_bytes >= BATCH_BYTES {
                    batch_bytes = 0;
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if out.send(Message::Rows(full)).is_err() {
                        return; // The consumer stopped listening.
                    }
                }
            }
            Ok(None) => {
                let _ = out.send(Message::Rows(batch));
                let _ = out.send(Message::End {
                    sha256: reader.sha256_hex(),
                });
                return;
            }
            Err(e) => {
                let _ = out.send(Message::Rows(batch));
                let _ = out.send(Message::Failed(e));
                return;
            }
        }
    }
}

fn normalise_phones(
    default_country: Option<crate::validate::phone::Country>,
    stop: Arc<Stop>,
    input: Receiver<Message>,
    out: SyncSender<Message>,
) {
    for message in input {
        let message = match message {
            Message::Rows(batch) => {
                let stopped = stop.is_requested();
                Message::Rows(
                    batch
                        .into_iter()
                        .map(|(record, checked)| {
                            let checked = checked
                                .filter(|_| !stopped)
                                .map(|checked| checked.map(|c| c.normalise_phone(default_country)));
                            (record, checked)
                        })
                        .collect(),
                )
            }
            other => other,
        };
        if out.send(message).is_err() {
            return;
        }
    }
}

impl ValidatedRows {
    pub(crate) fn start(
        reader: InputReader,
        checker: FieldChecker,
        finisher: Finisher,
        stop: Arc<Stop>,
        on_stop: OnStop,
    ) -> Self {
        let (to_phones, checked) = sync_channel::<Message>(AHEAD);
        let (to_caller, messages) = sync_channel::<Message>(AHEAD);
        let country = finisher.default_country();
        let spawn = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(work)
                .expect("the OS can start a thread")
        };
        let (reader_stop, phones_stop) = (stop.clone(), stop.clone());
        let reading = spawn(
            "csv-reader",
            Box::new(move || read_and_check(reader, checker, reader_stop, to_phones)),
        );
        let phones = spawn(
            "phone-numbers",
            Box::new(move || normalise_phones(country, phones_stop, checked, to_caller)),
        );
        Self {
            messages,
            current: Vec::new().into_iter(),
            stop,
            on_stop,
            finisher,
            sha256: None,
            finished: false,
            _threads: [reading, phones],
        }
    }

    /// SHA-256 of the whole file, once the stream has reached its end.
    pub(crate) fn sha256_hex(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
}

impl Iterator for ValidatedRows {
    type Item = Result<(Record, Verdict), StreamError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((record, checked)) = self.current.next() {
                let verdict = checked.map(|c| self.finisher.finish(record.line, c));
                return Some(Ok((record, verdict)));
            }
            if self.finished {
                return None;
            }
            match self.messages.recv_timeout(STOP_CHECK_EVERY) {
                Ok(Message::Rows(batch)) => self.current = batch.into_iter(),
                Ok(Message::End { sha256 }) => {
                    self.sha256 = Some(sha256);
                    self.finished = true;
                }
                Ok(Message::Failed(error)) => {
                    self.finished = true;
                    return Some(Err(StreamError::Input(error)));
                }
                // Nothing yet (a pipe that waits): give up only when the run is stopping.
                Err(RecvTimeoutError::Timeout)
                    if self.on_stop == OnStop::StopWaiting && self.stop.is_requested() =>
                {
                    self.finished = true;
                    return Some(Err(StreamError::Stopped));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records near the record ceiling travel a few to a message, so what waits between the
    /// threads is bounded by bytes, not by `BATCH` records of up to 1 MB each.
    #[test]
    fn large_records_travel_in_batches_bounded_by_bytes() {
        let nickname = "n".repeat(100 * 1024);
        let mut text = String::from("user_id,type,email,nickname\n");
        for i in 0..40 {
            text.push_str(&format!(
                "00000000-0000-4000-8000-{i:012},EMAIL,u{i}@example.com,{nickname}\n"
            ));
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let reader = InputReader::open(file.path(), b',').unwrap();
        let (checker, _) =
            crate::validate::split(reader.header().clone(), crate::validate::Rules::default());
        let (sender, receiver) = sync_channel(1000);
        read_and_check(reader, checker, Arc::new(Stop::default()), sender);
        let mut records = 0;
        for message in receiver {
            let Message::Rows(batch) = message else {
                continue;
            };
            let bytes: usize = batch.iter().map(|(r, _)| r.raw.as_slice().len()).sum();
            assert!(
                bytes < BATCH_BYTES + 101 * 1024,
                "{} records, {bytes} bytes in one message",
                batch.len()
            );
            records += batch.len();
        }
        assert_eq!(records, 40, "every record arrives");
    }
}
