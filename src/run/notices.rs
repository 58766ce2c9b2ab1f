//! New-device notices, held by the same guard as pairing codes: a live run that would
//! create devices under a device authentication policy whose `newDeviceNotification` is not
//! `NONE` may make PingOne message each of those users (PingOne's docs do not say that
//! devices an administrator adds are exempt), so it is refused unless messages are allowed.
//! The survey counts the rows that may create a device under each policy
//! ([`PolicyRows`]); before anything is written, each of those policies is read once. A
//! policy the token may not read (403: no role for environment configuration) leaves the
//! notices unknown, and the run is refused as well, saying so: a guard that let through
//! what it could not see would not guard. Unless the token has no role at all (a user
//! look-up is refused too): then the run stops at its first request, `MISSING_ROLE`, as
//! always. A read PingOne fails to answer past the retries (5xx, timeouts) is refused the same
//! way: PingOne may be well again for the first POST. A read that cannot connect, or meets a
//! license or environment refusal, is logged and the run goes on: its own first requests meet
//! the same failure and stop it with the reason.

use std::sync::Arc;

use uuid::Uuid;

use super::error::RunError;
use crate::config::{RunMode, Settings};
use crate::dispatch::retry::RetryPolicy;
use crate::pingone::error::Cause;
use crate::pingone::{ApiError, Client, RequestStats};
use crate::stop::Stop;

/// Policies remembered with their rows; a file naming more is refused unless messages are
/// allowed, rather than read policy by policy before the first row.
pub(crate) const MOST_POLICIES: usize = 100;
/// Lines named in a refusal.
const LINES_KEPT: usize = 5;

/// Rows that may create a device, with their lines.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lines {
    pub(crate) rows: u64,
    pub(crate) first: Vec<u64>,
}

impl Lines {
    fn push(&mut self, line: u64) {
        self.rows += 1;
        if self.first.len() < LINES_KEPT {
            self.first.push(line);
        }
    }

    fn join(&mut self, other: &Lines) {
        self.rows += other.rows;
        self.first.extend(&other.first);
        self.first.sort_unstable();
        self.first.truncate(LINES_KEPT);
    }
}

/// The rows a run may create devices for, by the policy they name, in the order first met.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyRows {
    pub(crate) by_policy: Vec<(Uuid, Lines)>,
    /// Rows under policies past [`MOST_POLICIES`].
    pub(crate) beyond: Lines,
}

impl PolicyRows {
    /// A row on `line` that may create a device under `policy`.
    pub(crate) fn add(&mut self, policy: Uuid, line: u64) {
        if let Some((_, lines)) = self.by_policy.iter_mut().find(|(id, _)| *id == policy) {
            lines.push(line);
        } else if self.by_policy.len() < MOST_POLICIES {
            let mut lines = Lines::default();
            lines.push(line);
            self.by_policy.push((policy, lines));
        } else {
            self.beyond.push(line);
        }
    }
}

/// A live run against PingOne without permission to message users: refused when its rows'
/// policies would make PingOne send new-device notices, or cannot be read .
pub(crate) async fn hold(
    (settings, stop): (&Settings, &Arc<Stop>),
    against_pingone: Option<&Arc<Client>>,
    stats: &Arc<RequestStats>,
    rows: &PolicyRows,
) -> Result<(), RunError> {
    match against_pingone {
        Some(client) if settings.mode == RunMode::Live && !settings.enroll.allow_messages => {
            let retry = RetryPolicy::new(&settings.limits, stats.clone(), stop.clone());
            check(client, (&retry, stop.as_ref()), rows).await
        }
        _ => Ok(()),
    }
}

