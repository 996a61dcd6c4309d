//! A JSON Schema inferred from a chart's default values: scalar types (integer vs number kept
//! apart), nested objects, arrays with an item schema unified from their elements, `null`
//! defaults left open (type unknown), empty maps and lists left open and reported as weakly typed.
//! Comment annotations refine it, and subcharts' schemas are nested under their key.

use serde_json::{Map, Value, json};

use super::annotate::{Annotation, read_annotations};
use super::{ContractWarning, Draft};
use crate::chart::Chart;
use crate::chart::values::{ValuesDoc, pointer_segment, pointer_to_dotted};

/// How inference types a string default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringTyping {
    /// What users could already pass for the key before the chart had a schema: Helm's `--set`
    /// turns `1234` into an integer (and `true`/`false` into booleans), so a string default
    /// accepts an integer too, and a boolean when the default itself reads `true` or `false`.
    #[default]
    AsSetTypes,
    /// Exactly `string` (users pass numbers with `--set-string`).
    Strict,
}

/// An inferred schema and what the inference noticed on the way.
#[derive(Debug, Clone)]
pub struct InferredSchema {
    pub schema: Value,
    pub warnings: Vec<ContractWarning>,
}

/// The schema of a chart including its subcharts (each nested under its key, using the
/// subchart's shipped values.schema.json when it has one), with `$schema` for `draft`.
pub fn infer_schema(chart: &Chart, draft: Draft, typing: StringTyping) -> InferredSchema {
    let mut out = infer_own_schema(chart, draft, typing);
    for sub in &chart.subcharts {
        let (sub_schema, warnings) = subchart_schema(&sub.chart, draft, typing);
        out.warnings.extend(warnings);
        nest_subchart_schema(&mut out.schema, &sub.key, &sub_schema, sub.condition.as_deref());
    }
    out
}

fn subchart_schema(chart: &Chart, draft: Draft, typing: StringTyping) -> (Value, Vec<ContractWarning>) {
    let path = chart.schema_path();
    if path.exists()
        && let Ok(mut shipped) = super::read_schema_file(&path)
    {
        for sub in &chart.subcharts {
            let (s, _) = subchart_schema(&sub.chart, draft, typing);
            nest_subchart_schema(&mut shipped, &sub.key, &s, sub.condition.as_deref());
        }
        return (shipped, Vec::new());
    }
    let inferred = infer_schema(chart, draft, typing);
    (inferred.schema, inferred.warnings)
}

/// The schema of the chart's own values.yaml (annotations applied, subcharts not nested).
pub fn infer_own_schema(chart: &Chart, draft: Draft, typing: StringTyping) -> InferredSchema {
    infer_values_schema(&chart.values, draft, typing)
}

/// Infer the schema of one values document, reading its comment annotations from the file.
pub fn infer_values_schema(doc: &ValuesDoc, draft: Draft, typing: StringTyping) -> InferredSchema {
    let mut warnings = Vec::new();
    let mut body = infer_value(&doc.value, "", doc, typing, &mut warnings);
    if let Ok(text) = std::fs::read_to_string(&doc.file) {
        let annotations = read_annotations(doc, &text);
        warnings.extend(annotations.warnings);
        let annotation_lines: std::collections::HashMap<String, usize> = annotations.by_pointer.iter().map(|(p, a)| (p.clone(), a.line)).collect();
        let mut pointers: Vec<_> = annotations.by_pointer.into_iter().collect();
        pointers.sort_by(|a, b| a.0.cmp(&b.0));
        for (pointer, mut ann) in pointers {
            // Keywords that are not valid JSON Schema (`type: strng`) would make the whole schema
            // unusable: they are dropped with a warning instead.
            if let Err(e) = jsonschema::draft7::meta::validate(&Value::Object(ann.keywords.clone())) {
                warnings.push(ContractWarning {
                    file: doc.file.clone(),
                    line: ann.line,
                    path: Some(pointer_to_dotted(&pointer)),
                    message: format!("annotation is not valid JSON Schema ({e}); its keywords are ignored"),
                });
                ann.keywords.clear();
            }
            // An annotation that types the key answers its "weakly typed" warning.
            if ["type", "items", "properties", "additionalProperties", "$ref", "enum", "const", "oneOf", "anyOf"].iter().any(|k| ann.keywords.contains_key(*k)) {
                let dotted = pointer_to_dotted(&pointer);
                warnings.retain(|w| !(w.path.as_deref() == Some(dotted.as_str()) && w.message.starts_with("weakly typed")));
            }
            if !apply_annotation(&mut body, &doc.value, &pointer, &ann) {
                warnings.push(ContractWarning {
                    file: doc.file.clone(),
                    line: ann.line,
                    path: Some(pointer_to_dotted(&pointer)),
                    message: "annotation for a key that values.yaml does not have (ignored)".into(),
                });
            }
        }
        warnings.extend(accept_the_defaults(&mut body, doc, &annotation_lines));
    }
    let mut schema = Map::new();
    schema.insert("$schema".into(), Value::String(draft.uri().into()));
    if let Value::Object(b) = body {
        schema.extend(b);
    }
    InferredSchema { schema: Value::Object(schema), warnings }
}

