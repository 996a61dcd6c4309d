//! Field-level semantic diff of two Kubernetes objects: paths like
//! `spec.template.spec.containers[name=app].image`, list items matched by their merge key where
//! Kubernetes merges lists by key (containers, env, volumes by `name`; volumeMounts by `mountPath`…),
//! plus the unified text diff of the two objects as YAML.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// A list item found by its merge key, e.g. `[name=app]`.
    Item { key: String, value: String },
}

/// A path inside an object, displayed as `spec.template.spec.containers[name=app].image`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn child(&self, seg: Seg) -> FieldPath {
        let mut v = self.0.clone();
        v.push(seg);
        FieldPath(v)
    }

    pub fn key(&self, k: &str) -> FieldPath {
        self.child(Seg::Key(k.to_string()))
    }

    /// Whether `self` is `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }

    /// Whether the first segments are these keys (`["spec", "selector"]`).
    pub fn starts_with_keys(&self, keys: &[&str]) -> bool {
        self.0.len() >= keys.len() && self.0.iter().zip(keys).all(|(s, k)| matches!(s, Seg::Key(x) if x == k))
    }

    /// The value at this path, if it exists.
    pub fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut cur = root;
        for seg in &self.0 {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get(k)?,
                (Seg::Index(i), Value::Array(a)) => a.get(*i)?,
                (Seg::Item { key, value }, Value::Array(a)) => a.iter().find(|it| item_key(it, key).as_deref() == Some(value))?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Set (or with `None`, remove) the value at this path. Missing parents are created for map keys;
    /// a missing list item is appended. Returns false when the path cannot exist in `root`.
    pub fn set(&self, root: &mut Value, value: Option<Value>) -> bool {
        let Some((last, parents)) = self.0.split_last() else {
            if let Some(v) = value {
                *root = v;
            }
            return true;
        };
        let mut cur = root;
        for seg in parents {
            cur = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.entry(k.clone()).or_insert_with(|| Value::Object(Map::new())),
                (Seg::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                    Some(v) => v,
                    None => return false,
                },
                (Seg::Item { key, value }, Value::Array(a)) => match a.iter_mut().find(|it| item_key(it, key).as_deref() == Some(value)) {
                    Some(v) => v,
                    None => return false,
                },
                _ => return false,
            };
        }
        match (last, cur, value) {
            (Seg::Key(k), Value::Object(m), Some(v)) => {
                m.insert(k.clone(), v);
            }
            (Seg::Key(k), Value::Object(m), None) => {
                m.shift_remove(k);
            }
            (Seg::Index(i), Value::Array(a), Some(v)) => match a.get_mut(*i) {
                Some(slot) => *slot = v,
                None => a.push(v),
            },
            (Seg::Index(i), Value::Array(a), None) => {
                if *i < a.len() {
                    a.remove(*i);
                }
            }
            (Seg::Item { key, value: name }, Value::Array(a), v) => {
                let pos = a.iter().position(|it| item_key(it, key).as_deref() == Some(name));
                match (pos, v) {
                    (Some(p), Some(v)) => a[p] = v,
                    (None, Some(v)) => a.push(v),
                    (Some(p), None) => {
                        a.remove(p);
                    }
                    (None, None) => {}
                }
            }
            _ => return false,
        }
        true
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Item { key, value } => write!(f, "[{key}={value}]")?,
            }
        }
        Ok(())
    }
}

/// What happened to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between two objects, before noise filtering and redaction.
#[derive(Debug, Clone, PartialEq)]
pub struct RawChange {
    pub path: FieldPath,
    pub kind: FieldChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The key Kubernetes merges the items of the list at `list_key` by (strategic merge patch), if any.
fn merge_key_for(list_key: Option<&str>) -> &'static [&'static str] {
    match list_key {
        Some("volumeMounts") | Some("volumeDevices") => &["mountPath", "devicePath"],
        Some("ports") => &["containerPort", "port", "name"],
        Some("hostAliases") => &["ip"],
        Some("topologySpreadConstraints") => &["topologyKey"],
        Some("volumeClaimTemplates") => &["metadata.name"],
        _ => &["name"],
    }
}

