//! A hostile PingOne on 127.0.0.1, for what the sandbox will not play: answers that never end
//! or trickle for ever, a 1 GiB body, lists that page to themselves, back, or away, numbers
//! of any size, a list that shifts while it is paged, a token endpoint that never answers. Each test picks one [`Behaviour`]; every
//! other route answers as PingOne does, so the run gets as far as the misbehaviour.
//!
//! Its own small description of PingOne's JSON, as the sandbox has: never the client's types.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub const ENVIRONMENT: &str = "6b1e0c3a-0000-4000-8000-00000000b0a0";
pub const POLICY: &str = "6b1e0c3a-0000-4000-8000-000000000001";
pub const SECRET: &str = "hostile-secret";

/// How the token endpoint answers.
#[derive(Debug, Clone, Copy)]
pub enum Token {
    /// `expires_in` as this raw JSON text (`3600`, `9200000000000000000`, `1e400`, ...).
    Lifetime(&'static str),
    /// A 200 whose body is 1 GiB.
    Huge,
    /// Accepts the request and never answers.
    Silent,
    /// A 200 that is a login page, not a token.
    Html,
    /// A 307 to another host.
    Redirect,
}

/// How a user's device list answers.
#[derive(Debug, Clone, Copy)]
pub enum Devices {
    /// One empty page.
    Empty,
    /// A 200 whose body is 1 GiB, streamed without a length.
    Huge,
    /// A 200 that sends a byte every 200 ms, for ever.
    Trickle,
    /// `_links.next` names the page itself.
    ToItself,
    /// Page 1 links to page 2, which links back to page 1.
    BackToFirst,
    /// `_links.next` names another environment's list.
    OtherEnvironment,
    /// `_links.next` names the same path on another host (`localhost` for `127.0.0.1`).
    OtherHost,
    /// A new page after every page, for ever.
    Endless,
    /// One page whose counts are numbers no list has.
    HugeNumbers,
    /// The devices this server created for the user, on one page.
    Listed,
    /// One device a page, with the list's `count` on every page, as PingOne pages: a TOTP
    /// device, then an SMS device on `phone` when given, then the devices this server
    /// created for the user. The first `times` times a page after the first is read, it is
    /// read from the list without the TOTP device (deleted after page 1 was read), so the
    /// rest shifts one place forward and one device is never read.
    Shifting {
        times: u64,
        phone: Option<&'static str>,
    },
}

/// How a device POST answers.
#[derive(Debug, Clone, Copy)]
pub enum Create {
    /// 201 with the device.
    Created,
    /// 201 with a 1 GiB body.
    Huge,
    /// 201 with the device, which names another user (and is not in this user's list).
    OtherUser,
    /// 201 without a body; the device exists.
    NoBody,
}

#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    pub token: Token,
    pub devices: Devices,
    pub create: Create,
    /// `pairing.maxAllowedDevices` as raw JSON text.
    pub max_devices: &'static str,
    /// The first API request is answered 401, so the token is renewed once.
    pub first_answer_401: bool,
    /// The first API request is answered 429 with this `Retry-After`.
    pub first_answer_429: Option<&'static str>,
    /// The username a username look-up's answer names (none: it names none).
    pub lookup_names: Option<&'static str>,
    /// The first API request is answered 503 with this `Retry-After`.
    pub first_answer_503: Option<&'static str>,
    /// The first token request is answered with this status and `Retry-After`.
    pub first_token: Option<(u16, &'static str)>,
    /// The API request of this number (0 the first) is answered 503 with this `Retry-After`.
    pub nth_answer_503: Option<(u64, &'static str)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            token: Token::Lifetime("3600"),
            devices: Devices::Empty,
            create: Create::Created,
            max_devices: "5",
            first_answer_401: false,
            first_answer_429: None,
            lookup_names: None,
            first_answer_503: None,
            first_token: None,
            nth_answer_503: None,
        }
    }
}

