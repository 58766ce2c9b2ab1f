//! Logs on stderr, as text for people or one JSON object per line for schedulers, and the
//! masking that keeps phone numbers and email addresses out of them (`+1******1234`,
//! `j***@example.com`). Results files carry the real values; logs never do.
//!
//! The tool's own lines mask at their source (`LogSafe`, `mask_destination`). Dependencies
//! log what they see (libphonenumber the national digits it parses, hyper its traffic), so
//! they are held to warnings unless `RUST_LOG` names them (`RUST_LOG=trace` raises only the
//! tool's own level), and every line they write is masked as a whole, whatever its level.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The progress bar on screen, if any: log lines are printed around it, not through it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

pub(crate) fn set_active_bar(bar: Option<ProgressBar>) {
    *ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// Writes each log event to stderr, hiding the progress bar while it does.
#[derive(Clone, Copy, Default)]
pub(crate) struct StderrAroundBar;

pub(crate) struct EventWriter {
    buffer: Vec<u8>,
    /// A dependency's line: masked whole before it is written.
    is_foreign: bool,
}

impl Write for EventWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let bar = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if self.is_foreign {
            self.buffer = mask_line(&String::from_utf8_lossy(&self.buffer)).into_bytes();
        }
        let emit = || {
            let _ = std::io::stderr().lock().write_all(&self.buffer);
        };
        match bar {
            Some(bar) => bar.suspend(emit),
            None => emit(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAroundBar {
    type Writer = EventWriter;
    fn make_writer(&'a self) -> EventWriter {
        EventWriter {
            buffer: Vec::with_capacity(256),
            is_foreign: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> EventWriter {
        EventWriter {
            buffer: Vec::with_capacity(256),
            is_foreign: !is_own(meta.target()),
        }
    }
}

/// The tool's own log target; every other target is a dependency's (bridged `log` records
/// arrive as `log`).
const OWN_TARGET: &str = "mfa_enroll";
/// The most a dependency says unless `RUST_LOG` names it.
const DEPENDENCY_LEVEL: LevelFilter = LevelFilter::WARN;

fn is_own(target: &str) -> bool {
    target == OWN_TARGET || target.starts_with("mfa_enroll::")
}

/// `RUST_LOG`'s directives (or the default level) with every bare level applied to the tool
/// only: dependencies stay at [`DEPENDENCY_LEVEL`] (or quieter) unless a directive names them.
fn directives(requested: &str) -> String {
    let mut global = None;
    let mut named = Vec::new();
    for directive in requested
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match directive.parse::<LevelFilter>() {
            Ok(level) => global = Some(level),
            Err(_) => named.push(directive),
        }
    }
    let Some(level) = global else {
        return named.join(",");
    };
    let names_own = named.iter().any(|d| d.starts_with(OWN_TARGET));
    let mut out = vec![level.min(DEPENDENCY_LEVEL).to_string()];
    if !names_own {
        out.push(format!("{OWN_TARGET}={level}"));
    }
    out.extend(named.iter().map(|d| d.to_string()));
    out.join(",")
}

/// Whether stderr gets colour: `--color always`/`never` as said; `auto` only on a terminal,
/// and not when `NO_COLOR` is set and not empty (<https://no-color.org>).
pub fn use_color(choice: clap::ColorChoice) -> bool {
    match choice {
        clap::ColorChoice::Always => true,
        clap::ColorChoice::Never => false,
        clap::ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr())
        }
    }
}

/// `error: ` before a refusal, in clap's bold red when stderr has colour.
pub(crate) fn error_label(color: bool) -> String {
    use clap::builder::styling::{AnsiColor, Style};
    let style = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
    if color {
        format!("{}error:{} ", style.render(), style.render_reset())
    } else {
        "error: ".to_string()
    }
}

/// A rate for a log field: a number (JSON keeps its type), rounded for reading.
pub(crate) fn rounded_rate(rate: f64) -> f64 {
    (rate * 10.0).round() / 10.0
}

/// Sets up logging once per process. `RUST_LOG` overrides the level when set.
pub(crate) fn init(format: LogFormat, quiet: bool, verbose: bool, color: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (_, true) => "mfa_enroll=debug,info",
        _ => "info",
    };
    let requested = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| level.to_string());
    let filter = EnvFilter::try_new(directives(&requested))
        .unwrap_or_else(|_| EnvFilter::new(directives(level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(StderrAroundBar)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(color).try_init(),
    };
}

/// A dependency's whole line, masked; the timestamp it starts with (text, or JSON's first
/// field) is kept as it is.
fn mask_line(line: &str) -> String {
    let head = line.char_indices().take(64).find_map(|(i, c)| {
        let after = line[i + c.len_utf8()..].chars().next();
        (c == 'Z' && matches!(after, Some(' ' | '"' | '\x1b'))).then_some(i + 1)
    });
    match head {
        Some(end) => format!("{}{}", &line[..end], mask_text(&line[end..])),
        None => mask_text(line),
    }
}

/// `+15125551234` -> `+1******1234`: the country code's first digit and the last four.
pub(crate) fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// `jdoe@example.com` -> `j***@example.com`. Every `@` stays where it is, so a message about
/// an address's shape still shows it: `jdoe@@example.com` -> `j***@@example.com`, and the
/// `'@'` of "missing separator character '@'" stays `'@'`.
pub(crate) fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".to_string();
    };
    // The local part's pieces between its own `@`s: the first keeps its first character.
    let pieces: Vec<String> = local
        .split('@')
        .enumerate()
        .map(|(index, piece)| match piece.chars().next() {
            None => String::new(),
            Some(first) if index == 0 => format!("{first}***"),
            Some(_) => "***".to_string(),
        })
        .collect();
    format!("{}@{domain}", pieces.join("@"))
}

