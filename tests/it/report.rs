//! report.html and the honest summaries, against the real binary and the sandbox: the page a
//! real browser (headless Chromium) renders shows summary.json's numbers, loads nothing from
//! the network and shows a username `<script>…</script>` as text; `mfa-enroll report DIR`
//! writes it again; a stopped run counts its unsent rows apart and its pace over the time it
//! sent; a resumed run says what it did beside the directory's totals; results.csv and
//! errors.csv end in line order and name each row's original line through any number of
//! feedbacks; a merge and a refusal leave a report too; the metrics file has the latency.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// Chromium's headless shell: `scripts/test` installs Debian's package when it is missing.
const CHROMIUM: &str = "chromium-headless-shell";

/// A proxy that answers nothing and counts who called: a page that fetched anything would
/// have to come through here.
struct Trap {
    port: u16,
    calls: Arc<AtomicUsize>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Trap { port, calls }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// Chromium with everything that would reach the network on its own switched off, every
/// request of the page sent through `trap` (loopback included), and a fresh profile.
fn chromium(trap: &Trap, profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    let proxy = format!("--proxy-server=http://127.0.0.1:{}", trap.port);
    let profile = format!("--user-data-dir={}", profile.display());
    let url = format!("file://{}", page.display());
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--proxy-bypass-list=<-loopback>",
        &proxy,
        &profile,
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    let output = std::process::Command::new(CHROMIUM)
        .args(&args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{CHROMIUM} does not run ({e}); install it: apt-get install -y {CHROMIUM} (scripts/test does)")
        });
    assert!(
        output.status.success(),
        "{CHROMIUM} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The page as the browser built it.
fn rendered(trap: &Trap, profile: &Path, page: &Path) -> String {
    let output = chromium(trap, profile, &["--dump-dom"], page);
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The text of the element that carries `attribute="value"`.
fn text_of(dom: &str, attribute: &str, value: &str) -> Option<String> {
    let start = dom.find(&format!("{attribute}=\"{value}\""))?;
    let after = start + dom[start..].find('>')? + 1;
    let end = after + dom[after..].find('<')?;
    Some(dom[after..end].trim().to_string())
}

fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a count"))
}

/// "12 ms" or "1.5 s", in milliseconds.
fn milliseconds(text: &str) -> f64 {
    let (value, unit) = text.split_once(' ').expect("a value and a unit");
    let value: f64 = value.parse().expect("a number");
    match unit {
        "ms" => value,
        "s" => value * 1000.0,
        other => panic!("unit {other}"),
    }
}

fn summary_of(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json parses")
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const SCRIPT_USER: &str = "<script>alert(\"owned\")</script>";

/// Six valid users (two devices each) and three invalid rows, one of them named by a
/// username that is markup.
fn mixed_rows() -> String {
    let mut text = String::from("user_id,username,type,phone,email\n");
    for i in 0..6 {
        text.push_str(&format!("{},,SMS,{},\n", user_id(i), us_number(i)));
        text.push_str(&format!("{},,EMAIL,,u{i}@example.com\n", user_id(i)));
    }
    text.push_str(&format!(
        ",\"{}\",FAX,+15125550100,\n",
        SCRIPT_USER.replace('"', "\"\"")
    ));
    text.push_str(&format!("{},,SMS,12,\n", user_id(7)));
    text.push_str(&format!("{},,EMAIL,,not-an-email\n", user_id(8)));
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_renders_the_report_from_the_summarys_numbers_without_the_network() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 500", "").await;
    ws.write("in.csv", &mixed_rows());
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let page = ws.out().join("report.html");
    assert_eq!(
        mode_of(&page),
        0o600,
        "it names users, like the other outputs"
    );
    assert!(run.stdout.contains("report.html"), "{}", run.stdout);

    // Self-contained by construction: no script, nothing that names a thing to fetch, and a
    // policy that forbids every fetch anyway.
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    ));
    for fetches in [
        "<script", "http://", "https://", " src=", "href=", "url(", "@import", "<link", "<img",
        "<iframe",
    ] {
        assert!(!html.contains(fetches), "the page holds {fetches:?}");
    }
    assert!(
        html.contains("&#60;script&#62;alert(&#34;owned&#34;)&#60;/script&#62;"),
        "the username is escaped"
    );

    let trap = Trap::start();
    let profile = tempfile::tempdir().unwrap();
    let dom = rendered(&trap, profile.path(), &page);
    let summary = summary_of(&ws.out());
    assert_eq!(
        number(&text_of(&dom, "data-figure", "rows").unwrap()),
        summary["rows"]
    );
    let outcomes = summary["outcomes"].as_object().unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    for (outcome, rows) in outcomes {
        let shown =
            text_of(&dom, "data-outcome", outcome).unwrap_or_else(|| panic!("{outcome} is shown"));
        assert_eq!(number(&shown), rows.as_u64().unwrap(), "{outcome}");
    }
    let codes = summary["error_codes"].as_object().unwrap();
    assert_eq!(codes.len(), 3, "{codes:?}");
    for (code, rows) in codes {
        let shown = text_of(&dom, "data-code", code).unwrap_or_else(|| panic!("{code} is shown"));
        assert_eq!(number(&shown), rows["rows"].as_u64().unwrap(), "{code}");
    }
    for percentile in ["p50", "p95", "p99"] {
        let shown = milliseconds(&text_of(&dom, "data-latency", percentile).unwrap());
        let figure = summary["latency"][format!("{percentile}_ms")]
            .as_f64()
            .unwrap();
        assert!(
            (shown - figure).abs() <= 0.06 * figure + 0.05,
            "{percentile}: {shown} shown, {figure} in summary.json"
        );
    }
    assert!(dom
        .contains("aria-label=\"Rows done, requests and answers of 429 per second over the run\""));
    // The markup username is text in the page, not an element.
    assert!(
        !dom.contains("<script"),
        "no script element in the rendered page"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(\"owned\")&lt;/script&gt;"),
        "the username shows as text"
    );

    // A screenshot needs every part of the page laid out; with the proxy trapping every
    // request, nothing was fetched for it either.
    let shot = profile.path().join("page.png");
    let screenshot = format!("--screenshot={}", shot.display());
    chromium(
        &trap,
        profile.path(),
        &[&screenshot, "--window-size=1280,2000"],
        &page,
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a page was drawn"
    );
    assert_eq!(trap.calls(), 0, "the report fetched something");

    // The trap does catch a page that fetches: the same browser, a page with an image.
    let fetching = profile.path().join("fetching.html");
    std::fs::write(
        &fetching,
        "<p>x</p><img src=\"http://mfa-enroll.invalid/x.png\">",
    )
    .unwrap();
    rendered(&trap, profile.path(), &fetching);
    assert!(trap.calls() > 0, "the trap sees a page that fetches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_command_writes_it_again_from_a_finished_directory_only() {
    let ws = Workspace::new();
    ws.write("in.csv", &mixed_rows());
    let run = run_binary(
        ws.dir.path(),
        None,
        &["run", "in.csv", "--dry-run", "--out", "out"],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.both());
    let page = ws.out().join("report.html");
    let first = std::fs::read_to_string(&page).unwrap();
    std::fs::remove_file(&page).unwrap();

    let again = run_binary(ws.dir.path(), None, &["report", "out"]).await;
    assert_eq!(again.code, 0, "{}", again.both());
    assert!(again.stdout.contains("report.html"), "{}", again.stdout);
    assert_eq!(mode_of(&page), 0o600);
    let second = std::fs::read_to_string(&page).unwrap();
    let without_footer = |html: &str| html[..html.find("<footer>").unwrap()].to_string();
    assert_eq!(
        without_footer(&first),
        without_footer(&second),
        "the same page from the same files"
    );

    let missing = run_binary(ws.dir.path(), None, &["report", "nowhere"]).await;
    assert_eq!(missing.code, 2, "{}", missing.both());
    assert!(
        missing.stderr.contains("no summary.json"),
        "{}",
        missing.stderr
    );

    let summary = std::fs::read_to_string(ws.out().join("summary.json")).unwrap();
    let unfinished = summary.replace("\"finished\": true", "\"finished\": false");
    std::fs::write(ws.out().join("summary.json"), unfinished).unwrap();
    let refused = run_binary(ws.dir.path(), None, &["report", "out"]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(
        refused.stderr.contains("has not finished"),
        "{}",
        refused.stderr
    );
}

/// Rows of the metrics file: `name{labels}` -> value.
fn metrics(path: &Path) -> HashMap<String, f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_counts_unsent_rows_apart_and_a_resume_says_what_it_did() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            latency: Duration::from_millis(40),
            ..SandboxOptions::default()
        },
        "rate = 1000\nconcurrency = 2",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(400));
    let child = spawn_enroll_with(&ws, &sandbox, "in.csv", &["--metrics-file", "run.prom"]);
    wait_for_rows(&ws.out(), 20).await;
    send_signal(&child, "INT");
    let run = finish(child).await;
    assert_eq!(run.code, 3, "{}", run.both());

