//! chartproof reads values and judges them against a schema the way real Helm does: YAML 1.1
//! values rendered through `helm template` equal what chartproof parses, and chartproof's
//! `validate` verdict equals Helm's own schema verdict, for every helm in CHARTPROOF_TEST_HELMS.

mod common;

use std::path::Path;

use assert_cmd::Command;
use chartproof::chart::values::ValuesDoc;
use serde_json::Value;

const YAML_1_1_VALUES: &str = "b1: yes\nb2: off\nb3: On\nb4: y\nb5: NO\nb6: 'yes'\nb7: \"on\"\noct: 0755\noct2: 0o17\nnotoct: 08\nhex: 0x1F\nneghex: -0x10\nunder: 1_000\nbin: 0b101\nplus: +12\n\
big: 9223372036854775807\nbigger: 18446744073709551615\nhuge: 18446744073709551616\nf1: 1.5\nf2: 1e3\nf3: .5\nf4: 1.0\nts: 2001-12-14\nts2: 2001-12-14t21:59:43.10-05:00\n\
sexa: 1:20\nver: 1.2.3\nnul: ~\nempty:\neq: =\non: 1\n1: x\nnested:\n  list: [yes, 0x10, '0x10', 1_0]\n  anchor: &a {k: off}\n  alias: *a\n";

/// Numbers compared as Helm holds them (float64 after its YAML→JSON round trip).
fn same_as_helm(ours: &Value, helm: &Value) -> bool {
    match (ours, helm) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_as_helm(x, y)),
        (Value::Object(a), Value::Object(b)) => a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same_as_helm(v, w))),
        _ => ours == helm,
    }
}

fn values_chart(values: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(tmp.path(), &[("Chart.yaml", "apiVersion: v2\nname: yaml11\nversion: 0.1.0\n"), ("values.yaml", values), ("templates/values.txt", "{{ toJson .Values }}\n")]);
    tmp
}

