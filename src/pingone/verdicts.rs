//! What an answer means for the whole run, beside what it means for its row: a status as an
//! [`ApiError`], a used-up quota or the first request's 403 as the run's stop, and every
//! success and failure fed to the health check that stops a run after a streak of failures.

use std::sync::atomic::Ordering;

use super::error::{self, Cause};
use super::wire::ErrorBody;
use super::{ApiError, Client, Purpose};
use crate::rate::health::{FailureClass, Health};
use crate::stop::StopReason;

impl Client {
    /// An error status as an [`ApiError`], fed to the health check. A used-up quota stops
    /// the run, and so does the first request's 403, since every other request would get
    /// it too; later 403s are one user's (a role scoped to a population).
    pub(super) fn judge_error(
        &self,
        status: u16,
        retry_after: Option<std::time::Duration>,
        bytes: &[u8],
        purpose: Purpose,
    ) -> ApiError {
        if status == 429 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let body = serde_json::from_slice::<ErrorBody>(bytes).ok();
        let error = ApiError::from_status(status, body, retry_after);
        if let Cause::Quota { reset } = error.cause() {
            self.stop
                .request(StopReason::QuotaExceeded(error::quota_message(
                    reset.as_deref(),
                )));
            return error;
        }
        if purpose == Purpose::ConfigRead && status == 403 {
            return error;
        }
        match status {
            401 | 403 => self.record_failure(FailureClass::Auth, &error),
            429 => {}
            s if s >= 500 => self.record_failure(FailureClass::Server, &error),
            // A 400 or 404 is about the row, and shows the service is working.
            _ => self.record_success(),
        }
        if status == 403 && !self.any_success() {
            self.stop.request(self.first_forbidden(&error));
        }
        error
    }

    /// Why the run stops at the first request's 403: a license, an environment, or (what
    /// PingOne's body does not say otherwise) a missing role.
    fn first_forbidden(&self, error: &ApiError) -> StopReason {
        let (env, worker) = (&self.environment_id, &self.worker_environment_id);
        let support = error
            .pingone_id()
            .map(|id| format!(" (PingOne error id {id})"))
            .unwrap_or_default();
        let says = error.message();
        match error.cause() {
            Cause::LicenseExceeded => StopReason::LicenseExceeded(format!(
                "PingOne answered 403 LICENSE_EXCEEDED to the first request: the license of \
                 environment {env} is exceeded ({says}){support}; no role fixes this: free \
                 capacity or extend the license with Ping, then run again with --resume"
            )),
            Cause::OtherEnvironment => StopReason::OtherEnvironment(format!(
                "PingOne answered 403 {} to the first request, naming the environment: \
                 environment {env} does not exist, or the worker app's token (from environment \
                 {worker}) is not valid for it ({says}){support}; check [pingone] \
                 environment_id and worker_environment_id, and that the worker app has a role \
                 in {env}, then run again with --resume",
                error.code()
            )),
            Cause::Plain | Cause::Quota { .. } | Cause::UserMissing => {
                let cross = if worker == env {
                    String::new()
                } else {
                    format!(" (the worker app lives in environment {worker}: its role must cover {env})")
                };
                StopReason::MissingRole(format!(
                    "PingOne answered 403 {} to the first request: the worker app's token lacks \
                     the role this tool needs (Identity Data Admin) in environment {env}{cross}{support}; \
                     grant it, then run again with --resume",
                    error.code()
                ))
            }
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn any_success(&self) -> bool {
        self.health().any_success()
    }

    pub(super) fn record_success(&self) {
        self.health().success();
    }

    pub(super) fn record_failure(&self, class: FailureClass, error: &ApiError) {
        let now = tokio::time::Instant::now();
        let stop = self.health().failure(class, &error.to_string(), now);
        if let Some(message) = stop {
            self.stop.request(StopReason::RepeatedFailures(message));
        }
    }
}
