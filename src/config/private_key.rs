//! `[pingone] private_key_file`: read it (up to its ceiling), and check, when the config is
//! read, that it holds what `private_key_jwt` can sign with: one unencrypted private key,
//! RSA of 2048 bits or more (RS256) or EC on P-256 (ES256). A certificate, a public key, a
//! short RSA key or a key of another curve is refused here (exit 2, naming the key), before
//! `--out` is claimed, instead of failing at the first token.
//!
//! The PEM sections are found by rustls-pki-types, the key is parsed and sized by aws-lc-rs,
//! and a trial signature by jsonwebtoken (the code that signs every assertion) settles it.

use std::fmt;

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use jsonwebtoken::{Algorithm, EncodingKey};
use rustls::pki_types::pem::{PemObject, SectionKind};

use super::file::{relative_to, FilePingOne};
use super::ConfigError;
use crate::bounded::{self, PRIVATE_KEY_FILE_CEILING};

/// The app's private key for `private_key_jwt`. Its `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct PrivateKey {
    pub(crate) key: std::sync::Arc<jsonwebtoken::EncodingKey>,
    pub(crate) algorithm: jsonwebtoken::Algorithm,
    /// The JWT header's `kid`, when the app's JWKS holds several keys.
    pub(crate) key_id: Option<String>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?}, [redacted])", self.algorithm)
    }
}

const KEY: &str = "[pingone] private_key_file";
/// What to do when the file holds the wrong thing.
const MAKE_ONE: &str = "private_key_file names the worker app's private key, whose public half PingOne holds; an RSA key of at least 2048 bits or an EC P-256 key, unencrypted, in PEM (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 makes one)";

/// The private key `private_key_jwt` signs with, read and checked.
pub(super) fn private_key(file: &FilePingOne, origin: &str) -> Result<PrivateKey, ConfigError> {
    let path = file.private_key_file.as_ref().ok_or_else(|| {
        ConfigError::new(
            origin,
            KEY,
            "missing; private_key_jwt signs with the worker app's private key (a PEM file)",
        )
    })?;
    let path = relative_to(origin, path);
    let pem = bounded::read(&path, PRIVATE_KEY_FILE_CEILING)
        .map_err(|e| ConfigError::new(origin, KEY, e.to_string()))?;
    let refuse = |what: String| {
        ConfigError::new(
            origin,
            KEY,
            format!("{} {what}; {MAKE_ONE}", path.display()),
        )
    };
    let (key, algorithm) = signing_key(&pem).map_err(refuse)?;
    Ok(PrivateKey {
        key: std::sync::Arc::new(key),
        algorithm,
        key_id: file.private_key_id.clone().filter(|k| !k.trim().is_empty()),
    })
}

/// The one private key in `pem`, as jsonwebtoken signs with it, or what is wrong (never the
/// key's bytes: the message says what kind of thing the file holds).
fn signing_key(pem: &[u8]) -> Result<(EncodingKey, Algorithm), String> {
    let mut private = Vec::new();
    let mut others = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let (kind, der) = section.map_err(|_| "is not a readable PEM file".to_string())?;
        match kind {
            SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
                private.push((kind, der))
            }
            other => others.push(other),
        }
    }
    let (kind, der) = match private.len() {
        1 => private.remove(0),
        0 => return Err(describe_no_key(pem, &others)),
        n => {
            return Err(format!(
                "holds {n} private keys; keep only the one the app uses"
            ))
        }
    };
    let (key, algorithm) = match kind {
        SectionKind::RsaPrivateKey => rsa_pkcs1(&der)?,
        SectionKind::EcPrivateKey => ec_sec1(&der)?,
        _ => pkcs8(&der)?,
    };
    trial_signature(&key, algorithm)?;
    Ok((key, algorithm))
}

/// Why a file without a private key section is refused.
fn describe_no_key(pem: &[u8], others: &[SectionKind]) -> String {
    let encrypted = pem
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY");
    if encrypted {
        return "holds an encrypted private key, which a run cannot unlock; decrypt it (openssl pkcs8 -in KEY -nocrypt -topk8 -out KEY.pem) and keep the file private".into();
    }
    match others.first() {
        Some(SectionKind::Certificate) => "holds a certificate, not a private key".into(),
        Some(SectionKind::PublicKey) => "holds a public key, not a private key".into(),
        Some(other) => format!("holds a {other:?} section, not a private key"),
        None => "holds no PEM private key (-----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)".into(),
    }
}

