//! summary.json: what a scheduler or the next morning's reader needs to judge a run. Written
//! when the run starts (`"finished": false`) and again at the end, each time whole through a
//! temporary file, so a crash never leaves half a summary.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::latency::LatencyFigures;
use super::writer::{write_whole, Tallies};
use super::{OutputError, SUMMARY_FILE};
use crate::config::{Concurrency, RunMode};
use crate::model::OnExisting;
use crate::shard::{KeyedBy, Shard};

/// summary.json's `input`: which file the run read, and what it held.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct InputInfo {
    pub(crate) path: String,
    pub(crate) sha256: Option<String>,
    pub(crate) records: Option<u64>,
    /// The lines records start on, for merge's checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lines: Option<super::record_lines::RecordLines>,
}

/// summary.json's `requests`: what the run asked of PingOne, by kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RequestCounts {
    pub(crate) total: u64,
    pub(crate) get: u64,
    pub(crate) post: u64,
    /// Users' MFA switches set (`enable_mfa`); 0 in summaries written before PUTs existed.
    #[serde(default)]
    pub(crate) put: u64,
    /// Devices deleted (`on_existing = "replace"`), retries included; 0 in summaries written
    /// before replacing existed.
    #[serde(default)]
    pub(crate) delete: u64,
    pub(crate) retries: u64,
    pub(crate) throttled_429: u64,
    pub(crate) tokens: u64,
    /// The most API requests in flight at once (what `concurrency = "auto"` used).
    #[serde(default)]
    pub(crate) most_in_flight: u64,
}

/// summary.json's `users_mfa`: users (not rows) by what happened to their MFA switch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MfaUsers {
    /// Switched on by this run (`enable_mfa`), once a device of theirs was there.
    pub(crate) switched_on: u64,
    /// Found on, so not switched: the username look-up (or a dry run's read) said so.
    pub(crate) found_on: u64,
    /// With a device this run created or found, and MFA not switched on: `enable_mfa =
    /// false`, or a switch PingOne did not set (`MFA_NOT_ENABLED`). A dry run: found off.
    pub(crate) left_off: u64,
}

impl MfaUsers {
    pub(crate) fn add(&mut self, other: &MfaUsers) {
        self.switched_on += other.switched_on;
        self.found_on += other.found_on;
        self.left_off += other.left_off;
    }

    pub(crate) fn any(&self) -> bool {
        self.switched_on + self.found_on + self.left_off > 0
    }
}

/// summary.json's `rows_of_inactive_users`: rows (not users) whose user's account PingOne
/// reported not in use. Known only for users the run read (a username's look-up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InactiveRows {
    /// The user's `enabled` is false.
    pub(crate) disabled: u64,
    /// The user's `account.status` is `LOCKED`.
    pub(crate) locked: u64,
}

impl InactiveRows {
    pub(crate) fn add(&mut self, other: &InactiveRows) {
        self.disabled += other.disabled;
        self.locked += other.locked;
    }

    pub(crate) fn any(&self) -> bool {
        self.disabled + self.locked > 0
    }
}

/// summary.json's `stopped_early`: why the run stopped before the end of its input.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoppedEarly {
    pub(crate) code: String,
    pub(crate) reason: String,
}

/// summary.json's `settings`: the settings that shaped the run, as it used them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SettingsEcho {
    pub(crate) rate: u32,
    /// `"auto"` or the pinned number; `requests.most_in_flight` says what auto used.
    pub(crate) concurrency: Concurrency,
    pub(crate) max_retries: usize,
    pub(crate) on_existing: OnExisting,
    /// Users' MFA was switched on before their first device; `--resume` carries it on.
    #[serde(default)]
    pub(crate) enable_mfa: bool,
    /// The config file the run read, as an absolute path: `--resume` without `--config`
    /// reads it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config_file: Option<String>,
}

/// What a run sent its requests to. `--resume` refuses a different one: rows finished against
/// the sandbox say nothing about a real environment, and the reverse.
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// `--sandbox`: the simulator inside the process.
    Sandbox,
    /// A PingOne environment (or a standing sandbox) at an API host, with the environment
    /// whose worker app issued the tokens.
    Pingone {
        environment_id: String,
        api_host: String,
        /// `None` in summaries written before it was recorded: then it was `environment_id`.
        #[serde(default)]
        worker_environment_id: Option<String>,
    },
    /// An offline dry run: nothing was sent anywhere.
    Offline,
}

