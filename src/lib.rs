//! mfa-enroll: enroll a whole user base in PingOne MFA in one run.
//!
//! # How the code is laid out
//!
//! Data flows one way, top to bottom; a module uses those below it, never one above:
//!
//! - `commands`: one file per command (`run`, `merge`, `report`, `sandbox`, `completions`
//!   with `man`), each owning its command from parsed arguments to exit code: the logging it
//!   starts, the library call, what it prints. `main.rs` only parses and dispatches; a new
//!   command is a new file there.
//! - `cli` (clap definitions and nothing else) and `config` (file + environment + flags -> one
//!   validated `Settings`; a folder with one file per concern: the TOML schema, secrets, the
//!   connection and its hosts, client authentication, TLS roots, `[enroll]`, `[limits]`, and
//!   loading them as a run does, `config/load.rs`: on a thread, so a signal is heard).
//! - `input`: the input read once (file, pipe or standard input), CSV records with their line
//!   numbers; `input/tracking.rs` watches every byte (hash, line endings, quotes, bounds).
//! - `validate`: record -> `DeviceSpec`, or a row error with a `codes::Code`.
//! - `run`: one run as stages, each a file: `prepare` (output directory, refusals), `survey`
//!   (read and validate the whole input before sending), `execute` (rows to results), `finish`
//!   (summary, exit). Every stage takes one `RunContext` (`run/context.rs`: the settings, the
//!   clock, the rules rows fall back on, the target, the stop flag, the summary as a run
//!   begins it) and what the stage before returned (`run/handoff.rs`), and hands its own
//!   result on; none imports another, nor calls back into `run/mod.rs`.
//! - `dispatch`: the engine: per-user queues, retries, users' MFA switch (`dispatch/mfa.rs`),
//!   and the exactly-once decisions, which are plain functions in `dispatch/decide.rs`. Its
//!   state is split by concern, each part a type with its own lock, and each run mode builds
//!   only its own part (a live run's claims in `dispatch/claims.rs`; an online dry run's
//!   plans in `dispatch/plan.rs`).
//! - `pingone`: the HTTP client: tokens, PingOne's JSON (`pingone/wire.rs`), its errors and
//!   paging; every request passes the throttle of `rate`.
//! - `rate`: rate control that knows nothing of PingOne's client: the throttle every request
//!   passes (`rate/throttle.rs`), the pace it keeps (`rate/pace/`: the grid of turns, what a
//!   429 does, raises), how many requests in flight (`rate/in_flight.rs`), the streak of
//!   failures that stops a run (`rate/health.rs`), and the latency and time in flight of
//!   every request (`rate/latency.rs`, one hook in the client).
//! - `record`: the record on disk and all that writes or reads it: results.csv (one
//!   `ResultRow` per record, made only through `RowResult`'s builder in `record/row.rs`),
//!   errors.csv, summary.json, the run over time (`record/timeline.rs`), the lock on the
//!   output directory, both CSVs put in line order at the end (`record/line_order.rs`), and
//!   what `--resume` and `merge` read back of an output directory (`record/read_back.rs`:
//!   bounded, a torn last row left out).
//! - `present`: what people see of the record, read from it and never read by it:
//!   report.html (`present/report/`: the page's template, its charts, and what to do about
//!   each code), the progress display (it reads the writer's counters), the metrics file and
//!   the end-of-run text (`present/describe.rs`).
//! - `model` (the vocabulary every layer shares), `codes` (every code the tool writes), `stop`
//!   (why a run stops early), `exit` (exit codes, and what a run or merge reports),
//!   `bounded` (every file read from outside, up to its ceiling), `budget` (bytes waiting
//!   between threads, bounded by size), `files` (every file the tool writes: created new,
//!   never through a link, renamed into place), `spill` (pairs of
//!   numbers sorted on disk, part by part: how a pass finds rows that share a key) and
//!   `words` ("1 row", "2 rows": counts in messages).
//! - `shard` (`--shard K/N`: which rows are this process's) and `merge` (the shards'
//!   directories back into one record) sit beside `run`: merge reads what runs wrote, checks
//!   every row of it (`merge/verify.rs`), and ends in `exit` as a run does, without using
//!   the run.
//! - `after`: what follows a run, `verify` (do its records still hold?) and `undo` (delete
//!   exactly the devices it created), beside `run` as `merge` is: each proves a run's
//!   directory as `--resume` does, streams its results.csv, asks PingOne through the client
//!   about each row, and writes its own CSV and summary.json (`after/output.rs`).
//! - `check` (`mfa-enroll check [INPUT]`): the tenant read against the file, a checklist
//!   (`check/tenant.rs` the reads, `check/file.rs` the input read once, `check/messages.rs`
//!   the messages counted against the notification quotas); it uses the client and the
//!   validation, as `run` does, and only an online dry run uses it, for that one count of
//!   messages against quotas (`run/quotas.rs`).
//! - `sandbox`: the PingOne simulator, one file per resource under `sandbox/routes/`, with its
//!   own description of PingOne's JSON (`sandbox/json.rs`), never the client's.
//!
//! Beside the crate, in its Cargo workspace: `tests/` (the integration tests, which run the
//! real binary), `benches/throughput.rs`, and `crates/test-support`, the code they share as a
//! dev-dependency (a scratch workspace, the sandbox's setup, the binary's launcher, the
//! benchmark's cases).
//!
//! # Where to make common changes
//!
//! - **The retry policy**: which answers are retried and which may have been acted on is
//!   `ApiError::is_retryable` / `may_have_acted` in `src/pingone/error.rs`; how long to wait
//!   (backoff, `Retry-After`) is `src/dispatch/retry.rs`; how a 429 slows the whole run is
//!   `src/rate/pace/refusals.rs` (the pause, the cut, the probe; raises are
//!   `src/rate/pace/raises.rs`, and `src/rate/throttle.rs` runs them with real waits); the one
//!   renewal of the token after a 401 is `Client::exchange` in `src/pingone/mod.rs` with
//!   `src/pingone/token.rs`.
//! - **A device type**: add the variant to `DeviceType` in `src/model.rs`; the list of types
//!   that parsing reads is derived from the enum, and every exhaustive match the compiler then
//!   points at (`uses_phone`, `takes_extension`, `daily_message_channel`, `as_str`) is all the
//!   tool needs. The sandbox's own list (`PHONE_TYPES` in `src/sandbox/routes/devices.rs`) and
//!   the tables of the guides in `docs/` describe PingOne and the contract, and change on
//!   purpose, not by the compiler's say.
//! - **An output column**: one file, `src/record/row.rs`. Add a field to `ResultRow` (the
//!   header, the writer, resume's reader and merge follow from it, all by column name), and
//!   fill it in the builder beside it from what the row comes from: the record as read
//!   (`RowResult::from_record`: invalid and not-attempted rows), the validated row
//!   (`from_spec`: every valid row), the device PingOne described (`with_device`) or the
//!   answer that failed the row (`with_answer`). Only a value that none of those holds (one
//!   the engine decides, as it does `attempts`) also needs a `with_*` method here and a call
//!   where the engine knows it (`src/dispatch/`). If the column constrains others (as
//!   `device_id` does `created`), say so in merge's checks, `src/merge/verify.rs`.
//! - **A code**: a variant of `Code` in `src/codes.rs`, spelled once in `Code::as_str`, a
//!   line in the tables of `docs/codes.md` (a unit test checks that the guide names every own
//!   code), and what to do about it in `src/present/report/advice.rs` (the compiler asks; a
//!   unit test checks that the guide's row says the same).
//!
//! # The public surface
//!
//! Everything is `pub(crate)` except what `main.rs`, the integration tests and the bench use:
//! [`cli::Cli`] and [`cli::Command`], [`logging::use_color`] and each command's entry in
//! [`commands`] (`main.rs`); [`run()`] with [`config::Settings`], [`RunError`],
//! [`exit::ExitStatus`] and [`exit::RunReport`], [`stop::Stop`], [`record::line_order`] and
//! [`record::timeline::json_bytes_after`] (the bench); the simulator
//! ([`sandbox::Sandbox`], [`sandbox::SandboxOptions`] with [`sandbox::Storm`], [`sandbox::PolicyRules`],
//! [`sandbox::Directory`], [`sandbox::json::Device`]); and, for
//! tests that drive one layer directly, [`pingone::Client`], [`validate::phone::normalize`]
//! and the types their signatures name. The modules are public so that these paths read as they do inside the
//! crate; a new item starts `pub(crate)`. The module docs are written for the people who
//! work on the crate and link its internals: read them with
//! `cargo doc --document-private-items --open`.

// See the last paragraph above.
#![allow(rustdoc::private_intra_doc_links)]

pub mod after;
pub(crate) mod bounded;
pub(crate) mod budget;
pub mod check;
pub mod cli;
pub mod codes;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod exit;
pub(crate) mod failpoints;
pub(crate) mod files;
pub mod input;
pub mod logging;
pub mod merge;
pub mod model;
pub mod pingone;
pub mod present;
pub(crate) mod rate;
pub mod record;
pub mod run;
pub mod sandbox;
pub mod shard;
pub(crate) mod spill;
pub mod stop;
pub mod validate;
pub(crate) mod words;

pub use exit::{ExitStatus, RunReport};
pub use run::{run, RunError};
