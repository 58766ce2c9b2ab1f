//! `--metrics-file`: the run's figures in Prometheus' text format, for node_exporter's
//! textfile collector, so a scheduler can watch nightly runs. Written whole (a temporary file,
//! then a rename) at the end of every run, early stops and refusals included; the last
//! success time carries over from the file a failed run replaces. `verify` and `undo` write
//! the same file with their rows by state or outcome (`write_after`).
//!
//! The metrics file replaces only itself: a path that names a file the run reads or writes
//! (the input, the record in `--out`), a file of the record's names anywhere (an earlier
//! run's), or an existing file that is not mfa-enroll's metrics is refused before anything
//! is sent, and never written, a refused run's figures included.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::files::FileError;
use crate::record::latency::LatencyFigures;
use crate::record::summary::Summary;
use crate::record::OutputError;

const LAST_SUCCESS: &str = "mfa_enroll_last_success_timestamp_seconds";
/// How every metrics file mfa-enroll writes begins.
const OWN_START: &str = "# HELP mfa_enroll_";

/// Why the metrics file may not be written at `--metrics-file`.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("--metrics-file {}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        #[source]
        source: FileError,
    },
    #[error("--metrics-file {}: this is {what}, which this run reads or writes; give the metrics file a path of its own (nothing was sent)", path.display())]
    Used {
        path: std::path::PathBuf,
        what: String,
    },
    #[error("--metrics-file {}: this file holds something other than mfa-enroll's metrics, and writing them would overwrite it; give the metrics file a path of its own (nothing was sent)", path.display())]
    NotMetrics { path: std::path::PathBuf },
}

/// Names the tool gives its own files: never the metrics file's, wherever it is.
const RECORD_NAMES: [&str; 5] = [
    crate::record::RESULTS_FILE,
    crate::record::ERRORS_FILE,
    crate::record::SUMMARY_FILE,
    crate::record::timeline::TIMELINE_FILE,
    super::report::REPORT_FILE,
];

/// Whether the metrics file may be written at `path`, replacing what is there: no link,
/// no name of the record's, and nothing there but a metrics file mfa-enroll wrote (or an
/// empty file).
pub(crate) fn may_replace(path: &Path) -> Result<(), MetricsError> {
    let file_error = |source| MetricsError::File {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if RECORD_NAMES.contains(&name) {
        return Err(MetricsError::Used {
            path: path.to_path_buf(),
            what: format!("named as the record's {name}"),
        });
    }
    let Some(metadata) = crate::files::inspect(path).map_err(file_error)? else {
        return Ok(());
    };
    if metadata.len() == 0 {
        return Ok(());
    }
    let mut start = vec![0u8; OWN_START.len()];
    let read = crate::bounded::open_own(path)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut start));
    match read {
        Ok(()) if start == OWN_START.as_bytes() => Ok(()),
        Ok(()) | Err(_) => Err(MetricsError::NotMetrics {
            path: path.to_path_buf(),
        }),
    }
}

/// [`may_replace`], and not one of `used`: the files the run reads or writes, each with what
/// it is, compared by where they are (their folders resolved) and by file identity.
pub(crate) fn check_path(
    path: &Path,
    used: &[(std::path::PathBuf, &str)],
) -> Result<(), MetricsError> {
    for (other, what) in used {
        if same_file(path, other) {
            return Err(MetricsError::Used {
                path: path.to_path_buf(),
                what: what.to_string(),
            });
        }
    }
    may_replace(path)
}

/// Whether two paths name one file: the same name in the same folder (links in the folders
/// resolved), or the same device and inode.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let place = |p: &Path| {
        let parent = match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let parent = parent
            .canonicalize()
            .or_else(|_| std::path::absolute(parent))
            .unwrap_or_else(|_| parent.to_path_buf());
        parent.join(p.file_name().unwrap_or_default())
    };
    if place(a) == place(b) {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// A gauge per value of one label (`outcome`, `code`, `type`).
type Labelled = Family<Vec<(String, String)>, Gauge>;

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let metric = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    metric.set(value);
    registry.register(name, help, metric);
}

fn seconds(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let metric = Gauge::<f64, AtomicU64>::default();
    metric.set(value);
    registry.register(name, help, metric);
}

fn labelled(registry: &mut Registry, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    let family = Labelled::default();
    for (key, value) in values {
        let labels = vec![(label.to_string(), key.to_string())];
        family.get_or_create(&labels).set(*value as i64);
    }
    registry.register(name, help, family);
}