/// A destination as logs may show it.
pub(crate) fn mask_destination(destination: &str) -> String {
    if destination.is_empty() {
        String::new()
    } else if destination.contains('@') {
        mask_email(destination)
    } else if destination.chars().any(char::is_alphabetic) {
        mask_shape(destination)
    } else {
        mask_phone(destination)
    }
}

/// `bob.example.com` -> `b**.*******.***`: an email address without its `@` (or a value that
/// is neither address nor number), its letters and digits hidden but its first, and its
/// punctuation kept, so the log shows what is wrong with its shape.
fn mask_shape(text: &str) -> String {
    text.chars()
        .enumerate()
        .map(|(index, c)| {
            if index > 0 && c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Free text (an error message that may quote a cell) with every phone-like run of six or
/// more digits and every email-like word masked.
pub(crate) struct LogSafe<'a>(pub(crate) &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_text(self.0))
    }
}

pub(crate) fn mask_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains('@') {
            let trimmed = word.trim_matches(|c: char| "\"'(),;:<>[]".contains(c));
            out.push_str(&word.replace(trimmed, &mask_email(trimmed)));
        } else {
            out.push_str(word);
        }
    }
    mask_digit_runs(&out)
}

/// Masks runs of phone characters that hold six or more digits.
fn mask_digit_runs(text: &str) -> String {
    let is_phone_char = |c: char| c.is_ascii_digit() || "+.-() ".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || chars[i] == '+' {
            let mut j = i;
            while j < chars.len() && is_phone_char(chars[j]) {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let trimmed = run.trim_end_matches(|c: char| !c.is_ascii_digit());
            let digits = trimmed.chars().filter(char::is_ascii_digit).count();
            if digits >= 6 {
                let compact: String = trimmed
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                out.push_str(&mask_phone(&compact));
                out.push_str(&run[trimmed.len()..]);
                i = j;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_as_documented() {
        assert_eq!(mask_phone("+15125551234"), "+1******1234");
        assert_eq!(mask_email("jdoe@example.com"), "j***@example.com");
        assert_eq!(mask_email("jdoe@@example.com"), "j***@@example.com");
        assert_eq!(mask_destination("bob.example.com"), "b**.*******.***");
        assert_eq!(
            mask_text("(Missing separator character '@'.)"),
            "(Missing separator character '@'.)"
        );
        let text =
            mask_text("phone \"+1 (512) 555-1234\" is bad; write to Jane.Doe@example.com now");
        assert!(!text.contains("555"), "{text}");
        assert!(!text.contains("Jane.Doe"), "{text}");
        assert!(text.contains("1234"), "{text}");
        assert!(text.contains("J***@example.com"), "{text}");
        assert_eq!(mask_text("line 12 of 400"), "line 12 of 400");
    }

    #[test]
    fn dependencies_stay_at_warnings_unless_named() {
        for (requested, expected) in [
            ("trace", "warn,mfa_enroll=trace"),
            ("info", "warn,mfa_enroll=info"),
            ("error", "error,mfa_enroll=error"),
            ("mfa_enroll=debug,info", "warn,mfa_enroll=debug"),
            ("trace,hyper=debug", "warn,mfa_enroll=trace,hyper=debug"),
            ("rlibphonenumber", "rlibphonenumber"),
            ("DEBUG", "warn,mfa_enroll=debug"),
        ] {
            assert_eq!(directives(requested), expected, "{requested}");
        }
    }

    #[test]
    fn a_dependency_line_is_masked_after_its_timestamp() {
        let text = "2026-11-30T15:47:20.964036Z TRACE Number '5125550123': fixed-line";
        let masked = mask_line(text);
        assert!(
            masked.starts_with("2026-11-30T15:47:20.964036Z "),
            "{masked}"
        );
        assert!(!masked.contains("5125550123"), "{masked}");
        let json = r#"{"timestamp":"2026-11-30T15:47:20.964036Z","level":"TRACE","message":"number 5125550123"}"#;
        let masked = mask_line(json);
        assert!(masked.contains("2026-11-30T15:47:20.964036Z"), "{masked}");
        assert!(!masked.contains("5125550123"), "{masked}");
    }
}
