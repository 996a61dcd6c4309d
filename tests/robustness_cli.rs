//! Cross-cutting robustness of the CLI: a hung, crashing or garbage-printing helm is killed and
//! reported (with the processes it started), helm discovery and its "how to get helm" message,
//! bad input on every command (exit 2, file and line named, nothing written), atomic writes that
//! keep hand-written content, `--help` examples and exit codes, and no colors unless asked.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{chart, copy_chart, helms, write_files};

/// A bash script that answers `helm version` like helm 4 and does `on_template` for `helm template`.
/// Every process it starts in the background records its pid in `pids` next to the script.
fn fake_helm(dir: &Path, name: &str, on_template: &str) -> PathBuf {
    let path = dir.join(name);
    let pids = dir.join("pids");
    let script = format!(
        "#!/bin/bash\nif [ \"$1\" = version ]; then printf v4.1.4; exit 0; fi\nPIDS='{}'\n{on_template}\n",
        pids.display()
    );
    std::fs::write(&path, script).unwrap();
    set_mode(&path, 0o755);
    path
}

const HANG: &str = "sleep 600 & echo $! >> \"$PIDS\"; wait";
const HANG_IN_BACKGROUND: &str = "sleep 600 & echo $! >> \"$PIDS\"; printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: x\\n'; exit 0";
const SEGV: &str = "kill -SEGV $$";
const GARBAGE: &str = "printf -- '---\\n# Source: x/templates/a.yaml\\n: : [ unclosed\\n\\tkey: {{ oops\\n'";
const HELM_ERROR: &str = "echo 'Error: template: go-service/templates/deployment.yaml:12:3: executing \"go-service/templates/deployment.yaml\" at <.Values.nope.x>: nil pointer evaluating interface {}.x' >&2; exit 1";
/// A helm that must not be reached (the input is rejected before rendering).
const NOT_CALLED: &str = "echo 'Error: the fake helm was called: chartproof should have rejected the input first' >&2; exit 1";

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `chartproof ARGS…` in `cwd`, without HELM_BIN from the environment, colors off; (code, stdout, stderr).
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("chartproof").unwrap();
    cmd.current_dir(cwd).env_remove("HELM_BIN").env("NO_COLOR", "1").args(args).timeout(Duration::from_secs(120));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stderr.contains("panicked"), "chartproof {args:?} panicked:\n{stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Whether a process still runs (a zombie waiting to be reaped has ended).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()), Some("Z" | "X")),
        Err(_) => false,
    }
}

fn assert_no_orphans(dir: &Path, what: &str) {
    let Ok(text) = std::fs::read_to_string(dir.join("pids")) else { return };
    let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let survivors: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &survivors {
        let _ = std::process::Command::new("kill").arg("-KILL").arg(p.to_string()).status();
    }
    assert!(survivors.is_empty(), "{what}: the hung helm's child processes survived: {survivors:?}");
}

/// The commands that render, with the arguments to run each on `chart` once.
fn rendering_commands(chart: &str) -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("check", s(&["check", chart])),
        ("test", s(&["test", chart, "--cases", "3", "--no-save", "-j", "1"])),
        ("diff", s(&["diff", chart, chart])),
    ]
}

