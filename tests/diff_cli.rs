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

fn fleet(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures").join(format!("fleet-{part}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x.as_str().unwrap()).collect()
}

/// The 1-based line of `text` in a fixture values file (so the expected locations follow edits).
fn line_of(file: &Path, text: &str) -> usize {
    std::fs::read_to_string(file).unwrap().lines().position(|l| l.contains(text)).unwrap_or_else(|| panic!("{text:?} not in {}", file.display())) + 1
}

#[test]
fn each_values_file_gets_its_own_verdict_in_every_format() {
    let (v1, v2, dir) = (fleet("v1"), fleet("v2"), fleet("values"));
    let glob = format!("{}/team-*.yaml", p(&dir));
    let team = |t: &str| dir.join(format!("team-{t}.yaml"));
    let name = |t: &str| p(&team(t)).to_string();
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2), "--each", &glob]);
        assert_eq!(code, 1, "two teams break ({})", helm.display());
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/diff-report.schema.json")).unwrap()).unwrap();
        let errors: Vec<String> = jsonschema::validator_for(&schema).unwrap().iter_errors(&r).map(|e| format!("{}: {e}", e.instance_path)).collect();
        assert!(errors.is_empty(), "output does not match schemas/diff-report.schema.json: {errors:?}");

        // One entry per file, in argument order (a glob's matches sorted).
        let files = r["files"].as_array().unwrap();
        assert_eq!(files.iter().map(|f| f["file"].as_str().unwrap()).collect::<Vec<_>>(), ["a", "b", "c", "d", "e"].map(name));
        let verdict = |t: &str| files.iter().find(|f| f["file"] == name(t).as_str()).unwrap();
        let a = verdict("a");
        assert_eq!((a["breaking"].as_bool(), a["valid_old"].as_bool(), a["valid_new"].as_bool(), a["renders_old"].as_bool(), a["renders_new"].as_bool()), (Some(true), Some(true), Some(false), Some(true), Some(false)));
        let a_line = line_of(&team("a"), "http: 9090");
        assert_eq!(a["reasons"][0], format!("{}:{a_line}: service.ports.http is rejected by 3.0.0: key removed", name("a")));
        assert_eq!(strs(&a["breaking_contract"]), ["service.ports.http"]);
        let b = verdict("b");
        let b_line = line_of(&team("b"), "logLevel: debug");
        assert_eq!(b["reasons"][0], format!("{}:{b_line}: logLevel is rejected by 3.0.0: enum value(s) removed", name("b")));
        for t in ["c", "d", "e"] {
            let f = verdict(t);
            assert_eq!((f["breaking"].as_bool(), f["valid_new"].as_bool(), f["renders_new"].as_bool()), (Some(false), Some(true), Some(true)), "{f:#}");
            assert!(f["reasons"].as_array().unwrap().is_empty(), "{f:#}");
        }
        assert_eq!(r["summary"]["files"], 5);
        assert_eq!(r["summary"]["files_breaking"], 2);

        // Breaking changes name the files they reach.
        let reach: Vec<(&str, Vec<&str>)> = r["contract"]["breaking"].as_array().unwrap().iter().map(|c| (c["path"].as_str().unwrap(), strs(&c["reaches"]))).collect();
        let (na, nb) = (name("a"), name("b"));
        assert!(reach.contains(&("service.ports.http", vec![na.as_str()])), "{reach:?}");
        assert!(reach.contains(&("logLevel", vec![nb.as_str()])), "{reach:?}");

        // Changed defaults, highlighted, with the files that rely on each.
        let defaults = r["contract"]["defaults"].as_array().unwrap();
        let default = |path: &str| defaults.iter().find(|d| d["path"] == path).unwrap_or_else(|| panic!("no changed default {path} in {defaults:#?}"));
        let svc = default("service.type");
        assert_eq!((svc["old"].as_str(), svc["new"].as_str(), svc["relevance"].as_str(), svc["change"].as_str()), (Some("ClusterIP"), Some("LoadBalancer"), Some("exposure"), Some("changed")));
        assert_eq!(strs(&svc["relied_on_by"]), ["d", "e"].map(name));
        assert_eq!(default("replicaCount")["relevance"], "cost");
        assert_eq!(strs(&default("replicaCount")["relied_on_by"]), ["a", "d", "e"].map(name));
        assert_eq!(default("image.tag")["relevance"], "image");
        assert_eq!((default("service.ports.http")["change"].as_str(), default("service.ports.web")["change"].as_str()), (Some("removed"), Some("added")));
        assert_eq!(defaults.len(), 5, "{defaults:#?}");
        assert!(strs(&verdict("d")["relies_on_defaults"]).contains(&"service.type"));

        // The renamed Service port is a compatibility finding for the files that render it.
        let refs = verdict("d")["references"].as_array().unwrap();
        assert!(refs.iter().any(|x| x["kind"] == "Service" && x["change"] == "port-renamed" && x["old"] == "http" && x["new"] == "web"), "{refs:#?}");
        // Team D's Service becomes a LoadBalancer: a resource change of its own.
        let d_service = verdict("d")["resources"].as_array().unwrap().iter().find(|x| x["kind"] == "Service").unwrap().clone();
        assert!(d_service["fields"].as_array().unwrap().iter().any(|f| f["path"] == "spec.type" && f["new"] == "LoadBalancer"), "{d_service:#}");

        // Human: the table, located reasons, the changed defaults and the verdict.
        let (code, human) = diff(&helm, &[p(&v1), p(&v2), "--each", &glob]);
        assert_eq!(code, 1);
        for want in [
            format!("{}:{a_line}: service.ports.http is rejected by 3.0.0: key removed", name("a")),
            "Values files: 5 (2 break)".into(),
            "reaches 1 of 5 values file(s)".into(),
            "service.type".into(),
            "\"ClusterIP\" -> \"LoadBalancer\"  [exposure]".into(),
            "port `http` renamed to `web`".into(),
            "Result: BREAKING - 2 of 5 values file(s) break".into(),
        ] {
            assert!(human.contains(&want), "missing {want:?} in\n{human}");
        }

        // Markdown: the summary table and the changed defaults for a PR comment.
        let (code, md) = diff(&helm, &[p(&v1), p(&v2), "--each", &glob, "-o", "markdown"]);
        assert_eq!(code, 1);
        assert!(md.contains("### Values files (2 of 5 break)"), "{md}");
        assert!(md.contains(&format!("| `{}` | yes | **no** | yes | **no** | **breaking** |", name("a"))), "{md}");
        assert!(md.contains(&format!("| `{}` | yes | yes | yes | yes | ok |", name("d"))), "{md}");
        assert!(md.contains("| `service.type` | `\"ClusterIP\" -> \"LoadBalancer\"` | **exposure** |"), "{md}");

        // JUnit: one testcase per file, the breaking ones failed with their reasons.
        let (code, xml) = diff(&helm, &[p(&v1), p(&v2), "--each", &glob, "-o", "junit"]);
        assert_eq!(code, 1);
        assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        assert!(xml.contains("service.ports.http is rejected by 3.0.0: key removed"), "{xml}");
    }
}

