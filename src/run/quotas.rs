//! An online dry run's messages against PingOne's daily quotas, counted as `check` counts
//! them (`check/messages.rs`, the one count of both): pairing codes for
//! `ACTIVATION_REQUIRED` rows and new-device notices under policies whose
//! `newDeviceNotification` is not `NONE` (as the plan read each policy), per user and in
//! total, SMS and voice together and email apart, against the platform limits and the
//! environment's notification policy (one request). The whole file is counted, also in a
//! shard: a user's rows are all in one shard, and an environment's quota is every shard's.

use std::path::PathBuf;

use super::context::RunContext;
use crate::check::file::{read_facts, FileFacts};
use crate::check::messages::{read_quotas, verdicts, Group, PolicyRead, Verdict};
use crate::dispatch::Engine;
use crate::input::InputSource;
use crate::pingone::Client;
use crate::record::summary::QuotaPlan;

/// The quotas against the spooled input (`spool`), and why the notification policy's are
/// missing when they are; `None` when the input could not be read again (said in the log).
pub(crate) async fn plan(
    ctx: &RunContext,
    client: &Client,
    engine: &Engine,
    spool: PathBuf,
) -> Option<(Vec<QuotaPlan>, Option<String>)> {
    let facts = reread(ctx, spool).await?;
    let notices: Vec<Option<Group>> = facts
        .policies
        .iter()
        .map(|(id, _)| Group::of_notice(engine.new_device_notification(*id).as_deref()))
        .collect();
    let (quotas, read) = read_quotas(client).await;
    let note = match read {
        PolicyRead::Found { .. } | PolicyRead::NoPolicy => None,
        PolicyRead::Unreadable(why) => Some(why),
    };
    let plans = verdicts(&facts, &notices, &quotas)
        .iter()
        .map(as_plan)
        .collect();
    Some((plans, note))
}

/// The input read and validated once more, off the async runtime.
async fn reread(ctx: &RunContext, spool: PathBuf) -> Option<FileFacts> {
    let (delimiter, rules, stop) = (ctx.settings.delimiter, ctx.rules.clone(), ctx.stop.clone());
    let reading = tokio::task::spawn_blocking(move || {
        read_facts(&InputSource::File(spool), delimiter, rules, &stop)
    });
    match reading.await {
        Ok(Ok(facts)) => Some(facts),
        Ok(Err(e)) => {
            tracing::warn!("the messages were not counted against the quotas: {e}");
            None
        }
        Err(e) => {
            tracing::warn!("the messages were not counted against the quotas: {e}");
            None
        }
    }
}

fn as_plan(verdict: &Verdict) -> QuotaPlan {
    let quota = &verdict.quota;
    QuotaPlan {
        per: if quota.per_user {
            "user"
        } else {
            "environment"
        }
        .into(),
        counts: match quota.group {
            Group::SmsVoice => "sms_and_voice",
            Group::Email => "email",
        }
        .into(),
        total: quota.total,
        source: quota.source.clone(),
        sent: verdict.sent,
        rows_past: verdict.past.count,
        first_lines_past: verdict.past.first.clone(),
        users_over: verdict.users_over,
        days: verdict.days,
        said: verdict.describe(),
    }
}
