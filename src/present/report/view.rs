//! What the report shows, worked out from summary.json, timeline.json and results.csv into
//! plain values the template lays out: the verdict, the headline figures, the comparison of
//! a resumed run with the directory's totals, the charts, the error codes with what to do,
//! an online dry run's plan and a merge's shards. Nothing here is markup: the template
//! escapes every value it prints.

use std::collections::BTreeMap;

use askama::Template;

use super::advice::{advice, pieces};
use super::charts::{self, Svg, TypeRow};
use super::examples::Example;
use super::format::{self, count, duration, int, share, time};
use super::outcomes::{ordered, Shown};
use super::tables::{self, Compare, PlanView};
use crate::codes::Code;
use crate::config::RunMode;
use crate::logging::mask_text;
use crate::record::latency::LatencyFigures;
use crate::record::summary::{Summary, ThisRun};
use crate::record::timeline::Timeline;

/// The whole page.
#[derive(Template)]
#[template(path = "report.html")]
pub(crate) struct Page {
    pub(crate) title: String,
    pub(crate) kind: String,
    /// The input's file name and the day the run started.
    pub(crate) subtitle: String,
    /// A refusal: no rows to show, only why.
    pub(crate) is_refusal: bool,
    pub(crate) verdict: Verdict,
    pub(crate) facts: Vec<Fact>,
    pub(crate) rows: String,
    pub(crate) tiles: Vec<Tile>,
    pub(crate) compare: Option<Compare>,
    pub(crate) by_type: Option<Svg>,
    pub(crate) legend: Vec<Tile>,
    pub(crate) timeline: Option<TimelineView>,
    pub(crate) latency: Option<LatencyView>,
    pub(crate) codes: Vec<CodeView>,
    pub(crate) plan: Option<PlanView>,
    pub(crate) shards: Vec<Vec<String>>,
    pub(crate) removals: Option<tables::RemovalsView>,
    pub(crate) footer: String,
}

/// The one-line answer at the top, coloured by `class`.
pub(crate) struct Verdict {
    pub(crate) class: &'static str,
    pub(crate) headline: String,
    pub(crate) detail: String,
}

/// One line of the facts under the verdict: the input, the target, the settings.
pub(crate) struct Fact {
    pub(crate) label: &'static str,
    pub(crate) value: String,
    /// Shown in a fixed-width font (hashes, IDs, paths).
    pub(crate) is_code: bool,
}

/// One outcome's figure in the headline, and its share of the stacked bar.
pub(crate) struct Tile {
    /// summary.json's name of the outcome.
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) class: &'static str,
    pub(crate) count: String,
    pub(crate) share: String,
    /// Percent of all rows, for the bar's width.
    pub(crate) width: String,
}

/// The run over time: rows and requests per second, and requests in flight.
pub(crate) struct TimelineView {
    pub(crate) rates: Svg,
    pub(crate) in_flight: Option<Svg>,
    pub(crate) note: String,
}

/// The requests' latency: its percentiles and histogram.
pub(crate) struct LatencyView {
    pub(crate) figures: Vec<(&'static str, String)>,
    pub(crate) histogram: Svg,
    /// Answers the chart leaves out, if any.
    pub(crate) note: Option<String>,
}

/// One error code: its rows, a few of them whole, and what to do about it.
pub(crate) struct CodeView {
    pub(crate) code: String,
    pub(crate) rows: String,
    pub(crate) share: String,
    pub(crate) class: &'static str,
    pub(crate) examples: Vec<Example>,
    /// Lines of the code without an example (results.csv did not say).
    pub(crate) other_lines: String,
    /// How many more rows have the code than are shown.
    pub(crate) more: String,
    pub(crate) advice: Vec<(bool, String)>,
}

/// Rows shown whole per code; the code's other first lines are listed by number.
const EXAMPLES_SHOWN: usize = 3;

fn tiles(counts: &BTreeMap<String, u64>, total: u64) -> Vec<Tile> {
    ordered(counts)
        .into_iter()
        .map(
            |Shown {
                 name,
                 label,
                 class,
                 rows: n,
             }| Tile {
                name,
                label,
                class,
                count: int(n),
                share: share(n, total),
                width: format!("{:.3}", n as f64 * 100.0 / total.max(1) as f64),
            },
        )
        .collect()
}

/// What the report knows beyond the summary.
pub(crate) struct Extras<'a> {
    pub(crate) timeline: Option<&'a Timeline>,
    pub(crate) examples: BTreeMap<String, Vec<Example>>,
    /// A refusal's message: the run sent nothing.
    pub(crate) refusal: Option<&'a str>,
    pub(crate) written_at: String,
}