    let summary = summary_of(&ws.out());
    let created = summary["outcomes"]["created"].as_u64().unwrap();
    let not_attempted = summary["outcomes"]["not_attempted"].as_u64().unwrap();
    assert_eq!(created + not_attempted, 400, "{summary}");
    assert!(
        summary["outcomes"].get("failed").is_none(),
        "not attempted is not failed: {summary}"
    );
    assert!(
        run.stdout
            .contains(&format!("{created} created, {not_attempted} not attempted")),
        "{}",
        run.stdout
    );
    // The pace is the rows done over the time spent sending them, not every row recorded
    // over the whole run.
    let this_run = &summary["this_run"];
    assert_eq!(this_run["rows_done"], created);
    let sending = this_run["sending_s"].as_f64().unwrap();
    assert!(sending > 0.0 && sending <= summary["duration_s"].as_f64().unwrap());
    let pace = summary["throughput_rows_per_s"].as_f64().unwrap();
    assert!(
        (pace - created as f64 / sending).abs() < 0.01 * pace + 0.01,
        "{summary}"
    );
    // Two requests a row (read, create), two in flight, 40 ms each: at most 25 rows/s.
    assert!(pace < 30.0, "{pace} rows/s");

    let figures = metrics(&ws.path("run.prom"));
    assert_eq!(
        figures["mfa_enroll_rows{outcome=\"not_attempted\"}"],
        not_attempted as f64
    );
    assert!(!figures.contains_key("mfa_enroll_rows{outcome=\"failed\"}"));
    let requests = summary["requests"]["total"].as_f64().unwrap();
    assert_eq!(
        figures["mfa_enroll_request_duration_seconds_count"],
        requests
    );
    assert_eq!(
        figures["mfa_enroll_request_duration_seconds_bucket{le=\"+Inf\"}"],
        requests
    );
    assert_eq!(
        figures["mfa_enroll_request_duration_seconds_bucket{le=\"0.01\"}"], 0.0,
        "40 ms each"
    );
    let sum = figures["mfa_enroll_request_duration_seconds_sum"];
    assert!(sum >= requests * 0.04, "{sum} s for {requests} requests");

