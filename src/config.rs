//! Config file + environment + flags -> one validated [`Settings`] value.
//!
//! Precedence: flags override the file; environment variables fill only what neither set.
//! Every key is checked before anything is sent, and an error names the key and the fix.
//! The client secret is read from `PINGONE_CLIENT_SECRET` only, and lives in [`Secret`], whose
//! `Debug` and `Display` never show it.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use uuid::Uuid;

use crate::cli::{LogFormat, OnExistingArg, RunArgs};
use crate::input::InputSource;
use crate::model::{DeviceStatus, OnExisting};

pub const ENV_ENVIRONMENT_ID: &str = "PINGONE_ENVIRONMENT_ID";
pub const ENV_CLIENT_ID: &str = "PINGONE_CLIENT_ID";
pub const ENV_CLIENT_SECRET: &str = "PINGONE_CLIENT_SECRET";
pub const ENV_CLIENT_SECRET_FILE: &str = "PINGONE_CLIENT_SECRET_FILE";
const DEFAULT_CONFIG_FILE: &str = "mfa-enroll.toml";

/// A credential that must never be printed. Only [`Secret::expose`] reveals it, at the one
/// place that puts it on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{origin}: {key}: {problem}")]
pub struct ConfigError {
    /// The config file's path, "environment" or "command line".
    pub origin: String,
    /// The key as the user writes it, e.g. `[limits] rate` or `--delimiter`.
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(origin: impl Into<String>, key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Region {
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
    pub fn api_url(self) -> String {
        format!("https://api.pingone.{}/v1", self.top_level_domain())
    }
    pub fn auth_url(self) -> String {
        format!("https://auth.pingone.{}", self.top_level_domain())
    }
}

/// The worker app's token endpoint authentication method, as `token_auth_method` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    /// `CLIENT_SECRET_BASIC`: HTTP Basic authentication.
    Basic,
    /// `CLIENT_SECRET_POST`: client_id and client_secret in the form body.
    Post,
    /// `CLIENT_SECRET_JWT`: an HS256 assertion keyed by the secret (RFC 7523).
    ClientSecretJwt,
    /// `PRIVATE_KEY_JWT`: an RS256 or ES256 assertion signed with the app's private key.
    PrivateKeyJwt,
}

impl TokenAuthMethod {
    pub const ALL: [TokenAuthMethod; 4] = [
        Self::Basic,
        Self::Post,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
    ];

    /// As `token_auth_method` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Post => "post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl From<crate::cli::TokenAuthArg> for TokenAuthMethod {
    fn from(arg: crate::cli::TokenAuthArg) -> Self {
        use crate::cli::TokenAuthArg;
        match arg {
            TokenAuthArg::Basic => Self::Basic,
            TokenAuthArg::Post => Self::Post,
            TokenAuthArg::ClientSecretJwt => Self::ClientSecretJwt,
            TokenAuthArg::PrivateKeyJwt => Self::PrivateKeyJwt,
        }
    }
}

/// The app's private key for `private_key_jwt`. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct PrivateKey {
    pub key: std::sync::Arc<jsonwebtoken::EncodingKey>,
    pub algorithm: jsonwebtoken::Algorithm,
    /// The JWT header's `kid`, when the app's JWKS holds several keys.
    pub key_id: Option<String>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?}, [redacted])", self.algorithm)
    }
}

/// How the worker app proves who it is at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    Basic(Secret),
    Post(Secret),
    ClientSecretJwt(Secret),
    PrivateKeyJwt(PrivateKey),
}

