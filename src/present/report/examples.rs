//! The rows behind each error code's first lines, read back from results.csv for the report:
//! who the row names and what the message said. One streaming pass that keeps only the
//! wanted lines (a handful per code) and stops once it has them all. It reads as `--resume`
//! and `merge` do ([`RowReader`]): a regular file only, each row within a bound.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use csv::ByteRecord;

use crate::record::read_back::RowReader;
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
    let Some(mut reader) = RowReader::open(&path)? else {
        return Ok(found);
    };
    let header = reader.header().clone();
    let column = |name: &str| header.iter().position(|h| h == name.as_bytes());
    let (Some(line_at), Some(code_at)) = (column("line"), column("error_code")) else {
        return Ok(found);
    };
    let cell = |record: &ByteRecord, name: &str| {
        let value = column(name).and_then(|i| record.get(i)).unwrap_or(b"");
        String::from_utf8_lossy(value).into_owned()
    };
    let mut record = ByteRecord::new();
    // A torn or unreadable row ends the reading: the report is a view, results.csv the record.
    while !wanted.is_empty() && reader.next(&mut record).ok().flatten().is_some() {
        let line = std::str::from_utf8(record.get(line_at).unwrap_or_default())
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0);
        let code = String::from_utf8_lossy(record.get(code_at).unwrap_or_default());
        let code = code.as_ref();
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
