//! Access tokens over a run's life, judged by what the sandbox counted: a token is renewed
//! before it expires (so the server never answers 401), one 401 renews it once, and a second
//! 401 is final for the row.

use std::time::Duration;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    let options = SandboxOptions {
        token_ttl: Duration::from_secs(2),
        ..SandboxOptions::default()
    };
    // Create mode: one request per row, 60 rows at 15/s, so the run outlives two tokens.
    let (sandbox, ws) = setup(options, "rate = 15", "on_existing = \"create\"").await;
    ws.write("in.csv", &sms_rows(60));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let tally = sandbox.tally();
    assert_eq!(
        tally.unauthorized_401, 0,
        "renewed before, never after a 401"
    );
    assert!(tally.token_requests >= 3, "{tally:?}");
    assert!(ws.results().iter().all(|r| r["attempts"] == "1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_401_renews_the_token_once_and_a_second_is_final() {
    for (rejected, outcome) in [(1, "created"), (2, "failed")] {
        let options = SandboxOptions {
            reject_valid_tokens: rejected,
            ..SandboxOptions::default()
        };
        let (sandbox, ws) = setup(options, "rate = 100", "on_existing = \"create\"").await;
        ws.write("in.csv", &sms_rows(1));
        // The row's requests meet the 401s, not the new-device notices' guard's policy read.
        let run = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
        let row = &ws.results()[0];
        assert_eq!(row["outcome"], outcome, "{rejected}: {}", run.both());
        let tally = sandbox.tally();
        assert_eq!(tally.unauthorized_401, rejected, "{tally:?}");
        assert_eq!(
            tally.token_requests, 2,
            "one renewal, never a second: {tally:?}"
        );
        if outcome == "failed" {
            assert_eq!(row["http_status"], "401");
            assert_eq!(row["error_code"], "ACCESS_FAILED");
        }
    }
}
