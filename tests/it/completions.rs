//! Shell completions and the manual page, generated from the clap definitions by the real
//! binary: bash loads the script and completes a subcommand and a flag; the other shells get
//! a script that names them; `man -l` renders the page (groff without a warning) with every
//! subcommand's options in it.

use std::process::Stdio;

use mfa_enroll_test_support::*;

async fn output_of(args: &[&str]) -> Run {
    let ws = Workspace::new();
    run_binary(ws.dir.path(), None, args).await
}

/// What bash offers for `words` (the last one being completed), with the script loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        r#"source '{script}'
function=$(complete -p mfa-enroll | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=({line})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
"$function" mfa-enroll '{current}' '{previous}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let output = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .stdin(Stdio::null())
        .output()
        .expect("bash runs: apt-get install -y bash (scripts/test does)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_completes_subcommands_and_flags() {
    let ws = Workspace::new();
    let script = output_of(&["completions", "bash"]).await;
    assert_eq!(script.code, 0, "{}", script.stderr);
    let path = ws.write("mfa-enroll.bash", &script.stdout);
    assert_eq!(bash_completes(&path, &["mfa-enroll", "ru"]), ["run"]);
    let subcommands = bash_completes(&path, &["mfa-enroll", ""]);
    for name in ["run", "merge", "sandbox", "completions", "man"] {
        assert!(
            subcommands.iter().any(|s| s == name),
            "{name}: {subcommands:?}"
        );
    }
    assert_eq!(
        bash_completes(&path, &["mfa-enroll", "run", "--policy"]),
        ["--policy-id"]
    );
    let shells = bash_completes(&path, &["mfa-enroll", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|s| s == shell), "{shell}: {shells:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shell_gets_a_script_that_knows_the_commands() {
    for (shell, marker) in [
        ("zsh", "#compdef mfa-enroll"),
        ("fish", "complete -c mfa-enroll"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = output_of(&["completions", shell]).await;
        assert_eq!(script.code, 0, "{shell}: {}", script.stderr);
        assert!(script.stdout.contains(marker), "{shell}");
        for word in ["run", "policy-id", "default-country", "color"] {
            assert!(script.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let refused = output_of(&["completions", "tcsh"]).await;
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("possible values"),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_man_page_renders_with_every_subcommand_and_option() {
    let ws = Workspace::new();
    let page = output_of(&["man"]).await;
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(page.stdout.contains(".TH mfa-enroll 1"), "a section 1 page");
    let path = ws.write("mfa-enroll.1", &page.stdout);
    // groff's own check: every warning on, no output.
    let checked = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
        .expect("groff runs: apt-get install -y groff-base (scripts/test does)");
    assert!(checked.status.success());
    assert!(
        checked.stderr.is_empty(),
        "groff warns: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&path)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man runs: apt-get install -y man-db (scripts/test does)");
    assert!(rendered.status.success());
    let text = String::from_utf8_lossy(&rendered.stdout);
    // man may hyphenate or embolden; compare the words alone.
    let plain: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect::<String>()
        .replace('\u{2010}', "-");
    for heading in [
        "NAME",
        "SYNOPSIS",
        "MFA-ENROLL RUN",
        "MFA-ENROLL MERGE",
        "MFA-ENROLL MAN",
    ] {
        assert!(plain.contains(heading), "{heading} in {plain}");
    }
    for option in [
        "--policy-id",
        "--default-country",
        "--color",
        "--allow-messages",
    ] {
        assert!(plain.contains(option), "{option} in the page");
    }
    assert!(plain.contains("mfa-enroll run users.csv --dry-run --out precheck"));
}
