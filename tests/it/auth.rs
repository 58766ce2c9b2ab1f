//! Client authentication as PingOne enforces it, against the real binary: the four token
//! endpoint methods, each accepted only where the app is configured for it; RFC 7523
//! assertions checked for signature, audience, expiry and replay; the secret read from a
//! file; and neither secret nor private key in any output.

use std::time::{SystemTime, UNIX_EPOCH};

use mfa_enroll::config::TokenAuthMethod;
use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;
use strum::VariantArray;

/// An EC P-256 key pair for private_key_jwt: (private PEM, public PEM).
fn key_pair() -> (String, String) {
    let pair = rcgen::KeyPair::generate().expect("a P-256 key");
    (pair.serialize_pem(), pair.public_key_pem())
}

/// A sandbox whose app accepts only `method`, and a workspace configured for `configured`.
async fn app(method: TokenAuthMethod, configured: TokenAuthMethod) -> (Sandbox, Workspace, String) {
    let (private, public) = key_pair();
    let options = SandboxOptions {
        token_auth: method,
        client_public_key: Some(public.into_bytes()),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    ws.write("client-key.pem", &private);
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let config = config.replace(
        &format!("token_auth_method = \"{}\"", method.as_str()),
        &format!(
            "token_auth_method = \"{}\"\nprivate_key_file = \"client-key.pem\"",
            configured.as_str()
        ),
    );
    // A second private_key_file line would be a TOML error: keep the one just added.
    let config = config.replacen(
        "private_key_file = \"client-key.pem\"   # the private half of --client-public-key\n",
        "",
        1,
    );
    ws.write("mfa-enroll.toml", &config);
    ws.write("in.csv", &sms_rows(3));
    (sandbox, ws, private)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_method_works_where_configured_and_only_there() {
    for &method in TokenAuthMethod::VARIANTS {
        for &configured in TokenAuthMethod::VARIANTS {
            let (sandbox, ws, private) = app(method, configured).await;
            let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
            let why = format!("app {method:?}, client {configured:?}: {}", run.both());
            let tally = sandbox.tally();
            if method == configured {
                assert_eq!(run.code, 0, "{why}");
                assert_eq!(tally.devices_created, 3, "{why}");
                assert_eq!(tally.token_refusals, 0, "{why}");
            } else {
                assert_eq!(run.code, 3, "{why}");
                assert_eq!(ws.summary()["stopped_early"]["code"], "CREDENTIALS_REFUSED");
                assert!(run.both().contains(configured.as_str()), "{why}");
                assert_eq!(tally.requests, 0, "{why}");
                assert!(tally.token_refusals > 0, "{why}");
            }
            // Neither the secret nor the private key reaches any output.
            let secret = sandbox.options().client_secret.expose().to_string();
            let key_body: String = private
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            for text in [run.stdout.as_str(), run.stderr.as_str()] {
                assert!(!text.contains(&secret), "{why}");
                assert!(!text.contains(&key_body[..40]), "{why}");
            }
            for entry in std::fs::read_dir(ws.out()).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
                assert!(!text.contains(&secret) && !text.contains(&key_body[..40]));
            }
        }
    }
}

#[derive(serde::Serialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

#[tokio::test]
async fn the_sandbox_refuses_bad_assertions() {
    let (private, public) = key_pair();
    let sandbox = sandbox(SandboxOptions {
        token_auth: TokenAuthMethod::PrivateKeyJwt,
        client_public_key: Some(public.into_bytes()),
        ..SandboxOptions::default()
    })
    .await;
    let options = sandbox.options();
    let token_url = format!("{}/{}/as/token", sandbox.auth_url(), options.environment_id);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = Claims {
        iss: options.client_id.clone(),
        sub: options.client_id.clone(),
        aud: token_url.clone(),
        iat: now,
        exp: now + 300,
        jti: "one".into(),
    };
    let key = jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap();
    let sign = |claims: &Claims| {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    let http = reqwest::Client::new();
    let ask = |assertion: String, secret: Option<&str>| {
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", assertion),
        ];
        if let Some(secret) = secret {
            form.push(("client_secret", secret.to_string()));
        }
        let request = http.post(&token_url).form(&form);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(ask(sign(&good), None).await, 200);
    assert_eq!(ask(sign(&good), None).await, 401, "the same jti again");
    let cases = [
        Claims {
            aud: "https://auth.pingone.com/x/as/token".into(),
            jti: "2".into(),
            ..clone(&good)
        },
        Claims {
            exp: now - 60,
            iat: now - 400,
            jti: "3".into(),
            ..clone(&good)
        },
        Claims {
            iss: "someone-else".into(),
            jti: "4".into(),
            ..clone(&good)
        },
    ];
    for claims in &cases {
        assert_eq!(
            ask(sign(claims), None).await,
            401,
            "aud {} exp {}",
            claims.aud,
            claims.exp
        );
    }
    let fresh = Claims {
        jti: "5".into(),
        ..clone(&good)
    };
    let secret = options.client_secret.expose().to_string();
    assert_eq!(
        ask(sign(&fresh), Some(&secret)).await,
        401,
        "a secret where a JWT is required"
    );
    let (other_private, _) = key_pair();
    let other = jsonwebtoken::EncodingKey::from_ec_pem(other_private.as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let forged = jsonwebtoken::encode(
        &header,
        &Claims {
            jti: "6".into(),
            ..clone(&good)
        },
        &other,
    );
    assert_eq!(
        ask(forged.unwrap(), None).await,
        401,
        "signed by another key"
    );
    assert_eq!(sandbox.tally().token_refusals, 6);
}

fn clone(c: &Claims) -> Claims {
    Claims {
        iss: c.iss.clone(),
        sub: c.sub.clone(),
        aud: c.aud.clone(),
        iat: c.iat,
        exp: c.exp,
        jti: c.jti.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_may_come_from_a_file_and_not_from_both() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(2));
    let secret = sandbox.options().client_secret.expose().to_string();
    // As Kubernetes mounts it: the value and one trailing newline.
    ws.write("secret", &format!("{secret}\n"));
    let args = enroll_args("in.csv", "out", &[]);
    let mut command = launch_command(ws.dir.path(), &args);
    command.env("PINGONE_CLIENT_SECRET_FILE", ws.path("secret"));
    let run: Run = command.output().await.unwrap().into();
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 2);

    let mut both = launch_command(ws.dir.path(), &args);
    both.env("PINGONE_CLIENT_SECRET_FILE", ws.path("secret"));
    both.env("PINGONE_CLIENT_SECRET", &secret);
    let run: Run = both.output().await.unwrap().into();
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr.contains("PINGONE_CLIENT_SECRET_FILE"),
        "{}",
        run.stderr
    );
    assert!(!run.both().contains(&secret));

    let mut missing = launch_command(ws.dir.path(), &args);
    missing.env("PINGONE_CLIENT_SECRET_FILE", ws.path("no-such-file"));
    let run: Run = missing.output().await.unwrap().into();
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(run.stderr.contains("no-such-file"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_needs_no_secret() {
    let (sandbox, ws, _) = app(
        TokenAuthMethod::PrivateKeyJwt,
        TokenAuthMethod::PrivateKeyJwt,
    )
    .await;
    let run = enroll_as(&ws, None, "in.csv", "out", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 3);
}
