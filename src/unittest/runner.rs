//! Running suites: for each test, merge its values like helm-unittest (values files, then
//! `set` with YAML types), render through the shared [`Renderer`], select documents (templates,
//! `documentIndex`, `documentSelector`) and evaluate every assertion. Tests run in parallel.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use super::assert::{self, Verdict, base_kind};
use super::render::{DEFAULT_KUBE_VERSION, DEFAULT_NAMESPACE, DEFAULT_RELEASE_NAME, DEFAULT_REVISION, Document, Outcome, RenderInput, Renderer, template_pattern, template_selected};
use super::snapshot::{SnapshotFile, SnapshotMode, SnapshotPatterns, SnapshotResult};
use super::suite::{Assertion, DocumentSelector, Suite, TestCase};
use crate::chart::setvals::{SetArg, apply_set, parse_path};
use crate::chart::values::ValuesDoc;

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `-v` values files applied to every test after its own values files.
    pub values_files: Vec<PathBuf>,
    pub snapshots: SnapshotMode,
    pub failfast: bool,
    /// `--strict`: unknown suite and test keys are errors.
    pub strict: bool,
    /// `--check`: the rules configuration to check every render with.
    pub check: Option<crate::rules::Config>,
    /// Suite files of subcharts that run through the chart (`--with-subchart`), with their
    /// subchart routes ([`Suite::through_parent`]).
    pub subchart_routes: std::collections::HashMap<PathBuf, Vec<String>>,
    /// Suites rendered from the `--chart-tests-path` chart ([`rendered_suites`]), after the files'.
    pub rendered_suites: Vec<(PathBuf, std::result::Result<Suite, String>)>,
}

/// helm-unittest's `--chart-tests-path` (test_suite.go `RenderTestSuiteFiles`): the folder is a
/// chart whose templates render to suites, with release `TEST-SUITE-RELEASE` (revision 1) in
/// namespace `NAMESPACE` and the chart's own values. Each template's output is read as suites of
/// a file at the template's path in that folder ([`Suite::load_rendered`]); a template that
/// renders nothing, or a render that fails, is an error suite.
pub fn rendered_suites(renderer: &Renderer, tests_dir: &Path, strict: bool) -> Vec<(PathBuf, std::result::Result<Suite, String>)> {
    let input = RenderInput {
        templates: Vec::new(),
        chart: Default::default(),
        values_yaml: "{}\n".into(),
        release_name: super::render::TEST_SUITE_RELEASE_NAME.into(),
        namespace: DEFAULT_NAMESPACE.into(),
        kube_version: DEFAULT_KUBE_VERSION.into(),
        api_versions: Vec::new(),
        upgrade: false,
        revision: 1,
        include_crds: false,
        lookup_database: None,
    };
    let rendered = match renderer.render(&input).map_err(|e| format!("{e:#}")).and_then(|o| o.as_ref().clone()) {
        Ok(r) => r,
        Err(e) => return vec![(tests_dir.to_path_buf(), Err(format!("cannot render the test suites chart {}: {e}", tests_dir.display())))],
    };
    let mut out = Vec::new();
    for (template, output) in &rendered.outputs {
        let file = tests_dir.join(template);
        if output.trim().is_empty() {
            out.push((file.clone(), Err(format!("test suite template ({template}) file did not render a manifest"))));
            continue;
        }
        match Suite::load_rendered(&file, output, strict) {
            Ok(suites) => out.extend(suites.into_iter().map(|s| (file.clone(), Ok(s)))),
            Err(e) => out.push((file.clone(), Err(format!("test suite template ({template}) error: {e:#}")))),
        }
    }
    out
}

/// `check` rules whose verdict on an object depends on other objects of the release.
pub const CROSS_RESOURCE_RULES: &[&str] = &["service-selector", "service-target-port", "networkpolicy-default-deny", "dangling-reference"];

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// One failed assertion.
#[derive(Debug, Clone, Serialize)]
pub struct AssertionFailure {
    /// 0-based position in `asserts`.
    pub index: usize,
    pub kind: String,
    pub line: usize,
    pub template: Option<String>,
    pub message: String,
}

