//! The simulator's HTTP surface, one file per resource: this file is the menu. It maps each
//! path to its handler, puts every API request behind the `gatekeeper`, and holds the checks a
//! handler makes of its path before anything else.
//!
//! A new resource is a new file here and a `.route(...)` line in [`router`]. Each file
//! describes PingOne's JSON with the sandbox's own types (`super::json`), never the client's.

mod device;
mod devices;
mod errors;
mod gatekeeper;
mod mfa_enabled;
mod mfa_settings;
mod notifications;
mod paging;
mod policies;
mod token;
mod users;

use std::sync::Arc;

use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use super::Shared;
use device::{delete_device, get_device};
use devices::{create_device, list_devices};
use errors::{environment_refused, forbidden};
use gatekeeper::gatekeeper;
use mfa_enabled::{get_mfa_enabled, put_mfa_enabled};
use mfa_settings::mfa_settings;
use notifications::notification_policies;
use policies::get_policy;
use token::token;
use users::find_users;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/environments/{env}/users", get(find_users))
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(list_devices).post(create_device),
        )
        .route(
            "/v1/environments/{env}/users/{user}/devices/{device}",
            get(get_device).delete(delete_device),
        )
        .route(
            "/v1/environments/{env}/users/{user}/mfaEnabled",
            get(get_mfa_enabled).put(put_mfa_enabled),
        )
        .route(
            "/v1/environments/{env}/deviceAuthenticationPolicies/{id}",
            get(get_policy),
        )
        .route("/v1/environments/{env}/mfaSettings", get(mfa_settings))
        .route(
            "/v1/environments/{env}/notificationsPolicies",
            get(notification_policies),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), gatekeeper));
    Router::new()
        .route("/{env}/as/token", post(token))
        .merge(api)
        .with_state(shared)
}

/// `None` when the path names this sandbox's environment; else the 403 PingOne answers a
/// token for an environment that does not exist or is not the token's.
fn wrong_environment(shared: &Shared, env: &str) -> Option<Response> {
    (env != shared.options.environment_id).then(environment_refused)
}

/// `--forbidden-users`: the 403 for a user outside the token's population.
fn outside_population(shared: &Shared, user: &str) -> Option<Response> {
    shared
        .options
        .forbidden_users
        .contains(&user.to_lowercase())
        .then(forbidden)
}

/// `--no-config-role`: the 403 PingOne answers a token without a role that reads
/// environment configuration.
fn config_forbidden(shared: &Shared) -> Option<Response> {
    shared.options.no_config_role.then(forbidden)
}
