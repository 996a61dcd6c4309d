//! `--coverage`: exact line and branch counts of the fixture chart coverage-basic (counted by hand
//! from its templates and suites) read back from each format — LCOV and Cobertura by an
//! independent Python reader (tests/coverage/read_reports.py), JSON with serde — the HTML page
//! opened in headless chromium, `--coverage-min`, subchart exclusion, verdicts identical with and
//! without coverage, and the instrumented render equal to the real one once the coverage comments
//! are dropped (fixture, and the corpus when ../shared is there).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{chart, chartproof, helm_template, helms};
use serde_json::Value;

const FIXTURE: &str = "fixtures/coverage-basic";

/// Expected counts of one template: (line, hits) of every line that writes output and
/// (line, block, branch, taken) of every branch.
struct Expected {
    file: &'static str,
    lines: Vec<(usize, u64)>,
    branches: Vec<(usize, usize, usize, Option<u64>)>,
}

fn range_hits(lines: std::ops::RangeInclusive<usize>, hits: u64) -> Vec<(usize, u64)> {
    lines.map(|l| (l, hits)).collect()
}

/// `unittest --coverage` on the fixture: deployment_test.yaml (mode a with no ports; mode b with
/// two ports; disabled) selects deployment.yaml, service_test.yaml (service enabled) selects
/// service.yaml (its `block` of ports renders the default port); configmap.yaml and the subchart
/// are never selected.
fn expected_unittest() -> Vec<Expected> {
    let mut deployment = range_hits(2..=13, 2);
    deployment.extend([(15, 1), (17, 1), (19, 0), (21, 2), (23, 2), (25, 1)]);
    vec![
        Expected {
            file: "templates/_helpers.tpl",
            // cov.name runs twice per deployment render and once in the service render.
            lines: vec![(3, 5), (8, 2), (10, 1), (15, 2), (17, 0)],
            branches: vec![(7, 0, 0, Some(2)), (7, 0, 1, Some(1)), (16, 1, 0, Some(0)), (16, 1, 1, Some(2))],
        },
        Expected { file: "templates/configmap.yaml", lines: range_hits(1..=6, 0), branches: vec![] },
        Expected {
            file: "templates/deployment.yaml",
            lines: deployment,
            // The range's first branch counts iterations (two ports), its second the renders
            // with no port.
            branches: vec![(1, 0, 0, Some(2)), (1, 0, 1, Some(1)), (14, 1, 0, Some(1)), (14, 1, 1, Some(1)), (14, 1, 2, Some(0)), (22, 2, 0, Some(2)), (22, 2, 1, Some(1))],
        },
        // Line 8 is the `block` (a define of its body plus a template call there): the call
        // counts as a line, the body's lines and its range count like a define's.
        Expected {
            file: "templates/service.yaml",
            lines: [range_hits(2..=9, 1), vec![(11, 0), (13, 1)]].concat(),
            branches: vec![(1, 0, 0, Some(1)), (1, 0, 1, Some(0)), (10, 1, 0, Some(0)), (10, 1, 1, Some(1))],
        },
        Expected { file: "charts/sub/templates/cm.yaml", lines: range_hits(2..=5, 0), branches: vec![(1, 0, 0, None), (1, 0, 1, None)] },
    ]
}

/// Run `unittest --coverage DIR` on the fixture; returns DIR and stderr.
fn unittest_coverage(helm: &Path, extra: &[&str]) -> (tempfile::TempDir, String) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("cov");
    let assert = chartproof(helm).args(["unittest"]).arg(chart(FIXTURE)).arg("--coverage").arg(&dir).args(extra).assert();
    let output = assert.get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "unittest --coverage failed: {stderr}\n{}", String::from_utf8_lossy(&output.stdout));
    (out, stderr)
}

