//! Config file + environment + flags -> one validated [`Settings`] value.
//!
//! Precedence: flags override the file; environment variables fill only what neither set.
//! Every key is checked before anything is sent, and an error names the key and the fix.
//! The client secret is read from `PINGONE_CLIENT_SECRET` only, and lives in [`Secret`], whose
//! `Debug` and `Display` never show it.
//!
//! One concern per file: `file.rs` the TOML schema and reading it; `connection.rs` where
//! PingOne is and as whom (`[pingone]`); `client_auth.rs` the token endpoint's credential;
//! `secret.rs` the client secret; `private_key.rs` the key of `private_key_jwt`, checked;
//! `redact.rs` config errors that never echo a secret; `tls.rs` `ca_file`; `enroll.rs` `[enroll]`; `limits.rs`
//! `[limits]`; `metrics_file.rs` `--metrics-file`'s folder, checked at the start; `load.rs` loads them as a run does ([`load_settings`], on a thread a signal
//! does not wait for). This file puts them together into [`Settings`], in the order of
//! precedence.

use std::path::PathBuf;

use crate::cli::{LogFormat, RunArgs};
use crate::input::InputSource;

mod client_auth;
mod concurrency;
mod connection;
mod ecosystem;
mod enroll;
mod file;
mod limits;
mod load;
mod metrics_file;
mod private_key;
mod redact;
mod secret;
#[cfg(test)]
mod test_support;
mod tls;

pub(crate) use client_auth::ClientAuth;
pub use client_auth::TokenAuthMethod;
pub(crate) use concurrency::{Concurrency, AUTO_FEWEST, AUTO_HEADROOM, AUTO_MOST, AUTO_SPARE};
pub(crate) use connection::Connection;
pub use enroll::EnrollSettings;
pub use limits::Limits;
pub(crate) use load::{load_settings, Loaded};
pub use secret::Secret;
pub(crate) use secret::ENV_CLIENT_SECRET;

use connection::connection;
use enroll::enroll_settings;
use file::read_config_file;
use limits::limits;

#[derive(Debug, thiserror::Error)]
#[error("{origin}: {key}: {problem}")]
pub struct ConfigError {
    /// The config file's path, "environment" or "command line".
    pub(crate) origin: String,
    /// The key as the user writes it, e.g. `[limits] rate` or `--delimiter`.
    pub(crate) key: String,
    pub(crate) problem: String,
}

impl ConfigError {
    fn new(origin: impl Into<String>, key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// What a run does; summary.json's `mode` spells it as serde does here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Create devices.
    #[default]
    Live,
    /// `--dry-run`: validate only, send nothing.
    #[serde(rename = "dry_run")]
    DryRunOffline,
    /// `--dry-run --online`: GET only, report what a live run would do.
    DryRunOnline,
}

impl RunMode {
    pub(crate) fn sends_requests(self) -> bool {
        match self {
            Self::Live | Self::DryRunOnline => true,
            Self::DryRunOffline => false,
        }
    }

    /// The kind of run, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Live => "live run",
            Self::DryRunOffline => "dry run (offline)",
            Self::DryRunOnline => "dry run (--online)",
        }
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub input: InputSource,
    pub out_dir: PathBuf,
    /// The config file read, if any (`--config`, or `mfa-enroll.toml` found here).
    pub config_file: Option<PathBuf>,
    pub mode: RunMode,
    pub resume: bool,
    /// `--shard K/N`: this process's share of the input.
    pub shard: Option<crate::shard::Shard>,
    pub use_sandbox: bool,
    /// `None` for offline dry runs, and for `--sandbox` until the simulator is up.
    pub connection: Option<Connection>,
    pub enroll: EnrollSettings,
    pub limits: Limits,
    pub delimiter: u8,
    /// `--metrics-file`: Prometheus text, written at the end of every run.
    pub metrics_file: Option<PathBuf>,
    pub log_format: LogFormat,
    pub quiet: bool,
    pub verbose: bool,
    /// Without a terminal, how often a progress line is logged.
    pub progress_every: std::time::Duration,
}

