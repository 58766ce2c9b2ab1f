//! One run per output directory. The lock is an OS file lock on `.mfa-enroll.lock`, so it
//! dies with its process: a run killed with SIGKILL leaves a file, not a lock, and `--resume`
//! simply takes it. The file holds the owner's PID so a refusal can name it.
//!
//! The file is removed when the lock is released: at the end of a run or a merge, after a
//! refusal, and before a second Ctrl-C exits at once; only a process that dies without a word
//! (SIGKILL, a power cut) leaves it. Removing a lock file races with a process that opened it
//! just before: so the owner removes it while it still holds the lock, and a process that
//! takes a lock checks that the path still names the file it locked, and tries again if not.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::OutputError;

pub(crate) const LOCK_FILE: &str = ".mfa-enroll.lock";

/// How many times a lock file replaced under our feet is opened anew before giving up.
const ATTEMPTS: usize = 20;

/// A file or directory as the file system tells them apart: device and inode.
type FileId = (u64, u64);

/// The locks this process holds: the directory, the lock file's path and the file itself.
static HELD: Mutex<Vec<(FileId, PathBuf, FileId)>> = Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<(FileId, PathBuf, FileId)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

fn id_of(metadata: &std::fs::Metadata) -> FileId {
    (metadata.dev(), metadata.ino())
}

/// Whether `path` still names the file `id` (itself, not through a link).
fn names(path: &Path, id: FileId) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| id_of(&m) == id)
}

/// Held for the whole run; released, and its file removed, when dropped.
#[derive(Debug)]
pub(crate) struct OutDirLock {
    _file: File,
    path: PathBuf,
    id: FileId,
}

impl Drop for OutDirLock {
    fn drop(&mut self) {
        // Removed while still locked: whoever opened it meanwhile will see it is gone.
        if names(&self.path, self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
        held().retain(|(_, _, id)| *id != self.id);
    }
}

/// Removes the lock files this process holds, for an exit that runs no destructors (the
/// second Ctrl-C). The locks themselves go with the process.
pub(crate) fn release_all_now() {
    for (_, path, id) in held().iter() {
        if names(path, *id) {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub(crate) fn acquire(out_dir: &Path) -> Result<OutDirLock, OutputError> {
    let dir_id = std::fs::metadata(out_dir)
        .map(|m| id_of(&m))
        .map_err(|e| OutputError::io(out_dir, e))?;
    if held().iter().any(|(dir, _, _)| *dir == dir_id) {
        return Err(OutputError::LockedByThisCommand {
            dir: out_dir.to_path_buf(),
        });
    }
    let path = out_dir.join(LOCK_FILE);
    for _ in 0..ATTEMPTS {
        if let Some(lock) = try_acquire(out_dir, &path)? {
            held().push((dir_id, path.clone(), lock.id));
            return Ok(lock);
        }
    }
    Err(OutputError::io(
        &path,
        std::io::Error::other("the lock file keeps being replaced by another process"),
    ))
}

/// One try: `None` when the file locked is no longer the one the path names.
fn try_acquire(out_dir: &Path, path: &Path) -> Result<Option<OutDirLock>, OutputError> {
    // Never through a link, never a file with other names or one the tool did not make:
    // the lock is written to.
    let file = crate::files::open_shared(path)?;
    lock_opened(file, out_dir, path)
}

/// Locks a lock file opened at `path`, if that is still the file the path names.
fn lock_opened(
    mut file: File,
    out_dir: &Path,
    path: &Path,
) -> Result<Option<OutDirLock>, OutputError> {
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // A process ID; never more than a small file's worth, whatever is there.
            let _ = (&mut file)
                .take(crate::bounded::OWN_FILE_CEILING)
                .read_to_string(&mut holder);
            return Err(OutputError::Locked {
                dir: out_dir.to_path_buf(),
                holder: describe_holder(holder.trim()),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(OutputError::io(path, e)),
    }
    let id = file
        .metadata()
        .map(|m| id_of(&m))
        .map_err(|e| OutputError::io(path, e))?;
    if !names(path, id) {
        // Its owner removed it between our open and our lock: that file guards nothing now.
        return Ok(None);
    }
    // Ours now: record who holds it.
    let mut record = || -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()
    };
    record().map_err(|e| OutputError::io(path, e))?;
    Ok(Some(OutDirLock {
        _file: file,
        path: path.to_path_buf(),
        id,
    }))
}

/// Who holds a lock, from the PID its file records. This process holds none of the
/// directory's (that was checked first), so a PID equal to ours is another process's, in
/// another PID namespace (a container) or on another machine.
fn describe_holder(recorded: &str) -> String {
    match recorded.parse::<u32>() {
        Ok(pid) if pid == std::process::id() => {
            format!("another process, which recorded process ID {pid} (in another container or on another machine)")
        }
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn a_lock_is_taken_once_and_its_file_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).unwrap_err();
        assert!(
            matches!(err, OutputError::LockedByThisCommand { .. }),
            "this process holds it already: {err}"
        );
        drop(held);
        assert!(
            !dir.path().join(LOCK_FILE).exists(),
            "released, the file goes"
        );
        let again = acquire(dir.path()).unwrap();
        assert!(dir.path().join(LOCK_FILE).exists());
        drop(again);
    }

    #[test]
    fn a_lock_file_replaced_after_it_was_opened_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "1").unwrap();
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        // Its owner removes it, and a third process creates the path anew, as the tool does.
        std::fs::remove_file(&path).unwrap();
        drop(crate::files::create_new(&path).unwrap());
        assert!(
            lock_opened(opened, dir.path(), &path).unwrap().is_none(),
            "a lock on a file the path no longer names guards nothing"
        );
        let lock = acquire(dir.path()).unwrap();
        assert!(names(&path, lock.id));
    }

    #[test]
    fn a_recorded_pid_equal_to_ours_is_another_namespaces() {
        let ours = std::process::id().to_string();
        assert!(describe_holder(&ours).contains("another container"));
        assert_eq!(describe_holder("12"), "process 12");
        assert_eq!(describe_holder(""), "another process");
    }
}
