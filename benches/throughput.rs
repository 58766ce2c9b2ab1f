//! `cargo bench --bench throughput [-- --quick] [-- --case NAME] [-- --bin PATH]
//! [-- --baseline-bin PATH]`: runs every case of the benchmark (crates/test-support/src/bench/)
//! on the release build and prints each figure beside its target. `--quick` runs the small
//! sizes CI uses.

use mfa_enroll_test_support::bench;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut sizes = if quick {
        bench::Sizes::smoke()
    } else {
        bench::Sizes::full()
    };
    let work = tempfile::tempdir().expect("scratch directory");
    // `--bin PATH` measures another build of mfa-enroll (an earlier commit, say) with the
    // same cases, for a baseline of the code itself on the same machine and day.
    let args: Vec<String> = std::env::args().collect();
    let other_bin = args
        .iter()
        .position(|a| a == "--bin")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    // `--baseline-bin PATH`: a previous build the comparing cases (rate-bound) run beside
    // this one, on the same input in the same bench run.
    sizes.baseline_bin = args
        .iter()
        .position(|a| a == "--baseline-bin")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let bin = other_bin
        .as_deref()
        .unwrap_or(std::path::Path::new(env!("CARGO_BIN_EXE_mfa-enroll")));
    eprintln!("benchmark: {sizes:?}, binary {}", bin.display());
    // `--case NAME` runs one case (the names are in `bench::run_one`).
    let only = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1).cloned());
    let figures = match only.as_deref() {
        None => bench::run_all(bin, work.path(), &sizes).await,
        Some(name) => bench::run_one(name, bin, work.path(), &sizes).await,
    };
    bench::print_table(&figures);
    if quick {
        println!(
            "\n--quick: small sizes check that every case runs; start-up dominates them, so the \
             targets hold only for the full sizes"
        );
    }
}
