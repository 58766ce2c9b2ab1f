//! Usernames looked up in PingOne: each username once per run, however many rows name it and
//! however many of them are resolved at once; an answer is kept only while the username has
//! rows to come (`later`), so memory stays flat with the number of users.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::guard::lock;
use super::retry::RetryPolicy;
use crate::pingone::wire::{Standing, User};
use crate::pingone::{ApiError, Client};

/// What PingOne answered when asked for a username's user.
#[derive(Debug, Clone)]
pub(super) enum Resolution {
    /// The user's ID, the MFA switch when the look-up carried it, and the account's standing.
    Found(String, Option<bool>, Standing),
    NotFound,
    Ambiguous(usize),
    Failed(ApiError),
}

/// The look-ups of usernames with rows still to come, and how many usernames were looked up.
#[derive(Default)]
pub(super) struct UsernameLookups {
    /// Case-folded username -> its look-up, shared by every row that names it.
    answers: Mutex<HashMap<String, Arc<OnceCell<Resolution>>>>,
    /// Usernames looked up (each cost one request).
    looked_up: AtomicU64,
}

impl UsernameLookups {
    /// The username's user, looked up once while rows naming it are to come.
    pub(super) async fn resolve(
        &self,
        client: &Client,
        retry: &RetryPolicy,
        name: &str,
    ) -> Resolution {
        let cell = lock(&self.answers)
            .entry(name.to_lowercase())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            self.looked_up.fetch_add(1, Ordering::Relaxed);
            let lookup = retry.run(|| client.find_users(name)).await;
            // A user the answer names by another username is not this username's user: its
            // devices would go to someone else. One without a username says nothing.
            let lookup = lookup.map(|users| {
                let wanted = name.to_lowercase();
                let named = |u: &User| {
                    u.username
                        .as_ref()
                        .is_none_or(|n| n.to_lowercase() == wanted)
                };
                users.into_iter().filter(named).collect::<Vec<_>>()
            });
            match lookup {
                Ok(users) if users.is_empty() => Resolution::NotFound,
                Ok(users) if users.len() == 1 => {
                    let user = &users[0];
                    Resolution::Found(user.id.clone(), user.mfa_enabled, user.standing())
                }
                Ok(users) => Resolution::Ambiguous(users.len()),
                Err(e) => Resolution::Failed(e),
            }
        })
        .await
        .clone()
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
        lock(&self.answers).remove(&name.to_lowercase());
    }

    /// Usernames looked up (each cost one request).
    pub(super) fn count(&self) -> u64 {
        self.looked_up.load(Ordering::Relaxed)
    }
}
