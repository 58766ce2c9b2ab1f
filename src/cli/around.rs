//! The commands around a run, as clap definitions: `check` before it (can the tenant take
//! the file?), `verify` and `undo` after it (do its records hold? delete what it created).

use std::path::PathBuf;

use clap::Args;

use super::{LogFormat, RunArgs};

pub(super) const CHECK_EXAMPLES: &str = "\
Examples:
    mfa-enroll check users.csv --config mfa-enroll.toml
    mfa-enroll check --log-format json > check.json

It reads only, a handful of requests whatever the file's size. Exit codes:
0 the tenant can take the file; 1 something the file needs is missing or
off (each failed line names the setting and the rows); 2 the tenant cannot
be reached, the credentials are refused, or the input or config is unusable.";

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The enrollment CSV to check the tenant against (a file, a pipe, or - for standard
    /// input); without it, only the token, hosts, clock, settings and role are checked
    pub(crate) input: Option<PathBuf>,

    /// Config file [default: mfa-enroll.toml when it exists]
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The target environment's ID (overrides `[pingone] environment_id` and
    /// PINGONE_TARGET_ENVIRONMENT_ID)
    #[arg(long, value_name = "ID")]
    pub(crate) environment_id: Option<String>,

    /// Device authentication policy for rows with an empty policy_id (overrides `[enroll]
    /// policy_id`)
    #[arg(long, value_name = "ID")]
    pub(crate) policy_id: Option<String>,

    /// Country of phone numbers written without + (overrides `[enroll] default_country`)
    #[arg(long, value_name = "CC")]
    pub(crate) default_country: Option<String>,

    /// Field delimiter of the input, one ASCII character; \t for tab
    #[arg(long, value_name = "C")]
    pub(crate) delimiter: Option<String>,

    /// The run will be given --allow-messages: pairing codes are not a failure
    #[arg(long)]
    pub(crate) allow_messages: bool,

    /// The checklist's format on stdout: text (one line per check) or json
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub log_format: LogFormat,
}

impl CheckArgs {
    /// The settings a check reads, loaded as an online dry run's are: the same connection,
    /// `[enroll]` and `[limits]`, nothing written.
    pub(crate) fn as_run(&self) -> RunArgs {
        RunArgs {
            dry_run: true,
            online: true,
            environment_id: self.environment_id.clone(),
            policy_id: self.policy_id.clone(),
            default_country: self.default_country.clone(),
            delimiter: self.delimiter.clone(),
            allow_messages: self.allow_messages,
            log_format: self.log_format,
            ..RunArgs::flags_unset(
                self.input.clone().unwrap_or_else(|| PathBuf::from("-")),
                self.config.clone(),
            )
        }
    }
}

pub(super) const VERIFY_EXAMPLES: &str = "\
Examples:
    mfa-enroll verify migration-2026-11 --config mfa-enroll.toml
    mfa-enroll verify migration-2026-11 --resume        # after an interruption
  Nightly drift check (counts per state for the scheduler):
    mfa-enroll verify /var/lib/mfa/2026-11-02 --out /var/lib/mfa/verify-$(date +%F) \\
      --metrics-file /var/lib/node_exporter/textfile/mfa_verify.prom

Exit codes: 0 every record holds (pending activations included); 1 some do
not (verify.csv says which and why); 2 nothing was sent (usage, config, a
run directory that cannot be proven, another target); 3 stopped early,
resume it with --resume.";

pub(super) const UNDO_EXAMPLES: &str = "\
Examples:
    mfa-enroll undo migration-2026-11 --dry-run         # reads only: the plan
    mfa-enroll undo migration-2026-11                   # asks on the terminal
    mfa-enroll undo migration-2026-11 --yes --restore-mfa
    mfa-enroll undo migration-2026-11 --yes --resume    # after an interruption

It deletes only devices the run created (`created` rows) that are still as
the run recorded them; a message PingOne already sent cannot be recalled.
Exit codes: 0 nothing failed; 1 some devices could not be deleted (undo.csv
says why); 2 nothing was deleted (usage, config, no --yes and no terminal,
a run directory that cannot be proven, another target); 3 stopped early,
resume it with --resume.";

/// What `verify` and `undo` share: the run they read and where they write.
#[derive(Debug, Clone, Args)]
pub struct AfterArgs {
    /// The --out directory of a finished run, a shard's, or a merge's
    #[arg(value_name = "RUN_DIR")]
    pub(crate) run_dir: PathBuf,

    /// Config file [default: mfa-enroll.toml when it exists]; its target must be the run's
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The target environment's ID (overrides `[pingone] environment_id` and
    /// PINGONE_TARGET_ENVIRONMENT_ID); it must be the run's
    #[arg(long, value_name = "ID")]
    pub(crate) environment_id: Option<String>,

    /// Output directory [default: RUN_DIR/verify, RUN_DIR/undo, or RUN_DIR/undo-dry-run]
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,

    /// Continue an interrupted verify or undo whose files are in the output directory
    #[arg(long)]
    pub(crate) resume: bool,

    /// Write the counts in Prometheus' text format (node_exporter textfile collector)
    #[arg(long, value_name = "PATH")]
    pub(crate) metrics_file: Option<PathBuf>,

    /// Log format on stderr
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub(crate) log_format: LogFormat,

    /// Only warnings and errors, and the one-line outcome on stdout
    #[arg(long, short, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Debug logging
    #[arg(long, short)]
    pub(crate) verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub(crate) after: AfterArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UndoArgs {
    #[command(flatten)]
    pub(crate) after: AfterArgs,

    /// Read only: write undo.csv saying what would be deleted (`would_delete`)
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Delete without asking (needed when there is no terminal to ask on)
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) yes: bool,

    /// Switch MFA off again for users this run switched on (`user_mfa_switched`) who are
    /// left with no device
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) restore_mfa: bool,
}
