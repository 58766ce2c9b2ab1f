//! The simulator's HTTP surface: the token endpoint and the slice of the Platform and MFA
//! APIs the tool uses, answering with PingOne's status codes and error bodies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use super::json::{
    CreateDeviceRequest, Device, DevicePage, DevicesEmbedded, ErrorBody, ErrorDetail, Href,
    IdObject, Links, MfaSettings, Pairing, Policy, TokenError, TokenResponse, User, UserPage,
    UsersEmbedded,
};
use super::state::{lock, same_device, Arrival, Counters};
use super::Shared;
use crate::config::TokenAuthMethod;

/// The device types PingOne's create endpoint takes that the sandbox models.
const PHONE_TYPES: [&str; 3] = ["SMS", "VOICE", "WHATSAPP"];
const STATUSES: [&str; 2] = ["ACTIVE", "ACTIVATION_REQUIRED"];

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/environments/{env}/users", get(find_users))
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(list_devices).post(create_device),
        )
        .route(
            "/v1/environments/{env}/deviceAuthenticationPolicies/{id}",
            get(get_policy),
        )
        .route("/v1/environments/{env}/mfaSettings", get(mfa_settings))
        .layer(middleware::from_fn_with_state(shared.clone(), gatekeeper));
    Router::new()
        .route("/{env}/as/token", post(token))
        .merge(api)
        .with_state(shared)
}

fn error(status: StatusCode, code: &str, message: &str, details: Vec<ErrorDetail>) -> Response {
    let body = ErrorBody {
        id: Uuid::new_v4().to_string(),
        code: code.into(),
        message: message.into(),
        details,
    };
    (status, Json(body)).into_response()
}

fn invalid(target: &str, code: &str, message: &str) -> Response {
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

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource was not found.",
        vec![],
    )
}

/// Counts a request in progress until dropped, and keeps the most seen at once.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let now = counters.in_flight.fetch_add(1, Relaxed) + 1;
        counters.max_in_flight.fetch_max(now, Relaxed);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// PingOne's 429: its error body, and `Retry-After` in seconds or as an HTTP date.
fn rate_limited(options: &super::SandboxOptions, rate: u32, wait: std::time::Duration) -> Response {
    let wait = options.retry_after.unwrap_or(wait);
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "REQUEST_LIMITED",
        "The request could not be completed. You have exceeded your request limit.",
        vec![ErrorDetail {
            code: "LIMIT_EXCEEDED".into(),
            target: None,
            message: format!("More than {rate} requests per second."),
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

/// Everything an API request meets before its handler, in PingOne's order: rate limit,
/// authentication, role, latency, then injected failures.
async fn gatekeeper(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let store = &shared.store;
    let now = tokio::time::Instant::now();
    let is_post = request.method() == axum::http::Method::POST;
    Counters::bump(&store.counters.requests);
    // Held for the whole answer, latency included.
    let _in_flight = InFlight::enter(&store.counters);
    if is_post {
        Counters::bump(&store.counters.posts);
    }
    let limited = shared.options.rate.filter(|r| *r > 0).and_then(|rate| {
        lock(&store.window)
            .admit(rate, now)
            .err()
            .map(|w| (rate, w))
    });
    if shared.options.record_arrivals {
        lock(&store.arrivals).push(Arrival {
            at: now.duration_since(store.started),
            is_post,
            answered_429: limited.is_some(),
        });
    }
    if let Some((rate, wait)) = limited {
        Counters::bump(&store.counters.throttled_429);
        return rate_limited(&shared.options, rate, wait);
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = lock(&store.tokens)
        .get(token)
        .is_some_and(|expires| *expires > now);
    let revoked = shared.options.reject_valid_tokens > 0
        && store
            .counters
            .unauthorized_401
            .load(std::sync::atomic::Ordering::Relaxed)
            < shared.options.reject_valid_tokens;
    if !valid || revoked {
        Counters::bump(&store.counters.unauthorized_401);
        return error(
            StatusCode::UNAUTHORIZED,
            "ACCESS_FAILED",
            "The request could not be completed. The access token is missing, invalid or expired.",
            vec![],
        );
    }
    if shared.options.no_role {
        return error(
            StatusCode::FORBIDDEN,
            "ACCESS_FAILED",
            "The request could not be completed. You do not have access to this resource.",
            vec![],
        );
    }
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    if shared.roll(shared.options.fail_rate) {
        Counters::bump(&store.counters.injected_failures);
        return match fastrand::u8(0..3) {
            0 => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNEXPECTED_ERROR",
                "An unexpected error occurred.",
                vec![],
            ),
            // 502 and 503 come from the edge, often without a PingOne body.
            1 => (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response(),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
        };
    }
    next.run(request).await
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let store = &shared.store;
    Counters::bump(&store.counters.token_requests);
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            Json(TokenError {
                error: code.into(),
                error_description: description.into(),
            }),
        )
            .into_response()
    };
    if env != shared.options.environment_id {
        return oauth_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Unknown environment.");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only client_credentials is supported here.",
        );
    }
    if let Err(why) = authenticate(&shared, &headers, &form) {
        Counters::bump(&store.counters.token_refusals);
        tracing::debug!("sandbox refused a token request: {why}");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Request denied: Invalid client credentials.",
        );
    }
    let value = format!("sandbox-{}", Uuid::new_v4().simple());
    let ttl = shared.options.token_ttl;
    lock(&store.tokens).insert(value.clone(), tokio::time::Instant::now() + ttl);
    Json(TokenResponse {
        access_token: value,
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs().max(1),
    })
    .into_response()
}

