//! What a release changes: the contract diff (from `contract::compat`), the manifest diff between
//! two renders (resources matched by identity, field-level changes, immutable fields, volatile
//! output, noise and secrets kept out), and the rule findings it introduces or resolves. The report
//! type here is what every diff reporter prints and what `--output json` emits.

pub mod fields;
pub mod findings;
pub mod immutable;
pub mod impact;
pub mod noise;
pub mod redact;
pub mod references;
pub mod resources;
pub mod shared_volatility;
pub mod volatile;

use serde::Serialize;
use serde_json::Value;

use crate::contract::compat::ContractDiff;
use crate::rules::Finding;
use references::ReferenceChange;

use fields::{FieldChangeKind, FieldPath, RawChange, diff_values, leaf_paths, unified_text_diff};
use noise::IgnoreSet;
use resources::{match_resources, rename_source};
use volatile::SideResource;

/// How to compare.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Lines of context in text diffs.
    pub context: usize,
    pub show_secrets: bool,
    pub ignores: IgnoreSet,
}

/// The whole answer of `chartproof diff` (`--output json` prints exactly this).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DiffReport {
    pub old: SideInfo,
    pub new: SideInfo,
    /// Changes to the values contract; empty when not compared (`--manifests-only`).
    pub contract: ContractDiff,
    /// Added, removed and modified resources (unchanged ones are only counted).
    pub resources: Vec<ResourceDiff>,
    pub unchanged_resources: usize,
    /// Changes left out by ignore patterns, per pattern.
    pub ignored: Vec<IgnoredCount>,
    /// Paths that differ between two renders of the same input; never reported as changes.
    pub volatile: Vec<VolatileResource>,
    pub findings: FindingsDelta,
    /// Findings of the platform policies (`--policies`, config `policies:`), the new release's
    /// objects checked as `helm upgrade` sends them (UPDATE with `oldObject`, CREATE, DELETE)
    /// against the old release as installed (CREATE); None when no policies were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<FindingsDelta>,
    /// The new version failed to render with the values the old one accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_render_failure: Option<String>,
    /// Names objects outside the release refer to that the upgrade changes (Service ports and
    /// selectors, Service/Secret/ConfigMap names): compatibility findings, not failures.
    #[serde(default)]
    pub references: Vec<ReferenceChange>,
    /// With `--each`: one verdict per values file, in argument order (then the top-level
    /// `resources` and `findings` are empty: every file has its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ValuesFileVerdict>,
    pub compared: Compared,
    pub summary: Summary,
}

impl DiffReport {
    /// Why the upgrade fails (empty when it does not): breaking changes and new error findings.
    pub fn failure_reasons(&self) -> Vec<String> {
        let s = &self.summary;
        let mut why = Vec::new();
        if !self.files.is_empty() {
            if s.files_breaking > 0 {
                why.push(format!("{} of {} values file(s) break", s.files_breaking, s.files));
            }
            return why;
        }
        match s.breaking_for_values {
            Some(n) if n > 0 => why.push(format!("{n} breaking contract change(s) reach these values")),
            Some(_) => {}
            None if s.breaking_contract > 0 => why.push(format!("{} breaking contract change(s)", s.breaking_contract)),
            None => {}
        }
        if s.breaking_fields > 0 {
            why.push(format!("{} immutable field change(s)", s.breaking_fields));
        }
        if self.new_render_failure.is_some() {
            why.push("the new version fails to render".into());
        }
        if s.new_errors > 0 {
            why.push(format!("{} new error finding(s)", s.new_errors));
        }
        why
    }
}

/// `Result:` wording for breaking contract changes that do not reach the values at hand
/// (None when there are none, or when they do reach them).
pub fn unaffected_note(s: &Summary, each: bool) -> Option<String> {
    if s.breaking_contract == 0 {
        return None;
    }
    match (each, s.breaking_for_values) {
        (true, _) if s.files_breaking == 0 => Some(format!("{} breaking contract change(s) exist; none of the {} values file(s) is affected", s.breaking_contract, s.files)),
        (false, Some(0)) => Some(format!("{} breaking contract change(s) exist; these values are unaffected", s.breaking_contract)),
        _ => None,
    }
}

