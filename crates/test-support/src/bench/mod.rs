//! The benchmark's cases, shared by `cargo bench --bench throughput` (full sizes, release
//! build) and the CI smoke test (tiny sizes): generate the input, run the real binary against
//! the in-process sandbox, and report figures. Nothing here asserts a time.

pub mod memory;
pub mod pace;
pub mod progress;
pub mod report;
pub mod usernames;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};

use crate::launch;

/// Sizes for one benchmark run.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub dry_run_rows: usize,
    pub live_rows: usize,
    /// How long the rate cases run.
    pub rate_seconds: u64,
    pub rate: u32,
    /// How long the storm case's storm of 429s lasts.
    pub storm_seconds: u64,
    /// The first backoff of the unreachable case, in milliseconds.
    pub unreachable_backoff_ms: u64,
    /// Records of 500 KB in the memory case's file of large records.
    pub large_rows: usize,
    /// The file the SIGINT cases stop in the middle of.
    pub sigint_rows: usize,
    /// Username rows (one user each) whose requests per row are counted.
    pub lookup_rows: usize,
    /// Username rows run at 50/s by this build and the baseline build.
    pub rate_bound_rows: usize,
    /// The live run whose peak memory is held flat (and a tenth of it).
    pub live_memory_rows: usize,
    /// A previous build (`--baseline-bin PATH`) the cases that compare builds run beside
    /// this one, on the same input in the same bench run.
    pub baseline_bin: Option<PathBuf>,
}

impl Sizes {
    pub fn full() -> Self {
        Self {
            dry_run_rows: 1_000_000,
            live_rows: 50_000,
            rate_seconds: 60,
            rate: 200,
            storm_seconds: 8,
            unreachable_backoff_ms: 200,
            large_rows: 2_000,
            sigint_rows: 3_000_000,
            lookup_rows: 2_000,
            rate_bound_rows: 10_000,
            live_memory_rows: 1_000_000,
            baseline_bin: None,
        }
    }

    pub fn smoke() -> Self {
        Self {
            dry_run_rows: 2_000,
            live_rows: 300,
            rate_seconds: 2,
            rate: 50,
            storm_seconds: 1,
            unreachable_backoff_ms: 20,
            large_rows: 20,
            sigint_rows: 2_000,
            lookup_rows: 200,
            rate_bound_rows: 20,
            live_memory_rows: 2_000,
            baseline_bin: None,
        }
    }
}

/// One measured figure and the target it is held to (`met` is None for a figure that
/// explains a bound rather than meets a target).
#[derive(Debug, Clone)]
pub struct Figure {
    pub case: String,
    pub measured: f64,
    pub unit: &'static str,
    pub target: String,
    pub met: Option<bool>,
}

impl Figure {
    fn at_least(case: &str, measured: f64, unit: &'static str, target: f64) -> Self {
        Self {
            case: case.into(),
            measured,
            unit,
            target: format!(">= {} {unit}", show(target)),
            met: Some(measured >= target),
        }
    }

    fn bound(case: &str, measured: f64, unit: &'static str) -> Self {
        Self {
            case: case.into(),
            measured,
            unit,
            target: "(explains a bound)".into(),
            met: None,
        }
    }

    fn at_most(case: &str, measured: f64, unit: &'static str, target: f64) -> Self {
        Self {
            case: case.into(),
            measured,
            unit,
            target: format!("<= {} {unit}", show(target)),
            met: Some(measured <= target),
        }
    }
}

/// A target as a person writes it: whole numbers without decimals, 2.7 as 2.7, 2.63 as 2.63.
fn show(target: f64) -> String {
    let text = format!("{target:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn print_table(figures: &[Figure]) {
    println!("| case | measured | target | met |");
    println!("|---|---|---|---|");
    for f in figures {
        // Small figures (requests per row, ratios) need the second decimal.
        let decimals = if f.measured.abs() < 10.0 { 2 } else { 1 };
        println!(
            "| {} | {:.*} {} | {} | {} |",
            f.case,
            decimals,
            f.measured,
            f.unit,
            f.target,
            match f.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
        );
    }
}

fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn phone(i: usize) -> String {
    format!("+1512{}{:04}", 200 + (i / 10_000) % 800, i % 10_000)
}

/// `rows` rows, a mix of the four types and phone spellings, each row its own device.
pub fn write_input(path: &Path, rows: usize) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create input");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "user_id,type,phone,email,nickname").unwrap();
    for i in 0..rows {
        let id = user_id(i);
        let p = phone(i);
        match i % 4 {
            0 => writeln!(out, "{id},SMS,{p},,Mobile"),
            1 => writeln!(
                out,
                "{id},VOICE,\"+1 ({}) {}-{}\",,Desk",
                &p[2..5],
                &p[5..8],
                &p[8..]
            ),
            2 => writeln!(out, "{id},EMAIL,,user{i}@example.com,Work"),
            _ => writeln!(out, "{id},WHATSAPP,{}.{},,Chat", &p[..2], &p[2..]),
        }
        .unwrap();
    }
}

