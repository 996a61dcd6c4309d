//! Invariant rules asserted on every render: the finding type, the engine that runs every rule
//! family over a parsed manifest (`check_manifest`), configuration and per-object suppression.
//! The catalog (`catalog.rs`) documents each rule; each family of rules has its own file.

pub mod catalog;
pub mod config;
mod default_credentials;
mod duplicates;
mod gomemlimit;
mod images;
pub mod kubernetes_schema;
mod kubernetes_validation;
mod networkpolicy;
mod observability;
mod probes;
/// Quantities moved to `crate::manifest::quantity` (neutral ground for the rules and admission); re-exported here so
/// existing paths compile unchanged.
pub use crate::manifest::quantity;
mod references;
pub mod resources;
mod rollout;
pub(crate) mod secrets;
mod security;
pub mod selectors;

use serde::{Deserialize, Serialize};

use crate::manifest::{Manifest, Resource};
use crate::render::RenderFailure;

pub use config::Config;
pub use default_credentials::ShippedLiterals;
pub use resources::QosClass;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One rule violation on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable rule id, e.g. `selector-mismatch`.
    pub rule: String,
    pub severity: Severity,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Template that produced the resource (helm's `# Source:`).
    pub template: Option<String>,
    /// Dotted path inside the resource, e.g. `spec.template.spec.containers[name=app].image`.
    pub path: Option<String>,
    pub message: String,
}

impl Finding {
    /// `Kind/namespace/name` of the resource the finding is about (as `Resource::display_id`).
    pub fn resource_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Fix hint from the catalog (None for rule ids outside it).
    pub fn hint(&self) -> Option<&'static str> {
        catalog::hint(&self.rule)
    }

    fn sort_key(&self) -> (String, String, String, String, String, String) {
        (
            self.kind.clone(),
            self.namespace.clone().unwrap_or_default(),
            self.name.clone(),
            self.rule.clone(),
            self.path.clone().unwrap_or_default(),
            self.message.clone(),
        )
    }
}

/// Kind used for findings about the release as a whole (e.g. a missing NetworkPolicy).
pub const RELEASE_KIND: &str = "Release";

/// Annotation listing rule ids to suppress on an object: `rule-id[,rule-id][; reason]`.
pub const IGNORE_ANNOTATION: &str = "chartproof.io/ignore";
/// Optional annotation giving the reason for `chartproof.io/ignore`.
pub const IGNORE_REASON_ANNOTATION: &str = "chartproof.io/ignore-reason";

/// A finding silenced by a `chartproof.io/ignore` annotation, an exclusion in `.chartproof.yaml`
/// or a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    /// Why, when the annotation, the exclusion or the baseline says.
    pub reason: Option<String>,
}

/// Result of checking one rendered release.
#[derive(Debug, Clone, Default)]
pub struct CheckOutcome {
    /// Findings in a stable order (kind, namespace, name, rule, path, message).
    pub findings: Vec<Finding>,
    pub suppressed: Vec<Suppressed>,
    /// Computed QoS class of every pod template, by resource id (`Kind/ns/name`), sorted.
    pub qos: Vec<(String, QosClass)>,
}

impl CheckOutcome {
    /// Whether any finding is at error severity.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Collects findings for one check run, applying the config and suppression annotations.
pub(crate) struct Sink<'a> {
    config: &'a Config,
    findings: Vec<Finding>,
    suppressed: Vec<Suppressed>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(config: &'a Config) -> Self {
        Sink { config, findings: Vec::new(), suppressed: Vec::new() }
    }

    /// The findings reported so far (suppressed ones left out).
    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    pub(crate) fn config(&self) -> &'a Config {
        self.config
    }

    pub(crate) fn enabled(&self, rule: &str) -> bool {
        self.config.enabled(rule)
    }

    /// Report at the rule's default severity.
    pub(crate) fn report(&mut self, r: &Resource, rule: &'static str, path: Option<String>, message: String) {
        self.report_at(r, rule, catalog::default_severity(rule), path, message)
    }

    /// Report at a severity the rule chose for this case (config overrides still apply).
    pub(crate) fn report_at(&mut self, r: &Resource, rule: &str, severity: Severity, path: Option<String>, message: String) {
        if !self.config.enabled(rule) {
            return;
        }
        let finding = Finding {
            rule: rule.to_string(),
            severity: self.config.severity(rule, severity),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            template: r.template.clone(),
            path,
            message,
        };
        match suppression(r, rule) {
            Some(reason) => self.suppressed.push(Suppressed { finding, reason }),
            None => self.findings.push(finding),
        }
    }

    /// Report about the release as a whole.
    pub(crate) fn report_release(&mut self, rule: &str, message: String) {
        self.report_release_at(rule, catalog::default_severity(rule), message)
    }

    /// Report about the release as a whole at a severity the caller chose (config overrides still apply).
    pub(crate) fn report_release_at(&mut self, rule: &str, severity: Severity, message: String) {
        if !self.config.enabled(rule) {
            return;
        }
        self.findings.push(Finding {
            rule: rule.to_string(),
            severity: self.config.severity(rule, severity),
            kind: RELEASE_KIND.to_string(),
            namespace: None,
            name: "release".to_string(),
            template: None,
            path: None,
            message,
        });
    }
}