/// One values file of `--each`: valid under which contract, renders on which side, and whether
/// the upgrade breaks it, with every reason located at the file and line.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ValuesFileVerdict {
    /// The file as given.
    pub file: String,
    pub valid_old: bool,
    pub valid_new: bool,
    /// None when not rendered (`--contract-only`).
    pub renders_old: Option<bool>,
    pub renders_new: Option<bool>,
    /// The upgrade breaks this file's release (exit code 1).
    pub breaking: bool,
    /// Why, located: `teams/a.yaml:5: service.ports.http is rejected by 3.0.0: key removed`.
    pub reasons: Vec<String>,
    /// Problems the file already had before the upgrade (invalid under the old contract, does not
    /// render on OLD): not the upgrade's doing, so never breaking.
    pub before: Vec<String>,
    /// Paths of the breaking contract changes that reach this file.
    pub breaking_contract: Vec<String>,
    /// Paths of the changed defaults this file does not set, and so gets the new value of.
    pub relies_on_defaults: Vec<String>,
    /// Resource changes (no text diffs; `diff -f FILE` shows them).
    pub resources: Vec<ResourceDiff>,
    pub unchanged_resources: usize,
    pub findings: FindingsDelta,
    pub references: Vec<ReferenceChange>,
    /// This file's helm renders on OLD and on NEW: 2 when it needs its own second render to
    /// tell volatile output from changes, 1 when the chart cannot produce volatile output or
    /// the side's shared reference render stands in (`diff::shared_volatility`), 0 when not
    /// rendered.
    pub helm_renders: [usize; 2],
    pub summary: Summary,
}

/// One side of the comparison.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SideInfo {
    /// Chart directory or archive as given.
    pub source: String,
    pub chart: String,
    pub version: Option<String>,
    /// Extra values files of this side (`--old-values` / `--new-values`).
    pub values: Vec<String>,
    /// Where the contract came from (`values.schema.json` or `inferred from values.yaml`).
    pub contract_source: Option<String>,
}

/// Which parts were compared.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Compared {
    pub contract: bool,
    pub manifests: bool,
}

/// Totals and the verdict behind the exit code.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Summary {
    pub breaking_contract: usize,
    pub unknown_contract: usize,
    /// Field changes to immutable fields.
    pub breaking_fields: usize,
    pub added: usize,
    pub removed: usize,
    pub modified: usize,
    /// New findings of severity error.
    pub new_errors: usize,
    /// Leaves of values.yaml whose default changed.
    #[serde(default)]
    pub changed_defaults: usize,
    /// Changes to names others refer to (compatibility findings; never failing alone).
    #[serde(default)]
    pub reference_changes: usize,
    /// Breaking contract changes that reach the given values (`-f`, `--set`); None when no values
    /// were given (then every breaking change counts) or with `--each`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaking_for_values: Option<usize>,
    /// With `--each`: values files judged, and how many of them break.
    #[serde(default)]
    pub files: usize,
    #[serde(default)]
    pub files_breaking: usize,
    /// helm renders the run made (both sides, volatility checks and shared reference renders
    /// included); None when nothing was rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_renders: Option<usize>,
    /// True when the upgrade is breaking or introduces an error finding (exit code 1).
    pub failed: bool,
}

/// Added, removed or modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResourceChange {
    Added,
    Removed,
    Modified,
}

