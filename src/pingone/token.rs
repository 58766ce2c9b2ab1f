//! Client-credentials tokens for the worker app: fetched once, shared by every request,
//! renewed before they expire and once after a 401. Neither the secret nor a token ever
//! reaches a message: errors carry only the status and PingOne's error code.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::body::{self, BodyError, TOKEN_BODY_CEILING};
use super::error::ApiError;
use super::wire::{TokenError, TokenResponse};
use crate::bounded::size_text;
use crate::config::{ClientAuth, Connection, Secret};

/// RFC 7523's `client_assertion_type` for a JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is valid: minutes, not the token's hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

#[derive(serde::Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Renew this long before expiry at most; short-lived tokens renew at 90% of their life.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(60);
/// The lifetime taken when the endpoint gives none (PingOne's default).
const DEFAULT_LIFETIME_S: u64 = 3600;
/// The longest lifetime believed: `expires_in` is the server's number, and a token kept for
/// ever would never be renewed (9.2e18 seconds once overflowed the clock).
const MAX_LIFETIME_S: u64 = 24 * 3600;

/// How long after it was asked for a token is renewed, for any `expires_in` a server sends.
fn renew_after(expires_in: Option<u64>) -> Duration {
    let seconds = expires_in
        .unwrap_or(DEFAULT_LIFETIME_S)
        .clamp(1, MAX_LIFETIME_S);
    let lifetime = Duration::from_secs(seconds);
    lifetime - (lifetime / 10).min(MAX_RENEW_MARGIN)
}

/// Why no token could be had.
#[derive(Debug, Clone)]
pub(crate) enum TokenFailure {
    /// The endpoint answered and said no: retrying cannot help.
    Refused(String),
    /// The endpoint could not be reached or failed: worth retrying.
    Unavailable(ApiError),
    /// The endpoint answered with what no retry can make usable (a body past its ceiling).
    Unusable(String),
}

#[derive(Clone)]
struct Token {
    value: Arc<Secret>,
    renew_at: Instant,
}

pub(crate) struct TokenSource {
    http: reqwest::Client,
    url: String,
    auth_url_for_messages: String,
    /// The worker app's environment, where the token comes from.
    worker_environment_id: String,
    client_id: String,
    auth: ClientAuth,
    current: Mutex<Option<Token>>,
    requested: std::sync::atomic::AtomicU64,
    /// Successes in a row whose body was no token (an HTML login page, a proxy's notice).
    not_tokens: std::sync::atomic::AtomicU32,
    /// A 429 or 503 with `Retry-After` from the token endpoint: no token request before then.
    not_before: std::sync::Mutex<Option<Instant>>,
}

impl TokenSource {
    pub(crate) fn new(http: reqwest::Client, connection: &Connection) -> Self {
        Self {
            http,
            url: connection.token_url(),
            // Where the token endpoint is, without a query a URL could carry.
            auth_url_for_messages: format!(
                "{}{}",
                connection.auth_url.origin().ascii_serialization(),
                connection.auth_url.path()
            ),
            worker_environment_id: connection.worker_environment_id.clone(),
            client_id: connection.client_id.clone(),
            auth: connection.auth.clone(),
            current: Mutex::new(None),
            requested: Default::default(),
            not_tokens: Default::default(),
            not_before: Default::default(),
        }
    }

    /// How many token requests this run has sent (or tried to), whatever their answer.
    pub(crate) fn requested(&self) -> u64 {
        self.requested.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A token that is good for a while yet; fetches one when needed. One fetch at a time:
    /// a hundred requests finding the token stale make one call, not a hundred.
    pub(crate) async fn bearer(&self) -> Result<Arc<Secret>, TokenFailure> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            if Instant::now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        // A renewal that fails mid-run (the tests: no answer, or refused credentials).
        crate::failpoints::failpoint!("token-renewal", current.is_some(), |how: Option<String>| {
            Err(failed_renewal(how.as_deref()))
        });
        // Held under the lock: every request needing a token waits with this one. A stop
        // does not wait for it (`Client::token`).
        let not_before = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(when) = not_before {
            tokio::time::sleep_until(when).await;
        }
        let token = self.fetch().await?;
        let value = token.value.clone();
        *current = Some(token);
        Ok(value)
    }

