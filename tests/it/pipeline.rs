//! `mfa-enroll run` end to end: the real binary against the sandbox on 127.0.0.1, judged by
//! the files it wrote and by what the sandbox received: valid rows created once and invalid
//! ones never sent, errors.csv fed back, exit codes, an offline dry run that sends nothing, the
//! permission to message users (flag or config), and the README's first command.

use mfa_enroll::sandbox::SandboxOptions;
use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_rows_are_created_once_and_invalid_rows_never_sent() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 200\nconcurrency = 8", "").await;
    let csv = format!(
        "\u{feff}User_ID , Username,TYPE,phone,email,extension,Department\r\n\
         {u0},,SMS,+1.512.200.1000,,,HR\r\n\
         {u1},,VOICE,1-512-200-1001,,313#,HR\r\n\
         ,carol,EMAIL,,Carol@Example.com,,\"Sales, EMEA\"\r\n\
         ,dave,WHATSAPP,\"+1 (512) 200-1003\",,,Ops\r\n\
         {u4},,SMS,+1 555 0100,,,Bad phone\r\n\
         {u5},,EMAIL,,not-an-email,,Bad email\r\n\
         {u0},,SMS,+15122001000,,,Duplicate of line 2\r\n\
         ,,SMS,+15122001007,,,No user\r\n",
        u0 = user_id(0),
        u1 = user_id(1),
        u4 = user_id(4),
        u5 = user_id(5),
    );
    ws.write("in.csv", &csv);
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "some rows invalid -> exit 1\n{}", run.both());

    let results = by_line(&ws.results());
    assert_eq!(results.len(), 8, "every record has its row");
    for line in 2..=5 {
        let row = &results[&line];
        assert_eq!(row["outcome"], "created", "line {line}: {row:?}");
        assert_eq!(row["attempts"], "1");
        assert_eq!(row["http_status"], "201");
        let devices = sandbox.devices_of(&row["user_id"]);
        assert_eq!(
            devices.len(),
            1,
            "line {line}: exactly one device on the server"
        );
        assert_eq!(
            devices[0].id, row["device_id"],
            "results.csv names the real device"
        );
    }
    assert_eq!(results[&2]["destination"], "+15122001000");
    assert_eq!(results[&3]["destination"], "+15122001001");
    assert_eq!(
        sandbox.devices_of(&user_id(1))[0].extension.as_deref(),
        Some("313#")
    );
    assert_eq!(results[&4]["username"], "carol");
    for (line, code) in [
        (6, "INVALID_PHONE"),
        (7, "INVALID_EMAIL"),
        (8, "DUPLICATE_ROW"),
        (9, "MISSING_USER"),
    ] {
        assert_eq!(results[&line]["outcome"], "invalid", "line {line}");
        assert_eq!(results[&line]["error_code"], code, "line {line}");
    }
    // Invalid rows never reach the server: one POST per created row, nothing for user 4 or 5.
    let tally = sandbox.tally();
    assert_eq!(tally.posts, 4);
    assert_eq!(tally.devices_created, 4);
    assert!(sandbox.devices_of(&user_id(4)).is_empty());

    // errors.csv: the input's own columns (unknown ones too), then line, code, message.
    let errors = ws.errors();
    assert_eq!(errors.len(), 4);
    assert_eq!(errors[0]["line"], "6");
    assert_eq!(errors[0]["Department"], "Bad phone");
    assert_eq!(errors[0]["phone"], "+1 555 0100", "the value as written");
    assert!(errors[0]["error_message"].contains("phone"));

    let summary = ws.summary();
    assert_eq!(summary["outcomes"]["created"], 4);
    assert_eq!(summary["outcomes"]["invalid"], 4);
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["finished"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_csv_is_a_valid_input_that_reruns_exactly_those_rows() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 200", "").await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,note\n{},SMS,+15122001000,ok\n{},SMS,+1 555 0100,fix me\n",
            user_id(0),
            user_id(1)
        ),
    );
    assert_eq!(enroll(&ws, &sandbox, "in.csv", &[]).await.code, 1);
    // The administrator fixes the number in errors.csv and feeds it back.
    let errors = std::fs::read_to_string(ws.out().join("errors.csv")).unwrap();
    let fixed = errors.replace("+1 555 0100", "+1 512 200 1001");
    ws.write("fixed.csv", &fixed);
    let rerun = enroll_to(&ws, &sandbox, "fixed.csv", "out2", &[]).await;
    assert_eq!(rerun.code, 0, "{}", rerun.both());
    let rows = read_csv(&ws.path("out2/results.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "created");
    assert_eq!(rows[0]["destination"], "+15122001001");
    assert_eq!(sandbox.tally().devices_created, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes() {
    let sandbox = sandbox(SandboxOptions::default()).await;
    let secret = sandbox.options().client_secret.expose().to_string();

    // 0: every row created.
    let ws = Workspace::new();
    ws.config_for(&sandbox, "rate = 500", "");
    ws.write("in.csv", &sms_rows(3));
    assert_eq!(enroll(&ws, &sandbox, "in.csv", &[]).await.code, 0);

    // 2: an --out that holds an earlier run's results is never overwritten.
    let before = std::fs::read(ws.out().join("results.csv")).unwrap();
    let again = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("--resume"), "{}", again.stderr);
    assert_eq!(std::fs::read(ws.out().join("results.csv")).unwrap(), before);

    // 2: a missing required column; nothing sent.
    let requests_before = sandbox.tally().requests;
    let ws = Workspace::new();
    ws.config_for(&sandbox, "", "");
    ws.write("in.csv", "user_id,phone\nx,1\n");
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("in.csv: line 1") && run.stderr.contains("\"type\""),
        "{}",
        run.stderr
    );
    assert!(!ws.out().exists(), "a bad input leaves no output directory");

    // 2: a bad config key names the key.
    let ws = Workspace::new();
    ws.write("mfa-enroll.toml", "[limits]\nrate = 0\n");
    ws.write("in.csv", &sms_rows(1));
    let run = run_binary(
        ws.dir.path(),
        Some(&secret),
        &["run", "in.csv", "--dry-run"],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("[limits] rate"), "{}", run.stderr);

    // 2: an unreadable input names the file.
    let ws = Workspace::new();
    let run = run_binary(
        ws.dir.path(),
        Some(&secret),
        &["run", "missing.csv", "--dry-run"],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("missing.csv"), "{}", run.stderr);
    assert_eq!(
        sandbox.tally().requests,
        requests_before,
        "nothing was sent"
    );

    // 3: the credentials are refused.
    let ws = Workspace::new();
    ws.config_for(&sandbox, "", "");
    ws.write("in.csv", &sms_rows(3));
    let run = enroll_with_secret(&ws, "not-the-secret", "in.csv", "out", &[]).await;
    assert_eq!(run.code, 3, "{}", run.both());
    assert!(
        run.both().contains("refused the client credentials"),
        "{}",
        run.both()
    );
    let rows = ws.results();
    assert_eq!(rows.len(), 3, "every row still has its row");
    assert!(rows.iter().all(|r| r["error_code"] == "NOT_ATTEMPTED"));
    assert_eq!(ws.summary()["stopped_early"]["code"], "CREDENTIALS_REFUSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_dry_run_sends_nothing_at_all() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    ws.write(
        "in.csv",
        &format!("{}{},SMS,+1 555 0100\n", sms_rows(5), user_id(9)),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &["--dry-run"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let tally = sandbox.tally();
    assert_eq!(
        (tally.requests, tally.token_requests),
        (0, 0),
        "no request, not even a token"
    );
    let rows = by_line(&ws.results());
    assert_eq!(rows.len(), 6);
    assert!((2..=6).all(|l| rows[&l]["outcome"] == "valid"));
    assert_eq!(rows[&7]["outcome"], "invalid");
    assert_eq!(ws.errors().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_that_would_message_users_needs_permission() {
    let (sandbox, ws) = setup(SandboxOptions::default(), "rate = 500", "").await;
    let csv = format!(
        "user_id,type,phone,email,status\n{},SMS,+15122001000,,ACTIVATION_REQUIRED\n{},EMAIL,,a@example.com,ACTIVATION_REQUIRED\n{},SMS,+15122001002,,\n",
        user_id(0),
        user_id(1),
        user_id(2)
    );
    ws.write("in.csv", &csv);
    let refused = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(
        refused.stderr.contains("2 rows") && refused.stderr.contains("--allow-messages"),
        "{}",
        refused.stderr
    );
    assert_eq!(sandbox.tally().requests, 0);
    assert!(!ws.out().join("results.csv").exists());

    let allowed = enroll(&ws, &sandbox, "in.csv", &["--allow-messages"]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.both());
    assert_eq!(
        sandbox.devices_of(&user_id(0))[0].status.as_deref(),
        Some("ACTIVATION_REQUIRED")
    );
    assert_eq!(ws.summary()["pairing_messages"]["SMS"], 1);
    assert_eq!(ws.summary()["pairing_messages"]["EMAIL"], 1);
}

/// `[enroll] allow_messages = true` is the same permission as `--allow-messages`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_messages_in_the_config_permits_what_the_flag_permits() {
    let (sandbox, ws) = setup(
        SandboxOptions::default(),
        "rate = 1000",
        "allow_messages = true",
    )
    .await;
    ws.write(
        "in.csv",
        &format!(
            "user_id,type,phone,status\n{},SMS,+15125550101,ACTIVATION_REQUIRED\n{},SMS,+15125550102,\n",
            user_id(1),
            user_id(2)
        ),
    );
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "allowed by the config: {}", run.both());
    assert_eq!(ws.summary()["pairing_messages"]["SMS"], 1);

    // Without allow_messages the same file is refused before anything is sent.
    let config = std::fs::read_to_string(ws.path("mfa-enroll.toml")).unwrap();
    ws.write(
        "mfa-enroll.toml",
        &config.replace("allow_messages = true", "allow_messages = false"),
    );
    let refused = enroll_to(&ws, &sandbox, "in.csv", "second", &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.both());
    assert!(refused
        .stderr
        .contains("1 row would create ACTIVATION_REQUIRED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_first_command_works_on_the_bundled_sample() {
    let ws = Workspace::new();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/enroll.csv");
    let run = run_binary(ws.dir.path(), None, &["run", sample, "--sandbox"]).await;
    assert_eq!(
        run.code,
        1,
        "the sample has deliberately bad rows\n{}",
        run.both()
    );
    assert!(run.stderr.contains("SANDBOX") && run.stderr.contains("nothing real is touched"));
    let results = read_csv(&ws.path("enroll-out/results.csv"));
    let records = std::fs::read_to_string(sample).unwrap().lines().count() - 1;
    assert_eq!(results.len(), records);
    // The sample's deliberate problems, line by line; every other row is created.
    let expected: std::collections::HashMap<&str, (&str, &str)> = [
        ("42", ("invalid", "INVALID_PHONE")),
        ("43", ("invalid", "INVALID_EMAIL")),
        ("44", ("invalid", "INVALID_TYPE")),
        ("45", ("invalid", "MISSING_USER")),
        ("46", ("invalid", "INVALID_USER_ID")),
        ("47", ("invalid", "EXTENSION_NOT_ALLOWED")),
        ("48", ("invalid", "DUPLICATE_ROW")),
        ("49", ("skipped_existing", "")),
        ("50", ("invalid", "NOTIFICATION_NOT_ALLOWED")),
    ]
    .into_iter()
    .collect();
    for row in &results {
        let (outcome, code) = expected
            .get(row["line"].as_str())
            .copied()
            .unwrap_or(("created", ""));
        assert_eq!(row["outcome"], outcome, "{row:?}");
        assert_eq!(row["error_code"], code, "{row:?}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("enroll-out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["outcomes"]["created"], 40);
    assert_eq!(
        summary["error_codes"]["INVALID_PHONE"]["first_lines"][0],
        42
    );

    // The same file against a sandbox the test can inspect: the devices are there.
    let (sandbox, ws) = setup(SandboxOptions::default(), "", "").await;
    // The sandbox sends nothing to anyone; a standing one is configured like a real tenant.
    let run = enroll(&ws, &sandbox, sample, &["--allow-messages"]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let created: Vec<_> = ws
        .results()
        .into_iter()
        .filter(|r| r["outcome"] == "created")
        .collect();
    assert_eq!(created.len(), 40);
    let devices: std::collections::HashMap<String, String> = sandbox
        .all_devices()
        .into_iter()
        .map(|(user, d)| (d.id, user))
        .collect();
    assert_eq!(
        devices.len(),
        40,
        "one device per created row, nothing else"
    );
    for row in created {
        assert_eq!(
            devices.get(&row["device_id"]),
            Some(&row["user_id"]),
            "{row:?}"
        );
    }
    assert!(run.stdout.contains("created"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_id_is_user_not_found() {
    let (sandbox, ws) = setup(
        SandboxOptions {
            directory: mfa_enroll::sandbox::Directory::listed([(user_id(0), "known".to_string())]),
            ..SandboxOptions::default()
        },
        "rate = 500",
        "",
    )
    .await;
    ws.write("in.csv", &sms_rows(2));
    for extra in [&[][..], &["--dry-run", "--online", "--out", "plan"][..]] {
        let mut args = vec!["run", "in.csv", "--config", "mfa-enroll.toml"];
        if extra.is_empty() {
            args.extend(["--out", "out"]);
        }
        args.extend_from_slice(extra);
        let secret = sandbox.options().client_secret.expose().to_string();
        let run = run_binary(ws.dir.path(), Some(&secret), &args).await;
        assert_eq!(run.code, 1, "{}", run.both());
    }
    for out in ["out", "plan"] {
        let rows = by_line(&read_csv(&ws.path(&format!("{out}/results.csv"))));
        assert_ne!(rows[&2]["outcome"], "failed", "{out}");
        assert_eq!(rows[&3]["outcome"], "failed", "{out}");
        assert_eq!(rows[&3]["error_code"], "USER_NOT_FOUND", "{out}");
        assert!(rows[&3]["error_message"].contains(&user_id(1)));
    }
}
