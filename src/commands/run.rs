//! `mfa-enroll run`: the settings loaded (signals heard from the start), the run
//! ([`crate::run::run`]), and what is printed at its end; a refusal is exit 2 and leaves the
//! metrics file saying so.

use std::sync::Arc;

use super::{fail, print_end};
use crate::cli::RunArgs;
use crate::config::{load_settings, Loaded};
use crate::exit::ExitStatus;
use crate::logging;
use crate::present::describe::{describe, outcome_line};
use crate::present::metrics::write_refusal;
use crate::run::RunError;
use crate::stop::Stop;

/// Runs `mfa-enroll run`; returns its exit code.
pub async fn execute(args: RunArgs, color: bool) -> i32 {
    logging::init(args.log_format, args.quiet > 0, args.verbose, color);
    let quiet = args.quiet;
    let format = args.log_format;
    let metrics_file = args.metrics_file.clone();
    // A refusal is a run's outcome too: the metrics file says so (exit 2), unless the
    // refusal is of the metrics file's path, or its path names a file it may not replace.
    let refused = |message: &str, metrics_refused: bool| {
        if let Some(path) = metrics_file.as_ref().filter(|_| !metrics_refused) {
            let _ = write_refusal(path, 2);
        }
        fail(message, format, color)
    };
    // Signals are heard from the start: reading the config may wait on a fifo.
    let stop = Arc::new(Stop::default());
    crate::run::install_signal_handlers(stop.clone());
    match load_settings(args, stop.clone()).await {
        Loaded::Refused(e) => refused(&e.to_string(), false),
        Loaded::Interrupted(message) => {
            if let Some(path) = &metrics_file {
                let _ = write_refusal(path, 3);
            }
            fail(&message, format, color);
            ExitStatus::StoppedEarly.code()
        }
        Loaded::Ready(settings) => {
            let out_dir = settings.out_dir.clone();
            match crate::run::run(*settings, stop).await {
                Ok(report) => {
                    // -q keeps the one-line outcome, -qq drops it too.
                    match quiet {
                        0 => print_end(&describe(&report.summary, &out_dir)),
                        1 => print_end(&format!("{}\n", outcome_line(&report.summary))),
                        _ => {}
                    }
                    report.exit.code()
                }
                Err(e) => refused(&e.to_string(), matches!(e, RunError::Metrics(_))),
            }
        }
    }
}
