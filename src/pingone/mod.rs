//! The PingOne API client: tokens, users and their MFA switch, devices (and one device by
//! ID, `one_device.rs`), policies, MFA settings, PingOne's error body and the hosts of each
//! region. Knows nothing of CSV.
//!
//! Each method makes one attempt (a 401 renews the token and tries once more); retrying is
//! the engine's decision, since only it knows whether a POST may be sent again. Every request
//! passes the run's [`Throttle`] (`crate::rate`), and every answer feeds a health check that stops
//! the run when the credentials, the role, the license or the environment are wrong, the
//! license's quota is used up, or the service keeps failing.

pub(crate) mod body;
mod environment;
pub(crate) mod error;
pub(crate) mod filter;
pub(crate) mod one_device;
pub(crate) mod paging;
mod proxy;
pub(crate) mod token;
pub(crate) mod trace;
mod verdicts;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bounded::size_text;
use crate::config::{Connection, Limits, Secret};
use crate::failpoints::failpoint;
use crate::rate::health::{FailureClass, Health};
use crate::rate::latency::Latency;
use crate::rate::throttle::Throttle;
use crate::stop::{Stop, StopReason};
pub(crate) use error::{ApiError, Cause};
use filter::{lookup_failpoint, users_filter};
use token::{TokenFailure, TokenSource};
pub(crate) use trace::Trace;
use trace::Transactions;
use wire::{CreateDevice, Device, DeviceList, MfaEnabled, Page, User, UserList};

/// Which host [`Client::preflight`] could not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreflightHost {
    Token,
    Api,
}

/// After a stop, how long a request already sent may still take to answer. A POST's answer
/// settles its row, so it is worth a moment; past it the row is `UNCONFIRMED` (a GET's row
/// is not attempted), and the run ends within the contract's two seconds.
const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Counters every layer may read; the progress display and summary.json do.
#[derive(Debug, Default)]
pub struct RequestStats {
    /// API requests sent (tokens excepted), retries included.
    pub(crate) requests: AtomicU64,
    pub(crate) gets: AtomicU64,
    pub(crate) posts: AtomicU64,
    /// PUTs: users' MFA switches.
    pub(crate) puts: AtomicU64,
    /// DELETEs: devices `undo` removes.
    pub(crate) deletes: AtomicU64,
    /// 429 answers received.
    pub(crate) throttled: AtomicU64,
    /// Attempts that were repeats of a failed one.
    pub(crate) retries: AtomicU64,
    /// How long answers took, and requests in flight.
    pub(crate) latency: Latency,
}

impl RequestStats {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What a request is for: a 403 means "the role is missing" only for the enrollment's own
/// requests (users, devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Enrollment,
    ConfigRead,
}

pub struct Client {
    http: reqwest::Client,
    api_url: reqwest::Url,
    /// The token's answer already shows the API's host can be reached.
    api_on_token_host: bool,
    environment_url: String,
    environment_id: String,
    worker_environment_id: String,
    tokens: TokenSource,
    throttle: Throttle,
    stop: Arc<Stop>,
    stats: Arc<RequestStats>,
    health: Mutex<Health>,
    transactions: Transactions,
}

