//! `on_existing = "replace"`: a user's rows of one device type are one group, and the
//! user's devices of that type that no row of the group names are stale. The survey reads
//! every record once and builds the groups ([`GroupsBuilder`]): the devices the group wants
//! (rows an earlier run finished included, so a resumed run never takes their devices for
//! stale), the last line of the group the engine will work (its turn deletes the stale
//! devices, after every row of the group has its device: create before delete), and whether
//! a row of the group is invalid (then nothing of the group is deleted). The engine adds what
//! only the run learns: a row of the group that failed holds the group too.
//!
//! A user is keyed as the file names it (by ID, or by username case-folded), so a `replace`
//! run refuses a file that names users both ways (see `run::survey`): a group split in two
//! would take the other half's devices for stale. What is kept is a 64-bit digest of each
//! valid row's device (two that collide only keep a stale device, never delete a wanted
//! one), about 130 bytes a group and 8 a row, from the survey on; each group is forgotten
//! once its last row is worked.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use super::guard::lock;
use crate::model::{DeviceIdentity, DeviceType, UserRef};

/// Why a group's stale devices are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// The line's row is invalid (or repeats another of the group).
    Invalid(u64),
    /// The line's row failed in this run (or an earlier one left it unfinished).
    Failed(u64),
}

impl Hold {
    /// Why, in the words of the row's note.
    pub(crate) fn reason(self) -> String {
        match self {
            Hold::Invalid(line) => format!("line {line} of this user and type is invalid"),
            Hold::Failed(line) => format!("line {line} of this user and type failed"),
        }
    }
}

/// One user's rows of one type.
#[derive(Debug, Default)]
struct Group {
    /// Digests of the devices the rows name.
    wanted: Vec<u64>,
    /// The group's last line that the engine works (`None`: an earlier run finished every
    /// row, and so its deletions).
    last_line: Option<u64>,
    held: Option<Hold>,
}

/// A group's key: the user as the file names it, and the type.
fn key(user: &UserRef, device_type: DeviceType) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    match user {
        UserRef::Id(id) => (0u8, id.as_u128()).hash(&mut hasher),
        UserRef::Username(name) => (1u8, name.to_lowercase()).hash(&mut hasher),
    }
    device_type.as_str().hash(&mut hasher);
    hasher.finish()
}

/// A device's digest, as the group keeps it.
fn digest(identity: &DeviceIdentity) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    identity.hash(&mut hasher);
    hasher.finish()
}

/// The devices a group's rows name: whether a device is one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted(Vec<u64>);

impl Wanted {
    pub(crate) fn contains(&self, identity: &DeviceIdentity) -> bool {
        self.0.contains(&digest(identity))
    }
}

/// The survey's side: every record of the input, in file order.
#[derive(Debug, Default)]
pub(crate) struct GroupsBuilder {
    groups: HashMap<u64, Group>,
}

impl GroupsBuilder {
    /// A valid row; `worked`: the engine will work it (an earlier run did not finish it).
    pub(crate) fn valid(
        &mut self,
        user: &UserRef,
        identity: DeviceIdentity,
        line: u64,
        worked: bool,
    ) {
        let group = self
            .groups
            .entry(key(user, identity.device_type))
            .or_default();
        // A row repeating another of the group is invalid in stage 3 (DUPLICATE_ROW).
        let digest = digest(&identity);
        if group.wanted.contains(&digest) {
            group.held.get_or_insert(Hold::Invalid(line));
        } else {
            group.wanted.push(digest);
        }
        if worked {
            group.last_line = Some(line);
        }
    }

    /// An invalid row whose user and type could be read: it holds its group.
    pub(crate) fn invalid(&mut self, user: &UserRef, device_type: DeviceType, line: u64) {
        let group = self.groups.entry(key(user, device_type)).or_default();
        group.held.get_or_insert(Hold::Invalid(line));
    }

    pub(crate) fn finish(self) -> ReplaceGroups {
        ReplaceGroups {
            groups: Mutex::new(self.groups),
        }
    }
}

