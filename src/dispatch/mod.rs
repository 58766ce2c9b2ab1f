//! The engine: turns validated rows into PingOne calls and results.
//!
//! - Users named by username are resolved once per run (concurrently, but handed on in file
//!   order), so every row is keyed by its user's ID before it is queued; their look-ups go
//!   in batches of names read a little ahead (`lookups`).
//! - Each user has one queue; one worker drains it, so a user's rows run one at a time in file
//!   order, whichever way they named the user. Concurrency runs across users.
//! - Exactly once: with `on_existing = skip` a row first reads the user's devices and skips a
//!   device that is already there. After any failure that PingOne may have acted on (timeout,
//!   dropped connection, 5xx), the devices are read again before the POST is repeated, and a
//!   device found there is the row's.
//! - With `enable_mfa`, each user's MFA is switched on once a device of theirs is there, in
//!   the same turn (`mfa`); an online dry run reads the switch instead.
//! - Rows finish from the first seconds: no more rows are in progress than requests may be
//!   in flight, with a few spare (`rows`), so a row's next request goes before another row's
//!   first, and a stop leaves few rows half-done.
//! - With `on_existing = replace`, a user's rows of one type are a group (`groups`, built by
//!   the survey); the group's last row, once its device is there, deletes the user's devices
//!   of that type that no row of the group names, within the run's cap (`removals`).
//! - In an online dry run the same path reads and plans, and never POSTs, PUTs or DELETEs.
//! - What is kept per user (a username's look-up, an online plan's counts, a user's MFA
//!   switch, a live run's claims on the user's devices) lives only while the user has rows to
//!   come (`later`), so memory stays flat with the number of users.
//! - What the rows will cost in requests, planned before the first is sent (`workload`),
//!   mirrors this path: the progress display counts requests done against it.
//!
//! The engine's state is split by concern, each part a type with its own locking:
//! `lookups` (usernames' users), `queues` (users' queues and kept device lists), `claims`
//! (a live run's devices and the lines that claim them), `mfa` (users' switches), `plan`
//! (an online dry run's plans of users) and `environment` (the policies and MFA settings a
//! plan checks against). Each mode builds only its own ([`ModeState`]): a live run the
//! claims and switches, an online dry run the plans, the environment's
//! settings and the switches, an offline dry run none. `enroll` and `plan` work a row with
//! only what they are handed ([`enroll::Enroller`], [`plan::Planner`]).

mod claims;
mod decide;
mod enroll;
mod environment;
mod grace;
pub(crate) mod groups;
mod guard;
pub(crate) mod later;
mod lookups;
mod mfa;
mod plan;
mod queues;
mod removals;
pub(crate) mod results;
pub(crate) mod retry;
mod rows;
pub(crate) mod workload;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use csv::ByteRecord;
use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;

use crate::codes::Code;
use crate::config::RunMode;
use crate::model::{Claims, OnExisting, UserRef};
use crate::pingone::wire::{Device, Standing};
use crate::pingone::Client;
use crate::record::journal::Journal;
use crate::record::summary::{InactiveRows, MfaUsers, UserOverMessageLimit};
use crate::record::{Outcome, RecorderHandle, RowResult};
use crate::stop::Stop;
use crate::validate::DeviceSpec;
use claims::DeviceClaims;
use enroll::Enroller;
use environment::EnvironmentSettings;
use groups::ReplaceGroups;
pub(crate) use lookups::READ_AHEAD_ROWS;
use lookups::{Resolution, UsernameLookups};
use mfa::Switches;
pub(crate) use plan::NOTICES_NOTE;
use plan::{Planner, UserPlans};
use queues::UserQueues;
use removals::{RemovalBook, Remover};
use retry::RetryPolicy;
use rows::RowsInProgress;

/// PingOne's clock and ours may disagree; a device created this much before we first sent
/// its POST is still taken as ours when reconciling in `create` mode.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// PingOne sends at most this many SMS and emails to one user per day.
pub(crate) const DAILY_MESSAGE_LIMIT: u32 = 50;