/// One resource that differs between the releases.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ResourceDiff {
    pub kind: String,
    pub namespace: Option<String>,
    /// The name (a pattern ending in `*` for names that are random on every render).
    pub name: String,
    pub api_version: String,
    pub change: ResourceChange,
    /// Template that renders it (new side when present).
    pub template: Option<String>,
    /// Field changes (modified resources only), noise removed, secrets redacted.
    pub fields: Vec<FieldChange>,
    /// A change to a field Kubernetes does not let `helm upgrade` change.
    pub breaking: bool,
    /// "possibly renamed from/to …" when a near-identical resource was removed/added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_hint: Option<String>,
    /// Unified diff of the object as YAML (modified resources only; same masking as `fields`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
}

impl ResourceDiff {
    /// `Kind namespace/name` or `Kind name`.
    pub fn display_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// One changed field.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// e.g. `spec.template.spec.containers[name=app].image`
    pub path: String,
    pub change: FieldChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// A secret value: the report says it changed, never what it is.
    pub redacted: bool,
    /// Why this change breaks `helm upgrade` (immutable field), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immutable: Option<String>,
}

/// How many changes an ignore pattern left out.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IgnoredCount {
    pub pattern: String,
    /// A built-in pattern (turn off with `--no-default-ignores`).
    pub default: bool,
    pub count: usize,
}

/// Volatile paths of one resource.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VolatileResource {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub paths: Vec<String>,
}

/// Findings that the upgrade introduces or resolves, and those both releases have.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct FindingsDelta {
    pub introduced: Vec<Finding>,
    pub resolved: Vec<Finding>,
    /// Findings the old release already had (as reported on the new one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<Finding>,
    /// Whether the rules ran (false when manifests were not compared or the new version did not render).
    pub checked: bool,
}

/// The manifest part of a diff.
#[derive(Debug, Clone, Default)]
pub struct ManifestDiff {
    pub resources: Vec<ResourceDiff>,
    pub unchanged: usize,
    pub ignored: Vec<IgnoredCount>,
    pub volatile: Vec<VolatileResource>,
}

/// Compare two sides' resources (each already stabilized over two renders).
pub fn diff_manifests(old: &[SideResource], new: &[SideResource], opts: &DiffOptions) -> ManifestDiff {
    let mut out = ManifestDiff::default();
    let mut ignored: Vec<IgnoredCount> = Vec::new();
    let mut volatile_seen = std::collections::BTreeSet::new();
    for side in [old, new] {
        for r in side.iter().filter(|r| !r.volatile.is_empty()) {
            let paths: Vec<String> = r.volatile.iter().map(|p| p.to_string()).collect();
            if volatile_seen.insert((r.id.clone(), paths.clone())) {
                out.volatile.push(VolatileResource { kind: r.id.kind.clone(), namespace: namespace_of(r), name: r.id.name.clone(), paths });
            }
        }
    }
    let flagged_old = redact::flagged_configmap_entries(old);
    let flagged_new = redact::flagged_configmap_entries(new);
    let flagged = |r: &SideResource| -> Vec<FieldPath> {
        let of = |side: &[SideResource], list: &[(usize, FieldPath)]| {
            list.iter().filter(|(i, _)| side[*i].id == r.id).map(|(_, p)| p.clone()).collect::<Vec<_>>()
        };
        [of(old, &flagged_old), of(new, &flagged_new)].concat()
    };
    let pairs = match_resources(old, new);
    let removed: Vec<&SideResource> = pairs.iter().filter(|p| p.new.is_none()).filter_map(|p| p.old).collect();
    let added: Vec<&SideResource> = pairs.iter().filter(|p| p.old.is_none()).filter_map(|p| p.new).collect();
    for pair in &pairs {
        match (pair.old, pair.new) {
            (Some(o), Some(n)) => match diff_pair(o, n, &flagged(n), opts, &mut ignored) {
                Some(d) => out.resources.push(d),
                None => out.unchanged += 1,
            },
            (Some(o), None) => {
                let to = added.iter().find(|a| rename_source(a, &[o]).is_some());
                out.resources.push(whole(o, ResourceChange::Removed, to.map(|a| format!("possibly renamed to {}", a.id.name))));
            }
            (None, Some(n)) => {
                let from = rename_source(n, &removed);
                out.resources.push(whole(n, ResourceChange::Added, from.map(|r| format!("possibly renamed from {}", r.id.name))));
            }
            (None, None) => {}
        }
    }
    out.ignored = ignored;
    out
}

