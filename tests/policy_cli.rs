//! `--policies`: the shipped ValidatingAdmissionPolicies (`policies/`) evaluated by `check` and
//! `test` on `charts/go-service` with every helm in CHARTPROOF_TEST_HELMS; configuration of
//! policy rule ids; policy files that do not compile are unusable input.

mod common;

use std::path::Path;

use serde_json::Value;

fn policies(name: &str) -> String {
    common::repo().join("policies").join(name).display().to_string()
}

/// Run chartproof with `args`; (exit code, stdout as JSON or Null, stderr).
fn run(helm: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = common::chartproof(helm).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (out.status.code().unwrap_or(-1), serde_json::from_str(&stdout).unwrap_or(Value::Null), String::from_utf8_lossy(&out.stderr).to_string())
}

/// (rule, kind, severity) of each finding, in report order.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    let field = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_string();
    report["findings"].as_array().unwrap().iter().map(|f| (field(f, "rule"), field(f, "kind"), field(f, "severity"))).collect()
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn check_go_service_against_the_shipped_policies() {
    let chart = common::chart("go-service");
    let chart = chart.to_str().unwrap();
    let all = policies("");
    for helm in common::helms() {
        let (code, report, stderr) = run(&helm, &["check", chart, "--policies", &all, "-o", "json"]);
        assert_eq!(code, 1, "{stderr}");
        let team = "policy/required-team-label";
        assert_eq!(findings(&report), owned(&[(team, "Deployment", "error"), (team, "Service", "error")]), "{report:#}");
        // In a production namespace one replica is too few (params of production-replicas).
        let (code, report, stderr) = run(&helm, &["check", chart, "--policies", &all, "-n", "production", "--set", "replicaCount=1", "-o", "json"]);
        assert_eq!(code, 1, "{stderr}");
        let replicas = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "policy/production-replicas").expect("production-replicas finding");
        assert_eq!(replicas["message"], "replicas is 1 in production namespace production; at least 2 required (reason: Invalid) (params: production-replicas)");
        assert_eq!(replicas["template"], "go-service/templates/deployment.yaml");
        // Without --policies, nothing of this.
        let (code, report, _) = run(&helm, &["check", chart, "-o", "json"]);
        assert_eq!((code, findings(&report)), (0, vec![]));
    }
}

#[test]
fn policy_rule_ids_follow_the_config() {
    let chart = common::chart("go-service");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chartproof.yaml");
    std::fs::write(&config, "rules:\n  policy/required-team-label: warning\n").unwrap();
    let helm = &common::helms()[0];
    let args = ["check", chart.to_str().unwrap(), "--policies", &policies("required-team-label.yaml"), "--config", config.to_str().unwrap(), "-o", "json"];
    let (code, report, stderr) = run(helm, &args);
    assert_eq!(code, 0, "{stderr}");
    let team = "policy/required-team-label";
    assert_eq!(findings(&report), owned(&[(team, "Deployment", "warning"), (team, "Service", "warning")]));
    std::fs::write(&config, "rules:\n  policy/required-team-label: off\n").unwrap();
    let (code, report, _) = run(helm, &args);
    assert_eq!((code, findings(&report)), (0, vec![]));
}

#[test]
fn property_run_finds_and_shrinks_a_policy_violation() {
    let chart = common::chart("go-service");
    for helm in common::helms() {
        let args = ["test", chart.to_str().unwrap(), "--policies", &policies("production-replicas.yaml"), "-n", "production", "--cases", "30", "--no-save", "-o", "json"];
        let (code, report, stderr) = run(&helm, &args);
        assert_eq!(code, 1, "{stderr}");
        let failures = report["failures"].as_array().unwrap();
        let replicas: Vec<&Value> = failures.iter().filter(|f| f["rule"] == "policy/production-replicas").collect();
        assert_eq!(replicas.len(), 1, "{report:#}");
        assert_eq!(replicas[0]["values"], serde_json::json!({"replicaCount": 1}), "shrunk to the one key: {report:#}");
    }
}

