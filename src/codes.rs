//! Every `error_code` the tool writes to results.csv and errors.csv, spelled once. Scripts
//! match on these: never rename one. PingOne's own codes pass through as [`Code::PingOne`].

use std::fmt;

use serde::{Deserialize, Serialize};
use strum::IntoEnumIterator;

/// A row's code. The first group marks `invalid` rows (found offline, nothing sent); the
/// second, `failed` rows; [`Code::PingOne`] carries PingOne's most specific code as it sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumIter)]
pub(crate) enum Code {
    // Invalid rows: validation, before anything is sent.
    MalformedRow,
    /// A line ending of another kind than the file's split the record (see `input`).
    StrayLineBreak,
    InvalidEncoding,
    MissingUser,
    InvalidUserId,
    InvalidUsername,
    MissingType,
    InvalidType,
    MissingPhone,
    InvalidPhone,
    MissingEmail,
    InvalidEmail,
    ExtensionNotAllowed,
    InvalidExtension,
    InvalidStatus,
    NotificationNotAllowed,
    InvalidNotification,
    MissingPolicy,
    InvalidPolicyId,
    InvalidNickname,
    DuplicateRow,
    // Failed rows: what the run met.
    UserNotFound,
    AmbiguousUser,
    PolicyNotFound,
    DeviceLimit,
    /// Online dry run: the policy does not enable the row's method, or disables its pairing.
    MethodDisabled,
    /// Online dry run: a VOICE extension while MFA settings have phone extensions off.
    ExtensionsDisabled,
    /// The device is there, but the user's MFA switch could not be set (`enable_mfa`).
    MfaNotEnabled,
    /// `replace`: the row has its device, but stale devices of its user and type are still
    /// to be deleted (a DELETE failed, or the run stopped first); `--resume` deletes them.
    RemovalsOwed,
    /// `replace`: the row has its device, but deleting its user's stale devices would pass
    /// `max_deletes`; `--resume` with a higher cap deletes them.
    DeleteCapReached,
    RetriesExhausted,
    NotAttempted,
    Unconfirmed,
    /// The server's TLS certificate stopped being trusted mid-run (a run checks it first).
    ConnectionFailed,
    /// PingOne's answer was past its ceiling (a body, or a list's pages or items).
    AnswerTooLarge,
    /// A list's `_links.next` left the environment or went back to a page already read.
    BadNextLink,
    InternalError,
    /// PingOne's own code (`INVALID_VALUE`, `LIMIT_EXCEEDED`, `HTTP_502`, ...).
    PingOne(String),
}

impl Code {
    /// Every code of the tool's own (all but [`Code::PingOne`]), in the order the tables of
    /// docs/codes.md list them. Derived from the enum, so a new code cannot be left out.
    pub(crate) fn own() -> impl Iterator<Item = Code> {
        Code::iter().filter(|code| !matches!(code, Code::PingOne(_)))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Code::MalformedRow => "MALFORMED_ROW",
            Code::StrayLineBreak => "STRAY_LINE_BREAK",
            Code::InvalidEncoding => "INVALID_ENCODING",
            Code::MissingUser => "MISSING_USER",
            Code::InvalidUserId => "INVALID_USER_ID",
            Code::InvalidUsername => "INVALID_USERNAME",
            Code::MissingType => "MISSING_TYPE",
            Code::InvalidType => "INVALID_TYPE",
            Code::MissingPhone => "MISSING_PHONE",
            Code::InvalidPhone => "INVALID_PHONE",
            Code::MissingEmail => "MISSING_EMAIL",
            Code::InvalidEmail => "INVALID_EMAIL",
            Code::ExtensionNotAllowed => "EXTENSION_NOT_ALLOWED",
            Code::InvalidExtension => "INVALID_EXTENSION",
            Code::InvalidStatus => "INVALID_STATUS",
            Code::NotificationNotAllowed => "NOTIFICATION_NOT_ALLOWED",
            Code::InvalidNotification => "INVALID_NOTIFICATION",
            Code::MissingPolicy => "MISSING_POLICY",
            Code::InvalidPolicyId => "INVALID_POLICY_ID",
            Code::InvalidNickname => "INVALID_NICKNAME",
            Code::DuplicateRow => "DUPLICATE_ROW",
            Code::UserNotFound => "USER_NOT_FOUND",
            Code::AmbiguousUser => "AMBIGUOUS_USER",
            Code::PolicyNotFound => "POLICY_NOT_FOUND",
            Code::DeviceLimit => "DEVICE_LIMIT",
            Code::MethodDisabled => "METHOD_DISABLED",
            Code::ExtensionsDisabled => "EXTENSIONS_DISABLED",
            Code::MfaNotEnabled => "MFA_NOT_ENABLED",
            Code::RemovalsOwed => "REMOVALS_OWED",
            Code::DeleteCapReached => "DELETE_CAP_REACHED",
            Code::RetriesExhausted => "RETRIES_EXHAUSTED",
            Code::NotAttempted => "NOT_ATTEMPTED",
            Code::Unconfirmed => "UNCONFIRMED",
            Code::ConnectionFailed => "CONNECTION_FAILED",
            Code::AnswerTooLarge => "ANSWER_TOO_LARGE",
            Code::BadNextLink => "BAD_NEXT_LINK",
            Code::InternalError => "INTERNAL_ERROR",
            Code::PingOne(code) => code,
        }
    }

    /// Reads a code back from an earlier results.csv or errors.csv.
    pub(crate) fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(
            Self::own()
                .find(|c| c.as_str() == text)
                .unwrap_or_else(|| Code::PingOne(text.to_string())),
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::parse(&text).ok_or_else(|| serde::de::Error::custom("an empty code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::own() {
            assert!(
                seen.insert(code.as_str().to_string()),
                "{code} spelled twice"
            );
            assert_eq!(Code::parse(code.as_str()), Some(code.clone()));
        }
        assert_eq!(
            Code::parse("INVALID_VALUE"),
            Some(Code::PingOne("INVALID_VALUE".into()))
        );
        assert_eq!(Code::parse(" "), None);
    }

    #[test]
    fn the_codes_guide_lists_every_code() {
        let guide = include_str!("../docs/codes.md");
        for code in Code::own() {
            assert!(
                guide.contains(&format!("`{}`", code.as_str())),
                "docs/codes.md does not document {code}"
            );
        }
    }
}
