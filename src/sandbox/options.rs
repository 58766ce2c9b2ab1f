//! What a sandbox can be told to do ([`SandboxOptions`]: identity, rate, faults, directory,
//! token method, TLS, what its policies and MFA settings allow, its quota), its defaults, and
//! how `mfa-enroll sandbox`'s flags become options.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::state::Directory;
use super::{tls, SandboxError, SANDBOX_CA_FILE, SANDBOX_CLIENT_ID, SANDBOX_ENVIRONMENT_ID};
use crate::cli::SandboxArgs;
use crate::config::{Secret, TokenAuthMethod};

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub environment_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Requests per second before 429; `None` for no limit.
    pub rate: Option<u32>,
    pub latency: Duration,
    /// Share of API requests answered 5xx before any effect.
    pub fail_rate: f64,
    /// Share of device creations that take effect and then fail.
    pub ambiguous_rate: f64,
    /// A device shows in its user's list only this long after its creation, as PingOne's
    /// eventually consistent lists do; zero: at once.
    pub list_lag: Duration,
    pub token_ttl: Duration,
    pub directory: Directory,
    /// Policies that exist; `None`: every UUID is a policy.
    pub policies: Option<HashSet<String>>,
    pub max_devices: u32,
    /// Tokens lack the admin role: every API request answers 403.
    pub no_role: bool,
    /// Tokens may manage users and devices but not read environment configuration: device
    /// authentication policies and MFA settings answer 403.
    pub no_config_role: bool,
    /// Keep each request's arrival time, method, path and transaction id, for tests that check
    /// the rate and what was sent (memory grows per request).
    pub record_arrivals: bool,
    /// The status a device create answers: 201 in the docs, 200 seen in the wild.
    pub create_status: axum::http::StatusCode,
    /// Items per page of a list at most, whatever `limit` the client asks for (PingOne
    /// caps `limit` at 1,000); `None`: the client's `limit`, else one page.
    pub page_size: Option<usize>,
    /// The longest request target (path and query, bytes) the users list accepts; longer
    /// answers 414 `URI_TOO_LONG`. `None`: no limit.
    pub max_url_bytes: Option<usize>,
    /// The first this-many reads of the users list answer 503 before any effect, so a test
    /// can see a failed look-up retried.
    pub fail_first_lookups: u64,
    /// The one token endpoint authentication method the app accepts, as PingOne enforces it.
    pub token_auth: TokenAuthMethod,
    /// The app's public key (PEM), for `private_key_jwt` assertions.
    pub client_public_key: Option<Vec<u8>>,
    /// Serve https with this certificate (at `https://localhost:PORT`); `None`: plain http.
    pub tls: Option<tls::TlsIdentity>,
    /// The first this-many API requests answer 401 although their token is valid, as after a
    /// token revocation: a client renews once, and a second 401 is final.
    pub reject_valid_tokens: u64,
    /// The `Retry-After` a 429 carries, instead of the time until the window frees up.
    pub retry_after: Option<Duration>,
    /// Send `Retry-After` as an HTTP date rather than seconds (both are allowed).
    pub retry_after_as_date: bool,
    /// After this many devices are created, the next create takes effect and its answer
    /// never comes (later ones answer as usual): a test can kill the client knowing that a
    /// device exists unrecorded.
    pub hold_answers_after_creates: Option<u64>,
    /// Where the worker app lives: tokens are served only at `/{this}/as/token` (and a JWT
    /// assertion's `aud` names it); API calls still go to `environment_id`. `None`: the same.
    pub worker_environment_id: Option<String>,
    /// The license's quota: after this many API requests in one `quota_period`, every request
    /// answers 429 `QUOTA_EXCEEDED` with the period's end as `quotaResetTime`.
    pub quota: Option<u64>,
    pub quota_period: Duration,
    /// MFA settings `phoneExtensions.enabled` (PingOne's default is off; the sandbox's on).
    pub extensions_enabled: bool,
    /// What every device authentication policy allows, unless `policy_rules_by_id` says else.
    pub policy_rules: PolicyRules,
    /// Per policy ID (lower case).
    pub policy_rules_by_id: HashMap<String, PolicyRules>,
    /// The first this many DELETEs that remove a device answer 500, as if the answer had been
    /// lost on the way: the device is gone, and a DELETE sent again answers 404.
    pub lost_delete_answers: u64,
    /// Users (lower-case IDs) whose MFA switch the token may not set: the PUT answers 403.
    pub refuse_mfa_switch: HashSet<String>,
    /// Users (lower-case IDs) outside the token's population, as with a role scoped to one
    /// population: requests about them answer 403.
    pub forbidden_users: HashSet<String>,
    /// Every API request answers 403 `LICENSE_EXCEEDED`.
    pub license_exceeded: bool,
    /// A storm of 429s: every API request answered 429 for a while, as when another job
    /// shares the license for a few seconds.
    pub storm: Option<Storm>,
    /// The default notification policy's quotas; empty: a policy without quotas.
    pub notification_quotas: Vec<NotificationQuotaRule>,
    /// MFA settings `users.mfaEnabled`: new users get MFA on.
    pub new_users_mfa_enabled: bool,
    /// Users (ID, username) imported moments ago: for their first `late_asks` requests
    /// (a username look-up, or a request under `/users/{ID}`) they answer as though they did
    /// not exist, as PingOne's eventually consistent directory may; then they exist.
    pub late_users: Vec<(String, String)>,
    pub late_asks: u64,
}

