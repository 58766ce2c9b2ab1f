//! One device of a user (`/v1/environments/{env}/users/{user}/devices/{device}`): GET reads
//! it (200 with the device, 404 when it is not there), DELETE removes it (204, then 404),
//! as PingOne's "read one" and "delete" do. Deleting the user's default device makes the next
//! one in order the default; the sandbox keeps devices in order, so removing one from the
//! list is all that takes. Every 204 is remembered, so a test can tell a device deleted once
//! from one deleted twice.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{error, user_not_found};
use super::{outside_population, wrong_environment};
use crate::sandbox::state::{lock, Counters};
use crate::sandbox::Shared;

/// The checks of the path both methods make: the environment, the token's population, and
/// that the user exists.
fn refuse_path(shared: &Shared, env: &str, user: &str) -> Option<Response> {
    wrong_environment(shared, env)
        .or_else(|| outside_population(shared, user))
        .or_else(|| (!shared.user_exists(user)).then(|| user_not_found(user)))
}

/// PingOne's 404 for a device that is not there.
fn device_not_found(device: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("Unable to find device with ID {device}."),
        vec![],
    )
}

pub(super) async fn get_device(
    State(shared): State<Arc<Shared>>,
    Path((env, user, device)): Path<(String, String, String)>,
) -> Response {
    shared.note_user_request(&user, "GET device");
    if let Some(refusal) = refuse_path(&shared, &env, &user) {
        return refusal;
    }
    let found = lock(&shared.store.devices)
        .get(&user.to_lowercase())
        .and_then(|devices| devices.iter().find(|d| d.id == device).cloned());
    match found {
        Some(found) => Json(found).into_response(),
        None => device_not_found(&device),
    }
}

pub(super) async fn delete_device(
    State(shared): State<Arc<Shared>>,
    Path((env, user, device)): Path<(String, String, String)>,
) -> Response {
    shared.note_user_request(&user, "DELETE device");
    if let Some(refusal) = refuse_path(&shared, &env, &user) {
        return refusal;
    }
    let removed = {
        let mut devices = lock(&shared.store.devices);
        let list = devices.entry(user.to_lowercase()).or_default();
        let before = list.len();
        list.retain(|d| d.id != device);
        before != list.len()
    };
    if !removed {
        return device_not_found(&device);
    }
    Counters::bump(&shared.store.counters.devices_deleted);
    lock(&shared.store.deleted).push(device);
    let lost = &shared.store.counters.lost_delete_answers;
    let losing = lost
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < shared.options.lost_delete_answers).then_some(n + 1)
        })
        .is_ok();
    if losing {
        return super::errors::unexpected(StatusCode::INTERNAL_SERVER_ERROR);
    }
    StatusCode::NO_CONTENT.into_response()
}