/// RFC 7523's `client_assertion_type` for a JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Checks the client's credentials by the one method the app is configured for, as PingOne
/// enforces it: another method, even with the right secret, is refused.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), &'static str> {
    let options = &shared.options;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(decode_basic);
    let sent = |name: &str| form.get(name).map(String::as_str);
    let secret = options.client_secret.expose();
    match options.token_auth {
        TokenAuthMethod::Basic => match basic {
            Some((id, s)) if id == options.client_id && s == secret => Ok(()),
            Some(_) => Err("wrong basic credentials"),
            None => Err("basic authentication expected"),
        },
        TokenAuthMethod::Post if basic.is_some() => Err("post authentication expected"),
        TokenAuthMethod::Post => match (sent("client_id"), sent("client_secret")) {
            (Some(id), Some(s)) if id == options.client_id && s == secret => Ok(()),
            _ => Err("wrong or missing client_id/client_secret"),
        },
        TokenAuthMethod::ClientSecretJwt | TokenAuthMethod::PrivateKeyJwt => {
            if basic.is_some() || sent("client_secret").is_some() {
                return Err("a secret was sent where a client assertion is required");
            }
            if sent("client_assertion_type") != Some(JWT_BEARER) {
                return Err("client_assertion_type is not jwt-bearer");
            }
            verify_assertion(shared, sent("client_assertion").unwrap_or(""))
        }
    }
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    jti: String,
}

/// An RFC 7523 client assertion: signed by the app's secret or key, for this token endpoint,
/// issued by and about the client, not expired, and never seen before.
fn verify_assertion(shared: &Shared, assertion: &str) -> Result<(), &'static str> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let options = &shared.options;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "not a JWT")?;
    let key = match (options.token_auth, header.alg) {
        (TokenAuthMethod::ClientSecretJwt, Algorithm::HS256) => {
            DecodingKey::from_secret(options.client_secret.expose().as_bytes())
        }
        (TokenAuthMethod::PrivateKeyJwt, Algorithm::RS256) => {
            let pem = options
                .client_public_key
                .as_deref()
                .ok_or("no public key")?;
            DecodingKey::from_rsa_pem(pem).map_err(|_| "the public key is not RSA")?
        }
        (TokenAuthMethod::PrivateKeyJwt, Algorithm::ES256) => {
            let pem = options
                .client_public_key
                .as_deref()
                .ok_or("no public key")?;
            DecodingKey::from_ec_pem(pem).map_err(|_| "the public key is not EC")?
        }
        _ => return Err("an algorithm the method does not allow"),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&shared.token_url]);
    validation.set_issuer(&[&options.client_id]);
    validation.sub = Some(options.client_id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|_| "the assertion does not verify (signature, aud, iss, sub or exp)")?;
    if !lock(&shared.store.assertion_ids).insert(data.claims.jti) {
        return Err("a jti seen before: a replayed assertion");
    }
    Ok(())
}

