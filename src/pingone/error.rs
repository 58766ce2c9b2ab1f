//! What can go wrong with one request, classified for the two questions the engine asks:
//! may it be retried, and may PingOne have acted on it anyway? Also what PingOne's error body
//! says beyond its status ([`Cause`]): a quota rather than a rate, a license or an environment
//! rather than a role, a missing user rather than any missing thing. The body is data from
//! outside: every text kept from it is bounded and stripped of control characters.

use std::time::Duration;

use super::wire::ErrorBody;
use crate::codes::Code;
use crate::rate::throttle::Stopped;
use crate::rate::MAX_RETRY_AFTER;

/// Longest text kept from one field of an error body (an `id`, a reset time, a code).
const FIELD_CHARS: usize = 100;
/// Longest message kept from an error body, details included.
const MESSAGE_CHARS: usize = 2000;

/// What an error body says that the tool acts on, beyond its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Nothing the tool treats apart.
    Plain,
    /// 429 `QUOTA_EXCEEDED`: the license's quota is used up, and waiting seconds does not
    /// help. `reset` is the detail's `innerError.quotaResetTime` as sent (bounded text).
    Quota { reset: Option<String> },
    /// 403 `LICENSE_EXCEEDED`: no role fixes it.
    LicenseExceeded,
    /// 403 naming the environment: it does not exist, or is not the token's.
    OtherEnvironment,
    /// 404 whose body says that the user is missing.
    UserMissing,
}

impl Cause {
    fn of(status: u16, body: &ErrorBody) -> Cause {
        let codes = || {
            std::iter::once(body.code.as_deref())
                .chain(body.details.iter().map(|d| d.code.as_deref()))
                .flatten()
        };
        let has_code = |wanted: &str| codes().any(|c| c.eq_ignore_ascii_case(wanted));
        let targets = || body.details.iter().filter_map(|d| d.target.as_deref());
        match status {
            429 if has_code("QUOTA_EXCEEDED") => Cause::Quota {
                reset: body
                    .details
                    .iter()
                    .filter_map(|d| d.inner_error.as_ref()?.quota_reset_time.as_ref())
                    .map(|value| match value {
                        serde_json::Value::String(text) => bounded(text, FIELD_CHARS),
                        other => bounded(&other.to_string(), FIELD_CHARS),
                    })
                    .next(),
            },
            403 if has_code("LICENSE_EXCEEDED") => Cause::LicenseExceeded,
            403 if codes().any(|c| c.to_ascii_uppercase().contains("ENVIRONMENT"))
                || targets()
                    .any(|t| names(t, &["environment", "environmentId", "environment.id"])) =>
            {
                Cause::OtherEnvironment
            }
            404 if targets().any(|t| names(t, &["user", "userId", "user.id"]))
                || body
                    .message
                    .as_deref()
                    .is_some_and(|m| m.to_ascii_lowercase().contains("user")) =>
            {
                Cause::UserMissing
            }
            _ => Cause::Plain,
        }
    }
}

fn names(target: &str, any_of: &[&str]) -> bool {
    any_of.iter().any(|name| target.eq_ignore_ascii_case(name))
}

/// Text from outside as it may be kept: control characters out, at most `max` characters.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut kept: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(max + 1)
        .collect();
    if kept.chars().count() > max {
        kept = kept.chars().take(max).collect();
        kept.push('…');
    }
    kept
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// PingOne answered with an error status.
    #[error("HTTP {status} {code}: {message}")]
    Status {
        status: u16,
        /// PingOne's most specific code: the first detail's, else the body's, else `HTTP_{status}`.
        code: String,
        message: String,
        retry_after: Option<Duration>,
        /// The body's `id`, which Ping support uses to find the request.
        id: Option<String>,
        cause: Cause,
    },
    /// The request never reached the server (connection refused, DNS): nothing happened.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request was sent but no usable answer came back (timeout, dropped connection).
    #[error("no answer: {0}")]
    Transport(String),
    /// A success status with a body that could not be read: PingOne acted.
    #[error("HTTP {status} with an unreadable body: {message}")]
    BadResponse { status: u16, message: String },
    /// A create answered success with another device than the one asked for (another type,
    /// phone, email or extension): PingOne acted, but not as asked.
    #[error("HTTP {status}, but the answer describes device {device_id}, {what}, not the device asked for")]
    OtherDevice {
        status: u16,
        device_id: String,
        what: String,
    },
    /// The run is stopping; the request was not sent.
    #[error("not sent: the run is stopping")]
    Stopped,
    /// The server's TLS certificate is not trusted: nothing was sent, and retrying cannot help.
    #[error("the TLS certificate of {host} is not trusted ({problem}); if a TLS-inspecting proxy or a private CA signs it, set [pingone] ca_file to that CA's PEM certificate")]
    Untrusted { host: String, problem: String },
    /// An answer past its ceiling (`pingone/body.rs`, `pingone/paging.rs`): no real answer
    /// is that large, and asking again would bring the same.
    #[error("HTTP {status}: PingOne's answer is {what}, larger than any real answer; it was not read further")]
    TooLarge { status: u16, what: String },
    /// A list's `_links.next` that may not be followed (another host or environment, a page
    /// already read).
    #[error("a paged list could not be read to its end: {0}")]
    BadNextLink(String),
}

