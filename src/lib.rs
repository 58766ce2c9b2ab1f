//! mfa-enroll: enroll a whole user base in PingOne MFA in one run.
//!
//! # How the code is laid out
//!
//! Data flows one way, top to bottom:
//!
//! - [`cli`] (clap definitions) and [`config`] (file + environment + flags -> one validated
//!   [`config::Settings`]).
//! - [`input`]: the input read once (file, pipe or standard input), CSV records with their
//!   line numbers; [`input::tracking`] watches every byte (hash, line endings, quotes, bounds).
//! - [`validate`]: record -> [`validate::DeviceSpec`] or a row error with a [`codes::Code`].
//! - [`mod@run`]: one run as stages: `prepare` (output directory, refusals), `survey` (validate
//!   the whole input before sending), `execute` (rows to results), `finish` (summary, exit).
//! - [`dispatch`]: the engine: per-user queues, retries, and the exactly-once decisions, which
//!   are plain functions in `dispatch/decide.rs`.
//! - [`pingone`]: the HTTP client: tokens, throttle, PingOne's JSON ([`pingone::wire`]).
//! - [`output`]: results.csv ([`output::ResultRow`]), errors.csv, summary.json, progress.
//! - [`sandbox`]: the PingOne simulator, with its own description of PingOne's JSON.
//! - [`shard`] (`--shard K/N`: which rows are this process's) and [`merge`] (the shards'
//!   directories back into one record) sit beside the run.
//!
//! Where to make three common changes:
//!
//! - **The retry policy**: which answers are retried and which may have been acted on is
//!   `ApiError::is_retryable` / `may_have_acted` in `src/pingone/error.rs`; how long to wait
//!   (backoff, `Retry-After`) is `src/dispatch/retry.rs`.
//! - **A device type**: add the variant to `DeviceType` in `src/model.rs`; every exhaustive
//!   match the compiler then points at (`uses_phone`, `takes_extension`,
//!   `daily_message_channel`, `as_str`) is all the tool needs. The sandbox's own list
//!   (`PHONE_TYPES` in `src/sandbox/routes/devices.rs`) and README's tables describe PingOne and the
//!   contract, and change on purpose, not by the compiler's say.
//! - **An output column**: add a field to `ResultRow` in `src/output/mod.rs` (the header, the
//!   writer and resume's reader follow from it), and fill it where rows are built:
//!   `src/dispatch/results.rs` for valid rows, `src/run/execute.rs` for rows that never
//!   reached the engine.

pub mod cli;
pub mod codes;
pub mod config;
pub mod dispatch;
pub mod exit;
pub mod input;
pub mod logging;
pub mod merge;
pub mod model;
pub mod output;
pub mod pingone;
pub mod run;
pub mod sandbox;
pub mod shard;
pub mod stop;
pub mod validate;

pub use run::{run, ExitStatus, RunError, RunReport};
