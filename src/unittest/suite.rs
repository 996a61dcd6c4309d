//! Loading helm-unittest suite files (`tests/*_test.yaml`): the suite and test fields
//! (templates, values, set, release, chart, capabilities, document selection, skip) and each
//! assertion with its parameters. Bad input names the file, line and key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use super::lookup::{FakeKind, KubernetesProvider};
use crate::chart::Pos;
use crate::chart::values::parse_helm_yaml;

/// Every assertion type chartproof runs, as helm-unittest spells it.
pub const ASSERTION_TYPES: &[&str] = &[
    "equal", "notEqual", "equalRaw", "notEqualRaw", "contains", "notContains", "isSubset", "isNotSubset", "exists", "notExists", "isNull", "isNotNull", "isEmpty",
    "isNotEmpty", "isNullOrEmpty", "isNotNullOrEmpty", "isKind", "isAPIVersion", "hasDocuments", "lengthEqual", "notLengthEqual", "matchRegex", "notMatchRegex",
    "matchRegexRaw", "notMatchRegexRaw", "containsDocument", "failedTemplate", "notFailedTemplate", "isType", "isNotType", "greaterOrEqual", "notGreaterOrEqual",
    "lessOrEqual", "notLessOrEqual", "matchSnapshot", "matchSnapshotRaw",
];

/// `release:` of a suite or test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Release {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub revision: Option<i64>,
    pub upgrade: Option<bool>,
}

/// `chart:` overrides of Chart.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ChartOverride {
    pub version: Option<String>,
    pub app_version: Option<String>,
}

/// `capabilities:` of a suite or test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    pub major_version: Option<String>,
    pub minor_version: Option<String>,
    pub api_versions: Vec<String>,
    /// `apiVersions:` written as null: in a test it drops the suite's list (helm-unittest
    /// test_job.go `SetCapabilities` leaves the list nil, and test_suite.go
    /// `polishCapabilitiesSettings` appends the suite's list only to a non-nil one).
    pub api_versions_null: bool,
}

/// `documentSelector:`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSelector {
    pub path: String,
    pub value: Value,
    pub match_many: bool,
    pub skip_empty_templates: bool,
}

/// `postRenderer:` of a suite or test: a command the rendered templates go through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PostRenderer {
    pub cmd: String,
    pub args: Vec<String>,
}

/// One assertion of a test.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The assertion type (`equal`, `notContains`, …).
    pub kind: String,
    pub params: Value,
    pub not: bool,
    pub template: Option<String>,
    pub document_index: Option<i64>,
    pub document_selector: Option<DocumentSelector>,
    pub line: usize,
}

/// One `it:` test case, with the suite's settings already folded in.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    pub line: usize,
    /// Templates the assertions look at by default (the test's, else the suite's).
    pub templates: Vec<String>,
    /// Templates rendered: the suite's and the test's (assertion templates are added later).
    pub render_templates: Vec<String>,
    pub exclude_templates: Vec<String>,
    /// Values files, suite first, resolved against the suite's folder.
    pub values_files: Vec<PathBuf>,
    /// `set:` entries, suite first.
    pub sets: Vec<(String, Value)>,
    pub release: Release,
    pub chart: ChartOverride,
    pub capabilities: Capabilities,
    pub document_index: Option<i64>,
    pub document_selector: Option<DocumentSelector>,
    /// Why the test is skipped, when it is.
    pub skip: Option<String>,
    /// The test's post-renderer, else the suite's.
    pub post_renderer: Option<PostRenderer>,
    pub asserts: Vec<Assertion>,
    /// The suite's `includeCrds`: the chart's `crds/` files are documents too (as they are, not templated).
    pub include_crds: bool,
    /// `kubernetesProvider`, the test's merged with the suite's: objects that answer `lookup`.
    pub kubernetes_provider: KubernetesProvider,
    /// The subcharts (names, outermost first) whose suite this is when it runs through the
    /// parent (`--with-subchart`); empty for the chart's own suites.
    pub chart_route: Vec<String>,
}

/// A loaded suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub name: String,
    pub tests: Vec<TestCase>,
    /// `snapshotId`: the suite's snapshots go to `__snapshot__/<file name>_<id>.snap`
    /// (test_suite.go `SnapshotFileUrl`); a rendered suite without one gets its position.
    pub snapshot_id: Option<String>,
}

/// Reads one suite file, reporting errors with line numbers.
struct Reader<'a> {
    file: &'a Path,
    positions: HashMap<String, Pos>,
}