pub(crate) fn page(summary: &Summary, extras: Extras<'_>) -> Page {
    let kind = kind(summary);
    let file_name = std::path::Path::new(&summary.input.path)
        .file_name()
        .map_or(summary.input.path.clone(), |n| {
            n.to_string_lossy().into_owned()
        });
    let day = time(&summary.started_at)
        .chars()
        .take(10)
        .collect::<String>();
    Page {
        title: format!("mfa-enroll: {kind}, {file_name}, {day}"),
        subtitle: format!("{file_name} · {day}"),
        is_refusal: extras.refusal.is_some(),
        verdict: verdict(summary, extras.refusal),
        facts: facts(summary),
        rows: int(summary.rows),
        tiles: tiles(&summary.outcomes, summary.rows),
        compare: tables::compare(summary),
        by_type: by_type(summary),
        legend: tiles(&summary.outcomes, summary.rows),
        timeline: extras.timeline.and_then(timeline),
        latency: summary.latency.as_ref().map(latency),
        codes: codes(summary, extras.examples),
        plan: tables::plan(summary),
        shards: tables::shards(summary),
        removals: tables::removals(summary),
        footer: format!(
            "Written by mfa-enroll {} at {}, from summary.json, timeline.json and results.csv in this directory.",
            env!("CARGO_PKG_VERSION"),
            time(&extras.written_at)
        ),
        kind,
    }
}

fn latency(figures: &LatencyFigures) -> LatencyView {
    let (histogram, note) = charts::latency(figures);
    LatencyView {
        figures: vec![
            ("p50", format::latency(figures.p50_ms)),
            ("p95", format::latency(figures.p95_ms)),
            ("p99", format::latency(figures.p99_ms)),
            ("mean", format::latency(figures.mean_ms)),
            ("requests", int(figures.requests)),
        ],
        histogram,
        note,
    }
}

fn kind(summary: &Summary) -> String {
    let mode = match summary.mode {
        RunMode::Live => "enrollment",
        RunMode::DryRunOffline => "offline dry run",
        RunMode::DryRunOnline => "online dry run",
    };
    match (summary.shards.len(), summary.shard, summary.resumed_rows) {
        (0, None, 0) => mode.to_string(),
        (0, None, _) => format!("{mode}, resumed"),
        (0, Some(shard), _) => format!("{mode}, shard {}", shard.shard()),
        (n, _, _) => format!("{mode}, {n} shards merged"),
    }
}

fn verdict(summary: &Summary, refusal: Option<&str>) -> Verdict {
    // Every row errors.csv holds has a code (a created row whose MFA is off too).
    let problems: u64 = summary.error_codes.values().map(|rows| rows.rows).sum();
    let (class, headline, detail) = match (refusal, &summary.stopped_early, summary.exit_code) {
        (Some(message), _, _) => ("refused", "Refused: nothing was sent".to_string(), message.to_string()),
        (None, Some(stopped), _) => (
            "stopped",
            format!("Stopped early ({})", stopped.code),
            format!("{}. Run the same command with --resume to continue.", stopped.reason),
        ),
        (None, None, None) => ("stopped", "Not finished".to_string(), "This run is still going, or it was killed: run it again with --resume.".to_string()),
        (None, None, Some(0)) => ("ok", match summary.mode {
            RunMode::Live => "Every row created or skipped",
            RunMode::DryRunOffline => "Every row is valid",
            RunMode::DryRunOnline => "Every row would be created or skipped",
        }.to_string(), "Exit code 0.".to_string()),
        (None, None, Some(code)) => (
            "problems",
            format!("{} rows need attention", int(problems)),
            format!("Exit code {code}: some rows are invalid or failed. errors.csv lists them and feeds back as an input once fixed; what to do about each code is below."),
        ),
    };
    Verdict {
        class,
        headline,
        detail,
    }
}

