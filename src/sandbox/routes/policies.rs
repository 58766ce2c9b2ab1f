//! Device authentication policies (`GET /v1/environments/{env}/deviceAuthenticationPolicies/{id}`):
//! each method's `enabled` and `pairingDisabled`, and `newDeviceNotification`, as the
//! sandbox's options set them; environment configuration, so a token without the
//! configuration role is refused.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::not_found;
use super::{config_forbidden, wrong_environment};
use crate::sandbox::json::{Policy, PolicyMethod};
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
    let rules = shared.policy_rules(&id);
    let method = |kind: &str| PolicyMethod {
        enabled: !rules.disabled.contains(kind),
        pairing_disabled: rules.pairing_disabled.contains(kind),
    };
    Json(Policy {
        name: "Sandbox MFA policy".into(),
        sms: method("SMS"),
        voice: method("VOICE"),
        email: method("EMAIL"),
        whats_app: method("WHATSAPP"),
        new_device_notification: rules.new_device_notification.clone(),
        id,
    })
    .into_response()
}
