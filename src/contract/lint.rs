//! Contract lint: schema traps that break real users, reported with locations.
//! - a closed root (`additionalProperties: false`) without `global` or `enabled`: Helm copies
//!   `global` into a subchart's values and parents switch it with `<key>.enabled`, so the chart
//!   fails as soon as it is used as a dependency;
//! - a closed object that rejects a dependency's condition key (`kid.enabled`) or its subchart key;
//! - `required` keys that have defaults (editors and `--set` users are told to supply them);
//! - `null` defaults (a null in values deletes the key when Helm coalesces);
//! - remote `$ref`s (fail offline, and Helm 3.18.5+ no longer fetches them);
//! - defaults the contract rejects (helm refuses to render the chart at its own defaults).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::ContractWarning;
use crate::chart::Chart;
use crate::chart::values::{Pos, parse_helm_yaml, pointer_segment, pointer_to_dotted};

/// How the warning about a default the contract rejects begins.
pub const DEFAULTS_REJECTED: &str = "the contract rejects the chart's own default";

/// Lint `schema` (as written, or about to be written, to `schema_file`) for `chart`.
pub fn lint_contract(schema: &Value, schema_file: &Path, schema_text: Option<&str>, chart: &Chart) -> Vec<ContractWarning> {
    let positions: HashMap<String, Pos> = schema_text.and_then(|t| parse_helm_yaml(t, schema_file).ok()).map(|(_, p)| p).unwrap_or_default();
    let schema_line = |ptr: &str| positions.get(ptr).map_or(0, |p| p.line);
    let mut out = Vec::new();
    let at_schema = |ptr: &str, path: Option<String>, message: String| ContractWarning { file: schema_file.to_path_buf(), line: schema_line(ptr), path, message };

    if is_closed(schema) {
        for key in ["global", "enabled"] {
            if !has_property(schema, key) {
                out.push(at_schema(
                    "/additionalProperties",
                    None,
                    format!("closed root (additionalProperties: false) rejects `{key}`: the chart fails when used as a subchart (Helm adds `global`; parents switch dependencies with `<name>.enabled`); list `{key}` in properties"),
                ));
            }
        }
    }
    for sub in &chart.subcharts {
        if is_closed(schema) && !has_property(schema, &sub.key) {
            out.push(at_schema("/additionalProperties", Some(sub.key.clone()), format!("closed root rejects the subchart key `{}`", sub.key)));
        }
        for cond in sub.condition.iter().flat_map(|c| c.split(',')).map(str::trim).filter(|c| !c.is_empty()) {
            if let Some(blocked) = rejected_path(schema, cond) {
                out.push(at_schema(&blocked, Some(cond.to_string()), format!("condition `{cond}` of dependency {} is rejected by a closed object", sub.key)));
            }
        }
    }

    // Required keys that have defaults: one warning for all of them (the first one's location),
    // because a contract may require them on purpose — only `required` stops a user's `null`
    // from deleting a key the templates need.
    let mut required_with_default: Vec<(String, Option<Pos>)> = Vec::new();
    walk_required(schema, "", &mut |_schema_ptr, values_ptr, key| {
        let full = format!("{values_ptr}/{}", pointer_segment(key));
        if chart.values.value.pointer(&full).is_some() {
            required_with_default.push((pointer_to_dotted(&full), chart.values.positions.get(&full)));
        }
    });
    if let Some((first, pos)) = required_with_default.first().cloned() {
        let shown: Vec<&str> = required_with_default.iter().take(6).map(|(p, _)| p.as_str()).collect();
        let more = required_with_default.len().saturating_sub(shown.len());
        out.push(ContractWarning {
            file: chart.values.file.clone(),
            line: pos.map_or(0, |p| p.line),
            path: Some(first),
            message: format!(
                "{} required key(s) have defaults ({}{}): editors that validate a partial values file will ask users to supply them; keep a key required only where deleting it with null must be rejected",
                required_with_default.len(),
                shown.join(", "),
                if more > 0 { format!(", and {more} more") } else { String::new() }
            ),
        });
    }

    let mut nulls = Vec::new();
    find_nulls(&chart.values.value, "", &mut nulls);
    for ptr in nulls.into_iter().filter(|p| !is_typed(schema, p)) {
        out.push(ContractWarning {
            file: chart.values.file.clone(),
            line: chart.values.positions.get(&ptr).map_or(0, |p| p.line),
            path: Some(pointer_to_dotted(&ptr)),
            message: "null default: a null in values deletes the key when Helm coalesces, and its type is unknown; give a typed default or annotate it".into(),
        });
    }

    // The invariant: the chart's own defaults satisfy its contract (inference keeps it, and
    // relaxes annotations that break it; a hand-written keyword can still break it).
    if let Ok(validator) = jsonschema::options().with_draft(super::validation_draft(schema)).build(schema) {
        for e in validator.iter_errors(&chart.values.value).take(20) {
            let ptr = e.instance_path.as_str().to_string();
            let keyword = e.schema_path.as_str().rsplit('/').next().unwrap_or("").to_string();
            out.push(ContractWarning {
                file: chart.values.file.clone(),
                line: chart.values.positions.get(&ptr).map_or(0, |p| p.line),
                path: Some(pointer_to_dotted(&ptr)),
                message: format!("{DEFAULTS_REJECTED} ({e}; `{keyword}` at {}:{}): helm refuses to render the chart at its defaults", schema_file.display(), schema_line(e.schema_path.as_str())),
            });
        }
    }

    let mut refs = Vec::new();
    find_remote_refs(schema, "", &mut refs);
    for (ptr, r) in refs {
        out.push(at_schema(&ptr, None, format!("remote $ref {r}: fails offline and Helm 3.18.5+ does not fetch it; vendor it into $defs")));
    }
    out
}