#[test]
fn hung_helm_is_killed_with_its_children_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let helm = fake_helm(tmp.path(), "helm", HANG);
    let go = chart("go-service");
    for (name, args) in rendering_commands(go.to_str().unwrap()) {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--helm", helm.to_str().unwrap(), "--helm-timeout", "1"]);
        let (code, stdout, stderr) = run_in(tmp.path(), &args, &[]);
        let text = format!("{stdout}{stderr}");
        assert!(text.contains("did not finish within 1s and was killed"), "{name}: the timeout is reported:\n{text}");
        match name {
            "check" => assert_eq!(code, 1, "check reports the timeout as a render-error finding:\n{text}"),
            _ => assert_eq!(code, 2, "{name}: a chart that never renders is unusable input:\n{text}"),
        }
        assert_no_orphans(tmp.path(), name);
    }
    // A helm that exits but leaves a background child holding its output open: the child is
    // re-parented away from helm's process tree, and still found and killed.
    let (code, stdout, stderr) = run_in(
        tmp.path(),
        &["check", go.to_str().unwrap(), "--helm", fake_helm(tmp.path(), "helm-bg", HANG_IN_BACKGROUND).to_str().unwrap(), "--helm-timeout", "1"],
        &[],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("did not finish within 1s"), "{stdout}");
    assert_no_orphans(tmp.path(), "background child");
    // A helm that hangs already at `helm version` is unusable, and killed as fast.
    std::fs::write(&helm, format!("#!/bin/bash\nPIDS='{}'\n{HANG}\n", tmp.path().join("pids").display())).unwrap();
    let (code, _, stderr) = run_in(tmp.path(), &["check", go.to_str().unwrap(), "--helm", helm.to_str().unwrap(), "--helm-timeout", "1"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--helm") && stderr.contains("did not finish within 1s"), "{stderr}");
    assert_no_orphans(tmp.path(), "helm version");
}

#[test]
fn crashing_failing_and_garbage_helm_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let go = chart("go-service");
    let segv = fake_helm(tmp.path(), "helm-segv", SEGV);
    let failing = fake_helm(tmp.path(), "helm-error", HELM_ERROR);
    let garbage = fake_helm(tmp.path(), "helm-garbage", GARBAGE);
    for (name, args) in rendering_commands(go.to_str().unwrap()) {
        let with = |helm: &Path| -> (i32, String) {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.extend(["--helm", helm.to_str().unwrap(), "--helm-timeout", "5"]);
            let (code, stdout, stderr) = run_in(tmp.path(), &a, &[]);
            (code, format!("{stdout}{stderr}"))
        };
        let expected_code = if name == "check" { 1 } else { 2 };

        let (code, text) = with(&segv);
        assert!(text.contains("SIGSEGV") && text.contains("crashed"), "{name}: the crash is named:\n{text}");
        assert_eq!(code, expected_code, "{name} with a crashing helm:\n{text}");

        let (code, text) = with(&failing);
        assert!(text.contains("go-service/templates/deployment.yaml") && text.contains("nil pointer"), "{name}: helm's error and template:\n{text}");
        assert_eq!(code, expected_code, "{name} with a failing helm:\n{text}");

        // A "successful" render that is not YAML is never a silent pass.
        let (code, text) = with(&garbage);
        assert!(text.contains("x/templates/a.yaml"), "{name}: the broken document's template is named:\n{text}");
        match name {
            "diff" => assert_ne!(code, 101),
            _ => assert_eq!(code, 1, "{name}: unparsable output is a failure:\n{text}"),
        }
    }
}