    // The timeline holds what the run did, point by point.
    let timeline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.out().join("timeline.json")).unwrap())
            .unwrap();
    let total = |column: &str| -> u64 {
        timeline[column]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("rows"), created, "{timeline}");
    assert_eq!(total("requests") as f64, requests, "{timeline}");
    let in_flight = timeline["in_flight"].as_array().unwrap();
    assert!(
        in_flight.iter().all(|n| n.as_f64().unwrap() <= 2.0 + 1e-9),
        "concurrency 2: {timeline}"
    );
    assert!(
        in_flight.iter().any(|n| n.as_f64().unwrap() >= 1.0),
        "{timeline}"
    );
    let html = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(html.contains("Stopped early (INTERRUPTED)"));

    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let summary = summary_of(&ws.out());
    assert_eq!(summary["outcomes"]["created"], 400, "the directory's total");
    assert_eq!(summary["resumed_rows"], created);
    assert_eq!(summary["this_run"]["rows"], not_attempted, "{summary}");
    assert_eq!(summary["this_run"]["outcomes"]["created"], not_attempted);
    assert!(
        resumed.stdout.contains(&format!(
            "this run: {not_attempted} rows: {not_attempted} created"
        )),
        "{}",
        resumed.stdout
    );
    assert!(
        resumed.stdout.contains(&format!(
            "in total: 400 rows: 400 created ({created} finished by earlier runs"
        )),
        "{}",
        resumed.stdout
    );
    let html = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(
        html.contains(&format!("data-this-run=\"created\">{}<", not_attempted)),
        "this run beside the totals"
    );
    assert!(html.contains("data-total=\"created\">400<"));
}

fn lines_of(rows: &[HashMap<String, String>]) -> Vec<u64> {
    rows.iter().map(|r| r["line"].parse().unwrap()).collect()
}

