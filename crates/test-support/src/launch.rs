//! How the tests and the benchmark start the real binary: one place, so both scrub the same
//! environment (a developer's own PingOne variables never leak into a run) and no child
//! outlives its test; and where the binary the tests run is.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

/// The binary the tests run: the test build of the `mfa-enroll` package's binary, which
/// carries the failpoints (its dev-dependency on itself turns the feature on). Cargo names
/// it in `CARGO_BIN_EXE_mfa-enroll` when it runs an integration test or a bench (since Cargo
/// 1.94; before, only while compiling one, which this crate is not). Older Cargo, or a test
/// binary started by hand: the binary beside the `deps/` folder the test binary was built in.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("CARGO_BIN_EXE_mfa-enroll") {
            return PathBuf::from(path);
        }
        let test = std::env::current_exe().expect("the test binary's path");
        let beside_deps = test
            .parent()
            .and_then(Path::parent)
            .map(|profile| profile.join("mfa-enroll"))
            .filter(|path| path.is_file());
        beside_deps.unwrap_or_else(|| {
            panic!(
                "no mfa-enroll binary: CARGO_BIN_EXE_mfa-enroll is unset and none is beside {}; \
                 run the tests with `cargo test`",
                test.display()
            )
        })
    })
}

/// The variables a run reads from the environment; each launch starts without them.
pub const SCRUBBED: [&str; 10] = [
    // A test build's failpoints (src/failpoints.rs): set only by the tests that mean them.
    "FAILPOINTS",
    "PINGONE_CLIENT_SECRET",
    "PINGONE_CLIENT_SECRET_FILE",
    "PINGONE_CLIENT_ID",
    "PINGONE_ENVIRONMENT_ID",
    "PINGONE_TARGET_ENVIRONMENT_ID",
    "PINGONE_REGION",
    "PINGONE_REGION_CODE",
    "PINGONE_ROOT_DOMAIN",
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