#[test]
fn helm_discovery_order_flag_then_env_then_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mk = |sub: &str, who: &str| {
        let dir = tmp.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        fake_helm(&dir, "helm", &format!("echo 'Error: answered by the helm from {who}' >&2; exit 1"))
    };
    let from_flag = mk("flag", "--helm");
    let from_env = mk("env", "HELM_BIN");
    let from_path = mk("path", "PATH");
    let path_dir = from_path.parent().unwrap().to_str().unwrap().to_string();
    let go = chart("go-service");
    let go = go.to_str().unwrap();
    let cases: [(&[&str], Vec<(&str, &str)>, &str); 3] = [
        (&["--helm", from_flag.to_str().unwrap()], vec![("HELM_BIN", from_env.to_str().unwrap()), ("PATH", &path_dir)], "--helm"),
        (&[], vec![("HELM_BIN", from_env.to_str().unwrap()), ("PATH", &path_dir)], "HELM_BIN"),
        (&[], vec![("PATH", &path_dir)], "PATH"),
    ];
    for (flags, env, who) in cases {
        let mut args = vec!["check", go];
        args.extend(flags);
        let (code, stdout, stderr) = run_in(tmp.path(), &args, &env);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stdout.contains(&format!("answered by the helm from {who}")), "expected the helm from {who}:\n{stdout}{stderr}");
    }
    // An explicit helm that does not work is an error, never a silent fallback.
    let (code, _, stderr) = run_in(tmp.path(), &["check", go, "--helm", "/nonexistent/helm"], &[("PATH", &path_dir)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent/helm"), "{stderr}");
    let broken = fake_helm(tmp.path(), "broken-helm", "exit 0");
    std::fs::write(&broken, "#!/bin/bash\necho 'boom' >&2; exit 3\n").unwrap();
    let (code, _, stderr) = run_in(tmp.path(), &["check", go], &[("HELM_BIN", broken.to_str().unwrap()), ("PATH", &path_dir)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("HELM_BIN=") && stderr.contains("boom"), "{stderr}");
}

#[test]
fn no_helm_anywhere_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let go = chart("go-service");
    for (name, args) in rendering_commands(go.to_str().unwrap()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = run_in(tmp.path(), &args, &[("PATH", empty.to_str().unwrap())]);
        assert_eq!(code, 2, "{name}:\n{stdout}{stderr}");
        assert!(stderr.contains("helm was not found"), "{name}:\n{stderr}");
        assert!(stderr.contains("https://helm.sh/docs/intro/install/") && stderr.contains("--helm") && stderr.contains("HELM_BIN"), "{name}: how to get helm:\n{stderr}");
    }
}

/// Every file under `dir` with its content: to prove a failed command wrote nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A small chart directory, with `changes` (file, content) applied; content "" removes the file.
fn small_chart(root: &Path, name: &str, changes: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(name);
    write_files(
        &dir,
        &[
            ("Chart.yaml", "apiVersion: v2\nname: small\nversion: 0.1.0\n"),
            ("values.yaml", "replicaCount: 1\nimage:\n  repository: nginx\n  tag: \"1.27\"\n"),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicaCount | quote }}\n  image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n"),
        ],
    );
    for (file, text) in changes {
        if text.is_empty() {
            std::fs::remove_file(dir.join(file)).unwrap();
        } else {
            write_files(&dir, &[(file, text)]);
        }
    }
    dir
}

