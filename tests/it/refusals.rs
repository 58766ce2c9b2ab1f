//! PingOne's 403s and 404s told apart, and its error id kept: a first 403 for a license or an
//! environment stops the run with its own reason, not "missing role"; once requests have
//! succeeded, a 403 for one user (a role scoped to a population) is that row's failure; a 404
//! is `USER_NOT_FOUND` only when PingOne's body says the user is missing; and every failed
//! row carries the `id` of PingOne's error body in results.csv and errors.csv.

use std::collections::HashSet;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

const ADMINS: &str = "ad0115e0-0000-4000-8000-0000000000ad";
const MISTYPED: &str = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_403_for_the_license_or_the_environment_stops_with_its_own_reason() {
    let license = SandboxOptions {
        license_exceeded: true,
        ..SandboxOptions::default()
    };
    let environment = SandboxOptions {
        worker_environment_id: Some(ADMINS.into()),
        ..SandboxOptions::default()
    };
    let role = SandboxOptions {
        no_role: true,
        ..SandboxOptions::default()
    };
    for (options, code, says) in [
        (license, "LICENSE_EXCEEDED", "license"),
        (environment, "ENVIRONMENT_REFUSED", MISTYPED),
        (role, "MISSING_ROLE", "Identity Data Admin"),
    ] {
        let (sandbox, ws) = setup(options, "rate = 1000\nconcurrency = 1", "").await;
        if code == "ENVIRONMENT_REFUSED" {
            // The admin app's token is fine; the target environment is mistyped.
            let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
            let environment = sandbox.options().environment_id.clone();
            ws.write(
                "mfa-enroll.toml",
                &config.replace(&format!("\"{environment}\""), &format!("\"{MISTYPED}\"")),
            );
        }
        ws.write("in.csv", &sms_rows(5));
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 3, "{code}: {}", run.both());
        let stopped = &ws.summary()["stopped_early"];
        assert_eq!(stopped["code"], code);
        let reason = stopped["reason"].as_str().unwrap();
        assert!(reason.contains(says), "{code}: {reason}");
        if code != "MISSING_ROLE" {
            assert!(!reason.contains("lacks the role"), "{code}: {reason}");
        }
        // The new-device notices' guard reads the policy first (refused too, it lets the
        // run go on: its first request says why), and a 403 for the role alone is asked of
        // a user look-up, whose 403 stops the run.
        assert_eq!(
            sandbox.tally().requests,
            2,
            "{code}: the first answer stops it"
        );
        // The row that met the 403 has PingOne's code; the others were never sent. Without
        // any role, the guard's user look-up met it, and no row was sent.
        let results = ws.results();
        let unsent = results
            .iter()
            .filter(|r| r["error_code"] == "NOT_ATTEMPTED");
        let sent = usize::from(code != "MISSING_ROLE");
        assert_eq!(unsent.count(), 5 - sent, "{code}: {results:?}");
        assert!(results.iter().all(|r| r["outcome"] == "failed"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_after_requests_succeeded_is_that_rows_failure_with_pingones_id() {
    let outside: HashSet<String> = [user_id(5), user_id(7)].into_iter().collect();
    let options = SandboxOptions {
        forbidden_users: outside.clone(),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    // The first row names its user by username: rows are handed on in file order, so no
    // device request goes out before that look-up has succeeded.
    let mut csv = String::from("user_id,username,type,phone\n,first.user,SMS,+15125559999\n");
    for i in 0..10 {
        csv.push_str(&format!("{},,SMS,{}\n", user_id(i), us_number(i)));
    }
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        ws.summary()["stopped_early"].is_null(),
        "not a stop of the run"
    );
    let mut ids = HashSet::new();
    for row in ws.results() {
        if outside.contains(&row["user_id"]) {
            assert_eq!(row["outcome"], "failed", "{row:?}");
            assert_eq!(
                row["error_code"], "INSUFFICIENT_PERMISSIONS",
                "PingOne's most specific code, the detail's: {row:?}"
            );
            assert_eq!(row["http_status"], "403");
            assert!(ids.insert(row["pingone_error_id"].clone()), "{row:?}");
        } else {
            assert_eq!(row["outcome"], "created", "{row:?}");
            assert_eq!(row["pingone_error_id"], "");
        }
    }
    assert!(
        ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{ids:?}"
    );
    let errors = ws.errors();
    assert_eq!(errors.len(), 2);
    for row in errors {
        assert!(ids.contains(&row["pingone_error_id"]), "{row:?}");
    }
    assert_eq!(sandbox.tally().devices_created, 9);
}

/// A device POST answered 404 in three ways: a body naming nothing, no body, and a body that
/// says the user is missing (users 1, 2 and 3).
fn three_404s(user: &str) -> (u16, String) {
    let body = if user == user_id(1) {
        r#"{"id":"nf-1","code":"NOT_FOUND","message":"The requested resource was not found."}"#
    } else if user == user_id(2) {
        ""
    } else {
        r#"{"id":"nf-3","code":"NOT_FOUND","message":"Unable to find user with ID x."}"#
    };
    (404, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_user_not_found_only_when_the_body_says_so() {
    let stub = stub_pingone(three_404s).await;
    let ws = Workspace::new();
    stub.config(&ws, "");
    let csv = format!(
        "user_id,type,phone\n{},SMS,{}\n{},SMS,{}\n{},SMS,{}\n",
        user_id(1),
        us_number(1),
        user_id(2),
        us_number(2),
        user_id(3),
        us_number(3)
    );
    ws.write("in.csv", &csv);
    let run = enroll_with_secret(&ws, "any", "in.csv", "out", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&ws.results());
    let cases = [
        (
            2,
            "NOT_FOUND",
            "nf-1",
            "The requested resource was not found.",
        ),
        (3, "HTTP_404", "", "Not Found"),
        (4, "USER_NOT_FOUND", "nf-3", "no PingOne user has the ID"),
    ];
    for (line, code, id, says) in cases {
        let row = &rows[&line];
        assert_eq!(row["error_code"], code, "{row:?}");
        assert_eq!(row["pingone_error_id"], id, "{row:?}");
        assert!(row["error_message"].contains(says), "{row:?}");
        assert_eq!(row["http_status"], "404");
    }
}