/// Without a terminal, a progress line is logged this often (the hidden
/// `--progress-every-ms` says otherwise, for tests).
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads an environment variable; a seam so tests need not touch the process environment.
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as a run reads it: a variable set to blanks counts as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// The run's settings: its flags, then the config file they name (or find), then `env`.
    pub(crate) fn load(args: &RunArgs, env: EnvLookup<'_>) -> Result<Settings, ConfigError> {
        let (file, config_file) = read_config_file(args.config.as_deref())?;
        let origin = config_file
            .as_ref()
            .map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
        let mode = match (args.dry_run, args.online) {
            (false, _) => RunMode::Live,
            (true, false) => RunMode::DryRunOffline,
            (true, true) => RunMode::DryRunOnline,
        };
        let delimiter = match &args.delimiter {
            None => b',',
            Some(text) => parse_delimiter(text)?,
        };
        let enroll = enroll_settings(&file.enroll, args, &origin)?;
        let limits = limits(&file.limits, args, &origin)?;
        if let Some(path) = &args.metrics_file {
            metrics_file::check(path, &args.out)?;
        }
        let needs_connection = mode.sends_requests() && !args.sandbox;
        let connection = if needs_connection {
            Some(connection(
                &file.pingone,
                args.environment_id.as_deref(),
                &origin,
                env,
            )?)
        } else {
            None
        };
        Ok(Settings {
            input: InputSource::from_arg(&args.input),
            out_dir: args.out.clone(),
            config_file,
            mode,
            resume: args.resume,
            shard: args.shard,
            use_sandbox: args.sandbox,
            connection,
            enroll,
            limits,
            delimiter,
            metrics_file: args.metrics_file.clone(),
            log_format: args.log_format,
            quiet: args.quiet > 0,
            verbose: args.verbose,
            progress_every: args
                .progress_every_ms
                .map_or(PROGRESS_EVERY, std::time::Duration::from_millis),
        })
    }
}

fn parse_delimiter(text: &str) -> Result<u8, ConfigError> {
    let byte = match text {
        "\\t" | "tab" | "\t" => Some(b'\t'),
        t if t.len() == 1 && t.is_ascii() && t != "\"" && t != "\n" && t != "\r" => {
            Some(t.as_bytes()[0])
        }
        _ => None,
    };
    byte.ok_or_else(|| {
        ConfigError::new(
            "command line",
            "--delimiter",
            format!("{text:?} is not one ASCII character (other than a quote or newline); use e.g. ';' or '\\t'"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::connection::ENV_CLIENT_ID;
    use super::ecosystem::ENV_ENVIRONMENT_ID;
    use super::*;
    use crate::config::test_support::{args, env_with_secret, write_config};

    #[test]
    fn a_live_run_against_pingone_is_told_enable_mfa_and_a_flag_overrides_the_file() {
        let env = |name: &str| match name {
            ENV_ENVIRONMENT_ID => Some("5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10".to_string()),
            ENV_CLIENT_ID => Some("id".to_string()),
            _ => env_with_secret(name),
        };
        let load = |file: &str, flags: &[&str]| {
            let cfg = write_config(&format!("[enroll]\n{file}\n"));
            let mut argv = vec!["--config", cfg.path().to_str().unwrap()];
            argv.extend_from_slice(flags);
            Settings::load(&args(&argv), &env).map(|s| s.enroll)
        };
        let err = load("", &[]).unwrap_err();
        assert_eq!(err.key, "[enroll] enable_mfa");
        let on = |file, flags| load(file, flags).map(|e| (e.enable_mfa, e.enable_mfa_by_default));
        assert_eq!(on("enable_mfa = true", &[]).unwrap(), (true, false));
        assert_eq!(
            on("enable_mfa = true", &["--no-enable-mfa"]).unwrap(),
            (false, false)
        );
        assert_eq!(
            on("enable_mfa = false", &["--enable-mfa"]).unwrap(),
            (true, false)
        );
        // The rehearsal switches users on unless told; dry runs send no PUT.
        assert_eq!(on("", &["--sandbox"]).unwrap(), (true, true));
        assert_eq!(
            on("", &["--sandbox", "--no-enable-mfa"]).unwrap(),
            (false, false)
        );
        assert_eq!(on("", &["--dry-run", "--online"]).unwrap(), (false, false));
    }

    #[test]
    fn flags_override_file_and_env_fills_gaps() {
        let cfg =
            write_config("[pingone]\nclient_id = \"abc\"\n[limits]\nrate = 10\nconcurrency = 3\n");
        let path = cfg.path().to_str().unwrap();
        let env = |name: &str| match name {
            ENV_ENVIRONMENT_ID => Some("5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10".to_string()),
            ENV_CLIENT_ID => Some("from-env".to_string()),
            _ => env_with_secret(name),
        };
        let chosen = ["--config", path, "--rate", "20", "--enable-mfa"];
        let s = Settings::load(&args(&chosen), &env).unwrap();
        assert_eq!(s.limits.rate, 20);
        assert_eq!(s.limits.concurrency, Concurrency::Pinned(3));
        let c = s.connection.unwrap();
        assert_eq!(c.client_id, "abc");
        assert_eq!(c.environment_id, "5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10");
        assert_eq!(c.api_url.as_str(), "https://api.pingone.com/v1");
        assert!(!format!("{:?}", c.auth).contains("s3cr3t"));
    }
}
