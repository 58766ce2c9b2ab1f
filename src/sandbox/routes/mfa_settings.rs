//! The environment's MFA settings (`GET /v1/environments/{env}/mfaSettings`): the device cap
//! and whether phone extensions are on, which an online dry run reads; environment
//! configuration, so it needs the configuration role.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{config_forbidden, wrong_environment};
use crate::sandbox::json::{Enabled, MfaSettings, NewUsers, Pairing};
use crate::sandbox::Shared;

pub(super) async fn mfa_settings(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env).or_else(|| config_forbidden(&shared)) {
        return r;
    }
    Json(MfaSettings {
        pairing: Pairing {
            max_allowed_devices: shared.options.max_devices,
        },
        phone_extensions: Enabled {
            enabled: shared.options.extensions_enabled,
        },
        users: NewUsers {
            mfa_enabled: shared.options.new_users_mfa_enabled,
        },
    })
    .into_response()
}
