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
pub(crate) struct NotificationTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) variant: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Notification {
    pub(crate) template: NotificationTemplate,
}

/// The body of `POST /environments/{envID}/users/{userID}/devices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CreateDevice {
    #[serde(rename = "type")]
    pub(crate) device_type: DeviceType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) extension: Option<String>,
    pub(crate) policy: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<DeviceStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) notification: Option<Notification>,
}

/// A device as PingOne returns it. `type` stays a string: users also have TOTP, FIDO2 and
/// mobile devices that this tool never creates but must read past.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub device_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nickname: Option<String>,
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
pub(crate) struct Href {
    pub(crate) href: String,
}

/// `_links` of a list page; `next` is there while more pages follow.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct PageLinks {
    #[serde(default)]
    pub(crate) next: Option<Href>,
}

/// One page of a list PingOne pages: its items, and the link to the next page.
pub(crate) trait Page: serde::de::DeserializeOwned {
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
    pub(crate) links: PageLinks,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
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
    pub(crate) links: PageLinks,
    #[serde(default)]
    pub(crate) count: Option<u64>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
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
pub(crate) struct Policy {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// PingOne's error body: `{"id","code","message","details":[…]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

/// The token endpoint's OAuth error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TokenError {
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}
