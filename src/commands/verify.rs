//! `mfa-enroll verify RUN_DIR`: do a run's records still hold? ([`crate::after::verify`]).
//! Reads only; a refusal is exit 2.

use std::sync::Arc;

use super::fail;
use crate::cli::VerifyArgs;
use crate::logging;
use crate::stop::Stop;

/// Runs `mfa-enroll verify`; returns its exit code.
pub async fn execute(args: VerifyArgs, color: bool) -> i32 {
    let common = &args.after;
    logging::init(common.log_format, common.quiet, common.verbose, color);
    let format = common.log_format;
    let stop = Arc::new(Stop::default());
    crate::run::install_signal_handlers(stop.clone());
    match crate::after::verify::verify(args, stop).await {
        Ok(ended) => {
            println!("{}", ended.describe());
            ended.exit.code()
        }
        Err(e) => fail(&e.to_string(), format, color),
    }
}
