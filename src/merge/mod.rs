//! `mfa-enroll merge SHARD_DIR... --out DIR`: the N shard directories of one input, combined
//! into the record one whole run would have left: results.csv (every input line exactly once,
//! in line order), errors.csv (still a valid input), summary.json (totals, and each
//! shard's figures), timeline.json (the shards side by side) and report.html.
//!
//! Merging checks before it writes anything: every shard 0..N is there once, all of one
//! input (SHA-256), one N, one target and one mode, and each finished; and every row of
//! every shard is one the shard can have written (`verify`). Each shard directory is locked
//! while it is read, so a `--resume` cannot change it half-way.

mod rows;
mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::exit::{ExitStatus, RunReport};
use crate::failpoints::crash_point;
use crate::present::report;
use crate::record::latency::LatencyFigures;
use crate::record::lock::{self, OutDirLock};
use crate::record::read_back;
use crate::record::summary::{now_rfc3339, Plan, RateBasis, RequestCounts, ShardInfo, Summary};
use crate::record::timeline::{self, Timeline};
use crate::record::writer::{private_dir, write_whole, Tallies};
use crate::record::{
    OutputError, ResultRow, ERRORS_FILE, RECORD_FILES, RESULTS_FILE, SUMMARY_FILE,
};
use crate::words::count;
use rows::{MergeRowsError, Part};

/// In `--out` from the moment a merge may write there until it is done: a merge that died
/// part-way (say between its renames) left files that are not a merge, so the next merge
/// into that directory does it again instead of refusing to overwrite them.
const UNFINISHED: &str = ".merge-unfinished";

/// A refusal: nothing was written to `--out` (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Rows(#[from] MergeRowsError),
    #[error("{}: {problem}: no summary.json that mfa-enroll can read; give the --out directory of each `run --shard K/N`", dir.display())]
    NoSummary { dir: PathBuf, problem: String },
    #[error("{}: this run was not sharded (its summary.json has no shard); merge combines the directories of `run --shard K/N`", dir.display())]
    NotAShard { dir: PathBuf },
    #[error("{} is shard {shard} of {count}, but {} is of {other_count}; give the directories of one sharded run", dir.display(), other.display())]
    OtherCount {
        dir: PathBuf,
        shard: u32,
        count: u32,
        other: PathBuf,
        other_count: u32,
    },
    #[error("shard {shard} is given twice: {} and {}; give each shard's directory once", first.display(), second.display())]
    RepeatedShard {
        shard: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{} is given twice; give each shard's directory once", dir.display())]
    RepeatedDir { dir: PathBuf },
    #[error("--out {} is also given as a shard's directory; merge into a new directory", dir.display())]
    OutIsAShard { dir: PathBuf },
    #[error("shards {missing} of {count} are missing; give every shard's --out directory (a shard that never ran: run it with --shard K/{count})")]
    MissingShards { missing: String, count: u32 },
    #[error("{} and {} processed different inputs ({}); every shard must read the same file", first.display(), other.display(), what)]
    OtherInput {
        first: PathBuf,
        other: PathBuf,
        what: String,
    },
    #[error("{} ran against {first_target}, but {} against {other_target}; merge shards of one target", first.display(), other.display())]
    OtherTarget {
        first: PathBuf,
        first_target: String,
        other: PathBuf,
        other_target: String,
    },
    #[error("{} is a {first_mode} and {} a {other_mode}; merge shards of one kind of run", first.display(), other.display())]
    OtherMode {
        first: PathBuf,
        first_mode: String,
        other: PathBuf,
        other_mode: String,
    },
    #[error("{}: shard {shard} {why}; resume it ({resume}, with the same config and flags), then merge again", dir.display())]
    Unfinished {
        dir: PathBuf,
        shard: String,
        why: String,
        resume: String,
    },
    #[error("{} (shard {shard}): results.csv row {row}, line {line}: {why}; this shard's record was changed after it ran, or was not written by mfa-enroll", dir.display())]
    BadRow {
        dir: PathBuf,
        shard: String,
        row: u64,
        line: u64,
        why: String,
    },
    #[error("device {device_id} is claimed by line {first_line} ({}) and by line {line} ({}); one device is one row's only, so this record cannot be true: it was changed after it ran, or was not written by mfa-enroll", first_dir.display(), dir.display())]
    ClaimedTwice {
        device_id: String,
        first_line: u64,
        first_dir: PathBuf,
        line: u64,
        dir: PathBuf,
    },
    #[error("{} (shard {shard}): summary.json counts {said}, but results.csv holds {found}; this shard's record was changed after it ran", dir.display())]
    ShardCounts {
        dir: PathBuf,
        shard: String,
        said: String,
        found: String,
    },
    #[error("line {line} of the input is in the results of {} and of {}; these shards did not split one input", first.display(), other.display())]
    LineTwice {
        line: u64,
        first: PathBuf,
        other: PathBuf,
    },
    #[error("the shards' results hold {}, but the input has {}; a shard's results.csv is incomplete (resume that shard)", count(*found, "row", "rows"), count(*records, "record", "records"))]
    RowsMissing { found: u64, records: u64 },
    #[error("{}: this directory holds the record of an earlier run or merge; choose another --out", dir.display())]
    WouldOverwrite { dir: PathBuf },
}

