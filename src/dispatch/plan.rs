//! An online dry run's row: read what exists, never write, and report what a live run would
//! do; and what the plan keeps of each user meanwhile (the devices earlier rows would
//! create, daily message counts). The policies and MFA settings it checks rows against are
//! `environment`'s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::decide::{self, Match};
use super::environment::{cap, EnvironmentSettings, PolicyState};
use super::guard::lock;
use super::retry::RetryPolicy;
use super::{results, Job, DAILY_MESSAGE_LIMIT};
use crate::codes::Code;
use crate::model::{Claims, DeviceIdentity, DeviceStatus, MessageChannel, OnExisting};
use crate::pingone::wire::{MfaSettings, Policy};
use crate::pingone::Client;
use crate::record::summary::UserOverMessageLimit;
use crate::record::{Outcome, RowResult};

/// What the file's earlier rows would do to one user.
#[derive(Debug, Default)]
struct PlannedUser {
    /// Devices earlier rows would create that count against the cap (not ACTIVATION_REQUIRED).
    planned: u32,
    /// The devices earlier rows would create, with their lines.
    identities: HashMap<DeviceIdentity, u64>,
    sms: u32,
    email: u32,
}

/// `user` as the summary lists it, when a real run would pass a daily message limit.
fn over_limit(user_id: &str, user: &PlannedUser) -> Option<UserOverMessageLimit> {
    (user.sms > DAILY_MESSAGE_LIMIT || user.email > DAILY_MESSAGE_LIMIT).then(|| {
        UserOverMessageLimit {
            user_id: user_id.to_string(),
            sms: user.sms,
            email: user.email,
        }
    })
}

/// The notice's wording in summary.json's plan.
pub(crate) const NOTICES_NOTE: &str = "devices a real run would create under a policy whose newDeviceNotification is not NONE; unverified whether PingOne sends these notices for devices an admin creates";

/// What an online dry run has planned of users: what earlier rows would do to each user with
/// rows still to come, the users over a daily message limit, and the new-device notices.
#[derive(Default)]
pub(super) struct UserPlans {
    /// What earlier rows would do to users with rows still to come.
    by_user: Mutex<HashMap<String, PlannedUser>>,
    /// Users whose rows are all planned and would pass a daily message limit.
    over_message_limit: Mutex<Vec<UserOverMessageLimit>>,
    /// New-device notices the plan counted.
    notices: AtomicU64,
}

impl UserPlans {
    /// After the user's last row: the user's plan is forgotten (only a user over a daily
    /// message limit is remembered, for the summary).
    pub(super) fn release(&self, user_id: &str) {
        let Some(user) = lock(&self.by_user).remove(user_id) else {
            return;
        };
        if let Some(over) = over_limit(user_id, &user) {
            lock(&self.over_message_limit).push(over);
        }
    }

    /// Users whom a real run would send more than PingOne's daily SMS or email allowance.
    pub(super) fn users_over_message_limit(&self) -> Vec<UserOverMessageLimit> {
        let planned = lock(&self.by_user);
        let mut over: Vec<UserOverMessageLimit> = planned
            .iter()
            .filter_map(|(id, user)| over_limit(id, user))
            .chain(lock(&self.over_message_limit).iter().cloned())
            .collect();
        over.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        over
    }

    /// New-device notices the plan counted.
    pub(super) fn new_device_notices(&self) -> u64 {
        self.notices.load(Ordering::Relaxed)
    }
}

/// What planning one row reads and adds to: PingOne (read only), the environment's settings,
/// and the users' plans.
pub(super) struct Planner<'a> {
    pub(super) client: &'a Client,
    pub(super) retry: &'a RetryPolicy,
    pub(super) on_existing: OnExisting,
    pub(super) environment: &'a EnvironmentSettings,
    pub(super) users: &'a UserPlans,
}

