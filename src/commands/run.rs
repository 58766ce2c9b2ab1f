//! `mfa-enroll run`: the settings loaded (signals heard from the start), the run
//! ([`crate::run::run`]), and what is printed at its end; a refusal is exit 2 and leaves the
//! metrics file saying so.

use std::path::PathBuf;
use std::sync::Arc;

use super::{fail, print_end};
use crate::cli::RunArgs;
use crate::config::{load_settings, Loaded};
use crate::exit::ExitStatus;
use crate::logging;
use crate::present::describe::{describe, outcome_line};
use crate::present::metrics::write_refusal;
use crate::record::read_back;
use crate::run::RunError;
use crate::stop::Stop;

/// `--resume` without `--config`: the config file the earlier run recorded in its
/// summary.json (`settings.config_file`), so the resumed run meets the same tenant with the
/// same settings wherever it is started from. A recorded file that cannot be read now is
/// refused, naming it. `None` when there is nothing to go on: prepare then refuses a missing
/// or broken record as it always has.
fn config_of_earlier_run(args: &RunArgs) -> Result<Option<PathBuf>, String> {
    if !args.resume || args.config.is_some() {
        return Ok(None);
    }
    let Ok(earlier) = read_back::summary(&args.out) else {
        return Ok(None);
    };
    let Some(recorded) = earlier.settings.config_file else {
        return Ok(None);
    };
    let path = PathBuf::from(&recorded);
    if path.is_file() {
        return Ok(Some(path));
    }
    Err(format!(
        "--resume without --config: {} records the config file {recorded}, which is no longer \
         there; pass --config with it (or with the file that replaced it)",
        args.out.join(crate::record::SUMMARY_FILE).display()
    ))
}

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
    let mut args = args;
    match config_of_earlier_run(&args) {
        Ok(Some(recorded)) => {
            tracing::info!(config = %recorded.display(), "--resume without --config: the config file the earlier run read");
            args.config = Some(recorded);
        }
        Ok(None) => {}
        Err(message) => return refused(&message, false),
    }
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
