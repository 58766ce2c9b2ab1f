//! Paging as PingOne pages a list: `limit` and `cursor` in, `_links.next` out. Shared by every
//! list the sandbox serves.

use std::collections::HashMap;

use axum::response::Response;

use super::errors::invalid;
use crate::sandbox::json::{Href, Links};
use crate::sandbox::Shared;

/// One page of a list, as PingOne pages them: `limit` (the client's, at most `--page-size`)
/// items from `cursor`, and `_links.next` while more remain. Without either, one page. Also
/// the list's `count`: every item it holds, on every page, as PingOne counts.
pub(super) fn one_page<T>(
    shared: &Shared,
    items: Vec<T>,
    query: &HashMap<String, String>,
    list_url: &str,
    extra: &[(&str, &str)],
) -> Result<(Vec<T>, Links, usize), Box<Response>> {
    let number = |name: &str| -> Result<Option<usize>, Box<Response>> {
        query
            .get(name)
            .map(|v| v.parse::<usize>())
            .transpose()
            .map_err(|_| {
                let message = format!("{name} is not a number.");
                Box::new(invalid(name, "INVALID_VALUE", &message))
            })
    };
    let start = number("cursor")?.unwrap_or(0);
    // `--page-size` caps what the client asks, as PingOne caps `limit` at 1,000: a test can
    // make a look-up's answer span pages whatever `limit` it sent.
    let asked = number("limit")?;
    let limit = match (asked, shared.options.page_size) {
        (Some(asked), Some(most)) => asked.min(most),
        (asked, most) => asked.or(most).unwrap_or(usize::MAX),
    }
    .max(1);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let end = start.saturating_add(limit);
    let next = (end < total).then(|| {
        let mut pairs: Vec<(&str, String)> =
            extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        pairs.push(("limit", limit.to_string()));
        pairs.push(("cursor", end.to_string()));
        let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
        Href {
            href: format!("{list_url}?{encoded}"),
        }
    });
    Ok((
        page,
        Links {
            self_link: None,
            next,
        },
        total,
    ))
}
