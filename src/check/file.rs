//! What `check` needs to know of the input, read once and validated as a run validates it:
//! the policies the rows name and the device types under each, the rows with a phone
//! extension, the most devices one user would get, and per user the rows that may make
//! PingOne send a message (kept as a few bytes per row, so that the quotas can be counted
//! once the policies' new-device notices are known). Nothing here sends a request.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use crate::input::{InputError, InputReader, InputSource};
use crate::model::{DeviceStatus, DeviceType, UserRef};
use crate::stop::Stop;
use crate::validate::{self, Rules};

/// Lines named in a message: the first few, and how many in all.
pub(crate) const LINES_SHOWN: usize = 5;

/// Some rows, by line: how many, and the first [`LINES_SHOWN`] of them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lines {
    pub(crate) count: u64,
    pub(crate) first: Vec<u64>,
}

impl Lines {
    pub(crate) fn push(&mut self, line: u64) {
        self.count += 1;
        if self.first.len() < LINES_SHOWN {
            self.first.push(line);
        }
    }

    /// "3 rows (lines 2, 5, 9)", "7 rows (lines 2, 3, 4, 5, 6, …)".
    pub(crate) fn describe(&self) -> String {
        let shown: Vec<String> = self.first.iter().map(u64::to_string).collect();
        let more = if self.count > self.first.len() as u64 {
            ", …"
        } else {
            ""
        };
        format!(
            "{} (line{} {}{more})",
            crate::words::count(self.count, "row", "rows"),
            if self.count == 1 { "" } else { "s" },
            shown.join(", ")
        )
    }
}

/// One valid row, as the quota count needs it: 16 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageRow {
    pub(crate) line: u64,
    /// Index into [`FileFacts::policies`].
    pub(crate) policy: u32,
    pub(crate) device_type: DeviceType,
    /// `ACTIVATION_REQUIRED`: PingOne sends a pairing code.
    pub(crate) pairing: bool,
}

/// The rows that name one device authentication policy, by device type.
#[derive(Debug, Default, Clone)]
pub(crate) struct PolicyUse {
    pub(crate) types: BTreeMap<DeviceType, Lines>,
}

/// What the input asks of the tenant.
#[derive(Debug, Default)]
pub(crate) struct FileFacts {
    pub(crate) records: u64,
    pub(crate) invalid: Lines,
    /// The first invalid row's reason, for the checklist.
    pub(crate) first_problem: Option<String>,
    /// The policies the rows name, in the order first met.
    pub(crate) policies: Vec<(Uuid, PolicyUse)>,
    pub(crate) extensions: Lines,
    /// The user with the most devices that count against the cap (not
    /// `ACTIVATION_REQUIRED`), and how many.
    pub(crate) largest_user: Option<(String, u32)>,
    /// Every valid row, by user, for the message count.
    pub(crate) by_user: HashMap<UserRef, Vec<MessageRow>>,
}

/// How reading the input ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("stopped while the input was being read")]
    Stopped,
}

/// Reads and validates the whole input once (on the caller's thread: run it off the async
/// runtime).
pub(crate) fn read_facts(
    source: &InputSource,
    delimiter: u8,
    rules: Rules,
    stop: &Stop,
) -> Result<FileFacts, FileError> {
    let mut input = InputReader::from_source(source, delimiter, false)?;
    let (checker, mut finisher) = validate::split(input.header().clone(), rules);
    let mut facts = FileFacts::default();
    let mut policy_index: HashMap<Uuid, u32> = HashMap::new();
    let mut cap_counts: HashMap<UserRef, u32> = HashMap::new();
    while let Some(record) = input.next_record()? {
        if stop.is_requested() {
            return Err(FileError::Stopped);
        }
        facts.records += 1;
        let spec = match finisher.finish(record.line, checker.check(&record)) {
            Ok(spec) => spec,
            Err(problem) => {
                facts.invalid.push(record.line);
                facts.first_problem.get_or_insert_with(|| {
                    format!("line {}: {} {}", record.line, problem.code, problem.message)
                });
                continue;
            }
        };
        let next = u32::try_from(facts.policies.len()).unwrap_or(u32::MAX);
        let policy = *policy_index.entry(spec.policy_id).or_insert_with(|| {
            facts.policies.push((spec.policy_id, PolicyUse::default()));
            next
        });
        if let Some((_, used)) = facts.policies.get_mut(policy as usize) {
            used.types
                .entry(spec.device_type)
                .or_default()
                .push(record.line);
        }
        if spec.extension.is_some() {
            facts.extensions.push(record.line);
        }
        let pairing = spec.status == Some(DeviceStatus::ActivationRequired);
        if !pairing {
            let count = cap_counts.entry(spec.user.clone()).or_default();
            *count += 1;
            if facts
                .largest_user
                .as_ref()
                .is_none_or(|(_, most)| *count > *most)
            {
                facts.largest_user = Some((describe_user(&spec.user), *count));
            }
        }
        facts
            .by_user
            .entry(spec.user)
            .or_default()
            .push(MessageRow {
                line: record.line,
                policy,
                device_type: spec.device_type,
                pairing,
            });
    }
    Ok(facts)
}

/// How the checklist names a user.
fn describe_user(user: &UserRef) -> String {
    match user {
        UserRef::Id(id) => format!("user {id}"),
        UserRef::Username(name) => format!("user {name:?}"),
    }
}
