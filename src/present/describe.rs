//! The short report printed at the end of a run or a merge, for the person at the terminal: outcomes
//! (`not attempted` apart from `failed`; a resumed run's own apart from the directory's
//! totals), the pace over the time spent sending, requests, the error codes with their first
//! lines, and where the files are.

use std::collections::BTreeMap;
use std::path::Path;

use super::report::REPORT_FILE;
use crate::config::RunMode;
use crate::record::summary::{Plan, RateBasis, Summary};
use crate::record::{ERRORS_FILE, RESULTS_FILE, SUMMARY_FILE};
use crate::words::{count, first_lines};

/// Rows per outcome as the text says them: `3422 created, 96578 not attempted`.
fn outcomes(outcomes: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(o, n)| format!("{n} {}", o.replace('_', " ")))
        .collect();
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The pace: rows done (not attempted excepted) over the time spent sending.
fn pace(s: &Summary) -> String {
    match &s.this_run {
        Some(this_run) => format!(
            "{:.1}s; {} done in {:.1}s of sending, {:.1} rows/s",
            s.duration_s,
            count(this_run.rows_done, "row", "rows"),
            this_run.sending_s,
            s.throughput_rows_per_s
        ),
        None => format!(
            "{:.1}s, {:.1} rows/s",
            s.duration_s, s.throughput_rows_per_s
        ),
    }
}

/// This run's rows, per outcome, and its pace: the first line of the text. A resumed run
/// says "this run:" (the directory's totals follow on a line of their own).
fn headline(s: &Summary) -> String {
    match &s.this_run {
        Some(this_run) if s.resumed_rows > 0 => format!(
            "this run: {}: {} ({})",
            count(this_run.rows, "row", "rows"),
            outcomes(&this_run.outcomes),
            pace(s)
        ),
        _ => format!(
            "{}: {} ({})",
            count(s.rows, "row", "rows"),
            outcomes(&s.outcomes),
            pace(s)
        ),
    }
}

/// The one-line outcome: the headline, and an early stop. `-q` prints only this line.
pub(crate) fn outcome_line(s: &Summary) -> String {
    let stopped = s
        .stopped_early
        .as_ref()
        .map(|stopped| format!("; STOPPED EARLY ({}), resume it", stopped.code))
        .unwrap_or_default();
    format!("{}{stopped}", headline(s))
}

/// An offline dry run's pairing messages, the line that says them ("" when none). A live
/// run's messages are its created rows; an online dry run's are in its plan line.
fn offline_messages(s: &Summary) -> String {
    let messages: u64 = s.pairing_messages.values().sum();
    let counted_here = match s.mode {
        RunMode::DryRunOffline => true,
        RunMode::Live | RunMode::DryRunOnline => false,
    };
    if !counted_here || messages == 0 {
        return String::new();
    }
    let per_type: Vec<String> = s
        .pairing_messages
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    format!(
        "a real run would send {} ({}); it needs --allow-messages\n",
        count(messages, "pairing message", "pairing messages"),
        per_type.join(", ")
    )
}

/// The human summary printed at the end of a run or a merge.
pub(crate) fn describe(s: &Summary, out_dir: &Path) -> String {
    let mut text = headline(s);
    text.push('\n');
    if s.this_run.is_some() && s.resumed_rows > 0 {
        // A resumed run: what the directory holds, labelled.
        text.push_str(&format!(
            "in total: {}: {} ({} finished by earlier runs and left alone)\n",
            count(s.rows, "row", "rows"),
            outcomes(&s.outcomes),
            s.resumed_rows
        ));
    }
    if s.requests.total + s.requests.tokens > 0 {
        text.push_str(&format!(
            "requests: {} ({} GET, {} POST, {} PUT) and {} for tokens, {}, {} answered 429; at most {} in flight (concurrency {})\n",
            s.requests.total,
            s.requests.get,
            s.requests.post,
            s.requests.put,
            s.requests.tokens,
            count(s.requests.retries, "retry", "retries"),
            s.requests.throttled_429,
            s.requests.most_in_flight,
            s.settings.concurrency
        ));
    }
    if s.users_mfa.any() {
        let u = &s.users_mfa;
        text.push_str(&format!(
            "users' MFA: {} switched on by this run, {} found on, {} left off\n",
            u.switched_on, u.found_on, u.left_off
        ));
    }
    if s.users_late > 0 {
        text.push_str(&format!(
            "{} PingOne did not know at first, and found on asking again (user_not_found_grace_s)\n",
            count(s.users_late, "user", "users")
        ));
    }
    let inactive = &s.rows_of_inactive_users;
    if inactive.any() {
        text.push_str(&format!(
            "{} of disabled users and {} of locked users: their devices are created, and work once the account is enabled\n",
            count(inactive.disabled, "row", "rows"),
            count(inactive.locked, "row", "rows")
        ));
    }
    text.push_str(&offline_messages(s));
    if let Some(plan) = &s.plan {
        text.push_str(&plan_line(plan));
    }
    if let Some(removals) = &s.removals {
        text.push_str(&removals_line(s.devices_removed, removals));
    }
    if let Some(stopped) = &s.stopped_early {
        text.push_str(&format!(
            "STOPPED EARLY ({}): {}\nrun the same command with --resume to continue\n",
            stopped.code, stopped.reason
        ));
    }
    for (code, rows) in &s.error_codes {
        text.push_str(&format!(
            "  {code:<24} {:>7}  ({})\n",
            rows.rows,
            first_lines(rows.rows, &rows.first_lines)
        ));
    }
    text.push_str(&format!(
        "results: {}  errors: {}  summary: {}\nreport: {}\n",
        out_dir.join(RESULTS_FILE).display(),
        out_dir.join(ERRORS_FILE).display(),
        out_dir.join(SUMMARY_FILE).display(),
        out_dir.join(REPORT_FILE).display()
    ));
    text
}