#[test]
fn each_applies_the_shared_files_first_and_unmatched_globs_are_unusable() {
    let (v1, v2, dir) = (fleet("v1"), fleet("v2"), fleet("values"));
    let helm = &common::helms()[0];
    // Team C's file sets the Service type: over it, team D no longer relies on that default.
    let (code, r) = diff_json(helm, &[p(&v1), p(&v2), "-f", p(&dir.join("team-c.yaml")), "--each", p(&dir.join("team-d.yaml"))]);
    assert_eq!(code, 0, "{:#}", r["files"]);
    let d = &r["files"][0];
    assert!(!strs(&d["relies_on_defaults"]).contains(&"service.type"), "{d:#}");
    assert!(strs(&d["relies_on_defaults"]).contains(&"service.ports.web"), "{d:#}");
    let (code, err) = diff(helm, &[p(&v1), p(&v2), "--each", &format!("{}/nobody-*.yaml", p(&dir))]);
    assert_eq!(code, 2);
    assert!(err.contains("no file matches"), "{err}");
}

#[test]
fn without_each_the_verdict_is_about_the_given_values() {
    let (v1, v2, dir) = (fleet("v1"), fleet("v2"), fleet("values"));
    for helm in common::helms() {
        // Team D is not reached by either breaking change.
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2), "-f", p(&dir.join("team-d.yaml"))]);
        assert_eq!(r["summary"]["breaking_contract"], 2, "{:#}", r["contract"]);
        assert_eq!(r["summary"]["breaking_for_values"], 0);
        assert!(r["contract"]["breaking"].as_array().unwrap().iter().all(|c| c["affects_values"] == false));
        let svc = r["contract"]["defaults"].as_array().unwrap().iter().find(|d| d["path"] == "service.type").unwrap();
        assert_eq!(svc["relied_on_by_values"], true);
        assert!(r["references"].as_array().unwrap().iter().any(|x| x["change"] == "port-renamed"), "{:#}", r["references"]);
        let other_failures = r["summary"]["new_errors"].as_u64().unwrap() + r["summary"]["breaking_fields"].as_u64().unwrap();
        assert_eq!(code, if other_failures == 0 { 0 } else { 1 });
        let (_, human) = diff(&helm, &[p(&v1), p(&v2), "-f", p(&dir.join("team-d.yaml"))]);
        if other_failures == 0 {
            assert!(human.contains("Result: not breaking for these values - 2 breaking contract change(s) exist; these values are unaffected"), "{human}");
        }
        assert!(human.contains("these values are unaffected") && human.contains("these values rely on it"), "{human}");

        // Team B is.
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2), "-f", p(&dir.join("team-b.yaml"))]);
        assert_eq!(code, 1);
        assert_eq!(r["summary"]["breaking_for_values"], 1);
        let (_, human) = diff(&helm, &[p(&v1), p(&v2), "-f", p(&dir.join("team-b.yaml"))]);
        assert!(human.contains("Result: BREAKING - 1 breaking contract change(s) reach these values"), "{human}");
        // No values: every breaking change counts, as before.
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2), "--contract-only"]);
        assert_eq!((code, r["summary"].get("breaking_for_values")), (1, None));
        let (_, md) = diff(&helm, &[p(&v1), p(&v2), "-o", "markdown"]);
        assert!(md.contains("### Names others refer to") && md.contains("port-renamed"), "{md}");
        let (_, xml) = diff(&helm, &[p(&v1), p(&v2), "-o", "junit"]);
        assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    }
}