/// Prometheus' usual latency bounds, in seconds; each is a bound of the run's own finer
/// histogram, so the buckets add up exactly.
const LATENCY_BOUNDS_S: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A finished run's latency as a Prometheus histogram: written once, from summary.json's
/// buckets, so it is encoded from them rather than observed.
#[derive(Debug)]
struct LatencyHistogram {
    sum_s: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl LatencyHistogram {
    fn of(figures: &LatencyFigures) -> LatencyHistogram {
        LatencyHistogram {
            sum_s: figures.sum_s(),
            count: figures.requests,
            buckets: figures.coarse_buckets(&LATENCY_BOUNDS_S),
        }
    }
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum_s, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The last success time the previous file recorded, if any.
fn previous_success(path: &Path) -> Option<f64> {
    let text = crate::bounded::read_own_to_string(path, crate::bounded::OWN_FILE_CEILING).ok()?;
    text.lines()
        .find(|l| l.starts_with(LAST_SUCCESS) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the run did or learned of users: their MFA switches, users found late, rows of
/// inactive users.
fn users(registry: &mut Registry, summary: &Summary) {
    let u = &summary.users_mfa;
    let users_mfa = [
        ("switched_on", u.switched_on),
        ("found_on", u.found_on),
        ("left_off", u.left_off),
    ];
    labelled(
        registry,
        "mfa_enroll_users_mfa",
        "Users by their MFA switch: switched on by this run, found on, left off",
        "state",
        &users_mfa,
    );
    gauge(
        registry,
        "mfa_enroll_users_late",
        "Users PingOne did not know at first and found on asking again",
        summary.users_late as i64,
    );
    let inactive = &summary.rows_of_inactive_users;
    labelled(
        registry,
        "mfa_enroll_rows_of_inactive_users",
        "Rows whose user is disabled or locked (their devices are created all the same)",
        "account",
        &[("disabled", inactive.disabled), ("locked", inactive.locked)],
    );
}

/// The figures of a run that got as far as a summary.
pub(crate) fn write(path: &Path, summary: &Summary, exit_code: i32) -> Result<(), MetricsError> {
    let mut registry = Registry::default();
    let outcomes: Vec<(&str, u64)> = summary
        .outcomes
        .iter()
        .map(|(o, n)| (o.as_str(), *n))
        .collect();
    labelled(
        &mut registry,
        "mfa_enroll_rows",
        "Rows of the input, by outcome (not_attempted: never sent, apart from failed)",
        "outcome",
        &outcomes,
    );
    let codes: Vec<(&str, u64)> = summary
        .error_codes
        .iter()
        .map(|(c, rows)| (c.as_str(), rows.rows))
        .collect();
    labelled(
        &mut registry,
        "mfa_enroll_error_rows",
        "Rows by error code",
        "code",
        &codes,
    );
    let r = &summary.requests;
    let requests = [
        ("get", r.get),
        ("post", r.post),
        ("put", r.put),
        ("delete", r.delete),
        ("token", r.tokens),
    ];
    labelled(
        &mut registry,
        "mfa_enroll_requests",
        "Requests sent, by kind",
        "kind",
        &requests,
    );
    users(&mut registry, summary);
    gauges(&mut registry, summary);
    seconds(
        &mut registry,
        "mfa_enroll_duration_seconds",
        "How long the run took",
        summary.duration_s,
    );
    if let Some(latency) = &summary.latency {
        registry.register(
            "mfa_enroll_request_duration_seconds",
            "How long API requests took to answer (tokens excepted)",
            LatencyHistogram::of(latency),
        );
    }
    finish(registry, path, exit_code)
}

/// Retries and 429s; with `replace`, stale devices removed and those a bad row held (a
/// nightly job alerts on these).
fn gauges(registry: &mut Registry, summary: &Summary) {
    let r = &summary.requests;
    gauge(
        registry,
        "mfa_enroll_retries",
        "Attempts that repeated a failed one",
        r.retries as i64,
    );
    gauge(
        registry,
        "mfa_enroll_throttled",
        "Answers of 429 (rate limited)",
        r.throttled_429 as i64,
    );
    let Some(removals) = &summary.removals else {
        return;
    };
    gauge(
        registry,
        "mfa_enroll_devices_removed",
        "Stale devices this run removed (on_existing = replace; a dry run: would remove)",
        removals.this_run as i64,
    );
    gauge(
        registry,
        "mfa_enroll_removals_held",
        "Stale devices kept because a row of their user and type was invalid or failed",
        removals.held as i64,
    );
}

/// A `verify` or an `undo`: its rows by state or outcome (`label`), and the requests sent,
/// in the same file format as a run's, so one alert rule watches either.
pub(crate) fn write_after(
    path: &Path,
    label: &str,
    counts: &[(&str, u64)],
    requests: &[(&str, u64)],
    exit_code: i32,
) -> Result<(), MetricsError> {
    let mut registry = Registry::default();
    labelled(
        &mut registry,
        "mfa_enroll_rows",
        &format!("Rows of verify.csv or undo.csv, by {label}"),
        label,
        counts,
    );
    labelled(
        &mut registry,
        "mfa_enroll_requests",
        "Requests sent, by kind",
        "kind",
        requests,
    );
    finish(registry, path, exit_code)
}

/// A run refused before it sent anything (exit 2): only the exit code and the times.
pub(crate) fn write_refusal(path: &Path, exit_code: i32) -> Result<(), MetricsError> {
    finish(Registry::default(), path, exit_code)
}

fn finish(mut registry: Registry, path: &Path, exit_code: i32) -> Result<(), MetricsError> {
    may_replace(path)?;
    gauge(
        &mut registry,
        "mfa_enroll_exit_code",
        "The run's exit code (0 all done, 1 row problems, 2 nothing sent, 3 stopped early)",
        i64::from(exit_code),
    );
    let now = now_seconds();
    seconds(
        &mut registry,
        "mfa_enroll_last_run_timestamp_seconds",
        "When the last run ended",
        now,
    );
    let last_success = if exit_code == 0 {
        Some(now)
    } else {
        previous_success(path)
    };
    if let Some(at) = last_success {
        seconds(
            &mut registry,
            LAST_SUCCESS,
            "When a run last ended with exit code 0",
            at,
        );
    }
    let mut text = String::new();
    encode(&mut text, &registry).map_err(|e| OutputError::io(path, std::io::Error::other(e)))?;
    // The text format ends every line with a line feed, the last one too.
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(crate::record::writer::write_whole(path, text.as_bytes())?)
}
