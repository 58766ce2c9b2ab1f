//! The command line, as clap definitions and nothing else. Turning these raw flags into
//! validated settings is [`crate::config`]'s job.

use std::net::SocketAddr;
use std::path::PathBuf;

mod around;

pub use around::{AfterArgs, CheckArgs, UndoArgs, VerifyArgs};
use around::{CHECK_EXAMPLES, UNDO_EXAMPLES, VERIFY_EXAMPLES};

use clap::{
    ArgAction, Args, ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

/// Every line under 80 columns, so that clap never wraps an example at a terminal's usual
/// width (a test pastes each one into a shell).
const RUN_EXAMPLES: &str = "\
Examples:
  First look, against the built-in simulator (nothing real is touched):
    mfa-enroll run samples/enroll.csv --sandbox

  Pre-check a file before a migration (no network at all), then ask PingOne
  what would happen:
    mfa-enroll run users.csv --dry-run --out precheck
    mfa-enroll run users.csv --dry-run --online --out plan

  Migration (credentials from the environment, connection and limits from
  mfa-enroll.toml). A live run must choose --enable-mfa (switch each user's
  MFA on once a device of theirs exists) or --no-enable-mfa (leave it):
    export PINGONE_CLIENT_SECRET=...
    mfa-enroll run users.csv --config mfa-enroll.toml --enable-mfa \\
      --out migration-2026-11

  Nightly job (JSON logs for the scheduler; a dated --out so no run
  overwrites another; figures for node_exporter's textfile collector):
    mfa-enroll run /data/new-hires.csv --log-format json --enable-mfa \\
      --out /var/lib/mfa/$(date +%F) \\
      --metrics-file /var/lib/node_exporter/textfile/mfa_enroll.prom

  Nightly sync from a source of truth: a changed number replaces the old
  device (created first, then the old one deleted; never more than the cap),
  then the run's records read back:
    mfa-enroll run /data/all-users.csv --enable-mfa --on-existing replace \\
      --max-deletes 200 --out /var/lib/mfa/sync-$(date +%F)
    mfa-enroll verify /var/lib/mfa/sync-$(date +%F)

  Past one machine's share of PingOne's rate limit: shards side by side,
  then one record (1/3 and 2/3 run on other machines):
    mfa-enroll run users.csv --shard 0/3 --enable-mfa --out shard-0
    mfa-enroll merge shard-0 shard-1 shard-2 --out migration-2026-11

  From a compressed file, read once through a pipe:
    zcat users.csv.gz | mfa-enroll run - --enable-mfa --out migration-2026-11

  Continue a run that was interrupted, or retry only what failed:
    mfa-enroll run users.csv --out migration-2026-11 --resume --enable-mfa
    mfa-enroll run migration-2026-11/errors.csv --enable-mfa --out retry-1

Exit codes: 0 every row created or skipped; 1 some rows invalid or failed;
2 nothing was sent (usage, config, input, or an --out that would be
overwritten); 3 stopped early, resume it.";

#[derive(Debug, Parser)]
#[command(
    name = "mfa-enroll",
    version,
    about = "Enroll a whole user base in PingOne MFA in one run",
    long_about = "Reads a CSV of users and MFA device specs (SMS, VOICE, EMAIL, WHATSAPP), validates \
every row, creates the devices in PingOne under a rate limit, and writes results.csv, errors.csv \
and summary.json.",
    after_help = RUN_EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to colour the logs and the help: auto (on a terminal, unless NO_COLOR is set and
    /// not empty), always, never
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
}

impl Cli {
    /// Parses the process's arguments; clap's own help and errors already follow `--color`.
    pub fn parse_colored() -> Cli {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let matches = Cli::command()
            .color(color_in(&args))
            .get_matches_from(&args);
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }
}

/// `--color WHEN` or `--color=WHEN` as written, before clap parses it, so that clap's own
/// help and errors can follow it too. Anything unreadable is `auto` (clap then says why).
fn color_in(args: &[std::ffi::OsString]) -> ColorChoice {
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    let mut value = None;
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if word == "--color" {
            value = words.next().map(|v| v.into_owned());
        } else if let Some(given) = word.strip_prefix("--color=") {
            value = Some(given.to_string());
        }
    }
    value
        .and_then(|v| ColorChoice::from_str(&v, true).ok())
        .unwrap_or(ColorChoice::Auto)
}

#[derive(Debug, Subcommand)]
// Parsed once per process: the size of the sandbox's flags costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Validate a CSV and create its devices in PingOne (or rehearse it)
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Start a standing PingOne simulator on loopback, for rehearsals
    Sandbox(SandboxArgs),
    /// Combine the output directories of `run --shard K/N` into one record
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Print a shell completion script to standard output
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to standard output
    #[command(after_help = MAN_EXAMPLES)]
    Man,
    /// Write report.html again from the --out directory of a finished run or merge
    Report(ReportArgs),
    /// Read the tenant (never write) and say whether it can take the file: a checklist
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Read back every device a run recorded: do the records still hold? (reads only)
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Delete exactly the devices a run created, each once, after showing the plan
    #[command(after_help = UNDO_EXAMPLES)]
    Undo(UndoArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples (README's Install section has each shell's folder):
    dir=~/.local/share/bash-completion/completions
    mkdir -p \"$dir\" && mfa-enroll completions bash > \"$dir/mfa-enroll\"
    dir=~/.config/fish/completions
    mkdir -p \"$dir\" && mfa-enroll completions fish > \"$dir/mfa-enroll.fish\"";

const MAN_EXAMPLES: &str = "\
Examples:
    mfa-enroll man | man -l -
    mkdir -p ~/.local/share/man/man1
    mfa-enroll man > ~/.local/share/man/man1/mfa-enroll.1";

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The --out directory of a finished run or merge; report.html is written there
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

const MERGE_EXAMPLES: &str = "\
Example: three shards of one file, run at the same time (on three machines,
or as a Kubernetes Indexed Job), then merged (and 1/3, 2/3 elsewhere):
    mfa-enroll run users.csv --shard 0/3 --enable-mfa --out shard-0
    mfa-enroll merge shard-0 shard-1 shard-2 --out migration-2026-11

It refuses (exit 2, writing nothing) a missing or repeated shard, shards of
different inputs, N, targets or kinds of run, and a shard that did not
finish (resume that shard first). Exit codes otherwise as a whole run's:
0 every row created or skipped; 1 some rows invalid or failed.";

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The --out directory of every shard, in any order
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shard_dirs: Vec<PathBuf>,

    /// Directory for the merged results.csv, errors.csv and summary.json
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The enrollment CSV: a file, a pipe or fifo (`<(zcat users.csv.gz)`), or - for standard
    /// input; it is read once
    pub(crate) input: PathBuf,

    /// Config file [default: mfa-enroll.toml when it exists]
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Directory for results.csv, errors.csv and summary.json
    #[arg(long, value_name = "DIR", default_value = "enroll-out")]
    pub(crate) out: PathBuf,

    /// Validate and report without creating anything (offline unless --online)
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// With --dry-run: also resolve users and read their devices (GET requests only)
    #[arg(long, requires = "dry_run")]
    pub(crate) online: bool,

    /// Continue the run whose results.csv is in --out
    #[arg(long)]
    pub(crate) resume: bool,

    /// The target environment's ID (overrides `[pingone] environment_id` and
    /// PINGONE_TARGET_ENVIRONMENT_ID)
    #[arg(long, value_name = "ID")]
    pub(crate) environment_id: Option<String>,

    /// Process only shard K of N (0-based); every row of one user lands in one shard. Run
    /// the N shards at once, each with its own --out, then `mfa-enroll merge`
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<crate::shard::Shard>,

    /// Requests per second, every request counted (overrides `[limits] rate`)
    #[arg(long, value_name = "N")]
    pub(crate) rate: Option<u32>,

    /// Requests in flight at once, or auto: enough for the rate at the latency measured
    /// (overrides `[limits] concurrency`)
    #[arg(long, value_name = "N|auto")]
    pub(crate) concurrency: Option<String>,

    /// Retries per request after the first attempt (overrides `[limits] max_retries`)
    #[arg(long, value_name = "N")]
    pub(crate) max_retries: Option<usize>,

    /// Device authentication policy for rows with an empty policy_id (overrides `[enroll]
    /// policy_id`)
    #[arg(long, value_name = "ID")]
    pub(crate) policy_id: Option<String>,

    /// Country of phone numbers written without +, e.g. US or GB (overrides `[enroll]
    /// default_country`)
    #[arg(long, value_name = "CC")]
    pub(crate) default_country: Option<String>,

    /// What to do with a device the user already has (overrides `[enroll] on_existing`)
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) on_existing: Option<OnExistingArg>,

    /// With --on-existing replace (and then required): the most devices this run may delete
    /// (overrides `[enroll] max_deletes`); with --shard, give each shard its share
    #[arg(long, value_name = "N")]
    pub(crate) max_deletes: Option<u64>,

    /// Field delimiter of the input, one ASCII character; \t for tab
    #[arg(long, value_name = "C")]
    pub(crate) delimiter: Option<String>,

    /// Run against a PingOne simulator inside this process; nothing real is touched
    #[arg(long)]
    pub(crate) sandbox: bool,

    /// Allow creating ACTIVATION_REQUIRED devices, which make PingOne message each user
    #[arg(long)]
    pub(crate) allow_messages: bool,

    /// Switch each user's MFA on (PUT …/users/{id}/mfaEnabled) once a device of theirs
    /// exists (overrides `[enroll] enable_mfa`); a live run against PingOne must be told
    /// this or --no-enable-mfa
    #[arg(long, conflicts_with = "no_enable_mfa")]
    pub(crate) enable_mfa: bool,

    /// Leave users' MFA switches as they are (overrides `[enroll] enable_mfa`); a user
    /// whose MFA is off cannot use the device the run creates
    #[arg(long)]
    pub(crate) no_enable_mfa: bool,

    /// Write the run's figures here in Prometheus' text format (node_exporter textfile
    /// collector), at the end of every run; it replaces only a metrics file mfa-enroll wrote,
    /// never the input or a file of a record; a folder that is missing or not writable
    /// refuses the run at its start
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Log format on stderr
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Only warnings and errors, no progress bar, and the one-line outcome on stdout; -qq
    /// drops that line too
    #[arg(long, short, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Debug logging
    #[arg(long, short)]
    pub verbose: bool,

    /// Without a terminal, log a progress line this often, in milliseconds [default: 5000].
    /// Hidden: the tests' knob, so a short run logs enough lines to judge its estimates
    #[arg(long, value_name = "MS", hide = true, value_parser = clap::value_parser!(u64).range(100..))]
    pub(crate) progress_every_ms: Option<u64>,
}

