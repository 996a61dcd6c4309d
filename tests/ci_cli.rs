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

/// The SARIF 2.1.0 schema (final, rtm.5; shipped by the npm package @microsoft/jest-sarif, MIT).
fn sarif_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(common::repo().join("tests/data/sarif-2.1.0-rtm.5.json")).unwrap();
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
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let root = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("originalUriBaseIds.%SRCROOT%");
    assert!(root.starts_with("file:///") && root.ends_with('/'), "{root}");
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty(), "a report with results: {sarif:#}");
    for r in results {
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