/// The merge-key value of a list item as a string (`name: app` -> `app`); a dotted key
/// (`metadata.name`) is looked up below the item.
fn item_key(item: &Value, key: &str) -> Option<String> {
    let value = key.split('.').try_fold(item, |v, k| v.get(k))?;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The merge key that identifies every item of both lists uniquely, if there is one.
fn list_merge_key(list_key: Option<&str>, old: &[Value], new: &[Value]) -> Option<&'static str> {
    merge_key_for(list_key).iter().copied().find(|key| {
        [old, new].iter().all(|items| {
            let mut seen = std::collections::HashSet::new();
            items.iter().all(|it| item_key(it, key).is_some_and(|k| seen.insert(k)))
        }) && !(old.is_empty() && new.is_empty())
    })
}

/// Every difference between `old` and `new`, deepest first-differing paths, in document order.
pub fn diff_values(old: &Value, new: &Value) -> Vec<RawChange> {
    let mut out = Vec::new();
    diff_at(&FieldPath::default(), old, new, &mut out);
    out
}

fn diff_at(path: &FieldPath, old: &Value, new: &Value, out: &mut Vec<RawChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, ov) in o {
                match n.get(k) {
                    Some(nv) => diff_at(&path.key(k), ov, nv, out),
                    None => out.push(RawChange { path: path.key(k), kind: FieldChangeKind::Removed, old: Some(ov.clone()), new: None }),
                }
            }
            for (k, nv) in n {
                if !o.contains_key(k) {
                    out.push(RawChange { path: path.key(k), kind: FieldChangeKind::Added, old: None, new: Some(nv.clone()) });
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            let list_key = path.0.last().and_then(|s| if let Seg::Key(k) = s { Some(k.as_str()) } else { None });
            if let Some(key) = list_merge_key(list_key, o, n) {
                for ov in o {
                    let name = item_key(ov, key).unwrap();
                    let p = path.child(Seg::Item { key: key.to_string(), value: name.clone() });
                    match n.iter().find(|nv| item_key(nv, key).as_deref() == Some(&name)) {
                        Some(nv) => diff_at(&p, ov, nv, out),
                        None => out.push(RawChange { path: p, kind: FieldChangeKind::Removed, old: Some(ov.clone()), new: None }),
                    }
                }
                for nv in n {
                    let name = item_key(nv, key).unwrap();
                    if !o.iter().any(|ov| item_key(ov, key).as_deref() == Some(&name)) {
                        let p = path.child(Seg::Item { key: key.to_string(), value: name });
                        out.push(RawChange { path: p, kind: FieldChangeKind::Added, old: None, new: Some(nv.clone()) });
                    }
                }
            } else {
                for i in 0..o.len().max(n.len()) {
                    let p = path.child(Seg::Index(i));
                    match (o.get(i), n.get(i)) {
                        (Some(ov), Some(nv)) => diff_at(&p, ov, nv, out),
                        (Some(ov), None) => out.push(RawChange { path: p, kind: FieldChangeKind::Removed, old: Some(ov.clone()), new: None }),
                        (None, Some(nv)) => out.push(RawChange { path: p, kind: FieldChangeKind::Added, old: None, new: Some(nv.clone()) }),
                        (None, None) => {}
                    }
                }
            }
        }
        _ => out.push(RawChange { path: path.clone(), kind: FieldChangeKind::Changed, old: Some(old.clone()), new: Some(new.clone()) }),
    }
}

/// Remove map entries whose value is null, at every depth.
pub fn drop_null_entries(value: &mut Value) {
    match value {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_null_entries);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_null_entries),
        _ => {}
    }
}

/// Every leaf path under `value` (the path itself for scalars and empty containers).
pub fn leaf_paths(path: &FieldPath, value: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    collect_leaves(path, value, &mut out);
    out
}

fn collect_leaves(path: &FieldPath, value: &Value, out: &mut Vec<FieldPath>) {
    match value {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, v)| collect_leaves(&path.key(k), v, out)),
        Value::Array(a) if !a.is_empty() => a.iter().enumerate().for_each(|(i, v)| collect_leaves(&path.child(Seg::Index(i)), v, out)),
        _ => out.push(path.clone()),
    }
}

