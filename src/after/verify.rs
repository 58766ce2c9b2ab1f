//! `verify RUN_DIR`: every device a run recorded (`created`, `skipped_existing`) read again by
//! its ID, with its user's MFA switch when the run left it on, and a state per row in
//! verify.csv. Reads only: GETs, never a write.
//!
//! The state, the first that applies: `USER_GONE` (the user is not there), `DEVICE_GONE`,
//! `DESTINATION_CHANGED` (another type, phone or email), `MFA_OFF` (the run switched the
//! user's MFA on or found it on, and it is off now), `ACTIVATION_PENDING` (still
//! `ACTIVATION_REQUIRED`, with the days since it was created), `HOLDS` (a device the user
//! has activated since holds). A read that failed for good is `NOT_CHECKED`, with PingOne's
//! answer: nothing is claimed about it, and `--resume` reads it again.

use serde::{Deserialize, Serialize};

use super::output::AfterRow;
use super::After;
use crate::model::DeviceType;
use crate::pingone::wire::Device;
use crate::pingone::ApiError;
use crate::record::{Outcome, ResultRow};
use crate::validate::phone::comparison_form;

/// verify.csv's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum State {
    #[default]
    Holds,
    ActivationPending,
    DeviceGone,
    DestinationChanged,
    MfaOff,
    UserGone,
    /// PingOne's answer left it unknown (after every retry).
    NotChecked,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Holds => "HOLDS",
            State::ActivationPending => "ACTIVATION_PENDING",
            State::DeviceGone => "DEVICE_GONE",
            State::DestinationChanged => "DESTINATION_CHANGED",
            State::MfaOff => "MFA_OFF",
            State::UserGone => "USER_GONE",
            State::NotChecked => "NOT_CHECKED",
        }
    }

    /// The record still holds: exit 0 when every row's does.
    pub(crate) fn holds(self) -> bool {
        match self {
            State::Holds | State::ActivationPending => true,
            State::DeviceGone
            | State::DestinationChanged
            | State::MfaOff
            | State::UserGone
            | State::NotChecked => false,
        }
    }
}

/// One row of verify.csv.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct VerifyRow {
    pub(crate) line: u64,
    pub(crate) user_id: String,
    pub(crate) username: String,
    #[serde(rename = "type")]
    pub(crate) device_type: String,
    pub(crate) destination: String,
    pub(crate) device_id: String,
    pub(crate) state: State,
    pub(crate) detail: String,
}

impl AfterRow for VerifyRow {
    fn line(&self) -> u64 {
        self.line
    }

    fn label(&self) -> &'static str {
        self.state.as_str()
    }

    fn is_done(&self) -> bool {
        self.state != State::NotChecked
    }
}

/// The rows verify reads again: those with a device the run recorded.
pub(crate) fn recorded(row: &ResultRow) -> bool {
    matches!(row.outcome, Outcome::Created | Outcome::SkippedExisting) && !row.device_id.is_empty()
}

/// What makes the device PingOne holds now another than the one the row recorded: another
/// type, phone or email. `None` when it is the same (a field PingOne leaves out cannot
/// differ).
pub(crate) fn changed(row: &ResultRow, device: &Device) -> Option<String> {
    let recorded = row.device_type.parse::<DeviceType>().ok();
    if device.device_type.parse::<DeviceType>().ok() != recorded {
        return Some(format!("it is now of type {:?}", device.device_type));
    }
    let uses_phone = recorded.is_some_and(DeviceType::uses_phone);
    let (now, then, what) = if uses_phone {
        (
            device.phone.as_deref().map(comparison_form),
            comparison_form(&row.destination),
            "phone number",
        )
    } else {
        (
            device.email.as_deref().map(str::to_lowercase),
            row.destination.to_lowercase(),
            "email",
        )
    };
    now.filter(|now| *now != then)
        .map(|_| format!("PingOne now holds another {what} for this device"))
}

/// Whole days from PingOne's `createdAt` to now, when it gave one this tool reads.
fn days_since(created_at: Option<&str>) -> Option<u64> {
    let created = humantime::parse_rfc3339_weak(created_at?).ok()?;
    let age = std::time::SystemTime::now().duration_since(created).ok()?;
    Some(age.as_secs() / 86_400)
}

/// verify.csv's row for a result row, before its state is known.
fn base(row: &ResultRow) -> VerifyRow {
    VerifyRow {
        line: row.line,
        user_id: row.user_id.clone(),
        username: row.username.clone(),
        device_type: row.device_type.clone(),
        destination: row.destination.clone(),
        device_id: row.device_id.clone(),
        ..VerifyRow::default()
    }
}