/// The result of one test.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub name: String,
    pub line: usize,
    pub status: Status,
    pub skip_reason: Option<String>,
    pub failures: Vec<AssertionFailure>,
    /// `--check` findings on the test's render.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::rules::Finding>,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The result of one suite file.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub file: PathBuf,
    pub name: String,
    pub tests: Vec<TestResult>,
    /// A suite that could not be loaded.
    pub error: Option<String>,
    pub snapshot_written: bool,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

impl SuiteResult {
    pub fn count(&self, status: Status) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.count(Status::Failed) == 0
    }
}

/// Run the suites of one chart. Suites load first, in file order, so that each test's
/// Kubernetes version can carry over as in helm-unittest ([`carry_kube_versions`]); then suites
/// and tests run in parallel.
pub fn run_suites(renderer: &Renderer, files: &[PathBuf], options: &RunOptions) -> Vec<SuiteResult> {
    let mut loaded: Vec<(PathBuf, Result<Suite>)> = Vec::new();
    for f in files {
        match Suite::load_all(f, options.strict) {
            Ok(suites) => {
                let route = options.subchart_routes.get(f).cloned().unwrap_or_default();
                loaded.extend(suites.into_iter().map(|s| (f.clone(), Ok(s.through_parent(&route)))))
            }
            Err(e) => loaded.push((f.clone(), Err(e))),
        }
    }
    loaded.extend(options.rendered_suites.iter().map(|(f, s)| (f.clone(), s.clone().map_err(|e| anyhow!("{e}")))));
    carry_kube_versions(loaded.iter_mut().filter_map(|(_, s)| s.as_mut().ok()));
    let shared = SharedRenders::plan(renderer, loaded.iter().filter_map(|(_, s)| s.as_ref().ok()), options);
    loaded
        .into_par_iter()
        .map(|(file, suite)| {
            let start = Instant::now();
            let failed_load = |e: anyhow::Error| SuiteResult { file: file.clone(), name: file.display().to_string(), tests: Vec::new(), error: Some(format!("{e:#}")), snapshot_written: false, duration: start.elapsed() };
            let suite = match suite {
                Ok(s) => s,
                Err(e) => return failed_load(e),
            };
            let snapshots = match SnapshotFile::for_suite(&suite.snapshot_path()) {
                Ok(s) => s,
                Err(e) => return failed_load(e),
            };
            let tests: Vec<TestResult> = suite.tests.par_iter().map(|t| run_test(renderer, &shared, t, &snapshots, options)).collect();
            let (snapshot_written, error) = match snapshots.save() {
                Ok(w) => (w, None),
                Err(e) => (false, Some(format!("{e:#}"))),
            };
            SuiteResult { file: file.clone(), name: suite.name, tests, error, snapshot_written, duration: start.elapsed() }
        })
        .collect()
}

/// helm-unittest's `capabilitiesV3` (test_job.go) takes the default capabilities by pointer and
/// writes the test's Kubernetes version into them, so a version a test sets stays the default
/// for every later test of the run (each missing major or minor taken from the last one written).
/// Every test writes, skipped ones too (the render comes before the skip check).
pub fn carry_kube_versions<'a>(suites: impl Iterator<Item = &'a mut Suite>) {
    let (mut major, mut minor) = ("1".to_string(), "20".to_string());
    for suite in suites {
        for test in &mut suite.tests {
            major = test.capabilities.major_version.clone().filter(|v| !v.is_empty()).unwrap_or(major);
            minor = test.capabilities.minor_version.clone().filter(|v| !v.is_empty()).unwrap_or(minor);
            test.capabilities.major_version = Some(major.clone());
            test.capabilities.minor_version = Some(minor.clone());
        }
    }
}

