//! `mfa-enroll report DIR`: report.html written again from what the output directory holds
//! ([`crate::present::report::rewrite`]).

use super::{fail, print_end};
use crate::cli::{LogFormat, ReportArgs};
use crate::logging;

/// Runs `mfa-enroll report`; returns its exit code.
pub fn execute(args: ReportArgs, color: bool) -> i32 {
    logging::init(LogFormat::Text, false, false, color);
    match crate::present::report::rewrite(&args.dir) {
        Ok(path) => {
            print_end(&format!("report: {}\n", path.display()));
            0
        }
        Err(e) => fail(
            &format!("{e} (no report was written)"),
            LogFormat::Text,
            color,
        ),
    }
}
