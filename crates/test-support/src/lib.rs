//! What the tests and the benchmark of mfa-enroll share, as a crate they depend on like any
//! other (a dev-dependency of the `mfa-enroll` package): a workspace of scratch files, a
//! sandbox on loopback, the real binary run against it, a stand-in for answers the sandbox
//! never gives, and the benchmark's cases (`bench`), which CI's smoke test runs too.
//!
//! `cargo test` at the repository's root runs the root package's tests only; this crate
//! holds none of its own (`tests/it/layout.rs` checks), so none is left unrun.

pub mod bench;
pub mod launch;
mod run;
mod stub;
mod workspace;

pub use launch::bin;
pub use run::*;
pub use stub::*;
pub use workspace::*;
