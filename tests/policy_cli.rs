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
    assert!(stderr.contains(&format!("{}:15: ValidatingAdmissionPolicy required-team-label: spec.validations[0].expression: expression `", broken.display())), "{stderr}");
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

// ---- Compile-time checks of policy expressions (issue 12: a policy that does not compile is
// unusable input: exit 2 with the file and line, the field, the expression and the column).

/// A policy with `param_kind` (YAML lines, or "") whose spec ends with `body`, written to a temp
/// file; `chartproof rules --policies` on it: (exit code, stderr, the file).
fn load_policy(param_kind: &str, body: &str) -> (i32, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    let text = format!("apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: checked\nspec:\n{param_kind}  matchConstraints:\n    resourceRules:\n      - apiGroups: [\"apps\"]\n        apiVersions: [\"v1\"]\n        operations: [\"CREATE\"]\n        resources: [\"deployments\"]\n{body}");
    std::fs::write(&file, text).unwrap();
    let out = common::chartproof(&common::helms()[0]).args(["rules", "--policies", file.to_str().unwrap()]).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string(), dir)
}

/// The error of a policy whose only validation is `expression` (line 13 of the file).
fn validation_error(expression: &str) -> String {
    let (code, stderr, dir) = load_policy("", &format!("  validations:\n    - expression: {expression:?}\n"));
    assert_eq!(code, 2, "{expression}: {stderr}");
    let at = format!("{}:13: ValidatingAdmissionPolicy checked: spec.validations[0].expression: expression `{expression}` at column ", dir.path().join("policy.yaml").display());
    stderr.split_once(&at).unwrap_or_else(|| panic!("{at} not in {stderr}")).1.trim().to_string()
}

#[test]
fn policy_compile_errors_by_class() {
    // Unknown top-level identifiers, and names CEL does not know as functions or methods.
    assert_eq!(validation_error("object.spec.replicas <= maxReplicas"), "25: undeclared reference to `maxReplicas` (available: object, oldObject, request, params, namespaceObject, variables, authorizer)");
    assert_eq!(validation_error("object.metadata.name.lower() == 'web'"), "27: undeclared method `.lower()`");
    assert_eq!(validation_error("lowerAscii(object.metadata.name) == 'web'"), "11: undeclared function `lowerAscii()`");
    // Wrong arity.
    assert_eq!(validation_error("object.metadata.name.startsWith('a', 'b')"), "32: `.startsWith()` takes 1 argument(s), not 2");
    assert_eq!(validation_error("quantity('1Gi', 2).isInteger()"), "9: `quantity()` takes 1 argument(s), not 2");
    // Type errors known without a schema.
    assert_eq!(validation_error("object.spec.replicas == 1 + \"a\""), "27: found no matching overload for `_+_` applied to (int, string)");
    assert_eq!(validation_error("size(3) > 0"), "5: found no matching overload for `size` applied to (int)");
    assert_eq!(validation_error("quantity('1Gi').isGreaterThan('1Mi')"), "30: found no matching overload for `isGreaterThan` applied to (kubernetes.Quantity, string)");
    assert_eq!(validation_error("'replicas: ' + string(object.spec.replicas)"), "14: must evaluate to bool, not string");
    // `params` needs a paramKind.
    assert_eq!(validation_error("object.spec.replicas <= params.maxReplicas"), "25: `params` is not declared: the policy has no `spec.paramKind`");
    let param_kind = "  paramKind:\n    apiVersion: rules.example.com/v1\n    kind: ReplicaLimit\n";
    let (code, stderr, _) = load_policy(param_kind, "  validations:\n    - expression: \"object.spec.replicas <= params.maxReplicas\"\n");
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn policy_variables_are_declared_before_use_and_typed() {
    // `variables.b` is used by `a`, declared before it: Kubernetes composes variables in order.
    let body = "  variables:\n    - name: a\n      expression: \"variables.b + 1\"\n    - name: b\n      expression: \"1\"\n  validations:\n    - expression: \"variables.a > 0\"\n";
    let (code, stderr, dir) = load_policy("", body);
    assert_eq!(code, 2, "{stderr}");
    let at = format!("{}:14: ValidatingAdmissionPolicy checked: spec.variables[0].expression: expression `variables.b + 1` at column 10: `variables.b` is not defined before this expression", dir.path().join("policy.yaml").display());
    assert!(stderr.contains(&at), "{stderr}");
    // A variable's type is known to the expressions that use it.
    let body = "  variables:\n    - name: count\n      expression: \"size(object.spec.template.spec.containers)\"\n  validations:\n    - expression: >-\n        variables.count + 'x' == ''\n      messageExpression: \"'count ' + string(variables.count)\"\n";
    let (code, stderr, dir) = load_policy("", body);
    assert_eq!(code, 2, "{stderr}");
    let at = format!("{}:17: ValidatingAdmissionPolicy checked: spec.validations[0].expression: expression `variables.count + 'x' == ''` at column 17: found no matching overload for `_+_` applied to (int, string)", dir.path().join("policy.yaml").display());
    assert!(stderr.contains(&at), "{stderr}");
    // A messageExpression must give a string; a matchCondition a bool.
    let body = "  matchConditions:\n    - name: named\n      expression: \"object.metadata.name\"\n    - name: sized\n      expression: \"size(object.metadata.name)\"\n  validations:\n    - expression: \"true\"\n";
    let (code, stderr, _) = load_policy("", body);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(":16: ValidatingAdmissionPolicy checked: spec.matchConditions[1].expression: expression `size(object.metadata.name)` at column 5: must evaluate to bool, not int"), "{stderr}");
}

