//! Stage 2: read and validate the whole input once before anything is sent. It counts the
//! records (the progress total), the rows that would message users, and hashes the input;
//! and it copies the input into a spool in the output directory, so that the next stage
//! reads the very bytes that were checked, also when the input was a pipe or standard input.
//!
//! An offline dry run that resumes nothing needs no survey: it reads the input once, in
//! stage 3.

use std::path::PathBuf;
use std::sync::Arc;

use super::prepare::OutputDir;
use super::RunError;
use crate::config::{RunMode, Settings};
use crate::input::{InputReader, InputSource};
use crate::model::UserRef;
use crate::output::writer::private_file;
use crate::sandbox::SANDBOX_POLICY_ID;
use crate::shard::{Assignment, KeyedBy};
use crate::stop::Stop;
use crate::validate::stream::{StreamError, ValidatedRows};
use crate::validate::{self, Rules};

/// The copy of the input in the output directory: personal data, so readable by its owner
/// only, and removed when the run ends (a killed run leaves it for the next run to replace).
pub const SPOOL_FILE: &str = ".input-spool.csv";

/// Removes the spool when dropped.
pub struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where stage 3 reads the rows.
pub enum Rows {
    /// The spool of a surveyed input.
    Spool(Spool),
    /// The input itself, read for the first and only time.
    Input(Box<InputReader>),
}

pub struct Survey {
    pub rows: Rows,
    pub facts: InputFacts,
}

/// What a survey learned of the input; nothing when it was not surveyed.
#[derive(Debug, Clone, Default)]
pub struct InputFacts {
    /// Records after the header.
    pub records: Option<u64>,
    pub sha256: Option<String>,
    /// `--shard`: how this shard tells its rows from the others'.
    pub assignment: Option<Assignment>,
}

impl Survey {
    pub fn single_pass(input: Box<InputReader>) -> Survey {
        Survey {
            rows: Rows::Input(input),
            facts: InputFacts::default(),
        }
    }
}

pub enum Surveyed {
    Whole(Survey),
    /// Not needed: stage 3 reads the input.
    Skipped(Box<InputReader>),
    /// A signal came while reading; nothing was sent.
    Stopped,
}

pub fn is_needed(settings: &Settings) -> bool {
    // A shard must see how the whole file names its users before keeping any row.
    settings.mode.sends_requests() || settings.resume || settings.shard.is_some()
}

/// The defaults a row falls back on.
pub fn rules_for(settings: &Settings) -> Rules {
    let sandbox_policy = settings
        .use_sandbox
        .then(|| uuid::Uuid::parse_str(SANDBOX_POLICY_ID).ok())
        .flatten();
    Rules {
        default_policy: settings.enroll.policy_id.or(sandbox_policy),
        default_status: settings.enroll.status,
        default_country: settings.enroll.default_country,
    }
}

pub fn survey(
    settings: &Settings,
    mut input: InputReader,
    out: &OutputDir,
    stop: &Arc<Stop>,
) -> Result<Surveyed, RunError> {
    if !is_needed(settings) {
        return Ok(Surveyed::Skipped(Box::new(input)));
    }
    let spool_path = out.dir.join(SPOOL_FILE);
    let spool = Spool(spool_path.clone());
    input.copy_to(private_file(&spool_path, false)?)?;
    let (checker, finisher) = validate::split(input.header().clone(), rules_for(settings));
    let mut rows = ValidatedRows::start(input, checker, finisher, stop.clone());
    let (mut records, mut messages) = (0u64, 0u64);
    let (mut by_id, mut by_username) = (0u64, 0u64);
    for item in rows.by_ref() {
        let (record, verdict) = match item {
            Ok(pair) => pair,
            Err(StreamError::Stopped) => return Ok(Surveyed::Stopped),
            Err(StreamError::Input(e)) => return Err(e.into()),
        };
        if stop.is_requested() {
            return Ok(Surveyed::Stopped);
        }
        records += 1;
        if let Some(Ok(spec)) = verdict {
            match spec.user {
                UserRef::Id(_) => by_id += 1,
                UserRef::Username(_) => by_username += 1,
            }
            if spec.sends_pairing_message() && !out.finished.contains(record.line) {
                messages += 1;
            }
        }
    }
    let sha256 = rows.sha256_hex().unwrap_or_default().to_string();
    check_same_input(settings, out, &sha256)?;
    let may_message = settings.use_sandbox || settings.enroll.allow_messages;
    if settings.mode == RunMode::Live && !may_message && messages > 0 {
        return Err(RunError::WouldMessageUsers { rows: messages });
    }
    Ok(Surveyed::Whole(Survey {
        rows: Rows::Spool(spool),
        facts: InputFacts {
            records: Some(records),
            sha256: Some(sha256),
            assignment: settings.shard.map(|shard| Assignment {
                shard,
                keyed_by: KeyedBy::for_file(by_id, by_username, settings.mode.sends_requests()),
            }),
        },
    }))
}

/// `--resume` with another input than the earlier run's is refused: its line numbers would
/// name other rows.
fn check_same_input(settings: &Settings, out: &OutputDir, sha256: &str) -> Result<(), RunError> {
    let Some(earlier) = &out.earlier else {
        return Ok(());
    };
    match &earlier.input.sha256 {
        Some(earlier_hash) if earlier_hash != sha256 => Err(RunError::OtherInput {
            input: settings.input.display_path(),
            earlier_path: earlier.input.path.clone(),
        }),
        _ => Ok(()),
    }
}

/// Opens what stage 3 reads; messages still name the user's input. Keep the spool until the
/// reader is done with it.
pub fn open_rows(
    settings: &Settings,
    rows: Rows,
) -> Result<(InputReader, Option<Spool>), RunError> {
    match rows {
        Rows::Input(reader) => Ok((*reader, None)),
        Rows::Spool(spool) => {
            let source = InputSource::File(spool.0.clone());
            let reader = InputReader::from_source(&source, settings.delimiter, false)?
                .named(settings.input.display_path());
            Ok((reader, Some(spool)))
        }
    }
}