/// What the server was asked.
#[derive(Debug, Default)]
pub struct Counts {
    pub tokens: AtomicU64,
    pub api: AtomicU64,
    pub device_reads: AtomicU64,
    pub posts: AtomicU64,
    /// Pages read from a shifted list ([`Devices::Shifting`]).
    pub shifts: AtomicU64,
    /// When each token (`"token"`) and API (`"api"`) request arrived.
    pub arrivals: std::sync::Mutex<Vec<(&'static str, std::time::Instant)>>,
}

impl Counts {
    /// The arrival times of one kind of request.
    pub fn arrivals_of(&self, kind: &str) -> Vec<std::time::Instant> {
        let arrivals = self.arrivals.lock().unwrap();
        arrivals
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .collect()
    }

    fn arrived(&self, kind: &'static str) {
        self.arrivals
            .lock()
            .unwrap()
            .push((kind, std::time::Instant::now()));
    }
}

struct Shared {
    behaviour: Behaviour,
    counts: Counts,
    port: u16,
    /// The devices created, as (user ID, device JSON).
    created: std::sync::Mutex<Vec<(String, serde_json::Value)>>,
}

pub struct Hostile {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    pub async fn start(behaviour: Behaviour) -> Hostile {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port on loopback");
        let port = listener.local_addr().expect("its address").port();
        let shared = Arc::new(Shared {
            behaviour,
            counts: Counts::default(),
            port,
            created: Default::default(),
        });
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hostile { shared, task }
    }

    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }

    /// A config pointing at this server, with extra `[limits]` lines.
    pub fn config(&self, limits: &str) -> String {
        self.config_with("", limits)
    }

    /// The same, with extra `[pingone]` lines too.
    pub fn config_with(&self, pingone: &str, limits: &str) -> String {
        let base = format!("http://127.0.0.1:{}", self.shared.port);
        format!(
            "[pingone]\nenvironment_id = \"{ENVIRONMENT}\"\nclient_id = \"hostile-app\"\n\
             api_url = \"{base}/v1\"\nauth_url = \"{base}\"\n{pingone}\n\n\
             [enroll]\npolicy_id = \"{POLICY}\"\nallow_messages = true\nenable_mfa = false\n\n\
             [limits]\nbackoff_initial_ms = 5\nbackoff_max_s = 1\n{limits}\n"
        )
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{env}/as/token", post(token))
        .route("/v1/environments/{env}/users", get(find_users))
        .route(
            "/v1/environments/{env}/users/{user}/devices",
            get(list_devices).post(create_device),
        )
        .route(
            "/v1/environments/{env}/deviceAuthenticationPolicies/{id}",
            get(policy),
        )
        .route("/v1/environments/{env}/mfaSettings", get(mfa_settings))
        .with_state(shared)
}

fn json(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// 1 GiB of spaces after an opening brace, made as it is sent, never held whole.
fn gigabyte() -> Response {
    static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];
    let chunks = std::iter::once(Bytes::from_static(b"{"))
        .chain(std::iter::repeat_n(Bytes::from_static(&CHUNK), 16 * 1024));
    let stream = futures::stream::iter(chunks.map(Ok::<_, std::io::Error>));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A byte every 200 ms, for ever.
fn trickle() -> Response {
    let stream = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>) -> Response {
    let n = shared.counts.tokens.fetch_add(1, Ordering::SeqCst);
    shared.counts.arrived("token");
    if let (0, Some((status, retry_after))) = (n, shared.behaviour.first_token) {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, [(header::RETRY_AFTER, retry_after)], "").into_response();
    }
    match shared.behaviour.token {
        Token::Lifetime(expires_in) => json(
            StatusCode::OK,
            format!(
                "{{\"access_token\":\"hostile-token\",\"token_type\":\"Bearer\",\"expires_in\":{expires_in}}}"
            ),
        ),
        Token::Huge => gigabyte(),
        Token::Silent => std::future::pending().await,
        Token::Html => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Sign in</body></html>",
        )
            .into_response(),
        Token::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "https://login.example.com/as/token")],
        )
            .into_response(),
    }
}

