//! Rendering a unit test with the real `helm template`, as helm-unittest's `engine.Render` would
//! (helm-unittest pkg/unittest/test_job.go `renderV3Chart`, `parseManifestsFromOutputOfFiles`):
//! only the selected templates plus `_` partials (the chart is copied to a temporary folder
//! without the others), Chart.yaml's `kubeVersion` constraint removed and `chart:` overrides
//! applied, release `RELEASE-NAME` in namespace `NAMESPACE`, Kubernetes v1.20.0.
//!
//! `helm template` sorts a release's documents by kind, adds a newline after each, and refuses
//! the release name `RELEASE-NAME`; helm-unittest sees each template's own output. So every
//! chart folder of the copy gets one more template, the wrapper, which includes each template by
//! its name (every template file is a named template in helm's engine) with a context whose
//! `.Release.Name` is the test's release name (exactly `RELEASE-NAME`: `lower`, `sha256sum` and
//! `trunc` see that text), `.Release.Revision` the test's revision and `.Template` the included
//! template's own, and prints the output base64-encoded. The documents of a template are then
//! split and parsed from that raw text, in the order the template wrote them. helm itself is
//! given a placeholder name of the same shape, used only where the wrapper does not reach (error
//! messages, the manifest `--check` reads, packaged subcharts). Identical inputs render once per run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::suite::ChartOverride;
use crate::render::{Helm, RenderFailure, RenderRequest, render};

/// helm-unittest's default release name.
pub const DEFAULT_RELEASE_NAME: &str = "RELEASE-NAME";
/// The release name of a `--chart-tests-path` chart's render (test_suite.go `RenderTestSuiteFiles`).
pub const TEST_SUITE_RELEASE_NAME: &str = "TEST-SUITE-RELEASE";
/// helm-unittest's default namespace.
pub const DEFAULT_NAMESPACE: &str = "NAMESPACE";
/// helm-unittest's default `.Release.Revision` (`helm template` renders 1).
pub const DEFAULT_REVISION: i64 = 0;
/// helm-unittest's default Kubernetes version.
pub const DEFAULT_KUBE_VERSION: &str = "v1.20.0";
/// The wrapper template's file name in each `templates/` folder of the copy. helm renders
/// templates deepest first and, at one depth, in reverse name order (engine.go `sortTemplates`),
/// so a name sorting before every other makes a failing template report its own error first.
const WRAPPER_FILE: &str = "!chartproof-unittest-wrapper.yaml";
/// Passed to helm as the first `--api-versions`: the wrapper gives templates only the API
/// versions after it. helm-unittest's `capabilitiesV3` (test_job.go) sets
/// `Capabilities.APIVersions` to the test's list alone, while `helm template` appends
/// `--api-versions` to every built-in version (so `.Capabilities.APIVersions.Has "apps/v1"` is
/// false in helm-unittest unless the test lists it).
const API_VERSIONS_MARKER: &str = "chartproof.unittest/capabilities-start";
const WRAPPER_TEMPLATE_KEY: &str = "chartproofUnittestTemplate";
const WRAPPER_OUTPUT_KEY: &str = "chartproofUnittestOutput";
/// A `.txt` template other than NOTES.txt is renamed to a partial with this prefix in the copy:
/// `helm template` parses every non-notes template's output as YAML, helm-unittest's engine.Render
/// does not.
const TEXT_PARTIAL_PREFIX: &str = "_chartproof-unittest-text-";

/// Everything that decides one render.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RenderInput {
    /// Templates to keep (chart-relative, `templates/x.yaml`, globs allowed); empty keeps all.
    pub templates: Vec<String>,
    pub chart: ChartOverride,
    /// The user values, merged, as YAML.
    pub values_yaml: String,
    pub release_name: String,
    pub namespace: String,
    pub kube_version: String,
    pub api_versions: Vec<String>,
    pub upgrade: bool,
    /// `.Release.Revision` (helm template always renders 1; the chart copy's templates are
    /// rewritten to this number).
    pub revision: i64,
    /// The suite's `includeCrds`: the chart's `crds/` files become documents as they are.
    pub include_crds: bool,
    /// The `kubernetesProvider` objects that answer `lookup` ([`super::lookup`]), as the
    /// lookup template's JSON; None renders lookups as `helm template` does.
    pub lookup_database: Option<String>,
}

/// One rendered document.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    /// The document's text as helm printed it (for NOTES.txt, the notes).
    pub raw: String,
}

/// The documents of one render, by chart-relative template path, in output order.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub by_template: BTreeMap<String, Vec<Document>>,
    /// Each rendered template's whole output (engine.Render's map, which a post-renderer gets).
    pub outputs: BTreeMap<String, String>,
    /// The chart's name, as helm's `# Source:` paths start.
    pub chart_name: String,
    /// The whole manifest as helm printed it (release name restored), for `--check`.
    pub manifest: String,
}

/// A render result: documents, or helm's error message.
pub type Outcome = Result<Rendered, String>;

type Slot<T> = Arc<OnceLock<T>>;

