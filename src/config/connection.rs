//! `[pingone]` -> [`Connection`]: where to reach PingOne (the region's hosts, or `api_url` /
//! `auth_url` checked to be https or loopback) and as whom (environment, client, credential,
//! and the environment the worker app lives in), with the environment filling what the file
//! leaves out.

use reqwest::Url;

use super::client_auth::{client_auth, token_auth_method};
use super::ecosystem::{environments, parse_region, region_setting, Region};
use super::file::{relative_to, FilePingOne};
use super::tls::{extra_roots, ExtraRoots};
use super::{ClientAuth, ConfigError, EnvLookup};

pub(crate) const ENV_CLIENT_ID: &str = "PINGONE_CLIENT_ID";

/// Where to reach PingOne and as whom.
#[derive(Debug, Clone)]
pub struct Connection {
    pub(crate) api_url: Url,
    pub(crate) auth_url: Url,
    pub(crate) environment_id: String,
    /// Where the worker app lives and its token comes from (PingOne recommends an admin app
    /// in the administrators' environment); `environment_id` unless configured.
    pub(crate) worker_environment_id: String,
    pub(crate) client_id: String,
    pub(crate) auth: ClientAuth,
    /// `[pingone] ca_file`: extra CA certificates trusted beside the system's.
    pub(crate) extra_roots: Option<ExtraRoots>,
    /// What set `auth_url`'s host, for a message about that host: the key and its file, or
    /// the default region.
    pub(crate) auth_url_set_by: String,
    /// The same for `api_url`.
    pub(crate) api_url_set_by: String,
}

impl Connection {
    /// `{auth_url}/{worker_environment_id}/as/token`: the worker app's environment, which
    /// need not be the one the API calls go to.
    pub(crate) fn token_url(&self) -> String {
        format!(
            "{}/{}/as/token",
            self.auth_url.as_str().trim_end_matches('/'),
            self.worker_environment_id
        )
    }
    /// The API's host and port, as summary.json records the target.
    pub(crate) fn api_host(&self) -> String {
        host_and_port(&self.api_url)
    }

    /// The token endpoint's host and port, for messages.
    pub(crate) fn auth_host(&self) -> String {
        host_and_port(&self.auth_url)
    }

    /// `{api_url}/environments/{environment_id}`
    pub(crate) fn environment_url(&self) -> String {
        format!(
            "{}/environments/{}",
            self.api_url.as_str().trim_end_matches('/'),
            self.environment_id
        )
    }
}

/// `host` or `host:port` (when the URL names a port).
fn host_and_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

pub(super) fn connection(
    file: &FilePingOne,
    target_flag: Option<&str>,
    origin: &str,
    env: EnvLookup<'_>,
) -> Result<Connection, ConfigError> {
    let from_file_or_env = |value: &Option<String>, key: &str, env_name: &str| {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Some((v.to_string(), origin.to_string())),
            None => env(env_name).map(|v| (v.trim().to_string(), "environment".to_string())),
        }
        .ok_or_else(|| {
            ConfigError::new(
                origin,
                format!("[pingone] {key}"),
                format!("missing; set it in the config file or in {env_name} (or use --sandbox or --dry-run)"),
            )
        })
    };
    let environments = environments(file, target_flag, origin, env)?;
    let (client_id, _) = from_file_or_env(&file.client_id, "client_id", ENV_CLIENT_ID)?;
    let region_by = region_setting(file, origin, env);
    let region = region(region_by.as_ref(), origin)?;
    let method = token_auth_method(file.token_auth_method.as_deref(), origin)?;
    let auth = client_auth(method, file, origin, env)?;
    let extra_roots = file
        .ca_file
        .as_ref()
        .map(|p| extra_roots(&relative_to(origin, p), origin))
        .transpose()?;
    let api_url = checked_url(
        origin,
        "[pingone] api_url",
        file.api_url.as_deref(),
        &region.api_url(),
    )?;
    let auth_url = checked_url(
        origin,
        "[pingone] auth_url",
        file.auth_url.as_deref(),
        &region.auth_url(),
    )?;
    let region_by = region_by.map(|(_, by)| by);
    let auth_url_set_by = set_by("auth_url", file.auth_url.as_deref(), &region_by, origin);
    let api_url_set_by = set_by("api_url", file.api_url.as_deref(), &region_by, origin);
    Ok(Connection {
        api_url,
        auth_url,
        environment_id: environments.target,
        worker_environment_id: environments.worker,
        client_id,
        auth,
        extra_roots,
        auth_url_set_by,
        api_url_set_by,
    })
}

/// What set a host, for a message about that host: `[pingone] key` and its file, or the
/// region and what chose it.
fn set_by(key: &str, value: Option<&str>, region_by: &Option<String>, origin: &str) -> String {
    match (value, region_by) {
        (Some(_), _) => format!("[pingone] {key} in {origin}"),
        (None, Some(by)) => by.clone(),
        (None, None) if origin == "defaults" => {
            "the default region NA (no config file was loaded)".to_string()
        }
        (None, None) => format!("the default region NA (no [pingone] region in {origin})"),
    }
}