/// What each command is given to read the chart: commands with values flags get them.
fn command_args(cmd: &str, chart: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = match cmd {
        "diff" => vec!["diff".into(), chart.into(), chart.into()],
        "test" => vec!["test".into(), chart.into(), "--cases".into(), "2".into(), "-j".into(), "1".into()],
        other => vec![other.into(), chart.into()],
    };
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

const ALL: &[&str] = &["check", "validate", "schema", "audit", "test", "diff"];
const WITH_VALUES_FILES: &[&str] = &["check", "validate", "test", "diff"];
const WITH_SET: &[&str] = &["check", "validate", "diff"];
const WITH_CONFIG: &[&str] = &["check", "test", "diff"];
const WITH_CONTRACT: &[&str] = &["check", "validate", "schema", "test", "diff"];

#[test]
fn bad_input_is_exit_2_with_file_and_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let helm = fake_helm(root, "helm", NOT_CALLED);
    let helm_env = [("HELM_BIN", helm.to_str().unwrap())];
    std::fs::create_dir_all(root.join("not-a-chart")).unwrap();
    write_files(root, &[("bad-values.yaml", "x:\n  y: 1\n   z: 2\n"), ("good-values.yaml", "replicaCount: 2\n")]);
    small_chart(root, "bad-chart-yaml", &[("Chart.yaml", "apiVersion: v2\nname: [small\nversion: 0.1.0\n")]);
    small_chart(root, "bad-values-yaml", &[("values.yaml", "replicaCount: 1\nimage: {repository: nginx\ntag: 1\n")]);
    small_chart(root, "bad-config", &[(".chartproof.yaml", "rules:\n  probes: off\nminimumQos: [Burstable\n")]);
    small_chart(root, "schema-not-json", &[("values.schema.json", "{\n  \"type\": \"object\",\n  \"properties\": {\n}\n")]);
    small_chart(root, "schema-not-a-schema", &[("values.schema.json", "{\"type\": \"object\", \"properties\": {\"replicaCount\": {\"minimum\": \"one\"}}}\n")]);
    small_chart(root, "good", &[]);

    // (case, commands, chart, extra args, what the message must contain)
    let cases: Vec<(&str, &[&str], &str, Vec<&str>, Vec<&str>)> = vec![
        ("missing chart", ALL, "no-such-chart", vec![], vec!["no-such-chart", "not found"]),
        ("directory without Chart.yaml", ALL, "not-a-chart", vec![], vec!["not-a-chart", "Chart.yaml"]),
        ("invalid Chart.yaml", ALL, "bad-chart-yaml", vec![], vec!["bad-chart-yaml/Chart.yaml:2:"]),
        ("invalid values.yaml", ALL, "bad-values-yaml", vec![], vec!["bad-values-yaml/values.yaml:"]),
        ("invalid -f file", WITH_VALUES_FILES, "good", vec!["-f", "bad-values.yaml"], vec!["bad-values.yaml:3:"]),
        ("missing -f file", WITH_VALUES_FILES, "good", vec!["-f", "no-such-values.yaml"], vec!["no-such-values.yaml"]),
        ("malformed --set", WITH_SET, "good", vec!["-f", "good-values.yaml", "--set", "image.tag[=1"], vec!["--set", "image.tag[=1"]),
        ("--set without a key", WITH_SET, "good", vec!["--set", "=1"], vec!["--set", "=1"]),
        ("invalid .chartproof.yaml", WITH_CONFIG, "bad-config", vec![], vec!["bad-config/.chartproof.yaml:3"]),
        ("values.schema.json not JSON", WITH_CONTRACT, "schema-not-json", vec![], vec!["schema-not-json/values.schema.json:"]),
        ("values.schema.json not a JSON Schema", WITH_CONTRACT, "schema-not-a-schema", vec![], vec!["schema-not-a-schema/values.schema.json", "minimum"]),
    ];
    for (case, commands, chart, extra, needles) in &cases {
        for cmd in *commands {
            let before = snapshot(root);
            let args = command_args(cmd, chart, extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, stdout, stderr) = run_in(root, &args, &helm_env);
            assert_eq!(code, 2, "{cmd} with {case}: exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}");
            for n in needles {
                assert!(stderr.contains(n), "{cmd} with {case}: the message names {n:?}:\n{stderr}");
            }
            assert!(stderr.starts_with("error: "), "{cmd} with {case}: one clear error line first:\n{stderr}");
            assert!(snapshot(root) == before, "{cmd} with {case}: nothing may be written");
        }
    }
    // The same flags on a good chart get past input checking (here to the fake helm, or done).
    let (code, _, stderr) = run_in(root, &["validate", "good", "-f", "good-values.yaml", "--set", "replicaCount=3"], &helm_env);
    assert_eq!(code, 0, "{stderr}");
}

const HAND_WRITTEN_SCHEMA: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicaCount": {
      "type": "integer",
      "description": "hand-written: never more than seven replicas",
      "maximum": 7
    }
  }
}
"#;

#[test]
fn schema_write_keeps_hand_written_constraints_and_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = small_chart(tmp.path(), "c", &[("values.schema.json", HAND_WRITTEN_SCHEMA)]);
    let schema = dir.join("values.schema.json");
    set_mode(&schema, 0o640);
    let (code, _, stderr) = run_in(tmp.path(), &["schema", "c", "--write"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&schema).unwrap()).unwrap();
    let rc = &written["properties"]["replicaCount"];
    assert_eq!(rc["maximum"], 7, "hand-written constraint kept: {written:#}");
    assert_eq!(rc["description"], "hand-written: never more than seven replicas");
    assert!(written["properties"]["image"].is_object(), "inferred keys added: {written:#}");
    assert_eq!(mode(&schema), 0o640, "permissions kept");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 4, "no temporary file left behind: {names:?}");
    // Running it again changes nothing.
    let text = std::fs::read_to_string(&schema).unwrap();
    let (code, _, stderr) = run_in(tmp.path(), &["schema", "c", "--write"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("up to date"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&schema).unwrap(), text);
}

