//! Records and counts that are true, against the real binary: a row the stop kept from being
//! sent says 0 attempts; an outcome no attempt made uncertain stays what it was on resume and
//! when fed back; a 201 for another device than the one asked for is not `created`; and after
//! a full disk stops the run, summary.json counts exactly the rows results.csv holds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use mfa_enroll::sandbox::{Directory, SandboxOptions};
use mfa_enroll_test_support::*;

/// Every row the stop kept from being sent says so with 0 attempts; a row that was tried and
/// then stopped is not `NOT_ATTEMPTED`.
fn assert_attempts_are_true(results: &[HashMap<String, String>]) {
    for row in results {
        let attempts: u32 = row["attempts"].parse().unwrap();
        if row["error_code"] == "NOT_ATTEMPTED" {
            assert_eq!(attempts, 0, "{row:?}");
        }
        if row["outcome"] == "created" {
            assert!(attempts >= 1, "{row:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_stop_kept_from_being_sent_say_zero_attempts() {
    // Create mode sends the POST first, so rows wait for their turn with it counted.
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 8\nconcurrency = 16",
        "on_existing = \"create\"",
    )
    .await;
    ws.write("in.csv", &sms_rows(40));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    wait_for_rows(&ws.out(), 3).await;
    send_signal(&child, "INT");
    assert_eq!(finish(child).await.code, 3);
    let results = ws.results();
    assert_eq!(results.len(), 40);
    assert!(results.iter().any(|r| r["error_code"] == "NOT_ATTEMPTED"));
    assert_attempts_are_true(&results);
    let posts = sandbox.tally().posts;
    let attempts: u64 = results
        .iter()
        .map(|r| r["attempts"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(attempts, posts, "attempts count the POSTs the server saw");

    // Rows refused with a 429 and stopped while waiting to retry were tried: their code is
    // PingOne's, and their attempts say so.
    let (limited, ws) = setup(
        SandboxOptions {
            rate: Some(50),
            retry_after: Some(Duration::from_secs(2)),
            ..SandboxOptions::default()
        },
        "rate = 1000\nconcurrency = 4\nmax_retries = 5",
        "on_existing = \"create\"",
    )
    .await;
    ws.write("in.csv", &sms_rows(300));
    let child = spawn_enroll(&ws, &limited, "in.csv");
    for _ in 0..500 {
        if limited.tally().throttled_429 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(limited.tally().throttled_429 > 0, "the server refused some");
    send_signal(&child, "INT");
    assert_eq!(finish(child).await.code, 3);
    let results = ws.results();
    assert_attempts_are_true(&results);
    let tried_then_stopped: Vec<_> = results
        .iter()
        .filter(|r| r["error_message"].contains("stopped before this row was tried again"))
        .collect();
    assert!(!tried_then_stopped.is_empty(), "{results:?}");
    for row in tried_then_stopped {
        assert_ne!(row["error_code"], "NOT_ATTEMPTED", "{row:?}");
        assert_eq!(row["http_status"], "429", "{row:?}");
        assert!(row["attempts"].parse::<u32>().unwrap() >= 1, "{row:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_no_attempt_made_uncertain_stays_what_it_was() {
    // user_id(1) is not in the tenant: every read of its devices answers 404.
    let directory = Directory::listed([(user_id(0), "known".to_string())]);
    for mode in ["skip", "create"] {
        let options = SandboxOptions {
            directory: directory.clone(),
            ..SandboxOptions::default()
        };
        let (sandbox, ws) =
            setup(options, "rate = 1000", &format!("on_existing = \"{mode}\"")).await;
        ws.write("in.csv", &sms_rows(2));
        let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(first.code, 1, "{mode}: {}", first.both());
        let check = |rows: &[HashMap<String, String>], when: &str| {
            let row = rows.iter().find(|r| r["user_id"] == user_id(1)).unwrap();
            assert_eq!(
                row["error_code"], "USER_NOT_FOUND",
                "{mode}, {when}: {row:?}"
            );
            // Create mode sends the POST first, and PingOne's 404 answers it.
            let posted = mode == "create" && !when.contains("UNCONFIRMED");
            assert_eq!(
                row["attempts"],
                if posted { "1" } else { "0" },
                "{mode}, {when}"
            );
        };
        check(&ws.results(), "first run");
        let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
        assert_eq!(resumed.code, 1, "{mode}: {}", resumed.both());
        check(&ws.results(), "resumed");
        let fed = enroll_to(&ws, &sandbox, "out/errors.csv", "fed", &[]).await;
        assert_eq!(fed.code, 1, "{mode}: {}", fed.both());
        check(
            &read_csv(&ws.path("fed/results.csv")),
            "errors.csv fed back",
        );
        // Even a row an earlier round left UNCONFIRMED: a user PingOne does not have has
        // no device.
        let unconfirmed = std::fs::read_to_string(ws.path("out/errors.csv"))
            .unwrap()
            .replace("USER_NOT_FOUND", "UNCONFIRMED");
        ws.write("unconfirmed.csv", &unconfirmed);
        let again = enroll_to(&ws, &sandbox, "unconfirmed.csv", "again", &[]).await;
        assert_eq!(again.code, 1, "{mode}: {}", again.both());
        check(
            &read_csv(&ws.path("again/results.csv")),
            "UNCONFIRMED fed back",
        );
        let posts = if mode == "create" { 4 } else { 1 };
        assert_eq!(sandbox.tally().posts, posts, "{mode}: nothing sent blind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_never_sent_anything_is_not_unconfirmed_on_resume() {
    // Reads that fail (5xx) leave a row that never sent anything failed as it was, not
    // UNCONFIRMED: no attempt was made that could have created its device.
    let options = SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    };
    let limits = "rate = 1000\nmax_retries = 1\nbackoff_initial_ms = 5\nbackoff_max_s = 1";
    // The faults are the subject, not messages: the notices' guard's read meets them too.
    let (sandbox, ws) = setup(options, limits, "allow_messages = true").await;
    ws.write("in.csv", &sms_rows(2));
    for round in ["first run", "resumed"] {
        let extra: &[&str] = if round == "resumed" {
            &["--resume"]
        } else {
            &[]
        };
        let run = enroll(&ws, &sandbox, "in.csv", extra).await;
        assert_eq!(run.code, 1, "{round}: {}", run.both());
        for row in ws.results() {
            assert_eq!(row["error_code"], "RETRIES_EXHAUSTED", "{round}: {row:?}");
        }
    }
    assert_eq!(sandbox.tally().posts, 0);
}

/// A tenant that answers a device create with 201 and a body describing another device.
#[derive(Default)]
struct Liar {
    /// user ID -> the devices the user has.
    devices: Mutex<HashMap<String, Vec<Value>>>,
    posts: Mutex<u32>,
}

const LIAR_ENV: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

/// user_id(0): PingOne makes an EMAIL device instead of the SMS asked for, and says so.
/// user_id(1): PingOne makes the SMS device asked for, but its answer describes another number.
async fn liar_create(
    State(liar): State<Arc<Liar>>,
    UrlPath((_, user)): UrlPath<(String, String)>,
    Json(asked): Json<Value>,
) -> (StatusCode, Json<Value>) {
    *liar.posts.lock().unwrap() += 1;
    let id = format!("dev-{}", &user[user.len() - 2..]);
    let (made, said) = if user == user_id(0) {
        let made = json!({"id": id, "type": "EMAIL", "email": "someone@example.com"});
        (made.clone(), made)
    } else {
        let made = json!({"id": id, "type": "SMS", "phone": asked["phone"]});
        let mut said = made.clone();
        said["phone"] = json!("+15125550000");
        (made, said)
    };
    liar.devices
        .lock()
        .unwrap()
        .entry(user)
        .or_default()
        .push(made);
    (StatusCode::CREATED, Json(said))
}

async fn liar_list(
    State(liar): State<Arc<Liar>>,
    UrlPath((_, user)): UrlPath<(String, String)>,
) -> Json<Value> {
    let devices = liar
        .devices
        .lock()
        .unwrap()
        .get(&user)
        .cloned()
        .unwrap_or_default();
    Json(json!({"_embedded": {"devices": devices}}))
}

async fn liar_token() -> Json<Value> {
    Json(json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_201_for_another_device_is_not_created_for_the_row() {
    let liar = Arc::new(Liar::default());
    let app = Router::new()
        .route("/{env}/as/token", post(liar_token))
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(liar_list).post(liar_create),
        )
        .with_state(liar.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let ws = Workspace::new();
    ws.write(
        "mfa-enroll.toml",
        &format!(
            "[pingone]\nenvironment_id = \"{LIAR_ENV}\"\nclient_id = \"0f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e40\"\n\
             api_url = \"http://{addr}/v1\"\nauth_url = \"http://{addr}\"\n\
             [enroll]\npolicy_id = \"{POLICY}\"\nenable_mfa = false\n[limits]\nrate = 1000\n"
        ),
    );
    ws.write("in.csv", &sms_rows(2));
    let run = enroll_with_secret(&ws, "s", "in.csv", "out", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    // Another device entirely: not this row's, and PingOne acted, so not a plain failure.
    let other = &results[&2];
    assert_eq!(other["outcome"], "failed", "{other:?}");
    assert_eq!(other["error_code"], "UNCONFIRMED", "{other:?}");
    assert_eq!(other["device_id"], "");
    assert!(other["error_message"].contains("dev-00"), "{other:?}");
    assert_eq!(other["attempts"], "1", "sent once, never again: {other:?}");
    // The answer misdescribed the device, but the read finds the one asked for.
    let found = &results[&3];
    assert_eq!(found["outcome"], "created", "{found:?}");
    assert_eq!(found["device_id"], "dev-01");
    assert_eq!(*liar.posts.lock().unwrap(), 2, "no POST repeated");
}

/// Runs the binary under a file size limit of `kib` KiB (what a full disk does to a writer:
/// a write cut short, then an error), as bash's `ulimit -f` sets it, no root needed.
async fn enroll_with_file_limit(ws: &Workspace, secret: &str, kib: u64) -> Run {
    let script = format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\"");
    let mut args = vec!["-c", &script, bin().to_str().expect("a UTF-8 path")];
    args.extend(enroll_args("in.csv", "out", &[]));
    let child = launch::command(Path::new("bash"), ws.dir.path(), Some(secret), &args)
        .spawn()
        .expect("bash runs");
    must_end(child, Duration::from_secs(120)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_the_summary_counts_the_rows_results_csv_holds() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 100000", "").await;
    let rows = 400;
    ws.write("in.csv", &sms_rows(rows));
    let secret = sandbox.options().client_secret.expose().to_string();
    // The input's copy (~24 KiB) fits; results.csv (~50 KiB) does not.
    let stopped = enroll_with_file_limit(&ws, &secret, 32).await;
    assert_eq!(stopped.code, 3, "{}", stopped.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "OUTPUT_BROKEN",
        "{summary}"
    );
    let text = std::fs::read_to_string(ws.out().join("results.csv")).unwrap();
    assert!(text.ends_with('\n'), "no torn last row is left");
    let results = ws.results();
    assert!(
        !results.is_empty() && results.len() < rows,
        "{}",
        results.len()
    );
    assert_eq!(summary["rows"], results.len() as u64, "{summary}");
    assert_eq!(
        summary["outcomes"]["created"],
        results.len() as u64,
        "{summary}"
    );

    // With room again, the resume finishes: every row once, every device once.
    let resumed = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(resumed.code, 0, "{}", resumed.both());
    let results = by_line(&ws.results());
    assert_eq!(results.len(), rows);
    assert!(results.values().all(|r| r["outcome"] == "created"));
    assert_eq!(sandbox.all_devices().len(), rows);
    assert_eq!(sandbox.tally().duplicate_devices, 0);
}
