//! Username look-ups in batches (issue 36), judged at the sandbox: many names in one GET of the
//! users list, each row resolved to its own user (case-insensitively), a missing name
//! `USER_NOT_FOUND` and a shared one `AMBIGUOUS_USER` as before; every page of a batch's
//! answer read; a batch refused as too long split until it is taken; a failed batch retried;
//! the MFA switch PUT only for users the look-up found off; an online dry run batched too.

use std::collections::HashMap;

use mfa_enroll::sandbox::{Directory, Sandbox, SandboxOptions};
use mfa_enroll_test_support::*;

/// `count` users named `{prefix}{i}`; the even ones start with MFA on.
fn directory(prefix: &str, count: usize) -> Directory {
    let listed = (0..count).map(|i| (user_id(i), format!("{prefix}{i}")));
    let on = (0..count).filter(|i| i % 2 == 0).map(user_id);
    Directory::listed(listed).with_mfa_on(on)
}

/// One row per name, as given (quoted as CSV).
fn rows(names: &[String]) -> String {
    let mut csv = String::from("username,type,phone\n");
    for (i, name) in names.iter().enumerate() {
        let quoted = name.replace('"', "\"\"");
        csv.push_str(&format!("\"{quoted}\",SMS,{}\n", us_number(i)));
    }
    csv
}

fn by_username(ws: &Workspace) -> HashMap<String, HashMap<String, String>> {
    ws.results()
        .into_iter()
        .map(|row| (row["username"].clone(), row))
        .collect()
}

