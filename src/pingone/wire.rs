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

/// One page of a list PingOne pages: its items, the link to the next page, and the list's
/// `count` (items matched in all, not on this page) when the page gave one.
pub(crate) trait Page: serde::de::DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, PageLinks, Option<u64>);
}

impl Page for DeviceList {
    type Item = Device;
    fn into_parts(self) -> (Vec<Device>, PageLinks, Option<u64>) {
        (self.embedded.devices, self.links, self.count)
    }
}

impl Page for UserList {
    type Item = User;
    fn into_parts(self) -> (Vec<User>, PageLinks, Option<u64>) {
        (self.embedded.users, self.links, self.count)
    }
}

/// `GET /users/{userID}/devices`: one page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceList {
    #[serde(rename = "_embedded", default)]
    pub embedded: DevicesEmbedded,
    #[serde(rename = "_links", default)]
    pub(crate) links: PageLinks,
    /// Items the list matched in all, on every page (see [`whole_count`]).
    #[serde(default, deserialize_with = "whole_count")]
    pub(crate) count: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// The user's MFA switch, when the look-up carries it (PingOne's user resource does).
    #[serde(rename = "mfaEnabled", default)]
    pub(crate) mfa_enabled: Option<bool>,
    /// Whether the user may sign on at all; `None` when the answer leaves it out.
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default)]
    pub(crate) account: Option<Account>,
}

/// A user's `account`: its `status` is `OK` or `LOCKED` (PingOne's user resource).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// Whether a user's account is in use, as far as an answer says: what it leaves out counts
/// as in use (a row is never called a disabled user's on a guess).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) disabled: bool,
    pub(crate) locked: bool,
}

impl User {
    pub(crate) fn standing(&self) -> Standing {
        let status = self.account.as_ref().and_then(|a| a.status.as_deref());
        Standing {
            disabled: self.enabled == Some(false),
            locked: status.is_some_and(|s| s.eq_ignore_ascii_case("LOCKED")),
        }
    }
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
    /// Items the list matched in all, on every page (see [`whole_count`]).
    #[serde(default, deserialize_with = "whole_count")]
    pub(crate) count: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Pairing {
    /// PingOne says 1 to 15; any other number is read without failing (see [`lenient_count`]).
    #[serde(default, deserialize_with = "lenient_count")]
    pub max_allowed_devices: Option<u64>,
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
    /// `users.mfaEnabled`: whether new users get MFA switched on.
    #[serde(default)]
    pub users: Option<NewUsers>,
}

/// MFA settings' `users`: what new users get.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NewUsers {
    #[serde(default)]
    pub mfa_enabled: Option<bool>,
}

/// One quota of a notification policy: per `USER` or per `ENVIRONMENT`, per day, over the
/// delivery methods it names (`SMS` and `Voice` together, `Email` apart).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationQuota {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) delivery_methods: Vec<String>,
    #[serde(default, deserialize_with = "lenient_count")]
    pub(crate) total: Option<u64>,
}

/// A notification policy, the parts the tool reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationPolicy {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The environment's default policy, which applies where no application names another.
    #[serde(default)]
    pub(crate) default: bool,
    #[serde(default)]
    pub(crate) quotas: Vec<NotificationQuota>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationPoliciesEmbedded {
    #[serde(default)]
    pub(crate) notifications_policies: Vec<NotificationPolicy>,
}

/// `GET /notificationsPolicies`: the first page (an environment has a handful).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct NotificationPolicies {
    #[serde(rename = "_embedded", default)]
    pub(crate) embedded: NotificationPoliciesEmbedded,
}

/// One method of a device authentication policy: whether it is on, and whether new
/// devices may be paired with it. What the policy does not say is not known, and a plan
/// refuses nothing on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyMethod {
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default)]
    pub(crate) pairing_disabled: Option<bool>,
}

impl PolicyMethod {
    /// Why the policy refuses new devices of this method, when it says so.
    pub(crate) fn refuses(&self) -> Option<&'static str> {
        if self.enabled == Some(false) {
            Some("does not enable")
        } else if self.pairing_disabled == Some(true) {
            Some("disables pairing of")
        } else {
            None
        }
    }
}

/// `GET /deviceAuthenticationPolicies/{id}`; only what the tool reads. A method the policy
/// does not list is not judged.
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
    /// Whether creating a device under this policy may make PingOne send the user a
    /// new-device notice: its `newDeviceNotification` is not `NONE` (a policy that does not
    /// say has the API's default, `EMAIL_THEN_SMS`).
    pub(crate) fn notifies_new_devices(&self) -> bool {
        self.new_device_notification
            .as_deref()
            .is_none_or(|setting| !setting.trim().eq_ignore_ascii_case("NONE"))
    }

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
    #[serde(default, deserialize_with = "lenient_count")]
    pub(crate) expires_in: Option<u64>,
}

