//! `chartproof unittest` from the command line, with every configured helm: helm-unittest's
//! semantics on a generated chart (release name, namespace, kube version, template selection,
//! typed `set`, document order, failedTemplate), failures and exit codes, JUnit layout,
//! snapshots, cert-manager's committed snapshot suite, and SARIF valid against the SARIF 2.1.0
//! schema.

mod common;

use std::path::Path;

use common::{chartproof, copy_chart, corpus, helms, write_files};

const CHART: &str = "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"9.9\"\nkubeVersion: \">=1.25.0-0\"\n";
const VALUES: &str = "replicas: 2\nlabels:\n  team: a\n  tier: web\nports: [80, 443]\nfailHere: false\n";
const HELPERS: &str = "{{- define \"demo.name\" -}}{{ .Release.Name }}-demo{{- end -}}\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"demo.name\" . }}\n  namespace: {{ .Release.Namespace }}\n  labels:\n{{ toYaml .Values.labels | indent 4 }}\n  annotations:\n    kube: {{ .Capabilities.KubeVersion.Version | quote }}\n    chart: {{ .Chart.Version | quote }}\n    upgrade: {{ .Release.IsUpgrade | quote }}\nspec:\n  replicas: {{ .Values.replicas }}\n  ports: {{ toJson .Values.ports }}\n";
// Written Service first; helm sorts ConfigMap before Service, helm-unittest keeps source order.
const PAIR: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
const FAILING: &str = "{{- if .Values.failHere }}{{ fail \"failHere must stay false\" }}{{ end }}\n{{- fail \"this template is never selected\" }}\n";
const GUARD: &str = "{{- if gt (int .Values.replicas) 5 }}{{ fail \"at most 5 replicas\" }}{{ end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guard\n";

const PASSING_SUITE: &str = r#"suite: semantics
templates:
  - deployment.yaml
  - pair.yaml
  - guard.yaml
tests:
  - it: uses helm-unittest's defaults
    template: deployment.yaml
    asserts:
      - equal: {path: metadata.name, value: RELEASE-NAME-demo}
      - equal: {path: metadata.namespace, value: NAMESPACE}
      - equal: {path: metadata.annotations.kube, value: v1.20.0}
      - isKind: {of: Deployment}
      - hasDocuments: {count: 1}
  - it: keeps set types and merges like helm
    template: deployment.yaml
    set:
      replicas: 3
      labels.tier: null
      ports: [8080]
    asserts:
      - equal: {path: spec.replicas, value: 3}
      - notEqual: {path: spec.replicas, value: "3"}
      - notEqual: {path: spec.replicas, value: 3.0}
      - notExists: {path: metadata.labels.tier}
      - equal: {path: metadata.labels.team, value: a}
      - equal: {path: spec.ports, value: [8080]}
  - it: takes release, chart and capabilities
    template: deployment.yaml
    release: {name: my-rel, namespace: prod, upgrade: true}
    chart: {version: 2.0.0}
    capabilities: {majorVersion: 1, minorVersion: 29}
    asserts:
      - equal: {path: metadata.name, value: my-rel-demo}
      - equal: {path: metadata.annotations.chart, value: 2.0.0}
      - equal: {path: metadata.annotations.upgrade, value: "true"}
      - matchRegex: {path: metadata.annotations.kube, pattern: ^v1\.29\.}
  - it: keeps template source order
    template: pair.yaml
    asserts:
      - isKind: {of: Service}
        documentIndex: 0
      - isKind: {of: ConfigMap}
        documentIndex: 1
      - equal: {path: metadata.name, value: cm}
        documentSelector: {path: kind, value: ConfigMap}
  - it: lets a test's documentIndex win over its assertions'
    template: pair.yaml
    documentIndex: 1
    asserts:
      - isKind: {of: ConfigMap}
        documentIndex: 0
  - it: sees the fail message
    template: guard.yaml
    set: {replicas: 9}
    asserts:
      - failedTemplate: {errorMessage: at most 5 replicas}
  - it: is skipped
    skip: {reason: not today}
    asserts:
      - isKind: {of: Nothing}
"#;

const FAILING_SUITE: &str = r#"suite: wrong expectations
templates: [deployment.yaml]
tests:
  - it: expects the wrong name
    asserts:
      - equal: {path: metadata.name, value: other}
  - it: passes
    asserts:
      - isKind: {of: Deployment}
"#;

fn demo_chart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_demo_chart(dir.path());
    dir
}

/// The demo chart's files in `dir`.
fn write_demo_chart(dir: &Path) {
    write_files(
        dir,
        &[
            ("Chart.yaml", CHART),
            ("values.yaml", VALUES),
            ("templates/_helpers.tpl", HELPERS),
            ("templates/deployment.yaml", DEPLOY),
            ("templates/pair.yaml", PAIR),
            ("templates/failing.yaml", FAILING),
            ("templates/guard.yaml", GUARD),
            ("tests/semantics_test.yaml", PASSING_SUITE),
        ],
    );
}

