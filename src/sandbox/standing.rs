//! `mfa-enroll sandbox`: a standing simulator for rehearsals, which prints how to point the
//! tool at it, serves until Ctrl-C, then prints what it saw.

use super::{Sandbox, SandboxError, SandboxOptions};
use crate::cli::SandboxArgs;
use crate::words::count;

/// `mfa-enroll sandbox`: serve until Ctrl-C, then print the tally.
pub(crate) async fn serve_standing(args: SandboxArgs) -> Result<(), SandboxError> {
    let options = SandboxOptions::from_args(&args)?;
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: the sandbox listens on {}, which is reachable from other machines",
            args.listen
        );
    }
    let sandbox = Sandbox::start(args.listen, options)
        .await
        .map_err(|source| SandboxError::Listen {
            addr: args.listen,
            source,
        })?;
    let secret = sandbox.options().client_secret.expose().to_string();
    // Every live run chooses enable_mfa; a rehearsal does what the migration should.
    println!(
        "PingOne sandbox listening on {addr}; nothing here is real.\n\n\
         Save this as sandbox.toml:\n\n{snippet}\
         enable_mfa = true   # switch each user's MFA on once a device exists; false leaves it\n\n\
         Then run:\n  export {var}={secret}\n  mfa-enroll run samples/enroll.csv --config sandbox.toml --out sandbox-out\n\n\
         Ctrl-C stops the sandbox and prints its tally.",
        addr = sandbox.addr(),
        snippet = sandbox.config_snippet(),
        var = crate::config::ENV_CLIENT_SECRET,
    );
    let _ = tokio::signal::ctrl_c().await;
    let tally = sandbox.tally();
    sandbox.shutdown().await;
    println!(
        "\nsandbox tally: {} ({} token), {} created, {}, {} answered 429 ({} more for the quota), {}, {}, {} set, {} with a device but MFA off, {} ({} refused as too long)",
        count(tally.requests, "request", "requests"),
        tally.token_requests,
        count(tally.devices_created, "device", "devices"),
        count(
            tally.duplicate_devices,
            "duplicate device",
            "duplicate devices"
        ),
        tally.throttled_429,
        tally.quota_429,
        count(
            tally.injected_failures,
            "injected failure",
            "injected failures"
        ),
        count(
            tally.ambiguous_failures,
            "ambiguous failure",
            "ambiguous failures"
        ),
        count(tally.mfa_switch_puts, "MFA switch", "MFA switches"),
        count(tally.users_with_device_mfa_off, "user", "users"),
        count(tally.user_lookups, "users list read", "users list reads"),
        tally.user_lookups_too_long,
    );
    Ok(())
}
