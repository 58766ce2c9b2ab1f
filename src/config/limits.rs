//! `[limits]` and the flags that override it -> [`Limits`]: rate, concurrency (a number, or
//! `"auto"`, [`Concurrency`]), retries, timeouts, backoff and when to stop; every value
//! checked against its range.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::cli::RunArgs;

use super::concurrency::{parse_concurrency, Concurrency};
use super::file::FileLimits;
use super::ConfigError;

#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) rate: u32,
    pub(crate) concurrency: Concurrency,
    pub(crate) max_retries: usize,
    pub(crate) timeout: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    /// Stop the run (exit 3) when this many requests in a row failed for the same
    /// server-side reason, so a resume can pick up later instead of burning through the file.
    pub(crate) stop_after_failures: u32,
    /// How long PingOne's device list may take to show a device just created: after a POST
    /// whose answer was unclear, the list is read over this window before the row is called
    /// `UNCONFIRMED` (PingOne is eventually consistent; see docs/configuration.md).
    pub(crate) list_lag: Duration,
    /// How long a user PingOne answers 404 for is asked again before the row is
    /// `USER_NOT_FOUND`: a user imported moments ago may not be visible yet (PingOne is
    /// eventually consistent). Zero: no second ask.
    pub(crate) user_not_found_grace: Duration,
}

impl Default for Limits {
    /// The defaults config.example.toml documents (a test holds them together).
    fn default() -> Self {
        Self {
            rate: 50,
            concurrency: Concurrency::Auto,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            backoff_initial: Duration::from_millis(1000),
            backoff_max: Duration::from_secs(30),
            stop_after_failures: 30,
            list_lag: Duration::from_secs(10),
            user_not_found_grace: Duration::from_secs(5),
        }
    }
}

impl Limits {
    /// The least time one request's retries take (`backoff_initial_ms` doubling up to
    /// `backoff_max_s`, `max_retries` times; jitter only adds): a run does not call a failure
    /// streak shorter than this repeated failures, since each row would still be riding it out.
    pub(crate) fn backoff_floor(&self) -> Duration {
        (0..self.max_retries)
            .map(|i| {
                let doubled = self.backoff_initial.saturating_mul(1 << i.min(30));
                doubled.min(self.backoff_max)
            })
            .sum()
    }
}

