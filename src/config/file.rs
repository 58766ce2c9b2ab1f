//! The config file: the TOML schema as serde reads it (one struct per table, unknown keys
//! refused), finding and reading the file, and errors that name the key and its line.
//! What the values mean is each section's own file; this one only knows their shapes.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::redact;
use super::secret::{ENV_CLIENT_SECRET, ENV_CLIENT_SECRET_FILE};
use super::ConfigError;

const DEFAULT_CONFIG_FILE: &str = "mfa-enroll.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) pingone: FilePingOne,
    #[serde(default)]
    pub(super) enroll: FileEnroll,
    #[serde(default)]
    pub(super) limits: FileLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePingOne {
    pub(super) environment_id: Option<String>,
    pub(super) region: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) token_auth_method: Option<String>,
    pub(super) private_key_file: Option<PathBuf>,
    pub(super) private_key_id: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) worker_environment_id: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) auth_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEnroll {
    pub(super) policy_id: Option<String>,
    pub(super) status: Option<String>,
    pub(super) on_existing: Option<String>,
    pub(super) max_deletes: Option<u64>,
    pub(super) default_country: Option<String>,
    pub(super) allow_messages: Option<bool>,
    pub(super) enable_mfa: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) rate: Option<i64>,
    pub(super) concurrency: Option<super::concurrency::Concurrency>,
    pub(super) max_retries: Option<i64>,
    pub(super) timeout_s: Option<i64>,
    pub(super) backoff_initial_ms: Option<i64>,
    pub(super) backoff_max_s: Option<i64>,
    pub(super) stop_after_failures: Option<i64>,
    pub(super) list_lag_s: Option<i64>,
    pub(super) user_not_found_grace_s: Option<i64>,
}

/// The config and the file it came from (`None`: no file, every key at its default).
pub(super) fn read_config_file(
    explicit: Option<&Path>,
) -> Result<(FileConfig, Option<PathBuf>), ConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG_FILE).is_file() => PathBuf::from(DEFAULT_CONFIG_FILE),
        None => return Ok((FileConfig::default(), None)),
    };
    let origin = path.display().to_string();
    let text = crate::bounded::read_to_string(&path, crate::bounded::CONFIG_FILE_CEILING).map_err(
        |e| {
            ConfigError::new(
                &origin,
                "--config",
                format!("cannot read the config file: {e}; check the path"),
            )
        },
    )?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| redact::syntax_error(&origin, &text, &e))?;
    if let Some(section) = table.get("pingone").and_then(|v| v.as_table()) {
        if section.contains_key("client_secret") {
            return Err(ConfigError::new(
                &origin,
                "[pingone] client_secret",
                format!("the secret is never read from the config file; remove the key and set {ENV_CLIENT_SECRET}, or {ENV_CLIENT_SECRET_FILE} naming a file that holds it"),
            ));
        }
    }
    let file = parse_keys(&text, &origin).map_err(|e| redact::scrubbed(&text, e))?;
    Ok((file, Some(path)))
}

/// Deserialises the config, naming the key (`[limits] rate`) and its line when a value has
/// the wrong type or a key is unknown.
fn parse_keys(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| redact::syntax_error(origin, text, &e))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = match path.split_once('.') {
            Some((table, key)) => format!("[{table}] {key}"),
            None => format!("[{path}]"),
        };
        let line = e
            .inner()
            .span()
            .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
        let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
        ConfigError::new(
            origin,
            key,
            format!(
                "{at}{}; config.example.toml lists every key with its type",
                e.inner().message().trim()
            ),
        )
    })
}

/// A path from the config file is relative to the file's folder, as users expect.
pub(super) fn relative_to(origin: &str, path: &Path) -> PathBuf {
    match Path::new(origin).parent() {
        Some(folder) if path.is_relative() && Path::new(origin).is_file() => folder.join(path),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::{args, env_with_secret, write_config};
    use crate::config::Settings;
    use crate::model::OnExisting;

    #[test]
    fn the_example_config_documents_valid_keys() {
        let text = include_str!("../../config.example.toml");
        let cfg = write_config(text);
        let env = |name: &str| env_with_secret(name);
        // As it is, a live run must still choose users' MFA switch: refused, naming the key.
        let refused = Settings::load(&args(&["--config", cfg.path().to_str().unwrap()]), &env);
        let refused = refused.unwrap_err().to_string();
        assert!(refused.contains("[enroll] enable_mfa"), "{refused}");
        let chosen = args(&["--config", cfg.path().to_str().unwrap(), "--no-enable-mfa"]);
        let s = Settings::load(&chosen, &env).unwrap();
        assert_eq!(s.limits.rate, 50);
        assert_eq!(s.enroll.on_existing, OnExisting::Skip);
        assert!(!s.enroll.enable_mfa);
        // The keys it shows commented out parse too, with the values it shows.
        let shown = [
            "# worker_environment_id = \"00000000-0000-0000-0000-000000000000\"",
            "# enable_mfa = true",
        ];
        assert!(shown.iter().all(|line| text.contains(line)), "{shown:?}");
        let uncommented = text
            .replace(
                shown[0],
                "worker_environment_id = \"ad0115e0-0000-4000-8000-0000000000ad\"",
            )
            .replace(shown[1], "enable_mfa = true");
        let cfg = write_config(&uncommented);
        let s = Settings::load(&args(&["--config", cfg.path().to_str().unwrap()]), &env).unwrap();
        assert!(s.enroll.enable_mfa);
        let worker = s.connection.unwrap().worker_environment_id;
        assert_eq!(worker, "ad0115e0-0000-4000-8000-0000000000ad");
    }

    #[test]
    fn secret_in_the_file_is_refused_and_not_echoed() {
        let cfg = write_config("[pingone]\nclient_secret = \"hunter2-secret\"\n");
        let path = cfg.path().to_str().unwrap();
        let err = Settings::load(&args(&["--config", path]), &|_| None).unwrap_err();
        assert_eq!(err.key, "[pingone] client_secret");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn unknown_key_is_named() {
        let cfg = write_config("[limits]\nrat = 5\n");
        let path = cfg.path().to_str().unwrap();
        let err = Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
        assert!(err.to_string().contains("rat"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key_and_line() {
        for (text, key, line) in [
            ("[limits]\nrate = \"fast\"\n", "[limits] rate", "line 2"),
            ("[pingone]\n\nregion = 5\n", "[pingone] region", "line 3"),
            (
                "[enroll]\nallow_messages = \"yes\"\n",
                "[enroll] allow_messages",
                "line 2",
            ),
            ("limits = 5\n", "[limits]", "line 1"),
        ] {
            let cfg = write_config(text);
            let path = cfg.path().to_str().unwrap();
            let err =
                Settings::load(&args(&["--config", path, "--dry-run"]), &|_| None).unwrap_err();
            assert_eq!(err.key, key, "{text}");
            assert!(err.problem.starts_with(line), "{text}: {err}");
            assert!(err.problem.contains("invalid type"), "{err}");
        }
    }
}
