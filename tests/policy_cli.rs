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
