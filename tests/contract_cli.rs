//! `chartproof schema` and `chartproof validate` run as a user runs them: output, files written,
//! exit codes (0 ok, 1 failed check, 2 unusable input) and error locations.

mod common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn chartproof() -> Command {
    Command::cargo_bin("chartproof").unwrap()
}

const VALUES: &str = "\
# -- Number of pods
replicaCount: 1
image:
  repository: nginx
  # -- (string) tag to pull
  tag:
# @schema enum:[ClusterIP, NodePort];colour:red
serviceType: ClusterIP
labels: {}
";

fn fixture(values: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(tmp.path(), &[("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"), ("values.yaml", values)]);
    tmp
}

#[test]
fn schema_prints_an_inferred_draft7_schema_with_annotation_warnings() {
    let chart = fixture(VALUES);
    let out = chartproof().arg("schema").arg(chart.path()).assert().success();
    let out = out.get_output();
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], json!("http://json-schema.org/draft-07/schema#"));
    assert_eq!(schema["properties"]["replicaCount"], json!({"type": "integer", "description": "Number of pods"}));
    assert_eq!(schema["properties"]["image"]["properties"]["tag"]["type"], json!(["string", "null"]));
    assert_eq!(schema["properties"]["serviceType"]["enum"], json!(["ClusterIP", "NodePort"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("values.yaml:7: serviceType: unknown @schema key `colour`"), "{stderr}");
    assert!(stderr.contains("values.yaml:9: labels: weakly typed: empty map"), "{stderr}");

    let out = chartproof().args(["schema", "--draft", "2020-12"]).arg(chart.path()).assert().success();
    let schema: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(schema["$schema"], json!("https://json-schema.org/draft/2020-12/schema"));
}

#[test]
fn write_then_check_then_stale_then_missing() {
    let chart = fixture(VALUES);
    let schema_file = chart.path().join("values.schema.json");
    chartproof().args(["schema", "--check"]).arg(chart.path()).assert().code(1).stdout(predicate::str::contains("+++ b/")).stderr(predicate::str::contains("is missing"));
    chartproof().args(["schema", "--write"]).arg(chart.path()).assert().success().stderr(predicate::str::contains("wrote"));
    assert!(schema_file.exists());
    chartproof().args(["schema", "--check"]).arg(chart.path()).assert().success().stderr(predicate::str::contains("up to date"));
    std::fs::write(chart.path().join("values.yaml"), format!("{VALUES}newKey: true\n")).unwrap();
    chartproof()
        .args(["schema", "--check"])
        .arg(chart.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+    \"newKey\": {").and(predicate::str::contains("@@")))
        .stderr(predicate::str::contains("is stale"));
}

#[test]
fn write_keeps_hand_written_constraints_and_reports_conflicts() {
    let chart = fixture("replicaCount: 1\nport: \"80\"\nimage:\n  tag: v1\n");
    let hand = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["image"],
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 1, "description": "hand-written"},
    "port": {
      "type": "integer"
    },
    "image": {"type": "object", "additionalProperties": false, "properties": {"tag": {"type": "string", "pattern": "^v"}}}
  }
}
"#;
    let schema_file = chart.path().join("values.schema.json");
    std::fs::write(&schema_file, hand).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&schema_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    chartproof()
        .args(["schema", "--write"])
        .arg(chart.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("conflict: port: schema says \"integer\" at").and(predicate::str::contains("values.schema.json:8")).and(predicate::str::contains("values.yaml:2:1")));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&schema_file).unwrap()).unwrap();
    assert_eq!(written["properties"]["replicaCount"], json!({"type": "integer", "minimum": 1, "description": "hand-written"}));
    assert_eq!(written["properties"]["image"]["properties"]["tag"], json!({"type": "string", "pattern": "^v"}));
    assert_eq!(written["properties"]["image"]["additionalProperties"], json!(false));
    assert_eq!(written["required"], json!(["image"]));
    assert_eq!(written["properties"]["port"]["type"], json!("integer"), "the hand-written type wins");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&schema_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    chartproof().args(["schema", "--check"]).arg(chart.path()).assert().success();
}