/// helm-unittest's user values: files merged in order (maps deep, the rest replaced, nulls
/// kept so they delete chart defaults), then each `set` path with its YAML-typed value; each
/// file and `set` put under the subchart `route` first ([`scope_values`]).
pub fn user_values(files: &[PathBuf], sets: &[(String, Value)], route: &[String]) -> Result<Value> {
    let mut merged = Value::Object(Map::new());
    for f in files {
        merge_keeping_nulls(&mut merged, &scope_values(route, ValuesDoc::load(f)?.value));
    }
    for (key, value) in sets {
        let path = parse_path(key).map_err(|e| anyhow!("set `{key}`: {e:#}"))?;
        let mut nested = Value::Null;
        apply_set(&mut nested, &SetArg { text: key.clone(), as_string: false, assignments: vec![(path, value.clone())] });
        merge_keeping_nulls(&mut merged, &scope_values(route, nested));
    }
    Ok(merged)
}

fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// helm-unittest test_job.go `scopeValuesWithRoutes`: values of a subchart's suite go under
/// the subchart's key, innermost first, with `global` also kept at each level above.
pub fn scope_values(route: &[String], values: Value) -> Value {
    route.iter().rev().fold(values, |inner, name| {
        let mut outer = Map::new();
        if let Some(global) = inner.get("global") {
            outer.insert("global".into(), global.clone());
        }
        outer.insert(name.clone(), inner);
        Value::Object(outer)
    })
}

