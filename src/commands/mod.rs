//! One file per command, as xsv has: each takes its command's parsed arguments (from
//! [`crate::cli`]) and owns the rest of it: the logging it starts, the library call, what it
//! prints and its exit code. `main.rs` only parses and hands over. The folder is the menu:
//!
//! - `run`: validate a CSV and create its devices in PingOne, or rehearse it
//!   ([`crate::run::run`]).
//! - `merge`: the output directories of a run's shards back into one record
//!   ([`crate::merge::merge`]).
//! - `report`: report.html written again from an output directory.
//! - `check`: can this tenant take this file? A checklist, reading only ([`crate::check`]).
//! - `sandbox`: the PingOne simulator, standing ([`crate::sandbox::serve_standing`]).
//! - `completions`: a shell's completion script, and `man`, the manual page, both generated
//!   from the clap definitions.
//! - `verify` and `undo`: after a run, read its records back, or delete what it created
//!   ([`crate::after`]).
//!
//! A new command is a new file here, a variant of
//! [`crate::cli::Command`], and one line of `main.rs`. Its logic lives in the library module
//! that owns it, as a run's does in `run/`: a command's file only connects it to the
//! terminal.

pub mod check;
pub mod completions;
pub mod merge;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod undo;
pub mod verify;

use crate::cli::LogFormat;
use crate::exit::ExitStatus;
use crate::logging;

/// The text a command prints at its end, on standard output. Standard output that cannot
/// take it (`> /dev/full`, a closed pipe) is logged on standard error and changes nothing
/// else: the outcome is in the record, and the exit code stays the one summary.json says.
fn print_end(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        // A reader that stopped early (`| head`) asked for no more.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => tracing::error!(
            "cannot write to standard output ({e}); the outcome is in the output directory, and the exit code says it"
        ),
    }
}

/// A refusal before anything was sent: the message on standard error (a JSON log line for
/// schedulers), and exit 2.
fn fail(message: &str, format: LogFormat, color: bool) -> i32 {
    match format {
        LogFormat::Json => tracing::error!(exit_code = 2, "{message}"),
        LogFormat::Text => eprintln!("{}{message}", logging::error_label(color)),
    }
    ExitStatus::NothingSent.code()
}