fn python_read(kind: &str, file: &Path) -> Value {
    let script = common::repo().join("tests/coverage/read_reports.py");
    let out = Command::new("python3").arg(script).arg(kind).arg(file).output().expect("python3 (the independent reader needs it)");
    assert!(out.status.success(), "read_reports.py {kind}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn lcov_has_the_exact_counts_by_an_independent_reader() {
    for helm in helms() {
        let (out, stderr) = unittest_coverage(&helm, &[]);
        assert!(stderr.contains("coverage: 69.8% of lines, 64.7% of branches in 5 templates"), "{stderr}");
        let lcov = python_read("lcov", &out.path().join("cov/lcov.info"));
        let files = lcov.as_object().unwrap();
        assert_eq!(files.len(), 5, "{lcov:#}");
        for e in expected_unittest() {
            let f = &lcov[e.file];
            let lines: Vec<(usize, u64)> = {
                let mut v: Vec<(usize, u64)> = f["lines"].as_object().unwrap().iter().map(|(k, h)| (k.parse().unwrap(), h.as_u64().unwrap())).collect();
                v.sort();
                v
            };
            assert_eq!(lines, e.lines, "{} lines (helm {})", e.file, helm.display());
            let branches: Vec<(usize, usize, usize, Option<u64>)> = f["branches"].as_array().unwrap().iter().map(|b| (b[0].as_u64().unwrap() as usize, b[1].as_u64().unwrap() as usize, b[2].as_u64().unwrap() as usize, b[3].as_u64())).collect();
            assert_eq!(branches, e.branches, "{} branches", e.file);
        }
    }
}

#[test]
fn cobertura_has_the_exact_counts_by_an_independent_reader() {
    for helm in helms() {
        let (out, _) = unittest_coverage(&helm, &[]);
        let cob = python_read("cobertura", &out.path().join("cov/cobertura.xml"));
        assert_eq!(cob["totals"]["lines-covered"], "30");
        assert_eq!(cob["totals"]["lines-valid"], "43");
        assert_eq!(cob["totals"]["branches-covered"], "11");
        assert_eq!(cob["totals"]["branches-valid"], "17");
        assert_eq!(cob["packages"]["coverage-basic/sub"]["line-rate"], "0.0000", "the subchart is its own package: {cob:#}");
        for e in expected_unittest() {
            let f = &cob["files"][e.file];
            for (line, hits) in &e.lines {
                assert_eq!(f["lines"][line.to_string()].as_u64(), Some(*hits), "{} line {line}", e.file);
            }
            let valid = e.branches.len() as u64;
            let covered = e.branches.iter().filter(|b| b.3.unwrap_or(0) > 0).count() as u64;
            assert_eq!((f["branches_covered"].as_u64(), f["branches_valid"].as_u64()), (Some(covered), Some(valid)), "{} branches", e.file);
        }
    }
}

#[test]
fn json_has_the_exact_counts_and_the_tests_of_each_line() {
    for helm in helms() {
        let (out, _) = unittest_coverage(&helm, &[]);
        let json: Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("cov/coverage.json")).unwrap()).unwrap();
        assert_eq!(json["lines"], serde_json::json!({"found": 43, "hit": 30}));
        assert_eq!(json["branches"], serde_json::json!({"found": 17, "hit": 11}));
        assert_eq!(json["templates"], 5);
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/coverage.schema.json")).unwrap()).unwrap();
        let errors: Vec<String> = jsonschema::validator_for(&schema).unwrap().iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "coverage.json does not match schemas/coverage.schema.json: {errors:?}");
        let files: Vec<&Value> = json["charts"].as_array().unwrap().iter().flat_map(|c| c["files"].as_array().unwrap()).collect();
        for e in expected_unittest() {
            let f = files.iter().find(|f| f["path"] == e.file).unwrap_or_else(|| panic!("{} missing", e.file));
            let lines: Vec<(usize, u64)> = f["line_hits"].as_array().unwrap().iter().map(|l| (l["line"].as_u64().unwrap() as usize, l["hits"].as_u64().unwrap())).collect();
            assert_eq!(lines, e.lines, "{}", e.file);
            let branches: Vec<(usize, usize, usize, Option<u64>)> = f["branches_detail"].as_array().unwrap().iter().map(|b| (b["line"].as_u64().unwrap() as usize, b["block"].as_u64().unwrap() as usize, b["branch"].as_u64().unwrap() as usize, b["taken"].as_u64())).collect();
            assert_eq!(branches, e.branches, "{}", e.file);
        }
        let tests_of = |file: &str, line: u64| -> Vec<String> {
            let f = files.iter().find(|f| f["path"] == file).unwrap();
            let l = f["line_hits"].as_array().unwrap().iter().find(|l| l["line"] == line).unwrap();
            l["tests"].as_array().map(|t| t.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
        };
        assert_eq!(tests_of("templates/deployment.yaml", 17), vec!["tests/deployment_test.yaml: renders mode b with two ports"]);
        assert_eq!(tests_of("templates/_helpers.tpl", 10), vec!["tests/deployment_test.yaml: renders nothing when disabled"]);
        assert_eq!(tests_of("templates/_helpers.tpl", 3).len(), 3, "cov.name runs in two deployment tests and the service test");
        assert!(tests_of("templates/deployment.yaml", 19).is_empty());
        assert_eq!(tests_of("templates/service.yaml", 13), vec!["tests/service_test.yaml: renders the service when enabled"], "a block's body line");
    }
}

