//! Following a paged list's `_links.next`, within bounds. A next link is followed only on the
//! API's own origin and under this environment's path (the request carries the token), never
//! to a page already read (a link to itself or back would loop for ever), and one list stops
//! at [`MAX_PAGES`] pages and [`MAX_LIST_ITEMS`] items: a user has at most 15 counted devices
//! and a username names one user, so a longer list is a server's fault, not data.

use std::collections::HashSet;

use reqwest::Url;

use super::error::ApiError;
use super::wire::PageLinks;

/// Pages read for one list at most.
pub(crate) const MAX_PAGES: usize = 100;
/// Items kept for one list at most.
pub(crate) const MAX_LIST_ITEMS: usize = 1000;

/// One list being read: where its pages may be, and what has been read of it.
pub(crate) struct Paging {
    origin: url::Origin,
    /// `/v1/environments/{envID}/`: every page of every list of the run is under it.
    environment_path: String,
    visited: HashSet<String>,
    items: usize,
}

impl Paging {
    /// A list whose first page is `first`, in environment `environment_id` of the API at
    /// `api_url`.
    pub(crate) fn new(first: &Url, api_url: &Url, environment_id: &str) -> Paging {
        let api_path = api_url.path().trim_end_matches('/');
        Paging {
            origin: api_url.origin(),
            environment_path: format!("{api_path}/environments/{environment_id}/"),
            visited: HashSet::from([page_key(first)]),
            items: 0,
        }
    }

    /// Counts a page's items against [`MAX_LIST_ITEMS`].
    pub(crate) fn count(&mut self, items: usize) -> Result<(), ApiError> {
        self.items = self.items.saturating_add(items);
        if self.items > MAX_LIST_ITEMS {
            return Err(ApiError::TooLarge {
                status: 200,
                what: format!("a list of more than {MAX_LIST_ITEMS} items"),
            });
        }
        Ok(())
    }

    /// The page after `current`, if the list says there is one and it may be followed.
    pub(crate) fn next(
        &mut self,
        current: &Url,
        links: &PageLinks,
    ) -> Result<Option<Url>, ApiError> {
        let Some(next) = &links.next else {
            return Ok(None);
        };
        let refuse = |why: String| Err(ApiError::BadNextLink(why));
        // A relative link is read against the page that gave it.
        let url = match current.join(&next.href) {
            Ok(url) => url,
            Err(e) => return refuse(format!("_links.next is not a URL ({e})")),
        };
        if url.origin() != self.origin {
            return refuse(format!(
                "_links.next points to another host ({}); not following it with the token",
                url.host_str().unwrap_or("none")
            ));
        }
        if !url.path().starts_with(&self.environment_path) {
            return refuse(format!(
                "_links.next points outside this environment ({}); not following it",
                url.path()
            ));
        }
        if !self.visited.insert(page_key(&url)) {
            return refuse(
                "_links.next points back to a page already read; the list would never end".into(),
            );
        }
        if self.visited.len() > MAX_PAGES {
            return Err(ApiError::TooLarge {
                status: 200,
                what: format!("a list of more than {MAX_PAGES} pages"),
            });
        }
        Ok(Some(url))
    }
}

/// A page as the server would tell it from another: the URL without its fragment, and
/// without an empty query (`devices?` is `devices`).
fn page_key(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    if url.query() == Some("") {
        url.set_query(None);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pingone::wire::Href;

    const API: &str = "https://api.pingone.com/v1";

    fn links(href: &str) -> PageLinks {
        PageLinks {
            next: Some(Href { href: href.into() }),
        }
    }

    fn paging(first: &str) -> (Paging, Url) {
        let first = Url::parse(first).unwrap();
        let api = Url::parse(API).unwrap();
        (Paging::new(&first, &api, "e1"), first)
    }

    #[test]
    fn a_next_link_is_followed_only_forward_and_within_the_environment() {
        let first = "https://api.pingone.com/v1/environments/e1/users/u/devices";
        let refused = |href: &str| {
            let (mut paging, current) = paging(first);
            paging.next(&current, &links(href)).unwrap_err().to_string()
        };
        assert!(refused(first).contains("a page already read"));
        assert!(refused("#again").contains("a page already read"));
        assert!(refused("devices?").contains("a page already read"));
        assert!(refused("https://evil.example/v1/environments/e1/users").contains("another host"));
        assert!(refused("http://api.pingone.com/v1/environments/e1/x").contains("another host"));
        assert!(
            refused("https://api.pingone.com:8443/v1/environments/e1/x").contains("another host")
        );
        assert!(refused("/v1/environments/e2/users/u/devices").contains("outside this environment"));
        assert!(refused("/v1/environments/e1/../e2/users").contains("outside this environment"));
        assert!(refused("/v1/environments/e10/users").contains("outside this environment"));
        assert!(refused("http://[::1").contains("not a URL"));

        let (mut paging, current) = paging(first);
        let second = paging
            .next(&current, &links("devices?cursor=2"))
            .unwrap()
            .unwrap();
        assert_eq!(second.as_str(), format!("{first}?cursor=2"));
        let back = paging.next(&second, &links(first));
        assert!(back.unwrap_err().to_string().contains("already read"));
        assert!(paging
            .next(&second, &PageLinks::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_list_stops_at_its_page_and_item_ceilings() {
        let (mut paging, mut current) = paging("https://api.pingone.com/v1/environments/e1/users");
        let mut pages = 1;
        let error = loop {
            match paging.next(&current, &links(&format!("users?page={pages}"))) {
                Ok(Some(next)) => {
                    current = next;
                    pages += 1;
                }
                Ok(None) => unreachable!("every page links on"),
                Err(e) => break e,
            }
        };
        assert_eq!(pages, MAX_PAGES);
        assert!(error.to_string().contains("more than 100 pages"), "{error}");
        assert!(paging.count(MAX_LIST_ITEMS).is_ok());
        assert!(paging.count(1).is_err());
    }
}
