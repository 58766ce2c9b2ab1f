//! Property tests on the input path, through the real pipeline (an offline dry run, in
//! process): arbitrary bytes and arbitrary CSV never panic, and every record gets exactly one
//! row in results.csv, at the line where it starts.

use std::sync::Arc;

use mfa_enroll::cli::LogFormat;
use mfa_enroll::config::{EnrollSettings, Limits, RunMode, Settings};
use mfa_enroll::model::OnExisting;
use mfa_enroll::stop::Stop;
use proptest::prelude::*;

fn settings(input: std::path::PathBuf, out: std::path::PathBuf) -> Settings {
    Settings {
        input,
        out_dir: out,
        mode: RunMode::DryRunOffline,
        resume: false,
        use_sandbox: false,
        connection: None,
        enroll: EnrollSettings {
            policy_id: Some(uuid::Uuid::nil()),
            status: None,
            on_existing: OnExisting::Skip,
            default_country: None,
            allow_messages: false,
        },
        limits: Limits::default(),
        delimiter: b',',
        log_format: LogFormat::Text,
        quiet: true,
        verbose: false,
    }
}

/// Runs the pipeline on `bytes`; returns the lines results.csv names, or None for a file error.
fn run_on(bytes: &[u8]) -> Option<Vec<u64>> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, bytes).unwrap();
    let out = dir.path().join("out");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(mfa_enroll::run(
        settings(input, out.clone()),
        Arc::new(Stop::default()),
    ));
    match outcome {
        Err(mfa_enroll::RunError::Input(_)) => None,
        Err(other) => panic!("only file errors may end a dry run: {other}"),
        Ok(_) => {
            let mut reader = csv::Reader::from_path(out.join("results.csv")).unwrap();
            Some(
                reader
                    .records()
                    .map(|r| r.unwrap()[0].parse::<u64>().unwrap())
                    .collect(),
            )
        }
    }
}

/// Where each record starts, counted independently of the tool: walk the bytes with the
/// csv crate's own positions, then map byte offsets to lines.
fn record_lines(bytes: &[u8]) -> Vec<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut starts = Vec::new();
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        let mut byte = record.position().unwrap().byte() as usize;
        // A record starts after any line endings its position points into.
        while byte < bytes.len() && matches!(bytes[byte], b'\r' | b'\n') {
            byte += 1;
        }
        let line = 1 + bytes[..byte].iter().filter(|b| **b == b'\n').count() as u64;
        starts.push(line);
    }
    starts.into_iter().skip(1).collect()
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("SMS".to_string()),
        Just("email".to_string()),
        Just("+1 (512) 555-1234".to_string()),
        Just("j@example.com".to_string()),
        Just("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f".to_string()),
        Just("\"quoted, with comma\"".to_string()),
        Just("\"multi\r\nline\"".to_string()),
        Just("\"".to_string()),
        "\\PC{0,12}",
        "[0-9+() .-]{0,20}",
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    let row = prop::collection::vec(cell(), 0..8).prop_map(|cells| cells.join(","));
    (
        any::<bool>(),
        prop::collection::vec(row, 0..25),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(bom, rows, eol)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            text.push_str("user_id,username,type,phone,email,extension,status,notes");
            for row in rows {
                text.push_str(eol);
                text.push_str(&row);
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Some(lines) = run_on(&bytes) {
            let expected = record_lines(&bytes);
            prop_assert_eq!(lines, expected);
        }
    }

    #[test]
    fn arbitrary_rows_after_a_valid_header_each_get_exactly_one_result(text in csv_text()) {
        let lines = run_on(text.as_bytes()).expect("a valid header is never a file error");
        prop_assert_eq!(lines, record_lines(text.as_bytes()));
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_each_get_exactly_one_result(
        tail in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        let mut bytes = b"type,user_id,phone\n".to_vec();
        bytes.extend_from_slice(&tail);
        let lines = run_on(&bytes).expect("a valid header is never a file error");
        prop_assert_eq!(lines, record_lines(&bytes));
    }
}