/// Renders unit tests of one chart, sharing identical renders and chart copies.
pub struct Renderer {
    helm: Helm,
    chart_dir: PathBuf,
    timeout: Duration,
    scratch: tempfile::TempDir,
    copies: Mutex<HashMap<String, Slot<Result<PathBuf, String>>>>,
    renders: Mutex<HashMap<String, Slot<Arc<Outcome>>>>,
    helm_runs: AtomicUsize,
    requests: AtomicUsize,
    /// helm-unittest's `--skip-schema-validation` (`TestRunner.SkipSchemaValidation`, passed to
    /// every suite in pkg/unittest/test_runner.go): renders skip `values.schema.json`.
    pub skip_schema_validation: bool,
}

impl Renderer {
    pub fn new(helm: Helm, chart_dir: &Path, timeout: Duration) -> Result<Renderer> {
        Ok(Renderer {
            helm,
            chart_dir: chart_dir.to_path_buf(),
            timeout,
            scratch: tempfile::Builder::new().prefix("chartproof-unittest-").tempdir().context("cannot create a temporary folder")?,
            copies: Mutex::default(),
            renders: Mutex::default(),
            helm_runs: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            skip_schema_validation: false,
        })
    }

    /// The chart this renderer renders.
    pub fn chart_dir(&self) -> &Path {
        &self.chart_dir
    }

    pub fn helm(&self) -> &Helm {
        &self.helm
    }

    /// helm processes started so far.
    pub fn helm_runs(&self) -> usize {
        self.helm_runs.load(Ordering::Relaxed)
    }

    /// Renders asked for so far (shared ones included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Render through the cache: the first request for an input runs helm, the others wait for it.
    pub fn render(&self, input: &RenderInput) -> Result<Arc<Outcome>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let key = hash_of(&format!("{input:?}"));
        let slot = self.renders.lock().unwrap().entry(key.clone()).or_default().clone();
        let mut error = None;
        let outcome = slot.get_or_init(|| match self.render_uncached(input, &key) {
            Ok(o) => Arc::new(o),
            Err(e) => {
                let msg = format!("{e:#}");
                error = Some(e);
                Arc::new(Err(msg))
            }
        });
        match error {
            Some(e) => Err(e),
            None => Ok(outcome.clone()),
        }
    }

    fn render_uncached(&self, input: &RenderInput, key: &str) -> Result<Outcome> {
        // helm-unittest validates a release name the test sets (chartutil.ValidateReleaseName);
        // its default RELEASE-NAME (and the suites chart's TEST-SUITE-RELEASE) is never validated.
        if input.release_name != DEFAULT_RELEASE_NAME && input.release_name != TEST_SUITE_RELEASE_NAME && !(input.release_name.len() <= 53 && VALID_RELEASE_NAME.is_match(&input.release_name)) {
            return Ok(Err(format!("release name \"{}\": invalid release name, must match regex {} and the length must not be longer than 53", input.release_name, VALID_RELEASE_NAME.as_str())));
        }
        let chart = match self.chart_copy(input)? {
            Ok(dir) => dir,
            Err(e) => return Ok(Err(e)),
        };
        let placeholder = helm_release_name(&input.release_name);
        let restore = |text: &str| if placeholder == input.release_name { text.to_string() } else { text.replace(&placeholder, &input.release_name) };
        // helm's own pass over the templates runs in helm-unittest's context (the copy's first
        // template sets it: write_first_template), so its first error is helm-unittest's.
        let result = self.run_helm(input, key, &chart, &placeholder)?;
        Ok(match result {
            Ok(r) => {
                let manifest = restore(&r.manifest);
                // Every template reads the release name the copy's first template set; helm's
                // placeholder is put back wherever it still shows (a template that kept a copy of
                // `.Release` made before, none in helm's render order).
                split_manifest_with(&manifest, &restore)
                    .and_then(|mut rendered| {
                        rendered.manifest = manifest;
                        if input.include_crds {
                            add_crds(&chart, &mut rendered)?;
                        }
                        Ok(rendered)
                    })
                    .map_err(|e| format!("{e:#}"))
            }
            Err(RenderFailure::Helm(e)) => Err(restore(e.raw.trim()).trim_start_matches("Error: ").to_string()),
            Err(f) => Err(f.to_string()),
        })
    }

    /// One `helm template` of a chart copy with the test's values, namespace and capabilities.
    fn run_helm(&self, input: &RenderInput, key: &str, chart: &Path, placeholder: &str) -> Result<Result<crate::render::Rendered, RenderFailure>> {
        let values_file = self.scratch.path().join(format!("values-{key}.yaml"));
        std::fs::write(&values_file, &input.values_yaml).with_context(|| format!("cannot write {}", values_file.display()))?;
        let mut req = RenderRequest::new(chart);
        req.release_name = placeholder.to_string();
        req.namespace = Some(input.namespace.clone());
        req.values_files = vec![values_file.clone()];
        req.kube_version = Some(input.kube_version.clone());
        req.api_versions = std::iter::once(API_VERSIONS_MARKER.to_string()).chain(input.api_versions.iter().cloned()).collect();
        req.is_upgrade = input.upgrade;
        req.skip_schema_validation = self.skip_schema_validation;
        req.timeout = self.timeout;
        self.helm_runs.fetch_add(1, Ordering::Relaxed);
        let result = render(&self.helm, &req)?;
        let _ = std::fs::remove_file(&values_file);
        Ok(result)
    }

    /// A copy of the chart holding only the selected templates (and every `_` partial),
    /// `kubeVersion` removed, the `chart:` overrides applied and `.Release.Revision` set to
    /// `revision`. One copy per selection.
    fn chart_copy(&self, input: &RenderInput) -> Result<Result<PathBuf, String>> {
        let key = hash_of(&format!("{:?}{:?}{}{}{}{:?}", input.templates, input.chart, input.revision, input.release_name, input.upgrade, input.lookup_database));
        let slot = self.copies.lock().unwrap().entry(key.clone()).or_default().clone();
        let mut error = None;
        let copy = slot.get_or_init(|| {
            let dest = self.scratch.path().join(format!("chart-{}", &key[..16]));
            match make_chart_copy(&self.chart_dir, &dest, input) {
                Ok(()) => Ok(dest),
                Err(e) => {
                    let msg = format!("{e:#}");
                    error = Some(e);
                    Err(msg)
                }
            }
        });
        match error {
            Some(e) => Err(e),
            None => Ok(copy.clone()),
        }
    }
}