/// The throttle's wait for a turn ended by a stop: the request was not sent.
impl From<Stopped> for ApiError {
    fn from(Stopped: Stopped) -> Self {
        ApiError::Stopped
    }
}

impl ApiError {
    pub(crate) fn from_status(
        status: u16,
        body: Option<ErrorBody>,
        retry_after: Option<Duration>,
    ) -> Self {
        let body = body.unwrap_or_default();
        let detail = body.details.first();
        let code = detail
            .and_then(|d| d.code.as_deref())
            .or(body.code.as_deref())
            .map(|c| bounded(c, FIELD_CHARS))
            .unwrap_or_else(|| format!("HTTP_{status}"));
        let mut message = body.message.clone().unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error")
                .to_string()
        });
        for d in &body.details {
            if let Some(m) = &d.message {
                match &d.target {
                    Some(t) => message.push_str(&format!(" ({t}: {m})")),
                    None => message.push_str(&format!(" ({m})")),
                }
            }
        }
        ApiError::Status {
            status,
            code,
            message: bounded(&message, MESSAGE_CHARS),
            retry_after,
            id: body
                .id
                .as_deref()
                .map(|id| bounded(id, FIELD_CHARS))
                .filter(|id| !id.is_empty()),
            cause: Cause::of(status, &body),
        }
    }

    pub(crate) fn from_reqwest(error: reqwest::Error) -> Self {
        if let Some(problem) = certificate_problem(&error) {
            let host = error
                .url()
                .and_then(|u| u.host_str())
                .unwrap_or("the server")
                .to_string();
            return ApiError::Untrusted { host, problem };
        }
        // Without the URL: it holds no secret, but the message is for a person and short is better.
        let is_connect = error.is_connect();
        // The root cause says what a person can act on ("Connection refused", "failed to
        // lookup address information"); the layers between repeat "client error (Connect)".
        let source = std::iter::successors(std::error::Error::source(&error), |e| e.source())
            .last()
            .map(|s| s.to_string());
        let text = error.without_url().to_string();
        let text = match source {
            Some(source) => format!("{text}: {source}"),
            None => text,
        };
        if is_connect {
            ApiError::Connect(text)
        } else {
            ApiError::Transport(text)
        }
    }

    /// Ping's guidance: retry network errors, 408, 429, 500, 502, 503, 504; never 400/403/404/415.
    /// A 429 for a used-up quota is not retried: waiting seconds does not bring it back.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status {
                cause: Cause::Quota { .. },
                ..
            } => false,
            ApiError::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            ApiError::Connect(_) | ApiError::Transport(_) | ApiError::BadResponse { .. } => true,
            // Sending it again would make another device PingOne was not asked for.
            ApiError::OtherDevice { .. }
            | ApiError::Stopped
            | ApiError::Untrusted { .. }
            | ApiError::TooLarge { .. }
            | ApiError::BadNextLink(_) => false,
        }
    }

    /// True when PingOne may have carried out the request although we saw a failure. Before a
    /// POST is sent again after such a failure, the user's devices must be read.
    pub(crate) fn may_have_acted(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status >= 500,
            ApiError::Transport(_)
            | ApiError::BadResponse { .. }
            | ApiError::OtherDevice { .. } => true,
            // A success too large to read: PingOne acted, and said so at length.
            ApiError::TooLarge { status, .. } => (200..300).contains(status),
            ApiError::Connect(_)
            | ApiError::Stopped
            | ApiError::Untrusted { .. }
            | ApiError::BadNextLink(_) => false,
        }
    }

    pub(crate) fn http_status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. }
            | ApiError::BadResponse { status, .. }
            | ApiError::TooLarge { status, .. }
            | ApiError::OtherDevice { status, .. } => Some(*status),
            ApiError::Connect(_)
            | ApiError::Transport(_)
            | ApiError::Stopped
            | ApiError::Untrusted { .. }
            | ApiError::BadNextLink(_) => None,
        }
    }

    /// What an error status carries besides its code and message; `None` for every failure
    /// that is not PingOne answering with an error status.
    fn answered(&self) -> Option<(Option<Duration>, Option<&str>, &Cause)> {
        match self {
            ApiError::Status {
                retry_after,
                id,
                cause,
                ..
            } => Some((*retry_after, id.as_deref(), cause)),
            ApiError::Connect(_)
            | ApiError::Transport(_)
            | ApiError::BadResponse { .. }
            | ApiError::OtherDevice { .. }
            | ApiError::Stopped
            | ApiError::Untrusted { .. }
            | ApiError::TooLarge { .. }
            | ApiError::BadNextLink(_) => None,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.answered().and_then(|(retry_after, _, _)| retry_after)
    }

    /// The code for results.csv. Network failures and unreadable answers are always retried,
    /// so when they persist the row ends `RETRIES_EXHAUSTED` (or `UNCONFIRMED`).
    pub(crate) fn code(&self) -> Code {
        match self {
            ApiError::Status { code, .. } => Code::PingOne(code.clone()),
            ApiError::Untrusted { .. } => Code::ConnectionFailed,
            ApiError::Connect(_) | ApiError::Transport(_) | ApiError::BadResponse { .. } => {
                Code::RetriesExhausted
            }
            // PingOne acted, and only a read of the user's devices can say how the row ends.
            ApiError::OtherDevice { .. } => Code::Unconfirmed,
            ApiError::Stopped => Code::NotAttempted,
            ApiError::TooLarge { .. } => Code::AnswerTooLarge,
            ApiError::BadNextLink(_) => Code::BadNextLink,
        }
    }

    /// What the error body says beyond its status, when PingOne sent one.
    pub(crate) fn cause(&self) -> &Cause {
        self.answered().map_or(&Cause::Plain, |(_, _, cause)| cause)
    }

    /// PingOne's error `id`, for Ping support.
    pub(crate) fn pingone_id(&self) -> Option<&str> {
        self.answered().and_then(|(_, id, _)| id)
    }

    pub(crate) fn message(&self) -> String {
        match self {
            ApiError::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// What rustls said about the server's certificate, when that is why the request failed.
/// rustls's error sits inside `io::Error`s (two, with hyper-util 0.1), whose `source()`
/// skips what they wrap: unwrap them by hand.
fn certificate_problem(error: &reqwest::Error) -> Option<String> {
    let rustls_error = |e: &(dyn std::error::Error + 'static)| -> Option<String> {
        let mut current = e;
        while let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            current = inner;
        }
        match current.downcast_ref::<rustls::Error>()? {
            rustls::Error::InvalidCertificate(problem) => Some(format!("{problem:?}")),
            _ => None,
        }
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(problem) = rustls_error(e) {
            return Some(problem);
        }
        next = e.source();
    }
    None
}

/// `Retry-After` in seconds or as an HTTP date, capped at [`MAX_RETRY_AFTER`]: the server's
/// number, whatever it is, never becomes a longer wait (or an overflow).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let cap = MAX_RETRY_AFTER.as_secs_f64();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds.min(cap)));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The stop message for a used-up quota, naming when it resets: as a date when PingOne sent
/// one this tool reads, else as the text it sent.
pub(super) fn quota_message(reset: Option<&str>) -> String {
    let when = match reset {
        Some(text) => match humantime::parse_rfc3339_weak(text) {
            Ok(time) => format!("resets at {}", humantime::format_rfc3339_seconds(time)),
            Err(_) => format!("resets at {text:?} (as PingOne sent it)"),
        },
        None => "reset time was not given".to_string(),
    };
    format!(
        "PingOne answered 429 QUOTA_EXCEEDED: the license's quota is used up and its {when}; \
         waiting seconds does not help, so the run stopped. Run again with --resume after the reset"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pingone::wire::ErrorDetail;

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let in_ten = std::time::SystemTime::now() + Duration::from_secs(10);
        let parsed = parse_retry_after(&httpdate::fmt_http_date(in_ten)).unwrap();
        assert!(parsed <= Duration::from_secs(10) && parsed >= Duration::from_secs(8));
        let past = httpdate::fmt_http_date(std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn detail_code_wins_and_messages_join() {
        let body = ErrorBody {
            code: Some("INVALID_DATA".into()),
            message: Some("The request could not be completed.".into()),
            details: vec![ErrorDetail {
                code: Some("INVALID_VALUE".into()),
                target: Some("phone".into()),
                message: Some("must be a valid phone number".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = ApiError::from_status(400, Some(body), None);
        assert_eq!(e.code(), Code::PingOne("INVALID_VALUE".into()));
        assert!(e.message().contains("phone: must be a valid phone number"));
        assert!(!e.is_retryable());
        let bare = ApiError::from_status(502, None, None);
        assert_eq!(bare.code(), Code::PingOne("HTTP_502".into()));
        assert!(bare.is_retryable() && bare.may_have_acted());
        let limited = ApiError::from_status(429, None, Some(Duration::from_secs(1)));
        assert!(limited.is_retryable() && !limited.may_have_acted());
    }

    /// A body as PingOne might send it, from JSON: the classification reads the real shape.
    fn body(json: &str) -> Option<ErrorBody> {
        Some(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn the_body_tells_a_quota_a_license_an_environment_and_a_missing_user_apart() {
        let quota = r#"{"id":"e1","code":"REQUEST_LIMITED","message":"m","details":[{"code":"QUOTA_EXCEEDED","message":"q","innerError":{"quotaResetTime":"2026-12-01T00:00:00Z"}}]}"#;
        let rate = r#"{"id":"e2","code":"REQUEST_LIMITED","details":[{"code":"LIMIT_EXCEEDED"}]}"#;
        let license =
            r#"{"id":"e3","code":"ACCESS_FAILED","details":[{"code":"LICENSE_EXCEEDED"}]}"#;
        let environment = r#"{"id":"e4","code":"ACCESS_FAILED","details":[{"code":"INVALID_VALUE","target":"environment"}]}"#;
        let role = r#"{"id":"e5","code":"ACCESS_FAILED","message":"You do not have access to this resource."}"#;
        let user = r#"{"id":"e6","code":"NOT_FOUND","message":"Unable to find user with ID x."}"#;
        let thing =
            r#"{"id":"e7","code":"NOT_FOUND","message":"The requested resource was not found."}"#;
        let cases = [
            (
                429,
                quota,
                Cause::Quota {
                    reset: Some("2026-12-01T00:00:00Z".into()),
                },
                false,
            ),
            (429, rate, Cause::Plain, true),
            (403, license, Cause::LicenseExceeded, false),
            (403, environment, Cause::OtherEnvironment, false),
            (403, role, Cause::Plain, false),
            (404, user, Cause::UserMissing, false),
            (404, thing, Cause::Plain, false),
        ];
        for (status, json, cause, retryable) in cases {
            let e = ApiError::from_status(status, body(json), None);
            assert_eq!(e.cause(), &cause, "{json}");
            assert_eq!(e.is_retryable(), retryable, "{json}");
            assert!(
                e.pingone_id().is_some_and(|id| id.starts_with('e')),
                "{json}"
            );
        }
        assert_eq!(
            ApiError::from_status(429, None, None).cause(),
            &Cause::Plain
        );
    }

    #[test]
    fn what_the_server_sends_is_kept_bounded_and_as_text() {
        let long = "x".repeat(100_000);
        let json = format!(
            r#"{{"id":"{long}","code":"REQUEST_LIMITED","message":"{long}","details":[{{"code":"QUOTA_EXCEEDED","innerError":{{"quotaResetTime":12345}}}}]}}"#
        );
        let e = ApiError::from_status(429, body(&json), None);
        assert_eq!(
            e.cause(),
            &Cause::Quota {
                reset: Some("12345".into())
            }
        );
        assert!(e.pingone_id().unwrap().chars().count() <= FIELD_CHARS + 1);
        assert!(e.message().chars().count() <= MESSAGE_CHARS + 1);
        assert_eq!(bounded("a\u{1b}[31mb\nc", 10), "a[31mbc");
    }
}

#[cfg(test)]
mod property_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a server writes in `Retry-After`, reading it never panics and never
        /// asks for more than the cap.
        #[test]
        fn retry_after_never_panics_and_stays_under_the_cap(
            text in prop_oneof![
                any::<String>(),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|n| format!("{n:e}")),
                any::<u64>().prop_map(|n| format!("{n}{n}{n}")),
                any::<u64>().prop_map(|n| httpdate::fmt_http_date(
                    std::time::UNIX_EPOCH + Duration::from_secs(n % 253_402_300_799))),
            ]
        ) {
            if let Some(wait) = parse_retry_after(&text) {
                prop_assert!(wait <= MAX_RETRY_AFTER, "{text:?} -> {wait:?}");
            }
        }

        /// An error answer of any status and any body becomes an error without a panic.
        #[test]
        fn any_error_answer_becomes_an_error(status in any::<u16>(), body in any::<Vec<u8>>()) {
            let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
            let error = ApiError::from_status(status, parsed, None);
            let _ = (error.code(), error.message(), error.is_retryable(), error.may_have_acted());
        }
    }
}
