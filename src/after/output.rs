//! Where `verify` and `undo` write: their own output directory (by default inside the run's),
//! created readable by its owner only and locked; the CSV (verify.csv, undo.csv) written a
//! row at a time as each row completes, flushed so a crash loses nothing recorded, and put in
//! line order at the end; `--resume` keeps the rows that are done and redoes the rest;
//! summary.json written whole.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::AfterError;
use crate::files::{create_new, Staged};
use crate::pingone::RequestStats;
use crate::record::line_order::put_in_line_order;
use crate::record::lock::{self, OutDirLock};
use crate::record::read_back::RowReader;
use crate::record::row::header_of;
use crate::record::summary::Target;
use crate::record::writer::{private_dir, write_whole};
use crate::record::{OutputError, SUMMARY_FILE};

/// A row of verify.csv or undo.csv.
pub(crate) trait AfterRow: Serialize + DeserializeOwned + Default {
    fn line(&self) -> u64;
    /// Its state or outcome, as the CSV and the summary name it.
    fn label(&self) -> &'static str;
    /// A resume leaves it alone (a failed read or delete is done again).
    fn is_done(&self) -> bool;
}

/// The output directory, locked while this command writes it.
pub(crate) struct OutDir {
    pub(crate) dir: PathBuf,
    _lock: OutDirLock,
}

/// Creates (or, with `--resume`, reopens) the output directory and locks it; `file` already
/// there without `--resume` is an earlier record and is never overwritten.
pub(crate) fn open_dir(dir: &Path, file: &str, resume: bool) -> Result<OutDir, AfterError> {
    if resume && !dir.join(file).is_file() {
        return Err(AfterError::NothingToResume {
            dir: dir.to_path_buf(),
            file: file.to_string(),
        });
    }
    private_dir(dir)?;
    let lock = lock::acquire(dir)?;
    if !resume && dir.join(file).exists() {
        return Err(AfterError::WouldOverwrite {
            path: dir.join(file),
        });
    }
    Ok(OutDir {
        dir: dir.to_path_buf(),
        _lock: lock,
    })
}

/// The CSV being written, and what it holds so far.
pub(crate) struct Sink<R> {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    /// Lines a resumed file already holds as done.
    pub(crate) done: HashSet<u64>,
    /// Rows per label, the kept ones included.
    pub(crate) counts: BTreeMap<&'static str, u64>,
    _row: std::marker::PhantomData<R>,
}

impl<R: AfterRow> Sink<R> {
    /// A new file, or with `resume` the earlier file's done rows kept (rewritten through a
    /// temporary file and a rename, so a crash leaves the old file whole) and appended to.
    pub(crate) fn open(path: &Path, resume: bool) -> Result<Sink<R>, AfterError> {
        let mut done = HashSet::new();
        let mut counts = BTreeMap::new();
        let file = if resume {
            keep_done::<R>(path, &mut done, &mut counts)?
        } else {
            create_new(path).map_err(OutputError::from)?
        };
        let mut sink = Sink {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(BufWriter::new(file)),
            done,
            counts,
            _row: std::marker::PhantomData,
        };
        if !resume {
            sink.writer
                .write_record(header_of::<R>())
                .map_err(|e| OutputError::csv(path, e))?;
        }
        sink.writer.flush().map_err(|e| OutputError::io(path, e))?;
        Ok(sink)
    }

    /// Records one row, on disk before the next is taken.
    pub(crate) fn write(&mut self, row: &R) -> Result<(), AfterError> {
        *self.counts.entry(row.label()).or_default() += 1;
        self.writer
            .serialize(row)
            .map_err(|e| OutputError::csv(&self.path, e))?;
        self.writer
            .flush()
            .map_err(|e| OutputError::io(&self.path, e))?;
        Ok(())
    }

