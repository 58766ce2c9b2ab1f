//! The engine: turns validated rows into PingOne calls and results.
//!
//! - Users named by username are resolved once per run (concurrently, but handed on in file
//!   order), so every row is keyed by its user's ID before it is queued.
//! - Each user has one queue; one worker drains it, so a user's rows run one at a time in file
//!   order, whichever way they named the user. Concurrency runs across users.
//! - Exactly once: with `on_existing = skip` a row first reads the user's devices and skips a
//!   device that is already there. After any failure that PingOne may have acted on (timeout,
//!   dropped connection, 5xx), the devices are read again before the POST is repeated, and a
//!   device found there is the row's.
//! - With `enable_mfa`, each user's MFA is switched on before the user's first device
//!   (`mfa`); an online dry run reads the switch instead.
//! - In an online dry run the same path reads and plans, and never POSTs or PUTs.
//! - What is kept per user (a username's look-up, an online plan's counts, a user's MFA
//!   switch) lives only while the user has rows to come (`later`), so memory stays flat with
//!   the number of users.

mod decide;
mod enroll;
pub(crate) mod later;
mod mfa;
mod plan;
pub(crate) mod results;
pub(crate) mod retry;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use csv::ByteRecord;
use futures::FutureExt;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::codes::Code;
use crate::config::RunMode;
use crate::model::{Claims, DeviceIdentity, OnExisting, UserRef};
use crate::output::summary::UserOverMessageLimit;
use crate::output::{Outcome, RecorderHandle, RowResult};
use crate::pingone::wire::{Device, MfaSettings};
use crate::pingone::{ApiError, Client};
use crate::stop::Stop;
use crate::validate::DeviceSpec;
pub(crate) use plan::NOTICES_NOTE;
use plan::{PlannedUser, PolicyState};
use retry::RetryPolicy;

/// PingOne's clock and ours may disagree; a device created this much before we first sent
/// its POST is still taken as ours when reconciling in `create` mode.
pub(crate) const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// Device lists kept for users whose queue emptied (see [`DeviceLists`]).
const KEPT_DEVICE_LISTS: usize = 4096;
/// How long a kept list is trusted: someone else (the user, another admin) may add a device
/// meanwhile, and a list older than this is read again. A list in use by a busy queue can be
/// as old as the queue's retries, so this adds no staleness of a new kind.
const KEPT_DEVICE_LIST_FOR: Duration = Duration::from_secs(60);
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
    /// A later row names the same user the same way ([`later::LaterRows`]): what this run
    /// keeps of the user (a plan, a username's look-up) is still needed after this row.
    pub(crate) continues: bool,
}

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
    /// Switch each user's MFA on before the user's first device (live runs).
    pub(crate) enable_mfa: bool,
}

#[derive(Debug, Clone)]
enum Resolution {
    /// The user's ID, and the MFA switch when the look-up carried it.
    Found(String, Option<bool>),
    NotFound,
    Ambiguous(usize),
    Failed(ApiError),
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

/// The device lists of users whose queue emptied, kept for a later row of the same user, so
/// a user's devices are read once per run, not once per row, also when the user's rows are
/// far apart in the file. A list is kept only when it is known to be current: this run's own
/// creations are added to it, and an unclear answer drops it. The oldest goes first, and none
/// is trusted for longer than [`KEPT_DEVICE_LIST_FOR`].
#[derive(Default)]
struct DeviceLists {
    lists: HashMap<String, (Instant, Vec<Device>)>,
    order: VecDeque<String>,
}

impl DeviceLists {
    fn take(&mut self, user_id: &str) -> Option<Vec<Device>> {
        // Its place in `order` stays behind; eviction skips names no longer kept.
        let (kept_at, devices) = self.lists.remove(user_id)?;
        (kept_at.elapsed() < KEPT_DEVICE_LIST_FOR).then_some(devices)
    }

    fn keep(&mut self, user_id: &str, devices: Vec<Device>) {
        let entry = (Instant::now(), devices);
        if self.lists.insert(user_id.to_string(), entry).is_none() {
            self.order.push_back(user_id.to_string());
        }
        while self.lists.len() > KEPT_DEVICE_LISTS || self.order.len() > 2 * KEPT_DEVICE_LISTS {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.lists.remove(&oldest);
                }
                None => break,
            }
        }
    }
}

type Queue = VecDeque<(Job, String, OwnedSemaphorePermit)>;
/// One look-up per policy per run, shared by every row that names it.
type PolicyCheck = Arc<OnceCell<Result<PolicyState, ApiError>>>;