/// The answers every API request gets first, when the behaviour asks for them.
fn first_answer(shared: &Shared) -> Option<Response> {
    let n = shared.counts.api.fetch_add(1, Ordering::SeqCst);
    shared.counts.arrived("api");
    if let Some((_, retry_after)) = shared.behaviour.nth_answer_503.filter(|(at, _)| *at == n) {
        let headers = [(header::RETRY_AFTER, retry_after)];
        return Some((StatusCode::SERVICE_UNAVAILABLE, headers, "").into_response());
    }
    if n != 0 {
        return None;
    }
    if let Some(retry_after) = shared.behaviour.first_answer_503 {
        let headers = [(header::RETRY_AFTER, retry_after)];
        return Some((StatusCode::SERVICE_UNAVAILABLE, headers, "").into_response());
    }
    if shared.behaviour.first_answer_401 {
        return Some(json(
            StatusCode::UNAUTHORIZED,
            "{\"code\":\"INVALID_TOKEN\"}".into(),
        ));
    }
    let retry_after = shared.behaviour.first_answer_429?;
    Some(
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after)],
            "{\"code\":\"REQUEST_LIMITED\",\"details\":[{\"code\":\"LIMIT_EXCEEDED\"}]}",
        )
            .into_response(),
    )
}

async fn find_users(State(shared): State<Arc<Shared>>, Path(env): Path<String>) -> Response {
    if let Some(first) = first_answer(&shared) {
        return first;
    }
    let _ = env;
    let named = shared
        .behaviour
        .lookup_names
        .map_or(String::new(), |name| format!(",\"username\":\"{name}\""));
    json(
        StatusCode::OK,
        format!("{{\"_embedded\":{{\"users\":[{{\"id\":\"6b1e0c3a-0000-4000-8000-0000000000aa\"{named}}}]}},\"count\":1e400,\"size\":-1}}"),
    )
}