fn hash_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Turn a template name as a suite writes it (`deployment.yaml`, `templates/x.yaml`,
/// `charts/sub/templates/x.yaml`, globs) into a chart-relative glob.
pub fn template_pattern(name: &str) -> String {
    let name = name.trim_start_matches("./");
    if name.starts_with("templates/") || name.starts_with("charts/") || name.starts_with("crds/") { name.to_string() } else { format!("templates/{name}") }
}

/// Whether a chart-relative template path is selected by one of the suite's template names.
pub fn template_selected(path: &str, names: &[String]) -> bool {
    names.iter().any(|n| {
        let pattern = template_pattern(n);
        pattern == path || globset::Glob::new(&pattern).map(|g| g.compile_matcher().is_match(path)).unwrap_or(false)
    })
}

static TEMPLATE_FILE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"^(charts/[^/]+/)*templates/").unwrap());

fn make_chart_copy(src: &Path, dest: &Path, input: &RenderInput) -> Result<()> {
    let templates = &input.templates;
    let mut text_templates = Vec::new();
    // What helm itself leaves out (`.helmignore`) stays out of the copy: the wrapper must not
    // include a file helm never loaded (a README.md among the templates).
    let ignore = crate::chart::helmignore::HelmIgnore::load(src);
    copy_tree(src, src, dest, &mut |rel: &str, is_dir: bool| {
        if rel == "tests" || rel == "unittests" || rel == ".git" || rel.ends_with("/__snapshot__") || ignore.ignores_entry(rel, is_dir) {
            return false;
        }
        if is_dir || !TEMPLATE_FILE.is_match(rel) {
            return true;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let keep = base.starts_with('_') || templates.is_empty() || template_selected(rel, templates);
        if keep && rel.ends_with(".txt") && base != "NOTES.txt" && !base.starts_with('_') {
            text_templates.push(rel.to_string());
        }
        keep
    })?;
    for rel in &text_templates {
        let (dir, base) = rel.rsplit_once('/').unwrap_or(("", rel));
        std::fs::rename(dest.join(rel), dest.join(dir).join(format!("{TEXT_PARTIAL_PREFIX}{base}"))).with_context(|| format!("cannot rename {rel} in the chart copy"))?;
    }
    unpack_subcharts(dest, dest, templates)?;
    drop_missing_dependencies(dest)?;
    if let Some(database) = &input.lookup_database {
        super::lookup::install(dest, database)?;
    }
    let swap_capabilities = mentions(dest, "APIVersions")?;
    if swap_capabilities {
        print_kube_version_as_helm(dest)?;
    }
    write_wrappers(dest, input)?;
    write_first_template(dest, input, swap_capabilities)?;
    // helm-unittest's ModifyChartMetadata (test_job.go) gives the direct dependencies the same
    // version and appVersion overrides as the chart, after ProcessDependenciesWithMerge has
    // resolved them (renderV3Chart): aliases and conditions are decided on the versions the
    // charts have. helm resolves an alias only for a subchart whose version meets the
    // dependency's constraint (chartutil dependencies.go `getAliasDependency`), so the copy's
    // dependencies of an overridden subchart are pinned to its new version. (A dependency whose
    // constraint the subchart did not meet before the override is pinned too: helm-unittest
    // would leave it unaliased; chartproof does not evaluate semver ranges.)
    let charts = dest.join("charts");
    let mut overridden = Vec::new();
    if let Some(version) = input.chart.version.as_ref().filter(|_| charts.is_dir()) {
        for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
            let sub = entry?.path().join("Chart.yaml");
            if sub.is_file() {
                let meta: serde_yaml::Mapping = serde_yaml::from_str(&std::fs::read_to_string(&sub)?).with_context(|| format!("{}: invalid Chart.yaml", sub.display()))?;
                overridden.extend(meta.get("name").and_then(serde_yaml::Value::as_str).map(|name| (name.to_string(), version.clone())));
            }
        }
    }
    override_chart_yaml(&dest.join("Chart.yaml"), &input.chart, &overridden)?;
    if (input.chart.version.is_some() || input.chart.app_version.is_some()) && charts.is_dir() {
        for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
            let sub = entry?.path().join("Chart.yaml");
            if sub.is_file() {
                override_chart_yaml(&sub, &input.chart, &[])?;
            }
        }
    }
    Ok(())
}

