//! What an online dry run reads of the environment's configuration to check rows against:
//! device authentication policies and the MFA settings, each read once per run and shared by
//! every row. Only an online dry run builds it; a live run lets PingOne check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use uuid::Uuid;

use super::guard::lock;
use super::retry::RetryPolicy;
use crate::pingone::wire::{MfaSettings, Policy};
use crate::pingone::{ApiError, Client};

/// Policy answers kept at most (a run names a handful).
const KEPT_POLICIES: usize = 1024;

/// A device authentication policy as an online dry run found it.
#[derive(Debug, Clone)]
pub(super) enum PolicyState {
    /// What the policy allows.
    Exists(Arc<Policy>),
    Missing,
    /// The token may not read policies (403): not checked, said once per run.
    Unreadable,
}

/// One look-up per policy per run, shared by every row that names it.
type PolicyCheck = Arc<OnceCell<Result<PolicyState, ApiError>>>;

/// The policies and MFA settings an online dry run has read.
#[derive(Default)]
pub(super) struct EnvironmentSettings {
    policies: Mutex<HashMap<Uuid, PolicyCheck>>,
    /// A 403 on a policy read was reported; one line per run is enough.
    policies_unreadable: AtomicBool,
    /// The environment's MFA settings, once read (`None`: unreadable).
    mfa_settings: OnceCell<Option<MfaSettings>>,
}

impl EnvironmentSettings {
    /// The policy, read once per run.
    pub(super) async fn policy(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        policy_id: Uuid,
    ) -> Result<PolicyState, ApiError> {
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
            match retry.run(|| client.get_policy(&id)).await {
                Ok(Some(policy)) => Ok(PolicyState::Exists(Arc::new(policy))),
                Ok(None) => Ok(PolicyState::Missing),
                Err(e) if e.http_status() == Some(403) => {
                    if !self.policies_unreadable.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "the token may not read device authentication policies (403), so this dry run does not check them; a role that reads environment configuration (see docs/pingone.md, \"Which role\") lets it"
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
    pub(super) async fn mfa_settings(
        &self,
        client: &Client,
        retry: &RetryPolicy,
    ) -> Option<MfaSettings> {
        self.mfa_settings
            .get_or_init(|| async {
                match retry.run(|| client.mfa_settings()).await {
                    Ok(settings) => Some(settings),
                    Err(e) if e.http_status() == Some(403) => {
                        tracing::warn!(
                            "the token may not read MFA settings (403), so this dry run does not check the device cap or phone extensions; a role that reads environment configuration (see docs/pingone.md, \"Which role\") lets it"
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

    /// A policy's `newDeviceNotification` as the plan read it, without reading: a missing
    /// policy notifies nobody (`NONE`); `None` when it was not read, could not be, or does
    /// not say (each counted as the API's default).
    pub(super) fn new_device_notification(&self, policy_id: Uuid) -> Option<String> {
        let cell = lock(&self.policies).get(&policy_id).cloned()?;
        match cell.get()? {
            Ok(PolicyState::Exists(policy)) => policy.new_device_notification.clone(),
            Ok(PolicyState::Missing) => Some("NONE".into()),
            Ok(PolicyState::Unreadable) | Err(_) => None,
        }
    }

    /// `pairing.maxAllowedDevices`, once read.
    pub(super) fn max_allowed_devices(&self) -> Option<u32> {
        self.mfa_settings
            .get()
            .and_then(Option::as_ref)
            .and_then(cap)
    }
}

/// The device cap the settings give. A cap of 0, or past u32, is no cap PingOne could mean:
/// not checked.
pub(super) fn cap(settings: &MfaSettings) -> Option<u32> {
    settings
        .pairing
        .max_allowed_devices
        .and_then(|max| u32::try_from(max).ok())
        .filter(|max| *max > 0)
}