#[test]
fn policies_that_do_not_compile_are_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(policies("required-team-label.yaml")).unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, text.replace("object.metadata.labels.team != ''", "object.metadata.labels.team != ")).unwrap();
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(&unknown, text.replace("has(object.metadata.labels)", "has(obj.metadata.labels)")).unwrap();
    let helm = &common::helms()[0];
    let chart = common::chart("go-service");
    let (code, _, stderr) = run(helm, &["check", chart.to_str().unwrap(), "--policies", broken.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{}: ValidatingAdmissionPolicy required-team-label: validations[0].expression: expression `", broken.display())), "{stderr}");
    assert!(stderr.contains("at column 100: Syntax error"), "{stderr}");
    let (code, _, stderr) = run(helm, &["check", chart.to_str().unwrap(), "--policies", unknown.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("at column 5: undeclared reference to `obj`"), "{stderr}");
}

#[test]
fn unbound_policies_run_with_policy_unbound() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(policies("required-team-label.yaml")).unwrap();
    let policy_only = dir.path().join("policy-only.yaml");
    std::fs::write(&policy_only, text.split("\n---\n").next().unwrap()).unwrap();
    let helm = &common::helms()[0];
    let chart = common::chart("go-service");
    let chart = chart.to_str().unwrap();
    let (code, report, _) = run(helm, &["check", chart, "--policies", policy_only.to_str().unwrap(), "-o", "json"]);
    assert_eq!((code, findings(&report)), (0, vec![]));
    let (code, report, stderr) = run(helm, &["check", chart, "--policies", policy_only.to_str().unwrap(), "--policy-unbound", "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(findings(&report).len(), 2, "{report:#}");
}

#[test]
fn rules_lists_the_loaded_policies() {
    let helm = &common::helms()[0];
    let out = common::chartproof(helm).args(["rules", "--policies", &policies("")]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("policy/required-team-label ")).expect("the policy is listed");
    assert!(line.contains(" error ") && line.contains("metadata.labels.team is required") && line.ends_with("required-team-label.yaml)"), "{line}");
    assert_eq!(text.lines().filter(|l| l.starts_with("policy/")).count(), 4, "{text}");
}

#[test]
fn config_policies_are_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("platform")).unwrap();
    std::fs::copy(policies("required-team-label.yaml"), dir.path().join("platform/team.yaml")).unwrap();
    let config = dir.path().join("chartproof.yaml");
    std::fs::write(&config, "policies: [platform]\n").unwrap();
    let helm = &common::helms()[0];
    let chart = common::chart("go-service");
    let (code, report, stderr) = run(helm, &["check", chart.to_str().unwrap(), "--config", config.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(findings(&report).len(), 2, "{report:#}");
    std::fs::write(&config, "policies: [elsewhere]\n").unwrap();
    let (code, _, stderr) = run(helm, &["check", chart.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("elsewhere: no such policy file or directory"), "{stderr}");
}

/// A transition rule on `oldObject` (replicas may not drop by more than half), and an Audit policy
/// on every operation whose message says what the API server would send.
const UPGRADE_POLICIES: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replicas-no-halving
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
    - expression: "oldObject == null || object.spec.replicas * 2 >= oldObject.spec.replicas"
      messageExpression: "'replicas may not drop by more than half: ' + string(oldObject.spec.replicas) + ' -> ' + string(object.spec.replicas)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replicas-no-halving
spec:
  policyName: replicas-no-halving
  validationActions: [Deny]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: operation-log
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
  validations:
    - expression: "false"
      messageExpression: "request.operation + (object == null ? ' without object' : '') + (oldObject == null ? ' without oldObject' : ' of ' + string(oldObject.metadata.name))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: operation-log
spec:
  policyName: operation-log
  validationActions: [Audit]
"#;

#[test]
fn diff_checks_policies_as_helm_upgrade_sends_the_new_release() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let policy = file("upgrade.yaml", UPGRADE_POLICIES);
    let old = file("old.yaml", "replicaCount: 4\nserviceAccount:\n  create: false\n");
    // One replica: no PodDisruptionBudget any more (DELETE); the ServiceAccount is new (CREATE).
    let new = file("new.yaml", "replicaCount: 1\nserviceAccount:\n  create: true\n");
    let chart = common::chart("go-service");
    let chart = chart.to_str().unwrap();
    let rules = |list: &Value| list.as_array().unwrap().iter().map(|f| (f["rule"].as_str().unwrap().to_string(), f["kind"].as_str().unwrap().to_string())).collect::<Vec<_>>();
    for helm in common::helms() {
        let args = ["diff", chart, "--old-values", &old, "--new-values", &new, "--policies", &policy, "-o", "json"];
        let (code, report, stderr) = run(&helm, &args);
        assert_eq!(code, 1, "a new Deny finding fails the diff: {stderr}\n{report:#}");
        let delta = &report["policies"];
        let halving: Vec<&Value> = delta["introduced"].as_array().unwrap().iter().filter(|f| f["rule"] == "policy/replicas-no-halving").collect();
        assert_eq!(halving.len(), 1, "{delta:#}");
        assert_eq!((halving[0]["kind"].as_str(), halving[0]["severity"].as_str()), (Some("Deployment"), Some("error")));
        assert_eq!(halving[0]["message"], "replicas may not drop by more than half: 4 -> 1");
        assert_eq!(report["summary"]["new_errors"], 1);
        // Policy findings stay out of the rule delta.
        assert!(rules(&report["findings"]["introduced"]).iter().chain(&rules(&report["findings"]["resolved"])).all(|(r, _)| !r.starts_with("policy/")), "{report:#}");
        // What each object was sent as: UPDATE with the old object, CREATE without, DELETE without object.
        let operations: std::collections::BTreeMap<String, String> = ["introduced", "unchanged"]
            .iter()
            .flat_map(|list| delta[list].as_array().unwrap())
            .filter(|f| f["rule"] == "policy/operation-log")
            .map(|f| (f["kind"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(operations["Deployment"], "UPDATE of release-go-service", "{delta:#}");
        assert_eq!(operations["ServiceAccount"], "CREATE without oldObject", "{delta:#}");
        assert_eq!(operations["PodDisruptionBudget"], "DELETE without object of release-go-service", "{delta:#}");
        // The old release had the audit findings too (as CREATEs): they are unchanged, not new.
        assert!(rules(&delta["unchanged"]).contains(&("policy/operation-log".to_string(), "Deployment".to_string())), "{delta:#}");
        assert!(rules(&delta["introduced"]).contains(&("policy/operation-log".to_string(), "ServiceAccount".to_string())), "{delta:#}");

        // Replicas unchanged: the transition rule passes, and the diff with it.
        let (code, report, stderr) = run(&helm, &["diff", chart, "--old-values", &old, "--new-values", &old, "--policies", &policy, "-o", "json"]);
        assert_eq!(code, 0, "{stderr}\n{report:#}");
        assert!(report["policies"]["introduced"].as_array().unwrap().is_empty(), "{report:#}");
    }
    let helm = &common::helms()[0];
    let text = |format: &str| {
        let out = common::chartproof(helm).args(["diff", chart, "--old-values", &old, "--new-values", &new, "--policies", &policy, "-o", format]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let human = text("human");
    assert!(human.contains("Policy findings (--policies"), "{human}");
    assert!(human.contains("introduced error   policy/replicas-no-halving Deployment release-go-service"), "{human}");
    assert!(human.contains("unchanged  info    policy/operation-log Deployment release-go-service"), "{human}");
    let markdown = text("markdown");
    assert!(markdown.contains("### Policy findings"), "{markdown}");
    assert!(markdown.contains("| introduced | error | `policy/replicas-no-halving` | `Deployment release-go-service` | replicas may not drop by more than half: 4 -> 1 |"), "{markdown}");
}

#[test]
fn unittest_check_evaluates_policies_per_test_in_its_release_namespace() {
    let chart = common::copy_chart(&common::chart("go-service"));
    std::fs::create_dir_all(chart.path().join("tests")).unwrap();
    let suite = "suite: replicas\ntests:\n  - it: three replicas in production\n    release:\n      namespace: production\n    asserts:\n      - equal: {path: spec.replicas, value: 3}\n        template: deployment.yaml\n  - it: one replica in production\n    set:\n      replicaCount: 1\n    release:\n      namespace: production\n    asserts:\n      - equal: {path: spec.replicas, value: 1}\n        template: deployment.yaml\n  - it: one replica in staging\n    set:\n      replicaCount: 1\n    release:\n      namespace: staging\n    asserts:\n      - equal: {path: spec.replicas, value: 1}\n        template: deployment.yaml\n";
    std::fs::write(chart.path().join("tests/replicas_test.yaml"), suite).unwrap();
    let chart = chart.path().to_str().unwrap();
    let replicas = policies("production-replicas.yaml");
    for helm in common::helms() {
        let (code, report, stderr) = run(&helm, &["unittest", chart, "--check", "--policies", &replicas, "-o", "json"]);
        assert_eq!(code, 1, "a Deny finding fails the run: {stderr}\n{report:#}");
        let tests = report["charts"][0]["suites"][0]["tests"].as_array().unwrap_or_else(|| panic!("{report:#}"));
        let per_test: Vec<(&str, Vec<String>)> = tests
            .iter()
            .map(|t| {
                let findings = t["findings"].as_array().into_iter().flatten();
                (t["name"].as_str().unwrap(), findings.map(|f| format!("{} {} {}", f["rule"].as_str().unwrap(), f["severity"].as_str().unwrap(), f["message"].as_str().unwrap())).collect())
            })
            .collect();
        let expected = "policy/production-replicas error replicas is 1 in production namespace production; at least 2 required (reason: Invalid) (params: production-replicas)";
        assert_eq!(per_test, [("three replicas in production", vec![]), ("one replica in production", vec![expected.to_string()]), ("one replica in staging", vec![])], "{report:#}");
        let (code, _, stderr) = run(&helm, &["unittest", chart, "--check", "-o", "json"]);
        assert_eq!(code, 0, "without --policies the suite passes: {stderr}");
    }
    let (code, _, stderr) = run(&common::helms()[0], &["unittest", chart, "--policies", &replicas]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--policies needs --check"), "{stderr}");
}

/// charts/fixtures/policy-latent passes every shipped policy at its defaults; only
/// `persistence.enabled=true` with `persistence.type=hostPath` mounts a hostPath volume.
#[test]
fn a_latent_policy_violation_is_found_and_shrunk() {
    let chart = common::chart("fixtures/policy-latent");
    let chart = chart.to_str().unwrap();
    let all = policies("");
    for helm in common::helms() {
        let (code, report, stderr) = run(&helm, &["check", chart, "--policies", &all, "-o", "json"]);
        assert_eq!((code, findings(&report)), (0, vec![]), "clean at its defaults: {stderr}");
        let (code, report, stderr) = run(&helm, &["test", chart, "--policies", &all, "--cases", "60", "--no-save", "-o", "json"]);
        assert_eq!(code, 1, "{stderr}");
        let failures = report["failures"].as_array().unwrap();
        assert_eq!(failures.len(), 1, "the one violation and nothing else: {report:#}");
        assert_eq!((failures[0]["rule"].as_str(), failures[0]["kind"].as_str()), (Some("policy/no-hostpath"), Some("Deployment")), "{report:#}");
        assert_eq!(failures[0]["message"], "hostPath volumes are not allowed: data (reason: Forbidden)");
        assert_eq!(failures[0]["values"], serde_json::json!({"persistence": {"enabled": true, "type": "hostPath"}}), "shrunk to the two keys: {report:#}");
    }
}
