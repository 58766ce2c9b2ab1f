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

/// What the file's earlier rows would do to one user.
#[derive(Debug, Default)]
pub(super) struct PlannedUser {
    planned: u32,
    /// The devices earlier rows would create, with their lines.
    identities: HashMap<DeviceIdentity, u64>,
    sms: u32,
    email: u32,
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
            let would_have = devices.len() as u32 + user.planned;
            if would_have >= max {
                return results::base(job, user_id, Outcome::Failed).with_error(
                    Code::DeviceLimit,
                    format!(
                        "the user has {} and earlier rows add {}; PingOne allows {max} (pairing.maxAllowedDevices)",
                        crate::words::count(devices.len(), "device", "devices"),
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
        let cell = lock(&self.policies).entry(policy_id).or_default().clone();
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
                    Ok(settings) => Some(settings.pairing.max_allowed_devices),
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

    /// Users whom a real run would send more than PingOne's daily SMS or email allowance.
    pub(crate) fn users_over_message_limit(&self) -> Vec<UserOverMessageLimit> {
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
