//! The sandbox on its own, spoken to over HTTP as PingOne would be: authentication,
//! validation and error bodies, the rate limit, injected faults, the device cap and the tally;
//! and `mfa-enroll sandbox` as a standing server, with its command-line options.

use std::path::Path;
use std::time::Duration;

use mfa_enroll::pingone::wire::{
    Device, DeviceList, ErrorBody, MfaSettings, TokenResponse, UserList,
};
use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout};

struct Client {
    http: reqwest::Client,
    sandbox_env: String,
    api: String,
    token: String,
}

async fn client(sandbox: &Sandbox) -> Client {
    let http = reqwest::Client::new();
    let options = sandbox.options();
    let token: TokenResponse = http
        .post(format!(
            "{}/{}/as/token",
            sandbox.auth_url(),
            options.environment_id
        ))
        .basic_auth(&options.client_id, Some(options.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Client {
        http,
        sandbox_env: options.environment_id.clone(),
        api: sandbox.api_url(),
        token: token.access_token,
    }
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}/environments/{}{path}", self.api, self.sandbox_env)
    }

    async fn post_device(&self, user: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/users/{user}/devices")))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn tokens_need_the_right_credentials_by_the_configured_method() {
    let sandbox = sandbox(SandboxOptions {
        token_auth: mfa_enroll::config::TokenAuthMethod::Post,
        ..SandboxOptions::default()
    })
    .await;
    let options = sandbox.options();
    let http = reqwest::Client::new();
    let url = format!("{}/{}/as/token", sandbox.auth_url(), options.environment_id);
    let by_post = http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", options.client_id.as_str()),
            ("client_secret", options.client_secret.expose()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_post.status(), 200);
    // The right secret by another method than the app's: refused, as PingOne does.
    let wrong = http
        .post(&url)
        .basic_auth(&options.client_id, Some(options.client_secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // Without a token, the API answers 401 ACCESS_FAILED.
    let anonymous = http
        .get(format!(
            "{}/environments/{}/mfaSettings",
            sandbox.api_url(),
            options.environment_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let error: ErrorBody = anonymous.json().await.unwrap();
    assert_eq!(error.code.as_deref(), Some("ACCESS_FAILED"));
    assert_eq!(sandbox.tally().token_requests, 2);
}

#[tokio::test]
async fn device_creation_validates_like_pingone() {
    let sandbox = sandbox(SandboxOptions {
        max_devices: 2,
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&sandbox).await;
    let user = user_id(1);
    let policy = json!({"id": POLICY});

    // What PingOne refuses, and how: (body, status, detail code, target).
    let refused = [
        (
            json!({"type": "SMS", "policy": policy}),
            "REQUIRED_VALUE",
            "phone",
        ),
        (
            json!({"type": "SMS", "phone": "+15125551234", "extension": "1", "policy": policy}),
            "INVALID_VALUE",
            "extension",
        ),
        (
            json!({"type": "EMAIL", "email": "a@example.com", "policy": policy,
                   "notification": {"template": {"locale": "en"}}}),
            "INVALID_VALUE",
            "notification",
        ),
        (
            json!({"type": "FAX", "phone": "+15125551234", "policy": policy}),
            "INVALID_VALUE",
            "type",
        ),
        (
            json!({"type": "SMS", "phone": "+15125551234", "policy": policy, "status": "PAIRED"}),
            "INVALID_VALUE",
            "status",
        ),
        (
            json!({"type": "SMS", "phone": "5125551234", "policy": policy}),
            "INVALID_VALUE",
            "phone",
        ),
    ];
    for (body, detail, target) in refused {
        let answer = c.post_device(&user, body.clone()).await;
        assert_eq!(answer.status(), 400, "{body}");
        let error: ErrorBody = answer.json().await.unwrap();
        assert_eq!(error.code.as_deref(), Some("INVALID_DATA"), "{body}");
        assert_eq!(error.details[0].code.as_deref(), Some(detail), "{body}");
        assert_eq!(error.details[0].target.as_deref(), Some(target), "{body}");
    }
    assert!(
        sandbox.all_devices().is_empty(),
        "nothing refused was created"
    );

    let created = c
        .post_device(
            &user,
            json!({"type": "SMS", "phone": "+1.5125551234", "policy": policy}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let device: Device = created.json().await.unwrap();
    assert_eq!(device.status.as_deref(), Some("ACTIVE"));
    // PingOne does not refuse a duplicate: the sandbox creates it and counts it.
    let again = c
        .post_device(
            &user,
            json!({"type": "SMS", "phone": "+1 512 555 1234", "policy": policy}),
        )
        .await;
    assert_eq!(again.status(), 201);
    assert_eq!(sandbox.tally().duplicate_devices, 1);
    // A third device passes pairing.maxAllowedDevices = 2.
    let over = c
        .post_device(
            &user,
            json!({"type": "EMAIL", "email": "a@example.com", "policy": policy}),
        )
        .await;
    assert_eq!(over.status(), 400);
    let error: ErrorBody = over.json().await.unwrap();
    assert_eq!(error.details[0].code.as_deref(), Some("LIMIT_EXCEEDED"));

    let list: DeviceList = c
        .get(&format!("/users/{user}/devices"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.embedded.devices.len(), 2);
    let settings: MfaSettings = c.get("/mfaSettings").await.json().await.unwrap();
    assert_eq!(settings.pairing.max_allowed_devices, Some(2));
    assert_eq!(
        c.get(&format!("/deviceAuthenticationPolicies/{POLICY}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        c.get("/deviceAuthenticationPolicies/not-a-uuid")
            .await
            .status(),
        404
    );
    let tally = sandbox.tally();
    assert_eq!(tally.devices_created, 2);
}

#[tokio::test]
async fn the_directory_resolves_usernames_and_knows_who_exists() {
    let sandbox = sandbox(SandboxOptions {
        directory: Directory::listed([
            (user_id(1), "jdoe".to_string()),
            (user_id(2), "twin".to_string()),
            (user_id(3), "twin".to_string()),
        ]),
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&sandbox).await;
    let find = |name: &'static str| {
        let c = &c;
        async move {
            let list: UserList = c
                .http
                .get(c.url("/users"))
                .query(&[("filter", format!("username eq \"{name}\""))])
                .bearer_auth(&c.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list.embedded.users
        }
    };
    assert_eq!(find("JDoe").await[0].id, user_id(1));
    assert_eq!(find("twin").await.len(), 2);
    assert!(find("ghost").await.is_empty());
    assert_eq!(
        c.get(&format!("/users/{}/devices", user_id(9)))
            .await
            .status(),
        404
    );
    // The open directory: every username is a stable user.
    assert_eq!(Directory::open_id_for("Ann"), Directory::open_id_for("ann"));
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let sandbox = sandbox(SandboxOptions {
        rate: Some(5),
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&sandbox).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let response = c.get("/mfaSettings").await;
        if response.status() == 429 {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=1).contains(&retry_after));
            let error: ErrorBody = response.json().await.unwrap();
            assert_eq!(error.code.as_deref(), Some("REQUEST_LIMITED"));
            statuses.push(429);
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5);
    assert_eq!(sandbox.tally().throttled_429, 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        c.get("/mfaSettings").await.status(),
        200,
        "the window moves on"
    );
}

#[tokio::test]
async fn faults_fail_before_or_after_the_effect() {
    let failing = sandbox(SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&failing).await;
    let response = c
        .post_device(
            &user_id(1),
            json!({"type": "EMAIL", "email": "a@example.com", "policy": {"id": POLICY}}),
        )
        .await;
    assert!(response.status().is_server_error());
    assert_eq!(
        failing.tally().devices_created,
        0,
        "--fail-rate fails before any effect"
    );
    assert_eq!(failing.tally().injected_failures, 1);

    let ambiguous = sandbox(SandboxOptions {
        ambiguous_rate: 1.0,
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&ambiguous).await;
    for i in 0..6 {
        let sent = c
            .http
            .post(c.url(&format!("/users/{}/devices", user_id(i))))
            .bearer_auth(&c.token)
            .json(&json!({"type": "EMAIL", "email": "a@example.com", "policy": {"id": POLICY}}))
            .send()
            .await;
        let outcome_unclear = match sent {
            Err(_) => true,
            Ok(r) if r.status().is_server_error() => true,
            Ok(r) => r.bytes().await.is_err(),
        };
        assert!(outcome_unclear, "the answer fails or breaks off");
    }
    let tally = ambiguous.tally();
    assert_eq!(tally.devices_created, 6, "--ambiguous-rate acts first");
    assert_eq!(tally.ambiguous_failures, 6);
}

#[tokio::test]
async fn a_token_without_the_role_gets_403() {
    let sandbox = sandbox(SandboxOptions {
        no_role: true,
        ..SandboxOptions::default()
    })
    .await;
    let c = client(&sandbox).await;
    let response = c.get("/mfaSettings").await;
    assert_eq!(response.status(), 403);
}

/// `mfa-enroll sandbox` standing on 127.0.0.1, its banner read.
pub(crate) struct Standing {
    pub(crate) child: Child,
    /// The rest of its standard output: the tally it prints when stopped.
    stdout: BufReader<ChildStdout>,
    /// The banner's `[pingone]` config snippet.
    pub(crate) config: String,
    /// The client secret the banner exports.
    pub(crate) secret: String,
}

/// Starts `mfa-enroll sandbox --listen 127.0.0.1:0 ARGS` and reads its banner.
pub(crate) async fn standing(dir: &Path, args: &[&str]) -> Standing {
    let mut all = vec!["sandbox", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = spawn_without_secret(dir, &all);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("Ctrl-C stops") {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stdout.read_line(&mut line))
            .await
            .expect("the banner comes")
            .unwrap();
        assert!(read > 0, "the sandbox exited early: {banner}");
        banner.push_str(&line);
    }
    let config = banner
        .lines()
        .skip_while(|l| !l.starts_with("[pingone]"))
        .take_while(|l| !l.starts_with("Then run"))
        .map(|l| format!("{l}\n"))
        .collect();
    let secret = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("export PINGONE_CLIENT_SECRET="))
        .expect("the banner gives the secret")
        .to_string();
    Standing {
        child,
        stdout,
        config,
        secret,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standing_sandbox_prints_its_config_and_a_tally_on_ctrl_c() {
    let ws = Workspace::new();
    let mut standing = standing(ws.dir.path(), &["--rate", "100"]).await;
    ws.write("sandbox.toml", &standing.config);
    ws.write("in.csv", &sms_rows(5));
    let run = run_binary(
        ws.dir.path(),
        Some(&standing.secret),
        &["run", "in.csv", "--config", "sandbox.toml", "--out", "out"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.both(), standing.config);
    send_signal(&standing.child, "INT");
    let mut rest = String::new();
    standing.stdout.read_to_string(&mut rest).await.unwrap();
    assert!(standing.child.wait().await.unwrap().success());
    assert!(
        rest.contains("5 devices created, 0 duplicate devices"),
        "{rest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standing_sandbox_options_work_from_the_command_line() {
    let ws = Workspace::new();
    let known = user_id(1);
    ws.write("users.csv", &format!("user_id,username\n{known},jdoe\n"));
    let policy = "11111111-2222-4333-8444-555555555555";
    let mut first = standing(
        ws.dir.path(),
        &[
            "--users",
            "users.csv",
            "--policies",
            policy,
            "--max-devices",
            "1",
            "--token-ttl",
            "1",
        ],
    )
    .await;
    // At 3 requests a second the run outlives a one-second token several times.
    ws.write(
        "mfa-enroll.toml",
        &format!("{}\n[limits]\nrate = 3\n", first.config),
    );
    ws.write(
        "in.csv",
        &format!(
            "user_id,username,type,phone,policy_id\n\
             ,jdoe,SMS,+15125550101,{policy}\n\
             {known},,SMS,+15125550102,{policy}\n\
             {},,SMS,+15125550103,{policy}\n\
             {known},,SMS,+15125550104,{unlisted}\n",
            user_id(2),
            unlisted = "22222222-2222-4222-8222-222222222222"
        ),
    );
    let run = enroll_with_secret(&ws, &first.secret, "in.csv", "out", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let results = by_line(&ws.results());
    assert_eq!(results[&2]["outcome"], "created", "--users resolves jdoe");
    assert_eq!(
        results[&3]["error_code"], "LIMIT_EXCEEDED",
        "--max-devices 1"
    );
    assert_eq!(
        results[&4]["error_code"], "USER_NOT_FOUND",
        "--users lists who exists"
    );
    assert_eq!(
        results[&5]["error_code"], "INVALID_VALUE",
        "--policies lists what exists"
    );
    let tokens = ws.summary()["requests"]["tokens"].as_u64().unwrap();
    assert!(tokens >= 2, "--token-ttl 1 makes the run renew: {tokens}");
    send_signal(&first.child, "INT");
    first.child.wait().await.unwrap();

    let second = standing(ws.dir.path(), &["--no-role"]).await;
    ws.write("mfa-enroll.toml", &second.config);
    ws.write("in2.csv", &sms_rows(2));
    let run = enroll_with_secret(&ws, &second.secret, "in2.csv", "out2", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("out2/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["stopped_early"]["code"], "MISSING_ROLE");
    send_signal(&second.child, "INT");
}

/// The bodies of PingOne's documentation (shared/PINGONE.md), posted as they are, and the
/// sandbox's answers read with the tool's own client: the two sides share no types, so a
/// field either names wrongly fails here.
#[tokio::test]
async fn documented_bodies_are_accepted_and_the_client_reads_the_answers() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let raw = client(&sandbox).await;
    let user = user_id(1);
    let documented = [
        json!({"type":"SMS","phone":"+1.5125551234","policy":{"id":POLICY}}),
        json!({"type":"VOICE","phone":"+1.5125551111","extension":"313#","policy":{"id":POLICY}}),
        json!({"type":"EMAIL","email":"name@example.com","policy":{"id":POLICY}}),
        json!({"type":"WHATSAPP","phone":"+1.5125551234","policy":{"id":POLICY}}),
    ];
    for body in &documented {
        let answer = raw.post_device(&user, body.clone()).await;
        assert_eq!(answer.status(), 201, "{body}");
        let device: Device = answer
            .json()
            .await
            .expect("the client's type reads the answer");
        assert_eq!(device.device_type, body["type"].as_str().unwrap());
    }
    // The documented 201 example, as PingOne sent it, reads with the client's type too.
    let example = r#"{"_links":{"self":{"href":"https://api.pingone.eu/v1/environments/abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6/users/b30ac647-e33e-464f-a6ea-0275082d4c26/devices/cd44c285-2375-4c17-9c54-47dea4438e11"}},
        "id":"cd44c285-2375-4c17-9c54-47dea4438e11","environment":{"id":"abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6"},
        "user":{"id":"b30ac647-e33e-464f-a6ea-0275082d4c26"},"type":"WHATSAPP","status":"ACTIVE",
        "createdAt":"2024-11-21T11:20:18.259Z","updatedAt":"2024-11-21T11:20:18.259Z","phone":"+1.5125551234"}"#;
    let parsed: Device = serde_json::from_str(example).unwrap();
    assert_eq!(
        parsed.created_at.as_deref(),
        Some("2024-11-21T11:20:18.259Z")
    );
    assert_eq!(
        parsed.user.map(|u| u.id).as_deref(),
        Some("b30ac647-e33e-464f-a6ea-0275082d4c26")
    );

    // The tool's client lists what the documented bodies created.
    let stop = std::sync::Arc::new(mfa_enroll::stop::Stop::default());
    let stats = std::sync::Arc::new(mfa_enroll::pingone::RequestStats::default());
    let client = mfa_enroll::pingone::Client::new(
        &sandbox.connection(),
        &mfa_enroll::config::Limits::default(),
        stop,
        stats,
    )
    .unwrap();
    let listed = client.list_devices(&user).await.unwrap();
    assert_eq!(listed.len(), 4);
    let voice = listed.iter().find(|d| d.device_type == "VOICE").unwrap();
    assert_eq!(voice.extension.as_deref(), Some("313#"));
    assert!(
        listed.iter().all(|d| d.created_at.is_some()),
        "createdAt is read"
    );

    // And what the client sends is what the docs describe: the sandbox refuses unknown fields.
    let unknown = raw
        .post_device(
            &user,
            json!({"type":"SMS","phone":"+15125550000","policy":{"id":POLICY},"policyId":POLICY}),
        )
        .await;
    assert_eq!(unknown.status(), 400);
}
