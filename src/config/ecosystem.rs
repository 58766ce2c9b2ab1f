//! Which environment the API calls go to (the target), which one the worker app lives in,
//! and the region ([`Region`], with its hosts): from `[pingone]`, else from the variables Ping's own tools read, so one
//! shell set up for Ping's Terraform provider or Ping CLI also works here.
//!
//! Those tools read `PINGONE_ENVIRONMENT_ID` as the worker app's environment, and so does this
//! tool (before 2026-12-07 it named the target); the target has a variable of its own,
//! `PINGONE_TARGET_ENVIRONMENT_ID`, and is the worker's environment when nothing names it.
//! The region comes from Terraform's `PINGONE_REGION_CODE` / `PINGONE_REGION` or Ping CLI's
//! `PINGONE_ROOT_DOMAIN`.

use serde::Deserialize;
use uuid::Uuid;

use super::file::FilePingOne;
use super::{ConfigError, EnvLookup};

/// The worker app's environment, as Ping's Terraform provider and Ping CLI read it.
pub(crate) const ENV_ENVIRONMENT_ID: &str = "PINGONE_ENVIRONMENT_ID";
/// The target environment, when it is not the worker's.
pub(crate) const ENV_TARGET_ENVIRONMENT_ID: &str = "PINGONE_TARGET_ENVIRONMENT_ID";
/// Terraform's newer name first, then its older one, then Ping CLI's.
const ENV_REGION: [&str; 3] = [
    "PINGONE_REGION_CODE",
    "PINGONE_REGION",
    "PINGONE_ROOT_DOMAIN",
];

/// Where an environment lives, each region with its own hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum Region {
    NA,
    EU,
    CA,
    AU,
    SG,
    AP,
}

impl Region {
    fn top_level_domain(self) -> &'static str {
        match self {
            Self::NA => "com",
            Self::EU => "eu",
            Self::CA => "ca",
            Self::AU => "com.au",
            Self::SG => "sg",
            Self::AP => "asia",
        }
    }
    pub(crate) fn api_url(self) -> String {
        format!("https://api.pingone.{}/v1", self.top_level_domain())
    }
    pub(crate) fn auth_url(self) -> String {
        format!("https://auth.pingone.{}", self.top_level_domain())
    }
}

/// The target environment and the worker app's.
#[derive(Debug)]
pub(super) struct Environments {
    pub(super) target: String,
    pub(super) worker: String,
}

/// A UUID from the file's `key`, else from the variable `var`; an ID that is no UUID is
/// refused, naming where it came from.
fn uuid_setting(
    value: Option<&str>,
    key: &str,
    var: &str,
    origin: &str,
    env: EnvLookup<'_>,
) -> Result<Option<String>, ConfigError> {
    let (text, from, named) = match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => (v.to_string(), origin, format!("[pingone] {key}")),
        None => match env(var) {
            Some(v) => (v.trim().to_string(), "environment", var.to_string()),
            None => return Ok(None),
        },
    };
    if Uuid::parse_str(&text).is_err() {
        return Err(ConfigError::new(
            from,
            named,
            format!("{text:?} is not a UUID; copy the environment ID from the PingOne console"),
        ));
    }
    Ok(Some(text))
}

/// The target `--environment-id` names: a UUID, or refused naming the flag.
fn flag_target(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    if Uuid::parse_str(text).is_err() {
        return Err(ConfigError::new(
            "command line",
            "--environment-id",
            format!("{text:?} is not a UUID; copy the environment ID from the PingOne console"),
        ));
    }
    Ok(text.to_string())
}

/// The target and the worker's environment; either fills in for the other. The target is
/// `--environment-id` (`flag`) first, then `[pingone] environment_id`, then
/// `PINGONE_TARGET_ENVIRONMENT_ID`: flags override the file, variables fill its gaps.
pub(super) fn environments(
    file: &FilePingOne,
    flag: Option<&str>,
    origin: &str,
    env: EnvLookup<'_>,
) -> Result<Environments, ConfigError> {
    let target = match flag {
        Some(text) => Some(flag_target(text)?),
        None => uuid_setting(
            file.environment_id.as_deref(),
            "environment_id",
            ENV_TARGET_ENVIRONMENT_ID,
            origin,
            env,
        )?,
    };
    let worker = uuid_setting(
        file.worker_environment_id.as_deref(),
        "worker_environment_id",
        ENV_ENVIRONMENT_ID,
        origin,
        env,
    )?;
    // The setup of before 2026-12-07: the file names the worker and PINGONE_ENVIRONMENT_ID
    // the target. Read the new way, the run would go to the worker's environment: refuse.
    if let (None, Some(worker), Some(variable)) = (&target, &worker, env(ENV_ENVIRONMENT_ID)) {
        if variable.trim() != worker {
            return Err(ConfigError::new(
                "environment",
                ENV_ENVIRONMENT_ID,
                format!("names {:?} while [pingone] worker_environment_id in {origin} names {worker:?}, and nothing names the target; {ENV_ENVIRONMENT_ID} now names the worker app's environment, as Ping's Terraform provider and Ping CLI read it: set the target in [pingone] environment_id or {ENV_TARGET_ENVIRONMENT_ID}", variable.trim()),
            ));
        }
    }
    match (target, worker) {
        (Some(target), Some(worker)) => Ok(Environments { target, worker }),
        (Some(one), None) | (None, Some(one)) => Ok(Environments {
            target: one.clone(),
            worker: one,
        }),
        (None, None) => Err(ConfigError::new(
            origin,
            "[pingone] environment_id",
            format!("missing; set the target in [pingone] environment_id or {ENV_TARGET_ENVIRONMENT_ID}, or the worker app's environment (then also the target) in worker_environment_id or {ENV_ENVIRONMENT_ID} (or use --sandbox or --dry-run)"),
        )),
    }
}

/// The region's text and what set it (for messages): `[pingone] region`, else the first of
/// the ecosystem's variables that is set.
pub(super) fn region_setting(
    file: &FilePingOne,
    origin: &str,
    env: EnvLookup<'_>,
) -> Option<(String, String)> {
    if let Some(text) = file.region.as_deref() {
        return Some((
            text.to_string(),
            format!("[pingone] region = {text:?} in {origin}"),
        ));
    }
    ENV_REGION.iter().find_map(|var| {
        env(var).map(|text| (text.clone(), format!("{var}={text:?} in the environment")))
    })
}

/// A region as this tool (`EU`), Terraform (`Europe`) or Ping CLI (`pingone.eu`) writes it.
pub(super) fn parse_region(text: &str) -> Option<Region> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.strip_prefix("pingone.").unwrap_or(&lower) {
        "na" | "northamerica" | "com" => Some(Region::NA),
        "eu" | "europe" => Some(Region::EU),
        "ca" | "canada" => Some(Region::CA),
        "au" | "australia" | "com.au" => Some(Region::AU),
        "sg" | "singapore" => Some(Region::SG),
        "ap" | "asiapacific" | "asia" => Some(Region::AP),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_reads_as_this_tool_terraform_and_ping_cli_write_it() {
        for (text, region) in [
            ("eu", Region::EU),
            ("Europe", Region::EU),
            ("pingone.eu", Region::EU),
            ("NorthAmerica", Region::NA),
            ("pingone.com", Region::NA),
            ("pingone.com.au", Region::AU),
            ("AsiaPacific", Region::AP),
            ("pingone.asia", Region::AP),
            ("SG", Region::SG),
            ("Canada", Region::CA),
        ] {
            assert_eq!(parse_region(text), Some(region), "{text}");
        }
        assert_eq!(parse_region("pingone.example"), None);
    }
}
