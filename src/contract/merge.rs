//! The inferred schema merged into an existing, hand-written values.schema.json: everything the
//! author wrote is kept (enum, pattern, minimum, required, additionalProperties, descriptions,
//! `$ref`/`$defs`, their key order); inference only fills what is missing. Where the schema and
//! the default disagree (schema says integer, the default is a string) the conflict is reported
//! with both locations.
//!
//! Keys deleted from values.yaml: a property of the existing schema that inference no longer
//! produces is dropped when everything in it is what inference writes (`type`, `properties`,
//! `items`, `description`, `required`, the same all the way down): it was inferred from the old
//! values.yaml and nothing hand-written is lost. A property that carries anything else (`enum`,
//! `pattern`, `minimum`, `$ref`, `default`, `additionalProperties`, …) is hand-written and kept,
//! with a note. Nothing is dropped below an opaque node (`$ref`, `allOf`, …), nor from an object
//! inference leaves open (a null default), nor the root's `global`. A hand-written key that holds
//! only a type and a description looks inferred: give it a `title` or `$comment` to keep it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::chart::values::{Pos, ValuesDoc, parse_helm_yaml, pointer_segment, pointer_to_dotted};

/// A hand-written type that the chart's own default does not satisfy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct MergeConflict {
    /// Dotted key path.
    pub path: String,
    pub schema_file: PathBuf,
    /// Line of the schema's `type` (0 when unknown).
    pub schema_line: usize,
    pub values_file: PathBuf,
    pub values_line: usize,
    pub values_column: usize,
    /// The type(s) the schema declares.
    pub schema_type: Value,
    /// The type of the default.
    pub default_type: String,
}

impl fmt::Display for MergeConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: schema says {} at {}:{}, but the default is {} at {}:{}:{} (the schema is kept)",
            self.path,
            self.schema_type,
            self.schema_file.display(),
            self.schema_line,
            self.default_type,
            self.values_file.display(),
            self.values_line,
            self.values_column
        )
    }
}

/// A key of the existing schema that values.yaml no longer has.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleKey {
    /// Dotted key path.
    pub path: String,
    /// Dropped (it was all inferred), or kept (it has hand-written keywords, listed).
    pub kept_for: Vec<String>,
}

impl fmt::Display for StaleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kept_for.is_empty() {
            write!(f, "{}: no longer in values.yaml; its inferred schema is dropped", self.path)
        } else {
            write!(f, "{}: no longer in values.yaml, but kept: its schema has hand-written {} (delete it by hand if the key is gone)", self.path, self.kept_for.join(", "))
        }
    }
}

/// What inference writes into a schema node; anything else in a node was written by hand.
const INFERRED_KEYWORDS: &[&str] = &["type", "properties", "items", "description", "required"];

/// The hand-written keywords in `node` and below it (none: it is all inference's).
fn hand_written_keywords(node: &Value, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else { return };
    for (k, v) in obj {
        match k.as_str() {
            "properties" => v.as_object().into_iter().flatten().for_each(|(_, p)| hand_written_keywords(p, out)),
            "items" if v.is_object() => hand_written_keywords(v, out),
            k if INFERRED_KEYWORDS.contains(&k) => {}
            k => {
                if !out.iter().any(|o| o == k) {
                    out.push(k.to_string());
                }
            }
        }
    }
}

/// An existing schema document and where it lives.
pub struct ExistingSchema<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub schema: &'a Value,
}

/// Fill `existing` with what `inferred` knows and it does not say. Returns the merged schema and
/// the conflicts between hand-written types and the defaults.
pub fn merge_schemas(existing: &ExistingSchema, inferred: &Value, values: &ValuesDoc) -> (Value, Vec<MergeConflict>) {
    let merged = merge_schemas_noting_stale(existing, inferred, values);
    (merged.0, merged.1)
}

