//! The token endpoint (`POST /{env}/as/token`, in the environment the worker app lives in):
//! OAuth 2.0 client credentials, with the client authenticated by the one method the app is
//! configured for (Basic, form post, or an RFC 7523 JWT assertion signed by the secret or the
//! app's key), answering OAuth's error bodies.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use uuid::Uuid;

use crate::config::TokenAuthMethod;
use crate::sandbox::json::{TokenError, TokenResponse};
use crate::sandbox::state::{lock, Counters};
use crate::sandbox::Shared;

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let store = &shared.store;
    Counters::bump(&store.counters.token_requests);
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let oauth_error = |status: StatusCode, code: &str, description: &str| {
        (
            status,
            Json(TokenError {
                error: code.into(),
                error_description: description.into(),
            }),
        )
            .into_response()
    };
    // The app lives in one environment; its token endpoint is there and nowhere else.
    if env != shared.worker_environment() {
        return oauth_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Unknown environment.");
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only client_credentials is supported here.",
        );
    }
    if let Err(why) = authenticate(&shared, &headers, &form) {
        Counters::bump(&store.counters.token_refusals);
        tracing::debug!("sandbox refused a token request: {why}");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Request denied: Invalid client credentials.",
        );
    }
    let value = format!("sandbox-{}", Uuid::new_v4().simple());
    let ttl = shared.options.token_ttl;
    lock(&store.tokens).insert(value.clone(), tokio::time::Instant::now() + ttl);
    Json(TokenResponse {
        access_token: value,
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs().max(1),
    })
    .into_response()
}

/// RFC 7523's `client_assertion_type` for a JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Checks the client's credentials by the one method the app is configured for, as PingOne
/// enforces it: another method, even with the right secret, is refused.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), &'static str> {
    let options = &shared.options;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(decode_basic);
    let sent = |name: &str| form.get(name).map(String::as_str);
    let secret = options.client_secret.expose();
    match options.token_auth {
        TokenAuthMethod::Basic => match basic {
            Some((id, s)) if id == options.client_id && s == secret => Ok(()),
            Some(_) => Err("wrong basic credentials"),
            None => Err("basic authentication expected"),
        },
        TokenAuthMethod::Post if basic.is_some() => Err("post authentication expected"),
        TokenAuthMethod::Post => match (sent("client_id"), sent("client_secret")) {
            (Some(id), Some(s)) if id == options.client_id && s == secret => Ok(()),
            _ => Err("wrong or missing client_id/client_secret"),
        },
        TokenAuthMethod::ClientSecretJwt | TokenAuthMethod::PrivateKeyJwt => {
            if basic.is_some() || sent("client_secret").is_some() {
                return Err("a secret was sent where a client assertion is required");
            }
            if sent("client_assertion_type") != Some(JWT_BEARER) {
                return Err("client_assertion_type is not jwt-bearer");
            }
            verify_assertion(shared, sent("client_assertion").unwrap_or(""))
        }
    }
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    jti: String,
}

/// An RFC 7523 client assertion: signed by the app's secret or key, for this token endpoint,
/// issued by and about the client, not expired, and never seen before.
fn verify_assertion(shared: &Shared, assertion: &str) -> Result<(), &'static str> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let options = &shared.options;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "not a JWT")?;
    let key = match (options.token_auth, header.alg) {
        (TokenAuthMethod::ClientSecretJwt, Algorithm::HS256) => {
            DecodingKey::from_secret(options.client_secret.expose().as_bytes())
        }
        (TokenAuthMethod::PrivateKeyJwt, Algorithm::RS256) => {
            let pem = options
                .client_public_key
                .as_deref()
                .ok_or("no public key")?;
            DecodingKey::from_rsa_pem(pem).map_err(|_| "the public key is not RSA")?
        }
        (TokenAuthMethod::PrivateKeyJwt, Algorithm::ES256) => {
            let pem = options
                .client_public_key
                .as_deref()
                .ok_or("no public key")?;
            DecodingKey::from_ec_pem(pem).map_err(|_| "the public key is not EC")?
        }
        _ => return Err("an algorithm the method does not allow"),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&shared.token_url]);
    validation.set_issuer(&[&options.client_id]);
    validation.sub = Some(options.client_id.clone());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|_| "the assertion does not verify (signature, aud, iss, sub or exp)")?;
    if !lock(&shared.store.assertion_ids).insert(data.claims.jti) {
        return Err("a jti seen before: a replayed assertion");
    }
    Ok(())
}

/// Decodes HTTP Basic credentials: base64 of `id:secret`.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_decode() {
        // base64("client:p@ss:x"): the secret may itself hold a colon.
        assert_eq!(
            decode_basic("Y2xpZW50OnBAc3M6eA=="),
            Some(("client".to_string(), "p@ss:x".to_string()))
        );
    }
}
