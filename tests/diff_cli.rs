//! `chartproof diff` end to end with real helm (every helm in CHARTPROOF_TEST_HELMS): the two
//! versions of the fixture chart in charts/fixtures/diff-v{1,2}, values-set comparison, packaged
//! charts, bad input, and a real corpus chart edited in a temporary copy.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures").join(format!("diff-{version}"))
}

fn diff(helm: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("chartproof").unwrap().env_remove("CHARTPROOF_TEST_HELMS").arg("diff").args(args).arg("--helm").arg(helm).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let code = out.status.code().unwrap();
    assert!(code != 2 || !out.stderr.is_empty(), "exit 2 without an error message");
    (code, if code == 2 { String::from_utf8_lossy(&out.stderr).into_owned() } else { stdout })
}

fn diff_json(helm: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let (code, text) = diff(helm, &all);
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

fn changes<'a>(report: &'a Value, verdict: &str) -> Vec<(&'a str, &'a str)> {
    report["contract"][verdict].as_array().unwrap().iter().map(|c| (c["path"].as_str().unwrap(), c["change"].as_str().unwrap())).collect()
}

fn resource<'a>(report: &'a Value, kind: &str, name: &str) -> &'a Value {
    report["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind && r["name"] == name).unwrap_or_else(|| panic!("no {kind} {name} in {:#}", report["resources"]))
}

fn field<'a>(r: &'a Value, path: &str) -> Option<&'a Value> {
    r["fields"].as_array().unwrap().iter().find(|f| f["path"] == path)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn fixture_upgrade_classifies_every_change() {
    let (v1, v2) = (fixture("v1"), fixture("v2"));
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2)]);
        assert_eq!(code, 1, "breaking upgrade must exit 1 ({})", helm.display());
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/diff-report.schema.json")).unwrap()).unwrap();
        let errors: Vec<String> = jsonschema::validator_for(&schema).unwrap().iter_errors(&r).map(|e| format!("{}: {e}", e.instance_path)).collect();
        assert!(errors.is_empty(), "output does not match schemas/diff-report.schema.json: {errors:?}");

        // Contract: every breaking and compatible class, and the unclassifiable pattern change.
        let breaking = changes(&r, "breaking");
        for want in [
            ("legacyMode", "key-removed"),
            ("timeoutSeconds", "type-narrowed"),
            ("cacheSize", "type-changed"),
            ("ingress.className", "required-added"),
            ("logLevel", "enum-value-removed"),
            ("workers", "minimum-raised"),
            ("name", "length-tightened"),
            ("releaseChannel", "pattern-added"),
            ("extraConfig", "additional-properties-closed"),
        ] {
            assert!(breaking.contains(&want), "missing breaking {want:?} in {breaking:?}");
        }
        let compatible = changes(&r, "compatible");
        for want in [("apiToken", "key-added"), ("replicas", "maximum-raised"), ("port", "description-changed"), ("logLevel", "enum-value-added")] {
            assert!(compatible.contains(&want), "missing compatible {want:?} in {compatible:?}");
        }
        assert_eq!(changes(&r, "unknown"), [("image.tag", "pattern-changed")]);

        // Containers matched by name: the reordered proxy container is not a change.
        let deploy = resource(&r, "Deployment", "release-web");
        assert_eq!(deploy["change"], "modified");
        assert_eq!(field(deploy, "spec.template.spec.containers[name=app].image").unwrap()["new"], "registry.example.com/web:1.1.0");
        assert_eq!(field(deploy, "spec.template.spec.containers[name=app].env[name=CACHE_SIZE]").unwrap()["change"], "added");
        assert!(!deploy["fields"].as_array().unwrap().iter().any(|f| f["path"].as_str().unwrap().contains("name=proxy")), "{deploy:#}");

        // Immutable fields are breaking, with the resource and path.
        for (kind, name, path) in [
            ("Deployment", "release-web", "spec.selector.matchLabels.app.kubernetes.io/component"),
            ("Service", "release-web", "spec.clusterIP"),
            ("StatefulSet", "release-cache", "spec.serviceName"),
            ("PersistentVolumeClaim", "release-data", "spec.storageClassName"),
            ("Job", "release-migrate", "spec.template.spec.containers[name=migrate].image"),
            // Default noise never hides a change to an immutable field: chart labels in claim templates
            // and in a Job's pod template break every upgrade.
            ("StatefulSet", "release-cache", "spec.volumeClaimTemplates[metadata.name=data].metadata.labels.helm.sh/chart"),
            ("Job", "release-migrate", "spec.template.metadata.labels.app.kubernetes.io/version"),
        ] {
            let res = resource(&r, kind, name);
            assert_eq!(res["breaking"], true, "{kind} {name}");
            assert!(field(res, path).unwrap()["immutable"].is_string(), "{kind} {name} {path}: {res:#}");
        }
        assert!(field(deploy, "spec.template.spec.containers[name=app].image").unwrap().get("immutable").is_none());

        // Added, removed, and a rename hint for the near-identical ConfigMap.
        assert_eq!(resource(&r, "ConfigMap", "release-legacy")["change"], "removed");
        assert_eq!(resource(&r, "PodDisruptionBudget", "release-web")["change"], "added");
        assert_eq!(resource(&r, "ConfigMap", "release-settings")["rename_hint"], "possibly renamed from release-extra");

        // Secrets: "changed", never the value, in fields and in the text diff.
        let text = r.to_string();
        for secret in ["s3cret", "czNjcmV0LXYy", "czNjcmV0LXYx", "dbpass", "tok-4f9a8b7c6d5e"] {
            assert!(!text.contains(secret), "secret value {secret} leaked");
        }
        let pw = field(resource(&r, "Secret", "release-auth"), "data.password").unwrap();
        assert_eq!((pw["change"].as_str(), pw["redacted"].as_bool()), (Some("changed"), Some(true)));
        let cm = resource(&r, "ConfigMap", "release-config");
        assert_eq!(field(cm, "data.DB_PASSWORD").unwrap()["redacted"], true);
        assert_eq!(field(cm, "data.API_TOKEN").unwrap()["redacted"], true);

        // Volatile output is listed, never a change; the randomly named test Pod is matched.
        let volatile: Vec<String> = r["volatile"].as_array().unwrap().iter().map(|v| format!("{} {} {}", v["kind"], v["name"], v["paths"])).collect();
        assert!(volatile.iter().any(|v| v.contains("Secret") && v.contains("data.session-key")), "{volatile:?}");
        assert!(volatile.iter().any(|v| v.contains("\"release-test-*\"")), "{volatile:?}");
        assert!(field(resource(&r, "Secret", "release-auth"), "data.session-key").is_none());
        assert!(!r["resources"].as_array().unwrap().iter().any(|x| x["kind"] == "Pod"), "test Pod reported as a change");

        // Rule delta: the new literal token in a ConfigMap is introduced; resources on the cache resolve findings.
        let introduced: Vec<(&str, &str, &str)> = r["findings"]["introduced"].as_array().unwrap().iter().map(|f| (f["rule"].as_str().unwrap(), f["name"].as_str().unwrap(), f["severity"].as_str().unwrap())).collect();
        assert!(introduced.contains(&("secret-in-configmap", "release-config", "error")), "{introduced:?}");
        let resolved: Vec<(&str, &str)> = r["findings"]["resolved"].as_array().unwrap().iter().map(|f| (f["rule"].as_str().unwrap(), f["name"].as_str().unwrap())).collect();
        assert!(resolved.contains(&("resources-requests", "release-cache")), "{resolved:?}");
        assert!(r["summary"]["new_errors"].as_u64() >= Some(1));

        // Default noise is counted, not shown.
        assert!(r["ignored"].as_array().unwrap().iter().any(|i| i["pattern"] == "label helm.sh/chart" && i["count"].as_u64() > Some(0)));
        assert!(!text.contains("\"path\":\"metadata.labels.helm.sh/chart\""));
    }
}