/// Leaves whose default differs between two charts' effective defaults, recounted by PyYAML: a
/// chart's values.yaml with each subchart's (directory or packaged, recursively) under its key
/// (the alias, else its name), the parent's values for that key coalesced over them (maps key by
/// key, null deletes), and a subchart's `global` under the top-level `global` where the parent's
/// win (helm pkg/chartutil/coalesce.go: coalesceDeps, coalesceGlobals). Maps are walked key by
/// key, anything else (lists, scalars, empty maps) is a leaf.
fn python_changed_defaults(old: &Path, new: &Path) -> Vec<(String, String)> {
    let script = r#"
import sys, os, io, tarfile, yaml
def read_dir(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out
def read_tgz(data):
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            if m.isfile():
                out[m.name.split("/", 1)[1]] = t.extractfile(m).read()
    return out
def load(data):
    v = yaml.safe_load(data or b"")
    return v if isinstance(v, dict) else {}
def strip(v):
    return {k: strip(x) for k, x in v.items() if x is not None} if isinstance(v, dict) else v
def coalesce(base, over):
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(base.get(k), dict) and isinstance(v, dict):
            coalesce(base[k], v)
        else:
            base[k] = strip(v)
def subcharts(files):
    found = {}
    for p in sorted(files):
        parts = p.split("/")
        if parts[0] != "charts" or len(parts) < 2:
            continue
        if len(parts) == 3 and parts[2] == "Chart.yaml":
            found[parts[1]] = {q[len("charts/" + parts[1] + "/"):]: b for q, b in files.items() if q.startswith("charts/" + parts[1] + "/")}
        elif len(parts) == 2 and p.endswith(".tgz"):
            found[p] = read_tgz(files[p])
    return [(load(f.get("Chart.yaml")).get("name"), f) for _, f in sorted(found.items())]
def effective(files):
    meta = load(files.get("Chart.yaml"))
    vals = load(files.get("values.yaml"))
    subs = subcharts(files)
    used, keyed = set(), []
    for dep in meta.get("dependencies") or []:
        for i, (name, f) in enumerate(subs):
            if name == dep.get("name"):
                used.add(i)
                keyed.append((dep.get("alias") or name, f))
                break
    keyed += [(name, f) for i, (name, f) in enumerate(subs) if i not in used]
    for key, f in keyed:
        d = effective(f)
        g = d.pop("global", None)
        if key in vals and not isinstance(vals[key], dict):
            continue
        if key in vals:
            coalesce(d, vals[key])
        if d or key in vals:
            vals[key] = d
        if isinstance(g, dict) and g:
            if "global" in vals:
                coalesce(g, vals["global"])
            vals["global"] = g
    return vals
def leaves(v, at, out):
    if isinstance(v, dict) and v:
        for k, x in v.items():
            leaves(x, at + [str(k)], out)
    else:
        out[".".join(at)] = v
a, b = {}, {}
leaves(effective(read_dir(sys.argv[1])), [], a)
leaves(effective(read_dir(sys.argv[2])), [], b)
for k in sorted(set(a) | set(b)):
    if k not in b: print(k, "removed")
    elif k not in a: print(k, "added")
    elif a[k] != b[k] or type(a[k]) != type(b[k]): print(k, "changed")
"#;
    let out = std::process::Command::new("python3").args(["-c", script, p(old), p(new)]).output().expect("python3 with PyYAML");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| {
        let (k, v) = l.rsplit_once(' ').unwrap();
        (k.to_string(), v.to_string())
    }).collect()
}

