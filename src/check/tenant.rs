//! The checks that read the tenant: the hosts and the token, the clock against PingOne's
//! `Date`, the device authentication policies the file names, the MFA settings, the
//! notification policy's quotas, and last the role the run needs (its 403 stops the client,
//! so nothing is read after it). Each is one request, whatever the file's size.

use std::time::{Duration, SystemTime};

use uuid::Uuid;

use super::file::FileFacts;
use super::messages::{check_messages, read_quotas, Group, PolicyRead};
use super::{Item, Status};
use crate::config::{Connection, Settings, TokenAuthMethod};
use crate::pingone::wire::{MfaSettings, Policy};
use crate::pingone::{Client, PreflightHost};
use crate::stop::Stop;

/// How far the local clock may be from PingOne's before a JWT assertion is refused.
const CLOCK_TOLERANCE: Duration = Duration::from_secs(60);

/// What a token without the configuration role is told.
const CONFIG_ROLE: &str =
    "a role that reads environment configuration lets it (docs/pingone.md, \"Which role\")";

/// The hosts, the token and the clock; `false` when the tenant cannot be used at all (exit 2).
pub(super) async fn connect(
    client: &Client,
    connection: &Connection,
    stop: &Stop,
    checks: &mut Vec<Item>,
) -> bool {
    if let Err((which, problem)) = client.preflight().await {
        let (role, host, set_by) = match which {
            PreflightHost::Token => (
                "token host",
                connection.auth_host(),
                &connection.auth_url_set_by,
            ),
            PreflightHost::Api => (
                "API host",
                connection.api_host(),
                &connection.api_url_set_by,
            ),
        };
        checks.push(Item::new(
            Status::Fail,
            "hosts",
            format!("cannot reach the {role} {host} (set by {set_by}): {problem}"),
        ));
        return false;
    }
    let method = connection.auth.method();
    // The preflight asked for the token: a refusal there is final, and not asked twice.
    if let Some(reason) = stop.reason() {
        checks.push(Item::new(Status::Fail, "token", reason.to_string()));
        return false;
    }
    if let Err(error) = client.has_token().await {
        let why = stop
            .reason()
            .map_or_else(|| error.to_string(), |reason| reason.to_string());
        checks.push(Item::new(Status::Fail, "token", why));
        return false;
    }
    checks.push(Item::new(
        Status::Pass,
        "hosts",
        format!(
            "the token host {} and the API host {} answer",
            connection.auth_host(),
            connection.api_host()
        ),
    ));
    checks.push(Item::new(
        Status::Pass,
        "token",
        format!(
            "granted to client {} by environment {} ({}), for environment {}",
            connection.client_id,
            connection.worker_environment_id,
            method.as_str(),
            connection.environment_id
        ),
    ));
    checks.push(clock(client, method).await);
    true
}

/// The local clock against the `Date` of PingOne's answer: JWT client authentication fails
/// when they are more than a minute apart.
async fn clock(client: &Client, method: TokenAuthMethod) -> Item {
    let theirs = match client.server_date().await {
        Ok(Some(date)) => date,
        Ok(None) => {
            return Item::new(
                Status::NotChecked,
                "clock",
                "the API host sent no Date header",
            )
        }
        Err(e) => {
            return Item::new(
                Status::NotChecked,
                "clock",
                format!("cannot read the API host's Date: {e}"),
            )
        }
    };
    let ours = SystemTime::now();
    let apart = ours
        .duration_since(theirs)
        .or_else(|_| theirs.duration_since(ours))
        .unwrap_or_default();
    let jwt = matches!(
        method,
        TokenAuthMethod::ClientSecretJwt | TokenAuthMethod::PrivateKeyJwt
    );
    // A Date has whole seconds: a second more is no skew.
    let said = format!(
        "this machine's clock is {} s from PingOne's",
        apart.as_secs()
    );
    if apart <= CLOCK_TOLERANCE + Duration::from_secs(1) {
        Item::new(Status::Pass, "clock", said)
    } else if jwt {
        Item::new(
            Status::Fail,
            "clock",
            format!("{said}: PingOne refuses JWT client assertions from a clock that far off; set the clock (NTP)"),
        )
    } else {
        Item::new(
            Status::Pass,
            "clock",
            format!("{said}; it matters only for JWT client authentication, but set it (NTP)"),
        )
    }
}

/// What the environment reads are checked against.
pub(super) struct Tenant<'a> {
    pub(super) client: &'a Client,
    pub(super) settings: &'a Settings,
    pub(super) facts: Option<&'a FileFacts>,
}

