//! Following a paged list's `_links.next`, within bounds. A next link is followed only on the
//! API's own origin and under this environment's path (the request carries the token), never
//! to a page already read (a link to itself or back would loop for ever), and one list stops
//! at [`MAX_PAGES`] pages and [`MAX_LIST_ITEMS`] items: a user has at most 15 counted devices
//! and a username names one user, so a longer list is a server's fault, not data.
//!
//! A list read to its end is also checked against the `count` its pages give (the items the
//! list matched in all): pages that changed while they were read (a device deleted or added
//! between page 1 and page 2 shifts the rest, so one is read twice or never) hold another
//! number of items, or give another `count` from one page to the next. Such a read is not
//! trusted; the list is read again from its first page, at most [`LIST_READS`] times in all.

use std::collections::HashSet;

use reqwest::Url;

use super::error::ApiError;
use super::wire::PageLinks;

/// Pages read for one list at most.
pub(crate) const MAX_PAGES: usize = 100;
/// Items kept for one list at most.
pub(crate) const MAX_LIST_ITEMS: usize = 1000;
/// Whole reads of one list whose pages keep changing, before the read fails (retryably).
pub(crate) const LIST_READS: usize = 3;

/// One list being read: where its pages may be, and what has been read of it.
pub(crate) struct Paging {
    origin: url::Origin,
    /// `/v1/environments/{envID}/`: every page of every list of the run is under it.
    environment_path: String,
    visited: HashSet<String>,
    items: usize,
    /// The `count` the first page that gave one gave.
    count: Option<u64>,
    /// A page gave another `count` than an earlier page: the list changed while read.
    count_changed: Option<(u64, u64)>,
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
            count: None,
            count_changed: None,
        }
    }

    /// Counts a page's items against [`MAX_LIST_ITEMS`], and notes the list's `count` the
    /// page gave (`None`: it gave none, which is no disagreement).
    pub(crate) fn page(&mut self, items: usize, count: Option<u64>) -> Result<(), ApiError> {
        match (self.count, count) {
            (Some(before), Some(now)) if before != now && self.count_changed.is_none() => {
                self.count_changed = Some((before, now));
            }
            (None, Some(_)) => self.count = count,
            _ => {}
        }
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

    /// Once the last page is read: why the pages read are not the list, when they disagree
    /// with the `count` they gave.
    pub(crate) fn disagreement(&self) -> Option<String> {
        if let Some((before, now)) = self.count_changed {
            return Some(format!(
                "its count changed from {before} to {now} between pages"
            ));
        }
        let count = self.count?;
        (count != self.items as u64).then(|| {
            format!(
                "its pages held {} items but its count said {count}",
                self.items
            )
        })
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
        assert!(paging.page(MAX_LIST_ITEMS, None).is_ok());
        assert!(paging.page(1, None).is_err());
    }

    #[test]
    fn pages_that_disagree_with_the_lists_count_are_not_the_list() {
        let read = |pages: &[(usize, Option<u64>)]| {
            let (mut paging, _) = paging("https://api.pingone.com/v1/environments/e1/users");
            for (items, count) in pages {
                paging.page(*items, *count).unwrap();
            }
            paging.disagreement()
        };
        assert_eq!(read(&[(1, Some(2)), (1, Some(2))]), None);
        assert_eq!(
            read(&[(1, None), (1, None)]),
            None,
            "no count, nothing to check"
        );
        assert_eq!(read(&[(1, None), (1, Some(2))]), None);
        assert_eq!(read(&[(0, Some(0))]), None);
        let shifted = read(&[(1, Some(2)), (0, Some(1))]).unwrap();
        assert!(shifted.contains("changed from 2 to 1"), "{shifted}");
        // A device added before page 2 shifts page 1's last onto page 2: three read, count 3.
        let added = read(&[(1, Some(2)), (1, Some(3)), (1, Some(3))]).unwrap();
        assert!(added.contains("changed from 2 to 3"), "{added}");
        let short = read(&[(1, Some(2)), (0, None)]).unwrap();
        assert!(
            short.contains("held 1 items but its count said 2"),
            "{short}"
        );
    }
}
