//! The simulator's HTTP surface, one file per resource: this file is the menu. It maps each
//! path to its handler, puts every API request behind the `gatekeeper`, and holds the checks a
//! handler makes of its path before anything else.
//!
//! A new resource is a new file here and a `.route(...)` line in [`router`]. Each file
//! describes PingOne's JSON with the sandbox's own types (`super::json`), never the client's.

mod devices;
mod errors;
mod gatekeeper;
mod mfa_settings;
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
use devices::{create_device, list_devices};
use errors::{forbidden, not_found};
use gatekeeper::gatekeeper;
use mfa_settings::mfa_settings;
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

/// `None` when the path names this sandbox's environment; else the 404 to answer.
fn wrong_environment(shared: &Shared, env: &str) -> Option<Response> {
    (env != shared.options.environment_id).then(not_found)
}

/// `--no-config-role`: the 403 PingOne answers a token without a role that reads
/// environment configuration.
fn config_forbidden(shared: &Shared) -> Option<Response> {
    shared.options.no_config_role.then(forbidden)
}
