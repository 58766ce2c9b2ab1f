//! `[pingone] ca_file`: extra CA certificates trusted beside the system's ([`ExtraRoots`]),
//! read and checked when the config is loaded, not at the first request.

use std::fmt;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The certificates of `ca_file`, read and checked when the config is loaded.
#[derive(Clone)]
pub(crate) struct ExtraRoots {
    pub(crate) path: PathBuf,
    pub(crate) certificates: Vec<reqwest::Certificate>,
}

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ExtraRoots({}, {} certificates)",
            self.path.display(),
            self.certificates.len()
        )
    }
}

/// Reads `ca_file`: one or more PEM certificates.
pub(super) fn extra_roots(path: &Path, origin: &str) -> Result<ExtraRoots, ConfigError> {
    let key = "[pingone] ca_file";
    let pem = crate::bounded::read(path, crate::bounded::CA_FILE_CEILING)
        .map_err(|e| ConfigError::new(origin, key, e.to_string()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
    if certificates.is_empty() {
        return Err(ConfigError::new(
            origin,
            key,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(ExtraRoots {
        path: path.to_path_buf(),
        certificates,
    })
}