impl Reader<'_> {
    fn line(&self, pointer: &str) -> usize {
        let mut p = pointer.to_string();
        loop {
            if let Some(pos) = self.positions.get(&p) {
                return pos.line;
            }
            match p.rfind('/') {
                Some(i) if i > 0 => p.truncate(i),
                _ => return 1,
            }
        }
    }

    fn error(&self, pointer: &str, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}:{}: {}: {msg}", self.file.display(), self.line(pointer), crate::chart::values::pointer_to_dotted(pointer))
    }

    fn string(&self, v: &Value, pointer: &str) -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.error(pointer, "must be a string")),
        }
    }

    fn strings(&self, v: Option<&Value>, pointer: &str) -> Result<Vec<String>> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().enumerate().map(|(i, item)| self.string(item, &format!("{pointer}/{i}"))).collect(),
            Some(single) => Ok(vec![self.string(single, pointer)?]),
        }
    }

    fn map<'v>(&self, v: Option<&'v Value>, pointer: &str) -> Result<Option<&'v Map<String, Value>>> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(self.error(pointer, "must be a map")),
        }
    }

    fn opt_string(&self, m: &Map<String, Value>, key: &str, pointer: &str) -> Result<Option<String>> {
        m.get(key).filter(|v| !v.is_null()).map(|v| self.string(v, &format!("{pointer}/{key}"))).transpose()
    }

    fn release(&self, v: Option<&Value>, pointer: &str) -> Result<Release> {
        let Some(m) = self.map(v, pointer)? else { return Ok(Release::default()) };
        let revision = match m.get("revision") {
            None | Some(Value::Null) => None,
            Some(r) => Some(r.as_i64().ok_or_else(|| self.error(&format!("{pointer}/revision"), "must be an integer"))?),
        };
        let upgrade = match m.get("upgrade") {
            None | Some(Value::Null) => None,
            Some(u) => Some(u.as_bool().ok_or_else(|| self.error(&format!("{pointer}/upgrade"), "must be true or false"))?),
        };
        Ok(Release { name: self.opt_string(m, "name", pointer)?, namespace: self.opt_string(m, "namespace", pointer)?, revision, upgrade })
    }

    fn chart(&self, v: Option<&Value>, pointer: &str) -> Result<ChartOverride> {
        let Some(m) = self.map(v, pointer)? else { return Ok(ChartOverride::default()) };
        Ok(ChartOverride { version: self.opt_string(m, "version", pointer)?, app_version: self.opt_string(m, "appVersion", pointer)? })
    }

    fn capabilities(&self, v: Option<&Value>, pointer: &str) -> Result<Capabilities> {
        let Some(m) = self.map(v, pointer)? else { return Ok(Capabilities::default()) };
        Ok(Capabilities {
            major_version: self.opt_string(m, "majorVersion", pointer)?,
            minor_version: self.opt_string(m, "minorVersion", pointer)?,
            api_versions: self.strings(m.get("apiVersions"), &format!("{pointer}/apiVersions"))?,
            api_versions_null: matches!(m.get("apiVersions"), Some(Value::Null)),
        })
    }

    fn values_files(&self, v: Option<&Value>, pointer: &str) -> Result<Vec<PathBuf>> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        Ok(self.strings(v, pointer)?.into_iter().map(|f| dir.join(f)).collect())
    }

    fn sets(&self, v: Option<&Value>, pointer: &str) -> Result<Vec<(String, Value)>> {
        Ok(self.map(v, pointer)?.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
    }

    fn document_index(&self, m: &Map<String, Value>, pointer: &str) -> Result<Option<i64>> {
        match m.get("documentIndex") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| self.error(&format!("{pointer}/documentIndex"), "must be an integer")),
        }
    }

    fn document_selector(&self, m: &Map<String, Value>, pointer: &str) -> Result<Option<DocumentSelector>> {
        let pointer = format!("{pointer}/documentSelector");
        let Some(sel) = self.map(m.get("documentSelector"), &pointer)? else { return Ok(None) };
        let Some(path) = sel.get("path") else { return Err(self.error(&pointer, "needs a `path`")) };
        Ok(Some(DocumentSelector {
            path: self.string(path, &format!("{pointer}/path"))?,
            value: sel.get("value").cloned().unwrap_or(Value::Null),
            match_many: sel.get("matchMany").and_then(Value::as_bool).unwrap_or(false),
            skip_empty_templates: sel.get("skipEmptyTemplates").and_then(Value::as_bool).unwrap_or(false),
        }))
    }

    fn post_renderer(&self, m: &Map<String, Value>, pointer: &str) -> Result<Option<PostRenderer>> {
        let pointer = format!("{pointer}/postRenderer");
        let Some(post) = self.map(m.get("postRenderer"), &pointer)? else { return Ok(None) };
        let cmd = self.opt_string(post, "cmd", &pointer)?.filter(|c| !c.is_empty()).ok_or_else(|| self.error(&pointer, "needs `cmd`, the command to run"))?;
        Ok(Some(PostRenderer { cmd, args: self.strings(post.get("args"), &format!("{pointer}/args"))? }))
    }

    /// `kubernetesProvider: {scheme: {apiVersion/kind: {gvr: {group, version, resource}, namespaced}}, objects: […]}`
    /// (helm-unittest k8s_fake_client.go `KubernetesFakeClientProvider`).
    fn kubernetes_provider(&self, m: &Map<String, Value>, pointer: &str) -> Result<KubernetesProvider> {
        let pointer = format!("{pointer}/kubernetesProvider");
        let Some(provider) = self.map(m.get("kubernetesProvider"), &pointer)? else { return Ok(KubernetesProvider::default()) };
        let mut out = KubernetesProvider::default();
        if let Some(scheme) = self.map(provider.get("scheme"), &format!("{pointer}/scheme"))? {
            for (key, props) in scheme {
                let p = format!("{pointer}/scheme/{key}");
                let Some(props) = self.map(Some(props), &p)? else { continue };
                let gvr = self.map(props.get("gvr"), &format!("{p}/gvr"))?.cloned().unwrap_or_default();
                let field = |k: &str| self.opt_string(&gvr, k, &format!("{p}/gvr")).map(Option::unwrap_or_default);
                let namespaced = match props.get("namespaced") {
                    None | Some(Value::Null) => false,
                    Some(v) => v.as_bool().ok_or_else(|| self.error(&format!("{p}/namespaced"), "must be true or false"))?,
                };
                out.scheme.insert(key.clone(), FakeKind { group: field("group")?, version: field("version")?, resource: field("resource")?, namespaced });
            }
        }
        match provider.get("objects") {
            None | Some(Value::Null) => {}
            Some(Value::Array(objects)) => {
                for (i, o) in objects.iter().enumerate() {
                    if !o.is_object() {
                        return Err(self.error(&format!("{pointer}/objects/{i}"), "must be a Kubernetes object (a map)"));
                    }
                    out.objects.push(o.clone());
                }
            }
            Some(_) => return Err(self.error(&format!("{pointer}/objects"), "must be a list of Kubernetes objects")),
        }
        Ok(out)
    }

    /// `skip:` of a suite or test: skipped with a non-empty `reason`. A suite's `minimumVersion`
    /// (without a reason) skips it when helm-unittest's version is lower (test_suite.go
    /// `validateTestSuite`, `VersionMeetsMinimum`); a test's skip has only `reason`.
    fn skip(&self, m: &Map<String, Value>, pointer: &str, suite: bool) -> Result<Option<String>> {
        match m.get("skip") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
            Some(Value::Bool(true)) => Ok(Some("skipped".into())),
            Some(Value::Object(s)) => {
                let p = format!("{pointer}/skip");
                if let Some(reason) = self.opt_string(s, "reason", &p)?.filter(|r| !r.is_empty()) {
                    return Ok(Some(reason));
                }
                let minimum = if suite { self.opt_string(s, "minimumVersion", &p)?.filter(|v| !v.is_empty()) } else { None };
                Ok(minimum.filter(|min| !version_meets_minimum(HELM_UNITTEST_VERSION, min)).map(|min| format!("Test suite requires minimum unittest plugin version {min}, but current version is {HELM_UNITTEST_VERSION}")))
            }
            Some(_) => Err(self.error(&format!("{pointer}/skip"), "must be a map with `reason`")),
        }
    }

    fn assertion(&self, v: &Value, pointer: &str) -> Result<Assertion> {
        let Value::Object(m) = v else { return Err(self.error(pointer, "an assertion must be a map such as `equal: {path: …, value: …}`")) };
        let kinds: Vec<&String> = m.keys().filter(|k| ASSERTION_TYPES.contains(&k.as_str())).collect();
        let known = ["not", "template", "documentIndex", "documentSelector", "set", "values"];
        if let Some(unknown) = m.keys().find(|k| !ASSERTION_TYPES.contains(&k.as_str()) && !known.contains(&k.as_str())) {
            return Err(self.error(&format!("{pointer}/{unknown}"), format!("unknown assertion type `{unknown}` (known: {})", ASSERTION_TYPES.join(", "))));
        }
        let kind = match kinds.as_slice() {
            [k] => (*k).clone(),
            [] => return Err(self.error(pointer, "no assertion type")),
            many => return Err(self.error(pointer, format!("more than one assertion type: {}", many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))),
        };
        let template = match m.get("template") {
            None | Some(Value::Null) => None,
            Some(t) => Some(self.string(t, &format!("{pointer}/template"))?),
        };
        Ok(Assertion {
            params: m.get(&kind).cloned().unwrap_or(Value::Null),
            kind,
            not: m.get("not").and_then(Value::as_bool).unwrap_or(false),
            template,
            document_index: self.document_index(m, pointer)?,
            document_selector: self.document_selector(m, pointer)?,
            line: self.line(pointer),
        })
    }
}

