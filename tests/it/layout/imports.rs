//! The library's files read as a graph of imports: which file of `src/` names which other
//! file through a `crate::…` or `super::…` path. Only code counts: comments, the insides of
//! string and character literals, and test items (`#[cfg(test)]` modules, functions,
//! fields, and the files a `#[cfg(test)] mod name;` declares) are left out wherever they sit
//! in a file, and the code after them is read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// A module of the library by its path: `["run", "execute"]` for `src/run/execute.rs`.
pub type Module = Vec<String>;

/// Who imports whom, and where each module's file is.
pub struct Imports {
    pub edges: BTreeMap<Module, BTreeSet<Module>>,
    /// Each module's file, relative to the folder that holds `src/`.
    pub files: BTreeMap<Module, PathBuf>,
}

impl Imports {
    /// Reads every `.rs` file under `src`.
    pub fn of(src: &Path) -> Imports {
        let modules = sources(src);
        let mut edges = BTreeMap::new();
        for (me, (_, code)) in &modules {
            // `super` in `a/b.rs` and in `a/b/mod.rs` both name module `a`.
            let parent = &me[..me.len().saturating_sub(1)];
            let mut targets = BTreeSet::new();
            for (base, path) in paths_in(code) {
                let mut full = match base {
                    "crate" => Vec::new(),
                    _ => parent.to_vec(),
                };
                let mut rest = path.as_slice();
                while rest.first().is_some_and(|s| s == "super") {
                    full.pop();
                    rest = &rest[1..];
                }
                full.extend(rest.iter().cloned());
                if let Some(target) = file_of(&modules, &full) {
                    if target != me {
                        targets.insert(target.clone());
                    }
                }
            }
            edges.insert(me.clone(), targets);
        }
        let files = modules
            .into_iter()
            .map(|(module, (file, _))| (module, file))
            .collect();
        Imports { edges, files }
    }

    /// The circles of imports: for each knot of files that reach one another through their
    /// imports, the shortest circle through its first file, as the files in order (each
    /// imports the next; the last imports the first).
    pub fn circles(&self) -> Vec<Vec<Module>> {
        let mut found = Vec::new();
        let mut in_a_knot = BTreeSet::new();
        for start in self.edges.keys() {
            if in_a_knot.contains(start) {
                continue;
            }
            if let Some(circle) = self.shortest_circle_through(start) {
                let reach = self.reach(start);
                in_a_knot.extend(
                    reach
                        .into_iter()
                        .filter(|other| self.reach(other).contains(start)),
                );
                found.push(circle);
            }
        }
        found
    }

    /// A circle as its files, `src/a.rs -> src/b.rs -> src/a.rs`.
    pub fn show(&self, circle: &[Module]) -> String {
        circle
            .iter()
            .chain(circle.first())
            .map(|module| self.files[module].display().to_string())
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// Every module `from` leads to through one import or more.
    fn reach(&self, from: &Module) -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&Module> = self.edges[from].iter().collect();
        while let Some(next) = queue.pop_front() {
            if seen.insert(next.clone()) {
                queue.extend(&self.edges[next]);
            }
        }
        seen
    }