impl Target {
    /// The worker app's environment, as recorded or (in older summaries) implied.
    fn worker_environment(&self) -> Option<&str> {
        match self {
            Target::Pingone {
                environment_id,
                worker_environment_id,
                ..
            } => Some(worker_environment_id.as_deref().unwrap_or(environment_id)),
            Target::Sandbox | Target::Offline => None,
        }
    }
}

/// The same target: the same place, and tokens from the same worker environment; a summary
/// that predates the worker environment had its tokens from `environment_id`.
impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Target::Pingone {
                    environment_id: a,
                    api_host: host_a,
                    ..
                },
                Target::Pingone {
                    environment_id: b,
                    api_host: host_b,
                    ..
                },
            ) => {
                a == b
                    && host_a == host_b
                    && self.worker_environment() == other.worker_environment()
            }
            (Target::Sandbox, Target::Sandbox) | (Target::Offline, Target::Offline) => true,
            (Target::Sandbox | Target::Pingone { .. } | Target::Offline, _) => false,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sandbox => f.write_str("the built-in sandbox (--sandbox)"),
            Target::Pingone {
                environment_id,
                api_host,
                ..
            } => {
                write!(f, "environment {environment_id} at {api_host}")?;
                match self.worker_environment() {
                    Some(worker) if worker != environment_id => {
                        write!(f, " (tokens from the worker app in environment {worker})")
                    }
                    _ => Ok(()),
                }
            }
            Target::Offline => f.write_str("no target (an offline dry run)"),
        }
    }
}

/// A shard's place among its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardInfo {
    pub(crate) index: u32,
    pub(crate) count: u32,
    pub(crate) keyed_by: KeyedBy,
}

impl ShardInfo {
    pub(crate) fn shard(&self) -> Shard {
        Shard {
            index: self.index,
            count: self.count,
        }
    }
}

/// Something the run says once, when it starts, about the whole run (not one row): e.g. no
/// default policy, so every row without its own is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Notice {
    /// The row code the notice explains (`MISSING_POLICY`).
    pub(crate) code: String,
    pub(crate) message: String,
}

/// One error code's rows, for the end-of-run table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodeRows {
    pub(crate) rows: u64,
    /// The first lines that have the code.
    pub(crate) first_lines: Vec<u64>,
}

/// `replace`: a user's group of rows whose stale devices were kept, because a row of the
/// group was invalid or failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeldRemoval {
    /// The group's last line, whose row says so.
    pub(crate) line: u64,
    pub(crate) user_id: String,
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    /// Stale devices kept.
    pub(crate) devices: u64,
    pub(crate) reason: String,
}

/// summary.json's `removals` (`on_existing = "replace"`): what this run deleted against its
/// cap, and what it held. The directory's total is `devices_removed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Removals {
    pub(crate) max_deletes: u64,
    /// Devices this run deleted (an online dry run: would delete).
    pub(crate) this_run: u64,
    /// An online dry run: the figures are a plan; nothing was deleted.
    pub(crate) planned: bool,
    /// The cap stopped this run (a plan: would stop a real run).
    pub(crate) cap_reached: bool,
    /// Stale devices kept because a row of their user and type was invalid or failed.
    pub(crate) held: u64,
    /// The first groups that held them.
    pub(crate) held_groups: Vec<HeldRemoval>,
}

impl Removals {
    /// Adds a shard's: each shard has its own cap, so the caps add up too.
    pub(crate) fn add(&mut self, other: &Removals) {
        self.max_deletes += other.max_deletes;
        self.this_run += other.this_run;
        self.planned |= other.planned;
        self.cap_reached |= other.cap_reached;
        self.held += other.held;
        self.held_groups.extend(other.held_groups.iter().cloned());
    }
}

/// A user a real run would send more than PingOne's daily SMS or email allowance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserOverMessageLimit {
    pub(crate) user_id: String,
    pub(crate) sms: u32,
    pub(crate) email: u32,
}