fn merge_keeping_nulls(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge_keeping_nulls(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The render input of a test.
pub fn render_input(test: &TestCase, options: &RunOptions) -> Result<RenderInput> {
    let mut files = test.values_files.clone();
    files.extend(options.values_files.iter().cloned());
    let values = user_values(&files, &test.sets, &test.chart_route)?;
    let mut templates: Vec<String> = test.render_templates.clone();
    templates.sort();
    templates.dedup();
    let caps = &test.capabilities;
    let kube_version = match (&caps.major_version, &caps.minor_version) {
        (None, None) => DEFAULT_KUBE_VERSION.to_string(),
        (major, minor) => format!("v{}.{}.0", major.as_deref().unwrap_or("1"), minor.as_deref().unwrap_or("20")),
    };
    Ok(RenderInput {
        templates,
        chart: test.chart.clone(),
        // Keys sorted: helm reads values into maps, so two tests that set the same values in
        // another order share one render.
        values_yaml: serde_yaml::to_string(&sorted_keys(values))?,
        release_name: test.release.name.clone().unwrap_or_else(|| DEFAULT_RELEASE_NAME.into()),
        namespace: test.release.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        kube_version,
        api_versions: caps.api_versions.clone(),
        upgrade: test.release.upgrade.unwrap_or(false),
        revision: test.release.revision.unwrap_or(DEFAULT_REVISION),
        include_crds: test.include_crds,
        lookup_database: test.kubernetes_provider.database(),
    })
}

/// Renders shared by tests whose inputs differ only in the templates they select: helm-unittest
/// renders a test's selected templates (and the partials) alone (test_job.go `renderV3Chart`
/// with the templates filtered), and one render of the union of the selections gives each test
/// the same documents of its own templates when no template of the union can change another's
/// output. In Helm that can happen only through what templates share: one values map and
/// context per chart (engine.go `recAllTpls`: a `set`/`unset`/`merge*` into them is seen by the
/// templates rendered after), one template set (a `define` in a template file can replace a
/// helper of the same name), and template files named by their path (`include
/// "app/templates/x.yaml"` fails when `x.yaml` is not selected, by a computed name or through
/// `tpl` too); chartproof's wrapper adds `.Capabilities` swapped when the copy names
/// `APIVersions`. [`TemplateIsolation`](crate::diff::shared_volatility::TemplateIsolation) gives
/// those facts per template file, erring towards "may"; a test joins a shared render only when:
/// - no template the union adds to its selection writes into the values or the context, defines
///   a named template, or names `APIVersions` (unless its own render does too);
/// - none of its own templates includes a template file it does not select, includes a computed
///   name, or calls `tpl` where a string could include one (values, files, literals);
/// - the shared render succeeds and renders only analysed templates; otherwise (a `fail` or
///   `required` in another test's template) the test renders on its own.
///
/// Not with `--check`, which reads the whole manifest.
#[derive(Default)]
struct SharedRenders {
    /// A test's render input (as its Debug text) → the input of the render it shares.
    union_of: std::collections::HashMap<String, RenderInput>,
    /// Template files the analysis saw.
    analysed: std::collections::BTreeSet<String>,
}

impl SharedRenders {
    fn plan<'a>(renderer: &Renderer, suites: impl Iterator<Item = &'a Suite>, options: &RunOptions) -> SharedRenders {
        use crate::diff::shared_volatility::{KeyPath, TemplateFile, TemplateIsolation, TplEffects, value_strings};
        use std::collections::BTreeSet;
        if options.check.is_some() {
            return SharedRenders::default();
        }
        let Ok(chart) = crate::chart::Chart::load(renderer.chart_dir()) else { return SharedRenders::default() };
        let Ok(iso) = TemplateIsolation::of(&chart) else { return SharedRenders::default() };
        // Inputs with the same everything but the selection, and their distinct selections.
        let mut groups: std::collections::BTreeMap<String, (RenderInput, Vec<Vec<String>>)> = Default::default();
        for test in suites.flat_map(|s| &s.tests).filter(|t| t.skip.is_none()) {
            let Ok(input) = render_input(test, options) else { continue };
            let mut rest = input.clone();
            rest.templates.clear();
            let entry = groups.entry(format!("{rest:?}")).or_insert_with(|| (rest, Vec::new()));
            if !entry.1.contains(&input.templates) {
                entry.1.push(input.templates);
            }
        }
        let selects = |sel: &[String], rel: &str| sel.is_empty() || template_selected(rel, sel);
        let partials_mention_api = iso.files.values().any(|f| f.partial && f.mentions_api_versions);
        let joins = |own: &[String], union: &[String], tpl: &TplEffects| -> bool {
            let own_files: Vec<&TemplateFile> = iso.files.iter().filter(|(rel, f)| !f.partial && selects(own, rel)).map(|(_, f)| f).collect();
            let added: Vec<&TemplateFile> = iso.files.iter().filter(|(rel, f)| !f.partial && selects(union, rel) && !selects(own, rel)).map(|(_, f)| f).collect();
            let own_mentions_api = partials_mention_api || own_files.iter().any(|f| f.mentions_api_versions);
            let own_reads: Vec<KeyPath> = own_files.iter().flat_map(|f| f.reads.iter().cloned()).collect();
            let added_ok = added.iter().all(|f| !f.may_write_into(&own_reads) && !(f.uses_tpl && tpl.writes) && !f.defines && (!f.mentions_api_versions || own_mentions_api));
            let includes_ok = |files: &BTreeSet<String>| files.iter().all(|inc| selects(own, inc));
            let own_ok = own_files.iter().all(|f| !f.dynamic_include && includes_ok(&f.includes_files) && !(f.uses_tpl && (tpl.dynamic_include || !includes_ok(&tpl.includes_files))));
            added_ok && own_ok
        };
        let mut union_of = std::collections::HashMap::new();
        for (rest, mut members) in groups.into_values() {
            // What `tpl` may evaluate: the chart's texts and the strings of the test's values.
            let mut tpl = iso.chart_tpl.clone();
            if let Ok(values) = serde_yaml::from_str::<Value>(&rest.values_yaml) {
                let mut strings = Vec::new();
                value_strings(&values, &mut strings);
                tpl.absorb(&iso.tpl_effects(strings.into_iter()));
            } else {
                continue;
            }
            loop {
                if members.len() < 2 {
                    break;
                }
                let union: Vec<String> = if members.iter().any(Vec::is_empty) {
                    Vec::new()
                } else {
                    let mut all: Vec<String> = members.concat();
                    all.sort();
                    all.dedup();
                    all
                };
                let before = members.len();
                members.retain(|m| joins(m, &union, &tpl));
                if members.len() == before {
                    for m in &members {
                        let own = RenderInput { templates: m.clone(), ..rest.clone() };
                        union_of.insert(format!("{own:?}"), RenderInput { templates: union.clone(), ..rest.clone() });
                    }
                    break;
                }
            }
        }
        SharedRenders { union_of, analysed: iso.files.into_keys().collect() }
    }

    /// The test's render: its part of the shared render when it has one that succeeded, else
    /// its own.
    fn render(&self, renderer: &Renderer, input: &RenderInput) -> Result<std::sync::Arc<Outcome>> {
        if let Some(union) = self.union_of.get(&format!("{input:?}"))
            && let Ok(outcome) = renderer.render(union)
            && let Ok(rendered) = outcome.as_ref()
            && rendered.by_template.keys().all(|k| k.starts_with("crds/") || self.analysed.contains(k))
        {
            let keep = |k: &String| input.templates.is_empty() || k.starts_with("crds/") || template_selected(k, &input.templates);
            let mut own = rendered.clone();
            own.by_template.retain(|k, _| keep(k));
            own.outputs.retain(|k, _| keep(k));
            return Ok(std::sync::Arc::new(Ok(own)));
        }
        renderer.render(input)
    }
}

fn run_test(renderer: &Renderer, shared: &SharedRenders, test: &TestCase, snapshots: &SnapshotFile, options: &RunOptions) -> TestResult {
    let start = Instant::now();
    let mut result = TestResult { name: test.name.clone(), line: test.line, status: Status::Passed, skip_reason: None, failures: Vec::new(), findings: Vec::new(), duration: Duration::ZERO };
    if let Some(reason) = &test.skip {
        result.status = Status::Skipped;
        result.skip_reason = Some(reason.clone());
        return result;
    }
    let outcome = render_input(test, options).and_then(|input| shared.render(renderer, &input));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            result.status = Status::Failed;
            result.failures.push(AssertionFailure { index: 0, kind: "render".into(), line: test.line, template: None, message: format!("{e:#}") });
            result.duration = start.elapsed();
            return result;
        }
    };
    let outcome = match (&test.post_renderer, outcome.as_ref()) {
        (Some(post), Ok(rendered)) => match super::postrender::post_render(post, rendered) {
            Ok(post_rendered) => std::sync::Arc::new(Ok(post_rendered)),
            Err(e) => {
                result.status = Status::Failed;
                result.failures.push(AssertionFailure { index: 0, kind: "postRenderer".into(), line: test.line, template: None, message: format!("{e:#}") });
                result.duration = start.elapsed();
                return result;
            }
        },
        _ => outcome,
    };
    if let (Some(config), Ok(rendered)) = (&options.check, outcome.as_ref()) {
        // Platform policies see the test's release namespace (helm-unittest's default NAMESPACE).
        let mut config = config.clone();
        config.platform_policies.release_namespace = Some(test.release.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.into()));
        let findings = crate::rules::check_manifest(&crate::manifest::Manifest::parse(&rendered.manifest), &config).findings;
        // A suite that selects templates renders part of the release: a rule that judges one
        // object by the others (a Service's pods, a reference's target, a default-deny policy)
        // cannot know from it what the rest of the release holds, so its findings are dropped.
        let partial = !test.render_templates.is_empty();
        result.findings = findings.into_iter().filter(|f| !(partial && CROSS_RESOURCE_RULES.contains(&f.rule.as_str()))).collect();
    }
    if test.asserts.is_empty() {
        result.failures.push(AssertionFailure { index: 0, kind: "asserts".into(), line: test.line, template: None, message: "the test has no assertions".into() });
    }
    let mut snapshot_index = 0;
    for (index, assertion) in test.asserts.iter().enumerate() {
        let verdict = evaluate(test, assertion, &outcome, snapshots, &mut snapshot_index, options).unwrap_or_else(|e| vec![(None, Err(format!("{}: {e:#}", assertion.kind)))]);
        for (template, v) in verdict {
            if let Err(message) = v {
                result.failures.push(AssertionFailure { index, kind: assertion.kind.clone(), line: assertion.line, template, message });
            }
        }
        if options.failfast && !result.failures.is_empty() {
            break;
        }
    }
    if !result.failures.is_empty() {
        result.status = Status::Failed;
    }
    result.duration = start.elapsed();
    result
}

