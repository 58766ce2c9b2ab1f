//! A live row: look for the device, create it, and when PingOne's answer is unclear, find out
//! what happened before anything is sent again.
//!
//! The rule every record follows: once a POST may have been acted on (timeout, dropped
//! connection, 5xx), the row ends `created` (the device was found by reading the user's
//! devices) or `UNCONFIRMED`, never a plain failure; see [`decide::after_unclear`].

use std::sync::Mutex;
use std::time::SystemTime;

use super::claims::DeviceClaims;
use super::decide::{self, Match, Settled};
use super::guard::lock;
use super::retry::RetryPolicy;
use super::{results, Job, CLOCK_SKEW};
use crate::failpoints::crash_point;
use crate::model::{DeviceIdentity, OnExisting};
use crate::pingone::wire::{self, CreateDevice, Device};
use crate::pingone::{ApiError, Client, Trace};
use crate::record::{Outcome, RowResult};
use crate::stop::Stop;

/// What the POST attempts of one row have seen so far.
#[derive(Debug, Default)]
struct Posting {
    /// POSTs sent: one the stop kept from being sent is not one.
    attempts: u32,
    /// A POST failed in a way PingOne may have acted on: look before sending again.
    unclear: bool,
    first_sent: Option<SystemTime>,
    /// PingOne's last answer (or the network's), for a row the stop cut short after it.
    last_answer: Option<ApiError>,
    /// The transaction id of the last POST sent, for the row and for support.
    transaction_id: String,
}

impl Posting {
    /// In create mode a matching device counts as this row's only if made since its first POST.
    fn created_since(&self, on_existing: OnExisting) -> Option<SystemTime> {
        match on_existing {
            OnExisting::Skip | OnExisting::Replace => None,
            OnExisting::Create => self.first_sent.map(|t| t - CLOCK_SKEW),
        }
    }
}

