//! A host that cannot be reached, against the real binary: when the first request of all
//! cannot reach the token host, or the look that follows cannot reach the API's host
//! (connection refused, a name that does not resolve, a TLS
//! handshake that never completes), nothing was sent, and the run exits 2 naming the host and
//! the config key and file that set it; the log says which config file was read. Once a
//! request has succeeded, losing the host is the ordinary path: retries, then a stop (exit 3).

use std::time::{Duration, Instant};

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// A loopback port that was free a moment ago: connecting to it is refused.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A config whose hosts are `base`, with short timeouts.
fn config_for(ws: &Workspace, base: &str) {
    ws.write(
        "mfa-enroll.toml",
        &format!(
            "[pingone]\n\
             environment_id = \"5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10\"\n\
             client_id = \"mfa-enroll-test\"\n\
             api_url = \"{base}/v1\"\n\
             auth_url = \"{base}\"\n\
             [enroll]\n\
             policy_id = \"{POLICY}\"\n\
             enable_mfa = false\n\
             [limits]\n\
             timeout_s = 2\n"
        ),
    );
}

/// Runs against `base`; the run must refuse within seconds, naming `host` and the `cause`.
async fn refused_naming(base: &str, host: &str, cause: &str) {
    let ws = Workspace::new();
    config_for(&ws, base);
    ws.write("in.csv", &sms_rows(3));
    let started = Instant::now();
    let run = enroll_with_secret(&ws, "s3cr3t", "in.csv", "out", &[]).await;
    assert_eq!(run.code, 2, "{base}: {}", run.both());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{base}: took too long"
    );
    let says =
        format!("cannot reach the token host {host}, set by [pingone] auth_url in mfa-enroll.toml");
    assert!(run.stderr.contains(&says), "{says:?} in {}", run.stderr);
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert!(run.stderr.contains(cause), "{cause:?} in {}", run.stderr);
    assert!(
        run.stderr
            .contains("config file loaded config=mfa-enroll.toml"),
        "{}",
        run.stderr
    );
    assert!(
        !ws.out().join("results.csv").exists(),
        "no record to resume"
    );
    assert!(!run.stderr.contains("s3cr3t"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_token_host_is_exit_2_naming_it() {
    // Connection refused: a port that was just free.
    let port = free_port();
    let (base, host) = (
        format!("http://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
    );
    refused_naming(&base, &host, "Connection refused").await;
    // A name that never resolves (.invalid is reserved for that, RFC 6761).
    let (base, host) = ("https://mfa-enroll-test.invalid", "mfa-enroll-test.invalid");
    refused_naming(base, host, "failed to lookup address").await;
    // A server that accepts the connection and never says a word: the TLS handshake never
    // completes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let (base, host) = (
        format!("https://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
    );
    refused_naming(&base, &host, "timed out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_region_is_named_when_no_key_set_the_host() {
    // No config file at all: the hosts are the default region's. The token host is made
    // unreachable through the proxy every request goes through.
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    let port = free_port();
    let args = ["run", "in.csv", "--policy-id", POLICY, "--no-enable-mfa"];
    let run = launch_command(ws.dir.path(), &args)
        .env("PINGONE_CLIENT_SECRET", "s3cr3t")
        .env("PINGONE_CLIENT_ID", "mfa-enroll-test")
        .env(
            "PINGONE_ENVIRONMENT_ID",
            "5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10",
        )
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"))
        .env_remove("NO_PROXY")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot reach the token host auth.pingone.com, set by the default region NA (no config file was loaded)"),
        "{stderr}"
    );
    assert!(stderr.contains("no config file loaded"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_lost_after_a_success_is_the_ordinary_stop() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 20\nbackoff_initial_ms = 5\nbackoff_max_s = 1\nstop_after_failures = 3",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(200));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    wait_for_rows(&ws.out(), 5).await;
    sandbox.shutdown().await;
    let run = finish(child).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary = ws.summary();
    assert_eq!(
        summary["stopped_early"]["code"], "REPEATED_FAILURES",
        "{summary}"
    );
    assert!(
        !run.stderr.contains("cannot reach the token host"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_host_is_exit_2_naming_it() {
    // Tokens come from the sandbox; the API's host is a port that was just free.
    let (sandbox, ws) = setup(SandboxOptions::default(), "timeout_s = 2", "").await;
    let port = free_port();
    let text = std::fs::read_to_string(ws.path("mfa-enroll.toml"))
        .unwrap()
        .replace(&sandbox.api_url(), &format!("http://127.0.0.1:{port}/v1"));
    ws.write("mfa-enroll.toml", &text);
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    let says = format!(
        "cannot reach the API host 127.0.0.1:{port}, set by [pingone] api_url in mfa-enroll.toml"
    );
    assert!(run.stderr.contains(&says), "{says:?} in {}", run.stderr);
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert!(
        !ws.out().join("results.csv").exists(),
        "no record to resume"
    );
    let tally = sandbox.tally();
    assert_eq!(tally.token_requests, 1, "{tally:?}");
    assert_eq!(tally.requests, 0, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_host_apart_from_the_token_host_that_answers_lets_the_run_go_on() {
    // The same sandbox under another name is another origin: its answer to the look, any
    // status at all, shows the host is there.
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    let text = std::fs::read_to_string(ws.path("mfa-enroll.toml"))
        .unwrap()
        .replace(
            &sandbox.api_url(),
            &sandbox.api_url().replace("127.0.0.1", "localhost"),
        );
    ws.write("mfa-enroll.toml", &text);
    ws.write("in.csv", &sms_rows(3));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 3);
}

/// Issue #33 item 8: with every proxy variable set, loopback (here the sandbox, over plain
/// http, with the client secret) is reached directly: the proxy sees no connection at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_never_goes_through_a_proxy() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write("in.csv", &sms_rows(2));
    // A proxy on loopback that counts connections and answers none.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in proxy.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let secret = sandbox.options().client_secret.expose().to_string();
    let mut command = launch_command(ws.dir.path(), &enroll_args("in.csv", "out", &[]));
    command.env("PINGONE_CLIENT_SECRET", &secret);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(name, &proxy_url);
    }
    let run = command
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert_eq!(sandbox.tally().devices_created, 2);
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the proxy was used"
    );
}