/// What one run of the binary took.
pub struct Measured {
    pub code: i32,
    pub wall: Duration,
    pub peak_rss_kb: u64,
    pub stderr: String,
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs the binary, sampling its peak resident memory (VmHWM) until it exits.
pub async fn run_binary(bin: &Path, dir: &Path, secret: &str, args: &[&str]) -> Measured {
    let started = Instant::now();
    let mut child = launch::command(bin, dir, Some(secret), args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let pid = child.id().expect("pid");
    let stderr = child.stderr.take().expect("stderr");
    let reading = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        tokio::select! {
            status = child.wait() => break status.expect("wait"),
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    };
    Measured {
        code: status.code().unwrap_or(-1),
        wall: started.elapsed(),
        peak_rss_kb: peak,
        stderr: reading.await.unwrap_or_default(),
    }
}

async fn start_sandbox(options: SandboxOptions) -> Sandbox {
    Sandbox::start(([127, 0, 0, 1], 0).into(), options)
        .await
        .expect("sandbox")
}

/// `{name}.toml` in `dir`, pointing at `sandbox`: cases that run side by side each have one.
fn write_config(dir: &Path, name: &str, sandbox: &Sandbox, enroll: &str, limits: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let enroll = crate::with_mfa_choice(enroll);
    let text = format!("{}{enroll}\n[limits]\n{limits}\n", sandbox.config_snippet());
    std::fs::write(&path, text).expect("config");
    path
}

fn secret_of(sandbox: &Sandbox) -> String {
    sandbox.options().client_secret.expose().to_string()
}

fn check(measured: &Measured, case: &str) {
    if measured.code != 0 {
        panic!(
            "{case}: the run exited {}:\n{}",
            measured.code, measured.stderr
        );
    }
}

/// One live case: `rows` generated rows, run against `sandbox` with the given `[enroll]` and
/// `[limits]` lines, into a fresh output directory named after the case.
async fn run_against(
    bin: &Path,
    work: &Path,
    sandbox: &Sandbox,
    name: &str,
    rows: usize,
    enroll: &str,
    limits: &str,
) -> Measured {
    let input = work.join(format!("{name}.csv"));
    write_input(&input, rows);
    let config = write_config(work, name, sandbox, enroll, limits);
    let measured = run_named(bin, work, &secret_of(sandbox), &input, &config, name, &[]).await;
    check(&measured, name);
    measured
}

/// `run INPUT --config CONFIG --quiet --out {name}-out` and `extra`, into a fresh directory.
async fn run_named(
    bin: &Path,
    work: &Path,
    secret: &str,
    input: &Path,
    config: &Path,
    name: &str,
    extra: &[&str],
) -> Measured {
    let out = work.join(format!("{name}-out"));
    let _ = std::fs::remove_dir_all(&out);
    let mut args = vec![
        "run",
        path_text(input),
        "--config",
        path_text(config),
        "--quiet",
        "--out",
        path_text(&out),
    ];
    args.extend_from_slice(extra);
    run_binary(bin, work, secret, &args).await
}

/// summary.json of the run `run_named` ran as `name`.
fn summary_of(work: &Path, name: &str) -> serde_json::Value {
    let path = work.join(format!("{name}-out")).join("summary.json");
    let text = std::fs::read_to_string(&path).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json parses")
}

/// The baseline a dry run is held to: one `csv` crate pass over the file that touches every
/// field, in this process, on the same file, just before the run.
fn plain_csv_read(input: &Path) -> Duration {
    let started = Instant::now();
    let mut reader = csv::Reader::from_path(input).expect("the input");
    let mut record = csv::ByteRecord::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    while reader.read_byte_record(&mut record).expect("a record") {
        rows += 1;
        bytes += record.iter().map(|field| field.len() as u64).sum::<u64>();
    }
    assert!(rows > 0 && bytes > 0);
    started.elapsed()
}

/// The issue's own yardstick: Python's csv module over the same file, touching every field.
/// `None` where there is no python3.
fn python_csv_read(input: &Path) -> Option<Duration> {
    const SCRIPT: &str = "import csv, sys, time\n\
        started = time.perf_counter()\n\
        with open(sys.argv[1], newline='') as f:\n    \
            total = sum(len(field) for row in csv.reader(f) for field in row)\n\
        print(time.perf_counter() - started)";
    let output = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(input)
        .output()
        .ok()?;
    let seconds: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .ok()?;
    output
        .status
        .success()
        .then(|| Duration::from_secs_f64(seconds))
}

/// An offline dry run of `input` (`rows` rows): its rows/s, its time against a plain CSV read
/// of the same file, and its peak memory.
async fn dry_run_figures(
    bin: &Path,
    work: &Path,
    input: &Path,
    rows: usize,
    case: &str,
) -> Vec<Figure> {
    let baseline = plain_csv_read(input);
    let out = work.join("dry-out");
    let _ = std::fs::remove_dir_all(&out);
    let m = run_binary(
        bin,
        work,
        "",
        &[
            "run",
            path_text(input),
            "--dry-run",
            "--sandbox",
            "--quiet",
            "--out",
            path_text(&out),
        ],
    )
    .await;
    check(&m, case);
    let rows = rows as f64;
    let python = python_csv_read(input).map(|python| {
        Figure::bound(
            &format!("{case}: the dry run against Python's csv module on the same file"),
            m.wall.as_secs_f64() / python.as_secs_f64(),
            "times",
        )
    });
    let mut figures = vec![
        Figure::bound(
            &format!("{case}: baseline, a plain csv read"),
            rows / baseline.as_secs_f64(),
            "rows/s",
        ),
        Figure::at_least(case, rows / m.wall.as_secs_f64(), "rows/s", 250_000.0),
        Figure::at_most(
            case,
            m.wall.as_secs_f64() / baseline.as_secs_f64(),
            "times the baseline",
            3.0,
        ),
        Figure::at_most(case, m.peak_rss_kb as f64 / 1024.0, "MB peak RSS", 64.0),
    ];
    figures.extend(python);
    figures
}

/// Offline dry run of the four-type mix: rows per second and peak memory.
pub async fn offline_dry_run(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let input = work.join("dry.csv");
    write_input(&input, sizes.dry_run_rows);
    let case = format!(
        "offline dry run, four-type mix, {} rows",
        sizes.dry_run_rows
    );
    dry_run_figures(bin, work, &input, sizes.dry_run_rows, &case).await
}

/// Two rows in three SMS spelled `+1 (512) 555-0123`, one in three EMAIL: the mix a new user
/// measured (issue 16). Every number is distinct, so nothing is saved by repetition.
pub fn write_sms_email_mix(path: &Path, rows: usize) {
    use std::io::Write;
    let file = std::fs::File::create(path).expect("create input");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "user_id,type,phone,email").unwrap();
    for i in 0..rows {
        let (id, p) = (user_id(i), phone(i));
        match i % 3 {
            2 => writeln!(out, "{id},EMAIL,,user{i}@example.com"),
            _ => writeln!(out, "{id},SMS,+1 ({}) {}-{},", &p[2..5], &p[5..8], &p[8..]),
        }
        .unwrap();
    }
}

pub async fn offline_dry_run_sms_email(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let input = work.join("dry-sms-email.csv");
    write_sms_email_mix(&input, sizes.dry_run_rows);
    let case = format!(
        "offline dry run, 2/3 SMS +1 (512) 555-0123, 1/3 EMAIL, {} rows",
        sizes.dry_run_rows
    );
    dry_run_figures(bin, work, &input, sizes.dry_run_rows, &case).await
}

/// Memory stays flat with size: the same mix at ten times the rows.
pub async fn offline_dry_run_flat(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let rows = sizes.dry_run_rows * 10;
    let input = work.join("dry-flat.csv");
    write_sms_email_mix(&input, rows);
    let case = format!("offline dry run, 2/3 SMS, 1/3 EMAIL, {rows} rows");
    let figures = dry_run_figures(bin, work, &input, rows, &case).await;
    let _ = std::fs::remove_file(&input);
    figures
}

/// An online dry run of `rows` rows of the four-type mix, one user each, against `sandbox`:
/// its peak memory, measured as the offline dry run's is.
async fn online_dry_run_at(bin: &Path, work: &Path, sandbox: &Sandbox, rows: usize) -> Measured {
    let input = work.join(format!("online-{rows}.csv"));
    write_input(&input, rows);
    let config = write_config(
        work,
        "online",
        sandbox,
        "",
        "rate = 1000000\nconcurrency = 64",
    );
    let secret = secret_of(sandbox);
    let online = ["--dry-run", "--online"];
    let measured = run_named(bin, work, &secret, &input, &config, "online", &online).await;
    check(&measured, "online dry run");
    let _ = std::fs::remove_file(&input);
    measured
}

/// Online dry run: peak memory at a quarter of the rows and at all of them, and how much it
/// grew between (flat: what is kept per user goes with the user's last row). The sandbox runs
/// in this process, so the binary's memory is its own.
pub async fn online_dry_run(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let sandbox = start_sandbox(SandboxOptions::default()).await;
    let (few, many) = (sizes.dry_run_rows / 4, sizes.dry_run_rows);
    let quarter = online_dry_run_at(bin, work, &sandbox, few).await;
    let whole = online_dry_run_at(bin, work, &sandbox, many).await;
    sandbox.shutdown().await;
    let mb = |m: &Measured| m.peak_rss_kb as f64 / 1024.0;
    let case = format!("online dry run, four-type mix, {many} rows, one user each");
    vec![
        Figure::bound(
            &format!("{case}: throughput against the sandbox"),
            many as f64 / whole.wall.as_secs_f64(),
            "rows/s",
        ),
        Figure::bound(
            &format!("{case}: at {few} rows"),
            mb(&quarter),
            "MB peak RSS",
        ),
        Figure::at_most(&case, mb(&whole), "MB peak RSS", 64.0),
        Figure::at_most(
            &format!("{case}: growth from {few} rows"),
            mb(&whole) - mb(&quarter),
            "MB",
            8.0,
        ),
    ]
}

/// Live run on loopback, no rate limit, concurrency 64, existence check on.
pub async fn live_unlimited(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let sandbox = start_sandbox(SandboxOptions {
        max_devices: 15,
        ..SandboxOptions::default()
    })
    .await;
    let m = run_against(
        bin,
        work,
        &sandbox,
        "live",
        sizes.live_rows,
        "on_existing = \"skip\"",
        "rate = 1000000\nconcurrency = 64",
    )
    .await;
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created as usize, sizes.live_rows);
    sandbox.shutdown().await;
    let case = format!(
        "live run, {} rows, no rate limit, concurrency 64, skip on",
        sizes.live_rows
    );
    vec![Figure::at_least(
        &case,
        sizes.live_rows as f64 / m.wall.as_secs_f64(),
        "rows/s",
        5_000.0,
    )]
}