/// One daily message quota against the file's messages, in an online dry run's plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct QuotaPlan {
    /// `user` or `environment`.
    pub(crate) per: String,
    /// `sms_and_voice` or `email`.
    pub(crate) counts: String,
    /// Messages a day.
    pub(crate) total: u64,
    /// Whose quota: a notification policy, or PingOne's platform limit.
    pub(crate) source: String,
    /// Per user: the most one user would get; per environment: all the file would send.
    pub(crate) sent: u64,
    /// Rows whose message would pass the quota, so would fail on the first day.
    pub(crate) rows_past: u64,
    pub(crate) first_lines_past: Vec<u64>,
    /// Per user: the users past it.
    pub(crate) users_over: u64,
    /// Days a daily schedule needs (per environment: shards or slices, one a day).
    pub(crate) days: u64,
    /// All of it in words, as the end text and report.html say it.
    pub(crate) said: String,
}

/// An online dry run's answer to "what will the migration do?".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) max_allowed_devices: Option<u32>,
    /// Pairing messages a real run would make PingOne send, per channel.
    pub(crate) pairing_messages: BTreeMap<String, u64>,
    /// Users who would get more than PingOne's 50 SMS or 50 emails a day from this run.
    pub(crate) users_over_daily_message_limit: Vec<UserOverMessageLimit>,
    /// New-device notices a real run may make PingOne send: one per device it would create
    /// under a policy whose `newDeviceNotification` is not `NONE`.
    #[serde(default)]
    pub(crate) new_device_notices: u64,
    #[serde(default)]
    pub(crate) new_device_notices_note: String,
    /// The file's messages (pairing codes and new-device notices) against PingOne's platform
    /// limits and the notification policy's daily quotas.
    #[serde(default)]
    pub(crate) quotas: Vec<QuotaPlan>,
    /// Why the notification policy's quotas are not among them, when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) quotas_note: Option<String>,
    /// Users whose MFA switch was found off (their rows say `user_mfa_enabled` false).
    #[serde(default)]
    pub(crate) users_mfa_off: u64,
    /// Of those, the ones a real run would switch on (all of them with `enable_mfa`, else none).
    #[serde(default)]
    pub(crate) users_mfa_to_switch_on: u64,
    /// Requests a real run needs (tokens excepted), at least.
    pub(crate) requests_needed: u64,
    /// The rate the estimate uses: the configured one, or the one PingOne allowed when it
    /// throttled the plan's own reads (`rate_basis`).
    pub(crate) rate: u32,
    #[serde(default)]
    pub(crate) rate_basis: RateBasis,
    #[serde(default)]
    pub(crate) configured_rate: u32,
    /// How long those requests take at `rate`.
    pub(crate) duration_at_rate_s: f64,
}

/// Where a plan's rate comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RateBasis {
    /// `[limits] rate`: PingOne did not throttle the plan's reads.
    #[default]
    Configured,
    /// PingOne answered 429 to the plan's reads; the rate is what it then allowed.
    ServerLimit,
}

