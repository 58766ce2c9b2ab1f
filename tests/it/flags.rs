//! `--policy-id` and `--default-country`, against the real binary and the sandbox: they
//! override `[enroll] policy_id` and `[enroll] default_country` as the other flags override
//! their keys, and a bad value is refused (exit 2, nothing sent) naming the flag.

use std::collections::HashSet;

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

/// The one policy this test's sandbox has; the config names another.
const FLAG_POLICY: &str = "3b1d0c5e-7a8f-4e2d-9c6b-5a4f3e2d1c0b";
const CONFIG_POLICY: &str = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flags_override_the_config_keys() {
    let sandbox = sandbox(SandboxOptions {
        policies: Some(HashSet::from([FLAG_POLICY.to_string()])),
        ..SandboxOptions::default()
    })
    .await;
    let ws = Workspace::new();
    let config = sandbox.config_snippet().replace(POLICY, CONFIG_POLICY);
    ws.write(
        "mfa-enroll.toml",
        &format!("{config}enable_mfa = false\ndefault_country = \"US\"\n"),
    );
    // A national number of Great Britain, and an email.
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,email\n{},SMS,020 7946 0018,\n{},EMAIL,,j@example.com\n",
            user_id(1),
            user_id(2)
        ),
    );
    // The config alone: the number is not a US number, and PingOne has no such policy.
    let run = enroll_to(&ws, &sandbox, "in.csv", "config-only", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_line(&read_csv(&ws.path("config-only").join("results.csv")));
    assert_eq!(rows[&2]["error_code"], "INVALID_PHONE", "{:?}", rows[&2]);
    assert_eq!(rows[&3]["outcome"], "failed", "{:?}", rows[&3]);
    assert!(sandbox.all_devices().is_empty());

    let flags = ["--policy-id", FLAG_POLICY, "--default-country", "gb"];
    let run = enroll_to(&ws, &sandbox, "in.csv", "flags", &flags).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let rows = by_line(&read_csv(&ws.path("flags").join("results.csv")));
    assert_eq!(rows[&2]["destination"], "+442079460018");
    assert_eq!(rows[&3]["outcome"], "created");
    assert_eq!(sandbox.all_devices().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_flag_value_is_refused_naming_the_flag() {
    let ws = Workspace::new();
    ws.write("in.csv", &sms_rows(1));
    for (flag, value, says) in [
        ("--policy-id", "not-a-policy", "is not a UUID"),
        ("--default-country", "USA", "two-letter ISO country code"),
        // Two letters, but no region: every national row would fail for the flag's mistake.
        (
            "--default-country",
            "ZZ",
            "names no country with phone numbers",
        ),
        (
            "--default-country",
            "xx",
            "names no country with phone numbers",
        ),
    ] {
        let run = run_binary(
            ws.dir.path(),
            None,
            &["run", "in.csv", "--dry-run", "--out", "out", flag, value],
        )
        .await;
        assert_eq!(run.code, 2, "{}", run.both());
        let named = format!("command line: {flag}: ");
        assert!(run.stderr.contains(&named), "{named:?} in {}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!ws.out().exists(), "nothing written");
    }
}
