//! Stage 1: the input, opened (on a thread, so a fifo without a writer hears a signal), and
//! the output directory, created readable by its owner only, locked for this run, and
//! checked against what it already holds: an earlier run's record is never overwritten,
//! and `--resume` continues only a run made with the same target.

use std::path::Path;

use super::handoff::OutputDir;
use super::signals::unless_stopped;
use super::RunError;
use crate::config::Settings;
use crate::input::InputReader;
use crate::output::lock;
use crate::output::resume::{self, Finished};
use crate::output::summary::{Summary, Target};
use crate::output::writer::private_dir;
use crate::output::{RESULTS_FILE, SUMMARY_FILE};
use crate::shard::Shard;
use crate::stop::Stop;

/// Refuses to resume against another target than the earlier run's.
fn check_target(dir: &Path, earlier: &Summary, now: &Target) -> Result<(), RunError> {
    let earlier_target = match &earlier.target {
        Some(target) => target.clone(),
        // Written before targets were recorded: it says at least whether it was the sandbox.
        None if earlier.sandbox => Target::Sandbox,
        None if *now == Target::Sandbox => Target::Pingone {
            environment_id: "unrecorded".into(),
            api_host: "unrecorded".into(),
            worker_environment_id: None,
        },
        None => return Ok(()),
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
pub(crate) async fn input(
    settings: &Settings,
    stop: &Stop,
) -> Result<Option<InputReader>, RunError> {
    let source = settings.input.clone();
    let delimiter = settings.delimiter;
    let opened = unless_stopped(stop, move || {
        InputReader::from_source(&source, delimiter, true)
    })
    .await;
    Ok(opened.transpose()?)
}

pub(crate) fn output_dir(settings: &Settings, target: &Target) -> Result<OutputDir, RunError> {
    let dir = settings.out_dir.clone();
    private_dir(&dir)?;
    let lock = lock::acquire(&dir)?;
    let results_path = dir.join(RESULTS_FILE);
    let has_results = results_path.exists();
    if has_results && !settings.resume {
        return Err(RunError::WouldOverwrite { path: dir });
    }
    let mut earlier = None;
    if settings.resume {
        if !has_results && !dir.join(SUMMARY_FILE).exists() {
            return Err(RunError::NothingToResume { dir });
        }
        earlier = Summary::read(&dir);
        if let Some(summary) = &earlier {
            check_target(&dir, summary, target)?;
            check_shard(&dir, summary, settings.shard)?;
        }
    }
    let finished = if has_results {
        resume::read_finished(&dir)?
    } else {
        Finished::default()
    };
    Ok(OutputDir {
        dir,
        _lock: lock,
        has_results,
        earlier,
        finished,
    })
}