/// `chartproof rules --policies` on the shipped production-replicas policy with `edit` applied:
/// (exit code, stderr, the file).
fn load_edited_replicas_policy(edit: impl Fn(String) -> String) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replicas.yaml");
    std::fs::write(&file, edit(std::fs::read_to_string(policies("production-replicas.yaml")).unwrap())).unwrap();
    let out = common::chartproof(&common::helms()[0]).args(["rules", "--policies", file.to_str().unwrap()]).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string(), file.display().to_string())
}

#[test]
fn bindings_the_api_server_refuses_or_whose_params_are_missing_are_configuration_errors() {
    let binding = "ValidatingAdmissionPolicyBinding production-replicas";
    // parameterNotFoundAction is required (the API server's validation of a paramRef).
    let (code, stderr, file) = load_edited_replicas_policy(|t| t.replace("    parameterNotFoundAction: Deny\n", ""));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{file}:46: {binding}: `spec.paramRef.parameterNotFoundAction` is required (Allow or Deny)")), "{stderr}");
    let (code, stderr, file) = load_edited_replicas_policy(|t| t.replace("parameterNotFoundAction: Deny", "parameterNotFoundAction: Warn"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{file}:47: {binding}: `spec.paramRef.parameterNotFoundAction`: unsupported value \"Warn\" (Allow or Deny)")), "{stderr}");
    // name and selector are mutually exclusive.
    let (code, stderr, file) = load_edited_replicas_policy(|t| t.replace("    name: production-replicas\n    parameterNotFoundAction", "    name: production-replicas\n    selector: {}\n    parameterNotFoundAction"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{file}:46: {binding}: `spec.paramRef`: exactly one of `name` or `selector` must be set")), "{stderr}");
    // A named param that the policy files do not hold, under Deny: every object would be denied.
    let renamed = |t: String| t.replace("    name: production-replicas\n    parameterNotFoundAction", "    name: prod-replicas\n    parameterNotFoundAction");
    let (code, stderr, file) = load_edited_replicas_policy(renamed);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{file}:46: {binding}: `spec.paramRef.name` prod-replicas: no ReplicaPolicy prod-replicas (policy.chartproof.io/v1) in the policy files")), "{stderr}");
    // Under Allow a missing param passes, in the cluster as here: a valid configuration.
    let (code, stderr, _) = load_edited_replicas_policy(|t| renamed(t).replace("parameterNotFoundAction: Deny", "parameterNotFoundAction: Allow"));
    assert_eq!(code, 0, "{stderr}");
}

// ---- Issue 21: the API server's view of a release (namespace object, request, defaulting),
// Kubernetes' CEL environment exactly, and the documentation's examples as written.

/// A chart whose one template is `objects` (YAML, `{{ .Release.Namespace }}` allowed), and
/// `policies` written next to it; (dir, chart path, policy file).
fn chart_with_policy(objects: &str, policies: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("chart");
    common::write_files(&chart, &[("Chart.yaml", "apiVersion: v2\nname: admitted\nversion: 0.1.0\n"), ("templates/objects.yaml", objects)]);
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, policies).unwrap();
    let (chart, policy) = (chart.display().to_string(), policy.display().to_string());
    (dir, chart, policy)
}