impl Client {
    pub fn new(
        connection: &Connection,
        limits: &Limits,
        stop: Arc<Stop>,
        stats: Arc<RequestStats>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mfa-enroll/", env!("CARGO_PKG_VERSION")))
            .timeout(limits.timeout)
            // Well inside the request's timeout, so that a connection (or TLS handshake)
            // that never completes is told apart from a request without an answer: only
            // the first is known to have sent nothing.
            .connect_timeout((limits.timeout / 2).min(std::time::Duration::from_secs(10)))
            // A redirect could carry the bearer token somewhere unexpected: PingOne never sends one.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(limits.concurrency.most());
        // Not reqwest's own reading of the environment: that sends loopback through the proxy.
        let http = proxy::from_env(http);
        // Extra roots join the system's; verification itself is never switched off.
        let http = match &connection.extra_roots {
            Some(roots) => http.tls_certs_merge(roots.certificates.clone()),
            None => http,
        }
        .build()?;
        Ok(Self {
            tokens: TokenSource::new(http.clone(), connection),
            http,
            api_url: connection.api_url.clone(),
            api_on_token_host: connection.api_url.origin() == connection.auth_url.origin(),
            environment_url: connection.environment_url(),
            environment_id: connection.environment_id.clone(),
            worker_environment_id: connection.worker_environment_id.clone(),
            throttle: Throttle::new(limits.rate, limits.concurrency, stop.clone()),
            stop,
            stats,
            health: Mutex::new(Health::new(limits)),
            transactions: Transactions::new(),
        })
    }

    /// Fetches the first token before anything else is sent, so a certificate that is not
    /// trusted, or a token host that cannot be reached at all (connection refused, no such
    /// name, a TLS handshake that never completes), stops the run before it starts. Then,
    /// when the API lives on another host, one request without credentials shows that host
    /// answers too: any answer will do, even 401, since only reaching it is in question.
    /// Any other failure is left to the run, which retries it or stops as it always does.
    pub(crate) async fn preflight(&self) -> Result<(), (PreflightHost, ApiError)> {
        match self.token_as_answered().await {
            Err(refused @ (ApiError::Untrusted { .. } | ApiError::Connect(_))) => {
                return Err((PreflightHost::Token, refused))
            }
            // Connected, and no answer within the timeout: a host that accepts and never
            // answers cannot be reached either, and every retry would wait as long.
            Err(ApiError::Transport(problem)) => {
                return Err((PreflightHost::Token, ApiError::Connect(problem)))
            }
            _ if self.api_on_token_host => return Ok(()),
            _ => {}
        }
        let head = self.http.head(self.api_url.clone());
        let head = head.header(trace::HEADER, self.transactions.unrowed());
        match head.send().await {
            Ok(_) => Ok(()),
            Err(error) => match ApiError::from_reqwest(error) {
                refused @ (ApiError::Untrusted { .. } | ApiError::Connect(_)) => {
                    Err((PreflightHost::Api, refused))
                }
                _ => Ok(()),
            },
        }
    }

    /// Token requests sent, whatever their answer.
    pub(crate) fn token_requests(&self) -> u64 {
        self.tokens.requested()
    }

    /// How many requests may be in flight now (the engine starts about as many rows).
    pub(crate) fn in_flight_limit(&self) -> usize {
        self.throttle.in_flight_limit()
    }

    /// The most API requests this run had in flight at once.
    pub(crate) fn most_in_flight(&self) -> u64 {
        self.throttle.most_in_flight() as u64
    }

    /// The rate PingOne's 429s held this run to, when below the configured rate.
    pub(crate) fn server_limit(&self) -> Option<u32> {
        self.throttle.server_limit()
    }

    /// Users whose username is exactly `username`: none, one, or (ambiguous) several.
    pub(crate) async fn find_users(&self, username: &str) -> Result<Vec<User>, ApiError> {
        self.find_users_named(&[username.to_string()]).await
    }

    /// Users whose username is one of `usernames`, in one look-up (PingOne's SCIM filter
    /// joins the names with `or`), every page of the answer read. A filter PingOne finds too
    /// long answers 400 or 414, which the caller splits.
    pub(crate) async fn find_users_named(
        &self,
        usernames: &[String],
    ) -> Result<Vec<User>, ApiError> {
        lookup_failpoint(usernames)?;
        let filter = users_filter(usernames);
        let url = format!("{}/users", self.environment_url);
        // A page twice the batch: one request answers it, with room for names two users share.
        let limit = (usernames.len() * 2)
            .clamp(10, paging::MAX_LIST_ITEMS)
            .to_string();
        let query = [("filter", filter.as_str()), ("limit", limit.as_str())];
        self.all_pages::<UserList>(&url, &query).await
    }