/// A count or a number of seconds as a server sends it, read without ever failing or
/// overflowing: a whole number as it is; a fraction, or a number too large for 64 bits (even
/// one past `f64`, such as `1e400`), saturated; digits in a string as a number; anything
/// negative, absent or of another kind as `None`. The reader then caps it as the number's
/// meaning allows (a token's lifetime, a device cap). It reads the number's text itself:
/// serde_json refuses a number it cannot hold as `f64`, which would fail the whole answer.
pub(crate) fn lenient_count<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
    let text = raw.get().trim();
    if text.starts_with('"') {
        let inner: Option<String> = serde_json::from_str(text).ok();
        return Ok(inner.and_then(|t| t.trim().parse().ok()));
    }
    if let Ok(whole) = text.parse::<u64>() {
        return Ok(Some(whole));
    }
    Ok(match text.parse::<f64>() {
        // `as` saturates: 1e30 and 1e400 (infinity) become u64::MAX, never a panic.
        Ok(float) if float >= 0.0 => Some(float as u64),
        _ => None,
    })
}

/// A list's `count` when it is one: a whole number as JSON writes it. Anything else (`1e400`,
/// `-1`, `2.5`, a string, a number past 64 bits) is no count at all and reads as `None`, as
/// a missing one does: a list is checked against the count its pages give
/// (`pingone/paging.rs`), and a number no list has is not a count to check it against.
pub(crate) fn whole_count<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
    Ok(raw.get().trim().parse::<u64>().ok())
}

/// The token endpoint's OAuth error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TokenError {
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every answer the client parses, parsed from `bytes`: it may fail, never panic.
    fn parse_every_answer(bytes: &[u8]) {
        let _ = serde_json::from_slice::<DeviceList>(bytes);
        let _ = serde_json::from_slice::<UserList>(bytes);
        let _ = serde_json::from_slice::<Device>(bytes);
        let _ = serde_json::from_slice::<MfaSettings>(bytes);
        let _ = serde_json::from_slice::<Policy>(bytes);
        let _ = serde_json::from_slice::<ErrorBody>(bytes);
        let _ = serde_json::from_slice::<TokenResponse>(bytes);
        let _ = serde_json::from_slice::<TokenError>(bytes);
    }

    /// A JSON number of any size or shape, as a server might write it.
    fn any_number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            any::<u64>().prop_map(|n| format!("{n}{n}{n}{n}")),
            any::<u64>().prop_map(|n| format!("-{n}{n}")),
            any::<u32>().prop_map(|n| format!("{n}.{n}e{}", n % 400)),
        ]
    }

    proptest! {
        #[test]
        fn no_answer_of_arbitrary_bytes_panics(bytes in any::<Vec<u8>>()) {
            parse_every_answer(&bytes);
        }

        /// Numbers anywhere in otherwise well-formed answers: counts, page sizes, the device
        /// cap, a token's lifetime. The ones the client reads are read without failing.
        #[test]
        fn numbers_of_any_size_in_answers_never_panic(number in any_number()) {
            let answers = [
                format!("{{\"_embedded\":{{\"users\":[{{\"id\":\"u\"}}]}},\"count\":{number},\"size\":{number}}}"),
                format!("{{\"_embedded\":{{\"devices\":[]}},\"count\":{number},\"limit\":{number}}}"),
                format!("{{\"pairing\":{{\"maxAllowedDevices\":{number}}}}}"),
                format!("{{\"access_token\":\"t\",\"expires_in\":{number}}}"),
                format!("{{\"id\":\"d\",\"type\":\"SMS\",\"phone\":{number}}}"),
            ];
            for answer in &answers {
                parse_every_answer(answer.as_bytes());
            }
            prop_assert!(serde_json::from_str::<UserList>(&answers[0]).is_ok());
            prop_assert!(serde_json::from_str::<DeviceList>(&answers[1]).is_ok());
            prop_assert!(serde_json::from_str::<MfaSettings>(&answers[2]).is_ok());
            prop_assert!(serde_json::from_str::<TokenResponse>(&answers[3]).is_ok());
        }
    }

    #[test]
    fn counts_are_read_as_far_as_they_make_sense() {
        let read = |number: &str| {
            let json = format!("{{\"pairing\":{{\"maxAllowedDevices\":{number}}}}}");
            serde_json::from_str::<MfaSettings>(&json)
                .unwrap()
                .pairing
                .max_allowed_devices
        };
        assert_eq!(read("5"), Some(5));
        assert_eq!(read("\"7\""), Some(7));
        assert_eq!(read("1e30"), Some(u64::MAX));
        assert_eq!(read("1e400"), Some(u64::MAX));
        assert_eq!(read("2.5"), Some(2));
        assert_eq!(read("-3"), None);
        assert_eq!(read("null"), None);
        assert_eq!(read("{}"), None);
    }

    #[test]
    fn a_lists_count_is_a_whole_number_or_none() {
        let read = |number: &str| {
            let json = format!("{{\"_embedded\":{{\"devices\":[]}},\"count\":{number}}}");
            serde_json::from_str::<DeviceList>(&json).unwrap().count
        };
        assert_eq!(read("2"), Some(2));
        assert_eq!(read("18446744073709551615"), Some(u64::MAX));
        for no_count in [
            "1e400",
            "2.5",
            "-1",
            "\"2\"",
            "18446744073709551616",
            "null",
            "{}",
        ] {
            assert_eq!(read(no_count), None, "{no_count}");
        }
        assert_eq!(serde_json::from_str::<UserList>("{}").unwrap().count, None);
    }
}
