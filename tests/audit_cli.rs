//! `chartproof audit` from the command line: lists, exit codes, JSON against its schema, and a
//! check with real helm that every key reported unused really changes nothing in the render.

mod common;

use std::path::Path;

use common::{chart, chartproof, copy_chart, corpus, corpus_charts, helms, repo, write_files};
use serde_json::Value;

fn audit_json(chart_dir: &Path) -> (i32, Value) {
    let helm = &helms()[0];
    let out = chartproof(helm).arg("audit").arg(chart_dir).args(["-o", "json"]).output().unwrap();
    let code = out.status.code().expect("exited, not killed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}: {stderr}", chart_dir.display());
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {stderr}", chart_dir.display()));
    (code, json)
}

fn assert_valid_report(json: &Value) {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schemas/audit-report.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "audit JSON does not match schemas/audit-report.schema.json: {errors:?}");
}

fn unused_keys(json: &Value) -> Vec<String> {
    json["unused"].as_array().unwrap().iter().map(|u| u["key"].as_str().unwrap().to_string()).collect()
}

#[test]
fn human_report_lists_keys_with_file_and_line_and_exits_1() {
    let helm = &helms()[0];
    let out = chartproof(helm).arg("audit").arg(chart("fixtures/audit-scopes")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "values.yaml:6  image.unusedPullPolicy",
        "values.yaml:33  deadMap",
        "templates/deployment.yaml:33  undeclaredKey",
        "templates/deployment.yaml:37  undeclaredWithDefault, has a default in the template",
        "templates/deployment.yaml:35  nullKey",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn reference_chart_has_no_dead_or_undeclared_keys() {
    let (code, json) = audit_json(&chart("go-service"));
    assert_valid_report(&json);
    assert_eq!(code, 0, "{json:#}");
    assert!(unused_keys(&json).is_empty());
    assert!(json["undeclared"].as_array().unwrap().is_empty());
}

#[test]
fn reference_chart_with_a_dead_key_and_an_undeclared_read_exits_1() {
    let tmp = copy_chart(&chart("go-service"));
    let values = std::fs::read_to_string(tmp.path().join("values.yaml")).unwrap();
    write_files(
        tmp.path(),
        &[
            ("values.yaml", &format!("{values}\nleftover:\n  flag: true\n")),
            ("templates/extra.yaml", "{{- if .Values.featureX }}\nkind: ConfigMap\n{{- end }}\n"),
        ],
    );
    let (code, json) = audit_json(tmp.path());
    assert_valid_report(&json);
    assert_eq!(code, 1);
    assert_eq!(unused_keys(&json), ["leftover"]);
    assert_eq!(json["undeclared"][0]["key"], "featureX");
    assert_eq!(json["undeclared"][0]["file"], "templates/extra.yaml");
    assert_eq!(json["undeclared"][0]["line"], 1);
}

#[test]
fn missing_chart_is_unusable_input() {
    let helm = &helms()[0];
    let out = chartproof(helm).args(["audit", "/nonexistent/chart"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chart not found"));
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn every_corpus_chart_audits_without_crashing_and_with_valid_json() {
    for c in corpus_charts() {
        let (code, json) = audit_json(&c);
        assert!(code == 0 || code == 1, "{}: exit {code}", c.display());
        assert_valid_report(&json);
    }
}

/// Render with helm, with `--set`-free overrides from a values file; None when helm fails.
fn render(helm: &Path, chart_dir: &Path, values: Option<&Path>) -> Option<String> {
    let mut cmd = std::process::Command::new(helm);
    cmd.args(["template", "release"]).arg(chart_dir).arg("--skip-schema-validation");
    if let Some(v) = values {
        cmd.arg("-f").arg(v);
    }
    let out = cmd.output().unwrap();
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
}

/// Every key audit calls unused can be set to anything without changing what helm renders.
fn assert_unused_keys_change_nothing(chart_dir: &Path) -> usize {
    let (_, json) = audit_json(chart_dir);
    let unused = unused_keys(&json);
    for helm in helms() {
        let base = render(&helm, chart_dir, None).unwrap_or_else(|| panic!("{} renders at defaults", chart_dir.display()));
        for key in &unused {
            let mut v = Value::String("chartproof-unused-sentinel".into());
            for seg in key.rsplit('.') {
                v = serde_json::json!({ seg: v });
            }
            let tmp = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(tmp.path(), serde_json::to_string(&v).unwrap()).unwrap();
            let changed = render(&helm, chart_dir, Some(tmp.path()));
            assert_eq!(
                changed.as_deref(),
                Some(base.as_str()),
                "{}: setting unused key {key} changed the render with {}",
                chart_dir.display(),
                helm.display()
            );
        }
    }
    unused.len()
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn unused_keys_really_change_nothing_in_real_renders() {
    let mut checked = 0;
    for dir in [chart("fixtures/audit-scopes"), chart("fixtures/audit-helpers"), chart("fixtures/audit-subchart")] {
        checked += assert_unused_keys_change_nothing(&dir);
    }
    // Corpus charts whose default render is deterministic and complete.
    for name in ["kube-state-metrics", "traefik", "cert-manager", "prometheus-node-exporter", "ingress-nginx"] {
        checked += assert_unused_keys_change_nothing(&corpus(name));
    }
    assert!(checked >= 10, "only {checked} unused keys were checked");
}

#[test]
fn library_helper_keys_under_undecidable_conditions_are_maybe_read_not_undeclared() {
    let (code, json) = audit_json(&chart("fixtures/audit-library"));
    assert_valid_report(&json);
    let listed = |field: &str| -> Vec<String> { json[field].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap().to_string()).collect() };
    // Root `resources` is read only for a section name the chart never passes: not listed at all.
    assert_eq!(listed("undeclared"), ["server.tier"]);
    assert_eq!(listed("maybe_read"), ["server.enabled", "worker.replicaCount"]);
    assert_eq!(code, 1, "server.tier is a real undeclared input");
    let helm = &helms()[0];
    let text = String::from_utf8(chartproof(helm).arg("audit").arg(chart("fixtures/audit-library")).output().unwrap().stdout).unwrap();
    assert!(text.contains("by library chart helpers under conditions the reader cannot decide") && text.contains("charts/lib/templates/_warnings.tpl:16  server.enabled"), "{text}");
}

#[test]
fn keys_with_dots_are_printed_the_same_unambiguous_way_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: dotted\nversion: 0.1.0\n"),
            ("values.yaml", "configs:\n  params:\n    server.insecure: false\n    server.basehref: /\n"),
            ("templates/cm.yaml", "{{ index .Values.configs.params \"server.insecure\" }}{{ index .Values.configs \"cm.extra\" }}\n"),
        ],
    );
    let (code, json) = audit_json(dir.path());
    assert_valid_report(&json);
    assert_eq!(code, 1);
    assert_eq!(unused_keys(&json), [r#"configs.params["server.basehref"]"#]);
    assert_eq!(json["undeclared"][0]["key"], r#"configs["cm.extra"]"#);
    let helm = &helms()[0];
    let text = String::from_utf8(chartproof(helm).arg("audit").arg(dir.path()).output().unwrap().stdout).unwrap();
    assert!(text.contains(r#"values.yaml:4  configs.params["server.basehref"]"#) && text.contains(r#"templates/cm.yaml:1  configs["cm.extra"]"#), "{text}");
}

fn listed(json: &Value, list: &str) -> Vec<String> {
    json[list].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap().to_string()).collect()
}

/// Issue 19 item 7: a use that does not run at the defaults (its `if` is false there, a `default`
/// whose value is set, the branch `ternary … (empty …)` does not take, a comparison) is not
/// "renders empty"; a use that runs and prints a missing key still is. Checked against real helm.
#[test]
fn renders_empty_reasons_from_what_runs_at_the_defaults() {
    let dir = chart("fixtures/audit-empty-guards");
    let (_, json) = audit_json(&dir);
    assert_valid_report(&json);
    assert_eq!(listed(&json, "renders_empty"), ["realMissing", "unguardedMissing"], "{json:#}");
    for helm in helms() {
        let out = render(&helm, &dir, None).expect("renders at the defaults");
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        assert!(lines.contains(&"real:") && lines.contains(&"alsoReal:"), "the reported keys render empty: {out}");
        assert!(out.contains("name: \"main\"") && out.contains("flag: \"on\"") && !out.contains("pdb:") && !out.contains("extra:"), "the others do not render there: {out}");
    }
}

/// Issue 19 item 7: keys read only through `tpl` of a file are maybe read, never unused; a key
/// nothing reads still is unused (and really changes nothing, on both helms).
#[test]
fn keys_behind_tpl_of_a_file_are_maybe_read_not_unused() {
    let dir = chart("fixtures/audit-unseen-tpl");
    let (_, json) = audit_json(&dir);
    assert_valid_report(&json);
    assert_eq!(unused_keys(&json), ["reallyUnused"], "{json:#}");
    assert_eq!(listed(&json, "maybe_read"), ["config"], "{json:#}");
    assert_eq!(assert_unused_keys_change_nothing(&dir), 1);
}

/// Issue 19 item 7: a subchart packaged as a .tgz in charts/ has its templates read, so the
/// parent's values under its key are used; a key the subchart does not read stays unused.
#[test]
fn packaged_subchart_templates_are_read() {
    let dir = chart("fixtures/audit-packaged-subchart");
    let (_, json) = audit_json(&dir);
    assert_valid_report(&json);
    assert_eq!(unused_keys(&json), ["sub.notReadBySub"], "{json:#}");
    assert_eq!(assert_unused_keys_change_nothing(&dir), 1);
}