fn original_lines(rows: &[HashMap<String, String>]) -> Vec<u64> {
    rows.iter()
        .map(|r| r["original_line"].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_end_in_line_order_and_name_the_original_line_through_feedbacks() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            latency: Duration::from_millis(15),
            ..SandboxOptions::default()
        },
        "rate = 2000\nconcurrency = 8",
        "",
    )
    .await;
    // Valid rows wait for PingOne while the invalid ones between them are recorded at once,
    // so results.csv is written out of line order.
    let mut text = String::from("user_id,type,phone\n");
    for i in 0..120 {
        let phone = if i % 10 == 9 {
            "12".to_string()
        } else {
            us_number(i)
        };
        text.push_str(&format!("{},SMS,{phone}\n", user_id(i)));
    }
    ws.write("in.csv", &text);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = ws.results();
    assert_eq!(
        lines_of(&results),
        (2..122).collect::<Vec<u64>>(),
        "results.csv in line order"
    );
    assert_eq!(
        original_lines(&results),
        lines_of(&results),
        "an input's rows are their own"
    );
    let errors = ws.errors();
    let bad: Vec<u64> = (0..120u64).filter(|i| i % 10 == 9).map(|i| i + 2).collect();
    assert_eq!(lines_of(&errors), bad, "errors.csv in line order");
    assert_eq!(original_lines(&errors), bad);

    // Fed back twice (still unfixed), each row still names its line in in.csv.
    std::fs::copy(ws.out().join("errors.csv"), ws.path("retry-1.csv")).unwrap();
    let retry = enroll_to(&ws, &sandbox, "retry-1.csv", "retry-1", &[]).await;
    assert_eq!(retry.code, 1, "{}", retry.both());
    let again = read_csv(&ws.path("retry-1/results.csv"));
    assert_eq!(
        lines_of(&again),
        (2..2 + bad.len() as u64).collect::<Vec<u64>>()
    );
    assert_eq!(original_lines(&again), bad);
    std::fs::copy(ws.path("retry-1/errors.csv"), ws.path("retry-2.csv")).unwrap();
    let retry = enroll_to(&ws, &sandbox, "retry-2.csv", "retry-2", &[]).await;
    assert_eq!(retry.code, 1, "{}", retry.both());
    assert_eq!(
        original_lines(&read_csv(&ws.path("retry-2/results.csv"))),
        bad
    );
    assert_eq!(
        original_lines(&read_csv(&ws.path("retry-2/errors.csv"))),
        bad
    );

    // An errors.csv written before original_line existed names the original line in `line`.
    let older: String = std::fs::read_to_string(ws.out().join("errors.csv"))
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", &l[..l.rfind(',').unwrap()]))
        .collect();
    assert!(
        older.starts_with("user_id,type,phone,line,error_code,error_message,pingone_error_id\n")
    );
    ws.write("retry-old.csv", &older);
    let retry = enroll_to(&ws, &sandbox, "retry-old.csv", "retry-old", &[]).await;
    assert_eq!(retry.code, 1, "{}", retry.both());
    let results = read_csv(&ws.path("retry-old/results.csv"));
    assert_eq!(original_lines(&results), bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_and_a_refusal_leave_a_report_too() {
    let ws = Workspace::new();
    ws.write("in.csv", &mixed_rows());
    sandbox_shards(&ws, "in.csv", "shard-", 2).await;
    let merged = run_binary(
        ws.dir.path(),
        None,
        &["merge", "shard-0", "shard-1", "--out", "merged"],
    )
    .await;
    assert_eq!(merged.code, 1, "{}", merged.both());
    let html = std::fs::read_to_string(ws.path("merged/report.html")).unwrap();
    assert!(html.contains("2 shards merged"), "the kind of record");
    assert_eq!(
        html.matches("<td class=\"num\">0/2</td>").count()
            + html.matches("<td class=\"num\">1/2</td>").count(),
        2
    );
    let summary = summary_of(&ws.path("merged"));
    let shard_requests: u64 = (0..2)
        .map(|k| {
            summary_of(&ws.path(&format!("shard-{k}")))["latency"]["requests"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(
        summary["latency"]["requests"], shard_requests,
        "the shards' histograms add up"
    );
    assert!(ws.path("merged/timeline.json").exists());

    // Refused once --out exists (users would get pairing messages): nothing sent, and the
    // report says why.
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,email,status\n{},EMAIL,a@example.com,ACTIVATION_REQUIRED\n",
            user_id(1)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert_eq!(sandbox.tally().requests, 0);
    assert!(!ws.out().join("results.csv").exists());
    let html = std::fs::read_to_string(ws.out().join("report.html")).unwrap();
    assert!(html.contains("Refused: nothing was sent"));
    assert!(html.contains("--allow-messages"), "the refusal's message");
}