/// One shard's directory, locked while it is read.
struct ShardDir {
    dir: PathBuf,
    summary: Summary,
    info: ShardInfo,
    _lock: OutDirLock,
}

impl ShardDir {
    fn open(dir: &Path) -> Result<ShardDir, MergeError> {
        let no_summary = |problem: String| MergeError::NoSummary {
            dir: dir.to_path_buf(),
            problem,
        };
        if !dir.join(SUMMARY_FILE).is_file() {
            return Err(no_summary(read_back::SummaryProblem::Missing.to_string()));
        }
        let lock = lock::acquire(dir)?;
        let summary = read_back::summary(dir).map_err(|e| no_summary(e.to_string()))?;
        let info = summary.shard.ok_or_else(|| MergeError::NotAShard {
            dir: dir.to_path_buf(),
        })?;
        Ok(ShardDir {
            dir: dir.to_path_buf(),
            summary,
            info,
            _lock: lock,
        })
    }

    fn name(&self) -> String {
        self.info.shard().to_string()
    }
}

/// Merges `dirs` into `out`; the report's exit is what one whole run's would have been.
pub(crate) fn merge(dirs: &[PathBuf], out: &Path) -> Result<RunReport, MergeError> {
    let canonical = |dir: &Path| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut seen = std::collections::HashSet::new();
    for dir in dirs {
        if !seen.insert(canonical(dir)) {
            return Err(MergeError::RepeatedDir { dir: dir.clone() });
        }
    }
    if seen.contains(&canonical(out)) {
        return Err(MergeError::OutIsAShard {
            dir: out.to_path_buf(),
        });
    }
    let mut shards = dirs
        .iter()
        .map(|dir| ShardDir::open(dir))
        .collect::<Result<Vec<_>, _>>()?;
    check_siblings(&shards)?;
    shards.sort_by_key(|s| s.info.index);
    let _out_lock = prepare_out(out)?;
    let part = |file: &str| -> Vec<Part> {
        shards
            .iter()
            .map(|s| Part {
                path: s.dir.join(file),
            })
            .collect()
    };
    let results = part(RESULTS_FILE);
    let mut checks: Vec<verify::ShardRows> = shards.iter().map(verify::ShardRows::new).collect();
    let mut claims = verify::DeviceClaims::default();
    let indexed = rows::index(&results, |row| {
        let result = checks[row.part].check(&row)?;
        claims.claim(&result, &shards, row.part)
    })?;
    checks.into_iter().try_for_each(verify::ShardRows::finish)?;
    let indexed = indexed.ok_or_else(|| MergeError::RowsMissing {
        found: 0,
        records: shards[0].summary.input.records.unwrap_or(0),
    })?;
    check_lines(&shards, &indexed)?;
    let errors = part(ERRORS_FILE);
    let errors_indexed = rows::index::<MergeError>(&errors, |_| Ok(()))?;
    // Written as new files, renamed into place once all is well: a failed merge leaves no
    // results.csv that would block the next attempt, and no link at a name is written through.
    let results_file = rows::write_in_line_order(&results, &indexed, &out.join(RESULTS_FILE))?;
    let errors_file = match &errors_indexed {
        Some(errors_indexed) => Some(rows::write_in_line_order(
            &errors,
            errors_indexed,
            &out.join(ERRORS_FILE),
        )?),
        None => None,
    };
    let tallies = tally(results_file.path())?;
    let summary = merged_summary(&shards, &tallies);
    summary.write(out)?;
    for staged in [errors_file, Some(results_file)] {
        if let Some(staged) = staged {
            staged.commit().map_err(OutputError::from)?;
        }
        crash_point!("merge-renames");
    }
    write_report(&shards, out, &summary);
    let marker = out.join(UNFINISHED);
    std::fs::remove_file(&marker).map_err(|e| OutputError::io(&marker, e))?;
    Ok(RunReport {
        exit: exit_of(&tallies),
        summary,
    })
}

