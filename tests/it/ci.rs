//! What `.ci/run` promises to run: the habits every commit keeps (`cargo fmt --check`, clippy
//! with warnings as errors, on every target, docs without warnings) and the headless browser
//! the report's test needs, before the README's test command. The image's build command
//! being one CI runs is `deploy`'s check.

use std::path::Path;

#[test]
fn ci_checks_formatting_and_lints_before_the_tests() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run");
    let ci = std::fs::read_to_string(&path).unwrap();
    let position = |command: &str| {
        ci.lines()
            .position(|l| l.trim() == command)
            .unwrap_or_else(|| panic!("{command:?} is not a line of .ci/run"))
    };
    let tests = position("cargo test --locked");
    assert!(position("cargo fmt --check") < tests, "format before tests");
    assert!(
        position("cargo clippy --all-targets --locked -- -D warnings") < tests,
        "lints before tests"
    );
    assert!(
        position("RUSTDOCFLAGS=\"-D warnings\" cargo doc --no-deps --locked") < tests,
        "docs without warnings (a broken intra-doc link) before tests"
    );
    assert!(
        position("apt-get install -y chromium-headless-shell") < tests,
        "the report's browser test finds a browser on a fresh machine"
    );
}
