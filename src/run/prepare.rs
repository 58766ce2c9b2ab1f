//! Stage 1: the input, opened (on a thread, so a fifo without a writer hears a signal), and
//! the output directory, created readable by its owner only, locked for this run, and
//! checked against what it already holds: an earlier run's record is never overwritten, and
//! `--resume` continues only a run it can show to be of the same target and shard, with a
//! summary.json that agrees with its results.csv (the input is compared in `survey`, once it
//! has been read). A link, a file with other names or a foreign file at a name the run
//! writes is refused here, as is a `--metrics-file` that names a file the run reads or
//! writes: before anything is sent, with the directory left as it was.

use std::path::{Path, PathBuf};

use super::context::RunContext;
use super::error::RunError;
use super::handoff::{OutputDir, SPOOL_FILE};
use crate::dispatch::later;
use crate::input::{InputReader, InputSource};
use crate::present::metrics;
use crate::present::report::REPORT_FILE;
use crate::record::journal::{self, JOURNAL_FILE};
use crate::record::line_order::runs_dir;
use crate::record::lock;
use crate::record::read_back::{self, SummaryProblem};
use crate::record::resume::{self, Finished};
use crate::record::summary::{Summary, Target};
use crate::record::writer::private_dir;
use crate::record::{OutputError, ERRORS_FILE, RECORD_FILES, RESULTS_FILE};
use crate::shard::Shard;
use crate::stop::unless_stopped;
use crate::validate::repeats;

/// Refuses to resume against another target than the earlier run's.
fn check_target(dir: &Path, earlier: &Summary, now: &Target) -> Result<(), RunError> {
    let earlier_target = match &earlier.target {
        Some(target) => target.clone(),
        // Written before targets were recorded: it says at least whether it was the sandbox.
        None if earlier.sandbox => Target::Sandbox,
        None => {
            return Err(RunError::ResumeUnproven {
                dir: dir.to_path_buf(),
                why: "summary.json does not say which environment its run was against".into(),
            })
        }
    };
    if earlier_target == *now {
        return Ok(());
    }
    Err(RunError::OtherTarget {
        dir: dir.to_path_buf(),
        earlier: Box::new(earlier_target),
        now: Box::new(now.clone()),
    })
}

/// A shard resumes as the same shard: another K or N would own other rows.
fn check_shard(dir: &Path, earlier: &Summary, now: Option<Shard>) -> Result<(), RunError> {
    let earlier_shard = earlier.shard.map(|info| info.shard());
    if earlier_shard == now {
        return Ok(());
    }
    let describe = |shard: Option<Shard>| match shard {
        Some(shard) => format!("--shard {shard}"),
        None => "the whole input (no --shard)".to_string(),
    };
    Err(RunError::OtherShard {
        dir: dir.to_path_buf(),
        earlier: describe(earlier_shard),
        now: describe(now),
    })
}

/// The input, opened and its header read, on a thread: opening a fifo that has no writer
/// yet, or reading the header from a silent pipe, blocks, and a signal must still end the
/// run. `None` when a stop came first.
pub(crate) async fn input(ctx: &RunContext) -> Result<Option<InputReader>, RunError> {
    let source = ctx.settings.input.clone();
    let delimiter = ctx.settings.delimiter;
    let opened = unless_stopped(&ctx.stop, move || {
        InputReader::from_source(&source, delimiter, true)
    })
    .await;
    Ok(opened.transpose()?)
}

