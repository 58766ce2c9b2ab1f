//! `--metrics-file`, checked before the run: its folder exists and takes a new file. The file
//! is written at the end, so a folder that is missing or read-only would otherwise be found
//! out only then, as a warning a nightly job's monitoring never sees.

use std::path::Path;

use super::ConfigError;

const KEY: &str = "--metrics-file";

/// Refuses a metrics file whose folder is missing, not a folder, or takes no new file; the
/// check writes and removes a file of its own there, as the end of the run will write its
/// temporary file beside the metrics file. A file in the run's own `--out`, which the run
/// makes, waits for the checks of the record's files (`run/prepare.rs`), which say more.
pub(super) fn check(path: &Path, out_dir: &Path) -> Result<(), ConfigError> {
    let refused = |problem: String| ConfigError::new("command line", KEY, problem);
    if path.is_dir() {
        return Err(refused(format!(
            "{} is a folder; name a file in it (e.g. {})",
            path.display(),
            path.join("mfa_enroll.prom").display()
        )));
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if folder == out_dir && !folder.exists() {
        return Ok(());
    }
    if !folder.is_dir() {
        let what = if folder.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(refused(format!(
            "{} {what}: the metrics file is written there at the end of the run; create the \
             folder, or name a file in one that exists",
            folder.display()
        )));
    }
    let name = path
        .file_name()
        .map_or_else(|| "metrics".into(), |n| n.to_string_lossy().into_owned());
    let probe = folder.join(format!(".{name}.check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refused(format!(
            "cannot write a file in {} ({e}): the metrics file is written there at the end of \
             the run; make the folder writable for this user, or name a file in one that is",
            folder.display()
        ))),
    }
}