#[test]
fn secrets_and_noise_are_shown_on_request() {
    let (v1, v2) = (fixture("v1"), fixture("v2"));
    let helm = &common::helms()[0];
    let (_, r) = diff_json(helm, &[p(&v1), p(&v2), "--show-secrets", "--no-default-ignores", "--manifests-only"]);
    let pw = field(resource(&r, "Secret", "release-auth"), "data.password").unwrap();
    assert_eq!(pw["new"], "czNjcmV0LXYy", "base64 of s3cret-v2");
    assert_eq!(pw["redacted"], false);
    let svc = resource(&r, "Service", "release-web");
    assert_eq!(field(svc, "metadata.labels.helm.sh/chart").unwrap()["new"], "diff-fixture-1.1.0");
    assert!(r["ignored"].as_array().unwrap().is_empty());
    assert!(r["contract"]["breaking"].as_array().unwrap().is_empty(), "--manifests-only compares no contract");
}

#[test]
fn ignored_changes_never_affect_the_exit_code() {
    let (v1, v2) = (fixture("v1"), fixture("v2"));
    let helm = &common::helms()[0];
    let ignores = [
        "spec.selector.*",
        "spec.clusterIP",
        "spec.serviceName",
        "spec.storageClassName",
        "spec.volumeClaimTemplates*",
        "spec.template.metadata.labels.*",
        "spec.template.spec.containers[name=migrate].*",
    ];
    // An empty token is no secret-in-configmap finding, so nothing but the ignored changes could fail.
    let mut args = vec![p(&v1), p(&v2), "--manifests-only", "--set", "apiToken="];
    for i in &ignores {
        args.extend(["--ignore", i]);
    }
    let (code, r) = diff_json(helm, &args);
    assert_eq!(r["summary"]["breaking_fields"], 0, "{:#}", r["summary"]);
    assert!(r["ignored"].as_array().unwrap().iter().any(|i| i["pattern"] == "spec.clusterIP" && i["count"] == 1));
    assert_eq!(r["summary"]["new_errors"], 0, "{:#}", r["findings"]);
    assert_eq!(code, 0);
}

