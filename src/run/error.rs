//! [`RunError`]: every refusal before anything was sent (exit 2), each a sentence that says
//! what to do, and that nothing was sent.

use std::path::PathBuf;

use crate::input::InputError;
use crate::record::summary::Target;
use crate::record::OutputError;
use crate::words::count;

/// A refusal before anything was sent (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Metrics(#[from] crate::present::metrics::MetricsError),
    #[error("{}: this directory holds the record of an earlier run; pass --resume to continue it, or choose another --out (nothing was sent)", path.display())]
    WouldOverwrite { path: PathBuf },
    #[error("--resume: {} holds no earlier run (no results.csv, no summary.json); run without --resume to start one (nothing was sent)", dir.display())]
    NothingToResume { dir: PathBuf },
    #[error("--resume: {} cannot be shown to hold an earlier run of this input, target and shard: {why}; run without --resume into a new --out (nothing was sent, and nothing in the directory changed)", dir.display())]
    ResumeUnproven { dir: PathBuf, why: String },
    #[error("--resume: {} was written against {earlier}, but this run is against {now}; resume against the same target, or choose another --out (nothing was sent)", dir.display())]
    OtherTarget {
        dir: PathBuf,
        // Boxed: two targets would make every `RunError` as large as both.
        earlier: Box<Target>,
        now: Box<Target>,
    },
    #[error("--resume: {} holds {earlier}, but this run asks for {now}; resume with the same --shard (nothing was sent)", dir.display())]
    OtherShard {
        dir: PathBuf,
        earlier: String,
        now: String,
    },
    #[error("{}: the input differs from the one this output directory's run used ({earlier_path}); resume with the same input, or choose another --out (nothing was sent)", input.display())]
    OtherInput {
        input: PathBuf,
        earlier_path: String,
    },
    #[error("{} create ACTIVATION_REQUIRED devices ({}), and PingOne would send each of those users a pairing message (at most 50 SMS and 50 emails per user per day); pass --allow-messages or set [enroll] allow_messages = true if that is intended (nothing was sent)", count(*rows, "row would", "rows would"), crate::words::first_lines(*rows, first_lines))]
    WouldMessageUsers { rows: u64, first_lines: Vec<u64> },
    #[error("on_existing = \"replace\" needs every row to name its user the same way, but line {by_id} names a user by user_id and line {by_username} by username: a user named both ways could have the devices of one kind of row taken for stale by the other; give every row a user_id (or every row a username), or run without replace (nothing was sent)")]
    ReplaceMixedNaming { by_id: u64, by_username: u64 },
    #[error("up to {} create devices ({}) under device authentication policies whose newDeviceNotification is not NONE ({policies}), and PingOne may send each of those users a new-device notice (its docs do not say that devices an administrator adds are exempt); pass --allow-messages or set [enroll] allow_messages = true if that is intended, or set the policies' newDeviceNotification to NONE (nothing was sent)", count(*rows, "row would", "rows would"), crate::words::first_lines(*rows, first_lines))]
    WouldNotifyUsers {
        rows: u64,
        first_lines: Vec<u64>,
        policies: String,
    },
    #[error("{why}, so whether PingOne would send new-device notices for {} ({}) is not known; give the token a role that reads environment configuration (docs/pingone.md, \"Which role\"), or pass --allow-messages or set [enroll] allow_messages = true if notices are acceptable (nothing was sent)", count(*rows, "row", "rows"), crate::words::first_lines(*rows, first_lines))]
    NoticesUnknown {
        rows: u64,
        first_lines: Vec<u64>,
        why: String,
    },
    #[error("cannot write the duplicate check's working files in the output directory: {source}")]
    Spill {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the sandbox on loopback: {source}")]
    Sandbox {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the HTTPS client: {source}")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },
    #[error("no PingOne connection is configured; set [pingone] in the config, or use --sandbox or --dry-run")]
    NoConnection,
    #[error("the TLS certificate of {host} is not trusted ({problem}); if a TLS-inspecting proxy or a private CA signs it, set [pingone] ca_file to that CA's PEM certificate (nothing was sent)")]
    Untrusted { host: String, problem: String },
    #[error("cannot reach the {role} {host}, set by {set_by} ({problem}); check that setting, the network, DNS and any proxy (HTTPS_PROXY), then run again (nothing was sent)")]
    Unreachable {
        role: &'static str,
        host: String,
        set_by: String,
        problem: String,
    },
}
