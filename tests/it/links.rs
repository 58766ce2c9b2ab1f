//! Where the tool writes, against the real binary and a sandbox on loopback: a symlink, a
//! hard link or a foreign file planted at a name a run writes in `--out` is refused (exit 2)
//! before anything is sent, and neither the link's target nor the directory changes; a link
//! at a name the tool once used for a temporary file is never touched; `--metrics-file`
//! never names a file the run reads or writes, nor an earlier run's record; `report` never
//! waits on a fifo; and a full standard output keeps the run's exit code.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

const VICTIM: &str = "precious, not mfa-enroll's\n";

/// What the sandbox has been sent: API requests and token requests.
fn sent(sandbox: &mfa_enroll::sandbox::Sandbox) -> (u64, u64) {
    let tally = sandbox.tally();
    (tally.requests, tally.token_requests)
}

/// What a directory holds: each name with its kind and content (a link's target).
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let kind = std::fs::symlink_metadata(e.path()).unwrap();
            let what = if kind.is_symlink() {
                format!(
                    "link -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else {
                std::fs::read_to_string(e.path()).unwrap_or_default()
            };
            (e.file_name().to_string_lossy().into_owned(), what)
        })
        .collect();
    entries.sort();
    entries
}

/// How a name in `out` is planted before the run.
#[derive(Clone, Copy, Debug)]
enum Plant {
    /// A symlink to the victim file outside `out`.
    Symlink,
    /// A symlink to a file that does not exist, outside `out`.
    Dangling,
    /// A second name of the victim file.
    HardLink,
    /// A file of the user's own (mode 644) at one of the tool's internal names.
    Foreign,
}

fn plant(ws: &Workspace, name: &str, how: Plant) {
    let out = ws.out();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = ws.write("victim.txt", VICTIM);
    let at = out.join(name);
    match how {
        Plant::Symlink => std::os::unix::fs::symlink(&victim, &at).unwrap(),
        Plant::Dangling => std::os::unix::fs::symlink(ws.path("nowhere.csv"), &at).unwrap(),
        Plant::HardLink => std::fs::hard_link(&victim, &at).unwrap(),
        Plant::Foreign => {
            std::fs::write(&at, VICTIM).unwrap();
            std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_or_foreign_file_where_a_run_writes_is_refused_before_anything_is_sent() {
    // (name in --out, how it is planted, what the refusal says)
    let cases = [
        ("errors.csv", Plant::Symlink, "symbolic link"),
        ("errors.csv", Plant::HardLink, "other names too"),
        ("results.csv", Plant::Dangling, "symbolic link"),
        ("summary.json", Plant::Symlink, "symbolic link"),
        ("timeline.json", Plant::HardLink, "other names too"),
        ("report.html", Plant::Symlink, "symbolic link"),
        (".mfa-enroll.lock", Plant::Symlink, "symbolic link"),
        (".mfa-enroll.lock", Plant::Foreign, "did not make this file"),
        (".input-spool.csv", Plant::Symlink, "symbolic link"),
        (".input-spool.csv", Plant::HardLink, "other names too"),
        (".input-spool.csv", Plant::Foreign, "did not make this file"),
        (".repeats", Plant::Symlink, "symbolic link"),
        (".later-rows", Plant::Foreign, "did not make this file"),
        (".removals", Plant::Symlink, "symbolic link"),
        (".removals", Plant::Foreign, "did not make this file"),
        (".results.csv.runs", Plant::Symlink, "symbolic link"),
    ];
    for (name, how, says) in cases {
        let case = format!("{name} as {how:?}");
        let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
        ws.write("in.csv", &sms_rows(3));
        plant(&ws, name, how);
        let before = listing(&ws.out());
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 2, "{case}: {}", run.both());
        assert!(
            run.stderr.contains(name) && run.stderr.contains(says),
            "{case}: {}",
            run.stderr
        );
        assert_eq!(sent(&sandbox), (0, 0), "{case}: nothing was sent");
        assert_eq!(
            std::fs::read_to_string(ws.path("victim.txt")).unwrap(),
            VICTIM,
            "{case}: the link's target is unchanged"
        );
        assert!(
            !ws.path("nowhere.csv").exists(),
            "{case}: nothing outside --out"
        );
        assert_eq!(listing(&ws.out()), before, "{case}: --out is as it was");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_at_the_old_temporary_names_are_never_written_through() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    // Line 3 is invalid, so errors.csv has a row and both files are put in line order.
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone\n{},SMS,{}\n{},SMS,+1 555\n{},SMS,{}\n",
            user_id(0),
            us_number(0),
            user_id(1),
            user_id(2),
            us_number(2)
        ),
    );
    let names = [
        "summary.json.tmp",
        "timeline.json.tmp",
        "report.html.tmp",
        "results.csv.ordering",
        "errors.csv.ordering",
        "results.csv.resume-tmp",
        ".results.csv.merging",
    ];
    for name in names {
        plant(&ws, name, Plant::Symlink);
    }
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 1, "{}", resumed.both());
    assert_eq!(
        std::fs::read_to_string(ws.path("victim.txt")).unwrap(),
        VICTIM
    );
    for name in names {
        let at = ws.out().join(name);
        assert!(
            std::fs::symlink_metadata(&at).unwrap().is_symlink(),
            "{name}: left as it was"
        );
    }
    assert_private_outputs(&ws.out());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_never_changes_a_hard_linked_copy_of_errors_csv() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone\n{},SMS,{}\n{},SMS,+1 555\n",
            user_id(0),
            us_number(0),
            user_id(1)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    std::fs::hard_link(ws.out().join("errors.csv"), ws.path("backup.csv")).unwrap();
    let backup = std::fs::read_to_string(ws.path("backup.csv")).unwrap();
    let before = listing(&ws.out());
    let before_sent = sent(&sandbox);
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 2, "{}", resumed.both());
    assert!(
        resumed.stderr.contains("errors.csv") && resumed.stderr.contains("other names too"),
        "{}",
        resumed.stderr
    );
    assert_eq!(sent(&sandbox), before_sent, "nothing was sent");
    assert_eq!(
        std::fs::read_to_string(ws.path("backup.csv")).unwrap(),
        backup
    );
    assert_eq!(listing(&ws.out()), before, "--out is as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_file_never_replaces_a_file_the_run_reads_or_an_earlier_record() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    ws.write("in.csv", &sms_rows(2));
    let earlier = enroll_to(&ws, &sandbox, "in.csv", "earlier", &[]).await;
    assert_eq!(earlier.code, 0, "{}", earlier.both());
    ws.write("notes.txt", VICTIM);
    std::os::unix::fs::symlink(ws.path("notes.txt"), ws.path("linked.prom")).unwrap();
    // (the --metrics-file, the --out, what the refusal says)
    let cases = [
        ("in.csv", "out", "the input"),
        ("out/results.csv", "out", "results.csv"),
        ("out/report.html", "out", "report.html"),
        ("earlier/summary.json", "out", "summary.json"),
        ("earlier/results.csv", "out", "results.csv"),
        (
            "notes.txt",
            "out",
            "something other than mfa-enroll's metrics",
        ),
        ("linked.prom", "out", "symbolic link"),
        // A run refused for another reason writes no metrics over a record either.
        ("earlier/summary.json", "earlier", "summary.json"),
    ];
    for (metrics, out, says) in cases {
        let case = format!("--metrics-file {metrics} --out {out}");
        let watched = [
            "in.csv",
            "notes.txt",
            "earlier/summary.json",
            "earlier/results.csv",
        ];
        let before: Vec<String> = watched
            .iter()
            .map(|f| std::fs::read_to_string(ws.path(f)).unwrap())
            .collect();
        let before_sent = sent(&sandbox);
        let run = enroll_to(&ws, &sandbox, "in.csv", out, &["--metrics-file", metrics]).await;
        assert_eq!(run.code, 2, "{case}: {}", run.both());
        assert!(run.stderr.contains(says), "{case}: {}", run.stderr);
        assert_eq!(sent(&sandbox), before_sent, "{case}: nothing was sent");
        let after: Vec<String> = watched
            .iter()
            .map(|f| std::fs::read_to_string(ws.path(f)).unwrap())
            .collect();
        assert_eq!(after, before, "{case}: nothing it names changed");
        assert!(!ws.path("out").exists(), "{case}: no --out was made");
    }
    // Its own file it replaces, run after run.
    for round in 0..2 {
        let out = format!("fresh{round}");
        let run = enroll_to(&ws, &sandbox, "in.csv", &out, &["--metrics-file", "m.prom"]).await;
        assert_eq!(run.code, 0, "round {round}: {}", run.both());
        let text = std::fs::read_to_string(ws.path("m.prom")).unwrap();
        assert!(text.contains("mfa_enroll_exit_code 0"), "{text}");
    }
}

