//! `[limits]` and the flags that override it -> [`Limits`]: rate, concurrency, retries,
//! timeouts, backoff and when to stop; every value checked against its range.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::cli::RunArgs;

use super::file::FileLimits;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) rate: u32,
    pub(crate) concurrency: usize,
    pub(crate) max_retries: usize,
    pub(crate) timeout: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    /// Stop the run (exit 3) when this many requests in a row failed for the same
    /// server-side reason, so a resume can pick up later instead of burning through the file.
    pub(crate) stop_after_failures: u32,
}

impl Default for Limits {
    /// The defaults config.example.toml documents (a test holds them together).
    fn default() -> Self {
        Self {
            rate: 50,
            concurrency: 8,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(1000),
            backoff_max: Duration::from_secs(30),
            stop_after_failures: 30,
        }
    }
}

fn bounded(
    origin: &str,
    key: &str,
    flag: Option<i64>,
    file: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let (value, origin, key) = match (flag, file) {
        (Some(v), _) => (
            v,
            "command line".to_string(),
            format!("--{}", key.replace('_', "-")),
        ),
        (None, Some(v)) => (v, origin.to_string(), format!("[limits] {key}")),
        (None, None) => return Ok(default),
    };
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            origin,
            key,
            format!(
                "{value} is out of range; use a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A `[limits]` key: its name, the flag's value, the file's, the default, the allowed range.
type LimitKey<'a> = (&'a str, Option<i64>, Option<i64>, i64, RangeInclusive<i64>);

pub(super) fn limits(
    file: &FileLimits,
    args: &RunArgs,
    origin: &str,
) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let flag = |v: Option<usize>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let secs = |t: Duration| t.as_secs() as i64;
    // (key, flag, file, default, allowed): the flag wins, then the file, then the default.
    #[rustfmt::skip]
    let keys: [LimitKey; 7] = [
        ("rate", args.rate.map(i64::from), file.rate, d.rate.into(), 1..=1_000_000),
        ("concurrency", flag(args.concurrency), file.concurrency, d.concurrency as i64, 1..=1024),
        ("max_retries", flag(args.max_retries), file.max_retries, d.max_retries as i64, 0..=20),
        ("timeout_s", None, file.timeout_s, secs(d.timeout), 1..=600),
        ("backoff_initial_ms", None, file.backoff_initial_ms, d.backoff_initial.as_millis() as i64, 1..=60_000),
        ("backoff_max_s", None, file.backoff_max_s, secs(d.backoff_max), 1..=600),
        ("stop_after_failures", None, file.stop_after_failures, d.stop_after_failures.into(), 1..=100_000),
    ];
    let mut values = [0i64; 7];
    for (value, (name, flag, file, default, range)) in values.iter_mut().zip(keys) {
        *value = bounded(origin, name, flag, file, default, range)?;
    }
    let [rate, concurrency, max_retries, timeout_s, initial_ms, backoff_max_s, stop_after] = values;
    // Every value was checked against a range that fits its type.
    Ok(Limits {
        rate: rate as u32,
        concurrency: concurrency as usize,
        max_retries: max_retries as usize,
        timeout: Duration::from_secs(timeout_s as u64),
        backoff_initial: Duration::from_millis(initial_ms as u64),
        backoff_max: Duration::from_secs(backoff_max_s as u64),
        stop_after_failures: stop_after as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{args, write_config};
    use crate::config::Settings;

    #[test]
    fn no_keys_give_limits_default() {
        let cfg = write_config("");
        let path = cfg.path().to_str().unwrap();
        let s = Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap();
        let d = Limits::default();
        assert_eq!(
            (s.limits.rate, s.limits.concurrency, s.limits.max_retries),
            (d.rate, d.concurrency, d.max_retries)
        );
        assert_eq!(
            (
                s.limits.timeout,
                s.limits.backoff_initial,
                s.limits.backoff_max
            ),
            (d.timeout, d.backoff_initial, d.backoff_max)
        );
        assert_eq!(s.limits.stop_after_failures, d.stop_after_failures);
    }

    #[test]
    fn out_of_range_limit_names_key_and_range() {
        let cfg = write_config("[limits]\nconcurrency = 0\n");
        let err = Settings::load(
            &args(&["--config", cfg.path().to_str().unwrap(), "--dry-run"]),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.key, "[limits] concurrency");
        assert!(err.problem.contains("1 to 1024"));
    }
}