impl Planner<'_> {
    /// An online dry-run row: read, never write, and end as the live run will.
    pub(super) async fn plan(&self, job: &Job, user_id: &str) -> RowResult {
        let devices = match self.retry.run(|| self.client.list_devices(user_id)).await {
            Ok(d) => d,
            Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
        };
        let identity = job.spec.identity();
        let skip_existing = self.on_existing.skips_existing();
        // The live run reads first too: a device already there is skipped before PingOne
        // could refuse anything about it.
        if skip_existing {
            if let Match::Free(existing) =
                decide::find_match(&devices, &identity, None, &Claims::new())
            {
                return results::with_device(job, user_id, Outcome::WouldSkipExisting, existing);
            }
        }
        let policy_id = job.spec.policy_id;
        let policy = match self
            .environment
            .policy(self.client, self.retry, policy_id)
            .await
        {
            Ok(PolicyState::Missing) => {
                return results::base(job, user_id, Outcome::Failed).with_error(
                    Code::PolicyNotFound,
                    format!(
                        "device authentication policy {} does not exist in this environment",
                        job.spec.policy_id
                    ),
                )
            }
            Ok(PolicyState::Exists(policy)) => Some(policy),
            Ok(PolicyState::Unreadable) => None,
            Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
        };
        let settings = self.environment.mfa_settings(self.client, self.retry).await;
        let mut planned = lock(&self.users.by_user);
        let user = planned.entry(user_id.to_string()).or_default();
        if let Some(first) = user.identities.get(&identity) {
            return if skip_existing {
                results::base(job, user_id, Outcome::WouldSkipExisting).with_note(format!(
                    "line {first} creates this device first; this row would find it and skip"
                ))
            } else {
                results::duplicate_of(job, user_id, *first)
            };
        }
        if let Some(refused) = refusal(job, policy.as_deref(), settings.as_ref()) {
            return results::base(job, user_id, Outcome::Failed).with_error(refused.0, refused.1);
        }
        let counts = job.spec.status != Some(DeviceStatus::ActivationRequired);
        if let Some(max) = settings.as_ref().and_then(cap) {
            let have = devices
                .iter()
                .filter(|d| decide::counts_against_cap(d))
                .count();
            let have = u32::try_from(have).unwrap_or(u32::MAX);
            if counts && have.saturating_add(user.planned) >= max {
                return results::base(job, user_id, Outcome::Failed)
                    .with_error(Code::DeviceLimit, over_cap(have, user.planned, max));
            }
        }
        if counts {
            user.planned += 1;
        }
        user.identities.insert(identity, job.line);
        if job.spec.sends_pairing_message() {
            match job.spec.device_type.daily_message_channel() {
                Some(MessageChannel::Sms) => user.sms += 1,
                Some(MessageChannel::Email) => user.email += 1,
                None => {}
            }
        }
        if policy.as_deref().is_some_and(Policy::notifies_new_devices) {
            self.users.notices.fetch_add(1, Ordering::Relaxed);
        }
        results::base(job, user_id, Outcome::WouldCreate)
    }
}

/// What the policy or the MFA settings would make PingOne refuse: the code and why.
fn refusal(
    job: &Job,
    policy: Option<&Policy>,
    settings: Option<&MfaSettings>,
) -> Option<(Code, String)> {
    let kind = job.spec.device_type;
    if let Some(policy) = policy {
        if let Some(why) = policy.method(kind).and_then(|m| m.refuses()) {
            return Some((
                Code::MethodDisabled,
                format!(
                    "device authentication policy {} {why} {kind} devices, so PingOne would refuse this one; enable the method in the policy, or name another policy_id",
                    job.spec.policy_id
                ),
            ));
        }
    }
    let extensions_off = settings.is_some_and(|s| !s.phone_extensions.enabled);
    if job.spec.extension.is_some() && extensions_off {
        return Some((
            Code::ExtensionsDisabled,
            "the row has an extension, and the MFA settings have phone extensions off (phoneExtensions.enabled), so PingOne would refuse it; turn them on, or remove the extension".into(),
        ));
    }
    None
}

/// Why a row would pass `pairing.maxAllowedDevices`.
fn over_cap(have: u32, planned: u32, max: u32) -> String {
    format!(
        "the user has {} and earlier rows add {planned}; PingOne allows {max} (pairing.maxAllowedDevices)",
        crate::words::count(have, "ACTIVE or BLOCKED device", "ACTIVE or BLOCKED devices"),
    )
}
