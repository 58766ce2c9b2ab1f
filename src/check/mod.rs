//! `mfa-enroll check [INPUT]`: meet the tenant before the run. Reads only, and a handful of
//! requests whatever the file's size (never one per user): the token and the hosts
//! (`tenant.rs`), the policies the file names, the MFA settings and the notification
//! quotas against what the file asks (`file.rs` reads the input once, `messages.rs` counts
//! the messages it would cause). The answer is a checklist, each line passed, failed (with
//! what to fix) or not checked (the token may not read that setting).
//!
//! Exit codes: 0 the tenant can take the file, 1 something the file needs is missing or
//! off, 2 the tenant cannot be reached or the credentials are refused (or the input or the
//! configuration cannot be used).

pub(crate) mod file;
pub(crate) mod messages;
mod tenant;

use std::sync::Arc;

use serde::Serialize;

use crate::config::Settings;
use crate::exit::ExitStatus;
use crate::pingone::{Client, RequestStats};
use crate::stop::Stop;
use crate::validate::Rules;
use file::{FileError, FileFacts};

/// How one line of the checklist ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Pass,
    Fail,
    /// The token may not read the setting (403), or there was nothing to check it against.
    NotChecked,
}

/// One line of the checklist: what was checked, and what was found or is to be fixed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Item {
    pub(crate) status: Status,
    pub(crate) check: &'static str,
    pub(crate) detail: String,
}

impl Item {
    pub(crate) fn new(status: Status, check: &'static str, detail: impl Into<String>) -> Item {
        Item {
            status,
            check,
            detail: detail.into(),
        }
    }
}

/// The whole answer: the lines, and its exit code.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Checklist {
    pub(crate) exit_code: i32,
    pub(crate) checks: Vec<Item>,
}

impl Checklist {
    fn ended(checks: Vec<Item>, refused: bool) -> Checklist {
        let exit_code = if refused {
            ExitStatus::NothingSent.code()
        } else if checks.iter().any(|c| c.status == Status::Fail) {
            1
        } else {
            0
        };
        Checklist { exit_code, checks }
    }

    /// The exit code: 0, 1 or 2 as the module says.
    pub(crate) fn exit_code(&self) -> i32 {
        self.exit_code
    }
}

/// Why `check` could not begin: the input or the HTTP client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    #[error("{0}")]
    File(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error("no connection settings: check needs [pingone] (or PINGONE_* variables)")]
    NoConnection,
}

/// Runs every check against the tenant `settings` name, with the input when one is given.
pub(crate) async fn check(
    settings: Settings,
    with_input: bool,
    stop: Arc<Stop>,
) -> Result<Checklist, CheckError> {
    let facts = if with_input {
        Some(read_input(&settings, stop.clone()).await?)
    } else {
        None
    };
    let connection = settings
        .connection
        .clone()
        .ok_or(CheckError::NoConnection)?;
    let stats = Arc::new(RequestStats::default());
    let client = Client::new(&connection, &settings.limits, stop.clone(), stats)
        .map_err(|e| CheckError::HttpClient(e.to_string()))?;
    let mut checks = Vec::new();
    if let Some(facts) = &facts {
        checks.push(file_item(facts));
    }
    let reached = tenant::connect(&client, &connection, &stop, &mut checks).await;
    if !reached {
        return Ok(Checklist::ended(checks, true));
    }
    let tenant = tenant::Tenant {
        client: &client,
        settings: &settings,
        facts: facts.as_ref(),
    };
    tenant.read_all(&mut checks).await;
    tenant.roles(&stop, &mut checks).await;
    Ok(Checklist::ended(checks, false))
}

/// The input read and validated on a thread of its own.
async fn read_input(settings: &Settings, stop: Arc<Stop>) -> Result<FileFacts, CheckError> {
    let source = settings.input.clone();
    let delimiter = settings.delimiter;
    let rules = Rules {
        default_policy: settings.enroll.policy_id,
        default_status: settings.enroll.status,
        default_country: settings.enroll.default_country,
    };
    let reading =
        tokio::task::spawn_blocking(move || file::read_facts(&source, delimiter, rules, &stop));
    match reading.await {
        Ok(Ok(facts)) => Ok(facts),
        Ok(Err(FileError::Input(e))) => Err(CheckError::File(e.to_string())),
        Ok(Err(FileError::Stopped)) => {
            Err(CheckError::File("stopped while the input was read".into()))
        }
        Err(e) => Err(CheckError::File(format!(
            "the input's reader stopped unexpectedly: {e}"
        ))),
    }
}

/// The input's own line: its rows, and the invalid ones (the run would fail them whatever
/// the tenant says).
fn file_item(facts: &FileFacts) -> Item {
    let rows = crate::words::count(facts.records, "row", "rows");
    match &facts.first_problem {
        None => Item::new(Status::Pass, "input", format!("{rows}, every one valid")),
        Some(first) => Item::new(
            Status::Fail,
            "input",
            format!(
                "{rows}; {} invalid (first: {first}); `mfa-enroll run FILE --dry-run` lists them all in errors.csv",
                facts.invalid.describe()
            ),
        ),
    }
}

/// The checklist as text: one line per check, then the verdict.
pub(crate) fn as_text(list: &Checklist) -> String {
    let mut text = String::new();
    for item in &list.checks {
        let mark = match item.status {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::NotChecked => "- not checked:",
        };
        text.push_str(&format!("{mark} {}: {}\n", item.check, item.detail));
    }
    text.push_str(match list.exit_code {
        0 => "The tenant can take the file.\n",
        1 => "Fix the lines marked ✗ before the run.\n",
        _ => "The tenant could not be checked (exit 2).\n",
    });
    text
}