/// summary.json: the whole of it, as written at the start and the end of a run or a merge.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub(crate) tool_version: String,
    pub(crate) mode: RunMode,
    pub(crate) sandbox: bool,
    /// Where the requests went; `None` in summaries written before this field existed.
    #[serde(default)]
    pub(crate) target: Option<Target>,
    pub(crate) input: InputInfo,
    /// `--shard K/N`: which share of the input this run processed, and how rows were
    /// assigned; `mfa-enroll merge` checks these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shard: Option<ShardInfo>,
    /// When the first run on this output directory started; resumes keep it.
    pub(crate) first_started_at: String,
    pub(crate) started_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) duration_s: f64,
    pub(crate) finished: bool,
    pub(crate) exit_code: Option<i32>,
    pub(crate) stopped_early: Option<StoppedEarly>,
    /// Said once at the start (also in the log): run-wide causes of row problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) notices: Vec<Notice>,
    pub(crate) rows: u64,
    pub(crate) outcomes: BTreeMap<String, u64>,
    pub(crate) by_type: BTreeMap<String, BTreeMap<String, u64>>,
    /// Rows per error code, with the first lines of each, so an operator knows what to fix.
    #[serde(default)]
    pub(crate) error_codes: BTreeMap<String, CodeRows>,
    /// Rows an earlier run finished, carried over by --resume (counted in `outcomes` too).
    pub(crate) resumed_rows: u64,
    /// What this run did, apart from the rows earlier runs on this directory finished: `rows`,
    /// `outcomes`, `by_type` and `error_codes` are what the directory holds in total. `None`
    /// for a merge, and in summaries written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) this_run: Option<ThisRun>,
    /// Pairing messages this run made PingOne send (dry runs: would send), per channel.
    pub(crate) pairing_messages: BTreeMap<String, u64>,
    pub(crate) requests: RequestCounts,
    /// Users' MFA switches, by what this run did or found; zeros in summaries written
    /// before it existed.
    #[serde(default)]
    pub(crate) users_mfa: MfaUsers,
    /// Users PingOne did not know when first asked (404, or missing from a username's
    /// look-up) and found on a second ask within `user_not_found_grace_s`.
    #[serde(default)]
    pub(crate) users_late: u64,
    /// Rows whose user PingOne reports disabled or locked (their devices are created all the
    /// same: they work once the account is enabled); only users whose account was read count.
    #[serde(default)]
    pub(crate) rows_of_inactive_users: InactiveRows,
    /// Devices the rows of this directory say were removed (`removed_device_ids`), all runs
    /// on it together; an online dry run: devices a real run would remove.
    #[serde(default)]
    pub(crate) devices_removed: u64,
    /// `on_existing = "replace"`: this run's deletions, its cap and the groups it held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) removals: Option<Removals>,
    /// This run's rows done (`this_run.rows_done`) per second of sending
    /// (`this_run.sending_s`); a merge: all rows over its longest shard's sending time.
    pub(crate) throughput_rows_per_s: f64,
    /// How long API requests took (tokens excepted); `None` when none were sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) latency: Option<LatencyFigures>,
    pub(crate) settings: SettingsEcho,
    pub(crate) plan: Option<Plan>,
    /// `mfa-enroll merge`: each shard's own figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) shards: Vec<ShardFigures>,
}

/// What one run did, beside what its output directory holds in total.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ThisRun {
    /// Rows this run recorded (rows finished by earlier runs excepted).
    pub(crate) rows: u64,
    pub(crate) outcomes: BTreeMap<String, u64>,
    /// Rows this run brought to an outcome: its rows but those `not_attempted`.
    pub(crate) rows_done: u64,
    /// Seconds from the start of sending to the last row done: what rows/s is over.
    pub(crate) sending_s: f64,
}

/// One shard's figures in a merged summary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ShardFigures {
    /// `K/N`.
    pub(crate) shard: String,
    pub(crate) dir: String,
    pub(crate) rows: u64,
    pub(crate) outcomes: BTreeMap<String, u64>,
    pub(crate) duration_s: f64,
    pub(crate) throughput_rows_per_s: f64,
    pub(crate) requests: RequestCounts,
    /// The shard's configured requests per second.
    pub(crate) rate: u32,
    pub(crate) exit_code: Option<i32>,
}

impl Summary {
    pub(crate) fn set_tallies(&mut self, tallies: &Tallies) {
        self.rows = tallies.rows;
        self.outcomes = outcome_names(tallies);
        self.by_type = tallies
            .by_type
            .iter()
            .map(|(t, m)| {
                (
                    t.clone(),
                    m.iter()
                        .map(|(o, n)| (o.as_str().to_string(), *n))
                        .collect(),
                )
            })
            .collect();
        self.pairing_messages = tallies.messages_by_type.clone();
        self.devices_removed = tallies.devices_removed;
        self.error_codes = tallies
            .codes
            .iter()
            .map(|(code, count)| {
                let mut first_lines = count.first_lines.clone();
                first_lines.sort_unstable();
                let rows = CodeRows {
                    rows: count.rows,
                    first_lines,
                };
                (code.as_str().to_string(), rows)
            })
            .collect();
    }

    pub(crate) fn write(&self, out_dir: &Path) -> Result<(), OutputError> {
        let path = out_dir.join(SUMMARY_FILE);
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| OutputError::io(&path, std::io::Error::other(e)))?;
        text.push('\n');
        write_whole(&path, text.as_bytes())
    }
}

/// Rows per outcome, by the names summary.json gives them.
pub(crate) fn outcome_names(tallies: &Tallies) -> BTreeMap<String, u64> {
    tallies
        .outcomes
        .iter()
        .map(|(o, n)| (o.as_str().to_string(), *n))
        .collect()
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
