//! Usernames looked up in PingOne, many in one request: each username once per run, however
//! many rows name it; an answer is kept only while the username has rows to come (`later`),
//! so memory stays flat with the number of users.
//!
//! Batches: the run reads rows a little ahead of the rows it resolves and tells this module
//! each username it will ask for ([`UsernameLookups::want`]); the names gather into a batch
//! of at most [`BATCH_NAMES`] names and [`BATCH_FILTER_BYTES`] of URL-encoded filter. A
//! batch is sent when a row first needs one of its names, so batching adds no wait before
//! a user's first device: the batch goes at the moment that row's own look-up would have,
//! holding the names read ahead with it. One GET with `username eq "a" or username eq "b" …`
//! answers the batch, every page read; PingOne refusing it as too long (400 or 414) splits
//! it in halves, each asked again, down to one name, whose refusal is that row's error; any
//! other failure is retried as a read is, then is every name's answer.
//!
//! Sizes, measured and assumed (docs/performance.md): 100 names of 40 characters make a
//! 6.2 KB URL; 8 KB is a common limit on URLs in front ends, hence 6,000 bytes of filter.
//! The answer for 100 users is one page of about 100 users (PingOne's `limit` goes to 1,000),
//! far under the client's ceiling on an answer's bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::guard::lock;
use super::retry::RetryPolicy;
use crate::pingone::filter::filter_bytes;
use crate::pingone::wire::{Standing, User};
use crate::pingone::{ApiError, Client};

/// Names in one look-up at most.
pub(crate) const BATCH_NAMES: usize = 100;
/// URL-encoded filter bytes in one look-up at most (one longer name goes alone).
pub(crate) const BATCH_FILTER_BYTES: usize = 6000;
/// Rows the run reads ahead of the rows it resolves, so batches fill.
pub(crate) const READ_AHEAD_ROWS: usize = 2 * BATCH_NAMES;

/// What PingOne answered when asked for a username's user.
#[derive(Debug, Clone)]
pub(super) enum Resolution {
    /// The user's ID, the MFA switch when the look-up carried it, and the account's standing.
    Found(String, Option<bool>, Standing),
    NotFound,
    Ambiguous(usize),
    Failed(ApiError),
}

/// Names gathered into one look-up, and its answer once sent.
#[derive(Default)]
struct Batch {
    gathering: Mutex<Gathering>,
    /// By case-folded name: each name's answer.
    answers: OnceCell<HashMap<String, Resolution>>,
}

#[derive(Default)]
struct Gathering {
    names: Vec<String>,
    bytes: usize,
    /// Sent (or about to be): no name joins it any more.
    sealed: bool,
}

impl Batch {
    /// Adds the name unless the batch is sealed or full; whether it did.
    fn join(&self, name: &str) -> bool {
        let mut gathering = lock(&self.gathering);
        let bytes = filter_bytes(name);
        let full =
            gathering.names.len() >= BATCH_NAMES || gathering.bytes + bytes > BATCH_FILTER_BYTES;
        if gathering.sealed || (full && !gathering.names.is_empty()) {
            return false;
        }
        gathering.names.push(name.to_string());
        gathering.bytes += bytes;
        true
    }

    /// No name joins from now on: the names to send.
    fn seal(&self) -> Vec<String> {
        let mut gathering = lock(&self.gathering);
        gathering.sealed = true;
        gathering.names.clone()
    }
}

/// One username asked for: its batch until answered, then its answer alone (the batch's
/// other answers go once their own names are answered).
#[derive(Default)]
struct Asked {
    batch: Mutex<Option<Arc<Batch>>>,
    answer: OnceCell<Resolution>,
}

/// The look-ups of usernames with rows still to come, and how many look-ups were sent.
#[derive(Default)]
pub(super) struct UsernameLookups {
    /// Case-folded username -> its look-up, shared by every row that names it.
    asked: Mutex<HashMap<String, Arc<Asked>>>,
    /// The batch names join until it is sealed or full.
    open: Mutex<Arc<Batch>>,
    /// Look-up requests sent (a split batch is several), retries not counted.
    looked_up: AtomicU64,
}

impl UsernameLookups {
    /// A row to come names this username: it joins a batch, unless asked already.
    pub(super) fn want(&self, name: &str) {
        self.asked_for(name);
    }

