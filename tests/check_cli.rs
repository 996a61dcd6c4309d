//! `chartproof check` and `chartproof rules` against real helm (every helm in
//! CHARTPROOF_TEST_HELMS): one fixture per rule derived from `charts/fixtures/rules-clean` by a
//! single edit, the reference chart, output formats, suppression, and the corpus.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// One edit of the clean fixture: (file under the chart, text to find, replacement).
type Edit = (&'static str, &'static str, &'static str);

/// Rule id, the edits that make the clean release violate exactly that rule, and whether the
/// finding is an error (exit 1) or not (exit 0).
fn fixtures() -> Vec<(&'static str, Vec<Edit>, bool)> {
    const DEPLOY: &str = "templates/deployment.yaml";
    vec![
        ("selector-mismatch", vec![(DEPLOY, "      app: web\n  strategy:", "      app: web\n    matchExpressions:\n      - {key: tier, operator: In, values: [back]}\n  strategy:")], true),
        ("service-selector", vec![("templates/service.yaml", "    app: web", "    app: api")], true),
        ("service-target-port", vec![("templates/service.yaml", "targetPort: http", "targetPort: htttp")], true),
        ("probe-liveness", vec![(DEPLOY, "          livenessProbe:\n            httpGet:\n              path: /healthz\n              port: http\n", "")], true),
        ("probe-readiness", vec![(DEPLOY, "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: http\n", "")], true),
        ("probe-distinct", vec![(DEPLOY, "path: /readyz", "path: /healthz")], false),
        ("resources-requests", vec![(DEPLOY, "              cpu: 100m\n", "")], true),
        ("resources-limits", vec![(DEPLOY, "            limits:\n              memory: 512Mi\n", "")], true),
        ("qos-best-effort", vec![(".chartproof.yaml", "", "minimumQos: Guaranteed\n")], true),
        ("gomemlimit", vec![(DEPLOY, "value: 460MiB", "value: 460Mi")], true),
        ("run-as-non-root", vec![(DEPLOY, "runAsUser: 65532", "runAsUser: 0")], true),
        ("image-digest", vec![(DEPLOY, "web:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "web:latest")], true),
        ("prometheus-scrape", vec![(DEPLOY, "prometheus.io/port: \"8080\"", "prometheus.io/port: \"9090\"")], false),
        ("rolling-update", vec![(DEPLOY, "maxUnavailable: 0", "maxUnavailable: 100%")], true),
        ("graceful-shutdown", vec![(DEPLOY, "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 8")], true),
        // Neither policy selects the web pods any more: they are not isolated for ingress.
        ("networkpolicy-default-deny", vec![("templates/networkpolicy.yaml", "  podSelector: {}", "  podSelector: {matchLabels: {app: other}}"), ("templates/networkpolicy.yaml", "      app: web\n  policyTypes:", "      app: api\n  policyTypes:")], true),
        ("networkpolicy-dns", vec![("templates/networkpolicy.yaml", "        - port: 53\n          protocol: UDP\n", "")], true),
        ("secret-in-configmap", vec![("templates/config.yaml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  DB_PASSWORD: hunter2hunter2\n")], true),
        ("default-credential", vec![("templates/admin-secret.yaml", "", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-admin\nstringData:\n  ADMIN_PASSWORD: {{ .Values.adminPassword | default \"Harbor12345\" | quote }}\n")], true),
        ("service-nodeport", vec![("templates/service.yaml", "type: ClusterIP", "type: NodePort")], false),
        ("dangling-reference", vec![(DEPLOY, "serviceAccountName: {{ .Release.Name }}-web", "serviceAccountName: shared-sa")], false),
        ("duplicate-resource", vec![("templates/config.yaml", "---\n", "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-web\n---\n")], true),
        ("kubernetes-schema", vec![(DEPLOY, "imagePullPolicy: IfNotPresent", "imagePullPolicyy: IfNotPresent")], true),
        ("kubernetes-validation", vec![("templates/config.yaml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  \"LOG LEVEL\": debug\n")], true),
        ("ignore-annotation", vec![("templates/service.yaml", "  name: {{ .Release.Name }}-web\n", "  name: {{ .Release.Name }}-web\n  annotations:\n    chartproof.io/ignore: service-nodeprt\n")], false),
        ("render-error", vec![(DEPLOY, "apiVersion: apps/v1\n", "{{ fail \"the fixture fails on purpose\" }}\napiVersion: apps/v1\n")], true),
    ]
}

/// Copy the clean fixture and apply the edits (an empty `find` appends to a new file).
fn derived_chart(edits: &[Edit]) -> tempfile::TempDir {
    let dir = common::copy_chart(&common::chart("fixtures/rules-clean"));
    for (file, find, replace) in edits {
        let path = dir.path().join(file);
        if find.is_empty() {
            std::fs::write(&path, replace).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(find), "fixture edit for {file} does not apply: {find:?}");
        std::fs::write(&path, text.replacen(find, replace, 1)).unwrap();
    }
    dir
}

fn check_json(helm: &Path, chart: &Path, extra: &[&str]) -> (i32, Value) {
    let out = common::chartproof(helm).arg("check").arg(chart).args(["-o", "json"]).args(extra).output().unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (code, json)
}

fn rule_ids(report: &Value) -> BTreeSet<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect()
}

#[test]
fn clean_fixture_and_reference_chart_pass() {
    for helm in common::helms() {
        for chart in ["fixtures/rules-clean", "go-service"] {
            let (code, report) = check_json(&helm, &common::chart(chart), &[]);
            assert_eq!(rule_ids(&report), BTreeSet::new(), "{chart} with {}: {report:#}", helm.display());
            assert_eq!(code, 0);
            assert_eq!(report["summary"]["passed"], true);
            assert!(report["qos"].as_object().unwrap().values().all(|q| q == "Burstable" || q == "Guaranteed"));
        }
    }
}

#[test]
fn each_rule_fixture_triggers_exactly_that_rule() {
    let helms = common::helms();
    for (rule, edits, error) in fixtures() {
        let chart = derived_chart(&edits);
        for helm in &helms {
            let (code, report) = check_json(helm, chart.path(), &[]);
            let hit = rule_ids(&report);
            assert_eq!(hit, BTreeSet::from([rule.to_string()]), "fixture {rule} with {}: {report:#}", helm.display());
            assert_eq!(code, if error { 1 } else { 0 }, "exit code of fixture {rule}");
            let finding = &report["findings"][0];
            assert!(finding["template"].as_str().is_some_and(|t| t.starts_with("rules-clean/templates/")) || rule == "networkpolicy-default-deny", "{finding}");
            assert!(finding["hint"].is_string(), "{finding}");
        }
    }
    // Every rule of the catalog has a fixture here.
    let covered: BTreeSet<&str> = fixtures().iter().map(|(r, _, _)| *r).collect();
    let catalog: BTreeSet<&str> = chartproof::rules::catalog::RULES.iter().map(|r| r.id).collect();
    assert_eq!(covered, catalog);
}

#[test]
fn render_error_names_helm_template_and_message() {
    let chart = derived_chart(&[("templates/deployment.yaml", "apiVersion: apps/v1\n", "{{ fail \"the fixture fails on purpose\" }}\napiVersion: apps/v1\n")]);
    for helm in common::helms() {
        let (code, report) = check_json(&helm, chart.path(), &[]);
        assert_eq!(code, 1);
        let f = &report["findings"][0];
        assert_eq!(f["template"], "rules-clean/templates/deployment.yaml");
        assert!(f["message"].as_str().unwrap().contains("the fixture fails on purpose"), "{f}");
        assert!(f["message"].as_str().unwrap().contains("line 1"), "{f}");
    }
}

#[test]
fn kube_version_selects_the_schema() {
    // resource.k8s.io/v1 DeviceClass is served from Kubernetes 1.34 on.
    let chart = derived_chart(&[(
        "templates/config.yaml",
        "---\n",
        "---\napiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata:\n  name: {{ .Release.Name }}-gpu\nspec: {}\n---\n",
    )]);
    for helm in common::helms() {
        let (code, report) = check_json(&helm, chart.path(), &["--kube-version", "1.34"]);
        assert_eq!((code, rule_ids(&report)), (0, BTreeSet::new()), "{report:#}");
        let (code, report) = check_json(&helm, chart.path(), &["--kube-version", "1.31"]);
        assert_eq!(code, 1);
        assert!(report["findings"][0]["message"].as_str().unwrap().contains("not served by Kubernetes 1.31"), "{report:#}");
    }
}

#[test]
fn suppression_annotation_is_counted_and_listed() {
    let chart = derived_chart(&[(
        "templates/service.yaml",
        "  name: {{ .Release.Name }}-web\n",
        "  name: {{ .Release.Name }}-web\n  annotations:\n    chartproof.io/ignore: \"service-nodeport; lab cluster without load balancer\"\n",
    ), ("templates/service.yaml", "type: ClusterIP", "type: NodePort")]);
    for helm in common::helms() {
        let (code, report) = check_json(&helm, chart.path(), &[]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(rule_ids(&report), BTreeSet::new());
        assert_eq!(report["summary"]["suppressed"], 1);
        assert_eq!(report["suppressed"][0]["rule"], "service-nodeport");
        assert_eq!(report["suppressed"][0]["reason"], "lab cluster without load balancer");
    }
}

#[test]
fn config_file_overrides_and_errors() {
    let chart = derived_chart(&[("templates/service.yaml", "type: ClusterIP", "type: NodePort")]);
    let helm = &common::helms()[0];
    let cfg = chart.path().join("strict.yaml");
    std::fs::write(&cfg, "rules:\n  service-nodeport: error\n").unwrap();
    let (code, report) = check_json(helm, chart.path(), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(report["findings"][0]["severity"], "error");
    std::fs::write(&cfg, "rules:\n  service-nodeprt: error\n").unwrap();
    common::chartproof(helm)
        .arg("check")
        .arg(chart.path())
        .args(["--config", cfg.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("service-nodeprt").and(predicates::str::contains("strict.yaml")));
    common::chartproof(helm).args(["check", "/nonexistent/chart"]).assert().code(2).stderr(predicates::str::contains("chart not found"));
    common::chartproof(helm).arg("check").arg(chart.path()).args(["--kube-version", "latest"]).assert().code(2).stderr(predicates::str::contains("--kube-version"));
}

use predicates::prelude::PredicateBooleanExt;

#[test]
fn output_formats() {
    let chart = derived_chart(&[(
        "templates/deployment.yaml",
        "web:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "web:latest",
    )]);
    let helm = &common::helms()[0];
    let run = |fmt: &str| {
        let out = common::chartproof(helm).arg("check").arg(chart.path()).args(["-o", fmt]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{fmt}");
        String::from_utf8(out.stdout).unwrap()
    };
    let human = run("human");
    assert!(human.contains("Deployment/release-web  (rules-clean/templates/deployment.yaml)"), "{human}");
    assert!(human.contains("image-digest") && human.contains("fix: "));
    assert!(human.contains("Burstable"));
    assert!(!human.contains('\x1b'), "no colors when not a TTY");
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Locations point at the chart's real files, not at helm's `<chart name>/templates/…`.
    let deployment = chart.path().join("templates/deployment.yaml");
    assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], format!("file://{}", deployment.display()));
    let github = run("github");
    assert!(github.starts_with(&format!("::error file={},line=", deployment.display())) && github.contains(",title=image-digest"), "{github}");
    let junit = run("junit");
    assert!(junit.contains("<testsuites") && junit.contains("Deployment/release-web: image-digest") && junit.contains("<failure"), "{junit}");
    assert!(junit.contains("Service/release-web: all rules"));
}

#[test]
fn rules_command_lists_and_explains() {
    let helm = &common::helms()[0];
    let out = common::chartproof(helm).arg("rules").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for r in chartproof::rules::catalog::RULES {
        assert!(text.contains(r.id), "{} missing from `chartproof rules`", r.id);
    }
    common::chartproof(helm).args(["rules", "gomemlimit"]).assert().success().stdout(predicates::str::contains("SOP 6.0").and(predicates::str::contains("Fix:")));
    common::chartproof(helm).args(["rules", "no-such-rule"]).assert().code(2);
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn corpus_checks_without_crash_or_false_selector_findings() {
    for helm in common::helms() {
        for chart in common::corpus_charts() {
            let name = chart.file_name().unwrap().to_str().unwrap().to_string();
            let values = chart.join("ci/default-values.yaml");
            let extra: Vec<&str> = if name == "loki" { vec!["-f", values.to_str().unwrap()] } else { vec![] };
            let (code, report) = check_json(&helm, &chart, &extra);
            assert!(code == 0 || code == 1, "{name}: exit {code}");
            let bad: Vec<&Value> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| matches!(f["rule"].as_str(), Some("selector-mismatch" | "service-selector" | "service-target-port")))
                .collect();
            assert!(bad.is_empty(), "{name} with {}: {bad:#?}", helm.display());
        }
    }
}

/// Findings of one rule on `charts/fixtures/true-findings`, as `Kind/name path`, sorted.
fn true_findings(helm: &Path, rule: &str) -> Vec<String> {
    let (_, report) = check_json(helm, &common::chart("fixtures/true-findings"), &[]);
    let mut hits: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| format!("{}/{} {}", f["kind"].as_str().unwrap(), f["name"].as_str().unwrap(), f["path"].as_str().unwrap_or("")))
        .collect();
    hits.sort();
    hits
}

#[test]
fn per_replica_services_of_a_statefulset_select_its_pods() {
    for helm in common::helms() {
        assert_eq!(true_findings(&helm, "service-selector"), ["Service/release-db-3 spec.selector"], "{}", helm.display());
        // The pods the per-replica Services select are checked for their ports.
        assert_eq!(true_findings(&helm, "service-target-port"), ["Service/release-db-1 spec.ports[0].targetPort"], "{}", helm.display());
    }
}

#[test]
fn null_fields_are_unset_fields_for_the_schema() {
    for helm in common::helms() {
        // maxSurge: null, minAvailable: null, annotations: null, resources: null are valid; a list where an IntOrString belongs is not.
        assert_eq!(true_findings(&helm, "kubernetes-schema"), ["PodDisruptionBudget/release-db spec.maxUnavailable"], "{}", helm.display());
    }
}

#[test]
fn malformed_image_references_are_reported_as_malformed() {
    for helm in common::helms() {
        let (_, report) = check_json(&helm, &common::chart("fixtures/true-findings"), &[]);
        let mut images: Vec<(String, String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "image-digest")
            .map(|f| (f["path"].as_str().unwrap().to_string(), f["severity"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
            .collect();
        images.sort();
        let paths: Vec<&str> = images.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["spec.template.spec.containers[name=no-algorithm].image", "spec.template.spec.containers[name=short-digest].image"], "{}", helm.display());
        for (_, severity, message) in &images {
            assert_eq!(severity, "error");
            assert!(message.starts_with("malformed image reference") && message.contains("InvalidImageName") && !message.contains(":latest"), "{message}");
        }
    }
}

#[test]
fn objects_the_release_hooks_create_are_not_dangling() {
    for helm in common::helms() {
        // The hook Job may create Secrets, not ConfigMaps.
        assert_eq!(true_findings(&helm, "dangling-reference"), ["Deployment/release-api spec.template.spec.volumes[name=config].configMap.name"], "{}", helm.display());
    }
}

#[test]
fn unknown_rule_ids_in_the_ignore_annotation_are_located_warnings() {
    for helm in common::helms() {
        let (_, report) = check_json(&helm, &common::chart("fixtures/true-findings"), &[]);
        let findings = report["findings"].as_array().unwrap();
        let unknown: Vec<&Value> = findings.iter().filter(|f| f["rule"] == "ignore-annotation").collect();
        assert_eq!(unknown.len(), 1, "{}: {unknown:#?}", helm.display());
        let f = unknown[0];
        assert_eq!((f["severity"].as_str(), f["template"].as_str()), (Some("warning"), Some("true-findings/templates/statefulset.yaml")));
        let message = f["message"].as_str().unwrap();
        assert!(message.contains("`probe-livness`, which is no rule id (did you mean `probe-liveness`?)") && message.ends_with("(line 10)"), "{message}");
        // The misspelt rule is not suppressed; the rule named correctly next to it is.
        assert!(findings.iter().any(|f| f["rule"] == "probe-liveness" && f["name"] == "release-db"));
        assert!(report["suppressed"].as_array().unwrap().iter().any(|s| s["rule"] == "probe-readiness" && s["name"] == "release-db"));
    }
}

#[test]
fn a_document_that_is_not_an_object_is_located_at_its_template_line_and_marks_findings_incomplete() {
    let chart = tempfile::tempdir().unwrap();
    common::write_files(
        chart.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: nokind\nversion: 0.1.0\n"),
            ("templates/x.yaml", "# a comment\n{{- if true }}\nfoo: bar\nlist:\n  - {{ .Release.Name }}\n{{- end }}\n"),
        ],
    );
    for helm in common::helms() {
        let (code, report) = check_json(&helm, chart.path(), &[]);
        assert_eq!(code, 1, "{report}");
        let findings = report["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{report}");
        let f = &findings[0];
        assert_eq!(f["template"], "nokind/templates/x.yaml");
        let message = f["message"].as_str().unwrap();
        assert!(message.contains("line 3 of the template"), "{message}");
        assert!(message.contains("incomplete"), "{message}");
    }
}

#[test]
fn renders_answer_capabilities_as_a_cluster_of_the_checked_version_would() {
    // Offline, helm says no to `Has "policy/v1/PodDisruptionBudget"` (it lists group/versions
    // only); a cluster serving it says yes, and the chart must render policy/v1 there.
    const PDB: &str = "{{- if .Capabilities.APIVersions.Has \"policy/v1/PodDisruptionBudget\" }}\napiVersion: policy/v1\n{{- else }}\napiVersion: policy/v1beta1\n{{- end }}\nkind: PodDisruptionBudget\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: web\n";
    let chart = derived_chart(&[("templates/pdb.yaml", "", PDB)]);
    for helm in common::helms() {
        for version in [None, Some("1.30")] {
            let extra: Vec<&str> = version.map(|v| vec!["--kube-version", v]).unwrap_or_default();
            let (code, report) = check_json(&helm, chart.path(), &extra);
            assert_eq!(code, 0, "{} {version:?}: {report:#}", helm.display());
            assert!(rule_ids(&report).is_empty(), "{} {version:?}: {report:#}", helm.display());
        }
        // helm itself, offline, takes the old branch: the reason for the above.
        let out = common::helm_template(&helm, chart.path(), &[]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("apiVersion: policy/v1beta1"), "{}", helm.display());
    }
}