/// A valid row on its way to PingOne.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) line: u64,
    pub(crate) spec: DeviceSpec,
    pub(crate) raw: ByteRecord,
    /// On --resume: the line's row in results.csv says no attempt left anything uncertain
    /// (say `USER_NOT_FOUND`), so no device an earlier run made can be this row's.
    pub(crate) settled_before: bool,
    /// On --resume: the line's row in results.csv says `UNCONFIRMED`, so its device may have
    /// been made moments before and not be listed yet.
    pub(crate) unconfirmed_before_run: bool,
    /// On --resume: the line's row in results.csv has its device and owes removals
    /// (`REMOVALS_OWED`, `DELETE_CAP_REACHED`): what it removed stays on the row, and a row
    /// this run does not reach stays as it was.
    pub(crate) owed_before: Option<Box<crate::record::ResultRow>>,
    /// A later row names the same user the same way ([`later::LaterRows`]): what this run
    /// keeps of the user (a plan, a username's look-up) is still needed after this row.
    pub(crate) continues: bool,
    /// The user's account as a username's look-up described it (rows by ID: not known).
    pub(crate) standing: Standing,
}

/// The settings the engine runs by, fixed for the run.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    /// Live (create devices) or an online dry run (GET only, report what a live run would do).
    pub(crate) mode: RunMode,
    pub(crate) on_existing: OnExisting,
    /// On `--resume`: a matching device created after this time was made by an earlier run
    /// that died before recording it, and is taken as this row's (`created`).
    pub(crate) created_by_earlier_run_since: Option<SystemTime>,
    pub(crate) concurrency: usize,
    /// Devices that finished rows of an earlier run reported created, by device ID.
    pub(crate) claimed_before: Claims,
    /// Where the file's rows by ID and by username end: a user's state outlives its last
    /// row of one kind while rows of the other kind, maybe the same user's, are to come.
    pub(crate) kinds: later::Kinds,
    /// Switch each user's MFA on once a device of theirs is there (live runs).
    pub(crate) enable_mfa: bool,
    /// Ask again, over `user_not_found_grace_s`, for a username the look-up did not find
    /// (`grace`). Not with `--shard`: a shard knows a username's row is its own only by the
    /// user's ID, so one not found is left to the shard that owns unknown users.
    pub(crate) late_usernames: bool,
    /// `on_existing = "replace"`: the users' groups of rows, and the run's `max_deletes`.
    pub(crate) replace: Option<(Arc<ReplaceGroups>, u64)>,
    /// `replace`: the removals journal of `--out`, with what earlier runs journaled.
    pub(crate) journal: Arc<Journal>,
}

/// A row whose user could not be resolved, with its result.
#[derive(Debug)]
pub(crate) struct Unresolved {
    pub(crate) job: Job,
    pub(crate) result: RowResult,
    /// PingOne answered (no such user, or several): every look-up gets the same answer.
    /// Otherwise the look-up failed, and says nothing about the user.
    pub(crate) is_answer: bool,
}

/// What the engine keeps across rows for its mode, so each mode builds only its own state.
enum ModeState {
    /// A live run: the device claims, and users' MFA switches (set with `enable_mfa`, else
    /// only counted).
    Live {
        claims: DeviceClaims,
        switches: Switches,
    },
    /// An online dry run: the users' plans, the environment's settings, users' MFA switches.
    Plan {
        users: UserPlans,
        environment: EnvironmentSettings,
        switches: Switches,
    },
    /// An offline dry run asks PingOne nothing, so keeps nothing.
    Offline,
}

impl ModeState {
    /// `claimed_before`: the devices an earlier run's finished rows reported created; only a
    /// live run keeps them.
    fn new(config: &EngineConfig, claimed_before: Claims) -> ModeState {
        match config.mode {
            RunMode::Live => ModeState::Live {
                claims: DeviceClaims::new(claimed_before, config.on_existing),
                switches: Switches::new(config.enable_mfa),
            },
            RunMode::DryRunOnline => ModeState::Plan {
                users: UserPlans::default(),
                environment: EnvironmentSettings::default(),
                switches: Switches::new(false),
            },
            RunMode::DryRunOffline => ModeState::Offline,
        }
    }

    fn switches(&self) -> Option<&Switches> {
        match self {
            ModeState::Live { switches, .. } => Some(switches),
            ModeState::Plan { switches, .. } => Some(switches),
            ModeState::Offline => None,
        }
    }
}