impl ClientAuth {
    pub fn method(&self) -> TokenAuthMethod {
        match self {
            Self::Basic(_) => TokenAuthMethod::Basic,
            Self::Post(_) => TokenAuthMethod::Post,
            Self::ClientSecretJwt(_) => TokenAuthMethod::ClientSecretJwt,
            Self::PrivateKeyJwt(_) => TokenAuthMethod::PrivateKeyJwt,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    pingone: FilePingOne,
    #[serde(default)]
    enroll: FileEnroll,
    #[serde(default)]
    limits: FileLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePingOne {
    environment_id: Option<String>,
    region: Option<String>,
    client_id: Option<String>,
    token_auth_method: Option<String>,
    private_key_file: Option<PathBuf>,
    private_key_id: Option<String>,
    ca_file: Option<PathBuf>,
    api_url: Option<String>,
    auth_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEnroll {
    policy_id: Option<String>,
    status: Option<String>,
    on_existing: Option<String>,
    default_country: Option<String>,
    allow_messages: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    rate: Option<i64>,
    concurrency: Option<i64>,
    max_retries: Option<i64>,
    timeout_s: Option<i64>,
    backoff_initial_ms: Option<i64>,
    backoff_max_s: Option<i64>,
    stop_after_failures: Option<i64>,
}

/// Where to reach PingOne and as whom.
#[derive(Debug, Clone)]
pub struct Connection {
    pub api_url: Url,
    pub auth_url: Url,
    pub environment_id: String,
    pub client_id: String,
    pub auth: ClientAuth,
    /// `[pingone] ca_file`: extra CA certificates trusted beside the system's.
    pub extra_roots: Option<ExtraRoots>,
}

/// The certificates of `ca_file`, read and checked when the config is loaded.
#[derive(Clone)]
pub struct ExtraRoots {
    pub path: PathBuf,
    pub certificates: Vec<reqwest::Certificate>,
}

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ExtraRoots({}, {} certificates)",
            self.path.display(),
            self.certificates.len()
        )
    }
}

impl Connection {
    /// `{auth_url}/{environment_id}/as/token`
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/as/token",
            self.auth_url.as_str().trim_end_matches('/'),
            self.environment_id
        )
    }
    /// The API's host and port, as summary.json records the target.
    pub fn api_host(&self) -> String {
        let host = self.api_url.host_str().unwrap_or("");
        match self.api_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// `{api_url}/environments/{environment_id}`
    pub fn environment_url(&self) -> String {
        format!(
            "{}/environments/{}",
            self.api_url.as_str().trim_end_matches('/'),
            self.environment_id
        )
    }
}

#[derive(Debug, Clone)]
pub struct EnrollSettings {
    pub policy_id: Option<Uuid>,
    pub status: Option<DeviceStatus>,
    pub on_existing: OnExisting,
    pub default_country: Option<crate::validate::phone::Country>,
    pub allow_messages: bool,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub rate: u32,
    pub concurrency: usize,
    pub max_retries: usize,
    pub timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Stop the run (exit 3) when this many requests in a row failed for the same
    /// server-side reason, so a resume can pick up later instead of burning through the file.
    pub stop_after_failures: u32,
}

impl Default for Limits {
    /// The defaults config.example.toml documents (a test holds them together).
    fn default() -> Self {
        Self {
            rate: 50,
            concurrency: 8,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(1000),
            backoff_max: Duration::from_secs(30),
            stop_after_failures: 30,
        }
    }
}

/// What a run does; summary.json's `mode` spells it as serde does here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Create devices.
    #[default]
    Live,
    /// `--dry-run`: validate only, send nothing.
    #[serde(rename = "dry_run")]
    DryRunOffline,
    /// `--dry-run --online`: GET only, report what a live run would do.
    DryRunOnline,
}

impl RunMode {
    pub fn sends_requests(self) -> bool {
        match self {
            Self::Live | Self::DryRunOnline => true,
            Self::DryRunOffline => false,
        }
    }