impl Fact {
    fn text(label: &'static str, value: String) -> Fact {
        Fact {
            label,
            value,
            is_code: false,
        }
    }

    fn code(label: &'static str, value: String) -> Fact {
        Fact {
            label,
            value,
            is_code: true,
        }
    }
}

/// What ran, against what, and when; then what it did.
fn facts(summary: &Summary) -> Vec<Fact> {
    let target = summary
        .target
        .as_ref()
        .map_or("not recorded".into(), ToString::to_string);
    let mut facts = vec![
        Fact::text("Target", target),
        Fact::code("Input", summary.input.path.clone()),
    ];
    if let Some(sha256) = &summary.input.sha256 {
        facts.push(Fact::code("SHA-256", sha256.clone()));
    }
    if summary.resumed_rows > 0 && summary.first_started_at != summary.started_at {
        let first = time(&summary.first_started_at);
        facts.push(Fact::text("First run started", first));
    }
    facts.push(Fact::text("Started", time(&summary.started_at)));
    if let Some(finished_at) = &summary.finished_at {
        facts.push(Fact::text("Ended", time(finished_at)));
    }
    facts.push(Fact::text("Duration", duration(summary.duration_s)));
    facts.extend(work_facts(summary));
    facts
}

/// The pace, the requests, the settings and how the run ended.
fn work_facts(summary: &Summary) -> Vec<Fact> {
    let mut facts = Vec::new();
    let rows_per_s = summary.throughput_rows_per_s;
    match &summary.this_run {
        Some(this_run) => facts.push(Fact::text("Rows done", pace(this_run, rows_per_s))),
        None if rows_per_s > 0.0 => facts.push(Fact::text(
            "Pace",
            format!(
                "{} rows/s, over the longest shard's time",
                count(rows_per_s)
            ),
        )),
        None => {}
    }
    let r = &summary.requests;
    if r.total + r.tokens > 0 {
        facts.push(Fact::text(
            "Requests",
            format!(
                "{} ({} GET, {} POST, {} PUT), {} retries, {} answered 429; {} for tokens",
                int(r.total),
                int(r.get),
                int(r.post),
                int(r.put),
                int(r.retries),
                int(r.throttled_429),
                int(r.tokens)
            ),
        ));
    }
    let u = &summary.users_mfa;
    if u.any() {
        facts.push(Fact::text(
            "Users' MFA",
            format!(
                "{} switched on by this run, {} found on, {} left off",
                int(u.switched_on),
                int(u.found_on),
                int(u.left_off)
            ),
        ));
    }
    facts.extend(account_facts(summary));
    let s = &summary.settings;
    let on_existing = format!("{:?}", s.on_existing).to_lowercase();
    facts.push(Fact::text(
        "Settings",
        format!(
            "rate {}/s, concurrency {}, max_retries {}, on_existing {on_existing}",
            s.rate, s.concurrency, s.max_retries
        ),
    ));
    let exit = summary
        .exit_code
        .map_or("none (not finished)".to_string(), |c| c.to_string());
    facts.push(Fact::text("Exit code", exit));
    if let Some(stopped) = &summary.stopped_early {
        let why = format!("{}: {}", stopped.code, stopped.reason);
        facts.push(Fact::text("Stopped because", why));
    }
    facts
}

