//! Device authentication policies (`GET /v1/environments/{env}/deviceAuthenticationPolicies/{id}`):
//! environment configuration, so a token without the configuration role is refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::not_found;
use super::{config_forbidden, wrong_environment};
use crate::sandbox::json::Policy;
use crate::sandbox::Shared;

pub(super) async fn get_policy(
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
