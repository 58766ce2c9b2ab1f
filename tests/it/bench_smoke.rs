//! CI keeps the benchmark working: every case runs on a small size against the debug build.
//! Figures are printed, never asserted: speed is judged by `cargo bench`, not by tests.

use mfa_enroll_test_support::{bench, bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_runs_every_case_on_a_small_size() {
    let work = tempfile::tempdir().unwrap();
    // The build stands in for its own baseline, so the comparing cases' every figure shows.
    let sizes = bench::Sizes {
        baseline_bin: Some(bin().to_path_buf()),
        ..bench::Sizes::smoke()
    };
    let figures = bench::run_all(bin(), work.path(), &sizes).await;
    bench::print_table(&figures);
    // Python's csv module is a yardstick where python3 exists; every other figure always is.
    let always = figures
        .iter()
        .filter(|f| !f.case.contains("Python"))
        .count();
    assert_eq!(always, 101, "every case reports its figures");
    assert!(figures.iter().all(|f| f.measured.is_finite()));
}
