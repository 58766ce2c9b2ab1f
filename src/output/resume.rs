//! `--resume`: what an earlier run already finished. Rows it `created` or `skipped_existing`
//! are kept and left alone; every other row is dropped from results.csv and processed again,
//! so the file keeps one row per input record. Reading and rewriting are separate steps, so a
//! resume that is refused (another input file, say) changes nothing.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::writer::{private_file, Tallies};
use super::{Outcome, OutputError, RESULTS_FILE, RESULTS_HEADER};

/// What the earlier runs finished.
#[derive(Debug, Default)]
pub struct Finished {
    /// Input line -> index (0-based, after the header) of its newest row in results.csv, for
    /// the lines that need nothing more.
    rows: HashMap<u64, u64>,
    /// Their outcomes and types, so the summary covers the whole file.
    pub tallies: Tallies,
}

impl Finished {
    pub fn contains(&self, line: u64) -> bool {
        self.rows.contains_key(&line)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn open_results(path: &Path) -> Result<csv::Reader<File>, OutputError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| OutputError::io(path, e))?;
    let header = reader
        .headers()
        .map_err(|e| OutputError::io(path, e))?
        .clone();
    if header.iter().ne(RESULTS_HEADER.iter().copied()) {
        return Err(OutputError::Refused(format!(
            "{}: this is not a results.csv written by mfa-enroll (its header differs); choose another --out",
            path.display()
        )));
    }
    Ok(reader)
}

/// Each well-formed row of results.csv with its index. A run killed mid-write can leave a
/// torn last line: it is skipped, since that row was not finished.
fn rows<'a>(
    reader: &'a mut csv::Reader<File>,
    path: &Path,
) -> impl Iterator<Item = Result<(u64, u64, csv::StringRecord), OutputError>> + 'a {
    let path = path.to_path_buf();
    reader
        .records()
        .enumerate()
        .filter_map(move |(index, record)| match record {
            Err(e) if e.is_io_error() => Some(Err(OutputError::io(&path, e))),
            Err(_) => None,
            Ok(r) if r.len() != RESULTS_HEADER.len() => None,
            Ok(r) => {
                let line = r.get(0)?.parse::<u64>().ok()?;
                Some(Ok((index as u64, line, r)))
            }
        })
}

/// Reads results.csv in `out_dir` without changing it: which lines are finished.
pub fn read_finished(out_dir: &Path) -> Result<Finished, OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    // The newest row for a line wins; only finished lines are kept, so memory follows them.
    let mut finished: HashMap<u64, (u64, Outcome, String)> = HashMap::new();
    for row in rows(&mut reader, &path) {
        let (index, line, record) = row?;
        match record.get(5).and_then(Outcome::parse) {
            Some(outcome) if outcome.is_final_success() => {
                let device_type = record.get(3).unwrap_or("").to_string();
                finished.insert(line, (index, outcome, device_type));
            }
            _ => {
                finished.remove(&line);
            }
        }
    }
    let mut result = Finished::default();
    for (line, (index, outcome, device_type)) in finished {
        result.tallies.add(outcome, &device_type, false);
        result.rows.insert(line, index);
    }
    Ok(result)
}

/// Rewrites results.csv with only the finished rows, through a temporary file and a rename:
/// a crash during it leaves the old file whole.
pub fn keep_only_finished(out_dir: &Path, finished: &Finished) -> Result<(), OutputError> {
    let path = out_dir.join(RESULTS_FILE);
    let mut reader = open_results(&path)?;
    let temporary = out_dir.join(format!("{RESULTS_FILE}.resume-tmp"));
    let mut writer = csv::Writer::from_writer(BufWriter::new(private_file(&temporary, false)?));
    writer
        .write_record(RESULTS_HEADER)
        .map_err(|e| OutputError::io(&temporary, e))?;
    for row in rows(&mut reader, &path) {
        let (index, line, record) = row?;
        if finished.rows.get(&line) == Some(&index) {
            writer
                .write_record(&record)
                .map_err(|e| OutputError::io(&temporary, e))?;
        }
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
    Ok(())
}
