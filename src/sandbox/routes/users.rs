//! User look-up (`GET /v1/environments/{env}/users?filter=username eq "..."`): the one filter
//! the tool sends, answered from the sandbox's directory (each user with its MFA switch),
//! paged as PingOne pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::error;
use super::paging::one_page;
use super::wrong_environment;
use crate::sandbox::json::{ErrorDetail, User, UserPage, UsersEmbedded};
use crate::sandbox::Shared;

pub(super) async fn find_users(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    let Some(filter) = query.get("filter") else {
        return filter_refused(
            "REQUIRED_VALUE",
            "This sandbox answers only username filters.",
        );
    };
    let Some(username) = parse_username_filter(filter) else {
        return filter_refused(
            "INVALID_FILTER",
            "The filter could not be parsed; expected username eq \"…\".",
        );
    };
    let users: Vec<User> = shared
        .options
        .directory
        .find(&username)
        .into_iter()
        .map(|(id, username)| User {
            mfa_enabled: shared.mfa_enabled(&id),
            id,
            username,
        })
        .collect();
    let list = format!("{}/environments/{env}/users", shared.api_base);
    let extra = [("filter", filter.as_str())];
    let (users, links, count) = match one_page(&shared, users, &query, &list, &extra) {
        Ok(page) => page,
        Err(refusal) => return *refusal,
    };
    let size = users.len();
    Json(UserPage {
        links,
        embedded: UsersEmbedded { users },
        count,
        size,
    })
    .into_response()
}

/// `username eq "j\"doe"` -> `j"doe`
fn parse_username_filter(filter: &str) -> Option<String> {
    let rest = filter.trim().strip_prefix("username")?.trim_start();
    let rest = rest.strip_prefix("eq")?.trim_start();
    let inner = rest.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The 400 for a filter the sandbox cannot answer: the detail's code and why, targeted at
/// the `filter` parameter.
fn filter_refused(code: &str, message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "The request could not be completed. The filter is not valid.",
        vec![ErrorDetail {
            code: code.into(),
            target: Some("filter".into()),
            message: message.into(),
            inner_error: None,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_filter_round_trips_escapes() {
        assert_eq!(
            parse_username_filter("username eq \"jdoe\"").as_deref(),
            Some("jdoe")
        );
        assert_eq!(
            parse_username_filter(r#"username eq "j\"d\\oe""#).as_deref(),
            Some("j\"d\\oe")
        );
        assert_eq!(parse_username_filter("email eq \"x\""), None);
    }
}