#[test]
fn same_chart_with_two_values_sets() {
    let v1 = fixture("v1");
    let tmp = tempfile::tempdir().unwrap();
    let fast = tmp.path().join("fast.yaml");
    std::fs::write(&fast, "persistence:\n  storageClass: fast\n").unwrap();
    let more = tmp.path().join("more.yaml");
    std::fs::write(&more, "replicas: 5\n").unwrap();
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), "--new-values", p(&fast)]);
        assert_eq!(code, 1);
        assert!(r["contract"]["breaking"].as_array().unwrap().is_empty());
        assert_eq!(r["resources"].as_array().unwrap().len(), 1, "{:#}", r["resources"]);
        assert!(field(resource(&r, "PersistentVolumeClaim", "release-data"), "spec.storageClassName").unwrap()["immutable"].is_string());

        let (code, r) = diff_json(&helm, &[p(&v1), p(&v1), "--old-values", p(&more), "--new-values", p(&more), "--set", "workers=8"]);
        assert_eq!(r["resources"].as_array().unwrap().len(), 0, "same values on both sides: {:#}", r["resources"]);
        assert_eq!(code, 0);

        let (code, r) = diff_json(&helm, &[p(&v1), "--new-values", p(&more)]);
        assert_eq!(field(resource(&r, "Deployment", "release-web"), "spec.replicas").unwrap()["new"], 5);
        assert_eq!(code, if r["summary"]["new_errors"] == 0 { 0 } else { 1 });
    }
}

#[test]
fn identical_charts_have_no_changes_despite_random_output() {
    let v1 = fixture("v1");
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v1)]);
        assert_eq!(code, 0);
        assert!(r["resources"].as_array().unwrap().is_empty(), "{:#}", r["resources"]);
        assert!(!r["volatile"].as_array().unwrap().is_empty());
        assert!(r["contract"]["compatible"].as_array().unwrap().is_empty());
    }
}

