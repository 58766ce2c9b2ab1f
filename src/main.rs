//! Parse the command line, call the library, turn the outcome into an exit code.

use std::sync::Arc;

use clap::Parser;
use mfa_enroll::cli::{Cli, Command, LogFormat};
use mfa_enroll::output::describe::describe;
use mfa_enroll::run::Loaded;
use mfa_enroll::stop::Stop;
use mfa_enroll::{logging, run, sandbox, ExitStatus};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => {
            logging::init(args.log_format, args.quiet, args.verbose);
            let quiet = args.quiet;
            let format = args.log_format;
            let metrics_file = args.metrics_file.clone();
            // A refusal is a run's outcome too: the metrics file says so (exit 2).
            let refused = |message: &str| {
                if let Some(path) = &metrics_file {
                    let _ = mfa_enroll::output::metrics::write_refusal(path, 2);
                }
                fail(message, format)
            };
            // Signals are heard from the start: reading the config may wait on a fifo.
            let stop = Arc::new(Stop::default());
            run::install_signal_handlers(stop.clone());
            match run::load_settings(args, stop.clone()).await {
                Loaded::Refused(e) => refused(&e.to_string()),
                Loaded::Interrupted(message) => {
                    if let Some(path) = &metrics_file {
                        let _ = mfa_enroll::output::metrics::write_refusal(path, 3);
                    }
                    fail(&message, format);
                    ExitStatus::StoppedEarly.code()
                }
                Loaded::Ready(settings) => {
                    let out_dir = settings.out_dir.clone();
                    match run::run(*settings, stop).await {
                        Ok(report) => {
                            if !quiet {
                                print!("{}", describe(&report.summary, &out_dir));
                            }
                            report.exit.code()
                        }
                        Err(e) => refused(&e.to_string()),
                    }
                }
            }
        }
        Command::Merge(args) => {
            logging::init(LogFormat::Text, false, false);
            match mfa_enroll::merge::merge(&args.shard_dirs, &args.out) {
                Ok(report) => {
                    print!("{}", describe(&report.summary, &args.out));
                    report.exit.code()
                }
                Err(e) => fail(&format!("{e} (nothing was merged)"), LogFormat::Text),
            }
        }
        Command::Report(args) => {
            logging::init(LogFormat::Text, false, false);
            match mfa_enroll::output::report::rewrite(&args.dir) {
                Ok(path) => {
                    println!("report: {}", path.display());
                    0
                }
                Err(e) => fail(&format!("{e} (no report was written)"), LogFormat::Text),
            }
        }
        Command::Sandbox(args) => {
            logging::init(LogFormat::Text, false, false);
            match sandbox::serve_standing(args).await {
                Ok(()) => 0,
                Err(e) => fail(&e.to_string(), LogFormat::Text),
            }
        }
    };
    std::process::exit(code);
}

/// Refusals before anything was sent: the message (a JSON log line for schedulers), exit 2.
fn fail(message: &str, format: LogFormat) -> i32 {
    match format {
        LogFormat::Json => tracing::error!(exit_code = 2, "{message}"),
        LogFormat::Text => eprintln!("error: {message}"),
    }
    ExitStatus::NothingSent.code()
}
