//! PingOne's error bodies as the sandbox answers them, in the shape Ping publishes
//! (pingidentity/pingone-go-client, `pingone/api/openapi.yaml`, `ErrorResponse`: `id`,
//! `code`, `message`, `details[]` of `code`, `target`, `message`, `innerError`), with
//! codes only from its lists (top level: `ACCESS_FAILED`, `INVALID_DATA`,
//! `INVALID_REQUEST`, `NOT_FOUND`, `REQUEST_FAILED`, `REQUEST_LIMITED`,
//! `UNEXPECTED_ERROR`; details: `INSUFFICIENT_PERMISSIONS`, `INVALID_FILTER`,
//! `INVALID_VALUE`, `LICENSE_EXCEEDED`, `LIMIT_EXCEEDED`, `QUOTA_EXCEEDED`,
//! `REQUIRED_VALUE`, ...): a 400 for one invalid field, a 404 (a missing user says so), the
//! 403s (a role, a license, an environment), the 5xx, and the 429s (a rate with
//! `Retry-After` and `innerError.retryAfter`, a quota with `innerError.quotaResetTime` and
//! `quotaLimit`). Which code goes with which status Ping does not publish: those choices
//! are the sandbox's, and docs/sandbox.md's table says which answers are documented and
//! which modelled.

use std::time::SystemTime;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use crate::sandbox::json::{ErrorBody, ErrorDetail, InnerError};
use crate::sandbox::SandboxOptions;

pub(super) fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Vec<ErrorDetail>,
) -> Response {
    let body = ErrorBody {
        id: Uuid::new_v4().to_string(),
        code: code.into(),
        message: message.into(),
        details,
    };
    (status, Json(body)).into_response()
}

/// The 415 for a body that is not declared JSON; `None` when it is.
pub(super) fn not_json(headers: &HeaderMap) -> Option<Response> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    (!is_json).then(|| {
        error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_REQUEST",
            "Content-Type must be application/json.",
            vec![],
        )
    })
}

pub(super) fn invalid(target: &str, code: &str, message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        "The request could not be completed. One or more validation errors were in the request.",
        vec![ErrorDetail {
            code: code.into(),
            target: Some(target.into()),
            message: message.into(),
            inner_error: None,
        }],
    )
}

pub(super) fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource was not found.",
        vec![],
    )
}

/// The 404 for a user who does not exist: the body says that it is the user.
pub(super) fn user_not_found(user: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("Unable to find user with ID {user}."),
        vec![],
    )
}

/// The 403 for an environment that does not exist or is not the token's: the detail's
/// target names the environment.
pub(super) fn environment_refused() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "ACCESS_FAILED",
        "The request could not be completed. You do not have access to this resource.",
        vec![ErrorDetail {
            code: "INVALID_VALUE".into(),
            target: Some("environment".into()),
            message: "The environment does not exist, or the access token is not valid for it."
                .into(),
            inner_error: None,
        }],
    )
}

/// The 403 for a license that is exceeded.
pub(super) fn license_exceeded() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "ACCESS_FAILED",
        "The request could not be completed.",
        vec![ErrorDetail {
            code: "LICENSE_EXCEEDED".into(),
            target: None,
            message: "The license for this environment is exceeded.".into(),
            inner_error: None,
        }],
    )
}

/// The 429 for a used-up license quota, with when it resets; its `Retry-After` is the
/// whole wait, which a client must not sit out.
pub(super) fn quota_exceeded(quota: u64, resets_at: SystemTime) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_LIMITED",
        "The request could not be completed. You have exceeded your quota.",
        vec![ErrorDetail {
            code: "QUOTA_EXCEEDED".into(),
            target: None,
            message: format!("The license's quota of {quota} requests is used up."),
            inner_error: Some(InnerError {
                quota_reset_time: Some(humantime::format_rfc3339_millis(resets_at).to_string()),
                quota_limit: Some(quota),
                retry_after: None,
            }),
        }],
    );
    let wait = resets_at
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs()
        .max(1);
    if let Ok(value) = wait.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The 403 for a token whose roles do not cover the resource.
pub(super) fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "ACCESS_FAILED",
        "The request could not be completed. You do not have access to this resource.",
        vec![ErrorDetail {
            code: "INSUFFICIENT_PERMISSIONS".into(),
            target: None,
            message: "The actor attempting to perform the request is not authorized.".into(),
            inner_error: None,
        }],
    )
}

/// PingOne's 500, 502 or 503 (`status`), each with a published error body.
pub(super) fn unexpected(status: StatusCode) -> Response {
    error(
        status,
        "UNEXPECTED_ERROR",
        "An unexpected error occurred.",
        vec![],
    )
}

/// PingOne's 429: its error body, and `Retry-After` in seconds or as an HTTP date.
pub(super) fn rate_limited(
    options: &SandboxOptions,
    rate: u32,
    wait: std::time::Duration,
) -> Response {
    too_many(
        options,
        format!("More than {rate} requests per second."),
        wait,
    )
}

/// A storm's 429: the license's rate is used up by someone else for now.
pub(super) fn storm_refusal(options: &SandboxOptions) -> Response {
    let message = "The license's request rate is in use; try again shortly.".to_string();
    too_many(options, message, std::time::Duration::from_secs(1))
}

fn too_many(options: &SandboxOptions, message: String, wait: std::time::Duration) -> Response {
    let wait = options.retry_after.unwrap_or(wait);
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let when = SystemTime::now() + std::time::Duration::from_secs(seconds);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_LIMITED",
        "The request could not be completed. You have exceeded your request limit.",
        vec![ErrorDetail {
            code: "LIMIT_EXCEEDED".into(),
            target: None,
            message,
            inner_error: Some(InnerError {
                retry_after: Some(humantime::format_rfc3339_millis(when).to_string()),
                ..InnerError::default()
            }),
        }],
    );
    let value = if options.retry_after_as_date {
        httpdate::fmt_http_date(when)
    } else {
        seconds.to_string()
    };
    if let Ok(value) = value.parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
