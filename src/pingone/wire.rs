//! PingOne's JSON as the client sends and reads it. The sandbox has its own description
//! (`crate::sandbox::json`), written from the docs, so a field named wrongly here fails a test
//! instead of agreeing with itself.

use serde::{Deserialize, Serialize};

use crate::model::{DeviceStatus, DeviceType};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    pub id: String,
}

/// `notification.template`: a custom pairing notification (ACTIVATION_REQUIRED only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notification {
    pub template: NotificationTemplate,
}

/// The body of `POST /environments/{envID}/users/{userID}/devices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateDevice {
    #[serde(rename = "type")]
    pub device_type: DeviceType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    pub policy: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DeviceStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
}

/// A device as PingOne returns it. `type` stays a string: users also have TOTP, FIDO2 and
/// mobile devices that this tool never creates but must read past.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: String,
    #[serde(rename = "type")]
    pub device_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<IdRef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DevicesEmbedded {
    #[serde(default)]
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Href {
    pub href: String,
}

/// `_links` of a list page; `next` is there while more pages follow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageLinks {
    #[serde(default)]
    pub next: Option<Href>,
}

/// One page of a list PingOne pages: its items, and the link to the next page.
pub trait Page: serde::de::DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, PageLinks);
}

impl Page for DeviceList {
    type Item = Device;
    fn into_parts(self) -> (Vec<Device>, PageLinks) {
        (self.embedded.devices, self.links)
    }
}

impl Page for UserList {
    type Item = User;
    fn into_parts(self) -> (Vec<User>, PageLinks) {
        (self.embedded.users, self.links)
    }
}

/// `GET /users/{userID}/devices`: one page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceList {
    #[serde(rename = "_embedded", default)]
    pub embedded: DevicesEmbedded,
    #[serde(rename = "_links", default)]
    pub links: PageLinks,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UsersEmbedded {
    #[serde(default)]
    pub users: Vec<User>,
}

/// `GET /users?filter=username eq "…"`: one page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserList {
    #[serde(rename = "_embedded", default)]
    pub embedded: UsersEmbedded,
    #[serde(rename = "_links", default)]
    pub links: PageLinks,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Pairing {
    pub max_allowed_devices: u32,
}

/// `GET /mfaSettings`; only what the tool reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MfaSettings {
    pub pairing: Pairing,
}

/// `GET /deviceAuthenticationPolicies/{id}`; only what the tool reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// PingOne's error body: `{"id","code","message","details":[…]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// The token endpoint's OAuth error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenError {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}