fn run(helm: &Path, chart: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = chartproof(helm).arg("unittest").arg(chart).args(extra).env_remove("CI").output().unwrap();
    (out.status.code().expect("exited"), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn helm_unittest_semantics_hold_on_every_helm() {
    let chart = demo_chart();
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, chart.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 6 passed, 1 skipped, 7 total"), "{stdout}");
        assert!(stdout.contains("is skipped skipped: not today"), "{stdout}");
    }
}

#[test]
fn a_wrong_expectation_fails_with_exit_1_and_junit_in_helm_unittest_layout() {
    let chart = demo_chart();
    write_files(chart.path(), &[("tests/wrong_test.yaml", FAILING_SUITE)]);
    let helm = &helms()[0];
    let (code, stdout, _) = run(helm, chart.path(), &["-f", "tests/wrong_test.yaml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains(" FAIL  wrong expectations\ttests/wrong_test.yaml"), "{stdout}");
    assert!(stdout.contains("asserts[0] `equal` fail (line 6, templates/deployment.yaml)") && stdout.contains("RELEASE-NAME-demo"), "{stdout}");
    let (code, xml, _) = run(helm, chart.path(), &["-f", "tests/wrong_test.yaml", "-o", "junit"]);
    assert_eq!(code, 1);
    assert!(xml.contains(r#"<testsuite name="wrong expectations" tests="2""#) && xml.contains(r#"failures="1""#), "{xml}");
    assert!(xml.contains(r#"<testcase name="expects the wrong name" classname="wrong expectations""#), "{xml}");
    assert!(xml.contains(r#"<failure message="Failed""#), "{xml}");
    let (code, annotations, _) = run(helm, chart.path(), &["-f", "tests/wrong_test.yaml", "-o", "github"]);
    assert_eq!(code, 1);
    let first = annotations.lines().next().unwrap();
    assert!(first.starts_with("::error file=") && first.contains("wrong_test.yaml,line=6,title=wrong expectations / expects the wrong name::asserts[0] `equal` fail"), "{annotations}");
    assert!(!first.contains('\n') && first.contains("%0A"), "one line per annotation: {first}");
}

#[test]
fn a_bad_suite_names_file_line_and_key() {
    let chart = demo_chart();
    write_files(chart.path(), &[("tests/bad_test.yaml", "suite: bad\ntests:\n  - it: x\n    asserts:\n      - equals: {path: a, value: 1}\n")]);
    let (code, stdout, _) = run(&helms()[0], chart.path(), &["-f", "tests/bad_test.yaml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("bad_test.yaml:5: tests[0].asserts[0].equals: unknown assertion type `equals`"), "{stdout}");
}

#[test]
fn snapshots_are_written_then_enforced_and_a_change_shows_a_diff() {
    let chart = demo_chart();
    write_files(chart.path(), &[("tests/snap_test.yaml", "suite: snap\ntemplates: [deployment.yaml]\ntests:\n  - it: matches\n    asserts:\n      - matchSnapshot: {}\n")]);
    let helm = &helms()[0];
    let args = ["-f", "tests/snap_test.yaml"];
    let out = chartproof(helm).arg("unittest").arg(chart.path()).args(args).env("CI", "true").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "in CI a missing snapshot entry fails");
    assert!(String::from_utf8_lossy(&out.stdout).contains("is missing"));
    assert!(!chart.path().join("tests/__snapshot__/snap_test.yaml.snap").exists());
    let (code, stdout, _) = run(helm, chart.path(), &args);
    assert_eq!(code, 0, "a new entry passes and is written locally: {stdout}");
    let snap = std::fs::read_to_string(chart.path().join("tests/__snapshot__/snap_test.yaml.snap")).unwrap();
    assert!(snap.starts_with("matches:\n  1: |\n    apiVersion: apps/v1\n"), "{snap}");
    assert_eq!(run(helm, chart.path(), &args).0, 0);
    write_files(chart.path(), &[("values.yaml", &VALUES.replace("replicas: 2", "replicas: 4"))]);
    let (code, stdout, _) = run(helm, chart.path(), &args);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("-  replicas: 2") && stdout.contains("+  replicas: 4"), "{stdout}");
    assert_eq!(run(helm, chart.path(), &[&args[..], &["-u"]].concat()).0, 0, "-u rewrites the entry");
    assert_eq!(run(helm, chart.path(), &args).0, 0);
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn cert_manager_snapshot_suite_passes_and_an_edited_template_fails_readably() {
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, &corpus("cert-manager"), &["-f", "tests/controller/defaults_test.yaml"]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("3 passed"), "{stdout}");
    }
    let copy = copy_chart(&corpus("cert-manager"));
    let service = copy.path().join("templates/service.yaml");
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(text.contains("protocol: TCP"));
    std::fs::write(&service, text.replacen("protocol: TCP", "protocol: UDP", 1)).unwrap();
    let (code, stdout, _) = run(&helms()[0], copy.path(), &["-f", "tests/controller/defaults_test.yaml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("should render a Service matching the default snapshot") && stdout.lines().any(|l| l.trim_start().starts_with('-') && l.ends_with(" protocol: TCP")) && stdout.lines().any(|l| l.trim_start().starts_with('+') && l.ends_with(" protocol: UDP")), "{stdout}");
}

#[test]
fn check_flag_reports_rule_findings_per_test() {
    let chart = demo_chart();
    let (code, stdout, _) = run(&helms()[0], chart.path(), &["--check"]);
    assert!(stdout.contains("finding(s) of the `check` rules on this render") && stdout.contains("Findings:"), "{stdout}");
    assert!(stdout.contains("Deployment/"), "findings name the resource: {stdout}");
    assert_eq!(code, 1, "the demo Deployment has no probes or resources: error findings fail the run");
    let (_, plain, _) = run(&helms()[0], chart.path(), &[]);
    assert!(!plain.contains("Findings:"), "without --check no rule runs");
}

/// `chartproof unittest` in `cwd` with `-o sarif`: (exit code, SARIF), after checking the log
/// against the SARIF 2.1.0 schema (provisioned by scripts/ensure-sarif-schema) and that every
/// result's rule is listed, its URI names a file under `cwd` and it has a fingerprint.
fn sarif_in(helm: &Path, cwd: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = chartproof(helm).current_dir(cwd).arg("unittest").args(args).args(["-o", "sarif"]).env_remove("CI").output().unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(common::sarif_schema_path()).unwrap()).unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema).unwrap().iter_errors(&sarif).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "not valid SARIF 2.1.0: {errors:#?}");
    for run in sarif["runs"].as_array().unwrap() {
        let rules: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        for r in run["results"].as_array().unwrap() {
            assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], r["ruleId"], "{r:#}");
            let artifact = &r["locations"][0]["physicalLocation"]["artifactLocation"];
            assert_eq!(artifact["uriBaseId"], "%SRCROOT%", "{r:#}");
            assert!(cwd.join(artifact["uri"].as_str().unwrap()).is_file(), "{r:#}");
            assert_eq!(r["partialFingerprints"]["chartproofFindingKey/v1"].as_str().unwrap().len(), 32, "{r:#}");
        }
    }
    (out.status.code().unwrap(), sarif)
}

#[test]
fn sarif_locates_failed_assertions_in_the_suite_and_check_findings_in_the_templates() {
    let repo = tempfile::tempdir().unwrap();
    write_demo_chart(&repo.path().join("demo"));
    write_files(repo.path(), &[("demo/tests/wrong_test.yaml", FAILING_SUITE)]);
    let helm = &helms()[0];

    let (code, sarif) = sarif_in(helm, repo.path(), &["demo", "-f", "tests/semantics_test.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]), "a passing suite: a valid log without results");

    let (code, sarif) = sarif_in(helm, repo.path(), &["demo", "--check"]);
    assert_eq!(code, 1);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = results.iter().filter(|r| r["properties"]["kind"] == "UnitTest").collect();
    assert_eq!(failed.len(), 1, "one failed assertion: {results:#?}");
    let at = |r: &serde_json::Value| {
        let p = &r["locations"][0]["physicalLocation"];
        (p["artifactLocation"]["uri"].as_str().unwrap().to_string(), p["region"]["startLine"].as_u64().unwrap())
    };
    assert_eq!((failed[0]["ruleId"].as_str().unwrap(), at(failed[0])), ("unittest/equal", ("demo/tests/wrong_test.yaml".to_string(), 6)));
    let text = failed[0]["message"]["text"].as_str().unwrap();
    assert!(text.contains("wrong expectations / expects the wrong name") && text.contains("RELEASE-NAME-demo"), "{text}");
    let selector = |r: &&serde_json::Value| r["ruleId"] == "kubernetes-schema" && r["message"]["text"].as_str().unwrap().contains("RELEASE-NAME-demo: \"selector\" is a required property");
    let finding = results.iter().find(selector).unwrap_or_else(|| panic!("a --check finding: {results:#?}"));
    let (file, line) = at(finding);
    assert_eq!(file, "demo/templates/deployment.yaml", "located in the chart's template, as `check` locates it");
    let template = std::fs::read_to_string(repo.path().join(&file)).unwrap();
    assert_eq!(template.lines().nth(line as usize - 1), Some("spec:"), "at the line writing the field");
    assert!(finding["message"]["text"].as_str().unwrap().contains("(unit test: "), "{finding:#}");
    assert_eq!(results.iter().filter(selector).count(), 1, "a finding several tests' renders show is reported once");

    // Lines moved: same fingerprint, new line.
    let fingerprint = failed[0]["partialFingerprints"].clone();
    write_files(repo.path(), &[("demo/tests/wrong_test.yaml", &format!("# moved down\n{FAILING_SUITE}"))]);
    let (_, sarif) = sarif_in(helm, repo.path(), &["demo", "-f", "tests/wrong_test.yaml"]);
    let moved = &sarif["runs"][0]["results"][0];
    assert_eq!((at(moved).1, &moved["partialFingerprints"]), (7, &fingerprint));

    write_files(repo.path(), &[("demo/tests/bad_test.yaml", "suite: bad\ntests:\n  - it: x\n    asserts:\n      - equals: {path: a, value: 1}\n")]);
    let (code, sarif) = sarif_in(helm, repo.path(), &["demo", "-f", "tests/bad_test.yaml"]);
    let bad = &sarif["runs"][0]["results"][0];
    assert_eq!((code, bad["ruleId"].as_str().unwrap(), at(bad)), (1, "unittest/invalid-suite", ("demo/tests/bad_test.yaml".to_string(), 5)), "{bad:#}");
}

const REVISION_TEMPLATE: &str = r#"{{- define "rev.fromRoot" -}}{{ .root.Release.Revision }}{{- end -}}
{{- $root := . -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: rev
data:
  plain: {{ .Release.Revision | quote }}
  dollar: "{{ $.Release.Revision }}"
  variable: "{{ $root.Release.Revision }}"
  helper: "{{ include "rev.fromRoot" (dict "root" .) }}"
  next: "{{ add .Release.Revision 1 }}"
  upgrade: "{{ .Release.IsUpgrade }}"
  install: "{{ .Release.IsInstall }}"
"#;

const REVISION_SUITE: &str = r#"suite: revision
templates: [rev.yaml]
release: {revision: 3}
tests:
  - it: takes the suite's revision in every form a template reads it
    asserts:
      - isSubset: {path: data, content: {plain: "3", dollar: "3", variable: "3", helper: "3", next: "4", upgrade: "false", install: "true"}}
  - it: takes the test's revision and upgrade over the suite's
    release: {revision: 9, upgrade: true}
    asserts:
      - isSubset: {path: data, content: {plain: "9", dollar: "9", variable: "9", helper: "9", next: "10", upgrade: "true", install: "false"}}
"#;

#[test]
fn release_revision_and_upgrade_reach_the_templates() {
    let dir = tempfile::tempdir().unwrap();
    let default_suite = "suite: default\ntemplates: [rev.yaml]\ntests:\n  - it: has helm-unittest's revision 0\n    asserts:\n      - equal: {path: data.plain, value: \"0\"}\n      - equal: {path: data.helper, value: \"0\"}\n";
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: rev\nversion: 0.1.0\n"),
            ("templates/rev.yaml", REVISION_TEMPLATE),
            ("tests/revision_test.yaml", REVISION_SUITE),
            ("tests/default_test.yaml", default_suite),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 3 passed, 0 skipped, 3 total"), "{stdout}");
    }
    let template = std::fs::read_to_string(dir.path().join("templates/rev.yaml")).unwrap();
    assert_eq!(template, REVISION_TEMPLATE, "only the temporary copy is rewritten");
}

#[test]
fn match_snapshot_raw_snapshots_the_notes_text() {
    let chart = demo_chart();
    let suite = "suite: notes\ntemplates: [NOTES.txt]\ntests:\n  - it: prints the notes\n    asserts:\n      - matchSnapshotRaw: {}\n";
    write_files(chart.path(), &[("templates/NOTES.txt", "Installed {{ .Release.Name }}.\n\n  replicas: {{ .Values.replicas }}\n"), ("tests/notes_test.yaml", suite)]);
    let helm = &helms()[0];
    let args = ["-f", "tests/notes_test.yaml"];
    let (code, stdout, _) = run(helm, chart.path(), &args);
    assert_eq!(code, 0, "a new raw entry passes and is written: {stdout}");
    let snap = std::fs::read_to_string(chart.path().join("tests/__snapshot__/notes_test.yaml.snap")).unwrap();
    assert!(snap.contains("prints the notes:\n  1: |\n") && snap.contains("Installed RELEASE-NAME.") && snap.contains("replicas: 2"), "{snap}");
    assert_eq!(run(helm, chart.path(), &args).0, 0, "the written entry matches");
    write_files(chart.path(), &[("values.yaml", &VALUES.replace("replicas: 2", "replicas: 4"))]);
    let (code, stdout, _) = run(helm, chart.path(), &args);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("-    replicas: 2") && stdout.contains("+    replicas: 4"), "a readable diff of the text: {stdout}");
    write_files(chart.path(), &[("tests/notes_test.yaml", &suite.replace("matchSnapshotRaw: {}", "matchSnapshotRaw: {}\n        not: true"))]);
    assert_eq!(run(helm, chart.path(), &args).0, 0, "not: true passes when the text differs");
}

const POST_RENDER_SUITE: &str = r#"suite: post-rendered
templates: [deployment.yaml]
postRenderer:
  cmd: sh
  args: ["-c", "sed 's/replicas: 2/replicas: 5/'"]
tests:
  - it: sees the suite's post-renderer output
    asserts:
      - equal: {path: spec.replicas, value: 5}
      - equal: {path: metadata.name, value: RELEASE-NAME-demo}
  - it: uses its own post-renderer instead of the suite's
    postRenderer:
      cmd: sh
      args: ["-c", "sed 's/team: a/team: b/'"]
    asserts:
      - equal: {path: spec.replicas, value: 2}
      - equal: {path: metadata.labels.team, value: b}
  - it: fails with the post-renderer's error
    postRenderer: {cmd: sh, args: ["-c", "echo no kustomization here >&2; exit 4"]}
    asserts:
      - isKind: {of: Deployment}
"#;

#[test]
fn post_renderers_run_on_the_render_like_helm_unittest() {
    let chart = demo_chart();
    write_files(chart.path(), &[("tests/post_test.yaml", POST_RENDER_SUITE)]);
    let (code, stdout, _) = run(&helms()[0], chart.path(), &["-f", "tests/post_test.yaml"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Tests:       1 failed, 2 passed, 0 skipped, 3 total"), "{stdout}");
    assert!(stdout.contains("- fails with the post-renderer's error (line 18)") && stdout.contains("`postRenderer` fail") && stdout.contains("no kustomization here"), "{stdout}");
}

/// helm-unittest sees each template's own output (engine.Render): documents in the order the
/// template wrote them, `|-` kept, the release name exactly `RELEASE-NAME` under `lower` and
/// `sha256sum`, NOTES.txt as `{raw: …}`; a chart without suites exits 3.
#[test]
fn each_template_is_seen_as_its_own_output_and_no_suite_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: loop\nversion: 0.1.0\n"),
            ("values.yaml", "count: 2\n"),
            ("templates/rbac.yaml", "{{- range $i := until (int .Values.count) }}\n---\napiVersion: v1\nkind: Role\nmetadata:\n  name: {{ $.Release.Name | lower }}-{{ $i }}\n  annotations:\n    sum: {{ $.Release.Name | sha256sum }}\n---\napiVersion: v1\nkind: RoleBinding\ndata:\n  text: |-\n    {{ $.Release.Name }}\n{{- end -}}\n"),
            ("templates/NOTES.txt", "\nWelcome to {{ .Release.Name }}"),
            (
                "tests/loop_test.yaml",
                "suite: loop\ntests:\n  - it: keeps order and name\n    template: rbac.yaml\n    asserts:\n      - hasDocuments: {count: 4}\n      - isKind: {of: Role}\n        documentIndex: 2\n      - isKind: {of: RoleBinding}\n        documentIndex: 3\n      - equal: {path: metadata.name, value: release-name-1}\n        documentIndex: 2\n      - equal: {path: metadata.annotations.sum, value: cacb1c9dc181fd1ca14b64b82b9cf3a16f9577e1623a9a32b6b14da2418cf871}\n        documentIndex: 0\n      - equal: {path: data.text, value: RELEASE-NAME}\n        documentIndex: 1\n      - containsDocument: {kind: Pod, apiVersion: v1}\n        not: true\n  - it: reads the notes\n    template: NOTES.txt\n    asserts:\n      - equalRaw: {value: \"Welcome to RELEASE-NAME\"}\n      - matchRegexRaw: {pattern: ^Welcome}\n",
            ),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 2 passed, 0 skipped, 2 total"), "{stdout}");
        let (code, stdout, stderr) = run(&helm, dir.path(), &["-f", "nothing/*_test.yaml"]);
        assert_eq!(code, 3, "{stdout}{stderr}");
        assert!(stderr.contains("no suite found"), "{stderr}");
    }
}

const PROVIDER_PARENT: &str = "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n  - name: child\n    version: 0.1.0\n    condition: child.enabled\n";
const PROVIDER_LOOKUP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: looked-up
data:
  found: {{ dig "metadata" "name" "none" (lookup "v1" "Secret" "ns" "s") | quote }}
  listed: {{ dig "items" (list) (lookup "v1" "Secret" "" "") | len | quote }}
  piped: {{ "s" | lookup "v1" "Secret" "ns" | dig "metadata" "name" "none" | quote }}
"#;
const PROVIDER_SUITE: &str = r#"suite: lookup
templates: [lookup.yaml]
kubernetesProvider:
  scheme:
    v1/Secret: {gvr: {version: v1, resource: secrets}, namespaced: true}
  objects:
    - {apiVersion: v1, kind: Secret, metadata: {name: s, namespace: ns}}
tests:
  - it: finds the object and lists the suite's and the test's
    kubernetesProvider:
      objects:
        - {apiVersion: v1, kind: Secret, metadata: {name: t, namespace: other}}
    asserts:
      - equal: {path: data.found, value: s}
      - equal: {path: data.listed, value: "2"}
      - equal: {path: data.piped, value: s}
---
suite: no provider
templates: [lookup.yaml]
tests:
  - it: answers every lookup empty, as helm template does
    asserts:
      - equal: {path: data.found, value: none}
      - equal: {path: data.listed, value: "0"}
      - equal: {path: data.piped, value: none}
"#;
const CHILD_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  global: {{ .Values.global.g | default \"none\" | quote }}\n";
const CHILD_SUITE: &str = r#"suite: child
templates: [cm.yaml]
tests:
  - it: sets the child's own values
    set: {greeting: hi}
    asserts:
      - equal: {path: data.greeting, value: hi}
      - equal: {path: metadata.name, value: RELEASE-NAME-child}
  - it: keeps globals global
    set: {global.g: x}
    asserts:
      - equal: {path: data.global, value: x}
"#;

/// kubernetesProvider answers `lookup` from the suite's and test's objects; a subchart's suites
/// run through the parent with their values under its key unless its dependency is disabled or
/// `--with-subchart=false` (helm-unittest's test_runner.go and k8s_fake_client.go).
#[test]
fn lookups_are_answered_from_objects_and_subchart_suites_run_through_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", PROVIDER_PARENT),
            ("values.yaml", "child:\n  enabled: true\n"),
            ("templates/lookup.yaml", PROVIDER_LOOKUP),
            ("tests/lookup_test.yaml", PROVIDER_SUITE),
            ("charts/child/Chart.yaml", "apiVersion: v2\nname: child\nversion: 0.1.0\n"),
            ("charts/child/values.yaml", "greeting: hello\nglobal: {}\n"),
            ("charts/child/templates/cm.yaml", CHILD_TEMPLATE),
            ("charts/child/tests/cm_test.yaml", CHILD_SUITE),
            ("disable-child.yaml", "child:\n  enabled: false\n"),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 4 passed, 0 skipped, 4 total") && stdout.contains("charts/child/tests/cm_test.yaml"), "{stdout}");
        let (_, stdout, _) = run(&helm, dir.path(), &["--with-subchart=false"]);
        assert!(stdout.contains("Tests:       0 failed, 2 passed, 0 skipped, 2 total"), "{stdout}");
        let disabled = dir.path().join("disable-child.yaml");
        let (_, stdout, _) = run(&helm, dir.path(), &["-v", disabled.to_str().unwrap()]);
        assert!(stdout.contains("Tests:       0 failed, 2 passed, 0 skipped, 2 total"), "a disabled dependency's suites do not run: {stdout}");
    }
}

/// Classes of disagreement found by running public charts' suites chartproof was not built on
/// (`scripts/unittest-holdout`), each in one test of a small chart, with helm-unittest's verdict:
/// a dependency declared but absent from charts/ (helm-unittest never runs helm's
/// CheckDependencies), a non-template file in templates/ that `.helmignore` leaves out, a
/// subchart context's `.Release.Name`, `merge $` mutating the chart's shared context in render
/// order, a template writing into `.Values` (seen by the wrapper only as helm-unittest's one
/// render would leave it), and `.Capabilities.APIVersions` holding only the test's list.
#[test]
fn hold_out_classes_render_as_helm_unittest_renders_them() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: holdout\nversion: 0.1.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n  - name: absent\n    version: 1.0.0\n    repository: oci://example.invalid/charts\n    condition: absent.enabled\n"),
            (".helmignore", "README.md\n"),
            ("templates/README.md", "{{ this is no template }}\n"),
            ("templates/sub-name.yaml", "name: {{ include \"sub.fullname\" (index .Subcharts \"sub\") }}\n"),
            ("templates/shared.yaml", "first: {{ (merge $ (dict \"obj\" (dict \"name\" \"\"))).obj.name | quote }}\nsecond: {{ (merge $ (dict \"obj\" (dict \"name\" \"set\"))).obj.name | quote }}\n"),
            ("templates/values-writer.yaml", "{{- if not .Values.nameOverride }}{{ $_ := set .Values \"nameOverride\" .Release.Name }}{{ end }}\nname: {{ .Values.nameOverride | lower }}\n"),
            ("templates/workload.yaml", "{{- if .Capabilities.APIVersions.Has \"apps/v1\" }}\napiVersion: apps/v1\n{{- else }}\napiVersion: apps/v1beta1\n{{- end }}\nkind: StatefulSet\nmetadata:\n  annotations:\n    kube: {{ .Capabilities.KubeVersion.GitVersion }}\n"),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("charts/sub/templates/_helpers.tpl", "{{- define \"sub.fullname\" -}}{{ .Release.Name }}-sub{{- end -}}\n"),
            (
                "tests/holdout_test.yaml",
                "suite: holdout\ntests:\n  - it: a subchart context sees RELEASE-NAME\n    template: sub-name.yaml\n    asserts:\n      - equal: {path: name, value: RELEASE-NAME-sub}\n  - it: merge into $ is seen in order\n    template: shared.yaml\n    asserts:\n      - equal: {path: first, value: \"\"}\n      - equal: {path: second, value: set}\n  - it: a template writing into .Values runs once, with RELEASE-NAME\n    template: values-writer.yaml\n    asserts:\n      - equal: {path: name, value: release-name}\n  - it: no API version unless the test lists it\n    template: workload.yaml\n    asserts:\n      - equal: {path: apiVersion, value: apps/v1beta1}\n      - equal: {path: metadata.annotations.kube, value: v1.20.0}\n  - it: the listed API version\n    template: workload.yaml\n    capabilities:\n      apiVersions: [apps/v1]\n    asserts:\n      - equal: {path: apiVersion, value: apps/v1}\n",
            ),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 5 passed, 0 skipped, 5 total"), "{stdout}");
    }
}

const OWN_RELEASE_CHECK: &str = r#"{{- $operator := lookup "apps/v1" "Deployment" "ns" "operator" }}
{{- if and $operator (ne (dig "metadata" "labels" "app.kubernetes.io/instance" "" $operator) .Release.Name) }}
{{- fail (printf "another operator runs: %s" $operator.metadata.name) }}
{{- end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-check
"#;
const API_CHECK: &str = r#"{{- define "guarded.kind" -}}
ConfigMap
{{- end -}}
{{- if .Capabilities.APIVersions.Has "apps/v1" }}
{{- fail "apps/v1 is served" }}
{{- end }}
apiVersion: v1
kind: {{ include "guarded.kind" . }}
{{- define "guarded.other" }}unused{{ end }}
data:
  x: "1"
  kube: "{{ .Capabilities.KubeVersion }}"
  minor: "{{- $.Capabilities.KubeVersion.Minor -}}"
"#;
const OWN_PASS_SUITE: &str = r#"suite: own pass
tests:
  - it: a looked-up object of this release is ours
    template: own-release.yaml
    kubernetesProvider:
      scheme:
        apps/v1/Deployment: {gvr: {group: apps, version: v1, resource: deployments}, namespaced: true}
      objects:
        - {apiVersion: apps/v1, kind: Deployment, metadata: {name: operator, namespace: ns, labels: {app.kubernetes.io/instance: RELEASE-NAME}}}
    asserts:
      - notFailedTemplate: {}
      - equal: {path: metadata.name, value: RELEASE-NAME-check}
  - it: a looked-up object of another release fails the render
    template: own-release.yaml
    kubernetesProvider:
      scheme:
        apps/v1/Deployment: {gvr: {group: apps, version: v1, resource: deployments}, namespaced: true}
      objects:
        - {apiVersion: apps/v1, kind: Deployment, metadata: {name: operator, namespace: ns, labels: {app.kubernetes.io/instance: other}}}
    asserts:
      - failedTemplate: {errorMessage: "another operator runs: operator"}
      - failedTemplate: {errorPattern: "own-pass/templates/own-release.yaml:3:"}
  - it: no test-only API version, no failure
    template: api-check.yaml
    asserts:
      - notFailedTemplate: {}
      - isKind: {of: ConfigMap}
      - equal: {path: data.x, value: "1"}
      - equal: {path: data.kube, value: v1.20.0}
      - equal: {path: data.minor, value: "20"}
  - it: the test's API version fails the render
    template: api-check.yaml
    capabilities:
      apiVersions: [apps/v1]
    asserts:
      - failedTemplate: {errorMessage: apps/v1 is served}
"#;

/// A subchart's template checks the release and the API versions in helm's own pass too.
const SUBCHART_OWN_PASS: &str = r#"{{- if ne .Release.Name "RELEASE-NAME" }}{{ fail (printf "release %s" .Release.Name) }}{{ end }}
{{- if .Capabilities.APIVersions.Has "example.com/v1" }}{{ fail "example.com/v1 is served" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: sub-{{ .Release.Revision }}-{{ .Release.IsUpgrade }}
"#;
const SUBCHART_OWN_PASS_SUITE: &str = r#"suite: subchart own pass
templates: [charts/sub/templates/sub.yaml]
tests:
  - it: sees the test's release
    release: {revision: 3, upgrade: true}
    asserts:
      - notFailedTemplate: {}
      - equal: {path: metadata.name, value: sub-3-true}
  - it: sees only the test's API versions
    capabilities: {apiVersions: [example.com/v2]}
    asserts:
      - notFailedTemplate: {}
  - it: fails at its own line when the test serves the API version
    capabilities: {apiVersions: [example.com/v1]}
    asserts:
      - failedTemplate: {errorMessage: example.com/v1 is served}
      - failedTemplate: {errorPattern: "sub/templates/sub.yaml:2:"}
"#;

/// helm renders every template of the chart copy itself before the wrappers run, and would give
/// it values helm-unittest's one engine.Render never gives a template (helm's placeholder release
/// name, all of helm's API versions): a `fail` in that pass must not decide the verdict, in the
/// chart or in a subchart. A fake object
/// labelled with the release `RELEASE-NAME` is this release's (k8s-monitoring's validations), a
/// check of `.Capabilities.APIVersions` sees only the test's list, and a template with top-level
/// `define`s renders as before; a real failure keeps the template's own location. With only the
/// test's API versions swapped in, `{{ .Capabilities.KubeVersion }}` still prints the version.
#[test]
fn helm_own_pass_of_the_templates_decides_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: own-pass\nversion: 0.1.0\n"),
            ("templates/own-release.yaml", OWN_RELEASE_CHECK),
            ("templates/api-check.yaml", API_CHECK),
            ("tests/own_pass_test.yaml", OWN_PASS_SUITE),
            ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
            ("charts/sub/templates/sub.yaml", SUBCHART_OWN_PASS),
            ("tests/subchart_own_pass_test.yaml", SUBCHART_OWN_PASS_SUITE),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        assert!(stdout.contains("Tests:       0 failed, 7 passed, 0 skipped, 7 total"), "{stdout}");
    }
}

/// Tests whose renders differ only in the templates they select share one render of the union
/// where no template can change another's output, and render on their own where one could: a
/// template writing into `.Values`, a template file that `define`s a helper's name, an include
/// of a template file by its path (which fails in helm-unittest when the file is not selected)
/// and a `fail` in another test's template. Every verdict is helm-unittest's.
#[test]
fn templates_share_a_render_only_where_none_can_change_another() {
    let dir = tempfile::tempdir().unwrap();
    let cm = |name: &str, data: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{data}");
    let suites = r#"suite: a
templates: [a.yaml]
tests:
  - it: reads its value and the partial's helper
    asserts:
      - equal: {path: data.a, value: x}
      - equal: {path: metadata.name, value: RELEASE-NAME-share}
  - it: shares with b at other values
    set: {group: two}
    asserts:
      - equal: {path: data.a, value: x}
  - it: is not failed by another test's template
    set: {group: four}
    asserts:
      - equal: {path: data.a, value: x}
---
suite: b
templates: [b.yaml]
tests:
  - it: reads its value
    asserts:
      - equal: {path: data.b, value: y}
  - it: shares with a at other values
    set: {group: two}
    asserts:
      - equal: {path: data.b, value: y}
---
suite: c
templates: [c.yaml]
tests:
  - it: shares with a and b
    set: {group: two}
    asserts:
      - equal: {path: data.c, value: x}
---
suite: writer
templates: [writer.yaml]
tests:
  - it: writes into the values
    asserts:
      - hasDocuments: {count: 1}
---
suite: checksum
templates: [checksum.yaml]
tests:
  - it: cannot include a template it does not select
    asserts:
      - failedTemplate: {errorPattern: "b.yaml"}
---
suite: definer
templates: [definer.yaml]
tests:
  - it: defines the helper's name
    asserts:
      - isKind: {of: ConfigMap}
---
suite: fails
templates: [fails.yaml]
tests:
  - it: fails alone
    set: {group: four}
    asserts:
      - failedTemplate: {errorMessage: always}
"#;
    write_files(
        dir.path(),
        &[
            ("Chart.yaml", "apiVersion: v2\nname: share\nversion: 0.1.0\n"),
            ("values.yaml", "a: x\nb: y\n"),
            ("templates/_helpers.tpl", "{{- define \"share.name\" -}}{{ .Release.Name }}-share{{- end -}}\n"),
            ("templates/a.yaml", &cm("{{ include \"share.name\" . }}", "  a: {{ .Values.a }}\n")),
            ("templates/b.yaml", &cm("b", "  b: {{ .Values.b }}\n")),
            ("templates/c.yaml", &cm("c", "  c: {{ .Values.a }}\n")),
            ("templates/writer.yaml", &format!("{{{{- $_ := set .Values \"a\" \"changed\" }}}}\n{}", cm("w", "  w: \"1\"\n"))),
            ("templates/checksum.yaml", &cm("c", "  sum: {{ include (print $.Template.BasePath \"/b.yaml\") . | sha256sum }}\n")),
            ("templates/definer.yaml", &format!("{{{{- define \"share.name\" }}}}overridden{{{{ end }}}}\n{}", cm("d", "  d: \"1\"\n"))),
            ("templates/fails.yaml", "{{ fail \"always\" }}\n"),
            ("tests/share_test.yaml", suites),
        ],
    );
    for helm in helms() {
        let (code, stdout, stderr) = run(&helm, dir.path(), &["-o", "json"]);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", helm.display());
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let tests: Vec<&serde_json::Value> = report["charts"][0]["suites"].as_array().unwrap().iter().flat_map(|s| s["tests"].as_array().unwrap()).collect();
        assert_eq!(tests.len(), 10);
        assert!(tests.iter().all(|t| t["status"] == "passed"), "{stdout}");
        // At the defaults a, b, writer, checksum and definer each render alone (5: the writer
        // and the definer could change a's and b's output, checksum's include needs b.yaml
        // absent); at `group: two` a, b and c share one render (1); at `group: four` the shared
        // render of a and fails fails, then each renders alone (3). Alone, all would take 10.
        assert_eq!(report["charts"][0]["renders"], 9, "{stdout}");
    }
}
