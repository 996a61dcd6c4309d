//! The corpus run: every command on every real chart of ../shared/corpus with every helm under
//! test. chartproof never panics, exits 2 only for documented unusable input, and its JSON
//! outputs match the schemas in schemas/. Writes a markdown summary table (chart, rules fired,
//! QoS of the default render, failures found by `test`, audit counts) to
//! $CHARTPROOF_CORPUS_TABLE (default target/corpus-table.md). It takes minutes, so it is
//! `#[ignore]`d in the everyday suite; `scripts/corpus` runs it, and `.ci/run` calls that.
//!
//! Documented unusable input (exit 2 allowed, and then required to say why on stderr):
//! - the chart does not render with helm at its defaults (plus its base values): for example a
//!   dependency listed in Chart.yaml is missing from charts/. Commands that need a render
//!   (`check`, `test`) cannot work then. Every chart of the current corpus renders (loki with its
//!   `ci/default-values.yaml`).
//!
//! Commands not in this build are skipped and named in the table footer.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chartproof::manifest::Manifest;
use chartproof::rules::{Config, check_manifest};
use common::{corpus_charts, helms, repo};
use serde::Deserialize;
use serde_json::Value;

/// Cases for the short `test` run per chart and helm.
const TEST_CASES: &str = "20";

/// Base values a chart needs to render at all (from the corpus README).
fn base_values(chart: &Path) -> Vec<PathBuf> {
    match chart.file_name().and_then(|n| n.to_str()) {
        Some("loki") => vec![chart.join("ci/default-values.yaml")],
        _ => vec![],
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn run(helm: &Path, args: &[String]) -> Run {
    let start = Instant::now();
    let out = assert_cmd::Command::cargo_bin("chartproof")
        .unwrap()
        .env("HELM_BIN", helm)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

fn command_exists(helm: &Path, name: &str) -> bool {
    run(helm, &[name.to_string(), "--help".to_string()]).code == 0
}

/// The schema file in schemas/ for a report, if registered.
fn report_schema(names: &[&str]) -> Option<Value> {
    names.iter().find_map(|n| {
        let text = std::fs::read_to_string(repo().join("schemas").join(n)).ok()?;
        serde_json::from_str(&text).ok()
    })
}

fn schema_errors(schema: &Value, doc: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).expect("a valid schema in schemas/");
    v.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}

/// Render the chart at its defaults (plus base values) with helm; Err(helm's message) when it cannot.
fn helm_default_render(helm: &Path, chart: &Path) -> Result<String, String> {
    let mut cmd = std::process::Command::new(helm);
    cmd.args(["template", "release"]).arg(chart);
    for f in base_values(chart) {
        cmd.arg("-f").arg(f);
    }
    let out = cmd.output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[derive(Default)]
struct Row {
    rules: BTreeMap<String, usize>,
    qos: BTreeMap<String, usize>,
    unrenderable: Option<String>,
    test_failures: Vec<String>,
    test_beyond_defaults: usize,
    test_status: Vec<String>,
    audit: String,
    problems: Vec<String>,
}

#[test]
#[ignore = "the corpus run takes minutes: scripts/corpus (and .ci/run) runs it"]
fn corpus_run_never_crashes_and_reports_are_valid() {
    let helms = helms();
    let first = &helms[0];
    let commands = ["schema", "validate", "check", "audit", "test"];
    let missing: Vec<&str> = commands.iter().copied().filter(|c| !command_exists(first, c)).collect();
    for m in &missing {
        eprintln!("corpus: `chartproof {m}` is not in this build: skipped");
    }
    let has = |c: &str| !missing.contains(&c);
    let schemas: BTreeMap<&str, Option<Value>> = BTreeMap::from([
        ("validate", report_schema(&["validate-report.schema.json"])),
        ("check", report_schema(&["check-report.schema.json", "check-report.json"])),
        ("audit", report_schema(&["audit-report.schema.json"])),
        ("test", report_schema(&["test-report.schema.json"])),
    ]);
    let mut timings: BTreeMap<String, Duration> = BTreeMap::new();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let mut problems = Vec::new();
    let started = Instant::now();

    for chart in corpus_charts() {
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        let row = rows.entry(name.clone()).or_default();
        let base: Vec<String> = base_values(&chart).iter().flat_map(|f| ["-f".to_string(), f.display().to_string()]).collect();
        let chart_arg = chart.display().to_string();
        for (hi, helm) in helms.iter().enumerate() {
            let helm_name = helm_label(helm);
            let default_render = helm_default_render(helm, &chart);
            let unrenderable = default_render.as_ref().err().cloned();
            if hi == 0 {
                row.unrenderable = unrenderable.clone();
            }
            if hi == 0 && !has("check") {
                // Without the `check` command, the same rules engine straight from the library.
                match default_render {
                    Ok(text) => {
                        let m = Manifest::parse(&text);
                        let outcome = check_manifest(&m, &Config::default());
                        for f in &outcome.findings {
                            *row.rules.entry(f.rule.clone()).or_default() += 1;
                        }
                        for (_, q) in &outcome.qos {
                            *row.qos.entry(q.to_string()).or_default() += 1;
                        }
                    }
                    Err(_) => {}
                }
            }
            let mut plan: Vec<(&str, Vec<String>)> = Vec::new();
            if hi == 0 {
                // Static commands do not run helm: once per chart.
                plan.push(("schema", vec!["schema".into(), chart_arg.clone()]));
                plan.push(("audit", vec!["audit".into(), chart_arg.clone(), "-o".into(), "json".into()]));
            }
            plan.push(("validate", [vec!["validate".into(), chart_arg.clone()], base.clone(), vec!["-o".into(), "json".into()]].concat()));
            plan.push(("check", [vec!["check".into(), chart_arg.clone()], base.clone(), vec!["-o".into(), "json".into()]].concat()));
            let cases_dir = tempfile::tempdir().unwrap();
            plan.push((
                "test",
                [
                    vec!["test".into(), chart_arg.clone(), "--cases".into(), TEST_CASES.into(), "--seed".into(), "1".into()],
                    vec!["--no-save".into(), "--cases-dir".into(), cases_dir.path().display().to_string()],
                    base.clone(),
                    vec!["-o".into(), "json".into()],
                ]
                .concat(),
            ));
            for (cmd, args) in plan {
                if !has(cmd) {
                    continue;
                }
                let r = run(helm, &args);
                *timings.entry(format!("{cmd} ({helm_name})")).or_default() += r.took;
                let what = format!("{name}: chartproof {} with {helm_name}", args.join(" "));
                if r.stderr.contains("panicked") || r.code == 101 || r.code < 0 {
                    problems.push(format!("{what}: crashed (exit {}): {}", r.code, r.stderr));
                    continue;
                }
                let needs_render = matches!(cmd, "check" | "test");
                match (r.code, &unrenderable) {
                    (0 | 1, _) => {}
                    (2, Some(_)) if needs_render => {
                        if r.stderr.trim().is_empty() {
                            problems.push(format!("{what}: exit 2 without a message"));
                        }
                        if cmd == "test" {
                            row.test_status.push(format!("{helm_name}: not renderable"));
                        }
                        continue;
                    }
                    (code, _) => {
                        problems.push(format!("{what}: exit {code} (unusable input is not documented for this case): {}", r.stderr));
                        continue;
                    }
                }
                if cmd == "schema" {
                    match serde_json::from_str::<Value>(&r.stdout) {
                        Ok(s) => {
                            if let Err(e) = chartproof::contract::compile(&s) {
                                problems.push(format!("{what}: printed schema does not compile: {e}"));
                            }
                        }
                        Err(e) => problems.push(format!("{what}: schema output is not JSON: {e}")),
                    }
                    continue;
                }
                let doc: Value = match serde_json::from_str(&r.stdout) {
                    Ok(d) => d,
                    Err(e) => {
                        problems.push(format!("{what}: -o json output is not JSON ({e}): {}", r.stderr));
                        continue;
                    }
                };
                match schemas.get(cmd).and_then(|s| s.as_ref()) {
                    Some(schema) => {
                        let errs = schema_errors(schema, &doc);
                        if !errs.is_empty() {
                            problems.push(format!("{what}: report does not match its schema: {errs:?}"));
                        }
                    }
                    None => row.problems.push(format!("no schema in schemas/ for `{cmd}` reports")),
                }
                match cmd {
                    "check" if hi == 0 => {
                        for f in doc["findings"].as_array().into_iter().flatten() {
                            if let Some(rule) = f["rule"].as_str() {
                                *row.rules.entry(rule.to_string()).or_default() += 1;
                            }
                        }
                        for q in doc["qos"].as_object().into_iter().flat_map(|m| m.values()) {
                            if let Some(q) = q.as_str() {
                                *row.qos.entry(q.to_string()).or_default() += 1;
                            }
                        }
                    }
                    "audit" => {
                        let count = |k: &str| doc[k].as_array().map_or(0, Vec::len);
                        row.audit = format!(
                            "{} unused, {} undeclared, {} unresolved",
                            count("unused"),
                            count("undeclared"),
                            count("unresolved")
                        );
                    }
                    "test" => {
                        let failures = doc["failures"].as_array().cloned().unwrap_or_default();
                        let mut rules: Vec<String> =
                            failures.iter().filter_map(|f| f["rule"].as_str().map(str::to_string)).collect();
                        rules.sort();
                        rules.dedup();
                        let beyond = failures.iter().filter(|f| f["found_by"] != "defaults").count();
                        row.test_status.push(format!("{helm_name}: {} failures", failures.len()));
                        if hi == 0 {
                            row.test_failures = rules;
                            row.test_beyond_defaults = beyond;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let scenarios = if has("check") && has("validate") { run_scenarios(first, &mut problems, &mut timings) } else { Vec::new() };
    let total = started.elapsed();
    let mut table = render_table(&rows, &missing, &helms, &timings, total);
    if !scenarios.is_empty() {
        table += &format!("\nScenarios (chart-testing's `ci/*-values.yaml`, each on its own, `--scenarios`):\n\n{}\n", scenarios.join("\n"));
    }
    let path = std::env::var_os("CHARTPROOF_CORPUS_TABLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/corpus-table.md"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, &table).unwrap();
    eprintln!("{table}\ncorpus: table written to {}", path.display());
    assert!(problems.is_empty(), "corpus run problems:\n{}", problems.join("\n"));
}

/// `validate --scenarios` and `check --scenarios -o sarif` on every chart with a `ci/` folder: no
/// crash, exit 0 or 1, one verdict and one SARIF run per scenario, the SARIF valid. One line per chart.
fn run_scenarios(helm: &Path, problems: &mut Vec<String>, timings: &mut BTreeMap<String, Duration>) -> Vec<String> {
    let sarif_schema: Value = serde_json::from_str(&std::fs::read_to_string(common::sarif_schema_path()).unwrap()).unwrap();
    let mut lines = Vec::new();
    for chart in corpus_charts().into_iter().filter(|c| c.join("ci").is_dir()) {
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        let arg = chart.display().to_string();
        let mut verdicts = Vec::new();
        for (cmd, args) in [("validate", vec!["validate", &arg, "--scenarios", "-o", "json"]), ("check", vec!["check", &arg, "--scenarios", "-o", "sarif"])] {
            let args: Vec<String> = args.into_iter().map(str::to_string).collect();
            let r = run(helm, &args);
            *timings.entry(format!("{cmd} --scenarios")).or_default() += r.took;
            let what = format!("{name}: chartproof {}", args.join(" "));
            if r.stderr.contains("panicked") || !matches!(r.code, 0 | 1) {
                problems.push(format!("{what}: exit {}: {}", r.code, r.stderr));
                continue;
            }
            let doc: Value = match serde_json::from_str(&r.stdout) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{what}: output is not JSON ({e})"));
                    continue;
                }
            };
            match cmd {
                "validate" => {
                    let all = doc.as_array().map_or(0, Vec::len);
                    let invalid = doc.as_array().into_iter().flatten().filter(|v| v["valid"] == false).count();
                    verdicts.push(format!("{all} scenarios, {invalid} invalid values"));
                }
                _ => {
                    let errs = schema_errors(&sarif_schema, &doc);
                    if !errs.is_empty() {
                        problems.push(format!("{what}: SARIF not valid against the 2.1.0 schema: {errs:?}"));
                    }
                    let runs = doc["runs"].as_array().cloned().unwrap_or_default();
                    let failing = runs.iter().filter(|run| run["results"].as_array().into_iter().flatten().any(|x| x["level"] == "error" && x.get("suppressions").is_none())).count();
                    verdicts.push(format!("{} checked, {failing} with error findings", runs.len()));
                }
            }
        }
        lines.push(format!("- {name}: {}", verdicts.join("; ")));
    }
    lines
}

fn helm_label(helm: &Path) -> String {
    let out = std::process::Command::new(helm).args(["version", "--template", "{{.Version}}"]).output();
    match out {
        Ok(o) if o.status.success() => format!("helm {}", String::from_utf8_lossy(&o.stdout).trim()),
        _ => helm.display().to_string(),
    }
}

fn counted(map: &BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter().map(|(k, n)| if *n > 1 { format!("{k} ×{n}") } else { k.clone() }).collect::<Vec<_>>().join(", ")
}

fn render_table(
    rows: &BTreeMap<String, Row>,
    missing: &[&str],
    helms: &[PathBuf],
    timings: &BTreeMap<String, Duration>,
    total: Duration,
) -> String {
    let mut t = String::new();
    t += "| chart | rules fired at defaults | QoS of default render | failures found by `test` (20 cases) | audit |\n";
    t += "|---|---|---|---|---|\n";
    for (name, r) in rows {
        let (rules, qos) = match &r.unrenderable {
            Some(msg) if msg.contains("missing in charts/") => {
                ("does not render: dependencies missing from charts/".to_string(), "-".to_string())
            }
            Some(_) => ("does not render at its defaults".to_string(), "-".to_string()),
            None => (counted(&r.rules), counted(&r.qos)),
        };
        let test = if missing.contains(&"test") {
            "skipped".to_string()
        } else if r.test_failures.is_empty() && r.test_status.iter().any(|s| s.contains("not renderable")) {
            "not run (chart does not render)".to_string()
        } else if r.test_failures.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({} beyond the defaults)", r.test_failures.join(", "), r.test_beyond_defaults)
        };
        let audit = if r.audit.is_empty() { "skipped".to_string() } else { r.audit.clone() };
        let _ = writeln!(t, "| {name} | {rules} | {qos} | {test} | {audit} |");
    }
    let helm_names: Vec<String> = helms.iter().map(|h| helm_label(h)).collect();
    let source = if missing.contains(&"check") { "the rules engine (library)" } else { "`chartproof check -o json`" };
    let _ = writeln!(t, "\nRun with {}; rules fired and QoS from {source} on the default render with the first helm.", helm_names.join(" and "));
    if !missing.is_empty() {
        let _ = writeln!(t, "Commands not in this build, skipped: {}.", missing.join(", "));
    }
    let times: Vec<String> = timings.iter().map(|(k, d)| format!("{k} {:.1}s", d.as_secs_f64())).collect();
    let _ = writeln!(t, "Time: {:.0}s in all ({}).", total.as_secs_f64(), times.join(", "));
    t
}

/// Workload kinds (group/version, kind) whose pod template the shipped policies read.
const POD_KINDS: &[(&str, &str)] = &[("v1", "Pod"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob")];

/// Independent recount, straight from helm's YAML, of the objects two shipped policies deny:
/// (objects without a non-empty `team` label that required-team-label matches, pod templates with
/// a hostPath volume).
fn recount_team_and_host_path(rendered: &str) -> (usize, usize) {
    let team_kinds = [("v1", "Service"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob")];
    let (mut without_team, mut host_path) = (0, 0);
    for document in serde_yaml::Deserializer::from_str(rendered) {
        let Ok(object) = serde_json::Value::deserialize(document) else { continue };
        let (Some(api_version), Some(kind)) = (object["apiVersion"].as_str(), object["kind"].as_str()) else { continue };
        if team_kinds.contains(&(api_version, kind)) && object["metadata"]["labels"]["team"].as_str().is_none_or(str::is_empty) {
            without_team += 1;
        }
        if POD_KINDS.contains(&(api_version, kind)) {
            let pod = match kind {
                "Pod" => &object["spec"],
                "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                _ => &object["spec"]["template"]["spec"],
            };
            if pod["volumes"].as_array().into_iter().flatten().any(|v| v.get("hostPath").is_some()) {
                host_path += 1;
            }
        }
    }
    (without_team, host_path)
}

/// The shipped `policies/` on every corpus chart's default render in namespace `production` (so
/// production-replicas applies), with both helms: every chart is evaluated, no expression fails to
/// evaluate (nor "cannot evaluate offline"), both helms agree, and the counts of two policies
/// equal an independent recount from helm's output. Writes a table of findings per chart and
/// policy to $CHARTPROOF_CORPUS_POLICY_TABLE (default target/corpus-policies.md).
#[test]
#[ignore = "a corpus run: scripts/corpus (and .ci/run) runs it"]
fn corpus_shipped_policies_on_every_chart() {
    let policy_dir = repo().join("policies");
    let policy_names: Vec<String> = {
        let mut names: Vec<String> = std::fs::read_dir(&policy_dir).unwrap().filter_map(|e| Some(e.ok()?.path().file_stem()?.to_str()?.to_string())).collect();
        names.sort();
        names
    };
    let mut problems = Vec::new();
    let mut table = format!("| chart | objects | {} |\n|---|---|{}\n", policy_names.join(" | "), "---|".repeat(policy_names.len()));
    let charts = corpus_charts();
    let mut evaluated = 0;
    for chart in &charts {
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        let base: Vec<String> = base_values(chart).iter().flat_map(|f| ["-f".to_string(), f.display().to_string()]).collect();
        let mut per_helm: Vec<BTreeMap<String, usize>> = Vec::new();
        let mut objects = 0;
        for helm in helms() {
            let what = format!("{name} with {}", helm_label(&helm));
            let args = [vec!["check".to_string(), chart.display().to_string(), "-n".into(), "production".into(), "--policies".into(), policy_dir.display().to_string()], base.clone(), vec!["-o".into(), "json".into()]].concat();
            let r = run(&helm, &args);
            let Ok(doc) = serde_json::from_str::<Value>(&r.stdout) else {
                problems.push(format!("{what}: exit {}, no JSON report: {}", r.code, r.stderr));
                continue;
            };
            if !matches!(r.code, 0 | 1) {
                problems.push(format!("{what}: exit {}: {}", r.code, r.stderr));
                continue;
            }
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for f in doc["findings"].as_array().into_iter().flatten() {
                let Some(policy) = f["rule"].as_str().and_then(|r| r.strip_prefix("policy/")) else { continue };
                let message = f["message"].as_str().unwrap_or_default();
                if message.contains("cannot evaluate") || message.contains("evaluation error") {
                    problems.push(format!("{what}: policy/{policy} on {} {}: {message}", f["kind"], f["name"]));
                }
                *counts.entry(policy.to_string()).or_default() += 1;
            }
            let rendered = common::helm_template(&helm, chart, &[vec!["--namespace".to_string(), "production".into()], base.clone()].concat());
            let rendered = String::from_utf8_lossy(&rendered.stdout);
            let (without_team, host_path) = recount_team_and_host_path(&rendered);
            let counted = |policy: &str| counts.get(policy).copied().unwrap_or(0);
            if (counted("required-team-label"), counted("no-hostpath")) != (without_team, host_path) {
                problems.push(format!(
                    "{what}: required-team-label {} and no-hostpath {} findings, but the manifests have {without_team} objects without a team label and {host_path} pod templates with hostPath",
                    counted("required-team-label"),
                    counted("no-hostpath")
                ));
            }
            objects = doc["summary"]["resources"].as_u64().unwrap_or(0) as usize;
            per_helm.push(counts);
        }
        if per_helm.len() == helms().len() {
            evaluated += 1;
        }
        if per_helm.windows(2).any(|w| w[0] != w[1]) {
            problems.push(format!("{name}: the helms disagree on the policy findings: {per_helm:?}"));
        }
        let Some(counts) = per_helm.first() else { continue };
        let cells: Vec<String> = policy_names.iter().map(|p| counts.get(p).copied().unwrap_or(0).to_string()).collect();
        let _ = writeln!(table, "| {name} | {objects} | {} |", cells.join(" | "));
    }
    // chart-testing's scenarios (ci/*-values.yaml), each on its own, with the first helm.
    table += "\nScenarios (`check --scenarios -n production --policies policies/`, helm 1 of the list):\n\n";
    for chart in charts.iter().filter(|c| c.join("ci").is_dir()) {
        let name = chart.file_name().unwrap().to_string_lossy().into_owned();
        let args = ["check", &chart.display().to_string(), "--scenarios", "-n", "production", "--policies", &policy_dir.display().to_string(), "-o", "sarif"].map(str::to_string);
        let r = run(&helms()[0], &args);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let runs = doc["runs"].as_array().cloned().unwrap_or_default();
        if !matches!(r.code, 0 | 1) || runs.is_empty() {
            problems.push(format!("{name} --scenarios: exit {}, {} runs: {}", r.code, runs.len(), r.stderr));
            continue;
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for result in runs.iter().flat_map(|run| run["results"].as_array().cloned().unwrap_or_default()) {
            let Some(policy) = result["ruleId"].as_str().and_then(|r| r.strip_prefix("policy/")) else { continue };
            let message = result["message"]["text"].as_str().unwrap_or_default();
            if message.contains("cannot evaluate") || message.contains("evaluation error") {
                problems.push(format!("{name} --scenarios: policy/{policy}: {message}"));
            }
            *counts.entry(policy.to_string()).or_default() += 1;
        }
        let _ = writeln!(table, "- {name}: {} scenarios; {}", runs.len(), counted(&counts));
    }
    let path = std::env::var_os("CHARTPROOF_CORPUS_POLICY_TABLE").map(PathBuf::from).unwrap_or_else(|| repo().join("target/corpus-policies.md"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &table).unwrap();
    eprintln!("{table}\ncorpus: policy table written to {}", path.display());
    assert_eq!(evaluated, charts.len(), "every chart evaluated with every helm:\n{}", problems.join("\n"));
    assert!(problems.is_empty(), "corpus policy run problems:\n{}", problems.join("\n"));
}