impl Tenant<'_> {
    /// Policies, MFA settings, quotas: read-only, one request each.
    pub(super) async fn read_all(&self, checks: &mut Vec<Item>) {
        let notices = self.policies(checks).await;
        self.mfa_settings(checks).await;
        self.quotas(&notices, checks).await;
    }

    /// Each policy the file names (or the configured default) exists and enables the file's
    /// types; returns each file policy's new-device notice group, for the message count.
    async fn policies(&self, checks: &mut Vec<Item>) -> Vec<Option<Group>> {
        let Some(facts) = self.facts else {
            match self.settings.enroll.policy_id {
                Some(id) => {
                    self.policy(id, None, checks).await;
                }
                None => checks.push(Item::new(
                    Status::NotChecked,
                    "policy",
                    "no input and no [enroll] policy_id: no policy to check",
                )),
            }
            return Vec::new();
        };
        let mut notices = Vec::with_capacity(facts.policies.len());
        for (id, used) in &facts.policies {
            notices.push(self.policy(*id, Some(used), checks).await);
        }
        notices
    }

    /// One policy: exists, and enables (pairing included) every type its rows have.
    async fn policy(
        &self,
        id: Uuid,
        used: Option<&super::file::PolicyUse>,
        checks: &mut Vec<Item>,
    ) -> Option<Group> {
        let rows = || {
            used.map(|u| {
                let mut all = super::file::Lines::default();
                for lines in u.types.values() {
                    for line in &lines.first {
                        all.push(*line);
                    }
                    all.count += lines.count - lines.first.len() as u64;
                }
                format!("; {} name it", all.describe())
            })
            .unwrap_or_default()
        };
        let policy: Policy = match self.client.get_policy(&id.to_string()).await {
            Ok(Some(policy)) => policy,
            Ok(None) => {
                checks.push(Item::new(
                    Status::Fail,
                    "policy",
                    format!("device authentication policy {id} does not exist in environment{}: name an existing policy_id", rows()),
                ));
                return None;
            }
            Err(e) if e.http_status() == Some(403) => {
                checks.push(Item::new(
                    Status::NotChecked,
                    "policy",
                    format!("the token may not read device authentication policy {id} (403); {CONFIG_ROLE}; its new-device notices are counted as the API's default, EMAIL_THEN_SMS"),
                ));
                return Group::of_notice(None);
            }
            Err(e) => {
                checks.push(Item::new(
                    Status::Fail,
                    "policy",
                    format!("cannot read device authentication policy {id}: {e}"),
                ));
                return Group::of_notice(None);
            }
        };
        let name = policy.name.clone().unwrap_or_default();
        let mut fine = Vec::new();
        for (kind, lines) in used.map(|u| &u.types).into_iter().flatten() {
            match policy.method(*kind).and_then(|m| m.refuses()) {
                Some(why) => checks.push(Item::new(
                    Status::Fail,
                    "policy",
                    format!(
                        "device authentication policy {id} ({name:?}) {why} {kind} devices, so PingOne would refuse {}: enable the method (and its pairing) in the policy, or name another policy_id",
                        lines.describe()
                    ),
                )),
                None => fine.push(kind.as_str()),
            }
        }
        let notice = policy.new_device_notification.clone();
        checks.push(Item::new(
            Status::Pass,
            "policy",
            format!(
                "device authentication policy {id} ({name:?}) exists{}; newDeviceNotification {}",
                if fine.is_empty() {
                    String::new()
                } else {
                    format!(" and enables {}", fine.join(", "))
                },
                notice
                    .as_deref()
                    .unwrap_or("not set (the API's default, EMAIL_THEN_SMS)"),
            ),
        ));
        Group::of_notice(notice.as_deref())
    }
}

