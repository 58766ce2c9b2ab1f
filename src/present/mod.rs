//! What people see of a run: report.html (`report/`), the progress display while it runs
//! (`progress.rs`, its estimate of the time left in `eta.rs`), the metrics file for schedulers (`metrics.rs`), and the text printed when
//! a run or a merge ends (`describe.rs`).
//!
//! Everything here reads the record (`crate::record`: summary.json, timeline.json,
//! results.csv, the writer's counters) and writes nothing the record depends on; the record
//! never imports this module, so what is shown can change without touching what is kept.

pub mod describe;
mod eta;
pub mod metrics;
pub(crate) mod progress;
pub mod report;
