//! A worker app in another environment (PingOne recommends an admin app in the
//! administrators' environment): the token, and a JWT assertion's `aud`, come from
//! `worker_environment_id`; every API call still goes to `environment_id`; summary.json
//! records both, and `--resume` refuses another worker environment but reads older summaries.

use mfa_enroll::config::TokenAuthMethod;
use mfa_enroll::sandbox::{Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

const ADMINS: &str = "ad0115e0-0000-4000-8000-0000000000ad";

async fn admin_app(token_auth: TokenAuthMethod) -> (Sandbox, Workspace) {
    let options = SandboxOptions {
        worker_environment_id: Some(ADMINS.into()),
        token_auth,
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = setup(options, "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(4));
    (sandbox, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_comes_from_the_worker_apps_environment_and_the_calls_go_to_the_target() {
    // client_secret_jwt: the assertion's aud must be the worker environment's token URL.
    for method in [TokenAuthMethod::Basic, TokenAuthMethod::ClientSecretJwt] {
        let (sandbox, ws) = admin_app(method).await;
        let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
        assert!(config.contains(ADMINS), "{config}");
        let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
        assert_eq!(run.code, 0, "{method:?}: {}", run.both());
        assert_eq!(sandbox.tally().devices_created, 4);
        assert_eq!(sandbox.tally().token_refusals, 0);
        let target = &ws.summary()["target"];
        assert_eq!(target["environment_id"], sandbox.options().environment_id);
        assert_eq!(target["worker_environment_id"], ADMINS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_worker_environment_id_the_token_is_asked_where_the_app_is_not() {
    let (sandbox, ws) = admin_app(TokenAuthMethod::Basic).await;
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let without: String = config
        .lines()
        .filter(|l| !l.starts_with("worker_environment_id"))
        .map(|l| format!("{l}\n"))
        .collect();
    ws.write("mfa-enroll.toml", &without);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    let stopped = &ws.summary()["stopped_early"];
    assert_eq!(stopped["code"], "CREDENTIALS_REFUSED");
    let reason = stopped["reason"].as_str().unwrap();
    assert!(reason.contains("worker_environment_id"), "{reason}");
    assert_eq!(sandbox.tally().requests, 0, "no API call without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_another_worker_environment_and_reads_older_summaries() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    let mut csv = sms_rows(3);
    csv.push_str(&format!("{},SMS,not-a-phone\n", user_id(9)));
    ws.write("in.csv", &csv);
    let first = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(first.code, 1, "{}", first.both());
    let environment = sandbox.options().environment_id.clone();
    assert_eq!(ws.summary()["target"]["worker_environment_id"], environment);

    // A summary written before the worker environment was recorded: its tokens came from
    // environment_id, which is what this run does too.
    let path = ws.out().join("summary.json");
    let mut summary = ws.summary();
    summary["target"]
        .as_object_mut()
        .unwrap()
        .remove("worker_environment_id");
    std::fs::write(&path, serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    let older = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(older.code, 1, "{}", older.both());

    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let other = config.replace(
        "client_id = ",
        &format!("worker_environment_id = \"{ADMINS}\"\nclient_id = "),
    );
    ws.write("mfa-enroll.toml", &other);
    let requests = sandbox.tally().requests;
    let refused = enroll(&ws, &sandbox, "in.csv", &["--resume"]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(refused.stderr.contains(ADMINS), "{}", refused.stderr);
    assert_eq!(sandbox.tally().requests, requests, "nothing sent");
}

/// The config without the lines that start with any of `keys`.
fn config_without(ws: &Workspace, keys: &[&str]) {
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    let kept: String = config
        .lines()
        .filter(|l| !keys.iter().any(|k| l.starts_with(&format!("{k} "))))
        .map(|l| format!("{l}\n"))
        .collect();
    ws.write("mfa-enroll.toml", &kept);
}

/// `run in.csv` with the sandbox's secret and `vars` in the child's environment.
async fn enroll_with_env(ws: &Workspace, sandbox: &Sandbox, vars: &[(&str, &str)]) -> Run {
    let secret = sandbox.options().client_secret.expose().to_string();
    let args = enroll_args("in.csv", "out", &[]);
    let mut command = launch::command(bin(), ws.dir.path(), Some(&secret), &args);
    command.envs(vars.iter().copied());
    must_end(
        command.spawn().unwrap(),
        std::time::Duration::from_secs(300),
    )
    .await
}

/// As Ping's Terraform provider and Ping CLI read them: PINGONE_ENVIRONMENT_ID is the worker
/// app's environment, PINGONE_TARGET_ENVIRONMENT_ID the target, and the target is the worker's
/// environment when nothing names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ecosystems_variables_name_the_worker_and_the_target() {
    let (sandbox, ws) = admin_app(TokenAuthMethod::Basic).await;
    config_without(&ws, &["environment_id", "worker_environment_id"]);
    let target = sandbox.options().environment_id.clone();
    let vars = [
        ("PINGONE_ENVIRONMENT_ID", ADMINS),
        ("PINGONE_TARGET_ENVIRONMENT_ID", target.as_str()),
    ];
    let run = enroll_with_env(&ws, &sandbox, &vars).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(sandbox.tally().devices_created, 4);
    let summary = &ws.summary()["target"];
    assert_eq!(summary["environment_id"], target.as_str());
    assert_eq!(summary["worker_environment_id"], ADMINS);

    // A worker app in the target environment: one variable names both.
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 1000", "").await;
    ws.write("in.csv", &sms_rows(2));
    config_without(&ws, &["environment_id"]);
    let target = sandbox.options().environment_id.clone();
    let run = enroll_with_env(&ws, &sandbox, &[("PINGONE_ENVIRONMENT_ID", &target)]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let summary = &ws.summary()["target"];
    assert_eq!(summary["environment_id"], target.as_str());
    assert_eq!(summary["worker_environment_id"], target.as_str());
}

/// The setup of before: worker_environment_id in the file, the target in
/// PINGONE_ENVIRONMENT_ID. Read the new way the run would go to the worker's environment, so
/// it is refused before anything is sent, naming both variables. A region the ecosystem's
/// variables give that is none is refused, naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_meaning_of_pingone_environment_id_is_refused_not_guessed() {
    let (sandbox, ws) = admin_app(TokenAuthMethod::Basic).await;
    config_without(&ws, &["environment_id"]);
    let target = sandbox.options().environment_id.clone();
    let run = enroll_with_env(&ws, &sandbox, &[("PINGONE_ENVIRONMENT_ID", &target)]).await;
    assert_eq!(run.code, 2, "{}", run.both());
    for named in [
        "PINGONE_ENVIRONMENT_ID",
        "PINGONE_TARGET_ENVIRONMENT_ID",
        ADMINS,
    ] {
        assert!(run.stderr.contains(named), "{named}: {}", run.stderr);
    }
    let vars = [
        ("PINGONE_TARGET_ENVIRONMENT_ID", target.as_str()),
        ("PINGONE_ROOT_DOMAIN", "pingone.example"),
    ];
    let run = enroll_with_env(&ws, &sandbox, &vars).await;
    assert_eq!(run.code, 2, "{}", run.both());
    assert!(
        run.stderr
            .contains("PINGONE_ROOT_DOMAIN=\"pingone.example\""),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.tally().token_requests, 0, "nothing sent");
    assert_eq!(sandbox.tally().requests, 0, "nothing sent");
}