/// The invariant of an inferred contract: the chart's own defaults satisfy it (else `validate`
/// rejects them and, once written, helm refuses to render the chart). Inference alone keeps it;
/// an annotation can break it (bitnami `## @param extraVolumes [object]` above `extraVolumes: []`).
/// Each keyword that rejects a default is relaxed so the default wins: a `type` gets the
/// default's type added to its list, an `enum` gets the default added, any other keyword is
/// dropped. Each relaxation is a warning at the annotation's line naming the contradiction.
/// Works on the schema the annotations produced, so every dialect is covered alike.
fn accept_the_defaults(schema: &mut Value, doc: &ValuesDoc, annotation_lines: &std::collections::HashMap<String, usize>) -> Vec<ContractWarning> {
    let mut warnings = Vec::new();
    // A relaxation can only expose a keyword below it; the depth of the schema bounds the rounds.
    for _ in 0..32 {
        let Ok(validator) = jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(schema) else { break };
        let errors: Vec<(String, String)> = validator.iter_errors(&doc.value).map(|e| (e.instance_path.as_str().to_string(), e.schema_path.as_str().to_string())).collect();
        if errors.is_empty() {
            break;
        }
        let mut changed = false;
        for (instance, schema_path) in errors {
            let Some((node_ptr, keyword)) = schema_path.rsplit_once('/') else { continue };
            let default = doc.value.pointer(&instance).cloned().unwrap_or(Value::Null);
            let Some(node) = schema.pointer_mut(node_ptr).and_then(Value::as_object_mut) else { continue };
            let Some(said) = node.get(keyword).cloned() else { continue };
            let default_type = crate::chart::values::json_type_name(&default);
            let relaxed = match keyword {
                "type" => {
                    let mut types: Vec<Value> = match &said {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    types.push(Value::String(default_type.into()));
                    node.insert("type".into(), Value::Array(types));
                    format!("the default's type ({default_type}) joins the type list")
                }
                "enum" => {
                    if let Some(Value::Array(items)) = node.get_mut("enum") {
                        items.push(default.clone());
                    }
                    "the default joins the enum".to_string()
                }
                _ => {
                    node.remove(keyword);
                    format!("`{keyword}` is dropped")
                }
            };
            changed = true;
            // The annotation nearest above the value that carries the keyword: its own, else
            // the closest annotated parent's (a `required` or `properties` written on the parent).
            let mut at = instance.clone();
            let line = loop {
                if let Some(l) = annotation_lines.get(&at).filter(|l| **l > 0) {
                    break *l;
                }
                match at.rsplit_once('/') {
                    Some((parent, _)) if !at.is_empty() => at = parent.to_string(),
                    _ => break doc.positions.get(&instance).map_or(0, |p| p.line),
                }
            };
            let shown = serde_json::to_string(&default).unwrap_or_default();
            let shown = shortened(shown, 40);
            warnings.push(ContractWarning {
                file: doc.file.clone(),
                line,
                path: Some(pointer_to_dotted(&instance)),
                message: format!(
                    "annotation contradicts the default: `{keyword}: {said}` rejects the default {shown} ({default_type}); {relaxed} so the chart's own defaults stay valid; fix the annotation or the default"
                ),
            });
        }
        if !changed {
            break;
        }
    }
    warnings
}

/// Kubernetes IntOrString fields charts pass through: a default of `0` must not forbid `25%`.
const INT_OR_STRING_KEYS: &[&str] = &["maxSurge", "maxUnavailable", "minAvailable", "targetPort"];

/// Schema of one value. `pointer` locates it in `doc` for warnings.
fn infer_value(v: &Value, pointer: &str, doc: &ValuesDoc, typing: StringTyping, warnings: &mut Vec<ContractWarning>) -> Value {
    let weak = |warnings: &mut Vec<ContractWarning>, what: &str| {
        let line = doc.positions.get(pointer).map(|p| p.line).unwrap_or(0);
        warnings.push(ContractWarning {
            file: doc.file.clone(),
            line,
            path: Some(pointer_to_dotted(pointer)),
            message: format!("weakly typed: {what}; any content is allowed (annotate it, e.g. `# @schema type:…`)"),
        });
    };
    match v {
        // Null defaults are reported by the contract lint (unless annotated with a type).
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_f64() => json!({"type": "number"}),
        Value::Number(_) => json!({"type": "integer"}),
        Value::String(s) => string_schema(s, typing),
        Value::Array(items) => {
            if items.is_empty() {
                weak(warnings, "empty list");
                return json!({"type": "array"});
            }
            let mut item_schema: Option<Value> = None;
            for (i, item) in items.iter().enumerate() {
                let s = infer_value(item, &format!("{pointer}/{i}"), doc, typing, warnings);
                item_schema = Some(match item_schema {
                    None => s,
                    Some(prev) => union(prev, s),
                });
            }
            json!({"type": "array", "items": item_schema.unwrap()})
        }
        Value::Object(map) => {
            if map.is_empty() {
                weak(warnings, "empty map");
                return json!({"type": "object"});
            }
            let mut props = Map::new();
            for (k, child) in map {
                let mut s = infer_value(child, &format!("{pointer}/{}", pointer_segment(k)), doc, typing, warnings);
                if INT_OR_STRING_KEYS.contains(&k.as_str()) && (child.is_i64() || child.is_u64() || child.is_string()) {
                    s = json!({"type": ["integer", "string"]});
                }
                props.insert(k.clone(), s);
            }
            json!({"type": "object", "properties": props})
        }
    }
}

/// The schema of a string default: see [`StringTyping`]. The string type comes first: generation
/// draws mostly from the first listed type.
fn string_schema(default: &str, typing: StringTyping) -> Value {
    match typing {
        StringTyping::Strict => json!({"type": "string"}),
        StringTyping::AsSetTypes if default.eq_ignore_ascii_case("true") || default.eq_ignore_ascii_case("false") => {
            json!({"type": ["string", "boolean", "integer"]})
        }
        StringTyping::AsSetTypes => json!({"type": ["string", "integer"]}),
    }
}

/// A schema that accepts what either accepts, as far as inference goes: object properties are
/// united, integer and number become number, other differing types become a type list.
pub fn union(a: Value, b: Value) -> Value {
    if a == b {
        return a;
    }
    let ta = a.get("type").cloned();
    let tb = b.get("type").cloned();
    match (ta.as_ref().and_then(Value::as_str), tb.as_ref().and_then(Value::as_str)) {
        (Some("object"), Some("object")) => {
            let mut out = a.clone();
            let mut props = a.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
            for (k, s) in b.get("properties").and_then(Value::as_object).cloned().unwrap_or_default() {
                let merged = match props.remove(&k) {
                    Some(prev) => union(prev, s),
                    None => s,
                };
                props.insert(k, merged);
            }
            if !props.is_empty() {
                out["properties"] = Value::Object(props);
            }
            out
        }
        (Some("array"), Some("array")) => match (a.get("items").cloned(), b.get("items").cloned()) {
            (Some(x), Some(y)) => json!({"type": "array", "items": union(x, y)}),
            _ => json!({"type": "array"}),
        },
        _ => match (type_list(ta.as_ref()), type_list(tb.as_ref())) {
            (Some(mut types), Some(more)) => {
                for t in more {
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                // `number` accepts integers.
                if types.contains(&"number") {
                    types.retain(|t| *t != "integer");
                }
                match types.as_slice() {
                    [one] => json!({"type": one}),
                    _ => json!({"type": types}),
                }
            }
            _ => json!({}), // one side is open (null default): stay open
        },
    }
}

/// The types a `type` keyword lists (one name or a list of names).
fn type_list(t: Option<&Value>) -> Option<Vec<&str>> {
    match t? {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Walk to the schema node describing `pointer` of `values` (properties for keys, items for list
/// elements), creating `properties` entries the inference left out.
fn schema_node_mut<'a>(schema: &'a mut Value, values: &Value, pointer: &str) -> Option<&'a mut Value> {
    let mut node = schema;
    let mut value = Some(values);
    for seg in pointer.split('/').skip(1) {
        let key = seg.replace("~1", "/").replace("~0", "~");
        match value {
            Some(Value::Array(items)) => {
                value = key.parse::<usize>().ok().and_then(|i| items.get(i));
                node = node.as_object_mut()?.entry("items").or_insert_with(|| json!({}));
            }
            Some(Value::Object(map)) => {
                value = map.get(&key);
                value?;
                let props = node.as_object_mut()?.entry("properties").or_insert_with(|| json!({}));
                node = props.as_object_mut()?.entry(key).or_insert_with(|| json!({}));
            }
            _ => return None,
        }
    }
    Some(node)
}

fn apply_annotation(schema: &mut Value, values: &Value, pointer: &str, ann: &Annotation) -> bool {
    if pointer.is_empty() {
        return false;
    }
    let Some(node) = schema_node_mut(schema, values, pointer) else { return false };
    let Some(obj) = node.as_object_mut() else { return false };
    if let Some(d) = &ann.description {
        obj.insert("description".into(), Value::String(d.clone()));
    }
    for (k, v) in &ann.keywords {
        if k == "type" {
            // An annotated type on a null default must still accept the default.
            obj.insert(k.clone(), if values.pointer(pointer).is_some_and(Value::is_null) { with_null(v) } else { v.clone() });
        } else if k == "$ref" {
            obj.remove("type");
            obj.remove("properties");
            obj.insert(k.clone(), v.clone());
        } else {
            obj.insert(k.clone(), v.clone());
        }
    }
    if let Some(required) = ann.required {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let key = key.replace("~1", "/").replace("~0", "~");
        let parent_node = if parent.is_empty() { Some(&mut *schema) } else { schema_node_mut(schema, values, parent) };
        if let Some(Value::Object(p)) = parent_node {
            let list = p.entry("required").or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                items.retain(|i| i.as_str() != Some(key.as_str()));
                if required {
                    items.push(Value::String(key));
                }
                if items.is_empty() {
                    p.remove("required");
                }
            }
        }
    }
    true
}

/// A `type` that also accepts null.
fn with_null(t: &Value) -> Value {
    match t {
        Value::String(s) if s != "null" => json!([s, "null"]),
        Value::Array(a) if !a.iter().any(|x| x == "null") => {
            let mut a = a.clone();
            a.push(json!("null"));
            Value::Array(a)
        }
        other => other.clone(),
    }
}

/// Put a subchart's schema under `properties[key]` of a parent schema: its local `$ref`s are
/// re-rooted, `global` is allowed (Helm copies globals in), the condition key is a boolean, and
/// what the parent already says about the key wins.
pub fn nest_subchart_schema(parent: &mut Value, key: &str, sub: &Value, condition: Option<&str>) {
    let Some(parent_obj) = parent.as_object_mut() else { return };
    let mut sub = sub.clone();
    if let Some(o) = sub.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
        // When the subchart is disabled Helm drops its defaults, so the parent's values hold only
        // what the parent sets under the key: the subchart's own required keys would fail there.
        // Helm still enforces them with the subchart's own schema when it is enabled.
        o.remove("required");
    }
    reroot_refs(&mut sub, &format!("#/properties/{}", pointer_segment(key)));
    if let Some(o) = sub.as_object_mut() {
        let props = o.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.entry("global").or_insert_with(|| json!({"type": "object"}));
            if let Some(cond) = condition {
                for path in cond.split(',').map(str::trim) {
                    if let Some(rest) = path.strip_prefix(&format!("{key}."))
                        && !rest.contains('.')
                    {
                        p.entry(rest.to_string()).or_insert_with(|| json!({"type": "boolean"}));
                    }
                }
            }
        }
    }
    let props = parent_obj.entry("properties").or_insert_with(|| json!({}));
    let Some(props) = props.as_object_mut() else { return };
    let merged = match props.remove(key) {
        Some(own) => overlay(sub, own),
        None => sub,
    };
    props.insert(key.to_string(), merged);
}