impl RunArgs {
    /// A live run of `input` with every flag left to the config file: what the commands that
    /// load settings as a run does (`check`, `verify`, `undo`) start from, setting their own.
    pub(crate) fn flags_unset(input: PathBuf, config: Option<PathBuf>) -> RunArgs {
        RunArgs {
            input,
            config,
            out: PathBuf::from("enroll-out"),
            dry_run: false,
            online: false,
            resume: false,
            environment_id: None,
            shard: None,
            rate: None,
            concurrency: None,
            max_retries: None,
            policy_id: None,
            default_country: None,
            on_existing: None,
            max_deletes: None,
            delimiter: None,
            sandbox: false,
            allow_messages: false,
            enable_mfa: false,
            no_enable_mfa: false,
            metrics_file: None,
            log_format: LogFormat::Text,
            quiet: 0,
            verbose: false,
            progress_every_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnExistingArg {
    Skip,
    Create,
    Replace,
}

/// `token_auth_method` as the sandbox's `--token-auth` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TokenAuthArg {
    Basic,
    Post,
    #[value(name = "client_secret_jwt")]
    ClientSecretJwt,
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Address to listen on (loopback unless you mean otherwise)
    #[arg(long, default_value = "127.0.0.1:8642", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,

    /// Requests per second before answering 429 (0: no limit)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) rate: u32,

    /// Added latency per request, in milliseconds
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) latency_ms: u64,

    /// Share of API requests answered 5xx before any effect (0.0 to 1.0)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub(crate) fail_rate: f64,

    /// Share of device creations that take effect but then answer 500 or drop the connection
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub(crate) ambiguous_rate: f64,

    /// A device shows in its user's device list only this many milliseconds after it was
    /// created (PingOne is eventually consistent)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) list_lag_ms: u64,

    /// Lifetime of issued access tokens, in seconds
    #[arg(long, default_value_t = 3600, value_name = "S")]
    pub(crate) token_ttl: u64,

    /// CSV with user_id,username columns; only these users exist. Optional columns:
    /// mfa_enabled (true/false), enabled (true/false), account_status (OK/LOCKED)
    #[arg(long, value_name = "FILE")]
    pub(crate) users: Option<PathBuf>,

    /// CSV as --users: users imported moments ago, missing (404, absent from look-ups) for
    /// their first --late-asks requests, then there
    #[arg(long, value_name = "FILE")]
    pub(crate) late_users: Option<PathBuf>,

    /// Requests naming a late user (--late-users) answered as though it did not exist yet
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub(crate) late_asks: u64,

    /// Device authentication policy IDs that exist, comma-separated [default: every UUID]
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub(crate) policies: Option<Vec<String>>,

    /// MFA settings pairing.maxAllowedDevices
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) max_devices: u32,

