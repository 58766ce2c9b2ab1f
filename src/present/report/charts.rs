//! The report's charts as shapes for an inline SVG: coordinates are computed here, and the
//! template draws them (so every label goes through the template's escaping). Three charts:
//! outcomes per device type (stacked bars), the run over time (steps per point of the
//! timeline), and the latency histogram (one bar per bucket, on a logarithmic axis since the
//! buckets are).

use super::format::{count, duration_label, milliseconds};
use crate::rate::latency::bounds_ms;
use crate::record::latency::LatencyFigures;
use crate::record::timeline::Timeline;

/// Everything one `<svg>` holds, drawn in this order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Svg {
    pub(crate) width: f64,
    pub(crate) height: f64,
    /// What the chart shows, for screen readers.
    pub(crate) label: String,
    pub(crate) grid: Vec<Segment>,
    pub(crate) areas: Vec<Polyline>,
    pub(crate) rects: Vec<Rect>,
    pub(crate) lines: Vec<Polyline>,
    pub(crate) markers: Vec<Segment>,
    pub(crate) texts: Vec<Label>,
}

/// A straight line of a chart (an axis tick, a marker).
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) x1: f64,
    pub(crate) y1: f64,
    pub(crate) x2: f64,
    pub(crate) y2: f64,
    pub(crate) class: &'static str,
}

/// A line or a filled area of a chart, through its points.
#[derive(Debug, Clone)]
pub(crate) struct Polyline {
    /// `x,y x,y …`: numbers only.
    pub(crate) points: String,
    pub(crate) class: &'static str,
}

/// A bar of a chart, with its tooltip.
#[derive(Debug, Clone)]
pub(crate) struct Rect {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) w: f64,
    pub(crate) h: f64,
    pub(crate) class: String,
    /// The tooltip.
    pub(crate) title: String,
}

/// A piece of text on a chart: an axis label, a value.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) text: String,
    pub(crate) class: &'static str,
    /// `start`, `middle` or `end`.
    pub(crate) anchor: &'static str,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Svg {
    fn new(width: f64, height: f64, label: String) -> Svg {
        Svg {
            width,
            height,
            label,
            ..Svg::default()
        }
    }

    fn text(
        &mut self,
        x: f64,
        y: f64,
        text: impl Into<String>,
        class: &'static str,
        anchor: &'static str,
    ) {
        self.texts.push(Label {
            x: round1(x),
            y: round1(y),
            text: text.into(),
            class,
            anchor,
        });
    }

    fn segment(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        class: &'static str,
    ) -> Segment {
        Segment {
            x1: round1(x1),
            y1: round1(y1),
            x2: round1(x2),
            y2: round1(y2),
            class,
        }
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: impl Into<String>, title: String) {
        self.rects.push(Rect {
            x: round1(x),
            y: round1(y),
            w: round1(w.max(0.0)),
            h: round1(h.max(0.0)),
            class: class.into(),
            title,
        });
    }
}

fn points(vertices: &[(f64, f64)]) -> String {
    let mut text = String::with_capacity(vertices.len() * 12);
    for (i, (x, y)) in vertices.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&format!("{},{}", round1(*x), round1(*y)));
    }
    text
}

/// A round upper end for an axis (1, 2 or 5 times a power of ten) and its step.
pub(crate) fn nice_axis(max: f64) -> (f64, f64) {
    if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return (1.0, 0.25);
    }
    let rough_step = max / 4.0;
    let power = 10f64.powf(rough_step.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| s * 4.0 >= max)
        .unwrap_or(10.0 * power);
    (step * (max / step).ceil().max(1.0), step)
}

/// A round step for a time axis of `span_s` seconds: about six ticks.
fn time_step(span_s: f64) -> f64 {
    const STEPS: [f64; 17] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| span_s / step <= 7.0)
        .unwrap_or(86400.0)
}

/// The plot's box inside the chart.
#[derive(Debug, Clone, Copy)]
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Frame {
    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn right(&self) -> f64 {
        self.left + self.width
    }
}

/// Horizontal grid lines with their values on the left.
fn y_grid(svg: &mut Svg, frame: Frame, (max, step): (f64, f64)) {
    // As many decimals as the step needs: steps of 0.25 read 0.25, 0.50, …
    let decimals = (0..4)
        .find(|places| (step * 10f64.powi(*places)).fract().abs() < 1e-6)
        .unwrap_or(4) as usize;
    let mut index = 0.0;
    while index * step <= max + step / 2.0 {
        let value = index * step;
        let y = frame.bottom() - value / max * frame.height;
        let line = svg.segment((frame.left, y), (frame.right(), y), "grid");
        svg.grid.push(line);
        let number = match decimals {
            0 => count(value),
            places => format!("{value:.places$}"),
        };
        svg.text(frame.left - 6.0, y + 4.0, number, "tick", "end");
        index += 1.0;
    }
}

