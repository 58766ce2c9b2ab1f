//! How the tool writes a file, every one of them: results.csv, errors.csv, summary.json,
//! timeline.json, report.html, the metrics file, the lock, the input's spool, merge's files and
//! every temporary file. The one rule: a file is created new, by this process, and never
//! through a link. A whole file is written under a temporary name in its own directory
//! (`tempfile`: a fresh random name, exclusive create, mode 600, removed if the write fails)
//! and renamed into place; a rename replaces a directory entry and follows no link, so a
//! symlink or a hard link planted at the final name is never written through. The few files
//! opened in place (results.csv growing on `--resume`, the lock, the removals journal) are
//! opened with `O_NOFOLLOW` and refused when they have other names (hard links) or are no
//! regular file.
//!
//! [`check_dir`], [`inspect`], [`clear_own`] and [`fresh_own_dir`] are the checks a command makes before it sends anything: a
//! link or a foreign file where the tool must write is refused, and a file at one of the
//! tool's internal names (the spool, the lock, the removals journal, the spills' and the
//! sort's folders) is accepted (or removed) only when it is one the tool left.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a file could not be written, or may not be.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: this is a symbolic link; mfa-enroll writes its files itself, never through a link: remove the link or choose another directory (nothing was sent, and nothing written)", path.display())]
    Link { path: PathBuf },
    #[error("{}: this file has other names too (hard links), which writing here would change; remove this name or choose another directory (nothing was sent, and nothing written)", path.display())]
    HardLinked { path: PathBuf },
    #[error("{}: this is not a regular file (a directory, a fifo or a device); remove it or choose another directory (nothing was sent, and nothing written)", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: mfa-enroll did not make this file (it is not owned by the directory's owner and readable by that owner only), and it uses this name itself; move the file away or choose another directory (nothing was sent, and nothing written)", path.display())]
    Foreign { path: PathBuf },
}

impl FileError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        FileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What is at `path`, the link itself if it is one: `None` when nothing is. A link, a file
/// with other names, or anything but a regular file is refused: the tool may write there.
pub(crate) fn inspect(path: &Path) -> Result<Option<Metadata>, FileError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FileError::io(path, e)),
    };
    checked(path, metadata).map(Some)
}

fn checked(path: &Path, metadata: Metadata) -> Result<Metadata, FileError> {
    let path = path.to_path_buf();
    if metadata.file_type().is_symlink() {
        return Err(FileError::Link { path });
    }
    if !metadata.is_file() {
        return Err(FileError::NotAFile { path });
    }
    if metadata.nlink() > 1 {
        return Err(FileError::HardLinked { path });
    }
    Ok(metadata)
}

/// Whether a file at one of the tool's internal names is one the tool made: owned by the
/// owner of its directory (who made the directory, or was given it), and readable by that
/// owner only, as every file the tool makes is.
fn is_own(path: &Path, metadata: &Metadata) -> Result<bool, FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = std::fs::metadata(dir).map_err(|e| FileError::io(dir, e))?;
    Ok(metadata.uid() == dir.uid() && metadata.mode() & 0o077 == 0)
}

/// Checks what is at one of the tool's internal names, without changing anything: nothing,
/// or a file the tool left (a killed run's). Anything else is refused.
pub(crate) fn check_own(path: &Path) -> Result<(), FileError> {
    match inspect(path)? {
        Some(metadata) if !is_own(path, &metadata)? => Err(FileError::Foreign {
            path: path.to_path_buf(),
        }),
        Some(_) | None => Ok(()),
    }
}

/// Checks, before a command writes anything in `dir`, the names it will write there: at each
/// of `written` nothing, or a file (an earlier run's, which the command will replace or
/// refuse to) that is no link and has no other name; at each of `own`, the tool's internal
/// names, nothing or a file the tool left; at each of `own_dirs`, nothing or a folder it left.
pub(crate) fn check_dir(
    dir: &Path,
    written: &[&str],
    own: &[&str],
    own_dirs: &[&str],
) -> Result<(), FileError> {
    for name in written {
        inspect(&dir.join(name))?;
    }
    for name in own {
        check_own(&dir.join(name))?;
    }
    for name in own_dirs {
        check_own_dir(&dir.join(name))?;
    }
    Ok(())
}

/// Clears one of the tool's internal names for a new file: a file the tool left there is
/// removed; anything else is refused and left as it is.
pub(crate) fn clear_own(path: &Path) -> Result<(), FileError> {
    check_own(path)?;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FileError::io(path, e)),
        Ok(()) | Err(_) => Ok(()),
    }
}

/// Creates the file at `path`, which must not exist (a dangling link counts as existing),
/// readable by its owner only.
pub(crate) fn create_new(path: &Path) -> Result<File, FileError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => match inspect(path) {
                Err(refused) => refused,
                Ok(_) => FileError::io(path, e),
            },
            _ => FileError::io(path, e),
        })
}

/// Opens a file the tool made earlier, in place, to write at its end: never through a link,
/// never a file with other names.
pub(crate) fn open_to_append(path: &Path) -> Result<File, FileError> {
    let file = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused_open(path, e))?;
    opened(path, file)
}