/// `check` of `chart` with `policy` and `extra` arguments (never unusable input): (1 when a
/// policy denies else 0, [(rule, severity, message)] of the policy findings, stderr).
fn policy_check(helm: &Path, chart: &str, policy: &str, extra: &[&str]) -> (i32, Vec<(String, String, String)>, String) {
    let mut args = vec!["check", chart, "--policies", policy, "-o", "json"];
    args.extend(extra);
    let (code, report, stderr) = run(helm, &args);
    assert_ne!(code, 2, "{stderr}");
    let field = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_string();
    let policy_findings = report["findings"].as_array().into_iter().flatten().filter(|f| field(f, "rule").starts_with("policy/"));
    let found: Vec<(String, String, String)> = policy_findings.map(|f| (field(f, "rule"), field(f, "severity"), field(f, "message"))).collect();
    // The exit code of the policies alone: 1 when one denies.
    let denied = i32::from(found.iter().any(|f| f.1 == "error"));
    (denied, found, stderr)
}

const DEPLOYMENT_WITHOUT_REPLICAS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/web:1\n          securityContext:\n            privileged: true\n";

/// The documentation's deny-privileged policy ("Validating Admission Policy", matchResources
/// with a namespaceSelector) bound with `selector`.
fn privileged_policy(selector: &str) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: deny-privileged\nspec:\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [\"apps\"]\n      apiVersions: [\"v1\"]\n      operations: [\"CREATE\", \"UPDATE\"]\n      resources: [\"deployments\"]\n  validations:\n  - expression: \"object.spec.template.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)\"\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: deny-privileged-binding\nspec:\n  policyName: deny-privileged\n  validationActions: [Deny]\n  matchResources:\n    namespaceSelector:\n{selector}"
    )
}

/// Every namespace carries `kubernetes.io/metadata.name`: the documentation's binding that
/// exempts kube-system skips `-n kube-system`, a selector on `prod` matches `-n prod`, and other
/// labels come from `--namespace-labels`.
#[test]
fn namespace_selectors_see_the_namespace_name_label_and_given_labels() {
    let not_in = "      matchExpressions:\n      - key: kubernetes.io/metadata.name\n        operator: NotIn\n        values: [\"kube-system\"]\n";
    let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &privileged_policy(not_in));
    for helm in common::helms() {
        let (code, found, stderr) = policy_check(&helm, &chart, &policy, &["-n", "kube-system"]);
        assert_eq!((code, found.len()), (0, 0), "kube-system is exempt: {found:?} {stderr}");
        let (code, found, stderr) = policy_check(&helm, &chart, &policy, &["-n", "apps"]);
        assert_eq!((code, found.len()), (1, 1), "{found:?} {stderr}");
        assert_eq!(found[0].0, "policy/deny-privileged");
    }
    let in_prod = "      matchExpressions:\n      - key: kubernetes.io/metadata.name\n        operator: In\n        values: [\"prod\"]\n";
    let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &privileged_policy(in_prod));
    let helm = &common::helms()[0];
    assert_eq!(policy_check(helm, &chart, &policy, &["-n", "prod"]).0, 1, "a selector on the name matches -n prod");
    assert_eq!(policy_check(helm, &chart, &policy, &["-n", "dev"]).0, 0);
    let labelled = "      matchLabels:\n        environment: production\n";
    let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &privileged_policy(labelled));
    assert_eq!(policy_check(helm, &chart, &policy, &["-n", "shop"]).0, 0);
    let (code, found, stderr) = policy_check(helm, &chart, &policy, &["-n", "shop", "--namespace-labels", "environment=production,team=web"]);
    assert_eq!((code, found.len()), (1, 1), "{found:?} {stderr}");
}

