//! A PingOne simulator on loopback: the token endpoint (in the target environment or a worker
//! app's own), user look-up, a user's MFA switch, a user's devices (list and create, with
//! PingOne's validation and error bodies; one device read and deleted by ID), device authentication policies and MFA settings
//! (enforced as PingOne does), behind a per-second rate limit, a license quota, and optional
//! injected faults.
//!
//! It serves `mfa-enroll sandbox` (a standing server for rehearsals), `mfa-enroll run
//! --sandbox` (in-process, ephemeral port) and this crate's integration tests, which start it
//! on port 0 and then inspect what it received.
//!
//! Here: the running [`Sandbox`] and what its handlers share. Beside it: `options` (what it
//! can be told), `routes/` (the HTTP surface, one file per resource), `json` (PingOne's JSON,
//! from the docs), `state` (what it remembers), `tls`, and `standing` (`mfa-enroll sandbox`).

pub mod json;
mod options;
mod routes;
mod standing;
pub(crate) mod state;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{ClientAuth, Connection, TokenAuthMethod};
use json::Device;
pub use options::{NotificationQuotaRule, PolicyRules, SandboxOptions, Storm};
pub(crate) use standing::serve_standing;
use state::{lock, Store};
pub use state::{Arrival, Directory, SeenRequest, Tally};

