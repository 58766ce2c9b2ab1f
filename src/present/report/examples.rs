//! The rows behind each error code's first lines, read back from results.csv for the report:
//! who the row names and what the message said. One streaming pass that keeps only the
//! wanted lines (a handful per code) and stops once it has them all.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use csv::StringRecord;

use crate::record::summary::Summary;
use crate::record::{OutputError, RESULTS_FILE};

/// One row of a code, as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Example {
    pub(crate) line: u64,
    /// The username, else the user ID, as the row named the user.
    pub(crate) user: String,
    pub(crate) device_type: String,
    pub(crate) message: String,
}

/// The examples of every code in `summary.error_codes`, by code; an empty map when
/// results.csv cannot be read (the report then lists the lines alone).
pub(crate) fn read(
    dir: &Path,
    summary: &Summary,
) -> Result<BTreeMap<String, Vec<Example>>, OutputError> {
    // Line -> the codes wanted there (a line has one code; a merged record may disagree).
    let mut wanted: HashMap<u64, HashSet<&str>> = HashMap::new();
    for (code, rows) in &summary.error_codes {
        for line in &rows.first_lines {
            wanted.entry(*line).or_default().insert(code.as_str());
        }
    }
    let mut found: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let path = dir.join(RESULTS_FILE);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&path)
        .map_err(|e| OutputError::csv(&path, e))?;
    let header = reader
        .headers()
        .map_err(|e| OutputError::csv(&path, e))?
        .clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(line_at), Some(code_at)) = (column("line"), column("error_code")) else {
        return Ok(found);
    };
    let cell = |record: &StringRecord, name: &str| {
        column(name)
            .and_then(|i| record.get(i))
            .unwrap_or("")
            .to_string()
    };
    let mut record = StringRecord::new();
    // A torn or unreadable row is skipped: the report is a view, results.csv the record.
    while !wanted.is_empty() && reader.read_record(&mut record).unwrap_or(false) {
        let line = record
            .get(line_at)
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0);
        let code = record.get(code_at).unwrap_or("");
        let Some(codes) = wanted.get_mut(&line) else {
            continue;
        };
        if !codes.remove(code) {
            continue;
        }
        if codes.is_empty() {
            wanted.remove(&line);
        }
        let username = cell(&record, "username");
        found.entry(code.to_string()).or_default().push(Example {
            line,
            user: if username.is_empty() {
                cell(&record, "user_id")
            } else {
                username
            },
            device_type: cell(&record, "type"),
            message: cell(&record, "error_message"),
        });
    }
    for examples in found.values_mut() {
        examples.sort_by_key(|e| e.line);
    }
    Ok(found)
}