#[test]
fn failed_schema_write_leaves_the_old_file_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let values: String = (0..60).map(|i| format!("key{i}: value number {i}\n")).collect();
    let old = "{\"type\": \"object\"}\n";
    let dir = small_chart(tmp.path(), "c", &[("values.yaml", &values), ("values.schema.json", old)]);
    // A 1 KiB file size limit makes writing the (larger) new schema fail with EFBIG, even as root.
    let bin = assert_cmd::cargo::cargo_bin("chartproof");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f 1; exec '{}' schema c --write", bin.display()))
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: ") && stderr.contains(&dir.file_name().unwrap().to_string_lossy().to_string()), "names where: {stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("values.schema.json")).unwrap(), old, "old file intact");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names.len(), 4, "no temporary file left behind: {names:?}");
}

#[test]
fn every_help_shows_examples_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, root_help, _) = run_in(tmp.path(), &["--help"], &[]);
    assert_eq!(code, 0);
    assert!(root_help.contains("Exit codes"), "top-level help documents exit codes:\n{root_help}");
    for cmd in ["check", "validate", "schema", "test", "diff", "audit", "rules", "completions"] {
        assert!(root_help.contains(cmd), "{cmd} listed in --help");
        let (code, help, stderr) = run_in(tmp.path(), &[cmd, "--help"], &[]);
        assert_eq!(code, 0, "{stderr}");
        assert!(help.contains("Examples:") && help.contains(&format!("chartproof {cmd}")), "{cmd} --help shows an example:\n{help}");
        assert!(help.contains("Exit codes:") || help.contains("Exit status:"), "{cmd} --help documents exit codes:\n{help}");
    }
}

/// Run `chartproof ARGS…` on a pseudo-terminal (util-linux `script`); None when `script` is missing.
fn on_tty(args: &str, no_color: bool) -> Option<String> {
    let bin = assert_cmd::cargo::cargo_bin("chartproof");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("'{}' {args}", bin.display()), "/dev/null"]).env("TERM", "xterm-256color");
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn no_color_when_piped_or_no_color_set() {
    let defects = chart("fixtures/latent-defects");
    let defects = defects.to_str().unwrap();
    for helm in helms() {
        // Piped stdout, NO_COLOR unset: plain text.
        for args in [vec!["check", defects], vec!["diff", defects, chart("go-service").to_str().unwrap()], vec!["validate", defects, "--set", "replicaCount=x"]] {
            let out = assert_cmd::Command::cargo_bin("chartproof").unwrap().env("HELM_BIN", &helm).env_remove("NO_COLOR").args(&args).output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(!text.is_empty() && !text.contains('\x1b'), "{args:?}: no ANSI escapes when stdout is not a TTY:\n{text}");
        }
        // On a terminal: colors by default, none with NO_COLOR.
        let helm_flag = format!("check '{defects}' --helm '{}'", helm.display());
        let Some(colored) = on_tty(&helm_flag, false) else {
            eprintln!("`script` is not installed: the terminal half of this test was skipped");
            return;
        };
        assert!(colored.contains('\x1b'), "colors on a terminal:\n{colored}");
        let plain = on_tty(&helm_flag, true).unwrap();
        assert!(plain.contains("error") && !plain.contains('\x1b'), "NO_COLOR on a terminal:\n{plain}");
        let help = on_tty("check --help", true).unwrap();
        assert!(help.contains("Usage") && !help.contains('\x1b'), "NO_COLOR in --help:\n{help}");
    }
}