/// aws-lc-rs's verdict on an RSA key, as the user can act on it.
fn rsa_refused(rejected: aws_lc_rs::error::KeyRejected) -> String {
    match rejected.description_() {
        "TooSmall" => "holds an RSA key under 2048 bits, which RS256 must not use".into(),
        "TooLarge" => "holds an RSA key over 8192 bits".into(),
        _ => "holds an RSA private key that cannot be used".into(),
    }
}

/// `RSA PRIVATE KEY` (PKCS #1): jsonwebtoken signs with exactly this DER.
fn rsa_pkcs1(der: &[u8]) -> Result<(EncodingKey, Algorithm), String> {
    aws_lc_rs::rsa::KeyPair::from_der(der).map_err(rsa_refused)?;
    Ok((EncodingKey::from_rsa_der(der), Algorithm::RS256))
}

/// `EC PRIVATE KEY` (SEC 1): on P-256, turned into the PKCS #8 jsonwebtoken signs with.
fn ec_sec1(der: &[u8]) -> Result<(EncodingKey, Algorithm), String> {
    let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
        .map_err(|_| "holds an EC key that is not on the P-256 curve (ES256 needs P-256)")?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| "holds an EC key that cannot be used")?;
    Ok((EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES256))
}

/// `PRIVATE KEY` (PKCS #8): RSA or EC P-256, nothing else.
fn pkcs8(der: &[u8]) -> Result<(EncodingKey, Algorithm), String> {
    match aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
        Ok(_) => {
            // jsonwebtoken reads RSA keys as PKCS #1, which it finds inside the PKCS #8 PEM.
            let single = pem_text("PRIVATE KEY", der);
            let key = EncodingKey::from_rsa_pem(single.as_bytes())
                .map_err(|_| "holds an RSA private key that cannot be used")?;
            return Ok((key, Algorithm::RS256));
        }
        Err(rejected) if matches!(rejected.description_(), "TooSmall" | "TooLarge") => {
            return Err(rsa_refused(rejected))
        }
        Err(_) => {}
    }
    if EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).is_ok() {
        return Ok((EncodingKey::from_ec_der(der), Algorithm::ES256));
    }
    Err("holds a private key that is neither RSA nor EC P-256 (private_key_jwt signs RS256 or ES256)".into())
}

/// One PEM section around `der`.
fn pem_text(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Signs a throwaway claim with the key, as every client assertion will be signed.
fn trial_signature(key: &EncodingKey, algorithm: Algorithm) -> Result<(), String> {
    let claims = serde_json::json!({ "probe": true });
    jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), &claims, key)
        .map(drop)
        .map_err(|e| format!("holds a key jsonwebtoken cannot sign with ({:?})", e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(pem: &str) -> String {
        match signing_key(pem.as_bytes()) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn ec_p256_keys_in_either_form_are_accepted() {
        let pair = rcgen::KeyPair::generate().unwrap();
        let (_, algorithm) = signing_key(pair.serialize_pem().as_bytes()).unwrap();
        assert_eq!(algorithm, Algorithm::ES256);
        let sec1 =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pair.serialized_der())
                .unwrap();
        use aws_lc_rs::encoding::AsDer;
        let der = sec1.private_key().as_der().unwrap();
        let text = pem_text("EC PRIVATE KEY", der.as_ref());
        assert_eq!(signing_key(text.as_bytes()).unwrap().1, Algorithm::ES256);
    }

    #[test]
    fn rsa_keys_of_2048_bits_are_accepted() {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
        let text = pem_text("PRIVATE KEY", der.as_ref());
        assert_eq!(signing_key(text.as_bytes()).unwrap().1, Algorithm::RS256);
        let short = include_str!("../../tests/it/fixtures/rsa-1024.pem");
        assert_eq!(
            refusal(short),
            "holds an RSA key under 2048 bits, which RS256 must not use"
        );
    }

    #[test]
    fn what_is_not_a_usable_private_key_is_named() {
        let pair = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let certificate = params.self_signed(&pair).unwrap().pem();
        assert_eq!(
            refusal(&certificate),
            "holds a certificate, not a private key"
        );
        assert_eq!(
            refusal(&pair.public_key_pem()),
            "holds a public key, not a private key"
        );
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(refusal(&p384.serialize_pem()).contains("neither RSA nor EC P-256"));
        let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        assert!(refusal(&ed25519.serialize_pem()).contains("neither RSA nor EC P-256"));
        assert!(refusal("hello").starts_with("holds no PEM private key"));
        let two = format!("{}{}", pair.serialize_pem(), pair.serialize_pem());
        assert!(refusal(&two).starts_with("holds 2 private keys"));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(refusal(encrypted).contains("encrypted"));
    }
}
