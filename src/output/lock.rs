//! One run per output directory. The lock is an OS file lock on `.mfa-enroll.lock`, so it
//! dies with its process: a run killed with SIGKILL leaves a file, not a lock, and `--resume`
//! simply takes it. The file holds the owner's PID so a refusal can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::OutputError;

pub(crate) const LOCK_FILE: &str = ".mfa-enroll.lock";

/// Held for the whole run; released when dropped or when the process ends.
#[derive(Debug)]
pub(crate) struct OutDirLock {
    _file: File,
}

pub(crate) fn acquire(out_dir: &Path) -> Result<OutDirLock, OutputError> {
    let path = out_dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| OutputError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // A process ID; never more than a small file's worth, whatever is there.
            let _ = (&mut file)
                .take(crate::bounded::OWN_FILE_CEILING)
                .read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("process {holder}")
            };
            return Err(OutputError::Locked {
                dir: out_dir.to_path_buf(),
                holder: who,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(OutputError::io(&path, e)),
    }
    // Ours now: record who holds it.
    let mut record = || -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()
    };
    record().map_err(|e| OutputError::io(&path, e))?;
    Ok(OutDirLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(held);
        assert!(
            acquire(dir.path()).is_ok(),
            "a released lock can be taken again"
        );
    }
}