/// Decodes HTTP Basic credentials: base64 of `id:secret`.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// `None` when the path names this sandbox's environment; else the 404 to answer.
fn wrong_environment(shared: &Shared, env: &str) -> Option<Response> {
    (env != shared.options.environment_id).then(not_found)
}

async fn find_users(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    let Some(filter) = query.get("filter") else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "This sandbox answers only username filters.",
            vec![],
        );
    };
    let Some(username) = parse_username_filter(filter) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_FILTER",
            "The filter could not be parsed; expected username eq \"…\".",
            vec![],
        );
    };
    let users: Vec<User> = shared
        .options
        .directory
        .find(&username)
        .into_iter()
        .map(|(id, username)| User { id, username })
        .collect();
    let list = format!("{}/environments/{env}/users", shared.api_base);
    let extra = [("filter", filter.as_str())];
    let (users, links) = match one_page(&shared, users, &query, &list, &extra) {
        Ok(page) => page,
        Err(refusal) => return *refusal,
    };
    let count = users.len();
    Json(UserPage {
        links,
        embedded: UsersEmbedded { users },
        count,
        size: count,
    })
    .into_response()
}

/// One page of a list, as PingOne pages them: `limit` (the client's, else `--page-size`)
/// items from `cursor`, and `_links.next` while more remain. Without either, one page.
fn one_page<T>(
    shared: &Shared,
    items: Vec<T>,
    query: &HashMap<String, String>,
    list_url: &str,
    extra: &[(&str, &str)],
) -> Result<(Vec<T>, Links), Box<Response>> {
    let number = |name: &str| -> Result<Option<usize>, Box<Response>> {
        query
            .get(name)
            .map(|v| v.parse::<usize>())
            .transpose()
            .map_err(|_| {
                let message = format!("{name} is not a number.");
                Box::new(invalid(name, "INVALID_VALUE", &message))
            })
    };
    let start = number("cursor")?.unwrap_or(0);
    let limit = number("limit")?
        .or(shared.options.page_size)
        .unwrap_or(usize::MAX)
        .max(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let end = start.saturating_add(limit);
    let next = (end < total).then(|| {
        let mut pairs: Vec<(&str, String)> =
            extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        pairs.push(("limit", limit.to_string()));
        pairs.push(("cursor", end.to_string()));
        let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
        Href {
            href: format!("{list_url}?{encoded}"),
        }
    });
    Ok((
        page,
        Links {
            self_link: None,
            next,
        },
    ))
}

/// `username eq "j\"doe"` -> `j"doe`
fn parse_username_filter(filter: &str) -> Option<String> {
    let rest = filter.trim().strip_prefix("username")?.trim_start();
    let rest = rest.strip_prefix("eq")?.trim_start();
    let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

async fn list_devices(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    if !shared.options.directory.user_exists(&user) {
        return not_found();
    }
    let devices = lock(&shared.store.devices)
        .get(&user.to_lowercase())
        .cloned()
        .unwrap_or_default();
    let list = format!(
        "{}/environments/{env}/users/{user}/devices",
        shared.api_base
    );
    let (devices, links) = match one_page(&shared, devices, &query, &list, &[]) {
        Ok(page) => page,
        Err(refusal) => return *refusal,
    };
    let count = devices.len();
    Json(DevicePage {
        links,
        embedded: DevicesEmbedded { devices },
        count,
        size: count,
    })
    .into_response()
}

fn phone_is_acceptable(phone: &str) -> bool {
    let trimmed = phone.trim();
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    trimmed.starts_with('+')
        && (8..=15).contains(&digits)
        && trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || "+.-() ".contains(c))
}

/// Checks a create request as PingOne does: `Some` 400 to answer when it fails.
fn refuse_create(shared: &Shared, request: &CreateDeviceRequest) -> Option<Response> {
    let kind = request.device_type.as_str();
    let field = |name: &str, value: &Option<String>, valid: &dyn Fn(&str) -> bool| match value {
        None => Some(invalid(
            name,
            "REQUIRED_VALUE",
            &format!("{name} is required for {kind} devices."),
        )),
        Some(v) if !valid(v) => Some(invalid(
            name,
            "INVALID_VALUE",
            &format!("{name} is not valid."),
        )),
        Some(_) => None,
    };
    let destination = if PHONE_TYPES.contains(&kind) {
        field("phone", &request.phone, &phone_is_acceptable)
    } else if kind == "EMAIL" {
        field("email", &request.email, &|e: &str| e.contains('@'))
    } else {
        Some(invalid(
            "type",
            "INVALID_VALUE",
            "type is not a supported device type.",
        ))
    };
    if destination.is_some() {
        return destination;
    }
    if request.extension.is_some() && kind != "VOICE" {
        return Some(invalid(
            "extension",
            "INVALID_VALUE",
            "extension is allowed only for VOICE devices.",
        ));
    }
    let Some(policy) = request.policy.as_ref() else {
        return Some(invalid(
            "policy.id",
            "REQUIRED_VALUE",
            "policy.id is required.",
        ));
    };
    if !shared.policy_exists(&policy.id) {
        return Some(invalid(
            "policy.id",
            "INVALID_VALUE",
            "The device authentication policy was not found.",
        ));
    }
    if let Some(status) = &request.status {
        if !STATUSES.contains(&status.as_str()) {
            return Some(invalid("status", "INVALID_VALUE", "status is not valid."));
        }
    }
    let activation = request.status.as_deref() == Some("ACTIVATION_REQUIRED");
    if request.notification.is_some() && !activation {
        return Some(invalid(
            "notification",
            "INVALID_VALUE",
            "notification is allowed only when status is ACTIVATION_REQUIRED.",
        ));
    }
    None
}

/// The device a valid request creates, as PingOne would describe it.
fn new_device(shared: &Shared, env: &str, user: &str, request: CreateDeviceRequest) -> Device {
    let id = Uuid::new_v4().to_string();
    let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    Device {
        links: Links {
            self_link: Some(Href {
                href: format!(
                    "{}/environments/{env}/users/{user}/devices/{id}",
                    shared.api_base
                ),
            }),
            next: None,
        },
        id,
        environment: Some(IdObject {
            id: env.to_string(),
        }),
        user: Some(IdObject {
            id: user.to_string(),
        }),
        device_type: request.device_type,
        // ACTIVE is PingOne's default for an admin actor.
        status: Some(request.status.unwrap_or_else(|| "ACTIVE".into())),
        created_at: Some(now.clone()),
        updated_at: Some(now),
        phone: request.phone,
        email: request.email,
        extension: request.extension,
        nickname: request.nickname,
    }
}

/// Stores the device, unless the user is at the device cap: `Some` 400 to answer then.
fn refuse_store(shared: &Shared, user: &str, device: &Device) -> Option<Response> {
    let mut devices = lock(&shared.store.devices);
    let existing = devices.entry(user.to_lowercase()).or_default();
    if existing.len() >= shared.options.max_devices as usize {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "REQUEST_FAILED",
            "The request could not be completed.",
            vec![ErrorDetail {
                code: "LIMIT_EXCEEDED".into(),
                target: None,
                message: format!(
                    "The user already has the maximum number of devices ({}).",
                    shared.options.max_devices
                ),
            }],
        ));
    }
    let counters = &shared.store.counters;
    if existing.iter().any(|d| same_device(d, device)) {
        Counters::bump(&counters.duplicate_devices);
    }
    existing.push(device.clone());
    Counters::bump(&counters.devices_created);
    None
}

