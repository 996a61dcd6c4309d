//! Volatile output: each side is rendered twice with the same input; whatever differs between the
//! two renders (random passwords, generated certificates, checksums over them, random name
//! suffixes) is volatile and is never reported as a change between releases. Document order never
//! matters: resources are paired by identity, not position.

use std::collections::{BTreeMap, HashMap};

use crate::manifest::{Manifest, Resource};

use super::fields::{FieldPath, diff_values};
use super::resources::ResourceId;

/// One resource of a side, with its stable identity and the paths that change from render to render.
#[derive(Debug, Clone)]
pub struct SideResource {
    pub id: ResourceId,
    pub resource: Resource,
    pub volatile: Vec<FieldPath>,
}

/// Pair the resources of two renders of the same input and find their volatile paths.
/// Resources whose names differ between the renders (random suffixes) are paired within their
/// template and identified by the stable part of the name (`release-test-*`).
pub fn stabilize(first: &Manifest, second: &Manifest) -> Vec<SideResource> {
    let mut unused: HashMap<_, Vec<usize>> = HashMap::new();
    for (i, r) in second.resources.iter().enumerate() {
        unused.entry(r.key()).or_default().push(i);
    }
    let mut paired: Vec<(usize, Option<usize>)> = Vec::new();
    let mut left_first = Vec::new();
    for (i, r) in first.resources.iter().enumerate() {
        match unused.get_mut(&r.key()).filter(|v| !v.is_empty()) {
            Some(v) => paired.push((i, Some(v.remove(0)))),
            None => left_first.push(i),
        }
    }
    // Renamed between renders: pair leftovers by group, kind, namespace and template, in document order.
    let mut left_second: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    let mut rest: Vec<usize> = unused.into_values().flatten().collect();
    rest.sort();
    for i in rest {
        left_second.entry(loose_key(&second.resources[i])).or_default().push(i);
    }
    let mut out = Vec::new();
    for (i, j) in paired {
        out.push(side_resource(&first.resources[i], j.map(|j| &second.resources[j]), false));
    }
    for i in left_first {
        let r = &first.resources[i];
        let j = left_second.get_mut(&loose_key(r)).filter(|v| !v.is_empty()).map(|v| v.remove(0));
        out.push(side_resource(r, j.map(|j| &second.resources[j]), true));
    }
    out
}

fn loose_key(r: &Resource) -> (String, String, String, Option<String>) {
    (r.group().to_string(), r.kind.clone(), r.namespace.clone().unwrap_or_default(), r.template.clone())
}

fn side_resource(a: &Resource, b: Option<&Resource>, renamed: bool) -> SideResource {
    let mut id = ResourceId::of(a);
    if let (true, Some(b)) = (renamed, b) {
        id.name = name_pattern(&a.name, &b.name);
        id.template = a.template.clone();
    }
    let volatile = b.map(|b| diff_values(&a.body, &b.body).into_iter().map(|c| c.path).collect()).unwrap_or_default();
    SideResource { id, resource: a.clone(), volatile }
}

/// The stable part of two random names, up to the last separator, followed by `*`.
pub fn name_pattern(a: &str, b: &str) -> String {
    let common: String = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).map(|(x, _)| x).collect();
    let cut = common.rfind(|c: char| !c.is_ascii_alphanumeric()).map(|i| i + 1).unwrap_or(0);
    format!("{}*", &common[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(password: &str, suffix: &str) -> Manifest {
        Manifest::parse(&format!(
            "---\n# Source: c/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: {password}\n  user: YQ==\n---\n# Source: c/templates/tests/t.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: rel-test-{suffix}\nspec:\n  containers: []\n---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n"
        ))
    }

    #[test]
    fn random_values_and_names_are_volatile() {
        let side = stabilize(&manifest("cDE=", "ab12x"), &manifest("cDI=", "zz9q1"));
        assert_eq!(side.len(), 3);
        let secret = side.iter().find(|s| s.id.kind == "Secret").unwrap();
        assert_eq!(secret.volatile.iter().map(|p| p.to_string()).collect::<Vec<_>>(), ["data.password"]);
        let pod = side.iter().find(|s| s.id.kind == "Pod").unwrap();
        assert_eq!(pod.id.name, "rel-test-*");
        assert_eq!(pod.volatile.iter().map(|p| p.to_string()).collect::<Vec<_>>(), ["metadata.name"]);
        assert!(side.iter().find(|s| s.id.kind == "ConfigMap").unwrap().volatile.is_empty());
    }

    #[test]
    fn name_patterns_stop_at_a_separator() {
        assert_eq!(name_pattern("rel-test-abc12", "rel-test-abz99"), "rel-test-*");
        assert_eq!(name_pattern("x1", "y2"), "*");
    }
}
