//! Ctrl-C and SIGTERM at every stage: the first stops the run gracefully at whatever stage it
//! is in (every stage looks at the stop flag, and every wait that may last races
//! [`Stop::requested`]), the second exits at once (3).
//!
//! Some waits cannot look at a flag: opening a fifo that has no writer yet, reading a config
//! or secret file that is a pipe, reading the input's header from a silent pipe. Those run on
//! a thread of their own ([`crate::stop::unless_stopped`]), and the run goes on (or ends)
//! without them when a stop comes first; the thread ends with the process.

use std::sync::Arc;

use crate::exit::ExitStatus;
use crate::stop::{Stop, StopReason};

/// Ctrl-C and SIGTERM: the first stops the run gracefully, the second exits at once (3). The
/// handlers are in place when this returns: a signal a moment later is heard.
pub(crate) fn install_signal_handlers(stop: Arc<Stop>) {
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
                crate::record::lock::release_all_now();
                std::process::exit(ExitStatus::StoppedEarly.code());
            }
            tracing::warn!("{name}: no new requests; waiting for those in flight (press Ctrl-C again to exit at once)");
            stop.request(StopReason::Interrupted(name));
        }
    });
}
