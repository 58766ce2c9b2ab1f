//! The sandbox's error bodies have the shape and the codes Ping publishes
//! (pingidentity/pingone-go-client, `pingone/api/openapi.yaml`: `ErrorResponse`, its `code`
//! and `details[].code` lists, `innerError`'s fields), for 400, 401, 403, 404, 429 and 5xx;
//! and a run reads them: results.csv's `error_code` is PingOne's most specific code and
//! `pingone_error_id` the body's `id`.

use std::collections::HashSet;

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;
use serde_json::{json, Value};

/// `ErrorResponse_code` in the published spec.
const CODES: [&str; 7] = [
    "ACCESS_FAILED",
    "INVALID_DATA",
    "INVALID_REQUEST",
    "NOT_FOUND",
    "REQUEST_FAILED",
    "REQUEST_LIMITED",
    "UNEXPECTED_ERROR",
];
/// `ErrorResponse_details_code` in the published spec.
const DETAIL_CODES: [&str; 14] = [
    "CONSTRAINT_VIOLATION",
    "EMPTY_VALUE",
    "INSUFFICIENT_PERMISSIONS",
    "INVALID_FILTER",
    "INVALID_PARAMETER",
    "INVALID_TOKEN",
    "INVALID_VALUE",
    "LICENSE_EXCEEDED",
    "LIMIT_EXCEEDED",
    "OUT_OF_RANGE",
    "QUOTA_EXCEEDED",
    "REQUIRED_VALUE",
    "SIZE_LIMIT_EXCEEDED",
    "UNIQUENESS_VIOLATION",
];
/// `ErrorResponse_details_innerError`'s properties in the published spec.
const INNER_FIELDS: [&str; 8] = [
    "allowedPattern",
    "allowedValues",
    "maximumValue",
    "quotaLimit",
    "quotaResetTime",
    "rangeMaximumValue",
    "rangeMinimumValue",
    "retryAfter",
];

/// The body is an `ErrorResponse` with published codes: `id`, `code`, `message` required;
/// each detail's `code` and `message` required, its `innerError` of published fields.
fn assert_published(status: u16, body: &Value) {
    let text = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    assert!(text(&body["id"]), "{status}: {body}");
    assert!(text(&body["message"]), "{status}: {body}");
    let code = body["code"].as_str().unwrap_or_default();
    assert!(CODES.contains(&code), "{status}: {body}");
    let allowed: HashSet<&str> = ["id", "code", "message", "details"].into();
    let fields = body.as_object().unwrap();
    assert!(
        fields.keys().all(|k| allowed.contains(k.as_str())),
        "{status}: {body}"
    );
    for detail in body["details"].as_array().into_iter().flatten() {
        let code = detail["code"].as_str().unwrap_or_default();
        assert!(DETAIL_CODES.contains(&code), "{status}: {body}");
        assert!(text(&detail["message"]), "{status}: {body}");
        if let Some(inner) = detail.get("innerError") {
            let inner = inner.as_object().unwrap();
            assert!(
                inner.keys().all(|k| INNER_FIELDS.contains(&k.as_str())),
                "{status}: {body}"
            );
        }
    }
}

