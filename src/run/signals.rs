//! Ctrl-C and SIGTERM: the first stops the run gracefully at whatever stage it is in (every
//! stage looks at the stop flag), the second exits at once (3).

use std::sync::Arc;

use super::ExitStatus;
use crate::stop::{Stop, StopReason};

/// Ctrl-C and SIGTERM: the first stops the run gracefully, the second exits at once (3).
pub fn install_signal_handlers(stop: Arc<Stop>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!("cannot listen for signals; Ctrl-C will end the run at once");
            return;
        };
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