    /// Flushes, syncs, and puts the file in line order.
    pub(crate) fn finish(self) -> Result<BTreeMap<&'static str, u64>, AfterError> {
        let file = self
            .writer
            .into_inner()
            .map_err(|e| OutputError::io(&self.path, e.into_error()))?
            .into_inner()
            .map_err(|e| OutputError::io(&self.path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| OutputError::io(&self.path, e))?;
        put_in_line_order(&self.path)?;
        Ok(self.counts)
    }
}

/// The earlier file's done rows into a new file, which replaces it; returns that file open
/// for appending. A torn last row (a crash mid-write) is not a row.
fn keep_done<R: AfterRow>(
    path: &Path,
    done: &mut HashSet<u64>,
    counts: &mut BTreeMap<&'static str, u64>,
) -> Result<File, AfterError> {
    // A fresh temporary file beside it, renamed over it: never written through a link.
    let mut staged = Staged::new(path).map_err(OutputError::from)?;
    let temporary = staged.path().to_path_buf();
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(BufWriter::new(staged.file()));
    writer
        .write_record(header_of::<R>())
        .map_err(|e| OutputError::csv(&temporary, e))?;
    if let Some(mut reader) = RowReader::open(path)? {
        let mut record = ByteRecord::new();
        while let Some((_, number)) = reader.next(&mut record)? {
            let row: R =
                record
                    .deserialize(Some(reader.header()))
                    .map_err(|e| OutputError::Damaged {
                        path: path.to_path_buf(),
                        row: number,
                        problem: format!("cannot be read ({e})"),
                    })?;
            if row.is_done() && done.insert(row.line()) {
                *counts.entry(row.label()).or_default() += 1;
                writer
                    .serialize(&row)
                    .map_err(|e| OutputError::csv(&temporary, e))?;
            }
        }
    }
    writer
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.into_error()))?;
    // Committed (synced, renamed into place), it stays open at its end for the rows to come.
    Ok(staged.commit().map_err(OutputError::from)?)
}

/// summary.json's `requests` for `verify` and `undo`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Requests {
    pub(crate) total: u64,
    pub(crate) get: u64,
    pub(crate) delete: u64,
    pub(crate) put: u64,
    pub(crate) post: u64,
    pub(crate) retries: u64,
    pub(crate) throttled_429: u64,
}

impl Requests {
    pub(crate) fn of(stats: &RequestStats) -> Requests {
        let get = RequestStats::get;
        Requests {
            total: get(&stats.requests),
            get: get(&stats.gets),
            delete: get(&stats.deletes),
            put: get(&stats.puts),
            post: get(&stats.posts),
            retries: get(&stats.retries),
            throttled_429: get(&stats.throttled),
        }
    }
}

/// summary.json of a `verify` or an `undo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AfterSummary {
    pub(crate) tool_version: String,
    /// `verify`, `undo` or `undo --dry-run`.
    pub(crate) command: String,
    pub(crate) run_dir: String,
    pub(crate) target: Target,
    pub(crate) started_at: String,
    pub(crate) finished_at: String,
    pub(crate) duration_s: f64,
    /// Every candidate row has its outcome; `false` after a stop (resume it).
    pub(crate) finished: bool,
    pub(crate) exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stopped_early: Option<String>,
    /// Rows in verify.csv or undo.csv.
    pub(crate) rows: u64,
    /// verify: rows per state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) states: Option<BTreeMap<String, u64>>,
    /// undo: rows per outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) outcomes: Option<BTreeMap<String, u64>>,
    /// undo --restore-mfa: users whose MFA was switched off again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mfa_switched_off: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) notices: Vec<String>,
    pub(crate) requests: Requests,
}

impl AfterSummary {
    pub(crate) fn write(&self, dir: &Path) -> Result<(), AfterError> {
        let path = dir.join(SUMMARY_FILE);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| OutputError::io(&path, std::io::Error::other(e)))?;
        text.push('\n');
        Ok(write_whole(&path, text.as_bytes())?)
    }
}
