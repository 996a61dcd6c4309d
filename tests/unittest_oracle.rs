//! helm-unittest's own test suite as the oracle for `chartproof unittest`: every fixture run of
//! ../shared/oracles/helm-unittest (the runs of its EXPECTED-VERDICTS.md and of its runner Go
//! tests, with their settings: chart, suite glob, values file, `--with-subchart`,
//! `--chart-tests-path`; and the Makefile's docker runs) and the 45 inline jobs and suites of
//! INLINE-CASES.json (written as suite files into a copy of the fixture chart each loads). Per
//! test, chartproof's verdict is compared with helm-unittest's: for a run whose Go test recorded
//! its runner output (cupaloy snapshot), the tests it prints under ` FAIL ` fail, those it prints
//! as `SKIPPED` are skipped and the others pass; in a Makefile run no test fails; an inline case
//! passes or fails as its Go test asserts. Prints the agreement table per helm and fails on any
//! disagreement that is not in [`EXCEPTIONS`] (each written down with its reason, as in README's
//! unittest section).

mod common;

use std::path::{Path, PathBuf};

use common::{chartproof, copy_chart, helms};
use serde_json::Value;

fn oracle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracles/helm-unittest")
}

/// Where a run's expected verdicts come from.
#[derive(Clone, Copy)]
enum Expected {
    /// The Makefile's docker run lists it (no recorded output): no test fails.
    AllPass,
    /// The Go test's recorded output (cupaloy snapshot): the tests it lists under ` FAIL ` fail,
    /// those it lists as `SKIPPED` are skipped, every other test passes.
    Snapshot(&'static str),
}

struct FixtureRun {
    name: &'static str,
    /// The fixture folder under test/data/v3 (copied whole).
    fixture: &'static str,
    /// The chart inside the copy that chartproof runs on.
    chart: &'static str,
    glob: &'static str,
    values: Option<&'static str>,
    /// More `chartproof unittest` flags (helm-unittest's runner settings of the Go test).
    flags: &'static [&'static str],
    expected: Expected,
}

const fn run(name: &'static str, fixture: &'static str, chart: &'static str, glob: &'static str, expected: Expected) -> FixtureRun {
    FixtureRun { name, fixture, chart, glob, values: None, flags: &[], expected }
}

use Expected::{AllPass, Snapshot};