/// What the run learned of users' accounts: users found late, rows of inactive users.
fn account_facts(summary: &Summary) -> Vec<Fact> {
    let mut facts = Vec::new();
    if summary.users_late > 0 {
        facts.push(Fact::text(
            "Users found late",
            format!(
                "{} PingOne did not know at first, found on asking again (user_not_found_grace_s)",
                int(summary.users_late)
            ),
        ));
    }
    let inactive = &summary.rows_of_inactive_users;
    if inactive.any() {
        facts.push(Fact::text(
            "Rows of inactive users",
            format!(
                "{} of disabled users, {} of locked users: their devices are created, and work once the account is enabled",
                int(inactive.disabled),
                int(inactive.locked)
            ),
        ));
    }
    facts
}

fn pace(this_run: &ThisRun, rows_per_s: f64) -> String {
    format!(
        "{} in {} of sending: {} rows/s",
        int(this_run.rows_done),
        duration(this_run.sending_s),
        count(rows_per_s)
    )
}

fn by_type(summary: &Summary) -> Option<Svg> {
    if summary.by_type.is_empty() {
        return None;
    }
    let mut rows: Vec<TypeRow> = summary
        .by_type
        .iter()
        .map(|(name, outcomes)| TypeRow {
            name: name.clone(),
            parts: ordered(outcomes)
                .into_iter()
                .map(|shown| (shown.label, shown.class, shown.rows))
                .collect(),
        })
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.parts.iter().map(|p| p.2).sum::<u64>()));
    Some(charts::by_type(&rows))
}

fn timeline(timeline: &Timeline) -> Option<TimelineView> {
    let (rates, in_flight_chart) = charts::timeline(timeline)?;
    let peak = (0..timeline.len())
        .map(|i| timeline.rows[i] as f64 / timeline.span_of(i))
        .fold(0.0, f64::max);
    let throttled: u64 = timeline.throttled_429.iter().sum();
    let in_flight = timeline.in_flight.iter().copied().fold(0.0, f64::max);
    let per = match timeline.span_s {
        1 => "per second".to_string(),
        span => format!("averaged over {}", duration(span as f64)),
    };
    Some(TimelineView {
        rates,
        in_flight: in_flight_chart,
        note: format!(
            "Each step is {per}. Peak: {} rows/s. Answers of 429: {}. Requests in flight: at most {} on average.",
            count(peak),
            int(throttled),
            if in_flight < 10.0 { format!("{in_flight:.2}") } else { count(in_flight) }
        ),
    })
}

fn codes(summary: &Summary, mut examples: BTreeMap<String, Vec<Example>>) -> Vec<CodeView> {
    let mut codes: Vec<CodeView> = summary
        .error_codes
        .iter()
        .map(|(code, rows)| {
            let parsed = Code::parse(code).unwrap_or(Code::PingOne(code.clone()));
            let mut shown = examples.remove(code).unwrap_or_default();
            shown.truncate(EXAMPLES_SHOWN);
            let mut previous = String::new();
            for example in &mut shown {
                // A username may be an email (masked as in the logs); an ID is shown whole.
                if example.user.contains('@') {
                    example.user = mask_text(&example.user);
                }
                let message = mask_text(&example.message);
                // The same message again says nothing new.
                example.message = if message == previous {
                    String::new()
                } else {
                    message.clone()
                };
                previous = message;
            }
            let other_lines: Vec<String> = rows
                .first_lines
                .iter()
                .filter(|line| !shown.iter().any(|e| e.line == **line))
                .map(u64::to_string)
                .collect();
            let listed = rows.first_lines.len() as u64;
            CodeView {
                class: if parsed == Code::NotAttempted {
                    "idle"
                } else {
                    "failed"
                },
                code: code.clone(),
                rows: int(rows.rows),
                share: share(rows.rows, summary.rows),
                examples: shown,
                other_lines: other_lines.join(", "),
                more: if rows.rows > listed {
                    int(rows.rows - listed)
                } else {
                    String::new()
                },
                advice: pieces(advice(&parsed)),
            }
        })
        .collect();
    codes
        .sort_by_key(|c| std::cmp::Reverse(summary.error_codes.get(&c.code).map_or(0, |r| r.rows)));
    codes
}
