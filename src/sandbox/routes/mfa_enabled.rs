//! A user's MFA switch (`/v1/environments/{env}/users/{user}/mfaEnabled`): GET reads it, PUT
//! sets it with `{"mfaEnabled": true}` (PingOne creates users with it off, and a user with it
//! off cannot complete an MFA action with any device). `--refuse-mfa-switch` makes the PUT
//! answer 403 for some users, as a role that may manage devices but not those users' MFA.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{forbidden, invalid, not_json, user_not_found};
use super::{outside_population, wrong_environment};
use crate::sandbox::json::MfaEnabledBody;
use crate::sandbox::state::{lock, Counters};
use crate::sandbox::Shared;

/// The checks of the path both methods make: the environment, the token's population, and
/// that the user exists.
fn refuse_path(shared: &Shared, env: &str, user: &str) -> Option<Response> {
    wrong_environment(shared, env)
        .or_else(|| outside_population(shared, user))
        .or_else(|| (!shared.user_exists(user)).then(|| user_not_found(user)))
}

pub(super) async fn get_mfa_enabled(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
) -> Response {
    shared.note_user_request(&user, "GET mfaEnabled");
    if let Some(refusal) = refuse_path(&shared, &env, &user) {
        return refusal;
    }
    Json(MfaEnabledBody {
        mfa_enabled: shared.mfa_enabled(&user),
    })
    .into_response()
}

pub(super) async fn put_mfa_enabled(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Counters::bump(&shared.store.counters.mfa_switch_puts);
    shared.note_user_request(&user, "PUT mfaEnabled");
    if let Some(refusal) = refuse_path(&shared, &env, &user) {
        return refusal;
    }
    if let Some(refusal) = not_json(&headers) {
        return refusal;
    }
    let request: MfaEnabledBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return invalid(
                "mfaEnabled",
                "INVALID_VALUE",
                &format!("The body could not be read: {e}"),
            )
        }
    };
    if lock(&shared.store.mfa_refused).contains(&user.to_lowercase()) {
        return forbidden();
    }
    shared.set_mfa_enabled(&user, request.mfa_enabled);
    Json(MfaEnabledBody {
        mfa_enabled: request.mfa_enabled,
    })
    .into_response()
}