    /// The kind of run, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Live => "live run",
            Self::DryRunOffline => "dry run (offline)",
            Self::DryRunOnline => "dry run (--online)",
        }
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub input: InputSource,
    pub out_dir: PathBuf,
    pub mode: RunMode,
    pub resume: bool,
    /// `--shard K/N`: this process's share of the input.
    pub shard: Option<crate::shard::Shard>,
    pub use_sandbox: bool,
    /// `None` for offline dry runs, and for `--sandbox` until the simulator is up.
    pub connection: Option<Connection>,
    pub enroll: EnrollSettings,
    pub limits: Limits,
    pub delimiter: u8,
    /// `--metrics-file`: Prometheus text, written at the end of every run.
    pub metrics_file: Option<PathBuf>,
    pub log_format: LogFormat,
    pub quiet: bool,
    pub verbose: bool,
}

/// Reads an environment variable; a seam so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    pub fn load(args: &RunArgs, env: EnvLookup<'_>) -> Result<Settings, ConfigError> {
        let (file, origin) = read_config_file(args.config.as_deref())?;
        let mode = match (args.dry_run, args.online) {
            (false, _) => RunMode::Live,
            (true, false) => RunMode::DryRunOffline,
            (true, true) => RunMode::DryRunOnline,
        };
        let delimiter = match &args.delimiter {
            None => b',',
            Some(text) => parse_delimiter(text)?,
        };
        let enroll = enroll_settings(&file.enroll, args, &origin)?;
        let limits = limits(&file.limits, args, &origin)?;
        let needs_connection = mode.sends_requests() && !args.sandbox;
        let connection = if needs_connection {
            Some(connection(&file.pingone, &origin, env)?)
        } else {
            None
        };
        Ok(Settings {
            input: InputSource::from_arg(&args.input),
            out_dir: args.out.clone(),
            mode,
            resume: args.resume,
            shard: args.shard,
            use_sandbox: args.sandbox,
            connection,
            enroll,
            limits,
            delimiter,
            metrics_file: args.metrics_file.clone(),
            log_format: args.log_format,
            quiet: args.quiet,
            verbose: args.verbose,
        })
    }
}

fn read_config_file(explicit: Option<&Path>) -> Result<(FileConfig, String), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok((FileConfig::default(), "defaults".into())),
    };
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::new(
            &origin,
            "--config",
            format!("cannot read the config file ({e}); check the path"),
        )
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        ConfigError::new(
            &origin,
            "syntax",
            format!("not valid TOML: {}", e.to_string().trim()),
        )
    })?;
    if let Some(section) = table.get("pingone").and_then(|v| v.as_table()) {
        if section.contains_key("client_secret") {
            return Err(ConfigError::new(
                &origin,
                "[pingone] client_secret",
                format!("the secret is never read from the config file; remove the key and set {ENV_CLIENT_SECRET}, or {ENV_CLIENT_SECRET_FILE} naming a file that holds it"),
            ));
        }
    }
    let file = parse_keys(&text, &origin)?;
    Ok((file, origin))
}

/// Deserialises the config, naming the key (`[limits] rate`) and its line when a value has
/// the wrong type or a key is unknown.
fn parse_keys(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        ConfigError::new(origin, "syntax", format!("not valid TOML: {}", e.message()))
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = match path.split_once('.') {
            Some((table, key)) => format!("[{table}] {key}"),
            None => format!("[{path}]"),
        };
        let line = e
            .inner()
            .span()
            .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
        let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
        ConfigError::new(
            origin,
            key,
            format!(
                "{at}{}; config.example.toml lists every key with its type",
                e.inner().message().trim()
            ),
        )
    })
}

fn parse_delimiter(text: &str) -> Result<u8, ConfigError> {
    let byte = match text {
        "\\t" | "tab" | "\t" => Some(b'\t'),
        t if t.len() == 1 && t.is_ascii() && t != "\"" && t != "\n" && t != "\r" => {
            Some(t.as_bytes()[0])
        }
        _ => None,
    };
    byte.ok_or_else(|| {
        ConfigError::new(
            "command line",
            "--delimiter",
            format!("{text:?} is not one ASCII character (other than a quote or newline); use e.g. ';' or '\\t'"),
        )
    })
}

