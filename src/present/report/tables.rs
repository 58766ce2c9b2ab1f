//! The report's tables beside its charts: a resumed run beside the directory's totals, an
//! online dry run's plan, and a merge's shards; plain values for the template.

use super::format::{count, duration, int};
use super::outcomes::ordered;
use crate::record::summary::Summary;

/// A resumed run beside what the directory holds: a row per outcome.
pub(crate) struct Compare {
    pub(crate) rows: Vec<[String; 4]>,
    pub(crate) note: String,
}

/// An online dry run's plan: its figures, and the users a real run would message too often.
pub(crate) struct PlanView {
    pub(crate) facts: Vec<(&'static str, String)>,
    pub(crate) users_over_limit: Vec<String>,
}

/// `replace`: what was removed against the cap, and the groups whose removals were held.
pub(crate) struct RemovalsView {
    pub(crate) facts: Vec<(&'static str, String)>,
    pub(crate) held: Vec<String>,
}

pub(super) fn removals(summary: &Summary) -> Option<RemovalsView> {
    let removals = summary.removals.as_ref()?;
    let (removed, cap) = if removals.planned {
        (
            "Devices a real run would remove",
            "A real run would reach max_deletes",
        )
    } else {
        (
            "Devices removed (all runs on this directory)",
            "This run reached max_deletes",
        )
    };
    let mut facts = vec![(removed, int(summary.devices_removed))];
    if !removals.planned {
        facts.push(("Devices this run removed", int(removals.this_run)));
    }
    facts.push(("max_deletes", int(removals.max_deletes)));
    facts.push((cap, if removals.cap_reached { "yes" } else { "no" }.into()));
    facts.push((
        "Stale devices kept (a row of their user and type invalid or failed)",
        int(removals.held),
    ));
    let held = removals
        .held_groups
        .iter()
        .map(|g| {
            format!(
                "line {}: user {} {}: {} kept, {}",
                g.line, g.user_id, g.device_type, g.devices, g.reason
            )
        })
        .collect();
    Some(RemovalsView { facts, held })
}

/// A resumed run: what this run did, what earlier runs had done, and the total.
pub(super) fn compare(summary: &Summary) -> Option<Compare> {
    let this_run = summary
        .this_run
        .as_ref()
        .filter(|_| summary.resumed_rows > 0)?;
    let mut rows = Vec::new();
    for shown in ordered(&summary.outcomes) {
        let now = this_run.outcomes.get(&shown.name).copied().unwrap_or(0);
        let earlier = shown.rows.saturating_sub(now);
        rows.push([shown.label, int(now), int(earlier), int(shown.rows)]);
    }
    rows.push([
        "all rows".into(),
        int(this_run.rows),
        int(summary.rows.saturating_sub(this_run.rows)),
        int(summary.rows),
    ]);
    Some(Compare {
        rows,
        note: format!(
            "This run picked up where an earlier one stopped: it left alone the {} rows earlier runs had finished, and ran the other {}. The figures above are the directory's totals; duration, requests and latency are this run's.",
            int(summary.resumed_rows),
            int(this_run.rows)
        ),
    })
}

pub(super) fn plan(summary: &Summary) -> Option<PlanView> {
    let plan = summary.plan.as_ref()?;
    let mut facts = vec![
        (
            "Requests a real run needs",
            format!("about {}", int(plan.requests_needed)),
        ),
        (
            "Time they take",
            format!(
                "{} at {} requests/s",
                duration(plan.duration_at_rate_s),
                plan.rate
            ),
        ),
    ];
    let messages: u64 = plan.pairing_messages.values().sum();
    let channels: Vec<String> = plan
        .pairing_messages
        .iter()
        .map(|(channel, n)| format!("{} {channel}", int(*n)))
        .collect();
    facts.push((
        "Pairing messages it would send",
        if channels.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({})", int(messages), channels.join(", "))
        },
    ));
    if let Some(max) = plan.max_allowed_devices {
        facts.push((
            "Devices a user may have (pairing.maxAllowedDevices)",
            max.to_string(),
        ));
    }
    if plan.new_device_notices > 0 {
        let notices = format!(
            "{} ({})",
            int(plan.new_device_notices),
            plan.new_device_notices_note
        );
        facts.push(("New-device notices it may send", notices));
    }
    for quota in &plan.quotas {
        facts.push(("Daily message quota", quota.said.clone()));
    }
    if let Some(note) = &plan.quotas_note {
        facts.push(("Notification policy's quotas", note.clone()));
    }
    let mfa = format!(
        "{} off; {} would be switched on",
        int(plan.users_mfa_off),
        int(plan.users_mfa_to_switch_on)
    );
    facts.push(("Users' MFA switch", mfa));
    facts.push((
        "Users over 50 SMS or 50 emails a day",
        int(plan.users_over_daily_message_limit.len() as u64),
    ));
    let users_over_limit = plan
        .users_over_daily_message_limit
        .iter()
        .take(20)
        .map(|u| format!("{}: {} SMS, {} emails", u.user_id, u.sms, u.email))
        .collect();
    Some(PlanView {
        facts,
        users_over_limit,
    })
}

pub(super) fn shards(summary: &Summary) -> Vec<Vec<String>> {
    summary
        .shards
        .iter()
        .map(|shard| {
            let done: Vec<String> = ordered(&shard.outcomes)
                .into_iter()
                .map(|shown| format!("{} {}", int(shown.rows), shown.label))
                .collect();
            vec![
                shard.shard.clone(),
                shard.dir.clone(),
                int(shard.rows),
                done.join(", "),
                duration(shard.duration_s),
                count(shard.throughput_rows_per_s),
                int(shard.requests.total),
                int(shard.requests.throttled_429),
                format!("{}/s", shard.rate),
                shard.exit_code.map_or("-".into(), |c| c.to_string()),
            ]
        })
        .collect()
}
