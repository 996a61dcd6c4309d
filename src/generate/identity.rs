//! What makes two failures of a property run the same cause: the rule, the template, the
//! resource kind and the resource's role in that template (its position among the template's
//! resources of that kind), plus the field path for `kubernetes-schema`. Never a rendered name:
//! values rename resources (`nameOverride`, `fullnameOverride`, a release-name prefix), and a
//! renamed resource failing the same rule is the same failure, which shrinking must be free to
//! un-rename.

use serde_json::Value;

use super::cases::ExpectedFailure;
use crate::manifest::Manifest;
use crate::rules::Finding;

pub const RENDER_ERROR: &str = "render-error";
const KUBERNETES_SCHEMA: &str = "kubernetes-schema";
/// The kind of findings on rendered documents that are not Kubernetes objects.
const DOCUMENT: &str = "Document";

/// The identity of a failure's cause.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FailureKey {
    pub rule: String,
    pub kind: String,
    pub template: Option<String>,
    /// `#N` (the N-th resource of this kind in the template), or the resource name when the
    /// finding has no template; empty for render errors and unparsable documents.
    pub role: String,
    /// The field path, for `kubernetes-schema` (two wrong fields are two causes), list indices
    /// left out (`containers[].image`: the same field of another item is the same cause).
    pub path: Option<String>,
}

/// A failing finding with the identity of its cause.
#[derive(Debug, Clone)]
pub struct Failing {
    pub finding: Finding,
    pub key: FailureKey,
}

impl FailureKey {
    /// The key of a finding of a render whose manifest is `manifest` (None when helm failed).
    pub fn of(finding: &Finding, manifest: Option<&Manifest>) -> FailureKey {
        FailureKey::from_parts(finding, role_of(finding, manifest))
    }

    fn from_parts(finding: &Finding, role: String) -> FailureKey {
        FailureKey {
            rule: finding.rule.clone(),
            kind: finding.kind.clone(),
            template: finding.template.clone(),
            role,
            path: if finding.rule == KUBERNETES_SCHEMA { finding.path.as_deref().map(without_indices) } else { None },
        }
    }
}

/// A dotted path with its list indices emptied: `a[0].b[12]` → `a[].b[]`.
fn without_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' if in_index => {
                in_index = false;
                out.push_str("[]");
            }
            c if in_index && c.is_ascii_digit() => {}
            c => {
                if in_index {
                    // `[name=app]`: a selector, not an index; keep it.
                    in_index = false;
                    out.push('[');
                }
                out.push(c);
            }
        }
    }
    out
}

/// The role of a finding's resource: its position among the resources of the same kind rendered
/// by the same template. Names are left out: values rename resources.
fn role_of(finding: &Finding, manifest: Option<&Manifest>) -> String {
    if finding.rule == RENDER_ERROR || finding.kind == DOCUMENT {
        return String::new();
    }
    let Some(template) = &finding.template else { return finding.name.clone() };
    manifest
        .and_then(|m| {
            m.resources
                .iter()
                .filter(|r| r.kind == finding.kind && r.template.as_ref() == Some(template))
                .position(|r| r.name == finding.name && r.namespace == finding.namespace)
        })
        .map(|i| format!("#{i}"))
        .unwrap_or_else(|| finding.name.clone())
}

/// Whether a saved case's expected failure is this failure. Cases saved before roles existed
/// (no `role` field) match as they did then: by rule, kind and rendered name (and template for
/// render errors).
pub fn expected_matches(expect: &ExpectedFailure, failing: &Failing) -> bool {
    let f = &failing.finding;
    match &expect.role {
        Some(role) => {
            let expected = Finding { rule: expect.rule.clone(), kind: expect.kind.clone(), template: expect.template.clone(), path: expect.path.clone(), ..f.clone() };
            FailureKey::from_parts(&expected, role.clone()) == failing.key
        }
        None => expect.rule == f.rule && expect.kind == f.kind && expect.name == f.name && (f.rule != RENDER_ERROR || expect.template == f.template),
    }
}

