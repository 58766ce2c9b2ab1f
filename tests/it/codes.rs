//! Every row code docs/codes.md's tables name for a bad input row, produced by the real binary and
//! found in results.csv and errors.csv, one row each: the validation codes are unit-tested
//! in src/validate, and this shows each reaches the files a person reads.

use mfa_enroll_test_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_input_code_reaches_results_and_errors() {
    let ws = Workspace::new();
    let id = "00000000-0000-4000-8000-000000000001";
    let header =
        "user_id,username,type,phone,email,extension,policy_id,status,notification_locale\n";
    // (code, row) in line order from line 2.
    let rows: Vec<(&str, Vec<u8>)> = vec![
        (
            "MALFORMED_ROW",
            format!("{id},,SMS,+15125550100,,,,,,extra\n").into_bytes(),
        ),
        (
            "INVALID_ENCODING",
            [b",user\xff,SMS,+15125550101,,,,,\n".as_slice()].concat(),
        ),
        (
            "INVALID_USERNAME",
            b",bad\x01name,SMS,+15125550102,,,,,\n".to_vec(),
        ),
        (
            "MISSING_TYPE",
            format!("{id},,,+15125550103,,,,,\n").into_bytes(),
        ),
        ("MISSING_PHONE", format!("{id},,SMS,,,,,,\n").into_bytes()),
        (
            "INVALID_EXTENSION",
            format!("{id},,VOICE,+15125550104,,12ab,,,\n").into_bytes(),
        ),
        (
            "INVALID_POLICY_ID",
            format!("{id},,SMS,+15125550105,,,nope,,\n").into_bytes(),
        ),
        (
            "INVALID_STATUS",
            format!("{id},,SMS,+15125550106,,,,PENDING,\n").into_bytes(),
        ),
        (
            "INVALID_NOTIFICATION",
            format!("{id},,SMS,+15125550107,,,,ACTIVATION_REQUIRED,not a locale!\n").into_bytes(),
        ),
    ];
    let mut input = header.as_bytes().to_vec();
    for (_, row) in &rows {
        input.extend_from_slice(row);
    }
    std::fs::write(ws.path("in.csv"), input).unwrap();
    let policy = "--policy-id=8a1b2c3d-0000-4000-8000-000000000001";
    let args = ["run", "in.csv", "--dry-run", policy, "--out", "out"];
    let run = run_binary(ws.dir.path(), None, &args).await;
    assert_eq!(run.code, 1, "{}", run.both());
    // The files carry the row's cells as written, the bytes that are not UTF-8 too.
    let lossy = |name: &str| {
        let bytes = std::fs::read(ws.out().join(name)).unwrap();
        let copy = ws.write(&format!("{name}.lossy"), &String::from_utf8_lossy(&bytes));
        read_csv(&copy)
    };
    let results = by_line(&lossy("results.csv"));
    let errors: Vec<String> = lossy("errors.csv")
        .iter()
        .map(|r| r["error_code"].clone())
        .collect();
    for (i, (code, _)) in rows.iter().enumerate() {
        let line = i as u64 + 2;
        assert_eq!(results[&line]["outcome"], "invalid", "line {line}");
        assert_eq!(results[&line]["error_code"], *code, "line {line}");
        assert_eq!(errors[i], *code, "errors.csv, line {line}");
    }
    assert_eq!(
        ws.summary()["error_codes"].as_object().map(|m| m.len()),
        Some(rows.len())
    );
}