/// The engine: resolves each row's user, queues the row behind the user's earlier rows, and
/// works it (enrolls, plans, or passes it) into its result.
pub(crate) struct Engine {
    client: Arc<Client>,
    retry: RetryPolicy,
    recorder: RecorderHandle,
    stop: Arc<Stop>,
    config: EngineConfig,
    usernames: UsernameLookups,
    queues: UserQueues,
    rows: RowsInProgress,
    mode: ModeState,
    late: grace::LateUsers,
    /// `replace`: the groups, and the deletions against the cap.
    replace: Option<(Arc<ReplaceGroups>, RemovalBook)>,
}

impl Engine {
    pub(crate) fn new(
        client: Arc<Client>,
        retry: RetryPolicy,
        recorder: RecorderHandle,
        stop: Arc<Stop>,
        mut config: EngineConfig,
    ) -> Arc<Engine> {
        let claimed_before = std::mem::take(&mut config.claimed_before);
        let mode = ModeState::new(&config, claimed_before);
        let replace = config
            .replace
            .clone()
            .map(|(groups, cap)| (groups, RemovalBook::new(cap, config.journal.clone())));
        Arc::new(Engine {
            replace,
            client,
            retry,
            recorder,
            stop,
            usernames: UsernameLookups::default(),
            queues: UserQueues::new(config.concurrency),
            rows: RowsInProgress::default(),
            mode,
            late: grace::LateUsers::default(),
            config,
        })
    }

    /// Username look-ups this run sent (each asks for a batch of names).
    pub(crate) fn username_lookups(&self) -> u64 {
        self.usernames.count()
    }

    /// A row read ahead of those being resolved: its username joins a batch, so that one
    /// look-up answers it with the names of the rows around it (`lookups`).
    pub(crate) fn read_ahead(&self, job: &Job) {
        if let UserRef::Username(name) = &job.spec.user {
            self.usernames.want(name);
        }
    }

    /// Called in file order as each row's user is resolved: the look-up of a username whose
    /// last row this is is forgotten. (In file order, every earlier row of the username has
    /// its answer already, and no later row needs it.)
    pub(crate) fn passed_resolution(&self, resolved: &Result<(Job, String), Unresolved>) {
        let job = match resolved {
            Ok((job, _)) => job,
            Err(unresolved) => &unresolved.job,
        };
        if let UserRef::Username(name) = &job.spec.user {
            if !job.continues {
                self.usernames.forget(name);
            }
        }
    }

    /// Resolves the row's user. Called concurrently; its results are queued in file order.
    pub(crate) async fn resolve(&self, job: Job) -> Result<(Job, String), Unresolved> {
        let name = match &job.spec.user {
            UserRef::Id(id) => {
                let id = id.to_string();
                return Ok((job, id));
            }
            UserRef::Username(name) => name.clone(),
        };
        let resolution = self
            .usernames
            .resolve(&self.client, &self.retry, &name)
            .await;
        match resolution {
            Resolution::Found(id, mfa_enabled, standing) => {
                self.note_found(&id, mfa_enabled);
                Ok((Job { standing, ..job }, id))
            }
            // PingOne may not show a user imported moments ago yet: asked again apart.
            Resolution::NotFound
                if self.config.late_usernames && !self.retry.user_grace().is_zero() =>
            {
                Ok((job, grace::late_key(&name)))
            }
            other => {
                let (result, is_answer) = self.unresolved(&job, &name, other);
                Err(Unresolved {
                    job,
                    result,
                    is_answer,
                })
            }
        }
    }

    /// A looked-up user's MFA switch, when the look-up carried it.
    fn note_found(&self, user_id: &str, mfa_enabled: Option<bool>) {
        if let Some(switches) = self.mode.switches() {
            switches.note_looked_up(user_id, mfa_enabled);
        }
    }

    /// The row of a username PingOne's look-up did not resolve to one user, and whether that
    /// was PingOne's answer (rather than a failed look-up).
    fn unresolved(&self, job: &Job, name: &str, resolution: Resolution) -> (RowResult, bool) {
        match resolution {
            Resolution::Found(id, ..) => (results::base(job, &id, Outcome::Failed), false),
            Resolution::NotFound => (results::base(job, "", Outcome::Failed).with_error(
                Code::UserNotFound,
                format!("no PingOne user has the username {name:?}; check the spelling or give the user_id"),
            ), true),
            Resolution::Ambiguous(n) => (results::base(job, "", Outcome::Failed).with_error(
                Code::AmbiguousUser,
                format!("{n} PingOne users have the username {name:?}; give this row's user_id instead"),
            ), true),
            Resolution::Failed(e) => (results::failed(job, "", &e, 0, self.retry.max_retries()), false),
        }
    }

