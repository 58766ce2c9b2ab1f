//! Reading a file that comes from outside, up to a ceiling and no further: the config, the
//! client secret, the private key, the CA certificates, an earlier run's summary. Every such
//! read goes through [`read`], so `/dev/zero`, a sparse file of gigabytes or a mistaken path
//! costs at most one ceiling of memory and time, and ends in an error that says the ceiling.
//!
//! The files the tool itself wrote and reads back (summary.json, timeline.json, results.csv
//! and errors.csv, for `--resume`, `merge`, `report` and every command that reads a run's
//! directory; the metrics file) are opened with [`open_own`]: a regular file only, never
//! through a link, and never a wait (a fifo at the name is refused at once), then read with
//! [`read_own`] up to a ceiling or, for the CSVs, row by row within a bound
//! (`record::read_back::RowReader`).
//! (Server answers have their own ceilings, in `pingone/body.rs`; the input CSV has one per
//! record, in `input/tracking.rs`.)

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The config file (`--config`): a real one is a few kilobytes.
pub(crate) const CONFIG_FILE_CEILING: u64 = 1024 * 1024;
/// `PINGONE_CLIENT_SECRET_FILE`: a secret is tens of characters.
pub(crate) const SECRET_FILE_CEILING: u64 = 64 * 1024;
/// `[pingone] private_key_file`: an RSA key of 8192 bits is about 6.5 KB of PEM.
pub(crate) const PRIVATE_KEY_FILE_CEILING: u64 = 64 * 1024;
/// `[pingone] ca_file`: a whole system bundle of some 150 CAs is about 220 KB.
pub(crate) const CA_FILE_CEILING: u64 = 4 * 1024 * 1024;
/// An earlier run's summary.json (`--resume`, `merge`).
pub(crate) const SUMMARY_FILE_CEILING: u64 = 64 * 1024 * 1024;
/// Small files the tool itself keeps beside its outputs (the lock, the metrics file).
pub(crate) const OWN_FILE_CEILING: u64 = 1024 * 1024;

/// Why a bounded read gave nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BoundedReadError {
    #[error("cannot read {} ({source})", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is larger than {} (the most this file can sensibly hold); check that the path names the right file", path.display(), size_text(*ceiling))]
    TooLarge { path: PathBuf, ceiling: u64 },
    #[error("{} is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
}

/// The whole of `path` when it holds at most `ceiling` bytes. Reads one byte past the
/// ceiling at most, so a device or a pipe that never ends is refused as quickly as a file.
pub(crate) fn read(path: &Path, ceiling: u64) -> Result<Vec<u8>, BoundedReadError> {
    let file = File::open(path).map_err(|source| BoundedReadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    read_opened(file, path, ceiling)
}

/// Opens a file the tool wrote, to read it back: a regular file only. Never through a link
/// (the tool writes none), and never waiting: a fifo or a device at the name is refused as
/// the open returns, where a plain open of a fifo would wait for a writer forever.
pub(crate) fn open_own(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => {
                io::Error::other("it is a symbolic link, which mfa-enroll never writes")
            }
            _ => e,
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "it is not a regular file (a fifo, a device or a directory), which mfa-enroll never writes",
        ));
    }
    Ok(file)
}

/// [`read`], of a file the tool wrote ([`open_own`]).
pub(crate) fn read_own(path: &Path, ceiling: u64) -> Result<Vec<u8>, BoundedReadError> {
    let file = open_own(path).map_err(|source| BoundedReadError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    read_opened(file, path, ceiling)
}

/// [`read_own`], as UTF-8 text.
pub(crate) fn read_own_to_string(path: &Path, ceiling: u64) -> Result<String, BoundedReadError> {
    String::from_utf8(read_own(path, ceiling)?).map_err(|_| BoundedReadError::NotText {
        path: path.to_path_buf(),
    })
}

fn read_opened(file: File, path: &Path, ceiling: u64) -> Result<Vec<u8>, BoundedReadError> {
    let unreadable = |source| BoundedReadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || BoundedReadError::TooLarge {
        path: path.to_path_buf(),
        ceiling,
    };
    let metadata = file.metadata().map_err(unreadable)?;
    if metadata.is_dir() {
        return Err(unreadable(io::Error::other("it is a directory")));
    }
    // A regular file says its size: refuse a big one without reading it. (A sparse file of
    // gigabytes would otherwise be read into memory to find out.)
    if metadata.is_file() && metadata.len() > ceiling {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(ceiling.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > ceiling {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub(crate) fn read_to_string(path: &Path, ceiling: u64) -> Result<String, BoundedReadError> {
    String::from_utf8(read(path, ceiling)?).map_err(|_| BoundedReadError::NotText {
        path: path.to_path_buf(),
    })
}

/// A ceiling as people read it: `64 KiB`, `1 MiB`.
pub(crate) fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_ceiling_and_refuses_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read(&path, 5).unwrap(), b"12345");
        let err = read(&path, 4).unwrap_err();
        assert!(matches!(err, BoundedReadError::TooLarge { ceiling: 4, .. }));
        assert!(err.to_string().contains("larger than 4 bytes"), "{err}");
    }

    #[test]
    fn an_endless_device_is_refused_after_one_ceiling() {
        let started = std::time::Instant::now();
        let err = read(Path::new("/dev/zero"), SECRET_FILE_CEILING).unwrap_err();
        assert!(matches!(err, BoundedReadError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("64 KiB"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn a_sparse_file_of_gigabytes_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let file = File::create(&path).unwrap();
        file.set_len(2 * 1024 * 1024 * 1024).unwrap();
        let err = read(&path, CONFIG_FILE_CEILING).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(64 * 1024), "64 KiB");
        assert_eq!(size_text(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_text(1024 * 1024 * 1024), "1 GiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