/// The admission verdicts on the release (`crate::admission::admit`) as `policy/<name>` findings:
/// a binding's Deny is an error, Warn a warning, Audit info; an expression not evaluable offline
/// a warning (never a pass); errors skipped under `failurePolicy: Ignore` one info finding about
/// the release per policy.
fn report_admission(manifest: &Manifest, set: &crate::policy::PolicySet, sink: &mut Sink) {
    use crate::policy::{Action, Effect};
    for verdict in crate::admission::admit(manifest, set) {
        let severity = match verdict.effect {
            Effect::Enforced(Action::Deny) => Severity::Error,
            Effect::Enforced(Action::Warn) | Effect::NotEvaluable => Severity::Warning,
            Effect::Enforced(Action::Audit) | Effect::Ignored => Severity::Info,
        };
        let rule = format!("{}{}", crate::policy::RULE_PREFIX, verdict.policy);
        match verdict.resource {
            Some(resource) => sink.report_at(resource, &rule, severity, None, verdict.message),
            None => sink.report_release_at(&rule, severity, verdict.message),
        }
    }
}

/// The findings of the admission policies of `set` alone on `manifest` (default rule
/// configuration otherwise).
pub fn admission_findings(manifest: &Manifest, set: crate::policy::PolicySet) -> Vec<Finding> {
    let config = Config { platform_policies: set, ..Config::default() };
    let mut sink = Sink::new(&config);
    report_admission(manifest, &config.platform_policies, &mut sink);
    sink.into_findings()
}