#[test]
fn closed_stdout_is_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let go = copy_chart(&chart("go-service"));
    let go = go.path().to_str().unwrap().to_string();
    let helm = &helms()[0];
    let bin = assert_cmd::cargo::cargo_bin("chartproof");
    for args in [
        format!("check {go}"),
        format!("validate {go}"),
        format!("schema {go}"),
        format!("audit {go}"),
        format!("diff {go} {go}"),
        "rules".to_string(),
        "completions bash".to_string(),
    ] {
        // `| true` closes the pipe before chartproof writes (the sleep makes sure of it).
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; (sleep 0.2; exec '{}' {args}) | true", bin.display()))
            .current_dir(tmp.path())
            .env("HELM_BIN", helm)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args} | true:\n{stderr}");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{args} | true exits with its verdict: {:?}\n{stderr}", out.status);
    }
}

#[test]
fn cases_folder_keeps_hand_written_files_and_rejects_a_bad_case() {
    for helm in helms() {
        let tmp = copy_chart(&chart("fixtures/latent-defects"));
        let dir = tmp.path();
        let cases = dir.join("cases");
        write_files(dir, &[("cases/README.md", "hand-written notes about these cases\n"), ("cases/broken.yaml", "version: 1\nchart: latent-defects\nseed: [oops\n")]);
        let env = [("HELM_BIN", helm.to_str().unwrap())];
        let args = ["test", ".", "--cases", "20", "--seed", "11", "-j", "2"];

        let before = snapshot(dir);
        let (code, _, stderr) = run_in(dir, &args, &env);
        assert_eq!(code, 2, "{}: a broken case file is unusable input:\n{stderr}", helm.display());
        assert!(stderr.contains("cases/broken.yaml:3:"), "names file and line:\n{stderr}");
        assert!(snapshot(dir) == before, "nothing written after a bad case file");

        std::fs::remove_file(cases.join("broken.yaml")).unwrap();
        let (code, stdout, stderr) = run_in(dir, &args, &env);
        assert_eq!(code, 1, "latent defects are found:\n{stdout}{stderr}");
        let saved = snapshot(&cases);
        assert!(saved.len() > 1, "failures saved as cases: {saved:?}");
        assert_eq!(std::fs::read_to_string(cases.join("README.md")).unwrap(), "hand-written notes about these cases\n");
        // A second run replays the saved cases and rewrites none of them.
        let (code, stdout, stderr) = run_in(dir, &args, &env);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(snapshot(&cases) == saved, "saved cases are never rewritten");
    }
}

/// Issue 19 item 16: counts of 0 and negative counts, an invalid-YAML --config, a helm that
/// fails silently, missing dependencies: each refused with its reason; --help lists exit code 3.
#[test]
fn bad_flags_and_broken_setups_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let chart = small_chart(root, "c", &[]);
    let chart_arg = chart.to_str().unwrap();
    for (args, needle) in [
        (vec!["test", chart_arg, "--cases", "0"], "0 would do nothing"),
        (vec!["test", chart_arg, "--cases", "-1"], "-1 is negative"),
        (vec!["test", chart_arg, "--jobs", "0"], "0 would do nothing"),
        (vec!["check", chart_arg, "--helm-timeout", "0"], "0 seconds would kill every render"),
        (vec!["schema", chart_arg, "--check", "-j", "0"], "0 would do nothing"),
    ] {
        let (code, _, stderr) = run_in(root, &args, &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(needle) && !stderr.contains("'-- -1'"), "{args:?}: {stderr}");
    }
    write_files(root, &[("bad-config.yaml", "this is: [not yaml\n  bad: :\n")]);
    for helm in common::helms() {
        let helm_env = [("HELM_BIN", helm.to_str().unwrap())];
        let (code, _, stderr) = run_in(root, &["check", chart_arg, "--config", "bad-config.yaml"], &helm_env);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("bad-config.yaml:1:") && stderr.contains("not valid YAML") && !stderr.contains("unknown field"), "{stderr}");
        let missing = small_chart(root, &format!("needs-deps-{}", helm.parent().unwrap().file_name().unwrap().to_string_lossy()), &[("Chart.yaml", "apiVersion: v2\nname: needs-deps\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://example.com\n")]);
        let (code, _, stderr) = run_in(root, &["test", missing.to_str().unwrap(), "--cases", "2"], &helm_env);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("missing from charts/ (redis)") && stderr.contains("helm dependency build") && !stderr.contains("base values"), "{stderr}");
    }
    let (code, _, stderr) = run_in(root, &["check", chart_arg], &[("HELM_BIN", "/bin/false")]);
    assert_eq!(code, 2);
    assert!(stderr.contains("exited with status 1 and printed nothing"), "{stderr}");
    let (_, help, _) = run_in(root, &["--help"], &[]);
    assert!(help.contains("\n  3  "), "{help}");
}