/// Remove the dependencies Chart.yaml (or a v1 chart's requirements.yaml) declares but `charts/`
/// does not hold. helm-unittest renders without them: its `renderV3Chart` (test_job.go) calls
/// `ProcessDependenciesWithMerge`, which only visits the loaded subcharts, and never helm's
/// `action.CheckDependencies` (install.go), which makes `helm template` refuse the chart ("found
/// in Chart.yaml, but missing in charts/ directory"). That check compares the declared `name`
/// with the loaded charts' names, and only for the top chart; so does this.
fn drop_missing_dependencies(chart: &Path) -> Result<()> {
    let mut present = std::collections::HashSet::new();
    let charts = chart.join("charts");
    if charts.is_dir() {
        for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
            let sub = entry?.path().join("Chart.yaml");
            let Ok(text) = std::fs::read_to_string(&sub) else { continue };
            if let Ok(meta) = serde_yaml::from_str::<serde_yaml::Mapping>(&text)
                && let Some(name) = meta.get("name").and_then(|n| n.as_str())
            {
                present.insert(name.to_string());
            }
        }
    }
    for file in ["Chart.yaml", "requirements.yaml"] {
        let path = chart.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let mut meta: serde_yaml::Mapping = serde_yaml::from_str(&text).with_context(|| format!("{}: invalid YAML", path.display()))?;
        let Some(serde_yaml::Value::Sequence(deps)) = meta.get_mut("dependencies") else { continue };
        let before = deps.len();
        deps.retain(|d| d.get("name").and_then(|n| n.as_str()).is_none_or(|n| present.contains(n)));
        if deps.len() != before {
            std::fs::write(&path, serde_yaml::to_string(&meta)?).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Chart.yaml with `kubeVersion` removed, the `chart:` overrides applied and the version
/// constraint of each dependency named in `pinned` set to its new version.
fn override_chart_yaml(chart_yaml: &Path, chart: &ChartOverride, pinned: &[(String, String)]) -> Result<()> {
    let text = std::fs::read_to_string(chart_yaml).with_context(|| format!("cannot read {}", chart_yaml.display()))?;
    let mut meta: serde_yaml::Mapping = serde_yaml::from_str(&text).with_context(|| format!("{}: invalid Chart.yaml", chart_yaml.display()))?;
    meta.remove("kubeVersion");
    if let Some(v) = &chart.version {
        meta.insert("version".into(), v.clone().into());
    }
    if let Some(v) = &chart.app_version {
        meta.insert("appVersion".into(), v.clone().into());
    }
    if let Some(serde_yaml::Value::Sequence(deps)) = meta.get_mut("dependencies") {
        for dep in deps.iter_mut().filter_map(serde_yaml::Value::as_mapping_mut) {
            let name = dep.get("name").and_then(serde_yaml::Value::as_str).unwrap_or("").to_string();
            if let Some((_, version)) = pinned.iter().find(|(n, _)| *n == name) {
                dep.insert("version".into(), version.clone().into());
            }
        }
    }
    std::fs::write(chart_yaml, serde_yaml::to_string(&meta)?).with_context(|| format!("cannot write {}", chart_yaml.display()))
}

/// Unpack every packaged subchart (`charts/*.tgz`, at any depth) of the copy into a folder, as
/// helm would load it, so that the wrapper reaches its templates and the `chart:` overrides its
/// Chart.yaml.
fn unpack_subcharts(root: &Path, chart: &Path, templates: &[String]) -> Result<()> {
    let charts = chart.join("charts");
    if !charts.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tgz") {
            let file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            let unpacked = tempfile::tempdir_in(&charts).context("cannot unpack a subchart")?;
            tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(unpacked.path()).with_context(|| format!("cannot unpack {}", path.display()))?;
            for inner in std::fs::read_dir(unpacked.path())? {
                let inner = inner?.path();
                let target = charts.join(inner.file_name().unwrap_or_default());
                if inner.join("Chart.yaml").is_file() && !target.exists() {
                    std::fs::rename(&inner, &target).with_context(|| format!("cannot unpack {}", path.display()))?;
                    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                    if !templates.is_empty() {
                        drop_unselected(root, &target.join("templates"), templates)?;
                    }
                }
            }
        }
    }
    for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
        let sub = entry?.path();
        if sub.join("Chart.yaml").is_file() {
            unpack_subcharts(root, &sub, templates)?;
        }
    }
    Ok(())
}