fn namespace_of(r: &SideResource) -> Option<String> {
    r.resource.namespace.clone()
}

fn whole(r: &SideResource, change: ResourceChange, rename_hint: Option<String>) -> ResourceDiff {
    ResourceDiff {
        kind: r.id.kind.clone(),
        namespace: namespace_of(r),
        name: r.id.name.clone(),
        api_version: r.resource.api_version.clone(),
        change,
        template: r.resource.template.clone(),
        fields: Vec::new(),
        breaking: false,
        rename_hint,
        text_diff: None,
    }
}

/// Field-level diff of one resource present on both sides; None when nothing reportable changed.
fn diff_pair(o: &SideResource, n: &SideResource, flagged: &[FieldPath], opts: &DiffOptions, ignored: &mut Vec<IgnoredCount>) -> Option<ResourceDiff> {
    let (mut old_body, mut new_body) = (o.resource.body.clone(), n.resource.body.clone());
    // Kubernetes stores `key: null` as no key: `env: null` and no `env` are the same object.
    fields::drop_null_entries(&mut old_body);
    fields::drop_null_entries(&mut new_body);
    // Volatile paths of either side show the same placeholder on both sides.
    for p in o.volatile.iter().chain(&n.volatile) {
        for body in [&mut old_body, &mut new_body] {
            if p.get(body).is_some() {
                p.set(body, Some(Value::String("(volatile)".into())));
            }
        }
    }
    let secret_paths = if opts.show_secrets { Vec::new() } else { redact::mask_pair(&n.id.kind, &mut old_body, &mut new_body, flagged) };
    let mut fields = Vec::new();
    let (mut display_old, mut display_new) = (old_body.clone(), new_body.clone());
    for c in diff_values(&old_body, &new_body) {
        let immutable = immutable::immutable_reason(&n.id.kind, &n.resource.body, &c.path).map(str::to_string);
        // The built-in noise patterns never hide a change that breaks the upgrade (a chart-version
        // label inside volumeClaimTemplates or a Job's pod template); the user's own --ignore does.
        if let Some(pattern) = ignore_pattern(&c, &opts.ignores, immutable.is_none()) {
            count_ignored(ignored, pattern);
            // Keep ignored changes out of the text diff without showing a value that is not there.
            match c.kind {
                FieldChangeKind::Changed => {
                    c.path.set(&mut display_old, Some(Value::String("(ignored)".into())));
                    c.path.set(&mut display_new, Some(Value::String("(ignored)".into())));
                }
                _ => {
                    c.path.set(&mut display_new, c.old.clone());
                }
            }
            continue;
        }
        let redacted = secret_paths.iter().any(|p| c.path.starts_with(p) || p.starts_with(&c.path));
        fields.push(FieldChange {
            path: c.path.to_string(),
            change: c.kind,
            old: if redacted { None } else { c.old },
            new: if redacted { None } else { c.new },
            redacted,
            immutable,
        });
    }
    if fields.is_empty() {
        return None;
    }
    let label = |r: &SideResource, side: &str| format!("{side}/{}", r.resource.display_id());
    let text = unified_text_diff(&display_old, &display_new, opts.context, &label(o, "old"), &label(n, "new"));
    let mut d = whole(n, ResourceChange::Modified, None);
    d.breaking = fields.iter().any(|f| f.immutable.is_some());
    d.fields = fields;
    d.text_diff = Some(text);
    Some(d)
}