/// The shards' timelines side by side, and report.html; a failure is logged, and never
/// changes the merge's outcome.
fn write_report(shards: &[ShardDir], out: &Path, summary: &Summary) {
    let timelines: Vec<Timeline> = shards
        .iter()
        .filter_map(|s| Timeline::read(&s.dir))
        .collect();
    let timeline = timeline::combine(&timelines);
    if let Some(Err(e)) = timeline.as_ref().map(|t| t.write(out)) {
        tracing::warn!("cannot write the merged timeline: {e}");
    }
    if let Err(e) = report::write(out, summary, timeline.as_ref()) {
        tracing::warn!("cannot write the report: {e}");
    }
}

fn prepare_out(out: &Path) -> Result<OutDirLock, MergeError> {
    private_dir(out)?;
    // A link or a foreign file at a name the merge writes is refused before the lock is
    // taken; the directory is left as it was.
    let written: Vec<&str> = RECORD_FILES
        .into_iter()
        .chain([report::REPORT_FILE])
        .collect();
    crate::files::check_dir(out, &written, &[lock::LOCK_FILE, UNFINISHED], &[])
        .map_err(OutputError::from)?;
    let lock = lock::acquire(out)?;
    let marker = out.join(UNFINISHED);
    let died_here = marker.exists();
    if !died_here && (out.join(RESULTS_FILE).exists() || out.join(SUMMARY_FILE).exists()) {
        return Err(MergeError::WouldOverwrite {
            dir: out.to_path_buf(),
        });
    }
    write_whole(&marker, b"")?;
    Ok(lock)
}

/// Every shard of one sharded run, each once, each finished.
fn check_siblings(shards: &[ShardDir]) -> Result<(), MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::MissingShards {
            missing: "all".into(),
            count: 0,
        });
    };
    for other in shards {
        check_same_run(first, other)?;
    }
    let count = first.info.count;
    let mut seen: BTreeMap<u32, &ShardDir> = BTreeMap::new();
    for shard in shards {
        if let Some(earlier) = seen.insert(shard.info.index, shard) {
            return Err(MergeError::RepeatedShard {
                shard: shard.name(),
                first: earlier.dir.clone(),
                second: shard.dir.clone(),
            });
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|index| !seen.contains_key(index))
        .map(|index| format!("{index}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards {
            missing: missing.join(", "),
            count,
        });
    }
    shards.iter().try_for_each(check_finished)
}

