//! Ctrl-C and SIGTERM at every stage: the first stops the run gracefully at whatever stage it
//! is in (every stage looks at the stop flag, and every wait that may last races
//! [`Stop::requested`]), the second exits at once (3).
//!
//! Some waits cannot look at a flag: opening a fifo that has no writer yet, reading a config
//! or secret file that is a pipe, reading the input's header from a silent pipe. Those run on
//! a thread of their own ([`unless_stopped`]), and the run goes on (or ends) without them
//! when a stop comes first; the thread ends with the process.

use std::sync::Arc;

use super::ExitStatus;
use crate::cli::RunArgs;
use crate::config::{process_env, ConfigError, Settings};
use crate::stop::{Stop, StopReason};

/// Ctrl-C and SIGTERM: the first stops the run gracefully, the second exits at once (3). The
/// handlers are in place when this returns: a signal a moment later is heard.
pub fn install_signal_handlers(stop: Arc<Stop>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot listen for signals; Ctrl-C will end the run at once");
        return;
    };
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            seen += 1;
            if seen > 1 {
                eprintln!("{name} again: exiting now; results.csv holds every row finished so far. Resume with --resume.");
                crate::output::lock::release_all_now();
                std::process::exit(ExitStatus::StoppedEarly.code());
            }
            tracing::warn!("{name}: no new requests; waiting for those in flight (press Ctrl-C again to exit at once)");
            stop.request(StopReason::Interrupted(name));
        }
    });
}

/// `work`'s result, run on a thread of its own; `None` when a stop came first.
pub(crate) async fn unless_stopped<T, F>(stop: &Stop, work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    tokio::select! {
        biased;
        () = stop.requested() => None,
        finished = result => match finished {
            Ok(value) => Some(value),
            // The thread panicked; its message is already on stderr.
            Err(_) => std::panic::resume_unwind(Box::new("a reading thread stopped unexpectedly")),
        },
    }
}

/// What reading the configuration came to.
#[derive(Debug)]
pub enum Loaded {
    Ready(Box<Settings>),
    Refused(ConfigError),
    /// A signal came while the config, the secret or the key was still being read.
    Interrupted(String),
}

/// [`Settings::load`] from the process environment, on a thread of its own: a `--config`, a
/// `PINGONE_CLIENT_SECRET_FILE` or a `private_key_file` that is a fifo without a writer (or a
/// slow mount) does not keep the first signal waiting.
pub async fn load_settings(args: RunArgs, stop: Arc<Stop>) -> Loaded {
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