/// Remove the templates below `dir` (not partials) that the suite did not select, as the copy of
/// an unpacked chart folder leaves them out.
fn drop_unselected(root: &Path, dir: &Path, templates: &[String]) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            drop_unselected(root, &path, templates)?;
            continue;
        }
        let rel = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
        let partial = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_'));
        if !partial && !template_selected(&rel, templates) {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// Write the wrapper template into the `templates/` folder of `chart` and of every unpacked
/// subchart under it. The wrapper lists the chart's templates (paths below `templates/`; a
/// renamed text template as `partial=original`) and prints, per template, one YAML document
/// holding its chart-relative path and its output, base64-encoded.
fn write_wrappers(chart: &Path, input: &RenderInput) -> Result<()> {
    let templates_dir = chart.join("templates");
    let mut names = Vec::new();
    if templates_dir.is_dir() {
        list_templates(&templates_dir, "", &mut names)?;
    }
    // helm's render order within a chart (engine.go `sortTemplates`: deeper paths first, then
    // reverse name order), so that a template mutating `$` (`merge $ …`) is seen by the
    // templates helm-unittest's engine.Render runs after it, and only by those.
    names.sort_by(|a, b| b.matches('/').count().cmp(&a.matches('/').count()).then_with(|| b.cmp(a)));
    if !names.is_empty() {
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let list: Vec<String> = names.iter().map(|n| quoted(n)).collect();
        // The context: one map for all the chart's templates, as helm's engine gives them
        // (engine.go `recAllTpls` builds one per chart), holding the keys that map starts with
        // (`Chart`, `Capabilities`, `Files`, `Subcharts`, `Values`; not the keys `helm
        // template`'s own render of the templates added to it), `.Release` (copied, then the
        // name, revision and install flags set), `.Capabilities` as the copy's first template
        // left it (write_first_template) and, per template, `.Template`. `set` on fresh
        // dicts: sprig's `merge` would treat 0 and false as unset.
        let wrapper = format!(
            r#"{{{{- $release := dict }}}}
{{{{- range $k, $v := .Release }}}}{{{{ $_ := set $release $k $v }}}}{{{{ end }}}}
{{{{- $_ := set $release "Name" {name} }}}}
{{{{- $_ := set $release "Revision" {revision} }}}}
{{{{- $_ := set $release "IsUpgrade" {upgrade} }}}}
{{{{- $_ := set $release "IsInstall" {install} }}}}
{{{{- $ctx := dict }}}}
{{{{- range $k, $v := $ }}}}{{{{ if has $k (list "Chart" "Capabilities" "Files" "Subcharts" "Values") }}}}{{{{ $_ := set $ctx $k $v }}}}{{{{ end }}}}{{{{ end }}}}
{{{{- if hasKey $ "{PRISTINE_VALUES_KEY}" }}}}{{{{ $_ := set $ctx "Values" (get $ "{PRISTINE_VALUES_KEY}") }}}}{{{{ end }}}}
{{{{- $_ := set $ctx "Release" $release }}}}
{{{{- range $entry := list {list} }}}}
{{{{- $parts := splitList "=" $entry }}}}
{{{{- $file := print $.Template.BasePath "/" (first $parts) }}}}
{{{{- $_ := set $ctx "Template" (dict "Name" (print $.Template.BasePath "/" (last $parts)) "BasePath" $.Template.BasePath) }}}}
---
{WRAPPER_TEMPLATE_KEY}: {{{{ print $.Template.BasePath "/" (last $parts) | quote }}}}
{WRAPPER_OUTPUT_KEY}: {{{{ include $file $ctx | b64enc | quote }}}}
{{{{- end }}}}
"#,
            name = quoted(&input.release_name),
            revision = input.revision,
            upgrade = input.upgrade,
            install = !input.upgrade,
            list = list.join(" "),
        );
        std::fs::write(templates_dir.join(WRAPPER_FILE), wrapper).with_context(|| format!("cannot write the wrapper template in {}", templates_dir.display()))?;
    }
    let charts = chart.join("charts");
    if charts.is_dir() {
        for entry in std::fs::read_dir(&charts).with_context(|| format!("cannot list {}", charts.display()))? {
            let sub = entry?.path();
            if sub.join("Chart.yaml").is_file() {
                write_wrappers(&sub, input)?;
            }
        }
    }
    Ok(())
}

/// The `.Capabilities` of a chart's map (`.`) in a copy whose charts read `APIVersions`: a map
/// with the test's API versions alone (those after API_VERSIONS_MARKER; `slice` keeps helm's
/// VersionSet type and its `Has`), helm's HelmVersion, and KubeVersion as a map of its fields plus
/// `GitVersion` (helm's KubeVersion methods take a pointer, which a template cannot make); an
/// action printing KubeVersion alone prints its `.Version` (print_kube_version_as_helm), as helm's
/// does. Set once per chart map (sprig's `slice` of an empty list is nil, so a second swap would
/// lose `Has`).
const CAPABILITIES_SWAP: &str = r#"{{- $apiStart := 0 }}
{{- range $i, $v := .Capabilities.APIVersions }}{{ if eq $v "MARKER" }}{{ $apiStart = add1 $i }}{{ end }}{{ end }}
{{- $kube := .Capabilities.KubeVersion }}
{{- $_ := set . "Capabilities" (dict "KubeVersion" (dict "Version" $kube.Version "Major" $kube.Major "Minor" $kube.Minor "GitVersion" $kube.Version) "HelmVersion" .Capabilities.HelmVersion "APIVersions" (slice .Capabilities.APIVersions $apiStart)) }}
"#;

/// An action that prints `.Capabilities.KubeVersion` (reached from `.`, `$` or a variable) and
/// nothing else.
static KUBE_VERSION_PRINT: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"\{\{(-\s+|\s*)((?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z0-9_]+)*\.Capabilities\.KubeVersion)(\s+-|\s*)\}\}").unwrap());