fn enroll_settings(
    file: &FileEnroll,
    args: &RunArgs,
    origin: &str,
) -> Result<EnrollSettings, ConfigError> {
    let policy_id = file
        .policy_id
        .as_deref()
        .map(|text| {
            Uuid::parse_str(text.trim()).map_err(|_| {
                ConfigError::new(
                    origin,
                    "[enroll] policy_id",
                    format!("{text:?} is not a UUID; copy the device authentication policy ID from the PingOne console"),
                )
            })
        })
        .transpose()?;
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
        (None, None) => OnExisting::Skip,
        (None, Some(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "skip" => OnExisting::Skip,
            "create" => OnExisting::Create,
            _ => {
                return Err(ConfigError::new(
                    origin,
                    "[enroll] on_existing",
                    format!("{text:?} is not skip or create"),
                ))
            }
        },
    };
    let default_country =
        file.default_country
            .as_deref()
            .map(|text| {
                text.trim()
                    .to_ascii_uppercase()
                    .parse::<crate::validate::phone::Country>()
                    .map_err(|_| {
                        ConfigError::new(
                    origin,
                    "[enroll] default_country",
                    format!("{text:?} is not a two-letter ISO country code such as US, GB or DE"),
                )
                    })
            })
            .transpose()?;
    Ok(EnrollSettings {
        policy_id,
        status,
        on_existing,
        default_country,
        allow_messages: args.allow_messages || file.allow_messages.unwrap_or(false),
    })
}

fn bounded(
    origin: &str,
    key: &str,
    flag: Option<i64>,
    file: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let (value, origin, key) = match (flag, file) {
        (Some(v), _) => (
            v,
            "command line".to_string(),
            format!("--{}", key.replace('_', "-")),
        ),
        (None, Some(v)) => (v, origin.to_string(), format!("[limits] {key}")),
        (None, None) => return Ok(default),
    };
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            origin,
            key,
            format!(
                "{value} is out of range; use a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A `[limits]` key: its name, the flag's value, the file's, the default, the allowed range.
type LimitKey<'a> = (&'a str, Option<i64>, Option<i64>, i64, RangeInclusive<i64>);

fn limits(file: &FileLimits, args: &RunArgs, origin: &str) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let flag = |v: Option<usize>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let secs = |t: Duration| t.as_secs() as i64;
    // (key, flag, file, default, allowed): the flag wins, then the file, then the default.
    #[rustfmt::skip]
    let keys: [LimitKey; 7] = [
        ("rate", args.rate.map(i64::from), file.rate, d.rate.into(), 1..=1_000_000),
        ("concurrency", flag(args.concurrency), file.concurrency, d.concurrency as i64, 1..=1024),
        ("max_retries", flag(args.max_retries), file.max_retries, d.max_retries as i64, 0..=20),
        ("timeout_s", None, file.timeout_s, secs(d.timeout), 1..=600),
        ("backoff_initial_ms", None, file.backoff_initial_ms, d.backoff_initial.as_millis() as i64, 1..=60_000),
        ("backoff_max_s", None, file.backoff_max_s, secs(d.backoff_max), 1..=600),
        ("stop_after_failures", None, file.stop_after_failures, d.stop_after_failures.into(), 1..=100_000),
    ];
    let mut values = [0i64; 7];
    for (value, (name, flag, file, default, range)) in values.iter_mut().zip(keys) {
        *value = bounded(origin, name, flag, file, default, range)?;
    }
    let [rate, concurrency, max_retries, timeout_s, initial_ms, backoff_max_s, stop_after] = values;
    // Every value was checked against a range that fits its type.
    Ok(Limits {
        rate: rate as u32,
        concurrency: concurrency as usize,
        max_retries: max_retries as usize,
        timeout: Duration::from_secs(timeout_s as u64),
        backoff_initial: Duration::from_millis(initial_ms as u64),
        backoff_max: Duration::from_secs(backoff_max_s as u64),
        stop_after_failures: stop_after as u32,
    })
}