fn check_same_run(first: &ShardDir, other: &ShardDir) -> Result<(), MergeError> {
    if other.info.count != first.info.count {
        return Err(MergeError::OtherCount {
            dir: first.dir.clone(),
            shard: first.info.index,
            count: first.info.count,
            other: other.dir.clone(),
            other_count: other.info.count,
        });
    }
    let (a, b) = (&first.summary, &other.summary);
    if a.input.sha256 != b.input.sha256 || a.input.sha256.is_none() {
        let hash = |s: &Summary| s.input.sha256.clone().unwrap_or_else(|| "unknown".into());
        return Err(MergeError::OtherInput {
            first: first.dir.clone(),
            other: other.dir.clone(),
            what: format!("SHA-256 {} and {}", hash(a), hash(b)),
        });
    }
    if a.target != b.target {
        let target = |s: &Summary| {
            s.target
                .as_ref()
                .map_or("an unrecorded target".to_string(), ToString::to_string)
        };
        return Err(MergeError::OtherTarget {
            first: first.dir.clone(),
            first_target: target(a),
            other: other.dir.clone(),
            other_target: target(b),
        });
    }
    if a.mode != b.mode {
        return Err(MergeError::OtherMode {
            first: first.dir.clone(),
            first_mode: a.mode.describe().into(),
            other: other.dir.clone(),
            other_mode: b.mode.describe().into(),
        });
    }
    Ok(())
}

fn check_finished(shard: &ShardDir) -> Result<(), MergeError> {
    let s = &shard.summary;
    let why = if !s.finished {
        "has not finished (it is still running, or it was killed)".to_string()
    } else if s.exit_code == Some(ExitStatus::StoppedEarly.code()) {
        match &s.stopped_early {
            Some(stopped) => format!("stopped early ({}: {})", stopped.code, stopped.reason),
            None => "stopped early".to_string(),
        }
    } else {
        return Ok(());
    };
    Err(MergeError::Unfinished {
        dir: shard.dir.clone(),
        shard: shard.name(),
        why,
        resume: resume_command(shard),
    })
}

/// The command that resumes a shard: its input as its summary.json records it.
fn resume_command(shard: &ShardDir) -> String {
    let input = match shard.summary.input.path.as_str() {
        "standard input" => "- (the same input on standard input)".to_string(),
        path => shell_word(path),
    };
    format!(
        "mfa-enroll run {input} --shard {} --out {} --resume",
        shard.name(),
        shell_word(&shard.dir.display().to_string())
    )
}

/// `text` as one word for a POSIX shell: as it is when it is plain, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Every line once, and as many rows as the input has records.
fn check_lines(shards: &[ShardDir], indexed: &rows::Indexed) -> Result<(), MergeError> {
    for pair in indexed.entries.windows(2) {
        if pair[0].line == pair[1].line {
            return Err(MergeError::LineTwice {
                line: pair[0].line,
                first: shards[pair[0].part].dir.clone(),
                other: shards[pair[1].part].dir.clone(),
            });
        }
    }
    let found = indexed.entries.len() as u64;
    let records = shards[0].summary.input.records.unwrap_or(found);
    if found != records {
        return Err(MergeError::RowsMissing { found, records });
    }
    Ok(())
}

/// The merged results' counts, read back from the merged file itself.
fn tally(results: &Path) -> Result<Tallies, OutputError> {
    let mut reader = csv::Reader::from_path(results).map_err(|e| OutputError::csv(results, e))?;
    let mut tallies = Tallies::default();
    for row in reader.deserialize::<ResultRow>() {
        let row = row.map_err(|e| OutputError::csv(results, e))?;
        tallies.add(&row, false);
    }
    Ok(tallies)
}

fn exit_of(tallies: &Tallies) -> ExitStatus {
    if tallies.problems() > 0 {
        ExitStatus::RowProblems
    } else {
        ExitStatus::Success
    }
}