async fn list_devices(
    State(shared): State<Arc<Shared>>,
    Path((env, user)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Some(first) = first_answer(&shared) {
        return first;
    }
    shared.counts.device_reads.fetch_add(1, Ordering::SeqCst);
    let here = format!("/v1/environments/{env}/users/{user}/devices");
    let page = |next: Option<String>| {
        let links = next.map_or(String::new(), |href| {
            format!(",\"_links\":{{\"next\":{{\"href\":\"{href}\"}}}}")
        });
        json(
            StatusCode::OK,
            format!("{{\"_embedded\":{{\"devices\":[]}}{links}}}"),
        )
    };
    let number: u64 = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let origin = format!("http://127.0.0.1:{}", shared.port);
    match shared.behaviour.devices {
        Devices::Empty => page(None),
        Devices::Huge => gigabyte(),
        Devices::Trickle => trickle(),
        Devices::ToItself => page(Some(format!("{origin}{here}"))),
        Devices::BackToFirst if number == 1 => page(Some(format!("{origin}{here}?page=2"))),
        Devices::BackToFirst => page(Some(format!("{origin}{here}"))),
        Devices::OtherEnvironment => page(Some(format!(
            "{origin}/v1/environments/6b1e0c3a-0000-4000-8000-0000000000ff/users/{user}/devices"
        ))),
        Devices::OtherHost => page(Some(format!(
            "http://localhost:{}{here}?page=2",
            shared.port
        ))),
        Devices::Endless => page(Some(format!("{here}?page={}", number + 1))),
        Devices::Listed => {
            let created = shared.created.lock().unwrap();
            let devices: Vec<&serde_json::Value> = created
                .iter()
                .filter(|(owner, _)| *owner == user)
                .map(|(_, device)| device)
                .collect();
            let page = serde_json::json!({"_embedded": {"devices": devices}});
            json(StatusCode::OK, page.to_string())
        }
        Devices::Shifting { times, phone } => {
            shifting(&shared, &user, &format!("{origin}{here}"), number, times, phone)
        }
        Devices::HugeNumbers => json(
            StatusCode::OK,
            "{\"_embedded\":{\"devices\":[]},\"count\":1e400,\"size\":-18446744073709551617,\"limit\":99999999999999999999999}".into(),
        ),
    }
}

/// Page `number` of [`Devices::Shifting`]'s list.
fn shifting(
    shared: &Shared,
    user: &str,
    here: &str,
    number: u64,
    times: u64,
    phone: Option<&str>,
) -> Response {
    let device = |id: &str, kind: &str, phone: Option<&str>| {
        serde_json::json!({"id": id, "type": kind, "status": "ACTIVE", "user": {"id": user},
            "phone": phone, "createdAt": "2024-11-21T11:20:18.259Z"})
    };
    let mut devices = vec![device("6b1e0c3a-0000-4000-8000-0000000000c0", "TOTP", None)];
    if let Some(phone) = phone {
        devices.push(device(
            "6b1e0c3a-0000-4000-8000-0000000000c1",
            "SMS",
            Some(phone),
        ));
    }
    let created = shared.created.lock().unwrap();
    devices.extend(
        created
            .iter()
            .filter(|(owner, _)| owner == user)
            .map(|(_, device)| device.clone()),
    );
    if number > 1 && shared.counts.shifts.load(Ordering::SeqCst) < times {
        shared.counts.shifts.fetch_add(1, Ordering::SeqCst);
        devices.remove(0);
    }
    let index = usize::try_from(number.saturating_sub(1)).unwrap_or(usize::MAX);
    let mut page = serde_json::json!({
        "_embedded": {"devices": devices.get(index).into_iter().collect::<Vec<_>>()},
        "count": devices.len(),
        "size": usize::from(index < devices.len()),
    });
    if index + 1 < devices.len() {
        page["_links"] =
            serde_json::json!({"next": {"href": format!("{here}?page={}", number + 1)}});
    }
    json(StatusCode::OK, page.to_string())
}

async fn create_device(
    State(shared): State<Arc<Shared>>,
    Path((_env, user)): Path<(String, String)>,
    body: String,
) -> Response {
    if let Some(first) = first_answer(&shared) {
        return first;
    }
    let n = shared.counts.posts.fetch_add(1, Ordering::SeqCst);
    if let Create::Huge = shared.behaviour.create {
        return gigabyte();
    }
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let mut device = serde_json::json!({
        "id": format!("6b1e0c3a-0000-4000-8000-{n:012}"),
        "type": sent["type"],
        "status": "ACTIVE",
        "user": {"id": user},
        "createdAt": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    });
    for field in ["phone", "email", "extension"] {
        if !sent[field].is_null() {
            device[field] = sent[field].clone();
        }
    }
    match shared.behaviour.create {
        Create::Huge => gigabyte(),
        Create::Created => {
            shared.created.lock().unwrap().push((user, device.clone()));
            json(StatusCode::CREATED, device.to_string())
        }
        Create::OtherUser => {
            device["user"]["id"] = "6b1e0c3a-0000-4000-8000-0000000000ff".into();
            json(StatusCode::CREATED, device.to_string())
        }
        Create::NoBody => {
            shared.created.lock().unwrap().push((user, device));
            StatusCode::CREATED.into_response()
        }
    }
}

async fn policy(
    State(shared): State<Arc<Shared>>,
    Path((_env, id)): Path<(String, String)>,
) -> Response {
    if let Some(first) = first_answer(&shared) {
        return first;
    }
    json(
        StatusCode::OK,
        format!("{{\"id\":\"{id}\",\"name\":\"p\"}}"),
    )
}

async fn mfa_settings(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(first) = first_answer(&shared) {
        return first;
    }
    json(
        StatusCode::OK,
        format!(
            "{{\"pairing\":{{\"maxAllowedDevices\":{}}}}}",
            shared.behaviour.max_devices
        ),
    )
}
