//! The page of a `verify` or an `undo` (`after.html`): the verdict, rows by state or outcome,
//! and tables of the rows to look at (those that no longer hold, the oldest pending
//! activations; for undo, those kept or failed). The caller (`crate::after`) fills it with
//! plain values, so this layer needs nothing of the commands' own types. Mode 600: it names
//! users.

use std::path::{Path, PathBuf};

use askama::Template;

use super::REPORT_FILE;
use crate::record::summary::now_rfc3339;
use crate::record::writer::write_whole;
use crate::record::OutputError;

/// One row in one of the page's tables.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageRow {
    pub(crate) line: u64,
    pub(crate) user: String,
    pub(crate) device_type: String,
    pub(crate) device_id: String,
    pub(crate) label: String,
    pub(crate) detail: String,
}

/// A table of rows, the first few of many.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageTable {
    pub(crate) title: String,
    pub(crate) rows: Vec<PageRow>,
    /// Rows of this kind past those shown.
    pub(crate) more: u64,
}

#[derive(Template)]
#[template(path = "after.html")]
pub(crate) struct AfterPage {
    pub(crate) title: String,
    /// `verify`, `undo` or `undo --dry-run`.
    pub(crate) command: String,
    pub(crate) subtitle: String,
    pub(crate) verdict: String,
    /// `state` or `outcome`.
    pub(crate) label: String,
    pub(crate) counts: Vec<(String, u64)>,
    pub(crate) requests: String,
    pub(crate) tables: Vec<PageTable>,
    pub(crate) written_at: String,
    pub(crate) version: &'static str,
}

impl AfterPage {
    /// A page written now by this version.
    pub(crate) fn stamp(mut self) -> Self {
        self.written_at = now_rfc3339();
        self.version = env!("CARGO_PKG_VERSION");
        self
    }
}

/// Writes `dir/report.html`, whole, readable by its owner only.
pub(crate) fn write(dir: &Path, page: &AfterPage) -> Result<PathBuf, OutputError> {
    let path = dir.join(REPORT_FILE);
    let html = page
        .render()
        .map_err(|e| OutputError::io(&path, std::io::Error::other(e)))?;
    write_whole(&path, html.as_bytes())?;
    Ok(path)
}