#[test]
fn validate_lists_every_error_with_its_location() {
    let chart = fixture(VALUES);
    let user = chart.path().join("mine.yaml");
    std::fs::write(&user, "image:\n  tag: 5\nserviceType: LoadBalancer\n").unwrap();
    let out = chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&user).args(["--set", "replicaCount=many"]).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.starts_with("invalid: 3 error(s) against the contract inferred from values.yaml"), "{stdout}");
    assert!(stdout.contains("mine.yaml:2:3: image.tag: expected string or null, got integer 5") || stdout.contains("mine.yaml:2:3: image.tag: expected null or string, got integer 5"), "{stdout}");
    assert!(stdout.contains("mine.yaml:3:1: serviceType: expected one of [\"ClusterIP\",\"NodePort\"], got string \"LoadBalancer\""), "{stdout}");
    assert!(stdout.contains("--set replicaCount=many: replicaCount: expected integer, got string \"many\""), "{stdout}");

    let out = chartproof().arg("validate").arg(chart.path()).args(["--set", "replicaCount=many", "-o", "json"]).assert().code(1);
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["valid"], json!(false));
    assert_eq!(report["contract"], json!("inferred"));
    assert_eq!(report["errors"][0]["pointer"], json!("/replicaCount"));
    assert_eq!(report["errors"][0]["location"], json!({"kind": "set", "argument": "replicaCount=many"}));
    let report_schema: Value = serde_json::from_str(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/validate-report.schema.json")).unwrap()).unwrap();
    assert!(jsonschema::is_valid(&report_schema, &report), "the report matches schemas/validate-report.schema.json");

    chartproof().arg("validate").arg(chart.path()).args(["--set", "replicaCount=3"]).assert().success().stdout(predicate::str::starts_with("ok: values satisfy"));
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    chartproof().args(["validate", "/nonexistent/chart"]).assert().code(2).stderr(predicate::str::contains("chart not found: /nonexistent/chart"));
    chartproof().args(["schema", "/nonexistent/chart"]).assert().code(2).stderr(predicate::str::contains("chart not found"));

    let chart = fixture(VALUES);
    chartproof().arg("validate").arg(chart.path()).args(["-f", "/nonexistent/values.yaml"]).assert().code(2).stderr(predicate::str::contains("cannot read values file /nonexistent/values.yaml"));
    let broken = chart.path().join("broken.yaml");
    std::fs::write(&broken, "a: 1\nb: [1, 2\nc: 3\n").unwrap();
    chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&broken).assert().code(2).stderr(predicate::str::is_match(r"broken\.yaml:\d+:\d+: invalid YAML").unwrap());
    chartproof().arg("validate").arg(chart.path()).args(["--set", "novalue"]).assert().code(2).stderr(predicate::str::contains("--set 'novalue'"));

    let bad_values = fixture("a: 1\n  b: 2\n");
    chartproof().arg("schema").arg(bad_values.path()).assert().code(2).stderr(predicate::str::is_match(r"values\.yaml:2:\d+: invalid YAML").unwrap());

    let bad_schema = fixture("a: 1\n");
    std::fs::write(bad_schema.path().join("values.schema.json"), r#"{"type": "object", "properties": {"a": {"type": "integr"}}}"#).unwrap();
    for cmd in ["validate", "schema"] {
        chartproof().arg(cmd).arg(bad_schema.path()).assert().code(2).stderr(predicate::str::contains("values.schema.json is not a usable JSON Schema"));
    }
    std::fs::write(bad_schema.path().join("values.schema.json"), "{\"type\": \"object\",\n  \"properties\": }\n").unwrap();
    chartproof().arg("validate").arg(bad_schema.path()).assert().code(2).stderr(predicate::str::contains("values.schema.json:2:").and(predicate::str::contains("not valid JSON")));
    // Nothing was lost: --write refuses to touch an unusable schema.
    chartproof().args(["schema", "--write"]).arg(bad_schema.path()).assert().code(2);
    assert_eq!(std::fs::read_to_string(bad_schema.path().join("values.schema.json")).unwrap(), "{\"type\": \"object\",\n  \"properties\": }\n");
}

#[test]
fn subchart_errors_name_the_subchart_and_the_parent_key() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(tmp.path(), &[
        ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: 0.1.0\n  alias: kid\n  condition: kid.enabled\n"),
        ("values.yaml", "kid:\n  enabled: true\n"),
        ("charts/child/Chart.yaml", "apiVersion: v2\nname: child\nversion: 0.1.0\n"),
        ("charts/child/values.yaml", "port: 80\n"),
        ("charts/child/values.schema.json", r#"{"type": "object", "properties": {"port": {"type": "integer"}}}"#),
    ]);
    let out = chartproof().arg("validate").arg(tmp.path()).args(["--set", "kid.port=http"]).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("--set kid.port=http: kid.port: expected integer, got string \"http\" [subchart kid]"), "{stdout}");
    let out = chartproof().arg("schema").arg(tmp.path()).assert().success();
    let schema: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(schema["properties"]["kid"]["properties"]["port"]["type"], json!("integer"));
    assert_eq!(schema["properties"]["kid"]["properties"]["enabled"]["type"], json!("boolean"));
    assert_eq!(schema["properties"]["kid"]["properties"]["global"]["type"], json!("object"));
}

