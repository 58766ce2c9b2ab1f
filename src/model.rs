//! The vocabulary every layer shares: device types and statuses, a normalised destination, a
//! reference to a user. Parsed once at the edge, then trusted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeviceType {
    Sms,
    Voice,
    Email,
    Whatsapp,
}

impl DeviceType {
    pub const ALL: [DeviceType; 4] = [Self::Sms, Self::Voice, Self::Email, Self::Whatsapp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "SMS",
            Self::Voice => "VOICE",
            Self::Email => "EMAIL",
            Self::Whatsapp => "WHATSAPP",
        }
    }

    pub fn uses_phone(self) -> bool {
        !matches!(self, Self::Email)
    }
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
        Self::ALL
            .into_iter()
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
    pub fn as_str(self) -> &'static str {
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
/// [`Destination::comparison_key`]s are equal (emails compare case-folded).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Phone(String),
    Email(String),
}

impl Destination {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(p) | Self::Email(p) => p,
        }
    }

    pub fn comparison_key(&self) -> String {
        match self {
            Self::Phone(p) => p.clone(),
            Self::Email(e) => e.to_lowercase(),
        }
    }
}

/// How a row names its user. `user_id` wins when a row has both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserRef {
    Id(Uuid),
    Username(String),
}

impl UserRef {
    /// The user's ID as results.csv shows it, when the row gave one ("" for a username
    /// not yet resolved).
    pub fn id_text(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Username(_) => String::new(),
        }
    }
}

/// What the tool does when the user already has a device of the same type and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    Skip,
    Create,
}
