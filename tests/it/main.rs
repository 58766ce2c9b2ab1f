//! The integration tests, one module per subject, built as one test binary: cargo compiles
//! and links them once instead of once per file. They drive the real binary
//! (`mfa_enroll_test_support::bin()`) or the real pipeline against a server on 127.0.0.1,
//! with what crates/test-support shares with `tests/rate_limits.rs` and the benchmark.
//! `cargo test` runs them all; `cargo test --test it tokens::` runs one subject.
//!
//! The rate-limit promises are not here: they judge arrival times, so they run alone in a
//! binary of their own (`tests/rate_limits.rs`), not beside other tests' processes.

mod auth;
mod batches;
mod bench_smoke;
mod ceilings;
mod check;
mod ci;
mod codes;
mod completions;
mod deploy;
mod deploy_steps;
mod docs;
mod dry_run;
mod dry_run_quotas;
mod environment_flag;
mod error_bodies;
mod exactly_once;
mod failpoints;
mod flags;
mod hostile;
mod inputs;
mod install;
mod late_users;
mod layout;
mod line_endings;
mod links;
mod logs;
mod merge_checks;
mod messages;
mod mfa_switch;
mod nightly;
mod notices;
mod outputs;
mod pairing_messages;
mod pipeline;
mod policies;
mod precheck;
mod progress;
mod properties;
mod quota;
mod refusals;
mod replace;
mod report;
mod requests;
mod resume_proof;
mod retries;
mod sandbox;
mod shards;
mod signals;
mod stop_at_scale;
mod switch_order;
mod tenant;
mod tenant_configuration;
mod terminal;
mod throttled;
mod tidy_ends;
mod tokens;
mod true_records;
mod truthful;
mod undo;
mod unreachable;
mod verify;
mod worker_app;