#[test]
fn check_counts_its_one_render_and_subcharts_can_be_excluded() {
    let helm = &helms()[0];
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("cov");
    let o = chartproof(helm).arg("check").arg(chart(FIXTURE)).arg("--coverage").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Defaults: deployment (mode a, no port), configmap, no service, subchart disabled.
    assert!(stderr.contains("coverage: 55.8% of lines, 41.2% of branches in 5 templates"), "{stderr}");
    let excluded = out.path().join("excluded");
    let o = chartproof(helm).arg("check").arg(chart(FIXTURE)).arg("--coverage").arg(&excluded).args(["--coverage-exclude", "charts/sub"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("coverage: 61.5% of lines, 40.0% of branches in 4 templates"), "{stderr}");
    assert!(!std::fs::read_to_string(excluded.join("lcov.info")).unwrap().contains("charts/sub"));
}

#[test]
fn coverage_min_fails_a_passing_run_below_it() {
    let helm = &helms()[0];
    for (min, code) in [("70", 1), ("69", 0)] {
        let out = tempfile::tempdir().unwrap();
        let o = chartproof(helm).arg("unittest").arg(chart(FIXTURE)).arg("--coverage").arg(out.path()).args(["--coverage-min", min]).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "--coverage-min {min}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn test_verdicts_are_identical_with_and_without_coverage() {
    for helm in helms() {
        let run = |coverage: Option<&Path>| {
            let mut cmd = chartproof(&helm);
            cmd.arg("test").arg(chart(FIXTURE)).args(["--seed", "7", "--cases", "25", "--no-save", "-o", "json", "-j", "2"]);
            if let Some(dir) = coverage {
                cmd.arg("--coverage").arg(dir);
            }
            let o = cmd.output().unwrap();
            (o.status.code(), String::from_utf8_lossy(&o.stdout).to_string())
        };
        let out = tempfile::tempdir().unwrap();
        let plain = run(None);
        let covered = run(Some(out.path()));
        assert_eq!(plain, covered, "helm {}", helm.display());
        assert!(out.path().join("coverage.json").is_file());
    }
}

/// Documents of a `helm template` output, the coverage comment lines dropped, empty ones left out.
fn documents(manifest: &str) -> Vec<serde_yaml::Value> {
    let text: String = manifest.lines().filter(|l| !l.starts_with(chartproof::coverage::instrument::EMIT_PREFIX)).map(|l| format!("{l}\n")).collect();
    serde_yaml::Deserializer::from_str(&text).filter_map(|d| serde::Deserialize::deserialize(d).ok()).filter(|v: &serde_yaml::Value| !v.is_null()).collect()
}

/// Render `chart` and its instrumented copy with each of `value_sets`; the number of
/// value sets both rendered, and the disagreements.
fn instrumented_agrees(helm: &Path, chart: &Path, value_sets: &[Vec<String>]) -> (usize, Vec<String>) {
    let copy = chartproof::coverage::collect::instrument_chart(chart, &[]).unwrap();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for args in value_sets {
        let real = helm_template(helm, chart, args);
        let instrumented = helm_template(helm, &copy.root, args);
        if !real.status.success() {
            continue;
        }
        if !instrumented.status.success() {
            disagreements.push(format!("{} {args:?}: instrumented render failed: {}", chart.display(), String::from_utf8_lossy(&instrumented.stderr)));
            continue;
        }
        compared += 1;
        // Documents that differ between two real renders (random names, generated certificates)
        // are not compared.
        let again = documents(&String::from_utf8_lossy(&helm_template(helm, chart, args).stdout));
        let (a, b) = (documents(&String::from_utf8_lossy(&real.stdout)), documents(&String::from_utf8_lossy(&instrumented.stdout)));
        if a.len() != b.len() {
            disagreements.push(format!("{} {args:?}: {} documents, instrumented {}", chart.display(), a.len(), b.len()));
        }
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            if x != y && again.get(i) == Some(x) {
                disagreements.push(format!("{} {args:?}: document {i} differs:\n{}\n--- instrumented:\n{}", chart.display(), serde_yaml::to_string(x).unwrap(), serde_yaml::to_string(y).unwrap()));
            }
        }
        let markers = regex::Regex::new(chartproof::coverage::instrument::MARKER_RE).unwrap();
        let stray = String::from_utf8_lossy(&instrumented.stdout).lines().filter(|l| !l.starts_with(chartproof::coverage::instrument::EMIT_PREFIX) && markers.is_match(l)).count();
        if stray > 0 {
            disagreements.push(format!("{} {args:?}: {stray} lines with markers outside the coverage comments", chart.display()));
        }
    }
    (compared, disagreements)
}

#[test]
fn instrumented_render_equals_the_real_render_on_the_fixture() {
    let sets: Vec<Vec<String>> = vec![
        vec![],
        vec!["--set".into(), "mode=b,ports={1,2},service.enabled=true,service.ports={3},sub.enabled=true,extraLabels.team=x".into()],
        vec!["--set".into(), "enabled=false,mode=c".into()],
    ];
    for helm in helms() {
        let (compared, disagreements) = instrumented_agrees(&helm, &chart(FIXTURE), &sets);
        assert_eq!(compared, 3);
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn instrumented_render_equals_the_real_render_on_the_corpus() {
    let helm = &helms()[0];
    let mut compared = 0;
    let mut all = Vec::new();
    for chart in common::corpus_charts() {
        let (n, d) = instrumented_agrees(helm, &chart, &[vec![]]);
        eprintln!("{}: {n} renders compared, {} disagreements", chart.display(), d.len());
        compared += n;
        all.extend(d);
    }
    eprintln!("corpus: {compared} renders compared, {} disagreements", all.len());
    assert!(compared >= 8, "too few corpus charts render at their defaults: {compared}");
    assert!(all.is_empty(), "{all:#?}");
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn test_verdicts_are_identical_with_and_without_coverage_on_the_corpus() {
    let helm = &helms()[0];
    // Charts that render the same output for the same values (podinfo names its test pods with
    // randAlphaNum: its reports differ between any two runs).
    for name in ["kube-state-metrics", "nginx", "prometheus-node-exporter"] {
        let run = |coverage: Option<&Path>| {
            let mut cmd = chartproof(helm);
            cmd.arg("test").arg(common::corpus(name)).args(["--seed", "3", "--cases", "15", "--no-save", "-o", "json"]);
            if let Some(dir) = coverage {
                cmd.arg("--coverage").arg(dir);
            }
            let o = cmd.output().unwrap();
            (o.status.code(), String::from_utf8_lossy(&o.stdout).to_string())
        };
        let out = tempfile::tempdir().unwrap();
        assert_eq!(run(None), run(Some(out.path())), "{name}");
    }
}

fn find_chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|b| {
        let out = Command::new("sh").arg("-c").arg(format!("command -v {b}")).output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

#[test]
fn html_report_opens_in_a_headless_browser() {
    let Some(browser) = find_chromium() else {
        // .ci/run installs chromium and sets this, so CI never passes by skipping.
        assert!(std::env::var_os("CHARTPROOF_REQUIRE_CHROMIUM").is_none(), "CHARTPROOF_REQUIRE_CHROMIUM is set but no chromium is on PATH (scripts/ensure-chromium installs it)");
        eprintln!("SKIPPED html_report_opens_in_a_headless_browser: no chromium on PATH (scripts/ensure-chromium installs it)");
        return;
    };
    let helm = &helms()[0];
    let (out, _) = unittest_coverage(helm, &[]);
    let page = out.path().join("cov/index.html");
    let profile = tempfile::tempdir().unwrap();
    let base = |extra: &[String]| {
        let mut cmd = Command::new(&browser);
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync"]).arg(format!("--user-data-dir={}", profile.path().display())).args(extra).arg(format!("file://{}", page.display()));
        cmd.output().expect("run chromium")
    };
    let dom = base(&["--dump-dom".to_string()]);
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&dom.stderr));
    for needle in ["templates/deployment.yaml", "templates/_helpers.tpl", "charts/sub/templates/cm.yaml", "69.8% of lines, 64.7% of branches in 5 templates", "94.4%", "85.7%", "coverage-basic/sub"] {
        assert!(text.contains(needle), "the page the browser read lacks {needle:?}");
    }
    let shots = common::repo().join("target/coverage-html");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("index.png");
    let _ = std::fs::remove_file(&shot);
    let s = base(&[format!("--screenshot={}", shot.display()), "--window-size=1280,2400".to_string()]);
    assert!(s.status.success(), "chromium --screenshot: {}", String::from_utf8_lossy(&s.stderr));
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}