fn is_closed(schema: &Value) -> bool {
    schema.get("additionalProperties") == Some(&Value::Bool(false)) || schema.get("unevaluatedProperties") == Some(&Value::Bool(false))
}

fn has_property(schema: &Value, key: &str) -> bool {
    schema.get("properties").and_then(|p| p.get(key)).is_some()
        || schema.get("patternProperties").and_then(Value::as_object).is_some_and(|pp| pp.keys().any(|re| regex::Regex::new(re).is_ok_and(|r| r.is_match(key))))
}

/// Schema pointer of the closed object that rejects the dotted `path`, if one does.
fn rejected_path(schema: &Value, path: &str) -> Option<String> {
    let mut node = schema;
    let mut ptr = String::new();
    for seg in path.split('.') {
        if is_closed(node) && !has_property(node, seg) {
            return Some(format!("{ptr}/additionalProperties"));
        }
        match node.get("properties").and_then(|p| p.get(seg)) {
            Some(n) => {
                ptr = format!("{ptr}/properties/{}", pointer_segment(seg));
                node = n;
            }
            None => return None,
        }
    }
    None
}

fn walk_required(schema: &Value, values_ptr: &str, f: &mut dyn FnMut(&str, &str, &str)) {
    fn go(node: &Value, schema_ptr: &str, values_ptr: &str, f: &mut dyn FnMut(&str, &str, &str)) {
        if let Some(req) = node.get("required").and_then(Value::as_array) {
            for k in req.iter().filter_map(Value::as_str) {
                f(schema_ptr, values_ptr, k);
            }
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (k, child) in props {
                go(child, &format!("{schema_ptr}/properties/{}", pointer_segment(k)), &format!("{values_ptr}/{}", pointer_segment(k)), f);
            }
        }
    }
    go(schema, "", values_ptr, f)
}

/// Whether the schema gives the value at `pointer` a type (an annotated null default).
fn is_typed(schema: &Value, pointer: &str) -> bool {
    let mut node = schema;
    for seg in pointer.split('/').skip(1) {
        let key = seg.replace("~1", "/").replace("~0", "~");
        node = match node.get("properties").and_then(|p| p.get(&key)).or_else(|| node.get("items")) {
            Some(n) => n,
            None => return false,
        };
    }
    ["type", "$ref", "enum", "const", "anyOf", "oneOf"].iter().any(|k| node.get(*k).is_some())
}

fn find_nulls(v: &Value, ptr: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(ptr.to_string()),
        Value::Object(m) => m.iter().for_each(|(k, c)| find_nulls(c, &format!("{ptr}/{}", pointer_segment(k)), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| find_nulls(c, &format!("{ptr}/{i}"), out)),
        _ => {}
    }
}

fn find_remote_refs(v: &Value, ptr: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{ptr}/{}", pointer_segment(k));
                match (k.as_str(), c) {
                    ("$ref", Value::String(r)) if !r.starts_with('#') => out.push((p, r.clone())),
                    _ => find_remote_refs(c, &p, out),
                }
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| find_remote_refs(c, &format!("{ptr}/{i}"), out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_trap_is_reported_with_a_location() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Chart.yaml"), "apiVersion: v2\nname: p\nversion: 1.0.0\ndependencies:\n- name: kid\n  version: 0.1.0\n  condition: kid.enabled\n").unwrap();
        std::fs::write(tmp.path().join("values.yaml"), "port: 80\ntag:\nkid:\n  x: 1\ntyped:\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("charts/kid")).unwrap();
        std::fs::write(tmp.path().join("charts/kid/Chart.yaml"), "apiVersion: v2\nname: kid\nversion: 0.1.0\n").unwrap();
        let chart = Chart::load(tmp.path()).unwrap();
        let schema = json!({"type": "object", "additionalProperties": false, "required": ["port"],
            "properties": {"port": {"type": "integer"}, "tag": {}, "typed": {"type": ["string", "null"]}, "kid": {"type": "object", "additionalProperties": false, "properties": {"x": {"$ref": "https://example.com/s.json"}}}}});
        let text = serde_json::to_string_pretty(&schema).unwrap();
        let w = lint_contract(&schema, Path::new("values.schema.json"), Some(&text), &chart);
        let msgs: Vec<String> = w.iter().map(|w| w.to_string()).collect();
        let has = |s: &str| msgs.iter().any(|m| m.contains(s));
        assert!(has("rejects `global`") && has("rejects `enabled`"), "{msgs:#?}");
        assert!(has("condition `kid.enabled`"), "{msgs:#?}");
        assert!(has("values.yaml:1: port: 1 required key(s) have defaults (port)"), "{msgs:#?}");
        assert!(has("values.yaml:2: tag: null default"), "{msgs:#?}");
        assert!(!has("typed: null default"), "an annotated null default is fine: {msgs:#?}");
        assert!(has("remote $ref https://example.com/s.json"), "{msgs:#?}");
        assert!(w.iter().all(|w| w.line > 0), "{msgs:#?}");
    }
}
