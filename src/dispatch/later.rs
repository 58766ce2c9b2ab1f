//! Which rows have a later row of the same user, found by the survey on disk
//! (`crate::spill`, in memory that stays flat however many rows one user has), so that what
//! the engine keeps per user (an online plan's counts and devices, a username's look-up)
//! lives only as long as the user's rows do, and memory stays flat however many users a file
//! names. One bit per record is all that stays in memory. The same pass counts the rows and
//! their users ([`Workload`]), from which the run plans its requests.
//!
//! A user is keyed as the file names it: by ID, or by username (case-folded). A username's
//! user is known only once looked up, so a file that names users both ways cannot tell
//! offline that a username row and an ID row are the same user; there ([`Kinds`]) a user's
//! state is kept until the file's last row of the other kind. A hash that two keys share
//! only keeps a state longer than needed, never shorter.

use std::hash::{Hash, Hasher};
use std::io;
use std::path::Path;

use super::workload::Workload;
use crate::model::UserRef;

/// The spill's folder in the output directory.
pub(crate) const SPILL_DIR: &str = ".later-rows";
use crate::spill::Spill;

/// The last line naming a user by ID, and by username, among the rows the engine will see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Kinds {
    last_by_id: Option<u64>,
    last_by_username: Option<u64>,
}

impl Kinds {
    /// Every row may be followed by a row of the other kind: nothing was surveyed.
    pub(crate) fn unknown() -> Kinds {
        Kinds {
            last_by_id: Some(u64::MAX),
            last_by_username: Some(u64::MAX),
        }
    }

    /// Whether a row after `line` may name `user` the other way (and so be the same user).
    pub(crate) fn other_kind_after(&self, user: &UserRef, line: u64) -> bool {
        let last_other = match user {
            UserRef::Id(_) => self.last_by_username,
            UserRef::Username(_) => self.last_by_id,
        };
        last_other.is_some_and(|last| last > line)
    }
}

/// For each record (by its place in the file, counted from 0), whether a later record names
/// the same user the same way.
#[derive(Debug, Clone, Default)]
pub(crate) struct LaterRows {
    /// One bit per record; `None`: not surveyed, so every row may have a later one.
    continues: Option<Vec<u64>>,
    pub(crate) kinds: Kinds,
    /// The rows the engine will see and their users; `None`: not surveyed.
    pub(crate) workload: Option<Workload>,
}

impl LaterRows {
    /// Not surveyed: every row may be followed by another of its user.
    pub(crate) fn unknown() -> LaterRows {
        LaterRows {
            continues: None,
            kinds: Kinds::unknown(),
            workload: None,
        }
    }

    pub(crate) fn continues(&self, record: u64) -> bool {
        let Some(bits) = &self.continues else {
            return true;
        };
        let word = usize::try_from(record / 64).unwrap_or(usize::MAX);
        bits.get(word)
            .is_some_and(|w| w & (1 << (record % 64)) != 0)
    }
}

/// The survey's spill of (user key, record) pairs.
pub(crate) struct LaterRowsSpill {
    spill: Spill,
    kinds: Kinds,
}

/// The user's key: a hash, whose lowest bit says how the file named the user (1: by
/// username), so the users can be counted by kind.
fn user_key(user: &UserRef) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    let kind = match user {
        UserRef::Id(id) => {
            (0u8, id.as_u128()).hash(&mut hasher);
            0
        }
        UserRef::Username(name) => {
            (1u8, name.to_lowercase()).hash(&mut hasher);
            1
        }
    };
    (hasher.finish() & !1) | kind
}

impl LaterRowsSpill {
    pub(crate) fn create(out_dir: &Path) -> io::Result<LaterRowsSpill> {
        Ok(LaterRowsSpill {
            spill: Spill::create(out_dir, SPILL_DIR)?,
            kinds: Kinds::default(),
        })
    }