/// The device exists; the answer fails anyway: a 500, or a body that breaks off.
fn ambiguous_failure() -> Response {
    if fastrand::bool() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNEXPECTED_ERROR",
            "An unexpected error occurred.",
            vec![],
        );
    }
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"id\":\"")),
        Err(std::io::Error::other("connection dropped by the sandbox")),
    ];
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn create_device(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_REQUEST",
            "Content-Type must be application/json.",
            vec![],
        );
    }
    if !shared.options.directory.user_exists(&user) {
        return not_found();
    }
    lock(&shared.store.bodies).push(String::from_utf8_lossy(&body).into_owned());
    let request: CreateDeviceRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return invalid(
                "body",
                "INVALID_VALUE",
                &format!("The body could not be read: {e}"),
            )
        }
    };
    if let Some(refusal) = refuse_create(&shared, &request) {
        return refusal;
    }
    let device = new_device(&shared, &env, &user, request);
    if let Some(refusal) = refuse_store(&shared, &user, &device) {
        return refusal;
    }
    if shared.roll(shared.options.ambiguous_rate) {
        Counters::bump(&shared.store.counters.ambiguous_failures);
        return ambiguous_failure();
    }
    let created = shared
        .store
        .counters
        .devices_created
        .load(std::sync::atomic::Ordering::Relaxed);
    if shared
        .options
        .hold_answers_after_creates
        .is_some_and(|after| created == after + 1)
    {
        // The device exists; the answer waits until the client is gone.
        std::future::pending::<()>().await;
    }
    (shared.options.create_status, Json(device)).into_response()
}