fn connection(
    file: &FilePingOne,
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
    let (environment_id, env_origin) =
        from_file_or_env(&file.environment_id, "environment_id", ENV_ENVIRONMENT_ID)?;
    if Uuid::parse_str(&environment_id).is_err() {
        return Err(ConfigError::new(
            env_origin,
            "[pingone] environment_id",
            format!("{environment_id:?} is not a UUID; copy the environment ID from the PingOne console"),
        ));
    }
    let (client_id, _) = from_file_or_env(&file.client_id, "client_id", ENV_CLIENT_ID)?;
    let region = region(file.region.as_deref(), origin)?;
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
    Ok(Connection {
        api_url,
        auth_url,
        environment_id,
        client_id,
        auth,
        extra_roots,
    })
}

/// Reads `ca_file`: one or more PEM certificates.
fn extra_roots(path: &Path, origin: &str) -> Result<ExtraRoots, ConfigError> {
    let key = "[pingone] ca_file";
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::new(origin, key, format!("cannot read {} ({e})", path.display()))
    })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
    if certificates.is_empty() {
        return Err(ConfigError::new(
            origin,
            key,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(ExtraRoots {
        path: path.to_path_buf(),
        certificates,
    })
}

/// A path from the config file is relative to the file's folder, as users expect.
fn relative_to(origin: &str, path: &Path) -> PathBuf {
    match Path::new(origin).parent() {
        Some(folder) if path.is_relative() && Path::new(origin).is_file() => folder.join(path),
        _ => path.to_path_buf(),
    }
}

/// The credential the method needs: the secret, or the private key.
fn client_auth(
    method: TokenAuthMethod,
    file: &FilePingOne,
    origin: &str,
    env: EnvLookup<'_>,
) -> Result<ClientAuth, ConfigError> {
    let secret = || {
        client_secret(env)?.ok_or_else(|| {
            ConfigError::new(
                "environment",
                ENV_CLIENT_SECRET,
                format!("missing; export the worker app's client secret in {ENV_CLIENT_SECRET}, or name a file holding it in {ENV_CLIENT_SECRET_FILE}"),
            )
        })
    };
    Ok(match method {
        TokenAuthMethod::Basic => ClientAuth::Basic(secret()?),
        TokenAuthMethod::Post => ClientAuth::Post(secret()?),
        TokenAuthMethod::ClientSecretJwt => ClientAuth::ClientSecretJwt(secret()?),
        TokenAuthMethod::PrivateKeyJwt => ClientAuth::PrivateKeyJwt(private_key(file, origin)?),
    })
}

/// `PINGONE_CLIENT_SECRET`, or the file `PINGONE_CLIENT_SECRET_FILE` names (Kubernetes and
/// systemd mount secrets as files); never both.
fn client_secret(env: EnvLookup<'_>) -> Result<Option<Secret>, ConfigError> {
    let file = match (env(ENV_CLIENT_SECRET), env(ENV_CLIENT_SECRET_FILE)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "environment",
                ENV_CLIENT_SECRET_FILE,
                format!("both {ENV_CLIENT_SECRET} and {ENV_CLIENT_SECRET_FILE} are set; unset one, so it is clear which secret is used"),
            ))
        }
        (Some(secret), None) => return Ok(Some(Secret::new(secret))),
        (None, None) => return Ok(None),
        (None, Some(file)) => PathBuf::from(file),
    };
    let problem = |what: String| ConfigError::new("environment", ENV_CLIENT_SECRET_FILE, what);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        problem(format!(
            "cannot read {} ({e}); check the path and permissions",
            file.display()
        ))
    })?;
    // Files end with a newline; the secret does not.
    let secret = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(problem(format!("{} is empty", file.display())));
    }
    Ok(Some(Secret::new(secret)))
}

