//! What `.ci/run` promises to run: the habits every commit keeps (`cargo fmt --check`, clippy
//! with warnings as errors, on every target, docs without warnings) before README's test
//! command, `scripts/test`; and what `scripts/test` does on a machine that lacks a tool the
//! tests drive: it installs it (as root, with apt) or stops, naming the install command,
//! before any test runs, never skipping one. The image's build command being one CI runs is
//! `deploy`'s check.

use std::path::{Path, PathBuf};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ci_checks_formatting_and_lints_before_the_tests() {
    let ci = std::fs::read_to_string(repository().join(".ci/run")).unwrap();
    let position = |command: &str| {
        ci.lines()
            .position(|l| l.trim() == command)
            .unwrap_or_else(|| panic!("{command:?} is not a line of .ci/run"))
    };
    let tests = position("scripts/test");
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
        !ci.contains("cargo test"),
        ".ci/run runs the tests only through scripts/test, as README says"
    );
    let script = std::fs::read_to_string(repository().join("scripts/test")).unwrap();
    let last = script.lines().rev().find(|l| !l.trim().is_empty());
    assert_eq!(last, Some("exec cargo test --locked \"$@\""));
}

/// Where `name` is on this process's PATH.
fn on_path(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
}

#[test]
fn the_test_command_installs_what_the_tests_need_or_says_how() {
    // A machine with bash, man, groff and script, but no Chromium, no python3 and no apt-get
    // to install them with: a PATH holding only those.
    let tools = tempfile::tempdir().unwrap();
    for name in ["bash", "dirname", "id", "man", "groff", "script"] {
        std::os::unix::fs::symlink(on_path(name), tools.path().join(name)).unwrap();
    }
    // A copy of the script, in a checkout of its own: no virtual environment from an
    // earlier scripts/test in this one's target/ to find.
    let checkout = tempfile::tempdir().unwrap();
    std::fs::create_dir(checkout.path().join("scripts")).unwrap();
    let script = checkout.path().join("scripts/test");
    std::fs::copy(repository().join("scripts/test"), &script).unwrap();
    let ran = std::process::Command::new(on_path("bash"))
        .arg(&script)
        .env("PATH", tools.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    // 2, its own refusal: not cargo's failure (there is no cargo on this PATH: 127).
    assert_eq!(ran.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "apt-get update && apt-get install -y --no-install-recommends \
             chromium-headless-shell python3 python3-venv"
        ),
        "the exact command, with only what is missing: {stderr}"
    );
    assert!(!stderr.contains("man-db"), "{stderr}");
    assert!(String::from_utf8_lossy(&ran.stdout).is_empty());
}
