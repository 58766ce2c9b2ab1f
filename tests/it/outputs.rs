//! Who may read what a run writes, and what a scheduler reads: results.csv, errors.csv and
//! summary.json are readable by their owner only, in a private directory, also after a resume
//! rewrites them; `--metrics-file` leaves Prometheus text with the exit code, the outcomes and
//! the last success, whatever the run's end.

use std::os::unix::fs::PermissionsExt;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_files_are_readable_by_their_owner_only() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(2));
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--sandbox", "--out", "out"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_private_outputs(&ws.out());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_stay_private_after_a_resume_rewrites_them() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(5));
    let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(first.code, 0, "{}", first.both());
    // Loosen them by hand; the resume's rewrite must not keep or widen that.
    for name in ["results.csv", "errors.csv", "summary.json"] {
        let path = ws.out().join(name);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert_private_outputs(&ws.out());
}

/// Parses Prometheus text: (metric with labels) -> value.
fn metrics(path: &std::path::Path) -> std::collections::HashMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.ends_with('\n'),
        "the text format ends every line, the last too"
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("name value");
            (name.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_tells_a_scheduler_how_each_run_ended() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = sms_rows(3);
    csv.push_str(&format!("{},SMS,not-a-phone\n", user_id(9)));
    ws.write("in.csv", &csv);
    ws.write("good.csv", &sms_rows(2));
    let prom = ws.path("mfa_enroll.prom");
    let prom_arg = prom.to_str().unwrap();
    let good = enroll_to(
        &ws,
        &sandbox,
        "good.csv",
        "good",
        &["--metrics-file", prom_arg],
    )
    .await;
    assert_eq!(good.code, 0, "{}", good.both());
    let first = metrics(&prom);
    assert_eq!(first["mfa_enroll_exit_code"], 0.0);
    let success = first["mfa_enroll_last_success_timestamp_seconds"];
    assert!(success > 1.7e9, "{success}");

    let run = enroll(&ws, &sandbox, "in.csv", &["--metrics-file", prom_arg]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let m = metrics(&prom);
    assert_eq!(m["mfa_enroll_exit_code"], 1.0);
    // The first two users got their devices from good.csv.
    assert_eq!(m["mfa_enroll_rows{outcome=\"created\"}"], 1.0);
    assert_eq!(m["mfa_enroll_rows{outcome=\"skipped_existing\"}"], 2.0);
    assert_eq!(m["mfa_enroll_rows{outcome=\"invalid\"}"], 1.0);
    assert_eq!(m["mfa_enroll_error_rows{code=\"INVALID_PHONE\"}"], 1.0);
    assert_eq!(m["mfa_enroll_requests{kind=\"post\"}"], 1.0);
    assert_eq!(
        m["mfa_enroll_last_success_timestamp_seconds"], success,
        "a run with problems keeps the last success"
    );
    assert!(m.contains_key("mfa_enroll_duration_seconds"));

    // Refused before sending (exit 2): still written, so a scheduler sees it.
    let refused = enroll(&ws, &sandbox, "in.csv", &["--metrics-file", prom_arg]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    let m = metrics(&prom);
    assert_eq!(m["mfa_enroll_exit_code"], 2.0);
    assert_eq!(m["mfa_enroll_last_success_timestamp_seconds"], success);
}

/// Issue #33 item 12: results.csv moved away while the run writes it does not go unnoticed:
/// the run stops (OUTPUT_BROKEN, exit 3) naming the file, before more rows follow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_file_moved_away_mid_run_stops_the_run_naming_it() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 20", "").await;
    ws.write("in.csv", &sms_rows(200));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    wait_for_rows(&ws.out(), 5).await;
    std::fs::rename(ws.out().join("results.csv"), ws.path("moved.csv")).unwrap();
    let run = finish(child).await;
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(
        run.stderr.contains("results.csv: the file was moved"),
        "{}",
        run.stderr
    );
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "OUTPUT_BROKEN",
        "{summary}"
    );
    assert!(
        sandbox.tally().devices_created < 200,
        "the run stopped early"
    );
}
