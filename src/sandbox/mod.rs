//! A PingOne simulator on loopback: the token endpoint, user look-up, a user's devices (list
//! and create, with PingOne's validation and error bodies), device authentication policies
//! and MFA settings, behind a per-second rate limit and optional injected faults.
//!
//! It serves `mfa-enroll sandbox` (a standing server for rehearsals), `mfa-enroll run
//! --sandbox` (in-process, ephemeral port) and this crate's integration tests, which start it
//! on port 0 and then inspect what it received.

pub mod json;
mod routes;
pub mod state;
pub mod tls;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::SandboxArgs;
use crate::config::{ClientAuth, Connection, Secret, TokenAuthMethod};
use json::Device;
use state::{lock, Store};
pub use state::{Arrival, Directory, Tally};

/// Why the sandbox cannot start as asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{name} {value} is not between 0.0 and 1.0")]
    Share { name: &'static str, value: f64 },
    #[error("--max-devices {0} is not from 1 to 15 (PingOne's range)")]
    MaxDevices(u32),
    #[error("--create-status {0} is not 200 or 201 (the statuses PingOne answers a create with)")]
    CreateStatus(u16),
    #[error("{}: {source}", path.display())]
    UsersFile {
        path: std::path::PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("{}: line {line}: {problem}", path.display())]
    UsersFileContent {
        path: std::path::PathBuf,
        line: u64,
        problem: String,
    },
    #[error("--client-public-key {}: {source}", path.display())]
    PublicKey {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--token-auth private_key_jwt needs --client-public-key, the app's public key (PEM)")]
    NoPublicKey,
    #[error("{}: {source}", path.display())]
    TlsFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot generate a certificate: {0}")]
    Certificate(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The device authentication policy every sandbox has, used when the config names none.
pub const SANDBOX_POLICY_ID: &str = "5a4db0c5-0000-4000-8000-000000000001";
/// The sandbox's environment.
pub const SANDBOX_ENVIRONMENT_ID: &str = "5a4db0c5-0000-4000-8000-00000000e4b1";
pub const SANDBOX_CLIENT_ID: &str = "sandbox-worker-app";

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
    /// Keep each request's arrival time, for tests that check the rate (memory grows per request).
    pub record_arrivals: bool,
    /// The status a device create answers: 201 in the docs, 200 seen in the wild.
    pub create_status: axum::http::StatusCode,
    /// Items per page of a list, unless the client asks for a `limit`; `None`: one page.
    pub page_size: Option<usize>,
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
            token_ttl: Duration::from_secs(3600),
            directory: Directory::Open,
            policies: None,
            max_devices: 5,
            no_role: false,
            no_config_role: false,
            record_arrivals: false,
            create_status: axum::http::StatusCode::CREATED,
            page_size: None,
            token_auth: TokenAuthMethod::Basic,
            client_public_key: None,
            tls: None,
            reject_valid_tokens: 0,
            retry_after: None,
            retry_after_as_date: false,
            hold_answers_after_creates: None,
        }
    }
}

impl SandboxOptions {
    pub fn from_args(args: &SandboxArgs) -> Result<Self, SandboxError> {
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
        Ok(Self {
            rate: (args.rate > 0).then_some(args.rate),
            latency: Duration::from_millis(args.latency_ms),
            fail_rate: args.fail_rate,
            ambiguous_rate: args.ambiguous_rate,
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
            token_auth: args.token_auth.into(),
            client_public_key: match &args.client_public_key {
                Some(path) => {
                    Some(
                        std::fs::read(path).map_err(|source| SandboxError::PublicKey {
                            path: path.clone(),
                            source,
                        })?,
                    )
                }
                None => None,
            },
            tls: tls_from_args(args)?,
            ..Self::default()
        })
    }
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

/// Where `mfa-enroll sandbox --tls` writes its CA's certificate.
pub const SANDBOX_CA_FILE: &str = "sandbox-ca.pem";

pub(crate) struct Shared {
    options: SandboxOptions,
    store: Store,
    /// `http://{addr}/v1`, for the links in answers.
    api_base: String,
    /// This sandbox's token endpoint: the `aud` a client assertion must name.
    token_url: String,
}

impl Shared {
    fn roll(&self, probability: f64) -> bool {
        probability > 0.0 && fastrand::f64() < probability
    }