pub(crate) struct Engine {
    client: Arc<Client>,
    retry: RetryPolicy,
    recorder: RecorderHandle,
    stop: Arc<Stop>,
    config: EngineConfig,
    /// Look-ups of usernames with rows still to come; a username's goes with its last row.
    usernames: Mutex<HashMap<String, Arc<OnceCell<Resolution>>>>,
    /// Usernames looked up (each cost one request).
    usernames_looked_up: AtomicU64,
    queues: Mutex<HashMap<String, Queue>>,
    device_lists: Mutex<DeviceLists>,
    admission: Arc<Semaphore>,
    admission_size: u32,
    /// `create` mode: digest of (user ID, device identity) -> line, of the devices this run
    /// created. A digest, so a long run's memory does not grow with every device's strings.
    created: Mutex<HashMap<u64, u64>>,
    /// Device ID -> the line that reported it `created`, this run's and finished rows'.
    claims: Mutex<Claims>,
    /// Online dry run: what earlier rows would do to users with rows still to come.
    planned: Mutex<HashMap<String, PlannedUser>>,
    /// Online dry run: users whose rows are all planned and would pass a daily message limit.
    over_message_limit: Mutex<Vec<UserOverMessageLimit>>,
    policies: Mutex<HashMap<Uuid, PolicyCheck>>,
    /// The environment's MFA settings, once an online dry run read them (`None`: unreadable).
    mfa_settings: OnceCell<Option<MfaSettings>>,
    /// Users' MFA switches, by a digest of the user's ID, while the user has rows to come
    /// (see `mfa`); and how many users' switches were learned, and of them found off.
    switches: Mutex<HashMap<u64, mfa::Switch>>,
    switches_known: AtomicU64,
    switches_off: AtomicU64,
    /// New-device notices a plan counts (see `plan`).
    notices: std::sync::atomic::AtomicU64,
    /// A 403 on a policy read was reported; one line per run is enough.
    policies_unreadable: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    pub(crate) fn new(
        client: Arc<Client>,
        retry: RetryPolicy,
        recorder: RecorderHandle,
        stop: Arc<Stop>,
        mut config: EngineConfig,
    ) -> Arc<Engine> {
        // Room for rows queued behind a busy user without letting the whole file into memory.
        let admission_size = (config.concurrency * 8).max(64) as u32;
        let claims = std::mem::take(&mut config.claimed_before);
        Arc::new(Engine {
            client,
            retry,
            recorder,
            stop,
            config,
            usernames: Mutex::default(),
            usernames_looked_up: AtomicU64::new(0),
            queues: Mutex::default(),
            device_lists: Mutex::default(),
            admission: Arc::new(Semaphore::new(admission_size as usize)),
            admission_size,
            created: Mutex::default(),
            claims: Mutex::new(claims),
            planned: Mutex::default(),
            over_message_limit: Mutex::default(),
            policies: Mutex::default(),
            mfa_settings: OnceCell::new(),
            switches: Mutex::default(),
            switches_known: AtomicU64::default(),
            switches_off: AtomicU64::default(),
            notices: Default::default(),
            policies_unreadable: Default::default(),
        })
    }

    /// Usernames this run resolved (each cost one request).
    pub(crate) fn usernames_resolved(&self) -> u64 {
        self.usernames_looked_up.load(Ordering::Relaxed)
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
                lock(&self.usernames).remove(&name.to_lowercase());
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
        let cell = lock(&self.usernames)
            .entry(name.to_lowercase())
            .or_default()
            .clone();
        let resolution = cell
            .get_or_init(|| async {
                self.usernames_looked_up.fetch_add(1, Ordering::Relaxed);
                let lookup = self.retry.run(|| self.client.find_users(&name)).await;
                match lookup {
                    Ok(users) if users.is_empty() => Resolution::NotFound,
                    Ok(users) if users.len() == 1 => {
                        Resolution::Found(users[0].id.clone(), users[0].mfa_enabled)
                    }
                    Ok(users) => Resolution::Ambiguous(users.len()),
                    Err(e) => Resolution::Failed(e),
                }
            })
            .await
            .clone();
        let (result, is_answer) = match resolution {
            Resolution::Found(id, mfa_enabled) => {
                if self.config.mode == RunMode::DryRunOnline {
                    self.note_looked_up_switch(&id, mfa_enabled);
                }
                return Ok((job, id));
            }
            Resolution::NotFound => (results::base(&job, "", Outcome::Failed).with_error(
                Code::UserNotFound,
                format!("no PingOne user has the username {name:?}; check the spelling or give the user_id"),
            ), true),
            Resolution::Ambiguous(n) => (results::base(&job, "", Outcome::Failed).with_error(
                Code::AmbiguousUser,
                format!("{n} PingOne users have the username {name:?}; give this row's user_id instead"),
            ), true),
            Resolution::Failed(e) => (results::failed(&job, "", &e, 0, self.retry.max_retries()), false),
        };
        Err(Unresolved {
            job,
            result,
            is_answer,
        })
    }