/// A failed read: the row is not checked, or (a stop) not recorded at all.
fn unread(mut out: VerifyRow, error: ApiError) -> Option<VerifyRow> {
    if matches!(error, ApiError::Stopped) {
        return None;
    }
    out.state = State::NotChecked;
    out.detail = format!("PingOne answered {error}");
    Some(out)
}

/// One row's state, read from PingOne; `None` when a stop cut it short.
pub(crate) async fn check(after: &After, row: ResultRow) -> Option<VerifyRow> {
    let mut out = base(&row);
    let (client, retry) = (&after.client, &after.retry);
    let user = row.user_id.as_str();
    let device = match retry.run(|| client.get_device(user, &row.device_id)).await {
        Ok(device) => device,
        Err(e) => return unread(out, e),
    };
    let Some(device) = device else {
        // PingOne answers 404 for the device of a user who is gone too: the switch tells.
        return match retry.run(|| client.mfa_enabled(user)).await {
            Ok(_) => Some(set(
                out,
                State::DeviceGone,
                "PingOne has no device with this ID",
            )),
            Err(ApiError::Status { status: 404, .. }) => Some(set(
                out,
                State::UserGone,
                "PingOne has no user with this ID",
            )),
            Err(e) => unread(out, e),
        };
    };
    if let Some(why) = changed(&row, &device) {
        return Some(set(out, State::DestinationChanged, &why));
    }
    if row.user_mfa_enabled == Some(true) {
        match retry.run(|| client.mfa_enabled(user)).await {
            Ok(true) => {}
            Ok(false) => {
                let why = "the user's MFA is switched off: the device cannot be used";
                return Some(set(out, State::MfaOff, why));
            }
            Err(ApiError::Status { status: 404, .. }) => {
                return Some(set(
                    out,
                    State::UserGone,
                    "PingOne has no user with this ID",
                ))
            }
            Err(e) => return unread(out, e),
        }
    }
    let status = device.status.as_deref().unwrap_or_default();
    if status == "ACTIVATION_REQUIRED" {
        out.state = State::ActivationPending;
        out.detail = match days_since(device.created_at.as_deref()) {
            Some(days) => format!("ACTIVATION_REQUIRED; created {days} days ago"),
            None => "ACTIVATION_REQUIRED; PingOne gave no creation date".into(),
        };
        return Some(out);
    }
    out.state = State::Holds;
    if row.device_status == "ACTIVATION_REQUIRED" && !status.is_empty() {
        out.detail = format!("activated since the run (now {status})");
    }
    Some(out)
}

fn set(mut out: VerifyRow, state: State, detail: &str) -> VerifyRow {
    out.state = state;
    out.detail = detail.to_string();
    out
}

/// The name of verify's CSV in its output directory.
pub(crate) const VERIFY_FILE: &str = "verify.csv";

/// `verify RUN_DIR` from its arguments to its end; `Err` is a refusal before sending.
pub async fn verify(
    args: crate::cli::VerifyArgs,
    stop: std::sync::Arc<crate::stop::Stop>,
) -> Result<super::Ended, super::AfterError> {
    let settings = super::load(&args.after, "verify")?;
    let after = After::start(settings, args.after.run_dir.clone(), stop)?;
    let record = super::record::prove(&after.run_dir, &after.target)?;
    let out = super::output::open_dir(&after.out_dir, VERIFY_FILE, args.after.resume)?;
    let mut sink =
        super::output::Sink::<VerifyRow>::open(&out.dir.join(VERIFY_FILE), args.after.resume)?;
    let recorded_rows =
        record.tallies.count(Outcome::Created) + record.tallies.count(Outcome::SkippedExisting);
    tracing::info!(
        "verifying the {recorded_rows} recorded devices of {} in {}",
        after.run_dir.display(),
        after.target
    );
    let rows = super::record::Rows::open(&after.run_dir)?;
    after
        .each_row(rows, &mut sink, recorded, |row| {
            futures::FutureExt::map(check(&after, row), |r| r.into_iter().collect())
        })
        .await?;
    let counts = sink.finish()?;
    let holds = counts.iter().all(|(label, _)| {
        [State::Holds, State::ActivationPending]
            .iter()
            .any(|s| s.as_str() == *label)
    });
    let mut summary = after.summary("verify", &counts, holds);
    summary.states = Some(super::named(&counts));
    super::finish(&after, &out, summary, "state")
}

/// The days a pending activation's `detail` says it has waited.
pub(crate) fn pending_days(detail: &str) -> Option<u64> {
    detail
        .strip_prefix("ACTIVATION_REQUIRED; created ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}