/// `replace`: the devices removed (or planned) against the cap, and those held.
fn removals_line(total: u64, removals: &crate::record::summary::Removals) -> String {
    let (did, cap) = match (removals.planned, removals.cap_reached) {
        (true, true) => (
            "a real run would remove",
            "; that passes max_deletes, so a real run would stop at the cap (DELETE_CAP_REACHED)",
        ),
        (true, false) => ("a real run would remove", "; within max_deletes"),
        (false, true) => ("removed", "; the cap (max_deletes) was reached"),
        (false, false) => ("removed", ""),
    };
    format!(
        "replace: {did} {} (this directory: {total}; max_deletes {}){cap}; {} kept because a row of their user and type was invalid or failed\n",
        count(removals.this_run, "stale device", "stale devices"),
        removals.max_deletes,
        count(removals.held, "stale device", "stale devices"),
    )
}

/// An online dry run's answer, in one line.
fn plan_line(plan: &Plan) -> String {
    let mut text = String::new();
    let messages: u64 = plan.pairing_messages.values().sum();
    let basis = match plan.rate_basis {
        RateBasis::Configured => String::new(),
        RateBasis::ServerLimit => format!(
            " (what PingOne allowed when it answered 429 to this dry run's reads; the configured rate is {})",
            plan.configured_rate
        ),
    };
    text.push_str(&format!(
        "plan: a real run needs about {}, {:.0}s at {} requests/s{basis}; it would send {}",
        count(plan.requests_needed, "request", "requests"),
        plan.duration_at_rate_s,
        plan.rate,
        count(messages, "pairing message", "pairing messages")
    ));
    if plan.new_device_notices > 0 {
        text.push_str(&format!(
            " and may cause {} (unverified for devices an admin creates)",
            count(
                plan.new_device_notices,
                "new-device notice",
                "new-device notices"
            )
        ));
    }
    if plan.users_mfa_off > 0 {
        text.push_str(&format!(
            "; {} MFA off, {} of them would be switched on",
            count(plan.users_mfa_off, "user has", "users have"),
            plan.users_mfa_to_switch_on
        ));
    }
    if !plan.users_over_daily_message_limit.is_empty() {
        text.push_str(&format!(
            "; {} pass PingOne's 50 SMS or emails a day",
            count(
                plan.users_over_daily_message_limit.len(),
                "user would",
                "users would"
            )
        ));
    }
    text.push('\n');
    text.push_str(&quota_lines(plan));
    text
}

/// The plan's messages against the daily quotas: each quota the file would pass, with the
/// rows that would fail and the days a schedule needs; else one line that it fits.
fn quota_lines(plan: &Plan) -> String {
    let mut text = String::new();
    for quota in plan.quotas.iter().filter(|q| q.rows_past > 0) {
        text.push_str(&format!("quota: {}\n", quota.said));
    }
    if text.is_empty() && !plan.quotas.is_empty() {
        text.push_str(&format!(
            "quotas: the file's messages fit all {} daily quotas in one day\n",
            plan.quotas.len()
        ));
    }
    if let Some(note) = &plan.quotas_note {
        text.push_str(&format!("quotas: {note}\n"));
    }
    text
}
