//! `[enroll]` and the flags that override it -> [`EnrollSettings`]: which policy and status
//! devices get, what to do with devices a user already has, the phone numbers' default
//! country, whether PingOne may message users, and whether users' MFA is switched on.

use uuid::Uuid;

use crate::cli::{OnExistingArg, RunArgs};
use crate::model::{DeviceStatus, OnExisting};
use crate::validate::phone::Country;

use super::file::FileEnroll;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct EnrollSettings {
    pub policy_id: Option<Uuid>,
    pub status: Option<DeviceStatus>,
    pub on_existing: OnExisting,
    /// `max_deletes` / `--max-deletes`: the most devices one run may delete; required with
    /// `on_existing = "replace"`, which alone deletes.
    pub max_deletes: Option<u64>,
    pub default_country: Option<Country>,
    pub allow_messages: bool,
    /// `enable_mfa` / `--enable-mfa` / `--no-enable-mfa`: switch each user's MFA on once a
    /// device of theirs exists.
    pub enable_mfa: bool,
    /// Nothing said either way, and `--sandbox` switched users on as its rehearsal does: the
    /// run says so when it starts.
    pub enable_mfa_by_default: bool,
}

pub(super) fn enroll_settings(
    file: &FileEnroll,
    args: &RunArgs,
    origin: &str,
) -> Result<EnrollSettings, ConfigError> {
    let policy_id = match (&args.policy_id, &file.policy_id) {
        (Some(text), _) => Some(policy(text, "command line", "--policy-id")?),
        (None, Some(text)) => Some(policy(text, origin, "[enroll] policy_id")?),
        (None, None) => None,
    };
    let status = file
        .status
        .as_deref()
        .map(|text| {
            text.parse::<DeviceStatus>().map_err(|_| {
                ConfigError::new(
                    origin,
                    "[enroll] status",
                    format!("{text:?} is not ACTIVE or ACTIVATION_REQUIRED"),
                )
            })
        })
        .transpose()?;
    let on_existing = match (args.on_existing, file.on_existing.as_deref()) {
        (Some(OnExistingArg::Skip), _) => OnExisting::Skip,
        (Some(OnExistingArg::Create), _) => OnExisting::Create,
        (Some(OnExistingArg::Replace), _) => OnExisting::Replace,
        (None, None) => OnExisting::Skip,
        (None, Some(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "skip" => OnExisting::Skip,
            "create" => OnExisting::Create,
            "replace" => OnExisting::Replace,
            _ => {
                return Err(ConfigError::new(
                    origin,
                    "[enroll] on_existing",
                    format!("{text:?} is not skip, create or replace"),
                ))
            }
        },
    };
    let max_deletes = max_deletes(file, args, origin, on_existing)?;
    let default_country = match (&args.default_country, &file.default_country) {
        (Some(text), _) => Some(country(text, "command line", "--default-country")?),
        (None, Some(text)) => Some(country(text, origin, "[enroll] default_country")?),
        (None, None) => None,
    };
    let (enable_mfa, enable_mfa_by_default) = enable_mfa(file, args, origin)?;
    Ok(EnrollSettings {
        policy_id,
        status,
        on_existing,
        max_deletes,
        default_country,
        allow_messages: args.allow_messages || file.allow_messages.unwrap_or(false),
        enable_mfa,
        enable_mfa_by_default,
    })
}

/// Whether users' MFA is switched on, and whether only by `--sandbox`'s default. A live run
/// against PingOne must be told: left out, nobody might be able to use the devices it makes,
/// and nothing would say so.
fn enable_mfa(
    file: &FileEnroll,
    args: &RunArgs,
    origin: &str,
) -> Result<(bool, bool), ConfigError> {
    let told = if args.enable_mfa {
        Some(true)
    } else if args.no_enable_mfa {
        Some(false)
    } else {
        file.enable_mfa
    };
    match told {
        Some(on) => Ok((on, false)),
        // A rehearsal does what a migration should, unless told otherwise.
        None if args.sandbox => Ok((true, true)),
        // A dry run sends no PUT; it reports who is off either way.
        None if args.dry_run => Ok((false, false)),
        None => Err(ConfigError::new(
            origin,
            "[enroll] enable_mfa",
            "a live run against PingOne must be told whether to switch users' MFA on; nothing \
             was sent. Set enable_mfa = true (or pass --enable-mfa): each user whose device this \
             run creates or finds gets mfaEnabled switched on in the same turn, which PingOne \
             needs before the user can use any MFA device. Set enable_mfa = false (or pass \
             --no-enable-mfa): users' switches are left as they are, and a user whose MFA is off \
             cannot use the device this run makes",
        )),
    }
}

/// The cap on deletions: required with `replace` (a nightly job must say how much it may
/// delete before anything is); `--max-deletes` without it is refused (it would mean nothing),
/// the config key is ignored.
fn max_deletes(
    file: &FileEnroll,
    args: &RunArgs,
    origin: &str,
    on_existing: OnExisting,
) -> Result<Option<u64>, ConfigError> {
    let (cap, from, key) = match (args.max_deletes, file.max_deletes) {
        (Some(n), _) => (Some(n), "command line", "--max-deletes"),
        (None, Some(n)) => (Some(n), origin, "[enroll] max_deletes"),
        (None, None) => (None, origin, "[enroll] max_deletes"),
    };
    match (on_existing, cap) {
        (OnExisting::Replace, Some(n)) => Ok(Some(n)),
        (OnExisting::Replace, None) => Err(ConfigError::new(
            from,
            key,
            "on_existing = \"replace\" deletes devices, and needs the most one run may delete; \
             nothing was sent. Set [enroll] max_deletes (or pass --max-deletes N): the deletion \
             that would pass it stops the run (exit 3, DELETE_CAP_REACHED), and --resume with a \
             higher cap finishes",
        )),
        // A config file kept for both modes may hold it; a flag says the run should delete.
        (OnExisting::Skip | OnExisting::Create, Some(_)) if args.max_deletes.is_none() => Ok(None),
        (OnExisting::Skip | OnExisting::Create, Some(_)) => Err(ConfigError::new(
            from,
            key,
            "is only for on_existing = \"replace\", the one mode that deletes; remove it, or \
             set on_existing = \"replace\"",
        )),
        (OnExisting::Skip | OnExisting::Create, None) => Ok(None),
    }
}

/// A policy ID from `key` (the flag or the config key), which the error names.
fn policy(text: &str, origin: &str, key: &str) -> Result<Uuid, ConfigError> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        ConfigError::new(
            origin,
            key,
            format!("{text:?} is not a UUID; copy the device authentication policy ID from the PingOne console"),
        )
    })
}

/// A country from `key` (the flag or the config key), which the error names.
fn country(text: &str, origin: &str, key: &str) -> Result<Country, ConfigError> {
    let refused = |why: &str| ConfigError::new(origin, key, format!("{text:?} {why}"));
    let country = text
        .trim()
        .to_ascii_uppercase()
        .parse::<Country>()
        .map_err(|_| refused("is not a two-letter ISO country code such as US, GB or DE"))?;
    // Two letters that name no region with phone numbers (ZZ, XX): every national number
    // of the file would fail for the flag's mistake.
    crate::validate::phone::calling_code(country).ok_or_else(|| {
        refused("names no country with phone numbers; use its ISO code, such as US, GB or DE")
    })?;
    Ok(country)
}
