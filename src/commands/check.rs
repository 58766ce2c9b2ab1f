//! `mfa-enroll check [INPUT]`: the settings loaded as an online dry run loads them, the
//! checks ([`crate::check::check`]), and the checklist on stdout, as text (✓, ✗ or "not
//! checked" per line) or as JSON; the exit code is the checklist's.

use std::sync::Arc;

use super::fail;
use crate::check::{check, Checklist};
use crate::cli::{CheckArgs, LogFormat};
use crate::config::{load_settings, Loaded};
use crate::logging;
use crate::stop::Stop;

/// Runs `mfa-enroll check`; returns its exit code.
pub async fn execute(args: CheckArgs, color: bool) -> i32 {
    let format = args.log_format;
    // The checklist is the output: logs only for warnings, on stderr.
    logging::init(format, true, false, color);
    let stop = Arc::new(Stop::default());
    crate::run::install_signal_handlers(stop.clone());
    let with_input = args.input.is_some();
    let settings = match load_settings(args.as_run(), stop.clone()).await {
        Loaded::Ready(settings) => settings,
        Loaded::Refused(e) => return fail(&e.to_string(), format, color),
        Loaded::Interrupted(message) => return fail(&message, format, color),
    };
    match check(*settings, with_input, stop).await {
        Ok(list) => {
            print_checklist(&list, format);
            list.exit_code()
        }
        Err(e) => fail(&e.to_string(), format, color),
    }
}

fn print_checklist(list: &Checklist, format: LogFormat) {
    match format {
        LogFormat::Json => match serde_json::to_string_pretty(list) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("cannot write the checklist as JSON: {e}"),
        },
        LogFormat::Text => print!("{}", crate::check::as_text(list)),
    }
}