/// `--concurrency` wins over the file; the file's value was checked as it was read.
fn concurrency(flag: Option<&str>, file: Option<Concurrency>) -> Result<Concurrency, ConfigError> {
    match flag {
        Some(text) => parse_concurrency(text).ok_or_else(|| {
            ConfigError::new(
                "command line",
                "--concurrency",
                format!("{text:?} is neither auto nor a whole number from 1 to 1024"),
            )
        }),
        None => Ok(file.unwrap_or(Concurrency::Auto)),
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
    let keys: [LimitKey; 8] = [
        ("rate", args.rate.map(i64::from), file.rate, d.rate.into(), 1..=1_000_000),
        ("max_retries", flag(args.max_retries), file.max_retries, d.max_retries as i64, 0..=20),
        ("timeout_s", None, file.timeout_s, secs(d.timeout), 1..=600),
        ("backoff_initial_ms", None, file.backoff_initial_ms, d.backoff_initial.as_millis() as i64, 1..=60_000),
        ("backoff_max_s", None, file.backoff_max_s, secs(d.backoff_max), 1..=600),
        ("stop_after_failures", None, file.stop_after_failures, d.stop_after_failures.into(), 1..=100_000),
        ("list_lag_s", None, file.list_lag_s, secs(d.list_lag), 0..=300),
        ("user_not_found_grace_s", None, file.user_not_found_grace_s, secs(d.user_not_found_grace), 0..=300),
    ];
    let mut values = [0i64; 8];
    for (value, (name, flag, file, default, range)) in values.iter_mut().zip(keys) {
        *value = bounded(origin, name, flag, file, default, range)?;
    }
    let [rate, max_retries, timeout_s, initial_ms, backoff_max_s, stop_after, list_lag_s, grace_s] =
        values;
    // Every value was checked against a range that fits its type.
    Ok(Limits {
        rate: rate as u32,
        concurrency: concurrency(args.concurrency.as_deref(), file.concurrency)?,
        max_retries: max_retries as usize,
        timeout: Duration::from_secs(timeout_s as u64),
        backoff_initial: Duration::from_millis(initial_ms as u64),
        backoff_max: Duration::from_secs(backoff_max_s as u64),
        stop_after_failures: stop_after as u32,
        list_lag: Duration::from_secs(list_lag_s as u64),
        user_not_found_grace: Duration::from_secs(grace_s as u64),
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
        assert_eq!(s.limits.list_lag, d.list_lag);
        assert_eq!(s.limits.user_not_found_grace, d.user_not_found_grace);
    }

    #[test]
    fn out_of_range_limit_names_key_and_range() {
        let cfg = write_config("[limits]\nmax_retries = 21\n");
        let err = Settings::load(
            &args(&["--config", cfg.path().to_str().unwrap(), "--dry-run"]),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(err.key, "[limits] max_retries");
        assert!(err.problem.contains("0 to 20"));
    }

    #[test]
    fn concurrency_is_auto_by_default_a_number_pins_it_and_anything_else_is_named() {
        let load = |text: &str, extra: &[&str]| {
            let cfg = write_config(text);
            let mut argv = vec!["--config", cfg.path().to_str().unwrap(), "--dry-run"];
            argv.extend_from_slice(extra);
            Settings::load(&args(&argv), &|_| None).map(|s| s.limits.concurrency)
        };
        assert_eq!(load("", &[]).unwrap(), Concurrency::Auto);
        let pinned = "[limits]\nconcurrency = 12\n";
        assert_eq!(load(pinned, &[]).unwrap(), Concurrency::Pinned(12));
        let auto = "[limits]\nconcurrency = \"auto\"\n";
        assert_eq!(load(auto, &[]).unwrap(), Concurrency::Auto);
        assert_eq!(
            load(auto, &["--concurrency", "3"]).unwrap(),
            Concurrency::Pinned(3)
        );
        assert_eq!(
            load(pinned, &["--concurrency", "auto"]).unwrap(),
            Concurrency::Auto
        );
        for (text, flag, key) in [
            ("[limits]\nconcurrency = 0\n", None, "[limits] concurrency"),
            (
                "[limits]\nconcurrency = \"fast\"\n",
                None,
                "[limits] concurrency",
            ),
            (
                "[limits]\nconcurrency = 1025\n",
                None,
                "[limits] concurrency",
            ),
            ("", Some("many"), "--concurrency"),
            ("", Some("0"), "--concurrency"),
        ] {
            let extra: Vec<&str> = flag.map(|f| vec!["--concurrency", f]).unwrap_or_default();
            let err = load(text, &extra).unwrap_err();
            assert_eq!(err.key, key, "{text} {flag:?}");
            assert!(
                err.problem.contains("1 to 1024") && err.problem.contains("auto"),
                "{}",
                err.problem
            );
        }
    }

    #[test]
    fn the_backoff_floor_is_the_doubling_schedule_without_jitter() {
        let limits = Limits::default();
        // 1 + 2 + 4 + 8 + 16 seconds.
        assert_eq!(limits.backoff_floor(), Duration::from_secs(31));
        let capped = Limits {
            backoff_max: Duration::from_secs(5),
            ..Limits::default()
        };
        assert_eq!(
            capped.backoff_floor(),
            Duration::from_secs(1 + 2 + 4 + 5 + 5)
        );
        let none = Limits {
            max_retries: 0,
            ..Limits::default()
        };
        assert_eq!(none.backoff_floor(), Duration::ZERO);
    }
}
