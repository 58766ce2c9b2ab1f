//! The one writer of results.csv and errors.csv. Results arrive over a channel from any task;
//! a thread of its own writes them and flushes after every batch, so each row is on disk
//! (in the OS's hands) moments after it completes, and a crash loses at most what was in flight.
//!
//! The rows counted are the rows on disk: a batch counts once both files took it whole. When
//! a write fails (a full disk, a file size limit), both files are cut back to the end of the
//! last whole batch, so no torn row is left, and the counts the summary gets are those of the
//! rows the files hold; the rows cut off are redone by `--resume`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use csv::ByteRecord;

pub(crate) use super::tallies::Tallies;
use super::LiveCounters;
use super::{Outcome, OutputError, ResultRow, RowResult, ERRORS_FILE, RESULTS_FILE};
use crate::budget::ByteBudget;
use crate::codes::Code;
use crate::failpoints::failpoint;
use crate::input::REPORT_COLUMNS;
use crate::logging::{mask_destination, LogSafe};
use crate::stop::{Stop, StopReason};
use crate::validate::PROBLEM_SEPARATOR;

/// Results waiting for the writer at most: a fast producer (an offline dry run) waits for
/// the disk instead of queueing the whole file in memory.
const PENDING_ROWS: usize = 4096;
/// The bytes of results waiting for the writer at most (their records included): rows near
/// the 1 MB record ceiling wait a few at a time, not [`PENDING_ROWS`] of them.
const PENDING_BYTES: usize = 16 * 1024 * 1024;

/// A result smaller than this waits by count alone: [`PENDING_ROWS`] of them are a few MB.
const SMALL_RESULT: usize = 4096;

/// What a result holds in memory while it waits, about (its record and its message), when
/// it is large enough to count: a usual row takes nothing from the budget, and no lock.
fn pending_bytes(result: &RowResult) -> usize {
    let bytes = result.raw.as_slice().len() + result.row.error_message.len();
    if bytes < SMALL_RESULT {
        0
    } else {
        bytes
    }
}
/// A batch smaller than this was a trickle: wait [`GATHER_FOR`] before the next.
const GATHER_BELOW: usize = 256;
const GATHER_FOR: std::time::Duration = std::time::Duration::from_millis(2);

/// Where results go; cheap to clone into every task.
#[derive(Clone)]
pub(crate) struct RecorderHandle {
    /// `None` tells the writer that every row is in: it ends even while tasks that are
    /// finishing up still hold a handle.
    sender: mpsc::SyncSender<Option<RowResult>>,
    pending: Arc<ByteBudget>,
}

impl RecorderHandle {
    pub(crate) fn record(&self, result: RowResult) {
        self.pending.take(pending_bytes(&result));
        // Fails only once the writer has stopped after a disk error, which has already
        // stopped the run; the row will be redone by --resume.
        if let Err(mpsc::SendError(Some(result))) = self.sender.send(Some(result)) {
            self.pending.give(pending_bytes(&result));
        }
    }
}

/// The results writer: its thread, and the handle rows reach it through.
pub(crate) struct Recorder {
    handle: RecorderHandle,
    thread: JoinHandle<Written>,
}

/// What the writer put on disk: the counts of the rows the files hold, and why it stopped
/// writing, if it did.
pub(crate) struct Written {
    pub(crate) tallies: Tallies,
    pub(crate) failure: Option<OutputError>,
    /// Both files hold their rows in line order already (every row came after the one
    /// before it, and nothing was there before): nothing to sort, nor to check, at the end.
    pub(crate) in_line_order: bool,
}

/// A file that counts what reached it, and refuses every write after one failed, so nothing
/// buffered lands after the file has been cut back to its last whole batch.
struct Guarded {
    file: File,
    /// Bytes in the file, as far as this writer's writes took it.
    len: u64,
    /// A `Cell`, so that the writer thread can mark it through csv's shared reference.
    failed: std::cell::Cell<bool>,
}

impl Guarded {
    fn new(path: &Path, file: File) -> Result<Guarded, OutputError> {
        let len = file.metadata().map_err(|e| OutputError::io(path, e))?.len();
        Ok(Guarded {
            file,
            len,
            failed: std::cell::Cell::new(false),
        })
    }
}

