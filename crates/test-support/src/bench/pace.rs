//! The bench's cases for the throttle (issue 23): a server limit under the tool's rate at
//! several limits and latencies, a storm of 429s, `concurrency = "auto"` at short and long
//! latencies, an online plan's estimate when the server throttles it, an API that cannot be
//! reached, and a stop while the run waits. Each figure is printed beside its target and a
//! baseline from the same run. Cases that only wait on a pace run side by side, each against
//! its own sandbox.

use std::path::Path;
use std::time::Duration;

use mfa_enroll::sandbox::{Sandbox, SandboxOptions, Storm};

use crate::launch;

use super::{
    accepted_rate, path_text, rows_for, run_against, run_named, secret_of, start_sandbox,
    summary_of, write_config, write_input, Figure, Sizes, CREATE,
};

/// The server limits and latencies the issue names.
const LIMITS: [u32; 4] = [20, 40, 100, 300];
const LATENCIES_MS: [u64; 2] = [5, 100];

/// One throttled run: the tool at four times `limit`, for `seconds`.
async fn throttled_one(
    bin: &Path,
    work: &Path,
    limit: u32,
    latency_ms: u64,
    seconds: u64,
) -> Vec<Figure> {
    let sandbox = start_sandbox(SandboxOptions {
        rate: Some(limit),
        latency: Duration::from_millis(latency_ms),
        record_arrivals: true,
        ..SandboxOptions::default()
    })
    .await;
    let name = format!("throttled-{limit}-{latency_ms}");
    let rows = rows_for(f64::from(limit), seconds);
    let limits = format!("rate = {}\nmax_retries = 10", limit * 4);
    run_against(bin, work, &sandbox, &name, rows, CREATE, &limits).await;
    let accepted = accepted_rate(&sandbox);
    let tally = sandbox.tally();
    sandbox.shutdown().await;
    let case = format!(
        "throttled: tool {}/s, server {limit}/s, {latency_ms} ms, {seconds} s",
        limit * 4
    );
    vec![
        Figure::at_least(
            &case,
            100.0 * accepted / f64::from(limit),
            "% of the server's limit (the baseline), whole run",
            95.0,
        ),
        Figure::at_most(
            &case,
            100.0 * tally.throttled_429 as f64 / tally.requests.max(1) as f64,
            "% of requests answered 429",
            1.0,
        ),
    ]
}

/// The tool at four times the server's limit, at every limit and latency of the issue; the
/// runs of one latency go side by side.
pub async fn throttled_grid(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let mut figures = Vec::new();
    for latency_ms in LATENCIES_MS {
        let runs =
            LIMITS.map(|limit| throttled_one(bin, work, limit, latency_ms, sizes.rate_seconds));
        for one in futures::future::join_all(runs).await {
            figures.extend(one);
        }
    }
    figures
}

/// Seconds from `from` until a whole second of accepted requests reaches `share` of `limit`.
fn back_after(sandbox: &Sandbox, from: Duration, limit: u32, share: f64) -> Option<f64> {
    let accepted: Vec<Duration> = sandbox
        .arrivals()
        .iter()
        .filter(|a| !a.answered_429 && a.at >= from)
        .map(|a| a.at)
        .collect();
    let needed = (share * f64::from(limit)).ceil() as usize;
    (0..accepted.len()).find_map(|i| {
        let within = accepted[i..]
            .iter()
            .take_while(|t| **t - accepted[i] < Duration::from_secs(1))
            .count();
        (within >= needed).then(|| (accepted[i] - from).as_secs_f64())
    })
}

/// Pace cuts in the run's log from the storm's first 429 to the line that says PingOne
/// accepts requests again.
fn storm_cuts(stderr: &str) -> usize {
    let lines: Vec<&str> = stderr.lines().collect();
    let Some(storm) = lines
        .iter()
        .position(|l| l.contains("refuses every request"))
    else {
        return 0;
    };
    let first = lines[..storm]
        .iter()
        .rposition(|l| l.contains("answered 429"))
        .unwrap_or(storm);
    let back = lines[storm..]
        .iter()
        .position(|l| l.contains("accepts requests again"))
        .map_or(lines.len(), |i| storm + i);
    lines[first..back]
        .iter()
        .filter(|l| l.contains("pace cut to"))
        .count()
}

