//! report.html: the run on one page, for the meeting where a migration is reported. Written
//! at the end of every run (stopped ones included), every resume, every merge, and after a
//! refusal once `--out` exists; `mfa-enroll report DIR` writes it again from a finished
//! directory. It is one self-contained file: inline CSS, charts as inline SVG drawn here
//! (`charts`), no script, and a Content-Security-Policy that forbids every fetch, so it
//! opens the same from a USB stick, an e-mail or an air-gapped laptop. Mode 600, like the
//! other outputs: it names users.
//!
//! The page is an askama template (`report.html`, `style.css` beside this file), which
//! escapes every value: usernames, types and PingOne's messages are text, never markup.
//! Phone numbers and emails in messages are masked as in the logs. `after.rs` (`after.html`)
//! is the page of a `verify` or an `undo`.

mod advice;
pub(crate) mod after;
mod charts;
mod examples;
mod format;
mod outcomes;
mod tables;
mod view;

use std::path::{Path, PathBuf};

use askama::Template;

use crate::record::lock;
use crate::record::read_back::{self, SummaryProblem};
use crate::record::summary::{now_rfc3339, Summary};
use crate::record::timeline::{Timeline, TIMELINE_FILE};
use crate::record::writer::write_whole;
use crate::record::{OutputError, RESULTS_FILE, SUMMARY_FILE};
use view::Extras;

pub(crate) const REPORT_FILE: &str = "report.html";

/// Why `mfa-enroll report DIR` wrote nothing (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: {problem}: no summary.json that mfa-enroll can read; give the --out directory of a run or a merge", dir.display())]
    NoSummary { dir: PathBuf, problem: String },
    #[error("{}: this run has not finished (it is still running, or it was killed); run it again with --resume, and its report is written when it ends", dir.display())]
    Unfinished { dir: PathBuf },
}

fn render(dir: &Path, summary: &Summary, extras: Extras<'_>) -> Result<PathBuf, OutputError> {
    let path = dir.join(REPORT_FILE);
    let page = view::page(summary, extras);
    let html = page
        .render()
        .map_err(|e| OutputError::io(&path, std::io::Error::other(e)))?;
    write_whole(&path, html.as_bytes())?;
    Ok(path)
}

/// The report of a finished run or merge in `dir`, whose results.csv is complete.
pub(crate) fn write(
    dir: &Path,
    summary: &Summary,
    timeline: Option<&Timeline>,
) -> Result<PathBuf, OutputError> {
    // The examples are a view: without them the report still lists each code's lines.
    let examples = examples::read(dir, summary).unwrap_or_default();
    let extras = Extras {
        timeline,
        examples,
        refusal: None,
        written_at: now_rfc3339(),
    };
    render(dir, summary, extras)
}

/// The report of a run refused after its `--out` was made: nothing was sent, and it says why.
pub(crate) fn write_refusal(
    dir: &Path,
    summary: &Summary,
    message: &str,
) -> Result<PathBuf, OutputError> {
    let extras = Extras {
        timeline: None,
        examples: Default::default(),
        refusal: Some(message),
        written_at: now_rfc3339(),
    };
    render(dir, summary, extras)
}

/// `mfa-enroll report DIR`: writes DIR/report.html again from what a finished run or merge
/// left there, and returns its path.
pub(crate) fn rewrite(dir: &Path) -> Result<PathBuf, ReportError> {
    let no_summary = |problem: String| ReportError::NoSummary {
        dir: dir.to_path_buf(),
        problem,
    };
    if std::fs::symlink_metadata(dir.join(SUMMARY_FILE)).is_err() {
        return Err(no_summary(SummaryProblem::Missing.to_string()));
    }
    // What is read is read as --resume and merge read it (a regular file, within a bound,
    // never a wait on a fifo); what is written is written new, never through a link.
    crate::files::check_dir(dir, &[REPORT_FILE], &[lock::LOCK_FILE], &[])
        .map_err(OutputError::from)?;
    for name in [RESULTS_FILE, TIMELINE_FILE] {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            crate::bounded::open_own(&path).map_err(|e| OutputError::io(&path, e))?;
        }
    }
    // A run that starts meanwhile would rewrite what is read here.
    let _lock = lock::acquire(dir)?;
    let summary = read_back::summary(dir).map_err(|e| no_summary(e.to_string()))?;
    if !summary.finished {
        return Err(ReportError::Unfinished {
            dir: dir.to_path_buf(),
        });
    }
    let timeline = Timeline::read(dir);
    Ok(write(dir, &summary, timeline.as_ref())?)
}