/// Why the sandbox cannot start as asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{name} {value} is not between 0.0 and 1.0")]
    Share { name: &'static str, value: f64 },
    #[error("--max-devices {0} is not from 1 to 15 (PingOne's range)")]
    MaxDevices(u32),
    #[error("--create-status {0} is not 200 or 201 (the statuses PingOne answers a create with)")]
    CreateStatus(u16),
    #[error("--new-device-notification {0:?} is not NONE, EMAIL_THEN_SMS or SMS_THEN_EMAIL")]
    Notification(String),
    #[error("--quota-period-s must be at least 1")]
    QuotaPeriod,
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
pub(crate) const SANDBOX_CLIENT_ID: &str = "sandbox-worker-app";

/// Where `mfa-enroll sandbox --tls` writes its CA's certificate.
pub(crate) const SANDBOX_CA_FILE: &str = "sandbox-ca.pem";

pub(crate) struct Shared {
    options: SandboxOptions,
    store: Store,
    /// `http://{addr}/v1`, for the links in answers.
    api_base: String,
    /// This sandbox's token endpoint: the `aud` a client assertion must name.
    token_url: String,
    /// `--late-users`: by lower-case ID, the user's lower-case username and how many more
    /// requests naming the user answer as though it did not exist yet.
    late: Mutex<HashMap<String, (String, u64)>>,
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

    /// What the policy allows.
    fn policy_rules(&self, id: &str) -> &PolicyRules {
        self.options
            .policy_rules_by_id
            .get(&id.to_lowercase())
            .unwrap_or(&self.options.policy_rules)
    }

    /// Whether the user is there: in the directory, and not removed since
    /// ([`Sandbox::remove_user`]).
    fn user_exists(&self, user: &str) -> bool {
        let there = match self.late_is_missing(|id, _| id == user.to_lowercase()) {
            Some(missing) => !missing,
            None => self.options.directory.user_exists(user),
        };
        there && !lock(&self.store.removed_users).contains(&user.to_lowercase())
    }

    /// A late user's answer (`--late-users`), for the one `names` picks out by (ID, username):
    /// `Some(true)` while it is still missing (this request counted), `Some(false)` once it
    /// is there; `None` for a user who is not late.
    fn late_is_missing(&self, names: impl Fn(&str, &str) -> bool) -> Option<bool> {
        let mut late = lock(&self.late);
        let (_, (_, left)) = late.iter_mut().find(|(id, (name, _))| names(id, name))?;
        let missing = *left > 0;
        *left = left.saturating_sub(1);
        Some(missing)
    }

    /// (ID, username) of the users a username look-up finds now.
    fn find_users(&self, username: &str) -> Vec<(String, String)> {
        let wanted = username.to_lowercase();
        let found = self.late_is_missing(|_, name| name == wanted);
        match found {
            Some(true) => Vec::new(),
            Some(false) => lock(&self.late)
                .iter()
                .filter(|(_, (name, _))| *name == wanted)
                .map(|(id, _)| (id.clone(), username.to_string()))
                .collect(),
            None => self.options.directory.find(username),
        }
    }

    /// The user's MFA switch now.
    fn mfa_enabled(&self, user: &str) -> bool {
        let user = user.to_lowercase();
        lock(&self.store.mfa)
            .get(&user)
            .copied()
            .unwrap_or_else(|| self.options.directory.mfa_on_at_start(&user))
    }

    fn set_mfa_enabled(&self, user: &str, on: bool) {
        lock(&self.store.mfa).insert(user.to_lowercase(), on);
    }

    /// Notes a request about a user, for tests of the order (only with `record_arrivals`).
    fn note_user_request(&self, user: &str, what: &'static str) {
        if self.options.record_arrivals {
            lock(&self.store.user_requests).push((user.to_lowercase(), what));
        }
    }

    /// Where the worker app lives, and its tokens come from.
    fn worker_environment(&self) -> &str {
        self.options
            .worker_environment_id
            .as_deref()
            .unwrap_or(&self.options.environment_id)
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
        let worker = options
            .worker_environment_id
            .clone()
            .unwrap_or_else(|| options.environment_id.clone());
        let store = Store::default();
        *lock(&store.mfa_refused) = options.refuse_mfa_switch.clone();
        let shared = Arc::new(Shared {
            store,
            api_base: format!("{origin}/v1"),
            token_url: format!("{origin}/{worker}/as/token"),
            late: Mutex::new(late_users(&options)),
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
            worker_environment_id: self.shared.worker_environment().to_string(),
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
            auth_url_set_by: "--sandbox".to_string(),
            api_url_set_by: "--sandbox".to_string(),
        }
    }

    /// A config file that points at this sandbox; the secret goes in the environment.
    pub fn config_snippet(&self) -> String {
        let options = &self.shared.options;
        format!(
            "[pingone]\n\
             environment_id = \"{env}\"\n{worker}\
             client_id = \"{client}\"\n\
             api_url = \"{api}\"\n{ca}\
             auth_url = \"{auth}\"\n\
             token_auth_method = \"{method}\"   # the one this sandbox accepts (--token-auth)\n{key}\
             \n\
             [enroll]\n\
             policy_id = \"{policy}\"\n",
            env = options.environment_id,
            worker = match &options.worker_environment_id {
                Some(worker) => format!(
                    "worker_environment_id = \"{worker}\"   # where the worker app lives (--worker-environment)\n"
                ),
                None => String::new(),
            },
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
        let mut tally = self.shared.store.counters.snapshot();
        let users: Vec<String> = lock(&self.shared.store.devices)
            .iter()
            .filter(|(_, devices)| !devices.is_empty())
            .map(|(user, _)| user.clone())
            .collect();
        tally.users_with_device_mfa_off = users
            .iter()
            .filter(|user| !self.shared.mfa_enabled(user))
            .count() as u64;
        tally
    }

    /// A user's MFA switch now.
    pub fn mfa_enabled_of(&self, user_id: &str) -> bool {
        self.shared.mfa_enabled(user_id)
    }

    /// Sets a user's MFA switch before a run, as if set earlier.
    pub fn set_mfa_enabled(&self, user_id: &str, on: bool) {
        self.shared.set_mfa_enabled(user_id, on);
    }

    /// The token may now set every user's MFA switch (`refuse_mfa_switch` is lifted), as
    /// once a role that covers them has been granted.
    pub fn grant_mfa_switch(&self) {
        lock(&self.shared.store.mfa_refused).clear();
    }

    /// Ends the quota's period now, as its reset time passing would.
    pub fn end_quota_period(&self) {
        lock(&self.shared.store.quota).end();
    }

    /// What reached the sandbox about one user, in order: `"GET devices"`, `"POST devices"`,
    /// `"GET device"`, `"DELETE device"`, `"GET mfaEnabled"`, `"PUT mfaEnabled"` (only with
    /// `record_arrivals`).
    pub fn requests_about(&self, user_id: &str) -> Vec<&'static str> {
        let user = user_id.to_lowercase();
        lock(&self.shared.store.user_requests)
            .iter()
            .filter(|(who, _)| *who == user)
            .map(|(_, what)| *what)
            .collect()
    }

    /// What reached the sandbox about every user, in order: (user ID, what), as
    /// [`Sandbox::requests_about`] names it (only with `record_arrivals`).
    pub fn user_requests(&self) -> Vec<(String, &'static str)> {
        lock(&self.shared.store.user_requests).clone()
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

    /// Changes a device as someone else would between a run and a verify (a new
    /// destination, an activation): `change` gets the stored device; `false` when the user
    /// has no device with that ID.
    pub fn change_device(
        &self,
        user_id: &str,
        device_id: &str,
        change: impl FnOnce(&mut Device),
    ) -> bool {
        let mut devices = lock(&self.shared.store.devices);
        let found = devices
            .get_mut(&user_id.to_lowercase())
            .and_then(|list| list.iter_mut().find(|d| d.id == device_id));
        match found {
            Some(device) => {
                change(device);
                true
            }
            None => false,
        }
    }

    /// Removes a user (and the user's devices) as an administrator would between a run and a
    /// verify: from then on every request about the user answers 404.
    pub fn remove_user(&self, user_id: &str) {
        let user = user_id.to_lowercase();
        lock(&self.shared.store.devices).remove(&user);
        lock(&self.shared.store.removed_users).insert(user);
    }

    /// Removes a device as an administrator in PingOne's console would (not through the API,
    /// so it is not among [`Sandbox::deleted_devices`]); `false` when it was not there.
    pub fn remove_device(&self, user_id: &str, device_id: &str) -> bool {
        let mut devices = lock(&self.shared.store.devices);
        let Some(list) = devices.get_mut(&user_id.to_lowercase()) else {
            return false;
        };
        let before = list.len();
        list.retain(|d| d.id != device_id);
        before != list.len()
    }

    /// The ID of every device an API DELETE removed (answered 204), in order: a device
    /// deleted twice would be here twice.
    pub fn deleted_devices(&self) -> Vec<String> {
        lock(&self.shared.store.deleted).clone()
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

    /// Every API request received (tokens excepted), in order of arrival (only with
    /// `record_arrivals`).
    pub fn requests_seen(&self) -> Vec<SeenRequest> {
        lock(&self.shared.store.seen).clone()
    }

    /// Every access token this sandbox has issued, for tests that check none leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.store.tokens).keys().cloned().collect()
    }

    /// Arrival times of API requests (only with `record_arrivals`).
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.shared.store.arrivals).clone()
    }

    /// When the storm began and ended, since the sandbox started; `None` before it began.
    pub fn storm_window(&self) -> Option<(Duration, Duration)> {
        let storm = self.shared.options.storm?;
        let began =
            (*self.shared.store.storm_began.get()?).duration_since(self.shared.store.started);
        Some((began, began + storm.lasting))
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

/// `--late-users` as the sandbox keeps them: each missing for `late_asks` requests.
fn late_users(options: &SandboxOptions) -> HashMap<String, (String, u64)> {
    options
        .late_users
        .iter()
        .map(|(id, name)| (id.to_lowercase(), (name.to_lowercase(), options.late_asks)))
        .collect()
}
