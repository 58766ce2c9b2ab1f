//! The messages a file would make PingOne send, counted as PingOne counts them against its
//! quotas: SMS and voice together, email apart, per user and per environment, per day. A
//! row sends a pairing code when it is `ACTIVATION_REQUIRED`, and may cause a new-device
//! notice when its policy's `newDeviceNotification` is not `NONE` (`EMAIL_THEN_SMS` counted
//! as an email, `SMS_THEN_EMAIL` as an SMS). WhatsApp messages go through the environment's
//! own sender and count against none of these quotas.

use super::file::{FileFacts, Lines};
use super::{Item, Status};
use crate::model::DeviceType;

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
    for quota in quotas {
        items.push(if quota.per_user {
            per_user(facts, notices, quota)
        } else {
            per_environment(facts, notices, quota)
        });
    }
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

/// A per-user quota: the rows whose message would pass it, and in how many days a daily
/// schedule of each user's rows fits.
fn per_user(facts: &FileFacts, notices: &[Option<Group>], quota: &Quota) -> Item {
    let (mut passing, mut users_over, mut most) = (Lines::default(), 0u64, 0u64);
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
                passing.push(row.line);
            }
        }
        most = most.max(sent);
    }
    let name = quota_name(quota);
    if passing.count == 0 {
        return Item::new(
            Status::Pass,
            "quota",
            format!("{name}: the most one user would get is {most}"),
        );
    }
    Item::new(
        Status::Fail,
        "quota",
        format!(
            "{name}: {} would pass it, so {} would fail that day; a daily schedule fits in {} (the user with the most would get {most}): run each user's rows past the first {} a day later",
            crate::words::count(users_over, "user", "users"),
            passing.describe(),
            crate::words::count(days(most, quota.total), "day", "days"),
            quota.total,
        ),
    )
}

/// A per-environment quota: the rows past it in file order, and how many days (or shards,
/// one a day) the file needs.
fn per_environment(facts: &FileFacts, notices: &[Option<Group>], quota: &Quota) -> Item {
    let mut lines: Vec<u64> = Vec::new();
    for row in facts.by_user.values().flatten() {
        for group in messages_of(row, notices).into_iter().flatten() {
            if group == quota.group {
                lines.push(row.line);
            }
        }
    }
    let total = lines.len() as u64;
    let name = quota_name(quota);
    if total <= quota.total {
        return Item::new(
            Status::Pass,
            "quota",
            format!("{name}: the file would send {total}"),
        );
    }
    lines.sort_unstable();
    let mut passing = Lines::default();
    let past = usize::try_from(quota.total).unwrap_or(usize::MAX);
    let mut last = None;
    for line in lines.into_iter().skip(past) {
        if last != Some(line) {
            passing.push(line);
        }
        last = Some(line);
    }
    let needed = days(total, quota.total);
    Item::new(
        Status::Fail,
        "quota",
        format!(
            "{name}: the file would send {total}, so {} would fail that day; it fits in {}: split it, e.g. --shard K/{needed} with one shard a day (shards split by user, so leave room), or by lines",
            passing.describe(),
            crate::words::count(needed, "day", "days"),
        ),
    )
}
