//! How the worker app proves who it is at the token endpoint: `token_auth_method`
//! ([`TokenAuthMethod`]), and the credential it needs ([`ClientAuth`]): the secret, or the
//! private key of `private_key_jwt` (`PrivateKey`, read and checked in `private_key.rs`).

use strum::VariantArray;

use crate::cli::TokenAuthArg;

use super::file::FilePingOne;
use super::private_key::{private_key, PrivateKey};
use super::secret::{client_secret, Secret, ENV_CLIENT_SECRET, ENV_CLIENT_SECRET_FILE};
use super::{ConfigError, EnvLookup};

/// The worker app's token endpoint authentication method, as `token_auth_method` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum TokenAuthMethod {
    /// `CLIENT_SECRET_BASIC`: HTTP Basic authentication.
    Basic,
    /// `CLIENT_SECRET_POST`: client_id and client_secret in the form body.
    Post,
    /// `CLIENT_SECRET_JWT`: an HS256 assertion keyed by the secret (RFC 7523).
    ClientSecretJwt,
    /// `PRIVATE_KEY_JWT`: an RS256 or ES256 assertion signed with the app's private key.
    PrivateKeyJwt,
}

impl TokenAuthMethod {
    /// As `token_auth_method` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Post => "post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl From<TokenAuthArg> for TokenAuthMethod {
    fn from(arg: TokenAuthArg) -> Self {
        match arg {
            TokenAuthArg::Basic => Self::Basic,
            TokenAuthArg::Post => Self::Post,
            TokenAuthArg::ClientSecretJwt => Self::ClientSecretJwt,
            TokenAuthArg::PrivateKeyJwt => Self::PrivateKeyJwt,
        }
    }
}

/// How the worker app proves who it is at the token endpoint.
#[derive(Debug, Clone)]
pub(crate) enum ClientAuth {
    Basic(Secret),
    Post(Secret),
    ClientSecretJwt(Secret),
    PrivateKeyJwt(PrivateKey),
}

impl ClientAuth {
    pub(crate) fn method(&self) -> TokenAuthMethod {
        match self {
            Self::Basic(_) => TokenAuthMethod::Basic,
            Self::Post(_) => TokenAuthMethod::Post,
            Self::ClientSecretJwt(_) => TokenAuthMethod::ClientSecretJwt,
            Self::PrivateKeyJwt(_) => TokenAuthMethod::PrivateKeyJwt,
        }
    }
}

/// The credential the method needs: the secret, or the private key.
pub(super) fn client_auth(
    method: TokenAuthMethod,
    file: &FilePingOne,
    origin: &str,
    env: EnvLookup<'_>,
) -> Result<ClientAuth, ConfigError> {
    let secret = || {
        client_secret(env)?.ok_or_else(|| {
            ConfigError::new(
                "environment",
                ENV_CLIENT_SECRET,
                format!("missing; export the worker app's client secret in {ENV_CLIENT_SECRET}, or name a file holding it in {ENV_CLIENT_SECRET_FILE}"),
            )
        })
    };
    Ok(match method {
        TokenAuthMethod::Basic => ClientAuth::Basic(secret()?),
        TokenAuthMethod::Post => ClientAuth::Post(secret()?),
        TokenAuthMethod::ClientSecretJwt => ClientAuth::ClientSecretJwt(secret()?),
        TokenAuthMethod::PrivateKeyJwt => ClientAuth::PrivateKeyJwt(private_key(file, origin)?),
    })
}

pub(super) fn token_auth_method(
    text: Option<&str>,
    origin: &str,
) -> Result<TokenAuthMethod, ConfigError> {
    let Some(text) = text else {
        return Ok(TokenAuthMethod::Basic);
    };
    let wanted = text.trim().to_ascii_lowercase();
    TokenAuthMethod::VARIANTS
        .iter()
        .copied()
        .find(|m| m.as_str() == wanted)
        .ok_or_else(|| {
            ConfigError::new(
                origin,
                "[pingone] token_auth_method",
                format!("{text:?} is not basic, post, client_secret_jwt or private_key_jwt (the worker app's token endpoint authentication method)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use crate::config::secret::ENV_CLIENT_SECRET;
    use crate::config::test_support::{args, write_config};
    use crate::config::Settings;

    #[test]
    fn live_run_without_secret_says_which_variable() {
        let cfg = write_config(
            "[pingone]\nenvironment_id = \"5f4a8e2c-1111-4c1e-9d53-2a6a4a3c9b10\"\nclient_id = \"x\"\n",
        );
        let chosen = ["--config", cfg.path().to_str().unwrap(), "--no-enable-mfa"];
        let err = Settings::load(&args(&chosen), &|_| None).unwrap_err();
        assert_eq!(err.key, ENV_CLIENT_SECRET);
    }
}
