//! How the tests and the benchmark start the real binary: one place, so both scrub the same
//! environment (a developer's own PingOne variables never leak into a run) and no child
//! outlives its test.

use std::path::Path;
use std::process::Stdio;

/// The variables a run reads from the environment; each launch starts without them.
pub const SCRUBBED: [&str; 6] = [
    // A test build's failpoints (src/failpoints.rs): set only by the tests that mean them.
    "FAILPOINTS",
    "PINGONE_CLIENT_SECRET",
    "PINGONE_CLIENT_SECRET_FILE",
    "PINGONE_CLIENT_ID",
    "PINGONE_ENVIRONMENT_ID",
    "RUST_LOG",
];

/// `bin args…` in `dir`, with `secret` as the client secret when given; output piped.
pub fn command(
    bin: &Path,
    dir: &Path,
    secret: Option<&str>,
    args: &[&str],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(bin);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in SCRUBBED {
        command.env_remove(name);
    }
    if let Some(secret) = secret {
        command.env("PINGONE_CLIENT_SECRET", secret);
    }
    command
}
