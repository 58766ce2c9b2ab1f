//! The vocabulary every layer shares: device types and statuses, a normalised destination, a
//! reference to a user, which row claimed which device. Parsed once at the edge, then trusted.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use strum::VariantArray;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[derive(VariantArray)]
pub(crate) enum DeviceType {
    Sms,
    Voice,
    Email,
    Whatsapp,
}

impl DeviceType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "SMS",
            Self::Voice => "VOICE",
            Self::Email => "EMAIL",
            Self::Whatsapp => "WHATSAPP",
        }
    }

    /// Whether the device's destination is a phone number (else an email address).
    pub(crate) fn uses_phone(self) -> bool {
        match self {
            Self::Sms | Self::Voice | Self::Whatsapp => true,
            Self::Email => false,
        }
    }

    /// Whether the device may carry an extension, and an extension makes it another line.
    pub(crate) fn takes_extension(self) -> bool {
        match self {
            Self::Voice => true,
            Self::Sms | Self::Email | Self::Whatsapp => false,
        }
    }

    /// Whether PingOne counts this device's pairing message against the daily per-user
    /// allowance: 50 SMS and 50 emails a day (voice calls and WhatsApp have none documented).
    pub(crate) fn daily_message_channel(self) -> Option<MessageChannel> {
        match self {
            Self::Sms => Some(MessageChannel::Sms),
            Self::Email => Some(MessageChannel::Email),
            Self::Voice | Self::Whatsapp => None,
        }
    }

    /// The article before the type's name, as it is said: "an SMS", "a VOICE".
    pub(crate) fn article(self) -> &'static str {
        match self {
            Self::Sms | Self::Email => "an",
            Self::Voice | Self::Whatsapp => "a",
        }
    }

    /// "SMS, VOICE, EMAIL or WHATSAPP", for messages.
    pub(crate) fn list_for_messages() -> String {
        let names: Vec<&str> = Self::VARIANTS.iter().map(|t| t.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The channels PingOne limits per user per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageChannel {
    Sms,
    Email,
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceType {
    type Err = ();
    /// Case-insensitive, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        Self::VARIANTS
            .iter()
            .copied()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeviceStatus {
    Active,
    ActivationRequired,
}

impl DeviceStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::ActivationRequired => "ACTIVATION_REQUIRED",
        }
    }
}

impl FromStr for DeviceStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" => Ok(Self::Active),
            "ACTIVATION_REQUIRED" => Ok(Self::ActivationRequired),
            _ => Err(()),
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a device sends its codes: a phone number in E.164 (`+15125551234`) or an email
/// address as the file spelled it. Two destinations are the same device when their
/// [`Destination::comparison_key`]s are equal (emails compare case-folded, with their
/// domain in ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Destination {
    Phone(String),
    Email(String),
}

impl Destination {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Phone(p) | Self::Email(p) => p,
        }
    }

    pub(crate) fn comparison_key(&self) -> String {
        match self {
            Self::Phone(p) => p.clone(),
            Self::Email(e) => email_comparison_form(e),
        }
    }
}

/// An email as it compares: case-folded, its domain in ASCII (`bücher.example` is
/// `xn--bcher-kva.example`), so one address spelled in Unicode in one place and in punycode
/// in another is one device. A domain IDNA refuses stays as spelled.
fn email_comparison_form(email: &str) -> String {
    let folded = email.to_lowercase();
    match folded.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() || domain.contains("xn--") => {
            match idna::domain_to_ascii(domain) {
                Ok(ascii) => format!("{local}@{ascii}"),
                Err(_) => folded,
            }
        }
        _ => folded,
    }
}

/// What makes two devices of one user the same device: type, destination in comparison form
/// and, for types that take one, the extension (the same number with another extension is
/// another line). The in-file duplicate check, the existing-device match and reconciling an
/// unclear answer all compare this.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DeviceIdentity {
    pub(crate) device_type: DeviceType,
    pub(crate) destination: String,
    pub(crate) extension: Option<String>,
}

impl DeviceIdentity {
    /// `extension` is ignored for types that take none, and an empty one is none.
    pub(crate) fn new(
        device_type: DeviceType,
        destination: &Destination,
        extension: Option<&str>,
    ) -> Self {
        let extension = extension
            .map(str::trim)
            .filter(|e| !e.is_empty() && device_type.takes_extension())
            .map(str::to_string);
        Self {
            device_type,
            destination: destination.comparison_key(),
            extension,
        }
    }
}

/// How a row names its user. `user_id` wins when a row has both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum UserRef {
    Id(Uuid),
    Username(String),
}

impl UserRef {
    /// The user's ID as results.csv shows it, when the row gave one ("" for a username
    /// not yet resolved).
    pub(crate) fn id_text(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Username(_) => String::new(),
        }
    }
}

/// What the tool does when the user already has a device of the same type and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    #[default]
    Skip,
    Create,
    /// Nightly sync: as `Skip`, and then the user's devices of a type that no row of the
    /// user and type names are deleted (see `dispatch::removals`).
    Replace,
}

impl OnExisting {
    /// Whether a device the user already has is the row's (`skipped_existing`), not a reason
    /// to create another.
    pub(crate) fn skips_existing(self) -> bool {
        match self {
            OnExisting::Skip | OnExisting::Replace => true,
            OnExisting::Create => false,
        }
    }
}

/// Device ID -> the line that reported it `created`: a device is created by one row only.
/// Keyed by the ID's 128 bits (PingOne's IDs are UUIDs; anything else by a digest), so a
/// run of a million rows keeps 32 bytes per device, not the ID's string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Claims(HashMap<u128, u64>);

impl Claims {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn key(device_id: &str) -> u128 {
        match uuid::Uuid::parse_str(device_id) {
            Ok(id) => id.as_u128(),
            Err(_) => {
                use std::hash::{Hash, Hasher};
                let half = |salt: u8| {
                    let mut hasher = std::hash::DefaultHasher::new();
                    (salt, device_id).hash(&mut hasher);
                    hasher.finish()
                };
                (u128::from(half(1)) << 64) | u128::from(half(2))
            }
        }
    }

    pub(crate) fn insert(&mut self, device_id: &str, line: u64) {
        self.0.insert(Self::key(device_id), line);
    }

    /// Forgets the device's claim (its user has no row to come).
    pub(crate) fn remove(&mut self, device_id: &str) {
        self.0.remove(&Self::key(device_id));
    }

    /// The line that claimed the device, if any.
    pub(crate) fn get(&self, device_id: &str) -> Option<u64> {
        self.0.get(&Self::key(device_id)).copied()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}