/// The expected failure a saved case records for `failing`.
pub fn expected_failure(failing: &Failing) -> ExpectedFailure {
    let f = &failing.finding;
    ExpectedFailure {
        rule: f.rule.clone(),
        severity: f.severity,
        kind: f.kind.clone(),
        name: f.name.clone(),
        template: f.template.clone(),
        role: Some(failing.key.role.clone()),
        path: failing.key.path.clone(),
        message: f.message.clone(),
    }
}

/// Whether an override is empty (the failure occurs at the defaults or the base values).
pub fn is_empty_override(values: &Value) -> bool {
    values.as_object().is_some_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    fn finding(rule: &str, kind: &str, name: &str, path: Option<&str>) -> Finding {
        Finding {
            rule: rule.into(),
            severity: Severity::Error,
            kind: kind.into(),
            namespace: None,
            name: name.into(),
            template: Some("c/templates/deployment.yaml".into()),
            path: path.map(String::from),
            message: "m".into(),
        }
    }

    fn render(names: &[&str]) -> Manifest {
        let docs: Vec<String> = names.iter().map(|n| format!("---\n# Source: c/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\n")).collect();
        Manifest::parse(&docs.concat())
    }

    #[test]
    fn a_renamed_resource_failing_the_same_rule_is_the_same_failure() {
        let defaults = FailureKey::of(&finding("probe-readiness", "Deployment", "release-c", None), Some(&render(&["release-c"])));
        let renamed = FailureKey::of(&finding("probe-readiness", "Deployment", "my-name", None), Some(&render(&["my-name"])));
        assert_eq!(defaults, renamed);
        assert_eq!(defaults.role, "#0");
        // The second Deployment of the same template is another resource.
        let second = FailureKey::of(&finding("probe-readiness", "Deployment", "release-c-worker", None), Some(&render(&["release-c", "release-c-worker"])));
        assert_ne!(defaults, second);
    }

    #[test]
    fn schema_failures_differ_by_field_path_and_documents_by_template_only() {
        let m = render(&["x"]);
        let a = FailureKey::of(&finding(KUBERNETES_SCHEMA, "Deployment", "x", Some("spec.replicas")), Some(&m));
        let b = FailureKey::of(&finding(KUBERNETES_SCHEMA, "Deployment", "x", Some("metadata.name")), Some(&m));
        assert_ne!(a, b);
        let first = FailureKey::of(&finding(KUBERNETES_SCHEMA, "Deployment", "x", Some("spec.imagePullSecrets[0]")), Some(&m));
        let second = FailureKey::of(&finding(KUBERNETES_SCHEMA, "Deployment", "x", Some("spec.imagePullSecrets[1]")), Some(&m));
        assert_eq!(first, second);
        assert_eq!(without_indices("a[0].b[12].c[name=app]"), "a[].b[].c[name=app]");
        let line_3 = FailureKey::of(&finding(KUBERNETES_SCHEMA, DOCUMENT, "line 3", None), None);
        let line_9 = FailureKey::of(&finding(KUBERNETES_SCHEMA, DOCUMENT, "line 9", None), None);
        assert_eq!(line_3, line_9);
    }

    #[test]
    fn saved_cases_match_with_and_without_a_role() {
        let m = render(&["renamed"]);
        let f = finding("probe-readiness", "Deployment", "renamed", None);
        let failing = Failing { key: FailureKey::of(&f, Some(&m)), finding: f };
        let mut expect = expected_failure(&failing);
        expect.name = "release-c".into();
        assert!(expected_matches(&expect, &failing), "a role matches whatever the name");
        expect.role = None;
        assert!(!expected_matches(&expect, &failing), "an old case matches by name");
        expect.name = "renamed".into();
        assert!(expected_matches(&expect, &failing));
    }
}
