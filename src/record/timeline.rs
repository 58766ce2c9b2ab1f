//! The run over time, for the report: rows done, requests sent, answers of 429 and the
//! average requests in flight, per point of the run. A task samples the counters the results
//! writer and the API client keep once a second (it reads them, it never drives the work).
//!
//! Bounded for a run of any length: a point covers one second until the run has
//! [`MAX_POINTS`] of them, then neighbouring points are merged into points of 5 s, 10 s, 30 s,
//! a minute (a day-long run keeps one point a minute), 5 minutes and so on. Saved beside
//! summary.json as timeline.json, columns of numbers; a resumed run's file holds that run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::writer::write_whole;
use super::LiveCounters;
use super::OutputError;
use crate::pingone::RequestStats;

pub(crate) const TIMELINE_FILE: &str = "timeline.json";
/// Points kept at most: a day at one point a minute.
pub(crate) const MAX_POINTS: usize = 1440;
/// The span of a point, in seconds, as a run grows; each a multiple of the one before.
/// Past the last, the span doubles.
const SPANS_S: [u64; 9] = [1, 5, 10, 30, 60, 300, 600, 1800, 3600];

/// What happened in one span of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Point {
    pub(crate) rows: u64,
    pub(crate) requests: u64,
    pub(crate) throttled: u64,
    /// Seconds that requests spent in flight during the span.
    pub(crate) busy_s: f64,
}

impl Point {
    fn add(&mut self, other: &Point) {
        self.rows += other.rows;
        self.requests += other.requests;
        self.throttled += other.throttled;
        self.busy_s += other.busy_s;
    }
}

/// The series as timeline.json holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Timeline {
    /// When the first point starts (the run's start of sending).
    pub(crate) started_at: String,
    /// Seconds each point covers; the last point may cover less (`duration_s` says).
    pub(crate) span_s: u64,
    pub(crate) duration_s: f64,
    pub(crate) rows: Vec<u64>,
    pub(crate) requests: Vec<u64>,
    pub(crate) throttled_429: Vec<u64>,
    /// Average requests in flight over each point's span.
    pub(crate) in_flight: Vec<f64>,
}