    /// Queues a resolved row behind its user's earlier rows. Waits when too many rows are
    /// already queued, which holds the reader back; after a stop the row is recorded not
    /// attempted at once, without waiting for a place.
    pub(crate) async fn assign(self: &Arc<Self>, resolved: Result<(Job, String), Unresolved>) {
        let (job, user_id) = match resolved {
            Ok(pair) => pair,
            Err(unresolved) => {
                // A row whose user could not be looked up failed: its group deletes nothing.
                if let Some((groups, _)) = &self.replace {
                    let job = &unresolved.job;
                    groups.worked(&job.spec.user, job.spec.device_type, job.line, false);
                }
                return self.recorder.record(unresolved.result);
            }
        };
        let Some(permit) = self.queues.admit(&job, &self.stop).await else {
            return self.recorder.record(results::not_attempted(&job, &user_id));
        };
        if let Some((job, permit)) = self.queues.enqueue(job, &user_id, permit) {
            if grace::is_late_key(&user_id) {
                tokio::spawn(self.clone().drain_late(job, user_id, permit));
            } else {
                tokio::spawn(self.clone().drain_user(job, user_id, permit));
            }
        }
    }

    /// Waits until every queued row has its result.
    pub(crate) async fn finish(&self) {
        self.queues.finish().await;
    }

