//! mfa-enroll: enroll a whole user base in PingOne MFA in one run.
//!
//! The pipeline, top to bottom: [`config`] turns the file, environment and flags into one
//! validated [`config::Settings`]; [`input`] streams CSV records with their line numbers;
//! [`validate`] turns each record into a [`validate::DeviceSpec`] or a row error with a stable
//! code; [`dispatch`] sends the specs to PingOne through [`pingone`] under one rate limit, in
//! file order per user, with retries that never create a device twice; [`output`] writes
//! results.csv, errors.csv and summary.json as rows complete. [`sandbox`] is a PingOne simulator
//! for rehearsals and for this crate's own tests. [`run`] wires these together for `main.rs`.

pub mod cli;
pub mod codes;
pub mod config;
pub mod dispatch;
pub mod input;
pub mod logging;
pub mod model;
pub mod output;
pub mod pingone;
pub mod run;
pub mod sandbox;
pub mod stop;
pub mod validate;

pub use run::{run, ExitStatus, RunError, RunReport};