    fn policy_exists(&self, id: &str) -> bool {
        let id = id.to_lowercase();
        match &self.options.policies {
            None => uuid::Uuid::parse_str(&id).is_ok(),
            Some(ids) => ids.contains(&id) || id == SANDBOX_POLICY_ID,
        }
    }
}

/// `http://127.0.0.1:PORT`, or `https://localhost:PORT`: the name its certificate carries.
fn origin_of(addr: SocketAddr, https: bool) -> String {
    if https {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`Sandbox::shutdown`] to stop it.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Sandbox {
    pub async fn start(listen: SocketAddr, options: SandboxOptions) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let acceptor = options.tls.as_ref().map(tls::acceptor).transpose()?;
        let origin = origin_of(addr, acceptor.is_some());
        let shared = Arc::new(Shared {
            store: Store::default(),
            api_base: format!("{origin}/v1"),
            token_url: format!("{origin}/{}/as/token", options.environment_id),
            options,
        });
        let app = routes::router(shared.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Some(acceptor) = acceptor {
                return tls::serve(listener, acceptor, app, stopped).await;
            }
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("sandbox server failed: {e}");
            }
        });
        Ok(Sandbox {
            addr,
            shared,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn api_url(&self) -> String {
        self.shared.api_base.clone()
    }

    pub fn auth_url(&self) -> String {
        origin_of(self.addr, self.shared.options.tls.is_some())
    }

    pub fn options(&self) -> &SandboxOptions {
        &self.shared.options
    }

    /// How to reach this sandbox as a client.
    pub fn connection(&self) -> Connection {
        let options = &self.shared.options;
        Connection {
            api_url: self
                .api_url()
                .parse()
                .expect("a socket address makes a valid URL"),
            auth_url: self
                .auth_url()
                .parse()
                .expect("a socket address makes a valid URL"),
            environment_id: options.environment_id.clone(),
            client_id: options.client_id.clone(),
            // The secret's methods; for private_key_jwt a client brings its own key.
            auth: match options.token_auth {
                TokenAuthMethod::Post => ClientAuth::Post(options.client_secret.clone()),
                TokenAuthMethod::ClientSecretJwt => {
                    ClientAuth::ClientSecretJwt(options.client_secret.clone())
                }
                TokenAuthMethod::Basic | TokenAuthMethod::PrivateKeyJwt => {
                    ClientAuth::Basic(options.client_secret.clone())
                }
            },
            extra_roots: None,
        }
    }

    /// A config file that points at this sandbox; the secret goes in the environment.
    pub fn config_snippet(&self) -> String {
        let options = &self.shared.options;
        format!(
            "[pingone]\n\
             environment_id = \"{env}\"\n\
             client_id = \"{client}\"\n\
             api_url = \"{api}\"\n{ca}\
             auth_url = \"{auth}\"\n\
             token_auth_method = \"{method}\"   # the one this sandbox accepts (--token-auth)\n{key}\
             \n\
             [enroll]\n\
             policy_id = \"{policy}\"\n",
            env = options.environment_id,
            client = options.client_id,
            api = self.api_url(),
            auth = self.auth_url(),
            policy = SANDBOX_POLICY_ID,
            method = options.token_auth.as_str(),
            ca = if options.tls.is_some() {
                format!("ca_file = \"{SANDBOX_CA_FILE}\"   # the sandbox's own CA\n")
            } else {
                String::new()
            },
            key = if options.token_auth == TokenAuthMethod::PrivateKeyJwt {
                "private_key_file = \"client-key.pem\"   # the private half of --client-public-key\n"
            } else {
                ""
            },
        )
    }

    pub fn tally(&self) -> Tally {
        self.shared.store.counters.snapshot()
    }

    /// The devices a user has now.
    pub fn devices_of(&self, user_id: &str) -> Vec<Device> {
        lock(&self.shared.store.devices)
            .get(&user_id.to_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// Every user's devices: (user ID, device).
    pub fn all_devices(&self) -> Vec<(String, Device)> {
        lock(&self.shared.store.devices)
            .iter()
            .flat_map(|(user, devices)| devices.iter().map(move |d| (user.clone(), d.clone())))
            .collect()
    }

    /// Gives a user a device before a run, as if enrolled earlier.
    pub fn seed_device(&self, user_id: &str, device: Device) {
        lock(&self.shared.store.devices)
            .entry(user_id.to_lowercase())
            .or_default()
            .push(device);
    }

    /// The most API requests that were in progress at once.
    pub fn max_in_flight(&self) -> u64 {
        self.shared
            .store
            .counters
            .max_in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every device-create body received, as the client sent it.
    pub fn create_bodies(&self) -> Vec<String> {
        lock(&self.shared.store.bodies).clone()
    }

    /// Every access token this sandbox has issued, for tests that check none leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.store.tokens).keys().cloned().collect()
    }

    /// Arrival times of API requests (only with `record_arrivals`).
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.shared.store.arrivals).clone()
    }

    /// The most API requests that arrived within any one-second window.
    pub fn max_requests_in_any_second(&self) -> usize {
        let times: Vec<Duration> = self.arrivals().iter().map(|a| a.at).collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end] - times[start] >= Duration::from_secs(1) {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// `mfa-enroll sandbox`: serve until Ctrl-C, then print the tally.
pub async fn serve_standing(args: SandboxArgs) -> Result<(), SandboxError> {
    let options = SandboxOptions::from_args(&args)?;
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: the sandbox listens on {}, which is reachable from other machines",
            args.listen
        );
    }
    let sandbox = Sandbox::start(args.listen, options)
        .await
        .map_err(|source| SandboxError::Listen {
            addr: args.listen,
            source,
        })?;
    let secret = sandbox.options().client_secret.expose().to_string();
    println!(
        "PingOne sandbox listening on {addr}; nothing here is real.\n\n\
         Save this as sandbox.toml:\n\n{snippet}\n\
         Then run:\n  export {var}={secret}\n  mfa-enroll run samples/enroll.csv --config sandbox.toml --out sandbox-out\n\n\
         Ctrl-C stops the sandbox and prints its tally.",
        addr = sandbox.addr(),
        snippet = sandbox.config_snippet(),
        var = crate::config::ENV_CLIENT_SECRET,
    );
    let _ = tokio::signal::ctrl_c().await;
    let tally = sandbox.tally();
    sandbox.shutdown().await;
    println!(
        "\nsandbox tally: {} requests ({} token), {} devices created, {} duplicate devices, {} answered 429, {} injected failures, {} ambiguous failures",
        tally.requests,
        tally.token_requests,
        tally.devices_created,
        tally.duplicate_devices,
        tally.throttled_429,
        tally.injected_failures,
        tally.ambiguous_failures
    );
    Ok(())
}