    fn asked_for(&self, name: &str) -> Arc<Asked> {
        let mut asked = lock(&self.asked);
        if let Some(known) = asked.get(&name.to_lowercase()) {
            return known.clone();
        }
        let mut open = lock(&self.open);
        if !open.join(name) {
            *open = Arc::new(Batch::default());
            open.join(name);
        }
        let entry = Arc::new(Asked {
            batch: Mutex::new(Some(open.clone())),
            answer: OnceCell::new(),
        });
        asked.insert(name.to_lowercase(), entry.clone());
        entry
    }

    /// The username's user, looked up once while rows naming it are to come. Sends the
    /// name's batch now if no row sent it before.
    pub(super) async fn resolve(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        name: &str,
    ) -> Resolution {
        let asked = self.asked_for(name);
        let answer = asked
            .answer
            .get_or_init(|| async {
                let batch = lock(&asked.batch).clone().unwrap_or_default();
                let answers = batch
                    .answers
                    .get_or_init(|| self.look_up(client, retry, batch.seal()))
                    .await;
                match answers.get(&name.to_lowercase()) {
                    Some(answer) => answer.clone(),
                    // Every name sealed in a batch has its answer; a batch made here (the
                    // name's was let go) has none, and a look-up of the name alone answers it.
                    None => self
                        .look_up(client, retry, vec![name.to_string()])
                        .await
                        .remove(&name.to_lowercase())
                        .unwrap_or_else(|| {
                            let why = "the look-up gave no answer for this username";
                            Resolution::Failed(ApiError::Transport(why.into()))
                        }),
                }
            })
            .await
            .clone();
        *lock(&asked.batch) = None;
        answer
    }

    /// One look-up of `names`, split while PingOne refuses it as too long: each name's
    /// answer, by case-folded name.
    async fn look_up(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        names: Vec<String>,
    ) -> HashMap<String, Resolution> {
        let mut answers = HashMap::new();
        let mut parts = vec![names];
        while let Some(mut part) = parts.pop() {
            if part.is_empty() {
                continue;
            }
            self.looked_up.fetch_add(1, Ordering::Relaxed);
            let answer = retry.run(|| client.find_users_named(&part)).await;
            let split = part.len() > 1
                && match &answer {
                    Err(e) => is_too_long(e),
                    // A user without a username cannot be told apart among several names.
                    Ok(users) => users.iter().any(|u| u.username.is_none()),
                };
            if split {
                let second = part.split_off(part.len() / 2);
                parts.push(second);
                parts.push(part);
                continue;
            }
            for name in part {
                let resolution = match &answer {
                    Ok(users) => resolution(&name, users),
                    Err(e) => Resolution::Failed(e.clone()),
                };
                answers.insert(name.to_lowercase(), resolution);
            }
        }
        answers
    }

    /// Asks PingOne again for the username, whatever it answered before: a user imported
    /// moments ago may have been missing from the first answer (see `grace`). The answer
    /// is not kept.
    pub(super) async fn ask_again(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        name: &str,
    ) -> Resolution {
        self.forget(name);
        let answer = self.resolve(client, retry, name).await;
        self.forget(name);
        answer
    }

    /// Forgets the username's look-up: no row to come names it.
    pub(super) fn forget(&self, name: &str) {
        lock(&self.asked).remove(&name.to_lowercase());
    }

    /// Look-up requests sent.
    pub(super) fn count(&self) -> u64 {
        self.looked_up.load(Ordering::Relaxed)
    }
}

/// PingOne refused the look-up for its length: a 414, or a 400 (a filter too long for it).
fn is_too_long(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::Status {
            status: 400 | 414,
            ..
        }
    )
}

/// The name's answer among the users a look-up returned: the one place a username is found
/// missing. A user the answer names by another username is not this username's user: its
/// devices would go to someone else. One without a username (only ever in the answer for
/// this name alone) says nothing against it.
fn resolution(name: &str, users: &[User]) -> Resolution {
    let wanted = name.to_lowercase();
    let named: Vec<&User> = users
        .iter()
        .filter(|u| {
            u.username
                .as_ref()
                .is_none_or(|n| n.to_lowercase() == wanted)
        })
        .collect();
    match named.as_slice() {
        [] => Resolution::NotFound,
        [user] => Resolution::Found(user.id.clone(), user.mfa_enabled, user.standing()),
        several => Resolution::Ambiguous(several.len()),
    }
}