    /// The fewest imports that lead from `start` back to it, breadth first.
    fn shortest_circle_through(&self, start: &Module) -> Option<Vec<Module>> {
        let mut came_from: BTreeMap<&Module, &Module> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(at) = queue.pop_front() {
            for next in &self.edges[at] {
                if next == start {
                    let mut circle = vec![at.clone()];
                    while let Some(before) = came_from.get(circle.last().expect("one")) {
                        circle.push((*before).clone());
                    }
                    circle.reverse();
                    return Some(circle);
                }
                if !came_from.contains_key(next) && next != start {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
        }
        None
    }
}

/// Every `.rs` file of the library under `src`, as its module path, its file (relative to
/// `src`'s parent) and its code outside comments, literals and test items.
fn sources(src: &Path) -> BTreeMap<Module, (PathBuf, String)> {
    let root = src.parent().expect("src/ has a parent");
    let mut found = BTreeMap::new();
    let mut test_only: Vec<Module> = Vec::new();
    // main.rs is the binary's own crate: it reaches the library as `mfa_enroll::…`, and
    // nothing in the library can import it back.
    for path in rust_files(src)
        .into_iter()
        .filter(|p| *p != src.join("main.rs"))
    {
        let text = std::fs::read_to_string(&path).expect("source");
        let module = module_path(src, &path);
        let (code, test_modules) = outside_tests(&code_only(&text));
        for name in test_modules {
            test_only.push([module.clone(), vec![name]].concat());
        }
        let file = path.strip_prefix(root).expect("under src/").to_path_buf();
        found.insert(module, (file, code));
    }
    // The file of a `#[cfg(test)] mod name;` is a test item too, and so is all beneath it.
    found.retain(|module, _| !test_only.iter().any(|test| module.starts_with(test)));
    found
}

/// Every `.rs` file under `folder`, at any depth.
pub fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found
}

fn module_path(src: &Path, path: &Path) -> Module {
    let relative = path.strip_prefix(src).expect("under src/");
    let mut parts: Module = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file a path names: the longest prefix of it that is a module of its own.
fn file_of<'a>(
    modules: &'a BTreeMap<Module, (PathBuf, String)>,
    path: &[String],
) -> Option<&'a Module> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get_key_value(&path[..n]).map(|(k, _)| k))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` without its comments and with its string and character literals emptied (`""`,
/// `''`), line breaks kept: what is left are the code's paths and brackets.
pub fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let at = |k: usize| chars.get(i + k).copied();
        let starts_token = i == 0 || !is_word(chars[i - 1]);
        let (c, next) = (chars[i], at(1));
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = block_comment_end(&chars, i, &mut out);
        } else if let Some(end) = (starts_token || c == '"')
            .then(|| string_end(&chars, i))
            .flatten()
        {
            out.push_str("\"\"");
            out.extend(chars[i..end].iter().filter(|c| **c == '\n'));
            i = end;
        } else if c == '\'' {
            match (next, at(2)) {
                // '\n', '\'', '\u{1F600}'
                (Some('\\'), Some(_)) => {
                    i += 3;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                    out.push_str("''");
                }
                // 'x', '{'
                (Some(_), Some('\'')) => {
                    i += 3;
                    out.push_str("''");
                }
                // A lifetime: 'a
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the (nested) block comment opening at `start` ends; its line breaks go to `out`.
fn block_comment_end(chars: &[char], start: usize, out: &mut String) -> usize {
    let (mut i, mut depth) = (start, 0);
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => (depth, i) = (depth + 1, i + 2),
            ('*', Some('/')) => {
                (depth, i) = (depth - 1, i + 2);
                if depth == 0 {
                    return i;
                }
            }
            (c, _) => {
                if c == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
        }
    }
    i
}

/// Where the string literal starting at `start` ends, when one starts there: `"…"`, `b"…"`,
/// `c"…"`, `r"…"`, `r#"…"#`, `br#"…"#`.
fn string_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    if matches!(chars.get(i), Some('b' | 'c')) {
        i += 1;
    }
    let raw = chars.get(i) == Some(&'r');
    if raw {
        i += 1;
    }
    let hashes = chars[i..].iter().take_while(|c| **c == '#').count();
    if (hashes > 0 && !raw) || chars.get(i + hashes) != Some(&'"') {
        return None;
    }
    i += hashes + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if !raw => i += 2,
            '"' if chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == '#')
                .count()
                == hashes =>
            {
                return Some(i + 1 + hashes);
            }
            _ => i += 1,
        }
    }
    Some(chars.len())
}

/// `code` (from [`code_only`]) without its test items, and the names of the modules it
/// declares as test items (`#[cfg(test)] mod name;`), whose files are test code too.
pub fn outside_tests(code: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = code.chars().collect();
    let mut kept = String::with_capacity(code.len());
    let mut test_modules = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let inner = chars.get(i + 1) == Some(&'!');
        let open = if inner { i + 2 } else { i + 1 };
        if chars[i] == '#' && chars.get(open) == Some(&'[') {
            let end = closing(&chars, open);
            let attribute: String = chars[open + 1..end.saturating_sub(1)]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            if attribute == "cfg(test)" || attribute.starts_with("cfg(all(test,") {
                if inner {
                    // `#![cfg(test)]`: the whole file is a test item.
                    return (String::new(), test_modules);
                }
                let item = skip_attributes(&chars, end);
                let item_end = item_end(&chars, item);
                test_modules.extend(declared_module(&chars[item..item_end]));
                // Line breaks stay, so what follows keeps its line.
                kept.extend(chars[i..item_end].iter().filter(|c| **c == '\n'));
                i = item_end;
                continue;
            }
        }
        kept.push(chars[i]);
        i += 1;
    }
    (kept, test_modules)
}