    async fn drain_user(
        self: Arc<Self>,
        first: Job,
        user_id: String,
        permit: OwnedSemaphorePermit,
    ) {
        let mut next = Some((first, permit));
        let mut devices = self.queues.kept_devices(&user_id);
        while let Some((job, permit)) = next.take() {
            // A row starts only when few are in progress: its requests then go before rows
            // not yet started (see `rows`).
            let mut in_progress = self
                .rows
                .start(|| self.client.in_flight_limit(), &self.stop)
                .await;
            let result = if in_progress.is_none() || self.stop.is_requested() {
                results::not_attempted(&job, &user_id)
            } else {
                let work = self.process(&job, &user_id, &mut devices, &mut in_progress);
                let work = std::panic::AssertUnwindSafe(work);
                match work.catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        devices = None;
                        results::base(&job, &user_id, Outcome::Failed).with_error(
                            Code::InternalError,
                            "mfa-enroll hit a bug on this row; please report it. The row is safe to resume",
                        )
                    }
                }
            };
            drop(in_progress);
            self.recorder.record(result);
            drop(permit);
            next = self.queues.next(&user_id, &mut devices);
        }
    }

    /// Works the row; a user PingOne did not know yet is asked again (`grace`), without the
    /// row's place among those in progress while it waits.
    async fn process<'a>(
        &'a self,
        job: &Job,
        user_id: &str,
        devices: &mut Option<Vec<Device>>,
        place: &mut Option<rows::InProgress<'a>>,
    ) -> RowResult {
        // A bug met here must leave the row INTERNAL_ERROR and the run resumable.
        crate::failpoints::panic_on_line!("row-work", job.line);
        self.late.note_standing(job.standing);
        let result = self.work(job, user_id, devices).await;
        if !self.asks_again(job, &result) {
            return result;
        }
        let result = self
            .await_user_id(job, user_id, devices, place, result)
            .await;
        if self.is_users_last_row(job) {
            self.late.release_id(user_id);
        }
        result
    }

    /// The row's work in the run's mode.
    async fn work(&self, job: &Job, user_id: &str, devices: &mut Option<Vec<Device>>) -> RowResult {
        let (client, retry) = (self.client.as_ref(), &self.retry);
        match &self.mode {
            ModeState::Live { claims, switches } => {
                let enrolled = self.enroller(claims).enroll(job, user_id, devices).await;
                // After the device, in the same turn: a stop never leaves a user switched
                // on without one.
                let result = switches.settle_live(client, retry, user_id, enrolled).await;
                let result = match self.remover() {
                    Some(remover) => remover.after_row(job, user_id, result, devices).await,
                    None => result,
                };
                if self.is_users_last_row(job) {
                    switches.release(user_id);
                    claims.release(user_id);
                }
                result
            }
            ModeState::Plan {
                users,
                environment,
                switches,
            } => {
                let switch = switches.read(client, retry, user_id).await;
                let planned = self.planner(users, environment).plan(job, user_id).await;
                let mut result = mfa::planned(planned, &switch);
                if let Some(remover) = self.remover() {
                    result = remover.plan_row(job, user_id, result).await;
                }
                if self.is_users_last_row(job) {
                    users.release(user_id);
                    switches.release(user_id);
                }
                result
            }
            // Nothing to ask PingOne: the row passed every offline check.
            ModeState::Offline => results::base(job, user_id, Outcome::Valid),
        }
    }

    fn enroller<'a>(&'a self, claims: &'a DeviceClaims) -> Enroller<'a> {
        Enroller {
            client: &self.client,
            retry: &self.retry,
            stop: &self.stop,
            on_existing: self.config.on_existing,
            created_by_earlier_run_since: self.config.created_by_earlier_run_since,
            claims,
        }
    }

    fn remover(&self) -> Option<Remover<'_>> {
        let (groups, book) = self.replace.as_ref()?;
        Some(Remover {
            client: &self.client,
            retry: &self.retry,
            stop: &self.stop,
            groups,
            book,
        })
    }

    /// `replace`: this run's deletions (a plan: planned), its cap and what it held.
    pub(crate) fn removals(&self) -> Option<crate::record::summary::Removals> {
        let (_, book) = self.replace.as_ref()?;
        let (held, held_groups) = book.held();
        Some(crate::record::summary::Removals {
            max_deletes: book.cap(),
            this_run: book.removed(),
            planned: matches!(self.mode, ModeState::Plan { .. }),
            cap_reached: book.cap_reached(),
            held,
            held_groups,
        })
    }

    fn planner<'a>(
        &'a self,
        users: &'a UserPlans,
        environment: &'a EnvironmentSettings,
    ) -> Planner<'a> {
        Planner {
            client: &self.client,
            retry: &self.retry,
            on_existing: self.config.on_existing,
            environment,
            users,
        }
    }

    /// Whether no row after this one can be the user's: then what the run keeps of the user
    /// (a plan, a switch) goes (`later`).
    fn is_users_last_row(&self, job: &Job) -> bool {
        !job.continues && !self.config.kinds.other_kind_after(&job.spec.user, job.line)
    }

    /// Users PingOne did not know at first and found on a second ask (`grace`).
    pub(crate) fn users_late(&self) -> u64 {
        self.late.count()
    }

    /// Rows worked whose user's account is disabled or locked.
    pub(crate) fn inactive_rows(&self) -> InactiveRows {
        self.late.inactive_rows()
    }

    /// A plan's users: (whose MFA switch is known, of them found off).
    pub(crate) fn mfa_switch_counts(&self) -> (u64, u64) {
        self.mode.switches().map_or((0, 0), Switches::counts)
    }

    /// Users by what happened to their MFA switch: switched on, found on, left off.
    pub(crate) fn mfa_users(&self) -> MfaUsers {
        let plan = matches!(self.mode, ModeState::Plan { .. });
        self.mode
            .switches()
            .map_or_else(MfaUsers::default, |s| s.users(plan))
    }

    /// `pairing.maxAllowedDevices`, once an online dry run has read it.
    pub(crate) fn max_allowed_devices(&self) -> Option<u32> {
        match &self.mode {
            ModeState::Plan { environment, .. } => environment.max_allowed_devices(),
            ModeState::Live { .. } | ModeState::Offline => None,
        }
    }

    /// An online dry run: a policy's `newDeviceNotification` as read (see
    /// `EnvironmentSettings::new_device_notification`).
    pub(crate) fn new_device_notification(&self, policy_id: uuid::Uuid) -> Option<String> {
        match &self.mode {
            ModeState::Plan { environment, .. } => environment.new_device_notification(policy_id),
            ModeState::Live { .. } | ModeState::Offline => None,
        }
    }

    /// New-device notices the plan counted.
    pub(crate) fn new_device_notices(&self) -> u64 {
        match &self.mode {
            ModeState::Plan { users, .. } => users.new_device_notices(),
            ModeState::Live { .. } | ModeState::Offline => 0,
        }
    }

    /// Users whom a real run would send more than PingOne's daily SMS or email allowance.
    pub(crate) fn users_over_message_limit(&self) -> Vec<UserOverMessageLimit> {
        match &self.mode {
            ModeState::Plan { users, .. } => users.users_over_message_limit(),
            ModeState::Live { .. } | ModeState::Offline => Vec::new(),
        }
    }
}