/// A token from `sandbox`, as the client asks for it.
async fn token(http: &reqwest::Client, sandbox: &Sandbox) -> String {
    let options = sandbox.options();
    let answer: Value = http
        .post(format!(
            "{}/{}/as/token",
            sandbox.auth_url(),
            options.environment_id
        ))
        .basic_auth(&options.client_id, Some(options.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

/// `GET` (or, with a body, `POST`) `path` under the sandbox's environment: status and body.
async fn ask(
    sandbox: &Sandbox,
    token: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/environments/{}{path}",
        sandbox.api_url(),
        sandbox.options().environment_id
    );
    let mut request = match &body {
        Some(body) => http.post(url).json(body),
        None => http.get(url),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_answers_the_published_shape_and_codes() {
    let http = reqwest::Client::new();
    let plain = sandbox(SandboxOptions {
        max_devices: 1,
        quota: Some(6),
        forbidden_users: [user_id(9)].into_iter().collect(),
        ..SandboxOptions::default()
    })
    .await;
    let token = token(&http, &plain).await;
    let device = |phone: &str| json!({"type": "SMS", "phone": phone, "policy": {"id": POLICY}});
    let user = user_id(1);
    let mut seen = Vec::new();
    seen.push(ask(&plain, None, "/mfaSettings", None).await);
    let devices = format!("/users/{user}/devices");
    seen.push(ask(&plain, Some(&token), &devices, Some(json!({"type": "SMS"}))).await);
    assert_eq!(
        ask(&plain, Some(&token), &devices, Some(device("+15125550001")))
            .await
            .0,
        201
    );
    seen.push(ask(&plain, Some(&token), &devices, Some(device("+15125550002"))).await);
    seen.push(
        ask(
            &plain,
            Some(&token),
            &format!("{devices}/{}", user_id(77)),
            None,
        )
        .await,
    );
    seen.push(
        ask(
            &plain,
            Some(&token),
            &format!("/users/{}/devices", user_id(9)),
            None,
        )
        .await,
    );
    seen.push(ask(&plain, Some(&token), "/users?filter=name", None).await);
    // The license's quota of 6 is used up now.
    seen.push(ask(&plain, Some(&token), &devices, None).await);
    let statuses: Vec<u16> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [401, 400, 400, 404, 403, 400, 429], "{seen:?}");

    let failing = sandbox(SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    })
    .await;
    let failing_token = reqwest::Client::new();
    let failing_token = self::token(&failing_token, &failing).await;
    let mut server_errors = HashSet::new();
    // 500, 502 and 503 are drawn at random: enough tries to meet each.
    for _ in 0..60 {
        let answer = ask(&failing, Some(&failing_token), "/mfaSettings", None).await;
        server_errors.insert(answer.0);
        seen.push(answer);
    }
    assert_eq!(server_errors, [500, 502, 503].into(), "{server_errors:?}");
    for (status, body) in &seen {
        assert_published(*status, body);
    }
    let quota = &seen[6].1["details"][0];
    assert_eq!(quota["code"], "QUOTA_EXCEEDED");
    assert_eq!(quota["innerError"]["quotaLimit"], 6);
    assert!(quota["innerError"]["quotaResetTime"].is_string());
}

/// A run's failed rows carry the published bodies' most specific code and their `id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_rows_carry_the_published_codes_and_ids() {
    let options = SandboxOptions {
        max_devices: 1,
        forbidden_users: [user_id(7)].into_iter().collect(),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "on_existing = \"create\"").await;
    // The first row names its user by username: no device request goes before a success.
    let mut csv = String::from("user_id,username,type,phone\n,first.user,SMS,+15125559999\n");
    csv.push_str(&format!("{},,SMS,{}\n", user_id(1), us_number(1)));
    csv.push_str(&format!("{},,SMS,{}\n", user_id(1), us_number(2)));
    csv.push_str(&format!("{},,SMS,{}\n", user_id(7), us_number(7)));
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = ws.results();
    let by_line = |line: &str| rows.iter().find(|r| r["line"] == line).unwrap();
    let capped = by_line("4");
    assert_eq!(capped["http_status"], "400", "{capped:?}");
    assert_eq!(capped["error_code"], "LIMIT_EXCEEDED", "{capped:?}");
    let outside = by_line("5");
    assert_eq!(outside["http_status"], "403", "{outside:?}");
    assert_eq!(
        outside["error_code"], "INSUFFICIENT_PERMISSIONS",
        "{outside:?}"
    );
    for row in [capped, outside] {
        let id = &row["pingone_error_id"];
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{row:?}");
    }
    assert_ne!(capped["pingone_error_id"], outside["pingone_error_id"]);
}