/// An object as YAML text, the way the text diff shows it.
pub fn to_yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("# cannot show as YAML: {e}\n"))
}

/// Unified diff of two objects' YAML with `context` lines around each change.
pub fn unified_text_diff(old: &Value, new: &Value, context: usize, old_name: &str, new_name: &str) -> String {
    let (a, b) = (to_yaml(old), to_yaml(new));
    similar::TextDiff::from_lines(&a, &b).unified_diff().context_radius(context).header(old_name, new_name).to_string()
}

/// How alike two objects are as text, 0.0..=1.0.
pub fn similarity(old: &Value, new: &Value) -> f32 {
    let (a, b) = (to_yaml(old), to_yaml(new));
    similar::TextDiff::from_lines(&a, &b).ratio()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(changes: &[RawChange]) -> Vec<String> {
        changes.iter().map(|c| c.path.to_string()).collect()
    }

    #[test]
    fn containers_and_env_match_by_name_regardless_of_order() {
        let old = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "s:1"},
            {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
        ]}}}});
        let new = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:2", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}, {"name": "C", "value": "3"}]},
            {"name": "sidecar", "image": "s:1"}
        ]}}}});
        let changes = diff_values(&old, &new);
        assert_eq!(
            paths(&changes),
            ["spec.template.spec.containers[name=app].image", "spec.template.spec.containers[name=app].env[name=C]"]
        );
        assert_eq!(changes[0].kind, FieldChangeKind::Changed);
        assert_eq!(changes[1].kind, FieldChangeKind::Added);
        assert_eq!(changes[1].new, Some(json!({"name": "C", "value": "3"})));
    }

    #[test]
    fn mounts_by_mount_path_and_plain_lists_by_index() {
        let old = json!({"volumeMounts": [{"mountPath": "/a", "name": "x"}], "args": ["--a", "--b"]});
        let new = json!({"volumeMounts": [{"mountPath": "/a", "name": "y"}], "args": ["--a"]});
        assert_eq!(paths(&diff_values(&old, &new)), ["volumeMounts[mountPath=/a].name", "args[1]"]);
    }

    #[test]
    fn claim_templates_match_by_metadata_name() {
        let old = json!({"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"size": 1}}, {"metadata": {"name": "logs"}}]});
        let new = json!({"volumeClaimTemplates": [{"metadata": {"name": "logs"}}, {"metadata": {"name": "data"}, "spec": {"size": 2}}]});
        let changes = diff_values(&old, &new);
        assert_eq!(paths(&changes), ["volumeClaimTemplates[metadata.name=data].spec.size"]);
        assert_eq!(changes[0].path.get(&new), Some(&json!(2)));
    }

    #[test]
    fn get_and_set_follow_named_items() {
        let mut v = json!({"c": [{"name": "app", "image": "a"}]});
        let p = FieldPath(vec![Seg::Key("c".into()), Seg::Item { key: "name".into(), value: "app".into() }, Seg::Key("image".into())]);
        assert_eq!(p.get(&v), Some(&json!("a")));
        assert!(p.set(&mut v, Some(json!("b"))));
        assert_eq!(v["c"][0]["image"], "b");
        assert!(p.set(&mut v, None));
        assert_eq!(v, json!({"c": [{"name": "app"}]}));
    }

    #[test]
    fn null_entries_are_absent_entries() {
        let mut v = json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}], "g": [null]});
        drop_null_entries(&mut v);
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}], "g": [null]}));
    }

    #[test]
    fn text_diff_has_context_and_headers() {
        let old = json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5});
        let new = json!({"a": 1, "b": 2, "c": 30, "d": 4, "e": 5});
        let t = unified_text_diff(&old, &new, 1, "old", "new");
        assert!(t.contains("--- old") && t.contains("+++ new"), "{t}");
        assert!(t.contains("-c: 3\n+c: 30\n"), "{t}");
        assert!(t.contains(" b: 2\n") && !t.contains(" a: 1\n"), "{t}");
    }
}
