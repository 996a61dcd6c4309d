//! Values overrides as Helm sees them: a target set of merged values is reached from the base
//! (chart defaults plus `-f` base values) by a list of key changes, and written as an override
//! whose `null`s delete keys (Helm's coalesce rule). Arrays are replaced whole, so changes stop at
//! object keys.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One key set (or deleted, when `value` is `None`) relative to the base values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    /// Object keys from the root.
    pub path: Vec<String>,
    pub value: Option<ValueKey>,
}

/// A JSON value that can be ordered and hashed (by its canonical text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueKey(pub String);

impl ValueKey {
    pub fn of(v: &Value) -> ValueKey {
        ValueKey(canonical_json(v))
    }
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("canonical JSON")
    }
}

impl Change {
    pub fn set(path: Vec<String>, v: &Value) -> Change {
        Change { path, value: Some(ValueKey::of(v)) }
    }
    pub fn delete(path: Vec<String>) -> Change {
        Change { path, value: None }
    }
    /// `a.b.c` for messages.
    pub fn dotted(&self) -> String {
        dotted(&self.path)
    }
}

pub fn dotted(path: &[String]) -> String {
    path.join(".")
}

/// JSON text with object keys sorted, so equal values have equal text.
pub fn canonical_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).expect("JSON value serializes")
}

/// sha256 of the canonical text, hex.
pub fn value_hash(v: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(v).as_bytes()))
}

/// The base with the changes applied, in order (creating intermediate maps as needed).
pub fn apply_changes(base: &Value, changes: &[Change]) -> Value {
    let mut out = base.clone();
    for c in changes {
        apply_one(&mut out, &c.path, c.value.as_ref().map(ValueKey::value));
    }
    out
}

/// Set (or delete) the value at `path`.
pub fn apply_one(target: &mut Value, path: &[String], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        if let Some(v) = value {
            *target = v;
        }
        return;
    };
    let mut cur = target;
    for seg in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur.as_object_mut().unwrap().entry(seg.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    let map = cur.as_object_mut().unwrap();
    match value {
        Some(v) => {
            map.insert(last.clone(), v);
        }
        None => {
            map.remove(last);
        }
    }
}

/// The smallest list of key changes turning `base` into `target`: maps compared key by key,
/// anything else replaced whole.
pub fn changes_between(base: &Value, target: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    diff_into(base, target, &mut Vec::new(), &mut out);
    out
}

fn diff_into(base: &Value, target: &Value, path: &mut Vec<String>, out: &mut Vec<Change>) {
    match (base, target) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, bv) in b {
                if !t.contains_key(k) && !bv.is_null() {
                    path.push(k.clone());
                    out.push(Change::delete(path.clone()));
                    path.pop();
                }
            }
            for (k, tv) in t {
                path.push(k.clone());
                match b.get(k) {
                    Some(bv) => diff_into(bv, tv, path, out),
                    None => out.push(Change::set(path.clone(), tv)),
                }
                path.pop();
            }
        }
        (b, t) if b != t => out.push(Change::set(path.clone(), t)),
        _ => {}
    }
}

/// The override a user would write for these changes (deleted keys as `null`).
pub fn override_of(changes: &[Change]) -> Value {
    let mut out = Value::Object(Map::new());
    for c in changes {
        apply_one(&mut out, &c.path, Some(c.value.as_ref().map(ValueKey::value).unwrap_or(Value::Null)));
    }
    out
}

/// The override turning `base` into `target`.
pub fn override_between(base: &Value, target: &Value) -> Value {
    override_of(&changes_between(base, target))
}

/// The values Helm renders when asked for `target`: the override turning `base` into it
/// (`override_between`) coalesced over `base`. Not always `target`: a map set whole keeps the
/// keys whose default is `null` (an override cannot delete those, see `diff_into`; Helm 4's
/// `coalesceTablesFullKey` keeps a `null` written over a `null` default), and a `null` set
/// deletes the key (`coalesceValues`). What a case is estimated, validated and told apart by.
pub fn rendered_for(base: &Value, target: &Value) -> Value {
    let mut out = base.clone();
    crate::chart::merge::coalesce(&mut out, &override_between(base, target));
    out
}

/// The values Helm renders for `changes` over `base` (`rendered_for`), and the changes that give
/// exactly those: what a shrinking candidate is validated, told apart and rendered as.
pub fn as_rendered(base: &Value, changes: &[Change]) -> (Value, Vec<Change>) {
    let rendered = rendered_for(base, &apply_changes(base, changes));
    let normalized = changes_between(base, &rendered);
    (rendered, normalized)
}

/// The changes an override makes to `base` (an override read back from a case file).
pub fn changes_of_override(base: &Value, over: &Value) -> Vec<Change> {
    let mut target = base.clone();
    crate::chart::merge::coalesce(&mut target, over);
    changes_between(base, &target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::merge::coalesce;
    use serde_json::json;

    #[test]
    fn override_reaches_target_through_helm_merge() {
        let base = json!({"resources": {"limits": {"cpu": 1}, "requests": {"cpu": 1}}, "list": [1, 2], "flag": true, "keep": 1});
        let target = json!({"resources": {}, "list": [], "flag": false, "keep": 1, "new": {"a": "b"}});
        let over = override_between(&base, &target);
        assert_eq!(over, json!({"resources": {"limits": null, "requests": null}, "list": [], "flag": false, "new": {"a": "b"}}));
        let mut merged = base.clone();
        coalesce(&mut merged, &over);
        assert_eq!(merged, target);
        assert_eq!(changes_of_override(&base, &over), changes_between(&base, &target));
        assert_eq!(apply_changes(&base, &changes_between(&base, &target)), target);
    }

    #[test]
    fn a_map_set_whole_keeps_its_null_defaults_as_rendered() {
        let base = json!({"api": {"dashboard": true, "debug": null}, "name": "x", "port": 1});
        let target = json!({"api": {}, "name": null, "port": 2});
        let rendered = rendered_for(&base, &target);
        assert_eq!(rendered, json!({"api": {"debug": null}, "port": 2}));
        assert_eq!(override_between(&base, &rendered), override_between(&base, &target), "the same override");
        assert_eq!(rendered_for(&base, &rendered), rendered);
        assert_eq!(apply_changes(&base, &changes_between(&base, &rendered)), rendered);
    }

    #[test]
    fn a_candidate_is_taken_as_rendered() {
        let base = json!({"api": {"dashboard": true, "debug": null}, "port": 1});
        // Dropping `api.dashboard` from a case that emptied `api`: the `null` default stays.
        let changes = vec![Change::delete(vec!["api".into(), "dashboard".into()]), Change::delete(vec!["api".into(), "debug".into()])];
        let (rendered, normalized) = as_rendered(&base, &changes);
        assert_eq!(rendered, json!({"api": {"debug": null}, "port": 1}));
        assert_eq!(normalized, vec![Change::delete(vec!["api".into(), "dashboard".into()])]);
        assert_ne!(apply_changes(&base, &changes), rendered, "as planned, not as rendered");
    }

    #[test]
    fn canonical_text_ignores_key_order() {
        assert_eq!(value_hash(&json!({"a": 1, "b": [1, {"x": 1, "y": 2}]})), value_hash(&json!({"b": [1, {"y": 2, "x": 1}], "a": 1})));
    }
}
