//! `mfa-enroll merge`: the shards' output directories into one record
//! ([`crate::merge::merge`]), then the same end-of-run text and exit code as a run.

use super::{fail, print_end};
use crate::cli::{LogFormat, MergeArgs};
use crate::logging;
use crate::present::describe::describe;

/// Runs `mfa-enroll merge`; returns its exit code.
pub fn execute(args: MergeArgs, color: bool) -> i32 {
    logging::init(LogFormat::Text, false, false, color);
    match crate::merge::merge(&args.shard_dirs, &args.out) {
        Ok(report) => {
            print_end(&describe(&report.summary, &args.out));
            report.exit.code()
        }
        Err(e) => fail(&format!("{e} (nothing was merged)"), LogFormat::Text, color),
    }
}
