//! The real binary against a hostile server (`server.rs`): answers past their ceilings, a
//! body that trickles for ever, lists that page to themselves, back or away, numbers of any
//! size, a token answer of a gigabyte. Each ends as a row's clear failure or the run's clear
//! stop, never a hang, a panic or unbounded memory. Also: a 503's and the token endpoint's
//! `Retry-After` are waited out, a 503's by every row.

pub mod server;

use std::time::Duration;

use mfa_enroll_test_support::bench::{run_binary, Measured};
use mfa_enroll_test_support::*;
use server::{Behaviour, Create, Devices, Hostile, Token};

/// Runs `run in.csv --config mfa-enroll.toml --out out` plus `extra` against `hostile`, with
/// `rows` rows (one user each) and extra `[limits]` lines; measures the run's peak memory.
pub async fn run_against(
    hostile: &Hostile,
    limits: &str,
    rows: usize,
    extra: &[&str],
) -> (Workspace, Measured) {
    let ws = Workspace::new();
    ws.write("mfa-enroll.toml", &hostile.config(limits));
    ws.write("in.csv", &sms_rows(rows));
    let args = enroll_args("in.csv", "out", extra);
    let run = tokio::time::timeout(
        Duration::from_secs(120),
        run_binary(bin(), ws.dir.path(), server::SECRET, &args),
    )
    .await
    .expect("the run ended instead of hanging");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    (ws, run)
}

fn codes(ws: &Workspace) -> Vec<String> {
    ws.results()
        .iter()
        .map(|r| r["error_code"].clone())
        .collect()
}