/// The helm-unittest release whose behaviour chartproof follows (the oracle's plugin.yaml), the
/// version a suite's `skip.minimumVersion` is compared with.
pub const HELM_UNITTEST_VERSION: &str = "1.1.0";

/// test_suite.go `VersionMeetsMinimum` with Masterminds/semver's reading of versions: an
/// optional `v`, up to three numbers (missing ones are 0), a pre-release after `-` sorting
/// before the release, build metadata after `+` ignored; an unreadable version does not meet.
pub fn version_meets_minimum(current: &str, minimum: &str) -> bool {
    fn parse(v: &str) -> Option<(Vec<u64>, Option<String>)> {
        let v = v.trim().trim_start_matches(['v', 'V']);
        let v = v.split('+').next()?;
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (v, None),
        };
        let mut numbers: Vec<u64> = core.split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
        if numbers.is_empty() || numbers.len() > 3 {
            return None;
        }
        numbers.resize(3, 0);
        Some((numbers, pre))
    }
    let (Some((c, cp)), Some((m, mp))) = (parse(current), parse(minimum)) else { return false };
    match c.cmp(&m) {
        std::cmp::Ordering::Equal => match (cp, mp) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a >= b,
        },
        other => other.is_gt(),
    }
}

/// Keys a suite may hold (helm-unittest's schema); others fail with `--strict`.
const SUITE_KEYS: &[&str] = &["suite", "templates", "excludeTemplates", "values", "set", "release", "chart", "capabilities", "kubernetesProvider", "skip", "tests", "postRenderer", "snapshotId", "includeCrds"];
/// Keys a test may hold.
const TEST_KEYS: &[&str] = &[
    "it", "template", "templates", "excludeTemplates", "values", "set", "release", "chart", "capabilities", "documentIndex", "documentSelector", "skip", "asserts", "kubernetesProvider", "postRenderer",
];

