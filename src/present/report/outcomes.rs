//! The outcomes as the report shows them: done before problems, each with its label and its
//! colour (a CSS class), read from summary.json's names. The look of each is an exhaustive
//! match, so a new outcome cannot be left out of the report.

use std::collections::BTreeMap;

use strum::VariantArray;

use crate::record::{Counted, Outcome};

/// Where the outcome stands in the report, its label and its colour.
fn look(counted: Counted) -> (u8, &'static str, &'static str) {
    match counted {
        Counted::Outcome(Outcome::Created) => (0, "created", "ok"),
        Counted::Outcome(Outcome::SkippedExisting) => (1, "skipped (existing)", "skip"),
        Counted::Outcome(Outcome::Valid) => (2, "valid", "ok"),
        Counted::Outcome(Outcome::WouldCreate) => (3, "would create", "ok"),
        Counted::Outcome(Outcome::WouldSkipExisting) => (4, "would skip (existing)", "skip"),
        Counted::Outcome(Outcome::Invalid) => (5, "invalid", "invalid"),
        Counted::Outcome(Outcome::Failed) => (6, "failed", "failed"),
        Counted::NotAttempted => (7, "not attempted", "idle"),
    }
}

/// The outcome summary.json names `name`, if this version knows it.
fn counted(name: &str) -> Option<Counted> {
    Outcome::VARIANTS
        .iter()
        .map(|outcome| Counted::Outcome(*outcome))
        .chain([Counted::NotAttempted])
        .find(|counted| counted.as_str() == name)
}

/// One outcome's rows: summary.json's name, the report's label and colour, the count.
pub(super) struct Shown {
    pub(super) name: String,
    pub(super) label: String,
    pub(super) class: &'static str,
    pub(super) rows: u64,
}

/// Each outcome in `counts` (summary.json's names) with rows, in the report's order; a name
/// this version does not know comes last.
pub(super) fn ordered(counts: &BTreeMap<String, u64>) -> Vec<Shown> {
    let mut shown: Vec<(u8, Shown)> = counts
        .iter()
        .filter(|(_, rows)| **rows > 0)
        .map(|(name, rows)| {
            let (rank, label, class) = match counted(name) {
                Some(known) => look(known),
                None => (u8::MAX, "", "other"),
            };
            let label = match label {
                "" => name.replace('_', " "),
                known => known.to_string(),
            };
            let shown = Shown {
                name: name.clone(),
                label,
                class,
                rows: *rows,
            };
            (rank, shown)
        })
        .collect();
    shown.sort_by_key(|(rank, _)| *rank);
    shown.into_iter().map(|(_, shown)| shown).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_comes_before_problems_and_an_unknown_name_last() {
        let counts = BTreeMap::from([
            ("not_attempted".to_string(), 3),
            ("created".to_string(), 5),
            ("failed".to_string(), 0),
            ("added_later".to_string(), 1),
            ("invalid".to_string(), 2),
        ]);
        let labels: Vec<String> = ordered(&counts).into_iter().map(|s| s.label).collect();
        assert_eq!(
            labels,
            ["created", "invalid", "not attempted", "added later"]
        );
    }
}
