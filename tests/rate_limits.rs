//! The rate-limit promises, measured at the sandbox: never more than `rate` in any second,
//! never more than a pinned `concurrency` in flight, one cut for a storm of 429s, a stop
//! within two seconds whatever the pace, and a progress estimate that holds to the time
//! really left once a tenth of the run is done. These scenarios run one after the other in a test
//! binary of their own, outside `tests/it/` (cargo runs test binaries one at a time), so
//! other tests' processes do not skew the arrival times they judge. Speed is the bench's.

use std::time::Duration;

use mfa_enroll::sandbox::{SandboxOptions, Storm};
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_promises() {
    the_server_never_sees_more_than_rate_requests_in_any_second().await;
    a_server_throttling_below_the_rate_slows_the_run_instead_of_failing_rows().await;
    a_pinned_concurrency_is_never_passed_and_auto_says_what_it_used().await;
    a_storm_makes_one_cut_and_the_rate_holds_through_it().await;
    a_stop_during_a_storm_ends_the_run_within_two_seconds().await;
    the_estimate_holds_to_the_time_left_after_a_tenth_of_the_run().await;
}

async fn the_server_never_sees_more_than_rate_requests_in_any_second() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 20\nconcurrency = 16", "").await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    // 40 GETs (existence checks), 40 POSTs, and the new-device notices' guard's read of the
    // policy.
    assert_eq!(sandbox.arrivals().len(), 81);
    // The promise is an upper bound; how close a run gets to it is the bench's to measure
    // (`cargo bench --bench throughput -- --case rate`), never a timed test's.
    let peak = sandbox.max_requests_in_any_second();
    assert!(peak <= 20, "{peak} requests arrived within one second");
}

async fn a_server_throttling_below_the_rate_slows_the_run_instead_of_failing_rows() {
    let options = SandboxOptions {
        rate: Some(8),
        ..SandboxOptions::default()
    };
    // The tool is told 40/s; the server allows 8/s and answers 429 with Retry-After.
    let limits = "rate = 40\nconcurrency = 8\nmax_retries = 3";
    let (sandbox, ws) = setup(options, limits, "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(40));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let results = ws.results();
    assert!(results.iter().all(|r| r["outcome"] == "created"));
    let tally = sandbox.tally();
    assert!(tally.throttled_429 > 0, "the server did throttle");
    assert_eq!(tally.devices_created, 40);
    assert_eq!(tally.duplicate_devices, 0);
    let summary = ws.summary();
    assert_eq!(summary["requests"]["throttled_429"], tally.throttled_429);
    // Slowed as a whole: once a 429 pauses the run, only the requests already in flight
    // (at most `concurrency`) can meet another, so no one-second window of the server's
    // holds more 429s than that. Rows retrying on their own would pile up far more.
    let concurrency = 8;
    let arrivals = sandbox.arrivals();
    for (i, first) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|a| a.at - first.at < std::time::Duration::from_secs(1))
            .filter(|a| a.answered_429)
            .count();
        assert!(
            in_window <= concurrency,
            "{in_window} 429s within one second from {:?}",
            first.at
        );
    }
}

async fn a_pinned_concurrency_is_never_passed_and_auto_says_what_it_used() {
    // At 100 ms a request and 1000/s, only the in-flight limit holds the run back.
    let slow = || SandboxOptions {
        latency: Duration::from_millis(100),
        ..SandboxOptions::default()
    };
    let limits = "rate = 1000\nconcurrency = 3";
    let (sandbox, ws) = setup(slow(), limits, "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(30));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        sandbox.max_in_flight() <= 3,
        "{} in flight",
        sandbox.max_in_flight()
    );
    let summary = ws.summary();
    assert_eq!(summary["settings"]["concurrency"], 3);
    assert!(summary["requests"]["most_in_flight"].as_u64().unwrap() <= 3);

    // No concurrency in the config: auto, within its bounds, and the record says so.
    let (sandbox, ws) = setup(slow(), "rate = 1000", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(60));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(run.stderr.contains("concurrency=auto"), "{}", run.stderr);
    let summary = ws.summary();
    assert_eq!(summary["settings"]["concurrency"], "auto");
    let most = summary["requests"]["most_in_flight"].as_u64().unwrap();
    assert!(
        (sandbox.max_in_flight()..=256).contains(&most),
        "the run says {most} in flight, the server saw {}",
        sandbox.max_in_flight()
    );
}