pub(crate) fn create_body(job: &Job) -> CreateDevice {
    let spec = &job.spec;
    let destination = Some(spec.destination.as_str().to_string());
    let (phone, email) = if spec.device_type.uses_phone() {
        (destination, None)
    } else {
        (None, destination)
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

/// What enrolling one live row reads and writes: PingOne, the run's stop, how the run treats
/// devices already there, and the device claims.
pub(super) struct Enroller<'a> {
    pub(super) client: &'a Client,
    pub(super) retry: &'a RetryPolicy,
    pub(super) stop: &'a Stop,
    pub(super) on_existing: OnExisting,
    /// On `--resume`: a matching device created since then may be an earlier run's (see
    /// `EngineConfig`).
    pub(super) created_by_earlier_run_since: Option<SystemTime>,
    pub(super) claims: &'a DeviceClaims,
}

impl Enroller<'_> {
    /// Check, create, reconcile.
    pub(super) async fn enroll(
        &self,
        job: &Job,
        user_id: &str,
        cache: &mut Option<Vec<Device>>,
    ) -> RowResult {
        let identity = job.spec.identity();
        let skip_existing = self.on_existing.skips_existing();
        if !skip_existing {
            if let Some(first) = self.claims.created_in_run(user_id, &identity) {
                return results::duplicate_of(job, user_id, first);
            }
        }
        // An earlier attempt (a killed run, or a round whose answer was unclear) may have
        // made this device: then a failed read settles nothing, and the row stays UNCONFIRMED.
        // A user PingOne does not have has no devices at all: that answer settles it.
        let may_exist = self.earlier_run_may_have_made(job)
            || job.spec.unconfirmed_before
            || job.spec.created_before;
        if skip_existing || may_exist {
            let devices = match self.current_devices(user_id, cache).await {
                Ok(d) => d,
                // The stop cut the read's retries short: the row was never sent.
                Err(e) if e.is_retryable() && self.stop.is_requested() => {
                    return results::not_attempted(job, user_id)
                }
                Err(e) if may_exist && !decide::rules_out_every_device(&e) => {
                    return results::still_unconfirmed(job, user_id, &e)
                }
                Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
            };
            if let Some(settled) = self.existing(job, user_id, &identity, &devices) {
                return settled;
            }
            if job.unconfirmed_before_run || job.spec.unconfirmed_before {
                if let Some(settled) = self
                    .settle_before_create(job, user_id, &identity, cache)
                    .await
                {
                    return settled;
                }
            }
        }
        self.create(job, user_id, &identity, cache).await
    }

    /// A row an earlier attempt left `UNCONFIRMED` whose device one read did not show: that
    /// POST may have been moments ago, and PingOne's list may not show it yet, so the list
    /// is read over the lag before anything is sent. `None`: still not there, create it.
    async fn settle_before_create(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        cache: &mut Option<Vec<Device>>,
    ) -> Option<RowResult> {
        // As `existing` matches: since the first run started, unless errors.csv said so.
        let since = match job.spec.unconfirmed_before {
            true => None,
            false => self.created_by_earlier_run_since,
        };
        match self.read_until_listed(user_id, identity, since).await {
            None => Some(results::not_attempted(job, user_id)),
            Some(Err(e)) if decide::rules_out_every_device(&e) => Some(results::failed(
                job,
                user_id,
                &e,
                0,
                self.retry.max_retries(),
            )),
            Some(Err(e)) => Some(results::still_unconfirmed(job, user_id, &e)),
            Some(Ok(devices)) => {
                let settled = self.existing(job, user_id, identity, &devices);
                *cache = Some(devices);
                settled
            }
        }
    }

    /// On --resume: whether an earlier run may have made this row's device without recording
    /// it (the row was in flight when it died, or its answer was unclear).
    fn earlier_run_may_have_made(&self, job: &Job) -> bool {
        self.created_by_earlier_run_since.is_some() && !job.settled_before
    }

    /// The row's result when the user's devices already settle it.
    fn existing(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        devices: &[Device],
    ) -> Option<RowResult> {
        let claims = self.claims.lock();
        // A device made since the first run started (on --resume), or one an earlier run's
        // unclear answer may have made (errors.csv said UNCONFIRMED), or made for a user
        // whose MFA was then not switched on (errors.csv said MFA_NOT_ENABLED), is this row's.
        let since = self
            .created_by_earlier_run_since
            .filter(|_| self.earlier_run_may_have_made(job));
        let ours = if job.spec.unconfirmed_before || job.spec.created_before {
            decide::find_match(devices, identity, None, &claims)
        } else if since.is_some() {
            decide::find_match(devices, identity, since, &claims)
        } else {
            Match::Nothing
        };
        if let Match::Free(device) = ours {
            let device = device.clone();
            drop(claims);
            self.claims.claim(user_id, &device.id, job.line);
            let mut r = results::with_device(job, user_id, Outcome::Created, &device);
            if job.spec.created_before {
                r = r.with_note("an earlier run created this device (its errors.csv said MFA_NOT_ENABLED); found it, not sending it again");
            }
            return Some(r);
        }
        match decide::find_match(devices, identity, None, &claims) {
            Match::Nothing => None,
            Match::Free(device) if self.on_existing.skips_existing() => Some(results::with_device(
                job,
                user_id,
                Outcome::SkippedExisting,
                device,
            )),
            Match::ClaimedBy(device, first) if self.on_existing.skips_existing() => {
                let r = results::with_device(job, user_id, Outcome::SkippedExisting, device);
                Some(r.with_note(format!("line {first} created this device")))
            }
            Match::ClaimedBy(_, first) => Some(results::duplicate_of(job, user_id, first)),
            // Create mode: a device the user had before the run is no reason not to create.
            Match::Free(_) => None,
        }
    }

    /// POSTs the device, retrying what is safe, and settles the row.
    async fn create(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        cache: &mut Option<Vec<Device>>,
    ) -> RowResult {
        let body = create_body(job);
        let posting = Mutex::new(Posting::default());
        // A failure PingOne may have acted on ends the retries: the POST is not sent again
        // in this run (a list that does not show the device yet proves nothing).
        let outcome = self
            .retry
            .run_while(
                || self.post_once(job, user_id, identity, &body, &posting),
                |e| !e.may_have_acted(),
            )
            .await;
        let posting = posting.into_inner().unwrap_or_else(|e| e.into_inner());
        let transaction_id = posting.transaction_id.clone();
        self.settle(job, user_id, identity, cache, outcome, posting)
            .await
            .with_transaction_id(transaction_id)
    }

    /// The row's result once its POSTs are over.
    async fn settle(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        cache: &mut Option<Vec<Device>>,
        outcome: Result<(Device, u16), ApiError>,
        posting: Posting,
    ) -> RowResult {
        let (device, status) = match outcome {
            Ok(created) => created,
            Err(error) if posting.unclear => {
                *cache = None;
                return self
                    .settle_unclear(job, user_id, identity, &posting, &error)
                    .await;
            }
            Err(ApiError::Stopped) if posting.attempts > 0 => {
                let last = posting.last_answer.unwrap_or(ApiError::Stopped);
                return results::stopped_after(job, user_id, &last, posting.attempts);
            }
            // The stop came before the first POST (in a wait for a turn): never sent.
            Err(ApiError::Stopped) => return results::not_attempted(job, user_id),
            // The stop cut the retries short: not "gave up after every retry".
            Err(error) if error.is_retryable() && self.stop.is_requested() => {
                return results::stopped_after(job, user_id, &error, posting.attempts);
            }
            Err(error) => {
                return results::failed(
                    job,
                    user_id,
                    &error,
                    posting.attempts,
                    self.retry.max_retries(),
                )
            }
        };
        if let Some(known) = cache.as_mut() {
            known.push(device.clone());
        }
        self.claims.claim(user_id, &device.id, job.line);
        self.claims.remember_created(user_id, identity, job.line);
        results::with_device(job, user_id, Outcome::Created, &device)
            .with_http_status(Some(status))
            .with_attempts(posting.attempts)
    }

    /// One try of the POST: a failure PingOne may have acted on is the last try (see
    /// [`Self::create`]).
    async fn post_once(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        body: &CreateDevice,
        posting: &Mutex<Posting>,
    ) -> Result<(Device, u16), ApiError> {
        let mut trace = {
            let mut p = lock(posting);
            p.attempts += 1;
            p.first_sent.get_or_insert_with(SystemTime::now);
            Trace::for_row(job.line, p.attempts)
        };
        let sent = self.client.create_device(user_id, body, &mut trace).await;
        if !trace.sent.is_empty() {
            lock(posting).transaction_id = trace.sent;
        }
        // A success that describes another device than the one asked for: PingOne acted,
        // but not as asked.
        let answer = match sent {
            Ok((device, status)) => {
                // The window exactly-once exists for: PingOne made the device, and only a
                // read of the user's devices (--resume) can learn it if the run dies here.
                crash_point!("post-answered");
                let other = decide::other_user(&device, user_id)
                    .or_else(|| decide::other_device(&device, identity));
                match other {
                    None => Ok((device, status)),
                    Some(what) => Err(ApiError::OtherDevice {
                        status,
                        device_id: device.id,
                        what,
                    }),
                }
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(created) => Ok(created),
            Err(ApiError::Stopped) => {
                // The run stopped before this POST went out: it was no attempt.
                let mut p = lock(posting);
                p.attempts = p.attempts.saturating_sub(1);
                Err(ApiError::Stopped)
            }
            Err(e) => {
                let mut p = lock(posting);
                p.unclear |= e.may_have_acted();
                p.last_answer = Some(e.clone());
                Err(e)
            }
        }
    }

    /// A POST PingOne may have acted on got no clear answer: read the user's devices over
    /// the list's lag, and record what those reads show.
    async fn settle_unclear(
        &self,
        job: &Job,
        user_id: &str,
        identity: &DeviceIdentity,
        posting: &Posting,
        last_error: &ApiError,
    ) -> RowResult {
        let since = posting.created_since(self.on_existing);
        let read = self.read_until_listed(user_id, identity, since).await;
        let found = {
            let claims = self.claims.lock();
            read.as_ref().map(|r| match r {
                Ok(devices) => Ok(decide::find_match(devices, identity, since, &claims)),
                Err(e) => Err(e),
            })
        };
        let r = match decide::after_unclear(last_error, found) {
            Settled::Created(device) => {
                self.claims.claim(user_id, &device.id, job.line);
                self.claims.remember_created(user_id, identity, job.line);
                let r = results::with_device(job, user_id, Outcome::Created, device);
                // A success PingOne sent without a readable body is still the status it sent.
                match last_error.http_status().filter(|s| (200..300).contains(s)) {
                    Some(status) => r.with_http_status(Some(status)).with_note(format!(
                        "PingOne answered {status} without a readable device ({last_error}); the device was found by reading the user's devices"
                    )),
                    None => r.with_note(format!(
                        "PingOne's answer was unclear ({last_error}); the device was found by reading the user's devices"
                    )),
                }
            }
            Settled::Unconfirmed(message) => results::base(job, user_id, Outcome::Failed)
                .with_error(crate::codes::Code::Unconfirmed, message),
            Settled::Refused => results::failed(
                job,
                user_id,
                last_error,
                posting.attempts,
                self.retry.max_retries(),
            ),
        };
        r.with_attempts(posting.attempts)
    }

    /// The user's devices, read again over the list's lag ([`decide::settle_waits`]) until
    /// one read lists the row's device: PingOne's lists catch up with a creation only after
    /// a while. The last read made; `None` when the stop came before any.
    async fn read_until_listed(
        &self,
        user_id: &str,
        identity: &DeviceIdentity,
        since: Option<SystemTime>,
    ) -> Option<Result<Vec<Device>, ApiError>> {
        let mut last = None;
        for wait in decide::settle_waits(self.retry.list_lag()) {
            self.retry.wait(wait).await;
            if self.stop.is_requested() {
                break;
            }
            let read = self.retry.run(|| self.client.list_devices(user_id)).await;
            let listed = read.as_ref().is_ok_and(|devices| {
                let claims = self.claims.lock();
                matches!(
                    decide::find_match(devices, identity, since, &claims),
                    Match::Free(_)
                )
            });
            last = Some(read);
            if listed {
                break;
            }
        }
        last
    }

    /// The user's devices: the list this user's worker knows, or else read now.
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
}
