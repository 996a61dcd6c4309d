//! chartproof in CI: SARIF from `check`, `test` and `audit` valid against the SARIF 2.1.0 JSON
//! Schema and GitHub code scanning's upload requirements, `-o github` annotations, progress on a
//! non-terminal stderr, baselines and exclusions — on `helm create`'s chart, as a new user would.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `helm create NAME` in a fresh directory: (directory, chart path).
fn helm_create(helm: &Path, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(helm).arg("create").arg(name).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "helm create: {}", String::from_utf8_lossy(&out.stderr));
    let chart = dir.path().join(name);
    (dir, chart)
}

/// The SARIF 2.1.0 schema (final, rtm.5; shipped by the npm package @microsoft/jest-sarif, MIT; provisioned by scripts/ensure-sarif-schema).
fn sarif_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(common::sarif_schema_path()).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("the SARIF schema compiles")
}

/// Run chartproof in `cwd` and parse stdout as JSON: (exit code, JSON, stderr).
fn run_json(helm: &Path, cwd: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = common::chartproof(helm).current_dir(cwd).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: stdout {} stderr {stderr}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json, stderr)
}

/// What GitHub code scanning requires of an upload beyond the schema: rules for every rule id,
/// a physical location with a region on every result, fingerprints, URIs relative to
/// `%SRCROOT%` that name existing files.
fn assert_uploadable(sarif: &Value, cwd: &Path) {
    assert!(!sarif_schema().is_valid(&serde_json::json!({"version": "2.1.0", "runs": [{"tool": {}, "results": [{}]}]})), "the schema rejects a result with no message");
    let errors: Vec<String> = sarif_schema().iter_errors(sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0: {errors:#?}");
    let mut results_seen = 0;
    for run in sarif["runs"].as_array().unwrap() {
        let rules: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        let root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("originalUriBaseIds.%SRCROOT%");
        assert!(root.starts_with("file:///") && root.ends_with('/'), "{root}");
        for r in run["results"].as_array().unwrap() {
            results_seen += 1;
            let id = r["ruleId"].as_str().unwrap();
            assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], id, "ruleIndex points at the rule");
            let physical = &r["locations"][0]["physicalLocation"];
            assert!(physical["region"]["startLine"].as_u64().unwrap() >= 1, "{r:#}");
            assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%", "{r:#}");
            let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
            assert!(cwd.join(uri).is_file(), "{uri} is a file under the source root");
            assert_eq!(r["partialFingerprints"]["chartproofFindingKey/v1"].as_str().unwrap().len(), 32, "{r:#}");
        }
    }
    assert!(results_seen > 0, "a report with results: {sarif:#}");
}

#[test]
fn sarif_of_check_test_and_audit_is_valid_and_uploadable() {
    let helm = &common::helms()[0];
    let (dir, chart) = helm_create(helm, "web");
    // Release-wide (networkpolicy-default-deny) and field findings at the defaults.
    let (code, sarif, _) = run_json(helm, dir.path(), &["check", "web", "-o", "sarif"]);
    assert_eq!(code, 1);
    assert_uploadable(&sarif, dir.path());
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let at = |rule: &str| {
        let r = results.iter().find(|r| r["ruleId"] == rule).unwrap_or_else(|| panic!("{rule} in {sarif:#}"));
        let p = &r["locations"][0]["physicalLocation"];
        (p["artifactLocation"]["uri"].as_str().unwrap().to_string(), p["region"]["startLine"].as_u64().unwrap())
    };
    assert_eq!(at("networkpolicy-default-deny"), ("web/Chart.yaml".to_string(), 1), "a release-wide finding is located at Chart.yaml");
    let (file, line) = at("resources-limits");
    let text = std::fs::read_to_string(dir.path().join(&file)).unwrap();
    assert!(text.lines().nth(line as usize - 1).unwrap().contains("resources"), "resources-limits at the template line that writes resources: {file}:{line}");

    // A template that does not render: render-error located in its template.
    let deployment = chart.join("templates/deployment.yaml");
    let original = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(&deployment, format!("{original}\n{{{{ fail \"on purpose\" }}}}\n")).unwrap();
    let (code, sarif, _) = run_json(helm, dir.path(), &["check", "web", "-o", "sarif"]);
    assert_eq!(code, 1);
    assert_uploadable(&sarif, dir.path());
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "render-error");
    std::fs::write(&deployment, &original).unwrap();

    let (code, sarif, _) = run_json(helm, dir.path(), &["test", "web", "--cases", "8", "--seed", "1", "--no-save", "-o", "sarif"]);
    assert_eq!(code, 1);
    assert_uploadable(&sarif, dir.path());

    std::fs::write(chart.join("values.yaml"), format!("{}\nnobodyReadsThis: 1\n", std::fs::read_to_string(chart.join("values.yaml")).unwrap())).unwrap();
    let (code, sarif, _) = run_json(helm, dir.path(), &["audit", "web", "-o", "sarif"]);
    assert_eq!(code, 1);
    assert_uploadable(&sarif, dir.path());
    let unused = sarif["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["properties"]["name"] == "nobodyReadsThis").expect("the unused key");
    assert_eq!(unused["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "web/values.yaml");
}

#[test]
fn github_annotations_carry_file_line_and_title_as_properties() {
    let helm = &common::helms()[0];
    let (dir, _chart) = helm_create(helm, "web");
    let out = common::chartproof(helm).current_dir(dir.path()).args(["check", "web", "-o", "github"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines.is_empty());
    let pattern = regex::Regex::new(r"^::(error|warning|notice) file=[^,:]+,line=[1-9][0-9]*,title=[^:]+::.+$").unwrap();
    for line in &lines {
        assert!(pattern.is_match(line), "{line}");
    }
    assert!(lines.iter().any(|l| l.starts_with("::error file=web/Chart.yaml,line=1,title=networkpolicy-default-deny")), "{text}");
}

#[test]
fn long_test_runs_print_progress_lines_to_a_non_terminal_stderr() {
    let helm = &common::helms()[0];
    let (dir, _chart) = helm_create(helm, "web");
    let out = common::chartproof(helm)
        .current_dir(dir.path())
        .env("CHARTPROOF_PROGRESS_SECONDS", "0")
        .args(["test", "web", "--cases", "6", "--seed", "1", "--no-save", "-j", "1", "-o", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr.lines().filter(|l| l.starts_with("chartproof test: ")).collect();
    assert!(progress.len() >= 2, "a plain line per update: {stderr}");
    assert!(progress.iter().all(|l| l.contains(" of 6 cases done") && l.contains(" failing")), "{stderr}");
    assert!(!stderr.contains('\r') && !stderr.contains('\x1b'), "no terminal control in a log: {stderr:?}");
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout is still only the report");
}

/// Run chartproof in `cwd`: (exit code, stdout, stderr).
fn run(helm: &Path, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = common::chartproof(helm).current_dir(cwd).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

/// A ConfigMap holding a password: a defect `helm create`'s chart does not have.
const NEW_DEFECT: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  DB_PASSWORD: hunter2hunter2\n";

#[test]
fn a_baseline_passes_helm_creates_chart_and_fails_only_on_a_new_defect() {
    for helm in &common::helms() {
        let (dir, chart) = helm_create(helm, "web");
        let cwd = dir.path();
        let (code, report, _) = run_json(helm, cwd, &["check", "web", "-o", "json"]);
        assert_eq!(code, 1, "helm create's chart has findings at its defaults: {report:#}");
        let at_start = report["findings"].as_array().unwrap().len();

        // check: write, then pass; the key survives another release name.
        let (code, _, stderr) = run(helm, cwd, &["check", "web", "--write-baseline", "baseline.json"]);
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, stderr) = run(helm, cwd, &["check", "web", "--baseline", "baseline.json", "--release-name", "prod"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stderr.contains(&format!("0 new, {at_start} known")), "{stderr}");
        assert!(stdout.contains("known: in baseline baseline.json"), "known findings are shown as known: {stdout}");

        // test --seed 1: write, then pass.
        let test_args = ["test", "web", "--seed", "1", "--cases", "12", "--no-save", "-j", "2"];
        let (code, _, stderr) = run(helm, cwd, &[&test_args[..], &["--write-baseline", "baseline.json"]].concat());
        assert_eq!(code, 0, "{stderr}");
        let (code, stdout, stderr) = run(helm, cwd, &[&test_args[..], &["--baseline", "baseline.json"]].concat());
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("result: no failures") && stdout.contains("in the baseline, not counted"), "{stdout}");
        let baseline: Value = serde_json::from_str(&std::fs::read_to_string(cwd.join("baseline.json")).unwrap()).unwrap();
        let commands: std::collections::BTreeSet<&str> = baseline["findings"].as_array().unwrap().iter().map(|e| e["command"].as_str().unwrap()).collect();
        assert_eq!(commands, ["check", "test"].into(), "one file holds both commands' findings");

        // A new defect fails both, naming only it.
        std::fs::write(chart.join("templates/settings.yaml"), NEW_DEFECT).unwrap();
        let (code, report, stderr) = run_json(helm, cwd, &["check", "web", "--baseline", "baseline.json", "-o", "json"]);
        assert_eq!(code, 1, "{stderr}");
        let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
        assert_eq!(rules, ["secret-in-configmap"], "{report:#}");
        let (code, report, stderr) = run_json(helm, cwd, &[&test_args[..], &["--baseline", "baseline.json", "-o", "json"]].concat());
        assert_eq!(code, 1, "{stderr}");
        let rules: Vec<&str> = report["failures"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
        assert_eq!(rules, ["secret-in-configmap"], "{report:#}");

        // A fixed finding is listed as no longer occurring.
        std::fs::remove_file(chart.join("templates/settings.yaml")).unwrap();
        let values = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
        let distinct_probes = values.replacen("readinessProbe:\n  httpGet:\n    path: /\n", "readinessProbe:\n  httpGet:\n    path: /ready\n", 1);
        assert_ne!(values, distinct_probes);
        std::fs::write(chart.join("values.yaml"), distinct_probes).unwrap();
        let (code, _, stderr) = run(helm, cwd, &["check", "web", "--baseline", "baseline.json"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stderr.contains("1 finding(s) no longer occur") && stderr.contains("probe-distinct Deployment/{release}-web"), "{stderr}");
    }
}

#[test]
fn exclusions_by_rule_kind_name_template_and_path_show_their_reason() {
    let helm = &common::helms()[0];
    let (dir, chart) = helm_create(helm, "web");
    std::fs::write(
        chart.join(".chartproof.yaml"),
        "exclusions:\n  - rule: resources-limits\n    kind: Deployment\n    name: '*-web'\n    template: templates/deployment.yaml\n    path: 'spec.template.spec.containers[*].resources*'\n    reason: sized by the platform's LimitRange\n",
    )
    .unwrap();
    let (_, report, _) = run_json(helm, dir.path(), &["check", "web", "-o", "json"]);
    let rules: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(!rules.contains(&"resources-limits"), "{report:#}");
    let excluded = report["suppressed"].as_array().unwrap().iter().find(|s| s["rule"] == "resources-limits").expect("listed as suppressed");
    assert_eq!(excluded["reason"], "excluded by config: sized by the platform's LimitRange");
    let (_, sarif, _) = run_json(helm, dir.path(), &["check", "web", "-o", "sarif"]);
    assert_uploadable(&sarif, dir.path());
    let suppressed = sarif["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "resources-limits").unwrap();
    assert_eq!(suppressed["suppressions"][0]["justification"], "excluded by config: sized by the platform's LimitRange");
    // An exclusion for another kind excludes nothing.
    std::fs::write(chart.join(".chartproof.yaml"), "exclusions:\n  - {rule: resources-limits, kind: StatefulSet, reason: x}\n").unwrap();
    let (_, report, _) = run_json(helm, dir.path(), &["check", "web", "-o", "json"]);
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "resources-limits"));
}

#[test]
fn audit_allow_list_and_baseline() {
    let helm = &common::helms()[0];
    let (dir, chart) = helm_create(helm, "web");
    let values = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
    std::fs::write(chart.join("values.yaml"), format!("{values}\nci:\n  lintTimeout: 5m\nleftover: 1\n")).unwrap();
    let (code, report, _) = run_json(helm, dir.path(), &["audit", "web", "-o", "json"]);
    assert_eq!(code, 1);
    let unused: Vec<&str> = report["unused"].as_array().unwrap().iter().map(|u| u["key"].as_str().unwrap()).collect();
    assert_eq!(unused, ["ci", "leftover"]);

    std::fs::write(chart.join(".chartproof.yaml"), "auditAllow:\n  - {key: 'ci.*', reason: read by the CI pipeline}\n").unwrap();
    let (code, stdout, _) = run(helm, dir.path(), &["audit", "web"]);
    assert_eq!(code, 1, "leftover is still unused: {stdout}");
    assert!(stdout.contains("ci (unused) — read by the CI pipeline"), "{stdout}");
    assert!(stdout.contains("unused keys (1)"), "{stdout}");

    let (code, _, stderr) = run(helm, dir.path(), &["audit", "web", "--write-baseline", "baseline.json"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(chart.join("values.yaml"), format!("{values}\nci:\n  lintTimeout: 5m\nleftover: 1\nanotherLeftover: 2\n")).unwrap();
    let (code, report, _) = run_json(helm, dir.path(), &["audit", "web", "--baseline", "baseline.json", "-o", "json"]);
    assert_eq!(code, 1);
    let unused: Vec<&str> = report["unused"].as_array().unwrap().iter().map(|u| u["key"].as_str().unwrap()).collect();
    assert_eq!(unused, ["anotherLeftover"]);
}

#[test]
fn test_takes_base_values_from_set_and_set_string_and_replays_with_them() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/needs-base-values");
    let cwd = common::repo();
    let chart_arg = chart.to_str().unwrap();
    for flag in ["--set", "--set-string"] {
        // Enough cases for every one-key change: removing `storage` is one.
        let (code, report, stderr) = run_json(helm, &cwd, &["test", chart_arg, flag, "storage.bucket=logs", "--cases", "40", "--no-save", "-o", "json"]);
        assert_eq!(report["cases_run"], 40, "the chart renders with the base value from {flag}: {stderr}");
        assert_eq!(code, 1, "removing storage breaks helm's {flag} over it: {stderr}");
        let replay = report["failures"][0]["replay"].as_str().unwrap();
        assert!(replay.contains(&format!("{flag} storage.bucket=logs")), "{replay}");
    }
    let (code, _, stderr) = run(helm, &cwd, &["test", chart_arg, "--set", "storage.bucket", "--cases", "2"]);
    assert_eq!(code, 2, "a malformed --set is unusable input: {stderr}");
}

#[test]
fn check_with_values_the_schema_rejects_prints_validates_located_errors() {
    let helm = &common::helms()[0];
    let (dir, chart) = helm_create(helm, "web");
    std::fs::write(chart.join("values.schema.json"), r#"{"type": "object", "properties": {"replicaCount": {"type": "integer"}}}"#).unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "service:\n  port: 80\nreplicaCount: many\n").unwrap();
    let (code, stdout, stderr) = run(helm, dir.path(), &["check", "web", "-f", "bad.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("bad.yaml:3:") && stdout.contains("replicaCount: expected integer, got string \"many\""), "{stdout}");
    assert!(!stdout.contains("jsonschema") && !stdout.contains("at '/replicaCount'"), "not helm's raw schema text: {stdout}");
}

#[test]
fn schema_check_compares_the_contract_not_the_bytes() {
    let helm = &common::helms()[0];
    let (dir, chart) = helm_create(helm, "web");
    let (code, _, stderr) = run(helm, dir.path(), &["schema", "web", "--write"]);
    assert_eq!(code, 0, "{stderr}");
    let file = chart.join("values.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut four_spaces = Vec::new();
    let mut writer = serde_json::Serializer::with_formatter(&mut four_spaces, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    serde::Serialize::serialize(&schema, &mut writer).unwrap();
    std::fs::write(&file, &four_spaces).unwrap();
    let (code, stdout, stderr) = run(helm, dir.path(), &["schema", "web", "--check"]);
    assert_eq!(code, 0, "another indentation is the same contract: {stdout}{stderr}");
    assert!(stderr.contains("up to date"), "{stderr}");
    // A real change of the contract is still stale.
    let values = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
    std::fs::write(chart.join("values.yaml"), format!("{values}\nnewKey: 1\n")).unwrap();
    let (code, stdout, _) = run(helm, dir.path(), &["schema", "web", "--check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("newKey"), "{stdout}");
}

/// A repository of two charts; `app` has chart-testing scenarios, one of which leaks a password.
fn fleet_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  LOG_LEVEL: info\n{{- if .Values.leak }}\n  DB_PASSWORD: hunter2hunter2\n{{- end }}\n";
    common::write_files(
        dir.path(),
        &[
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.1.0\n"),
            ("charts/app/values.yaml", "leak: false\n"),
            ("charts/app/templates/config.yaml", config),
            ("charts/app/ci/leak-values.yaml", "leak: true\n"),
            ("charts/app/ci/safe-values.yaml", "leak: false\n"),
            ("charts/other/Chart.yaml", "apiVersion: v2\nname: other\nversion: 0.1.0\n"),
            ("charts/other/values.yaml", "leak: false\n"),
            ("charts/other/templates/config.yaml", config),
        ],
    );
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(["-c", "user.name=t", "-c", "user.email=t@example.com"]).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "charts"]);
    dir
}

#[test]
fn scenarios_run_each_ci_values_file_on_its_own_and_fail_if_any_fails() {
    let helm = &common::helms()[0];
    let repo = fleet_repo();
    let (code, stdout, stderr) = run(helm, repo.path(), &["check", "charts/app", "--scenarios"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("FAILED charts/app [ci/leak-values.yaml]: 1 error(s)") && stdout.contains("PASSED charts/app [ci/safe-values.yaml]"), "{stdout}");
    assert!(stderr.contains("checked 2 target(s): 1 failed"), "{stderr}");
    // A glob that picks only the safe scenario passes.
    let (code, _, stderr) = run(helm, repo.path(), &["check", "charts/app", "--scenarios=ci/safe-*.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    // One SARIF log, one run per scenario, each with its own category.
    let (_, sarif, _) = run_json(helm, repo.path(), &["check", "charts", "--scenarios", "-o", "sarif"]);
    assert_uploadable(&sarif, repo.path());
    let ids: Vec<&str> = sarif["runs"].as_array().unwrap().iter().map(|r| r["automationDetails"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "distinct categories: {ids:?}");

    // test: the same scenarios, each its own run.
    let (code, stdout, stderr) = run(helm, repo.path(), &["test", "charts/app", "--scenarios", "--cases", "4", "--no-save"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("== charts/app [ci/leak-values.yaml]") && stdout.contains("== charts/app [ci/safe-values.yaml]"), "{stdout}");
    assert!(stderr.contains("tested 2 target(s): 2 failed"), "generated values flip `leak` in the safe scenario too: {stderr}");
    let (leak, safe) = stdout.split_once("== charts/app [ci/safe-values.yaml]").unwrap();
    assert!(leak.contains("occurs with no override"), "the leak scenario fails at its own values: {leak}");
    assert!(safe.contains("minimal override:") && safe.contains("leak: true"), "the safe one only when a case sets leak: {safe}");
    let (code, sarif, stderr) = run_json(helm, repo.path(), &["test", "charts", "--scenarios", "--cases", "4", "--no-save", "-o", "sarif"]);
    assert_eq!(code, 1, "{stderr}");
    assert_uploadable(&sarif, repo.path());
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn one_baseline_covers_every_chart_and_scenario() {
    let helm = &common::helms()[0];
    let repo = fleet_repo();
    let (code, _, stderr) = run(helm, repo.path(), &["check", "charts", "--scenarios", "--write-baseline", "baseline.json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("wrote 1 check finding(s)"), "the leak scenario's finding: {stderr}");
    let (code, _, stderr) = run(helm, repo.path(), &["check", "charts", "--scenarios", "--baseline", "baseline.json"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(repo.path().join("charts/other/templates/extra.yaml"), NEW_DEFECT).unwrap();
    let (code, stdout, stderr) = run(helm, repo.path(), &["check", "charts", "--scenarios", "--baseline", "baseline.json", "-o", "github"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "only the new finding: {stdout}");
    assert!(stdout.contains("charts/other/templates/extra.yaml") && stderr.contains("FAILED charts/other"), "{stdout}{stderr}");
}

#[test]
fn changed_since_checks_only_the_charts_whose_files_changed() {
    let helm = &common::helms()[0];
    let repo = fleet_repo();
    let (code, _, stderr) = run(helm, repo.path(), &["check", "charts", "--changed-since", "HEAD"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no chart has changed since HEAD: nothing to do"), "{stderr}");
    std::fs::write(repo.path().join("charts/other/values.yaml"), "leak: true\n").unwrap();
    let (code, stdout, stderr) = run(helm, repo.path(), &["check", "charts", "--changed-since", "HEAD"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("secret-in-configmap") && stdout.contains("FAILED charts/other") && !stdout.contains("charts/app"), "only the changed chart: {stdout}");
    let (code, _, stderr) = run(helm, repo.path(), &["check", "charts", "--changed-since", "no-such-ref"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--changed-since no-such-ref"), "{stderr}");
}

#[test]
fn validate_each_gives_every_values_file_its_own_located_verdict_without_helm() {
    let dir = tempfile::tempdir().unwrap();
    common::write_files(
        dir.path(),
        &[
            ("chart/Chart.yaml", "apiVersion: v2\nname: chart\nversion: 0.1.0\n"),
            ("chart/values.yaml", "replicas: 1\nimage:\n  tag: \"1.0\"\n"),
            ("chart/values.schema.json", r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}, "image": {"type": "object", "properties": {"tag": {"type": "string"}}}}}"#),
            ("chart/ci/small-values.yaml", "replicas: 2\n"),
            ("chart/ci/broken-values.yaml", "replicas: 0\n"),
            ("teams/alpha.yaml", "replicas: 3\n"),
            ("teams/beta.yaml", "image:\n  tag: 2\nreplicas: many\n"),
            ("teams/gamma.yaml", "replicas: 5\n"),
        ],
    );
    let mut cmd = assert_cmd::Command::cargo_bin("chartproof").unwrap();
    // No helm anywhere: validate needs none.
    let out = cmd.current_dir(dir.path()).env_remove("HELM_BIN").env("PATH", "/nonexistent").args(["validate", "chart", "--each", "teams/*.yaml"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ok: teams/alpha.yaml") && stdout.contains("ok: teams/gamma.yaml"), "{stdout}");
    assert!(stdout.contains("invalid: teams/beta.yaml: 2 error(s)") && stdout.contains("teams/beta.yaml:2:") && stdout.contains("teams/beta.yaml:3:"), "file:line for each error: {stdout}");
    assert!(stdout.contains("3 file(s): 2 valid, 1 not"), "{stdout}");

    let helm = &common::helms()[0];
    let (code, stdout, _) = run(helm, dir.path(), &["validate", "chart", "--scenarios"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("invalid: chart/ci/broken-values.yaml: 1 error(s)") && stdout.contains("ok: chart/ci/small-values.yaml"), "{stdout}");
    let (code, _, stderr) = run(helm, dir.path(), &["validate", "chart", "--each", "nobody/*.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nobody/*.yaml: matches no file"), "{stderr}");
}

#[test]
fn audit_and_schema_check_take_a_directory_of_charts_and_changed_since() {
    let helm = &common::helms()[0];
    let repo = fleet_repo();
    let (code, _, stderr) = run(helm, repo.path(), &["schema", "charts", "--check"]);
    assert_eq!(code, 1, "no chart has a schema yet: {stderr}");
    assert!(stderr.contains("charts/app/values.schema.json is missing") && stderr.contains("charts/other/values.schema.json is missing"), "{stderr}");
    let (code, _, stderr) = run(helm, repo.path(), &["schema", "charts", "--write"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(helm, repo.path(), &["schema", "charts", "--check"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(helm, repo.path(), &["schema", "charts"]);
    assert_eq!(code, 2, "printing takes one chart: {stderr}");

    std::fs::write(repo.path().join("charts/other/values.yaml"), "leak: false\nunread: 1\n").unwrap();
    let (code, sarif, _) = run_json(helm, repo.path(), &["audit", "charts", "-o", "sarif"]);
    assert_eq!(code, 1);
    assert_uploadable(&sarif, repo.path());
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 2, "a run per chart");
    // Commit everything, then change only `other`: only it is audited.
    for args in [&["add", "."][..], &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "schemas"][..]] {
        assert!(std::process::Command::new("git").args(args).current_dir(repo.path()).status().unwrap().success());
    }
    std::fs::write(repo.path().join("charts/app/values.yaml"), "leak: false\nalsoUnread: 1\n").unwrap();
    let (code, stdout, _) = run(helm, repo.path(), &["audit", "charts", "--changed-since", "HEAD"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("alsoUnread") && !stdout.contains("  unread"), "only the changed chart: {stdout}");
}

#[test]
fn schema_write_keeps_what_set_could_pass_and_strict_types_is_opt_in() {
    // `--set` types `1234` as an integer: helm create's chart took these before it had a schema.
    let sets = ["--set", "image.tag=1234", "--set", "livenessProbe.httpGet.port=8080"];
    for helm in &common::helms() {
        let (dir, chart) = helm_create(helm, "web");
        let cwd = dir.path();
        let (code, _, stderr) = run(helm, cwd, &["check", "web", "--write-baseline", "baseline.json"]);
        assert_eq!(code, 0, "{stderr}");
        let helm_renders = || common::helm_template(helm, &chart, &sets.map(String::from)).status.success();
        assert!(helm_renders(), "helm takes the --set values without a schema");

        let (code, _, stderr) = run(helm, cwd, &["schema", "web", "--write"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(helm_renders(), "helm validates the written schema itself and still takes them");
        let (code, stdout, stderr) = run(helm, cwd, &[&["validate", "web"][..], &sets].concat());
        assert_eq!(code, 0, "{stdout}{stderr}");
        let (code, stdout, stderr) = run(helm, cwd, &["check", "web", "--baseline", "baseline.json", "--set", "image.tag=1234"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let (_, stdout, stderr) = run(helm, cwd, &[&["check", "web", "--baseline", "baseline.json"][..], &sets].concat());
        assert!(!stdout.contains("helm refused the values"), "{stdout}{stderr}");

        // The strict contract, for authors who tell users to use --set-string.
        std::fs::remove_file(chart.join("values.schema.json")).unwrap();
        let (code, _, stderr) = run(helm, cwd, &["schema", "web", "--write", "--strict-types"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!helm_renders(), "helm rejects an integer for a strict string");
        let (code, stdout, _) = run(helm, cwd, &[&["validate", "web"][..], &sets].concat());
        assert_eq!(code, 1, "{stdout}");
        assert!(stdout.contains("--set image.tag=1234: image.tag: expected string, got integer 1234"), "{stdout}");
        assert!(stdout.contains("--set livenessProbe.httpGet.port=8080: livenessProbe.httpGet.port: expected string, got integer 8080"), "{stdout}");
        let (code, stdout, stderr) = run(helm, cwd, &["check", "web", "--set", "image.tag=1234"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stdout.contains("--set image.tag=1234: image.tag: expected string, got integer 1234"), "{stdout}");
        let (code, stdout, stderr) = run(helm, cwd, &["check", "web", "--baseline", "baseline.json", "--set-string", "image.tag=1234"]);
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
}

/// stdout, the exit code and stderr without progress lines.
fn run_fleet(helm: &Path, cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let (code, stdout, stderr) = run(helm, cwd, args);
    let stderr = stderr.lines().filter(|l| !l.starts_with("chartproof test: ")).map(|l| format!("{l}\n")).collect();
    (code, stdout, stderr)
}

#[test]
fn charts_run_in_parallel_with_the_same_result_and_order_as_one_at_a_time() {
    let helm = &common::helms()[0];
    let fleet = tempfile::tempdir().unwrap();
    for (name, fixture) in [("a-findings", "fixtures/true-findings"), ("b-clean", "fixtures/rules-clean"), ("c-latent", "fixtures/latent-defects")] {
        let copy = common::copy_chart(&common::chart(fixture));
        let status = std::process::Command::new("cp").arg("-r").arg(copy.path()).arg(fleet.path().join(name)).status().unwrap();
        assert!(status.success());
    }
    std::fs::write(fleet.path().join("a-findings/values.yaml"), "nobodyReadsThis: 1\n").unwrap();
    let cwd = fleet.path();
    let runs: [&[&str]; 5] = [
        &["check", "."],
        &["check", ".", "-o", "sarif"],
        &["test", ".", "--seed", "3", "--cases", "6", "--no-save"],
        &["audit", "."],
        &["schema", ".", "--check"],
    ];
    for args in runs {
        let sequential = run_fleet(helm, cwd, &[args, &["-j", "1"]].concat());
        let parallel = run_fleet(helm, cwd, &[args, &["-j", "3"]].concat());
        assert_eq!(parallel, sequential, "{args:?}: -j 3 reports what -j 1 does, in the same order");
        assert_ne!(sequential.0, 2, "{args:?}: {}", sequential.2);
    }
    let (_, stdout, stderr) = run_fleet(helm, cwd, &["check", ".", "-j", "3"]);
    let headers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(headers, ["== ./a-findings", "== ./b-clean", "== ./c-latent"], "{stdout}");
    assert!(stderr.contains("checked 3 target(s)"), "one summary at the end: {stderr}");
    let (_, stdout, _) = run_fleet(helm, cwd, &["test", ".", "--seed", "3", "--cases", "6", "--no-save", "-j", "3"]);
    let blocks: Vec<&str> = stdout.split("== ").skip(1).map(|b| b.lines().next().unwrap()).collect();
    assert_eq!(blocks, ["./a-findings", "./b-clean", "./c-latent"], "each chart's report together: {stdout}");
}

/// A folder of two charts: `a-latent` (failures found by varying values) and `b-clean`.
fn two_chart_fleet() -> tempfile::TempDir {
    let fleet = tempfile::tempdir().unwrap();
    for (name, fixture) in [("a-latent", "fixtures/latent-defects"), ("b-clean", "fixtures/rules-clean")] {
        let copy = common::copy_chart(&common::chart(fixture));
        assert!(std::process::Command::new("cp").arg("-r").arg(copy.path()).arg(fleet.path().join(name)).status().unwrap().success());
        let _ = std::fs::remove_dir_all(fleet.path().join(name).join("cases"));
    }
    fleet
}

#[test]
fn test_over_several_charts_takes_a_baseline_and_reports_json_and_junit_per_target() {
    let helm = &common::helms()[0];
    let fleet = two_chart_fleet();
    let cwd = fleet.path();
    let test_args = ["test", ".", "--seed", "1", "--cases", "12", "--no-save", "-j", "2"];
    let (code, stdout, stderr) = run(helm, cwd, &test_args);
    assert_eq!(code, 1, "{stdout}{stderr}");

    // One baseline for both charts: written, then the run passes.
    let (code, _, stderr) = run(helm, cwd, &[&test_args[..], &["--write-baseline", "baseline.json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(helm, cwd, &[&test_args[..], &["--baseline", "baseline.json"]].concat());
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("== ./a-latent") && stdout.contains("in the baseline, not counted"), "{stdout}");

    // A new defect in the other chart fails the run, naming only it, in its own JSON entry.
    std::fs::write(cwd.join("b-clean/templates/settings.yaml"), NEW_DEFECT).unwrap();
    let (code, report, stderr) = run_json(helm, cwd, &[&test_args[..], &["--baseline", "baseline.json", "-o", "json"]].concat());
    assert_eq!(code, 1, "{stderr}");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(common::repo().join("schemas/test-report.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&report), "{report:#}");
    let targets = report["targets"].as_array().unwrap();
    let labels: Vec<&str> = targets.iter().map(|t| t["target"].as_str().unwrap()).collect();
    assert_eq!(labels, ["./a-latent", "./b-clean"]);
    assert_eq!((targets[0]["exit_code"].as_u64(), targets[1]["exit_code"].as_u64()), (Some(0), Some(1)), "{report:#}");
    assert!(targets[0]["known_in_baseline"].as_u64().unwrap() > 0 && targets[0]["report"]["failures"].as_array().unwrap().is_empty());
    let rules: Vec<&str> = targets[1]["report"]["failures"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["secret-in-configmap"], "{report:#}");

    // JUnit: one testsuite per chart.
    let (code, xml, stderr) = run(helm, cwd, &[&test_args[..], &["--baseline", "baseline.json", "-o", "junit"]].concat());
    assert_eq!(code, 1, "{stderr}");
    let suites: Vec<&str> = xml.lines().filter_map(|l| l.trim().strip_prefix("<testsuite name=\"")).map(|l| l.split('"').next().unwrap()).collect();
    assert_eq!(suites, ["chartproof test ./a-latent", "chartproof test ./b-clean"], "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "only the new defect fails: {xml}");

    // An unusable chart has its entry with the error; the run exits 2.
    std::fs::create_dir_all(cwd.join("c-broken")).unwrap();
    std::fs::write(cwd.join("c-broken/Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\n").unwrap();
    std::fs::write(cwd.join("c-broken/values.yaml"), "a: [\n").unwrap();
    let (code, report, _) = run_json(helm, cwd, &[&test_args[..], &["-o", "json"]].concat());
    assert_eq!(code, 2);
    assert!(validator.is_valid(&report), "{report:#}");
    let broken = &report["targets"][2];
    assert_eq!((broken["target"].as_str(), broken["exit_code"].as_u64()), (Some("./c-broken"), Some(2)), "{report:#}");
    assert!(broken["error"].as_str().unwrap().contains("values.yaml"), "{report:#}");
}

#[test]
fn test_replay_over_several_charts_runs_on_the_chart_the_case_is_from() {
    let helm = &common::helms()[0];
    let fleet = two_chart_fleet();
    let cwd = fleet.path();
    let (code, _, stderr) = run(helm, cwd, &["test", ".", "--seed", "1", "--cases", "12", "-j", "2"]);
    assert_eq!(code, 1, "{stderr}");
    let case = std::fs::read_dir(cwd.join("a-latent/cases")).unwrap().next().expect("a saved case").unwrap().file_name().into_string().unwrap();
    for replay in [format!("a-latent/cases/{case}"), case.clone()] {
        let (code, stdout, stderr) = run(helm, cwd, &["test", ".", "--replay", &replay]);
        assert_eq!(code, 1, "--replay {replay}: the case still fails: {stdout}{stderr}");
        assert!(stdout.contains("== ./a-latent") && stdout.contains("saved cases: 1 replayed, 1 still failing"), "{stdout}");
        assert!(!stdout.contains("== ./b-clean") && stderr.contains("./b-clean: skipped"), "{stdout}{stderr}");
    }
    let (code, _, stderr) = run(helm, cwd, &["test", ".", "--replay", "no-such-case.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--replay no-such-case.yaml: not a saved case of any of the 2 charts"), "{stderr}");
}

#[test]
fn audit_over_several_charts_takes_one_baseline() {
    let helm = &common::helms()[0];
    let fleet = two_chart_fleet();
    let cwd = fleet.path();
    let add_key = |chart: &str, line: &str| {
        let values = cwd.join(chart).join("values.yaml");
        let text = std::fs::read_to_string(&values).unwrap().replace("{}\n", "");
        std::fs::write(&values, format!("{text}\n{line}\n")).unwrap();
    };
    add_key("a-latent", "leftover: 1");
    add_key("b-clean", "leftover: 1");
    let (code, stdout, stderr) = run(helm, cwd, &["audit", "."]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let (code, _, stderr) = run(helm, cwd, &["audit", ".", "--write-baseline", "baseline.json"]);
    assert_eq!(code, 0, "{stderr}");
    let baseline = std::fs::read_to_string(cwd.join("baseline.json")).unwrap();
    assert!(baseline.contains("latent-defects/values.yaml") && baseline.contains("rules-clean/values.yaml"), "keys name each chart: {baseline}");
    add_key("b-clean", "anotherLeftover: 2");
    let (code, stdout, stderr) = run(helm, cwd, &["audit", ".", "--baseline", "baseline.json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("1 new, 2 known"), "{stderr}");
    let unused: Vec<&str> = stdout.lines().filter(|l| l.starts_with("  values.yaml:")).collect();
    assert_eq!(unused.len(), 1, "only the new key: {stdout}");
    assert!(unused[0].ends_with("anotherLeftover"), "{stdout}");

    // -o json: one entry per chart, in order, each with its verdict and the new keys only.
    let (code, report, stderr) = run_json(helm, cwd, &["audit", ".", "--baseline", "baseline.json", "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(common::repo().join("schemas/audit-report.schema.json")).unwrap()).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&report), "{report:#}");
    let targets = report["targets"].as_array().unwrap();
    let entries: Vec<(&str, u64, u64)> =
        targets.iter().map(|t| (t["target"].as_str().unwrap(), t["exit_code"].as_u64().unwrap(), t["known_in_baseline"].as_u64().unwrap())).collect();
    assert_eq!(entries, [("./a-latent", 0, 1), ("./b-clean", 1, 1)], "{report:#}");
    let new_keys: Vec<&str> = targets[1]["report"]["unused"].as_array().unwrap().iter().map(|u| u["key"].as_str().unwrap()).collect();
    assert_eq!(new_keys, ["anotherLeftover"], "{report:#}");
    // One chart keeps the one-chart report.
    let (code, one, stderr) = run_json(helm, cwd, &["audit", "b-clean", "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(one.get("targets").is_none() && one["unused"].as_array().unwrap().len() == 2, "{one:#}");
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&one), "{one:#}");
}

#[test]
fn check_over_several_charts_reports_json_and_junit_per_target_in_order() {
    let helm = &common::helms()[0];
    let fleet = two_chart_fleet();
    let cwd = fleet.path();
    std::fs::create_dir(cwd.join("c-broken")).unwrap();
    std::fs::write(cwd.join("c-broken/Chart.yaml"), "apiVersion: v2\nname: [c-broken\n").unwrap();
    std::fs::write(cwd.join("a-latent/templates/settings.yaml"), NEW_DEFECT).unwrap();
    let args = ["check", "a-latent", "c-broken", "b-clean", "-j", "3"];
    let (code, report, stderr) = run_json(helm, cwd, &[&args[..], &["-o", "json"]].concat());
    assert_eq!(code, 2, "one target is unusable: {stderr}");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(common::repo().join("schemas/check-report.schema.json")).unwrap()).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&report), "{report:#}");
    let targets = report["targets"].as_array().unwrap();
    let entries: Vec<(&str, u64)> = targets.iter().map(|t| (t["target"].as_str().unwrap(), t["exit_code"].as_u64().unwrap())).collect();
    assert_eq!(entries, [("a-latent", 1), ("c-broken", 2), ("b-clean", 0)], "argument order, each its verdict: {report:#}");
    assert!(targets[1]["error"].as_str().unwrap().contains("Chart.yaml"), "{report:#}");
    let rules: Vec<&str> = targets[0]["report"]["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"secret-in-configmap"), "{report:#}");
    // The same checks as one chart at a time.
    let (_, alone, _) = run_json(helm, cwd, &["check", "a-latent", "-o", "json"]);
    assert_eq!(targets[0]["report"]["findings"], alone["findings"]);

    let (code, xml, stderr) = run(helm, cwd, &[&args[..], &["-o", "junit"]].concat());
    assert_eq!(code, 2, "{stderr}");
    let suites: Vec<&str> = xml.lines().filter_map(|l| l.trim_start().strip_prefix("<testsuite name=\"")).map(|l| l.split('"').next().unwrap()).collect();
    assert_eq!(suites, ["chartproof check a-latent", "chartproof check c-broken", "chartproof check b-clean"], "{xml}");
    assert!(xml.contains("unusable input"), "{xml}");
}
