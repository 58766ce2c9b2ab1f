//! The short report printed at the end of a run or a merge, for the person at the terminal: outcomes
//! (`not attempted` apart from `failed`; a resumed run's own apart from the directory's
//! totals), the pace over the time spent sending, requests, the error codes with their first
//! lines, and where the files are.

use std::collections::BTreeMap;
use std::path::Path;

use super::report::REPORT_FILE;
use super::summary::{Plan, Summary};
use super::{ERRORS_FILE, RESULTS_FILE, SUMMARY_FILE};

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
            "{:.1}s; {} rows done in {:.1}s of sending, {:.1} rows/s",
            s.duration_s, this_run.rows_done, this_run.sending_s, s.throughput_rows_per_s
        ),
        None => format!(
            "{:.1}s, {:.1} rows/s",
            s.duration_s, s.throughput_rows_per_s
        ),
    }
}

/// The human summary printed at the end of a run or a merge.
pub fn describe(s: &Summary, out_dir: &Path) -> String {
    let mut text = String::new();
    match &s.this_run {
        // A resumed run: what this run did, then what the directory holds, labelled.
        Some(this_run) if s.resumed_rows > 0 => {
            text.push_str(&format!(
                "this run: {} rows: {} ({})\n",
                this_run.rows,
                outcomes(&this_run.outcomes),
                pace(s)
            ));
            text.push_str(&format!(
                "in total: {} rows: {} ({} finished by earlier runs and left alone)\n",
                s.rows,
                outcomes(&s.outcomes),
                s.resumed_rows
            ));
        }
        _ => text.push_str(&format!(
            "{} rows: {} ({})\n",
            s.rows,
            outcomes(&s.outcomes),
            pace(s)
        )),
    }
    if s.requests.total + s.requests.tokens > 0 {
        text.push_str(&format!(
            "requests: {} ({} GET, {} POST, {} PUT) and {} for tokens, {} retries, {} answered 429\n",
            s.requests.total,
            s.requests.get,
            s.requests.post,
            s.requests.put,
            s.requests.tokens,
            s.requests.retries,
            s.requests.throttled_429
        ));
    }
    if let Some(plan) = &s.plan {
        text.push_str(&plan_line(plan));
    }
    if let Some(stopped) = &s.stopped_early {
        text.push_str(&format!(
            "STOPPED EARLY ({}): {}\nrun the same command with --resume to continue\n",
            stopped.code, stopped.reason
        ));
    }
    for (code, rows) in &s.error_codes {
        let mut lines: Vec<String> = rows.first_lines.iter().map(u64::to_string).collect();
        if rows.rows > rows.first_lines.len() as u64 {
            lines.push("...".into());
        }
        text.push_str(&format!(
            "  {code:<24} {:>7}  (lines {})\n",
            rows.rows,
            lines.join(", ")
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

/// An online dry run's answer, in one line.
fn plan_line(plan: &Plan) -> String {
    let mut text = String::new();
    let messages: u64 = plan.pairing_messages.values().sum();
    text.push_str(&format!(
        "plan: a real run needs about {} requests, {:.0}s at {} requests/s; it would send {} pairing messages",
        plan.requests_needed, plan.duration_at_rate_s, plan.rate, messages
    ));
    if plan.new_device_notices > 0 {
        text.push_str(&format!(
            " and may cause {} new-device notices (unverified for devices an admin creates)",
            plan.new_device_notices
        ));
    }
    if plan.users_mfa_off > 0 {
        text.push_str(&format!(
            "; {} users have MFA off, {} of them would be switched on",
            plan.users_mfa_off, plan.users_mfa_to_switch_on
        ));
    }
    if !plan.users_over_daily_message_limit.is_empty() {
        text.push_str(&format!(
            "; {} users would pass PingOne's 50 SMS or emails a day",
            plan.users_over_daily_message_limit.len()
        ));
    }
    text.push('\n');
    text
}