const MB: u64 = 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_a_gigabyte_fail_their_rows_in_bounded_memory() {
    // Two device lists of 1 GiB each, read at once (they took 4.2 GB).
    let hostile = Hostile::start(Behaviour {
        devices: Devices::Huge,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "concurrency = 2", 2, &["--quiet"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["ANSWER_TOO_LARGE", "ANSWER_TOO_LARGE"]);
    assert!(ws.results()[0]["error_message"].contains("over 1 MiB"));
    assert!(run.peak_rss_kb < 100 * MB, "{} KB", run.peak_rss_kb);
    assert_eq!(
        Hostile::count(&hostile.counts().posts),
        0,
        "nothing created"
    );
    assert_eq!(
        Hostile::count(&hostile.counts().device_reads),
        2,
        "not retried"
    );

    // A 201 of 1 GiB: PingOne acted, so the row is not a plain failure; the devices are read,
    // and (this server listing none) the row is UNCONFIRMED for --resume to settle.
    let hostile = Hostile::start(Behaviour {
        create: Create::Huge,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 1, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["UNCONFIRMED"]);
    assert!(ws.results()[0]["error_message"].contains("larger than any real answer"));
    assert_eq!(
        Hostile::count(&hostile.counts().posts),
        1,
        "never sent twice"
    );
    assert!(run.peak_rss_kb < 100 * MB, "{} KB", run.peak_rss_kb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_for_ever_is_cut_off_by_the_deadline() {
    let hostile = Hostile::start(Behaviour {
        devices: Devices::Trickle,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "timeout_s = 2\nmax_retries = 1", 1, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["RETRIES_EXHAUSTED"]);
    assert!(run.wall < Duration::from_secs(20), "{:?}", run.wall);
    assert_eq!(Hostile::count(&hostile.counts().device_reads), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_that_page_to_themselves_back_or_away_are_refused() {
    for (devices, code, reads) in [
        (Devices::ToItself, "BAD_NEXT_LINK", 1),
        (Devices::BackToFirst, "BAD_NEXT_LINK", 2),
        (Devices::OtherEnvironment, "BAD_NEXT_LINK", 1),
        (Devices::OtherHost, "BAD_NEXT_LINK", 1),
        (Devices::Endless, "ANSWER_TOO_LARGE", 100),
    ] {
        let hostile = Hostile::start(Behaviour {
            devices,
            ..Behaviour::default()
        })
        .await;
        let (ws, run) = run_against(&hostile, "", 1, &["--quiet"]).await;
        assert_eq!(run.code, 1, "{devices:?}: {}", run.stderr);
        assert_eq!(codes(&ws), [code], "{devices:?}");
        let read = Hostile::count(&hostile.counts().device_reads);
        assert_eq!(read, reads, "{devices:?}: pages read");
        assert_eq!(Hostile::count(&hostile.counts().posts), 0, "{devices:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_of_any_size_from_the_server_never_panic() {
    // The first API answer is a 401, so the token is renewed: each lifetime is read twice.
    for expires_in in [
        "9200000000000000000",
        "18446744073709551616",
        "1e400",
        "-5",
        "\"soon\"",
    ] {
        let hostile = Hostile::start(Behaviour {
            token: Token::Lifetime(expires_in),
            first_answer_401: true,
            ..Behaviour::default()
        })
        .await;
        let (ws, run) = run_against(&hostile, "", 2, &["--quiet"]).await;
        assert_eq!(run.code, 0, "expires_in {expires_in}: {}", run.stderr);
        assert_eq!(codes(&ws), ["", ""], "expires_in {expires_in}");
        // Renewed after the 401; a short lifetime may renew once more.
        assert!(
            Hostile::count(&hostile.counts().tokens) >= 2,
            "{expires_in}"
        );
    }
    // An online dry run reads the device cap, counts and a Retry-After no server should send.
    let hostile = Hostile::start(Behaviour {
        devices: Devices::HugeNumbers,
        max_devices: "1e400",
        first_answer_429: Some("-99999999999999999999"),
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 2, &["--dry-run", "--online"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let outcomes: Vec<String> = ws.results().iter().map(|r| r["outcome"].clone()).collect();
    assert_eq!(outcomes, ["would_create", "would_create"]);
    assert!(ws.summary()["plan"]["max_allowed_devices"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_answer_of_a_gigabyte_stops_the_run() {
    let hostile = Hostile::start(Behaviour {
        token: Token::Huge,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 3, &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let summary = ws.summary();
    assert_eq!(summary["stopped_early"]["code"], "TOKEN_UNUSABLE");
    assert!(summary["stopped_early"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("more than 64 KiB")));
    assert_eq!(Hostile::count(&hostile.counts().api), 0, "nothing sent");
    assert_eq!(Hostile::count(&hostile.counts().tokens), 1, "not retried");
    assert!(run.peak_rss_kb < 100 * MB, "{} KB", run.peak_rss_kb);
}

/// Runs `rows` of `csv` against `hostile` with extra `[limits]` lines.
async fn run_csv(hostile: &Hostile, limits: &str, csv: &str) -> (Workspace, Measured) {
    let ws = Workspace::new();
    ws.write("mfa-enroll.toml", &hostile.config(limits));
    ws.write("in.csv", csv);
    let args = enroll_args("in.csv", "out", &[]);
    let run = tokio::time::timeout(
        Duration::from_secs(120),
        run_binary(bin(), ws.dir.path(), server::SECRET, &args),
    )
    .await
    .expect("the run ended instead of hanging");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    (ws, run)
}

/// Issue #33 item 6: answers are checked against the question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_about_someone_else_is_not_this_rows() {
    // A username look-up whose answer names another username: not that user.
    let hostile = Hostile::start(Behaviour {
        lookup_names: Some("someone.else"),
        ..Behaviour::default()
    })
    .await;
    let csv = "username,type,phone\njdoe,SMS,+15125550100\n";
    let (ws, run) = run_csv(&hostile, "", csv).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["USER_NOT_FOUND"]);
    assert_eq!(Hostile::count(&hostile.counts().posts), 0, "nothing sent");

    // A 201 describing another user's device: not this row's, never sent again.
    let hostile = Hostile::start(Behaviour {
        create: Create::OtherUser,
        devices: Devices::Listed,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "list_lag_s = 1", 1, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["UNCONFIRMED"]);
    let row = &ws.results()[0];
    assert_eq!(row["device_id"], "", "{row:?}");
    assert!(row["error_message"].contains("of another user"), "{row:?}");
    assert_eq!(Hostile::count(&hostile.counts().posts), 1);

    // A 201 without a body: the device is found, and the row says the 201 PingOne sent.
    let hostile = Hostile::start(Behaviour {
        create: Create::NoBody,
        devices: Devices::Listed,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "list_lag_s = 1", 1, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = &ws.results()[0];
    assert_eq!(row["outcome"], "created", "{row:?}");
    assert_eq!(row["http_status"], "201", "{row:?}");
    assert_eq!(Hostile::count(&hostile.counts().posts), 1);
}

/// Issue #33 item 7: the token endpoint's odd answers end in the documented stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_answers_no_token_stops_the_run_soon() {
    // A login page with a 200: a few tries, then TOKEN_UNUSABLE (exit 3), nothing sent.
    let hostile = Hostile::start(Behaviour {
        token: Token::Html,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 20, &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let stopped = &ws.summary()["stopped_early"];
    assert_eq!(stopped["code"], "TOKEN_UNUSABLE", "{stopped}");
    assert!(stopped["reason"]
        .as_str()
        .is_some_and(|r| r.contains("text/html")));
    let tokens = Hostile::count(&hostile.counts().tokens);
    assert!((3..=5).contains(&tokens), "{tokens} token requests");
    assert_eq!(Hostile::count(&hostile.counts().api), 0, "nothing sent");

    // A redirect: a stop naming where it pointed, after one request.
    let hostile = Hostile::start(Behaviour {
        token: Token::Redirect,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 20, &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let stopped = &ws.summary()["stopped_early"];
    assert_eq!(stopped["code"], "TOKEN_UNUSABLE", "{stopped}");
    let reason = stopped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("307") && reason.contains("login.example.com"),
        "{reason}"
    );
    assert_eq!(Hostile::count(&hostile.counts().tokens), 1);

    // Accepts and never answers: unreachable, exit 2, after one request's timeout (not
    // after every row's retries: 571 s with the defaults).
    let hostile = Hostile::start(Behaviour {
        token: Token::Silent,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "timeout_s = 2", 20, &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach the token host"),
        "{}",
        run.stderr
    );
    assert!(!ws.out().join("results.csv").exists(), "nothing recorded");
    assert_eq!(Hostile::count(&hostile.counts().tokens), 1);
}

/// Issue #33 item 5: a list whose pages change while they are read is read again, and one
/// that keeps changing is never trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_changes_while_it_is_paged_is_read_again() {
    // The user already has the row's SMS device, on page 2. Read once, the list shifts under
    // the reader (the TOTP device on page 1 is deleted meanwhile) and page 2 comes back
    // empty: trusted, that read would say the device is not there and send a duplicate.
    let phone = "+15125550100";
    let hostile = Hostile::start(Behaviour {
        devices: Devices::Shifting {
            times: 1,
            phone: Some(phone),
        },
        ..Behaviour::default()
    })
    .await;
    let csv = format!("user_id,type,phone\n{},SMS,{phone}\n", user_id(0));
    let (ws, run) = run_csv(&hostile, "", &csv).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = &ws.results()[0];
    assert_eq!(row["outcome"], "skipped_existing", "{row:?}");
    assert_eq!(row["device_id"], "6b1e0c3a-0000-4000-8000-0000000000c1");
    assert_eq!(Hostile::count(&hostile.counts().posts), 0, "no duplicate");
    assert_eq!(Hostile::count(&hostile.counts().shifts), 1);
    // Both pages, twice: the shifted read, then the whole list again.
    assert_eq!(Hostile::count(&hostile.counts().device_reads), 4);

    // A list that shifts every time it is read, after a POST whose answer was unclear (a 201
    // without a body): read LIST_READS (3) times per try, over 1 retry, then the row stays
    // UNCONFIRMED; the POST is never sent again.
    let hostile = Hostile::start(Behaviour {
        devices: Devices::Shifting {
            times: u64::MAX,
            phone: None,
        },
        create: Create::NoBody,
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "list_lag_s = 0\nmax_retries = 1", 1, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(codes(&ws), ["UNCONFIRMED"]);
    let row = &ws.results()[0];
    assert!(
        row["error_message"].contains("changed while it was read, 3 times in a row"),
        "{row:?}"
    );
    assert_eq!(
        Hostile::count(&hostile.counts().posts),
        1,
        "never sent twice"
    );
    // One page before the POST (the TOTP device alone), then 2 tries x 3 reads x 2 pages.
    assert_eq!(
        Hostile::count(&hostile.counts().device_reads),
        1 + 2 * 3 * 2
    );
}

/// The gap between the first and the second request of `kind` the server saw.
fn first_gap(hostile: &Hostile, kind: &str) -> Duration {
    let times = hostile.counts().arrivals_of(kind);
    assert!(times.len() >= 2, "{kind}: {} requests", times.len());
    times[1] - times[0]
}

/// A 503's `Retry-After` is waited out before the request is sent again, as a 429's: the
/// backoff alone (5 ms) would send it at once. (A lower bound: a loaded machine only waits
/// longer.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503s_retry_after_is_waited_out() {
    let hostile = Hostile::start(Behaviour {
        first_answer_503: Some("2"),
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "", 1, &["--quiet"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(ws.results()[0]["outcome"], "created");
    let gap = first_gap(&hostile, "api");
    assert!(gap >= Duration::from_secs(2), "{gap:?}");
}

/// A 503 with `Retry-After` to one row's request holds every row's requests, as a 429
/// does: of the requests that arrive after it, none but one already on its way comes within
/// its `Retry-After` (a loaded machine only sends them later). Waited out per request only,
/// the other rows' requests went on at the pace, 10 a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503s_retry_after_holds_every_rows_requests() {
    let hostile = Hostile::start(Behaviour {
        nth_answer_503: Some((2, "3")),
        ..Behaviour::default()
    })
    .await;
    let (ws, run) = run_against(&hostile, "rate = 10", 12, &["--quiet"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
    let arrivals = hostile.counts().arrivals_of("api");
    let refused = arrivals[2];
    let within = arrivals[3..]
        .iter()
        .filter(|at| at.duration_since(refused) < Duration::from_secs(3))
        .count();
    assert!(
        within <= 1,
        "{within} requests arrived during the Retry-After"
    );
    assert!(arrivals.len() >= 2 * 12, "{}", arrivals.len());
}

/// The token endpoint's 429 or 503 with `Retry-After`: no token request goes out before it,
/// from any row, and the run goes on once a token comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoints_retry_after_is_waited_out() {
    for status in [429, 503] {
        let hostile = Hostile::start(Behaviour {
            first_token: Some((status, "2")),
            ..Behaviour::default()
        })
        .await;
        let (ws, run) = run_against(&hostile, "", 3, &["--quiet"]).await;
        assert_eq!(run.code, 0, "{status}: {}", run.stderr);
        assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
        let gap = first_gap(&hostile, "token");
        assert!(gap >= Duration::from_secs(2), "{status}: {gap:?}");
    }
}
