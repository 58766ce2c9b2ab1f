//! The messages a file would make PingOne send, counted as PingOne counts them against its
//! quotas: SMS and voice together, email apart, per user and per environment, per day. A
//! row sends a pairing code when it is `ACTIVATION_REQUIRED`, and may cause a new-device
//! notice when its policy's `newDeviceNotification` is not `NONE` (`EMAIL_THEN_SMS` counted
//! as an email, `SMS_THEN_EMAIL` as an SMS). WhatsApp messages go through the environment's
//! own sender and count against none of these quotas.

use super::file::{FileFacts, Lines};
use super::{Item, Status};
use crate::model::DeviceType;
use crate::pingone::wire::NotificationPolicy;
use crate::pingone::Client;

/// PingOne's platform limit: SMS and emails per user per day.
pub(crate) const PLATFORM_DAILY_LIMIT: u64 = 50;

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    SmsVoice,
    Email,
}

impl Group {
    fn describe(self) -> &'static str {
        match self {
            Group::SmsVoice => "SMS and voice messages",
            Group::Email => "emails",
        }
    }

    /// The group a pairing code for this type of device counts in.
    fn of_pairing(device_type: DeviceType) -> Option<Group> {
        match device_type {
            DeviceType::Sms | DeviceType::Voice => Some(Group::SmsVoice),
            DeviceType::Email => Some(Group::Email),
            DeviceType::Whatsapp => None,
        }
    }

    /// The group a new-device notice under a policy with this setting counts in; a policy
    /// that does not say has the API's default, `EMAIL_THEN_SMS`.
    pub(crate) fn of_notice(setting: Option<&str>) -> Option<Group> {
        match setting.map(str::to_ascii_uppercase).as_deref() {
            Some("NONE") => None,
            Some("SMS_THEN_EMAIL") => Some(Group::SmsVoice),
            _ => Some(Group::Email),
        }
    }
}

/// What reading the environment's notification policy found.
#[derive(Debug, Clone)]
pub(crate) enum PolicyRead {
    /// The default policy (or the first), and how many of its quotas this tool counts.
    Found {
        name: String,
        own: u64,
    },
    NoPolicy,
    /// Why the policies could not be read: their quotas are not counted.
    Unreadable(String),
}

/// PingOne's platform limits and the environment's default notification policy's quotas
/// (one request), and what was found.
pub(crate) async fn read_quotas(client: &Client) -> (Vec<Quota>, PolicyRead) {
    let platform = |group| Quota {
        per_user: true,
        group,
        total: PLATFORM_DAILY_LIMIT,
        source: "PingOne's platform limit".into(),
    };
    let mut quotas = vec![platform(Group::SmsVoice), platform(Group::Email)];
    let read = match client.notification_policies().await {
        Ok(policies) => match policies.iter().find(|p| p.default).or(policies.first()) {
            Some(policy) => {
                let own = quotas_of(policy);
                let read = PolicyRead::Found {
                    name: policy_name(policy),
                    own: own.len() as u64,
                };
                quotas.extend(own);
                read
            }
            None => PolicyRead::NoPolicy,
        },
        Err(e) if e.http_status() == Some(403) => PolicyRead::Unreadable(
            "the token may not read notification policies (403), so their quotas are not checked"
                .into(),
        ),
        Err(e) => PolicyRead::Unreadable(format!(
            "cannot read notification policies, so their quotas are not checked: {e}"
        )),
    };
    (quotas, read)
}

/// How a notification policy is named.
fn policy_name(policy: &NotificationPolicy) -> String {
    format!(
        "notification policy {:?} ({})",
        policy.name.as_deref().unwrap_or(""),
        policy.id
    )
}

/// The policy's quotas this tool counts: SMS and voice together, email apart; a quota over
/// other delivery methods, or without a total, is left out.
fn quotas_of(policy: &NotificationPolicy) -> Vec<Quota> {
    let mut quotas = Vec::new();
    for quota in &policy.quotas {
        let Some(total) = quota.total else { continue };
        let methods: Vec<String> = quota
            .delivery_methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let group = if methods.iter().any(|m| m == "SMS" || m == "VOICE") {
            Group::SmsVoice
        } else if methods.iter().any(|m| m == "EMAIL") {
            Group::Email
        } else {
            continue;
        };
        quotas.push(Quota {
            per_user: quota.kind.eq_ignore_ascii_case("USER"),
            group,
            total,
            source: policy_name(policy),
        });
    }
    quotas
}

/// One daily quota: per user or for the whole environment, over one group.
#[derive(Debug, Clone)]
pub(crate) struct Quota {
    pub(crate) per_user: bool,
    pub(crate) group: Group,
    pub(crate) total: u64,
    /// Whose quota it is, for the checklist.
    pub(crate) source: String,
}

/// The messages of one row, in the order PingOne would send them.
fn messages_of(row: &super::file::MessageRow, notices: &[Option<Group>]) -> [Option<Group>; 2] {
    let pairing = row
        .pairing
        .then(|| Group::of_pairing(row.device_type))
        .flatten();
    let notice = notices.get(row.policy as usize).copied().flatten();
    [pairing, notice]
}

/// The checklist's lines about messages: what the file would send, and one line per quota.
/// `notices[i]` is the notice group of the file's i-th policy.
pub(crate) fn check_messages(
    facts: &FileFacts,
    notices: &[Option<Group>],
    quotas: &[Quota],
    allow_messages: bool,
) -> Vec<Item> {
    let mut items = vec![summary(facts, notices, allow_messages)];
    items.extend(verdicts(facts, notices, quotas).iter().map(Verdict::item));
    items
}