impl Write for Guarded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed.get() {
            return Err(io::Error::other("an earlier write to this file failed"));
        }
        failpoint!("results-write", |_| {
            self.failed.set(true);
            Err(io::ErrorKind::StorageFull.into())
        });
        match self.file.write(buf) {
            Ok(n) => {
                self.len += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed.set(true);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// results.csv or errors.csv as the writer thread holds it.
type CsvFile = csv::Writer<BufWriter<Guarded>>;

/// How errors.csv repeats the input: its header minus an earlier report's own columns.
#[derive(Debug, Clone)]
pub(crate) struct ErrorsLayout {
    pub(crate) input_header: ByteRecord,
    pub(crate) carried: Vec<usize>,
}

/// Creates an output directory (and its parents) readable by its owner only; an `--out` that
/// names a file is refused.
pub(crate) fn private_dir(dir: &Path) -> Result<(), OutputError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.exists() && !dir.is_dir() {
        return Err(OutputError::OutIsAFile {
            path: dir.to_path_buf(),
        });
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| OutputError::io(dir, e))
}

/// Writes a whole file through a temporary one and a rename ([`crate::files::write_whole`]).
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    Ok(crate::files::write_whole(path, bytes)?)
}

/// Flushes a CSV writer's buffer and syncs its file to disk.
pub(crate) fn finish_synced(
    writer: csv::Writer<BufWriter<File>>,
    path: &Path,
) -> Result<(), OutputError> {
    let file = writer
        .into_inner()
        .map_err(|e| OutputError::io(path, e.into_error()))?;
    file.into_inner()
        .map_err(|e| OutputError::io(path, e.into_error()))?
        .sync_all()
        .map_err(|e| OutputError::io(path, e))
}

impl Recorder {
    /// Starts the writer. With `append`, results.csv (already compacted by the resume) grows;
    /// errors.csv is always written anew, since it lists what is still wrong.
    pub(crate) fn start(
        out_dir: &Path,
        layout: ErrorsLayout,
        append: bool,
        counters: Arc<LiveCounters>,
        stop: Arc<Stop>,
    ) -> Result<Recorder, OutputError> {
        let results_path = out_dir.join(RESULTS_FILE);
        let errors_path = out_dir.join(ERRORS_FILE);
        // A fresh results.csv is created new; a resumed one (rewritten new by the resume)
        // grows in place. errors.csv is always a new file: the old one may be someone's copy.
        let results_exists = crate::files::inspect(&results_path)?.is_some();
        let results_file = if append && results_exists {
            crate::files::open_to_append(&results_path)?
        } else {
            crate::files::create_new(&results_path)?
        };
        let mut results = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(BufWriter::new(Guarded::new(&results_path, results_file)?));
        if !(append && results_exists) {
            results
                .write_record(ResultRow::header())
                .map_err(|e| OutputError::csv(&results_path, e))?;
        }
        let mut errors = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BufWriter::new(Guarded::new(
                &errors_path,
                crate::files::replace_with_new(&errors_path)?,
            )?));
        let mut header = ByteRecord::new();
        for &i in &layout.carried {
            header.push_field(layout.input_header.get(i).unwrap_or_default());
        }
        for column in REPORT_COLUMNS {
            header.push_field(column.as_bytes());
        }
        errors
            .write_byte_record(&header)
            .map_err(|e| OutputError::csv(&errors_path, e))?;
        let flush_all = |results: &mut CsvFile, errors: &mut CsvFile| {
            results
                .flush()
                .map_err(|e| OutputError::io(&results_path, e))?;
            errors.flush().map_err(|e| OutputError::io(&errors_path, e))
        };
        flush_all(&mut results, &mut errors)?;