/// One quota of the sandbox's notification policy: `per_user` (type `USER`) or per
/// environment, over SMS and voice together (`sms_voice`) or email, per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationQuotaRule {
    pub per_user: bool,
    pub sms_voice: bool,
    pub total: u64,
}

/// What one device authentication policy allows. Types are spelled as the API's `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRules {
    /// Methods whose `enabled` is false.
    pub disabled: HashSet<String>,
    /// Methods whose `pairingDisabled` is true.
    pub pairing_disabled: HashSet<String>,
    /// `NONE` (the sandbox's default, so a live run against it is not held for notices),
    /// `EMAIL_THEN_SMS` (the API's default) or `SMS_THEN_EMAIL`.
    pub new_device_notification: String,
}

impl Default for PolicyRules {
    fn default() -> Self {
        Self {
            disabled: HashSet::new(),
            pairing_disabled: HashSet::new(),
            new_device_notification: "NONE".into(),
        }
    }
}

impl PolicyRules {
    /// Whether a new device of `device_type` may be paired under this policy.
    pub(crate) fn allows(&self, device_type: &str) -> bool {
        let kind = device_type.to_ascii_uppercase();
        !self.disabled.contains(&kind) && !self.pairing_disabled.contains(&kind)
    }
}

/// Every API request is answered 429 (`Retry-After`: `retry_after`, else 1 s) from the
/// request after the first `after_requests` for `lasting`; then the rate limit as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storm {
    pub after_requests: u64,
    pub lasting: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            environment_id: SANDBOX_ENVIRONMENT_ID.into(),
            client_id: SANDBOX_CLIENT_ID.into(),
            client_secret: Secret::new(uuid::Uuid::new_v4().simple().to_string()),
            rate: None,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            ambiguous_rate: 0.0,
            list_lag: Duration::ZERO,
            token_ttl: Duration::from_secs(3600),
            directory: Directory::Open,
            policies: None,
            max_devices: 5,
            no_role: false,
            no_config_role: false,
            record_arrivals: false,
            create_status: axum::http::StatusCode::CREATED,
            notification_quotas: Vec::new(),
            new_users_mfa_enabled: true,
            late_users: Vec::new(),
            late_asks: 2,
            page_size: None,
            max_url_bytes: None,
            fail_first_lookups: 0,
            token_auth: TokenAuthMethod::Basic,
            client_public_key: None,
            tls: None,
            reject_valid_tokens: 0,
            retry_after: None,
            retry_after_as_date: false,
            hold_answers_after_creates: None,
            worker_environment_id: None,
            quota: None,
            quota_period: Duration::from_secs(3600),
            extensions_enabled: true,
            policy_rules: PolicyRules::default(),
            policy_rules_by_id: HashMap::new(),
            refuse_mfa_switch: HashSet::new(),
            lost_delete_answers: 0,
            forbidden_users: HashSet::new(),
            license_exceeded: false,
            storm: None,
        }
    }
}

