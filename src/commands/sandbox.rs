//! `mfa-enroll sandbox`: the PingOne simulator, standing until stopped
//! ([`crate::sandbox::serve_standing`]).

use super::fail;
use crate::cli::{LogFormat, SandboxArgs};
use crate::logging;

/// Runs `mfa-enroll sandbox`; returns its exit code.
pub async fn execute(args: SandboxArgs, color: bool) -> i32 {
    logging::init(LogFormat::Text, false, false, color);
    match crate::sandbox::serve_standing(args).await {
        Ok(()) => 0,
        Err(e) => fail(&e.to_string(), LogFormat::Text, color),
    }
}
