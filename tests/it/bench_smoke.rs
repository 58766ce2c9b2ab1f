//! CI keeps the benchmark working: every case runs on a small size against the debug build.
//! Figures are printed, never asserted: speed is judged by `cargo bench`, not by tests.

use crate::common::cases;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_runs_every_case_on_a_small_size() {
    let work = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mfa-enroll"));
    let figures = cases::run_all(bin, work.path(), &cases::Sizes::smoke()).await;
    cases::print_table(&figures);
    // Python's csv module is a yardstick where python3 exists; every other figure always is.
    let always = figures
        .iter()
        .filter(|f| !f.case.contains("Python"))
        .count();
    assert_eq!(always, 73, "every case reports its figures");
    assert!(figures.iter().all(|f| f.measured.is_finite()));
}