/// Opens (or creates) a file shared between processes, as the lock is, for reading and
/// writing in place: never through a link, never a file with other names, never a foreign
/// one.
pub(crate) fn open_shared(path: &Path) -> Result<File, FileError> {
    check_own(path)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused_open(path, e))?;
    opened(path, file)
}

/// `O_NOFOLLOW` fails with `ELOOP` on a link: say so plainly.
fn refused_open(path: &Path, e: io::Error) -> FileError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return FileError::Link {
            path: path.to_path_buf(),
        };
    }
    FileError::io(path, e)
}

/// The checks of [`inspect`], on the file as opened (a name can change between a look and
/// an open; the open file cannot).
fn opened(path: &Path, file: File) -> Result<File, FileError> {
    let metadata = file.metadata().map_err(|e| FileError::io(path, e))?;
    checked(path, metadata)?;
    Ok(file)
}

/// A file being written under a temporary name beside its final one; [`Staged::commit`]
/// renames it into place. Dropped without a commit, it is removed.
pub(crate) struct Staged {
    file: tempfile::NamedTempFile,
    target: PathBuf,
}

impl Staged {
    /// A new temporary file in `target`'s directory, named after it (`.summary.json.XXXXXX.tmp`),
    /// so one a crash leaves says what it was.
    pub(crate) fn new(target: &Path) -> Result<Staged, FileError> {
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(target.file_name().unwrap_or_default());
        prefix.push(".");
        let file = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| FileError::io(target, e))?;
        Ok(Staged {
            file,
            target: target.to_path_buf(),
        })
    }

    pub(crate) fn file(&mut self) -> &mut File {
        self.file.as_file_mut()
    }

    /// Where the file is until it is committed.
    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    /// Syncs the file and renames it to its final name; returns it, still open.
    pub(crate) fn commit(self) -> Result<File, FileError> {
        let target = self.target;
        self.file
            .as_file()
            .sync_all()
            .map_err(|e| FileError::io(&target, e))?;
        let file = self
            .file
            .persist(&target)
            .map_err(|e| FileError::io(&target, e.error))?;
        sync_dir(&target);
        Ok(file)
    }
}

/// Makes a rename in `path`'s directory durable; a failure costs only durability.
fn sync_dir(path: &Path) {
    if let Some(Ok(dir)) = path.parent().map(File::open) {
        let _ = dir.sync_all();
    }
}

/// A new, empty file at `path`, in place of whatever was there (the old file is unlinked,
/// never written), open for writing.
pub(crate) fn replace_with_new(path: &Path) -> Result<File, FileError> {
    Staged::new(path)?.commit()
}

/// Writes a whole file: a crash leaves the old file or the new one, never half of one.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut staged = Staged::new(path)?;
    staged
        .file()
        .write_all(bytes)
        .map_err(|e| FileError::io(path, e))?;
    staged.commit().map(drop)
}

/// Checks what is at one of the tool's internal folder names: nothing, or a folder the tool
/// left (a killed run's: a real folder, owned by the directory's owner, mode 700).
pub(crate) fn check_own_dir(path: &Path) -> Result<(), FileError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FileError::io(path, e)),
    };
    if metadata.file_type().is_symlink() {
        return Err(FileError::Link {
            path: path.to_path_buf(),
        });
    }
    if !metadata.is_dir() || !is_own(path, &metadata)? {
        return Err(FileError::Foreign {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A new folder for working files at `path`, one of the tool's internal names, readable by
/// its owner only: a folder a killed run left there is removed first (its contents with it,
/// links inside removed, never followed); anything else is refused and left as it is.
pub(crate) fn fresh_own_dir(path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::DirBuilderExt;
    check_own_dir(path)?;
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(FileError::io(path, e)),
        Ok(()) | Err(_) => {}
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| FileError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_whole_write_replaces_a_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep").unwrap();
        let soft = dir.path().join("soft.json");
        std::os::unix::fs::symlink(&target, &soft).unwrap();
        let hard = dir.path().join("hard.json");
        std::fs::hard_link(&target, &hard).unwrap();
        write_whole(&soft, b"new").unwrap();
        write_whole(&hard, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&soft).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&soft).unwrap().is_symlink());
        let names = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 3, "no temporary file is left");
    }

    #[test]
    fn links_and_foreign_files_are_refused_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep").unwrap();
        let soft = dir.path().join("soft");
        std::os::unix::fs::symlink(&target, &soft).unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(matches!(create_new(&dangling), Err(FileError::Link { .. })));
        assert!(matches!(open_to_append(&soft), Err(FileError::Link { .. })));
        assert!(matches!(
            open_shared(&hard),
            Err(FileError::HardLinked { .. })
        ));
        assert!(matches!(
            clear_own(&hard),
            Err(FileError::HardLinked { .. })
        ));
        let foreign = dir.path().join("foreign");
        std::fs::write(&foreign, "mine").unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            clear_own(&foreign),
            Err(FileError::Foreign { .. })
        ));
        assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "mine");
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let own = dir.path().join("own");
        drop(create_new(&own).unwrap());
        clear_own(&own).unwrap();
        assert!(!own.exists(), "a file the tool left is cleared");
    }
}
