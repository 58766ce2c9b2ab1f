//! `--shard K/N`: which rows of the input belong to shard K of N. Every shard reads and
//! validates the whole file, so each reaches the same verdict on every row, then keeps only
//! its own:
//!
//! - a valid row belongs to the shard of its **user**, so one user's rows run in one process,
//!   in file order, and exactly-once holds across shards sending at the same time;
//! - a row that is not valid (or names a user PingOne does not know) belongs to the shard of
//!   its line number, since it sends nothing.
//!
//! A user may be named by `user_id` in one row and by `username` in another. When the file
//! holds both kinds of rows, the shard of a username row is decided by the user ID PingOne
//! resolves it to ([`KeyedBy::ResolvedUserId`]): each shard resolves every username of the
//! file, one GET each, and keeps the rows whose user falls to it. A file that names users one
//! way only needs no look-up to decide ([`KeyedBy::Reference`]).
//!
//! The owner of a key is the first 8 bytes of its SHA-256, modulo N: the same on every
//! machine and in every version, so a resumed shard keeps the rows it had.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::UserRef;

/// Shard `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

/// More shards than this is a typo, not a plan: PingOne's rate limit is per license.
pub(crate) const MAX_SHARDS: u32 = 1000;

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || {
            format!("{text:?}: expected K/N with 0 <= K < N, such as 0/3 (shards are numbered from 0, like Kubernetes' JOB_COMPLETION_INDEX)")
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        if count > MAX_SHARDS {
            return Err(format!(
                "{text:?}: at most {MAX_SHARDS} shards; PingOne's rate limit is shared by all of them"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a valid row's user decides its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KeyedBy {
    /// By the user ID or username as written: the file names users one way only, or the run
    /// is an offline dry run, which cannot ask PingOne.
    Reference,
    /// By the user ID a username resolves to: the file names users both ways.
    ResolvedUserId,
}

impl KeyedBy {
    /// `by_id` and `by_username`: valid rows that name their user each way.
    pub(crate) fn for_file(by_id: u64, by_username: u64, can_resolve: bool) -> KeyedBy {
        if by_id > 0 && by_username > 0 && can_resolve {
            KeyedBy::ResolvedUserId
        } else {
            KeyedBy::Reference
        }
    }
}

/// This process's shard and how its rows are told apart from other shards'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) shard: Shard,
    pub(crate) keyed_by: KeyedBy,
}

impl Assignment {
    /// Whether a valid row is this shard's, when that can be told before its user is
    /// resolved; `None` when it must wait for the user ID.
    pub(crate) fn owns_before_resolving(&self, user: &UserRef) -> Option<bool> {
        match (user, self.keyed_by) {
            (UserRef::Id(id), _) => Some(self.shard.owns_user_id(&id.to_string())),
            (UserRef::Username(name), KeyedBy::Reference) => Some(self.shard.owns_username(name)),
            (UserRef::Username(_), KeyedBy::ResolvedUserId) => None,
        }
    }

    /// Whether a row that waited for its user is this shard's, now that the user is known.
    pub(crate) fn owns_resolved(&self, user: &UserRef, user_id: &str) -> bool {
        match self.owns_before_resolving(user) {
            Some(decided) => decided,
            None => self.shard.owns_user_id(user_id),
        }
    }

    /// Whether a row naming a user PingOne does not know (or knows twice) is this shard's:
    /// every shard got the same answer, so the username decides.
    pub(crate) fn owns_unknown_user(&self, user: &UserRef) -> bool {
        match user {
            UserRef::Id(id) => self.shard.owns_user_id(&id.to_string()),
            UserRef::Username(name) => self.shard.owns_username(name),
        }
    }
}

impl Shard {
    /// The shard of a row that sends nothing.
    pub(crate) fn owns_line(&self, line: u64) -> bool {
        self.owns(&format!("line:{line}"))
    }

    /// The shard of a user known by ID. PingOne's IDs are lowercase UUIDs; the case of the
    /// file's spelling must not move a user.
    pub(crate) fn owns_user_id(&self, user_id: &str) -> bool {
        self.owns(&format!("id:{}", user_id.to_ascii_lowercase()))
    }

    /// The shard of a user known by username only (usernames are matched case-insensitively,
    /// as the engine's look-up cache does).
    pub(crate) fn owns_username(&self, username: &str) -> bool {
        self.owns(&format!("username:{}", username.to_lowercase()))
    }

    fn owns(&self, key: &str) -> bool {
        owner(key, self.count) == self.index
    }
}

fn owner(key: &str, count: u32) -> u32 {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    (u64::from_be_bytes(first) % u64::from(count)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_bad_ones_say_why() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/3", "-1/3", "1/2/3", ""] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains("K/N"), "{bad}: {error}");
        }
        assert!("0/1001".parse::<Shard>().unwrap_err().contains("at most"));
        let most = "999/1000".parse::<Shard>().expect("the most shards");
        assert_eq!(most.to_string(), "999/1000", "shown as given");
    }

    #[test]
    fn a_row_waits_for_its_user_only_when_keyed_by_resolved_user_id() {
        let id: uuid::Uuid = "6f7a2b1e-0000-4000-8000-00000000002a".parse().unwrap();
        let named = UserRef::Username("Jane".into());
        for keyed_by in [KeyedBy::Reference, KeyedBy::ResolvedUserId] {
            let at = |index| Assignment {
                shard: Shard { index, count: 3 },
                keyed_by,
            };
            let by_id: Vec<_> = (0..3)
                .map(|i| at(i).owns_before_resolving(&UserRef::Id(id)))
                .collect();
            assert_eq!(by_id.iter().filter(|o| **o == Some(true)).count(), 1);
            assert_eq!(by_id.iter().filter(|o| **o == Some(false)).count(), 2);
            let by_name: Vec<_> = (0..3)
                .map(|i| at(i).owns_before_resolving(&named))
                .collect();
            match keyed_by {
                KeyedBy::Reference => {
                    let owner =
                        (0..3).find(|&i| Shard { index: i, count: 3 }.owns_username("jane"));
                    let expected: Vec<_> = (0..3).map(|i| Some(Some(i) == owner)).collect();
                    assert_eq!(by_name, expected);
                }
                KeyedBy::ResolvedUserId => assert_eq!(by_name, vec![None; 3]),
            }
            // Once resolved, and when PingOne does not know the user: one owner each, and
            // a username keyed by its resolved ID goes where that ID goes.
            let id_text = id.to_string();
            let resolved: Vec<bool> = (0..3)
                .map(|i| at(i).owns_resolved(&named, &id_text))
                .collect();
            assert_eq!(resolved.iter().filter(|o| **o).count(), 1, "{resolved:?}");
            if keyed_by == KeyedBy::ResolvedUserId {
                assert_eq!(
                    by_id.iter().map(|o| *o == Some(true)).collect::<Vec<_>>(),
                    resolved
                );
            }
            let unknown: Vec<bool> = (0..3).map(|i| at(i).owns_unknown_user(&named)).collect();
            assert_eq!(unknown.iter().filter(|o| **o).count(), 1, "{unknown:?}");
            for line in 2..40 {
                let owners = (0..3).filter(|&i| at(i).shard.owns_line(line)).count();
                assert_eq!(owners, 1, "line {line}");
            }
            for name in ["jane", "JOHN", "x"] {
                let owners = (0..3).filter(|&i| at(i).shard.owns_username(name)).count();
                assert_eq!(owners, 1, "{name}");
            }
        }
    }

    #[test]
    fn every_key_has_exactly_one_owner_and_the_split_is_even() {
        let count = 3;
        let mut per_shard = [0u32; 3];
        for n in 0..3000 {
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{n}").as_bytes());
            let owners: Vec<u32> = (0..count)
                .filter(|&index| Shard { index, count }.owns_user_id(&id.to_string()))
                .collect();
            assert_eq!(owners.len(), 1, "{id}");
            per_shard[owners[0] as usize] += 1;
        }
        for n in per_shard {
            assert!((800..1200).contains(&n), "{per_shard:?}");
        }
    }

    #[test]
    fn the_owner_is_fixed_across_versions_and_case() {
        // Pinned: a resumed shard must keep the rows it had, whatever version resumes it.
        let shard = |index| Shard { index, count: 3 };
        let id = "6f7a2b1e-0000-4000-8000-00000000002a";
        let owner = (0..3).find(|&i| shard(i).owns_user_id(id)).unwrap();
        assert!(shard(owner).owns_user_id(&id.to_uppercase()));
        assert_eq!(owner, super::owner(&format!("id:{id}"), 3));
        // Computed outside Rust: python3 -c "import hashlib; print(int.from_bytes(hashlib.sha256(b'id:a').digest()[:8], 'big') % 1000)"
        assert_eq!(super::owner("id:a", 1000), 398);
    }

    #[test]
    fn keys_follow_the_file() {
        assert_eq!(KeyedBy::for_file(5, 0, true), KeyedBy::Reference);
        assert_eq!(KeyedBy::for_file(0, 5, true), KeyedBy::Reference);
        assert_eq!(KeyedBy::for_file(5, 5, true), KeyedBy::ResolvedUserId);
        assert_eq!(KeyedBy::for_file(5, 5, false), KeyedBy::Reference);
    }
}