/// These tests count look-ups: a missing name is not asked again over the grace here
/// (`late_users.rs` counts those asks).
async fn tenant(options: SandboxOptions, limits: &str) -> (Sandbox, Workspace) {
    let limits = format!("{limits}\nuser_not_found_grace_s = 0");
    setup(options, &limits, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_looked_up_in_batches_each_row_with_its_own_user() {
    let users = 250;
    // Odd users are `Batch{i}` in PingOne and `BATCH{i}` in the file.
    let mut listed: Vec<(String, String)> = (0..users)
        .map(|i| match i % 2 {
            0 => (user_id(i), format!("batch{i}")),
            _ => (user_id(i), format!("Batch{i}")),
        })
        .collect();
    listed.push((user_id(900), "twin".into()));
    listed.push((user_id(901), "Twin".into()));
    let on = (0..users).filter(|i| i % 2 == 0).map(user_id);
    let options = SandboxOptions {
        directory: Directory::listed(listed).with_mfa_on(on),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = tenant(options, "rate = 1000").await;
    // Odd names in upper case: PingOne matches usernames without regard to case.
    let mut names: Vec<String> = (0..users)
        .map(|i| match i % 2 {
            0 => format!("batch{i}"),
            _ => format!("BATCH{i}"),
        })
        .collect();
    names.insert(10, "twin".into());
    names.insert(20, "ghost".into());
    ws.write("in.csv", &rows(&names));
    let run = enroll(&ws, &sandbox, "in.csv", &["--enable-mfa"]).await;
    assert_eq!(run.code, 1, "two rows fail\n{}", run.both());

    let rows = by_username(&ws);
    for i in 0..users {
        let row = &rows[&names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&format!("batch{i}")))
            .cloned()
            .unwrap_or_default()];
        assert_eq!(row["user_id"], user_id(i), "{row:?}");
        assert_eq!(row["outcome"], "created", "{row:?}");
        assert_eq!(row["user_mfa_enabled"], "true", "{row:?}");
    }
    assert_eq!(rows["twin"]["error_code"], "AMBIGUOUS_USER");
    assert_eq!(rows["ghost"]["error_code"], "USER_NOT_FOUND");
    let tally = sandbox.tally();
    // 252 names: three batches of at most 100, not 252 look-ups.
    assert_eq!(tally.user_lookups, 3, "{tally:?}");
    // A PUT only for the users the look-up found off: the odd half.
    assert_eq!(tally.mfa_switch_puts, users as u64 / 2, "{tally:?}");
    assert_eq!(tally.users_with_device_mfa_off, 0, "{tally:?}");
    // Nothing else: 3 look-ups, a device read and a POST per found user, the PUTs, and the
    // new-device notices' guard's read of the policy; no GET of a switch the look-up carried.
    let users = users as u64;
    assert_eq!(
        tally.requests,
        3 + users + users + users / 2 + 1,
        "{tally:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_a_batchs_answer_is_read() {
    let options = SandboxOptions {
        directory: directory("paged", 30),
        page_size: Some(7),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = tenant(options, "rate = 1000").await;
    let names: Vec<String> = (0..30).map(|i| format!("paged{i}")).collect();
    ws.write("in.csv", &rows(&names));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let rows = by_username(&ws);
    for (i, name) in names.iter().enumerate() {
        assert_eq!(rows[name]["user_id"], user_id(i), "{:?}", rows[name]);
    }
    // One batch, its answer 30 users on pages of 7: five reads.
    assert_eq!(sandbox.tally().user_lookups, 5, "{:?}", sandbox.tally());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_as_too_long_is_split_until_taken() {
    let options = SandboxOptions {
        directory: directory("split-user-", 40),
        // About ten names' worth of filter: the batch of 41 is refused, its quarters taken.
        max_url_bytes: Some(600),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = tenant(options, "rate = 1000").await;
    let mut names: Vec<String> = (0..40).map(|i| format!("split-user-{i}")).collect();
    // A name whose own look-up is too long: its row alone fails. Its quotes and
    // backslashes are data (escaped), which is what makes it long.
    let long = "\"\\".repeat(60);
    names.insert(5, long.clone());
    ws.write("in.csv", &rows(&names));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = by_username(&ws);
    for i in 0..40 {
        let row = &rows[&format!("split-user-{i}")];
        assert_eq!(row["outcome"], "created", "{row:?}");
        assert_eq!(row["user_id"], user_id(i), "{row:?}");
    }
    let refused = &rows[&long];
    assert_eq!(refused["outcome"], "failed", "{refused:?}");
    assert_eq!(refused["http_status"], "414", "{refused:?}");
    let tally = sandbox.tally();
    assert!(tally.user_lookups_too_long >= 2, "{tally:?}");
    assert!(
        tally.user_lookups < 41,
        "split in halves, not one name at a time: {tally:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_retried_like_any_read() {
    let options = SandboxOptions {
        directory: directory("retried", 12),
        fail_first_lookups: 2,
        ..SandboxOptions::default()
    };
    let limits = "rate = 1000\nbackoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 3";
    let (sandbox, ws) = tenant(options, limits).await;
    let names: Vec<String> = (0..12).map(|i| format!("retried{i}")).collect();
    ws.write("in.csv", &rows(&names));
    let run = enroll(&ws, &sandbox, "in.csv", &[]).await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(ws.results().iter().all(|r| r["outcome"] == "created"));
    let tally = sandbox.tally();
    assert_eq!(
        tally.user_lookups, 3,
        "two 503s, then the answer: {tally:?}"
    );
    assert_eq!(ws.summary()["requests"]["retries"], 2, "{}", ws.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_dry_run_looks_usernames_up_in_the_same_batches() {
    let options = SandboxOptions {
        directory: directory("planned", 30),
        ..SandboxOptions::default()
    };
    let (sandbox, ws) = tenant(options, "rate = 1000").await;
    let mut names: Vec<String> = (0..30).map(|i| format!("planned{i}")).collect();
    names.push("nobody".into());
    ws.write("in.csv", &rows(&names));
    let plan = enroll(&ws, &sandbox, "in.csv", &["--dry-run", "--online"]).await;
    assert_eq!(plan.code, 1, "{}", plan.both());
    let rows = by_username(&ws);
    for (i, name) in names.iter().take(30).enumerate() {
        assert_eq!(rows[name]["outcome"], "would_create", "{:?}", rows[name]);
        assert_eq!(rows[name]["user_id"], user_id(i), "{:?}", rows[name]);
    }
    assert_eq!(rows["nobody"]["error_code"], "USER_NOT_FOUND");
    let tally = sandbox.tally();
    assert_eq!(tally.user_lookups, 1, "{tally:?}");
    assert_eq!(tally.posts, 0);
}
