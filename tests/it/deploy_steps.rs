//! The steps `docs/shards.md` gives for Kubernetes hold together: the input reaches the volume
//! through the loader pod, at the path the Jobs read; the plan Job plans the run the shards
//! will do (its arguments run the real binary, against the sandbox); every place of a resumed
//! shard's number is marked; the image tag is one everywhere (Cargo.toml's version); and the
//! build context leaves out inputs, output folders and secrets but keeps what the build needs.

use std::path::{Path, PathBuf};

use mfa_enroll_test_support::*;

use super::deploy::{
    assert_pod_basics, assert_run_wiring, deploy, flag, localise, mount_of, pod_spec, strings, text,
};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn repository_file(name: &str) -> String {
    std::fs::read_to_string(repository().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A Job's arguments without `--shard` and `--out` (and the value after each).
fn without_shard_and_out(args: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
        } else if arg == "--shard" || arg == "--out" {
            skip_value = true;
        } else {
            kept.push(arg.clone());
        }
    }
    kept
}

#[test]
fn the_input_reaches_the_volume_through_the_loader_pod() {
    let loader = deploy("pod-input-loader.yaml");
    assert_eq!(loader["kind"].as_str(), Some("Pod"));
    let pod = &loader["spec"];
    assert_pod_basics("pod-input-loader", pod);
    let name = text(&loader["metadata"]["name"]);
    let (data_dir, _) = mount_of(pod, "persistentVolumeClaim");
    // The user the Jobs run as owns what it copies.
    let shards = deploy("job-shards.yaml");
    let shard_pod = pod_spec(&shards);
    assert_eq!(
        pod["securityContext"]["runAsUser"],
        shard_pod["securityContext"]["runAsUser"]
    );
    // Its instructions copy the file to the path the shards and the plan read, on the volume.
    let input = flag(&strings(&shard_pod["containers"][0]["args"]), "run").to_string();
    let plan = deploy("job-plan.yaml");
    assert_eq!(
        flag(&strings(&pod_spec(&plan)["containers"][0]["args"]), "run"),
        input
    );
    assert!(input.starts_with(&format!("{data_dir}/")), "{input}");
    let copy = format!("kubectl cp users.csv {name}:{input}");
    let manifest = repository_file("deploy/kubernetes/pod-input-loader.yaml");
    assert!(manifest.contains(&format!("#   {copy}\n")), "{copy}");
    let folder = Path::new(&input).parent().unwrap().display().to_string();
    assert!(manifest.contains(&format!("kubectl exec {name} -- mkdir -p {folder}")));
    assert!(manifest.contains(&format!("kubectl delete pod {name}")));
    // The guide says the same.
    let guide = repository_file("docs/shards.md");
    assert!(guide.contains("kubectl apply -f deploy/kubernetes/pod-input-loader.yaml"));
    assert!(guide.contains(&copy), "docs/shards.md: {copy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_job_plans_the_run_the_shards_will_do_and_runs() {
    let plan = deploy("job-plan.yaml");
    let pod = pod_spec(&plan);
    assert_pod_basics("job-plan", pod);
    let args = strings(&pod["containers"][0]["args"]);
    assert_run_wiring("job-plan", pod, &args);
    // The shards' arguments, whole and unsharded, with --dry-run --online.
    let shards = deploy("job-shards.yaml");
    let shard_args = strings(&pod_spec(&shards)["containers"][0]["args"]);
    let mut planned = without_shard_and_out(&args);
    for added in ["--dry-run", "--online"] {
        let at = planned
            .iter()
            .position(|a| a == added)
            .unwrap_or_else(|| panic!("{added} in {args:?}"));
        planned.remove(at);
    }
    assert_eq!(planned, without_shard_and_out(&shard_args));
    assert!(!flag(&args, "--out").starts_with("/data/migration"));
    assert!(repository_file("docs/shards.md").contains("deploy/kubernetes/job-plan.yaml"));

    // Its arguments, run for real in a scratch directory with the ConfigMap's config, against
    // the built-in sandbox in place of PingOne: GETs only, every row planned.
    let ws = Workspace::new();
    let root = ws.dir.path();
    std::fs::create_dir_all(root.join("data/input")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let toml = text(&deploy("configmap.yaml")["data"]["mfa-enroll.toml"]);
    std::fs::write(root.join("etc/mfa-enroll.toml"), toml).unwrap();
    let mut local = localise(&args, root, 0);
    std::fs::write(flag(&local, "run"), sms_rows(12)).unwrap();
    let out = PathBuf::from(flag(&local, "--out"));
    local.push("--sandbox".into());
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let run = run_binary(root, None, &local).await;
    assert_eq!(run.code, 0, "{}", run.both());
    let rows = read_csv(&out.join("results.csv"));
    assert_eq!(rows.len(), 12);
    assert!(
        rows.iter().all(|r| r["outcome"] == "would_create"),
        "{rows:?}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["mode"], "dry_run_online");
    assert_eq!(summary["requests"]["post"], 0);
}

#[test]
fn every_place_of_a_resumed_shards_number_is_marked() {
    let manifest = repository_file("deploy/kubernetes/job-resume-shard.yaml");
    let args = strings(&pod_spec(&deploy("job-resume-shard.yaml"))["containers"][0]["args"]);
    let (k, n) = flag(&args, "--shard").split_once('/').unwrap();
    let holds_k =
        |line: &str| line.contains(&format!("shard-{k}")) || line.contains(&format!("{k}/{n}"));
    let places: Vec<&str> = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && holds_k(l))
        .collect();
    // The Job's name, --shard and --out.
    assert_eq!(places.len(), 3, "{places:?}");
    for line in &places {
        assert!(
            line.trim_end().ends_with("# K") || line.trim_end().ends_with("# K/N"),
            "K without its mark: {line}"
        );
    }
    assert!(manifest.contains("in the three places"));
    assert!(holds_k(&text(
        &deploy("job-resume-shard.yaml")["metadata"]["name"]
    )));
}

#[test]
fn the_image_tag_is_the_version_everywhere() {
    let manifest: toml::Table = repository_file("Cargo.toml").parse().unwrap();
    let version = manifest["package"]["version"].as_str().unwrap();
    let tag = format!("mfa-enroll:{version}");
    let dockerfile = repository_file("Dockerfile");
    assert!(
        dockerfile.contains(&format!("#   docker build -t {tag} .\n")),
        "the Dockerfile's build command tags {tag}"
    );
    assert!(repository_file("docs/shards.md").contains(&format!("docker build -t {tag} .")));
    let mut images = 0;
    for entry in std::fs::read_dir(repository().join("deploy/kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| l.contains("image: mfa-enroll")) {
            images += 1;
            assert_eq!(line.trim(), format!("image: {tag}"), "{}", path.display());
        }
    }
    assert!(images >= 5, "{images}");
}

/// Whether Docker leaves `path` (relative to the repository) out of the build context, by
/// `.dockerignore`'s rules: the last pattern that matches the path or a folder above it
/// decides, and a `!` pattern keeps what it matches.
fn docker_ignores(rules: &[(bool, glob::Pattern)], path: &str) -> bool {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let mut prefixes = Vec::new();
    let mut at = 0;
    for part in path.split('/') {
        at += part.len();
        prefixes.push(&path[..at]);
        at += 1;
    }
    let mut ignored = false;
    for (keeps, pattern) in rules {
        if prefixes.iter().any(|p| pattern.matches_with(p, options)) {
            ignored = !keeps;
        }
    }
    ignored
}

/// Every file under `dir`, relative to the repository.
fn files_under(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut folders = vec![repository().join(dir)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(repository()).unwrap();
                files.push(relative.to_str().unwrap().to_string());
            }
        }
    }
    files
}