/// The documentation's matchConditions example reads `request.userInfo.groups`: with the
/// default user (groups [system:authenticated]) it matches; `--groups system:nodes` excludes.
#[test]
fn match_conditions_read_the_request_user() {
    let policy = privileged_policy("      matchLabels: {}\n").replace(
        "  validations:\n",
        "  matchConditions:\n  - name: 'exclude-leases'\n    expression: '!(request.resource.group == \"coordination.k8s.io\" && request.resource.resource == \"leases\")'\n  - name: 'exclude-kubelet-requests'\n    expression: '!(\"system:nodes\" in request.userInfo.groups)'\n  - name: 'rbac'\n    expression: 'request.resource.group != \"rbac.authorization.k8s.io\"'\n  validations:\n",
    );
    let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &policy);
    for helm in common::helms() {
        let (code, found, stderr) = policy_check(&helm, &chart, &policy, &[]);
        assert_eq!((code, found.len()), (1, 1), "the default user is no node: {found:?} {stderr}");
        assert_eq!(found[0].2, "failed expression: object.spec.template.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)");
        let (code, found, stderr) = policy_check(&helm, &chart, &policy, &["--user", "system:node:n1", "--groups", "system:nodes,system:authenticated"]);
        assert_eq!((code, found.len()), (0, 0), "{found:?} {stderr}");
    }
}

/// The documentation's list-format example: policy and binding as items of a `v1 List`.
#[test]
fn a_v1_list_of_policy_and_binding_loads_and_runs() {
    let items = privileged_policy("      matchLabels: {}\n");
    let as_list: Vec<String> = items.split("---\n").map(|doc| format!("- {}", doc.trim_end().replace('\n', "\n  "))).collect();
    let list = format!("apiVersion: v1\nkind: List\nitems:\n{}\n", as_list.join("\n"));
    let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &list);
    let (code, found, stderr) = policy_check(&common::helms()[0], &chart, &policy, &[]);
    assert_eq!((code, found.len()), (1, 1), "{found:?} {stderr}");
    assert_eq!(found[0].0, "policy/deny-privileged");
}

/// `object.metadata.namespace` is the release namespace, and quantities are the API server's
/// canonical strings (`cpu: 1` is "1", `1024Mi` is "1Gi").
#[test]
fn objects_are_in_their_namespace_with_canonical_quantities() {
    let deployment = DEPLOYMENT_WITHOUT_REPLICAS.replace("          securityContext:\n            privileged: true\n", "          resources:\n            requests: {cpu: 1, memory: 1024Mi}\n");
    let policy = privileged_policy("      matchLabels: {}\n").replace(
        "object.spec.template.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)",
        "object.metadata.namespace == 'shop' && object.spec.template.spec.containers[0].resources.requests.cpu == '1' && object.spec.template.spec.containers[0].resources.requests.memory == '1Gi' && quantity(object.spec.template.spec.containers[0].resources.requests.memory).isGreaterThan(quantity('1G'))",
    );
    let (_dir, chart, policy) = chart_with_policy(&deployment, &policy);
    let (code, found, stderr) = policy_check(&common::helms()[0], &chart, &policy, &["-n", "shop"]);
    assert_eq!((code, found), (0, vec![]), "{stderr}");
}

