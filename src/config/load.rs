//! Settings loaded as a run loads them: [`Settings::load`] from the process environment, on
//! a thread of its own, so that a config file, a `PINGONE_CLIENT_SECRET_FILE` or a
//! `private_key_file` that is a fifo without a writer (or a slow mount) does not keep the
//! first signal waiting.

use std::sync::Arc;

use super::{process_env, ConfigError, Settings};
use crate::cli::RunArgs;
use crate::stop::{unless_stopped, Stop};

/// What loading the settings came to: settings, a refusal (exit 2), or a stop (exit 3).
#[derive(Debug)]
pub(crate) enum Loaded {
    Ready(Box<Settings>),
    Refused(ConfigError),
    /// A signal came while the config, the secret or the key was still being read.
    Interrupted(String),
}

/// [`Settings::load`] from the process environment, on a thread of its own; a stop that
/// comes first ends the wait.
pub(crate) async fn load_settings(args: RunArgs, stop: Arc<Stop>) -> Loaded {
    match unless_stopped(&stop, move || Settings::load(&args, &process_env)).await {
        Some(Ok(settings)) => Loaded::Ready(Box::new(settings)),
        Some(Err(refused)) => Loaded::Refused(refused),
        None => Loaded::Interrupted(format!(
            "{} while the configuration was being read; nothing was sent",
            stop.reason()
                .map_or_else(|| "stopped".into(), |r| r.to_string())
        )),
    }
}
