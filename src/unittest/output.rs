//! Output of a unit-test run: human (helm-unittest's PASS/FAIL layout), JSON, JUnit in
//! helm-unittest's layout (one `<testsuite>` per suite file named by `suite:`, one `<testcase>`
//! per `it:` with the suite name as classname, failures with type "Failed"), GitHub annotations,
//! and SARIF (each failed assertion a result at its line of the suite file, through the shared
//! SARIF reporter, with the `--check` findings located as `check` locates them).

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::render::DEFAULT_RELEASE_NAME;
use super::runner::{AssertionFailure, Status, SuiteResult, TestResult, totals};
use crate::report::{Report, SourceMap, sarif};
use crate::rules::{Finding, Severity};

/// One chart's run.
#[derive(Debug, Serialize)]
pub struct ChartRun {
    pub chart: String,
    pub helm_version: String,
    pub suites: Vec<SuiteResult>,
    /// helm processes started.
    pub renders: usize,
    /// Renders asked for (tests that needed one).
    pub render_requests: usize,
    /// Whether `--check` ran the rules on every render.
    pub checked: bool,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

pub fn human(runs: &[ChartRun], color: bool) -> String {
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let mut out = String::new();
    for run in runs {
        let name = std::path::Path::new(&run.chart).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| run.chart.clone());
        let _ = writeln!(out, "\n### Chart [ {name} ] {} (helm {})\n", run.chart, run.helm_version);
        for suite in &run.suites {
            let file = super::runner::display_path(std::path::Path::new(&run.chart), &suite.file);
            let tag = if suite.passed() { paint("1;32", " PASS ") } else { paint("1;31", " FAIL ") };
            let _ = writeln!(out, "{tag} {}\t{file}", suite.name);
            if let Some(e) = &suite.error {
                let _ = writeln!(out, "\t- {e}");
            }
            for test in &suite.tests {
                if !test.findings.is_empty() {
                    let _ = writeln!(out, "\t- {}: {} finding(s) of the `check` rules on this render", test.name, test.findings.len());
                    for f in &test.findings {
                        let _ = writeln!(out, "\t\t[{}] {} {}: {}", f.severity, f.rule, f.resource_id(), f.message);
                    }
                }
                match test.status {
                    Status::Failed => {
                        let _ = writeln!(out, "\t- {} (line {})", test.name, test.line);
                        for f in &test.failures {
                            let at = f.template.as_deref().map(|t| format!(", {t}")).unwrap_or_default();
                            let _ = writeln!(out, "\t\t- asserts[{}] `{}` fail (line {}{at})", f.index, f.kind, f.line);
                            for line in f.message.lines() {
                                let _ = writeln!(out, "\t\t\t{line}");
                            }
                        }
                    }
                    Status::Skipped => {
                        let _ = writeln!(out, "\t- {} skipped: {}", test.name, test.skip_reason.as_deref().unwrap_or(""));
                    }
                    Status::Passed => {}
                }
            }
        }
    }
    let suites: Vec<&SuiteResult> = runs.iter().flat_map(|r| &r.suites).collect();
    let all: Vec<SuiteResult> = suites.iter().map(|s| (*s).clone()).collect();
    let (passed, failed, skipped) = totals(&all);
    let failed_suites = suites.iter().filter(|s| !s.passed()).count();
    let failed_charts = runs.iter().filter(|r| r.suites.iter().any(|s| !s.passed())).count();
    let renders: usize = runs.iter().map(|r| r.renders).sum();
    let requests: usize = runs.iter().map(|r| r.render_requests).sum();
    let time: f64 = runs.iter().map(|r| r.duration.as_secs_f64()).sum();
    // A chart without suites neither passed nor failed.
    let untested = runs.iter().filter(|r| r.suites.is_empty()).count();
    let _ = writeln!(out, "\nCharts:      {} failed, {} passed, {untested} without suites, {} total", failed_charts, runs.len() - failed_charts - untested, runs.len());
    let _ = writeln!(out, "Test Suites: {} failed, {} passed, {} total", failed_suites, suites.len() - failed_suites, suites.len());
    let _ = writeln!(out, "Tests:       {failed} failed, {passed} passed, {skipped} skipped, {} total", passed + failed + skipped);
    let findings: Vec<&crate::rules::Finding> = suites.iter().flat_map(|s| &s.tests).flat_map(|t| &t.findings).collect();
    if runs.iter().any(|r| r.checked) {
        let errors = findings.iter().filter(|f| f.severity == crate::rules::Severity::Error).count();
        let _ = writeln!(out, "Findings:    {errors} errors, {} others of the `check` rules on the unit-test renders", findings.len() - errors);
    }
    let _ = writeln!(out, "Renders:     {renders} helm runs for {requests} tests that render");
    let _ = writeln!(out, "Time:        {time:.1}s");
    out
}

