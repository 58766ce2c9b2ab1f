//! mfa-enroll: enroll a whole user base in PingOne MFA in one run.
//!
//! # How the code is laid out
//!
//! Data flows one way, top to bottom; a module uses those below it, never one above:
//!
//! - `cli` (clap definitions and nothing else) and `config` (file + environment + flags -> one
//!   validated `Settings`; a folder with one file per concern: the TOML schema, secrets, the
//!   connection and its hosts, client authentication, TLS roots, `[enroll]`, `[limits]`).
//! - `input`: the input read once (file, pipe or standard input), CSV records with their line
//!   numbers; `input/tracking.rs` watches every byte (hash, line endings, quotes, bounds).
//! - `validate`: record -> `DeviceSpec`, or a row error with a `codes::Code`.
//! - `run`: one run as stages, each a file: `prepare` (output directory, refusals), `survey`
//!   (read and validate the whole input before sending), `execute` (rows to results), `finish`
//!   (summary, exit). A stage takes what the one before returned (`run/handoff.rs`) and hands
//!   its own result on; none imports another.
//! - `dispatch`: the engine: per-user queues, retries, users' MFA switch (`dispatch/mfa.rs`),
//!   and the exactly-once decisions, which are plain functions in `dispatch/decide.rs`.
//! - `pingone`: the HTTP client: tokens, throttle, PingOne's JSON (`pingone/wire.rs`), and
//!   the latency and time in flight of every request (`pingone/latency.rs`, one hook).
//! - `output`: results.csv (`ResultRow`), errors.csv, summary.json, the metrics file, the
//!   end-of-run text, progress, the run over time (`output/timeline.rs`), both CSVs put in
//!   line order at the end (`output/line_order.rs`), and report.html (`output/report/`: the
//!   page's template, its charts, and what to do about each code); and what `--resume` and
//!   `merge` read back of an output directory (`output/read_back.rs`: bounded, a torn last
//!   row left out).
//! - `model` (the vocabulary every layer shares), `codes` (every code the tool writes), `stop`
//!   (why a run stops early), `exit` (exit codes, and what a run or merge reports),
//!   `bounded` (every file read from outside, up to its ceiling), `spill` (pairs of
//!   numbers sorted on disk, part by part: how a pass finds rows that share a key) and
//!   `words` ("1 row", "2 rows": counts in messages).
//! - `shard` (`--shard K/N`: which rows are this process's) and `merge` (the shards'
//!   directories back into one record) sit beside `run`: merge reads what runs wrote, checks
//!   every row of it (`merge/verify.rs`), and ends in `exit` as a run does, without using
//!   the run.
//! - `sandbox`: the PingOne simulator, one file per resource under `sandbox/routes/`, with its
//!   own description of PingOne's JSON (`sandbox/json.rs`), never the client's.
//!
//! # Where to make common changes
//!
//! - **The retry policy**: which answers are retried and which may have been acted on is
//!   `ApiError::is_retryable` / `may_have_acted` in `src/pingone/error.rs`; how long to wait
//!   (backoff, `Retry-After`) is `src/dispatch/retry.rs`; how a 429 slows the whole run is
//!   `src/pingone/throttle.rs`; the one renewal of the token after a 401 is
//!   `Client::exchange` in `src/pingone/mod.rs` with `src/pingone/token.rs`.
//! - **A device type**: add the variant to `DeviceType` in `src/model.rs`; the list of types
//!   that parsing reads is derived from the enum, and every exhaustive match the compiler then
//!   points at (`uses_phone`, `takes_extension`, `daily_message_channel`, `as_str`) is all the
//!   tool needs. The sandbox's own list (`PHONE_TYPES` in `src/sandbox/routes/devices.rs`) and
//!   README's tables describe PingOne and the contract, and change on purpose, not by the
//!   compiler's say.
//! - **An output column**: add a field to `ResultRow` in `src/output/mod.rs` (the header, the
//!   writer, resume's reader and merge follow from it, all by column name), and fill it where
//!   rows are built: `src/dispatch/results.rs` (every valid row's builder),
//!   `src/dispatch/enroll.rs` (what a POST adds: `http_status`, `attempts`, messages),
//!   `src/dispatch/plan.rs` (online dry runs), and `src/run/execute.rs` for rows that never
//!   reached the engine (invalid, not attempted). If the column constrains others (as
//!   `device_id` does `created`), say so in merge's checks, `src/merge/verify.rs`.
//! - **A code**: a variant of `Code` in `src/codes.rs`, spelled once in `Code::as_str`, a
//!   line in README's tables (a unit test checks that README names every own code), and
//!   what to do about it in `src/output/report/advice.rs` (the compiler asks; a unit test
//!   checks that README's row says the same).
//!
//! # The public surface
//!
//! Everything is `pub(crate)` except what `main.rs`, the integration tests and the bench use:
//! [`run()`] with [`config::Settings`] (from [`cli::Cli`] and [`config::process_env`]),
//! [`merge::merge`], [`exit::ExitStatus`] and [`exit::RunReport`], [`stop::Stop`],
//! [`output::describe::describe`], [`output::describe::outcome_line`],
//! [`output::metrics::write_refusal`] and [`output::report::rewrite`] (`mfa-enroll report
//! DIR`), [`output::line_order`] and [`output::timeline::json_bytes_after`] (the bench),
//! [`cli::completion_script`] and [`cli::man_page`], [`logging::init`],
//! [`logging::use_color`], [`logging::error_label`], [`run::install_signal_handlers`] and
//! [`run::load_settings`]; the simulator
//! ([`sandbox::Sandbox`], [`sandbox::SandboxOptions`] with [`sandbox::Storm`], [`sandbox::PolicyRules`],
//! [`sandbox::Directory`], [`sandbox::json::Device`], [`sandbox::serve_standing`]); and, for
//! tests that drive one layer directly, [`pingone::Client`], [`validate::phone::normalize`]
//! and the types their signatures name. The modules are public so that these paths read as they do inside the
//! crate; a new item starts `pub(crate)`. The module docs are written for the people who
//! work on the crate and link its internals: read them with
//! `cargo doc --document-private-items --open`.

// See the last paragraph above.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod bounded;
pub mod cli;
pub mod codes;
pub mod config;
pub mod dispatch;
pub mod exit;
pub(crate) mod failpoints;
pub mod input;
pub mod logging;
pub mod merge;
pub mod model;
pub mod output;
pub mod pingone;
pub mod run;
pub mod sandbox;
pub mod shard;
pub(crate) mod spill;
pub mod stop;
pub mod validate;
pub(crate) mod words;

pub use exit::{ExitStatus, RunReport};
pub use run::{run, RunError};
