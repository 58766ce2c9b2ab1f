//! A user's devices (`/v1/environments/{env}/users/{user}/devices`): the list, paged, and the
//! create, with PingOne's validation of the body, what the policy and the MFA settings allow
//! (a method on and pairable, phone extensions on), the per-user device cap (counting ACTIVE
//! and BLOCKED devices only), and the injected ambiguous failures (the device exists, the
//! answer fails).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use super::errors::{error, invalid, not_json, unexpected, user_not_found};
use super::paging::one_page;
use super::{outside_population, wrong_environment};
use crate::sandbox::json::{
    CreateDeviceRequest, Device, DevicePage, DevicesEmbedded, ErrorDetail, Href, IdObject, Links,
};
use crate::sandbox::state::{lock, same_device, Counters};
use crate::sandbox::Shared;

/// The device types PingOne's create endpoint takes that the sandbox models.
const PHONE_TYPES: [&str; 3] = ["SMS", "VOICE", "WHATSAPP"];
const STATUSES: [&str; 2] = ["ACTIVE", "ACTIVATION_REQUIRED"];

pub(super) async fn list_devices(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.note_user_request(&user, "GET devices");
    if let Some(r) = wrong_environment(&shared, &env).or_else(|| outside_population(&shared, &user))
    {
        return r;
    }
    if !shared.user_exists(&user) {
        return user_not_found(&user);
    }
    let mut devices = lock(&shared.store.devices)
        .get(&user.to_lowercase())
        .cloned()
        .unwrap_or_default();
    let lag = shared.options.list_lag;
    if !lag.is_zero() {
        // Eventual consistency: a device made less than `lag` ago is not listed yet.
        let listed_before = SystemTime::now() - lag;
        devices.retain(|d| {
            let created = d.created_at.as_deref();
            created
                .and_then(|at| humantime::parse_rfc3339_weak(at).ok())
                .is_none_or(|at| at <= listed_before)
        });
    }
    let list = format!(
        "{}/environments/{env}/users/{user}/devices",
        shared.api_base
    );
    let (devices, links, count) = match one_page(&shared, devices, &query, &list, &[]) {
        Ok(page) => page,
        Err(refusal) => return *refusal,
    };
    let size = devices.len();
    Json(DevicePage {
        links,
        embedded: DevicesEmbedded { devices },
        count,
        size,
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
    // PINGONE.md: the exact codes of these two refusals are unverified.
    if !shared.policy_rules(&policy.id).allows(kind) {
        return Some(invalid(
            "type",
            "INVALID_VALUE",
            &format!("The device authentication policy does not allow pairing {kind} devices."),
        ));
    }
    if request.extension.is_some() && !shared.options.extensions_enabled {
        return Some(invalid(
            "extension",
            "INVALID_VALUE",
            "Phone extensions are not enabled in the MFA settings.",
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

/// Whether a device counts against the cap: ACTIVE and BLOCKED ones do, devices still
/// waiting for activation do not.
fn counts_against_cap(device: &Device) -> bool {
    matches!(device.status.as_deref(), Some("ACTIVE" | "BLOCKED") | None)
}

/// Stores the device, unless it would take the user past the device cap: `Some` 400 to
/// answer then.
fn refuse_store(shared: &Shared, user: &str, device: &Device) -> Option<Response> {
    let mut devices = lock(&shared.store.devices);
    let existing = devices.entry(user.to_lowercase()).or_default();
    let counted = existing.iter().filter(|d| counts_against_cap(d)).count();
    if counts_against_cap(device) && counted >= shared.options.max_devices as usize {
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
                inner_error: None,
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
        return unexpected(StatusCode::INTERNAL_SERVER_ERROR);
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

pub(super) async fn create_device(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.note_user_request(&user, "POST devices");
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    if let Some(refusal) = not_json(&headers) {
        return refusal;
    }
    if let Some(r) = outside_population(&shared, &user) {
        return r;
    }
    if !shared.user_exists(&user) {
        return user_not_found(&user);
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