impl Timeline {
    fn new(started_at: String) -> Timeline {
        Timeline {
            started_at,
            span_s: SPANS_S[0],
            ..Timeline::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn point(&self, index: usize) -> Point {
        let span = self.span_of(index);
        Point {
            rows: self.rows.get(index).copied().unwrap_or(0),
            requests: self.requests.get(index).copied().unwrap_or(0),
            throttled: self.throttled_429.get(index).copied().unwrap_or(0),
            busy_s: self.in_flight.get(index).copied().unwrap_or(0.0) * span,
        }
    }

    /// Seconds the point covers: its span, or what is left of the run for the last one
    /// (which may be up to half a span more, see [`Recording::finish`]).
    pub(crate) fn span_of(&self, index: usize) -> f64 {
        let span = self.span_s as f64;
        if index + 1 == self.len() {
            (self.duration_s - span * index as f64).max(0.001)
        } else {
            span
        }
    }

    fn push(&mut self, point: Point, seconds: f64) {
        self.rows.push(point.rows);
        self.requests.push(point.requests);
        self.throttled_429.push(point.throttled);
        let average = point.busy_s / seconds.max(0.001);
        self.in_flight.push((average * 100.0).round() / 100.0);
    }

    /// Merges neighbouring points into points of the next span; a last group that does not
    /// fill a whole new point is handed back, to be completed by the points that follow.
    fn coarsen(&mut self) -> (Point, u64) {
        let wider = wider_span(self.span_s);
        let factor = (wider / self.span_s) as usize;
        let old = std::mem::replace(self, Timeline::new(self.started_at.clone()));
        self.span_s = wider;
        self.duration_s = old.duration_s;
        let whole = old.len() / factor;
        for group in 0..whole {
            let mut merged = Point::default();
            for index in group * factor..(group + 1) * factor {
                merged.add(&old.point(index));
            }
            self.push(merged, wider as f64);
        }
        let mut rest = Point::default();
        for index in whole * factor..old.len() {
            rest.add(&old.point(index));
        }
        (rest, ((old.len() - whole * factor) as u64) * old.span_s)
    }

    pub(crate) fn write(&self, out_dir: &Path) -> Result<(), OutputError> {
        let path = out_dir.join(TIMELINE_FILE);
        let text = serde_json::to_string(self)
            .map_err(|e| OutputError::io(&path, std::io::Error::other(e)))?;
        write_whole(&path, text.as_bytes())
    }

    /// The timeline a finished run left, if any (runs before this file existed left none).
    pub(crate) fn read(out_dir: &Path) -> Option<Timeline> {
        let path = out_dir.join(TIMELINE_FILE);
        let text =
            crate::bounded::read_own_to_string(&path, crate::bounded::OWN_FILE_CEILING).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The span after `span`: the next of [`SPANS_S`], or double.
fn wider_span(span: u64) -> u64 {
    SPANS_S
        .iter()
        .copied()
        .find(|wider| *wider > span)
        .unwrap_or(span * 2)
}

/// Shards that ran side by side, as one timeline on the wall clock: each shard's point lands
/// in the merged point its start falls in, and rows, requests, 429s and time in flight add
/// up. `None` when no shard left a timeline.
pub(crate) fn combine(all: &[Timeline]) -> Option<Timeline> {
    let placed: Vec<(std::time::SystemTime, &Timeline)> = all
        .iter()
        .filter_map(|t| Some((humantime::parse_rfc3339_weak(&t.started_at).ok()?, t)))
        .collect();
    let first = placed.iter().map(|(start, _)| *start).min()?;
    let offset = |start: std::time::SystemTime| {
        start
            .duration_since(first)
            .unwrap_or_default()
            .as_secs_f64()
    };
    let total_s = placed
        .iter()
        .map(|(start, t)| offset(*start) + t.duration_s)
        .fold(0.0, f64::max);
    let mut span = placed
        .iter()
        .map(|(_, t)| t.span_s)
        .max()
        .unwrap_or(1)
        .max(1);
    while total_s / span as f64 > MAX_POINTS as f64 {
        span = wider_span(span);
    }
    // As many points as the last shard point's start needs: the last merged point runs to
    // the end, as a single run's last point may.
    let last_start = placed
        .iter()
        .map(|(start, t)| offset(*start) + (t.len().saturating_sub(1) as u64 * t.span_s) as f64)
        .fold(0.0, f64::max);
    let count = (last_start / span as f64) as usize + 1;
    let mut points = vec![Point::default(); count];
    for (start, timeline) in &placed {
        for index in 0..timeline.len() {
            let at = offset(*start) + (index as u64 * timeline.span_s) as f64;
            let slot = ((at / span as f64) as usize).min(count - 1);
            points[slot].add(&timeline.point(index));
        }
    }
    let mut merged = Timeline::new(humantime::format_rfc3339_millis(first).to_string());
    merged.span_s = span;
    merged.duration_s = (total_s * 1000.0).round() / 1000.0;
    for (index, point) in points.into_iter().enumerate() {
        let seconds = if index + 1 == count {
            (total_s - (index as u64 * span) as f64).max(0.001)
        } else {
            span as f64
        };
        merged.push(point, seconds);
    }
    Some(merged)
}

/// The size of timeline.json after a run of `seconds` that was busy every second (a few
/// hundred rows and requests, some 429s, several requests in flight), for the bench: what
/// a day-long run leaves.
pub fn json_bytes_after(seconds: u64) -> usize {
    let mut recording = Recording::new(super::summary::now_rfc3339());
    for second in 0..seconds {
        recording.add_second(Point {
            rows: 180 + second % 41,
            requests: 360 + second % 83,
            throttled: u64::from(second % 97 == 0),
            busy_s: 6.0 + (second % 29) as f64 / 7.0,
        });
    }
    let timeline = recording.finish(Point::default(), 0.0);
    serde_json::to_string(&timeline).map_or(0, |text| text.len())
}

/// Builds a timeline second by second.
#[derive(Debug)]
pub(crate) struct Recording {
    timeline: Timeline,
    /// Seconds gathered towards the next point, and what happened in them.
    pending: Point,
    pending_s: u64,
}

impl Recording {
    pub(crate) fn new(started_at: String) -> Recording {
        Recording {
            timeline: Timeline::new(started_at),
            pending: Point::default(),
            pending_s: 0,
        }
    }

    /// Adds one second of the run.
    pub(crate) fn add_second(&mut self, second: Point) {
        self.pending.add(&second);
        self.pending_s += 1;
        self.timeline.duration_s += 1.0;
        if self.pending_s < self.timeline.span_s {
            return;
        }
        let span = self.timeline.span_s as f64;
        self.timeline.push(std::mem::take(&mut self.pending), span);
        self.pending_s = 0;
        if self.timeline.len() > MAX_POINTS {
            (self.pending, self.pending_s) = self.timeline.coarsen();
        }
    }

    /// The timeline, with the last part of a second (and any unfinished point) as its last
    /// point; a sliver of less than half a span joins the point before it instead, so that
    /// a few rows in a few milliseconds do not read as a burst of thousands a second.
    pub(crate) fn finish(mut self, last: Point, last_s: f64) -> Timeline {
        self.pending.add(&last);
        let seconds = self.pending_s as f64 + last_s;
        let span = self.timeline.span_s as f64;
        self.timeline.duration_s += last_s;
        let timeline = &mut self.timeline;
        match timeline.len().checked_sub(1) {
            Some(index) if seconds < span / 2.0 => {
                let busy_s = timeline.in_flight[index] * span + self.pending.busy_s;
                timeline.rows[index] += self.pending.rows;
                timeline.requests[index] += self.pending.requests;
                timeline.throttled_429[index] += self.pending.throttled;
                let average = busy_s / (span + seconds);
                timeline.in_flight[index] = (average * 100.0).round() / 100.0;
            }
            _ if seconds > 0.0 => timeline.push(self.pending, seconds),
            _ => {}
        }
        timeline.duration_s = (timeline.duration_s * 1000.0).round() / 1000.0;
        self.timeline
    }
}

/// The counters a sample reads, as totals so far.
struct Totals {
    rows: u64,
    requests: u64,
    throttled: u64,
    busy_s: f64,
}

impl Totals {
    fn read(counters: &LiveCounters, stats: &RequestStats) -> Totals {
        Totals {
            rows: counters.done_rows(),
            requests: RequestStats::get(&stats.requests),
            throttled: RequestStats::get(&stats.throttled),
            busy_s: stats.latency.busy_seconds(),
        }
    }

    fn since(&self, before: &Totals) -> Point {
        Point {
            rows: self.rows.saturating_sub(before.rows),
            requests: self.requests.saturating_sub(before.requests),
            throttled: self.throttled.saturating_sub(before.throttled),
            busy_s: (self.busy_s - before.busy_s).max(0.0),
        }
    }
}

/// The task that samples the counters once a second.
pub(crate) struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Timeline>,
}

impl Sampler {
    pub(crate) fn start(
        counters: Arc<LiveCounters>,
        stats: Arc<RequestStats>,
        started_at: String,
    ) -> Sampler {
        let (stop, mut stopped) = watch::channel(false);
        // Counted from the call, not from when the task first runs: a request sent in
        // between is the timeline's too.
        let mut before = Totals::read(&counters, &stats);
        let task = tokio::spawn(async move {
            let mut recording = Recording::new(started_at);
            let mut last_tick = Instant::now();
            // A late tick is made up at once (the default), so every second gets its point.
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + Duration::from_secs(1),
                Duration::from_secs(1),
            );
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        let now = Totals::read(&counters, &stats);
                        recording.add_second(now.since(&before));
                        (before, last_tick) = (now, Instant::now());
                    }
                    _ = stopped.changed() => break,
                }
            }
            let now = Totals::read(&counters, &stats);
            let last_s = last_tick.elapsed().as_secs_f64().min(1.0);
            recording.finish(now.since(&before), last_s)
        });
        Sampler { stop, task }
    }

    /// Stops sampling; the timeline up to now.
    pub(crate) async fn finish(self) -> Option<Timeline> {
        let _ = self.stop.send(true);
        self.task.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(rows: u64) -> Point {
        Point {
            rows,
            requests: rows * 2,
            throttled: 0,
            busy_s: 0.5,
        }
    }

    #[test]
    fn a_short_run_keeps_every_second() {
        let mut recording = Recording::new("t".into());
        for rows in [3, 4, 5] {
            recording.add_second(second(rows));
        }
        let timeline = recording.finish(second(1), 0.75);
        assert_eq!(timeline.span_s, 1);
        assert_eq!(timeline.rows, vec![3, 4, 5, 1]);
        assert_eq!(timeline.in_flight, vec![0.5, 0.5, 0.5, 0.67]);
        assert_eq!(timeline.duration_s, 3.75);
        assert_eq!(timeline.span_of(3), 0.75);
    }

    #[test]
    fn a_last_sliver_joins_the_point_before_it() {
        let mut recording = Recording::new("t".into());
        recording.add_second(second(3));
        let timeline = recording.finish(second(2), 0.25);
        assert_eq!(timeline.rows, vec![5]);
        assert_eq!(timeline.span_of(0), 1.25);
        assert_eq!(timeline.in_flight, vec![0.8]);
    }

    #[test]
    fn a_day_keeps_one_point_a_minute_and_every_row() {
        let mut recording = Recording::new("t".into());
        let day = 24 * 3600;
        for _ in 0..day {
            recording.add_second(second(2));
        }
        let timeline = recording.finish(Point::default(), 0.0);
        assert_eq!(timeline.span_s, 60);
        assert_eq!(timeline.len(), MAX_POINTS);
        assert_eq!(timeline.rows.iter().sum::<u64>(), 2 * day);
        assert!(timeline.rows.iter().all(|rows| *rows == 120));
        assert!(timeline.in_flight.iter().all(|n| *n == 0.5));
        let bytes = serde_json::to_string(&timeline).unwrap().len();
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }

    #[test]
    fn shards_side_by_side_add_up_on_the_wall_clock() {
        let shard = |started_at: &str, rows: Vec<u64>| Timeline {
            started_at: started_at.into(),
            span_s: 1,
            duration_s: rows.len() as f64,
            requests: rows.clone(),
            throttled_429: vec![0; rows.len()],
            in_flight: vec![1.0; rows.len()],
            rows,
        };
        let merged = combine(&[
            shard("2026-11-30T10:00:00Z", vec![5, 5, 5]),
            shard("2026-11-30T10:00:01Z", vec![7, 7, 7]),
        ])
        .unwrap();
        assert_eq!(merged.started_at, "2026-11-30T10:00:00.000Z");
        assert_eq!(merged.duration_s, 4.0);
        assert_eq!(merged.rows, vec![5, 12, 12, 7]);
        assert_eq!(merged.in_flight, vec![1.0, 2.0, 2.0, 1.0]);
    }

    #[test]
    fn coarsening_keeps_every_count_whatever_the_length() {
        for seconds in [1439, 1440, 1441, 1447, 7213, 7300] {
            let mut recording = Recording::new("t".into());
            for s in 0..seconds {
                recording.add_second(second(s % 7));
            }
            let timeline = recording.finish(second(3), 0.5);
            let expected: u64 = (0..seconds).map(|s| s % 7).sum::<u64>() + 3;
            assert_eq!(timeline.rows.iter().sum::<u64>(), expected, "{seconds} s");
            assert!(timeline.len() <= MAX_POINTS + 1, "{seconds} s");
            assert_eq!(timeline.duration_s, seconds as f64 + 0.5);
        }
    }
}