#[test]
fn packaged_charts_are_read_but_not_written() {
    let chart = fixture(VALUES);
    let tgz_dir = tempfile::tempdir().unwrap();
    let tgz = tgz_dir.path().join("demo-1.0.0.tgz");
    let file = std::fs::File::create(&tgz).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    builder.append_dir_all("demo", chart.path()).unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    chartproof().arg("schema").arg(&tgz).assert().success().stdout(predicate::str::contains("\"replicaCount\""));
    chartproof().arg("validate").arg(&tgz).args(["--set", "replicaCount=x"]).assert().code(1);
    chartproof().args(["schema", "--write"]).arg(&tgz).assert().code(2).stderr(predicate::str::contains("packaged chart"));
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn corpus_charts_validate_at_their_defaults_and_loki_with_its_ci_values() {
    for chart in common::corpus_charts() {
        chartproof().arg("validate").arg(&chart).assert().success();
    }
    let loki = common::corpus("loki");
    chartproof().arg("validate").arg(&loki).arg("-f").arg(loki.join("ci/default-values.yaml")).assert().success();
    // `servicePort: ""` is an unset placeholder its ci values fill with `80`: the contract
    // inferred from values.yaml accepts an integer for a string default, as `--set` passes one.
    let node_exporter = common::corpus("prometheus-node-exporter");
    chartproof().arg("validate").arg(&node_exporter).arg("-f").arg(node_exporter.join("ci/serviceport-values.yaml")).assert().success();
    chartproof().arg("validate").arg(&node_exporter).arg("--scenarios").assert().success();
}

#[test]
fn go_service_ships_the_schema_chartproof_generates() {
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/go-service");
    chartproof().args(["schema", "--check"]).arg(&chart).assert().success().stderr(predicate::str::contains("is up to date"));
    chartproof().arg("validate").arg(&chart).assert().success();
    chartproof().arg("validate").arg(&chart).args(["--set", "replicaCount=0"]).assert().code(1).stdout(predicate::str::contains("--set replicaCount=0: replicaCount: expected >= 1"));
}

/// The helm's own schema verdict on `helm template CHART -f FILE`: true when it accepts.
fn helm_accepts(helm: &Path, chart: &Path, file: &Path) -> bool {
    let out = common::helm_template(helm, chart, &["-f".into(), file.display().to_string()]);
    assert!(out.status.success() || String::from_utf8_lossy(&out.stderr).contains("don't meet the specifications of the schema"), "{}", String::from_utf8_lossy(&out.stderr));
    out.status.success()
}

fn helm_major(helm: &Path) -> u32 {
    chartproof::render::Helm::at(helm).unwrap().major
}

#[test]
fn validate_takes_the_rules_of_the_helm_in_use_and_helm_4_without_one() {
    // No `$schema`: Helm 3 asserts `format`, Helm 4 reads 2020-12 where `format` only annotates.
    let chart = common::copy_chart(&common::chart("fixtures/schema-probe"));
    let schema_path = chart.path().join("values.schema.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    schema.as_object_mut().unwrap().shift_remove("$schema");
    std::fs::write(&schema_path, schema.to_string()).unwrap();
    let file = chart.path().join("bad-email.yaml");
    std::fs::write(&file, "email: notanemail\n").unwrap();
    let no_helm_path = tempfile::tempdir().unwrap();
    let code = |accepts: bool| if accepts { 0 } else { 1 };
    let mut verdicts = std::collections::BTreeMap::new();
    for helm in common::helms() {
        let expected = code(helm_accepts(&helm, chart.path(), &file));
        verdicts.insert(helm_major(&helm), expected);
        // --helm, then HELM_BIN, then PATH, as `check` and `test` find it.
        chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&file).arg("--helm").arg(&helm).env("HELM_BIN", "/nonexistent/helm").assert().code(expected);
        chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&file).env("HELM_BIN", &helm).assert().code(expected);
        let on_path = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&helm, on_path.path().join("helm")).unwrap();
        let out = chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&file).args(["-o", "json"]).env_remove("HELM_BIN").env("PATH", on_path.path()).assert().code(expected);
        let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(report["rules"], json!(format!("helm{}", helm_major(&helm))), "{report}");
        assert!(report["helm_version"].as_str().unwrap().starts_with(&format!("v{}.", helm_major(&helm))), "{report}");
    }
    // No helm anywhere: Helm 4's rules, said in the report and in the human output.
    let out = chartproof().arg("validate").arg(chart.path()).arg("-f").arg(&file).args(["-o", "json"]).env_remove("HELM_BIN").env("PATH", no_helm_path.path()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["rules"].as_str(), report["helm_version"].as_str()), (Some("helm4"), None), "{report}");
    if let Some(helm4) = verdicts.get(&4) {
        assert_eq!(out.status.code(), Some(*helm4), "without helm, validate judges like Helm 4");
    }
    let human = chartproof().arg("validate").arg(chart.path()).env_remove("HELM_BIN").env("PATH", no_helm_path.path()).assert().success();
    assert!(String::from_utf8_lossy(&human.get_output().stdout).contains("as Helm 4 (santhosh-tekuri/jsonschema) checks it (no helm found)"));
    // A helm that is named but does not work is an error, not a fallback.
    chartproof().arg("validate").arg(chart.path()).env("HELM_BIN", "/nonexistent/helm").assert().code(2).stderr(predicate::str::contains("HELM_BIN=/nonexistent/helm does not work"));
}