/// The ignore pattern covering a change: the path itself, or every leaf of an added/removed subtree.
fn ignore_pattern<'a>(c: &RawChange, ignores: &'a IgnoreSet, defaults: bool) -> Option<&'a noise::IgnorePattern> {
    if let Some(p) = ignores.matching(&c.path.to_string(), defaults) {
        return Some(p);
    }
    let value = c.new.as_ref().or(c.old.as_ref())?;
    if c.kind == FieldChangeKind::Changed || !(value.is_object() || value.is_array()) {
        return None;
    }
    let leaves: Vec<String> = leaf_paths(&c.path, value).iter().map(FieldPath::to_string).collect();
    ignores.matching_all(leaves.iter().map(String::as_str), defaults)
}

fn count_ignored(ignored: &mut Vec<IgnoredCount>, pattern: &noise::IgnorePattern) {
    match ignored.iter_mut().find(|i| i.pattern == pattern.text) {
        Some(i) => i.count += 1,
        None => ignored.push(IgnoredCount { pattern: pattern.text.clone(), default: pattern.default, count: 1 }),
    }
}

/// Totals and verdict; `findings` are the rule delta and, when given, the policy delta. Breaking
/// contract changes fail the verdict when they reach the values (`affects_values`), or, when no
/// values were judged, always.
pub fn summarize(contract: &ContractDiff, resources: &[ResourceDiff], findings: &[&FindingsDelta], new_render_failure: bool) -> Summary {
    let count = |c: ResourceChange| resources.iter().filter(|r| r.change == c).count();
    let breaking_fields = resources.iter().flat_map(|r| &r.fields).filter(|f| f.immutable.is_some()).count();
    let new_errors = findings.iter().flat_map(|d| &d.introduced).filter(|f| f.severity == crate::rules::Severity::Error).count();
    let judged = contract.breaking.iter().any(|c| c.affects_values.is_some());
    let breaking_for_values = judged.then(|| contract.breaking.iter().filter(|c| c.affects_values == Some(true)).count());
    let breaking_reached = breaking_for_values.unwrap_or(contract.breaking.len());
    Summary {
        breaking_contract: contract.breaking.len(),
        unknown_contract: contract.unknown.len(),
        breaking_fields,
        added: count(ResourceChange::Added),
        removed: count(ResourceChange::Removed),
        modified: count(ResourceChange::Modified),
        new_errors,
        changed_defaults: contract.defaults.len(),
        reference_changes: 0,
        breaking_for_values,
        files: 0,
        files_breaking: 0,
        helm_renders: None,
        failed: breaking_reached > 0 || breaking_fields > 0 || new_errors > 0 || new_render_failure,
    }
}

