//! `mfa-enroll undo RUN_DIR`: delete exactly the devices a run created
//! ([`crate::after::undo_plan::undo`]). A refusal, or no confirmation, is exit 2 with
//! nothing deleted.

use std::sync::Arc;

use super::fail;
use crate::cli::UndoArgs;
use crate::logging;
use crate::stop::Stop;

/// Runs `mfa-enroll undo`; returns its exit code.
pub async fn execute(args: UndoArgs, color: bool) -> i32 {
    let common = &args.after;
    logging::init(common.log_format, common.quiet, common.verbose, color);
    let format = common.log_format;
    let stop = Arc::new(Stop::default());
    crate::run::install_signal_handlers(stop.clone());
    match crate::after::undo_plan::undo(args, stop).await {
        Ok(ended) => {
            println!("{}", ended.describe());
            ended.exit.code()
        }
        Err(e) => fail(&e.to_string(), format, color),
    }
}
