//! The one value every stage of a run takes: [`RunContext`], what is fixed for the whole run
//! when it starts (the settings, its clock, the rules rows fall back on, where its requests
//! go, the stop flag), and the summary as a run begins it. A stage reads what it needs of
//! it; what changes from stage to stage is handed on through `handoff`, never kept here.

use std::sync::Arc;
use std::time::Instant;

use super::handoff::{InputFacts, OutputDir};
use crate::codes::Code;
use crate::config::{RunMode, Settings};
use crate::record::summary::{
    now_rfc3339, InputInfo, Notice, SettingsEcho, ShardInfo, Summary, Target,
};
use crate::sandbox::SANDBOX_POLICY_ID;
use crate::stop::Stop;
use crate::validate::Rules;

/// What is fixed for one run from its start: every stage takes this one value.
pub(crate) struct RunContext {
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    /// The defaults a row falls back on.
    pub(crate) rules: Rules,
    /// Where this run's requests go, as summary.json records it.
    pub(crate) target: Target,
    /// Set by a signal, the client or the engine; every stage looks at it.
    pub(crate) stop: Arc<Stop>,
}

/// When the run started: by the monotonic clock (its durations) and by the calendar (what
/// summary.json says).
pub(crate) struct Clock {
    pub(crate) started: Instant,
    pub(crate) started_at: String,
}

impl RunContext {
    /// The context of a run starting now.
    pub(crate) fn start(settings: Settings, stop: Arc<Stop>) -> RunContext {
        let clock = Clock {
            started: Instant::now(),
            started_at: now_rfc3339(),
        };
        RunContext {
            rules: rules_for(&settings),
            target: target_of(&settings),
            settings,
            clock,
            stop,
        }
    }

    /// Whether this run switches users' MFA on: asked for, or carried on from the run that
    /// `--resume` continues (whose rows of users still to switch on it redoes).
    pub(crate) fn enable_mfa(&self, out: &OutputDir) -> bool {
        let earlier = out.has_results
            && out
                .earlier
                .as_ref()
                .is_some_and(|summary| summary.settings.enable_mfa);
        self.settings.enroll.enable_mfa || earlier
    }

    /// What a run says once, at its start, about the whole run: a default it lacks.
    fn notices(&self) -> Vec<Notice> {
        let mut notices = Vec::new();
        if self.rules.default_policy.is_none() {
            let config = match &self.settings.config_file {
                Some(path) => format!("in {}", path.display()),
                None => "(no config file was loaded)".to_string(),
            };
            notices.push(Notice {
                code: Code::MissingPolicy.as_str().to_string(),
                message: format!(
                    "no default device authentication policy: no --policy-id, and no [enroll] \
                     policy_id {config}; rows with an empty policy_id are invalid (MISSING_POLICY; \
                     said here once, not row by row: errors.csv lists them), and every other \
                     check still runs"
                ),
            });
        }
        notices
    }

    /// The run's first log lines: which config file it read, and its notices.
    pub(crate) fn announce(&self) {
        match &self.settings.config_file {
            Some(path) => tracing::info!(config = %path.display(), "config file loaded"),
            None => tracing::info!(
                "no config file loaded (no --config, and no mfa-enroll.toml in the working directory)"
            ),
        }
        for notice in self.notices() {
            tracing::warn!(code = notice.code, "{}", notice.message);
        }
    }

    /// summary.json as written when the run begins sending (or stops before it could).
    pub(crate) fn initial_summary(&self, out: &OutputDir, facts: &InputFacts) -> Summary {
        let settings = &self.settings;
        let first_started_at = out
            .earlier
            .as_ref()
            .filter(|_| out.has_results)
            .map(|p| p.first_started_at.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.clock.started_at.clone());
        Summary {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            mode: settings.mode,
            sandbox: settings.use_sandbox,
            target: Some(self.target.clone()),
            input: InputInfo {
                path: settings.input.display_path().display().to_string(),
                sha256: facts.sha256.clone(),
                records: facts.records,
                lines: facts.lines.clone(),
            },
            shard: facts.assignment.map(|a| ShardInfo {
                index: a.shard.index,
                count: a.shard.count,
                keyed_by: a.keyed_by,
            }),
            first_started_at,
            started_at: self.clock.started_at.clone(),
            settings: SettingsEcho {
                rate: settings.limits.rate,
                concurrency: settings.limits.concurrency,
                max_retries: settings.limits.max_retries,
                on_existing: settings.enroll.on_existing,
                enable_mfa: self.enable_mfa(out),
                config_file: settings.config_file.as_ref().map(|path| {
                    std::path::absolute(path)
                        .unwrap_or_else(|_| path.clone())
                        .display()
                        .to_string()
                }),
            },
            resumed_rows: out.finished.len() as u64,
            notices: self.notices(),
            ..Summary::default()
        }
    }
}

/// Where this run's requests go, as summary.json records it.
fn target_of(settings: &Settings) -> Target {
    match (&settings.mode, settings.use_sandbox, &settings.connection) {
        (RunMode::DryRunOffline, _, _) => Target::Offline,
        (_, true, _) => Target::Sandbox,
        (_, false, Some(connection)) => Target::Pingone {
            environment_id: connection.environment_id.clone(),
            api_host: connection.api_host(),
            worker_environment_id: Some(connection.worker_environment_id.clone()),
        },
        (_, false, None) => Target::Offline,
    }
}

/// The defaults a row falls back on.
fn rules_for(settings: &Settings) -> Rules {
    let sandbox_policy = settings
        .use_sandbox
        .then(|| uuid::Uuid::parse_str(SANDBOX_POLICY_ID).ok())
        .flatten();
    Rules {
        default_policy: settings.enroll.policy_id.or(sandbox_policy),
        default_status: settings.enroll.status,
        default_country: settings.enroll.default_country,
    }
}
