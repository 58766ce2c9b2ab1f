//! PingOne's JSON as the simulator speaks it, written from `shared/PINGONE.md` and the
//! documented example bodies, never from the client's structs (`crate::pingone::wire`): a
//! simulator that shared the client's types would agree with any misnamed or misnested field
//! the client sent or expected. Tests post the documented examples here and read the answers
//! with the client.

use serde::{Deserialize, Serialize};

/// `{"id": "…"}`, as PingOne nests references (`policy`, `user`, `environment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdObject {
    pub(crate) id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Href {
    pub(crate) href: String,
}

/// `_links`: HAL links; `next` only on a list page with more to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub(crate) self_link: Option<Href>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next: Option<Href>,
}

/// `notification.template` of a create request (ACTIVATION_REQUIRED only). `variant` and
/// `variables` are unverified in the docs; they are accepted as they come.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// Read only by serde: the sandbox refuses a body that does not have this shape.
#[allow(dead_code)]
pub(crate) struct NotificationTemplate {
    pub(crate) locale: Option<String>,
    pub(crate) variant: Option<String>,
    pub(crate) variables: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// Read only by serde, as above.
#[allow(dead_code)]
pub(crate) struct Notification {
    pub(crate) template: Option<NotificationTemplate>,
}

/// The body of `POST /environments/{envID}/users/{userID}/devices`, as the docs list it:
/// `type`, `phone` or `email`, `policy.id`; optional `status`, `nickname`, `extension`,
/// `notification`. A field the docs do not list is refused, as a strict server would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateDeviceRequest {
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) extension: Option<String>,
    pub(crate) policy: Option<IdObject>,
    pub(crate) status: Option<String>,
    pub(crate) nickname: Option<String>,
    pub(crate) notification: Option<Notification>,
}

/// A device as PingOne returns it (the documented 201 example and the list's items).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(rename = "_links", default)]
    pub links: Links,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<IdObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<IdObject>,
    #[serde(rename = "type")]
    pub device_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "createdAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(rename = "updatedAt", default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct DevicesEmbedded {
    pub(crate) devices: Vec<Device>,
}

/// `GET …/users/{userID}/devices`: one page.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct DevicePage {
    #[serde(rename = "_links")]
    pub(crate) links: Links,
    #[serde(rename = "_embedded")]
    pub(crate) embedded: DevicesEmbedded,
    /// Items in the whole list, on every page; `size`: items on this page.
    pub(crate) count: usize,
    pub(crate) size: usize,
}

/// A user as the look-up returns it: PingOne's user resource carries the MFA switch.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub(crate) id: String,
    pub(crate) username: String,
    #[serde(rename = "mfaEnabled")]
    pub(crate) mfa_enabled: bool,
    pub(crate) enabled: bool,
    pub(crate) account: UserAccount,
}

/// A user's `account`: `status` is `OK` or `LOCKED`.
#[derive(Debug, Clone, Serialize)]
pub struct UserAccount {
    pub(crate) status: String,
}

/// `GET` / `PUT …/users/{userID}/mfaEnabled`: `{"mfaEnabled": true}`, the docs' whole body.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaEnabledBody {
    #[serde(rename = "mfaEnabled")]
    pub(crate) mfa_enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct UsersEmbedded {
    pub(crate) users: Vec<User>,
}

/// `GET …/users?filter=username eq "…"`: one page.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct UserPage {
    #[serde(rename = "_links")]
    pub(crate) links: Links,
    #[serde(rename = "_embedded")]
    pub(crate) embedded: UsersEmbedded,
    /// Items in the whole list, on every page; `size`: items on this page.
    pub(crate) count: usize,
    pub(crate) size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pairing {
    #[serde(rename = "maxAllowedDevices")]
    pub(crate) max_allowed_devices: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Enabled {
    pub(crate) enabled: bool,
}

/// MFA settings' `users`: whether new users get MFA switched on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewUsers {
    #[serde(rename = "mfaEnabled")]
    pub(crate) mfa_enabled: bool,
}

/// `GET …/mfaSettings`, the parts the tool reads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MfaSettings {
    pub(crate) pairing: Pairing,
    #[serde(rename = "phoneExtensions")]
    pub(crate) phone_extensions: Enabled,
    pub(crate) users: NewUsers,
}

/// One quota of a notification policy, as the docs (and Terraform's `quota` block) name it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotificationQuota {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(rename = "deliveryMethods")]
    pub(crate) delivery_methods: Vec<String>,
    pub(crate) total: u64,
}

/// A notification policy: its quotas per user or per environment, per day.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotificationPolicy {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) default: bool,
    pub(crate) quotas: Vec<NotificationQuota>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotificationPoliciesEmbedded {
    #[serde(rename = "notificationsPolicies")]
    pub(crate) notifications_policies: Vec<NotificationPolicy>,
}

/// `GET …/notificationsPolicies`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotificationPolicies {
    #[serde(rename = "_embedded")]
    pub(crate) embedded: NotificationPoliciesEmbedded,
}

/// One method of a policy, as the docs name its settings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PolicyMethod {
    pub(crate) enabled: bool,
    #[serde(rename = "pairingDisabled")]
    pub(crate) pairing_disabled: bool,
}

/// `GET …/deviceAuthenticationPolicies/{id}`, the parts the tool reads: each method's
/// settings and the new-device notice.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Policy {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) sms: PolicyMethod,
    pub(crate) voice: PolicyMethod,
    pub(crate) email: PolicyMethod,
    #[serde(rename = "whatsApp")]
    pub(crate) whats_app: PolicyMethod,
    #[serde(rename = "newDeviceNotification")]
    pub(crate) new_device_notification: String,
}

/// A detail's `innerError`, with the fields of PingOne's published schema the sandbox
/// fills: a 429 `QUOTA_EXCEEDED` says when the quota resets and what it is, a 429
/// `LIMIT_EXCEEDED` when to try again (a date-time).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct InnerError {
    #[serde(rename = "quotaResetTime", skip_serializing_if = "Option::is_none")]
    pub(crate) quota_reset_time: Option<String>,
    #[serde(rename = "quotaLimit", skip_serializing_if = "Option::is_none")]
    pub(crate) quota_limit: Option<u64>,
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub(crate) retry_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorDetail {
    pub(crate) code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<String>,
    pub(crate) message: String,
    #[serde(rename = "innerError", skip_serializing_if = "Option::is_none")]
    pub(crate) inner_error: Option<InnerError>,
}

/// PingOne's error body: `{"id","code","message","details":[…]}`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) id: String,
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) details: Vec<ErrorDetail>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
}

/// The token endpoint's OAuth error.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenError {
    pub(crate) error: String,
    pub(crate) error_description: String,
}
