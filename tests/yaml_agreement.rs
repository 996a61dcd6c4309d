//! Differential test: chartproof reads rendered manifests as Kubernetes does.
//!
//! The oracle is the real thing: helm's `fromYaml` is sigs.k8s.io/yaml over go-yaml v2, the code
//! kubectl and the API server read YAML with. Each document is put into an oracle chart as a file,
//! helm renders `fromYaml | toJson` of it, and chartproof's reading of the same text must give the
//! same JSON (numbers compared as float64, as helm's JSON round trip leaves them) or be refused
//! when helm refuses it. PyYAML on libyaml, a reader independent of both, splits every rendered
//! stream so that the number of objects chartproof reads is checked too.
//!
//! Inputs: a generated set of YAML edge cases with the default render of every chart under
//! `charts/` (the everyday suite), and with the default render of every corpus chart and every
//! render of short property runs on the corpus charts (kept through CHARTPROOF_KEEP_RENDERS;
//! `scripts/corpus` runs that part, as it needs ../shared/corpus).
//! The test prints its counts and asserts zero disagreements for every helm.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use chartproof::chart::values::parse_helm_yaml_documents;
use chartproof::manifest::Manifest;
use serde_json::Value;

/// Plain scalars whose YAML 1.1 / go-yaml v2 resolution is easy to get wrong.
const TOKENS: &[&str] = &[
    "y", "Y", "n", "yes", "Yes", "NO", "on", "On", "off", "OFF", "true", "False", "TRUE", "~", "null", "Null", "=", "0777", "0o17",
    "0x1F", "0X1f", "0b101", "-0b11", "1_000", "0x_1F", "1__0", "08", "09", "+12", "-0", "0", "-12", "1e3", "1E3", "1e+3", ".5", "-.5e-3",
    "1.", "3.0", "+.5", "1e400", "1e2_0", "12345678901234567890", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "0x8000000000000000", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "1:20", "1.2.3", "0.1", "1e-7", "a b",
    "foo#bar", "a: b", "-", "?", "<<", "x-y", ".inf", ".NaN", "-.Inf", "+", "0.", "e3", "1e", "0x", "0b", "0o", "1_", "_1",
];

/// Documents exercising structure: flows across lines, multi-line and block scalars, anchors,
/// merges, tabs, document markers inside strings.
const STRUCTURES: &[&str] = &[
    // Flow collections across lines, indented less than their key.
    "spec:\n  args: [\n\"-g\",\n  \"daemon off;\"\n]\n",
    "spec:\n  args: [\n    \"-g\",\n    \"daemon off;\"\n  ]\n",
    "spec:\n  m: {\na: 1,\n b: [2,\n3]\n}\n",
    "a: [1, 2,]\nb: {x: 1,}\n",
    "a: [\n]\nb: {\n}\n",
    "a: [ # comment\n  1, # one\n  2\n]\n",
    "a: [[1, [2, 3]], {b: [4]}]\n",
    "a: [b: 1, c: 2]\n",
    "a: {b, c: }\n",
    "a: [\"x\ny\", 'p\n\n  q']\n",
    // Quoted scalars across lines, continued at column 0.
    "data:\n  x: \"first\nsecond\"\n",
    "data:\n  x: \"first\n\nsecond\"\n",
    "data:\n  x: \"first \\\n  second\"\n",
    "data:\n  x: 'it''s\nthere'\n",
    "data:\n  x: \"tab\\tand \\u263A and \\x41\"\n",
    "data:\n  x: \"  lead\n   trail  \"\n",
    // Plain multi-line scalars.
    "a: one\n  two\n\n  three\n",
    "a:\n  - one\n    two\n  - three\n",
    "a: one # comment\n  two\n",
    // Block scalars: indentation indicators and chomping.
    "a: |\n  line\n   more\n\n",
    "a: |-\n  line\n\n\n",
    "a: |+\n  line\n\n\nb: 1\n",
    "a: >\n  folded\n  text\n\n  para\n   indented\n  back\n",
    "a: >-\n  x\n",
    "a: >+\n  x\n\n",
    "a: |2\n    two extra\n  base\n",
    "a: |1-\n  x\n",
    "a: >2+\n   y\n\n",
    "a: |\n\n  after blank\n",
    "a: |\n  ---\n  ...\n  --- x\n",
    "a:\n- |\n  item\n- >\n  folded\n",
    "a: |\n  tab\there\n",
    // Anchors, aliases, merge keys.
    "base: &b {x: 1, y: 2}\nuse: *b\nlist: [*b, *b]\n",
    "a: &x 1\nb: *x\nc: &x 2\nd: *x\n",
    "base: &b\n  x: 1\nchild:\n  <<: *b\n  x: 2\n",
    "base: &b\n  x: 1\nchild:\n  x: 2\n  <<: *b\n",
    "a: &a {p: 1}\nb: &b {p: 2, q: 2}\nc:\n  <<: [*a, *b]\n  r: 3\n",
    "a: {<<: {x: 1}, y: 2}\n",
    "a: &s [1]\nb: {<<: *s}\n",
    "a: {<<: 5}\n",
    "'<<': literal\n",
    "a: &anchor\nb: *anchor\n",
    "a: *missing\n",
    // Tabs.
    "a: x\ty\n",
    "a: \"x\ty\"\n",
    "a:\tvalue\n",
    "a: 'x\t'\n",
    "a:\n\t- b\n",
    "a: [1,\t2]\n",
    // Document markers inside strings.
    "a: \"---\"\nb: '...'\n",
    "a: x --- y\nb: x ... y\n",
    "a: ---x\n",
    "a:\n  - ---\n",
    // Keys.
    "1: a\n2.5: b\ntrue: c\nnull: d\n",
    "1e3: a\n0.1: b\n1.0: c\n1e7: d\n0.00001: e\n",
    "? complex\n: value\n",
    "? [a]\n: value\n",
    "a: 1\na: 2\n",
    "\"quoted key\": 1\n'single': 2\n",
    // Tags.
    "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !!bool yes\ne: !!null ~\nf: !!timestamp 2001-01-01\n",
    "a: !!binary aGVsbG8=\nb: !custom 12\nc: !!str\nd: !!map {x: 1}\ne: !!seq [1]\n",
    "a: !!int abc\n",
    "a: !!binary \"not base64!\"\n",
    // Odd but legal.
    "a: b # comment\n# trailing comment\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: 'x'   \n",
    "a: [a?b, c]\n",
    "a: {? b : c}\n",
    "a: \"\\/\\N\\_\"\n",
];

