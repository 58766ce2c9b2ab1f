//! An online dry run's row: read what exists, never write, and report what a live run would
//! do; also the per-run facts a plan needs (policies, the device cap, daily message counts).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use uuid::Uuid;

use super::decide::{self, Match};
use super::{lock, results, Engine, Job, DAILY_MESSAGE_LIMIT};
use crate::codes::Code;
use crate::model::{Claims, DeviceIdentity, DeviceStatus, MessageChannel, OnExisting};
use crate::output::summary::UserOverMessageLimit;
use crate::output::{Outcome, RowResult};
use crate::pingone::wire::{MfaSettings, Policy};
use crate::pingone::ApiError;

/// Policy answers kept at most (a run names a handful).
const KEPT_POLICIES: usize = 1024;

/// What the file's earlier rows would do to one user.
#[derive(Debug, Default)]
pub(super) struct PlannedUser {
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

/// The device cap the settings give. A cap of 0, or past u32, is no cap PingOne could mean:
/// not checked.
fn cap(settings: &MfaSettings) -> Option<u32> {
    settings
        .pairing
        .max_allowed_devices
        .and_then(|max| u32::try_from(max).ok())
        .filter(|max| *max > 0)
}

#[derive(Debug, Clone)]
pub(super) enum PolicyState {
    /// What the policy allows.
    Exists(Arc<Policy>),
    Missing,
    /// The token may not read policies (403): not checked, said once per run.
    Unreadable,
}

/// The notice's wording in summary.json's plan.
pub(crate) const NOTICES_NOTE: &str = "devices a real run would create under a policy whose newDeviceNotification is not NONE; unverified whether PingOne sends these notices for devices an admin creates";

impl Engine {
    /// An online dry-run row: read, never write, and end as the live run will.
    pub(super) async fn plan(&self, job: &Job, user_id: &str) -> RowResult {
        let devices = match self.retry.run(|| self.client.list_devices(user_id)).await {
            Ok(d) => d,
            Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
        };
        let identity = job.spec.identity();
        let skip_existing = self.config.on_existing == OnExisting::Skip;
        // The live run reads first too: a device already there is skipped before PingOne
        // could refuse anything about it.
        if skip_existing {
            if let Match::Free(existing) =
                decide::find_match(&devices, &identity, None, &Claims::new())
            {
                return results::with_device(job, user_id, Outcome::WouldSkipExisting, existing);
            }
        }
        let policy = match self.policy_state(job.spec.policy_id).await {
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
        let settings = self.read_mfa_settings().await;
        let mut planned = lock(&self.planned);
        let user = planned.entry(user_id.to_string()).or_default();
        if let Some(first) = user.identities.get(&identity) {
            return if skip_existing {
                let mut r = results::base(job, user_id, Outcome::WouldSkipExisting);
                r.row.error_message = format!(
                    "line {first} creates this device first; this row would find it and skip"
                );
                r
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
        if policy.as_deref().is_some_and(sends_new_device_notice) {
            self.notices.fetch_add(1, Ordering::Relaxed);
        }
        results::base(job, user_id, Outcome::WouldCreate)
    }

    async fn policy_state(&self, policy_id: Uuid) -> Result<PolicyState, ApiError> {
        let cell = {
            let mut policies = lock(&self.policies);
            // A file of a million distinct policies must not keep a million answers: past
            // the bound they are forgotten, and a policy named again is read again.
            if policies.len() >= KEPT_POLICIES && !policies.contains_key(&policy_id) {
                policies.clear();
            }
            policies.entry(policy_id).or_default().clone()
        };
        cell.get_or_init(|| async {
            let id = policy_id.to_string();
            match self.retry.run(|| self.client.get_policy(&id)).await {
                Ok(Some(policy)) => Ok(PolicyState::Exists(Arc::new(policy))),
                Ok(None) => Ok(PolicyState::Missing),
                Err(e) if e.http_status() == Some(403) => {
                    if !self.policies_unreadable.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::warn!(
                            "the token may not read device authentication policies (403), so this dry run does not check them; a role that reads environment configuration (see README, \"Which role\") lets it"
                        );
                    }
                    Ok(PolicyState::Unreadable)
                }
                Err(e) => Err(e),
            }
        })
        .await
        .clone()
    }

    /// The MFA settings, read once per run; `None` when they cannot be read.
    async fn read_mfa_settings(&self) -> Option<MfaSettings> {
        self.mfa_settings
            .get_or_init(|| async {
                match self.retry.run(|| self.client.mfa_settings()).await {
                    Ok(settings) => Some(settings),
                    Err(e) if e.http_status() == Some(403) => {
                        tracing::warn!(
                            "the token may not read MFA settings (403), so this dry run does not check the device cap or phone extensions; a role that reads environment configuration (see README, \"Which role\") lets it"
                        );
                        None
                    }
                    Err(e) => {
                        tracing::warn!(
                            "cannot read MFA settings, so the device cap and phone extensions are not checked: {e}"
                        );
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// `pairing.maxAllowedDevices`, once an online dry run has read it.
    pub(crate) fn max_allowed_devices(&self) -> Option<u32> {
        self.mfa_settings
            .get()
            .and_then(Option::as_ref)
            .and_then(cap)
    }

    /// New-device notices the plan counted.
    pub(crate) fn new_device_notices(&self) -> u64 {
        self.notices.load(Ordering::Relaxed)
    }

    /// After a row's plan: the user's plan is forgotten when no later row can be the
    /// user's (only a user over a daily message limit is remembered, for the summary).
    pub(super) fn release_plan(&self, job: &Job, user_id: &str) {
        if job.continues || self.config.kinds.other_kind_after(&job.spec.user, job.line) {
            return;
        }
        let Some(user) = lock(&self.planned).remove(user_id) else {
            return;
        };
        if let Some(over) = over_limit(user_id, &user) {
            lock(&self.over_message_limit).push(over);
        }
    }

    /// Users whom a real run would send more than PingOne's daily SMS or email allowance.
    pub(crate) fn users_over_message_limit(&self) -> Vec<UserOverMessageLimit> {
        let planned = lock(&self.planned);
        let mut over: Vec<UserOverMessageLimit> = planned
            .iter()
            .filter_map(|(id, user)| over_limit(id, user))
            .chain(lock(&self.over_message_limit).iter().cloned())
            .collect();
        over.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        over
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

/// Whether creating a device under this policy may make PingOne send a new-device notice. A
/// policy that does not say has the API's default, `EMAIL_THEN_SMS`.
fn sends_new_device_notice(policy: &Policy) -> bool {
    policy
        .new_device_notification
        .as_deref()
        .is_none_or(|setting| !setting.eq_ignore_ascii_case("NONE"))
}

/// Why a row would pass `pairing.maxAllowedDevices`.
fn over_cap(have: u32, planned: u32, max: u32) -> String {
    format!(
        "the user has {} and earlier rows add {planned}; PingOne allows {max} (pairing.maxAllowedDevices)",
        crate::words::count(have, "ACTIVE or BLOCKED device", "ACTIVE or BLOCKED devices"),
    )
}