/// Flip the first top-level boolean or number of a values.yaml; false when it has none.
fn flip_first_top_level_default(values: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(values) else { return false };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in lines.iter_mut() {
        let Some((k, v)) = l.split_once(": ") else { continue };
        if k.starts_with([' ', '#', '-']) || k.contains(' ') {
            continue;
        }
        let v = v.trim();
        let flipped = match v {
            "true" => "false".to_string(),
            "false" => "true".to_string(),
            n if n.parse::<u32>().is_ok() => (n.parse::<u32>().unwrap() + 1).to_string(),
            _ => continue,
        };
        *l = format!("{k}: {flipped}");
        std::fs::write(values, lines.join("\n") + "\n").unwrap();
        return true;
    }
    false
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn corpus_changed_defaults_match_an_independent_recount() {
    let helm = &common::helms()[0];
    let mut disagreements = Vec::new();
    let (mut compared, mut with_subchart_edit, mut leaves) = (0, 0, 0);
    for chart in common::corpus_charts() {
        let copy = common::copy_chart(&chart);
        let values = copy.path().join("values.yaml");
        let Ok(text) = std::fs::read_to_string(&values) else { continue };
        // Flip the first top-level boolean or number, and add a key: one changed, one added default.
        std::fs::write(&values, text + "\nchartproofAddedDefault: {enabled: true}\n").unwrap();
        assert!(flip_first_top_level_default(&values), "{}: no top-level boolean or number to change", chart.display());
        // And in the first subchart that has one: a default the parent may or may not override.
        let mut subs: Vec<PathBuf> = std::fs::read_dir(copy.path().join("charts")).into_iter().flatten().flatten().map(|e| e.path().join("values.yaml")).collect();
        subs.sort();
        if subs.iter().any(|v| flip_first_top_level_default(v)) {
            with_subchart_edit += 1;
        }
        let (_, r) = diff_json(helm, &[p(&chart), p(copy.path()), "--contract-only"]);
        let mut ours: Vec<(String, String)> = r["contract"]["defaults"].as_array().unwrap().iter().map(|d| (d["path"].as_str().unwrap().to_string(), d["change"].as_str().unwrap().to_string())).collect();
        ours.sort();
        let mut theirs = python_changed_defaults(&chart, copy.path());
        theirs.sort();
        compared += 1;
        if ours != theirs {
            disagreements.push(format!("{}: chartproof {ours:?}, PyYAML {theirs:?}", chart.display()));
        }
        assert!(theirs.len() >= 2, "{}: {theirs:?}", chart.display());
        // Every effective default, subcharts included: from a chart with one other, all are added.
        let empty = tempfile::tempdir().unwrap();
        common::write_files(empty.path(), &[("Chart.yaml", "apiVersion: v2\nname: empty\nversion: 0.0.1\n"), ("values.yaml", "chartproofOnlyDefault: 1\n")]);
        let (_, r) = diff_json(helm, &[p(empty.path()), p(&chart), "--contract-only"]);
        let mut ours: Vec<(String, String)> = r["contract"]["defaults"].as_array().unwrap().iter().map(|d| (d["path"].as_str().unwrap().to_string(), d["change"].as_str().unwrap().to_string())).collect();
        ours.sort();
        let mut theirs = python_changed_defaults(empty.path(), &chart);
        theirs.sort();
        leaves += theirs.len();
        if ours != theirs {
            let only_ours: Vec<_> = ours.iter().filter(|x| !theirs.contains(x)).take(5).collect();
            let only_theirs: Vec<_> = theirs.iter().filter(|x| !ours.contains(x)).take(5).collect();
            disagreements.push(format!("{} (all defaults): only chartproof {only_ours:?}, only PyYAML {only_theirs:?}", chart.display()));
        }
    }
    assert!(compared >= 10, "only {compared} corpus charts");
    assert!(with_subchart_edit >= 2, "only {with_subchart_edit} charts with an edited subchart");
    assert!(disagreements.is_empty(), "{} of {compared} charts disagree:\n{}", disagreements.len(), disagreements.join("\n"));
    eprintln!("changed defaults agree with PyYAML on {compared} of {compared} charts ({with_subchart_edit} with a subchart default changed), and all {leaves} effective defaults");
}

/// The fleet chart's two versions in temporary copies, each with a Secret holding a random
/// password unless `auth.password` is set, and a test Pod with a random name suffix.
fn random_fleet() -> (tempfile::TempDir, tempfile::TempDir) {
    let copies = (common::copy_chart(&fleet("v1")), common::copy_chart(&fleet("v2")));
    for dir in [copies.0.path(), copies.1.path()] {
        let values = std::fs::read_to_string(dir.join("values.yaml")).unwrap();
        common::write_files(dir, &[
            ("values.yaml", &format!("{values}auth:\n  enabled: true\n")),
            ("templates/secret.yaml", "{{- if .Values.auth.enabled }}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-fleet-auth\ntype: Opaque\ndata:\n  password: {{ .Values.auth.password | default (randAlphaNum 24) | b64enc | quote }}\n{{- end }}\n"),
            ("templates/tests/check.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-check-{{ randAlphaNum 5 | lower }}\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: check\n      image: registry.example.com/check:1.0.0\n"),
        ]);
    }
    copies
}

#[test]
fn each_shares_one_volatility_render_per_side_where_values_cannot_change_what_is_volatile() {
    let (v1, v2) = random_fleet();
    let teams = tempfile::tempdir().unwrap();
    for t in ["a", "b", "c", "d", "e"] {
        std::fs::copy(fleet("values").join(format!("team-{t}.yaml")), teams.path().join(format!("team-{t}.yaml"))).unwrap();
    }
    // Team F sets the password (its Secret is no longer random), team G turns the Secret off:
    // both set values the volatile template reads, so they get their own second renders.
    common::write_files(teams.path(), &[("team-f.yaml", "auth:\n  password: s3cret\n"), ("team-g.yaml", "auth:\n  enabled: false\n")]);
    let glob = format!("{}/team-*.yaml", p(teams.path()));
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(v1.path()), p(v2.path()), "--each", &glob]);
        assert_eq!(code, 1, "teams A and B break ({})", helm.display());
        let files = r["files"].as_array().unwrap();
        assert_eq!(files.len(), 7);
        for f in files {
            let shown: Vec<String> = f["resources"].as_array().unwrap().iter().map(|x| format!("{} {} {}", x["change"], x["kind"], x["name"])).collect();
            // Neither the random password nor the random Pod name is ever a change.
            assert!(f["resources"].as_array().unwrap().iter().all(|x| x["kind"] != "Secret" && x["kind"] != "Pod"), "{}: {shown:?}", f["file"]);
            let own = f["file"].as_str().unwrap().ends_with("team-f.yaml") || f["file"].as_str().unwrap().ends_with("team-g.yaml");
            let want = if own { [2, 2] } else { [1, 1] };
            assert_eq!(f["helm_renders"], serde_json::json!(want), "{}", f["file"]);
            if f["renders_new"] == true {
                // Deployment and Service change; Secret (unless turned off) and Pod do not.
                let unchanged = if f["file"].as_str().unwrap().ends_with("team-g.yaml") { 1 } else { 2 };
                assert_eq!(f["unchanged_resources"], unchanged, "{f:#}");
            }
        }
        // Team D relies on the Service type default: that change is still shown.
        let d = files.iter().find(|f| f["file"].as_str().unwrap().ends_with("team-d.yaml")).unwrap();
        assert!(d["resources"].as_array().unwrap().iter().any(|x| x["kind"] == "Service" && x["fields"].as_array().unwrap().iter().any(|f| f["path"] == "spec.type")), "{d:#}");
        // 2 reference renders + 5 files once per side + 2 files twice per side (4 per file
        // without sharing: 28).
        assert_eq!(r["summary"]["helm_renders"], 2 + 5 * 2 + 2 * 4, "{:#}", r["summary"]);
    }
}