const RUNS: &[FixtureRun] = &[
    run("basic", "basic", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithPassedTests")),
    FixtureRun { name: "basic+values", fixture: "basic", chart: ".", glob: "tests/*_test.yaml", values: Some("test/data/services_values.yaml"), flags: &[], expected: Snapshot("TestV3RunnerOkWithOverrideValuesPassedTests") },
    run("basic-failed", "basic", ".", "tests_failed/*_test.yaml", Snapshot("TestV3RunnerOkWithFailedTests")),
    run("failing-template", "failing-template", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithFailingTemplatePassedTest")),
    run("with-subfolder", "with-subfolder", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithSubSubfolder")),
    // TestV3RunnerWithTestsInSubchartButFlagFalse: WithSubChart false.
    FixtureRun { name: "with-subchart (parent suites)", fixture: "with-subchart", chart: ".", glob: "tests/*_test.yaml", values: None, flags: &["--with-subchart=false"], expected: Snapshot("TestV3RunnerWithTestsInSubchartButFlagFalse") },
    run("global-double-setting", "global-double-setting", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkGlobalDoubleWithPassedTests")),
    run("with-files", "with-files", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithFiles")),
    run("full-snapshot", "full-snapshot", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithFullsnapshot")),
    run("with-document-select", "with-document-select", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithDocumentSelector")),
    run("with-document-select-failed", "with-document-select", ".", "tests_failed/*_test.yaml", Snapshot("TestV3RunnerOkWithDocumentSelectorWithFailedTests")),
    run("with-k8s-fake-client", "with-k8s-fake-client", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithFakeK8sClient")),
    run("with-post-renderer", "with-post-renderer", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithPostRenderer")),
    run("with-schema", "with-schema", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithSchemaValidation")),
    // TestV3RunnerWithTestsInSubchart and TestV3RunnerOkWithSubSubChartsPassedTests: WithSubChart
    // true (helm-unittest's default), the subcharts' suites run through the parent.
    run("with-subchart (with subchart suites)", "with-subchart", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerWithTestsInSubchart")),
    run("with-subsubcharts (with subchart suites)", "with-subsubcharts", ".", "tests/*_test.yaml", Snapshot("TestV3RunnerOkWithSubSubChartsPassedTests")),
    run("with-disabled-subchart-on-tags (parent)", "with-disabled-subchart-on-tags", ".", "tests/*.yaml", AllPass),
    run("with-disabled-subchart-on-condition (parent)", "with-disabled-subchart-on-condition", ".", "tests/*.yaml", AllPass),
    // TestV3RunnerOkWithRenderedTests: ChartTestsPath tests-chart (WithSubChart false, no test files).
    FixtureRun { name: "with-helm-tests (chart-tests-path)", fixture: "with-helm-tests", chart: ".", glob: "tests/*_test.yaml", values: None, flags: &["--chart-tests-path", "tests-chart", "--with-subchart=false"], expected: Snapshot("TestV3RunnerOkWithRenderedTests") },
    run("with-helm-tests", "with-helm-tests", ".", "tests/*.yaml", AllPass),
    run("nested_glob", "nested_glob", ".", "tests/**/*_test.yaml", AllPass),
    run("library-chart (test chart)", "library-chart", "tests/chart", "tests/unit/*_test.yaml", AllPass),
    run("with-crds", "with-crds", ".", "tests/*.yaml", AllPass),
    // The subcharts' folders are not named after their charts: helm-unittest finds no suite there.
    run("with-samenamesubsubcharts (root)", "with-samenamesubsubcharts", ".", "tests/*.yaml", AllPass),
];

/// Known disagreements with helm-unittest: (run, test, reason). Every entry is also listed in
/// README's unittest section. Entries marked `open` are chartproof's to fix, not accepted
/// behaviour: they are listed so that this test fails on any *new* disagreement (a regression)
/// while they are worked on; remove an entry when it agrees.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    ("inline TestJob/TestSuite YAML", "TestV3RunJobWithSchema:", "helm 3 only: the expected message is santhosh-tekuri/jsonschema's wording (the library of helm-unittest's Helm 3.20 and of Helm 4); helm 3.17.3's gojsonschema words the same refusal differently"),
];

/// PATH with a mikefarah-style `yq` first (scripts/ensure-yq): the with-post-renderer suites
/// run `yq eval EXPR -` as their postRenderer.
fn path_with_yq() -> String {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let out = std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-yq")).output().expect("scripts/ensure-yq");
        assert!(out.status.success(), "scripts/ensure-yq failed: {}", String::from_utf8_lossy(&out.stderr));
        format!("{}:{}", String::from_utf8_lossy(&out.stdout).trim(), std::env::var("PATH").unwrap_or_default())
    })
    .clone()
}

/// A test's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passed,
    Failed,
    Skipped,
}

/// The tests a recorded runner snapshot prints as failed (under ` FAIL `, `\t- name`) or skipped
/// (`\t- SKIPPED 'name'`, under any suite): (suite file relative to the fixture, test name).
fn snapshot_verdicts(name: &str) -> std::collections::BTreeMap<(String, String), Verdict> {
    let text = std::fs::read_to_string(oracle().join("pkg/unittest/.snapshots").join(name)).expect("snapshot");
    let mut verdicts = std::collections::BTreeMap::new();
    let mut file: Option<(String, bool)> = None;
    for line in text.lines() {
        let header = [(" FAIL  ", true), (" PASS  ", false), (" SKIP  ", false)].into_iter().find_map(|(p, failed)| line.strip_prefix(p).map(|rest| (rest, failed)));
        if let Some((rest, failed)) = header {
            // `../../test/data/v3/<fixture>/<path>`: the path below the fixture.
            let path = rest.rsplit_once('\t').map(|(_, p)| p).unwrap_or(rest);
            let below = path.split_once("/v3/").map(|(_, p)| p.split_once('/').map(|(_, q)| q).unwrap_or(p)).unwrap_or(path);
            file = Some((below.to_string(), failed));
        } else if line.starts_with("Charts:") {
            file = None;
        } else if let (Some((f, failed)), Some(test)) = (&file, line.strip_prefix("\t- ")) {
            match test.strip_prefix("SKIPPED '").and_then(|t| t.strip_suffix('\'')) {
                Some(skipped) => verdicts.insert((f.clone(), skipped.to_string()), Verdict::Skipped),
                None if *failed => verdicts.insert((f.clone(), test.to_string()), Verdict::Failed),
                None => None,
            };
        }
    }
    verdicts
}

/// chartproof's verdicts of one run: ((suite file relative to the chart, test name), verdict),
/// in report order (names may repeat). A suite that cannot be loaded counts as one failed
/// entry named after the error.
/// Each test's (suite file, test name) and verdict, in report order.
type Verdicts = Vec<((String, String), Verdict)>;

fn chartproof_verdicts(helm: &Path, chart: &Path, args: &[String]) -> (Verdicts, String) {
    let out = chartproof(helm).arg("unittest").arg(chart).args(args).arg("-o").arg("json").env_remove("CI").env("PATH", path_with_yq()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let report: Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        Err(_) => {
            return (vec![(("<run>".to_string(), String::from_utf8_lossy(&out.stderr).trim().to_string()), Verdict::Failed)], stdout);
        }
    };
    let chart = std::fs::canonicalize(chart).unwrap();
    let mut verdicts = Vec::new();
    for suite in report["charts"].as_array().unwrap().iter().flat_map(|c| c["suites"].as_array().unwrap()) {
        let file = PathBuf::from(suite["file"].as_str().unwrap());
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        let rel = file.strip_prefix(&chart).unwrap_or(&file).display().to_string();
        if let Some(e) = suite["error"].as_str() {
            verdicts.push(((rel.clone(), format!("<suite error: {e}>")), Verdict::Failed));
        }
        for t in suite["tests"].as_array().unwrap() {
            let verdict = match t["status"].as_str() {
                Some("failed") => Verdict::Failed,
                Some("skipped") => Verdict::Skipped,
                _ => Verdict::Passed,
            };
            verdicts.push(((rel.clone(), t["name"].as_str().unwrap().to_string()), verdict));
        }
    }
    (verdicts, stdout)
}

struct Row {
    name: String,
    tests: usize,
    agree: usize,
    disagreements: Vec<String>,
}

fn fixture_rows(helm: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in RUNS {
        let copy = copy_chart(&oracle().join("test/data/v3").join(r.fixture));
        let chart = copy.path().join(r.chart);
        let mut args = vec!["-f".to_string(), r.glob.to_string()];
        args.extend(r.flags.iter().map(|f| f.to_string()));
        if let Some(v) = r.values {
            args.extend(["-v".to_string(), oracle().join(v).display().to_string()]);
        }
        let (verdicts, _) = chartproof_verdicts(helm, &chart, &args);
        // Snapshot paths are below the fixture; chartproof's below the chart it ran on.
        let below_chart = |f: &str| if r.chart == "." { Some(f.to_string()) } else { f.strip_prefix(&format!("{}/", r.chart)).map(str::to_string) };
        let expected: std::collections::BTreeMap<(String, String), Verdict> = match r.expected {
            AllPass => Default::default(),
            Snapshot(name) => snapshot_verdicts(name).into_iter().filter_map(|((f, t), v)| below_chart(&f).map(|f| ((f, t), v))).collect(),
        };
        let mut row = Row { name: r.name.to_string(), tests: verdicts.len(), agree: 0, disagreements: Vec::new() };
        for (key, got) in &verdicts {
            // A run without a snapshot states only that no test fails.
            let want = expected.get(key).copied().unwrap_or(Verdict::Passed);
            let agrees = match r.expected {
                AllPass => *got != Verdict::Failed,
                Snapshot(_) => *got == want,
            };
            if agrees {
                row.agree += 1;
            } else {
                row.disagreements.push(format!("{} :: {}: chartproof {got:?}, helm-unittest {want:?}", key.0, key.1));
            }
        }
        for ((file, test), want) in &expected {
            if !verdicts.iter().any(|(k, _)| *k == (file.clone(), test.clone())) {
                row.tests += 1;
                row.disagreements.push(format!("{file} :: {test}: chartproof has no such test, helm-unittest {want:?}"));
            }
        }
        rows.push(row);
    }
    rows
}

/// The inline jobs and suites of test_job_test.go and test_suite_test.go, each run as one suite file.
fn inline_row(helm: &Path) -> Row {
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(oracle().join("INLINE-CASES.json")).unwrap()).unwrap();
    let mut row = Row { name: "inline TestJob/TestSuite YAML".into(), tests: cases.len(), agree: 0, disagreements: Vec::new() };
    for case in &cases {
        let copy = copy_chart(&oracle().join("test/data/v3").join(case["chart"].as_str().unwrap()));
        let mut yaml = case["yaml"].as_str().unwrap().to_string();
        if let Some(values) = case["valfile"].as_str() {
            let file = copy.path().join("_scratch/values.yaml");
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, values).unwrap();
            yaml = yaml.replace("%s", &file.display().to_string());
        }
        let suite = if case["kind"] == "manifest" {
            let indented: Vec<String> = yaml.lines().map(|l| format!("    {l}")).collect();
            format!("suite: {}\ntests:\n  -\n{}\n", case["test"].as_str().unwrap(), indented.join("\n"))
        } else {
            yaml
        };
        let dir = copy.path().join("tests-inline");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inline_test.yaml"), &suite).unwrap();
        let mut args = vec!["-f".to_string(), "tests-inline/inline_test.yaml".to_string()];
        if case["failfast"] == true {
            args.push("--failfast".into());
        }
        // These Go tests build their job with WithSkipSchemaValidation(true) (test_job_test.go),
        // helm-unittest's --skip-schema-validation.
        if case["test"].as_str().unwrap().contains("SkipSchemaValidation") {
            args.push("--skip-schema-validation".into());
        }
        let (verdicts, _) = chartproof_verdicts(helm, copy.path(), &args);
        let passed = !verdicts.is_empty() && verdicts.iter().all(|(_, v)| *v != Verdict::Failed);
        let want = case["expected_pass"] == true;
        if passed == want {
            row.agree += 1;
        } else {
            let failed: Vec<&String> = verdicts.iter().filter(|(_, v)| *v == Verdict::Failed).map(|((_, t), _)| t).collect();
            row.disagreements.push(format!("{}: chartproof {}, helm-unittest {} (failed: {failed:?})", case["test"].as_str().unwrap(), if passed { "passes" } else { "fails" }, if want { "passes" } else { "fails" }));
        }
    }
    row
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn helm_unittest_fixture_runs_agree_with_helm_unittest() {
    let only = std::env::var("ORACLE_ONLY").ok();
    let mut unexpected = Vec::new();
    for helm in helms() {
        let mut rows: Vec<Row> = fixture_rows(&helm).into_iter().filter(|r| only.as_deref().is_none_or(|o| r.name.contains(o))).collect();
        if only.as_deref().is_none_or(|o| "inline".contains(o)) {
            rows.push(inline_row(&helm));
        }
        println!("\n### {}\n\n| fixture run | tests | agree | disagree |\n|---|---:|---:|---:|", helm.display());
        let (mut tests, mut agree) = (0, 0);
        for row in &rows {
            println!("| {} | {} | {} | {} |", row.name, row.tests, row.agree, row.tests - row.agree);
            if row.name != "basic+values" {
                tests += row.tests;
                agree += row.agree;
            }
        }
        println!("| **total (basic+values not counted again)** | {tests} | {agree} | {} |\n", tests - agree);
        for row in &rows {
            for d in &row.disagreements {
                let excused = EXCEPTIONS.iter().find(|(run, test, _)| *run == row.name && d.contains(test));
                match excused {
                    Some((_, _, reason)) => println!("  exception [{}] {d} ({reason})", row.name),
                    None => {
                        println!("  DISAGREE [{}] {d}", row.name);
                        unexpected.push(format!("{}: [{}] {d}", helm.display(), row.name));
                    }
                }
            }
        }
    }
    assert!(unexpected.is_empty(), "{} disagreements with helm-unittest not in EXCEPTIONS:\n{}", unexpected.len(), unexpected.join("\n"));
}