/// The ignore annotations of an object and of its pod template, as (path of the annotation,
/// rule ids it names, reason it gives).
fn ignore_annotations(r: &Resource) -> Vec<(String, Vec<&str>, Option<String>)> {
    // A Pod is its own template.
    let template = r.pod_template().filter(|t| !t.pointer.is_empty());
    let template_annotations = template.and_then(|t| Some((format!("{}.metadata.annotations", t.path()), t.annotations()?)));
    let own = r.annotations().map(|a| ("metadata.annotations".to_string(), a));
    let mut out = Vec::new();
    for (path, annotations) in [own, template_annotations].into_iter().flatten() {
        let Some(value) = annotations.get(IGNORE_ANNOTATION).and_then(|v| v.as_str()) else { continue };
        let (ids, reason) = match value.split_once([';', ':']) {
            Some((ids, reason)) => (ids, Some(reason.trim().to_string()).filter(|s| !s.is_empty())),
            None => (value, None),
        };
        let reason = reason.or_else(|| annotations.get(IGNORE_REASON_ANNOTATION).and_then(|v| v.as_str()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        let path = format!("{path}[\"{IGNORE_ANNOTATION}\"]");
        out.push((path, ids.split(',').map(str::trim).filter(|id| !id.is_empty()).collect(), reason));
    }
    out
}

/// Ids the ignore annotation accepts for "every rule".
fn ignores_all(id: &str) -> bool {
    id == "*" || id == "all"
}

/// `Some(reason)` when the object (or its pod template) carries an ignore annotation naming `rule`.
fn suppression(r: &Resource, rule: &str) -> Option<Option<String>> {
    ignore_annotations(r).into_iter().find(|(_, ids, _)| ids.iter().any(|id| *id == rule || ignores_all(id))).map(|(_, _, reason)| reason)
}

/// `ignore-annotation`: ids in ignore annotations that name no rule suppress nothing; say so at
/// the annotation, with the nearest rule id.
fn unknown_ignored_rules(manifest: &Manifest, sink: &mut Sink) {
    for r in &manifest.resources {
        for (path, ids, _) in ignore_annotations(r) {
            for id in ids.into_iter().filter(|id| !ignores_all(id) && catalog::lookup(id).is_none() && !id.starts_with(crate::policy::RULE_PREFIX)) {
                let suggestion = catalog::nearest(id).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
                sink.report(r, "ignore-annotation", Some(path.clone()), format!("`{IGNORE_ANNOTATION}` names `{id}`, which is no rule id{suggestion}; it suppresses nothing"));
            }
        }
    }
}

/// Add the template line to each `ignore-annotation` finding (`(line N)` in the message, where
/// reporters look for it, as for render errors): the line of its template that carries the
/// annotation naming the unknown id, else the first line with the annotation. `read_template`
/// gives the text of a template by helm's path (None when the chart's files are not at hand).
pub fn locate_ignore_annotations(findings: &mut [Finding], read_template: impl Fn(&str) -> Option<String>) {
    for f in findings.iter_mut().filter(|f| f.rule == "ignore-annotation" && finding_line(f).is_none()) {
        let Some(text) = f.template.as_deref().and_then(&read_template) else { continue };
        let id = f.message.split('`').nth(3).unwrap_or_default();
        // The key itself, bare or quoted, not `chartproof.io/ignore-reason`.
        let is_key = |l: &str| ["", "\"", "'"].iter().any(|q| l.contains(&format!("{IGNORE_ANNOTATION}{q}:")));
        let annotated: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| is_key(l)).collect();
        let Some((index, _)) = annotated.iter().find(|(_, l)| l.contains(id)).or(annotated.first()) else { continue };
        f.message.push_str(&format!(" (line {})", index + 1));
    }
}

/// Run every enabled rule over a rendered release. Pure and deterministic: the result does not
/// depend on document order.
/// `helm test` hooks are not part of the running release and are not checked.
pub fn check_manifest(manifest: &Manifest, config: &Config) -> CheckOutcome {
    let without_tests;
    let manifest = if manifest.resources.iter().any(is_test_hook) {
        without_tests = Manifest { resources: manifest.resources.iter().filter(|r| !is_test_hook(r)).cloned().collect(), problems: Vec::new() };
        &without_tests
    } else {
        manifest
    };
    let mut sink = Sink::new(config);
    selectors::check(manifest, &mut sink);
    probes::check(manifest, &mut sink);
    let qos = resources::check(manifest, &mut sink);
    gomemlimit::check(manifest, &mut sink);
    security::check(manifest, &mut sink);
    images::check(manifest, &mut sink);
    observability::check(manifest, &mut sink);
    rollout::check(manifest, &mut sink);
    networkpolicy::check(manifest, &mut sink);
    secrets::check(manifest, &mut sink);
    default_credentials::check(manifest, &mut sink);
    references::check(manifest, &mut sink);
    duplicates::check(manifest, &mut sink);
    kubernetes_schema::check(manifest, &mut sink);
    kubernetes_validation::check(manifest, &mut sink);
    report_admission(manifest, &config.platform_policies, &mut sink);
    unknown_ignored_rules(manifest, &mut sink);
    let Sink { findings, mut suppressed, .. } = sink;
    let (mut findings, excluded) = config.exclude(findings);
    suppressed.extend(excluded);
    findings.sort_by_cached_key(Finding::sort_key);
    findings.dedup();
    suppressed.sort_by_cached_key(|s| s.finding.sort_key());
    suppressed.dedup();
    CheckOutcome { findings, suppressed, qos }
}

/// Whether a resource is a `helm test` hook (`helm.sh/hook: test` or the legacy `test-success`/`test-failure`).
pub fn is_test_hook(r: &Resource) -> bool {
    r.annotations()
        .and_then(|a| a.get("helm.sh/hook"))
        .and_then(|v| v.as_str())
        .is_some_and(|hooks| hooks.split(',').map(str::trim).any(|h| h == "test" || h == "test-success" || h == "test-failure"))
}

/// The finding for a failed render: helm's message at helm's template location.
pub fn render_error_finding(failure: &RenderFailure, chart_name: &str) -> Finding {
    let (template, message) = match failure {
        RenderFailure::Helm(e) => {
            let loc = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
                (Some(l), None) => format!(" (line {l})"),
                _ => String::new(),
            };
            (e.template.clone(), format!("helm template failed{loc}: {}", e.message))
        }
        RenderFailure::Timeout(d) => (None, format!("helm template did not finish within {}s and was killed", d.as_secs())),
    };
    Finding {
        rule: "render-error".into(),
        severity: Severity::Error,
        kind: "Chart".into(),
        namespace: None,
        name: chart_name.to_string(),
        template,
        path: None,
        message,
    }
}