#[test]
fn packaged_chart_and_markdown_and_plain_human_output() {
    let helm = &common::helms()[0];
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(helm).args(["package", p(&fixture("v2")), "-d", p(tmp.path())]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tgz = tmp.path().join("diff-fixture-1.1.0.tgz");
    let v1 = fixture("v1");

    let (code, md) = diff(helm, &[p(&v1), p(&tgz), "-o", "markdown"]);
    assert_eq!(code, 1);
    assert!(md.starts_with("## chartproof diff: `diff-fixture 1.0.0` → `diff-fixture 1.1.0`"), "{md}");
    assert!(md.contains("**Breaking:**") && md.contains("| **breaking** | `legacyMode` |") && md.contains("```diff\n"), "{md}");

    let (code, human) = diff(helm, &[p(&v1), p(&tgz), "--context", "0"]);
    assert_eq!(code, 1);
    assert!(!human.contains('\x1b'), "no colors when stdout is not a terminal");
    assert!(human.contains("BREAKING   legacyMode") && human.contains("Result: BREAKING"), "{human}");
    assert!(human.contains("+ PodDisruptionBudget release-web"), "{human}");
    let (_, wide) = diff(helm, &[p(&v1), p(&tgz), "--context", "5"]);
    assert!(wide.lines().count() > human.lines().count(), "--context widens the text diffs");
}

#[test]
fn new_version_that_rejects_the_values_is_breaking_and_old_that_does_is_unusable() {
    let v1 = fixture("v1");
    let tmp = tempfile::tempdir().unwrap();
    let too_many = tmp.path().join("too-many.yaml");
    std::fs::write(&too_many, "replicas: 50\n").unwrap(); // v1's schema allows at most 10
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), "--new-values", p(&too_many)]);
        assert_eq!(code, 1);
        let failure = r["new_render_failure"].as_str().expect("new_render_failure");
        assert!(failure.contains("replicas"), "{failure}");
        let (code, err) = diff(&helm, &[p(&v1), "--old-values", p(&too_many)]);
        assert_eq!(code, 2);
        assert!(err.contains("OLD does not render") && err.contains("replicas"), "{err}");
    }
}

#[test]
fn unusable_input_exits_2() {
    let helm = &common::helms()[0];
    let v1 = fixture("v1");
    let (code, err) = diff(helm, &[p(&v1), "/nonexistent/chart"]);
    assert_eq!(code, 2);
    assert!(err.contains("chart not found"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, "a: [1\n").unwrap();
    let (code, err) = diff(helm, &[p(&v1), p(&v1), "-f", p(&bad)]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.yaml"), "{err}");
    let (code, err) = diff(helm, &[p(&v1)]);
    assert_eq!(code, 2);
    assert!(err.contains("--old-values"), "{err}");
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn corpus_podinfo_upgrade_reads_well() {
    let copy = common::copy_chart(&common::corpus("podinfo"));
    let chart = copy.path();
    let edit = |file: &str, from: &str, to: &str| {
        let path = chart.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit("Chart.yaml", "version: 6.14.1", "version: 6.15.0");
    edit("values.yaml", "  tag: 6.14.1", "  tag: 6.15.0");
    edit("values.yaml", "replicaCount: 1", "replicaCount: 2");
    edit("values.yaml", "podDisruptionBudget: {}\n#  maxUnavailable: 1", "podDisruptionBudget:\n  maxUnavailable: 1");
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&common::corpus("podinfo")), p(chart)]);
        assert!(changes(&r, "compatible").contains(&("podDisruptionBudget.maxUnavailable", "key-added")), "{:#}", r["contract"]);
        let deploy = resource(&r, "Deployment", "release-podinfo");
        assert_eq!(field(deploy, "spec.template.spec.containers[name=podinfo].image").unwrap()["new"], "ghcr.io/stefanprodan/podinfo:6.15.0");
        assert_eq!(field(deploy, "spec.replicas").unwrap()["new"], 2);
        // replicaCount > 1 turns on the PodDisruptionBudget.
        assert_eq!(resource(&r, "PodDisruptionBudget", "release-podinfo")["change"], "added");
        // Test Pods get random names on every render: matched by pattern, not added/removed.
        assert!(!r["resources"].as_array().unwrap().iter().any(|x| x["kind"] == "Pod"), "{:#}", r["resources"]);
        assert!(r["volatile"].as_array().unwrap().iter().any(|v| v["name"].as_str().unwrap().ends_with("-test-*")));
        assert_eq!(code, if r["summary"]["new_errors"] == 0 { 0 } else { 1 }, "{:#}", r["findings"]);
    }
}