/// The run over time: rows done and requests per second, 429s as red bars; and below it, a
/// second chart of requests in flight. `None` for a run too short to draw.
pub(crate) fn timeline(timeline: &Timeline) -> Option<(Svg, Option<Svg>)> {
    if timeline.len() == 0 || timeline.duration_s <= 0.0 {
        return None;
    }
    let mut rates = Vec::with_capacity(timeline.len());
    let mut start = 0.0;
    for index in 0..timeline.len() {
        let point = timeline.point(index);
        let span = timeline.span_of(index);
        rates.push((
            start,
            start + span,
            point.rows as f64 / span,
            point.requests as f64 / span,
            point.throttled,
            point.busy_s / span,
        ));
        start += span;
    }
    let total_s = start;
    let frame = Frame {
        left: 64.0,
        top: 12.0,
        width: 880.0,
        height: 200.0,
    };
    let x = |t: f64| frame.left + t / total_s * frame.width;
    let peak = rates.iter().map(|r| r.2.max(r.3)).fold(0.0, f64::max);
    let axis = nice_axis(peak);
    let y = |v: f64| frame.bottom() - v / axis.0 * frame.height;
    let mut svg = Svg::new(
        frame.right() + 16.0,
        frame.bottom() + 28.0,
        "Rows done, requests and answers of 429 per second over the run".into(),
    );
    y_grid(&mut svg, frame, axis);
    time_axis(&mut svg, frame, total_s);
    let mut area = vec![(x(0.0), frame.bottom())];
    let mut requests = Vec::new();
    for (from, to, rows, sent, _, _) in &rates {
        area.extend([(x(*from), y(*rows)), (x(*to), y(*rows))]);
        requests.extend([(x(*from), y(*sent)), (x(*to), y(*sent))]);
    }
    area.push((x(total_s), frame.bottom()));
    svg.areas.push(Polyline {
        points: points(&area),
        class: "rows",
    });
    if requests.iter().any(|(_, v)| *v < frame.bottom()) {
        svg.lines.push(Polyline {
            points: points(&requests),
            class: "requests",
        });
    }
    for (from, to, _, _, throttled, _) in &rates {
        if *throttled > 0 {
            let height = (*throttled as f64 / (to - from) / axis.0 * frame.height).max(3.0);
            let title = format!("{} answers of 429", count(*throttled as f64));
            let width = (x(*to) - x(*from)).max(2.0);
            svg.rect(
                x(*from),
                frame.bottom() - height,
                width,
                height,
                "throttled",
                title,
            );
        }
    }
    let in_flight = in_flight_chart(&rates, total_s);
    Some((svg, in_flight))
}

/// One point of the timeline as rates: its start and end (s), rows/s, requests/s, answers of
/// 429, and requests in flight on average.
type Rate = (f64, f64, f64, f64, u64, f64);

/// Below this many requests in flight on average at the busiest point, the chart would
/// show only noise (a run on loopback); the note gives the figure instead.
const IN_FLIGHT_WORTH_A_CHART: f64 = 0.5;

/// Requests in flight on average per point; `None` when too few were ever in flight.
fn in_flight_chart(rates: &[Rate], total_s: f64) -> Option<Svg> {
    let peak = rates.iter().map(|r| r.5).fold(0.0, f64::max);
    if peak < IN_FLIGHT_WORTH_A_CHART {
        return None;
    }
    let frame = Frame {
        left: 64.0,
        top: 10.0,
        width: 880.0,
        height: 90.0,
    };
    let axis = nice_axis(peak);
    let x = |t: f64| frame.left + t / total_s * frame.width;
    let y = |v: f64| frame.bottom() - v / axis.0 * frame.height;
    let mut svg = Svg::new(
        frame.right() + 16.0,
        frame.bottom() + 28.0,
        "Requests in flight (average per point) over the run".into(),
    );
    y_grid(&mut svg, frame, (axis.0, axis.0 / 2.0));
    time_axis(&mut svg, frame, total_s);
    let mut line = vec![(x(0.0), frame.bottom())];
    for (from, to, _, _, _, flying) in rates {
        line.extend([(x(*from), y(*flying)), (x(*to), y(*flying))]);
    }
    line.push((x(total_s), frame.bottom()));
    svg.areas.push(Polyline {
        points: points(&line),
        class: "in-flight",
    });
    Some(svg)
}