/// Defaulting before admission: the documentation's basic example `object.spec.replicas <= 5`
/// allows a Deployment without `replicas` (defaulted to 1), and `replicas >= 2` under
/// `failurePolicy: Ignore` denies it instead of ignoring an evaluation error.
#[test]
fn defaulted_objects_reach_the_policies() {
    let replicas = |expression: &str, failure_policy: &str| {
        privileged_policy("      matchLabels: {}\n")
            .replace("object.spec.template.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)", expression)
            .replace("spec:\n  matchConstraints:", &format!("spec:\n  failurePolicy: {failure_policy}\n  matchConstraints:"))
    };
    for helm in common::helms() {
        let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &replicas("object.spec.replicas <= 5", "Fail"));
        assert_eq!(policy_check(&helm, &chart, &policy, &[]).1, vec![], "replicas defaults to 1");
        let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &replicas("object.spec.replicas >= 2", "Ignore"));
        let (code, found, _) = policy_check(&helm, &chart, &policy, &[]);
        assert_eq!((code, found.len()), (1, 1), "denied, not an ignored error: {found:?}");
        let (_dir, chart, policy) = chart_with_policy(DEPLOYMENT_WITHOUT_REPLICAS, &replicas("object.spec.template.spec.containers.all(c, c.imagePullPolicy == 'IfNotPresent')", "Fail"));
        assert_eq!(policy_check(&helm, &chart, &policy, &[]).1, vec![], "imagePullPolicy defaults to IfNotPresent for a tagged image");
    }
}

/// Functions outside Kubernetes' CEL environment, invalid regex, duration and timestamp literals
/// and expressions nested
/// deeper than cel-go parses are refused at load (exit 2, naming policy and expression, in
/// cel-go's words: `src/policy/recursion.rs`); a 5,000-term `+` chain never crashes the process;
/// as deep as cel-go allows loads.
#[test]
fn the_kubernetes_cel_environment_exactly() {
    let message = validation_error("math.greatest(object.spec.replicas, 1) < 5");
    assert_eq!(message, "14: undeclared function `math.greatest()`: not a function of the Kubernetes CEL environment (k8s.io/apiserver pkg/cel/environment/base.go)");
    assert!(validation_error("base64.encode(b'x') == 'eA=='").ends_with("not a function of the Kubernetes CEL environment (k8s.io/apiserver pkg/cel/environment/base.go)"));
    assert_eq!(validation_error("object.metadata.name.matches('[a-z')"), "30: invalid matches argument \"[a-z\": unclosed character class");
    assert!(validation_error("object.metadata.creationTimestamp > timestamp('2024-01-01')").starts_with("47: invalid timestamp argument \"2024-01-01\": "));
    assert!(validation_error("duration('1d') > duration('1h')").starts_with("10: invalid duration argument \"1d\": "));
    let (code, stderr, _dir) = load_policy("", "  validations:\n    - expression: \"type(object.x) == net.IP || type(object.x) == google.protobuf.Timestamp || type(object.x) == optional_type\"\n");
    assert_eq!(code, 0, "{stderr}");
    let chain = format!("object.spec.replicas + {} > 0", vec!["1"; 4999].join(" + "));
    let (code, stderr, _dir) = load_policy("", &format!("  validations:\n    - expression: {chain:?}\n"));
    assert_eq!(code, 2, "a compile error, never a signal: {}", &stderr[stderr.len().saturating_sub(300)..]);
    assert!(stderr.trim_end().ends_with("at column 1: max recursion depth exceeded"), "{}", &stderr[stderr.len().saturating_sub(300)..]);
    let lists = format!("size({}1{}) == 1", "[".repeat(249), "]".repeat(249));
    assert_eq!(validation_error(&lists), "1: expression recursion limit exceeded: 250");
    // 249 `+` and a `>`: 250 operators, cel-go's limit (`object.spec.replicas` first would add
    // its two selections); and a 1,000-term `&&`, which cel-go balances.
    let (code, stderr, _dir) = load_policy("", &format!("  validations:\n    - expression: {:?}\n    - expression: {:?}\n", format!("{} > 0", vec!["1"; 250].join(" + ")), vec!["object.spec.replicas > 0"; 1000].join(" && ")));
    assert_eq!(code, 0, "{}", &stderr[stderr.len().saturating_sub(300)..]);
}

// ---- The kubescape CEL admission library oracle: 61 real policies and 628 verdicts a real API
// server gave (../shared/oracles/kubescape-cel-admission-library, its README).