impl Reader<'_> {
    fn known_keys(&self, m: &Map<String, Value>, known: &[&str], pointer: &str) -> Result<()> {
        match m.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.error(&format!("{pointer}/{k}"), format!("unknown key `{k}` (--strict; known: {})", known.join(", ")))),
            None => Ok(()),
        }
    }
}

impl Suite {
    /// Load and check one suite file. `strict` rejects keys helm-unittest does not know.
    /// Every suite of a suite file, as helm-unittest's `ParseTestSuiteFile` (test_suite.go) reads
    /// it: the file may hold several `---`-separated suites (empty documents are skipped), and a
    /// file YAML refuses (an invalid escape such as `"\."` in a double-quoted string) is read
    /// again with every backslash doubled.
    pub fn load_all(file: &Path, strict: bool) -> Result<Vec<Suite>> {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read suite {}", file.display()))?;
        match Suite::load_documents(file, &text, strict) {
            Err(e) if text.contains('\\') => Suite::load_documents(file, &text.replace('\\', "\\\\"), strict).map_err(|_| e),
            other => other,
        }
    }

    fn load_documents(file: &Path, text: &str, strict: bool) -> Result<Vec<Suite>> {
        let lines: Vec<&str> = text.lines().collect();
        let mut starts = vec![0];
        for (i, line) in lines.iter().enumerate() {
            if *line == "---" || line.starts_with("--- ") || line.starts_with("---\t") {
                starts.push(i + 1);
            }
        }
        let mut suites = Vec::new();
        for (k, start) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map(|e| e - 1).unwrap_or(lines.len());
            // The document's own lines, every other line blanked, so positions keep their line numbers.
            let doc: String = lines.iter().enumerate().map(|(i, l)| if i >= *start && i < end { format!("{l}\n") } else { "\n".to_string() }).collect();
            if lines[*start.min(&lines.len())..end.max(*start)].iter().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
                continue;
            }
            suites.push(Suite::load_text(file, &doc, strict)?);
        }
        if suites.is_empty() {
            bail!("{}: the file holds no suite", file.display());
        }
        Ok(suites)
    }

    fn load_text(file: &Path, text: &str, strict: bool) -> Result<Suite> {
        let (doc, positions) = parse_helm_yaml(text, file)?;
        let r = Reader { file, positions };
        let Value::Object(top) = &doc else { bail!("{}:1: a suite must be a map with `suite` and `tests`", file.display()) };
        if strict {
            r.known_keys(top, SUITE_KEYS, "")?;
        }
        if let Some(key) = ["documentSelector", "documentIndex"].into_iter().find(|k| top.contains_key(*k)) {
            return Err(r.error(
                &format!("/{key}"),
                format!("`{key}` is not a suite key: helm-unittest ignores it here (and rejects it with --strict), so no test would use it; set it on each test or assertion (a YAML anchor `&sel` … `*sel` avoids repeating it)"),
            ));
        }
        let name = match top.get("suite") {
            Some(v) => r.string(v, "/suite")?,
            None => file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let suite_templates = r.strings(top.get("templates"), "/templates")?;
        let suite_excludes = r.strings(top.get("excludeTemplates"), "/excludeTemplates")?;
        let suite_values = r.values_files(top.get("values"), "/values")?;
        let suite_sets = r.sets(top.get("set"), "/set")?;
        let suite_release = r.release(top.get("release"), "/release")?;
        let suite_chart = r.chart(top.get("chart"), "/chart")?;
        let suite_caps = r.capabilities(top.get("capabilities"), "/capabilities")?;
        let suite_skip = r.skip(top, "", true)?;
        let suite_provider = r.kubernetes_provider(top, "")?;
        let suite_post_renderer = r.post_renderer(top, "")?;
        let include_crds = top.get("includeCrds").and_then(Value::as_bool).unwrap_or(false);
        let Some(Value::Array(tests)) = top.get("tests") else { return Err(r.error("/tests", "a suite needs a `tests` list")) };
        let mut cases = Vec::new();
        for (i, t) in tests.iter().enumerate() {
            let p = format!("/tests/{i}");
            let Value::Object(tm) = t else { return Err(r.error(&p, "a test must be a map with `it` and `asserts`")) };
            if strict {
                r.known_keys(tm, TEST_KEYS, &p)?;
            }
            let name = match tm.get("it") {
                Some(Value::Null) => String::new(),
                Some(v) => r.string(v, &format!("{p}/it"))?,
                None => return Err(r.error(&p, "a test needs `it`")),
            };
            let asserts = match tm.get("asserts") {
                Some(Value::Array(a)) => a.iter().enumerate().map(|(j, a)| r.assertion(a, &format!("{p}/asserts/{j}"))).collect::<Result<Vec<_>>>()?,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(r.error(&format!("{p}/asserts"), "must be a list")),
            };
            let mut test_templates = r.strings(tm.get("templates"), &format!("{p}/templates"))?;
            test_templates.extend(r.strings(tm.get("template"), &format!("{p}/template"))?);
            let templates = if test_templates.is_empty() { suite_templates.clone() } else { test_templates.clone() };
            // Only the suite's `templates` decide what renders (helm-unittest test_suite.go
            // `polishTestJobsPathInfo` sets them as the job's defaultTemplatesToAssert, and
            // test_job.go `renderV3Chart` copies the chart with only those); a test's own
            // `template(s)` only pick what its assertions look at.
            let render_templates = suite_templates.clone();
            let mut exclude_templates = suite_excludes.clone();
            exclude_templates.extend(r.strings(tm.get("excludeTemplates"), &format!("{p}/excludeTemplates"))?);
            let mut values_files = suite_values.clone();
            values_files.extend(r.values_files(tm.get("values"), &format!("{p}/values"))?);
            let mut sets = suite_sets.clone();
            sets.extend(r.sets(tm.get("set"), &format!("{p}/set"))?);
            let release = r.release(tm.get("release"), &format!("{p}/release"))?;
            let chart = r.chart(tm.get("chart"), &format!("{p}/chart"))?;
            let caps = r.capabilities(tm.get("capabilities"), &format!("{p}/capabilities"))?;
            let skip = suite_skip.clone().or(r.skip(tm, &p, false)?);
            cases.push(TestCase {
                name,
                line: r.line(&p),
                templates,
                render_templates,
                exclude_templates,
                values_files,
                sets,
                release: Release {
                    name: release.name.or(suite_release.name.clone()),
                    namespace: release.namespace.or(suite_release.namespace.clone()),
                    revision: release.revision.or(suite_release.revision),
                    upgrade: release.upgrade.or(suite_release.upgrade),
                },
                chart: ChartOverride { version: chart.version.or(suite_chart.version.clone()), app_version: chart.app_version.or(suite_chart.app_version.clone()) },
                capabilities: Capabilities {
                    major_version: caps.major_version.or(suite_caps.major_version.clone()),
                    minor_version: caps.minor_version.or(suite_caps.minor_version.clone()),
                    api_versions: if caps.api_versions_null { Vec::new() } else { caps.api_versions.iter().chain(&suite_caps.api_versions).cloned().collect() },
                    api_versions_null: caps.api_versions_null,
                },
                document_index: r.document_index(tm, &p)?,
                document_selector: r.document_selector(tm, &p)?,
                include_crds,
                kubernetes_provider: KubernetesProvider::merged(&r.kubernetes_provider(tm, &p)?, &suite_provider),
                chart_route: Vec::new(),
                skip,
                post_renderer: r.post_renderer(tm, &p)?.or(suite_post_renderer.clone()),
                asserts,
            });
        }
        let snapshot_id = top.get("snapshotId").filter(|v| !v.is_null()).map(|v| r.string(v, "/snapshotId")).transpose()?.filter(|id| !id.is_empty());
        Ok(Suite { file: file.to_path_buf(), name, tests: cases, snapshot_id })
    }
}