type TemplateVerdicts = Vec<(Option<String>, Verdict)>;

/// The templates an assertion looks at, each with its documents.
fn templates_for<'a>(test: &TestCase, assertion: &Assertion, rendered: &'a super::render::Rendered) -> Vec<(String, Vec<&'a Document>)> {
    let names: Vec<String> = match &assertion.template {
        Some(t) => vec![t.clone()],
        None => test.templates.clone(),
    };
    let mut keys: Vec<String> = if names.is_empty() {
        rendered.by_template.keys().cloned().collect()
    } else {
        let mut keys: Vec<String> = rendered.by_template.keys().filter(|k| template_selected(k, &names)).cloned().collect();
        for n in &names {
            let p = template_pattern(n);
            if !p.contains(['*', '?', '[']) && !keys.contains(&p) {
                keys.push(p);
            }
        }
        keys
    };
    if assertion.template.is_none() {
        keys.retain(|k| !template_selected(k, &test.exclude_templates));
    }
    keys.sort();
    keys.into_iter().map(|k| {
        let docs = rendered.by_template.get(&k).map(|d| d.iter().collect()).unwrap_or_default();
        (k, docs)
    }).collect()
}

fn select_by<'a>(selector: &DocumentSelector, templates: Vec<(String, Vec<&'a Document>)>) -> Result<Vec<(String, Vec<&'a Document>)>, String> {
    let mut total = 0;
    let mut out = Vec::new();
    for (t, docs) in templates {
        let picked: Vec<&Document> = docs.into_iter().filter(|d| super::path::lookup(&d.value, &selector.path).map(|m| m.iter().any(|v| **v == selector.value)).unwrap_or(false)).collect();
        total += picked.len();
        if !picked.is_empty() {
            out.push((t, picked));
        }
    }
    if total == 0 && !selector.skip_empty_templates {
        return Err(format!("documentSelector: no document where `{}` is {}", selector.path, assert::yaml(&selector.value)));
    }
    if total > 1 && !selector.match_many {
        return Err(format!("documentSelector: {total} documents where `{}` is {} (set matchMany: true to assert on all)", selector.path, assert::yaml(&selector.value)));
    }
    Ok(out)
}