/// The request floor: one device read and one MFA switch (`--enable-mfa`: a PUT) per user
/// (not per row), one look-up per distinct username, one POST per device. Users have four
/// devices each, their rows spread through the file, half of them named by username.
pub async fn requests_floor(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    use std::io::Write;
    let rows = (sizes.live_rows / 5).max(40);
    let users = rows / 4;
    let input = work.join("floor.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&input).expect("create input"));
    writeln!(out, "user_id,username,type,phone").unwrap();
    for i in 0..rows {
        let user = i % users;
        let (id, name) = if user.is_multiple_of(2) {
            (String::new(), format!("floor-user-{user}"))
        } else {
            (user_id(user), String::new())
        };
        writeln!(out, "{id},{name},SMS,{}", phone(i)).unwrap();
    }
    drop(out);
    let sandbox = start_sandbox(SandboxOptions {
        max_devices: 15,
        ..SandboxOptions::default()
    })
    .await;
    let config = write_config(
        work,
        "floor",
        &sandbox,
        "on_existing = \"skip\"\nenable_mfa = true",
        "rate = 1000000\nconcurrency = 64",
    );
    let secret = secret_of(&sandbox);
    let measured = run_named(bin, work, &secret, &input, &config, "floor", &[]).await;
    check(&measured, "floor");
    sandbox.shutdown().await;
    let summary = summary_of(work, "floor");
    let sent = summary["requests"]["total"].as_u64().unwrap_or(0) as f64;
    let puts = summary["requests"]["put"].as_u64().unwrap_or(0);
    assert_eq!(puts, users as u64, "floor: one MFA switch per user");
    let usernames = users.div_ceil(2);
    // A device read and a switch's PUT per user (every user starts off), a look-up per batch
    // of 100 usernames (the tool's batch), a switch read per user named by ID (the look-up
    // carries a username's: a PUT goes only where the switch is off), a POST per device, and
    // the new-device notices' guard's read of the one policy.
    let by_id = users - usernames;
    let floor = (2 * users + usernames.div_ceil(100) + by_id + rows + 1) as f64;
    let case = format!(
        "request floor, {rows} rows, {users} users (4 devices each, half by username), skip on, MFA switched on"
    );
    vec![
        Figure::bound(
            &format!("{case}: the floor"),
            floor / rows as f64,
            "requests per row",
        ),
        Figure::at_most(
            &case,
            sent / rows as f64,
            "requests per row",
            floor / rows as f64,
        ),
    ]
}

/// Requests per second the sandbox saw between its first and last arrival.
fn arrival_rate(sandbox: &Sandbox, skip_first: Duration) -> f64 {
    let arrivals = sandbox.arrivals();
    let Some(first) = arrivals.first().map(|a| a.at) else {
        return 0.0;
    };
    let from = first + skip_first;
    let kept: Vec<Duration> = arrivals
        .iter()
        .map(|a| a.at)
        .filter(|t| *t >= from)
        .collect();
    match (kept.first(), kept.last()) {
        (Some(a), Some(b)) if b > a => (kept.len() - 1) as f64 / (*b - *a).as_secs_f64(),
        _ => 0.0,
    }
}

/// The rate cases send one request per row: no existence check.
const CREATE: &str = "on_existing = \"create\"";

/// Rows that take `seconds` at `rate` requests per second, one request each (create mode).
fn rows_for(rate: f64, seconds: u64) -> usize {
    (rate * seconds as f64).ceil() as usize
}

/// Sandbox limited to R, tool configured to R: the share of R sustained, and 429s.
pub async fn rate_precision(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let rate = sizes.rate;
    let sandbox = start_sandbox(SandboxOptions {
        rate: Some(rate),
        record_arrivals: true,
        ..SandboxOptions::default()
    })
    .await;
    let rows = rows_for(f64::from(rate), sizes.rate_seconds);
    let limits = format!("rate = {rate}\nconcurrency = 16");
    run_against(bin, work, &sandbox, "rate", rows, CREATE, &limits).await;
    let achieved = arrival_rate(&sandbox, Duration::ZERO);
    let tally = sandbox.tally();
    let peak = sandbox.max_requests_in_any_second();
    sandbox.shutdown().await;
    let case = format!(
        "rate precision, server and tool at {rate}/s, {} s",
        sizes.rate_seconds
    );
    vec![
        Figure::at_least(&case, 100.0 * achieved / f64::from(rate), "% of R", 97.0),
        Figure::at_most(&case, tally.throttled_429 as f64, "429s", 0.0),
        Figure::at_most(
            &case,
            peak as f64,
            "requests in the busiest second",
            f64::from(rate),
        ),
    ]
}

/// 100 ms of latency, concurrency 32: requests per second against 320.
pub async fn latency_hiding(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let sandbox = start_sandbox(SandboxOptions {
        latency: Duration::from_millis(100),
        record_arrivals: true,
        ..SandboxOptions::default()
    })
    .await;
    let rows = rows_for(320.0, sizes.rate_seconds.min(20));
    let limits = "rate = 1000\nconcurrency = 32";
    run_against(bin, work, &sandbox, "latency", rows, CREATE, limits).await;
    let achieved = arrival_rate(&sandbox, Duration::ZERO);
    sandbox.shutdown().await;
    vec![Figure::at_least(
        "latency hiding, 100 ms per request, concurrency 32",
        achieved,
        "requests/s",
        288.0,
    )]
}

/// Requests per second the sandbox accepted (answered other than 429) over the whole run.
fn accepted_rate(sandbox: &Sandbox) -> f64 {
    let accepted: Vec<Duration> = sandbox
        .arrivals()
        .iter()
        .filter(|a| !a.answered_429)
        .map(|a| a.at)
        .collect();
    match (accepted.first(), accepted.last()) {
        (Some(a), Some(b)) if b > a => (accepted.len() - 1) as f64 / (*b - *a).as_secs_f64(),
        _ => 0.0,
    }
}

/// The largest single cost of a dry run: phone normalisation (libphonenumber's parse,
/// validity and E.164), on one thread and on two.
pub async fn phone_validation_bound(sizes: &Sizes) -> Vec<Figure> {
    let count = (sizes.dry_run_rows / 5).max(1_000);
    let validate = move |offset: usize| {
        (0..count)
            .filter(|i| {
                let n = phone(i + offset);
                mfa_enroll::validate::phone::normalize(&n, None).is_ok()
            })
            .count()
    };
    let one = tokio::task::spawn_blocking(move || {
        validate(0);
        let started = Instant::now();
        assert_eq!(validate(0), count);
        count as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .expect("the one-thread run");
    let two = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let threads: Vec<_> = (0..2)
            .map(|k| std::thread::spawn(move || validate(k * count)))
            .collect();
        for t in threads {
            t.join().expect("a validation thread");
        }
        (2 * count) as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .expect("the two-thread run");
    vec![
        Figure::bound(
            "phone normalisation (parse, validate, E.164), US numbers, 1 thread",
            one,
            "numbers/s",
        ),
        Figure::bound(
            "phone normalisation (parse, validate, E.164), US numbers, 2 threads",
            two,
            "numbers/s",
        ),
    ]
}

/// Past one process's rate: N shards at the same per-shard rate R, side by side against one
/// sandbox, against one process at R, on the same input (one request per row).
pub async fn shards_side_by_side(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    const SHARDS: u32 = 3;
    let rate = sizes.rate;
    let rows = rows_for(f64::from(rate), (sizes.rate_seconds / 2).max(1));
    let limits = format!("rate = {rate}\nconcurrency = 16");
    let whole_sandbox = start_sandbox(SandboxOptions::default()).await;
    let whole = run_against(
        bin,
        work,
        &whole_sandbox,
        "shards-whole",
        rows,
        CREATE,
        &limits,
    )
    .await;
    whole_sandbox.shutdown().await;

    let sandbox = start_sandbox(SandboxOptions::default()).await;
    let input = work.join("shards.csv");
    write_input(&input, rows);
    let config = write_config(work, "shards", &sandbox, CREATE, &limits);
    let secret = secret_of(&sandbox);
    let outs: Vec<PathBuf> = (0..SHARDS)
        .map(|k| work.join(format!("shard-{k}")))
        .collect();
    let started = Instant::now();
    let runs = (0..SHARDS).map(|k| {
        let _ = std::fs::remove_dir_all(&outs[k as usize]);
        let shard = format!("{k}/{SHARDS}");
        let args: Vec<String> = [
            "run",
            path_text(&input),
            "--config",
            path_text(&config),
            "--quiet",
            "--shard",
            &shard,
            "--out",
            path_text(&outs[k as usize]),
        ]
        .map(str::to_string)
        .into();
        let secret = secret.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_binary(bin, work, &secret, &args).await
        }
    });
    for measured in futures::future::join_all(runs).await {
        check(&measured, "shards");
    }
    let sharded_wall = started.elapsed();
    assert_eq!(
        sandbox.tally().devices_created,
        rows as u64,
        "every row once"
    );
    sandbox.shutdown().await;
    merge_shards(bin, work, &outs);

    let one = rows as f64 / whole.wall.as_secs_f64();
    let three = rows as f64 / sharded_wall.as_secs_f64();
    let case = format!("{rows} rows, {rate}/s per process");
    vec![
        Figure::bound(&format!("{case}: one process"), one, "rows/s"),
        Figure::bound(&format!("{case}: {SHARDS} shards at once"), three, "rows/s"),
        Figure::at_least(
            &format!("{case}: {SHARDS} shards against one"),
            three / one,
            "times",
            0.9 * f64::from(SHARDS),
        ),
    ]
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// The shards merge into one record (the bench checks what it measured is whole).
fn merge_shards(bin: &Path, work: &Path, outs: &[PathBuf]) {
    let merged = work.join("shards-merged");
    let _ = std::fs::remove_dir_all(&merged);
    let mut command = std::process::Command::new(bin);
    command.arg("merge").args(outs).arg("--out").arg(&merged);
    let output = command.output().expect("merge runs");
    assert!(
        output.status.success(),
        "merge: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub async fn run_one(name: &str, bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    match name {
        "dry" => offline_dry_run(bin, work, sizes).await,
        "dry-mix" => offline_dry_run_sms_email(bin, work, sizes).await,
        "dry-flat" => offline_dry_run_flat(bin, work, sizes).await,
        "online" => online_dry_run(bin, work, sizes).await,
        "live" => live_unlimited(bin, work, sizes).await,
        "rate" => rate_precision(bin, work, sizes).await,
        "latency" => latency_hiding(bin, work, sizes).await,
        "throttled" => pace::throttled_grid(bin, work, sizes).await,
        "storm" => pace::storm(bin, work, sizes).await,
        "auto" => pace::auto_concurrency(bin, work, sizes).await,
        "plan" => pace::throttled_plan(bin, work, sizes).await,
        "unreachable" => pace::unreachable(bin, work, sizes).await,
        "stop" => pace::stop(bin, work, sizes).await,
        "phone" => phone_validation_bound(sizes).await,
        "shards" => shards_side_by_side(bin, work, sizes).await,
        "floor" => requests_floor(bin, work, sizes).await,
        "usernames" => usernames::username_requests(bin, work, sizes).await,
        "rate-bound" => usernames::rate_bound(bin, work, sizes).await,
        "live-memory" => memory::live(bin, work, sizes).await,
        "timeline" => report::timeline_size(),
        "order" => report::line_order(work, sizes).await,
        "eta" => progress::estimate(bin, work, sizes).await,
        "shapes" => memory::shapes(bin, work, sizes).await,
        "sigint" => memory::sigint(bin, work, sizes).await,
        other => panic!("no case {other:?}: dry, dry-mix, dry-flat, online, phone, live, floor, usernames, rate-bound, live-memory, rate, latency, throttled, storm, auto, plan, unreachable, stop, shards, timeline, order, eta, shapes, sigint"),
    }
}

pub async fn run_all(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let mut figures = Vec::new();
    figures.extend(offline_dry_run(bin, work, sizes).await);
    figures.extend(offline_dry_run_sms_email(bin, work, sizes).await);
    figures.extend(offline_dry_run_flat(bin, work, sizes).await);
    figures.extend(online_dry_run(bin, work, sizes).await);
    figures.extend(phone_validation_bound(sizes).await);
    figures.extend(live_unlimited(bin, work, sizes).await);
    figures.extend(requests_floor(bin, work, sizes).await);
    figures.extend(usernames::username_requests(bin, work, sizes).await);
    figures.extend(usernames::rate_bound(bin, work, sizes).await);
    figures.extend(rate_precision(bin, work, sizes).await);
    figures.extend(latency_hiding(bin, work, sizes).await);
    figures.extend(pace::throttled_grid(bin, work, sizes).await);
    figures.extend(pace::storm(bin, work, sizes).await);
    figures.extend(pace::auto_concurrency(bin, work, sizes).await);
    figures.extend(pace::throttled_plan(bin, work, sizes).await);
    figures.extend(pace::unreachable(bin, work, sizes).await);
    figures.extend(pace::stop(bin, work, sizes).await);
    figures.extend(shards_side_by_side(bin, work, sizes).await);
    figures.extend(report::timeline_size());
    figures.extend(report::line_order(work, sizes).await);
    figures.extend(progress::estimate(bin, work, sizes).await);
    figures.extend(memory::shapes(bin, work, sizes).await);
    figures.extend(memory::sigint(bin, work, sizes).await);
    figures.extend(memory::live(bin, work, sizes).await);
    figures
}