/// `--no-config-role`: the 403 PingOne answers a token without a role that reads
/// environment configuration.
fn config_forbidden(shared: &Shared) -> Option<Response> {
    shared.options.no_config_role.then(|| {
        error(
            StatusCode::FORBIDDEN,
            "ACCESS_FAILED",
            "The request could not be completed. You do not have access to this resource.",
            vec![],
        )
    })
}

async fn get_policy(
    State(shared): State<Arc<Shared>>,
    Path((env, id)): Path<(String, String)>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env).or_else(|| config_forbidden(&shared)) {
        return r;
    }
    if !shared.policy_exists(&id) {
        return not_found();
    }
    Json(Policy {
        id,
        name: "Sandbox MFA policy".into(),
    })
    .into_response()
}

async fn mfa_settings(State(shared): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if let Some(r) = wrong_environment(&shared, &env).or_else(|| config_forbidden(&shared)) {
        return r;
    }
    Json(MfaSettings {
        pairing: Pairing {
            max_allowed_devices: shared.options.max_devices,
        },
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_filter_round_trips_escapes() {
        assert_eq!(
            parse_username_filter("username eq \"jdoe\"").as_deref(),
            Some("jdoe")
        );
        assert_eq!(
            parse_username_filter(r#"username eq "j\"d\\oe""#).as_deref(),
            Some("j\"d\\oe")
        );
        assert_eq!(parse_username_filter("email eq \"x\""), None);
    }

    #[test]
    fn basic_credentials_decode() {
        // base64("client:p@ss:x"): the secret may itself hold a colon.
        assert_eq!(
            decode_basic("Y2xpZW50OnBAc3M6eA=="),
            Some(("client".to_string(), "p@ss:x".to_string()))
        );
    }
}