#[test]
fn each_with_side_values_applies_them_before_each_file() {
    let (v1, v2, dir) = (fleet("v1"), fleet("v2"), fleet("values"));
    let sides = tempfile::tempdir().unwrap();
    // The old releases ran 5 replicas for everyone; the new ones pin the Service type.
    common::write_files(sides.path(), &[("old.yaml", "replicaCount: 5\n"), ("new.yaml", "service:\n  type: ClusterIP\n")]);
    let (old, new) = (sides.path().join("old.yaml"), sides.path().join("new.yaml"));
    let glob = format!("{}/team-*.yaml", p(&dir));
    for helm in common::helms() {
        let (code, r) = diff_json(&helm, &[p(&v1), p(&v2), "--old-values", p(&old), "--new-values", p(&new), "--each", &glob]);
        assert_eq!(code, 1, "teams A and B still break ({})", helm.display());
        assert_eq!((r["old"]["values"][0].as_str(), r["new"]["values"][0].as_str()), (Some(p(&old)), Some(p(&new))));
        let verdict = |t: &str| r["files"].as_array().unwrap().iter().find(|f| f["file"].as_str().unwrap().ends_with(&format!("team-{t}.yaml"))).unwrap();
        assert_eq!(r["summary"]["files_breaking"], 2);
        // Nobody relies on the Service type default any more: new.yaml sets it for everyone.
        let svc = r["contract"]["defaults"].as_array().unwrap().iter().find(|d| d["path"] == "service.type").unwrap();
        assert!(strs(&svc["relied_on_by"]).is_empty(), "{svc:#}");
        for t in ["d", "e"] {
            let f = verdict(t);
            let changes: Vec<(&str, &str)> = f["resources"].as_array().unwrap().iter().flat_map(|x| x["fields"].as_array().unwrap()).map(|c| (c["path"].as_str().unwrap(), c["kind"].as_str().unwrap_or(""))).collect();
            assert!(!changes.iter().any(|(path, _)| *path == "spec.type"), "team {t}: {changes:?}");
            // The old side ran old.yaml's 5 replicas (team E sets none; team D neither): the new
            // side falls back to 3.0.0's default of 3.
            let deploy = f["resources"].as_array().unwrap().iter().find(|x| x["kind"] == "Deployment").unwrap();
            let replicas = deploy["fields"].as_array().unwrap().iter().find(|c| c["path"] == "spec.replicas").unwrap_or_else(|| panic!("team {t}: {deploy:#}"));
            assert_eq!((replicas["old"].as_i64(), replicas["new"].as_i64()), (Some(5), Some(3)), "team {t}: {replicas:#}");
        }
        // Team B sets 4 replicas itself: applied after old.yaml, its file wins on both sides.
        let b_deploy = verdict("b")["resources"].as_array().unwrap().iter().find(|x| x["kind"] == "Deployment").cloned();
        assert!(b_deploy.is_none_or(|d| !d["fields"].as_array().unwrap().iter().any(|c| c["path"] == "spec.replicas")), "team B");
        // One chart, two values sets, every team: old.yaml's 5 replicas against the default 2.
        let (code, r) = diff_json(&helm, &[p(&v1), "--old-values", p(&old), "--new-values", p(&new), "--each", &glob]);
        assert_eq!((code, r["summary"]["files"].as_u64()), (0, Some(5)), "{:#}", r["summary"]);
        let e = r["files"].as_array().unwrap().iter().find(|f| f["file"].as_str().unwrap().ends_with("team-e.yaml")).unwrap();
        let fields = resource_changes(&e["resources"]);
        assert!(fields.iter().any(|f| f.ends_with("\"spec.replicas\" 5 -> 2")), "{fields:?}");
    }
}

