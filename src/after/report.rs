//! report.html of a `verify` or an `undo`: the page's values read from the command's own
//! summary and CSV (streamed, keeping only the few rows each table shows), handed to
//! `present::report::after`, which knows nothing of these commands' types.

use std::path::Path;

use super::output::AfterSummary;
use super::undo::{UndoOutcome, UndoRow, UNDO_FILE};
use super::verify::{pending_days, State, VerifyRow, VERIFY_FILE};
use crate::present::report::after::{self, AfterPage, PageRow, PageTable};
use crate::record::read_back::RowReader;
use crate::record::OutputError;

/// Rows each table shows.
const SHOWN: usize = 50;

/// A table filling up to [`SHOWN`] rows, counting the rest.
fn push(table: &mut PageTable, row: PageRow) {
    if table.rows.len() < SHOWN {
        table.rows.push(row);
    } else {
        table.more += 1;
    }
}

/// Each complete row of the CSV at `path`, as `R`.
fn each<R: serde::de::DeserializeOwned>(
    path: &Path,
    mut take: impl FnMut(R),
) -> Result<(), OutputError> {
    let Some(mut reader) = RowReader::open(path)? else {
        return Ok(());
    };
    let mut record = csv::ByteRecord::new();
    while reader.next(&mut record)?.is_some() {
        if let Ok(row) = record.deserialize::<R>(Some(reader.header())) {
            take(row);
        }
    }
    Ok(())
}

fn verify_tables(dir: &Path) -> Result<Vec<PageTable>, OutputError> {
    let mut broken = PageTable {
        title: "Records that no longer hold".into(),
        ..PageTable::default()
    };
    // The oldest pending activations: kept sorted, the youngest dropped past SHOWN.
    let mut pending: Vec<(u64, PageRow)> = Vec::new();
    let mut pending_more = 0;
    each::<VerifyRow>(&dir.join(VERIFY_FILE), |row| {
        let page_row = PageRow {
            line: row.line,
            user: row.user_id.clone(),
            device_type: row.device_type.clone(),
            device_id: row.device_id.clone(),
            label: row.state.as_str().to_string(),
            detail: row.detail.clone(),
        };
        if !row.state.holds() {
            push(&mut broken, page_row);
        } else if row.state == State::ActivationPending {
            pending.push((pending_days(&row.detail).unwrap_or(0), page_row));
            pending.sort_by_key(|p| std::cmp::Reverse(p.0));
            if pending.len() > SHOWN {
                pending.pop();
                pending_more += 1;
            }
        }
    })?;
    let pending = PageTable {
        title: "Oldest pending activations".into(),
        rows: pending.into_iter().map(|(_, row)| row).collect(),
        more: pending_more,
    };
    Ok(vec![broken, pending])
}

fn undo_tables(dir: &Path) -> Result<Vec<PageTable>, OutputError> {
    let mut kept = PageTable {
        title: "Devices kept (changed since the run, or the user's before it)".into(),
        ..PageTable::default()
    };
    let mut failed = PageTable {
        title: "Devices not deleted because PingOne's answer failed (resume to retry)".into(),
        ..PageTable::default()
    };
    let mut removed = PageTable {
        title: "Devices the replace run removed, which cannot be restored".into(),
        ..PageTable::default()
    };
    each::<UndoRow>(&dir.join(UNDO_FILE), |row| {
        let table = match row.outcome {
            UndoOutcome::KeptChanged | UndoOutcome::KeptNotCreated => &mut kept,
            UndoOutcome::Failed => &mut failed,
            UndoOutcome::NotRestorable => &mut removed,
            UndoOutcome::Deleted | UndoOutcome::AlreadyGone | UndoOutcome::WouldDelete => return,
        };
        push(
            table,
            PageRow {
                line: row.line,
                user: row.user_id.clone(),
                device_type: row.device_type.clone(),
                device_id: row.device_id.clone(),
                label: row.outcome.as_str().to_string(),
                detail: row.detail.clone(),
            },
        );
    })?;
    Ok(vec![failed, removed, kept])
}

/// Writes report.html for the command `summary` describes.
pub(crate) fn write(dir: &Path, summary: &AfterSummary) -> Result<(), OutputError> {
    let verifying = summary.states.is_some();
    let counts = summary.states.as_ref().or(summary.outcomes.as_ref());
    let r = &summary.requests;
    let verdict = match (summary.exit_code, verifying) {
        (0, true) => "Every record holds (pending activations included).".to_string(),
        (1, true) => "Some records no longer hold: the table below names them.".to_string(),
        (0, false) => "Every candidate device was dealt with; none failed.".to_string(),
        (1, false) => "Some devices could not be dealt with: resume to retry failed ones; devices a replace run removed cannot be restored.".to_string(),
        _ => format!(
            "Stopped early ({}): resume with --resume.",
            summary.stopped_early.as_deref().unwrap_or("interrupted")
        ),
    };
    let page = AfterPage {
        title: if verifying {
            "Verify: do the records still hold?".into()
        } else {
            "Undo: the devices a run created".into()
        },
        command: summary.command.clone(),
        subtitle: format!("{} in {}", summary.run_dir, summary.target),
        verdict,
        label: if verifying { "state" } else { "outcome" }.into(),
        counts: counts
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        requests: format!("{} GET, {} DELETE, {} PUT", r.get, r.delete, r.put),
        tables: if verifying {
            verify_tables(dir)?
        } else {
            undo_tables(dir)?
        },
        written_at: String::new(),
        version: "",
    }
    .stamp();
    after::write(dir, &page)?;
    Ok(())
}
