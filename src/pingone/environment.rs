//! The reads of the environment's configuration and of the tenant itself, beside the
//! enrollment's own requests: device authentication policies, MFA settings and
//! notification policies (an online dry run and `check` read them), and what `check` asks
//! of the token and of the API host's clock.

use super::wire::{self, MfaSettings, Policy};
use super::{ApiError, Client};

impl Client {
    /// A token, fetched unless one is held: `check`'s proof that the credentials work.
    pub(crate) async fn has_token(&self) -> Result<(), ApiError> {
        self.token().await.map(|_| ())
    }

    /// `Ok(None)` when the policy does not exist.
    pub(crate) async fn get_policy(&self, policy_id: &str) -> Result<Option<Policy>, ApiError> {
        let url = format!(
            "{}/deviceAuthenticationPolicies/{policy_id}",
            self.environment_url
        );
        match self.config_read(&url).await {
            Ok(policy) => Ok(Some(policy)),
            Err(ApiError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn mfa_settings(&self) -> Result<MfaSettings, ApiError> {
        let url = format!("{}/mfaSettings", self.environment_url);
        self.config_read(&url).await
    }

    /// The environment's notification policies (`check` reads their quotas).
    pub(crate) async fn notification_policies(
        &self,
    ) -> Result<Vec<wire::NotificationPolicy>, ApiError> {
        let url = format!("{}/notificationsPolicies", self.environment_url);
        let list: wire::NotificationPolicies = self.config_read(&url).await?;
        Ok(list.embedded.notifications_policies)
    }

    /// The API host's clock, from the `Date` header of an answer to a request without
    /// credentials (any status will do); `None` when the host sent none this tool reads.
    pub(crate) async fn server_date(&self) -> Result<Option<std::time::SystemTime>, ApiError> {
        let answer = self
            .http
            .head(self.api_url.clone())
            .header(super::trace::HEADER, self.transactions.unrowed())
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        Ok(answer
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| httpdate::parse_http_date(text).ok()))
    }
}