/// GitHub Actions workflow commands: one `::error` annotation per failed assertion, on the
/// suite file at the assertion's line, then the human summary.
pub fn github(runs: &[ChartRun]) -> String {
    let escape = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    let property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for suite in runs.iter().flat_map(|r| &r.suites) {
        let file = suite.file.display().to_string();
        if let Some(e) = &suite.error {
            let _ = writeln!(out, "::error file={}::{}", property(&file), escape(e));
        }
        for test in &suite.tests {
            for f in &test.failures {
                let title = format!("{} / {}", suite.name, test.name);
                let at = f.template.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
                let _ = writeln!(out, "::error file={},line={},title={}::asserts[{}] `{}` fail{at}%0A{}", property(&file), f.line, property(&title), f.index, f.kind, escape(&f.message));
            }
        }
    }
    out.push_str(&human(runs, false));
    out
}

pub fn json(runs: &[ChartRun]) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::json!({ "command": "unittest", "charts": runs }))?)
}

pub fn junit(runs: &[ChartRun]) -> anyhow::Result<String> {
    let mut report = quick_junit::Report::new("helm-unittest");
    for run in runs {
        for suite in &run.suites {
            let mut ts = TestSuite::new(suite.name.clone());
            ts.set_time(suite.duration);
            ts.add_property(quick_junit::Property::new("helm", run.helm_version.clone()));
            ts.add_property(quick_junit::Property::new("file", suite.file.display().to_string()));
            if let Some(e) = &suite.error {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(e.clone()).set_type("Error");
                let mut case = TestCase::new(suite.file.display().to_string(), s);
                case.set_classname(suite.name.clone());
                ts.add_test_case(case);
            }
            for test in &suite.tests {
                let status = match test.status {
                    Status::Passed => TestCaseStatus::success(),
                    Status::Skipped => {
                        let mut s = TestCaseStatus::skipped();
                        if let Some(r) = &test.skip_reason {
                            s.set_message(r.clone());
                        }
                        s
                    }
                    Status::Failed => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let text: Vec<String> = test.failures.iter().map(|f| format!("- asserts[{}] `{}` fail{}\n{}", f.index, f.kind, f.template.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(), f.message)).collect();
                        s.set_message("Failed").set_type("").set_description(text.join("\n"));
                        s
                    }
                };
                let mut case = TestCase::new(test.name.clone(), status);
                case.set_classname(suite.name.clone()).set_time(test.duration);
                ts.add_test_case(case);
            }
            report.add_test_suite(ts);
        }
    }
    Ok(report.to_string()?)
}

/// Kind of the findings that stand for failed unit tests in the shared reporters.
pub const UNITTEST_KIND: &str = "UnitTest";

/// Failures that are not an assertion's: (failure kind, SARIF rule id, what failed, rule description).
const NON_ASSERTION_FAILURES: &[(&str, &str, &str, &str)] = &[
    ("render", "unittest/render-failed", "the render failed", "A unit test's render failed (helm template returned an error the test does not expect)"),
    ("postRenderer", "unittest/post-renderer-failed", "the post-renderer failed", "A unit test's postRenderer command failed or printed YAML that cannot be read"),
    ("asserts", "unittest/no-assertions", "no assertions", "A unit test has no assertions"),
    ("suite", "unittest/invalid-suite", "the suite cannot be loaded", "A helm-unittest suite file cannot be loaded"),
];

/// The SARIF rule id of a failed assertion (`unittest/equal`), or of a failure that is not an
/// assertion's (a render, a post-renderer, a test without assertions, a suite that cannot be loaded).
fn rule_id(kind: &str) -> String {
    NON_ASSERTION_FAILURES.iter().find(|f| f.0 == kind).map(|f| f.1.to_string()).unwrap_or_else(|| format!("unittest/{kind}"))
}