/// Makes a fifo at `path`.
fn fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_refuses_a_fifo_or_an_endless_file_at_once() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(2));
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--sandbox", "--out", "base"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    for (number, name) in ["summary.json", "results.csv", "timeline.json"]
        .into_iter()
        .enumerate()
    {
        let dir = ws.path(&format!("f{number}"));
        copy_dir(&ws.path("base"), &dir);
        std::fs::remove_file(dir.join(name)).unwrap();
        fifo(&dir.join(name));
        let child = launch_command(ws.dir.path(), &["report", dir.to_str().unwrap()])
            .spawn()
            .unwrap();
        // A wait on the fifo would hang: must_end fails the test instead.
        let report = must_end(child, std::time::Duration::from_secs(60)).await;
        assert_eq!(report.code, 2, "{name}: {}", report.both());
        assert!(
            report.stderr.contains(name) && report.stderr.contains("not a regular file"),
            "{name}: {}",
            report.stderr
        );
    }
    // A summary.json of endless size (sparse: no disk, no memory) is refused by its ceiling.
    let dir = ws.path("huge");
    copy_dir(&ws.path("base"), &dir);
    let summary = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("summary.json"))
        .unwrap();
    summary.set_len(1 << 34).unwrap();
    let report = run_binary(ws.dir.path(), None, &["report", "huge"]).await;
    assert_eq!(report.code, 2, "{}", report.both());
    assert!(report.stderr.contains("larger than"), "{}", report.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_standard_output_keeps_the_runs_exit_code() {
    let ws = Workspace::new();
    // Line 3 is invalid: exit 1, which summary.json records.
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone\n{},SMS,{}\n{},SMS,+1 555\n",
            user_id(0),
            us_number(0),
            user_id(1)
        ),
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let child = launch_command(
        ws.dir.path(),
        &["run", "in.csv", "--sandbox", "--out", "out"],
    )
    .stdout(Stdio::from(full))
    .spawn()
    .unwrap();
    let run = must_end(child, std::time::Duration::from_secs(300)).await;
    let summary = ws.summary();
    assert_eq!(run.code, 1, "{}", run.both());
    assert_eq!(summary["exit_code"], 1, "{summary}");
    assert!(
        run.stderr.contains("cannot write to standard output"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