/// Just past the bracket that closes the one at `open`.
fn closing(chars: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

/// The start of the item the attributes before `from` belong to.
fn skip_attributes(chars: &[char], mut from: usize) -> usize {
    loop {
        while chars.get(from).is_some_and(|c| c.is_whitespace()) {
            from += 1;
        }
        if chars.get(from) == Some(&'#') && chars.get(from + 1) == Some(&'[') {
            from = closing(chars, from + 1);
        } else {
            return from;
        }
    }
}

/// Just past the item starting at `start`: its `{…}` block closed, or its `;`, or the `,`
/// after a field or a variant; or where its container closes.
fn item_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut angles) = (0usize, 0usize);
    for (i, &c) in chars.iter().enumerate().skip(start) {
        let after_arrow = i > 0 && matches!(chars[i - 1], '-' | '=');
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return i,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 && c == '}' {
                    return i + 1;
                }
            }
            // Generics in the item's head: `fn f<A, B>()` goes on past its comma.
            '<' if depth == 0 => angles += 1,
            '>' if depth == 0 && !after_arrow => angles = angles.saturating_sub(1),
            ';' if depth == 0 => return i + 1,
            ',' if depth == 0 && angles == 0 => return i + 1,
            _ => {}
        }
    }
    chars.len()
}

/// `name` when `item` is `mod name;` (with any visibility).
fn declared_module(item: &[char]) -> Option<String> {
    let text: String = item.iter().collect();
    if !text.trim_end().ends_with(';') {
        return None;
    }
    let mut words = text.split(|c| !is_word(c)).filter(|w| !w.is_empty());
    let visibility = ["pub", "crate", "super", "self", "in"];
    match words.find(|w| !visibility.contains(w)) {
        Some("mod") => words.next().map(str::to_string),
        _ => None,
    }
}

/// The `crate::…` and `super::…` paths in `code`, as (base, segments); a use-tree's groups
/// are read to their leaves: `crate::{a, b::{c, d}}` is `a`, `b::c` and `b::d`.
fn paths_in(code: &str) -> Vec<(&'static str, Vec<String>)> {
    let mut found = Vec::new();
    for base in ["crate", "super"] {
        let marker = format!("{base}::");
        let mut rest = code;
        while let Some(at) = rest.find(&marker) {
            let preceded_by_word = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| is_word(c) || c == ':');
            rest = &rest[at + marker.len()..];
            if preceded_by_word {
                continue;
            }
            let mut paths = Vec::new();
            use_tree(rest, Vec::new(), &mut paths);
            found.extend(paths.into_iter().map(|path| (base, path)));
        }
    }
    found
}

/// Reads one use-tree from the start of `text` into `out` (each leaf as its path after
/// `prefix`); returns what follows it.
fn use_tree<'a>(text: &'a str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> &'a str {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        let mut rest = group;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                return after;
            }
            let before = rest.len();
            rest = use_tree(rest, prefix.clone(), out).trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
            if rest.is_empty() || rest.len() == before {
                // Not a use-tree after all (code a `{` follows): read no further.
                return rest;
            }
        }
    }
    let word: String = text.chars().take_while(|c| is_word(*c)).collect();
    let rest = &text[word.len()..];
    if word.is_empty() || word == "self" {
        out.push(prefix);
        return rest.strip_prefix('*').unwrap_or(rest);
    }
    let mut path = prefix;
    path.push(word);
    match rest.strip_prefix("::") {
        Some(more) => use_tree(more, path, out),
        None => {
            out.push(path);
            // `a as b`: the new name is no path.
            match rest.trim_start().strip_prefix("as ") {
                Some(renamed) => renamed.trim_start().trim_start_matches(is_word),
                None => rest,
            }
        }
    }
}
