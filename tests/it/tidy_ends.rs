//! Tidy ends, against the real binary: the lock file goes when a run ends, however it ends
//! (a finished run, an early stop, a refusal, a second Ctrl-C); merge never takes its own
//! locks for another run's, says "(nothing was merged)" once, and prints a resume command
//! that names the shard's real input.

use std::path::Path;
use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

const LOCK: &str = ".mfa-enroll.lock";

fn has_lock(dir: &Path) -> bool {
    dir.join(LOCK).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_file_goes_when_a_run_ends_however_it_ends() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 40\nconcurrency = 4", "").await;
    ws.write("in.csv", &sms_rows(60));

    // Stopped early by Ctrl-C (exit 3), then resumed to the end (exit 0).
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    wait_for_rows(&ws.out(), 5).await;
    assert!(has_lock(&ws.out()), "held while the run works");
    send_signal(&child, "INT");
    assert_eq!(finish(child).await.code, 3);
    assert!(!has_lock(&ws.out()), "gone after an early stop");
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    assert!(!has_lock(&ws.out()), "gone after a finished run");

    // Refused (exit 2): the directory holds a record and --resume is missing.
    let refused = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(!has_lock(&ws.out()), "gone after a refusal");

    // A second Ctrl-C exits at once, and still takes the lock file with it.
    let (slow, ws) = setup(
        SandboxOptions {
            latency: Duration::from_secs(5),
            ..SandboxOptions::default()
        },
        "rate = 100\nconcurrency = 4",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(20));
    let child = spawn_enroll(&ws, &slow, "in.csv");
    for _ in 0..200 {
        if !slow.arrivals().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(has_lock(&ws.out()));
    send_signal(&child, "INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_signal(&child, "INT");
    let stopped = finish(child).await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    assert!(!has_lock(&ws.out()), "gone after a second Ctrl-C");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_messages_name_what_is_wrong_and_never_its_own_locks() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    ws.write("my users.csv", &sms_rows(12));
    for shard in ["0/2", "1/2"] {
        let out = format!("s{}", &shard[..1]);
        let run = enroll_to(&ws, &sandbox, "my users.csv", &out, &["--shard", shard]).await;
        assert_eq!(run.code, 0, "{shard}: {}", run.both());
        assert!(!has_lock(&ws.path(&out)));
    }
    std::os::unix::fs::symlink(ws.path("s0"), ws.path("link-to-s0")).unwrap();
    let merge = |args: &'static [&'static str]| {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        let dir = ws.dir.path().to_path_buf();
        async move { run_binary(&dir, None, &all).await }
    };
    let cases: [(&[&str], &str); 4] = [
        (&["s0", "./s0", "s1", "--out", "m1"], "is given twice"),
        (&["s0", "link-to-s0", "s1", "--out", "m2"], "is given twice"),
        (
            &["s0", "s1", "--out", "s1"],
            "also given as a shard's directory",
        ),
        (
            &["s0", "s1", "--out", "link-to-s0"],
            "also given as a shard's directory",
        ),
    ];
    for (args, says) in cases {
        let refused = merge(args).await;
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.both());
        assert!(
            refused.stderr.contains(says),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(
            !refused.stderr.contains("another mfa-enroll run"),
            "{args:?}: merge's own lock is not another run's: {}",
            refused.stderr
        );
        assert_eq!(
            refused.stderr.matches("nothing was merged").count(),
            1,
            "{args:?}"
        );
    }
    for dir in ["s0", "s1"] {
        assert!(!has_lock(&ws.path(dir)), "{dir}: merge left no lock file");
    }

    // A merge into a directory that holds a merge: said once.
    assert_eq!(merge(&["s0", "s1", "--out", "merged"]).await.code, 0);
    let again = merge(&["s0", "s1", "--out", "merged"]).await;
    assert_eq!(again.code, 2, "{}", again.both());
    assert_eq!(
        again.stderr.matches("nothing was merged").count(),
        1,
        "{}",
        again.stderr
    );

    // An unfinished shard: the resume command names the input it read, quoted for a shell.
    let summary_path = ws.path("s1/summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    summary["finished"] = serde_json::Value::Bool(false);
    std::fs::write(&summary_path, summary.to_string()).unwrap();
    let unfinished = merge(&["s0", "s1", "--out", "m3"]).await;
    assert_eq!(unfinished.code, 2, "{}", unfinished.both());
    assert!(
        unfinished
            .stderr
            .contains("mfa-enroll run 'my users.csv' --shard 1/2 --out s1 --resume"),
        "{}",
        unfinished.stderr
    );
    assert_eq!(unfinished.stderr.matches("nothing was merged").count(), 1);
}