/// The library's `scripts/change-yaml-field.py` edit `path=value` on `object`: the path split
/// at dots, `[n]` a list index; the value JSON when it parses, else a string.
fn change_field(object: &mut Value, edit: &str) {
    let (path, value) = edit.split_once('=').unwrap();
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    let keys: Vec<&str> = path.split('.').collect();
    let mut at = object;
    for (i, key) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        let next_is_index = keys.get(i + 1).is_some_and(|k| k.starts_with('['));
        let empty = if next_is_index { Value::Array(vec![]) } else { Value::Object(Default::default()) };
        at = match key.strip_prefix('[').and_then(|k| k.strip_suffix(']')).and_then(|k| k.parse::<usize>().ok()) {
            Some(index) => {
                if !at.is_array() {
                    *at = Value::Array(vec![]);
                }
                let list = at.as_array_mut().unwrap();
                while list.len() <= index {
                    list.push(Value::Null);
                }
                if list[index].is_null() && !last {
                    list[index] = empty;
                }
                &mut list[index]
            }
            None => {
                let map = at.as_object_mut().unwrap_or_else(|| panic!("{edit}: {key} is not in a map"));
                map.entry(key.to_string()).or_insert(if last { Value::Null } else { empty })
            }
        };
    }
    *at = value;
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn kubescape_cel_admission_library_verdicts() {
    use chartproof::policy::{Policies, PolicySet};
    let oracle = common::repo().join("../shared/oracles/kubescape-cel-admission-library");
    let resources = oracle.join("test-resources");
    let yaml = |path: &Path| -> Value { serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };
    let (mut agreed, mut disagreements) = (0, Vec::new());
    let mut controls: Vec<_> = std::fs::read_dir(oracle.join("controls")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("tests.json").is_file()).collect();
    controls.sort();
    for control in controls {
        let policy_text = std::fs::read_to_string(control.join("policy.yaml")).unwrap();
        let policy: Value = serde_yaml::from_str(&policy_text).unwrap();
        let name = policy["metadata"]["name"].as_str().unwrap().to_string();
        let tests: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(control.join("tests.json")).unwrap()).unwrap();
        for test in tests {
            let binding_file = test["binding_template"].as_str().unwrap_or("policy-binding.yaml");
            let mut binding = yaml(&resources.join(binding_file));
            change_field(&mut binding, &format!("spec.policyName={name}"));
            change_field(&mut binding, &format!("metadata.name={name}-binding"));
            let mut object = yaml(&resources.join(test["template"].as_str().unwrap()));
            for edit in test["field_change_list"].as_array().into_iter().flatten() {
                change_field(&mut object, edit.as_str().unwrap());
            }
            let dir = tempfile::tempdir().unwrap();
            let files = [("policy.yaml", policy_text.clone()), ("binding.yaml", serde_yaml::to_string(&binding).unwrap())];
            for (file, text) in &files {
                std::fs::write(dir.path().join(file), text).unwrap();
            }
            let params = test["param_template"].as_str().unwrap_or("default-control-configuration.yaml");
            std::fs::copy(resources.join(params), dir.path().join("params.yaml")).unwrap();
            let policies = Policies::load(&[dir.path().to_path_buf()], false).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            let manifest = chartproof::manifest::Manifest::parse(&serde_yaml::to_string(&object).unwrap());
            let set = PolicySet { policies: std::sync::Arc::new(policies), release_namespace: Some("default".into()), ..PolicySet::default() };
            let found = chartproof::rules::admission_findings(&manifest, set);
            let severity = |s: &str| found.iter().any(|f| f.severity.to_string() == s);
            let verdict = if severity("error") { "fail" } else if severity("warning") { "warn" } else { "pass" };
            if verdict == test["expected"] {
                agreed += 1;
            } else {
                disagreements.push(format!("{name}: {}: expected {}, chartproof {verdict}: {found:?}", test["name"], test["expected"]));
            }
        }
    }
    assert_eq!((agreed, disagreements.len()), (628, 0), "{disagreements:#?}");
}