/// Every generated edge case: each token in several positions, plus the structures.
fn edge_cases() -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    for t in TOKENS {
        docs.push(format!("k: {t}\n"));
        docs.push(format!("k:\n- {t}\n- x\n"));
        docs.push(format!("k: [{t}, x]\n"));
        docs.push(format!("k: {{a: {t}}}\n"));
        docs.push(format!("{t}: v\n"));
        docs.push(format!("k: '{t}'\n"));
        docs.push(format!("k: \"{t}\"\n"));
        docs.push(format!("k: !!str {t}\n"));
        docs.push(format!("k: !!int {t}\n"));
        docs.push(format!("k: !!float {t}\n"));
        docs.push(format!("k: !!bool {t}\n"));
        docs.push(format!("k: !local {t}\n"));
    }
    docs.extend(STRUCTURES.iter().map(|s| s.to_string()));
    docs
}

/// How a reader took one document.
#[derive(Debug, Clone, PartialEq)]
enum Reading {
    Refused,
    Json(Value),
}

/// chartproof's reading of one document (the first one in the text).
fn chartproof_reading(doc: &str) -> Reading {
    match parse_helm_yaml_documents(doc, Path::new("case.yaml")) {
        Ok(docs) => Reading::Json(docs.into_iter().find(|d| !d.is_null()).unwrap_or(Value::Object(Default::default()))),
        Err(_) => Reading::Refused,
    }
}

/// helm's `fromYaml | toJson` of each document, through a chart that holds them as files.
fn helm_readings(helm: &Path, docs: &[String]) -> Vec<Reading> {
    let chart = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, String)> = vec![
        ("Chart.yaml".into(), "apiVersion: v2\nname: yaml-oracle\nversion: 0.1.0\n".into()),
        (
            "templates/readings.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: readings\ndata:\n{{- range $path, $_ := .Files.Glob \"cases/*\" }}\n  {{ base $path | quote }}: {{ $.Files.Get $path | fromYaml | toJson | b64enc | quote }}\n{{- end }}\n".into(),
        ),
    ];
    for (i, doc) in docs.iter().enumerate() {
        files.push((format!("cases/{i:06}"), doc.clone()));
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    common::write_files(chart.path(), &refs);
    let out = common::helm_template(helm, chart.path(), &[]);
    assert!(out.status.success(), "oracle chart failed to render: {}", String::from_utf8_lossy(&out.stderr));
    let rendered: serde_yaml::Value = serde_yaml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("oracle output is YAML");
    let data = rendered.get("data").and_then(|d| d.as_mapping()).cloned().unwrap_or_default();
    (0..docs.len())
        .map(|i| {
            let b64 = data.get(format!("{i:06}")).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("oracle gave no reading for case {i}"));
            let json: Value = serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
            let refused = json.as_object().is_some_and(|m| m.len() == 1 && m.get("Error").and_then(Value::as_str).is_some_and(|e| e.starts_with("error converting YAML to JSON")));
            if refused { Reading::Refused } else { Reading::Json(json) }
        })
        .collect()
}