    /// Issue tokens that lack the Identity Data Admin role (every API call answers 403)
    #[arg(long)]
    pub(crate) no_role: bool,

    /// Tokens that may not read environment configuration (device authentication policies,
    /// MFA settings answer 403)
    #[arg(long)]
    pub(crate) no_config_role: bool,

    /// Items per page of device and user lists; more pages follow through _links.next
    /// [default: one page]
    #[arg(long, value_name = "N")]
    pub(crate) page_size: Option<usize>,

    /// The longest request target (path and query, in bytes) the users list accepts; a
    /// longer one (a look-up naming many users) answers 414, as a front end may
    /// [default: no limit]
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_url_bytes: Option<usize>,

    /// The one token endpoint authentication method the sandbox's app accepts
    #[arg(long, value_enum, default_value = "basic", value_name = "METHOD")]
    pub(crate) token_auth: TokenAuthArg,

    /// The app's public key (PEM) that private_key_jwt assertions must verify with
    #[arg(long, value_name = "PEM")]
    pub(crate) client_public_key: Option<PathBuf>,

    /// Serve https with a certificate for localhost signed by a generated CA, written to
    /// sandbox-ca.pem for the client's [pingone] ca_file
    // This text is --help's too, where `[pingone]` is what the user types, not a doc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) tls: bool,