/// A storm of 429s (every request refused for a while, then the limit again) in a run at
/// four times a limit of 40/s: how soon the run is back, and how many cuts it made.
pub async fn storm(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    const LIMIT: u32 = 40;
    let before = sizes.rate_seconds / 4;
    let sandbox = start_sandbox(SandboxOptions {
        rate: Some(LIMIT),
        latency: Duration::from_millis(5),
        record_arrivals: true,
        storm: Some(Storm {
            after_requests: u64::from(LIMIT) * before,
            lasting: Duration::from_secs(sizes.storm_seconds),
        }),
        ..SandboxOptions::default()
    })
    .await;
    // Through the storm and half a minute (full sizes) of the limit after it.
    let seconds = before + sizes.storm_seconds + sizes.rate_seconds / 2;
    let rows = rows_for(f64::from(LIMIT), seconds);
    let limits = format!("rate = {}\nmax_retries = 20", LIMIT * 4);
    let m = run_against(bin, work, &sandbox, "storm", rows, CREATE, &limits).await;
    let (began, ended) = sandbox.storm_window().expect("the storm came");
    let in_storm = sandbox
        .arrivals()
        .iter()
        .filter(|a| a.answered_429 && a.at >= began && a.at < ended)
        .count();
    let back = back_after(&sandbox, ended, LIMIT, 0.9).unwrap_or(f64::INFINITY);
    let cuts = m.stderr.matches("pace cut to").count();
    let cuts_in_storm = storm_cuts(&m.stderr);
    sandbox.shutdown().await;
    let case = format!(
        "storm: {} s of 429s for everything, then 40/s again; tool at 160/s",
        sizes.storm_seconds
    );
    vec![
        Figure::at_most(&case, back, "s until a second at >= 0.9 of the limit", 30.0),
        Figure::at_most(&case, cuts_in_storm as f64, "pace cuts the storm made", 1.0),
        Figure::bound(
            &case,
            cuts as f64,
            "pace cuts in all (the first measures the limit)",
        ),
        Figure::bound(&case, in_storm as f64, "requests met the storm (probes)"),
    ]
}

/// No concurrency configured, rate 50: at 250 ms the run keeps enough in flight to reach
/// the rate (the old default of 8 capped it at 32/s by Little's law); at 5 ms it keeps few.
async fn auto_one(bin: &Path, work: &Path, latency_ms: u64, seconds: u64) -> Vec<Figure> {
    const RATE: u32 = 50;
    let sandbox = start_sandbox(SandboxOptions {
        latency: Duration::from_millis(latency_ms),
        record_arrivals: true,
        ..SandboxOptions::default()
    })
    .await;
    let name = format!("auto-{latency_ms}");
    let rows = rows_for(f64::from(RATE), seconds);
    let limits = format!("rate = {RATE}");
    run_against(bin, work, &sandbox, &name, rows, CREATE, &limits).await;
    let achieved = super::arrival_rate(&sandbox, Duration::ZERO);
    let most = summary_of(work, &name)["requests"]["most_in_flight"]
        .as_f64()
        .unwrap_or(f64::NAN);
    sandbox.shutdown().await;
    let case = format!("concurrency auto, rate {RATE}, {latency_ms} ms per request");
    let little = f64::from(RATE) * latency_ms as f64 / 1000.0;
    let mut figures = vec![
        Figure::bound(
            &format!("{case}: Little's law, in flight needed"),
            little,
            "requests",
        ),
        Figure::bound(
            &format!("{case}: Little's law, the old default of 8 in flight"),
            8.0 / (latency_ms as f64 / 1000.0),
            "requests/s at most",
        ),
        Figure::at_least(
            &case,
            100.0 * achieved / f64::from(RATE),
            "% of the rate",
            95.0,
        ),
    ];
    figures.push(if latency_ms < 50 {
        Figure::at_most(&case, most, "most in flight", 8.0)
    } else {
        Figure::bound(&case, most, "most in flight")
    });
    figures
}

