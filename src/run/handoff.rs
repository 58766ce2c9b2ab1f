//! What one stage hands the next. Each stage returns one of these and the next takes it, so
//! no stage imports another: `prepare` -> [`OutputDir`], `survey` -> [`Surveyed`] (the spooled
//! [`Rows`] and the [`InputFacts`]), `execute` -> [`Executed`], which `finish` turns into the
//! summary and the exit status.

use std::path::PathBuf;
use std::sync::Arc;

use super::error::RunError;
use super::notices::PolicyRows;
use crate::config::Settings;
use crate::dispatch::later::LaterRows;
use crate::dispatch::Engine;
use crate::input::{InputReader, InputSource};
use crate::pingone::{Client, RequestStats};
use crate::record::lock::OutDirLock;
use crate::record::record_lines::RecordLines;
use crate::record::resume::Finished;
use crate::record::summary::{QuotaPlan, Summary};
use crate::record::timeline::Timeline;
use crate::record::Tallies;
use crate::sandbox::Sandbox;
use crate::shard::Assignment;
use crate::validate::repeats::Repeats;

/// Stage 1's result: the output directory, locked, with what an earlier run left in it.
pub(crate) struct OutputDir {
    pub(crate) dir: PathBuf,
    pub(super) _lock: OutDirLock,
    /// results.csv of an earlier run is there (only with --resume).
    pub(crate) has_results: bool,
    /// The earlier run's summary, on --resume.
    pub(crate) earlier: Option<Summary>,
    /// The rows the earlier run finished (empty without one).
    pub(crate) finished: Finished,
    /// `replace`: the removals earlier runs journaled (only with --resume).
    pub(crate) journaled: Vec<crate::record::journal::Removal>,
}

/// The copy of the input in the output directory: personal data, so readable by its owner
/// only, and removed when the run ends (a killed run leaves it for the next run to replace).
pub(crate) const SPOOL_FILE: &str = ".input-spool.csv";

/// The spool ([`SPOOL_FILE`]), removed when this is dropped.
pub(crate) struct Spool(pub(super) PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where stage 3 reads the rows: the spool of the surveyed input.
pub(crate) struct Rows(pub(super) Spool);

impl Rows {
    /// Opens what stage 3 reads; messages still name the user's input. Keep the spool until
    /// the reader is done with it.
    pub(crate) fn open(self, settings: &Settings) -> Result<(InputReader, Spool), RunError> {
        let Rows(spool) = self;
        let source = InputSource::File(spool.0.clone());
        let reader = InputReader::from_source(&source, settings.delimiter, false)?
            .named(settings.input.display_path());
        Ok((reader, spool))
    }
}

/// What a survey learned of the input.
#[derive(Debug, Clone, Default)]
pub(crate) struct InputFacts {
    /// Records after the header.
    pub(crate) records: Option<u64>,
    pub(crate) sha256: Option<String>,
    /// The lines the records start on.
    pub(crate) lines: Option<RecordLines>,
    /// `--shard`: how this shard tells its rows from the others'.
    pub(crate) assignment: Option<Assignment>,
    /// The lines that may repeat an earlier row: the only ones stage 3's duplicate check
    /// has to remember.
    pub(crate) repeats: Repeats,
    /// Which rows have a later row of their user, and where each way of naming users ends.
    pub(crate) later: LaterRows,
    /// `on_existing = "replace"` (a run that sends): the users' groups of rows.
    pub(crate) groups: Option<std::sync::Arc<crate::dispatch::groups::ReplaceGroups>>,
    /// A run that sends: the rows that may create a device, by policy (the new-device
    /// notices' guard reads those policies).
    pub(crate) policies: PolicyRows,
}

/// Stage 2's result: the whole input, spooled and surveyed, or a stop before its end.
pub(crate) enum Surveyed {
    /// The whole input was read: its rows, spooled, and what was learned of them.
    Whole { rows: Rows, facts: Box<InputFacts> },
    /// A signal came while reading; nothing was sent.
    Stopped,
}

/// Stage 3's result: what was sent and recorded, for stage 4 to summarise.
pub(crate) struct Executed {
    /// The summary as written when sending began.
    pub(crate) summary: Summary,
    /// This run's rows (rows finished by an earlier run are not in here).
    pub(crate) tallies: Tallies,
    /// The tallies are those of the rows written (false only when the writer crashed).
    pub(crate) tallies_known: bool,
    /// results.csv and errors.csv were written in line order: nothing to sort at the end.
    pub(crate) in_line_order: bool,
    pub(crate) stats: Arc<RequestStats>,
    pub(crate) client: Option<Arc<Client>>,
    pub(crate) engine: Option<Arc<Engine>>,
    pub(crate) sandbox: Option<Sandbox>,
    /// When rows began to flow: the start of the time spent sending.
    pub(crate) sending_from: std::time::Instant,
    /// The run over time, for the report.
    pub(crate) timeline: Option<Timeline>,
    /// An online dry run: its messages against the daily quotas, and why the notification
    /// policy's are missing when they are.
    pub(crate) quotas: Option<(Vec<QuotaPlan>, Option<String>)>,
}