/// A chart `app` at `version` whose `db` subchart (packaged as charts/db-0.1.0.tgz) defaults to
/// `db_values`, the parent overriding `parent_values`.
fn chart_with_packaged_subchart(dir: &Path, version: &str, parent_values: &str, db_values: &str) {
    common::write_files(dir, &[
        ("Chart.yaml", &format!("apiVersion: v2\nname: app\nversion: {version}\ndependencies:\n- name: db\n  version: 0.1.0\n  alias: store\n")),
        ("values.yaml", parent_values),
        ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-app\n"),
    ]);
    let sub = tempfile::tempdir().unwrap();
    common::write_files(sub.path(), &[
        ("db/Chart.yaml", "apiVersion: v2\nname: db\nversion: 0.1.0\n"),
        ("db/values.yaml", db_values),
        ("db/templates/sts.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  tag: {{ .Values.image.tag | quote }}\n  tier: {{ .Values.global.tier | quote }}\n"),
    ]);
    std::fs::create_dir_all(dir.join("charts")).unwrap();
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(dir.join("charts/db-0.1.0.tgz")).unwrap(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("db", sub.path().join("db")).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn subchart_defaults_are_changed_defaults_at_their_key_path() {
    let (old, new, teams) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    chart_with_packaged_subchart(old.path(), "1.0.0", "store:\n  image:\n    tag: '1.0'\n", "replicas: 1\nimage:\n  tag: '0.9'\nglobal:\n  tier: small\n");
    // 2.0.0: the subchart's replica default and global tier change, the parent's override of the
    // image tag moves on; the subchart's own tag default changes too but the parent's wins.
    chart_with_packaged_subchart(new.path(), "2.0.0", "store:\n  image:\n    tag: '2.0'\n", "replicas: 2\nimage:\n  tag: '1.9'\nglobal:\n  tier: large\n");
    common::write_files(teams.path(), &[("pinned.yaml", "store:\n  replicas: 1\n"), ("default.yaml", "global:\n  tier: small\n")]);
    let glob = format!("{}/*.yaml", p(teams.path()));
    for helm in common::helms() {
        let (_, r) = diff_json(&helm, &[p(old.path()), p(new.path()), "--each", &glob]);
        let defaults: Vec<(&str, &str, String, Vec<&str>)> = r["contract"]["defaults"].as_array().unwrap().iter().map(|d| (d["path"].as_str().unwrap(), d["change"].as_str().unwrap(), format!("{} -> {}", d["old"], d["new"]), strs(&d["relied_on_by"]))).collect();
        let (pinned, default) = (teams.path().join("pinned.yaml"), teams.path().join("default.yaml"));
        assert_eq!(defaults, vec![
            ("store.replicas", "changed", "1 -> 2".to_string(), vec![p(&default)]),
            ("store.image.tag", "changed", "\"1.0\" -> \"2.0\"".to_string(), vec![p(&default), p(&pinned)]),
            ("global.tier", "changed", "\"small\" -> \"large\"".to_string(), vec![p(&pinned)]),
        ], "{:#}", r["contract"]["defaults"]);
        // What helm renders agrees: the file relying on store.replicas sees it change.
        let changed = |f: &Path| -> Vec<String> {
            let v = r["files"].as_array().unwrap().iter().find(|x| x["file"] == p(f)).unwrap();
            v["resources"].as_array().unwrap().iter().flat_map(|x| x["fields"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap().to_string())).collect()
        };
        assert_eq!(changed(&pinned), ["data.tag", "data.tier"], "{:#}", r["files"]);
        assert_eq!(changed(&default), ["data.replicas", "data.tag"], "{:#}", r["files"]);
    }
}

/// What a file's resource changes are, comparable between `--each` and a `diff -f FILE` of its own.
fn resource_changes(resources: &Value) -> Vec<String> {
    let mut out: Vec<String> = resources.as_array().unwrap().iter().flat_map(|r| {
        let id = format!("{} {} {} {}", r["change"], r["kind"], r["namespace"], r["name"]);
        let fields: Vec<String> = r["fields"].as_array().unwrap().iter().map(|f| format!("{id} {} {} -> {}", f["path"], f["old"], f["new"])).collect();
        std::iter::once(id).chain(fields)
    }).collect();
    out.sort();
    out
}

/// Each file's verdict from `--each` (sharing the volatility reference render where it can) is
/// the one `diff -f FILE` gives, which renders every side twice; returns how many file sides
/// shared the reference render.
fn each_agrees_with_diffs_of_one_file(helm: &Path, old: &Path, new: &Path, files: &[PathBuf]) -> usize {
    let mut args = vec![p(old), p(new)];
    for f in files {
        args.extend(["--each", p(f)]);
    }
    let (_, r) = diff_json(helm, &args);
    let mut shared = 0;
    for (f, v) in files.iter().zip(r["files"].as_array().unwrap()) {
        let (_, alone) = diff_json(helm, &[p(old), p(new), "-f", p(f)]);
        assert_eq!(resource_changes(&v["resources"]), resource_changes(&alone["resources"]), "{}: --each and diff -f disagree", f.display());
        assert_eq!(v["unchanged_resources"], alone["unchanged_resources"], "{}", f.display());
        shared += v["helm_renders"].as_array().unwrap().iter().filter(|n| n.as_u64() == Some(1)).count();
    }
    shared
}

#[test]
fn each_with_a_shared_volatility_render_agrees_with_diffs_of_one_file() {
    let (v1, v2) = random_fleet();
    let teams = tempfile::tempdir().unwrap();
    common::write_files(teams.path(), &[("d.yaml", "logLevel: warn\n"), ("f.yaml", "auth:\n  password: s3cret\n")]);
    let files = [teams.path().join("d.yaml"), teams.path().join("f.yaml")];
    for helm in common::helms() {
        assert_eq!(each_agrees_with_diffs_of_one_file(&helm, v1.path(), v2.path(), &files), 2, "d.yaml shares on both sides");
    }
}

#[test]
#[ignore = "needs ../shared: scripts/corpus runs it"]
fn corpus_each_with_a_shared_volatility_render_agrees_with_diffs_of_one_file() {
    let helm = &common::helms()[0];
    let mut shared = 0;
    for (chart, files) in [
        ("podinfo", vec!["replicaCount: 3\n", "service:\n  externalPort: 9999\n", "ui:\n  message: hi\n"]),
        ("grafana", vec!["replicas: 2\n", "adminPassword: s3cret\n"]),
        ("traefik", vec!["deployment:\n  replicas: 2\n", "ports:\n  web:\n    port: 8001\n"]),
        // Its volatile templates are the grafana subchart's: they read under `grafana` and `global`.
        ("kube-prometheus-stack", vec!["prometheus:\n  prometheusSpec:\n    replicas: 2\n", "grafana:\n  adminPassword: s3cret\n"]),
    ] {
        let old = common::corpus(chart);
        let new = common::copy_chart(&old);
        assert!(flip_first_top_level_default(&new.path().join("values.yaml")), "{chart}");
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = files.iter().enumerate().map(|(i, text)| {
            let path = dir.path().join(format!("{chart}-{i}.yaml"));
            std::fs::write(&path, text).unwrap();
            path
        }).collect();
        shared += each_agrees_with_diffs_of_one_file(helm, &old, new.path(), &paths);
    }
    assert!(shared >= 6, "only {shared} file sides shared the reference render");
    eprintln!("9 files of podinfo, grafana, traefik and kube-prometheus-stack: --each agrees with diff -f on each; {shared} of 18 file sides shared the reference render");
}