/// How many pairing codes and notices the file would cause; a live run holds the pairing
/// codes unless messages are allowed.
fn summary(facts: &FileFacts, notices: &[Option<Group>], allow_messages: bool) -> Item {
    let (mut pairing, mut notice) = (Lines::default(), 0u64);
    for row in facts.by_user.values().flatten() {
        if row.pairing {
            pairing.push(row.line);
        }
        notice += u64::from(
            notices
                .get(row.policy as usize)
                .copied()
                .flatten()
                .is_some(),
        );
    }
    let said = format!(
        "the file would make PingOne send {} and up to {} (policies whose newDeviceNotification is not NONE; unverified whether PingOne sends them for devices an admin creates)",
        crate::words::count(pairing.count, "pairing code", "pairing codes"),
        crate::words::count(notice, "new-device notice", "new-device notices"),
    );
    if pairing.count > 0 && !allow_messages {
        return Item::new(
            Status::Fail,
            "messages",
            format!(
                "{said}; a live run refuses ACTIVATION_REQUIRED rows, {}, unless --allow-messages (or [enroll] allow_messages = true)",
                pairing.describe()
            ),
        );
    }
    Item::new(Status::Pass, "messages", said)
}

fn quota_name(quota: &Quota) -> String {
    format!(
        "{} {} per {} per day ({})",
        quota.total,
        quota.group.describe(),
        if quota.per_user {
            "user"
        } else {
            "environment"
        },
        quota.source
    )
}

/// Days a schedule needs to send `most` messages under a daily quota of `total`.
fn days(most: u64, total: u64) -> u64 {
    most.div_ceil(total.max(1))
}

/// How the file's messages meet one quota: what it would send (to the user who gets most,
/// or in all), the rows past the quota on the first day, and the days a daily schedule needs.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) quota: Quota,
    /// Per user: the most one user would get; per environment: all the file would send.
    pub(crate) sent: u64,
    /// Rows whose message would pass the quota, so would fail that day.
    pub(crate) past: Lines,
    /// Per user: the users past it.
    pub(crate) users_over: u64,
    /// Days a daily schedule (per user: each user's rows; per environment: shards or
    /// slices of lines, one a day) needs.
    pub(crate) days: u64,
}

/// Each quota against the file's messages. `notices[i]` is the notice group of the file's
/// i-th policy.
pub(crate) fn verdicts(
    facts: &FileFacts,
    notices: &[Option<Group>],
    quotas: &[Quota],
) -> Vec<Verdict> {
    quotas
        .iter()
        .map(|quota| {
            if quota.per_user {
                per_user(facts, notices, quota)
            } else {
                per_environment(facts, notices, quota)
            }
        })
        .collect()
}

/// A per-user quota: the rows whose message would pass it, and in how many days a daily
/// schedule of each user's rows fits.
fn per_user(facts: &FileFacts, notices: &[Option<Group>], quota: &Quota) -> Verdict {
    let (mut past, mut users_over, mut most) = (Lines::default(), 0u64, 0u64);
    for rows in facts.by_user.values() {
        let mut sent = 0u64;
        for row in rows {
            let count = messages_of(row, notices)
                .iter()
                .filter(|g| **g == Some(quota.group))
                .count() as u64;
            let before = sent;
            sent += count;
            if sent > quota.total && count > 0 {
                if before <= quota.total {
                    users_over += 1;
                }
                past.push(row.line);
            }
        }
        most = most.max(sent);
    }
    Verdict {
        quota: quota.clone(),
        sent: most,
        past,
        users_over,
        days: days(most, quota.total),
    }
}

/// A per-environment quota: the rows past it in file order, and how many days (or shards,
/// one a day) the file needs.
fn per_environment(facts: &FileFacts, notices: &[Option<Group>], quota: &Quota) -> Verdict {
    let mut lines: Vec<u64> = Vec::new();
    for row in facts.by_user.values().flatten() {
        for group in messages_of(row, notices).into_iter().flatten() {
            if group == quota.group {
                lines.push(row.line);
            }
        }
    }
    let total = lines.len() as u64;
    lines.sort_unstable();
    let mut past = Lines::default();
    let within = usize::try_from(quota.total).unwrap_or(usize::MAX);
    let mut last = None;
    for line in lines.into_iter().skip(within) {
        if last != Some(line) {
            past.push(line);
        }
        last = Some(line);
    }
    Verdict {
        quota: quota.clone(),
        sent: total,
        past,
        users_over: 0,
        days: days(total, quota.total),
    }
}

impl Verdict {
    /// What the verdict says, for the checklist, the dry run's end text and its report.
    pub(crate) fn describe(&self) -> String {
        let (quota, name) = (&self.quota, quota_name(&self.quota));
        let day_count = crate::words::count(self.days, "day", "days");
        match (quota.per_user, self.past.count) {
            (true, 0) => format!("{name}: the most one user would get is {}", self.sent),
            (false, 0) => format!("{name}: the file would send {}", self.sent),
            (true, _) => format!(
                "{name}: {} would pass it, so {} would fail that day; a daily schedule fits in {day_count} (the user with the most would get {}): run each user's rows past the first {} a day later",
                crate::words::count(self.users_over, "user", "users"),
                self.past.describe(),
                self.sent,
                quota.total,
            ),
            (false, _) => format!(
                "{name}: the file would send {}, so {} would fail that day; it fits in {day_count}: split it, e.g. --shard K/{} with one shard a day (shards split by user, so leave room), or by lines",
                self.sent,
                self.past.describe(),
                self.days,
            ),
        }
    }

    /// The checklist's line.
    fn item(&self) -> Item {
        let status = if self.past.count == 0 {
            Status::Pass
        } else {
            Status::Fail
        };
        Item::new(status, "quota", self.describe())
    }
}