        let (sender, receiver) = mpsc::sync_channel::<Option<RowResult>>(PENDING_ROWS);
        let pending = Arc::new(ByteBudget::new(PENDING_BYTES));
        let mut files = Files {
            results,
            errors,
            results_path,
            errors_path,
            layout,
            error_row: ByteRecord::new(),
            whole: (0, 0),
            last_line: 0,
            in_line_order: !(append && results_exists),
        };
        files.commit();
        let thread = std::thread::Builder::new()
            .name("results-writer".into())
            .spawn({
                let pending = pending.clone();
                move || write_loop((receiver, &pending), files, counters, stop)
            })
            .map_err(|e| OutputError::io(out_dir, e))?;
        Ok(Recorder {
            handle: RecorderHandle { sender, pending },
            thread,
        })
    }

    pub(crate) fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Waits until every result sent so far is on disk, and returns what is there.
    pub(crate) fn finish(self) -> Written {
        let _ = self.handle.sender.send(None);
        self.thread.join().unwrap_or(Written {
            tallies: Tallies::default(),
            failure: Some(OutputError::WriterCrashed),
            in_line_order: false,
        })
    }
}

/// The two files the writer thread owns.
struct Files {
    results: CsvFile,
    errors: CsvFile,
    results_path: PathBuf,
    errors_path: PathBuf,
    layout: ErrorsLayout,
    error_row: ByteRecord,
    /// Where each file ended after the last batch both took whole.
    whole: (u64, u64),
    /// The line of the row written last, and whether every row so far came after the one
    /// before it (an offline dry run writes in file order; a run that sends rarely does).
    last_line: u64,
    in_line_order: bool,
}

impl Files {
    fn write(&mut self, result: &RowResult) -> Result<(), OutputError> {
        let row = &result.row;
        self.in_line_order &= self.last_line < row.line;
        self.last_line = row.line;
        self.results
            .serialize(row)
            .map_err(|e| OutputError::csv(&self.results_path, e))?;
        if !row.is_problem() {
            return Ok(());
        }
        let error_row = &mut self.error_row;
        error_row.clear();
        for &i in &self.layout.carried {
            error_row.push_field(result.raw.get(i).unwrap_or_default());
        }
        error_row.push_field(row.line.to_string().as_bytes());
        error_row.push_field(row.error_code.as_ref().map_or("", Code::as_str).as_bytes());
        error_row.push_field(row.error_message.as_bytes());
        error_row.push_field(row.pingone_error_id.as_bytes());
        let original_line = row.original_line.map(|line| line.to_string());
        error_row.push_field(original_line.unwrap_or_default().as_bytes());
        self.errors
            .write_byte_record(error_row)
            .map_err(|e| OutputError::csv(&self.errors_path, e))
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.results
            .flush()
            .map_err(|e| OutputError::io(&self.results_path, e))?;
        self.errors
            .flush()
            .map_err(|e| OutputError::io(&self.errors_path, e))?;
        // A file moved away mid-run would take every later row with it unnoticed, and the
        // directory would hold no record of them: each batch checks that the paths still
        // name the files written (a stat each, per batch of rows).
        self.still_named(true, &self.results_path)?;
        self.still_named(false, &self.errors_path)
    }

