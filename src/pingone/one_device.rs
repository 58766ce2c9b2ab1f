//! One device by its ID, and the MFA switch turned off: what `verify` and `undo` ask of
//! PingOne after a run. `GET …/users/{userID}/devices/{deviceID}` answers the device or 404;
//! `DELETE` the same path answers 204, or 404 when it is already gone, so a DELETE sent again
//! after an answer that never came is safe (PingOne's retry guide: a device just deleted may
//! still be read for a moment, and deleting it again then answers 404).

use reqwest::Method;

use super::wire::{Device, MfaEnabled};
use super::{ApiError, Client, Purpose, Trace};

/// What a DELETE of one device came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// 204: this request removed it.
    Now,
    /// 404: it was not there (deleted before, or by an earlier attempt whose answer was lost).
    AlreadyGone,
}

impl Client {
    fn device_url(&self, user_id: &str, device_id: &str) -> String {
        format!(
            "{}/users/{user_id}/devices/{device_id}",
            self.environment_url
        )
    }

    /// The device, or `None` when PingOne answers 404 for it (the device, or its user, is
    /// not there: [`Client::mfa_enabled`] tells which).
    pub(crate) async fn get_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Option<Device>, ApiError> {
        let url = self.device_url(user_id, device_id);
        match self.call(Method::GET, &url, &[], None::<&()>).await {
            Ok(device) => Ok(Some(device)),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes one device; idempotent, so it may be retried like a read.
    pub(crate) async fn delete_device(
        &self,
        user_id: &str,
        device_id: &str,
    ) -> Result<Deleted, ApiError> {
        let url = self.device_url(user_id, device_id);
        match self
            .exchange(
                Method::DELETE,
                &url,
                &[],
                None::<&()>,
                Purpose::Enrollment,
                &mut Trace::default(),
            )
            .await
        {
            Ok(_) => {
                self.record_success();
                Ok(Deleted::Now)
            }
            Err(ApiError::Status { status: 404, .. }) => Ok(Deleted::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    /// Switches the user's MFA off (`PUT …/mfaEnabled` with `false`), as `undo --restore-mfa`
    /// does for users the run switched on; returns the switch as PingOne reports it.
    pub(crate) async fn disable_mfa(&self, user_id: &str) -> Result<bool, ApiError> {
        let url = format!("{}/users/{user_id}/mfaEnabled", self.environment_url);
        let off = MfaEnabled { mfa_enabled: false };
        let (status, bytes) = self
            .exchange(
                Method::PUT,
                &url,
                &[],
                Some(&off),
                Purpose::Enrollment,
                &mut Trace::default(),
            )
            .await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            self.record_success();
            return Ok(false);
        }
        let answer: MfaEnabled = self.parse(status, &bytes)?;
        Ok(answer.mfa_enabled)
    }
}
