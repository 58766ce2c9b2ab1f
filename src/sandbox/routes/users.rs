//! User look-up (`GET /v1/environments/{env}/users?filter=username eq "..."`): the one filter
//! the tool sends, answered from the sandbox's directory (each user with its MFA switch,
//! `enabled` and `account.status`; a late user missing until asked for enough times), paged
//! as PingOne pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::error;
use super::paging::one_page;
use super::wrong_environment;
use crate::sandbox::json::{User, UserAccount, UserPage, UsersEmbedded};
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
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "This sandbox answers only username filters.",
            vec![],
        );
    };
    let Some(username) = parse_username_filter(filter) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_FILTER",
            "The filter could not be parsed; expected username eq \"…\".",
            vec![],
        );
    };
    // Noted by the username asked for: a late user's look-ups are counted before it exists.
    shared.note_user_request(&username, "GET users");
    let users: Vec<User> = shared
        .find_users(&username)
        .into_iter()
        .map(|(id, username)| {
            let (enabled, locked) = shared.options.directory.standing(&id);
            let status = if locked { "LOCKED" } else { "OK" };
            User {
                mfa_enabled: shared.mfa_enabled(&id),
                enabled,
                account: UserAccount {
                    status: status.into(),
                },
                id,
                username,
            }
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