/// [`merge_schemas`], also dropping the inferred keys values.yaml no longer has (see the module
/// doc) and returning them, with the hand-written ones that were kept.
pub fn merge_schemas_noting_stale(existing: &ExistingSchema, inferred: &Value, values: &ValuesDoc) -> (Value, Vec<MergeConflict>, Vec<StaleKey>) {
    let positions: HashMap<String, Pos> = parse_helm_yaml(existing.text, existing.file).map(|(_, p)| p).unwrap_or_default();
    let mut ctx = Ctx { existing, positions, values, conflicts: Vec::new(), stale: Vec::new() };
    let mut out = existing.schema.clone();
    ctx.fill(&mut out, inferred, "", "");
    (out, ctx.conflicts, ctx.stale)
}

struct Ctx<'a> {
    existing: &'a ExistingSchema<'a>,
    positions: HashMap<String, Pos>,
    values: &'a ValuesDoc,
    conflicts: Vec<MergeConflict>,
    stale: Vec<StaleKey>,
}

/// Keywords that make a node's shape someone else's business: inference does not add to it.
const OPAQUE: &[&str] = &["$ref", "allOf", "anyOf", "oneOf", "not", "if"];

impl Ctx<'_> {
    fn fill(&mut self, node: &mut Value, inferred: &Value, schema_ptr: &str, value_ptr: &str) {
        let (Some(obj), Some(inf)) = (node.as_object_mut(), inferred.as_object()) else { return };
        let opaque = OPAQUE.iter().any(|k| obj.contains_key(*k));
        // An object inference typed (a map default) lists every key values.yaml has under it.
        let inferred_is_map = inf.contains_key("properties") || inf.get("type").and_then(Value::as_str) == Some("object");
        if !opaque && inferred_is_map && let Some(Value::Object(props)) = obj.get_mut("properties") {
            let inferred_props = inf.get("properties").and_then(Value::as_object);
            // `global` is Helm's own key (copied into every subchart): never stale.
            let gone: Vec<String> = props.keys().filter(|k| !(value_ptr.is_empty() && *k == "global") && inferred_props.is_none_or(|p| !p.contains_key(*k))).cloned().collect();
            for name in gone {
                let mut kept_for = Vec::new();
                hand_written_keywords(&props[&name], &mut kept_for);
                if kept_for.is_empty() {
                    props.remove(&name);
                }
                self.stale.push(StaleKey { path: pointer_to_dotted(&format!("{value_ptr}/{}", pointer_segment(&name))), kept_for });
            }
        }
        for (k, v) in inf {
            match k.as_str() {
                "properties" => {
                    if opaque {
                        continue;
                    }
                    let props = obj.entry("properties").or_insert_with(|| Value::Object(Map::new()));
                    let Some(props) = props.as_object_mut() else { continue };
                    for (name, inferred_prop) in v.as_object().into_iter().flatten() {
                        let sp = format!("{schema_ptr}/properties/{}", pointer_segment(name));
                        let vp = format!("{value_ptr}/{}", pointer_segment(name));
                        match props.get_mut(name) {
                            Some(existing_prop) => self.fill(existing_prop, inferred_prop, &sp, &vp),
                            None => {
                                props.insert(name.clone(), inferred_prop.clone());
                            }
                        }
                    }
                }
                "items" => {
                    if opaque {
                        continue;
                    }
                    match obj.get_mut("items") {
                        Some(existing_items) if existing_items.is_object() => self.fill(existing_items, v, &format!("{schema_ptr}/items"), &format!("{value_ptr}/0")),
                        Some(_) => {}
                        None => {
                            obj.insert("items".into(), v.clone());
                        }
                    }
                }
                "type" => match obj.get("type") {
                    // Judge the default itself when there is one (inference may widen a type).
                    Some(declared) if !type_accepts(declared, &self.default_type(value_ptr).unwrap_or_else(|| v.clone())) => {
                        let default_type = self.default_type(value_ptr).unwrap_or_else(|| v.clone());
                        self.conflict(declared.clone(), &default_type, schema_ptr, value_ptr)
                    }
                    Some(_) => {}
                    None if !opaque && !obj.contains_key("enum") && !obj.contains_key("const") => {
                        obj.insert("type".into(), v.clone());
                    }
                    None => {}
                },
                "required" => {
                    let list = obj.entry("required").or_insert_with(|| Value::Array(Vec::new()));
                    if let (Value::Array(have), Some(add)) = (list, v.as_array()) {
                        for r in add {
                            if !have.contains(r) {
                                have.push(r.clone());
                            }
                        }
                    }
                }
                _ => {
                    if !obj.contains_key(k) && (!opaque || k == "description") {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }

    /// JSON Schema type name of the default at `value_ptr` (none for nulls and missing keys).
    fn default_type(&self, value_ptr: &str) -> Option<Value> {
        let v = self.values.value.pointer(value_ptr).filter(|v| !v.is_null())?;
        Some(Value::String(crate::chart::values::json_type_name(v).into()))
    }

    fn conflict(&mut self, declared: Value, inferred: &Value, schema_ptr: &str, value_ptr: &str) {
        let schema_line = self.positions.get(&format!("{schema_ptr}/type")).or_else(|| self.positions.get(schema_ptr)).map_or(0, |p| p.line);
        let pos = self.values.positions.get(value_ptr).unwrap_or(Pos { line: 0, column: 0 });
        let default_type = match inferred {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.conflicts.push(MergeConflict {
            path: pointer_to_dotted(value_ptr),
            schema_file: self.existing.file.to_path_buf(),
            schema_line,
            values_file: self.values.file.clone(),
            values_line: pos.line,
            values_column: pos.column,
            schema_type: declared,
            default_type,
        });
    }
}

/// Whether a declared `type` accepts every type the inference saw (`number` accepts `integer`).
fn type_accepts(declared: &Value, inferred: &Value) -> bool {
    let declared: Vec<&str> = match declared {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    let inferred: Vec<&str> = match inferred {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    inferred.iter().all(|t| declared.contains(t) || (*t == "integer" && declared.contains(&"number")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hand_written_constraints_are_kept_and_gaps_filled() {
        let text = "{\n  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n  \"type\": \"object\",\n  \"required\": [\"mode\"],\n  \"properties\": {\n    \"mode\": {\"type\": \"string\", \"enum\": [\"a\", \"b\"], \"description\": \"hand\"},\n    \"port\": {\n      \"type\": \"integer\"\n    },\n    \"img\": {\"$ref\": \"#/$defs/img\"}\n  },\n  \"$defs\": {\"img\": {\"type\": \"object\"}}\n}\n";
        let schema: Value = serde_json::from_str(text).unwrap();
        let values = ValuesDoc::parse("mode: a\nport: \"80\"\nimg:\n  tag: x\nextra:\n  on: true\n", Path::new("values.yaml")).unwrap();
        let inferred = json!({"$schema": "x", "type": "object", "properties": {
            "mode": {"type": "string", "description": "inferred"},
            "port": {"type": "string"},
            "img": {"type": "object", "properties": {"tag": {"type": "string"}}},
            "extra": {"type": "object", "properties": {"on": {"type": "boolean"}}}}});
        let existing = ExistingSchema { file: Path::new("values.schema.json"), text, schema: &schema };
        let (merged, conflicts) = merge_schemas(&existing, &inferred, &values);
        assert_eq!(merged["$schema"], json!("http://json-schema.org/draft-07/schema#"));
        assert_eq!(merged["properties"]["mode"], json!({"type": "string", "enum": ["a", "b"], "description": "hand"}));
        assert_eq!(merged["properties"]["img"], json!({"$ref": "#/$defs/img"}));
        assert_eq!(merged["properties"]["extra"]["properties"]["on"]["type"], json!("boolean"));
        assert_eq!(merged["$defs"], json!({"img": {"type": "object"}}));
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let c = &conflicts[0];
        assert_eq!((c.path.as_str(), c.schema_line, c.values_line, c.values_column), ("port", 8, 2, 1));
        assert_eq!(c.to_string(), "port: schema says \"integer\" at values.schema.json:8, but the default is string at values.yaml:2:1 (the schema is kept)");
        // Merging again changes nothing: the result is a fixed point.
        let text2 = serde_json::to_string_pretty(&merged).unwrap();
        let existing2 = ExistingSchema { file: Path::new("values.schema.json"), text: &text2, schema: &merged };
        assert_eq!(merge_schemas(&existing2, &inferred, &values).0, merged);
    }

    #[test]
    fn conflicts_judge_the_default_not_a_widened_inferred_type() {
        let text = r#"{"type": "object", "properties": {"maxUnavailable": {"type": "integer"}}}"#;
        let schema: Value = serde_json::from_str(text).unwrap();
        let values = ValuesDoc::parse("maxUnavailable: 0\n", Path::new("values.yaml")).unwrap();
        let inferred = json!({"type": "object", "properties": {"maxUnavailable": {"type": ["integer", "string"]}}});
        let (_, conflicts) = merge_schemas(&ExistingSchema { file: Path::new("s.json"), text, schema: &schema }, &inferred, &values);
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }

    #[test]
    fn keys_deleted_from_values_are_dropped_unless_hand_written() {
        let text = r##"{"type": "object", "properties": {
            "kept": {"type": "integer"},
            "gone": {"type": "object", "description": "old", "properties": {"x": {"type": "string"}}},
            "mine": {"type": "string", "pattern": "^a"},
            "nested": {"type": "object", "properties": {"old": {"type": "boolean"}, "ref": {"$ref": "#/$defs/r"}}},
            "open": {"properties": {"any": {"type": "string"}}}},
            "$defs": {"r": {"type": "string"}}}"##;
        let schema: Value = serde_json::from_str(text).unwrap();
        let values = ValuesDoc::parse("kept: 1
nested:
  new: 2
open:
", Path::new("values.yaml")).unwrap();
        let inferred = json!({"type": "object", "properties": {"kept": {"type": "integer"}, "nested": {"type": "object", "properties": {"new": {"type": "integer"}}}, "open": {}}});
        let (merged, _, stale) = merge_schemas_noting_stale(&ExistingSchema { file: Path::new("s.json"), text, schema: &schema }, &inferred, &values);
        let props = merged["properties"].as_object().unwrap();
        assert!(!props.contains_key("gone"));
        assert_eq!(props["mine"], json!({"type": "string", "pattern": "^a"}));
        assert_eq!(merged["properties"]["nested"]["properties"], json!({"ref": {"$ref": "#/$defs/r"}, "new": {"type": "integer"}}));
        assert_eq!(merged["properties"]["open"]["properties"]["any"], json!({"type": "string"}), "a null default leaves the object open: its keys are hand-written");
        let shown: Vec<String> = stale.iter().map(|s| s.to_string()).collect();
        assert!(shown.contains(&"gone: no longer in values.yaml; its inferred schema is dropped".to_string()), "{shown:#?}");
        assert!(shown.iter().any(|s| s.starts_with("mine: no longer in values.yaml, but kept: its schema has hand-written pattern")), "{shown:#?}");
        assert!(shown.iter().any(|s| s.starts_with("nested.ref: no longer in values.yaml, but kept: its schema has hand-written $ref")), "{shown:#?}");
        assert!(shown.contains(&"nested.old: no longer in values.yaml; its inferred schema is dropped".to_string()), "{shown:#?}");
    }

    #[test]
    fn number_accepts_integer() {
        assert!(type_accepts(&json!("number"), &json!("integer")));
        assert!(type_accepts(&json!(["string", "null"]), &json!("string")));
        assert!(!type_accepts(&json!("integer"), &json!("number")));
    }
}