fn evaluate(test: &TestCase, assertion: &Assertion, outcome: &Outcome, snapshots: &SnapshotFile, snapshot_index: &mut u64, options: &RunOptions) -> Result<TemplateVerdicts> {
    let mode = options.snapshots;
    let (kind, negated_name) = base_kind(&assertion.kind);
    let negated = negated_name != assertion.not;
    if kind == "failedTemplate" {
        let error = outcome.as_ref().err().map(String::as_str);
        return Ok(vec![(None, assert::failed_template(&assertion.params, negated, error)?)]);
    }
    let rendered = match outcome {
        Ok(r) => r,
        Err(e) => return Ok(vec![(None, Err(format!("the render failed:\n{e}")))]),
    };
    let all = templates_for(test, assertion, rendered);
    // An assertion on a template the render does not hold fails whatever `not` says
    // (helm-unittest assertion.go `Assert`: "template … not exists or not selected in test suite").
    let missing: Vec<&String> = all.iter().map(|(t, _)| t).filter(|t| !rendered.by_template.contains_key(*t)).collect();
    if let Some(t) = missing.first() {
        return Ok(vec![(Some((*t).clone()), Err(format!("template \"{t}\" not exists or not selected in test suite")))]);
    }
    let selector = assertion.document_selector.as_ref().or(test.document_selector.as_ref());
    let selected = match selector {
        Some(s) => match select_by(s, all.clone()) {
            Ok(sel) => sel,
            Err(e) => return Ok(vec![(None, Err(e))]),
        },
        None => all.clone(),
    };
    // A test's documentIndex replaces its assertions' own, as in helm-unittest.
    let index = test.document_index.or(assertion.document_index);
    let mut verdicts = Vec::new();
    for (template, docs) in &selected {
        let docs: Vec<&Document> = match index {
            Some(i) => {
                let at = if i < 0 { docs.len() as i64 + i } else { i };
                match docs.get(at as usize).filter(|_| at >= 0) {
                    Some(d) => vec![*d],
                    None => {
                        verdicts.push((Some(template.clone()), Err(format!("documentIndex {i} is out of range: the template rendered {} documents", docs.len()))));
                        continue;
                    }
                }
            }
            None => docs.clone(),
        };
        let verdict = match kind {
            "hasDocuments" => {
                let filter_aware = assertion.params.get("filterAware").and_then(Value::as_bool).unwrap_or(false);
                // All documents of the template, unless `filterAware` asks for the selected ones.
                let count = if filter_aware { docs.len() } else { all.iter().find(|(t, _)| t == template).map(|(_, d)| d.len()).unwrap_or(0) };
                let want = assertion.params.get("count").and_then(Value::as_u64).ok_or_else(|| anyhow!("needs `count`"))?;
                if (count as u64 == want) != negated { Ok(()) } else { Err(format!("expected {}{want} documents, actual: {count}", if negated { "NOT " } else { "" })) }
            }
            "containsDocument" => assert::contains_document(&assertion.params, negated, &docs, options.failfast)?,
            "matchSnapshot" | "matchSnapshotRaw" => {
                let mut v = Ok(());
                for d in &docs {
                    *snapshot_index += 1;
                    let actual = match (kind, assertion.params.get("path").and_then(Value::as_str)) {
                        ("matchSnapshotRaw", _) => Value::String(assert::uniform_content(&assert::raw_text(d))),
                        (_, Some(p)) => super::path::lookup(&d.value, p)?.first().map(|x| (*x).clone()).unwrap_or(Value::Null),
                        (_, None) => d.value.clone(),
                    };
                    let compared = snapshots.compare_with(&test.name, *snapshot_index, &actual, mode, &SnapshotPatterns::of(&assertion.params));
                    if let Err(e) = snapshot_verdict(compared, *snapshot_index, negated) {
                        v = Err(e);
                    }
                }
                v
            }
            _ if docs.is_empty() => {
                if negated { Ok(()) } else { Err("the template rendered no document".into()) }
            }
            _ => {
                let mut v = Ok(());
                for d in &docs {
                    if let Err(e) = assert::check_document(kind, &assertion.params, negated, d)? {
                        v = Err(e);
                        break;
                    }
                }
                v
            }
        };
        verdicts.push((Some(template.clone()), verdict));
    }
    if selected.is_empty() && !matches!(kind, "hasDocuments") && !negated && selector.is_none_or(|s| !s.skip_empty_templates) {
        verdicts.push((None, Err("no template selected for this assertion".into())));
    }
    Ok(verdicts)
}

