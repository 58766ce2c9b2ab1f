//! Parse the command line, call the library, turn the outcome into an exit code.

use std::sync::Arc;

use mfa_enroll::cli::{self, Cli, Command, LogFormat, RunArgs};
use mfa_enroll::output::describe::{describe, outcome_line};
use mfa_enroll::run::Loaded;
use mfa_enroll::stop::Stop;
use mfa_enroll::{logging, run, sandbox, ExitStatus};

#[tokio::main]
async fn main() {
    // Only in a build of the tests (src/failpoints.rs): FAILPOINTS names what fails where.
    #[cfg(feature = "failpoints")]
    let _failpoints = ::fail::FailScenario::setup();
    let cli = Cli::parse_colored();
    let color = logging::use_color(cli.color);
    let code = match cli.command {
        Command::Run(args) => run_command(args, color).await,
        Command::Merge(args) => {
            logging::init(LogFormat::Text, false, false, color);
            match mfa_enroll::merge::merge(&args.shard_dirs, &args.out) {
                Ok(report) => {
                    print!("{}", describe(&report.summary, &args.out));
                    report.exit.code()
                }
                Err(e) => fail(&format!("{e} (nothing was merged)"), LogFormat::Text, color),
            }
        }
        Command::Report(args) => {
            logging::init(LogFormat::Text, false, false, color);
            match mfa_enroll::output::report::rewrite(&args.dir) {
                Ok(path) => {
                    println!("report: {}", path.display());
                    0
                }
                Err(e) => fail(
                    &format!("{e} (no report was written)"),
                    LogFormat::Text,
                    color,
                ),
            }
        }
        Command::Sandbox(args) => {
            logging::init(LogFormat::Text, false, false, color);
            match sandbox::serve_standing(args).await {
                Ok(()) => 0,
                Err(e) => fail(&e.to_string(), LogFormat::Text, color),
            }
        }
        Command::Completions(args) => print_bytes(&cli::completion_script(args.shell), color),
        Command::Man => match cli::man_page() {
            Ok(page) => print_bytes(&page, color),
            Err(e) => fail(
                &format!("cannot render the manual page: {e}"),
                LogFormat::Text,
                color,
            ),
        },
    };
    std::process::exit(code);
}

/// `mfa-enroll run`: settings, the run, and what is printed at its end.
async fn run_command(args: RunArgs, color: bool) -> i32 {
    logging::init(args.log_format, args.quiet > 0, args.verbose, color);
    let quiet = args.quiet;
    let format = args.log_format;
    let metrics_file = args.metrics_file.clone();
    // A refusal is a run's outcome too: the metrics file says so (exit 2).
    let refused = |message: &str| {
        if let Some(path) = &metrics_file {
            let _ = mfa_enroll::output::metrics::write_refusal(path, 2);
        }
        fail(message, format, color)
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
            fail(&message, format, color);
            ExitStatus::StoppedEarly.code()
        }
        Loaded::Ready(settings) => {
            let out_dir = settings.out_dir.clone();
            match run::run(*settings, stop).await {
                Ok(report) => {
                    // -q keeps the one-line outcome, -qq drops it too.
                    match quiet {
                        0 => print!("{}", describe(&report.summary, &out_dir)),
                        1 => println!("{}", outcome_line(&report.summary)),
                        _ => {}
                    }
                    report.exit.code()
                }
                Err(e) => refused(&e.to_string()),
            }
        }
    }
}

/// Generated text on standard output; a reader that stops early (`| head`) is no error.
fn print_bytes(bytes: &[u8], color: bool) -> i32 {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => fail(
            &format!("cannot write to standard output: {e}"),
            LogFormat::Text,
            color,
        ),
    }
}

/// Refusals before anything was sent: the message (a JSON log line for schedulers), exit 2.
fn fail(message: &str, format: LogFormat, color: bool) -> i32 {
    match format {
        LogFormat::Json => tracing::error!(exit_code = 2, "{message}"),
        LogFormat::Text => eprintln!("{}{message}", logging::error_label(color)),
    }
    ExitStatus::NothingSent.code()
}
