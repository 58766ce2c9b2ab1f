//! The users list (`GET /v1/environments/{env}/users?filter=…`): the filters the tool sends,
//! `username eq "…"` and `id eq "…"` expressions joined by `or` (PingOne's SCIM filter
//! language), answered from the sandbox's directory (each user with its MFA switch, `enabled`
//! and `account.status`; a late user missing until asked for enough times), paged as PingOne
//! pages. A request target longer than `max_url_bytes` answers 414, as a front end in
//! PingOne's path may, so a client's split of a long look-up can be tested.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{error, unexpected};
use super::paging::one_page;
use super::wrong_environment;
use crate::sandbox::json::{ErrorDetail, User, UserAccount, UserPage, UsersEmbedded};
use crate::sandbox::Shared;

/// One expression of a filter: the attribute and the value it must equal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    Username(String),
    Id(String),
}

pub(super) async fn find_users(
    State(shared): State<Arc<Shared>>,
    Path(env): Path<String>,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = wrong_environment(&shared, &env) {
        return r;
    }
    let counters = &shared.store.counters;
    let read = counters.user_lookups.fetch_add(1, Ordering::Relaxed) + 1;
    if read <= shared.options.fail_first_lookups {
        counters.injected_failures.fetch_add(1, Ordering::Relaxed);
        return unexpected(StatusCode::SERVICE_UNAVAILABLE);
    }
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if shared
        .options
        .max_url_bytes
        .is_some_and(|most| target > most)
    {
        counters
            .user_lookups_too_long
            .fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            &format!("The request target is {target} bytes, longer than this server accepts."),
            vec![],
        );
    }
    let Some(filter) = query.get("filter") else {
        return filter_refused(
            "REQUIRED_VALUE",
            "This sandbox answers only username and id filters.",
        );
    };
    let Some(wanted) = parse_filter(filter) else {
        return filter_refused(
            "INVALID_FILTER",
            "The filter could not be parsed; expected username eq \"…\" or id eq \"…\", joined by or.",
        );
    };
    let users = matching(&shared, &wanted);
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

/// Every user some expression matches, once, in the directory's order of the expressions.
fn matching(shared: &Shared, wanted: &[Wanted]) -> Vec<User> {
    let directory = &shared.options.directory;
    let mut seen = HashSet::new();
    let mut users = Vec::new();
    for expression in wanted {
        let found = match expression {
            Wanted::Username(name) => {
                // Noted by the username asked for: a late user's look-ups count before it exists.
                shared.note_user_request(name, "GET users");
                shared.find_users(name)
            }
            Wanted::Id(id) => directory.find_id(id).into_iter().collect(),
        };
        for (id, username) in found {
            if seen.insert(id.to_lowercase()) {
                let (enabled, locked) = directory.standing(&id);
                let status = if locked { "LOCKED" } else { "OK" };
                users.push(User {
                    mfa_enabled: shared.mfa_enabled(&id),
                    enabled,
                    account: UserAccount {
                        status: status.into(),
                    },
                    id,
                    username,
                });
            }
        }
    }
    users
}

/// `username eq "a" or id eq "b"` -> [Username(a), Id(b)]; `None` for anything else.
fn parse_filter(filter: &str) -> Option<Vec<Wanted>> {
    let mut rest = filter.trim();
    let mut wanted = Vec::new();
    loop {
        let (expression, after) = parse_expression(rest)?;
        wanted.push(expression);
        let after = after.trim_start();
        if after.is_empty() {
            return Some(wanted);
        }
        let (word, after) = after.split_at_checked(2)?;
        if !word.eq_ignore_ascii_case("or") || !after.starts_with(char::is_whitespace) {
            return None;
        }
        rest = after.trim_start();
    }
}

/// One `attribute eq "value"` at the start of `text`, and what follows it.
fn parse_expression(text: &str) -> Option<(Wanted, &str)> {
    let (attribute, rest) = text.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (op, rest) = rest.split_at_checked(2)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    let end = loop {
        match chars.next()? {
            (_, '\\') => value.push(chars.next()?.1),
            (at, '"') => break at + 1,
            (_, c) => value.push(c),
        }
    };
    let wanted = match attribute.to_ascii_lowercase().as_str() {
        "username" => Wanted::Username(value),
        "id" => Wanted::Id(value),
        _ => return None,
    };
    Some((wanted, &rest[end..]))
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

    fn name(n: &str) -> Wanted {
        Wanted::Username(n.into())
    }

    #[test]
    fn filters_round_trip_escapes_and_join_with_or() {
        assert_eq!(
            parse_filter("username eq \"jdoe\""),
            Some(vec![name("jdoe")])
        );
        assert_eq!(
            parse_filter(r#"username eq "j\"d\\oe""#),
            Some(vec![name("j\"d\\oe")])
        );
        assert_eq!(
            parse_filter(r#"username eq "a or b" OR id eq "x\"" or username eq "c""#),
            Some(vec![name("a or b"), Wanted::Id("x\"".into()), name("c")])
        );
        assert_eq!(parse_filter("email eq \"x\""), None);
        assert_eq!(
            parse_filter("username eq \"a\" and username eq \"b\""),
            None
        );
        assert_eq!(parse_filter("username eq \"a\" or"), None);
        assert_eq!(parse_filter("username eq \"a\" orusername eq \"b\""), None);
        assert_eq!(parse_filter("username eq \"a"), None);
    }
}
