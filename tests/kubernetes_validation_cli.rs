//! `kubernetes-validation` end to end with real helm (every helm in CHARTPROOF_TEST_HELMS): the
//! fixture charts/fixtures/api-refusals is clean by default and each of its 16 toggles gives
//! exactly the API server's refusal, located at the template line; the Kubernetes version of the
//! render decides (sidecars); the rule works where every finding is made (`check`, `diff`'s rule
//! delta, `test`'s property run, which finds a toggled mistake and shrinks it to that one key).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const RULE: &str = "kubernetes-validation";

fn run(helm: &Path, args: &[&str]) -> (i32, Value) {
    let out = Command::cargo_bin("chartproof").unwrap().args(args).args(["--helm", helm.to_str().unwrap(), "-o", "json"]).output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}

/// (template, path, message) of every kubernetes-validation finding of a `check` report.
fn refusals(report: &Value) -> BTreeSet<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == RULE)
        .map(|f| (f["template"].as_str().unwrap_or("").to_string(), f["path"].as_str().unwrap_or("").to_string(), f["message"].as_str().unwrap().to_string()))
        .collect()
}

fn chart() -> String {
    common::chart("fixtures/api-refusals").to_str().unwrap().to_string()
}

/// Each toggle with the template and the API server's message(s) it must give.
const MISTAKES: &[(&str, &str, &[&str])] = &[
    ("longPortName", "deployment.yaml", &["spec.template.spec.containers[0].ports[0].name: Invalid value: \"http-remote-write\": must be no more than 15 characters"]),
    ("mountWithoutVolume", "deployment.yaml", &["spec.template.spec.containers[0].volumeMounts[1].name: Not found: \"cache\""]),
    ("duplicateContainer", "deployment.yaml", &["spec.template.spec.containers[1].name: Duplicate value: \"app\""]),
    ("serviceNameDigit", "service.yaml", &["metadata.name: Invalid value: \"1release-web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
    ("longLabelValue", "deployment.yaml", &["metadata.labels: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaax\": must be no more than 63 characters"]),
    ("cpuRequestAboveLimit", "deployment.yaml", &["spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 500m"]),
    ("probeTwoHandlers", "deployment.yaml", &["spec.template.spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    ("unnamedSecondPort", "service.yaml", &["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
    ("hpaMinAboveMax", "autoscaling.yaml", &["spec.maxReplicas: Invalid value: 4: must be greater than or equal to `minReplicas`"]),
    (
        "pdbBoth",
        "pdb.yaml",
        &["spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}, MaxUnavailable:intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}, ...}: minAvailable and maxUnavailable cannot be both set"],
    ),
    ("volumeTwoSources", "deployment.yaml", &["spec.template.spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"]),
    ("duplicateVolume", "deployment.yaml", &["spec.template.spec.volumes[1].name: Duplicate value: \"config\""]),
    ("containerPort70000", "deployment.yaml", &["spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("jobRestartAlways", "job.yaml", &["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]),
    ("deploymentRestartNever", "deployment.yaml", &["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]),
    (
        "configMapKeySpace",
        "config.yaml",
        &["data[log level]: Invalid value: \"log level\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"],
    ),
];

#[test]
fn defaults_are_clean_and_each_toggle_gives_exactly_the_api_servers_refusal() {
    let chart = chart();
    for helm in common::helms() {
        let (_, report) = run(&helm, &["check", &chart]);
        assert!(refusals(&report).is_empty(), "{}: valid look-alikes (15-character port name, 63-character label value, requests below limits, a StatefulSet mount of its volumeClaimTemplate, one unnamed Service port, @hourly) stay clean: {:?}", helm.display(), refusals(&report));
        for (toggle, template, messages) in MISTAKES {
            let (code, report) = run(&helm, &["check", &chart, "--set", &format!("mistakes.{toggle}=true")]);
            assert_eq!(code, 1, "{toggle}");
            let got = refusals(&report);
            let want: BTreeSet<String> = messages.iter().map(|m| m.to_string()).collect();
            assert_eq!(got.iter().map(|(_, _, m)| m.clone()).collect::<BTreeSet<_>>(), want, "{}: {toggle}", helm.display());
            for (t, path, message) in &got {
                assert_eq!(t, &format!("api-refusals/templates/{template}"), "{toggle}");
                assert!(message.starts_with(&format!("{path}: ")), "the finding's path is the field the message names: {path} / {message}");
            }
        }
    }
}

#[test]
fn findings_are_located_at_the_template_line_of_the_field() {
    let helm = &common::helms()[0];
    let out = Command::cargo_bin("chartproof")
        .unwrap()
        .args(["check", &chart(), "--set", "mistakes.longPortName=true", "-o", "github", "--helm", helm.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(RULE)).unwrap_or_else(|| panic!("{text}"));
    let template = std::fs::read_to_string(common::chart("fixtures/api-refusals/templates/deployment.yaml")).unwrap();
    let name_line = template.lines().position(|l| l.contains("- name: {{ if .Values.mistakes.longPortName }}")).unwrap() + 1;
    assert!(line.contains(&format!("templates/deployment.yaml,line={name_line},")), "{line}");
}

#[test]
fn the_kubernetes_version_of_the_render_decides_sidecars() {
    let chart = chart();
    for helm in common::helms() {
        let (_, newest) = run(&helm, &["check", &chart]);
        assert!(refusals(&newest).is_empty());
        let (_, old) = run(&helm, &["check", &chart, "--kube-version", "1.28"]);
        let messages: Vec<String> = refusals(&old).into_iter().map(|(_, _, m)| m).collect();
        assert_eq!(
            messages,
            ["spec.template.spec.initContainers[0].readinessProbe: Forbidden: must not be set for init containers (the API server accepts the StatefulSet, but refuses every pod its controller creates from this template)"],
            "{}",
            helm.display()
        );
    }
}

#[test]
fn diff_reports_a_refusal_the_new_values_introduce() {
    let dir = tempfile::tempdir().unwrap();
    let new_values = dir.path().join("new.yaml");
    std::fs::write(&new_values, "mistakes:\n  pdbBoth: true\n").unwrap();
    for helm in common::helms() {
        let (_, report) = run(&helm, &["diff", &chart(), "--new-values", new_values.to_str().unwrap()]);
        let introduced: Vec<&Value> = report["findings"]["introduced"].as_array().unwrap().iter().filter(|f| f["rule"] == RULE).collect();
        assert_eq!(introduced.len(), 1, "{}: {introduced:?}", helm.display());
        assert_eq!(introduced[0]["kind"], "PodDisruptionBudget");
    }
}

#[test]
fn a_property_run_finds_refusals_reachable_only_under_some_values_and_shrinks_them() {
    for helm in common::helms() {
        let (code, report) = run(&helm, &["test", &chart(), "--cases", "30", "--seed", "1", "--no-save", "--cases-dir", "/nonexistent-cases"]);
        assert_eq!(code, 1);
        let found: Vec<&Value> = report["failures"].as_array().unwrap().iter().filter(|f| f["rule"] == RULE).collect();
        assert!(!found.is_empty(), "{}: {report}", helm.display());
        for f in found {
            // Shrunk to the one toggle responsible, whose refusal is the failure's message.
            let toggles = f["values"]["mistakes"].as_object().unwrap_or_else(|| panic!("{f}"));
            assert_eq!(f["values"].as_object().unwrap().len(), 1, "{f}");
            assert_eq!(toggles.len(), 1, "{f}");
            let (toggle, value) = toggles.iter().next().unwrap();
            assert_eq!(value, &Value::Bool(true));
            let (_, _, messages) = MISTAKES.iter().find(|(t, _, _)| t == toggle).unwrap();
            let message = f["message"].as_str().unwrap();
            assert!(messages.iter().any(|m| message.starts_with(m)), "{toggle}: {message}");
        }
    }
}

#[test]
fn unittest_check_reports_refusals_of_unit_test_renders_but_not_its_placeholder_names() {
    let tmp = common::copy_chart(&common::chart("fixtures/api-refusals"));
    common::write_files(
        tmp.path(),
        &[("tests/pdb_test.yaml", "suite: pdb\ntemplates:\n  - templates/pdb.yaml\ntests:\n  - it: renders a PodDisruptionBudget\n    set:\n      mistakes.pdbBoth: true\n    asserts:\n      - isKind:\n          of: PodDisruptionBudget\n")],
    );
    for helm in common::helms() {
        let out = Command::cargo_bin("chartproof").unwrap().args(["unittest", tmp.path().to_str().unwrap(), "--check", "--helm", helm.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let refusals: Vec<&str> = text.lines().filter(|l| l.contains(RULE)).collect();
        assert_eq!(refusals.len(), 1, "{}: only the PDB's refusal, not helm-unittest's RELEASE-NAME: {text}", helm.display());
        assert!(refusals[0].contains("minAvailable and maxUnavailable cannot be both set"), "{}", refusals[0]);
    }
}

/// In a template that renders two objects (`---` between them), a refusal of the second is
/// located in the second document, not at the first one's field of the same path.
#[test]
fn findings_in_multi_document_templates_are_located_in_their_own_document() {
    let tmp = common::copy_chart(&common::chart("fixtures/api-refusals"));
    let template = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-first\nspec:\n  selector: {app: web}\n  ports:\n    - name: http\n      port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-second\nspec:\n  selector: {app: web}\n  ports:\n    - name: http\n      port: 70000\n";
    std::fs::write(tmp.path().join("templates/two-services.yaml"), template).unwrap();
    let second_port_line = template.lines().position(|l| l.contains("70000")).unwrap() + 1;
    for helm in common::helms() {
        let out = Command::cargo_bin("chartproof").unwrap().args(["check", tmp.path().to_str().unwrap(), "-o", "github", "--helm", helm.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let found: Vec<&str> = text.lines().filter(|l| l.contains(RULE)).collect();
        // `port` and `targetPort` (defaulted to the port, as the API server defaults it).
        assert_eq!(found.len(), 2, "{}: {text}", helm.display());
        let port = found.iter().find(|l| l.contains("spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive")).unwrap();
        assert!(port.contains(&format!("templates/two-services.yaml,line={second_port_line},")), "{}: {port}", helm.display());
        let target = found.iter().find(|l| l.contains("spec.ports[0].targetPort: Invalid value: 70000")).unwrap();
        let ports_line = second_port_line - 2;
        assert!(target.contains(&format!("templates/two-services.yaml,line={ports_line},")), "the second document's `ports:`, as targetPort is not written: {target}");
    }
}