pub async fn auto_concurrency(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let seconds = (sizes.rate_seconds / 3).max(2);
    let runs = [250, 5].map(|latency_ms| auto_one(bin, work, latency_ms, seconds));
    futures::future::join_all(runs).await.concat()
}

/// An online plan against a server that allows 20/s while the tool is set to 50/s: the
/// plan's estimate against the real run that follows, and against the configured rate.
pub async fn throttled_plan(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    const LIMIT: u32 = 20;
    let sandbox = start_sandbox(SandboxOptions {
        rate: Some(LIMIT),
        ..SandboxOptions::default()
    })
    .await;
    // One read per row in the plan; a read and a POST per row in the real run.
    let rows = rows_for(f64::from(LIMIT), sizes.rate_seconds / 4).max(20);
    let input = work.join("plan.csv");
    write_input(&input, rows);
    let config = super::write_config(work, "plan", &sandbox, "", "rate = 50\nmax_retries = 10");
    let secret = secret_of(&sandbox);
    let online = ["--dry-run", "--online"];
    let dry = run_named(bin, work, &secret, &input, &config, "plan-dry", &online).await;
    super::check(&dry, "plan");
    let summary = summary_of(work, "plan-dry");
    let plan = &summary["plan"];
    let estimate = plan["duration_at_rate_s"].as_f64().unwrap_or(f64::NAN);
    let needed = plan["requests_needed"].as_f64().unwrap_or(f64::NAN);
    // docs/rate-limits.md: a run started within a second of the dry run's last reads would count
    // only its own few against the sandbox's window and keep that pace for a minute; the
    // estimate is for a run started as that guide advises.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let live = run_named(bin, work, &secret, &input, &config, "plan-live", &[]).await;
    super::check(&live, "plan, the real run");
    sandbox.shutdown().await;
    let real = live.wall.as_secs_f64();
    let case = format!("online plan, {rows} rows, server {LIMIT}/s, tool set to 50/s");
    vec![
        Figure::bound(
            &format!("{case}: estimate at the configured rate (the old estimate)"),
            needed / 50.0,
            "s",
        ),
        Figure::bound(&format!("{case}: the real run took"), real, "s"),
        Figure::bound(&case, estimate, "s estimated"),
        Figure::at_least(&case, estimate / real, "estimate / real run", 0.8),
    ]
}

/// The API is lost once the run has begun (tokens come; the API answers the run's first look,
/// then refuses every connection), 5 retries from a first backoff of 200 ms: one row rides
/// out the backoff docs/rate-limits.md states, and so do 40 rows failing side by side, which
/// reach `stop_after_failures` (30) within a second but stop the run only once the failures
/// have lasted one request's backoff; every row used its retries or says the run stopped.
pub async fn unreachable(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let first = sizes.unreachable_backoff_ms;
    let sandbox = start_sandbox(SandboxOptions::default()).await;
    let secret = secret_of(&sandbox);
    let mut runs = Vec::new();
    for rows in [1, 40] {
        let name = format!("unreachable-{rows}");
        let config = work.join(format!("{name}.toml"));
        let text = sandbox
            .config_snippet()
            .replace(&sandbox.api_url(), &api_gone_after_one_look());
        let limits = format!("[limits]\nbackoff_initial_ms = {first}\n");
        std::fs::write(&config, format!("{text}enable_mfa = false\n{limits}")).expect("config");
        let input = work.join(format!("{name}.csv"));
        write_input(&input, rows);
        let m = run_named(bin, work, &secret, &input, &config, &name, &[]).await;
        let results = work.join(format!("{name}-out")).join("results.csv");
        let others = rows_coded_otherwise(&results, &["RETRIES_EXHAUSTED", "NOT_ATTEMPTED"]);
        runs.push((m.wall.as_secs_f64(), others));
    }
    sandbox.shutdown().await;
    let [(one, _), (many, others)] = runs[..] else {
        unreachable!("two runs")
    };
    // docs/rate-limits.md: the delays double from the first; jitter only adds.
    let floor = (first * (1 + 2 + 4 + 8 + 16)) as f64 / 1000.0;
    let case = format!("API unreachable, 5 retries from {first} ms");
    vec![
        Figure::bound(
            &format!("{case}: the documented backoff, the least 5 retries wait"),
            floor,
            "s",
        ),
        Figure::at_least(&format!("{case}, 1 row"), one, "s before it gave up", floor),
        Figure::at_least(
            &format!("{case}, 40 rows"),
            many,
            "s before stop_after_failures (30) stopped the run",
            floor,
        ),
        Figure::at_most(
            &format!("{case}, 40 rows"),
            others,
            "rows neither RETRIES_EXHAUSTED nor saying the run stopped",
            0.0,
        ),
    ]
}

