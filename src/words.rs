//! Counts in the sentences the tool writes: `count(1, "row", "rows")` is "1 row", never
//! "1 rows". One helper, used by every message that states a number of something.

use std::fmt::Display;

/// `n` followed by the noun that agrees with it.
pub(crate) fn count<T>(n: T, one: &str, many: &str) -> String
where
    T: Copy + Display + PartialEq + From<u8>,
{
    format!("{n} {}", pick(n, one, many))
}

/// The word that agrees with `n`: `pick(n, "was", "were")`.
pub(crate) fn pick<'a, T>(n: T, one: &'a str, many: &'a str) -> &'a str
where
    T: PartialEq + From<u8>,
{
    if n == T::from(1) {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1u64, "row", "rows"), "1 row");
        assert_eq!(count(0usize, "row", "rows"), "0 rows");
        assert_eq!(count(2u32, "retry", "retries"), "2 retries");
        assert_eq!(pick(1u64, "was", "were"), "was");
        assert_eq!(pick(3u64, "was", "were"), "were");
    }
}
