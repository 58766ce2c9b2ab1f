//! What the config tests share: a `run` command line, a config file on disk, and an
//! environment that holds only the client secret.

use clap::Parser;

use crate::cli::RunArgs;
use crate::config::secret::ENV_CLIENT_SECRET;

pub(super) fn args(extra: &[&str]) -> RunArgs {
    let mut argv = vec!["mfa-enroll", "run", "in.csv"];
    argv.extend_from_slice(extra);
    match crate::cli::Cli::parse_from(argv).command {
        crate::cli::Command::Run(a) => a,
        _ => unreachable!(),
    }
}

pub(super) fn write_config(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

pub(super) fn env_with_secret(name: &str) -> Option<String> {
    (name == ENV_CLIENT_SECRET).then(|| "s3cr3t-value".to_string())
}
