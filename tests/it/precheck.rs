//! One offline pre-check finds every problem, against the real binary: a row reports all its
//! problems (`error_code` the first, `error_message` every one), a missing default policy is
//! said once when the run starts instead of hiding the rows' own problems, and messages point
//! to the fix (a number read as another country, a file with another separator, and counts
//! and articles in good grammar).

use mfa_enroll_test_support::*;

/// `run INPUT --dry-run --out OUT` plus `extra`, in the workspace, with no secret.
async fn precheck(ws: &Workspace, input: &str, out: &str, extra: &[&str]) -> Run {
    let mut args = vec!["run", input, "--dry-run", "--out", out];
    args.extend_from_slice(extra);
    run_binary(ws.dir.path(), None, &args).await
}

/// The codes a several-problem `error_message` lists, in order.
fn codes_in(message: &str) -> Vec<&str> {
    message
        .split(" | ")
        .map(|p| p.split(':').next().unwrap_or(""))
        .collect()
}

fn rows_of(
    ws: &Workspace,
    out: &str,
) -> std::collections::HashMap<u64, std::collections::HashMap<String, String>> {
    by_line(&read_csv(&ws.path(out).join("results.csv")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_reports_every_problem_and_a_missing_policy_is_said_once() {
    let ws = Workspace::new();
    let long = "n".repeat(101);
    ws.write(
        "messy.csv",
        &format!(
            "user_id,type,phone,email,nickname,policy_id\n\
             not-a-uuid,SMS,+1 555 0100,,,\n\
             {a},EMAIL,,j@example.com,,\n\
             {b},EMAIL,,k@example.com,,{POLICY}\n\
             {c},FAX,,,{long},\n\
             {c},EMAIL,,c@example.com,{long},\n",
            a = user_id(1),
            b = user_id(2),
            c = user_id(3),
        ),
    );
    // The --help example, run without any config.
    let run = precheck(&ws, "messy.csv", "precheck", &[]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let rows = rows_of(&ws, "precheck");

    // Line 2: its own two problems first, in the order of the checks, then the policy.
    assert_eq!(rows[&2]["error_code"], "INVALID_USER_ID");
    assert_eq!(
        codes_in(&rows[&2]["error_message"]),
        ["INVALID_USER_ID", "INVALID_PHONE", "MISSING_POLICY"]
    );
    let problems: Vec<&str> = rows[&2]["error_message"].split(" | ").collect();
    assert!(problems[1].contains("not a valid number for country code +1"));
    // Line 3's only problem is the run's missing default; line 4 names its own policy.
    assert_eq!(rows[&3]["error_code"], "MISSING_POLICY");
    assert!(!rows[&3]["error_message"].contains(" | "));
    assert!(rows[&3]["error_message"].contains("--policy-id"));
    assert_eq!(rows[&4]["outcome"], "valid");
    // Line 5: the type is wrong, so the destination is not judged; the nickname still is.
    assert_eq!(rows[&5]["error_code"], "INVALID_TYPE");
    assert_eq!(
        codes_in(&rows[&5]["error_message"]),
        ["INVALID_TYPE", "INVALID_NICKNAME", "MISSING_POLICY"]
    );
    // Line 6: a problem of its own comes before the run's missing default.
    assert_eq!(rows[&6]["error_code"], "INVALID_NICKNAME");

    // Said once, at the top of the run, and in summary.json.
    let said = "no default device authentication policy";
    assert_eq!(run.stderr.matches(said).count(), 1, "{}", run.stderr);
    // Not again row by row, in any words: line 3 (whose only problem it is) has no line of
    // its own, and lines 2, 5 and 6 log their own problems without it.
    let about_policy = run.stderr.lines().filter(|l| l.contains("policy")).count();
    assert_eq!(about_policy, 1, "{}", run.stderr);
    let logged: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("row invalid"))
        .collect();
    assert_eq!(logged.len(), 3, "{logged:?}");
    for (line, code) in [
        (2, "INVALID_USER_ID"),
        (5, "INVALID_TYPE"),
        (6, "INVALID_NICKNAME"),
    ] {
        assert!(
            logged
                .iter()
                .any(|l| l.contains(&format!("line={line} ")) && l.contains(code)),
            "{logged:?}"
        );
    }
    let top = run.stderr.find(said).unwrap();
    assert!(
        top < run.stderr.find("run started").unwrap(),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no config file loaded"),
        "{}",
        run.stderr
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path("precheck").join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["notices"][0]["code"], "MISSING_POLICY");
    assert!(summary["notices"][0]["message"]
        .as_str()
        .unwrap()
        .contains("--policy-id"));

    // With a default policy, the notice is gone and line 3 is valid.
    let run = precheck(&ws, "messy.csv", "with-policy", &["--policy-id", POLICY]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(!run.stderr.contains(said), "{}", run.stderr);
    assert_eq!(rows_of(&ws, "with-policy")[&3]["outcome"], "valid");
    assert_eq!(
        rows_of(&ws, "with-policy")[&2]["error_message"]
            .split(" | ")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_number_read_as_another_country_names_default_country() {
    let ws = Workspace::new();
    ws.write(
        "in.csv",
        &format!("user_id,type,phone\n{},SMS,5125550105\n", user_id(1)),
    );
    let run = precheck(&ws, "in.csv", "peru", &["--policy-id", POLICY]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    let message = rows_of(&ws, "peru")[&2]["error_message"].clone();
    for says in [
        "has no +",
        "+51 (PE)",
        "--default-country",
        "default_country",
    ] {
        assert!(message.contains(says), "{says:?} in {message}");
    }
    let run = precheck(
        &ws,
        "in.csv",
        "us",
        &["--policy-id", POLICY, "--default-country", "US"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(rows_of(&ws, "us")[&2]["destination"], "+15125550105");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_another_separator_is_told_which_delimiter_reads_it() {
    let ws = Workspace::new();
    let row = format!("{};SMS;+15125550105\n", user_id(1));
    ws.write("semicolons.csv", &format!("user_id;type;phone\n{row}"));
    ws.write(
        "tabs.csv",
        &format!("user_id\ttype\tphone\n{}", row.replace(';', "\t")),
    );
    for (input, flag) in [("semicolons.csv", ";"), ("tabs.csv", "\\t")] {
        let run = precheck(&ws, input, input, &["--policy-id", POLICY]).await;
        assert_eq!(run.code, 2, "{}", run.both());
        let hint = format!("pass --delimiter '{flag}'");
        assert!(run.stderr.contains(&hint), "{hint:?} in {}", run.stderr);
        let out = format!("{input}-again");
        let run = precheck(
            &ws,
            input,
            &out,
            &["--policy-id", POLICY, "--delimiter", flag],
        )
        .await;
        assert_eq!(run.code, 0, "{}", run.both());
    }
    // A comma file that lacks the column gets no such hint.
    ws.write("commas.csv", "user_id,phone\nx,1\n");
    let run = precheck(&ws, "commas.csv", "commas", &[]).await;
    assert_eq!(run.code, 2);
    assert!(!run.stderr.contains("--delimiter"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_articles_read_as_english() {
    let ws = Workspace::new();
    ws.write(
        "one.csv",
        &format!("user_id,type,phone\n{},SMS,\n", user_id(1)),
    );
    let run = precheck(&ws, "one.csv", "one", &["--policy-id", POLICY]).await;
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(run.stdout.starts_with("1 row: 1 invalid"), "{}", run.stdout);
    assert!(run.stdout.contains("(line 2)"), "{}", run.stdout);
    let message = rows_of(&ws, "one")[&2]["error_message"].clone();
    assert!(message.starts_with("an SMS device needs"), "{message}");
}