    /// Whether `path` still names the file this writer writes (same device and inode).
    fn still_named(&self, results: bool, path: &Path) -> Result<(), OutputError> {
        use std::os::unix::fs::MetadataExt;
        let open = self.guarded(results).file.metadata();
        let named = std::fs::symlink_metadata(path);
        match (open, named) {
            (Ok(open), Ok(named)) if (open.dev(), open.ino()) == (named.dev(), named.ino()) => {
                Ok(())
            }
            _ => Err(OutputError::MovedAway {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Both files took everything so far: this is where they end whole.
    fn commit(&mut self) {
        self.whole = (self.guarded(true).len, self.guarded(false).len);
    }

    fn guarded(&self, results: bool) -> &Guarded {
        let writer = if results { &self.results } else { &self.errors };
        writer.get_ref().get_ref()
    }

    /// After a failed write: no more writes reach either file, and each is cut back to where
    /// it ended whole, so no torn row is left. Cutting frees space; it works on a full disk.
    fn cut_back(&self) {
        for (results, len, path) in [
            (true, self.whole.0, &self.results_path),
            (false, self.whole.1, &self.errors_path),
        ] {
            let file = self.guarded(results);
            file.failed.set(true);
            if let Err(e) = file.file.set_len(len).and_then(|()| file.file.sync_data()) {
                tracing::error!(
                    "{}: cannot cut back to its last whole row: {e}",
                    path.display()
                );
            }
        }
    }
}

fn write_loop(
    (receiver, pending): (mpsc::Receiver<Option<RowResult>>, &ByteBudget),
    mut files: Files,
    counters: Arc<LiveCounters>,
    stop: Arc<Stop>,
) -> Written {
    // The rows both files hold whole, and those of the batch being written.
    let mut tallies = Tallies::default();
    let mut batch_tallies = Tallies::default();
    let mut not_attempted = 0u64;
    let mut failure: Option<OutputError> = None;
    let mut cut_back = false;
    let mut all_in = false;
    while !all_in {
        let Ok(first) = receiver.recv() else { break };
        // Take everything already waiting, write it, then flush once.
        let mut written = 0usize;
        for result in std::iter::once(first).chain(receiver.try_iter()) {
            let Some(result) = result else {
                all_in = true;
                break;
            };
            written += 1;
            // Taken off the queue: its bytes are the writer's now, and leave with it below.
            pending.give(pending_bytes(&result));
            if failure.is_some() {
                continue;
            }
            let row = &result.row;
            batch_tallies.add(row, result.sends_message);
            counters.add(row.outcome);
            if row.error_code == Some(Code::NotAttempted) {
                // One line for all of them at the end, not one per row.
                not_attempted += 1;
                counters.not_attempted.fetch_add(1, Ordering::Relaxed);
            } else {
                batch_tallies.last_done_at = Some(std::time::Instant::now());
                if row.is_problem() {
                    log_problem(row);
                }
            }
            failure = files.write(&result).err();
        }
        if failure.is_none() {
            failure = files.flush().err();
        }
        if failure.is_none() {
            files.commit();
            tallies.merge(&batch_tallies);
        } else if !cut_back {
            // This batch did not reach the disk whole: it is cut off, and not counted.
            files.cut_back();
            cut_back = true;
        }
        batch_tallies = Tallies::default();
        if written < GATHER_BELOW {
            // Let a few more rows gather: waking for every row of a fast run costs more in
            // system calls than the rows themselves. A row waits at most this long for disk.
            std::thread::sleep(GATHER_FOR);
        }
        if let Some(f) = &failure {
            if !stop.is_requested() {
                tracing::error!("cannot write the results: {f}");
                stop.request(StopReason::OutputBroken(f.to_string()));
            }
        }
    }
    if not_attempted > 0 {
        tracing::warn!(
            rows = not_attempted,
            "{} not attempted because the run stopped first; --resume sends them",
            crate::words::count(not_attempted, "row was", "rows were")
        );
    }
    Written {
        tallies,
        failure,
        in_line_order: files.in_line_order,
    }
}

/// One log line per problem row, with its line and code; destinations masked, in the
/// message too, where a value without an `@` would not be recognised as an address.
fn log_problem(r: &ResultRow) {
    // The policy the run lacks was said once, in its first lines (`RunContext::announce`):
    // a row whose only problem it is goes unlogged, and a row with others logs those alone,
    // or one line per row would bury every other problem. results.csv keeps them all.
    if matches!(r.error_code, Some(Code::MissingPolicy)) {
        return;
    }
    let run_wide = format!("{}: ", Code::MissingPolicy.as_str());
    let own: Vec<&str> = r
        .error_message
        .split(PROBLEM_SEPARATOR)
        .filter(|problem| !problem.starts_with(&run_wide))
        .collect();
    let own = own.join(PROBLEM_SEPARATOR);
    let destination = mask_destination(&r.destination);
    let quoted = if r.destination.is_empty() {
        own
    } else {
        own.replace(&r.destination, &destination)
    };
    let message = LogSafe(&quoted);
    let code = r.error_code.as_ref().map_or("", Code::as_str);
    if r.outcome == Outcome::Invalid {
        tracing::info!(line = r.line, code, destination = %destination, "row invalid: {message}");
    } else {
        tracing::warn!(line = r.line, code, destination = %destination, "row failed: {message}");
    }
}
