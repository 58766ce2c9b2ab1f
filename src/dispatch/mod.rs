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
//! - In an online dry run the same path reads and plans, and never POSTs.

pub mod retry;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use csv::ByteRecord;
use futures::FutureExt;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::model::{DeviceType, OnExisting, UserRef};
use crate::output::summary::UserOverMessageLimit;
use crate::output::{Outcome, RecorderHandle, RowResult};
use crate::pingone::wire::{self, CreateDevice, Device};
use crate::pingone::{ApiError, Client};
use crate::stop::Stop;
use crate::validate::{phone, DeviceSpec};
use retry::RetryPolicy;

/// PingOne's clock and ours may disagree; a device created this much before we first sent
/// its POST is still taken as ours when reconciling in `create` mode.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// PingOne sends at most this many SMS and emails to one user per day.
pub const DAILY_MESSAGE_LIMIT: u32 = 50;

/// A valid row on its way to PingOne.
#[derive(Debug, Clone)]
pub struct Job {
    pub line: u64,
    pub spec: DeviceSpec,
    pub raw: ByteRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    /// Create devices.
    Live,
    /// Online dry run: GET only, report what a live run would do.
    Plan,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub mode: EngineMode,
    pub on_existing: OnExisting,
    /// On `--resume`: a matching device created after this time was made by an earlier run
    /// that died before recording it, and is taken as this row's (`created`).
    pub created_by_earlier_run_since: Option<SystemTime>,
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
enum Resolution {
    Found(String),
    NotFound,
    Ambiguous(usize),
    Failed(ApiError),
}

#[derive(Debug, Default)]
struct PlannedUser {
    planned: u32,
    /// (device key, line) of the devices the file's earlier rows would create.
    keys: Vec<(String, u64)>,
    sms: u32,
    email: u32,
}

#[derive(Debug, Clone, Copy)]
enum PolicyState {
    Exists,
    Missing,
}

type Queue = VecDeque<(Job, String, OwnedSemaphorePermit)>;
/// One look-up per policy per run, shared by every row that names it.
type PolicyCheck = Arc<OnceCell<Result<PolicyState, ApiError>>>;

pub struct Engine {
    client: Arc<Client>,
    retry: RetryPolicy,
    recorder: RecorderHandle,
    stop: Arc<Stop>,
    config: EngineConfig,
    usernames: Mutex<HashMap<String, Arc<OnceCell<Resolution>>>>,
    queues: Mutex<HashMap<String, Queue>>,
    admission: Arc<Semaphore>,
    admission_size: u32,
    /// `create` mode: digest of (user ID, type, destination) -> line, of the devices this run
    /// created. A digest, so a long run's memory does not grow with every device's strings.
    created: Mutex<HashMap<u64, u64>>,
    planned: Mutex<HashMap<String, PlannedUser>>,
    policies: Mutex<HashMap<Uuid, PolicyCheck>>,
    max_devices: OnceCell<Option<u32>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The identity of a device for "is it the same one": type and destination in comparison form.
fn device_key(user_id: &str, spec: &DeviceSpec) -> String {
    format!(
        "{user_id}|{}|{}",
        spec.device_type,
        spec.destination.comparison_key()
    )
}

fn digest(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// The user's device that is this row's, if any.
fn find_match<'a>(
    devices: &'a [Device],
    spec: &DeviceSpec,
    created_since: Option<SystemTime>,
) -> Option<&'a Device> {
    let wanted = spec.destination.comparison_key();
    devices.iter().find(|d| {
        let same_type = d
            .device_type
            .eq_ignore_ascii_case(spec.device_type.as_str());
        let same_destination = if spec.device_type.uses_phone() {
            d.phone.as_deref().map(phone::comparison_form) == Some(wanted.clone())
        } else {
            d.email.as_deref().map(str::to_lowercase) == Some(wanted.clone())
        };
        let recent_enough = match (created_since, d.created_at.as_deref()) {
            (None, _) => true,
            // Without a readable creation time, assume ours: a duplicate is the worse mistake.
            (Some(since), Some(at)) => humantime::parse_rfc3339_weak(at)
                .map(|t| t >= since)
                .unwrap_or(true),
            (Some(_), None) => true,
        };
        same_type && same_destination && recent_enough
    })
}

fn create_body(spec: &DeviceSpec) -> CreateDevice {
    let (phone, email) = match spec.device_type {
        DeviceType::Email => (None, Some(spec.destination.as_str().to_string())),
        _ => (Some(spec.destination.as_str().to_string()), None),
    };
    CreateDevice {
        device_type: spec.device_type,
        phone,
        email,
        extension: spec.extension.clone(),
        policy: Some(wire::IdRef {
            id: spec.policy_id.to_string(),
        }),
        status: spec.status,
        nickname: spec.nickname.clone(),
        notification: spec.notification.as_ref().map(|n| wire::Notification {
            template: wire::NotificationTemplate {
                locale: n.locale.clone(),
                variant: n.variant.clone(),
            },
        }),
    }
}

/// A result for a valid row, with its identity filled in and nothing else.
pub fn spec_result(
    line: u64,
    raw: ByteRecord,
    spec: &DeviceSpec,
    user_id: &str,
    outcome: Outcome,
) -> RowResult {
    let mut r = RowResult::new(line, raw, outcome);
    r.user_id = user_id.to_string();
    r.username = spec.username.clone();
    r.device_type = spec.device_type.as_str().to_string();
    r.destination = spec.destination.as_str().to_string();
    r.sends_message = spec.sends_pairing_message();
    r
}

fn base_result(job: &Job, user_id: &str, outcome: Outcome) -> RowResult {
    spec_result(job.line, job.raw.clone(), &job.spec, user_id, outcome)
}

fn failed(
    job: &Job,
    user_id: &str,
    error: &ApiError,
    attempts: u32,
    retries_allowed: usize,
) -> RowResult {
    let mut r = base_result(job, user_id, Outcome::Failed);
    r.http_status = error.http_status();
    r.attempts = attempts;
    let exhausted = error.is_retryable() && !matches!(error, ApiError::Stopped);
    if exhausted {
        r.with_error(
            "RETRIES_EXHAUSTED",
            format!(
                "gave up after {} retries; the last answer: {error}",
                retries_allowed
            ),
        )
    } else if matches!(error, ApiError::Stopped) {
        r.with_error(
            "NOT_ATTEMPTED",
            "the run stopped before this row was sent; run again with --resume",
        )
    } else if error.http_status() == Some(404) && !user_id.is_empty() {
        // Every call this tool makes for a row is under /users/{userID}: a 404 means that user.
        r.with_error(
            "USER_NOT_FOUND",
            format!("no PingOne user has the ID {user_id} in this environment; check user_id"),
        )
    } else {
        r.with_error(error.code(), error.message())
    }
}

/// A row the run stopped before reaching.
pub fn not_attempted(job: Job) -> RowResult {
    failed(&job, &job.spec.user.id_text(), &ApiError::Stopped, 0, 0)
}

impl Engine {
    pub fn new(
        client: Arc<Client>,
        retry: RetryPolicy,
        recorder: RecorderHandle,
        stop: Arc<Stop>,
        config: EngineConfig,
    ) -> Arc<Engine> {
        // Room for rows queued behind a busy user without letting the whole file into memory.
        let admission_size = (config.concurrency * 8).max(64) as u32;
        Arc::new(Engine {
            client,
            retry,
            recorder,
            stop,
            config,
            usernames: Mutex::default(),
            queues: Mutex::default(),
            admission: Arc::new(Semaphore::new(admission_size as usize)),
            admission_size,
            created: Mutex::default(),
            planned: Mutex::default(),
            policies: Mutex::default(),
            max_devices: OnceCell::new(),
        })
    }

