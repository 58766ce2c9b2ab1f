//! The removals journal (`.removals` in `--out`): one line for every stale device a
//! `replace` run is about to delete, written and synced before its DELETE is sent. A row
//! reaches results.csv only after its removals, so a crash between a DELETE and the row
//! would otherwise lose the removal from the record; `--resume` reads the journal and puts
//! each journaled device that is gone on its row, and `undo` lists any the rows lack as
//! `not_restorable`. Written through `files` (no link, no foreign file, appended in place),
//! read back through `bounded` (no link, no fifo, a ceiling).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::bounded::{self, BoundedReadError};
use crate::files::{self, FileError};
use crate::pingone::wire::Device;

/// The journal's name in the output directory.
pub(crate) const JOURNAL_FILE: &str = ".removals";

/// The most a journal may hold: some 150 bytes a line, so about 400,000 removals, more than
/// any `max_deletes` a nightly sync of 200,000 users sensibly sets, across its resumes.
const JOURNAL_CEILING: u64 = 64 * 1024 * 1024;

/// One stale device a run was about to delete: the line of the row after whose device it
/// goes, the user, the device, and its destination as `removed_destinations` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Removal {
    pub(crate) line: u64,
    pub(crate) user_id: String,
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) device_id: String,
    pub(crate) destination: String,
}

impl Removal {
    pub(crate) fn of(line: u64, user_id: &str, device: &Device) -> Removal {
        Removal {
            line,
            user_id: user_id.to_string(),
            device_type: device.device_type.clone(),
            device_id: device.id.clone(),
            destination: super::row::removed_destination(device),
        }
    }
}

/// Why the journal could not be read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error(transparent)]
    Read(#[from] BoundedReadError),
    #[error("{}, line {line}: not a removal mfa-enroll wrote ({why}); the directory was changed by hand", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

/// The removals journaled in `dir` (none when there is no journal), each device once.
pub(crate) fn read(dir: &Path) -> Result<Vec<Removal>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    if std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(Vec::new());
    }
    let text = bounded::read_own_to_string(&path, JOURNAL_CEILING)?;
    let mut seen = HashSet::new();
    let mut removals = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Removal>(line) {
            Ok(removal) => {
                if seen.insert(removal.device_id.clone()) {
                    removals.push(removal);
                }
            }
            // A line cut short is an append a crash interrupted: it was never synced, so its
            // DELETE was never sent. (The next run's appends start on a line of their own.)
            Err(e) if e.classify() == serde_json::error::Category::Eof => {}
            Err(e) => {
                return Err(JournalError::Malformed {
                    path,
                    line: n + 1,
                    why: e.to_string(),
                })
            }
        }
    }
    Ok(removals)
}

/// A run's journal: appended to before each DELETE, and what earlier runs journaled.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    /// Opened at the first removal: a run that deletes nothing leaves no journal.
    file: Mutex<Option<File>>,
    earlier: HashMap<u64, Vec<Removal>>,
}

impl Journal {
    /// The journal in `dir`, with the removals earlier runs on it journaled.
    pub(crate) fn new(dir: &Path, earlier: &[Removal]) -> Journal {
        let mut by_line: HashMap<u64, Vec<Removal>> = HashMap::new();
        for removal in earlier {
            by_line
                .entry(removal.line)
                .or_default()
                .push(removal.clone());
        }
        Journal {
            path: dir.join(JOURNAL_FILE),
            file: Mutex::new(None),
            earlier: by_line,
        }
    }

    /// What earlier runs journaled for the row of `line`.
    pub(crate) fn earlier(&self, line: u64) -> &[Removal] {
        self.earlier.get(&line).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Appends `removal` and makes it durable before returning: the DELETE is sent only
    /// after. A `sync_data` per removal costs a disk flush each, which is small next to the
    /// DELETE's round trip, and removals are few (`max_deletes` caps them). Blocking while
    /// the lock is held is so too: two removals at the same instant are rare.
    pub(crate) fn append(&self, removal: &Removal) -> Result<(), FileError> {
        let io = |e| FileError::io(&self.path, e);
        let mut line = serde_json::to_string(removal).map_err(|e| io(e.into()))?;
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if file.is_none() {
            *file = Some(match files::inspect(&self.path)? {
                Some(_) => {
                    // An earlier run's last line may have been cut short by a crash: this
                    // run's lines start on a line of their own (an empty line is skipped).
                    line.insert(0, '\n');
                    files::open_to_append(&self.path)?
                }
                None => files::create_new(&self.path)?,
            });
        }
        let Some(file) = file.as_mut() else {
            return Err(io(std::io::Error::other("the journal is not open")));
        };
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removal(line: u64, id: &str) -> Removal {
        Removal {
            line,
            user_id: "u".into(),
            device_type: "SMS".into(),
            device_id: id.into(),
            destination: "+15555550100".into(),
        }
    }

    #[test]
    fn reads_back_what_it_wrote_each_device_once_and_skips_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), &[]);
        journal.append(&removal(2, "a")).unwrap();
        journal.append(&removal(2, "a")).unwrap();
        journal.append(&removal(3, "b")).unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let mut file = files::open_to_append(&path).unwrap();
        file.write_all(b"{\"line\":4,\"user").unwrap();
        assert_eq!(
            read(dir.path()).unwrap(),
            vec![removal(2, "a"), removal(3, "b")]
        );
        // A resumed run appends after the torn line, on a line of its own.
        Journal::new(dir.path(), &[])
            .append(&removal(5, "c"))
            .unwrap();
        let read = read(dir.path()).unwrap();
        assert_eq!(
            read,
            vec![removal(2, "a"), removal(3, "b"), removal(5, "c")]
        );
        std::fs::write(&path, "{\"line\":4}\nnot json\n").unwrap();
        assert!(matches!(
            super::read(dir.path()),
            Err(JournalError::Malformed { line: 1, .. })
        ));
    }
}