#[test]
fn check_and_test_apply_the_schema_rules_of_their_helm() {
    for helm in common::helms() {
        let major = helm_major(&helm);
        // draft-04 with an empty `required`: Helm 3 ignores it, Helm 4's meta-schema rejects it.
        let chart = common::copy_chart(&common::chart("fixtures/rules-clean"));
        std::fs::write(chart.path().join("values.schema.json"), r#"{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": []}"#).unwrap();
        let helm_renders = common::helm_template(&helm, chart.path(), &[]).status.success();
        let out = chartproof().arg("check").arg(chart.path()).arg("--helm").arg(&helm).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if helm_renders {
            assert_eq!(out.status.code(), Some(0), "helm {major} uses the schema, so does check: {stderr}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains(&format!("values.schema.json is not a usable JSON Schema for Helm {major}")), "{stderr}");
        }

        // `test`'s contract filter: a whole float (`2.0`) in a union type is an integer to helm.
        let chart = tempfile::tempdir().unwrap();
        common::write_files(chart.path(), &[
            ("Chart.yaml", "apiVersion: v2\nname: floats\nversion: 0.1.0\n"),
            ("values.yaml", "replicas: 2.0\n"),
            ("values.schema.json", r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"replicas": {"type": ["integer", "null"], "minimum": 1}}}"#),
            ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n"),
        ]);
        assert!(common::helm_template(&helm, chart.path(), &[]).status.success(), "helm {major} accepts the defaults");
        let out = chartproof().arg("test").arg(chart.path()).arg("--helm").arg(&helm).args(["--cases", "3", "--no-save", "-o", "json"]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(report["cases_run"], json!(3), "helm {major}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Issue 19 item 1: an annotation (any dialect) that contradicts its key's default never makes a
/// contract that rejects the defaults: validate accepts them, and once written helm renders them.
#[test]
fn annotation_contradicting_the_default_never_rejects_the_defaults() {
    let chart = common::copy_chart(&common::chart("fixtures/annotation-contradicts-default"));
    for helm in common::helms() {
        common::chartproof(&helm).arg("validate").arg(chart.path()).assert().success();
        // The true variant: the annotation still types a key it does not contradict (no default).
        common::chartproof(&helm).arg("validate").arg(chart.path()).args(["--set", "extraEnv=x"]).assert().code(1).stdout(predicate::str::contains("extraEnv: expected array or null"));
    }
    let out = chartproof().arg("schema").arg(chart.path()).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for (line, key, dialect) in [(1, "extraVolumes", "bitnami"), (3, "port", "helm-docs"), (5, "mode", "dadav"), (9, "level", "losisin")] {
        assert!(stderr.contains(&format!("values.yaml:{line}: {key}: annotation contradicts the default")), "{dialect} at line {line}:\n{stderr}");
    }
    chartproof().args(["schema", "--write"]).arg(chart.path()).assert().success();
    for helm in common::helms() {
        let out = common::helm_template(&helm, chart.path(), &[]);
        assert!(out.status.success(), "{} renders the chart with the written schema: {}", helm.display(), String::from_utf8_lossy(&out.stderr));
        common::chartproof(&helm).args(["test", "--cases", "5", "--no-save"]).arg(chart.path()).assert().success();
    }
}

/// Issue 19 item 13: keys deleted from values.yaml leave the schema (hand-written ones stay), and
/// --check compares JSON values, showing only what changed.
#[test]
fn schema_drops_deleted_keys_and_check_diffs_the_contract_not_the_indentation() {
    let chart = common::copy_chart(&common::chart("fixtures/schema-stale"));
    let schema_file = chart.path().join("values.schema.json");
    let out = chartproof().args(["schema", "--check"]).arg(chart.path()).assert().code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("oldKey: no longer in values.yaml; its inferred schema is dropped"), "{stderr}");
    assert!(stderr.contains("digest: no longer in values.yaml, but kept: its schema has hand-written pattern"), "{stderr}");
    assert!(stderr.contains("is stale (2 change(s): /properties/image/properties/pullPolicy, /properties/oldKey)"), "{stderr}");
    chartproof().args(["schema", "--write"]).arg(chart.path()).assert().success();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&schema_file).unwrap()).unwrap();
    assert!(written["properties"].get("oldKey").is_none());
    assert!(written["properties"]["image"]["properties"].get("pullPolicy").is_none());
    assert_eq!(written["properties"]["digest"]["pattern"], json!("^sha256:[0-9a-f]{64}$"));
    chartproof().args(["schema", "--check"]).arg(chart.path()).assert().success();
    // Re-indented by an editor (4 spaces) and one key added to values.yaml: one change shown.
    let four = {
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, serde_json::ser::PrettyFormatter::with_indent(b"    "));
        serde::Serialize::serialize(&written, &mut ser).unwrap();
        String::from_utf8(buf).unwrap()
    };
    std::fs::write(&schema_file, four).unwrap();
    chartproof().args(["schema", "--check"]).arg(chart.path()).assert().success();
    std::fs::write(chart.path().join("values.yaml"), "replicaCount: 1\nimage:\n  tag: \"1.0\"\nnewKey: true\n").unwrap();
    let out = chartproof().args(["schema", "--check"]).arg(chart.path()).assert().code(1);
    let diff = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let changed: Vec<&str> = diff.lines().filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---")).collect();
    assert_eq!(changed.len(), 3, "only the new key's lines:\n{diff}");
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("1 change(s): /properties/newKey"));
}