    /// Queues a resolved row behind its user's earlier rows. Waits when too many rows are
    /// already queued, which holds the reader back; after a stop the row is recorded not
    /// attempted at once, without waiting for a place.
    pub(crate) async fn assign(self: &Arc<Self>, resolved: Result<(Job, String), Unresolved>) {
        let (job, user_id) = match resolved {
            Ok(pair) => pair,
            Err(unresolved) => return self.recorder.record(unresolved.result),
        };
        let admitted = tokio::select! {
            biased;
            () = self.stop.requested() => None,
            permit = self.admission.clone().acquire_owned() => permit.ok(),
        };
        let Some(permit) = admitted else {
            return self.recorder.record(results::not_attempted(&job, &user_id));
        };
        {
            let mut queues = lock(&self.queues);
            if let Some(queue) = queues.get_mut(&user_id) {
                queue.push_back((job, user_id, permit));
                return;
            }
            queues.insert(user_id.clone(), VecDeque::new());
        }
        tokio::spawn(self.clone().drain_user(job, user_id, permit));
    }

    /// Waits until every queued row has its result.
    pub(crate) async fn finish(&self) {
        let _ = self.admission.acquire_many(self.admission_size).await;
    }

    async fn drain_user(
        self: Arc<Self>,
        first: Job,
        user_id: String,
        permit: OwnedSemaphorePermit,
    ) {
        let mut next = Some((first, permit));
        let mut devices = lock(&self.device_lists).take(&user_id);
        while let Some((job, permit)) = next.take() {
            let result = if self.stop.is_requested() {
                results::not_attempted(&job, &user_id)
            } else {
                let work = std::panic::AssertUnwindSafe(self.process(&job, &user_id, &mut devices));
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
            self.recorder.record(result);
            drop(permit);
            let mut queues = lock(&self.queues);
            match queues.get_mut(&user_id).and_then(VecDeque::pop_front) {
                Some((job, _, permit)) => next = Some((job, permit)),
                None => {
                    // Kept before the queue goes: a later row of this user starts a new
                    // worker only after this, so it finds the list as this worker left it.
                    if let Some(known) = devices.take() {
                        lock(&self.device_lists).keep(&user_id, known);
                    }
                    queues.remove(&user_id);
                }
            }
        }
    }

    async fn process(
        &self,
        job: &Job,
        user_id: &str,
        devices: &mut Option<Vec<Device>>,
    ) -> RowResult {
        // A bug met here must leave the row INTERNAL_ERROR and the run resumable.
        crate::failpoints::panic_on_line!("row-work", job.line);
        match self.config.mode {
            RunMode::Live if self.config.enable_mfa => {
                // Before the user's first device POST; once per user, then remembered.
                let switch = self.switch_on(user_id).await;
                let result = mfa::switched(self.enroll(job, user_id, devices).await, &switch);
                self.release_switch(job, user_id);
                result
            }
            RunMode::Live => self.enroll(job, user_id, devices).await,
            RunMode::DryRunOnline => {
                let switch = self.read_switch(user_id).await;
                let result = mfa::planned(self.plan(job, user_id).await, &switch);
                self.release_plan(job, user_id);
                self.release_switch(job, user_id);
                result
            }
            // Nothing to ask PingOne: the row passed every offline check.
            RunMode::DryRunOffline => results::base(job, user_id, Outcome::Valid),
        }
    }

    async fn current_devices(
        &self,
        user_id: &str,
        cache: &mut Option<Vec<Device>>,
    ) -> Result<Vec<Device>, ApiError> {
        if let Some(known) = cache {
            return Ok(known.clone());
        }
        let fresh = self.retry.run(|| self.client.list_devices(user_id)).await?;
        *cache = Some(fresh.clone());
        Ok(fresh)
    }

    /// Records that `line` reported `device_id` created.
    fn claim(&self, device_id: &str, line: u64) {
        lock(&self.claims).insert(device_id, line);
    }

    /// Create mode: the line that created this device for this user in this run, if any.
    fn created_in_run(&self, user_id: &str, identity: &DeviceIdentity) -> Option<u64> {
        lock(&self.created).get(&digest(user_id, identity)).copied()
    }

    fn remember_created(&self, user_id: &str, identity: &DeviceIdentity, line: u64) {
        if self.config.on_existing == OnExisting::Create {
            lock(&self.created).insert(digest(user_id, identity), line);
        }
    }
}

fn digest(user_id: &str, identity: &DeviceIdentity) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (user_id, identity).hash(&mut hasher);
    hasher.finish()
}