    /// Every device of the user: PingOne pages the list, and a device on page 2 is as real
    /// as one on page 1.
    pub async fn list_devices(&self, user_id: &str) -> Result<Vec<Device>, ApiError> {
        let url = format!("{}/users/{user_id}/devices", self.environment_url);
        self.all_pages::<DeviceList>(&url, &[]).await
    }

    /// Every item of a paged list, following `_links.next` to the last page, within the
    /// bounds of [`paging::Paging`]; read again from the first page while the pages disagree
    /// with the list's `count`, at most [`paging::LIST_READS`] times.
    async fn all_pages<P: Page>(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<P::Item>, ApiError> {
        let mut first = reqwest::Url::parse(url)
            .map_err(|e| ApiError::Connect(format!("{url} is not a valid URL ({e})")))?;
        if !query.is_empty() {
            first.query_pairs_mut().extend_pairs(query);
        }
        let mut why = String::new();
        for read in 1..=paging::LIST_READS {
            let mut paging = paging::Paging::new(&first, &self.api_url, &self.environment_id);
            let mut items = Vec::new();
            let mut next = Some(first.clone());
            while let Some(url) = next {
                let page: P = self
                    .call(Method::GET, url.as_str(), &[], None::<&()>)
                    .await?;
                let (mut more, links, count) = page.into_parts();
                paging.page(more.len(), count)?;
                items.append(&mut more);
                next = paging.next(&url, &links)?;
            }
            let Some(disagreement) = paging.disagreement() else {
                return Ok(items);
            };
            why = disagreement;
            tracing::debug!(read, "a paged list changed while it was read: {why}");
        }
        let reads = paging::LIST_READS;
        Err(ApiError::ListChanged { reads, why })
    }

    /// Creates a device; also returns the status PingOne sent (201 in the docs, 200 seen).
    /// `trace` names the row's attempt, and is left holding the transaction id last sent.
    pub(crate) async fn create_device(
        &self,
        user_id: &str,
        body: &CreateDevice,
        trace: &mut Trace,
    ) -> Result<(Device, u16), ApiError> {
        let url = format!("{}/users/{user_id}/devices", self.environment_url);
        let (status, bytes) = self
            .exchange(
                Method::POST,
                &url,
                &[],
                Some(body),
                Purpose::Enrollment,
                trace,
            )
            .await?;
        Ok((self.parse(status, &bytes)?, status))
    }

    /// The user's MFA switch (`GET /users/{userID}/mfaEnabled`).
    pub(crate) async fn mfa_enabled(&self, user_id: &str) -> Result<bool, ApiError> {
        let url = format!("{}/users/{user_id}/mfaEnabled", self.environment_url);
        let answer: MfaEnabled = self.call(Method::GET, &url, &[], None::<&()>).await?;
        Ok(answer.mfa_enabled)
    }

    /// Switches the user's MFA on (`PUT /users/{userID}/mfaEnabled`); idempotent, so the
    /// engine retries it like a read. Returns the switch as PingOne reports it afterwards.
    pub(crate) async fn enable_mfa(&self, user_id: &str) -> Result<bool, ApiError> {
        let url = format!("{}/users/{user_id}/mfaEnabled", self.environment_url);
        let on = MfaEnabled { mfa_enabled: true };
        let (status, bytes) = self
            .exchange(
                Method::PUT,
                &url,
                &[],
                Some(&on),
                Purpose::Enrollment,
                &mut Trace::default(),
            )
            .await?;
        // The docs show a 200 with the switch; an empty success says as much.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            self.record_success();
            return Ok(true);
        }
        let answer: MfaEnabled = self.parse(status, &bytes)?;
        Ok(answer.mfa_enabled)
    }

