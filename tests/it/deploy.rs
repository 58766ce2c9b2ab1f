//! The container image and the Kubernetes manifests in `deploy/` are real: the manifests parse
//! as YAML and wire the pieces together (index -> --shard, Secret -> secret file, ConfigMap ->
//! --config, volume -> --out), the config they carry loads, the Jobs' arguments run the real
//! binary end to end (offline, with the paths moved into a scratch directory), every manifest
//! validates against Kubernetes' own schemas (`kubernetes-validate`), and the image's build
//! command is one CI runs.

use std::path::{Path, PathBuf};

use mfa_enroll_test_support::*;
use yaml_rust2::{Yaml, YamlLoader};

pub(super) fn deploy(name: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

pub(super) fn text(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected text, found {other:?}"),
    }
}

pub(super) fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec().expect("a list").iter().map(text).collect()
}

/// The value after `flag` in `args`.
pub(super) fn flag<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} in {args:?}"));
    &args[at + 1]
}

/// The pod spec of a Job or of a CronJob's Job.
pub(super) fn pod_spec(doc: &Yaml) -> &Yaml {
    match doc["kind"].as_str() {
        Some("Job") => &doc["spec"]["template"]["spec"],
        Some("CronJob") => &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        other => panic!("not a Job: {other:?}"),
    }
}

/// Where a pod mounts the volume whose source has `source_kind` (`secret`, `configMap`,
/// `persistentVolumeClaim`): (mount path, the source's name).
pub(super) fn mount_of(pod: &Yaml, source_kind: &str) -> (String, String) {
    let volume = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|v| !v[source_kind].is_badvalue())
        .unwrap_or_else(|| panic!("a {source_kind} volume"));
    let name_key = match source_kind {
        "secret" => "secretName",
        "persistentVolumeClaim" => "claimName",
        _ => "name",
    };
    let mount = pod["containers"][0]["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .unwrap_or_else(|| panic!("{source_kind} volume mounted"));
    (
        text(&mount["mountPath"]),
        text(&volume[source_kind][name_key]),
    )
}

/// What every pod of ours must have: a non-root user, no privilege, the claim of pvc.yaml.
pub(super) fn assert_pod_basics(name: &str, pod: &Yaml) {
    assert_eq!(
        pod["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true),
        "{name}"
    );
    assert_ne!(
        pod["securityContext"]["runAsUser"].as_i64(),
        Some(0),
        "{name}"
    );
    assert_eq!(
        text(&pod["restartPolicy"]),
        "Never",
        "{name}: a rerun must be --resume"
    );
    let container = &pod["containers"][0];
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{name}"
    );
    let (_, claim) = mount_of(pod, "persistentVolumeClaim");
    assert_eq!(
        claim,
        text(&deploy("pvc.yaml")["metadata"]["name"]),
        "{name}"
    );
}

/// The secret file and config file a `run` pod reads are the mounted Secret and ConfigMap.
pub(super) fn assert_run_wiring(name: &str, pod: &Yaml, args: &[String]) {
    let container = &pod["containers"][0];
    let env = container["env"].as_vec().unwrap();
    let secret_file = env
        .iter()
        .find(|e| e["name"].as_str() == Some("PINGONE_CLIENT_SECRET_FILE"))
        .map(|e| text(&e["value"]))
        .unwrap_or_else(|| panic!("{name}: PINGONE_CLIENT_SECRET_FILE"));
    assert!(
        env.iter()
            .all(|e| e["name"].as_str() != Some("PINGONE_CLIENT_SECRET")),
        "{name}: the secret itself is never in the pod spec"
    );
    let (secret_dir, _) = mount_of(pod, "secret");
    assert_eq!(
        Path::new(&secret_file).parent().unwrap(),
        Path::new(&secret_dir),
        "{name}"
    );
    let config = flag(args, "--config");
    let (config_dir, config_map) = mount_of(pod, "configMap");
    let configmap = deploy("configmap.yaml");
    assert_eq!(config_map, text(&configmap["metadata"]["name"]), "{name}");
    let file_name = Path::new(config).file_name().unwrap().to_str().unwrap();
    assert!(
        !configmap["data"][file_name].is_badvalue(),
        "{name}: {file_name} in the ConfigMap"
    );
    assert_eq!(
        Path::new(config).parent().unwrap(),
        Path::new(&config_dir),
        "{name}"
    );
    let (data_dir, _) = mount_of(pod, "persistentVolumeClaim");
    assert!(
        flag(args, "--out").starts_with(&data_dir),
        "{name}: --out on the volume"
    );
}

