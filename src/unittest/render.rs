//! Rendering a unit test with the real `helm template`, as helm-unittest would: only the selected
//! templates plus `_` partials (the chart is copied to a temporary folder without the others),
//! Chart.yaml's `kubeVersion` constraint removed and `chart:` overrides applied, release
//! `RELEASE-NAME` in namespace `NAMESPACE`, Kubernetes v1.20.0. helm refuses `RELEASE-NAME`
//! (upper case), so a name helm refuses is rendered as a placeholder of the same length and
//! dashes, then substituted back in the output. `helm template` has no revision flag, so the
//! copy's templates get the revision written in. Identical inputs render once per run.

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
/// helm-unittest's default namespace.
pub const DEFAULT_NAMESPACE: &str = "NAMESPACE";
/// helm-unittest's default `.Release.Revision` (`helm template` renders 1).
pub const DEFAULT_REVISION: i64 = 0;
/// helm-unittest's default Kubernetes version.
pub const DEFAULT_KUBE_VERSION: &str = "v1.20.0";
/// Where the NOTES.txt text is rendered from in the copy (helm template prints no notes).
const NOTES_COPY: &str = "chartproof-unittest-NOTES.txt";
const NOTES_TEMPLATE: &str = "templates/chartproof-unittest-notes.yaml";
const NOTES_KEY: &str = "chartproofUnittestNotes";

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
        })
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
        let chart = match self.chart_copy(&input.templates, &input.chart, input.revision)? {
            Ok(dir) => dir,
            Err(e) => return Ok(Err(e)),
        };
        let values_file = self.scratch.path().join(format!("values-{key}.yaml"));
        std::fs::write(&values_file, &input.values_yaml).with_context(|| format!("cannot write {}", values_file.display()))?;
        let placeholder = helm_release_name(&input.release_name);
        let mut req = RenderRequest::new(&chart);
        req.release_name = placeholder.clone();
        req.namespace = Some(input.namespace.clone());
        req.values_files = vec![values_file.clone()];
        req.kube_version = Some(input.kube_version.clone());
        req.api_versions = input.api_versions.clone();
        req.is_upgrade = input.upgrade;
        req.timeout = self.timeout;
        self.helm_runs.fetch_add(1, Ordering::Relaxed);
        let result = render(&self.helm, &req)?;
        let _ = std::fs::remove_file(&values_file);
        let restore = |text: &str| if placeholder == input.release_name { text.to_string() } else { text.replace(&placeholder, &input.release_name) };
        Ok(match result {
            Ok(r) => {
                let manifest = restore(&r.manifest);
                split_manifest(&manifest)
                    .map(|mut rendered| {
                        restore_source_order(&chart, &mut rendered);
                        rendered.manifest = manifest;
                        rendered
                    })
                    .map_err(|e| format!("{e:#}"))
            }
            Err(RenderFailure::Helm(e)) => Err(restore(e.raw.trim()).trim_start_matches("Error: ").to_string()),
            Err(f) => Err(f.to_string()),
        })
    }

    /// A copy of the chart holding only the selected templates (and every `_` partial),
    /// `kubeVersion` removed, the `chart:` overrides applied and `.Release.Revision` set to
    /// `revision`. One copy per selection.
    fn chart_copy(&self, templates: &[String], chart: &ChartOverride, revision: i64) -> Result<Result<PathBuf, String>> {
        let key = hash_of(&format!("{templates:?}{chart:?}{revision}"));
        let slot = self.copies.lock().unwrap().entry(key.clone()).or_default().clone();
        let mut error = None;
        let copy = slot.get_or_init(|| {
            let dest = self.scratch.path().join(format!("chart-{}", &key[..16]));
            match make_chart_copy(&self.chart_dir, &dest, templates, chart, revision) {
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
    if name.starts_with("templates/") || name.starts_with("charts/") { name.to_string() } else { format!("templates/{name}") }
}

/// Whether a chart-relative template path is selected by one of the suite's template names.
pub fn template_selected(path: &str, names: &[String]) -> bool {
    names.iter().any(|n| {
        let pattern = template_pattern(n);
        pattern == path || globset::Glob::new(&pattern).map(|g| g.compile_matcher().is_match(path)).unwrap_or(false)
    })
}

static TEMPLATE_FILE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"^(charts/[^/]+/)*templates/").unwrap());

fn make_chart_copy(src: &Path, dest: &Path, templates: &[String], chart: &ChartOverride, revision: i64) -> Result<()> {
    let mut notes = None;
    let mut copied_templates = Vec::new();
    copy_tree(src, src, dest, &mut |rel: &str, is_dir: bool| {
        if rel == "tests" || rel == "unittests" || rel == ".git" || rel.ends_with("/__snapshot__") {
            return false;
        }
        if is_dir || !TEMPLATE_FILE.is_match(rel) {
            return true;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if !templates.is_empty() && rel == "templates/NOTES.txt" && template_selected(rel, templates) {
            notes = Some(src.join(rel));
            return false;
        }
        let keep = templates.is_empty() || base.starts_with('_') || template_selected(rel, templates);
        if keep {
            copied_templates.push(dest.join(rel));
        }
        keep
    })?;
    if let Some(notes) = notes {
        std::fs::copy(&notes, dest.join(NOTES_COPY)).with_context(|| format!("cannot copy {}", notes.display()))?;
        std::fs::write(dest.join(NOTES_TEMPLATE), format!("{NOTES_KEY}: {{{{ tpl (.Files.Get \"{NOTES_COPY}\") . | toJson }}}}\n"))?;
        copied_templates.push(dest.join(NOTES_COPY));
    }
    for file in copied_templates {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if let Some(rewritten) = with_release_revision(&text, revision) {
            std::fs::write(&file, rewritten).with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    let chart_yaml = dest.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).with_context(|| format!("cannot read {}", chart_yaml.display()))?;
    let mut meta: serde_yaml::Mapping = serde_yaml::from_str(&text).with_context(|| format!("{}: invalid Chart.yaml", src.join("Chart.yaml").display()))?;
    meta.remove("kubeVersion");
    if let Some(v) = &chart.version {
        meta.insert("version".into(), v.clone().into());
    }
    if let Some(v) = &chart.app_version {
        meta.insert("appVersion".into(), v.clone().into());
    }
    std::fs::write(&chart_yaml, serde_yaml::to_string(&meta)?).with_context(|| format!("cannot write {}", chart_yaml.display()))
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

/// A template action (`{{ … }}`), and in it a field chain ending in `.Release.Revision`:
/// `.Release.Revision`, `$.Release.Revision`, `$root.Release.Revision`, `.root.Release.Revision`.
static TEMPLATE_ACTION: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"(?s)\{\{.*?\}\}").unwrap());
static RELEASE_REVISION: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)*\.Release\.Revision\b").unwrap());

/// The template text with every `X.Release.Revision` field chain inside a template action
/// replaced by `revision` (helm template has no flag for the revision), or None when the text
/// reads no revision. A chain through `.Values` is a values key, not the release, and is kept.
pub fn with_release_revision(text: &str, revision: i64) -> Option<String> {
    if !text.contains("Release.Revision") {
        return None;
    }
    let rewritten = TEMPLATE_ACTION.replace_all(text, |action: &regex::Captures| {
        RELEASE_REVISION.replace_all(&action[0], |chain: &regex::Captures| if chain[0].contains(".Values.") { chain[0].to_string() } else { revision.to_string() }).into_owned()
    });
    (rewritten != text).then(|| rewritten.into_owned())
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

/// Split `helm template` output into documents by template (`# Source:` headers), dropping
/// empty documents. NOTES.txt comes back under `templates/NOTES.txt` as raw text.
pub fn split_manifest(manifest: &str) -> Result<Rendered> {
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
        if template == NOTES_TEMPLATE {
            let notes = docs.first().and_then(|d| d.get(NOTES_KEY)).and_then(Value::as_str).unwrap_or_default().to_string();
            rendered.by_template.entry("templates/NOTES.txt".into()).or_default().push(Document { value: Value::String(notes.clone()), raw: notes });
            continue;
        }
        let entry = rendered.by_template.entry(template.clone()).or_default();
        for value in docs.into_iter().filter(|d| !d.is_null()) {
            entry.push(Document { value, raw: body.to_string() });
        }
    }
    Ok(rendered)
}

/// helm sorts the documents of a template by kind (install order); helm-unittest keeps the
/// order the template wrote them. Where a template's documents have different kinds and each
/// kind is written literally (`kind: Service`) in the template source, put them back in source
/// order (a stable sort, so documents of one kind keep their order).
pub fn restore_source_order(chart_dir: &Path, rendered: &mut Rendered) {
    for (template, docs) in rendered.by_template.iter_mut() {
        let kinds: Vec<Option<&str>> = docs.iter().map(|d| d.value.get("kind").and_then(Value::as_str)).collect();
        if docs.len() < 2 || kinds.iter().all(|k| *k == kinds[0]) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(chart_dir.join(template)) else { continue };
        let position = |kind: Option<&str>| -> Option<usize> {
            let re = Regex::new(&format!(r#"(?m)^\s*kind:\s*["']?{}["']?\s*$"#, regex::escape(kind?))).ok()?;
            re.find(&source).map(|m| m.start())
        };
        let positions: Option<Vec<usize>> = kinds.iter().map(|k| position(*k)).collect();
        if let Some(positions) = positions {
            let mut order: Vec<usize> = (0..docs.len()).collect();
            order.sort_by_key(|&i| positions[i]);
            let sorted: Vec<Document> = order.into_iter().map(|i| docs[i].clone()).collect();
            *docs = sorted;
        }
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
    fn documents_of_one_template_go_back_to_source_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/a.yaml"), "kind: MutatingWebhookConfiguration\n---\nkind: Service\n").unwrap();
        let mut r = split_manifest("---\n# Source: c/templates/a.yaml\nkind: Service\n---\n# Source: c/templates/a.yaml\nkind: MutatingWebhookConfiguration\n").unwrap();
        restore_source_order(dir.path(), &mut r);
        let kinds: Vec<&Value> = r.by_template["templates/a.yaml"].iter().map(|d| &d.value["kind"]).collect();
        assert_eq!(kinds, vec!["MutatingWebhookConfiguration", "Service"]);
    }

    #[test]
    fn every_release_revision_chain_in_actions_is_rewritten() {
        let text = "rev: {{ .Release.Revision }}\nroot: {{ $.Release.Revision | quote }}\nvar: {{ $root.Release.Revision }}\nctx: {{ add .root.Release.Revision 1 }}\nvalues: {{ .Values.Release.Revision }}\ntext: .Release.Revision\nother: {{ .Release.RevisionHistory }}\n";
        assert_eq!(
            with_release_revision(text, 7).unwrap(),
            "rev: {{ 7 }}\nroot: {{ 7 | quote }}\nvar: {{ 7 }}\nctx: {{ add 7 1 }}\nvalues: {{ .Values.Release.Revision }}\ntext: .Release.Revision\nother: {{ .Release.RevisionHistory }}\n"
        );
        assert_eq!(with_release_revision("{{ .Release.Name }}", 7), None);
    }

    #[test]
    fn template_names_resolve_like_helm_unittest() {
        let names = vec!["deployment.yaml".to_string(), "templates/crds/*.yaml".to_string()];
        assert!(template_selected("templates/deployment.yaml", &names));
        assert!(template_selected("templates/crds/a.yaml", &names));
        assert!(!template_selected("templates/service.yaml", &names));
    }
}