/// The PEM private key `private_key_jwt` signs with: RSA (RS256) or EC P-256 (ES256).
fn private_key(file: &FilePingOne, origin: &str) -> Result<PrivateKey, ConfigError> {
    let key = "[pingone] private_key_file";
    let path = file.private_key_file.as_ref().ok_or_else(|| {
        ConfigError::new(
            origin,
            key,
            "missing; private_key_jwt signs with the worker app's private key (a PEM file)",
        )
    })?;
    let path = relative_to(origin, path);
    let pem = std::fs::read(&path).map_err(|e| {
        ConfigError::new(origin, key, format!("cannot read {} ({e})", path.display()))
    })?;
    use jsonwebtoken::{Algorithm, EncodingKey};
    let (key_value, algorithm) = match EncodingKey::from_rsa_pem(&pem) {
        Ok(rsa) => (rsa, Algorithm::RS256),
        Err(_) => match EncodingKey::from_ec_pem(&pem) {
            Ok(ec) => (ec, Algorithm::ES256),
            // The error would describe the key's bytes: say only what is wanted.
            Err(_) => {
                return Err(ConfigError::new(
                    origin,
                    key,
                    format!(
                        "{} is not a PEM RSA or EC P-256 private key",
                        path.display()
                    ),
                ))
            }
        },
    };
    Ok(PrivateKey {
        key: std::sync::Arc::new(key_value),
        algorithm,
        key_id: file.private_key_id.clone().filter(|k| !k.trim().is_empty()),
    })
}

fn region(text: Option<&str>, origin: &str) -> Result<Region, ConfigError> {
    let Some(text) = text else {
        return Ok(Region::NA);
    };
    match text.trim().to_ascii_uppercase().as_str() {
        "NA" => Ok(Region::NA),
        "EU" => Ok(Region::EU),
        "CA" => Ok(Region::CA),
        "AU" => Ok(Region::AU),
        "SG" => Ok(Region::SG),
        "AP" => Ok(Region::AP),
        _ => Err(ConfigError::new(
            origin,
            "[pingone] region",
            format!("{text:?} is not one of NA, EU, CA, AU, SG, AP"),
        )),
    }
}

