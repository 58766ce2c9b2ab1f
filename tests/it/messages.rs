//! Messages that show what to check (issue 32): a refused token names the auth URL's host and
//! the environment ID in full and never the secret; an invalid email is logged with its shape
//! and every `@`; a `--metrics-file` that cannot be written refuses the run at its start;
//! `--resume` without `--config` reads the config the earlier run recorded, or names it; the
//! log, config.example.toml and README state one rule for `concurrency = "auto"`.

use std::path::Path;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Every file a run left in `dir`, as text.
fn files_in(dir: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            (path.display().to_string(), text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_names_the_auth_host_and_the_environment_in_full_never_the_secret() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &sms_rows(2));
    let wrong = "wrong-secret-7f3a9c41d2";
    let run = enroll_with_secret(&ws, wrong, "in.csv", "out", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "CREDENTIALS_REFUSED");
    let reason = summary["stopped_early"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    let host = sandbox.auth_url();
    let environment = sandbox.options().environment_id.clone();
    let report = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    for (what, shown) in [
        ("summary.json", &reason),
        ("the end text", &run.stdout),
        ("report.html", &report),
    ] {
        assert!(shown.contains(&format!("at {host}/ ")), "{what}: {shown}");
        assert!(
            shown.contains(&format!("({environment}: ")),
            "{what}: {shown}"
        );
    }
    let right = sandbox.options().client_secret.expose().to_string();
    let mut shown = files_in(&ws.out());
    shown.push(("stdout".into(), run.stdout.clone()));
    shown.push(("stderr".into(), run.stderr.clone()));
    for (what, text) in shown {
        for secret in [wrong, right.as_str()] {
            assert!(!text.contains(secret), "{what} shows a secret");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_email_is_logged_with_its_shape_and_every_at_sign() {
    let ws = Workspace::new();
    ws.write(
        "in.csv",
        "username,type,email\n\
         ann,EMAIL,ann@@example.com\n\
         bob,EMAIL,bob.example.com\n",
    );
    let run = run_binary(
        ws.dir.path(),
        None,
        &[
            "run",
            "in.csv",
            "--dry-run",
            "--policy-id",
            POLICY,
            "--out",
            "out",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.both());
    let line = |number: &str| {
        run.stderr
            .lines()
            .find(|l| l.contains("row invalid") && l.contains(&format!("line={number}")))
            .unwrap_or_else(|| panic!("no log line for line {number}: {}", run.stderr))
            .to_string()
    };
    // Two `@` where one belongs: both still there.
    let doubled = line("2");
    assert!(doubled.contains("email \"a***@@example.com\""), "{doubled}");
    // No `@` at all: the address's shape, and the `@` the complaint names.
    let missing = line("3");
    assert!(missing.contains("email \"b**.*******.***\""), "{missing}");
    assert!(missing.contains("character '@'"), "{missing}");
    for name in ["ann", "bob"] {
        assert!(!run.stderr.contains(name), "{name}: {}", run.stderr);
    }
    // results.csv keeps the real values, for whoever fixes the rows.
    let rows = ws.results();
    assert!(rows[0]["error_message"].contains("\"ann@@example.com\""));
    assert!(rows[1]["error_message"].contains("\"bob.example.com\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_that_cannot_be_written_refuses_the_run_at_its_start() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &sms_rows(2));
    ws.write("a-file", "not a folder");
    for (metrics, said) in [
        ("missing/mfa_enroll.prom", "missing does not exist"),
        ("a-file/mfa_enroll.prom", "a-file is not a folder"),
        // Not even root may create a file in /proc.
        ("/proc/mfa_enroll.prom", "cannot write a file in /proc"),
    ] {
        let run = enroll(&ws, &sandbox, "in.csv", &["--metrics-file", metrics]).await;
        assert_eq!(run.code, 2, "{metrics}: {}", run.both());
        assert!(run.stderr.contains("--metrics-file"), "{}", run.stderr);
        assert!(run.stderr.contains(said), "{metrics}: {}", run.stderr);
        assert!(!ws.out().exists(), "{metrics}: nothing written");
    }
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
    // A folder that exists: the run goes ahead and leaves the file, and nothing else there.
    std::fs::create_dir(ws.path("metrics")).unwrap();
    let run = enroll(
        &ws,
        &sandbox,
        "in.csv",
        &["--metrics-file", "metrics/m.prom"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    let left: Vec<_> = std::fs::read_dir(ws.path("metrics"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["m.prom"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_without_config_uses_the_config_the_earlier_run_recorded_or_names_it() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    // The config is not where a run looks for one by itself (mfa-enroll.toml here).
    std::fs::create_dir(ws.path("conf")).unwrap();
    std::fs::rename(ws.path("mfa-enroll.toml"), ws.path("conf/tenant.toml")).unwrap();
    ws.write("in.csv", &sms_rows(3));
    let secret = sandbox.options().client_secret.expose().to_string();
    let first = [
        "run",
        "in.csv",
        "--config",
        "conf/tenant.toml",
        "--out",
        "out",
    ];
    // Stopped early: the secret was wrong.
    let run = run_binary(ws.dir.path(), Some("not-the-secret"), &first).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let recorded = ws.summary()["settings"]["config_file"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        Path::new(&recorded),
        ws.path("conf/tenant.toml").canonicalize().unwrap()
    );
    let resume = ["run", "in.csv", "--out", "out", "--resume"];
    let run = run_binary(ws.dir.path(), Some(&secret), &resume).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(run.stderr.contains(&recorded), "{}", run.stderr);
    assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
    assert_eq!(sandbox.tally().devices_created, 3);

    // The recorded file gone: refused, naming it, and nothing sent.
    let again = [
        "run",
        "in.csv",
        "--config",
        "conf/tenant.toml",
        "--out",
        "again",
    ];
    let run = run_binary(ws.dir.path(), Some("not-the-secret"), &again).await;
    assert_eq!(run.code, 3, "{}", run.both());
    std::fs::rename(ws.path("conf/tenant.toml"), ws.path("conf/moved.toml")).unwrap();
    let requests = sandbox.tally().requests;
    let resume = ["run", "in.csv", "--out", "again", "--resume"];
    let run = run_binary(ws.dir.path(), Some(&secret), &resume).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains(&recorded), "{}", run.stderr);
    assert!(run.stderr.contains("--config"), "{}", run.stderr);
    assert_eq!(sandbox.tally().requests, requests);
}

/// `text` as one line: comment marks and line breaks gone, `×` written `x`.
fn flowing(text: &str) -> String {
    text.lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ")
        .replace('×', "x")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_config_example_and_readme_state_one_concurrency_rule() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--dry-run", "--policy-id", POLICY],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    // The rule as the run states it when it opens: `concurrency=auto (RULE)`.
    let opening = run
        .stderr
        .lines()
        .find(|l| l.contains("run started"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let rule = opening
        .split("concurrency=auto (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("{opening}"));
    assert!(rule.contains("1.5") && rule.contains("3 to 256"), "{rule}");
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["config.example.toml", "README.md", "docs/rate-limits.md"] {
        let text = flowing(&std::fs::read_to_string(repository.join(file)).unwrap());
        let says = if file == "docs/rate-limits.md" {
            // The guide explains the latency between rate and the headroom.
            text.contains("× 1.5, plus 2".replace('×', "x").as_str())
                && text.contains("from 3 to 256 in flight")
        } else {
            text.contains(rule)
        };
        assert!(says, "{file} does not say the log's rule: {rule}");
    }
}