impl Tenant<'_> {
    /// The device cap against the file's largest user, phone extensions when the file has
    /// any, and what new users get.
    async fn mfa_settings(&self, checks: &mut Vec<Item>) {
        let settings: MfaSettings = match self.client.mfa_settings().await {
            Ok(settings) => settings,
            Err(e) => {
                let why = if e.http_status() == Some(403) {
                    format!("the token may not read the MFA settings (403); {CONFIG_ROLE}")
                } else {
                    format!("cannot read the MFA settings: {e}")
                };
                checks.push(Item::new(Status::NotChecked, "mfa settings", why));
                return;
            }
        };
        let cap = settings.pairing.max_allowed_devices;
        match (cap, self.facts.and_then(|f| f.largest_user.as_ref())) {
            (Some(cap), Some((user, most))) if u64::from(*most) > cap => checks.push(Item::new(
                Status::Fail,
                "device cap",
                format!(
                    "{user} would get {most} devices and PingOne allows {cap} (MFA settings pairing.maxAllowedDevices, ACTIVE and BLOCKED devices counted), so {} would fail: raise the cap, or drop rows",
                    self.facts.map(|f| past_cap(f, cap).describe()).unwrap_or_default()
                ),
            )),
            (Some(cap), Some((user, most))) => checks.push(Item::new(
                Status::Pass,
                "device cap",
                format!("PingOne allows {cap} devices per user; the file gives at most {most} ({user}), besides the devices users already have (an online dry run reads those)"),
            )),
            (cap, _) => checks.push(Item::new(
                Status::Pass,
                "device cap",
                format!("pairing.maxAllowedDevices is {}", cap.map_or_else(|| "not set".into(), |c| c.to_string())),
            )),
        }
        if let Some(facts) = self.facts.filter(|f| f.extensions.count > 0) {
            checks.push(if settings.phone_extensions.enabled {
                Item::new(Status::Pass, "phone extensions", format!("on, for {}", facts.extensions.describe()))
            } else {
                Item::new(
                    Status::Fail,
                    "phone extensions",
                    format!("off in the MFA settings (phoneExtensions.enabled), so PingOne would refuse {}: turn them on, or remove the extensions", facts.extensions.describe()),
                )
            });
        }
        let new_users = settings.users.as_ref().and_then(|u| u.mfa_enabled);
        checks.push(Item::new(
            Status::Pass,
            "new users",
            match new_users {
                Some(true) => "MFA settings switch MFA on for new users (users.mfaEnabled)".to_string(),
                Some(false) => "MFA settings leave MFA off for new users (users.mfaEnabled false): set [enroll] enable_mfa = true so the run switches each user on".to_string(),
                None => "the MFA settings do not say whether new users get MFA on".to_string(),
            },
        ));
    }

    /// The environment's notification policy's quotas and PingOne's platform limits,
    /// against the messages the file would cause.
    async fn quotas(&self, notices: &[Option<Group>], checks: &mut Vec<Item>) {
        let (quotas, read) = read_quotas(self.client).await;
        checks.push(match read {
            PolicyRead::Found { name, own } => Item::new(
                Status::Pass,
                "notification policy",
                format!(
                    "{name} sets {}",
                    crate::words::count(own, "daily quota", "daily quotas")
                ),
            ),
            PolicyRead::NoPolicy => Item::new(
                Status::Pass,
                "notification policy",
                "the environment has none: PingOne's platform limits apply",
            ),
            PolicyRead::Unreadable(why) => Item::new(
                Status::NotChecked,
                "notification policy",
                format!("{why}; {CONFIG_ROLE}"),
            ),
        });
        if let Some(facts) = self.facts {
            checks.extend(check_messages(
                facts,
                notices,
                &quotas,
                self.settings.enroll.allow_messages,
            ));
        }
    }

    /// The role the run needs, by a read that needs it: a user look-up (Identity Data Admin
    /// reads users and manages their devices). Last, since its 403 stops the client.
    pub(super) async fn roles(&self, stop: &Stop, checks: &mut Vec<Item>) {
        let env = &self
            .settings
            .connection
            .as_ref()
            .map(|c| c.environment_id.clone())
            .unwrap_or_default();
        match self.client.find_users("mfa-enroll-check").await {
            Ok(_) => checks.push(Item::new(
                Status::Pass,
                "role",
                format!("the token reads users in environment {env}, as the run's look-ups need (Identity Data Admin; creating devices needs the same role)"),
            )),
            Err(error) => {
                let why = stop.reason().map_or_else(
                    || format!("the token cannot read users in environment {env}: {error}"),
                    |reason| reason.to_string(),
                );
                checks.push(Item::new(Status::Fail, "role", why));
            }
        }
    }
}

/// Each user's rows that count against the cap, past it: the rows a run would fail.
fn past_cap(facts: &FileFacts, cap: u64) -> super::file::Lines {
    let mut lines = Vec::new();
    for rows in facts.by_user.values() {
        let counted = rows.iter().filter(|row| !row.pairing);
        lines.extend(
            counted
                .skip(usize::try_from(cap).unwrap_or(usize::MAX))
                .map(|row| row.line),
        );
    }
    lines.sort_unstable();
    let mut past = super::file::Lines::default();
    for line in lines {
        past.push(line);
    }
    past
}