    /// Record `record` (its place in the file), at `line`, names `user`; `maybe_made`: an
    /// earlier run may have made its device, so the engine reads the user's devices first.
    pub(crate) fn add(
        &mut self,
        user: &UserRef,
        record: u64,
        line: u64,
        maybe_made: bool,
    ) -> io::Result<()> {
        let last = match user {
            UserRef::Id(_) => &mut self.kinds.last_by_id,
            UserRef::Username(_) => &mut self.kinds.last_by_username,
        };
        *last = Some(last.map_or(line, |l| l.max(line)));
        // The lowest bit carries `maybe_made`; the order by value stays the records' order.
        self.spill
            .add(user_key(user), (record << 1) | u64::from(maybe_made))
    }

    /// Every record but the last of each user key gets its bit; `records` counts them all.
    pub(crate) fn finish(self, records: u64) -> io::Result<LaterRows> {
        let words = usize::try_from(records.div_ceil(64)).unwrap_or(usize::MAX);
        let mut bits = vec![0u64; words];
        let mut workload = Workload::default();
        // Sorted by key, then record: each record followed by one of its key has a later
        // row, and a new key is a new user.
        let mut before: Option<(u64, u64)> = None;
        let mut user_maybe_made = false;
        self.spill.for_each_sorted(|key, value| {
            workload.rows += 1;
            let (record, maybe_made) = (value >> 1, value & 1 == 1);
            match before {
                Some((earlier_key, earlier)) if earlier_key == key => {
                    if let Some(word) = bits.get_mut((earlier / 64) as usize) {
                        *word |= 1 << (earlier % 64);
                    }
                    user_maybe_made |= maybe_made;
                }
                _ => {
                    workload.users_maybe_made += u64::from(user_maybe_made);
                    user_maybe_made = maybe_made;
                    match key & 1 {
                        0 => workload.users_by_id += 1,
                        _ => workload.usernames += 1,
                    }
                }
            }
            before = Some((key, record));
        })?;
        workload.users_maybe_made += u64::from(user_maybe_made);
        Ok(LaterRows {
            continues: Some(bits),
            kinds: self.kinds,
            workload: Some(workload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rows_followed_by_their_user_continue() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = LaterRowsSpill::create(dir.path()).unwrap();
        let id = |n: u128| UserRef::Id(uuid::Uuid::from_u128(n));
        let name = |n: &str| UserRef::Username(n.into());
        let rows = [id(1), name("Jane"), id(2), id(1), name("jane"), id(3)];
        for (record, user) in rows.iter().enumerate() {
            // Only the second row of user 1 may have been made by an earlier run.
            let maybe_made = record == 3;
            spill
                .add(user, record as u64, record as u64 + 2, maybe_made)
                .unwrap();
        }
        let later = spill.finish(rows.len() as u64 + 100).unwrap();
        let continues: Vec<bool> = (0..6).map(|r| later.continues(r)).collect();
        assert_eq!(continues, [true, true, false, false, false, false]);
        assert!(!later.continues(1000), "past the records");
        let counted = Workload {
            rows: 6,
            users_by_id: 3,
            usernames: 1,
            users_maybe_made: 1,
        };
        assert_eq!(later.workload, Some(counted), "Jane and jane are one user");
        // The last row by username is line 6, by ID line 7.
        assert!(later.kinds.other_kind_after(&id(9), 5));
        assert!(!later.kinds.other_kind_after(&id(9), 6));
        assert!(later.kinds.other_kind_after(&name("x"), 6));
        assert!(!later.kinds.other_kind_after(&name("x"), 7));
        assert!(
            !dir.path().join(".later-rows").exists(),
            "the spill is gone"
        );
    }

    #[test]
    fn a_file_named_one_way_has_no_other_kind() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = LaterRowsSpill::create(dir.path()).unwrap();
        spill
            .add(&UserRef::Id(uuid::Uuid::from_u128(1)), 0, 2, false)
            .unwrap();
        let later = spill.finish(1).unwrap();
        assert!(!later
            .kinds
            .other_kind_after(&UserRef::Id(uuid::Uuid::from_u128(1)), 2));
        assert!(!later
            .kinds
            .other_kind_after(&UserRef::Id(uuid::Uuid::from_u128(1)), 0));
        assert!(LaterRows::unknown().continues(5));
    }
}
