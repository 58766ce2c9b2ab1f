//! `[limits] concurrency` and `--concurrency` -> [`Concurrency`]: `"auto"` (the run keeps in
//! flight what its pace needs at the latency it measures, within [`AUTO_FEWEST`] and
//! [`AUTO_MOST`]) or a number that pins it. Read by the config file's schema and by the
//! limits, so it is neither's.

use std::fmt;
use std::ops::RangeInclusive;

/// The fewest and the most requests `concurrency = "auto"` keeps in flight.
pub(crate) const AUTO_FEWEST: usize = 3;
pub(crate) const AUTO_MOST: usize = 256;
/// `concurrency = "auto"`: the margin over Little's law (rate x latency) for latency that
/// varies, and the places beyond it (requests waiting for their turn hold one). The rule
/// lives here, beside its bounds, so the log line that states it is the rule the run keeps.
pub(crate) const AUTO_HEADROOM: f64 = 1.5;
pub(crate) const AUTO_SPARE: usize = 2;
const PINNED: RangeInclusive<i64> = 1..=1024;

/// `[limits] concurrency`: requests in flight, chosen by the run from the latency it measures
/// (`"auto"`, the default) or pinned to a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Concurrency {
    #[default]
    Auto,
    Pinned(usize),
}

impl Concurrency {
    /// The most requests this setting can ever have in flight.
    pub(crate) fn most(self) -> usize {
        match self {
            Concurrency::Auto => AUTO_MOST,
            Concurrency::Pinned(n) => n,
        }
    }
}

impl Concurrency {
    /// For the log line that opens a run: the setting and, for auto, its rule and bounds,
    /// in the words of config.example.toml and docs/rate-limits.md.
    pub(crate) fn explained(self) -> String {
        match self {
            Concurrency::Auto => format!(
                "auto (rate x latency x {AUTO_HEADROOM}, plus {AUTO_SPARE}, from {AUTO_FEWEST} \
                 to {AUTO_MOST} in flight)"
            ),
            Concurrency::Pinned(n) => n.to_string(),
        }
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Auto => f.write_str("auto"),
            Concurrency::Pinned(n) => write!(f, "{n}"),
        }
    }
}

/// In summary.json as in the config: `"auto"` or a number (older summaries hold a number).
impl serde::Serialize for Concurrency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Concurrency::Auto => serializer.serialize_str("auto"),
            Concurrency::Pinned(n) => serializer.serialize_u64(*n as u64),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl serde::de::Visitor<'_> for Either {
            type Value = Concurrency;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number from 1 to 1024, or \"auto\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Concurrency, E> {
                match usize::try_from(n) {
                    Ok(n) if PINNED.contains(&(n as i64)) => Ok(Concurrency::Pinned(n)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(n), &self)),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Concurrency, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(n), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Concurrency, E> {
                parse_concurrency(text)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_any(Either)
    }
}

/// `auto` or a whole number in range, as `--concurrency` and the config spell it.
pub(super) fn parse_concurrency(text: &str) -> Option<Concurrency> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("auto") {
        return Some(Concurrency::Auto);
    }
    let n: i64 = text.parse().ok()?;
    PINNED
        .contains(&n)
        .then_some(Concurrency::Pinned(n as usize))
}
