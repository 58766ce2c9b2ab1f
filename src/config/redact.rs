//! Config errors that never echo a secret. toml's own error text quotes the offending line,
//! which may be `client_secret = hunter2`; so a syntax error says only where it is and what
//! kind of mistake it is, and every config error is scrubbed of the values of keys whose
//! names look secret (`client_secret`, `password`, `token`, `private_key`, ...), wherever they
//! sit: quoted or not, on one line or many, in any table.

use super::ConfigError;

/// Parts of key names that say the value is a secret.
const SECRET_WORDS: [&str; 7] = [
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "apikey",
    "private_key",
];
/// Keys whose names hold a secret word but whose values are not secrets.
const NOT_SECRET: [&str; 3] = ["private_key_file", "private_key_id", "token_auth_method"];
/// What separates the pairs of an inline table (`a = 1, b = 2` inside braces).
const PAIR_SEPARATORS: [char; 2] = [',', '{'];
/// Shorter pieces of a value are too common to scrub from a message without garbling it.
const SHORTEST_SCRUBBED: usize = 3;

/// A TOML syntax error as "line L, column C: what", without toml's quote of the line.
pub(super) fn syntax_error(origin: &str, text: &str, error: &toml::de::Error) -> ConfigError {
    let at = error
        .span()
        .map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = 1 + before.matches('\n').count();
            let column = 1 + before.rsplit('\n').next().map_or(0, |l| l.chars().count());
            format!("line {line}, column {column}: ")
        })
        .unwrap_or_default();
    let message = error.message().trim().replace('\n', "; ");
    scrubbed(
        text,
        ConfigError::new(
            origin,
            "syntax",
            format!(
                "{at}not valid TOML ({message}); the line is not shown, since it may hold a secret"
            ),
        ),
    )
}

/// `error` with every value of a secret-looking key in `text` replaced by `[redacted]`.
pub(super) fn scrubbed(text: &str, mut error: ConfigError) -> ConfigError {
    for value in secret_values(text) {
        for piece in pieces(&value) {
            if error.problem.contains(piece) {
                error.problem = error.problem.replace(piece, "[redacted]");
            }
        }
    }
    error
}

fn is_secret_key(name: &str) -> bool {
    let name = name
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_ascii_lowercase();
    let last = name.rsplit('.').next().unwrap_or(&name).trim();
    let squashed: String = last.chars().filter(|c| *c != '-').collect();
    !NOT_SECRET.contains(&last)
        && SECRET_WORDS
            .iter()
            .any(|word| squashed.contains(word) || squashed.replace('_', "").contains(word))
}

/// The raw text after `key =` for every secret-looking key, and for a multi-line string
/// (`"""`, `'''`) the lines that follow, up to its end (or the file's).
fn secret_values(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut values = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        // An inline table holds several `key = value` pairs on one line.
        for pair in line.split(PAIR_SEPARATORS) {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if !is_secret_key(key) {
                continue;
            }
            let mut value = value.to_string();
            let opens_multiline = ["\"\"\"", "'''"]
                .iter()
                .find(|quote| value.trim_start().starts_with(**quote));
            if let Some(quote) = opens_multiline {
                let rest = &value.trim_start()[3..];
                if !rest.contains(quote) {
                    for next in &lines[index + 1..] {
                        value.push('\n');
                        value.push_str(next);
                        if next.contains(quote) {
                            break;
                        }
                    }
                }
            }
            values.push(value);
        }
    }
    values
}

/// What of a value a message could quote: the whole, its lines, its words, without quotes.
fn pieces(value: &str) -> Vec<&str> {
    fn unquote(s: &str) -> &str {
        s.trim()
            .trim_matches(|c: char| "\"'[]{},#".contains(c))
            .trim()
    }
    let mut pieces: Vec<&str> = std::iter::once(unquote(value))
        .chain(value.lines().map(unquote))
        .chain(value.split_whitespace().map(unquote))
        .filter(|p| p.chars().count() >= SHORTEST_SCRUBBED)
        .collect();
    // Longest first, so a whole value goes before the words inside it.
    pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
    pieces.dedup();
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{args, write_config};
    use crate::config::Settings;

    #[test]
    fn no_config_error_echoes_a_secret_looking_value() {
        let shapes = [
            ("[pingone]\nclient_secret = hunter2xyz\n", "line 2"),
            ("[pingone]\nclient_secret = \"hunter2xyz\n", "line 2"),
            ("[pingone]\nclient_secret = 'hunter2xyz\n", "line 2"),
            (
                "[pingone]\nclient_secret = \"\"\"\nhunter2xyz\nsecond hunter3xyz\n",
                "line 5",
            ),
            (
                "[limits]\nrate = 5\n[other]\napi_token = hunter2xyz\n",
                "line 4",
            ),
            ("[enroll]\npassword = hunter2xyz hunter3xyz\n", "line 2"),
            ("pingone = { client_secret = hunter2xyz }\n", "line 1"),
            ("pingone.client_secret = hunter2xyz\n", "line 1"),
            ("[pingone]\nclient_secret = [\"hunter2xyz\", 5\n", "line 2"),
            (
                "[pingone]\nprivate_key = \"-----BEGIN hunter2xyz\n",
                "line 2",
            ),
        ];
        for (text, line) in shapes {
            let cfg = write_config(text);
            let path = cfg.path().to_str().unwrap();
            let err =
                Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("hunter"), "{text:?} -> {shown}");
            assert!(shown.contains(line), "{text:?} -> {shown}");
        }
    }

    #[test]
    fn valid_toml_with_a_secret_looking_key_is_refused_without_its_value() {
        for text in [
            "[limits]\ntoken = \"hunter2xyz\"\n",
            "[other]\npassword = \"hunter2xyz\"\n",
            "[pingone]\nclient_secret = \"\"\"\nhunter2xyz\n\"\"\"\n",
        ] {
            let cfg = write_config(text);
            let path = cfg.path().to_str().unwrap();
            let err =
                Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
            assert!(!err.to_string().contains("hunter"), "{text:?} -> {err}");
        }
    }

    #[test]
    fn a_message_that_quotes_a_secret_looking_value_is_scrubbed() {
        let text = "[vault]\npassword = \"hunter2xyz\"\nnote = \"\"\"\n[x]\n";
        let error = ConfigError::new("c.toml", "[vault]", "invalid value \"hunter2xyz\" here");
        let shown = scrubbed(text, error).to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("invalid value \"[redacted]\" here"),
            "{shown}"
        );
        let multiline = "token = '''\nhunter2 first\nhunter3 second\n'''\n";
        let error = ConfigError::new("c.toml", "syntax", "near hunter3 second");
        assert!(!scrubbed(multiline, error).to_string().contains("hunter3"));
    }

    #[test]
    fn names_that_look_secret() {
        for name in [
            "client_secret",
            "\"Password\"",
            "pingone.api-token",
            "apiKey",
            "private_key",
        ] {
            assert!(is_secret_key(name), "{name}");
        }
        for name in [
            "private_key_file",
            "private_key_id",
            "token_auth_method",
            "rate",
        ] {
            assert!(!is_secret_key(name), "{name}");
        }
    }
}