#[test]
fn yaml_1_1_values_are_read_like_helm_reads_them() {
    let chart = values_chart(YAML_1_1_VALUES);
    let ours = ValuesDoc::parse(YAML_1_1_VALUES, Path::new("values.yaml")).unwrap().value;
    for helm in common::helms() {
        let out = common::helm_template(&helm, chart.path(), &["--show-only".into(), "templates/values.txt".into()]);
        assert!(out.status.success(), "{}: {}", helm.display(), String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let json_line = text.lines().find(|l| l.starts_with('{')).expect("the rendered values");
        let helms: Value = serde_json::from_str(json_line).unwrap();
        for (k, v) in helms.as_object().unwrap() {
            assert!(same_as_helm(&ours[k], v), "{}: key {k}: helm has {v}, chartproof has {}", helm.display(), ours[k]);
        }
        assert!(same_as_helm(&ours, &helms), "{}: helm {helms}\nchartproof {ours}", helm.display());
    }
}

#[test]
fn infinity_and_nan_are_rejected_like_helm_does() {
    for text in ["x: .inf\n", "x: -.Inf\n", "x: .nan\n"] {
        let chart = values_chart(text);
        for helm in common::helms() {
            let out = common::helm_template(&helm, chart.path(), &[]);
            assert!(!out.status.success(), "{} accepted {text:?}", helm.display());
        }
        let err = ValuesDoc::parse(text, Path::new("values.yaml")).unwrap_err();
        assert_eq!((err.line, err.column), (1, 4), "{err}");
        assert!(err.to_string().contains("JSON"), "{err}");
    }
}

/// Helm's schema verdict for `helm template` with `args`: true when the values pass the schema
/// (a later template failure is not a schema verdict).
fn helm_accepts(helm: &Path, chart: &Path, args: &[String]) -> bool {
    let out = common::helm_template(helm, chart, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    out.status.success() || !stderr.contains("don't meet the specifications of the schema")
}

/// `chartproof validate` with the rules of `helm` (found through `--helm`).
fn chartproof_accepts(helm: &Path, chart: &Path, args: &[String]) -> bool {
    let out = Command::cargo_bin("chartproof").unwrap().arg("validate").arg("--helm").arg(helm).arg(chart).args(args).output().unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("validate {} {args:?} exited {other:?}: {}", chart.display(), String::from_utf8_lossy(&out.stderr)),
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A parent chart with a schema and an aliased, conditional subchart with its own schema.
fn schema_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(tmp.path(), &[
        ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: 0.1.0\n  alias: kid\n  condition: kid.enabled\n"),
        ("values.yaml", "replicas: 1\nflag: true\nmode: 0644\nglobal:\n  region: eu\nkid:\n  enabled: true\n"),
        ("values.schema.json", r#"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"replicas": {"type": "integer", "minimum": 1}, "flag": {"type": "boolean"}, "mode": {"type": "integer", "maximum": 511}}}"#),
        ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  r: {{ .Values.replicas | quote }}\n"),
        ("charts/child/Chart.yaml", "apiVersion: v2\nname: child\nversion: 0.1.0\n"),
        ("charts/child/values.yaml", "port: 80\n"),
        ("charts/child/values.schema.json", r#"{"type": "object", "required": ["global"],
            "properties": {"port": {"type": "integer"}, "global": {"type": "object", "required": ["region"]}}}"#),
        ("charts/child/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child\ndata:\n  p: {{ .Values.port | quote }}\n"),
    ]);
    tmp
}

/// helm's verdict and chartproof's on each (chart, args) with every helm; both verdicts must occur.
fn assert_verdicts_agree(cases: &[(std::path::PathBuf, Vec<String>)]) {
    let mut verdicts = std::collections::HashSet::new();
    for helm in common::helms() {
        for (chart, a) in cases {
            let helm_says = helm_accepts(&helm, chart, a);
            let we_say = chartproof_accepts(&helm, chart, a);
            assert_eq!(we_say, helm_says, "{} template {} {a:?}: helm accepts = {helm_says}, chartproof accepts = {we_say}", helm.display(), chart.display());
            verdicts.insert(helm_says);
        }
    }
    assert_eq!(verdicts.len(), 2, "the cases must include both accepted and rejected values");
}

/// A file of values in `dir`, returned as the path helm's `-f` takes.
fn values_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn validate_verdicts_equal_helms_schema_verdicts() {
    let fixture = schema_fixture();
    let files = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| values_file(files.path(), name, text);
    let yaml11_on = file("on.yaml", "flag: on\nmode: 0755\n");
    let quoted_on = file("quoted.yaml", "flag: \"on\"\n");
    let decimal_mode = file("mode.yaml", "mode: 755\n");
    let float_replicas = file("float.yaml", "replicas: 1.5\n");
    let whole_float_replicas = file("whole.yaml", "replicas: 2.0\nmode: 1e2\n");
    let kid_port_string = file("kid.yaml", "kid:\n  port: \"80\"\n");

    let fx = fixture.path().to_path_buf();
    // The same chart with the parent schema chartproof writes (the subchart's schema nested).
    let written_fixture = schema_fixture();
    let written = written_fixture.path().to_path_buf();
    Command::cargo_bin("chartproof").unwrap().args(["schema", "--write"]).arg(&written).assert().success();
    let go_service = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/go-service");
    assert_verdicts_agree(&[
        (fx.clone(), args(&[])),
        (fx.clone(), args(&["--set", "replicas=abc"])),
        (fx.clone(), args(&["--set", "replicas=0"])),
        (fx.clone(), args(&["--set-string", "replicas=5"])),
        (fx.clone(), args(&["--set", "replicas=5", "--set", "flag=false"])),
        (fx.clone(), args(&["--set", "flag=1"])),
        (fx.clone(), args(&["-f", &yaml11_on])),
        (fx.clone(), args(&["-f", &quoted_on])),
        (fx.clone(), args(&["-f", &decimal_mode])),
        (fx.clone(), args(&["-f", &float_replicas])),
        (fx.clone(), args(&["-f", &whole_float_replicas])),
        (fx.clone(), args(&["--set", "kid.port=abc"])),
        (fx.clone(), args(&["-f", &kid_port_string])),
        (fx.clone(), args(&["--set", "kid.enabled=false", "--set", "kid.port=abc"])),
        (fx.clone(), args(&["--set", "global.region=null"])),
        (fx.clone(), args(&["--set", "kid.port=null"])),
        (fx.clone(), args(&["--set", "kid.enabled=null", "--set", "kid.port=abc"])),
        (written.clone(), args(&[])),
        (written.clone(), args(&["--set", "kid.enabled=false"])),
        (written.clone(), args(&["--set", "kid.port=abc"])),
        (written.clone(), args(&["--set", "replicas=abc"])),
        (go_service.clone(), args(&[])),
        (go_service.clone(), args(&["--set", "replicaCount=0"])),
        (go_service.clone(), args(&["--set", "image.digest=latest"])),
        (go_service.clone(), args(&["--set", "logLevel=verbose"])),
        (go_service.clone(), args(&["--set", "service.port=8443"])),
    ]);
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn validate_verdicts_equal_helms_schema_verdicts_on_corpus_charts() {
    let files = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| values_file(files.path(), name, text);
    let nginx_yes = file("nginx-yes.yaml", "ingress:\n  enabled: yes\n");
    let nginx_quoted = file("nginx-quoted.yaml", "ingress:\n  enabled: \"yes\"\n");
    let loki_labels = file("loki-labels.yaml", "commonLabels:\n  team: 5\n");
    // The corpus copy of loki lacks its vendored subcharts (no charts/ folder), so helm stops at
    // "missing in charts/ directory" before it checks the schema. Its dependencies (minio,
    // rollout-operator) are off in ci/default-values.yaml; a copy without them is checked instead.
    let loki_copy = common::copy_chart(&common::corpus("loki"));
    let loki = loki_copy.path().to_path_buf();
    if !loki.join("charts").exists() {
        let chart_yaml = loki.join("Chart.yaml");
        let mut meta: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&chart_yaml).unwrap()).unwrap();
        meta.as_mapping_mut().unwrap().remove("dependencies");
        std::fs::write(&chart_yaml, serde_yaml::to_string(&meta).unwrap()).unwrap();
    }
    let loki_base = loki.join("ci/default-values.yaml").display().to_string();
    assert_verdicts_agree(&[
        (common::corpus("nginx"), args(&[])),
        (common::corpus("nginx"), args(&["--set", "replicaCount=abc"])),
        (common::corpus("nginx"), args(&["-f", &nginx_yes])),
        (common::corpus("nginx"), args(&["-f", &nginx_quoted])),
        (common::corpus("cert-manager"), args(&[])),
        (common::corpus("cert-manager"), args(&["--set", "replicaCount=x"])),
        (common::corpus("cert-manager"), args(&["--set", "replicaCount=2"])),
        (common::corpus("cert-manager"), args(&["--set", "notAKey=1"])),
        (common::corpus("traefik"), args(&[])),
        (common::corpus("traefik"), args(&["--set", "deployment.replicas=abc"])),
        (common::corpus("traefik"), args(&["--set", "bogus=1"])),
        (common::corpus("traefik"), args(&["--set", "deployment.replicas=null"])),
        (common::corpus("traefik"), args(&["--set", "bogus=null"])),
        (loki.clone(), args(&[])),
        (loki.clone(), args(&["-f", &loki_base])),
        (loki.clone(), args(&["-f", &loki_base, "-f", &loki_labels])),
        (loki.clone(), args(&["-f", &loki_base, "--set", "loki.storage.type=5"])),
    ]);
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn every_corpus_chart_gets_an_inferred_schema_and_its_shipped_schema_accepts_its_defaults() {
    for chart in common::corpus_charts() {
        let out = Command::cargo_bin("chartproof").unwrap().arg("schema").arg(&chart).output().unwrap();
        assert!(out.status.success(), "schema {}: {}", chart.display(), String::from_utf8_lossy(&out.stderr));
        let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(schema["$schema"].is_string(), "{}", chart.display());
        let loaded = chartproof::chart::Chart::load(&chart).unwrap();
        let contract = chartproof::contract::Contract::for_chart(&loaded).unwrap();
        assert!(contract.is_valid(&loaded.values.value), "{}: the contract rejects the chart's own defaults", chart.display());
        // The generated schema accepts the defaults too.
        let generated = chartproof::contract::compile(&schema).unwrap();
        assert!(generated.is_valid(&loaded.values.value), "{}: generated schema rejects the defaults", chart.display());
        // Inference alone (annotations included, no shipped schema) accepts the defaults too.
        let inferred = chartproof::contract::infer::infer_schema(&loaded, chartproof::contract::Draft::Draft7, Default::default());
        let inferred = chartproof::contract::compile(&inferred.schema).unwrap();
        if let Some(e) = inferred.iter_errors(&loaded.values.value).next() {
            panic!("{}: inferred schema rejects the defaults at {}: {e}", chart.display(), e.instance_path.as_str());
        }
    }
}

/// What a schema check says about one values file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Verdict {
    Accepted,
    /// The values break the schema.
    ValuesRejected,
    /// The chart's schema itself is unusable (chartproof: exit 2).
    SchemaRejected,
}

/// One `helm template` run: a chart and values files, described for messages.
struct Probe {
    label: String,
    chart: std::path::PathBuf,
    files: Vec<std::path::PathBuf>,
}

/// Helm's verdict and its first error line: schema errors of the values are listed as `- …`
/// lines; an unusable schema is reported in one message (Helm 4: "not valid against metaschema").
fn helm_verdict(helm: &Path, probe: &Probe) -> (Verdict, String) {
    let mut args = Vec::new();
    for f in &probe.files {
        args.push("-f".to_string());
        args.push(f.display().to_string());
    }
    let out = common::helm_template(helm, &probe.chart, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() || !stderr.contains("don't meet the specifications of the schema") {
        return (Verdict::Accepted, String::new());
    }
    let values_errors = stderr.lines().any(|l| l.starts_with("- ")) && !stderr.contains("not valid against metaschema");
    let first = stderr.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().join(" | ");
    (if values_errors { Verdict::ValuesRejected } else { Verdict::SchemaRejected }, first)
}

/// A chart with its contract under one helm's rules, or why that helm's rules reject its schema.
type Loaded = Result<(chartproof::chart::Chart, chartproof::contract::Contract), String>;

/// chartproof's verdict with the rules of `dialect`, as `validate` gives it (charts loaded once).
fn chartproof_verdict(dialect: chartproof::contract::HelmDialect, probe: &Probe, loaded: &mut std::collections::HashMap<std::path::PathBuf, Loaded>) -> (Verdict, String) {
    let entry = loaded.entry(probe.chart.clone()).or_insert_with(|| {
        let chart = chartproof::chart::Chart::load(&probe.chart).unwrap();
        chartproof::contract::Contract::for_helm(&chart, dialect).map(|c| (chart, c)).map_err(|e| format!("{e:#}"))
    });
    let (chart, contract) = match entry {
        Ok(c) => c,
        Err(e) => return (Verdict::SchemaRejected, e.clone()),
    };
    let user = chartproof::chart::merge::UserValues::load(&probe.files, &[], &[]).unwrap();
    let errors = chartproof::contract::validate::validate_values(contract, chart, &user);
    match errors.first() {
        None => (Verdict::Accepted, String::new()),
        Some(e) => (Verdict::ValuesRejected, e.to_string()),
    }
}

/// Every probe under every helm, helm runs in parallel; the disagreements, and the truth table
/// (helm → probe → helm's verdict).
fn disagreements(probes: &[Probe]) -> (Vec<String>, Vec<(String, Vec<Verdict>)>) {
    let helms = common::helms();
    let jobs: Vec<(usize, usize)> = (0..helms.len()).flat_map(|h| (0..probes.len()).map(move |p| (h, p))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![(Verdict::Accepted, String::new()); jobs.len()]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(h, p)) = jobs.get(j) else { break };
                    let verdict = helm_verdict(&helms[h], &probes[p]);
                    results.lock().unwrap()[j] = verdict;
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut wrong = Vec::new();
    let mut table = Vec::new();
    for (h, helm) in helms.iter().enumerate() {
        let major = chartproof::render::Helm::at(helm).unwrap().major;
        let dialect = chartproof::contract::HelmDialect::for_major(major);
        let mut column = Vec::new();
        let mut loaded = std::collections::HashMap::new();
        for (j, _) in jobs.iter().enumerate().filter(|(_, (jh, _))| *jh == h) {
            let probe = &probes[jobs[j].1];
            let (helm_says, helm_text) = &results[j];
            let (we_say, our_text) = chartproof_verdict(dialect, probe, &mut loaded);
            if *helm_says != we_say {
                wrong.push(format!("{} {}: helm {helm_says:?} ({helm_text}), chartproof {we_say:?} ({our_text})", helm.display(), probe.label));
            }
            column.push(*helm_says);
        }
        table.push((helm.display().to_string(), column));
    }
    (wrong, table)
}

#[derive(serde::Deserialize)]
struct ProbeAxes {
    schemas: Vec<Option<String>>,
    spellings: Vec<String>,
    spelling_values: Vec<String>,
    values: Vec<String>,
    schema_patches: Vec<SchemaPatch>,
}

#[derive(serde::Deserialize)]
struct SchemaPatch {
    patch: Value,
    values: Vec<String>,
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[test]
fn validate_verdicts_equal_each_helms_on_every_schema_corner() {
    let fixture = common::chart("fixtures/schema-probe");
    let axes: ProbeAxes = serde_yaml::from_str(&std::fs::read_to_string(fixture.join("probes.yaml")).unwrap()).unwrap();
    let base_schema: Value = serde_json::from_str(&std::fs::read_to_string(fixture.join("values.schema.json")).unwrap()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut values_files = std::collections::HashMap::new();
    let mut values_file = |text: &str| -> std::path::PathBuf {
        let n = values_files.len();
        values_files
            .entry(text.to_string())
            .or_insert_with(|| {
                let p = work.path().join(format!("values-{n}.yaml"));
                std::fs::write(&p, format!("{text}\n")).unwrap();
                p
            })
            .clone()
    };
    let mut charts = 0;
    let mut chart_with = |schema_uri: Option<&str>, patch: Option<&Value>| -> std::path::PathBuf {
        charts += 1;
        let dir = work.path().join(format!("chart-{charts}"));
        common::write_files(&dir, &[
            ("Chart.yaml", &std::fs::read_to_string(fixture.join("Chart.yaml")).unwrap()),
            ("values.yaml", ""),
            ("templates/configmap.yaml", &std::fs::read_to_string(fixture.join("templates/configmap.yaml")).unwrap()),
        ]);
        let mut schema = base_schema.clone();
        let root = schema.as_object_mut().unwrap();
        root.shift_remove("$schema");
        if let Some(uri) = schema_uri {
            let mut with_uri = serde_json::Map::new();
            with_uri.insert("$schema".into(), uri.into());
            with_uri.extend(std::mem::take(root));
            *root = with_uri;
        }
        if let Some(p) = patch {
            merge_patch(&mut schema, p);
        }
        std::fs::write(dir.join("values.schema.json"), serde_json::to_string_pretty(&schema).unwrap()).unwrap();
        dir
    };
    let mut probes = Vec::new();
    let name = |uri: &Option<String>| uri.clone().unwrap_or_else(|| "no $schema".into());
    for uri in &axes.schemas {
        let chart = chart_with(uri.as_deref(), None);
        for v in &axes.values {
            probes.push(Probe { label: format!("[{}] {v}", name(uri)), chart: chart.clone(), files: vec![values_file(v)] });
        }
        for p in &axes.schema_patches {
            let chart = chart_with(uri.as_deref(), Some(&p.patch));
            for v in &p.values {
                probes.push(Probe { label: format!("[{} + {}] {v}", name(uri), p.patch), chart: chart.clone(), files: vec![values_file(v)] });
            }
        }
    }
    for uri in &axes.spellings {
        let chart = chart_with(Some(uri), None);
        for v in &axes.spelling_values {
            probes.push(Probe { label: format!("[{uri}] {v}"), chart: chart.clone(), files: vec![values_file(v)] });
        }
    }
    let (wrong, table) = disagreements(&probes);
    // The truth table, for the record (`cargo test -- --nocapture`).
    for (i, probe) in probes.iter().enumerate() {
        let verdicts: Vec<String> = table.iter().map(|(helm, column)| format!("{helm}={:?}", column[i])).collect();
        eprintln!("{}: {}", probe.label, verdicts.join(" "));
    }
    let seen: std::collections::BTreeSet<Verdict> = table.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    assert_eq!(seen.len(), 3, "the probes must reach every verdict: {seen:?}");
    assert!(wrong.is_empty(), "{} disagreement(s) of {} probes × {} helm(s):\n{}", wrong.len(), probes.len(), table.len(), wrong.join("\n"));
}

/// Evenly spread picks of at most `n` items.
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    let step = items.len().div_ceil(n.max(1)).max(1);
    items.iter().step_by(step).cloned().collect()
}

/// The keys a schema lists (`properties`, local `$ref`s followed) whose schema lists no further
/// keys, with that schema.
fn schema_leaves<'a>(ctx: chartproof::generate::strategies::SchemaCtx<'a>, node: &'a Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a Value)>) {
    let node = ctx.resolve(node);
    match node.get("properties").and_then(Value::as_object) {
        Some(properties) if path.len() < 6 => {
            for (key, sub) in properties {
                path.push(key.clone());
                schema_leaves(ctx, sub, path, out);
                path.pop();
            }
        }
        _ if !path.is_empty() => out.push((path.clone(), node)),
        _ => {}
    }
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn validate_verdicts_equal_each_helms_on_generated_values_of_corpus_charts() {
    use chartproof::generate::overrides::{Change, override_of};
    use chartproof::generate::plan::seeded_runner;
    use chartproof::generate::strategies::{SchemaCtx, candidates};
    // loki over its CI values (its subcharts are off there).
    let loki = common::corpus("loki");
    let charts = [
        (common::corpus("traefik"), vec![]),
        (common::corpus("nginx"), vec![]),
        (common::corpus("cert-manager"), vec![]),
        (loki.clone(), vec![loki.join("ci/default-values.yaml")]),
    ];
    let work = tempfile::tempdir().unwrap();
    let mut probes = Vec::new();
    let mut runner = seeded_runner(13);
    for (dir, base_files) in &charts {
        let chart = chartproof::chart::Chart::load(dir).unwrap();
        let contract = chartproof::contract::Contract::for_chart(&chart).unwrap();
        let base = chartproof::chart::merge::UserValues::load(base_files, &[], &[]).unwrap().merged_over(&chart.values.value);
        // Keys of the chart's own values.schema.json: Helm checks nothing for a subchart without
        // one, where chartproof applies the contract it infers (by design, not a Helm verdict).
        let ctx = SchemaCtx::new(&contract.own_schema);
        let mut leaves = Vec::new();
        schema_leaves(ctx, &contract.own_schema, &mut Vec::new(), &mut leaves);
        // Generated one-key changes: chartproof's candidate values for a spread of keys, the
        // whole numbers among them also written as floats (`3.0`, issue 13), and a value of the
        // wrong type.
        let mut overrides: Vec<(String, Change)> = Vec::new();
        for (path, node) in spread(&leaves, 10) {
            let current = base.pointer(&path.iter().map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1"))).collect::<String>());
            let generated = candidates(ctx, node, current, &mut runner);
            for (_, v) in spread(&generated, 2) {
                overrides.push((format!("{}={v}", path.join(".")), Change::set(path.clone(), &v)));
                if let Some(n) = v.as_i64() {
                    overrides.push((format!("{}={n}.0", path.join(".")), Change::set(path.clone(), &serde_json::json!(n as f64))));
                }
            }
            let wrong = match current.or(generated.first().map(|(_, v)| v)) {
                Some(Value::Number(_)) => serde_json::json!("not-a-number"),
                Some(Value::String(_) | Value::Bool(_)) => serde_json::json!(12345),
                _ => serde_json::json!(true),
            };
            overrides.push((format!("{}={wrong}", path.join(".")), Change::set(path.clone(), &wrong)));
        }
        for (i, (label, change)) in overrides.into_iter().enumerate() {
            let file = work.path().join(format!("{}-{i}.yaml", chart.meta.name));
            std::fs::write(&file, serde_json::to_string(&override_of(&[change])).unwrap()).unwrap();
            let mut files = base_files.clone();
            files.push(file);
            probes.push(Probe { label: format!("{} {label}", chart.meta.name), chart: dir.clone(), files });
        }
    }
    let (wrong, table) = disagreements(&probes);
    let seen: std::collections::BTreeSet<Verdict> = table.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    assert!(seen.contains(&Verdict::Accepted) && seen.contains(&Verdict::ValuesRejected), "the sample must hold accepted and rejected values: {seen:?}");
    assert!(wrong.is_empty(), "{} disagreement(s) of {} generated values files × {} helm(s):\n{}", wrong.len(), probes.len(), table.len(), wrong.join("\n"));
    eprintln!("{} generated values files × {} helm(s): no disagreement", probes.len(), table.len());
}
