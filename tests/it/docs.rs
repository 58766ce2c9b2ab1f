//! README is the front door and `docs/` the manual: README stays short (at most 400 lines), its
//! first commands are the ones the tests run (the sample against the sandbox: `pipeline`'s
//! `the_readme_first_command_works_on_the_bundled_sample`; the tests, `scripts/test`, as
//! `.ci/run` runs them),
//! every guide in `docs/` is linked from README, and no link of README or a guide is dead
//! (a file that is not there, or a `#section` its file has no heading for).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The most lines README may have: past it, move the text to a guide in `docs/`.
const README_MOST_LINES: usize = 400;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README and every guide in `docs/`.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repository().join("README.md")];
    files.extend(guides());
    files
}

fn guides() -> Vec<PathBuf> {
    let entries = std::fs::read_dir(repository().join("docs")).expect("docs/ is there");
    let mut guides: Vec<PathBuf> = entries
        .map(|entry| entry.expect("docs/ lists").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    guides
}

/// The lines of `text` outside fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut in_code = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            return false;
        }
        !in_code
    })
}

/// The target of every inline link and image (`[text](target)`) outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after
                .find(')')
                .unwrap_or_else(|| panic!("a link that never closes: {line}"));
            targets.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    targets
}

/// The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as
/// hyphens, and `-1`, `-2`, … after a heading's repeats.
fn anchors(text: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    for line in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let slug: String = title
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut anchor = slug.clone();
        let mut repeat = 0;
        while !anchors.insert(anchor.clone()) {
            repeat += 1;
            anchor = format!("{slug}-{repeat}");
        }
    }
    anchors
}

#[test]
fn readme_is_a_front_door_of_at_most_400_lines() {
    let lines = read(&repository().join("README.md")).lines().count();
    assert!(
        lines <= README_MOST_LINES,
        "README.md has {lines} lines, more than {README_MOST_LINES}: move the manual's text to a guide in docs/"
    );
}

#[test]
fn readme_starts_with_the_commands_the_tests_run() {
    let readme = read(&repository().join("README.md"));
    let mut commands = readme
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1);
    // `pipeline::the_readme_first_command_works_on_the_bundled_sample` runs this one.
    assert_eq!(
        commands.next(),
        Some("cargo run --release -- run samples/enroll.csv --sandbox")
    );
    // `ci::the_test_command_installs_what_the_tests_need_or_says_how` runs this one.
    assert_eq!(commands.next(), Some("scripts/test"));
    let ci = read(&repository().join(".ci/run"));
    assert!(
        ci.lines().any(|line| line.trim() == "scripts/test"),
        ".ci/run runs README's test command"
    );
}

#[test]
fn every_guide_is_linked_from_readme() {
    let readme = read(&repository().join("README.md"));
    let linked: HashSet<String> = link_targets(&readme)
        .into_iter()
        .map(|target| target.split('#').next().unwrap_or_default().to_string())
        .collect();
    for guide in guides() {
        let name = guide.file_name().unwrap().to_string_lossy();
        assert!(
            linked.contains(&format!("docs/{name}")),
            "README does not link docs/{name}"
        );
    }
}

#[test]
fn no_link_of_readme_or_a_guide_is_dead() {
    let mut checked = 0;
    for file in markdown_files() {
        let text = read(&file);
        let folder = file.parent().unwrap();
        for target in link_targets(&text) {
            if target.starts_with("https://") || target.starts_with("http://") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                folder.join(path)
            };
            assert!(
                linked.exists(),
                "{}: the link {target} names no file",
                file.display()
            );
            if let Some(anchor) = anchor {
                assert!(
                    anchors(&read(&linked)).contains(anchor),
                    "{}: the link {target} names no heading of {}",
                    file.display(),
                    linked.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: is the parser reading them?"
    );
}

#[test]
fn anchors_are_the_ones_github_makes() {
    let anchors = anchors(
        "# Title\n## Outputs (in `--out DIR`, default `./enroll-out`)\n## Which role\n\
         ```sh\n# a comment\n```\n## Which role\n",
    );
    for anchor in [
        "title",
        "outputs-in---out-dir-default-enroll-out",
        "which-role",
        "which-role-1",
    ] {
        assert!(anchors.contains(anchor), "{anchor} in {anchors:?}");
    }
    assert!(!anchors.contains("a-comment"));
}