/// The pod's paths moved into `root`, and an index filled in, as Kubernetes would.
pub(super) fn localise(args: &[String], root: &Path, index: u32) -> Vec<String> {
    args.iter()
        .map(|a| {
            a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
                .replace("/data/", &format!("{}/data/", root.display()))
                .replace("/etc/mfa-enroll/", &format!("{}/etc/", root.display()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexed_job_and_the_merge_step_fit_together_and_run() {
    let job = deploy("job-shards.yaml");
    assert_eq!(job["kind"].as_str(), Some("Job"));
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let shards = job["spec"]["completions"].as_i64().unwrap();
    assert_eq!(
        job["spec"]["parallelism"].as_i64(),
        Some(shards),
        "all shards at once"
    );
    let pod = pod_spec(&job);
    assert_pod_basics("job-shards", pod);
    let args = strings(&pod["containers"][0]["args"]);
    assert_eq!(args[0], "run");
    assert_eq!(
        flag(&args, "--shard"),
        format!("$(JOB_COMPLETION_INDEX)/{shards}")
    );
    assert!(
        flag(&args, "--out").contains("$(JOB_COMPLETION_INDEX)"),
        "one --out per shard"
    );
    assert_run_wiring("job-shards", pod, &args);

    let merge_job = deploy("job-merge.yaml");
    let merge_pod = pod_spec(&merge_job);
    assert_pod_basics("job-merge", merge_pod);
    let merge_args = strings(&merge_pod["containers"][0]["args"]);
    assert_eq!(merge_args[0], "merge");
    let expected: Vec<String> = (0..shards)
        .map(|k| flag(&args, "--out").replace("$(JOB_COMPLETION_INDEX)", &k.to_string()))
        .collect();
    assert_eq!(
        &merge_args[1..=shards as usize],
        expected.as_slice(),
        "every shard's --out"
    );

    // The same arguments, run for real (offline) in a scratch directory: the config of the
    // ConfigMap loads, every shard runs, and the merge step merges them.
    let ws = Workspace::new();
    let root = ws.dir.path();
    std::fs::create_dir_all(root.join("data/input")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let toml = text(&deploy("configmap.yaml")["data"]["mfa-enroll.toml"]);
    std::fs::write(root.join("etc/mfa-enroll.toml"), toml).unwrap();
    let input = flag(&args, "run").to_string();
    let input = localise(&[input], root, 0).remove(0);
    std::fs::write(&input, sms_rows(30)).unwrap();
    for k in 0..shards as u32 {
        let mut shard_args = localise(&args, root, k);
        shard_args.push("--dry-run".into());
        let shard_args: Vec<&str> = shard_args.iter().map(String::as_str).collect();
        let run = run_binary(root, None, &shard_args).await;
        assert_eq!(run.code, 0, "shard {k}: {}", run.both());
    }
    let merge_args = localise(&merge_args, root, 0);
    let merge_args: Vec<&str> = merge_args.iter().map(String::as_str).collect();
    let merged = run_binary(root, None, &merge_args).await;
    assert_eq!(merged.code, 0, "{}", merged.both());
    let out = PathBuf::from(merge_args[merge_args.len() - 1]);
    assert_eq!(read_csv(&out.join("results.csv")).len(), 30);
}

#[test]
fn the_resume_job_and_the_nightly_cronjob_are_wired_like_the_shards() {
    let job = deploy("job-shards.yaml");
    let shard_args = strings(&pod_spec(&job)["containers"][0]["args"]);
    let resume = deploy("job-resume-shard.yaml");
    let pod = pod_spec(&resume);
    assert_pod_basics("job-resume-shard", pod);
    let args = strings(&pod["containers"][0]["args"]);
    assert!(args.contains(&"--resume".to_string()));
    assert_run_wiring("job-resume-shard", pod, &args);
    let (k, n) = flag(&args, "--shard").split_once('/').unwrap();
    assert_eq!(
        flag(&shard_args, "--shard"),
        format!("$(JOB_COMPLETION_INDEX)/{n}")
    );
    assert_eq!(
        flag(&args, "--out"),
        flag(&shard_args, "--out").replace("$(JOB_COMPLETION_INDEX)", k),
        "the resumed shard's own --out"
    );
    assert_eq!(
        flag(&args, "run"),
        flag(&shard_args, "run"),
        "the same input"
    );

    let cron = deploy("cronjob-nightly.yaml");
    assert_eq!(cron["kind"].as_str(), Some("CronJob"));
    assert_eq!(
        cron["spec"]["schedule"]
            .as_str()
            .map(|s| s.split(' ').count()),
        Some(5)
    );
    assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    let pod = pod_spec(&cron);
    assert_pod_basics("cronjob-nightly", pod);
    let args = strings(&pod["containers"][0]["args"]);
    assert_run_wiring("cronjob-nightly", pod, &args);
    // Each night its own --out, named by the Job, which the downward API provides.
    assert!(flag(&args, "--out").contains("$(JOB_NAME)"));
    let job_name = pod["containers"][0]["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("JOB_NAME"))
        .map(|e| text(&e["valueFrom"]["fieldRef"]["fieldPath"]));
    assert_eq!(
        job_name.as_deref(),
        Some("metadata.labels['batch.kubernetes.io/job-name']")
    );
}

#[test]
fn the_image_is_built_by_a_command_ci_runs_and_runs_as_non_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert_eq!(stages, 2, "a build stage and a small runtime stage");
    let build_commands: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cargo "))
        .map(|l| l.trim_end_matches("\\").trim_end_matches("&&").trim())
        .collect();
    assert!(!build_commands.is_empty(), "the image builds with cargo");
    for command in build_commands {
        assert!(
            ci.lines().any(|l| l.trim() == command),
            "{command:?} is not in .ci/run"
        );
    }
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/mfa-enroll\"]"));
    let toolchain = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .and_then(|l| l.split('-').next())
        .expect("a rust build image");
    let (major, minor) = toolchain.split_once('.').unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let needed = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .unwrap()
        .trim_end_matches('"');
    let (need_major, need_minor) = needed.split_once('.').unwrap();
    assert!(
        (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap())
            >= (need_major.parse().unwrap(), need_minor.parse().unwrap()),
        "the build image's Rust {toolchain} is older than rust-version {needed}"
    );
}

/// How to get `kubernetes-validate`, for a machine without it.
const INSTALL_VALIDATOR: &str =
    "scripts/test installs it (or: python3 -m pip install kubernetes-validate)";

/// `kubernetes-validate` (PyPI, installed by `scripts/test`) on one manifest, against
/// Kubernetes 1.31's own schemas, which the package bundles: no cluster and no network.
fn kubernetes_validate(path: &Path) -> std::process::Output {
    std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "-k", "1.31", "--strict"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("python3 does not run ({e}); {INSTALL_VALIDATOR}"))
}

/// Fails, naming how to install it, when python3 has no `kubernetes-validate`: a manifest
/// refused must mean the manifest is wrong, never that the validator is missing.
fn require_validator() {
    let version = std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "--version"])
        .output()
        .unwrap_or_else(|e| panic!("python3 does not run ({e}); {INSTALL_VALIDATOR}"));
    assert!(
        version.status.success(),
        "python3 has no kubernetes-validate ({}); {INSTALL_VALIDATOR}",
        String::from_utf8_lossy(&version.stderr).trim()
    );
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas() {
    require_validator();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 6, "{manifests:?}");
    for path in &manifests {
        let checked = kubernetes_validate(path);
        assert!(
            checked.status.success(),
            "{}: {}{}",
            path.display(),
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    // The validator is alive: a field of the wrong type is refused, naming it.
    let shards = std::fs::read_to_string(dir.join("job-shards.yaml")).unwrap();
    let broken = shards.replace("backoffLimitPerIndex: 0", "backoffLimitPerIndex: \"none\"");
    assert_ne!(broken, shards);
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("job-shards.yaml");
    std::fs::write(&path, broken).unwrap();
    let checked = kubernetes_validate(&path);
    assert!(!checked.status.success());
    let said = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(said.contains("backoffLimitPerIndex"), "{said}");
}
