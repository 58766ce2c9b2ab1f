//! PingOne's JSON as the simulator speaks it, written from `shared/PINGONE.md` and the
//! documented example bodies, never from the client's structs (`crate::pingone::wire`): a
//! simulator that shared the client's types would agree with any misnamed or misnested field
//! the client sent or expected. Tests post the documented examples here and read the answers
//! with the client.

use serde::{Deserialize, Serialize};

/// `{"id": "…"}`, as PingOne nests references (`policy`, `user`, `environment`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdObject {
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Href {
    pub href: String,
}

/// `_links`: HAL links; `next` only on a list page with more to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Href>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
}

/// `notification.template` of a create request (ACTIVATION_REQUIRED only). `variant` and
/// `variables` are unverified in the docs; they are accepted as they come.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationTemplate {
    pub locale: Option<String>,
    pub variant: Option<String>,
    pub variables: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub template: Option<NotificationTemplate>,
}

/// The body of `POST /environments/{envID}/users/{userID}/devices`, as the docs list it:
/// `type`, `phone` or `email`, `policy.id`; optional `status`, `nickname`, `extension`,
/// `notification`. A field the docs do not list is refused, as a strict server would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    #[serde(rename = "type")]
    pub device_type: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub extension: Option<String>,
    pub policy: Option<IdObject>,
    pub status: Option<String>,
    pub nickname: Option<String>,
    pub notification: Option<Notification>,
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
pub struct DevicesEmbedded {
    pub devices: Vec<Device>,
}

/// `GET …/users/{userID}/devices`: one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DevicePage {
    #[serde(rename = "_links")]
    pub links: Links,
    #[serde(rename = "_embedded")]
    pub embedded: DevicesEmbedded,
    pub count: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UsersEmbedded {
    pub users: Vec<User>,
}

/// `GET …/users?filter=username eq "…"`: one page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserPage {
    #[serde(rename = "_links")]
    pub links: Links,
    #[serde(rename = "_embedded")]
    pub embedded: UsersEmbedded,
    pub count: usize,
    pub size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pairing {
    #[serde(rename = "maxAllowedDevices")]
    pub max_allowed_devices: u32,
}

/// `GET …/mfaSettings`, the part the tool reads.
#[derive(Debug, Clone, Serialize)]
pub struct MfaSettings {
    pub pairing: Pairing,
}

/// `GET …/deviceAuthenticationPolicies/{id}`, the part the tool reads.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub message: String,
}

/// PingOne's error body: `{"id","code","message","details":[…]}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub id: String,
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// The token endpoint's OAuth error.
#[derive(Debug, Clone, Serialize)]
pub struct TokenError {
    pub error: String,
    pub error_description: String,
}
