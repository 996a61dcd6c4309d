//! `chartproof check` on the fixtures of issue 19's false findings and missed finding, with every
//! helm in CHARTPROOF_TEST_HELMS: each pattern a rule misjudged (`charts/fixtures/trust-*`) next
//! to the true variant the rule must still report.

mod common;

use std::path::Path;

use serde_json::Value;

fn check_json(helm: &Path, chart: &str, extra: &[&str]) -> (i32, Value) {
    let out = common::chartproof(helm).arg("check").arg(common::chart(chart)).args(["-o", "json"]).args(extra).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json)
}

/// (resource name, severity, path) of each finding of `rule`, sorted.
fn hits(report: &Value, rule: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["severity"].as_str().unwrap().to_string(), f["path"].as_str().unwrap_or("").to_string()))
        .collect();
    out.sort();
    out
}

fn message<'a>(report: &'a Value, rule: &str) -> &'a str {
    report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == rule).and_then(|f| f["message"].as_str()).unwrap_or("")
}

#[test]
fn numeric_target_port_is_a_warning_and_an_unknown_name_an_error() {
    for helm in common::helms() {
        let (_, report) = check_json(&helm, "fixtures/trust-target-port", &[]);
        assert_eq!(
            hits(&report, "service-target-port"),
            [
                ("release-undeclared-number".to_string(), "warning".to_string(), "spec.ports[name=admin].targetPort".to_string()),
                ("release-unknown-name".to_string(), "error".to_string(), "spec.ports[name=metrics].targetPort".to_string()),
            ],
            "{}: {report:#}",
            helm.display()
        );
    }
}

#[test]
fn configmap_keys_about_credentials_are_not_secrets_and_a_password_is() {
    for helm in common::helms() {
        let (_, report) = check_json(&helm, "fixtures/trust-configmap-secrets", &[]);
        assert_eq!(
            hits(&report, "secret-in-configmap"),
            [("release-real-password".to_string(), "error".to_string(), "data.REGISTRY_CREDENTIAL_PASSWORD".to_string())],
            "{}: {report:#}",
            helm.display()
        );
        assert!(!message(&report, "secret-in-configmap").contains("harbor_registry_password"), "the value is redacted");
    }
}

#[test]
fn pods_isolated_by_the_release_policies_are_not_default_allow() {
    for helm in common::helms() {
        let (code, report) = check_json(&helm, "fixtures/trust-networkpolicy", &[]);
        let found = hits(&report, "networkpolicy-default-deny");
        assert_eq!(found, [("release".to_string(), "info".to_string(), String::new())], "{}: {report:#}", helm.display());
        assert!(message(&report, "networkpolicy-default-deny").contains("namespace owner"), "{report:#}");
        // The true variant: the worker's pods are selected by no policy.
        let (open_code, open) = check_json(&helm, "fixtures/trust-networkpolicy", &["--set", "isolateWorker=false"]);
        assert_eq!(hits(&open, "networkpolicy-default-deny"), [("release".to_string(), "error".to_string(), String::new())], "{open:#}");
        let text = message(&open, "networkpolicy-default-deny");
        assert!(text.contains("Deployment/release-worker") && !text.contains("release-web"), "{text}");
        assert_eq!((code, open_code), (1, 1), "other rules fail the fixture either way (no probes, no resources)");
    }
}

#[test]
fn non_go_images_are_not_asked_for_gomemlimit_and_80_percent_rounded_down_is_accepted() {
    for helm in common::helms() {
        let (_, report) = check_json(&helm, "fixtures/trust-gomemlimit", &[]);
        assert_eq!(
            hits(&report, "gomemlimit"),
            [("release-stack".to_string(), "warning".to_string(), "spec.template.spec.containers[name=worker].env".to_string())],
            "{}: {report:#}",
            helm.display()
        );
        // Configurable: a list of one's own replaces the defaults.
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("chartproof.yaml");
        std::fs::write(&config, "gomemlimit: {nonGoImages: ['ghcr.io/acme/worker*']}\n").unwrap();
        let (_, own) = check_json(&helm, "fixtures/trust-gomemlimit", &["--config", config.to_str().unwrap()]);
        let names: Vec<String> = hits(&own, "gomemlimit").into_iter().map(|(_, _, path)| path).collect();
        assert_eq!(names.len(), 3, "proxy, db and broker are asked for again: {own:#}");
        assert!(names.iter().all(|p| !p.contains("worker") && !p.contains("name=api")), "{names:?}");
    }
}

#[test]
fn secret_with_a_shipped_default_password_is_reported() {
    for helm in common::helms() {
        let (code, report) = check_json(&helm, "fixtures/trust-default-credential", &[]);
        assert_eq!(
            hits(&report, "default-credential"),
            [
                ("release-admin".to_string(), "error".to_string(), "data.HARBOR_ADMIN_PASSWORD".to_string()),
                ("release-admin".to_string(), "error".to_string(), "stringData.keystore-password".to_string()),
            ],
            "{}: {report:#}",
            helm.display()
        );
        assert_eq!(code, 1);
        let all = serde_json::to_string(&report["findings"]).unwrap();
        assert!(!all.contains("Harbor12345") && !all.contains("changeit"), "values are redacted");
        assert!(all.contains("values.yaml: adminPassword") && all.contains("templates/secret.yaml"), "{all}");
        // User-provided values are the user's choice, even a weak one.
        let (_, user) = check_json(&helm, "fixtures/trust-default-credential", &["--set", "adminPassword=Harbor12345", "--set", "keystorePassword=s3cret-from-ci"]);
        assert_eq!(hits(&user, "default-credential"), [], "{user:#}");
    }
}
