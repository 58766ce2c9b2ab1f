//! Counts in the sentences the tool writes: `count(1, "row", "rows")` is "1 row", never
//! "1 rows", and `first_lines` is "line 4" or "lines 4, 9, ...". One place, used by every
//! message that states a number of something.

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

/// The first lines of `rows` rows: "line 4", or "lines 4, 9, 17, ..." when more rows than
/// the lines shown have it.
pub(crate) fn first_lines(rows: u64, shown: &[u64]) -> String {
    let mut lines: Vec<String> = shown.iter().map(u64::to_string).collect();
    if rows > shown.len() as u64 {
        lines.push("...".into());
    }
    format!("{} {}", pick(rows, "line", "lines"), lines.join(", "))
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
        assert_eq!(first_lines(1, &[4]), "line 4");
        assert_eq!(first_lines(3, &[4, 9]), "lines 4, 9, ...");
    }
}