fn token_auth_method(text: Option<&str>, origin: &str) -> Result<TokenAuthMethod, ConfigError> {
    let Some(text) = text else {
        return Ok(TokenAuthMethod::Basic);
    };
    let wanted = text.trim().to_ascii_lowercase();
    TokenAuthMethod::ALL
        .into_iter()
        .find(|m| m.as_str() == wanted)
        .ok_or_else(|| {
            ConfigError::new(
                origin,
                "[pingone] token_auth_method",
                format!("{text:?} is not basic, post, client_secret_jwt or private_key_jwt (the worker app's token endpoint authentication method)"),
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
pub fn is_loopback(url: &Url) -> bool {
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
    use clap::Parser;

    fn args(extra: &[&str]) -> RunArgs {
        let mut argv = vec!["mfa-enroll", "run", "in.csv"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Run(a) => a,
            _ => unreachable!(),
        }
    }

    fn write_config(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn env_with_secret(name: &str) -> Option<String> {
        (name == ENV_CLIENT_SECRET).then(|| "s3cr3t-value".to_string())
    }

    #[test]
    fn the_example_config_documents_valid_keys() {
        let text = include_str!("../config.example.toml");
        let cfg = write_config(text);
        let env = |name: &str| env_with_secret(name);
        let s = Settings::load(&args(&["--config", cfg.path().to_str().unwrap()]), &env).unwrap();
        assert_eq!(s.limits.rate, 50);
        assert_eq!(s.enroll.on_existing, OnExisting::Skip);
    }

    #[test]
    fn no_keys_give_limits_default() {
        let cfg = write_config("");
        let path = cfg.path().to_str().unwrap();
        let s = Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap();
        let d = Limits::default();
        assert_eq!(
            (s.limits.rate, s.limits.concurrency, s.limits.max_retries),
            (d.rate, d.concurrency, d.max_retries)
        );
        assert_eq!(
            (
                s.limits.timeout,
                s.limits.backoff_initial,
                s.limits.backoff_max
            ),
            (d.timeout, d.backoff_initial, d.backoff_max)
        );
        assert_eq!(s.limits.stop_after_failures, d.stop_after_failures);
    }

    #[test]
    fn secret_in_the_file_is_refused_and_not_echoed() {
        let cfg = write_config("[pingone]\nclient_secret = \"hunter2-secret\"\n");
        let path = cfg.path().to_str().unwrap();
        let err = Settings::load(&args(&["--config", path]), &|_| None).unwrap_err();
        assert_eq!(err.key, "[pingone] client_secret");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn unknown_key_is_named() {
        let cfg = write_config("[limits]\nrat = 5\n");
        let path = cfg.path().to_str().unwrap();
        let err = Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
        assert!(err.to_string().contains("rat"), "{err}");
    }

    #[test]
    fn flags_override_file_and_env_fills_gaps() {
        let cfg =
            write_config("[pingone]\nclient_id = \"abc\"\n[limits]\nrate = 10\nconcurrency = 3\n");
        let path = cfg.path().to_str().unwrap();
        let env = |name: &str| match name {
            ENV_ENVIRONMENT_ID => Some("5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10".to_string()),
            ENV_CLIENT_ID => Some("from-env".to_string()),
            _ => env_with_secret(name),
        };
        let s = Settings::load(&args(&["--config", path, "--rate", "20"]), &env).unwrap();
        assert_eq!(s.limits.rate, 20);
        assert_eq!(s.limits.concurrency, 3);
        let c = s.connection.unwrap();
        assert_eq!(c.client_id, "abc");
        assert_eq!(c.environment_id, "5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10");
        assert_eq!(c.api_url.as_str(), "https://api.pingone.com/v1");
        assert!(!format!("{:?}", c.auth).contains("s3cr3t"));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let env = |name: &str| match name {
            ENV_ENVIRONMENT_ID => Some("5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10".to_string()),
            ENV_CLIENT_ID => Some("id".to_string()),
            _ => env_with_secret(name),
        };
        let bad = write_config("[pingone]\napi_url = \"http://api.example.com/v1\"\n");
        let err =
            Settings::load(&args(&["--config", bad.path().to_str().unwrap()]), &env).unwrap_err();
        assert_eq!(err.key, "[pingone] api_url");
        let good = write_config("[pingone]\napi_url = \"http://127.0.0.1:9/v1\"\n");
        assert!(Settings::load(&args(&["--config", good.path().to_str().unwrap()]), &env).is_ok());
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key_and_line() {
        for (text, key, line) in [
            ("[limits]\nrate = \"fast\"\n", "[limits] rate", "line 2"),
            ("[pingone]\n\nregion = 5\n", "[pingone] region", "line 3"),
            (
                "[enroll]\nallow_messages = \"yes\"\n",
                "[enroll] allow_messages",
                "line 2",
            ),
            ("limits = 5\n", "[limits]", "line 1"),
        ] {
            let cfg = write_config(text);
            let path = cfg.path().to_str().unwrap();
            let err =
                Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
            assert_eq!(err.key, key, "{text}");
            assert!(err.problem.starts_with(line), "{text}: {err}");
            assert!(err.problem.contains("invalid type"), "{err}");
        }
    }

    #[test]
    fn out_of_range_limit_names_key_and_range() {
        let cfg = write_config("[limits]\nconcurrency = 0\n");
        let err = Settings::load(
            &args(&["--config", cfg.path().to_str().unwrap(), "--dry-run"]),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.key, "[limits] concurrency");
        assert!(err.problem.contains("1 to 1024"));
    }

    #[test]
    fn live_run_without_secret_says_which_variable() {
        let cfg = write_config(
            "[pingone]\nenvironment_id = \"5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10\"\nclient_id = \"x\"\n",
        );
        let err = Settings::load(&args(&["--config", cfg.path().to_str().unwrap()]), &|_| {
            None
        })
        .unwrap_err();
        assert_eq!(err.key, ENV_CLIENT_SECRET);
    }
}
