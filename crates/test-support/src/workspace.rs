//! A scratch directory for one test: what the test writes there (an input, a config pointing
//! at a sandbox on loopback), and readers for what the binary leaves there (results.csv,
//! errors.csv, summary.json).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mfa_enroll::sandbox::{Sandbox, SandboxOptions};

/// The device authentication policy every sandbox has.
pub const POLICY: &str = mfa_enroll::sandbox::SANDBOX_POLICY_ID;

/// A sandbox on 127.0.0.1, on a port of its own, recording every request's arrival.
pub async fn sandbox(options: SandboxOptions) -> Sandbox {
    Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxOptions {
            record_arrivals: true,
            ..options
        },
    )
    .await
    .expect("sandbox starts on loopback")
}

/// A sandbox on loopback and a workspace whose config points at it, with extra `[limits]`
/// and `[enroll]` lines: the setup most tests start from.
pub async fn setup(options: SandboxOptions, limits: &str, enroll: &str) -> (Sandbox, Workspace) {
    let sandbox = sandbox(options).await;
    let ws = Workspace::new();
    ws.config_for(&sandbox, limits, enroll);
    (sandbox, ws)
}

/// The devices on the sandbox, as (user ID, type, destination digits or email, extension).
pub fn device_keys(sandbox: &Sandbox) -> Vec<(String, String, String, String)> {
    sandbox
        .all_devices()
        .into_iter()
        .map(|(user, d)| {
            let destination = match (&d.phone, &d.email) {
                (Some(p), _) => p.chars().filter(char::is_ascii_digit).collect(),
                (_, Some(e)) => e.to_lowercase(),
                _ => String::new(),
            };
            (
                user,
                d.device_type,
                destination,
                d.extension.unwrap_or_default(),
            )
        })
        .collect()
}

/// A scratch directory with an input, a config and an output directory.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A new directory each call: `new` says so where a `Default` would not.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write fixture");
        path
    }

    /// A config for `sandbox` with the given extra `[limits]`/`[enroll]` lines appended.
    /// It says `enable_mfa = false` unless `enroll` chooses (a live run must be told), so a
    /// test that wants the switch passes `--enable-mfa` or its own line.
    pub fn config_for(&self, sandbox: &Sandbox, limits: &str, enroll: &str) -> PathBuf {
        let snippet = sandbox.config_snippet();
        let enroll = with_mfa_choice(enroll);
        let text = format!("{snippet}{enroll}\n[limits]\n{limits}\n");
        self.write("mfa-enroll.toml", &text)
    }

    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    pub fn results(&self) -> Vec<HashMap<String, String>> {
        read_csv(&self.out().join("results.csv"))
    }

    pub fn errors(&self) -> Vec<HashMap<String, String>> {
        read_csv(&self.out().join("errors.csv"))
    }

    pub fn summary(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out().join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).expect("summary.json parses")
    }
}

/// `[enroll]` lines that choose `enable_mfa`: as given when they do, else with
/// `enable_mfa = false` (the switch left alone, as tests that count requests expect).
pub fn with_mfa_choice(enroll: &str) -> String {
    if enroll.contains("enable_mfa") {
        enroll.to_string()
    } else {
        format!("enable_mfa = false\n{enroll}")
    }
}

pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Rows by input line; panics when a line appears twice.
pub fn by_line(rows: &[HashMap<String, String>]) -> HashMap<u64, HashMap<String, String>> {
    let mut map = HashMap::new();
    for row in rows {
        let line: u64 = row["line"].parse().expect("line is a number");
        assert!(
            map.insert(line, row.clone()).is_none(),
            "line {line} appears twice in results.csv"
        );
    }
    map
}

/// results.csv, errors.csv and summary.json readable by their owner only, in a private
/// directory: they hold personal data.
pub fn assert_private_outputs(out: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for name in ["results.csv", "errors.csv", "summary.json"] {
        let mode = std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let mode = std::fs::metadata(out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the directory is private too");
}

/// Copies the files of `from` (an output directory) into `to`, which is created.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A CSV of `n` users by ID, one SMS device each, with distinct valid US numbers.
pub fn sms_rows(n: usize) -> String {
    let mut text = String::from("user_id,type,phone\n");
    for i in 0..n {
        text.push_str(&format!("{},SMS,{}\n", user_id(i), us_number(i)));
    }
    text
}

pub fn user_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// Distinct, valid US numbers (area code 512, exchanges 200-999).
pub fn us_number(i: usize) -> String {
    format!("+1512{}{:04}", 200 + (i / 10_000) % 800, i % 10_000)
}

/// Fast backoff so fault tests do not wait seconds per retry.
/// Enough retries that a 30% failure rate exhausts a row about once in a million runs, not
/// once in a hundred. The sandbox's lists never lag unless told to: one read settles an
/// unclear POST.
pub const FAST_RETRIES: &str =
    "backoff_initial_ms = 5\nbackoff_max_s = 1\nmax_retries = 20\nlist_lag_s = 0\n";
