//! The checks of one row's fields, one function per field or pair of fields that depend on
//! each other. Each returns the parsed value or a [`RowError`] whose message says what to fix.

use email_address::EmailAddress;
use uuid::Uuid;

use super::{Cells, Code, Notification, RowError};
use crate::input::Column;
use crate::model::{Destination, DeviceStatus, DeviceType, UserRef};

const MAX_USERNAME_CHARS: usize = 128;
const MAX_NICKNAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_VARIANT_CHARS: usize = 100;

/// The row's user, and the username as written ("" when none). `user_id` wins.
pub(super) fn user(cells: &Cells) -> Result<(UserRef, String), RowError> {
    let user_id = cells.get(Column::UserId)?;
    let username = cells.get(Column::Username)?;
    if !user_id.is_empty() {
        let id = Uuid::parse_str(user_id).map_err(|_| {
            RowError::new(
                Code::InvalidUserId,
                format!("user_id {user_id:?} is not a UUID; use the PingOne user ID, or leave it empty and give a username"),
            )
        })?;
        return Ok((UserRef::Id(id), username.to_string()));
    }
    if username.is_empty() {
        return Err(RowError::new(
            Code::MissingUser,
            "neither user_id nor username is set; give one of them",
        ));
    }
    if username.chars().count() > MAX_USERNAME_CHARS || username.chars().any(char::is_control) {
        return Err(RowError::new(
            Code::InvalidUsername,
            format!(
                "username is longer than {MAX_USERNAME_CHARS} characters or has control characters"
            ),
        ));
    }
    Ok((
        UserRef::Username(username.to_string()),
        username.to_string(),
    ))
}

pub(super) fn device_type(cells: &Cells) -> Result<DeviceType, RowError> {
    let text = cells.get(Column::Type)?;
    if text.is_empty() {
        return Err(RowError::new(
            Code::MissingType,
            format!("type is empty; use {}", DeviceType::list_for_messages()),
        ));
    }
    text.parse().map_err(|_| {
        RowError::new(
            Code::InvalidType,
            format!("type {text:?} is not {}", DeviceType::list_for_messages()),
        )
    })
}

/// The phone as written (normalised later, see `Checked`) or the checked email.
pub(super) fn destination(cells: &Cells, device_type: DeviceType) -> Result<Destination, RowError> {
    if device_type.uses_phone() {
        let text = cells.get(Column::Phone)?;
        if text.is_empty() {
            return Err(RowError::new(
                Code::MissingPhone,
                format!(
                    "{} {device_type} device needs a phone number in the phone column",
                    device_type.article()
                ),
            ));
        }
        return Ok(Destination::Phone(text.to_string()));
    }
    let text = cells.get(Column::Email)?;
    if text.is_empty() {
        return Err(RowError::new(
            Code::MissingEmail,
            "an EMAIL device needs an address in the email column",
        ));
    }
    Ok(Destination::Email(check_email(text)?))
}

pub(super) fn extension(
    cells: &Cells,
    device_type: DeviceType,
) -> Result<Option<String>, RowError> {
    let Some(ext) = cells.optional(Column::Extension)? else {
        return Ok(None);
    };
    if !device_type.takes_extension() {
        return Err(RowError::new(
            Code::ExtensionNotAllowed,
            format!("extension is only for VOICE devices; clear it for {device_type}"),
        ));
    }
    let well_formed = ext.len() <= 16
        && ext
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '#' | '*' | ','));
    if !well_formed {
        return Err(RowError::new(
            Code::InvalidExtension,
            format!("extension {ext:?} may hold up to 16 digits, #, * and commas (e.g. 313#)"),
        ));
    }
    Ok(Some(ext))
}

pub(super) fn status(
    cells: &Cells,
    default: Option<DeviceStatus>,
) -> Result<Option<DeviceStatus>, RowError> {
    match cells.optional(Column::Status)? {
        None => Ok(default),
        Some(text) => text.parse::<DeviceStatus>().map(Some).map_err(|_| {
            RowError::new(
                Code::InvalidStatus,
                format!("status {text:?} is not ACTIVE or ACTIVATION_REQUIRED"),
            )
        }),
    }
}

/// The custom pairing notification, which PingOne takes only with ACTIVATION_REQUIRED.
pub(super) fn notification(
    cells: &Cells,
    status: Option<DeviceStatus>,
) -> Result<Option<Notification>, RowError> {
    let locale = cells.optional(Column::NotificationLocale)?;
    let variant = cells.optional(Column::NotificationVariant)?;
    if locale.is_none() && variant.is_none() {
        return Ok(None);
    }
    if status != Some(DeviceStatus::ActivationRequired) {
        return Err(RowError::new(
            Code::NotificationNotAllowed,
            "notification_locale and notification_variant apply only to ACTIVATION_REQUIRED devices; set status or clear them",
        ));
    }
    if let Some(l) = locale.as_deref().filter(|l| !is_locale(l)) {
        return Err(RowError::new(
            Code::InvalidNotification,
            format!("notification_locale {l:?} is not a language tag such as en or fr-CA"),
        ));
    }
    let bad_variant =
        |v: &String| v.chars().count() > MAX_VARIANT_CHARS || v.chars().any(char::is_control);
    if variant.as_ref().is_some_and(bad_variant) {
        return Err(RowError::new(
            Code::InvalidNotification,
            format!("notification_variant is longer than {MAX_VARIANT_CHARS} characters or has control characters"),
        ));
    }
    Ok(Some(Notification { locale, variant }))
}

pub(super) fn policy(cells: &Cells, default: Option<Uuid>) -> Result<Uuid, RowError> {
    match cells.optional(Column::PolicyId)? {
        Some(text) => Uuid::parse_str(&text).map_err(|_| {
            RowError::new(
                Code::InvalidPolicyId,
                format!("policy_id {text:?} is not a UUID"),
            )
        }),
        None => default.ok_or_else(|| {
            RowError::new(
                Code::MissingPolicy,
                "no device authentication policy: fill policy_id, or set --policy-id or [enroll] policy_id",
            )
        }),
    }
}

pub(super) fn nickname(cells: &Cells) -> Result<Option<String>, RowError> {
    let nickname = cells.optional(Column::Nickname)?;
    let too_long_or_odd =
        |n: &String| n.chars().count() > MAX_NICKNAME_CHARS || n.chars().any(char::is_control);
    if nickname.as_ref().is_some_and(too_long_or_odd) {
        return Err(RowError::new(
            Code::InvalidNickname,
            format!(
                "nickname is longer than {MAX_NICKNAME_CHARS} characters or has control characters"
            ),
        ));
    }
    Ok(nickname)
}

fn check_email(text: &str) -> Result<String, RowError> {
    let strict = email_address::Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    if text.chars().count() > MAX_EMAIL_CHARS {
        return Err(RowError::new(
            Code::InvalidEmail,
            format!("email is longer than {MAX_EMAIL_CHARS} characters"),
        ));
    }
    EmailAddress::parse_with_options(text, strict)
        .map(|_| text.to_string())
        .map_err(|e| {
            RowError::new(
                Code::InvalidEmail,
                format!("email {text:?} is not a valid address ({e})"),
            )
        })
}

fn is_locale(text: &str) -> bool {
    let mut parts = text.split(['-', '_']);
    let language_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    language_ok
        && text.len() <= 35
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}