/// Issue 19 item 14: --strict reports unknown keys with a "did you mean" at file:line; `global`
/// and subchart keys are not unknown; `# @schema additionalProperties:false` closes an object.
#[test]
fn validate_strict_reports_typos_but_not_global_or_subchart_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo.yaml");
    std::fs::write(&typo, "replicaCont: 3\nglobal:\n  region: eu\nkid:\n  prot: 1\n  port: 9090\nimage:\n  tga: x\nlabels:\n  anything: goes\n").unwrap();
    let chart = common::chart("fixtures/strict-keys");
    for helm in common::helms() {
        common::chartproof(&helm).arg("validate").arg(&chart).arg("-f").arg(&typo).assert().success();
        let out = common::chartproof(&helm).arg("validate").arg(&chart).arg("-f").arg(&typo).arg("--strict").assert().code(1);
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        let file = typo.display();
        assert!(stdout.contains(&format!("{file}:1:1: replicaCont: expected a key the contract lists (did you mean `replicaCount`?)")), "{stdout}");
        assert!(stdout.contains(&format!("{file}:5:3: kid.prot: expected a key the contract lists (did you mean `port`?)")), "{stdout}");
        assert!(stdout.contains(&format!("{file}:8:3: image.tga:")), "{stdout}");
        assert!(stdout.contains("3 error(s)"), "global, kid.port and an open map's keys are known: {stdout}");
        // Closed in the contract itself: reported without --strict, with the nearest key.
        common::chartproof(&helm).arg("validate").arg(&chart).args(["--set", "probe.enabeld=false"]).assert().code(1).stdout(predicate::str::contains("`enabeld`: did you mean `enabled`?"));
        let written = common::copy_chart(&chart);
        chartproof().args(["schema", "--write"]).arg(written.path()).assert().success();
        let out = common::helm_template(&helm, written.path(), &["--set".into(), "probe.enabeld=false".into()]);
        assert!(!out.status.success(), "helm rejects the closed object's unknown key too");
    }
}