    /// Forgets `stale` after a 401, unless another request already replaced it.
    pub(crate) async fn invalidate(&self, stale: &Arc<Secret>) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, stale))
        {
            *current = None;
        }
    }

    /// The token request, authenticated as the app is configured.
    fn request(&self) -> Result<reqwest::RequestBuilder, TokenFailure> {
        let request = self.http.post(&self.url);
        let grant = ("grant_type", "client_credentials");
        let (key, algorithm, key_id) = match &self.auth {
            ClientAuth::Basic(secret) => {
                return Ok(request
                    .basic_auth(&self.client_id, Some(secret.expose()))
                    .form(&[grant]))
            }
            ClientAuth::Post(secret) => {
                return Ok(request.form(&[
                    grant,
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", secret.expose()),
                ]))
            }
            ClientAuth::ClientSecretJwt(secret) => (
                jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes()),
                jsonwebtoken::Algorithm::HS256,
                None,
            ),
            ClientAuth::PrivateKeyJwt(private) => (
                (*private.key).clone(),
                private.algorithm,
                private.key_id.clone(),
            ),
        };
        let assertion = self.assertion(&key, algorithm, key_id)?;
        Ok(request.form(&[
            grant,
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.expose()),
        ]))
    }

    /// An RFC 7523 client assertion: `iss` = `sub` = the client ID, `aud` = the token
    /// endpoint, a few minutes to live, and a fresh `jti`, so a captured one cannot be replayed.
    fn assertion(
        &self,
        key: &jsonwebtoken::EncodingKey,
        algorithm: jsonwebtoken::Algorithm,
        key_id: Option<String>,
    ) -> Result<Secret, TokenFailure> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Assertion {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: &self.url,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = jsonwebtoken::Header::new(algorithm);
        header.kid = key_id;
        jsonwebtoken::encode(&header, &claims, key)
            .map(Secret::new)
            // The error names the kind of failure, never the key.
            .map_err(|e| {
                TokenFailure::Refused(format!(
                    "cannot sign the client assertion ({e:?}); check private_key_file"
                ))
            })
    }

    async fn fetch(&self) -> Result<Token, TokenFailure> {
        let request = self.request()?;
        let started = Instant::now();
        self.requested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|e| TokenFailure::Unavailable(ApiError::from_reqwest(e)))?;
        let status = response.status().as_u16();
        let is_success = response.status().is_success();
        if response.status().is_redirection() {
            return Err(self.redirected(status, response.headers()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(super::error::parse_retry_after)
            .filter(|_| matches!(status, 429 | 503));
        *self.not_before.lock().unwrap_or_else(|e| e.into_inner()) =
            retry_after.map(|wait| Instant::now() + wait);
        let body = match body::read(response, TOKEN_BODY_CEILING).await {
            Ok(bytes) => Some(bytes),
            Err(BodyError::TooLarge) if is_success => {
                return Err(TokenFailure::Unusable(format!(
                    "the token endpoint at {} answered HTTP {status} with more than {} (a token answer is a kilobyte or two); check auth_url and any proxy in between, then run again with --resume",
                    self.auth_url_for_messages,
                    size_text(TOKEN_BODY_CEILING as u64)
                )))
            }
            // An error's body past the ceiling is left unread: the status says enough.
            Err(BodyError::TooLarge) => None,
            Err(BodyError::Failed(e)) => {
                return Err(TokenFailure::Unavailable(ApiError::Transport(format!(
                    "HTTP {status}, then the token endpoint's answer failed: {}",
                    e.without_url()
                ))))
            }
        };
        let body = body.unwrap_or_default();
        if is_success {
            // serde's message could quote a field; its position is enough.
            let answer: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| self.not_a_token(status, &e, content_type.as_deref()))?;
            self.not_tokens
                .store(0, std::sync::atomic::Ordering::Relaxed);
            let renew_in = renew_after(answer.expires_in);
            tracing::debug!(renew_in_s = renew_in.as_secs(), "access token fetched");
            return Ok(Token {
                value: Arc::new(Secret::new(answer.access_token)),
                renew_at: started.checked_add(renew_in).unwrap_or(started),
            });
        }
        let error: TokenError = serde_json::from_slice(&body).unwrap_or_default();
        let code = error.error.unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            400 | 401 | 403 | 404 => Err(TokenFailure::Refused(format!(
                "PingOne refused the client credentials at {} ({status} {code}); check client_id, \
                 {secret_var} (or private_key_file), token_auth_method ({method}: it must be the \
                 app's configured method), the worker app's environment ({env}: \
                 worker_environment_id, else environment_id) and region: the environment \
                 must live in the region the auth URL points to",
                self.auth_url_for_messages,
                secret_var = crate::config::ENV_CLIENT_SECRET,
                method = self.auth.method().as_str(),
                env = self.worker_environment_id,
            ))),
            _ => Err(TokenFailure::Unavailable(ApiError::from_status(
                status,
                None,
                retry_after,
            ))),
        }
    }
}