fn time_axis(svg: &mut Svg, frame: Frame, total_s: f64) {
    let step = time_step(total_s);
    let mut t = 0.0;
    while t <= total_s + 1e-9 {
        let x = frame.left + t / total_s * frame.width;
        let tick = svg.segment((x, frame.bottom()), (x, frame.bottom() + 4.0), "axis");
        svg.grid.push(tick);
        svg.text(
            x,
            frame.bottom() + 18.0,
            duration_label(t),
            "tick",
            "middle",
        );
        t += step;
    }
    let base = svg.segment(
        (frame.left, frame.bottom()),
        (frame.right(), frame.bottom()),
        "axis",
    );
    svg.grid.push(base);
}

/// One device type's row of the stacked bars: its name and its rows per outcome, each with
/// the CSS class of the outcome.
pub(crate) struct TypeRow {
    pub(crate) name: String,
    pub(crate) parts: Vec<(String, &'static str, u64)>,
}

/// Outcomes per device type, one stacked bar each, the longest type the full width.
pub(crate) fn by_type(rows: &[TypeRow]) -> Svg {
    let label_width = 130.0;
    let bar_width = 720.0;
    let row_height = 34.0;
    let widest = rows
        .iter()
        .map(|r| r.parts.iter().map(|p| p.2).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut svg = Svg::new(
        label_width + bar_width + 90.0,
        rows.len() as f64 * row_height + 8.0,
        "Rows per outcome for each device type".into(),
    );
    for (index, row) in rows.iter().enumerate() {
        let top = index as f64 * row_height + 4.0;
        let name: String = row.name.chars().take(16).collect();
        svg.text(label_width - 10.0, top + 18.0, name, "type", "end");
        let mut left = label_width;
        let total: u64 = row.parts.iter().map(|p| p.2).sum();
        for (outcome, class, rows) in &row.parts {
            let width = *rows as f64 / widest * bar_width;
            let title = format!("{}: {} {outcome}", row.name, count(*rows as f64));
            svg.rect(left, top, width, 24.0, format!("bar {class}"), title);
            if width >= 44.0 {
                svg.text(
                    left + width / 2.0,
                    top + 16.5,
                    count(*rows as f64),
                    "in-bar",
                    "middle",
                );
            }
            left += width;
        }
        svg.text(
            left + 8.0,
            top + 17.0,
            count(total as f64),
            "total",
            "start",
        );
    }
    svg
}

/// The latency histogram: one bar per bucket from the fastest to the slowest answer, and
/// the percentiles marked.
pub(crate) fn latency(figures: &LatencyFigures) -> (Svg, Option<String>) {
    let per_bucket = figures.counts().per_bucket;
    let (first, last) = shown_buckets(&per_bucket);
    let shown = &per_bucket[first..=last];
    let frame = Frame {
        left: 64.0,
        top: 34.0,
        width: 880.0,
        height: 160.0,
    };
    let axis = nice_axis(shown.iter().copied().max().unwrap_or(1) as f64);
    let bar = frame.width / shown.len() as f64;
    let mut svg = Svg::new(
        frame.right() + 16.0,
        frame.bottom() + 30.0,
        "Requests per latency bucket, with p50, p95 and p99 marked".into(),
    );
    y_grid(&mut svg, frame, axis);
    let mut last_label = f64::NEG_INFINITY;
    for (offset, requests) in shown.iter().enumerate() {
        let index = first + offset;
        let left = frame.left + offset as f64 * bar;
        let height = *requests as f64 / axis.0 * frame.height;
        let low = match index {
            0 => "0 ms".to_string(),
            _ => bucket_name(index - 1),
        };
        let title = format!(
            "{} requests from {low} to {}",
            count(*requests as f64),
            bucket_name(index)
        );
        let (top, width) = (frame.bottom() - height, (bar - 2.0).max(1.0));
        svg.rect(left + 1.0, top, width, height, "bar latency", title);
        // Bounds of 1, 2 and 5 times a power of ten are named, if there is room.
        let right = left + bar;
        if is_round_bound(index) && right - last_label >= 56.0 {
            let below = frame.bottom();
            svg.text(right, below + 18.0, bucket_name(index), "tick", "middle");
            let tick = svg.segment((right, below), (right, below + 4.0), "axis");
            svg.grid.push(tick);
            last_label = right;
        }
    }
    let base = svg.segment(
        (frame.left, frame.bottom()),
        (frame.right(), frame.bottom()),
        "axis",
    );
    svg.grid.push(base);
    mark_percentiles(&mut svg, frame, figures, (first, shown.len(), bar));
    let left_out: u64 = per_bucket[..first]
        .iter()
        .chain(&per_bucket[last + 1..])
        .sum();
    let note = (left_out > 0).then(|| {
        format!(
            "{} of the slowest and fastest answers (under {} or over {}) fall outside the chart; the figures above count them.",
            count(left_out as f64),
            bucket_name(first.saturating_sub(1)),
            bucket_name(last)
        )
    });
    (svg, note)
}

/// Dashed lines at p50, p95 and p99 on the histogram whose buckets `first` onwards are
/// drawn, `shown` of them, each `bar` wide.
fn mark_percentiles(
    svg: &mut Svg,
    frame: Frame,
    figures: &LatencyFigures,
    (first, shown, bar): (usize, usize, f64),
) {
    let percentiles = [
        ("p50", figures.p50_ms),
        ("p95", figures.p95_ms),
        ("p99", figures.p99_ms),
    ];
    let mut previous = (f64::NEG_INFINITY, 0.0);
    for (name, ms) in percentiles {
        let position = fractional_bucket(ms) - first as f64;
        let x = frame.left + position.clamp(0.0, shown as f64) * bar;
        let marker = svg.segment((x, frame.top - 4.0), (x, frame.bottom()), "percentile");
        svg.markers.push(marker);
        // Close percentiles stack their names instead of writing over each other.
        let lift = if x - previous.0 < 30.0 {
            previous.1 + 13.0
        } else {
            0.0
        };
        svg.text(
            x,
            frame.top - 8.0 - lift,
            name,
            "percentile-label",
            "middle",
        );
        previous = (x, lift);
    }
}

/// The buckets the chart shows: from the one that holds the fastest 0.1 % to the one that
/// holds the slowest 0.1 %, so a few outliers do not squeeze every bar into a corner, with
/// a few empty buckets either side so that a single bar does not fill the chart.
fn shown_buckets(per_bucket: &[u64]) -> (usize, usize) {
    let total: u64 = per_bucket.iter().sum();
    let mut below = 0u64;
    let (mut first, mut last) = (None, 0);
    for (index, requests) in per_bucket.iter().enumerate() {
        below += requests;
        if *requests > 0 && first.is_none() && below as f64 >= total as f64 * 0.001 {
            first = Some(index);
        }
        if *requests > 0 {
            last = index;
        }
        if below as f64 >= total as f64 * 0.999 && *requests > 0 {
            break;
        }
    }
    let first = first.unwrap_or(0).saturating_sub(3);
    (first, (last + 3).min(per_bucket.len() - 1))
}

/// A bucket by its upper bound: `12 ms`, or `over 120 s` for the last.
fn bucket_name(index: usize) -> String {
    let bounds = bounds_ms();
    match bounds.get(index) {
        Some(ms) => milliseconds(*ms),
        None => format!("over {}", milliseconds(bounds[bounds.len() - 1])),
    }
}

fn is_round_bound(index: usize) -> bool {
    bounds_ms().get(index).is_some_and(|ms| {
        let mantissa = ms / 10f64.powf(ms.log10().floor());
        [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6)
    })
}

/// Where `ms` falls on the histogram's axis, in buckets (2.5 is half-way through bucket 2).
fn fractional_bucket(ms: f64) -> f64 {
    let bounds = bounds_ms();
    let index = bounds.partition_point(|b| *b < ms);
    let low = if index == 0 { 0.0 } else { bounds[index - 1] };
    let Some(high) = bounds.get(index) else {
        return bounds.len() as f64;
    };
    index as f64 + ((ms - low) / (high - low)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::timeline::Timeline;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(198.0), (200.0, 50.0));
        assert_eq!(nice_axis(1234.0), (1500.0, 500.0));
        assert_eq!(time_step(14.0), 2.0);
        assert_eq!(time_step(100.0), 15.0);
        assert_eq!(time_step(86_400.0), 21_600.0);
    }

    #[test]
    fn the_timeline_draws_each_point_and_the_throttled_ones() {
        let timeline = Timeline {
            started_at: "t".into(),
            span_s: 1,
            duration_s: 3.0,
            rows: vec![10, 20, 5],
            requests: vec![20, 40, 10],
            throttled_429: vec![0, 3, 0],
            in_flight: vec![1.0, 2.0, 0.5],
        };
        let (rates, in_flight) = timeline_chart(&timeline);
        assert_eq!(rates.rects.len(), 1, "one point had 429s");
        assert_eq!(rates.rects[0].title, "3 answers of 429");
        assert_eq!(rates.areas[0].points.split(' ').count(), 2 + 2 * 3);
        assert!(in_flight.is_some());
    }

    fn timeline_chart(timeline: &Timeline) -> (Svg, Option<Svg>) {
        super::timeline(timeline).expect("drawn")
    }
}
