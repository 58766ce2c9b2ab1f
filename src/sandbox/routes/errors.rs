//! PingOne's error bodies (`id`, `code`, `message`, `details`) as the sandbox answers them:
//! the general shape, a 400 for one invalid field, a 404, a 403, a 500, and the 429 with
//! `Retry-After`.

use std::time::SystemTime;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use crate::sandbox::json::{ErrorBody, ErrorDetail};
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

pub(super) fn invalid(target: &str, code: &str, message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_DATA",
        "The request could not be completed. One or more validation errors were in the request.",
        vec![ErrorDetail {
            code: code.into(),
            target: Some(target.into()),
            message: message.into(),
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

/// The 403 for a token whose roles do not cover the resource.
pub(super) fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "ACCESS_FAILED",
        "The request could not be completed. You do not have access to this resource.",
        vec![],
    )
}

/// PingOne's own 500, with its body (unlike the edge's 502 and 503).
pub(super) fn unexpected() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
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
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_LIMITED",
        "The request could not be completed. You have exceeded your request limit.",
        vec![ErrorDetail {
            code: "LIMIT_EXCEEDED".into(),
            target: None,
            message,
        }],
    );
    let value = if options.retry_after_as_date {
        let when = SystemTime::now() + std::time::Duration::from_secs(seconds);
        httpdate::fmt_http_date(when)
    } else {
        seconds.to_string()
    };
    if let Ok(value) = value.parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