impl Suite {
    /// The path whose `__snapshot__/<name>.snap` holds this suite's snapshots.
    pub fn snapshot_path(&self) -> PathBuf {
        match &self.snapshot_id {
            Some(id) => self.file.with_file_name(format!("{}_{id}", self.file.file_name().unwrap_or_default().to_string_lossy())),
            None => self.file.clone(),
        }
    }

    /// The suites one template of a `--chart-tests-path` chart rendered (helm-unittest
    /// test_suite.go `iterateTemplates`): its output split at each `---`, every non-empty part a
    /// suite that must have a `suite` name, numbered from 0 as its snapshot id unless it sets one.
    pub fn load_rendered(file: &Path, output: &str, strict: bool) -> Result<Vec<Suite>> {
        static SEPARATOR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"(?:^|\s*\n)---\s*").unwrap());
        let mut suites = Vec::new();
        for part in SEPARATOR.split(output).filter(|p| !p.trim().is_empty()) {
            let mut suite = Suite::load_text(file, part, strict).with_context(|| format!("chart {} error", suites.len()))?;
            if suite.name.is_empty() || !part.lines().any(|l| l.starts_with("suite:")) {
                bail!("{}: helm chart based test suites must include `suite` field", file.display());
            }
            suite.snapshot_id = suite.snapshot_id.or(Some(suites.len().to_string()));
            suites.push(suite);
        }
        if suites.is_empty() {
            bail!("test suite template ({}) file did not render a manifest", file.display());
        }
        Ok(suites)
    }

    /// Run this suite of subchart `route` (names, outermost first) through the parent, as
    /// helm-unittest's `getV3TestSuitesWithValues` (test_runner.go) runs a subchart's suites with
    /// chart route `<parent>/charts/<sub>`: every template name is below the subchart
    /// (test_job.go `prefixTemplatesToAssert`, deep_copy.go `filterV3Templates`), a suite without
    /// `templates` renders only the subchart's (its default `**` under the route), and the
    /// values go under the subchart's key (runner [`scope_values`](super::runner::scope_values)).
    pub fn through_parent(mut self, route: &[String]) -> Suite {
        if route.is_empty() {
            return self;
        }
        let prefix: String = route.iter().map(|n| format!("charts/{n}/")).collect();
        let under = |names: &mut Vec<String>| names.iter_mut().for_each(|n| *n = format!("{prefix}{}", template_route_name(n)));
        for test in &mut self.tests {
            under(&mut test.templates);
            under(&mut test.render_templates);
            under(&mut test.exclude_templates);
            if test.render_templates.is_empty() {
                test.render_templates.push(format!("{prefix}**"));
            }
            for a in &mut test.asserts {
                if let Some(t) = &a.template {
                    a.template = Some(format!("{prefix}{}", template_route_name(t)));
                }
            }
            test.chart_route = route.to_vec();
        }
        self
    }
}

