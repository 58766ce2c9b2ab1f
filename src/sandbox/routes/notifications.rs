//! Notification policies (`GET /v1/environments/{env}/notificationsPolicies`): one default
//! policy with the quotas the sandbox's options set (per user or per environment, per day,
//! SMS and voice together, email apart); environment configuration, so a token without the
//! configuration role is refused. The shape follows PingOne's docs and Terraform's
//! `pingone_notification_policy` (`quotas[].type`, `deliveryMethods`, `total`); the sandbox
//! does not enforce the quotas, it only serves them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{config_forbidden, wrong_environment};
use crate::sandbox::json::{
    NotificationPolicies, NotificationPoliciesEmbedded, NotificationPolicy, NotificationQuota,
};
use crate::sandbox::Shared;

/// The sandbox's notification policy's ID.
const NOTIFICATION_POLICY_ID: &str = "5a4db0c5-0000-4000-8000-0000000000a1";

pub(super) async fn notification_policies(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env).or_else(|| config_forbidden(&shared)) {
        return r;
    }
    let quotas = shared
        .options
        .notification_quotas
        .iter()
        .map(|rule| NotificationQuota {
            kind: if rule.per_user { "USER" } else { "ENVIRONMENT" }.into(),
            delivery_methods: if rule.sms_voice {
                vec!["SMS".into(), "Voice".into()]
            } else {
                vec!["Email".into()]
            },
            total: rule.total,
        })
        .collect();
    Json(NotificationPolicies {
        embedded: NotificationPoliciesEmbedded {
            notifications_policies: vec![NotificationPolicy {
                id: NOTIFICATION_POLICY_ID.into(),
                name: "Sandbox notification policy".into(),
                default: true,
                quotas,
            }],
        },
    })
    .into_response()
}
