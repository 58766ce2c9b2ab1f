//! The layout promises of the crate docs, checked on the source itself: no circle of imports
//! between files of `src/`, however long (a circle means one of its files owns something
//! that belongs to another), and no stage of a run imports another stage (each takes what the
//! one before returned), and two rooms keep their arrows pointing down (`rate` never imports
//! `pingone`, `record` never imports `present`). How the files are read is `imports.rs`'s;
//! the checks that it sees a long circle and reads around test items run on scratch trees
//! here. And the shared test code holds no test that `cargo test` would leave unrun.

mod imports;

use std::path::{Path, PathBuf};

use imports::{Imports, Module};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

/// Each circle of `imports`, as its files in order.
fn shown_circles(imports: &Imports) -> Vec<String> {
    let circles = imports.circles();
    circles.iter().map(|circle| imports.show(circle)).collect()
}

#[test]
fn no_circle_of_imports_between_files() {
    let imports = Imports::of(&src());
    let circles = shown_circles(&imports);
    assert!(
        circles.is_empty(),
        "circles of imports (each file imports the next): {circles:#?}"
    );
    // The check sees imports at all: a file everyone uses is imported.
    assert!(imports
        .edges
        .values()
        .any(|targets| targets.contains(&module("codes"))));
}

#[test]
fn no_stage_of_a_run_imports_another_stage() {
    let edges = Imports::of(&src()).edges;
    let stages = ["prepare", "survey", "execute", "finish"];
    let stage = |name: &str| vec!["run".to_string(), name.to_string()];
    for from in stages {
        let targets = edges.get(&stage(from)).expect("the stage's file exists");
        for to in stages.iter().filter(|to| **to != from) {
            assert!(
                !targets.contains(&stage(to)),
                "run/{from}.rs imports run/{to}.rs; hand the value on through run/handoff.rs"
            );
        }
        assert!(
            targets.contains(&stage("handoff")),
            "run/{from}.rs takes its input from run/handoff.rs"
        );
    }
}

/// Rooms whose arrows must only point one way: the first never imports the second.
const ONE_WAY: [(&str, &str, &str); 2] = [
    (
        "rate",
        "pingone",
        "rate control knows nothing of PingOne's client; the client uses it",
    ),
    (
        "record",
        "present",
        "the record on disk never reads what people see of it; present reads record",
    ),
];

#[test]
fn rate_control_and_the_record_never_import_what_sits_above_them() {
    let edges = Imports::of(&src()).edges;
    for (low, high, why) in ONE_WAY {
        let low_files: Vec<_> = edges
            .keys()
            .filter(|m| m.first().is_some_and(|f| f == low))
            .collect();
        assert!(!low_files.is_empty(), "src/{low}/ exists");
        for from in low_files {
            let upward: Vec<_> = edges[from]
                .iter()
                .filter(|to| to.first().is_some_and(|f| f == high))
                .map(|to| to.join("::"))
                .collect();
            assert!(
                upward.is_empty(),
                "{} imports {upward:?}: {why}",
                from.join("::")
            );
        }
    }
}

#[test]
fn the_test_support_crate_holds_no_test_of_its_own() {
    // `cargo test` at the root runs the root package's tests (the workspace has no
    // `default-members`): a test in crates/test-support would never run.
    let crate_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/test-support/src");
    let files = imports::rust_files(&crate_src);
    assert!(!files.is_empty(), "the check reads the crate");
    for path in files {
        let code = imports::code_only(&std::fs::read_to_string(&path).expect("source"));
        for marker in ["#[test]", "::test]", "::test(", "#[cfg(test)]"] {
            assert!(
                !code.contains(marker),
                "{} holds a test ({marker}); tests of the shared code go in tests/",
                path.display()
            );
        }
    }
}

/// A scratch `src/` holding `files` (path under `src/`, text).
fn scratch_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = root.path().join("src").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

#[test]
fn a_circle_of_three_files_is_found_with_its_files_in_order() {
    let root = scratch_tree(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\n"),
        ("a.rs", "use crate::b::Bee;\npub struct Ay;\n"),
        (
            "b.rs",
            "use crate::{c::deep::f, d::Dee};\npub struct Bee;\n",
        ),
        ("c/mod.rs", "mod deep;\npub struct Sea;\n"),
        // `super::super` from c/deep.rs is the crate.
        (
            "c/deep.rs",
            "pub fn f() -> super::super::a::Ay { todo!() }\n",
        ),
        ("d.rs", "pub struct Dee;\n"),
    ]);
    let imports = Imports::of(&root.path().join("src"));
    let circles = shown_circles(&imports);
    assert_eq!(
        circles,
        ["src/a.rs -> src/b.rs -> src/c/deep.rs -> src/a.rs"],
        "{:#?}",
        imports.edges
    );
}

#[test]
fn code_after_a_test_item_is_read_and_the_test_item_is_not() {
    let with_tests = r##"
//! Imports crate::x in a comment only.
use crate::b::Bee;

#[cfg(test)]
mod tests {
    // A brace in a string or a char does not end the module early.
    const OPEN: &str = "{ crate::c";
    const ALSO: char = '{';
    const RAW: &str = r#"}" crate::c"#;
    use crate::c::Sea;
}

#[cfg(test)]
fn helper<A, B>(a: A, b: B) -> crate::c::Sea { todo!() }

pub struct Ay {
    #[cfg(test)]
    seen: Vec<crate::c::Sea>,
    kept: crate::d::Dee,
}

#[cfg(test)]
mod test_support;

/* A block comment /* nested */ naming crate::c. */
pub fn after<'a>(text: &'a str) -> &'a str { let _ = crate::e::Eee; text }
"##;
    let root = scratch_tree(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\nmod d;\nmod e;\n"),
        ("a/mod.rs", with_tests),
        ("a/test_support.rs", "use crate::c::Sea;\n"),
        ("b.rs", "pub struct Bee;\n"),
        ("c.rs", "pub struct Sea;\n"),
        ("d.rs", "pub struct Dee;\n"),
        ("e.rs", "pub struct Eee;\n"),
    ]);
    let imports = Imports::of(&root.path().join("src"));
    let imported: Vec<_> = imports.edges[&module("a")].iter().cloned().collect();
    assert_eq!(imported, [module("b"), module("d"), module("e")]);
    assert!(
        !imports.files.contains_key(&module("a::test_support")),
        "a file declared as a test item is test code"
    );
}