/// A small report with a breaking contract change, an immutable field change, noise, a redacted
/// secret and a finding, for reporter tests.
#[cfg(test)]
pub(crate) fn sample_report() -> DiffReport {
    use crate::manifest::Manifest;
    let side = |text: &str| {
        let m = Manifest::parse(text);
        volatile::stabilize(&m, &m)
    };
    let old = side("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {helm.sh/chart: web-1}}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    spec:\n      containers: [{name: app, image: 'web:1'}]\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: old-pass}\n");
    let new = side("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {helm.sh/chart: web-2}}\nspec:\n  selector: {matchLabels: {app: web2}}\n  template:\n    spec:\n      containers: [{name: app, image: 'web:2'}]\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: new-pass}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'a|b'}\n");
    let opts = DiffOptions { context: 1, show_secrets: false, ignores: IgnoreSet::new(&[], false).unwrap() };
    let m = diff_manifests(&old, &new, &opts);
    let contract = crate::contract::compat::compare(
        &serde_json::json!({"properties": {"a": {"type": "string"}, "p": {"pattern": "^x"}}}),
        &serde_json::json!({"properties": {"p": {"pattern": "^y"}}}),
        None,
    );
    let finding = Finding {
        rule: "run-as-non-root".into(),
        severity: crate::rules::Severity::Error,
        kind: "Deployment".into(),
        namespace: None,
        name: "web".into(),
        template: None,
        path: Some("spec.template.spec".into()),
        message: "runs as root".into(),
    };
    let findings = FindingsDelta { introduced: vec![finding], resolved: Vec::new(), unchanged: Vec::new(), checked: true };
    let summary = summarize(&contract, &m.resources, &[&findings], false);
    let info = |v: &str| SideInfo { source: format!("web-{v}"), chart: "web".into(), version: Some(v.into()), values: Vec::new(), contract_source: Some("values.schema.json".into()) };
    DiffReport {
        old: info("1"),
        new: info("2"),
        contract,
        resources: m.resources,
        unchanged_resources: m.unchanged,
        ignored: m.ignored,
        volatile: m.volatile,
        findings,
        policies: None,
        new_render_failure: None,
        references: Vec::new(),
        files: Vec::new(),
        compared: Compared { contract: true, manifests: true },
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn side(text: &str) -> Vec<SideResource> {
        let m = Manifest::parse(text);
        volatile::stabilize(&m, &m)
    }

    fn opts() -> DiffOptions {
        DiffOptions { context: 3, show_secrets: false, ignores: IgnoreSet::new(&[], false).unwrap() }
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {helm.sh/chart: web-LABEL, app: web}\nspec:\n  selector:\n    matchLabels: {app: SELECTOR}\n  template:\n    metadata:\n      annotations: {checksum/config: SUM}\n    spec:\n      containers:\n      - name: app\n        image: IMAGE\n";

    fn deploy(label: &str, selector: &str, sum: &str, image: &str) -> String {
        DEPLOY.replace("LABEL", label).replace("SELECTOR", selector).replace("SUM", sum).replace("IMAGE", image)
    }

    #[test]
    fn noise_is_counted_not_shown_and_immutable_changes_break() {
        let old = side(&deploy("1.0.0", "web", "aaa", "web:1"));
        let new = side(&deploy("1.1.0", "web2", "bbb", "web:2"));
        let d = diff_manifests(&old, &new, &opts());
        assert_eq!(d.resources.len(), 1);
        let r = &d.resources[0];
        let paths: Vec<&str> = r.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["spec.selector.matchLabels.app", "spec.template.spec.containers[name=app].image"]);
        assert!(r.breaking && r.fields[0].immutable.is_some() && r.fields[1].immutable.is_none());
        assert_eq!(d.ignored.iter().map(|i| i.count).sum::<usize>(), 2);
        let text = r.text_diff.as_deref().unwrap();
        assert!(text.contains("+        image: web:2") && !text.contains("bbb") && !text.contains("web-1.1.0"), "{text}");

        let mut shown = opts();
        shown.ignores = IgnoreSet::new(&[], true).unwrap();
        let d = diff_manifests(&old, &new, &shown);
        assert_eq!(d.resources[0].fields.len(), 4);
        assert!(d.ignored.is_empty());
    }

    #[test]
    fn only_noise_means_unchanged() {
        let d = diff_manifests(&side(&deploy("1.0.0", "web", "a", "x")), &side(&deploy("2.0.0", "web", "b", "x")), &opts());
        assert!(d.resources.is_empty());
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn secret_values_never_appear() {
        let secret = |v: &str| side(&format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: {v}\n  mode: fast\n"));
        let d = diff_manifests(&secret("old-pass"), &secret("new-pass"), &opts());
        let json = serde_json::to_string(&d.resources).unwrap();
        assert!(!json.contains("old-pass") && !json.contains("new-pass"), "{json}");
        assert!(d.resources[0].fields[0].redacted);
        let mut show = opts();
        show.show_secrets = true;
        let d = diff_manifests(&secret("old-pass"), &secret("new-pass"), &show);
        assert_eq!(d.resources[0].fields[0].new, Some(Value::String("new-pass".into())));
    }
}
