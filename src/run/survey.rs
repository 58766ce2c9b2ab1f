//! Stage 2: read the whole input once before anything is sent. It counts the records (the
//! progress total) and the rows that would message users (the spill finds them, since a
//! duplicate sends nothing), hashes the input, finds on disk
//! which lines may repeat another (so stage 3's duplicate check remembers only those), and
//! copies the input into a spool in the output directory, so that the next stage reads the
//! very bytes that were checked, also when the input was a pipe or standard input. A run that
//! sends also finds which rows have a later row of their user (`dispatch::later`), so the
//! engine keeps a user's state only while it has rows to come.
//!
//! A run that sends validates every row here; an offline dry run only reads the rows and
//! keys them cheaply, and validates them once, in stage 3.

use super::context::RunContext;
use super::error::RunError;
use super::handoff::{InputFacts, OutputDir, Rows, Spool, Surveyed, SPOOL_FILE};
use super::notices::PolicyRows;
use crate::config::{RunMode, Settings};
use crate::dispatch::groups::GroupsBuilder;
use crate::dispatch::later::{LaterRows, LaterRowsSpill};
use crate::input::{Column, Header, Record};
use crate::input::{InputError, InputReader};
use crate::model::UserRef;
use crate::model::{DeviceType, OnExisting};
use crate::record::record_lines::RecordLines;
use crate::record::OutputError;
use crate::shard::{Assignment, KeyedBy};
use crate::validate;
use crate::validate::repeats::{RepeatSpill, Repeats};
use crate::validate::stream::{OnStop, StreamError, ValidatedRows};

/// What one pass over the input counted.
#[derive(Default)]
struct Counts {
    records: u64,
    by_id: u64,
    by_username: u64,
    /// The first line naming a user by ID, and by username (`replace` refuses a file with both).
    first_by_id: Option<u64>,
    first_by_username: Option<u64>,
    /// `replace`: the users' groups of rows.
    groups: Option<GroupsBuilder>,
    /// On --resume: records whose line an earlier run finished.
    finished_seen: u64,
    lines: RecordLines,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            lines: RecordLines::new(),
            ..Counts::default()
        }
    }

    fn record(&mut self, line: u64, out: &OutputDir) {
        self.records += 1;
        self.finished_seen += u64::from(out.finished.contains(line));
        self.lines.push(line);
    }
}

/// The whole input read once: spooled, counted, hashed, and checked against what an
/// earlier run recorded; `Stopped` when a signal came first.
pub(crate) fn survey(
    ctx: &RunContext,
    mut input: InputReader,
    out: &OutputDir,
) -> Result<Surveyed, RunError> {
    let settings = &ctx.settings;
    let spool_path = out.dir.join(SPOOL_FILE);
    let spool = Spool(spool_path.clone());
    // A spool a killed run left is replaced; a file that is not one is refused (prepare
    // checked already; the name is looked at again as it is used).
    crate::files::clear_own(&spool_path).map_err(OutputError::from)?;
    input.copy_to(crate::files::create_new(&spool_path).map_err(OutputError::from)?)?;
    let spilled = |source| RunError::Spill { source };
    let mut spill = RepeatSpill::create(&out.dir).map_err(spilled)?;
    let mut later = None;
    let mut policies = PolicyRows::default();
    let pass = if settings.mode.sends_requests() {
        let users = later.insert(LaterRowsSpill::create(&out.dir).map_err(spilled)?);
        validate_all(ctx, input, out, (&mut spill, users, &mut policies))?
    } else {
        // Nothing is sent: validation waits for stage 3, which runs it once.
        key_all(ctx, input, out, &mut spill)?
    };
    let Some((mut counts, sha256)) = pass else {
        return Ok(Surveyed::Stopped);
    };
    if let (Some(by_id), Some(by_username)) = (counts.first_by_id, counts.first_by_username) {
        if counts.groups.is_some() {
            return Err(RunError::ReplaceMixedNaming { by_id, by_username });
        }
    }
    let groups = counts
        .groups
        .take()
        .map(|g| std::sync::Arc::new(g.finish()));
    let found = spill.finish(counts.lines.last).map_err(spilled)?;
    let later = match later {
        Some(users) => users.finish(counts.records).map_err(spilled)?,
        None => LaterRows::unknown(),
    };
    check_same_input(settings, out, &sha256)?;
    check_lines(out, &counts)?;
    let may_message = settings.use_sandbox || settings.enroll.allow_messages;
    if settings.mode == RunMode::Live && !may_message && found.messages > 0 {
        return Err(RunError::WouldMessageUsers {
            rows: found.messages,
            first_lines: found.first_message_lines,
        });
    }
    Ok(Surveyed::Whole {
        rows: Rows(spool),
        facts: Box::new(InputFacts {
            records: Some(counts.records),
            sha256: Some(sha256),
            lines: Some(counts.lines.clone()),
            assignment: settings.shard.map(|shard| Assignment {
                shard,
                keyed_by: KeyedBy::for_file(
                    counts.by_id,
                    counts.by_username,
                    settings.mode.sends_requests(),
                ),
            }),
            repeats: found.repeats,
            later,
            groups,
            policies,
        }),
    })
}