/// The region (`NA` unless set) from its text and what set it.
fn region(setting: Option<&(String, String)>, origin: &str) -> Result<Region, ConfigError> {
    let Some((text, by)) = setting else {
        return Ok(Region::NA);
    };
    parse_region(text).ok_or_else(|| {
        ConfigError::new(
            origin,
            "[pingone] region",
            format!("{by}: {text:?} is not one of NA, EU, CA, AU, SG, AP (or Terraform's and Ping CLI's names for them: Europe, pingone.eu, …)"),
        )
    })
}

fn checked_url(
    origin: &str,
    key: &str,
    configured: Option<&str>,
    default: &str,
) -> Result<Url, ConfigError> {
    let text = configured.map(str::trim).unwrap_or(default);
    let url = Url::parse(text)
        .map_err(|e| ConfigError::new(origin, key, format!("{text:?} is not a URL ({e})")))?;
    if url.username() != "" || url.password().is_some() {
        return Err(ConfigError::new(
            origin,
            key,
            "must not carry credentials; the client ID and secret are configured separately",
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::new(
            origin,
            key,
            format!("{text:?} uses plain http to a host that is not loopback; use https"),
        )),
        other => Err(ConfigError::new(
            origin,
            key,
            format!("scheme {other:?} is not supported; use https"),
        )),
    }
}

/// Plain http is allowed only where nothing leaves the machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ecosystem::{ENV_ENVIRONMENT_ID, ENV_TARGET_ENVIRONMENT_ID};
    use crate::config::test_support::{args, env_with_secret, write_config};
    use crate::config::Settings;

    #[test]
    fn plain_http_only_to_loopback() {
        let env = |name: &str| match name {
            ENV_ENVIRONMENT_ID => Some("5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10".to_string()),
            ENV_CLIENT_ID => Some("id".to_string()),
            _ => env_with_secret(name),
        };
        let bad = write_config("[pingone]\napi_url = \"http://api.example.com/v1\"\n");
        let err = Settings::load(
            &args(&["--config", bad.path().to_str().unwrap(), "--no-enable-mfa"]),
            &env,
        )
        .unwrap_err();
        assert_eq!(err.key, "[pingone] api_url");
        let good = write_config("[pingone]\napi_url = \"http://127.0.0.1:9/v1\"\n");
        let good = args(&["--config", good.path().to_str().unwrap(), "--no-enable-mfa"]);
        assert!(Settings::load(&good, &env).is_ok());
    }

    #[test]
    fn the_token_comes_from_the_worker_apps_environment() {
        let target = "5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10";
        let admins = "0a0a0a0a-2222-4c1e-9d53-2a6a4a3c9b10";
        let env = |name: &str| match name {
            ENV_TARGET_ENVIRONMENT_ID => Some(target.to_string()),
            ENV_CLIENT_ID => Some("id".to_string()),
            _ => env_with_secret(name),
        };
        let load = |text: &str| {
            let cfg = write_config(text);
            let chosen = ["--config", cfg.path().to_str().unwrap(), "--no-enable-mfa"];
            Settings::load(&args(&chosen), &env)
        };
        let same = load("[pingone]\n").unwrap().connection.unwrap();
        assert_eq!(same.worker_environment_id, target);
        assert!(same.token_url().ends_with(&format!("/{target}/as/token")));
        let other = load(&format!(
            "[pingone]\nworker_environment_id = \"{admins}\"\n"
        ))
        .unwrap()
        .connection
        .unwrap();
        assert!(other.token_url().ends_with(&format!("/{admins}/as/token")));
        assert!(other
            .environment_url()
            .ends_with(&format!("/environments/{target}")));
        let err = load("[pingone]\nworker_environment_id = \"admins\"\n").unwrap_err();
        assert_eq!(err.key, "[pingone] worker_environment_id");
    }

    /// `--environment-id` overrides `[pingone] environment_id`, which overrides
    /// `PINGONE_TARGET_ENVIRONMENT_ID`; the worker's environment is left as configured.
    #[test]
    fn the_target_flag_overrides_the_file_and_the_file_the_variable() {
        let (flag, file, variable) = (
            "f1a90000-0000-4000-8000-000000000001",
            "f11e0000-0000-4000-8000-000000000002",
            "fa7e0000-0000-4000-8000-000000000003",
        );
        let env = |name: &str| match name {
            ENV_TARGET_ENVIRONMENT_ID => Some(variable.to_string()),
            ENV_CLIENT_ID => Some("id".to_string()),
            _ => env_with_secret(name),
        };
        let target = |text: &str, extra: &[&str]| {
            let cfg = write_config(text);
            let mut chosen = vec!["--config", cfg.path().to_str().unwrap(), "--no-enable-mfa"];
            chosen.extend(extra);
            Settings::load(&args(&chosen), &env).map(|s| s.connection.unwrap().environment_id)
        };
        let named = format!("[pingone]\nenvironment_id = \"{file}\"\n");
        assert_eq!(target("[pingone]\n", &[]).unwrap(), variable);
        assert_eq!(target(&named, &[]).unwrap(), file);
        assert_eq!(target(&named, &["--environment-id", flag]).unwrap(), flag);
        let err = target(&named, &["--environment-id", "prod"]).unwrap_err();
        assert_eq!(err.key, "--environment-id");
    }
}
