//! One run, start to finish, as named stages, each in its own file:
//!
//! 1. `prepare`: open the input (its header is checked before any output directory
//!    exists; a fifo with no writer yet waits on a thread, so a signal is heard), then the
//!    output directory: lock it, read an earlier run, refuse what would overwrite a record
//!    or resume against another target.
//! 2. `survey`: read the whole input once (validating it when the run sends), copying it into
//!    a spool, so a pipe or standard input works, and finding which lines may repeat
//!    another; refuse before sending when the input differs from a resumed run's or would
//!    message users without permission.
//! 3. `execute`: a live run without permission to message users first reads the policies
//!    the rows name and refuses when PingOne may send new-device notices (`notices.rs`);
//!    then stream the rows through the engine (or, offline, straight to the results),
//!    recording every row; an online dry run then counts the file's messages against the
//!    daily quotas (`quotas.rs`).
//! 4. `finish`: the summary, the exit status, the final log lines.
//!
//! Every refusal before sending is a [`RunError`] (exit 2); a stop at any stage is exit 3.
//!
//! Stages go one way: each takes what the one before returned (the types in `handoff`) and
//! hands its own result on; none imports another. What every stage shares (the settings,
//! the clock, the rules rows fall back on, the target, the stop flag, the summary as sending
//! begins) is one [`RunContext`] (`context.rs`), the first argument of every stage;
//! `error.rs` holds [`RunError`], `signals.rs` Ctrl-C and SIGTERM. This file only puts the
//! stages in order.

mod context;
mod error;
mod execute;
mod finish;
mod handoff;
mod notices;
mod prepare;
mod quotas;
mod signals;
mod survey;

use std::sync::Arc;

pub use error::RunError;
pub(crate) use signals::install_signal_handlers;

use crate::config::Settings;
use crate::exit::{ExitStatus, RunReport};
use crate::present::report;
use crate::record::summary::now_rfc3339;
use crate::record::SUMMARY_FILE;
use crate::stop::Stop;
use context::RunContext;
use handoff::{InputFacts, OutputDir, Surveyed};

/// One run, its stages in order. `Err` is a refusal before anything was sent (exit 2);
/// every other end, a stop included, is a [`RunReport`].
pub async fn run(settings: Settings, stop: Arc<Stop>) -> Result<RunReport, RunError> {
    let ctx = RunContext::start(settings, stop);
    // The input first: a bad header must not leave an output directory behind.
    let Some(input) = prepare::input(&ctx).await? else {
        let out = prepare::output_dir(&ctx)?;
        return finish::stopped_before_sending(&ctx, &out);
    };
    ctx.announce();
    let out = prepare::output_dir(&ctx)?;
    let refused = |error: RunError| {
        report_refusal(&ctx, &out, &error);
        error
    };
    let (rows, facts) = match survey::survey(&ctx, input, &out).map_err(refused)? {
        Surveyed::Whole { rows, facts } => (rows, *facts),
        Surveyed::Stopped => return finish::stopped_before_sending(&ctx, &out),
    };
    let executed = execute::execute(&ctx, &out, rows, &facts)
        .await
        .map_err(refused)?;
    finish::finish(&ctx, out, executed).await
}

/// A refusal once `--out` exists leaves a report that says why nothing was sent, unless the
/// directory holds an earlier run's record (its report stays that run's).
fn report_refusal(ctx: &RunContext, out: &OutputDir, error: &RunError) {
    if out.dir.join(SUMMARY_FILE).exists() || out.has_results {
        return;
    }
    let mut summary = ctx.initial_summary(out, &InputFacts::default());
    summary.finished_at = Some(now_rfc3339());
    summary.duration_s = ctx.clock.started.elapsed().as_secs_f64();
    summary.exit_code = Some(ExitStatus::NothingSent.code());
    let message = crate::logging::mask_text(&error.to_string());
    if let Err(e) = report::write_refusal(&out.dir, &summary, &message) {
        tracing::warn!("cannot write the report: {e}");
    }
}