/// A run that sends: every row validated (phones included), counted, and its exact
/// duplicate key and its user spilled. `None` when a signal came first.
fn validate_all(
    ctx: &RunContext,
    input: InputReader,
    out: &OutputDir,
    (spill, users, policies): (&mut RepeatSpill, &mut LaterRowsSpill, &mut PolicyRows),
) -> Result<Option<(Counts, String)>, RunError> {
    let stop = &ctx.stop;
    // Duplicates are found on disk, not remembered here.
    let (checker, finisher) =
        validate::split_knowing(input.header().clone(), ctx.rules.clone(), Repeats::none());
    let header = input.header().clone();
    let mut rows =
        ValidatedRows::start(input, checker, finisher, stop.clone(), OnStop::StopWaiting);
    let mut counts = Counts::new();
    if ctx.settings.enroll.on_existing == OnExisting::Replace {
        counts.groups = Some(GroupsBuilder::default());
    }
    for item in rows.by_ref() {
        let (record, verdict) = match item {
            Ok(pair) => pair,
            Err(StreamError::Stopped) => return Ok(None),
            Err(StreamError::Input(e)) => return Err(e.into()),
        };
        if stop.is_requested() {
            return Ok(None);
        }
        // Stage 3 counts the records the same way, to find each one's bit in `LaterRows`.
        let place = counts.records;
        counts.record(record.line, out);
        let spec = match verdict {
            Some(Ok(spec)) => spec,
            Some(Err(_)) => {
                if let (Some(groups), Some((user, device_type))) =
                    (counts.groups.as_mut(), user_and_type(&record, &header))
                {
                    groups.invalid(&user, device_type, record.line);
                }
                continue;
            }
            None => continue,
        };
        let first = match spec.user {
            UserRef::Id(_) => {
                counts.by_id += 1;
                &mut counts.first_by_id
            }
            UserRef::Username(_) => {
                counts.by_username += 1;
                &mut counts.first_by_username
            }
        };
        first.get_or_insert(record.line);
        let is_finished = out.finished.contains(record.line);
        if let Some(groups) = counts.groups.as_mut() {
            groups.valid(&spec.user, spec.identity(), record.line, !is_finished);
        }
        let sends = spec.sends_pairing_message() && !is_finished;
        let spilled = |source| RunError::Spill { source };
        spill
            .add(validate::duplicate_key(&spec), record.line, sends)
            .map_err(spilled)?;
        // A finished row is not run again: it keeps nothing of its user alive.
        if !is_finished {
            policies.add(spec.policy_id, record.line);
            // As the engine decides whether to read the user's devices before creating.
            let maybe_made = spec.unconfirmed_before
                || spec.created_before
                || (out.has_results && !out.finished.settled(record.line));
            users
                .add(&spec.user, place, record.line, maybe_made)
                .map_err(spilled)?;
        }
    }
    let sha256 = rows.sha256_hex().unwrap_or_default().to_string();
    Ok(Some((counts, sha256)))
}

/// `replace`: the user and type of an invalid row, where both can be read, so that the
/// row holds its group's deletions. A row whose user or type cannot be read is no group's.
fn user_and_type(record: &Record, header: &Header) -> Option<(UserRef, DeviceType)> {
    let device_type = record.get(header, Column::Type).ok()?.parse().ok()?;
    let id = record.get(header, Column::UserId).unwrap_or("").trim();
    let user = match uuid::Uuid::parse_str(id) {
        Ok(id) => UserRef::Id(id),
        Err(_) if !id.is_empty() => return None,
        Err(_) => {
            let name = record.get(header, Column::Username).ok()?.trim();
            if name.is_empty() {
                return None;
            }
            UserRef::Username(name.to_string())
        }
    };
    Some((user, device_type))
}

/// A run that sends nothing: each row's cheap repeat key spilled, no phone validated. The
/// reading runs on a thread of its own, so a signal is heard while a pipe says nothing.
fn key_all(
    ctx: &RunContext,
    mut input: InputReader,
    out: &OutputDir,
    spill: &mut RepeatSpill,
) -> Result<Option<(Counts, String)>, RunError> {
    let stop = &ctx.stop;
    let (checker, _) = validate::split(input.header().clone(), ctx.rules.clone());
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<(u64, Option<u64>)>>(4);
    let reading = std::thread::spawn(move || -> Result<String, InputError> {
        let mut batch = Vec::with_capacity(1024);
        while let Some(record) = input.next_record()? {
            batch.push((record.line, checker.repeat_key(&record)));
            if batch.len() == 1024 && sender.send(std::mem::take(&mut batch)).is_err() {
                return Ok(String::new());
            }
        }
        let _ = sender.send(batch);
        Ok(input.sha256_hex())
    });
    let mut counts = Counts::new();
    loop {
        if stop.is_requested() {
            return Ok(None);
        }
        match receiver.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(batch) => {
                for (line, key) in batch {
                    counts.record(line, out);
                    if let Some(key) = key {
                        spill
                            .add(key, line, false)
                            .map_err(|source| RunError::Spill { source })?;
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    match reading.join() {
        Ok(Ok(sha256)) => Ok(Some((counts, sha256))),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(RunError::Spill {
            source: std::io::Error::other("the survey's reader stopped unexpectedly"),
        }),
    }
}

/// `--resume`: every row of results.csv names a line where a record of this input starts.
/// Each finished line was met as a record's line; every other row's lies in the input's range.
fn check_lines(out: &OutputDir, counts: &Counts) -> Result<(), RunError> {
    let Some((lowest, highest)) = out.finished.file.lines else {
        return Ok(());
    };
    let last_line = counts.lines.last;
    let why = if lowest < 2 || highest > last_line {
        format!(
            "results.csv names line {}, but this input's records are on lines 2 to {last_line}",
            if lowest < 2 { lowest } else { highest },
        )
    } else if counts.finished_seen != out.finished.len() as u64 {
        format!(
            "results.csv has {} finished rows on lines where no record of this input starts",
            out.finished.len() as u64 - counts.finished_seen
        )
    } else {
        return Ok(());
    };
    Err(RunError::ResumeUnproven {
        dir: out.dir.clone(),
        why,
    })
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