/// The `--out` folders of README's and the guides' commands, relative ones.
fn documented_out_folders() -> Vec<String> {
    let mut documents = vec![repository().join("README.md")];
    for entry in std::fs::read_dir(repository().join("docs")).unwrap() {
        documents.push(entry.unwrap().path());
    }
    let mut folders = Vec::new();
    for path in documents
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        for pair in words.windows(2) {
            let folder = pair[1].trim_matches(|c: char| "`\"',.;:()".contains(c));
            let first = folder.split('/').next().unwrap_or_default();
            // A name, not a placeholder (`DIR`), a variable or an absolute path.
            let is_name = first.starts_with(|c: char| c.is_ascii_lowercase())
                && first
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
            if pair[0].trim_start_matches('`') == "--out" && is_name {
                folders.push(first.to_string());
            }
        }
    }
    folders.sort();
    folders.dedup();
    folders
}

#[test]
fn the_build_context_leaves_out_inputs_outputs_and_secrets() {
    let rules: Vec<(bool, glob::Pattern)> = repository_file(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('!') {
            Some(kept) => (true, glob::Pattern::new(kept).unwrap()),
            None => (false, glob::Pattern::new(l).unwrap()),
        })
        .collect();
    let folders = documented_out_folders();
    assert!(folders.contains(&"precheck".to_string()), "{folders:?}");
    let mut left_out = vec![
        "users.csv".to_string(),
        "input/new-hires.csv".into(),
        "users.csv.gz".into(),
        "mfa-enroll.toml".into(),
        "client-secret.txt".into(),
        "private-key.pem".into(),
        "anywhere/results.csv".into(),
        "anywhere/summary.json".into(),
        "anywhere/report.html".into(),
        "nightly/mfa_enroll.prom".into(),
    ];
    // The documented output folders, whole (the lock file, a partial write, whatever else).
    left_out.extend(folders.iter().map(|f| format!("{f}/.anything")));
    for path in &left_out {
        assert!(
            docker_ignores(&rules, path),
            "{path} is in the build context"
        );
    }
    // What the build reads: the sources with the report's template, Cargo's files, the
    // workspace's other crate, what the sources include, and the sample.
    let mut needed = files_under("src");
    needed.extend(files_under("crates"));
    needed.extend(files_under("benches"));
    needed.extend(
        [
            "Cargo.toml",
            "Cargo.lock",
            "askama.toml",
            "config.example.toml",
            "README.md",
            "docs/codes.md",
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "samples/enroll.csv",
        ]
        .map(String::from),
    );
    assert!(needed.contains(&"src/present/report/report.html".to_string()));
    for path in &needed {
        assert!(
            !docker_ignores(&rules, path),
            "{path} is left out of the build"
        );
    }
}
