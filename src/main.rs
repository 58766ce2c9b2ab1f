//! Parse the command line and hand it to its command (`src/commands/`, one file each), whose
//! answer is the exit code.

use mfa_enroll::cli::{Cli, Command};
use mfa_enroll::{commands, logging};

#[tokio::main]
async fn main() {
    // Only in a build of the tests (src/failpoints.rs): FAILPOINTS names what fails where.
    #[cfg(feature = "failpoints")]
    let _failpoints = ::fail::FailScenario::setup();
    let cli = Cli::parse_colored();
    let color = logging::use_color(cli.color);
    let code = match cli.command {
        Command::Run(args) => commands::run::execute(args, color).await,
        Command::Merge(args) => commands::merge::execute(args, color),
        Command::Report(args) => commands::report::execute(args, color),
        Command::Check(args) => commands::check::execute(args, color).await,
        Command::Sandbox(args) => commands::sandbox::execute(args, color).await,
        Command::Completions(args) => commands::completions::execute(args, color),
        Command::Man => commands::completions::man(color),
        Command::Verify(args) => commands::verify::execute(args, color).await,
        Command::Undo(args) => commands::undo::execute(args, color).await,
    };
    std::process::exit(code);
}
