//! The layout promises of the crate docs, checked on the source itself: no two files of `src/`
//! import each other (a circle means one of them owns something that belongs to the other),
//! and no stage of a run imports another stage (each takes what the one before returned).
//! Imports are read as `crate::…` and `super::…` paths outside comments and unit tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, as its module path (`["run", "execute"]`) and its text
/// before its unit tests, with comments dropped.
fn sources() -> BTreeMap<Vec<String>, (PathBuf, String)> {
    let mut found = BTreeMap::new();
    let mut folders = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("src/ is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                let code: String = text
                    .split("#[cfg(test)]")
                    .next()
                    .unwrap_or("")
                    .lines()
                    .map(|line| line.split("//").next().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("\n");
                found.insert(module_path(&path), (path, code));
            }
        }
    }
    found
}

fn module_path(path: &Path) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let relative = path.strip_prefix(&src).expect("under src/");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file a path names: the longest prefix of it that is a module of its own.
fn file_of<'a>(
    modules: &'a BTreeMap<Vec<String>, (PathBuf, String)>,
    path: &[String],
) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get_key_value(&path[..n]).map(|(k, _)| k))
}

/// Which files each file imports.
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = sources();
    let mut edges = BTreeMap::new();
    for (me, (_, code)) in &modules {
        // `super` in `a/b.rs` and in `a/b/mod.rs` both name module `a`.
        let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
        let mut targets = BTreeSet::new();
        for (base, rest) in paths_in(code) {
            let mut full = match base {
                "crate" => Vec::new(),
                _ => parent.clone(),
            };
            full.extend(rest);
            if let Some(target) = file_of(&modules, &full) {
                if target != me {
                    targets.insert(target.clone());
                }
            }
        }
        edges.insert(me.clone(), targets);
    }
    edges
}

/// `crate::a::b` and `super::{a, b::c}` paths in `code`, as (base, segments).
fn paths_in(code: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut found = Vec::new();
    for base in ["crate", "super"] {
        let marker = format!("{base}::");
        let mut rest = code;
        while let Some(at) = rest.find(&marker) {
            let preceded_by_word = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            rest = &rest[at + marker.len()..];
            if preceded_by_word {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    found.push((base, segments(item.trim())));
                }
            } else {
                found.push((base, segments(rest)));
            }
        }
    }
    found
}

fn segments(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() || word == "self" {
            break;
        }
        rest = &rest[word.len()..];
        parts.push(word);
        match rest.strip_prefix("::") {
            Some(more) if !more.starts_with('{') => rest = more,
            _ => break,
        }
    }
    parts
}

#[test]
fn no_two_files_import_each_other() {
    let edges = imports();
    let mut circles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|back| back.contains(a)) {
                circles.push(format!("{} <-> {}", a.join("/"), b.join("/")));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other: {circles:?}"
    );
    // The check sees imports at all: a file everyone uses is imported.
    assert!(edges
        .values()
        .any(|t| t.contains(&vec!["codes".to_string()])));
}

#[test]
fn no_stage_of_a_run_imports_another_stage() {
    let edges = imports();
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