/// deep_copy.go `getTemplateFileName`: a name not starting with `templates`, `charts`, `crds` or
/// `**` is below `templates/`.
fn template_route_name(name: &str) -> String {
    let name = name.trim_start_matches("./");
    if ["templates", "charts", "crds", "**"].iter().any(|p| name.starts_with(p)) { name.to_string() } else { format!("templates/{name}") }
}

/// The suite files of a chart and, with `with_subcharts`, of its enabled subchart folders (at
/// any depth), each with its subchart route (empty for the chart's own). helm-unittest
/// test_runner.go `getV3TestSuitesWithValues`: a subchart's suites are looked for with the same
/// globs in `charts/<subchart name>`, unless the parent's dependency on it is disabled by its
/// `condition` or `tags` in the chart's values merged with the `-v` files
/// (`isSubchartEnabled`, `evaluateConditionPath`, `evaluateTagsCondition`).
pub fn find_suites_with_subcharts(chart_dir: &Path, globs: &[String], with_subcharts: bool, values_files: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<String>)>> {
    let mut found: Vec<(PathBuf, Vec<String>)> = find_suites(chart_dir, globs)?.into_iter().map(|f| (f, Vec::new())).collect();
    if !with_subcharts {
        return Ok(found);
    }
    let mut values = crate::chart::values::ValuesDoc::load(&chart_dir.join("values.yaml")).map(|d| d.value).unwrap_or(Value::Object(Map::new()));
    for f in values_files {
        let over = crate::chart::values::ValuesDoc::load(f)?.value;
        values = merge_tables(over, values);
    }
    subchart_suites(chart_dir, globs, &values, &[], &mut found)?;
    Ok(found)
}

fn subchart_suites(chart_dir: &Path, globs: &[String], values: &Value, route: &[String], found: &mut Vec<(PathBuf, Vec<String>)>) -> Result<()> {
    let chart_yaml = chart_dir.join("Chart.yaml");
    let meta: Value = serde_yaml::from_str(&std::fs::read_to_string(&chart_yaml).with_context(|| format!("cannot read {}", chart_yaml.display()))?).with_context(|| format!("{}: invalid Chart.yaml", chart_yaml.display()))?;
    let dependencies = meta.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default();
    let charts = chart_dir.join("charts");
    let Ok(entries) = std::fs::read_dir(&charts) else { return Ok(()) };
    let mut subcharts: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let dir = entry?.path();
        let Ok(text) = std::fs::read_to_string(dir.join("Chart.yaml")) else { continue };
        let Some(name) = serde_yaml::from_str::<Value>(&text).ok().and_then(|m| m.get("name").and_then(Value::as_str).map(str::to_string)) else { continue };
        subcharts.push((name, dir));
    }
    subcharts.sort();
    for (name, _) in subcharts {
        // The dependency whose alias, else name, is the subchart's name.
        let dependency = dependencies.iter().find(|d| d.get("alias").and_then(Value::as_str).filter(|a| !a.is_empty()).or(d.get("name").and_then(Value::as_str)) == Some(name.as_str()));
        if let Some(d) = dependency
            && !dependency_enabled(d, values)
        {
            continue;
        }
        // helm-unittest looks in charts/<chart name>, whatever the folder is called.
        let dir = charts.join(&name);
        if !dir.join("Chart.yaml").is_file() {
            continue;
        }
        let mut sub_route = route.to_vec();
        sub_route.push(name);
        found.extend(find_suites(&dir, globs)?.into_iter().map(|f| (f, sub_route.clone())));
        subchart_suites(&dir, globs, values, &sub_route, found)?;
    }
    Ok(())
}

/// test_runner.go `isSubchartEnabled`: the `condition` path when there is one (true unless it
/// names a boolean false), else any `tags` entry true (true when no tag is set).
fn dependency_enabled(dependency: &Value, values: &Value) -> bool {
    if let Some(condition) = dependency.get("condition").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        let mut at = values;
        for part in condition.split('.') {
            match at.get(part) {
                Some(next) => at = next,
                None => return true,
            }
        }
        return at.as_bool().unwrap_or(true);
    }
    let tags: Vec<&str> = dependency.get("tags").and_then(Value::as_array).map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let Some(set) = values.get("tags").and_then(Value::as_object) else { return true };
    tags.is_empty() || tags.iter().any(|t| set.get(*t).and_then(Value::as_bool) == Some(true))
}

/// chartutil `MergeTables(dst, src)`: `dst` wins, maps merge deeply.
fn merge_tables(mut dst: Value, src: Value) -> Value {
    if let (Value::Object(d), Value::Object(s)) = (&mut dst, src) {
        for (k, v) in s {
            match d.remove(&k) {
                None => {
                    d.insert(k, v);
                }
                Some(existing) if existing.is_object() && v.is_object() => {
                    d.insert(k, merge_tables(existing, v));
                }
                Some(existing) => {
                    d.insert(k, existing);
                }
            }
        }
    }
    dst
}