/// The first SIGINT to a run that waits, during a storm answered with 30 s `Retry-After`s
/// and behind a pace of one request a second: how long the run took to end, and the rows not
/// recorded as the run stopping (`NOT_ATTEMPTED`, or a tried row's last answer and a message
/// that says the run stopped): every row waiting for its turn should be.
pub async fn stop(bin: &Path, work: &Path, _sizes: &Sizes) -> Vec<Figure> {
    let mut figures = Vec::new();
    for (name, limits, storm) in [
        ("stop-storm", "rate = 50", true),
        ("stop-slow", "rate = 1", false),
    ] {
        let (took, others) = stop_one(bin, work, name, limits, storm).await;
        let case = if storm {
            "SIGINT in a storm of 429s (Retry-After 30 s), rate 50, 300 rows"
        } else {
            "SIGINT at a pace of 1/s, 300 rows"
        };
        figures.push(Figure::at_most(case, took, "s until the run ended", 2.0));
        figures.push(Figure::at_most(
            case,
            others,
            "rows neither created, NOT_ATTEMPTED, nor saying the run stopped",
            0.0,
        ));
    }
    figures
}

/// One run of [`stop`]: seconds from the signal to the exit, and the rows it left otherwise.
async fn stop_one(bin: &Path, work: &Path, name: &str, limits: &str, storm: bool) -> (f64, f64) {
    let sandbox = start_sandbox(SandboxOptions {
        storm: storm.then_some(Storm {
            after_requests: 10,
            lasting: Duration::from_secs(600),
        }),
        retry_after: Some(Duration::from_secs(30)),
        ..SandboxOptions::default()
    })
    .await;
    let input = work.join(format!("{name}.csv"));
    write_input(&input, 300);
    let config = write_config(work, name, &sandbox, CREATE, limits);
    let out = work.join(format!("{name}-out"));
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "run",
        path_text(&input),
        "--config",
        path_text(&config),
        "--out",
    ];
    let mut child = launch::command(bin, work, Some(&secret_of(&sandbox)), &args)
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Into the wait: the storm has begun, or the pace has let a few requests go.
    while if storm {
        sandbox.tally().throttled_429 < 1
    } else {
        sandbox.tally().requests < 3
    } {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    let pid = child.id().expect("still running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-s", "INT", &pid])
        .status();
    assert!(killed.expect("kill runs").success());
    let status = child.wait().await.expect("the run ends");
    let took = signalled.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(3), "{name}: a stopped run exits 3");
    sandbox.shutdown().await;
    let results = out.join("results.csv");
    (took, rows_coded_otherwise(&results, &["NOT_ATTEMPTED"]))
}

/// Rows of `results` neither `created`, nor failed with one of `codes`, nor saying that the
/// run stopped before they were tried again (docs/codes.md: a row tried and refused in a way a
/// retry may mend keeps its last answer), read by column name.
fn rows_coded_otherwise(results: &Path, codes: &[&str]) -> f64 {
    let mut reader = csv::Reader::from_path(results).expect("results.csv");
    let headers = reader.headers().expect("a header").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (outcome, code) = (column("outcome"), column("error_code"));
    let message = column("error_message");
    let rows = reader.records().map(|r| r.expect("a record"));
    rows.filter(|r| {
        let stopped = r[message].contains("the run stopped before this row was tried again");
        &r[outcome] != "created" && !codes.contains(&&r[code]) && !stopped
    })
    .count() as f64
}

/// An API address that answers one look (a run's first: any answer shows the host is there)
/// and then refuses every connection, as an API host lost once the run has begun.
pub fn api_gone_after_one_look() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}/v1", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let answer = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(answer.as_bytes());
        }
        // The listener ends with the thread: its port refuses from now on.
    });
    url
}
