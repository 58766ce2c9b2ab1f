//! One row of results.csv ([`ResultRow`], the schema: header, writer and readers follow from
//! it) and the one way a row is made ([`RowResult`]'s constructors and `with_*` methods).
//!
//! Every results row the tool writes is built here, from what it comes from: the record as
//! read ([`RowResult::from_record`]), the validated row ([`RowResult::from_spec`]), the device
//! PingOne described ([`RowResult::with_device`]) and the answer that failed it
//! ([`RowResult::with_answer`]). A column filled from one of those is added to [`ResultRow`]
//! and filled in its constructor or method here, and no caller changes.

use csv::ByteRecord;
use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::codes::Code;
use crate::input::{Column, Header, Record};
use crate::model::{DeviceStatus, DeviceType};
use crate::pingone::wire::Device;
use crate::pingone::ApiError;
use crate::validate::{DeviceSpec, RowError};

/// One row of results.csv. The file's columns are these fields, in this order: the header,
/// the writer and resume's reader all follow from this struct. Reading takes a missing column
/// as its default, so a column added later does not make older output directories unresumable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ResultRow {
    pub(crate) line: u64,
    pub(crate) user_id: String,
    pub(crate) username: String,
    /// The normalised type, or the cell as written when it was not a type.
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) destination: String,
    pub(crate) outcome: Outcome,
    pub(crate) device_id: String,
    pub(crate) device_status: String,
    /// The status PingOne sent for the request that settled the row.
    pub(crate) http_status: Option<u16>,
    /// POST attempts made for this row.
    pub(crate) attempts: u32,
    pub(crate) error_code: Option<Code>,
    pub(crate) error_message: String,
    /// The user's MFA switch: on (found on, or switched on by this run), off (found off and
    /// left off), or not known.
    pub(crate) user_mfa_enabled: Option<bool>,
    /// The `id` of PingOne's error body for this row's failure, which Ping support uses.
    pub(crate) pingone_error_id: String,
    /// The line of the first input this row came from: a fed-back errors.csv's own
    /// `original_line` (or its `line`), else `line`. Empty in files written before it existed.
    pub(crate) original_line: Option<u64>,
    /// This row's turn switched the user's MFA on (`enable_mfa`): the PUT that set it was
    /// this run's, once a device of the user was there. `undo --restore-mfa` reads it; false
    /// in files written before it existed.
    pub(crate) user_mfa_switched: bool,
    /// The `X-Ping-External-Transaction-ID` of the row's last device request (POST), which
    /// PingOne support can find; empty when none was sent.
    pub(crate) transaction_id: String,
    /// `replace`: the stale devices of the row's user and type deleted after this row's
    /// device was there (it was the user's last row of the type), space-separated; in an
    /// online dry run, those a real run would delete.
    pub(crate) removed_device_ids: String,
    /// The destinations of those devices, in the same order, space-separated: the phone
    /// (with `;ext=` and the extension of a VOICE device that had one) or the email, as
    /// PingOne listed it. `undo` names them, since a deleted device cannot be read again.
    pub(crate) removed_destinations: String,
}

impl ResultRow {
    /// Rows that go to errors.csv and make the exit code 1: invalid and failed rows, and a
    /// device that is there for a user whose MFA could not be switched on.
    pub(crate) fn is_problem(&self) -> bool {
        self.outcome.is_problem()
            || matches!(
                self.error_code,
                Some(Code::MfaNotEnabled | Code::RemovalsOwed | Code::DeleteCapReached)
            )
    }

    /// The IDs in `removed_device_ids`.
    pub(crate) fn removed_ids(&self) -> impl Iterator<Item = &str> {
        self.removed_device_ids.split_ascii_whitespace()
    }

    /// Rows a resume leaves alone: their device is there and nothing is left to do.
    pub(crate) fn is_done(&self) -> bool {
        self.outcome.is_final_success() && !self.is_problem()
    }

    /// The header of results.csv, as the struct defines it.
    pub(crate) fn header() -> Vec<String> {
        header_of::<ResultRow>()
    }
}

/// What happened to one input record: its results.csv row, and what errors.csv and the
/// tallies need besides.
#[derive(Debug, Clone)]
pub(crate) struct RowResult {
    pub(crate) row: ResultRow,
    /// Whether creating this row's device sends (or would send) a pairing message.
    pub(crate) sends_message: bool,
    /// The record as read, for errors.csv.
    pub(crate) raw: ByteRecord,
}

impl RowResult {
    /// A result with the record's identity filled in and nothing else.
    fn new(line: u64, raw: ByteRecord, outcome: Outcome) -> Self {
        Self {
            row: ResultRow {
                line,
                outcome,
                ..ResultRow::default()
            },
            sends_message: false,
            raw,
        }
    }

    /// A result for a record as written, before or without validation: its cells as they are.
    pub(crate) fn from_record(record: &Record, header: &Header, outcome: Outcome) -> Self {
        let cell = |c: Column| record.get(header, c).unwrap_or("").to_string();
        let mut r = Self::new(record.line, record.raw.clone(), outcome);
        r.row.original_line = Some(record.original_line(header));
        r.row.user_id = cell(Column::UserId);
        r.row.username = cell(Column::Username);
        r.row.device_type = cell(Column::Type).to_ascii_uppercase();
        // A row whose type is not one of ours shows its phone cell, the commoner destination.
        let uses_phone = r
            .row
            .device_type
            .parse::<DeviceType>()
            .map_or(true, DeviceType::uses_phone);
        r.row.destination = cell(if uses_phone {
            Column::Phone
        } else {
            Column::Email
        });
        r
    }