/// Reads each policy the rows name; `Err` when some would make PingOne send new-device
/// notices, or cannot be read. Called only for a live run against PingOne without
/// permission to message users. A run already stopping (its token refused, a signal) is
/// let through: it sends nothing, and its stop says why better than this check could.
pub(crate) async fn check(
    client: &Client,
    (retry, stop): (&RetryPolicy, &Stop),
    rows: &PolicyRows,
) -> Result<(), RunError> {
    if rows.beyond.rows > 0 {
        return Err(RunError::NoticesUnknown {
            rows: rows.beyond.rows,
            first_lines: rows.beyond.first.clone(),
            why: format!("the file names more than {MOST_POLICIES} device authentication policies, and they are not all read before the run"),
        });
    }
    let mut notifying = Lines::default();
    let mut names = Vec::new();
    for (policy, lines) in &rows.by_policy {
        let id = policy.to_string();
        match retry.run(|| client.get_policy(&id)).await {
            Ok(Some(read)) if read.notifies_new_devices() => {
                notifying.join(lines);
                names.push(format!(
                    "{id} ({})",
                    read.new_device_notification
                        .as_deref()
                        .unwrap_or("not set: EMAIL_THEN_SMS")
                ));
            }
            // Missing: its rows fail, and a device not created notifies nobody.
            Ok(_) => {}
            Err(_) if stop.is_requested() => return Ok(()),
            Err(error) if refused_configuration(&error) => {
                // The configuration role alone, or every role? Without the run's own role
                // the user look-up's 403 stops the run (MISSING_ROLE) before any row.
                if client.find_users("mfa-enroll-check").await.is_err() {
                    return Ok(());
                }
                return Err(RunError::NoticesUnknown {
                    rows: lines.rows,
                    first_lines: lines.first.clone(),
                    why: format!(
                        "the token may not read device authentication policy {id} ({error})"
                    ),
                });
            }
            // PingOne unwell after every retry: it may be well again for the first POST, and
            // a notice sent without consent cannot be recalled, so the rows wait for consent.
            Err(error) if error.is_retryable() && !matches!(error, ApiError::Connect(_)) => {
                return Err(RunError::NoticesUnknown {
                    rows: lines.rows,
                    first_lines: lines.first.clone(),
                    why: format!(
                        "device authentication policy {id} could not be read after every retry ({})",
                        crate::logging::LogSafe(&error.to_string())
                    ),
                });
            }
            Err(error) => {
                // PingOne unreachable, or refusing the license or environment: the
                // run's own first requests meet the same and stop it with the reason.
                tracing::warn!(
                    "cannot read device authentication policy {id}, so its new-device notices are not checked: {}",
                    crate::logging::LogSafe(&error.to_string())
                );
            }
        }
    }
    if notifying.rows == 0 {
        return Ok(());
    }
    Err(RunError::WouldNotifyUsers {
        rows: notifying.rows,
        first_lines: notifying.first,
        policies: names.join(", "),
    })
}

/// A plain 403: the token may not read the policy (no role for environment configuration,
/// or none at all), as against a license or an environment refused.
fn refused_configuration(error: &ApiError) -> bool {
    error.http_status() == Some(403) && *error.cause() == Cause::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_by_policy_up_to_the_most_and_counted_beyond() {
        let mut rows = PolicyRows::default();
        let policy = |n: u128| Uuid::from_u128(n);
        for line in 2..10 {
            rows.add(policy(1), line);
        }
        rows.add(policy(2), 10);
        assert_eq!(rows.by_policy.len(), 2);
        assert_eq!(rows.by_policy[0].1.rows, 8);
        assert_eq!(rows.by_policy[0].1.first, [2, 3, 4, 5, 6]);
        for n in 3..=(MOST_POLICIES as u128 + 2) {
            rows.add(policy(n), 100 + n as u64);
        }
        assert_eq!(rows.by_policy.len(), MOST_POLICIES);
        assert_eq!(rows.beyond.rows, 2);
        let mut all = Lines::default();
        all.join(&rows.by_policy[1].1);
        all.join(&rows.by_policy[0].1);
        assert_eq!((all.rows, all.first), (9, vec![2, 3, 4, 5, 6]));
    }
}