    /// Serve https with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// The status a device create answers: 201 (the docs) or 200 (seen in the wild)
    #[arg(long, default_value_t = 201, value_name = "STATUS")]
    pub(crate) create_status: u16,

    /// The environment the worker app lives in (an administrators' environment): tokens come
    /// only from there, API calls still go to the sandbox's environment
    #[arg(long, value_name = "ID")]
    pub(crate) worker_environment: Option<String>,

    /// The license's quota: after N API requests in a quota period, answer 429 QUOTA_EXCEEDED
    /// with the period's end as quotaResetTime
    #[arg(long, value_name = "N")]
    pub(crate) quota: Option<u64>,

    /// Length of a quota period, in seconds
    #[arg(long, default_value_t = 3600, value_name = "S")]
    pub(crate) quota_period_s: u64,

    /// MFA settings phoneExtensions.enabled false (PingOne's default): VOICE extensions are refused
    #[arg(long)]
    pub(crate) extensions_disabled: bool,

    /// Device types every policy leaves disabled (enabled false), comma-separated
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub(crate) disable_method: Option<Vec<String>>,

    /// Device types whose pairing every policy disables (pairingDisabled true), comma-separated
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub(crate) disable_pairing: Option<Vec<String>>,

    /// Every policy's newDeviceNotification: NONE (the sandbox's default), EMAIL_THEN_SMS
    /// (the API's default) or SMS_THEN_EMAIL
    #[arg(long, default_value = "NONE", value_name = "SETTING")]
    pub(crate) new_device_notification: String,

    /// Users (IDs, comma-separated) whose MFA switch the token may not set: the PUT answers 403
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub(crate) refuse_mfa_switch: Option<Vec<String>>,

    /// Users (IDs, comma-separated) outside the token's population, as with a role scoped to
    /// one population: requests about them answer 403
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub(crate) forbidden_users: Option<Vec<String>>,

    /// Every API request answers 403 LICENSE_EXCEEDED
    #[arg(long)]
    pub(crate) license_exceeded: bool,

    /// A storm of 429s: every API request answered 429 for S seconds (Retry-After: 1), as
    /// when another job shares the license; then the rate limit as before
    #[arg(long, value_name = "S")]
    pub(crate) storm_for: Option<u64>,

    /// The storm begins after this many API requests (with --storm-for)
    #[arg(long, default_value_t = 0, value_name = "N", requires = "storm_for")]
    pub(crate) storm_after: u64,
}