/// Issue 19 item 8: a multi-line `fail` message is kept whole, and a warning helm prints before
/// the error (Helm 3 `WARNING:`, Helm 4 `level=WARN`, here for a deprecated chart) does not cost
/// the finding its template, so it is shrunk.
#[test]
fn multi_line_fail_behind_a_warning_keeps_message_and_template() {
    let chart = common::chart("fixtures/render-error-multiline");
    for helm in common::helms() {
        let out = common::chartproof(&helm).args(["test", "--cases", "5", "--no-save"]).arg(&chart).assert().code(1);
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(stdout.contains("VALUES VALIDATION:") && stdout.contains("mode: only `a` is supported") && stdout.contains("(see README)"), "{stdout}");
        assert!(stdout.contains("template: render-error-multiline/templates/validate.yaml"), "{stdout}");
        assert!(stdout.contains("minimal override:\n    mode: \"\""), "{stdout}");
    }
}

/// A chart whose template loops over a count from values (as alertmanager's StatefulSet lists a
/// peer per replica): a huge count makes helm allocate without bound.
const RUNAWAY_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: peers\ndata:\n  peers: \"{{ range until (int .Values.replicas) }}p{{ end }}\"\n";

#[test]
fn a_runaway_render_stops_at_the_memory_limit_not_the_machines() {
    let tmp = tempfile::tempdir().unwrap();
    write_files(
        tmp.path(),
        &[("runaway/Chart.yaml", "apiVersion: v2\nname: runaway\nversion: 0.1.0\n"), ("runaway/values.yaml", "replicas: 3\n"), ("runaway/templates/cm.yaml", RUNAWAY_TEMPLATE)],
    );
    for helm in helms() {
        let helm = helm.to_str().unwrap();
        // At the defaults the limit changes nothing.
        let (code, stdout, stderr) = run_in(tmp.path(), &["check", "runaway", "--helm", helm, "--helm-memory", "2G", "-o", "json"], &[]);
        assert!(!format!("{stdout}{stderr}").contains("out of memory"), "{helm}: {stdout}{stderr}");
        assert_ne!(code, 2, "{helm}: {stderr}");
        // Two billion iterations: without the limit helm grows until the kernel kills it.
        let (code, stdout, stderr) =
            run_in(tmp.path(), &["check", "runaway", "--helm", helm, "--helm-memory", "2G", "--set", "replicas=2147483647", "--helm-timeout", "100"], &[]);
        assert_eq!(code, 1, "{helm}: a render-error finding:\n{stdout}{stderr}");
        assert!(stdout.contains("render-error") && stdout.contains("helm ran out of memory") && stdout.contains("2 GiB") && stdout.contains("--helm-memory"), "{helm}:\n{stdout}");
        assert!(!stdout.contains("goroutine"), "{helm}: Go's stack dump is not the message:\n{stdout}");
    }
    // Sizes are read with units; a limit helm cannot start under is refused up front.
    let (code, _, stderr) = run_in(tmp.path(), &["check", "runaway", "--helm-memory", "512M"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--helm-memory") && stderr.contains("less than 2G"), "{stderr}");
    let (code, _, stderr) = run_in(tmp.path(), &["check", "runaway", "--helm-memory", "4T"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a size like 4G"), "{stderr}");
}