/// `top` over `base`: keywords of `top` win, `properties` are overlaid key by key.
pub fn overlay(base: Value, top: Value) -> Value {
    match (base, top) {
        (Value::Object(mut b), Value::Object(t)) => {
            for (k, v) in t {
                if k == "properties" {
                    let mut merged = b.remove("properties").and_then(|p| if let Value::Object(m) = p { Some(m) } else { None }).unwrap_or_default();
                    if let Value::Object(tp) = v {
                        for (pk, pv) in tp {
                            let m = match merged.remove(&pk) {
                                Some(bv) => overlay(bv, pv),
                                None => pv,
                            };
                            merged.insert(pk, m);
                        }
                    }
                    b.insert(k, Value::Object(merged));
                } else if k == "type" && b.contains_key("type") && b.get("type") != Some(&v) {
                    // The parent's default may be narrower (`{}` vs a map): keep the subchart's type
                    // when the parent inferred an open value.
                    b.insert(k, v);
                } else {
                    b.insert(k, v);
                }
            }
            Value::Object(b)
        }
        (_, top) => top,
    }
}

fn reroot_refs(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if k == "$ref" {
                    if let Value::String(s) = child
                        && let Some(rest) = s.strip_prefix('#')
                    {
                        *s = format!("{prefix}{rest}");
                    }
                } else {
                    reroot_refs(child, prefix);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| reroot_refs(i, prefix)),
        _ => {}
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut
/// (`str::floor_char_boundary` is newer than the crate's rust-version).
fn shortened(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_default_is_shortened_at_a_character_boundary() {
        assert_eq!(shortened("short".into(), 40), "short");
        assert_eq!(shortened("abcdef".into(), 4), "abcd…");
        // "é" is two bytes: a cut at byte 3 would split it.
        assert_eq!(shortened("abé€".into(), 3), "ab…");
    }

    #[test]
    fn a_typing_annotation_answers_the_weakly_typed_warning() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("values.yaml");
        std::fs::write(&file, "# @schema type:array;items:{type: object}\nrules: []\nopen: {}\n").unwrap();
        let doc = crate::chart::ValuesDoc::load(&file).unwrap();
        let inferred = super::infer_values_schema(&doc, super::Draft::Draft7, super::StringTyping::default());
        let weak: Vec<_> = inferred.warnings.iter().filter(|w| w.message.starts_with("weakly typed")).filter_map(|w| w.path.clone()).collect();
        assert_eq!(weak, vec!["open".to_string()]);
        assert_eq!(inferred.schema["properties"]["rules"]["items"]["type"], "object");
    }

    use super::*;
    use std::path::Path;

    fn infer_text(text: &str) -> InferredSchema {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.yaml");
        std::fs::write(&path, text).unwrap();
        let doc = ValuesDoc::load(&path).unwrap();
        infer_values_schema(&doc, Draft::Draft7, StringTyping::default())
    }

    #[test]
    fn scalar_types_integers_numbers_and_nested() {
        let s = infer_text("replicas: 1\nratio: 0.5\nname: x\non: yes\nimage:\n  tag: \"1.0\"\n  port: 0755\n").schema;
        assert_eq!(s["$schema"], json!("http://json-schema.org/draft-07/schema#"));
        assert_eq!(s["type"], json!("object"));
        let p = &s["properties"];
        assert_eq!(p["replicas"]["type"], json!("integer"));
        assert_eq!(p["ratio"]["type"], json!("number"));
        assert_eq!(p["name"]["type"], json!(["string", "integer"]));
        assert_eq!(p["true"]["type"], json!("boolean"), "YAML 1.1 `on` key is `true` in Helm");
        assert_eq!(p["image"]["properties"]["tag"]["type"], json!(["string", "integer"]));
        assert_eq!(p["image"]["properties"]["port"]["type"], json!("integer"));
        assert!(s.get("additionalProperties").is_none(), "inferred objects stay open");
    }

    #[test]
    fn string_defaults_accept_what_set_passes_unless_strict() {
        let text = "image:\n  tag: \"1.0\"\nprobe:\n  port: http\nflag: \"true\"\n# @schema type:string\npinned: x\nlist: [a, 1]\n";
        let s = infer_text(text).schema;
        let p = &s["properties"];
        assert_eq!(p["image"]["properties"]["tag"]["type"], json!(["string", "integer"]));
        assert_eq!(p["flag"]["type"], json!(["string", "boolean", "integer"]), "--set flag=false passes a boolean");
        assert_eq!(p["pinned"]["type"], json!("string"), "an annotated type stays strict");
        assert_eq!(p["list"]["items"]["type"], json!(["string", "integer"]));
        assert!(jsonschema::draft7::is_valid(&s, &json!({"image": {"tag": 1234}, "probe": {"port": 8080}})));
        assert!(!jsonschema::draft7::is_valid(&s, &json!({"image": {"tag": 1.5}})));
        assert!(!jsonschema::draft7::is_valid(&s, &json!({"pinned": 1})));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.yaml");
        std::fs::write(&path, text).unwrap();
        let strict = infer_values_schema(&ValuesDoc::load(&path).unwrap(), Draft::Draft7, StringTyping::Strict).schema;
        assert_eq!(strict["properties"]["image"]["properties"]["tag"]["type"], json!("string"));
        assert_eq!(strict["properties"]["flag"]["type"], json!("string"));
        assert_eq!(strict["properties"]["list"]["items"]["type"], json!(["string", "integer"]));
    }

    #[test]
    fn union_of_type_lists() {
        assert_eq!(union(json!({"type": ["string", "integer"]}), json!({"type": "number"})), json!({"type": ["string", "number"]}));
        assert_eq!(union(json!({"type": "integer"}), json!({"type": "number"})), json!({"type": "number"}));
        assert_eq!(union(json!({"type": "boolean"}), json!({"type": ["string", "integer"]})), json!({"type": ["boolean", "string", "integer"]}));
        assert_eq!(union(json!({"type": "string"}), json!({})), json!({}));
    }

    #[test]
    fn kubernetes_int_or_string_fields_accept_both() {
        let s = infer_text("strategy:\n  maxUnavailable: 0\n  maxSurge: 25%\npdb:\n  minAvailable: 1\n").schema;
        assert_eq!(s["properties"]["strategy"]["properties"]["maxUnavailable"]["type"], json!(["integer", "string"]));
        assert_eq!(s["properties"]["strategy"]["properties"]["maxSurge"]["type"], json!(["integer", "string"]));
        assert_eq!(s["properties"]["pdb"]["properties"]["minAvailable"]["type"], json!(["integer", "string"]));
    }

    #[test]
    fn arrays_unify_items_and_empty_things_are_weak() {
        let r = infer_text("env:\n  - name: A\n    value: b\n  - name: C\n    port: 1\nmixed: [1, 2.5]\nlabels: {}\nhosts: []\ntag: ~\n");
        let p = &r.schema["properties"];
        assert_eq!(p["env"]["items"]["properties"]["port"]["type"], json!("integer"));
        assert_eq!(p["env"]["items"]["properties"]["value"]["type"], json!(["string", "integer"]));
        assert_eq!(p["mixed"]["items"]["type"], json!("number"));
        assert_eq!(p["labels"], json!({"type": "object"}));
        assert_eq!(p["hosts"], json!({"type": "array"}));
        assert_eq!(p["tag"], json!({}));
        let weak: Vec<_> = r.warnings.iter().map(|w| (w.path.clone().unwrap(), w.line)).collect();
        assert_eq!(weak, vec![("labels".to_string(), 7), ("hosts".to_string(), 8)]);
    }

    #[test]
    fn annotations_refine_the_schema() {
        let r = infer_text("# -- how many\n# @schema\n# minimum: 1\n# required: true\n# @schema\nreplicas: 2\n# -- (string) image tag\ntag:\nmode: a # @schema enum:[a, b]\n");
        let s = &r.schema;
        assert_eq!(s["properties"]["replicas"], json!({"type": "integer", "description": "how many", "minimum": 1}));
        assert_eq!(s["required"], json!(["replicas"]));
        assert_eq!(s["properties"]["tag"]["type"], json!(["string", "null"]), "a typed null default still accepts its default");
        assert_eq!(s["properties"]["mode"]["enum"], json!(["a", "b"]));
        assert!(jsonschema::draft7::is_valid(s, &json!({"replicas": 2, "tag": "v", "mode": "a"})));
        assert!(!jsonschema::draft7::is_valid(s, &json!({"replicas": 0, "mode": "a"})));
    }

    #[test]
    fn annotations_that_reject_the_defaults_are_relaxed_in_every_dialect() {
        let text = "## @param extraVolumes [object] Extra volumes\nextraVolumes: []\n# -- (int) the port\nport: http\n# @schema\n# enum: [a, b]\n# @schema\nmode: c\nlevel: 1 # @schema minimum:5\n## @param extraEnv [array] Extra env\nextraEnv:\n";
        let r = infer_text(text);
        let s = &r.schema;
        assert!(jsonschema::draft7::is_valid(s, &json!({"extraVolumes": [], "port": "http", "mode": "c", "level": 1, "extraEnv": null})), "{s:#}");
        assert_eq!(s["properties"]["extraVolumes"]["type"], json!(["object", "array"]));
        assert_eq!(s["properties"]["mode"]["enum"], json!(["a", "b", "c"]));
        assert!(s["properties"]["level"].get("minimum").is_none());
        let found: Vec<(String, usize)> = r.warnings.iter().filter(|w| w.message.starts_with("annotation contradicts the default")).map(|w| (w.path.clone().unwrap(), w.line)).collect();
        let mut found = found;
        found.sort();
        assert_eq!(found, vec![("extraVolumes".into(), 1), ("level".into(), 9), ("mode".into(), 5), ("port".into(), 3)], "{:#?}", r.warnings);
        // The annotation still types what it does not contradict: a key without a default.
        assert!(!jsonschema::draft7::is_valid(s, &json!({"extraEnv": "x"})));
        assert!(!jsonschema::draft7::is_valid(s, &json!({"extraVolumes": "x"})));
    }

    #[test]
    fn invalid_annotation_keywords_are_dropped_with_a_warning() {
        let r = infer_text("replicas: 2\n# @schema type:strng\n# -- pods\nport: 1\n");
        assert_eq!(r.schema["properties"]["port"], json!({"type": "integer", "description": "pods"}));
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert_eq!(r.warnings[0].line, 2);
        assert!(r.warnings[0].message.contains("not valid JSON Schema"), "{}", r.warnings[0]);
    }

    #[test]
    fn subchart_nesting_reroots_refs_and_allows_global_and_condition() {
        let mut parent = json!({"type": "object", "properties": {"kid": {"type": "object", "properties": {"x": {"type": "string"}}}}});
        let sub = json!({"$schema": "x", "$defs": {"p": {"type": "integer"}}, "type": "object", "required": ["port"], "properties": {"port": {"$ref": "#/$defs/p"}}});
        nest_subchart_schema(&mut parent, "kid", &sub, Some("kid.enabled"));
        let kid = &parent["properties"]["kid"];
        assert_eq!(kid["properties"]["port"]["$ref"], json!("#/properties/kid/$defs/p"));
        assert_eq!(kid["properties"]["enabled"]["type"], json!("boolean"));
        assert_eq!(kid["properties"]["global"]["type"], json!("object"));
        assert_eq!(kid["properties"]["x"]["type"], json!("string"));
        assert!(kid.get("$schema").is_none());
        assert!(kid.get("required").is_none(), "a disabled subchart leaves only the parent's values under its key");
        let v = jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(&parent).unwrap();
        assert!(v.is_valid(&json!({"kid": {"port": 1}})));
        assert!(!v.is_valid(&json!({"kid": {"port": "1"}})));
        let _ = Path::new("");
    }
}