    /// Usernames this run resolved (each cost one request).
    pub fn usernames_resolved(&self) -> u64 {
        lock(&self.usernames).len() as u64
    }

    /// Resolves the row's user. Called concurrently; its results are queued in file order.
    pub async fn resolve(&self, job: Job) -> Result<(Job, String), RowResult> {
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
                let lookup = self.retry.run(|| self.client.find_users(&name)).await;
                match lookup {
                    Ok(users) if users.is_empty() => Resolution::NotFound,
                    Ok(users) if users.len() == 1 => Resolution::Found(users[0].id.clone()),
                    Ok(users) => Resolution::Ambiguous(users.len()),
                    Err(e) => Resolution::Failed(e),
                }
            })
            .await
            .clone();
        match resolution {
            Resolution::Found(id) => Ok((job, id)),
            Resolution::NotFound => Err(base_result(&job, "", Outcome::Failed).with_error(
                "USER_NOT_FOUND",
                format!("no PingOne user has the username {name:?}; check the spelling or give the user_id"),
            )),
            Resolution::Ambiguous(n) => Err(base_result(&job, "", Outcome::Failed).with_error(
                "AMBIGUOUS_USER",
                format!("{n} PingOne users have the username {name:?}; give this row's user_id instead"),
            )),
            Resolution::Failed(e) => Err(failed(&job, "", &e, 0, self.retry.max_retries())),
        }
    }

    /// Queues a resolved row behind its user's earlier rows. Waits when too many rows are
    /// already queued, which holds the reader back.
    pub async fn assign(self: &Arc<Self>, resolved: Result<(Job, String), RowResult>) {
        let (job, user_id) = match resolved {
            Ok(pair) => pair,
            Err(result) => return self.recorder.record(result),
        };
        let permit = match self.admission.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => unreachable!("the admission semaphore is never closed"),
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
    pub async fn finish(&self) {
        let _ = self.admission.acquire_many(self.admission_size).await;
    }

    async fn drain_user(
        self: Arc<Self>,
        first: Job,
        user_id: String,
        permit: OwnedSemaphorePermit,
    ) {
        let mut next = Some((first, permit));
        let mut devices: Option<Vec<Device>> = None;
        while let Some((job, permit)) = next.take() {
            let result = if self.stop.is_requested() {
                failed(&job, &user_id, &ApiError::Stopped, 0, 0)
            } else {
                let work = std::panic::AssertUnwindSafe(self.process(&job, &user_id, &mut devices));
                match work.catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        devices = None;
                        base_result(&job, &user_id, Outcome::Failed).with_error(
                            "INTERNAL_ERROR",
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
        match self.config.mode {
            EngineMode::Live => self.enroll(job, user_id, devices).await,
            EngineMode::Plan => self.plan(job, user_id).await,
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

    /// A live row: check, create, reconcile.
    async fn enroll(&self, job: &Job, user_id: &str, cache: &mut Option<Vec<Device>>) -> RowResult {
        let key = device_key(user_id, &job.spec);
        let skip_existing = self.config.on_existing == OnExisting::Skip;
        if !skip_existing {
            if let Some(first) = lock(&self.created).get(&digest(&key)) {
                return base_result(job, user_id, Outcome::Invalid).with_error(
                    crate::validate::ErrorCode::DuplicateRow.as_str(),
                    format!("line {first} already created this device for the same user (named another way); remove this row"),
                );
            }
        }
        let earlier_run_since = self.config.created_by_earlier_run_since;
        if skip_existing || earlier_run_since.is_some() {
            let devices = match self.current_devices(user_id, cache).await {
                Ok(d) => d,
                Err(e) => return failed(job, user_id, &e, 0, self.retry.max_retries()),
            };
            // On --resume, a matching device made since the first run started is this row's,
            // created by a run that died before it could record it.
            let made_by_earlier_run =
                earlier_run_since.and_then(|since| find_match(&devices, &job.spec, Some(since)));
            let existing = find_match(&devices, &job.spec, None).filter(|_| skip_existing);
            let found = match (made_by_earlier_run, existing) {
                (Some(device), _) => Some((device, Outcome::Created)),
                (None, Some(device)) => Some((device, Outcome::SkippedExisting)),
                (None, None) => None,
            };
            if let Some((device, outcome)) = found {
                let mut r = base_result(job, user_id, outcome);
                r.device_id = device.id.clone();
                r.device_status = device.status.clone().unwrap_or_default();
                return r;
            }
        }

        let body = create_body(&job.spec);
        let attempts = AtomicU32::new(0);
        let unclear = AtomicBool::new(false);
        let first_sent: Mutex<Option<SystemTime>> = Mutex::new(None);
        let attempt = || {
            let (body, attempts, unclear, first_sent) = (&body, &attempts, &unclear, &first_sent);
            async move {
                if unclear.load(Ordering::SeqCst) {
                    // PingOne may have created the device although the answer failed: look first.
                    let devices = self.client.list_devices(user_id).await?;
                    let since = match self.config.on_existing {
                        OnExisting::Skip => None,
                        OnExisting::Create => lock(first_sent).map(|t| t - CLOCK_SKEW),
                    };
                    if let Some(found) = find_match(&devices, &job.spec, since) {
                        tracing::info!(
                            line = job.line,
                            "an unclear answer had created the device; found it, not sending again"
                        );
                        return Ok((found.clone(), None));
                    }
                }
                attempts.fetch_add(1, Ordering::SeqCst);
                lock(first_sent).get_or_insert_with(SystemTime::now);
                match self.client.create_device(user_id, body).await {
                    Ok(device) => Ok((device, Some(201))),
                    Err(e) => {
                        if e.may_have_acted() {
                            unclear.store(true, Ordering::SeqCst);
                        }
                        Err(e)
                    }
                }
            }
        };
        let outcome = self.retry.run(attempt).await;
        let attempts = attempts.load(Ordering::SeqCst);
        match outcome {
            Ok((device, status)) => {
                if let Some(known) = cache.as_mut() {
                    known.push(device.clone());
                }
                if !skip_existing {
                    lock(&self.created).insert(digest(&key), job.line);
                }
                let mut r = base_result(job, user_id, Outcome::Created);
                r.device_id = device.id;
                r.device_status = device
                    .status
                    .or(job.spec.status.map(|s| s.as_str().to_string()))
                    .unwrap_or_default();
                r.http_status = status;
                r.attempts = attempts;
                r
            }
            Err(e) => {
                let was_unclear = unclear.load(Ordering::SeqCst);
                if was_unclear {
                    *cache = None;
                }
                if was_unclear && matches!(e, ApiError::Stopped) {
                    let mut r = base_result(job, user_id, Outcome::Failed);
                    r.attempts = attempts;
                    return r.with_error(
                        "UNCONFIRMED",
                        "the run stopped after an unclear answer; --resume reads the user's devices before sending again",
                    );
                }
                failed(job, user_id, &e, attempts, self.retry.max_retries())
            }
        }
    }

    async fn policy_state(&self, policy_id: Uuid) -> Result<PolicyState, ApiError> {
        let cell = lock(&self.policies).entry(policy_id).or_default().clone();
        cell.get_or_init(|| async {
            let id = policy_id.to_string();
            match self.retry.run(|| self.client.get_policy(&id)).await {
                Ok(Some(_)) => Ok(PolicyState::Exists),
                Ok(None) => Ok(PolicyState::Missing),
                Err(e) => Err(e),
            }
        })
        .await
        .clone()
    }

    async fn max_devices(&self) -> Option<u32> {
        *self
            .max_devices
            .get_or_init(|| async {
                match self.retry.run(|| self.client.mfa_settings()).await {
                    Ok(settings) => Some(settings.pairing.max_allowed_devices),
                    Err(e) => {
                        tracing::warn!(
                            "cannot read MFA settings, so the device cap is not checked: {e}"
                        );
                        None
                    }
                }
            })
            .await
    }

    /// An online dry-run row: read, never write.
    async fn plan(&self, job: &Job, user_id: &str) -> RowResult {
        match self.policy_state(job.spec.policy_id).await {
            Ok(PolicyState::Exists) => {}
            Ok(PolicyState::Missing) => {
                return base_result(job, user_id, Outcome::Failed).with_error(
                    "POLICY_NOT_FOUND",
                    format!(
                        "device authentication policy {} does not exist in this environment",
                        job.spec.policy_id
                    ),
                )
            }
            Err(e) => return failed(job, user_id, &e, 0, self.retry.max_retries()),
        }
        let devices = match self.retry.run(|| self.client.list_devices(user_id)).await {
            Ok(d) => d,
            Err(e) => return failed(job, user_id, &e, 0, self.retry.max_retries()),
        };
        let max_devices = self.max_devices().await;
        let key = device_key(user_id, &job.spec);
        let skip_existing = self.config.on_existing == OnExisting::Skip;
        let mut planned = lock(&self.planned);
        let user = planned.entry(user_id.to_string()).or_default();
        if skip_existing {
            if let Some(existing) = find_match(&devices, &job.spec, None) {
                let mut r = base_result(job, user_id, Outcome::WouldSkipExisting);
                r.device_id = existing.id.clone();
                r.device_status = existing.status.clone().unwrap_or_default();
                return r;
            }
        }
        if let Some((_, first)) = user.keys.iter().find(|(k, _)| *k == key) {
            return if skip_existing {
                base_result(job, user_id, Outcome::WouldSkipExisting).with_error(
                    "",
                    format!(
                        "line {first} creates this device first; this row would find it and skip"
                    ),
                )
            } else {
                base_result(job, user_id, Outcome::Invalid).with_error(
                    crate::validate::ErrorCode::DuplicateRow.as_str(),
                    format!("line {first} creates this device for the same user (named another way); remove this row"),
                )
            };
        }
        if let Some(max) = max_devices {
            let would_have = devices.len() as u32 + user.planned;
            if would_have >= max {
                return base_result(job, user_id, Outcome::Failed).with_error(
                    "DEVICE_LIMIT",
                    format!(
                        "the user has {} devices and earlier rows add {}; PingOne allows {max} (pairing.maxAllowedDevices)",
                        devices.len(),
                        user.planned
                    ),
                );
            }
        }
        user.planned += 1;
        user.keys.push((key, job.line));
        if job.spec.sends_pairing_message() {
            match job.spec.device_type {
                DeviceType::Sms => user.sms += 1,
                DeviceType::Email => user.email += 1,
                _ => {}
            }
        }
        base_result(job, user_id, Outcome::WouldCreate)
    }

    /// `pairing.maxAllowedDevices`, once an online dry run has read it.
    pub fn max_allowed_devices(&self) -> Option<u32> {
        self.max_devices.get().copied().flatten()
    }

    /// Users whom a real run would send more than PingOne's daily SMS or email allowance.
    pub fn users_over_message_limit(&self) -> Vec<UserOverMessageLimit> {
        let planned = lock(&self.planned);
        let mut over: Vec<UserOverMessageLimit> = planned
            .iter()
            .filter(|(_, u)| u.sms > DAILY_MESSAGE_LIMIT || u.email > DAILY_MESSAGE_LIMIT)
            .map(|(id, u)| UserOverMessageLimit {
                user_id: id.clone(),
                sms: u.sms,
                email: u.email,
            })
            .collect();
        over.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        over
    }
}