/// A snapshot comparison as a verdict; `not: true` passes only when the render differs.
fn snapshot_verdict(compared: SnapshotResult, index: u64, negated: bool) -> Verdict {
    match (compared, negated) {
        (SnapshotResult::Matched | SnapshotResult::Created | SnapshotResult::Updated, false) | (SnapshotResult::Differs(_), true) => Ok(()),
        (SnapshotResult::Missing, _) => Err(format!("snapshot entry {index} of this test is missing and new entries are not written (CI, or --fail-missing-snapshots); run with -u locally")),
        (SnapshotResult::Differs(diff), false) => Err(format!("the render differs from snapshot entry {index}:\n{diff}")),
        (_, true) => Err(format!("expected NOT to match snapshot entry {index}, but the render matches it")),
    }
}

/// Summaries across suites.
pub fn totals(results: &[SuiteResult]) -> (usize, usize, usize) {
    let t = |s| results.iter().map(|r| r.count(s)).sum();
    (t(Status::Passed), t(Status::Failed), t(Status::Skipped))
}

/// A chart-relative display path for a suite file.
pub fn display_path(chart_dir: &Path, file: &Path) -> String {
    file.strip_prefix(chart_dir).unwrap_or(file).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subchart_values_nest_under_the_route_with_global_kept_above() {
        let scoped = scope_values(&["sub".to_string(), "inner".to_string()], serde_json::json!({"global": {"g": 1}, "x": 2}));
        assert_eq!(scoped, serde_json::json!({"global": {"g": 1}, "sub": {"global": {"g": 1}, "inner": {"global": {"g": 1}, "x": 2}}}));
        assert_eq!(scope_values(&[], serde_json::json!({"x": 1})), serde_json::json!({"x": 1}));
    }
}