/// `SMS,whatsapp` -> {"SMS", "WHATSAPP"}; IDs -> lower case.
fn set_of(items: &Option<Vec<String>>, upper: bool) -> HashSet<String> {
    items
        .iter()
        .flatten()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| {
            if upper {
                item.to_ascii_uppercase()
            } else {
                item.to_lowercase()
            }
        })
        .collect()
}

impl SandboxOptions {
    pub(crate) fn from_args(args: &SandboxArgs) -> Result<Self, SandboxError> {
        for (name, value) in [
            ("--fail-rate", args.fail_rate),
            ("--ambiguous-rate", args.ambiguous_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SandboxError::Share { name, value });
            }
        }
        if !(1..=15).contains(&args.max_devices) {
            return Err(SandboxError::MaxDevices(args.max_devices));
        }
        if args.token_auth == crate::cli::TokenAuthArg::PrivateKeyJwt
            && args.client_public_key.is_none()
        {
            return Err(SandboxError::NoPublicKey);
        }
        let create_status = match args.create_status {
            200 => axum::http::StatusCode::OK,
            201 => axum::http::StatusCode::CREATED,
            other => return Err(SandboxError::CreateStatus(other)),
        };
        let directory = match &args.users {
            Some(path) => Directory::from_csv(path)?,
            None => Directory::Open,
        };
        let late_users = match &args.late_users {
            Some(path) => Directory::from_csv(path)?.users(),
            None => Vec::new(),
        };
        let notification = args.new_device_notification.trim().to_ascii_uppercase();
        if !["NONE", "EMAIL_THEN_SMS", "SMS_THEN_EMAIL"].contains(&notification.as_str()) {
            return Err(SandboxError::Notification(
                args.new_device_notification.clone(),
            ));
        }
        if args.quota_period_s == 0 {
            return Err(SandboxError::QuotaPeriod);
        }
        Ok(Self {
            rate: (args.rate > 0).then_some(args.rate),
            latency: Duration::from_millis(args.latency_ms),
            fail_rate: args.fail_rate,
            ambiguous_rate: args.ambiguous_rate,
            list_lag: Duration::from_millis(args.list_lag_ms),
            token_ttl: Duration::from_secs(args.token_ttl.max(1)),
            directory,
            policies: args
                .policies
                .as_ref()
                .map(|ids| ids.iter().map(|id| id.trim().to_lowercase()).collect()),
            max_devices: args.max_devices,
            no_role: args.no_role,
            no_config_role: args.no_config_role,
            create_status,
            page_size: args.page_size.filter(|n| *n > 0),
            max_url_bytes: args.max_url_bytes,
            fail_first_lookups: 0,
            token_auth: args.token_auth.into(),
            client_public_key: public_key(args)?,
            tls: tls_from_args(args)?,
            worker_environment_id: args.worker_environment.clone(),
            quota: args.quota,
            quota_period: Duration::from_secs(args.quota_period_s),
            extensions_enabled: !args.extensions_disabled,
            policy_rules: PolicyRules {
                disabled: set_of(&args.disable_method, true),
                pairing_disabled: set_of(&args.disable_pairing, true),
                new_device_notification: notification,
            },
            refuse_mfa_switch: set_of(&args.refuse_mfa_switch, false),
            forbidden_users: set_of(&args.forbidden_users, false),
            license_exceeded: args.license_exceeded,
            storm: storm_from_args(args),
            late_users,
            late_asks: args.late_asks,
            ..Self::default()
        })
    }
}

