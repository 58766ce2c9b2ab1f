//! Installing as a newcomer would: README installs the binary (`cargo install --locked --path
//! .`) before any command uses the bare `mfa-enroll`; the licence files match Cargo.toml's
//! licence; the release build (what `cargo install` installs and the image ships) carries no
//! debug info, a profile beside it does for profiling, and the real binary works without it.

use std::path::Path;

use mfa_enroll_test_support::*;

fn repository_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn readme_installs_before_it_uses_the_bare_command() {
    let readme = repository_file("README.md");
    let mut in_code = false;
    let mut installed_at = None;
    for (number, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let command = line.trim_start();
        if !in_code {
            continue;
        }
        if command.starts_with("cargo install --locked --path .") {
            installed_at.get_or_insert(number);
        }
        let uses_bare = command.starts_with("mfa-enroll ")
            || command.contains("| mfa-enroll ")
            || command.contains("&& mfa-enroll ");
        if uses_bare {
            assert!(
                installed_at.is_some_and(|at| at < number),
                "README line {} uses the bare command before `cargo install --locked --path .`: {line}",
                number + 1
            );
        }
    }
    assert!(installed_at.is_some(), "README never installs the binary");
    // What `cargo install` installs is the command README uses.
    assert!(repository_file("Cargo.toml").contains("[[bin]]\nname = \"mfa-enroll\""));
}

#[test]
fn the_licence_files_match_cargo_toml() {
    let manifest = repository_file("Cargo.toml");
    assert!(manifest.contains("license = \"MIT OR Apache-2.0\""));
    let mit = repository_file("LICENSE-MIT");
    assert!(mit.starts_with("MIT License\n\nCopyright (c) the mfa-enroll authors\n"));
    assert!(mit
        .contains("Permission is hereby granted, free of charge, to any person obtaining a copy"));
    assert!(mit.contains("THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND"));
    // The Apache License 2.0 as apache.org publishes it, word for word.
    let apache = repository_file("LICENSE-APACHE");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, apache.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex, "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
        "LICENSE-APACHE is not the standard text"
    );
    let readme = repository_file("README.md");
    assert!(readme.contains("`LICENSE-MIT`") && readme.contains("`LICENSE-APACHE`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_and_shipped_binary_is_the_one_without_debug_info_and_it_works() {
    let manifest: toml::Table = repository_file("Cargo.toml").parse().unwrap();
    let profile = |name: &str| manifest["profile"][name].as_table().unwrap().clone();
    let release = profile("release");
    assert_eq!(
        release.get("strip").and_then(|v| v.as_str()),
        Some("debuginfo"),
        "cargo install builds the release profile: no debug info in it"
    );
    assert!(
        !release.contains_key("debug"),
        "debug info in the release build: {release:?}"
    );
    let profiling = profile("profiling");
    assert_eq!(profiling["inherits"].as_str(), Some("release"));
    assert_eq!(profiling["debug"].as_bool(), Some(true), "for flame graphs");
    assert_eq!(profiling["strip"].as_str(), Some("none"));
    // The image ships the release binary as the release profile built it.
    let dockerfile = repository_file("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("cp target/release/mfa-enroll /usr/local/bin/mfa-enroll"));
    assert!(
        !dockerfile.contains("strip "),
        "the image's binary is the installed one"
    );
    // .ci/run checks the release binary it builds has no debug info left.
    assert!(
        repository_file(".ci/run").contains("readelf --section-headers target/release/mfa-enroll")
    );
    // The real binary, stripped of its debug info as the release profile strips it, still
    // runs a whole dry run.
    let ws = Workspace::new();
    let stripped = ws.path("mfa-enroll");
    std::fs::copy(bin(), &stripped).unwrap();
    let status = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg(&stripped)
        .status()
        .expect("strip runs (binutils)");
    assert!(status.success());
    let before = std::fs::metadata(bin()).unwrap().len();
    let after = std::fs::metadata(&stripped).unwrap().len();
    assert!(after < before / 2, "{before} -> {after} bytes");
    ws.write("in.csv", &sms_rows(3));
    let run = tokio::process::Command::new(&stripped)
        .args(["run", "in.csv", "--dry-run", "--policy-id", POLICY, "-q"])
        .current_dir(ws.dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("3 rows: 3 valid"));
}
