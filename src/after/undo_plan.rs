//! `undo RUN_DIR` from its arguments to its end: the run proven, the plan shown (how many
//! devices, which environment, the first rows), the confirmation (`--yes`, or a typed `yes`
//! on a terminal; without either nothing is deleted and the exit is 2), then each row.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::Arc;

use super::output::{OutDir, Sink};
use super::record::{Rows, RunRecord};
use super::undo::{
    candidate, undo_row_and_removed, unrecorded_line, unrecorded_removals, Mode, UndoRow, UNDO_FILE,
};
use super::{After, AfterError, Ended};
use crate::cli::UndoArgs;
use crate::record::Outcome;
use crate::stop::Stop;

/// Rows the plan shows before asking.
const PLAN_ROWS: usize = 5;

/// `undo RUN_DIR`; `Err` is a refusal before anything was deleted.
pub async fn undo(args: UndoArgs, stop: Arc<Stop>) -> Result<Ended, AfterError> {
    let default_out = if args.dry_run { "undo-dry-run" } else { "undo" };
    let settings = super::load(&args.after, default_out)?;
    let after = After::start(settings, args.after.run_dir.clone(), stop)?;
    let record = super::record::prove(&after.run_dir, &after.target)?;
    // Read before anything is deleted: a journal that cannot be read refuses the undo.
    let unrecorded = unrecorded_removals(&after.run_dir)?;
    let mode = Mode {
        dry_run: args.dry_run,
        restore_mfa: args.restore_mfa,
    };
    let mut notices = Vec::new();
    if mode.restore_mfa && !record.has_mfa_switched {
        let notice = "results.csv has no user_mfa_switched column (written by runs of a later \
                      version): no user's MFA is switched off";
        tracing::warn!("{notice}");
        notices.push(notice.to_string());
    }
    if !mode.dry_run && !args.yes {
        confirm(&after, &record)?;
    }
    let out = super::output::open_dir(&after.out_dir, UNDO_FILE, args.after.resume)?;
    let mut sink = Sink::<UndoRow>::open(&out.dir.join(UNDO_FILE), args.after.resume)?;
    tracing::info!(
        "undo{}: the {} devices {} created, in {}",
        if mode.dry_run {
            " (dry run: reads only)"
        } else {
            ""
        },
        record.tallies.count(Outcome::Created),
        after.run_dir.display(),
        after.target
    );
    let rows = Rows::open(&after.run_dir)?;
    after
        .each_row(rows, &mut sink, candidate, |row| {
            undo_row_and_removed(&after, mode, row)
        })
        .await?;
    for removal in unrecorded {
        if after.stopped_early().is_some() {
            break;
        }
        if let Some(line) = unrecorded_line(&after, removal).await {
            sink.write(&line)?;
        }
    }
    finish(&after, &out, sink, mode, notices)
}

fn finish(
    after: &After,
    out: &OutDir,
    sink: Sink<UndoRow>,
    mode: Mode,
    notices: Vec<String>,
) -> Result<Ended, AfterError> {
    let counts = sink.finish()?;
    // A device a replace run removed cannot be brought back: the run is not wholly undone.
    let good = !counts.contains_key("failed") && !counts.contains_key("not_restorable");
    let command = if mode.dry_run {
        "undo --dry-run"
    } else {
        "undo"
    };
    let mut summary = after.summary(command, &counts, good);
    summary.outcomes = Some(super::named(&counts));
    summary.notices = notices;
    super::finish(after, out, summary, "outcome")
}

/// The plan, and the person's `yes`: on a terminal only; without one, a refusal.
fn confirm(after: &After, record: &RunRecord) -> Result<(), AfterError> {
    let created = record.tallies.count(Outcome::Created);
    let refuse = |why: &str| {
        AfterError::NotConfirmed(format!(
            "{why}; nothing was deleted. undo deletes up to {created} devices in {}: \
             add --yes to go ahead, or --dry-run to see the plan",
            after.target
        ))
    };
    if !std::io::stdin().is_terminal() {
        return Err(refuse("there is no terminal to confirm on and no --yes"));
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "undo will delete up to {created} devices that {} created, in {}, each only if it is \
         still as the run recorded it. The first:",
        after.run_dir.display(),
        after.target
    );
    let rows = Rows::open(&after.run_dir)?;
    for row in rows
        .filter_map(Result::ok)
        .filter(|r| r.outcome == Outcome::Created && !r.device_id.is_empty())
        .take(PLAN_ROWS)
    {
        let _ = writeln!(
            err,
            "  line {}: user {} {} {} (device {})",
            row.line, row.user_id, row.device_type, row.destination, row.device_id
        );
    }
    let _ = write!(err, "Type yes to delete them: ");
    let _ = err.flush();
    let mut answer = String::new();
    // One line, bounded: a terminal sends what a person types.
    let read = std::io::stdin().lock().take(1024).read_line(&mut answer);
    match read {
        Ok(_) if answer.trim() == "yes" => Ok(()),
        Ok(_) => Err(refuse("the answer was not yes")),
        Err(e) => Err(refuse(&format!("the answer could not be read ({e})"))),
    }
}