    /// The result of a record that failed validation.
    pub(crate) fn invalid(record: &Record, header: &Header, error: RowError) -> Self {
        Self::from_record(record, header, Outcome::Invalid).with_error(error.code, error.message)
    }

    /// A result for a valid row, with its identity filled in and nothing else.
    pub(crate) fn from_spec(
        line: u64,
        raw: ByteRecord,
        spec: &DeviceSpec,
        user_id: &str,
        outcome: Outcome,
    ) -> Self {
        let mut r = Self::new(line, raw, outcome);
        r.row.user_id = user_id.to_string();
        r.row.username = spec.username.clone();
        r.row.device_type = spec.device_type.as_str().to_string();
        r.row.destination = spec.destination.as_str().to_string();
        r.sends_message = spec.sends_pairing_message();
        r.row.original_line = Some(spec.original_line);
        r
    }

    /// The device the row settled on, as PingOne described it; its status, when PingOne gave
    /// none, is the one the row `asked` for.
    pub(crate) fn with_device(mut self, device: &Device, asked: Option<DeviceStatus>) -> Self {
        self.row.device_id = device.id.clone();
        self.row.device_status = device
            .status
            .clone()
            .or(asked.map(|s| s.as_str().to_string()))
            .unwrap_or_default();
        self
    }

    /// The answer (PingOne's, or the network's) that failed the row: its HTTP status and the
    /// `id` of PingOne's error body.
    pub(crate) fn with_answer(mut self, answer: &ApiError) -> Self {
        self.row.http_status = answer.http_status();
        self.row.pingone_error_id = answer.pingone_id().unwrap_or_default().to_string();
        self
    }

    /// The HTTP status of the request that settled the row, if one did.
    pub(crate) fn with_http_status(mut self, status: Option<u16>) -> Self {
        self.row.http_status = status;
        self
    }

    /// POSTs sent for the row.
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.row.attempts = attempts;
        self
    }

    /// The `id` of PingOne's error body for the row's failure, or none.
    pub(crate) fn with_pingone_error_id(mut self, id: Option<&str>) -> Self {
        self.row.pingone_error_id = id.unwrap_or_default().to_string();
        self
    }

    /// The transaction id of the row's last device request (empty: none was sent).
    pub(crate) fn with_transaction_id(mut self, id: String) -> Self {
        self.row.transaction_id = id;
        self
    }

    /// An earlier run's row kept as it was (a row owing removals that this run did not
    /// reach).
    pub(crate) fn as_before(row: &ResultRow, raw: ByteRecord) -> Self {
        Self {
            row: row.clone(),
            sends_message: false,
            raw,
        }
    }

    /// The stale devices an earlier run removed for this row.
    pub(crate) fn with_removed_before(mut self, earlier: &ResultRow) -> Self {
        self.row.removed_device_ids = earlier.removed_device_ids.clone();
        self.row.removed_destinations = earlier.removed_destinations.clone();
        self
    }

    /// The stale devices deleted (or, planning, to be deleted) after this row's device,
    /// after any an earlier run removed for it.
    pub(crate) fn with_removed(self, devices: &[&Device]) -> Self {
        self.with_removed_ids(
            devices
                .iter()
                .map(|device| (device.id.clone(), removed_destination(device))),
        )
    }

    /// Devices (ID, destination) removed after this row's device; one already listed is
    /// not listed twice (an earlier run's journal and this run may both name it).
    pub(crate) fn with_removed_ids(
        mut self,
        devices: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        for (id, destination) in devices {
            if self.row.removed_ids().any(|listed| listed == id) {
                continue;
            }
            for (column, value) in [
                (&mut self.row.removed_device_ids, id),
                (&mut self.row.removed_destinations, destination),
            ] {
                if !column.is_empty() {
                    column.push(' ');
                }
                column.push_str(&value);
            }
        }
        self
    }

    /// The user's MFA switch as the run found or left it (`None`: not known).
    pub(crate) fn with_mfa_enabled(mut self, enabled: Option<bool>) -> Self {
        self.row.user_mfa_enabled = enabled;
        self
    }

    /// Whether this row's turn switched the user's MFA on.
    pub(crate) fn with_mfa_switched(mut self, switched: bool) -> Self {
        self.row.user_mfa_switched = switched;
        self
    }

    /// A code and why: the row failed, or went well with something to act on.
    pub(crate) fn with_error(mut self, code: Code, message: impl Into<String>) -> Self {
        self.row.error_code = Some(code);
        self.row.error_message = message.into();
        self
    }

    /// Why a row went as it did, without a code: how a device was found, what made a row
    /// skip.
    pub(crate) fn with_note(mut self, message: impl Into<String>) -> Self {
        self.row.error_message = message.into();
        self
    }
}

/// A removed device's destination as `removed_destinations` spells it (no spaces inside).
pub(crate) fn removed_destination(device: &Device) -> String {
    let base = device
        .phone
        .as_deref()
        .or(device.email.as_deref())
        .unwrap_or("");
    let base: String = base.split_whitespace().collect();
    match device.extension.as_deref().map(str::trim) {
        Some(ext) if !ext.is_empty() => format!("{base};ext={ext}"),
        _ => base,
    }
}

/// The CSV header of a row type, as serialising its default gives it (the one way the csv
/// crate gives the header of a struct): results.csv's, verify.csv's and undo.csv's.
pub(crate) fn header_of<R: Serialize + Default>() -> Vec<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if writer.serialize(R::default()).is_err() {
        return Vec::new();
    }
    let bytes = writer.into_inner().unwrap_or_default();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default()
}