/// The chart's name as helm prints it in `# Source:` (Chart.yaml's `name`), else the folder name.
fn chart_name(chart_dir: &Path) -> String {
    std::fs::read_to_string(chart_dir.join("Chart.yaml"))
        .ok()
        .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(&text).ok())
        .and_then(|meta| meta.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .unwrap_or_else(|| chart_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

/// A failed unit test (or an unloadable suite) as a finding located in the suite file: `template`
/// is the suite file under the chart's name, the line is given in the message as `(line N)`
/// (which the shared locator reads), and the name and path identify the test and assertion, so
/// the SARIF fingerprint does not change when the suite's lines move.
fn failure_finding(chart_name: &str, suite_file: &str, suite: &SuiteResult, test: Option<&TestResult>, failure: &AssertionFailure) -> Finding {
    let non_assertion = NON_ASSERTION_FAILURES.iter().find(|f| f.0 == failure.kind);
    let what = non_assertion.map(|f| f.2.to_string()).unwrap_or_else(|| format!("asserts[{}] `{}` failed", failure.index, failure.kind));
    let path = match (non_assertion, &failure.template) {
        (Some(_), _) => None,
        (None, Some(template)) => Some(format!("asserts[{}] in {template}", failure.index)),
        (None, None) => Some(format!("asserts[{}]", failure.index)),
    };
    Finding {
        rule: rule_id(&failure.kind),
        severity: Severity::Error,
        kind: UNITTEST_KIND.into(),
        namespace: None,
        name: test.map(|t| format!("{} / {}", suite.name, t.name)).unwrap_or_else(|| suite.name.clone()),
        template: Some(format!("{chart_name}/{suite_file}")),
        path,
        message: format!("{what} (line {}): {}", failure.line, failure.message),
    }
}

/// The line a suite load error names (`file:LINE: key: …`), else 1.
fn error_line(suite: &SuiteResult, error: &str) -> usize {
    let file = suite.file.display().to_string();
    error.strip_prefix(&file).and_then(|r| r.strip_prefix(':')).and_then(|r| r.split(':').next()).and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// One SARIF run for one chart: every failed assertion, failed render, test without assertions
/// and unloadable suite at its line of the suite file (rule `unittest/<assertion type>`), then
/// the `--check` findings of the renders (each distinct finding once, naming the first test
/// whose render showed it), located in the templates as `check` locates them.
fn sarif_run(run: &ChartRun) -> serde_json::Value {
    let chart_dir = Path::new(&run.chart);
    let chart_dir = std::fs::canonicalize(chart_dir).unwrap_or_else(|_| chart_dir.to_path_buf());
    let name = chart_name(&chart_dir);
    let mut findings = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::new();
    for suite in &run.suites {
        let suite_file = std::fs::canonicalize(&suite.file).unwrap_or_else(|_| suite.file.clone());
        let suite_file = super::runner::display_path(&chart_dir, &suite_file).replace('\\', "/");
        if let Some(error) = &suite.error {
            let failure = AssertionFailure { index: 0, kind: "suite".into(), line: error_line(suite, error), template: None, message: error.clone() };
            findings.push(failure_finding(&name, &suite_file, suite, None, &failure));
        }
        for test in &suite.tests {
            findings.extend(test.failures.iter().map(|f| failure_finding(&name, &suite_file, suite, Some(test), f)));
            for f in &test.findings {
                if seen.insert((crate::baseline::FindingKey::of(f, DEFAULT_RELEASE_NAME).fingerprint(), f.message.clone())) {
                    let mut f = f.clone();
                    f.message = format!("{} (unit test: {} / {})", f.message, suite.name, test.name);
                    checked.push(f);
                }
            }
        }
    }
    findings.extend(checked);
    let report = Report {
        command: "unittest",
        subject: &run.chart,
        release: DEFAULT_RELEASE_NAME,
        findings: &findings,
        suppressed: &[],
        qos: &[],
        resources: &[],
        sources: Some(SourceMap { chart_dir: &chart_dir, chart_name: &name }),
    };
    let mut sarif_run = sarif::to_value(&report)["runs"][0].take();
    for rule in sarif_run["tool"]["driver"]["rules"].as_array_mut().into_iter().flatten() {
        if let Some(id) = rule["id"].as_str().filter(|id| id.starts_with("unittest/")) {
            let text = match NON_ASSERTION_FAILURES.iter().find(|f| f.1 == id) {
                Some(f) => f.3.to_string(),
                None => format!("A helm-unittest `{}` assertion failed", id.trim_start_matches("unittest/")),
            };
            rule["shortDescription"] = serde_json::json!({ "text": text });
        }
    }
    sarif_run["properties"]["helm"] = serde_json::json!(run.helm_version);
    sarif_run
}

/// SARIF 2.1.0: one run per chart (see [`sarif_run`]).
pub fn sarif(runs: &[ChartRun]) -> anyhow::Result<String> {
    let log = sarif::log_of_runs(runs.iter().map(sarif_run).collect());
    Ok(serde_json::to_string_pretty(&log)? + "\n")
}
