//! Parse the command line, call the library, turn the outcome into an exit code.

use std::sync::Arc;

use clap::Parser;
use mfa_enroll::cli::{Cli, Command};
use mfa_enroll::config::{process_env, Settings};
use mfa_enroll::stop::Stop;
use mfa_enroll::{logging, run, sandbox, ExitStatus};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => {
            logging::init(args.log_format, args.quiet, args.verbose);
            let quiet = args.quiet;
            match Settings::load(&args, &process_env) {
                Err(e) => fail(&e.to_string()),
                Ok(settings) => {
                    let out_dir = settings.out_dir.clone();
                    let stop = Arc::new(Stop::default());
                    run::install_signal_handlers(stop.clone());
                    match run::run(settings, stop).await {
                        Ok(report) => {
                            if !quiet {
                                print!("{}", run::describe(&report, &out_dir));
                            }
                            report.exit.code()
                        }
                        Err(e) => fail(&e.to_string()),
                    }
                }
            }
        }
        Command::Sandbox(args) => {
            logging::init(mfa_enroll::cli::LogFormat::Text, false, false);
            match sandbox::serve_standing(args).await {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
    };
    std::process::exit(code);
}

/// Refusals before anything was sent: the message, then exit 2.
fn fail(message: &str) -> i32 {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    ExitStatus::NothingSent.code()
}