/// `--client-public-key FILE`, read.
fn public_key(args: &SandboxArgs) -> Result<Option<Vec<u8>>, SandboxError> {
    let Some(path) = &args.client_public_key else {
        return Ok(None);
    };
    std::fs::read(path)
        .map(Some)
        .map_err(|source| SandboxError::PublicKey {
            path: path.clone(),
            source,
        })
}

/// `--storm-for S --storm-after N`.
fn storm_from_args(args: &SandboxArgs) -> Option<Storm> {
    let lasting = Duration::from_secs(args.storm_for?);
    Some(Storm {
        after_requests: args.storm_after,
        lasting,
    })
}

/// `--tls-cert`/`--tls-key` as they are; `--tls` generates a CA and a localhost certificate
/// and writes the CA to `sandbox-ca.pem` for the client's `ca_file`.
fn tls_from_args(args: &SandboxArgs) -> Result<Option<tls::TlsIdentity>, SandboxError> {
    let read = |path: &std::path::PathBuf| {
        std::fs::read_to_string(path).map_err(|source| SandboxError::TlsFile {
            path: path.clone(),
            source,
        })
    };
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Ok(Some(tls::TlsIdentity {
            certificate_chain_pem: read(cert)?,
            private_key_pem: read(key)?,
        }));
    }
    if !args.tls {
        return Ok(None);
    }
    let generated =
        tls::generate_for_localhost().map_err(|e| SandboxError::Certificate(e.to_string()))?;
    let ca_path = std::path::PathBuf::from(SANDBOX_CA_FILE);
    std::fs::write(&ca_path, &generated.ca_pem).map_err(|source| SandboxError::TlsFile {
        path: ca_path,
        source,
    })?;
    Ok(Some(generated.server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(flags: &[&str]) -> Result<SandboxOptions, SandboxError> {
        let mut argv = vec!["mfa-enroll", "sandbox"];
        argv.extend_from_slice(flags);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Sandbox(args) => SandboxOptions::from_args(&args),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_tenants_configuration_comes_from_flags() {
        let options = parse(&[
            "--worker-environment",
            "ad0115e0-0000-4000-8000-0000000000ad",
            "--quota",
            "100",
            "--extensions-disabled",
            "--disable-method",
            "whatsapp",
            "--disable-pairing",
            "Voice",
            "--new-device-notification",
            "sms_then_email",
            "--refuse-mfa-switch",
            "AAAAAAAA-0000-4000-8000-000000000001",
            "--forbidden-users",
            "aaaaaaaa-0000-4000-8000-000000000002",
            "--license-exceeded",
        ])
        .unwrap();
        assert!(options.worker_environment_id.is_some());
        assert_eq!(options.quota, Some(100));
        assert!(!options.extensions_enabled);
        let rules = &options.policy_rules;
        assert!(!rules.allows("WHATSAPP") && !rules.allows("voice") && rules.allows("SMS"));
        assert_eq!(rules.new_device_notification, "SMS_THEN_EMAIL");
        assert!(options
            .refuse_mfa_switch
            .contains("aaaaaaaa-0000-4000-8000-000000000001"));
        assert_eq!(options.forbidden_users.len(), 1);
        assert!(options.license_exceeded);
        let defaults = parse(&[]).unwrap();
        assert!(defaults.extensions_enabled, "a tenant that turned them on");
        assert_eq!(
            defaults.policy_rules.new_device_notification, "NONE",
            "a live run against the sandbox is not held for notices"
        );
        assert!(matches!(
            parse(&["--new-device-notification", "LOUDLY"]),
            Err(SandboxError::Notification(_))
        ));
        assert!(matches!(
            parse(&["--quota", "5", "--quota-period-s", "0"]),
            Err(SandboxError::QuotaPeriod)
        ));
    }
}
