//! `--resume`: what an earlier run already finished. Rows it `created` or `skipped_existing`
//! are kept and left alone; every other row is dropped from results.csv and processed again,
//! so the file keeps one row per input record. The rewrite goes through a temporary file and
//! a rename: a crash during it leaves the old file whole.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::writer::{private_file, Tallies};
use super::{Outcome, OutputError, RESULTS_FILE, RESULTS_HEADER};

/// What the earlier runs finished.
#[derive(Debug, Default)]
pub struct Finished {
    /// Lines of the input that need nothing more.
    pub lines: HashSet<u64>,
    /// Their outcomes and types, so the summary covers the whole file.
    pub tallies: Tallies,
}

/// Reads results.csv in `out_dir`, keeps its finished rows and rewrites it with only those.
pub fn take_finished(out_dir: &Path) -> Result<Finished, OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .map_err(|e| OutputError::io(&path, e))?;
    let header = reader
        .headers()
        .map_err(|e| OutputError::io(&path, e))?
        .clone();
    if header.iter().ne(RESULTS_HEADER.iter().copied()) {
        return Err(OutputError::Refused(format!(
            "{}: this is not a results.csv written by mfa-enroll (its header differs); choose another --out",
            path.display()
        )));
    }
    // The newest row for a line wins; a line may appear more than once after a crash.
    let mut newest: HashMap<u64, csv::StringRecord> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            // A run killed mid-write can leave a torn last line: it was not finished.
            Err(e) if e.is_io_error() => return Err(OutputError::io(&path, e)),
            Err(_) => continue,
        };
        let Some(line) = record.get(0).and_then(|l| l.parse::<u64>().ok()) else {
            continue;
        };
        if record.len() != RESULTS_HEADER.len() {
            continue;
        }
        newest.insert(line, record);
    }
    let mut finished = Finished::default();
    let mut kept: Vec<(u64, csv::StringRecord)> = newest
        .into_iter()
        .filter(|(_, r)| {
            r.get(5)
                .and_then(Outcome::parse)
                .is_some_and(Outcome::is_final_success)
        })
        .collect();
    kept.sort_by_key(|(line, _)| *line);

    let temporary = out_dir.join(format!("{RESULTS_FILE}.resume-tmp"));
    let mut writer = csv::Writer::from_writer(BufWriter::new(private_file(&temporary, false)?));
    writer
        .write_record(RESULTS_HEADER)
        .map_err(|e| OutputError::io(&temporary, e))?;
    for (line, record) in &kept {
        writer
            .write_record(record)
            .map_err(|e| OutputError::io(&temporary, e))?;
        let outcome = record
            .get(5)
            .and_then(Outcome::parse)
            .unwrap_or(Outcome::Created);
        finished
            .tallies
            .add(outcome, record.get(3).unwrap_or(""), false);
        finished.lines.insert(*line);
    }
    let file = writer
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.error()))?
        .into_inner()
        .map_err(|e| OutputError::io(&temporary, e.error()))?;
    file.sync_all()
        .map_err(|e| OutputError::io(&temporary, e))?;
    drop(file);
    std::fs::rename(&temporary, &path).map_err(|e| OutputError::io(&path, e))?;
    if let Ok(dir) = File::open(out_dir) {
        let _ = dir.sync_all();
    }
    Ok(finished)
}
