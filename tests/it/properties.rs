//! Property tests on the input path, through the real pipeline (an offline dry run, in
//! process): arbitrary bytes and arbitrary CSV never panic, and every record gets exactly one
//! row in results.csv, at the line where it starts.

use std::sync::Arc;

use mfa_enroll::cli::LogFormat;
use mfa_enroll::config::{EnrollSettings, Limits, RunMode, Settings};
use mfa_enroll::model::OnExisting;
use mfa_enroll::stop::Stop;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn settings(input: std::path::PathBuf, out: std::path::PathBuf) -> Settings {
    Settings {
        input: mfa_enroll::input::InputSource::File(input),
        out_dir: out,
        config_file: None,
        mode: RunMode::DryRunOffline,
        resume: false,
        shard: None,
        use_sandbox: false,
        connection: None,
        enroll: EnrollSettings {
            policy_id: Some(uuid::Uuid::nil()),
            status: None,
            on_existing: OnExisting::Skip,
            max_deletes: None,
            default_country: None,
            allow_messages: false,
            enable_mfa: false,
            enable_mfa_by_default: false,
        },
        limits: Limits::default(),
        delimiter: b',',
        metrics_file: None,
        log_format: LogFormat::Text,
        quiet: true,
        verbose: false,
        progress_every: std::time::Duration::from_secs(5),
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
        // A file error met after the header: rows before it were written, nothing was sent.
        Ok(report) if report.exit == mfa_enroll::ExitStatus::NothingSent => None,
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

/// What the tool must make of an input, worked out independently of it (no csv crate): walk
/// the bytes as RFC 4180 reads them, a line ending at LF, CR LF or a CR alone, outside quotes
/// and inside. The header's line ending is the file's; line endings between two records that
/// hold none of its kind (a CR alone in an LF file, an LF alone in a CR file) join the two
/// into one record.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// The line where each record after the header starts.
    Lines(Vec<u64>),
    /// A quote that never closes: a file error naming the line where it opened.
    UnclosedQuote(u64),
}

fn expected(bytes: &[u8]) -> Expected {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut line = 1u64;
    let mut after_cr = false;
    let mut starts = Vec::new();
    let (mut at_record_start, mut at_field_start) = (true, true);
    // The line endings since the last record's text: (CRs, LFs); and the file's kind (LF?).
    let mut gap = (0u64, 0u64);
    let mut file_uses_lf: Option<bool> = None;
    // Inside a quoted field: the line it opened on, and whether a quote was just seen.
    let mut quoted: Option<(u64, bool)> = None;
    for &byte in bytes {
        let ends_line = byte == b'\r' || (byte == b'\n' && !after_cr);
        after_cr = byte == b'\r';
        if let Some((opened, quote_seen)) = quoted {
            match (quote_seen, byte) {
                (false, b'"') => quoted = Some((opened, true)),
                (true, b'"') => quoted = Some((opened, false)),
                (false, _) => {
                    line += u64::from(ends_line);
                    continue;
                }
                // The quote closed the field; this byte is read as outside quotes.
                (true, _) => quoted = None,
            }
            if quoted.is_some() {
                continue;
            }
        }
        if at_record_start && byte != b'\n' && byte != b'\r' {
            if starts.len() == 1 {
                file_uses_lf = Some(gap.1 > 0);
            }
            let stray = match file_uses_lf {
                Some(true) => gap.1 == 0,
                Some(false) => gap.0 == 0,
                None => false,
            };
            if !stray || starts.len() < 2 {
                starts.push(line);
            }
            at_record_start = false;
            gap = (0, 0);
        }
        line += u64::from(ends_line);
        match byte {
            b'\n' | b'\r' => {
                (at_record_start, at_field_start) = (true, true);
                if byte == b'\r' {
                    gap.0 += 1;
                } else {
                    gap.1 += 1;
                }
            }
            b',' => at_field_start = true,
            b'"' if at_field_start => {
                quoted = Some((line, false));
                at_field_start = false;
            }
            _ => at_field_start = false,
        }
    }
    match quoted {
        Some((opened, false)) => Expected::UnclosedQuote(opened),
        _ => Expected::Lines(starts.into_iter().skip(1).collect()),
    }
}

#[test]
fn the_independent_count_reads_quotes_and_line_endings() {
    assert_eq!(
        expected(b"a,b\r\n1,\"x\r\ny\"\r\n\r\n2,3"),
        Expected::Lines(vec![2, 5])
    );
    assert_eq!(expected(b"a\n\"x\"\"\n3"), Expected::UnclosedQuote(2));
    assert_eq!(expected(b"a\nx\"y\n3"), Expected::Lines(vec![2, 3]));
    assert_eq!(expected(b"a\r1\r\r2\r\n3"), Expected::Lines(vec![2, 4, 5]));
    // A CR alone in an LF file joins its two parts; an LF alone does so in a CR file.
    assert_eq!(expected(b"a\n1\r2\n3"), Expected::Lines(vec![2, 4]));
    assert_eq!(expected(b"a\r1\n2\r3"), Expected::Lines(vec![2, 4]));
    assert_eq!(expected(b"a\n\"1\r\"\r\n2"), Expected::Lines(vec![2, 4]));
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
        Just("stray\rCR".to_string()),
        Just("\"quoted\rCR\"".to_string()),
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
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
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
    // The recorded failures stay beside this file: proptest's default would look for them in
    // tests/proptest-regressions/, since tests/it/ holds a main.rs.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Some(lines) = run_on(&bytes) {
            prop_assert_eq!(Expected::Lines(lines), expected(&bytes));
        }
    }

    #[test]
    fn arbitrary_rows_after_a_valid_header_each_get_exactly_one_result(text in csv_text()) {
        check_after_valid_header(text.as_bytes())?;
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_each_get_exactly_one_result(
        tail in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        let mut bytes = b"type,user_id,phone\n".to_vec();
        bytes.extend_from_slice(&tail);
        check_after_valid_header(&bytes)?;
    }
}

/// After a valid header, every record gets exactly one row at its line, unless a quote never
/// closes, which is a file error.
fn check_after_valid_header(bytes: &[u8]) -> Result<(), TestCaseError> {
    match (run_on(bytes), expected(bytes)) {
        (Some(lines), Expected::Lines(wanted)) => prop_assert_eq!(lines, wanted),
        (None, Expected::UnclosedQuote(_)) => {}
        (got, wanted) => prop_assert!(false, "the tool gave {got:?}, expected {wanted:?}"),
    }
    Ok(())
}
