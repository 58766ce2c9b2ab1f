//! What every API request meets before its handler (not the token endpoint): the request
//! counters and the in-flight gauge, then PingOne's order of refusals: a storm of 429s or the
//! rate limit, authentication, the license's quota, the license, the role, then the
//! configured latency and injected failures.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::errors::{
    error, forbidden, license_exceeded, quota_exceeded, rate_limited, storm_refusal, unexpected,
};
use crate::sandbox::state::{lock, Arrival, Counters, SeenRequest, Store};
use crate::sandbox::Shared;

/// Counts a request in progress until dropped, and keeps the most seen at once.
struct InFlight<'a>(&'a Counters);

impl<'a> InFlight<'a> {
    fn enter(counters: &'a Counters) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let now = counters.in_flight.fetch_add(1, Relaxed) + 1;
        counters.max_in_flight.fetch_max(now, Relaxed);
        InFlight(counters)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Keeps the request for the tests: when it came, and its method, path and transaction id.
fn keep(store: &Store, request: &Request, (at, answered_429): (std::time::Duration, bool)) {
    lock(&store.arrivals).push(Arrival {
        at,
        is_post: request.method() == axum::http::Method::POST,
        answered_429,
    });
    lock(&store.seen).push(SeenRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        transaction_id: request
            .headers()
            .get("x-ping-external-transaction-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
}

/// Everything an API request meets before its handler, in PingOne's order: rate limit,
/// authentication, quota, license, role, latency, then injected failures.
pub(super) async fn gatekeeper(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let store = &shared.store;
    let now = tokio::time::Instant::now();
    let is_post = request.method() == axum::http::Method::POST;
    let number = Counters::bump(&store.counters.requests);
    // Held for the whole answer, latency included.
    let _in_flight = InFlight::enter(&store.counters);
    if is_post {
        Counters::bump(&store.counters.posts);
    }
    // A storm refuses everything, and what it refuses does not count against the rate.
    let storm = store.in_storm(shared.options.storm, number, now);
    let rate = shared.options.rate.filter(|r| *r > 0 && !storm);
    let admit = |rate| {
        lock(&store.window)
            .admit(rate, now)
            .err()
            .map(|w| (rate, w))
    };
    let limited = rate.and_then(admit);
    if shared.options.record_arrivals {
        let arrival = (
            now.duration_since(store.started),
            storm || limited.is_some(),
        );
        keep(store, &request, arrival);
    }
    if storm {
        Counters::bump(&store.counters.throttled_429);
        return storm_refusal(&shared.options);
    }
    if let Some((rate, wait)) = limited {
        Counters::bump(&store.counters.throttled_429);
        return rate_limited(&shared.options, rate, wait);
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = lock(&store.tokens)
        .get(token)
        .is_some_and(|expires| *expires > now);
    let revoked = shared.options.reject_valid_tokens > 0
        && store
            .counters
            .unauthorized_401
            .load(std::sync::atomic::Ordering::Relaxed)
            < shared.options.reject_valid_tokens;
    if !valid || revoked {
        Counters::bump(&store.counters.unauthorized_401);
        return error(
            StatusCode::UNAUTHORIZED,
            "ACCESS_FAILED",
            "The request could not be completed. The access token is missing, invalid or expired.",
            vec![],
        );
    }
    if let Some(refusal) = refuse_authenticated(&shared, now) {
        return refusal;
    }
    if !shared.options.latency.is_zero() {
        tokio::time::sleep(shared.options.latency).await;
    }
    if shared.roll(shared.options.fail_rate) {
        Counters::bump(&store.counters.injected_failures);
        return unexpected(match fastrand::u8(0..3) {
            0 => StatusCode::INTERNAL_SERVER_ERROR,
            1 => StatusCode::BAD_GATEWAY,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        });
    }
    next.run(request).await
}

/// What an authenticated request may still meet before its handler: the license's quota,
/// the license itself, and the role.
fn refuse_authenticated(shared: &Shared, now: tokio::time::Instant) -> Option<Response> {
    let options = &shared.options;
    if let Some(quota) = options.quota {
        let admitted = lock(&shared.store.quota).admit(quota, options.quota_period, now);
        if let Err(resets_at) = admitted {
            Counters::bump(&shared.store.counters.quota_429);
            return Some(quota_exceeded(quota, resets_at));
        }
    }
    if options.license_exceeded {
        return Some(license_exceeded());
    }
    options.no_role.then(forbidden)
}
