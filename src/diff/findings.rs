//! Rule delta: the `check` findings of the new render that the old one did not have (introduced),
//! the other way round (resolved), and those both have (unchanged). Findings are compared by rule, resource and path, not by
//! message (messages quote values that may change), and random resource names are compared by
//! their stable pattern.

use std::collections::HashSet;

use crate::rules::Finding;

use super::FindingsDelta;
use super::volatile::SideResource;

type FindingKey = (String, String, String, String, String);

/// Identity of a finding; an object without a namespace is in the release namespace.
fn key(f: &Finding, release_namespace: &str) -> FindingKey {
    let ns = f.namespace.clone().unwrap_or_else(|| release_namespace.to_string());
    (f.rule.clone(), f.kind.clone(), ns, f.name.clone(), f.path.clone().unwrap_or_default())
}

/// Rename findings on randomly named resources to the resource's stable pattern (`rel-test-*`).
pub fn normalize_names(findings: &mut [Finding], side: &[SideResource]) {
    for f in findings.iter_mut() {
        if let Some(r) = side.iter().find(|r| r.id.template.is_some() && r.resource.kind == f.kind && r.resource.name == f.name) {
            f.name = r.id.name.clone();
        }
    }
}

/// Findings introduced, resolved and unchanged going from `old` to `new`.
pub fn delta(old: Vec<Finding>, new: Vec<Finding>, release_namespace: &str) -> FindingsDelta {
    let key = |f: &Finding| key(f, release_namespace);
    let old_keys: HashSet<FindingKey> = old.iter().map(key).collect();
    let new_keys: HashSet<FindingKey> = new.iter().map(key).collect();
    let mut seen = HashSet::new();
    let (unchanged, introduced) = new.into_iter().filter(|f| seen.insert(key(f))).partition(|f| old_keys.contains(&key(f)));
    let resolved = old.into_iter().filter(|f| !new_keys.contains(&key(f)) && seen.insert(key(f))).collect();
    FindingsDelta { introduced, resolved, unchanged, checked: true }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    fn finding(rule: &str, name: &str, message: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity: Severity::Error,
            kind: "Deployment".into(),
            namespace: None,
            name: name.into(),
            template: None,
            path: Some("spec".into()),
            message: message.into(),
        }
    }

    #[test]
    fn introduced_and_resolved_ignore_message_text() {
        let old = vec![finding("no-limits", "web", "limit 1"), finding("latest-tag", "web", "x")];
        let mut in_ns = finding("no-limits", "web", "limit 2");
        in_ns.namespace = Some("prod".into());
        let new = vec![in_ns, finding("run-as-root", "web", "y")];
        let d = delta(old, new, "prod");
        let rules = |list: &[Finding]| list.iter().map(|f| f.rule.clone()).collect::<Vec<_>>();
        assert_eq!(rules(&d.introduced), ["run-as-root"]);
        assert_eq!(rules(&d.resolved), ["latest-tag"]);
        assert_eq!(rules(&d.unchanged), ["no-limits"]);
    }
}