/// What the engine does at a row's turn, for its group.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Rows of the group are still to come (or the row is no group's): nothing yet.
    NotLast,
    /// The group's last row, every row well: delete the devices no row wants.
    Remove(Wanted),
    /// The group's last row, and a row of it is invalid or failed: delete nothing.
    Held(Hold, Wanted),
}

/// The groups of a `replace` run, shared by the engine's workers.
#[derive(Debug, Default)]
pub(crate) struct ReplaceGroups {
    groups: Mutex<HashMap<u64, Group>>,
}

impl ReplaceGroups {
    /// Called once a row of the group is worked: `well` whether it has its device. On the
    /// group's last row, what to do, and the group is forgotten.
    pub(crate) fn worked(
        &self,
        user: &UserRef,
        device_type: DeviceType,
        line: u64,
        well: bool,
    ) -> Turn {
        let key = key(user, device_type);
        let mut groups = lock(&self.groups);
        let Some(group) = groups.get_mut(&key) else {
            return Turn::NotLast;
        };
        if !well {
            group.held.get_or_insert(Hold::Failed(line));
        }
        if group.last_line != Some(line) {
            return Turn::NotLast;
        }
        let Some(group) = groups.remove(&key) else {
            return Turn::NotLast;
        };
        match group.held {
            None => Turn::Remove(Wanted(group.wanted)),
            Some(hold) => Turn::Held(hold, Wanted(group.wanted)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Destination;

    fn sms(phone: &str) -> DeviceIdentity {
        DeviceIdentity::new(DeviceType::Sms, &Destination::Phone(phone.into()), None)
    }

    #[test]
    fn only_the_last_worked_row_of_a_well_group_removes() {
        let user = UserRef::Id(uuid::Uuid::from_u128(1));
        let mut builder = GroupsBuilder::default();
        builder.valid(&user, sms("+15125550001"), 2, false);
        builder.valid(&user, sms("+15125550002"), 3, true);
        builder.valid(&user, sms("+15125550003"), 4, true);
        let groups = builder.finish();
        assert_eq!(
            groups.worked(&user, DeviceType::Sms, 3, true),
            Turn::NotLast
        );
        let Turn::Remove(wanted) = groups.worked(&user, DeviceType::Sms, 4, true) else {
            panic!("the last row removes");
        };
        for n in 1..=3 {
            assert!(wanted.contains(&sms(&format!("+1512555000{n}"))));
        }
        assert!(!wanted.contains(&sms("+15125550004")));
        assert_eq!(
            groups.worked(&user, DeviceType::Sms, 4, true),
            Turn::NotLast,
            "forgotten once done"
        );
        assert_eq!(
            groups.worked(&user, DeviceType::Email, 5, true),
            Turn::NotLast
        );
    }

    #[test]
    fn an_invalid_a_repeated_or_a_failed_row_holds_its_group() {
        let user = UserRef::Username("Jane".into());
        let same = UserRef::Username("jane".into());
        let mut builder = GroupsBuilder::default();
        builder.valid(&user, sms("+15125550001"), 2, true);
        builder.invalid(&same, DeviceType::Sms, 3);
        builder.valid(&user, sms("+15125550009"), 4, true);
        builder.valid(&user, sms("+15125550009"), 5, true);
        let groups = builder.finish();
        assert!(matches!(
            groups.worked(&user, DeviceType::Sms, 5, true),
            Turn::Held(Hold::Invalid(3), _)
        ));

        let mut builder = GroupsBuilder::default();
        builder.valid(&user, sms("+15125550001"), 2, true);
        builder.valid(&user, sms("+15125550002"), 3, true);
        let groups = builder.finish();
        groups.worked(&user, DeviceType::Sms, 2, false);
        assert!(matches!(
            groups.worked(&user, DeviceType::Sms, 3, true),
            Turn::Held(Hold::Failed(2), _)
        ));
    }
}