impl TokenSource {
    /// A success whose body is no token: worth a few tries (a proxy's page in between may
    /// pass), then the run stops: every request would get the same page.
    fn not_a_token(
        &self,
        status: u16,
        error: &serde_json::Error,
        content_type: Option<&str>,
    ) -> TokenFailure {
        let seen = self
            .not_tokens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let what = format!(
            "the token endpoint at {} answered HTTP {status} with {} that is not a token (line {}, column {})",
            self.auth_url_for_messages,
            content_type.map_or("a body".to_string(), |t| format!("a {t:?} body")),
            error.line(),
            error.column()
        );
        if seen < NOT_A_TOKEN_TRIES {
            return TokenFailure::Unavailable(ApiError::BadResponse {
                status,
                message: what,
            });
        }
        TokenFailure::Unusable(format!(
            "{what}, {seen} times in a row; check auth_url (it must be PingOne's auth host, e.g. https://auth.pingone.com) and any proxy or login page in between, then run again with --resume"
        ))
    }

    /// A redirect: PingOne's token endpoint never sends one, and following it would send the
    /// credentials elsewhere. The stop names where it pointed (its host only: a URL may
    /// carry more than a person needs to see).
    fn redirected(&self, status: u16, headers: &reqwest::header::HeaderMap) -> TokenFailure {
        let to = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| reqwest::Url::parse(&self.url).ok()?.join(l).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .map_or("somewhere it did not say".to_string(), |h| {
                format!("host {h}")
            });
        TokenFailure::Unusable(format!(
            "the token endpoint at {} answered HTTP {status}, a redirect to {to}; PingOne's token endpoint never redirects, and the credentials are not sent after one: check auth_url (the region's auth host, e.g. https://auth.pingone.com, with no path) and any proxy in between, then run again with --resume",
            self.auth_url_for_messages
        ))
    }
}

/// Successes in a row that are not tokens before the run stops (`TOKEN_UNUSABLE`).
const NOT_A_TOKEN_TRIES: u32 = 3;

/// What the `token-renewal` failpoint makes of a renewal: `refused`, or no answer.
#[cfg(feature = "failpoints")]
fn failed_renewal(how: Option<&str>) -> TokenFailure {
    match how {
        Some("refused") => TokenFailure::Refused(
            "failpoint token-renewal: PingOne refused the client credentials at a renewal".into(),
        ),
        _ => TokenFailure::Unavailable(ApiError::Transport(
            "failpoint token-renewal: the renewal got no answer".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_lifetime_of_9_2e18_seconds_is_a_day() {
        let day = Duration::from_secs(MAX_LIFETIME_S);
        assert_eq!(
            renew_after(Some(9_200_000_000_000_000_000)),
            day - MAX_RENEW_MARGIN
        );
        assert_eq!(renew_after(Some(u64::MAX)), day - MAX_RENEW_MARGIN);
        assert_eq!(renew_after(Some(0)), Duration::from_millis(900));
        assert_eq!(renew_after(None), Duration::from_secs(3540));
    }

    proptest! {
        /// Any `expires_in` a server sends, as any JSON number or text, gives a renewal time
        /// between 0.9 s and a day, and a clock that does not overflow.
        #[test]
        fn any_expires_in_gives_a_sane_renewal(
            number in prop_oneof![
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                    .prop_map(|f| format!("{f:e}")),
                any::<u64>().prop_map(|n| format!("\"{n}\"")),
                any::<u64>().prop_map(|n| format!("{n}{n}{n}")),
                Just("null".to_string()),
                Just("[]".to_string()),
            ]
        ) {
            let json = format!("{{\"access_token\":\"t\",\"expires_in\":{number}}}");
            let answer: TokenResponse = serde_json::from_str(&json).map_err(|e| {
                TestCaseError::fail(format!("{json}: {e}"))
            })?;
            let renew = renew_after(answer.expires_in);
            prop_assert!(renew >= Duration::from_millis(900) && renew <= Duration::from_secs(MAX_LIFETIME_S));
            let _ = Instant::now().checked_add(renew).expect("a day fits any clock");
        }
    }
}