/// The output directory, created and locked, with what an earlier run left in it; a
/// refusal leaves what it holds as it was.
pub(crate) fn output_dir(ctx: &RunContext) -> Result<OutputDir, RunError> {
    let settings = &ctx.settings;
    let dir = settings.out_dir.clone();
    check_metrics_file(ctx)?;
    if settings.resume && !dir.is_dir() {
        // Not even created: a refused resume leaves no trace.
        return Err(RunError::NothingToResume { dir });
    }
    private_dir(&dir)?;
    // Before the lock is taken or anything is written: a link or a foreign file at a name
    // this run writes is refused, and the directory is left as it was.
    let written: Vec<&str> = RECORD_FILES.into_iter().chain([REPORT_FILE]).collect();
    let sorts = [runs_dir(RESULTS_FILE), runs_dir(ERRORS_FILE)];
    let folders = [repeats::SPILL_DIR, later::SPILL_DIR, &sorts[0], &sorts[1]];
    let own = [lock::LOCK_FILE, SPOOL_FILE, JOURNAL_FILE];
    crate::files::check_dir(&dir, &written, &own, &folders).map_err(OutputError::from)?;
    let lock = lock::acquire(&dir)?;
    let has_results = dir.join(RESULTS_FILE).exists();
    if has_results && !settings.resume {
        return Err(RunError::WouldOverwrite { path: dir });
    }
    let (earlier, finished) = if settings.resume {
        let (earlier, finished) = earlier_run(&dir, has_results)?;
        check_target(&dir, &earlier, &ctx.target)?;
        // A run that stopped before sending recorded no shard; it left nothing to continue.
        if began_sending(&earlier) {
            check_shard(&dir, &earlier, settings.shard)?;
        }
        (Some(earlier), finished)
    } else {
        (None, Finished::default())
    };
    // Removals a killed run made but could not put on a row: resume puts them there.
    let journaled = match settings.resume {
        true => journal::read(&dir).map_err(|e| RunError::ResumeUnproven {
            dir: dir.clone(),
            why: e.to_string(),
        })?,
        false => Vec::new(),
    };
    Ok(OutputDir {
        dir,
        _lock: lock,
        has_results,
        earlier,
        finished,
        journaled,
    })
}

/// `--metrics-file` may name no file this run reads or writes (the input, the record in
/// `--out`), nor an earlier run's record, nor anything but a metrics file mfa-enroll wrote:
/// checked before anything is made, so a refusal changes nothing on disk.
fn check_metrics_file(ctx: &RunContext) -> Result<(), RunError> {
    let settings = &ctx.settings;
    let Some(path) = &settings.metrics_file else {
        return Ok(());
    };
    let mut used: Vec<(PathBuf, &str)> = Vec::new();
    if let InputSource::File(input) = &settings.input {
        used.push((input.clone(), "the input"));
    }
    let names =
        RECORD_FILES
            .into_iter()
            .chain([REPORT_FILE, lock::LOCK_FILE, SPOOL_FILE, JOURNAL_FILE]);
    for name in names {
        used.push((settings.out_dir.join(name), "a file of this run's --out"));
    }
    Ok(metrics::check_path(path, &used)?)
}

/// A summary written once the input had been read through, as every run that sends (or
/// records rows) does; one without the input's hash stopped while reading it.
fn began_sending(summary: &Summary) -> bool {
    summary.input.sha256.is_some()
}

/// The earlier run's summary and the rows it finished, once they are shown to be one
/// record: summary.json readable, and its counts those of results.csv.
fn earlier_run(dir: &Path, has_results: bool) -> Result<(Summary, Finished), RunError> {
    let unproven = |why: String| RunError::ResumeUnproven {
        dir: dir.to_path_buf(),
        why,
    };
    let earlier = match read_back::summary(dir) {
        Ok(summary) => summary,
        Err(SummaryProblem::Missing) if !has_results => {
            return Err(RunError::NothingToResume {
                dir: dir.to_path_buf(),
            })
        }
        Err(problem) => return Err(unproven(problem.to_string())),
    };
    if !has_results {
        if began_sending(&earlier) {
            return Err(unproven(
                "summary.json records a run that began sending, but there is no results.csv".into(),
            ));
        }
        return Ok((earlier, Finished::default()));
    }
    if !began_sending(&earlier) {
        return Err(unproven(
            "results.csv holds rows, but summary.json records a run that stopped before sending"
                .into(),
        ));
    }
    let finished = resume::read_finished(dir).map_err(|e| match e {
        // A results.csv that mfa-enroll cannot have written proves nothing.
        OutputError::Damaged { .. } | OutputError::NotResults { .. } => unproven(e.to_string()),
        other => RunError::Output(other),
    })?;
    if earlier.finished {
        check_counts(&earlier, &finished).map_err(unproven)?;
    }
    Ok((earlier, finished))
}

/// A finished run's summary counts exactly the complete rows of its results.csv.
fn check_counts(earlier: &Summary, finished: &Finished) -> Result<(), String> {
    match read_back::counts_differ(earlier, &finished.file.tallies) {
        None => Ok(()),
        Some((said, found)) => Err(format!(
            "summary.json counts {said}, but results.csv holds {found}"
        )),
    }
}