/// Equal as JSON, with numbers compared as float64 (helm's JSON round trip makes every number one).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w))),
        _ => a == b,
    }
}

fn agrees(ours: &Reading, oracle: &Reading) -> bool {
    match (ours, oracle) {
        (Reading::Json(a), Reading::Json(b)) => same_json(a, b),
        (a, b) => a == b,
    }
}

/// Documents of a `helm template` stream, split as kubectl splits (a line that is exactly `---`).
fn kubectl_split(stream: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in stream.split_inclusive('\n') {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            docs.last_mut().unwrap().push_str(line);
        }
    }
    docs.retain(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    docs
}

/// PyYAML (libyaml) counts the non-empty documents of each stream: an independent split.
fn pyyaml_object_counts(streams: &[String]) -> Vec<usize> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        let p = dir.path().join(format!("{i:06}.yaml"));
        std::fs::write(&p, s).unwrap();
        paths.push(p);
    }
    let script = "import sys, yaml\nfor p in sys.argv[1:]:\n    with open(p) as f:\n        nodes = list(yaml.compose_all(f, Loader=yaml.CSafeLoader))\n    print(sum(1 for n in nodes if n is not None and not (isinstance(n, yaml.ScalarNode) and n.value == '')))\n";
    let out = Command::new("python3").arg("-c").arg(script).args(&paths).output().expect("python3 (scripts/test installs PyYAML)");
    assert!(out.status.success(), "PyYAML failed (is python3-yaml or PyYAML installed? scripts/test installs it): {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// The default render of every corpus chart (loki with its CI values).
fn corpus_default_renders(helm: &Path) -> Vec<(String, String)> {
    let mut renders = Vec::new();
    for chart in common::corpus_charts() {
        let name = chart.file_name().unwrap().to_string_lossy().to_string();
        let mut args = Vec::new();
        if name == "loki" {
            args.extend(["-f".to_string(), chart.join("ci/default-values.yaml").display().to_string()]);
        }
        let out = common::helm_template(helm, &chart, &args);
        assert!(out.status.success(), "{name} does not render: {}", String::from_utf8_lossy(&out.stderr));
        renders.push((format!("{name} (defaults)"), String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    renders
}

/// Every render of a property run of `cases` cases on each corpus chart that `wanted` selects,
/// kept by chartproof itself. The value space does not depend on the helm version, so one helm
/// runs these.
fn corpus_property_renders(helm: &Path, wanted: fn(&str) -> bool, cases: usize) -> Vec<(String, String)> {
    let mut renders = Vec::new();
    for chart in common::corpus_charts() {
        let name = chart.file_name().unwrap().to_string_lossy().to_string();
        if !wanted(&name) {
            continue;
        }
        let keep = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = vec!["test".into(), chart.display().to_string(), "--cases".into(), cases.to_string(), "--seed".into(), "7".into(), "--no-save".into()];
        if name == "loki" {
            args.extend(["-f".to_string(), chart.join("ci/default-values.yaml").display().to_string()]);
        }
        // The verdict does not matter here, only the renders it checked.
        let out = common::chartproof(helm).args(&args).env(chartproof::render::KEEP_RENDERS_ENV, keep.path()).output().unwrap();
        let kept: Vec<PathBuf> = std::fs::read_dir(keep.path()).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
        assert!(!kept.is_empty(), "chartproof test kept no render of {name}: {}", String::from_utf8_lossy(&out.stderr));
        for path in kept {
            renders.push((format!("{name} (property render {})", path.file_stem().unwrap().to_string_lossy()), std::fs::read_to_string(&path).unwrap()));
        }
    }
    renders
}

/// Which rendered manifests to compare besides the generated edge cases.
#[derive(Clone, Copy)]
enum Renders {
    /// The default render of every chart in the repository's `charts/` (a fresh clone has them).
    OwnCharts,
    /// The corpus charts' default renders, and property runs of `cases` cases on those `wanted` selects.
    Corpus { wanted: fn(&str) -> bool, cases: usize },
}

#[test]
fn manifests_are_read_as_kubernetes_reads_them() {
    agreement(Renders::OwnCharts);
}

#[test]
#[ignore = "needs ../shared/corpus, minutes of property runs on every corpus chart: scripts/corpus (and .ci/run) runs it"]
fn every_corpus_property_render_is_read_as_kubernetes_reads_it() {
    agreement(Renders::Corpus { wanted: |_| true, cases: 12 });
}

/// The default render of every chart under the repository's `charts/` that renders at its
/// defaults (some fixtures fail on purpose).
fn own_chart_renders(helm: &Path) -> Vec<(String, String)> {
    let root = common::repo().join("charts");
    let mut charts: Vec<PathBuf> = vec![root.join("go-service")];
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures")).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("Chart.yaml").exists()).collect();
    fixtures.sort();
    charts.extend(fixtures);
    let renders: Vec<(String, String)> = charts
        .iter()
        .filter_map(|chart| {
            let out = common::helm_template(helm, chart, &[]);
            let name = chart.strip_prefix(&root).unwrap().display().to_string();
            out.status.success().then(|| (format!("{name} (defaults)"), String::from_utf8_lossy(&out.stdout).into_owned()))
        })
        .collect();
    assert!(renders.len() >= 10, "only {} of the repository's {} charts rendered at their defaults", renders.len(), charts.len());
    renders
}

/// Run every check of this file on the generated edge cases and the `renders` chosen.
fn agreement(renders: Renders) {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let helms = common::helms();
    for (index, helm) in helms.iter().enumerate() {
        let label = helm.display().to_string();
        // 1. Generated edge cases.
        let cases = edge_cases();
        let oracle = helm_readings(helm, &cases);
        let mut disagreements = 0;
        let mut refused = 0;
        for (doc, theirs) in cases.iter().zip(&oracle) {
            let ours = chartproof_reading(doc);
            if *theirs == Reading::Refused {
                refused += 1;
            }
            if !agrees(&ours, theirs) {
                disagreements += 1;
                failures.push(format!("{label}: edge case {doc:?}\n  chartproof: {ours:?}\n  helm:       {theirs:?}"));
            }
        }
        report.push(format!("{label}: {} generated edge cases ({refused} refused by helm), {disagreements} disagreements", cases.len()));

        // 2. Corpus renders: defaults and property runs.
        let mut streams = match renders {
            Renders::OwnCharts => own_chart_renders(helm),
            Renders::Corpus { .. } => corpus_default_renders(helm),
        };
        let defaults = streams.len();
        if let (0, Renders::Corpus { wanted, cases }) = (index, renders) {
            streams.extend(corpus_property_renders(helm, wanted, cases));
        }
        let mut docs: Vec<String> = Vec::new();
        let mut owners: Vec<usize> = Vec::new();
        for (i, (_, stream)) in streams.iter().enumerate() {
            for doc in kubectl_split(stream) {
                docs.push(doc);
                owners.push(i);
            }
        }
        let oracle = helm_readings(helm, &docs);
        let mut disagreements = 0;
        for ((doc, theirs), owner) in docs.iter().zip(&oracle).zip(&owners) {
            let ours = chartproof_reading(doc);
            if !agrees(&ours, theirs) {
                disagreements += 1;
                let excerpt: String = doc.chars().take(400).collect();
                failures.push(format!("{label}: a document of {}\n  chartproof: {}\n  helm:       {}\n  text: {excerpt}", streams[*owner].0, short(&ours), short(theirs)));
            }
        }
        // Every object helm rendered is read: chartproof's count equals PyYAML's split of the stream.
        let counts = pyyaml_object_counts(&streams.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>());
        let mut count_mismatches = 0;
        let mut objects = 0;
        for ((name, stream), expected) in streams.iter().zip(&counts) {
            let manifest = Manifest::parse(stream);
            let lists: usize = manifest.resources.len();
            objects += expected;
            if !manifest.problems.is_empty() || (lists != *expected && !stream.contains("kind: List")) {
                count_mismatches += 1;
                failures.push(format!("{label}: {name}: chartproof read {lists} objects and {} problems {:?}; PyYAML splits {expected}", manifest.problems.len(), manifest.problems));
            }
        }
        report.push(format!(
            "{label}: {} chart renders ({defaults} default, {} property), {} documents, {objects} objects: {disagreements} disagreements with helm, {count_mismatches} object-count mismatches with PyYAML",
            streams.len(),
            streams.len() - defaults,
            docs.len()
        ));
    }
    let by_kind: BTreeMap<&str, usize> = failures.iter().fold(BTreeMap::new(), |mut m, f| {
        *m.entry(if f.contains("edge case") { "edge cases" } else { "renders" }).or_default() += 1;
        m
    });
    eprintln!("YAML agreement:\n  {}", report.join("\n  "));
    assert!(failures.is_empty(), "{} disagreements ({by_kind:?}):\n{}", failures.len(), failures.join("\n"));
}

fn short(r: &Reading) -> String {
    let s = format!("{r:?}");
    if s.len() > 300 { format!("{}…", &s[..s.char_indices().nth(300).map(|(i, _)| i).unwrap_or(s.len())]) } else { s }
}