/// With CAPABILITIES_SWAP, `.Capabilities.KubeVersion` is a map, which prints as one. helm's
/// value is a chartutil.KubeVersion reached through the `*Capabilities` pointer, so the field is
/// addressable and text/template prints it with its pointer method `String()`, the `Version`
/// field (exec.go `printValue`; chartutil capabilities.go `(*KubeVersion).String`). An action
/// printing it alone therefore prints `.Version` in every template file of the copy. (Passed to
/// a function, helm's value is a copy whose `String` cannot be called and prints as a struct:
/// that is not rewritten.)
fn print_kube_version_as_helm(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            print_kube_version_as_helm(&path)?;
        } else if path.components().any(|c| c.as_os_str() == "templates")
            && let Ok(text) = std::fs::read_to_string(&path)
            && KUBE_VERSION_PRINT.is_match(&text)
        {
            let rewritten = KUBE_VERSION_PRINT.replace_all(&text, "{{${1}${2}.Version${3}}}");
            std::fs::write(&path, rewritten.as_ref()).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Where the root chart's values are kept before any template runs (see write_first_template).
const PRISTINE_VALUES_KEY: &str = "chartproofUnittestValues";

/// The name of the define that gives a chart's map, and its subcharts' maps, the test's
/// capabilities in helm's own pass (see write_first_template).
const OWN_PASS_CAPABILITIES: &str = "!chartproof-unittest-capabilities";

/// `helm template` renders each of the copy's own templates before the wrappers, and aborts on
/// the first error of that pass. That pass must see what helm-unittest's single engine.Render
/// gives a template, so that its first error is helm-unittest's error (with the template's own
/// location, which an error reached through the wrapper's `include` does not keep: a `fail`
/// reports the includer's line), and it fails nowhere helm-unittest does not. helm renders
/// deeper paths first (engine.go `sortTemplates`) and gives all templates of a chart one map as
/// `$` (`recAllTpls`), whose `Release` map is shared by every chart of the render and whose
/// `Subcharts` holds each subchart's map. So a template deeper than any other:
/// - sets `.Release` as the test gives it (`Name` exactly, which helm itself refuses when it is
///   `RELEASE-NAME`, `Revision`, `IsUpgrade`, `IsInstall`);
/// - gives the root chart's map and every subchart's, through `Subcharts`, the test's
///   capabilities when the copy reads `APIVersions` (CAPABILITIES_SWAP), which the wrappers copy;
/// - stores a deep copy of the root chart's `.Values` before any template writes into them
///   (bjw-s's common library: `set . "Values" (deepCopy $merged)`, then `mergeOverwrite .Values
///   (… nameOverride: .Release.Name …)`): the root wrapper renders from it, as in helm-unittest's
///   engine.Render each template runs once. Subcharts' wrappers keep their `.Values`.
fn write_first_template(chart: &Path, input: &RenderInput, swap_capabilities: bool) -> Result<()> {
    fn depth(dir: &Path) -> usize {
        std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| if e.path().is_dir() { 1 + depth(&e.path()) } else { 0 }).max().unwrap_or(0)
    }
    // A chart whose templates are all in its subcharts gets a `templates/` folder for it.
    let mut dir = chart.join("templates");
    for _ in 0..depth(chart) + 1 {
        dir.push("v");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let capabilities = if swap_capabilities {
        let swap = CAPABILITIES_SWAP.replace("MARKER", API_VERSIONS_MARKER);
        format!(
            "{{{{- define {name} }}}}\n{swap}{{{{- range $sub := .Subcharts }}}}{{{{ include {name} $sub }}}}{{{{ end }}}}\n{{{{- end }}}}\n{{{{- include {name} $ }}}}\n",
            name = quoted(OWN_PASS_CAPABILITIES)
        )
    } else {
        String::new()
    };
    let text = format!(
        "{{{{- $_ := set $ \"{PRISTINE_VALUES_KEY}\" (deepCopy .Values) }}}}\n\
         {{{{- $_ := set .Release \"Name\" {name} }}}}\n\
         {{{{- $_ := set .Release \"Revision\" {revision} }}}}\n\
         {{{{- $_ := set .Release \"IsUpgrade\" {upgrade} }}}}\n\
         {{{{- $_ := set .Release \"IsInstall\" {install} }}}}\n{capabilities}",
        name = quoted(&input.release_name),
        revision = input.revision,
        upgrade = input.upgrade,
        install = !input.upgrade,
    );
    std::fs::write(dir.join("values-snapshot.yaml"), text).with_context(|| format!("cannot write the first template in {}", dir.display()))
}

/// Whether any file below `dir` holds `text`.
fn mentions(dir: &Path, text: &str) -> Result<bool> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let found = if path.is_dir() { mentions(&path, text)? } else { std::fs::read(&path).is_ok_and(|b| b.windows(text.len()).any(|w| w == text.as_bytes())) };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Template files below a `templates/` folder (relative, `/`-separated) that helm renders on
/// their own: not partials, except the text templates renamed to partials (`partial=original`).
fn list_templates(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        let rel = format!("{prefix}{name}");
        if path.is_dir() {
            list_templates(&path, &format!("{rel}/"), out)?;
        } else if let Some(original) = name.strip_prefix(TEXT_PARTIAL_PREFIX) {
            out.push(format!("{rel}={prefix}{original}"));
        } else if !name.starts_with('_') && name != WRAPPER_FILE {
            out.push(rel);
        }
    }
    Ok(())
}

