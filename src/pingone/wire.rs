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
    /// The user's MFA switch, when the look-up carries it (PingOne's user resource does).
    #[serde(rename = "mfaEnabled", default)]
    pub(crate) mfa_enabled: Option<bool>,
}

/// `GET` and `PUT /users/{userID}/mfaEnabled`: the user's MFA switch. New users have it
/// off, and cannot complete an MFA action until it is on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct MfaEnabled {
    #[serde(rename = "mfaEnabled")]
    pub(crate) mfa_enabled: bool,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PhoneExtensions {
    #[serde(default)]
    pub enabled: bool,
}

/// `GET /mfaSettings`; only what the tool reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MfaSettings {
    pub pairing: Pairing,
    /// Off by default in PingOne; a VOICE device with an extension needs it on.
    #[serde(default)]
    pub phone_extensions: PhoneExtensions,
}

/// One method of a device authentication policy: whether it is on, and whether new
/// devices may be paired with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyMethod {
    #[serde(default)]
    pub(crate) enabled: bool,
    #[serde(default)]
    pub(crate) pairing_disabled: bool,
}

/// `GET /deviceAuthenticationPolicies/{id}`; only what the tool reads. A method the policy
/// does not list is taken as not enabled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Policy {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) sms: Option<PolicyMethod>,
    #[serde(default)]
    pub(crate) voice: Option<PolicyMethod>,
    #[serde(default)]
    pub(crate) email: Option<PolicyMethod>,
    #[serde(default)]
    pub(crate) whats_app: Option<PolicyMethod>,
    /// `NONE`, `EMAIL_THEN_SMS`, `SMS_THEN_EMAIL`; PingOne's API defaults to `EMAIL_THEN_SMS`.
    #[serde(default)]
    pub(crate) new_device_notification: Option<String>,
}

impl Policy {
    /// The policy's settings for a device type.
    pub(crate) fn method(&self, device_type: DeviceType) -> Option<&PolicyMethod> {
        match device_type {
            DeviceType::Sms => self.sms.as_ref(),
            DeviceType::Voice => self.voice.as_ref(),
            DeviceType::Email => self.email.as_ref(),
            DeviceType::Whatsapp => self.whats_app.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(
        rename = "innerError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) inner_error: Option<InnerError>,
}

/// A detail's `innerError`; a 429 `QUOTA_EXCEEDED` carries when the quota resets. Kept as
/// whatever JSON came: a value that is not a date is shown as text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InnerError {
    #[serde(default)]
    pub(crate) quota_reset_time: Option<serde_json::Value>,
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
