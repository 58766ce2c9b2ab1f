//! An online dry run's row: read what exists, never write, and report what a live run would
//! do; also the per-run facts a plan needs (policies, the device cap, daily message counts).

use std::collections::HashMap;

use uuid::Uuid;

use super::decide::{self, Match};
use super::{lock, results, Engine, Job, DAILY_MESSAGE_LIMIT};
use crate::codes::Code;
use crate::model::{Claims, DeviceIdentity, MessageChannel, OnExisting};
use crate::output::summary::UserOverMessageLimit;
use crate::output::{Outcome, RowResult};
use crate::pingone::ApiError;

/// Policy answers kept at most (a run names a handful).
const KEPT_POLICIES: usize = 1024;

/// What the file's earlier rows would do to one user.
#[derive(Debug, Default)]
pub(super) struct PlannedUser {
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

#[derive(Debug, Clone, Copy)]
pub(super) enum PolicyState {
    Exists,
    Missing,
    /// The token may not read policies (403): not checked, said once per run.
    Unreadable,
}

impl Engine {
    /// An online dry-run row: read, never write.
    pub(super) async fn plan(&self, job: &Job, user_id: &str) -> RowResult {
        match self.policy_state(job.spec.policy_id).await {
            Ok(PolicyState::Exists | PolicyState::Unreadable) => {}
            Ok(PolicyState::Missing) => {
                return results::base(job, user_id, Outcome::Failed).with_error(
                    Code::PolicyNotFound,
                    format!(
                        "device authentication policy {} does not exist in this environment",
                        job.spec.policy_id
                    ),
                )
            }
            Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
        }
        let devices = match self.retry.run(|| self.client.list_devices(user_id)).await {
            Ok(d) => d,
            Err(e) => return results::failed(job, user_id, &e, 0, self.retry.max_retries()),
        };
        let max_devices = self.max_devices().await;
        let identity = job.spec.identity();
        let skip_existing = self.config.on_existing == OnExisting::Skip;
        let mut planned = lock(&self.planned);
        let user = planned.entry(user_id.to_string()).or_default();
        if skip_existing {
            if let Match::Free(existing) =
                decide::find_match(&devices, &identity, None, &Claims::new())
            {
                return results::with_device(job, user_id, Outcome::WouldSkipExisting, existing);
            }
        }
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
        if let Some(max) = max_devices {
            let would_have = u32::try_from(devices.len())
                .unwrap_or(u32::MAX)
                .saturating_add(user.planned);
            if would_have >= max {
                return results::base(job, user_id, Outcome::Failed).with_error(
                    Code::DeviceLimit,
                    format!(
                        "the user has {} devices and earlier rows add {}; PingOne allows {max} (pairing.maxAllowedDevices)",
                        devices.len(),
                        user.planned
                    ),
                );
            }
        }
        user.planned += 1;
        user.identities.insert(identity, job.line);
        if job.spec.sends_pairing_message() {
            match job.spec.device_type.daily_message_channel() {
                Some(MessageChannel::Sms) => user.sms += 1,
                Some(MessageChannel::Email) => user.email += 1,
                None => {}
            }
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
                Ok(Some(_)) => Ok(PolicyState::Exists),
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

    async fn max_devices(&self) -> Option<u32> {
        *self
            .max_devices
            .get_or_init(|| async {
                match self.retry.run(|| self.client.mfa_settings()).await {
                    // A cap of 0, or past u32, is no cap PingOne could mean: not checked.
                    Ok(settings) => settings
                        .pairing
                        .max_allowed_devices
                        .and_then(|max| u32::try_from(max).ok())
                        .filter(|max| *max > 0),
                    Err(e) if e.http_status() == Some(403) => {
                        tracing::warn!(
                            "the token may not read MFA settings (403), so this dry run does not check the device cap; a role that reads environment configuration (see README, \"Which role\") lets it"
                        );
                        None
                    }
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

    /// `pairing.maxAllowedDevices`, once an online dry run has read it.
    pub(crate) fn max_allowed_devices(&self) -> Option<u32> {
        self.max_devices.get().copied().flatten()
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
