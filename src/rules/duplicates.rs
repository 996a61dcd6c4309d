//! `duplicate-resource`: two documents of the release define the same object (API group, kind,
//! namespace, name). Reported once per extra copy, naming every template involved.

use std::collections::BTreeMap;

use super::Sink;
use crate::manifest::{Manifest, Resource};

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    let mut groups: BTreeMap<(String, String, String, String), Vec<&Resource>> = BTreeMap::new();
    for r in &manifest.resources {
        groups.entry(r.key()).or_default().push(r);
    }
    for (_, group) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
        let mut templates: Vec<String> = group.iter().map(|r| r.template.clone().unwrap_or_else(|| "(no template)".into())).collect();
        templates.sort();
        // Report on a representative chosen independently of document order.
        let first = group.iter().min_by_key(|r| (r.template.clone(), r.api_version.clone())).unwrap();
        sink.report(first, "duplicate-resource", None, format!("{} documents define {} ({})", group.len(), first.display_id(), templates.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    #[test]
    fn same_identity_across_versions_is_duplicate() {
        let a = "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        let b = "---\n# Source: c/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        let other_ns = "---\n# Source: c/templates/c.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: other}\n";
        let f = rules_hit(&format!("{a}{b}{other_ns}"), "duplicate-resource");
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("c/templates/a.yaml, c/templates/b.yaml"));
        assert_eq!(rules_hit(&format!("{b}{a}"), "duplicate-resource"), f);
    }
}