/// Copy `dir` (inside `root`) to `dest`, keeping the chart-relative paths `keep` accepts
/// (it is told whether the path is a folder).
fn copy_tree(root: &Path, dir: &Path, dest: &Path, keep: &mut dyn FnMut(&str, bool) -> bool) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let rel = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
        let is_dir = path.is_dir();
        if !keep(&rel, is_dir) {
            continue;
        }
        let target = dest.join(path.file_name().unwrap_or_default());
        if is_dir {
            copy_tree(root, &path, &target, keep)?;
        } else {
            std::fs::copy(&path, &target).with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

static VALID_RELEASE_NAME: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").unwrap());

/// The name helm is given: the release name itself when helm accepts it, else a placeholder of
/// the same length with the dashes and dots in the same places (so `trunc` and `trimSuffix "-"`
/// cut it where they would cut the real name) and lower-case letters drawn from a hash.
pub fn helm_release_name(name: &str) -> String {
    if name.len() <= 53 && VALID_RELEASE_NAME.is_match(name) {
        return name.to_string();
    }
    let hash = Sha256::digest(name.as_bytes());
    let len = name.chars().count();
    name.chars()
        .enumerate()
        .map(|(i, c)| match c {
            '-' | '.' if i > 0 && i + 1 < len => c,
            _ => (b'a' + hash[i % hash.len()] % 26) as char,
        })
        .collect()
}

/// Split `helm template` output into documents by template. The wrappers' documents give each
/// wrapped template's own output ([`template_documents`]); a template no wrapper reached (in a
/// packaged subchart) keeps the documents helm printed under its `# Source:` header.
pub fn split_manifest(manifest: &str) -> Result<Rendered> {
    split_manifest_with(manifest, &|text| text.to_string())
}

/// [`split_manifest`], each wrapped template's decoded output passed through `restore` (the
/// release-name placeholder put back).
fn split_manifest_with(manifest: &str, restore: &dyn Fn(&str) -> String) -> Result<Rendered> {
    let mut rendered = Rendered::default();
    let mut chunks: Vec<String> = vec![String::new()];
    for line in manifest.lines() {
        if line == "---" || line.starts_with("--- ") {
            chunks.push(String::new());
        } else {
            let chunk = chunks.last_mut().unwrap();
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    let mut wrapped: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    let mut printed: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    let mut printed_outputs: BTreeMap<String, String> = BTreeMap::new();
    // A `---` the template wrote itself right after helm's `# Source:` header starts a chunk
    // without a header: it belongs to the template of the chunk before.
    let mut template = String::new();
    for chunk in chunks {
        let body = match chunk.strip_prefix("# Source: ") {
            Some(rest) => {
                let (source, body) = rest.split_once('\n').unwrap_or((rest, ""));
                let (chart, path) = source.trim().split_once('/').unwrap_or(("", source.trim()));
                if rendered.chart_name.is_empty() {
                    rendered.chart_name = chart.to_string();
                }
                template = path.to_string();
                body
            }
            None if !template.is_empty() => chunk.as_str(),
            None => continue,
        };
        let docs = crate::chart::values::parse_helm_yaml_documents(body, Path::new(&template)).with_context(|| format!("helm printed YAML chartproof cannot read in {template}"))?;
        if template.ends_with(WRAPPER_FILE) {
            for doc in docs {
                let (Some(path), Some(output)) = (doc.get(WRAPPER_TEMPLATE_KEY).and_then(Value::as_str), doc.get(WRAPPER_OUTPUT_KEY).and_then(Value::as_str)) else { continue };
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD.decode(output).context("a wrapper printed invalid base64")?;
                // engine.Render replaces "<no value>" in every template's output; include does not.
                let text = restore(&String::from_utf8_lossy(&bytes).replace("<no value>", ""));
                let path = path.split_once('/').map(|(_, p)| p).unwrap_or(path).to_string();
                // helm-unittest keeps only .yaml/.yml/.tpl/.txt outputs; another file is not a template it knows.
                if let Some(documents) = template_documents(&path, &text)? {
                    wrapped.insert(path.clone(), documents);
                    rendered.outputs.insert(path, text);
                }
            }
            continue;
        }
        let output = printed_outputs.entry(template.clone()).or_default();
        output.push_str(if output.is_empty() { "" } else { "---\n" });
        output.push_str(body);
        let entry = printed.entry(template.clone()).or_default();
        for value in docs.into_iter().filter(|d| !d.is_null()) {
            entry.push(Document { value, raw: body.to_string() });
        }
    }
    for (path, docs) in printed {
        if !wrapped.contains_key(&path) && !path.ends_with(WRAPPER_FILE) {
            rendered.outputs.insert(path.clone(), printed_outputs.remove(&path).unwrap_or_default());
            wrapped.insert(path, docs);
        }
    }
    rendered.by_template = wrapped;
    Ok(rendered)
}

/// The root chart's `crds/` files as documents under their chart-relative paths: helm-unittest
/// with `includeCrds` adds them to the render's files untemplated.
fn add_crds(chart: &Path, rendered: &mut Rendered) -> Result<()> {
    let dir = chart.join("crds");
    if !dir.is_dir() {
        return Ok(());
    }
    let mut names = Vec::new();
    list_templates(&dir, "", &mut names)?;
    for name in names {
        let text = std::fs::read_to_string(dir.join(&name)).with_context(|| format!("cannot read crds/{name}"))?;
        let path = format!("crds/{name}");
        if let Some(docs) = template_documents(&path, &text)? {
            rendered.by_template.insert(path, docs);
        }
    }
    Ok(())
}

/// helm-unittest's `---` separator (internal/common `splitterPattern`): `---` at the start of the
/// text or after a line end, with the white space around it.
static DOCUMENT_SEPARATOR: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"(?:^|\s*\n)---\s*").unwrap());

/// The documents of one template's output, as helm-unittest's `parseManifestsFromOutputOfFiles`
/// reads them: a `.txt` template is one `{raw: text}` document; a `.yaml`/`.yml`/`.tpl` template
/// is split at each `---` and every non-empty mapping is a document, in the order written; another
/// extension is no template (None).
pub fn template_documents(path: &str, text: &str) -> Result<Option<Vec<Document>>> {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "txt" => Ok(Some(vec![Document { value: serde_json::json!({ "raw": text }), raw: text.to_string() }])),
        "yaml" | "yml" | "tpl" => {
            let mut out = Vec::new();
            for part in DOCUMENT_SEPARATOR.split(text) {
                if part.trim().is_empty() {
                    continue;
                }
                let docs = crate::chart::values::parse_helm_yaml_documents(part, Path::new(path)).with_context(|| format!("the output of {path} is not YAML"))?;
                for value in docs {
                    if value.is_null() || value.as_object().is_some_and(|m| m.is_empty()) {
                        continue;
                    }
                    out.push(Document { value, raw: part.to_string() });
                }
            }
            Ok(Some(out))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_release_names_get_a_same_shape_placeholder() {
        let p = helm_release_name("RELEASE-NAME");
        assert_eq!(p.len(), 12);
        assert_eq!(p.find('-'), Some(7));
        assert!(VALID_RELEASE_NAME.is_match(&p), "{p}");
        assert_eq!(helm_release_name("my-release"), "my-release");
    }

    #[test]
    fn manifest_splits_by_source_and_drops_empty_documents() {
        let m = "---\n# Source: c/templates/a.yaml\nkind: A\n---\n# Source: c/templates/a.yaml\n---\nkind: B\n---\n# Source: c/charts/s/templates/b.yaml\n# only a comment\n---\n# Source: c/templates/NOTES.txt\n";
        let r = split_manifest(m).unwrap();
        let kinds: Vec<&Value> = r.by_template["templates/a.yaml"].iter().map(|d| &d.value["kind"]).collect();
        assert_eq!(kinds, vec!["A", "B"]);
        assert!(r.by_template["charts/s/templates/b.yaml"].is_empty());
    }

    #[test]
    fn a_template_output_splits_like_helm_unittest() {
        let docs = template_documents("templates/a.yaml", "\n---\nkind: Role\n---\nkind: RoleBinding\ndata: |-\n  x\n---\n# comment\n---\nkind: Role\n").unwrap().unwrap();
        let kinds: Vec<&Value> = docs.iter().map(|d| &d.value["kind"]).collect();
        assert_eq!(kinds, vec!["Role", "RoleBinding", "Role"]);
        assert_eq!(docs[1].value["data"], "x");
        let notes = template_documents("templates/NOTES.txt", "\nhello").unwrap().unwrap();
        assert!(template_documents("templates/x.json", "{}").unwrap().is_none());
        assert_eq!(notes[0].value["raw"], "\nhello");
    }

    #[test]
    fn only_actions_printing_kube_version_alone_print_its_version() {
        let t = "{{ .Capabilities.KubeVersion }} {{- $.Capabilities.KubeVersion -}} {{ $root.Capabilities.KubeVersion }} {{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.KubeVersion | quote }}";
        assert_eq!(
            KUBE_VERSION_PRINT.replace_all(t, "{{${1}${2}.Version${3}}}"),
            "{{ .Capabilities.KubeVersion.Version }} {{- $.Capabilities.KubeVersion.Version -}} {{ $root.Capabilities.KubeVersion.Version }} {{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.KubeVersion | quote }}"
        );
    }

    #[test]
    fn template_names_resolve_like_helm_unittest() {
        let names = vec!["deployment.yaml".to_string(), "templates/crds/*.yaml".to_string()];
        assert!(template_selected("templates/deployment.yaml", &names));
        assert!(template_selected("templates/crds/a.yaml", &names));
        assert!(!template_selected("templates/service.yaml", &names));
    }
}