/// The suite files of a chart: `-f` globs relative to the chart (`**` allowed), default
/// `tests/*_test.yaml` (not recursive, as in helm-unittest). Sorted, without duplicates.
pub fn find_suites(chart_dir: &Path, globs: &[String]) -> Result<Vec<PathBuf>> {
    let patterns: Vec<String> = if globs.is_empty() { vec!["tests/*_test.yaml".into()] } else { globs.to_vec() };
    let mut builder = globset::GlobSetBuilder::new();
    for p in &patterns {
        builder.add(globset::GlobBuilder::new(p.trim_start_matches("./")).literal_separator(true).build().with_context(|| format!("bad suite glob '{p}'"))?);
    }
    let set = builder.build()?;
    let mut found = Vec::new();
    walk(chart_dir, chart_dir, &set, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(root: &Path, dir: &Path, set: &globset::GlobSet, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "charts" || n == "node_modules" || n == ".git") && dir == root {
                continue;
            }
            walk(root, &path, set, found)?;
        } else if let Ok(rel) = path.strip_prefix(root)
            && set.is_match(rel)
        {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x_test.yaml");
        std::fs::write(&file, text).unwrap();
        Suite::load_all(&file, false).map(|mut suites| suites.remove(0))
    }

    #[test]
    fn a_file_holds_several_suites_and_invalid_escapes_are_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x_test.yaml");
        std::fs::write(&file, "suite: a\ntests:\n  - it: one\n    asserts: [{matchRegex: {path: x, pattern: \"a\\.b\"}}]\n---\n# nothing\n---\nsuite: b\ntests:\n  - it:\n    asserts: [{isKind: {of: A}}]\n").unwrap();
        let suites = Suite::load_all(&file, false).unwrap();
        assert_eq!(suites.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(suites[1].tests[0].name, "");
        assert_eq!(suites[0].tests[0].asserts[0].params["pattern"], "a\\.b");
    }

    #[test]
    fn suite_settings_fold_into_tests() {
        let s = load("suite: S\ntemplates: [a.yaml]\nset: {x: 1}\nrelease: {name: r}\ncapabilities: {apiVersions: [v1/A]}\ntests:\n  - it: t\n    set: {z: '2'}\n    release: {namespace: ns}\n    capabilities: {apiVersions: [v1/B]}\n    asserts:\n      - equal: {path: a, value: 1}\n        not: true\n        documentIndex: 1\n").unwrap();
        let t = &s.tests[0];
        assert_eq!(t.templates, vec!["a.yaml"]);
        assert_eq!(t.sets, vec![("x".into(), serde_json::json!(1)), ("z".into(), serde_json::json!("2"))]);
        assert_eq!((t.release.name.as_deref(), t.release.namespace.as_deref()), (Some("r"), Some("ns")));
        // polishCapabilitiesSettings appends the suite's list to the test's.
        assert_eq!(t.capabilities.api_versions, vec!["v1/B", "v1/A"]);
        let a = &t.asserts[0];
        assert_eq!((a.kind.as_str(), a.not, a.document_index, a.line), ("equal", true, Some(1), 12));
    }

    #[test]
    fn unknown_assertion_names_file_line_and_key() {
        let e = load("suite: S\ntests:\n  - it: t\n    asserts:\n      - equals: {path: a}\n").unwrap_err().to_string();
        assert!(e.contains("x_test.yaml:5:") && e.contains("unknown assertion type `equals`"), "{e}");
    }

    #[test]
    fn strict_rejects_unknown_keys_with_their_line() {
        let text = "suite: S\ntests:\n  - it: t\n    sett: {a: 1}\n    asserts: []\n";
        assert!(load(text).is_ok(), "without --strict unknown keys are ignored, as in helm-unittest");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x_test.yaml");
        std::fs::write(&file, text).unwrap();
        let e = Suite::load_all(&file, true).unwrap_err().to_string();
        assert!(e.contains("x_test.yaml:4: tests[0].sett: unknown key `sett`"), "{e}");
    }

    #[test]
    fn a_suite_level_document_selector_is_an_error_not_a_silent_no_op() {
        let e = load("suite: S\ntemplates: [a.yaml]\ndocumentSelector:\n  path: kind\n  value: Service\ntests:\n  - it: t\n    asserts:\n      - isKind: {of: Service}\n").unwrap_err().to_string();
        assert!(e.contains("x_test.yaml:3: documentSelector: `documentSelector` is not a suite key: helm-unittest ignores it here"), "{e}");
        let e = load("suite: S\ndocumentIndex: 1\ntests: []\n").unwrap_err().to_string();
        assert!(e.contains("x_test.yaml:2: documentIndex: `documentIndex` is not a suite key"), "{e}");
        let s = load("suite: S\ntests:\n  - it: t\n    documentSelector: {path: kind, value: Service}\n    asserts:\n      - isKind: {of: Service}\n").unwrap();
        assert_eq!(s.tests[0].document_selector.as_ref().map(|d| d.path.as_str()), Some("kind"), "on a test it is a selector");
    }

    #[test]
    fn skip_reasons_and_kubernetes_providers_fold_like_helm_unittest() {
        let s = load("suite: S\nkubernetesProvider:\n  scheme:\n    v1/Pod: {gvr: {version: v1, resource: pods}, namespaced: true}\n  objects: [{kind: Pod, apiVersion: v1, metadata: {name: s}}]\ntests:\n  - it: a\n    skip: {reason: later}\n    asserts: []\n  - it: b\n    kubernetesProvider:\n      scheme:\n        v1/Pod: {gvr: {version: v1, resource: other}}\n      objects: [{kind: Pod, apiVersion: v1, metadata: {name: t}}]\n    asserts: []\n").unwrap();
        assert_eq!(s.tests[0].skip.as_deref(), Some("later"));
        let p = &s.tests[1].kubernetes_provider;
        assert!(s.tests[1].skip.is_none());
        // The test's objects first, then the suite's; the suite's scheme entry wins.
        assert_eq!(p.objects.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect::<Vec<_>>(), vec!["t", "s"]);
        assert_eq!((p.scheme["v1/Pod"].resource.as_str(), p.scheme["v1/Pod"].namespaced), ("pods", true));
    }

    #[test]
    fn subchart_suites_run_through_the_parent_below_the_subchart() {
        let s = load("suite: S\ntemplates: [deployment.yaml]\ntests:\n  - it: t\n    asserts:\n      - isKind: {of: A}\n        template: templates/x.yaml\n").unwrap();
        let s = s.through_parent(&["sub".to_string(), "inner".to_string()]);
        let t = &s.tests[0];
        assert_eq!(t.render_templates, vec!["charts/sub/charts/inner/templates/deployment.yaml"]);
        assert_eq!(t.asserts[0].template.as_deref(), Some("charts/sub/charts/inner/templates/x.yaml"));
        let all = load("suite: S\ntests:\n  - it: t\n    asserts: [{isKind: {of: A}}]\n").unwrap().through_parent(&["sub".to_string()]);
        assert_eq!(all.tests[0].render_templates, vec!["charts/sub/**"], "a suite without templates renders the subchart's");
    }

    #[test]
    fn dependencies_are_enabled_like_helm_unittests_runner() {
        let values = serde_json::json!({"a": {"enabled": false}, "b": {"enabled": "no"}, "tags": {"x": false, "y": true}});
        let dep = |d: Value| dependency_enabled(&d, &values);
        assert!(!dep(serde_json::json!({"condition": "a.enabled", "tags": ["y"]})), "the condition decides before tags");
        assert!(dep(serde_json::json!({"condition": "b.enabled"})), "a condition that is no boolean enables");
        assert!(dep(serde_json::json!({"condition": "missing.enabled"})));
        assert!(!dep(serde_json::json!({"tags": ["x"]})));
        assert!(dep(serde_json::json!({"tags": ["x", "y"]})));
        assert_eq!(merge_tables(serde_json::json!({"a": {"b": 1}}), serde_json::json!({"a": {"b": 2, "c": 3}, "d": 4})), serde_json::json!({"a": {"b": 1, "c": 3}, "d": 4}));
    }

    #[test]
    fn minimum_version_skips_a_suite_only_when_helm_unittest_is_older() {
        assert!(version_meets_minimum("1.1.0", "0.0.1") && version_meets_minimum("1.1.0", "v1.1") && !version_meets_minimum("1.1.0", "99.99.99"));
        assert!(!version_meets_minimum("1.1.0-rc1", "1.1.0") && !version_meets_minimum("1.1.0", "not a version"));
        let high = load("suite: S\nskip: {minimumVersion: 99.99.99}\ntests:\n  - it: t\n    asserts: [{isKind: {of: A}}]\n").unwrap();
        assert!(high.tests[0].skip.as_deref().unwrap().contains("requires minimum unittest plugin version 99.99.99"));
        let low = load("suite: S\nskip: {minimumVersion: 0.0.1}\ntests:\n  - it: t\n    skip: {minimumVersion: 99.0.0}\n    asserts: [{isKind: {of: A}}]\n").unwrap();
        assert_eq!(low.tests[0].skip, None, "met by the suite; a test's skip has only `reason`");
    }

    #[test]
    fn an_anchor_redefined_later_in_the_file_is_the_one_later_aliases_use() {
        // YAML lets a document define an anchor again; an alias names the latest (yaml.v3 as
        // helm-unittest's ParseTestSuiteFile decodes it).
        let s = load("suite: S\ntests:\n  - it: a\n    set: &v {x: 1}\n    asserts: [{isKind: {of: A}}]\n  - it: b\n    set: *v\n    asserts: [{isKind: {of: A}}]\n  - it: c\n    set: &v {x: 2}\n    asserts: [{isKind: {of: A}}]\n  - it: d\n    set: *v\n    asserts: [{isKind: {of: A}}]\n").unwrap();
        let x: Vec<&Value> = s.tests.iter().map(|t| &t.sets[0].1).collect();
        assert_eq!(x, vec![&serde_json::json!(1), &serde_json::json!(1), &serde_json::json!(2), &serde_json::json!(2)]);
    }

    #[test]
    fn rendered_suites_need_a_name_and_are_numbered_for_their_snapshots() {
        let file = Path::new("/c/tests-chart/templates/t.yaml");
        let suites = Suite::load_rendered(file, "---\nsuite: a\ntests:\n  - it: t\n    asserts: [{isKind: {of: A}}]\n---\nsuite: b\nsnapshotId: own\ntests:\n  - it: t\n    asserts: [{isKind: {of: A}}]\n", false).unwrap();
        assert_eq!(suites.iter().map(|s| s.snapshot_path()).collect::<Vec<_>>(), vec![PathBuf::from("/c/tests-chart/templates/t.yaml_0"), PathBuf::from("/c/tests-chart/templates/t.yaml_own")]);
        let e = Suite::load_rendered(file, "tests:\n  - it: t\n    asserts: [{isKind: {of: A}}]\n", false).unwrap_err().to_string();
        assert!(e.contains("must include `suite` field"), "{e}");
    }
}
