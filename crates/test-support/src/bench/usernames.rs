//! The bench's cases for issue 36 (fewer requests per row): rows named by username, half of
//! their users switched off, `--enable-mfa`. `username_requests` counts what the sandbox
//! received, by kind, beside the floor; `rate_bound` runs the same shape of input paced at
//! 50/s against a server that allows 50/s, for this build and, given `--baseline-bin`, a
//! previous build side by side, each against its own sandbox, so the two wall times come
//! from the same bench run.

use std::io::Write;
use std::path::Path;

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions, Tally};

use super::{
    check, phone, run_named, secret_of, start_sandbox, user_id, write_config, Figure, Measured,
    Sizes,
};

/// Rows per username look-up the floor allows: PingOne's filter takes 20 names.
const NAMES_PER_LOOKUP: usize = 20;

/// The rate the rate-bound case's tool and server both keep.
const RATE_BOUND: u32 = 50;

fn username(i: usize) -> String {
    format!("bench-user-{i}")
}

/// `rows` SMS rows, one per user, each named by username only.
fn write_username_input(path: &Path, rows: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create input"));
    writeln!(out, "username,type,phone").unwrap();
    for i in 0..rows {
        writeln!(out, "{},SMS,{}", username(i), phone(i)).unwrap();
    }
    out.flush().unwrap();
}

/// A sandbox that knows exactly `users` users by username, the even ones with their MFA
/// switch off (as PingOne creates users), the odd ones on.
async fn username_sandbox(users: usize, rate: Option<u32>) -> Sandbox {
    let directory = Directory::listed((0..users).map(|i| (user_id(i), username(i))))
        .with_mfa_on((0..users).filter(|i| i % 2 == 1).map(user_id));
    start_sandbox(SandboxOptions {
        directory,
        rate,
        ..SandboxOptions::default()
    })
    .await
}

/// Users the sandbox starts with their switch off (the even ones).
fn off_users(users: usize) -> usize {
    users.div_ceil(2)
}

/// The floor: a POST and a device read per row, a switch for each user that is off,
/// one look-up per 20 names.
fn floor(rows: usize) -> usize {
    2 * rows + off_users(rows) + rows.div_ceil(NAMES_PER_LOOKUP)
}

/// What one run asked the sandbox, checked whole: one device per row, no duplicate, one
/// switch per user that was off.
fn checked_tally(sandbox: &Sandbox, rows: usize, case: &str) -> Tally {
    let tally = sandbox.tally();
    assert_eq!(
        tally.devices_created as usize, rows,
        "{case}: a device per row"
    );
    assert_eq!(tally.duplicate_devices, 0, "{case}: no device twice");
    assert_eq!(
        tally.mfa_switch_puts as usize,
        off_users(rows),
        "{case}: a switch for each user that was off"
    );
    assert_eq!(
        tally.users_with_device_mfa_off, 0,
        "{case}: nobody left off"
    );
    tally
}

/// GETs: what is neither a POST nor a PUT nor a DELETE.
fn gets(tally: &Tally) -> u64 {
    tally.requests - tally.posts - tally.mfa_switch_puts - tally.devices_deleted
}

const ENROLL: &str = "on_existing = \"skip\"\nenable_mfa = true";

/// Requests per row for username rows, by kind, against the floor.
pub async fn username_requests(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let rows = sizes.lookup_rows;
    let input = work.join("usernames.csv");
    write_username_input(&input, rows);
    let sandbox = username_sandbox(rows, None).await;
    let limits = "rate = 1000000\nconcurrency = 64";
    let config = write_config(work, "usernames", &sandbox, ENROLL, limits);
    let secret = secret_of(&sandbox);
    let measured = run_named(bin, work, &secret, &input, &config, "usernames", &[]).await;
    check(&measured, "usernames");
    let tally = checked_tally(&sandbox, rows, "usernames");
    sandbox.shutdown().await;
    let per_row = |n: u64| n as f64 / rows as f64;
    let case = format!(
        "username rows: {rows} rows, {rows} users by username, half switched off, skip on, MFA switched on"
    );
    vec![
        Figure::bound(
            &format!("{case}: the floor (rows x 2 + users off + one look-up per 20 names)"),
            floor(rows) as f64 / rows as f64,
            "requests per row",
        ),
        Figure::at_most(&case, per_row(tally.requests), "requests per row", 2.63),
        Figure::bound(&format!("{case}: GETs"), per_row(gets(&tally)), "per row"),
        Figure::bound(&format!("{case}: POSTs"), per_row(tally.posts), "per row"),
        Figure::bound(
            &format!("{case}: PUTs"),
            per_row(tally.mfa_switch_puts),
            "per row",
        ),
    ]
}

/// One build's rate-bound run, against its own sandbox at 50/s: what it took, and the
/// requests it sent.
async fn rate_bound_run(
    bin: &Path,
    work: &Path,
    name: &str,
    input: &Path,
    rows: usize,
) -> (Measured, Tally) {
    let sandbox = username_sandbox(rows, Some(RATE_BOUND)).await;
    let limits = format!("rate = {RATE_BOUND}\nconcurrency = 16");
    let config = write_config(work, name, &sandbox, ENROLL, &limits);
    let secret = secret_of(&sandbox);
    let measured = run_named(bin, work, &secret, input, &config, name, &[]).await;
    check(&measured, name);
    let tally = checked_tally(&sandbox, rows, name);
    sandbox.shutdown().await;
    (measured, tally)
}

/// Username rows paced at 50/s by a server that allows 50/s: the wall time is the requests
/// per row made visible. With `sizes.baseline_bin`, that build runs the same input at the
/// same time against its own sandbox.
pub async fn rate_bound(bin: &Path, work: &Path, sizes: &Sizes) -> Vec<Figure> {
    let rows = sizes.rate_bound_rows;
    let input = work.join("rate-bound.csv");
    write_username_input(&input, rows);
    let this = rate_bound_run(bin, work, "rate-bound", &input, rows);
    let (this, baseline) = match &sizes.baseline_bin {
        Some(old) => {
            let old = rate_bound_run(old, work, "rate-bound-baseline", &input, rows);
            let (this, old) = futures::future::join(this, old).await;
            (this, Some(old))
        }
        None => (this.await, None),
    };
    let case = format!(
        "rate-bound: {rows} username rows, half switched off, tool and server at {RATE_BOUND}/s"
    );
    let figures_of = |label: &str, (m, tally): &(Measured, Tally)| {
        [
            Figure::bound(&format!("{case}: {label}"), m.wall.as_secs_f64(), "s"),
            Figure::bound(
                &format!("{case}: {label}"),
                tally.requests as f64 / rows as f64,
                "requests per row",
            ),
        ]
    };
    let mut figures = figures_of("this build", &this).to_vec();
    if let (Some(old), Some(path)) = (&baseline, &sizes.baseline_bin) {
        figures.extend(figures_of(&format!("baseline {}", path.display()), old));
        figures.push(Figure::bound(
            &format!("{case}: this build's wall time against the baseline's"),
            this.0.wall.as_secs_f64() / old.0.wall.as_secs_f64(),
            "times",
        ));
    }
    figures
}