/// The shards' summaries as one: totals over all rows, requests summed, the wall time of the
/// longest shard (they ran side by side), and each shard's own figures.
fn merged_summary(shards: &[ShardDir], tallies: &Tallies) -> Summary {
    let first = &shards[0].summary;
    let mut summary = Summary {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        mode: first.mode,
        sandbox: first.sandbox,
        target: first.target.clone(),
        input: first.input.clone(),
        settings: first.settings.clone(),
        finished: true,
        ..Summary::default()
    };
    summary.set_tallies(tallies);
    let each = |f: fn(&Summary) -> &String| shards.iter().map(move |s| f(&s.summary).clone());
    summary.first_started_at = each(|s| &s.first_started_at).min().unwrap_or_default();
    summary.started_at = each(|s| &s.started_at).min().unwrap_or_default();
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = shards
        .iter()
        .map(|s| s.summary.duration_s)
        .fold(0.0, f64::max);
    summary.throughput_rows_per_s = merged_pace(shards);
    summary.latency =
        LatencyFigures::combine(shards.iter().filter_map(|s| s.summary.latency.as_ref()));
    for shard in shards {
        let s = &shard.summary;
        summary.resumed_rows += s.resumed_rows;
        add_requests(&mut summary.requests, &s.requests);
        summary.users_mfa.add(&s.users_mfa);
        summary.users_late += s.users_late;
        summary
            .rows_of_inactive_users
            .add(&s.rows_of_inactive_users);
        for (channel, n) in &s.pairing_messages {
            *summary.pairing_messages.entry(channel.clone()).or_default() += n;
        }
        summary.plan = merge_plans(summary.plan.take(), s.plan.as_ref());
        if let Some(removals) = &s.removals {
            summary
                .removals
                .get_or_insert_with(Default::default)
                .add(removals);
        }
        summary.shards.push(ShardFigures::of(shard));
    }
    summary.exit_code = Some(exit_of(tallies).code());
    summary
}

/// Rows the shards brought to an outcome over the longest shard's time spent sending (they
/// ran side by side); shards written before that was recorded count all their rows over
/// their whole duration.
fn merged_pace(shards: &[ShardDir]) -> f64 {
    let (mut done, mut longest) = (0u64, 0.0f64);
    for shard in shards {
        let s = &shard.summary;
        match &s.this_run {
            Some(this_run) => {
                done += this_run.rows_done;
                longest = longest.max(this_run.sending_s);
            }
            None => {
                done += s.rows;
                longest = longest.max(s.duration_s);
            }
        }
    }
    if longest > 0.0 {
        (done as f64 / longest * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn add_requests(total: &mut RequestCounts, one: &RequestCounts) {
    total.total += one.total;
    total.get += one.get;
    total.post += one.post;
    total.put += one.put;
    total.delete += one.delete;
    total.retries += one.retries;
    total.throttled_429 += one.throttled_429;
    total.tokens += one.tokens;
    // Shards run side by side: their most in flight add up.
    total.most_in_flight += one.most_in_flight;
}

/// Online dry runs: the shards' plans add up (each shard's rate is its own).
fn merge_plans(total: Option<Plan>, one: Option<&Plan>) -> Option<Plan> {
    let Some(one) = one else { return total };
    let Some(mut total) = total else {
        return Some(one.clone());
    };
    for (channel, n) in &one.pairing_messages {
        *total.pairing_messages.entry(channel.clone()).or_default() += n;
    }
    total
        .users_over_daily_message_limit
        .extend(one.users_over_daily_message_limit.iter().cloned());
    total.requests_needed += one.requests_needed;
    total.new_device_notices += one.new_device_notices;
    total.users_mfa_off += one.users_mfa_off;
    total.users_mfa_to_switch_on += one.users_mfa_to_switch_on;
    total.rate += one.rate;
    total.configured_rate += one.configured_rate;
    if one.rate_basis == RateBasis::ServerLimit {
        total.rate_basis = RateBasis::ServerLimit;
    }
    total.duration_at_rate_s = total.duration_at_rate_s.max(one.duration_at_rate_s);
    Some(total)
}

pub(crate) use crate::record::summary::ShardFigures;

impl ShardFigures {
    fn of(shard: &ShardDir) -> ShardFigures {
        let s = &shard.summary;
        ShardFigures {
            shard: shard.name(),
            dir: shard.dir.display().to_string(),
            rows: s.rows,
            outcomes: s.outcomes.clone(),
            duration_s: s.duration_s,
            throughput_rows_per_s: s.throughput_rows_per_s,
            requests: s.requests.clone(),
            rate: s.settings.rate,
            exit_code: s.exit_code,
        }
    }
}