    /// A read of environment configuration (policies, MFA settings), which only an online dry
    /// run makes. Its 403 says the token cannot read configuration, not that it lacks the
    /// role the enrollment needs, so it never stops the run; the caller reports it once.
    async fn config_read<T: DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let (status, bytes) = self
            .exchange(
                Method::GET,
                url,
                &[],
                None::<&()>,
                Purpose::ConfigRead,
                &mut Trace::default(),
            )
            .await?;
        // A configuration read says nothing of the run's own role: it is not the success
        // after which a 403 is one user's rather than the run's stop.
        serde_json::from_slice::<T>(&bytes).map_err(|e| ApiError::BadResponse {
            status,
            message: e.to_string(),
        })
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let (status, bytes) = self
            .exchange(
                method,
                url,
                query,
                body,
                Purpose::Enrollment,
                &mut Trace::default(),
            )
            .await?;
        self.parse(status, &bytes)
    }

    /// One request with its turn under the rate limit and a token; a 401 renews the token and
    /// tries once more. `Ok` only for a 2xx, with its body.
    async fn exchange<B: Serialize>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        purpose: Purpose,
        trace: &mut Trace,
    ) -> Result<(u16, bytes::Bytes), ApiError> {
        for renewed in [false, true] {
            if self.stop.is_requested() {
                return Err(ApiError::Stopped);
            }
            // The turn first, then the token: a token taken before a long wait in the queue
            // could expire before it is used. The wait ends at once when the run stops.
            let turn = self.throttle.admit().await?;
            if self.stop.is_requested() {
                return Err(ApiError::Stopped);
            }
            let token = self.token().await?;
            let transaction = self.transactions.next(trace, renewed);
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose())
                .header(trace::HEADER, &transaction);
            if !query.is_empty() {
                request = request.query(query);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            self.count_sent(&method);
            let answer = {
                let _timing = self.stats.latency.start();
                self.send(request, &method).await
            };
            let (status, retry_after, bytes) = trace::logged(answer, &method, &transaction)?;
            if status == 401 && !renewed {
                turn.answered(status, retry_after);
                self.tokens.invalidate(&token).await;
                continue;
            }
            let body = bytes.as_deref().unwrap_or_default();
            if !(200..300).contains(&status) {
                // An error body past its ceiling is left unread: the status says enough.
                let error = self.judge_error(status, retry_after, body, purpose);
                // A used-up quota is no rate to slow down to: its Retry-After, if any, could
                // hold every request back for hours while the run is stopping. Unanswered,
                // the turn counts as lost.
                if !matches!(error.cause(), Cause::Quota { .. }) {
                    turn.answered(status, retry_after);
                }
                return Err(error);
            }
            turn.answered(status, retry_after);
            return match bytes {
                Some(bytes) => Ok((status, bytes)),
                None => {
                    let error = ApiError::TooLarge {
                        status,
                        what: format!("over {}", size_text(body::API_BODY_CEILING as u64)),
                    };
                    self.record_failure(FailureClass::Server, &error);
                    Err(error)
                }
            };
        }
        unreachable!("the loop returns on its second pass")
    }

    /// A token for a request: without one the request is never sent, so a token endpoint's
    /// failure is the request's `Connect` failure (a POST's retry needs no look first).
    async fn token(&self) -> Result<Arc<Secret>, ApiError> {
        self.token_as_answered().await.map_err(|error| match error {
            ApiError::Stopped | ApiError::Connect(_) | ApiError::Untrusted { .. } => error,
            other => ApiError::Connect(format!("no token: {other}")),
        })
    }

    /// A token, or the token endpoint's failure as it came.
    async fn token_as_answered(&self) -> Result<Arc<Secret>, ApiError> {
        // The first token may be slow to come (a silent endpoint): a stop does not wait for it.
        let fetched = tokio::select! {
            fetched = self.tokens.bearer() => fetched,
            () = self.stop.requested() => return Err(ApiError::Stopped),
        };
        match fetched {
            Ok(token) => Ok(token),
            Err(TokenFailure::Refused(message)) => {
                self.stop.request(StopReason::CredentialsRefused(message));
                Err(ApiError::Stopped)
            }
            Err(TokenFailure::Unusable(message)) => {
                self.stop.request(StopReason::TokenUnusable(message));
                Err(ApiError::Stopped)
            }
            Err(TokenFailure::Unavailable(error)) => {
                self.record_failure(FailureClass::Network, &error);
                Err(error)
            }
        }
    }

    fn count_sent(&self, method: &Method) {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let counter = if *method == Method::POST {
            &self.stats.posts
        } else if *method == Method::PUT {
            &self.stats.puts
        } else if *method == Method::DELETE {
            &self.stats.deletes
        } else {
            &self.stats.gets
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends and reads the answer: status, `Retry-After`, and the body, or `None` when the
    /// body is past its ceiling. After a stop, an answer gets [`IN_FLIGHT_GRACE`] to come.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &Method,
    ) -> Result<(u16, Option<std::time::Duration>, Option<bytes::Bytes>), ApiError> {
        let stopped_and_waited = async {
            self.stop.requested().await;
            tokio::time::sleep(IN_FLIGHT_GRACE).await;
        };
        tokio::select! {
            answer = self.answer(request) => answer,
            () = stopped_and_waited => Err(if *method == Method::POST {
                ApiError::Transport("the run stopped before PingOne answered".into())
            } else {
                ApiError::Stopped
            }),
        }
    }

    async fn answer(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Option<std::time::Duration>, Option<bytes::Bytes>), ApiError> {
        // A server certificate that stops being trusted mid-run (the tests), as rustls
        // would report it.
        failpoint!("certificate-check", |_| {
            let error = ApiError::Untrusted {
                host: self.api_url.host_str().unwrap_or("the server").to_string(),
                problem: "failpoint certificate-check: no longer trusted".into(),
            };
            self.record_failure(FailureClass::Network, &error);
            Err(error)
        });
        let response = request.send().await.map_err(|e| {
            let error = ApiError::from_reqwest(e);
            self.record_failure(FailureClass::Network, &error);
            error
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(error::parse_retry_after);
        match body::read(response, body::API_BODY_CEILING).await {
            Ok(bytes) => Ok((status, retry_after, Some(bytes))),
            Err(body::BodyError::TooLarge) => Ok((status, retry_after, None)),
            Err(body::BodyError::Failed(e)) => {
                let error = ApiError::Transport(format!(
                    "HTTP {status}, then the connection failed: {}",
                    e.without_url()
                ));
                self.record_failure(FailureClass::Network, &error);
                Err(error)
            }
        }
    }

    /// A 2xx body as `T`; an unreadable one is a failure PingOne may have acted on.
    fn parse<T: DeserializeOwned>(&self, status: u16, bytes: &[u8]) -> Result<T, ApiError> {
        match serde_json::from_slice::<T>(bytes) {
            Ok(value) => {
                self.record_success();
                Ok(value)
            }
            Err(e) => {
                let error = ApiError::BadResponse {
                    status,
                    message: e.to_string(),
                };
                self.record_failure(FailureClass::Server, &error);
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error::quota_message;

    #[test]
    fn the_quota_stop_names_the_reset_as_a_date_or_as_the_text_sent() {
        let dated = quota_message(Some("2026-12-01T00:00:00.000Z"));
        assert!(dated.contains("resets at 2026-12-01T00:00:00Z"), "{dated}");
        let odd = quota_message(Some("tomorrow-ish"));
        assert!(
            odd.contains("\"tomorrow-ish\" (as PingOne sent it)"),
            "{odd}"
        );
        let none = quota_message(None);
        assert!(none.contains("reset time was not given"), "{none}");
        for message in [dated, odd, none] {
            assert!(message.contains("--resume"), "{message}");
        }
    }
}
