//! Every file read from outside has a ceiling, and `private_key_file` is checked when the
//! config is read: past a ceiling, or with a key that cannot sign, the run refuses at once
//! (exit 2, naming the key or variable), before `--out` is claimed and before anything is sent.

use std::time::{Duration, Instant};

use crate::hostile::server::{self, Behaviour, Hostile};
use mfa_enroll_test_support::*;

/// A file of `size` bytes that takes no room: a sparse file, as a mistaken mount may be.
fn sparse(path: &std::path::Path, size: u64) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(size))
        .expect("a sparse file");
}

/// Runs `run in.csv --config CONFIG --out out` with `env`, expecting a refusal that names
/// `key` and says `says`; returns the run.
async fn refused(ws: &Workspace, config: &str, env: &[(&str, &str)], key: &str, says: &str) -> Run {
    let mut command = launch_command(
        ws.dir.path(),
        &["run", "in.csv", "--config", config, "--out", "out"],
    );
    for (name, value) in env {
        command.env(name, value);
    }
    let started = Instant::now();
    let run = must_end(
        command.spawn().expect("the binary starts"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(run.code, 2, "{key}: {}", run.both());
    assert!(run.stderr.contains(key), "{key}: {}", run.stderr);
    assert!(run.stderr.contains(says), "{key}: {}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{key}: {:?}",
        started.elapsed()
    );
    assert!(!ws.path("out").exists(), "{key}: --out is not claimed");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_past_their_ceiling_are_refused_when_the_config_is_read() {
    let hostile = Hostile::start(Behaviour::default()).await;
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    ws.write("mfa-enroll.toml", &hostile.config(""));
    let secret_file = "PINGONE_CLIENT_SECRET_FILE";
    // /dev/zero reached 1 GB in a second; a sparse 2 GB file aborted the process.
    sparse(&ws.path("sparse-2g"), 2 << 30);
    for file in ["/dev/zero", "sparse-2g"] {
        let env = [(secret_file, file)];
        refused(
            &ws,
            "mfa-enroll.toml",
            &env,
            secret_file,
            "larger than 64 KiB",
        )
        .await;
        refused(&ws, file, &[], "--config", "larger than 1 MiB").await;
    }
    ws.write(
        "ca.toml",
        &hostile.config_with("ca_file = \"/dev/zero\"", ""),
    );
    let env = [("PINGONE_CLIENT_SECRET", server::SECRET)];
    refused(
        &ws,
        "ca.toml",
        &env,
        "[pingone] ca_file",
        "larger than 4 MiB",
    )
    .await;
    ws.write(
        "key.toml",
        &hostile.config_with(
            "token_auth_method = \"private_key_jwt\"\nprivate_key_file = \"sparse-2g\"",
            "",
        ),
    );
    refused(
        &ws,
        "key.toml",
        &[],
        "[pingone] private_key_file",
        "larger than 64 KiB",
    )
    .await;
    assert_eq!(Hostile::count(&hostile.counts().tokens), 0, "nothing sent");
}

/// PEM text of one DER section.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa_2048() -> String {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("an RSA key");
    let der: Pkcs8V1Der = pair.as_der().expect("its DER");
    pem("PRIVATE KEY", der.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_file_that_cannot_sign_is_refused_when_the_config_is_read() {
    let hostile = Hostile::start(Behaviour::default()).await;
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    ws.write(
        "mfa-enroll.toml",
        &hostile.config_with(
            "token_auth_method = \"private_key_jwt\"\nprivate_key_file = \"key.pem\"",
            "",
        ),
    );
    let ec = rcgen::KeyPair::generate().expect("a P-256 key");
    let certificate = rcgen::CertificateParams::new(vec!["localhost".into()])
        .and_then(|p| p.self_signed(&ec))
        .expect("a certificate")
        .pem();
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384");
    let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519");
    let cases = [
        (
            certificate.clone(),
            "holds a certificate, not a private key",
        ),
        (ec.public_key_pem(), "holds a public key, not a private key"),
        (
            include_str!("fixtures/rsa-1024.pem").to_string(),
            "an RSA key under 2048 bits",
        ),
        (p384.serialize_pem(), "neither RSA nor EC P-256"),
        (ed25519.serialize_pem(), "neither RSA nor EC P-256"),
        ("not a key\n".to_string(), "holds no PEM private key"),
        (
            format!("{}{}", rsa_2048(), ec.serialize_pem()),
            "holds 2 private keys",
        ),
    ];
    for (text, says) in cases {
        ws.write("key.pem", &text);
        refused(
            &ws,
            "mfa-enroll.toml",
            &[],
            "[pingone] private_key_file",
            says,
        )
        .await;
    }
    assert_eq!(Hostile::count(&hostile.counts().tokens), 0, "nothing sent");

    // A certificate beside its key is fine: the key is the one private key in the file.
    for text in [
        rsa_2048(),
        ec.serialize_pem(),
        format!("{certificate}{}", ec.serialize_pem()),
    ] {
        ws.write("key.pem", &text);
        let run = run_binary(ws.dir.path(), None, &["run", "in.csv", "--out", "ok"]).await;
        assert_eq!(run.code, 0, "{}", run.both());
        std::fs::remove_dir_all(ws.path("ok")).expect("a fresh --out next time");
    }
}
