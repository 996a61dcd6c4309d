//! Matching the resources of two releases: by API group, kind, namespace and name (the API version
//! may change), giving added, removed and modified resources; a removed and an added resource of
//! the same kind whose content is near-identical get a rename hint (a rename is still remove + add).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::manifest::Resource;

use super::fields::similarity;
use super::volatile::SideResource;

/// How a resource is recognised across renders and releases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub group: String,
    /// Only for resources with a random name (`name` is then a pattern ending in `*`).
    pub template: Option<String>,
}

impl ResourceId {
    pub fn of(r: &Resource) -> ResourceId {
        ResourceId {
            group: r.group().to_string(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone().unwrap_or_default(),
            name: r.name.clone(),
            template: None,
        }
    }
}

/// Objects rendered without `metadata.namespace` land in the release namespace: identify them by
/// it, so a chart that starts writing `namespace: {{ .Release.Namespace }}` changes no identity.
/// (Cluster-scoped objects get it too, on both sides alike, which changes nothing.)
pub fn assume_release_namespace(side: &mut [SideResource], release_namespace: &str) {
    for r in side.iter_mut().filter(|r| r.id.namespace.is_empty()) {
        r.id.namespace = release_namespace.to_string();
    }
}

/// A resource on one or both sides.
#[derive(Debug)]
pub struct Pairing<'a> {
    pub old: Option<&'a SideResource>,
    pub new: Option<&'a SideResource>,
}

/// Pair old and new resources by identity, sorted by kind, namespace and name.
pub fn match_resources<'a>(old: &'a [SideResource], new: &'a [SideResource]) -> Vec<Pairing<'a>> {
    let mut by_id: BTreeMap<&ResourceId, Pairing<'a>> = BTreeMap::new();
    for o in old {
        by_id.entry(&o.id).or_insert(Pairing { old: None, new: None }).old.get_or_insert(o);
    }
    for n in new {
        by_id.entry(&n.id).or_insert(Pairing { old: None, new: None }).new.get_or_insert(n);
    }
    by_id.into_values().collect()
}

/// Content similarity above which a removed and an added resource are hinted as a rename.
pub const RENAME_SIMILARITY: f32 = 0.9;

/// For an added resource, the removed resource of the same group and kind that it most resembles
/// (ignoring names), when near-identical.
pub fn rename_source<'a>(added: &SideResource, removed: &[&'a SideResource]) -> Option<&'a SideResource> {
    let strip = |r: &Resource| -> Value {
        let mut b = r.body.clone();
        if let Some(m) = b.get_mut("metadata").and_then(Value::as_object_mut) {
            m.shift_remove("name");
            m.shift_remove("namespace");
        }
        b
    };
    let new_body = strip(&added.resource);
    removed
        .iter()
        .filter(|r| r.id.group == added.id.group && r.id.kind == added.id.kind)
        .map(|r| (*r, similarity(&strip(&r.resource), &new_body)))
        .filter(|(_, s)| *s >= RENAME_SIMILARITY)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn side(text: &str) -> Vec<SideResource> {
        let m = Manifest::parse(text);
        super::super::volatile::stabilize(&m, &m)
    }

    #[test]
    fn matches_by_group_kind_namespace_name_not_version_or_order() {
        let old = side("apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n");
        let new = side("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh}\n");
        let pairs = match_resources(&old, &new);
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs.iter().filter(|p| p.old.is_some() && p.new.is_some()).count(), 2);
        let hpa = pairs.iter().find(|p| p.old.is_some_and(|o| o.id.kind == "HorizontalPodAutoscaler")).unwrap();
        assert_eq!(hpa.new.unwrap().resource.api_version, "autoscaling/v2");
    }

    #[test]
    fn unset_namespace_is_the_release_namespace() {
        let mut old = side("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n");
        let mut new = side("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: prod}\n");
        assert_eq!(match_resources(&old, &new).len(), 2);
        assume_release_namespace(&mut old, "prod");
        assume_release_namespace(&mut new, "prod");
        assert_eq!(match_resources(&old, &new).len(), 1);
    }

    #[test]
    fn near_identical_add_and_remove_get_a_rename_hint() {
        let data: String = (0..20).map(|i| format!("  k{i}: v{i}\n")).collect();
        let old = side(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-config}}\ndata:\n{data}"));
        let new = side(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-settings}}\ndata:\n{data}  extra: x\n"));
        let other = side("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\ndata: {z: 1}\n");
        let removed: Vec<&SideResource> = old.iter().chain(other.iter()).collect();
        assert_eq!(rename_source(&new[0], &removed).unwrap().id.name, "app-config");
        assert!(rename_source(&other[0], &old.iter().collect::<Vec<_>>()).is_none());
    }
}
