//! The bench's cases for what a run leaves for its report: how large timeline.json grows
//! for a day-long run, and what putting results.csv in line order costs (an ordered file is
//! only checked; a disordered one is sorted in bounded memory). Both run in the bench's own
//! process, on the library's functions.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::{Figure, Sizes};

/// timeline.json after an hour and after a day of per-second points.
pub fn timeline_size() -> Vec<Figure> {
    let hour = mfa_enroll::record::timeline::json_bytes_after(3600);
    let day = mfa_enroll::record::timeline::json_bytes_after(86_400);
    vec![
        Figure::bound(
            "timeline.json after an hour's run",
            hour as f64 / 1024.0,
            "KB",
        ),
        Figure::at_most(
            "timeline.json after a day's run (one point a minute)",
            day as f64 / 1024.0,
            "KB",
            64.0,
        ),
    ]
}

/// A results.csv of `rows` rows as a run with concurrency leaves it: rows a little out of
/// order everywhere (each block of 64 reversed), and a tenth of them appended at the end as
/// a resume appends the rows it redid.
fn write_disordered(path: &Path, rows: u64) {
    let file = std::fs::File::create(path).expect("create results.csv");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "line,user_id,username,type,destination,outcome,device_id,device_status,http_status,attempts,error_code,error_message,original_line").unwrap();
    let row = |out: &mut std::io::BufWriter<std::fs::File>, line: u64| {
        writeln!(
            out,
            "{line},00000000-0000-4000-8000-{line:012},,SMS,+1512555{:04},created,7e0a7d3c-0000-4000-8000-{line:012},ACTIVE,201,1,,,{line}",
            line % 10_000
        )
        .unwrap();
    };
    let redone = |line: u64| line % 10 == 3;
    let first = 2u64;
    let mut start = first;
    while start < first + rows {
        let end = (start + 64).min(first + rows);
        for line in (start..end).rev().filter(|l| !redone(*l)) {
            row(&mut out, line);
        }
        start = end;
    }
    for line in (first..first + rows).filter(|l| redone(*l)) {
        row(&mut out, line);
    }
    out.flush().unwrap();
}

fn memory_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Rows per second checked (in order already) and sorted (disordered), and how much the
/// sort's peak memory rose over the process's resident memory before it.
pub async fn line_order(work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let rows = sizes.dry_run_rows as u64;
    let path = work.join("order-results.csv");
    write_disordered(&path, rows);
    let sorting = path.clone();
    let (sort_s, peak_rise_kb) = tokio::task::spawn_blocking(move || {
        // Resets the peak to the current size, so the peak after is the sort's own.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = memory_kb("VmRSS:").unwrap_or(0);
        let started = Instant::now();
        let done = mfa_enroll::record::line_order::put_in_line_order(&sorting).expect("sorted");
        let took = started.elapsed().as_secs_f64();
        assert!(matches!(
            done,
            mfa_enroll::record::line_order::Reordered::Sorted { .. }
        ));
        let peak = memory_kb("VmHWM:").unwrap_or(0);
        (
            took,
            if reset {
                peak.saturating_sub(before)
            } else {
                peak
            },
        )
    })
    .await
    .expect("the sort");
    let checking = path.clone();
    let check_s = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let done = mfa_enroll::record::line_order::put_in_line_order(&checking).expect("checked");
        assert_eq!(
            done,
            mfa_enroll::record::line_order::Reordered::AlreadyInOrder
        );
        started.elapsed().as_secs_f64()
    })
    .await
    .expect("the check");
    let _ = std::fs::remove_file(&path);
    let label = |what: &str| format!("results.csv in line order, {rows} rows: {what}");
    vec![
        Figure::bound(
            &label("checked, already in order"),
            rows as f64 / check_s,
            "rows/s",
        ),
        Figure::bound(
            &label("sorted (blocks out of order, a tenth appended)"),
            rows as f64 / sort_s,
            "rows/s",
        ),
        Figure::at_most(
            &label("memory the sort added"),
            peak_rise_kb as f64 / 1024.0,
            "MB peak RSS",
            64.0,
        ),
    ]
}
