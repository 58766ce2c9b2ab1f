//! `mfa-enroll completions SHELL` and `mfa-enroll man`: the completion script and the manual
//! page, both generated from the clap definitions in [`crate::cli`] (never written by hand),
//! on standard output.

use std::io::Write;

use clap::CommandFactory;

use super::fail;
use crate::cli::{Cli, CompletionsArgs, LogFormat};

/// Runs `mfa-enroll completions`; returns its exit code.
pub fn execute(args: CompletionsArgs, color: bool) -> i32 {
    print_bytes(&completion_script(args.shell), color)
}

/// Runs `mfa-enroll man`; returns its exit code.
pub fn man(color: bool) -> i32 {
    match man_page() {
        Ok(page) => print_bytes(&page, color),
        Err(e) => fail(
            &format!("cannot render the manual page: {e}"),
            LogFormat::Text,
            color,
        ),
    }
}

/// Generated text on standard output; a reader that stops early (`| head`) is no error.
fn print_bytes(bytes: &[u8], color: bool) -> i32 {
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

/// The completion script for `shell`, generated from the clap definitions ([`Cli`]).
fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut script);
    match shell {
        // clap_complete 4.6 spells a hyphenated binary's subcommand states two ways in bash
        // (`mfa__enroll__subcmd__run` in the loop, `mfa__subcmd__enroll__subcmd__run` in the
        // arms), so no subcommand's options would complete: clap-rs/clap#6421. Spell the
        // arms as the loop does; once clap_complete is fixed, this replaces nothing.
        clap_complete::Shell::Bash => String::from_utf8_lossy(&script)
            .replace("mfa__subcmd__enroll", "mfa__enroll")
            .into_bytes(),
        _ => script,
    }
}

/// The command's name, as completions register it.
const BIN_NAME: &str = "mfa-enroll";

/// The manual page (roff), generated from the clap definitions ([`Cli`]): clap_mangen's page
/// of the whole command, then a section per subcommand with its synopsis, description,
/// options and examples (clap_mangen's sections of the subcommand, one level down).
fn man_page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let top = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    top.render_name_section(&mut page)?;
    top.render_synopsis_section(&mut page)?;
    top.render_description_section(&mut page)?;
    top.render_options_section(&mut page)?;
    top.render_subcommands_section(&mut page)?;
    for subcommand in command.get_subcommands() {
        let name = format!("mfa-enroll {}", subcommand.get_name());
        page.extend(format!(".SH \"{}\"\n", name.to_uppercase()).bytes());
        let man = clap_mangen::Man::new(subcommand.clone().bin_name(name));
        let mut sections = Vec::new();
        man.render_synopsis_section(&mut sections)?;
        man.render_description_section(&mut sections)?;
        if subcommand.get_arguments().next().is_some() {
            man.render_options_section(&mut sections)?;
        }
        if subcommand.get_after_help().is_some() {
            man.render_extra_section(&mut sections)?;
        }
        for line in String::from_utf8_lossy(&sections).lines() {
            let line = match line.strip_prefix(".SH ") {
                Some("EXTRA") => ".SS EXAMPLES".to_string(),
                Some(heading) => format!(".SS {heading}"),
                None => line.to_string(),
            };
            page.extend(line.bytes().chain([b'\n']));
        }
    }
    top.render_version_section(&mut page)?;
    Ok(roff_ascii(&String::from_utf8_lossy(&page)).into_bytes())
}

/// Every character outside ASCII as groff's `\[uXXXX]` escape: clap_mangen copies help text
/// as it is, and groff reads its input as Latin-1 unless told otherwise (a `…` in a flag's
/// help would reach the reader as three odd characters, with a warning).
fn roff_ascii(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}
