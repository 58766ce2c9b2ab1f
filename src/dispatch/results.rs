//! The results.csv rows the engine writes for valid rows: each function says what the row's
//! outcome needs, so every outcome is built one way, and all through [`RowResult`]'s builder.

use super::decide;
use super::Job;
use crate::codes::Code;
use crate::pingone::wire::Device;
use crate::pingone::ApiError;
use crate::record::{Outcome, RowResult};

/// The job's row, with its identity filled in and nothing else.
pub(crate) fn base(job: &Job, user_id: &str, outcome: Outcome) -> RowResult {
    let r = RowResult::from_spec(job.line, job.raw.clone(), &job.spec, user_id, outcome);
    match &job.owed_before {
        // The devices an earlier run removed for this row stay on its record.
        Some(earlier) => r.with_removed_before(earlier),
        None => r,
    }
}

/// A row whose device exists: `device` is on the server, as PingOne described it.
pub(crate) fn with_device(
    job: &Job,
    user_id: &str,
    outcome: Outcome,
    device: &Device,
) -> RowResult {
    base(job, user_id, outcome).with_device(device, job.spec.status)
}

/// A row that failed with `error` after `attempts` POSTs, nothing created.
pub(crate) fn failed(
    job: &Job,
    user_id: &str,
    error: &ApiError,
    attempts: u32,
    retries_allowed: usize,
) -> RowResult {
    let (code, message) = decide::failure(error, user_id, retries_allowed);
    base(job, user_id, Outcome::Failed)
        .with_answer(error)
        .with_attempts(attempts)
        .with_error(code, message)
}

/// A row whose POSTs PingOne refused in a way a retry may mend (a 429, a connection that
/// failed), when the run stopped before the next try: nothing was created.
pub(crate) fn stopped_after(
    job: &Job,
    user_id: &str,
    last_answer: &ApiError,
    attempts: u32,
) -> RowResult {
    let (code, message) = decide::stopped_after(last_answer);
    base(job, user_id, Outcome::Failed)
        .with_http_status(last_answer.http_status())
        .with_attempts(attempts)
        .with_error(code, message)
}

/// A row the run stopped before reaching. One that an earlier run marked UNCONFIRMED stays
/// so: its device may exist, and only a read can tell. One marked MFA_NOT_ENABLED stays so
/// too: its device exists, and only its user's switch is left to do.
pub(crate) fn not_attempted(job: &Job, user_id: &str) -> RowResult {
    if let Some(earlier) = &job.owed_before {
        return RowResult::as_before(earlier, job.raw.clone());
    }
    if job.spec.unconfirmed_before {
        return still_unconfirmed(job, user_id, &ApiError::Stopped);
    }
    if job.spec.created_before {
        return base(job, user_id, Outcome::Failed).with_error(
            Code::MfaNotEnabled,
            "the run stopped before this row was sent; an earlier run created its device, and the user's MFA is still to be switched on: feed this errors.csv back with --enable-mfa",
        );
    }
    failed(job, user_id, &ApiError::Stopped, 0, 0)
}

/// A row whose device an earlier attempt may have made, when this run could not read the
/// user's devices either: nothing is known, so it stays UNCONFIRMED.
pub(crate) fn still_unconfirmed(job: &Job, user_id: &str, error: &ApiError) -> RowResult {
    base(job, user_id, Outcome::Failed).with_error(
        Code::Unconfirmed,
        format!("an earlier attempt may have created this device, and the user's devices could not be read ({error}); --resume (or this errors.csv fed back) reads them before sending"),
    )
}

/// A row naming, another way, a device that `first` already created in this run.
pub(crate) fn duplicate_of(job: &Job, user_id: &str, first: u64) -> RowResult {
    base(job, user_id, Outcome::Invalid).with_error(
        Code::DuplicateRow,
        format!("line {first} already created this device for the same user (named another way); remove this row"),
    )
}