/// Log lines of the run that say the pace was cut.
fn cuts(run: &Run) -> usize {
    run.stderr.matches("pace cut to").count()
}

async fn a_storm_makes_one_cut_and_the_rate_holds_through_it() {
    let options = SandboxOptions {
        rate: Some(20),
        storm: Some(Storm {
            after_requests: 40,
            lasting: Duration::from_secs(3),
        }),
        ..SandboxOptions::default()
    };
    // The tool runs at the server's limit: nothing but the storm makes it cut.
    let limits = "rate = 20\nmax_retries = 10";
    let (sandbox, ws) = setup(options, limits, "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(120));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
    assert_eq!(sandbox.tally().devices_created, 120);
    assert!(sandbox.storm_window().is_some(), "the storm came");
    assert!(cuts(&run) <= 1, "{} cuts:\n{}", cuts(&run), run.stderr);
    assert_eq!(run.stderr.matches("refuses every request").count(), 1);
    assert_eq!(run.stderr.matches("accepts requests again").count(), 1);
    // Probing, not pushing: about one request per second of storm meets it.
    let in_storm = sandbox.tally().throttled_429;
    assert!(in_storm <= 10, "{in_storm} requests answered 429");
    let peak = sandbox.max_requests_in_any_second();
    assert!(peak <= 20, "{peak} requests arrived within one second");
}

async fn a_stop_during_a_storm_ends_the_run_within_two_seconds() {
    // PingOne asks for 30 s at a time: the run waits them out, but not a stop.
    let options = SandboxOptions {
        storm: Some(Storm {
            after_requests: 10,
            lasting: Duration::from_secs(600),
        }),
        retry_after: Some(Duration::from_secs(30)),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 50", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(300));
    let child = spawn_enroll(&ws, &sandbox, "in.csv");
    // Into the storm: the run is paused, rows queued behind the pace and in their backoff.
    while sandbox.tally().throttled_429 < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    send_signal(&child, "INT");
    let run = finish(child).await;
    let took = signalled.elapsed();
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(
        took <= Duration::from_secs(2),
        "the run took {took:?} to stop"
    );
    let results = ws.results();
    assert_eq!(results.len(), 300);
    // Rows waiting for their turn were never sent; a row PingOne refused (429) keeps that
    // answer, and says the run stopped before it was tried again.
    for row in results.iter().filter(|r| r["outcome"] != "created") {
        let tried =
            row["error_message"].contains("the run stopped before this row was tried again");
        match row["error_code"].as_str() {
            "NOT_ATTEMPTED" => assert_eq!(row["attempts"], "0", "{row:?}"),
            _ => assert!(tried && row["attempts"] != "0", "{row:?}"),
        }
    }
}

async fn the_estimate_holds_to_the_time_left_after_a_tenth_of_the_run() {
    // The server allows 20 a second and the tool is told 60: only the pace PingOne grants
    // tells the time, and the server's rate, not this machine, decides the run's length.
    let work = tempfile::tempdir().unwrap();
    let run = bench::progress::server_paced_run(bin(), work.path(), 800, 20, 60, 500).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let late: Vec<_> = run
        .estimates()
        .into_iter()
        .filter(|e| e.share >= 0.10)
        .collect();
    assert!(
        late.len() >= 20,
        "a line every half second:\n{}",
        run.stderr
    );
    // The figures the bench's case reports, for `-- --nocapture`; judged below line by line.
    for share in [0.10, 0.25, 0.50] {
        let at = run.estimate_at(share);
        println!("estimate at {:.0} % of the run: {at:?}", 100.0 * share);
    }
    for estimate in &late {
        let Some(eta) = estimate.eta_s else {
            panic!("no estimate {estimate:?}:\n{}", run.stderr);
        };
        // eta_s is in whole seconds, so half a second of it is rounding; the line and the
        // exit are stamped as they reach this process, another half.
        let off = (eta - estimate.left_s).abs();
        assert!(
            off <= 0.2 * estimate.left_s + 1.0,
            "{estimate:?} is off by {off:.1} s:\n{}",
            run.stderr
        );
    }
}
