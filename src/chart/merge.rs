//! Helm's values merge: user values coalesced over chart defaults, maps merged key by key,
//! a `null` from the user deleting the default, and files and `--set` applied in order.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value};

use super::setvals::{SetArg, apply_set};
use super::values::ValuesDoc;

/// Where a value of the merged set came from, for error locations.
#[derive(Debug, Clone)]
pub enum ValuesSource {
    /// A values file (chart defaults or `-f`).
    File(ValuesDoc),
    /// One `--set`/`--set-string` argument.
    Set(SetArg),
}

/// Coalesce `over` onto `base` the way Helm does for user-supplied values: nested maps merge,
/// anything else replaces, and `null` removes the key.
pub fn coalesce(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => coalesce_maps(b, o),
        (b, o) => *b = o.clone(),
    }
}

fn coalesce_maps(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        if v.is_null() {
            base.remove(k);
            continue;
        }
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => coalesce_maps(b, o),
            _ => {
                base.insert(k.clone(), strip_nulls(v));
            }
        }
    }
}

/// A value inserted fresh keeps no null map entries (Helm deletes them while coalescing).
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip_nulls(v))).collect()),
        other => other.clone(),
    }
}

/// The values a user supplies, in Helm's order: `-f` files first (in order), then `--set`.
#[derive(Debug, Clone, Default)]
pub struct UserValues {
    pub files: Vec<ValuesDoc>,
    pub sets: Vec<SetArg>,
}

impl UserValues {
    /// Load `-f` files and parse `--set`/`--set-string` arguments.
    pub fn load(files: &[PathBuf], sets: &[String], set_strings: &[String]) -> Result<UserValues> {
        let mut docs = Vec::new();
        for f in files {
            docs.push(ValuesDoc::load(f)?);
        }
        let mut parsed = Vec::new();
        for s in sets {
            parsed.push(SetArg::parse(s, false)?);
        }
        for s in set_strings {
            parsed.push(SetArg::parse(s, true)?);
        }
        Ok(UserValues { files: docs, sets: parsed })
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.sets.is_empty()
    }

    /// The user's values merged among themselves (what Helm calls the override), without defaults.
    pub fn overrides(&self) -> Value {
        let mut out = Value::Object(Map::new());
        for f in &self.files {
            coalesce_user(&mut out, &f.value);
        }
        for s in &self.sets {
            apply_set(&mut out, s);
        }
        out
    }

    /// Chart defaults with the user's values coalesced over them.
    pub fn merged_over(&self, defaults: &Value) -> Value {
        let mut merged = defaults.clone();
        coalesce(&mut merged, &self.overrides());
        merged
    }
}

/// Merge one user file over another: later files win, nulls are kept so they can delete defaults.
fn coalesce_user(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match (b.get_mut(k), v) {
                    (Some(bv @ Value::Object(_)), Value::Object(_)) => coalesce_user(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_deletes_and_maps_merge() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 5});
        coalesce(&mut base, &json!({"a": {"c": null, "x": 3}, "d": [9], "e": null}));
        assert_eq!(base, json!({"a": {"b": 1, "x": 3}, "d": [9]}));
    }

    #[test]
    fn files_then_sets_in_order() {
        let f1 = ValuesDoc::parse("a: 1\nb: {c: 1}\n", std::path::Path::new("1.yaml")).unwrap();
        let f2 = ValuesDoc::parse("a: 2\nb: {d: 2}\n", std::path::Path::new("2.yaml")).unwrap();
        let uv = UserValues { files: vec![f1, f2], sets: vec![SetArg::parse("a=3", false).unwrap()] };
        assert_eq!(uv.merged_over(&json!({"z": 0})), json!({"z": 0, "a": 3, "b": {"c": 1, "d": 2}}));
    }
}
