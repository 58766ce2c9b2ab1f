//! The client secret: [`Secret`], which never prints itself, and where it comes from
//! (`PINGONE_CLIENT_SECRET`, or the file `PINGONE_CLIENT_SECRET_FILE` names; never the
//! config file).

use std::fmt;
use std::path::PathBuf;

use super::{ConfigError, EnvLookup};

pub(crate) const ENV_CLIENT_SECRET: &str = "PINGONE_CLIENT_SECRET";
pub(crate) const ENV_CLIENT_SECRET_FILE: &str = "PINGONE_CLIENT_SECRET_FILE";

/// A credential that must never be printed. Only [`Secret::expose`] reveals it, at the one
/// place that puts it on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `PINGONE_CLIENT_SECRET`, or the file `PINGONE_CLIENT_SECRET_FILE` names (Kubernetes and
/// systemd mount secrets as files); never both.
pub(super) fn client_secret(env: EnvLookup<'_>) -> Result<Option<Secret>, ConfigError> {
    let file = match (env(ENV_CLIENT_SECRET), env(ENV_CLIENT_SECRET_FILE)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "environment",
                ENV_CLIENT_SECRET_FILE,
                format!("both {ENV_CLIENT_SECRET} and {ENV_CLIENT_SECRET_FILE} are set; unset one, so it is clear which secret is used"),
            ))
        }
        (Some(secret), None) => return Ok(Some(Secret::new(secret))),
        (None, None) => return Ok(None),
        (None, Some(file)) => PathBuf::from(file),
    };
    let problem = |what: String| ConfigError::new("environment", ENV_CLIENT_SECRET_FILE, what);
    let text = crate::bounded::read_to_string(&file, crate::bounded::SECRET_FILE_CEILING)
        .map_err(|e| problem(format!("{e}; check the path and permissions")))?;
    // Files end with a newline; the secret does not.
    let secret = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err(problem(format!("{} is empty", file.display())));
    }
    Ok(Some(Secret::new(secret)))
}