/// Findings for rendered documents that are not Kubernetes objects (unparsable YAML, no kind…):
/// a render that "succeeds" with broken output is never a silent pass. Each is located at its
/// template line when [`Manifest::locate_problems`](crate::manifest::Manifest::locate_problems)
/// found it, and says that the release's other findings are incomplete (no rule saw the document).
pub fn manifest_problem_findings(manifest: &crate::manifest::Manifest, config: &Config) -> Vec<Finding> {
    manifest
        .problems
        .iter()
        .map(|p| {
            let at = match p.template_line {
                Some(line) => format!("(line {line} of the template; line {} of helm's output)", p.line),
                None => format!("(line {} of helm's output)", p.line),
            };
            Finding {
                rule: "kubernetes-schema".into(),
                severity: config.severity("kubernetes-schema", Severity::Error),
                kind: "Document".into(),
                namespace: None,
                name: "document".into(),
                template: p.template.clone(),
                path: None,
                message: format!("{} {at}; Kubernetes would refuse it, and no rule could check it, so this release's other findings are incomplete", p.message),
            }
        })
        .filter(|f| config.enabled(&f.rule))
        .collect()
}

/// Line in the source template a finding points at, when known (render errors carry helm's).
pub fn finding_line(f: &Finding) -> Option<u32> {
    let rest = f.message.split_once("(line ")?.1;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::manifest::Manifest;

    /// Parse YAML documents (each may carry `# Source:`) into a manifest.
    pub fn manifest(yaml: &str) -> Manifest {
        let m = Manifest::parse(yaml);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        m
    }

    /// Rule ids reported for the manifest with the default config.
    pub fn rules_hit(yaml: &str, rule: &str) -> Vec<super::Finding> {
        let out = super::check_manifest(&manifest(yaml), &super::Config::default());
        out.findings.into_iter().filter(|f| f.rule == rule).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::HelmError;

    const DEPLOY: &str = "---\n# Source: demo/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    chartproof.io/ignore: \"probe-liveness,probe-readiness; batch worker without HTTP\"\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers:\n      - name: app\n        image: x:latest\n";

    #[test]
    fn suppression_is_counted_with_reason() {
        let out = check_manifest(&testutil::manifest(DEPLOY), &Config::default());
        assert!(out.findings.iter().all(|f| !f.rule.starts_with("probe-")));
        let rules: Vec<_> = out.suppressed.iter().map(|s| s.finding.rule.as_str()).collect();
        assert_eq!(rules, ["probe-liveness", "probe-readiness"]);
        assert_eq!(out.suppressed[0].reason.as_deref(), Some("batch worker without HTTP"));
        assert!(out.findings.iter().any(|f| f.rule == "image-digest"));
    }

    #[test]
    fn unknown_ignored_rule_ids_are_reported_at_the_annotation() {
        let typo = DEPLOY.replace("probe-liveness,probe-readiness", "probe-livness,probe-readiness,no-such-thing");
        let out = check_manifest(&testutil::manifest(&typo), &Config::default());
        let unknown: Vec<&Finding> = out.findings.iter().filter(|f| f.rule == "ignore-annotation").collect();
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert!(unknown.iter().all(|f| f.severity == Severity::Warning && f.template.as_deref() == Some("demo/templates/d.yaml")));
        assert!(unknown.iter().all(|f| f.path.as_deref() == Some("metadata.annotations[\"chartproof.io/ignore\"]")));
        assert!(unknown[0].message.contains("`no-such-thing`, which is no rule id; it suppresses nothing"), "{}", unknown[0].message);
        assert!(unknown[1].message.contains("`probe-livness`, which is no rule id (did you mean `probe-liveness`?)"), "{}", unknown[1].message);
        // The misspelt rule is not suppressed; the known one still is.
        assert!(out.findings.iter().any(|f| f.rule == "probe-liveness"));
        assert_eq!(out.suppressed.iter().map(|s| s.finding.rule.as_str()).collect::<Vec<_>>(), ["probe-readiness"]);
        // `*` and `all` are known; the pod template's annotation is located there.
        let on_template = |ids: &str| {
            let d = DEPLOY.replace("  annotations:\n    chartproof.io/ignore: \"probe-liveness,probe-readiness; batch worker without HTTP\"\n", "");
            let d = d.replace("    metadata: {labels: {app: d}}", &format!("    metadata: {{labels: {{app: d}}, annotations: {{chartproof.io/ignore: \"{ids}\"}}}}"));
            check_manifest(&testutil::manifest(&d), &Config::default())
        };
        for all in ["*", "all"] {
            let out = on_template(all);
            assert!(out.findings.iter().all(|f| f.kind == RELEASE_KIND) && out.suppressed.iter().all(|s| s.finding.rule != "ignore-annotation"), "{out:?}");
        }
        let out = on_template("run-as-nonroot");
        let unknown: Vec<&Finding> = out.findings.iter().filter(|f| f.rule == "ignore-annotation").collect();
        assert_eq!(unknown.len(), 1, "{:?}", out.findings);
        assert_eq!(unknown[0].path.as_deref(), Some("spec.template.metadata.annotations[\"chartproof.io/ignore\"]"));
        assert!(unknown[0].message.contains("did you mean `run-as-non-root`?"), "{}", unknown[0].message);
    }

    #[test]
    fn unknown_ignored_rule_ids_get_their_template_line() {
        let typo = DEPLOY.replace("probe-liveness,probe-readiness", "probe-livness");
        let mut findings: Vec<Finding> = check_manifest(&testutil::manifest(&typo), &Config::default()).findings.into_iter().filter(|f| f.rule == "ignore-annotation").collect();
        let template = "kind: Deployment\nmetadata:\n  annotations:\n    chartproof.io/ignore-reason: x\n    chartproof.io/ignore: {{ .Values.other }}\n    chartproof.io/ignore: probe-livness\n";
        locate_ignore_annotations(&mut findings, |t| (t == "demo/templates/d.yaml").then(|| template.to_string()));
        assert_eq!(finding_line(&findings[0]), Some(6), "{}", findings[0].message);
        // Without the id on a line (it came from a value), the annotation's first line.
        locate_ignore_annotations(&mut findings, |_| unreachable!("already located"));
        let mut unlocated: Vec<Finding> = check_manifest(&testutil::manifest(&typo), &Config::default()).findings.into_iter().filter(|f| f.rule == "ignore-annotation").collect();
        locate_ignore_annotations(&mut unlocated, |_| Some(template.replace("probe-livness", "{{ .Values.ignore }}")));
        assert_eq!(finding_line(&unlocated[0]), Some(5));
    }

    #[test]
    fn config_disables_and_overrides() {
        let mut c = Config::default();
        c.rules.insert("image-digest".into(), config::RuleSetting::Info);
        c.rules.insert("resources-requests".into(), config::RuleSetting::Off);
        let out = check_manifest(&testutil::manifest(DEPLOY), &c);
        assert!(out.findings.iter().all(|f| f.rule != "resources-requests"));
        assert!(out.findings.iter().filter(|f| f.rule == "image-digest").all(|f| f.severity == Severity::Info));
    }

    #[test]
    fn result_is_independent_of_document_order() {
        let svc = "---\n# Source: demo/templates/s.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  selector: {app: nope}\n  ports: [{port: 80, targetPort: http}]\n";
        let a = check_manifest(&testutil::manifest(&format!("{DEPLOY}{svc}")), &Config::default());
        let b = check_manifest(&testutil::manifest(&format!("{svc}{DEPLOY}")), &Config::default());
        assert_eq!(a.findings, b.findings);
        assert_eq!(a.qos, b.qos);
    }

    #[test]
    fn helm_test_hooks_are_not_checked() {
        let hook = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\nspec:\n  containers: [{name: t, image: busybox}]\n";
        let out = check_manifest(&testutil::manifest(hook), &Config::default());
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        assert!(out.qos.is_empty());
    }

    #[test]
    fn render_error_carries_helm_location() {
        let e = HelmError::parse("Error: execution error at (loki/templates/validate.yaml:19:4): Please define loki.storage.bucketNames.chunks\n");
        let f = render_error_finding(&RenderFailure::Helm(e), "loki");
        assert_eq!(f.rule, "render-error");
        assert_eq!(f.template.as_deref(), Some("loki/templates/validate.yaml"));
        assert!(f.message.contains("Please define loki.storage.bucketNames.chunks"));
        assert_eq!(finding_line(&f), Some(19));
    }
}
