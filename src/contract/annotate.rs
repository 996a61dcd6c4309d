//! Comment annotations chart authors already write in values.yaml, read so a chart needs no
//! rewrite: helm-docs (`# -- description`, `# -- (type) description`, `# @default -- …`,
//! `# path.to.key -- description`), dadav/helm-schema `# @schema` … `# @schema` YAML blocks,
//! losisin/helm-values-schema-json inline `# @schema key:value;key:value`, and bitnami
//! readme-generator `## @param path [modifiers] description`. Unknown annotation keys become
//! warnings with file:line.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::ContractWarning;
use crate::chart::values::{ValuesDoc, pointer_segment, pointer_to_dotted};

/// What the comments say about one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    pub description: Option<String>,
    /// JSON Schema keywords to put on the key's schema (they win over inferred ones).
    pub keywords: Map<String, Value>,
    /// `required: true` of helm-schema / losisin: the key goes into its parent's `required`.
    pub required: Option<bool>,
    /// Line of the (first) annotation, for messages.
    pub line: usize,
}

/// Annotations of a values file by JSON pointer, plus the warnings reading them produced.
#[derive(Debug, Default)]
pub struct Annotations {
    pub by_pointer: HashMap<String, Annotation>,
    pub warnings: Vec<ContractWarning>,
}

/// JSON Schema keywords an annotation may set.
const SCHEMA_KEYWORDS: &[&str] = &[
    "type", "enum", "const", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "items", "properties",
    "additionalProperties", "patternProperties", "propertyNames", "unevaluatedProperties", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", "$ref", "$id", "$comment", "allOf", "anyOf", "oneOf", "not", "if", "then",
    "else", "contains", "$defs", "definitions", "dependentRequired", "dependentSchemas", "contentEncoding", "contentMediaType",
];
/// Tool-specific keys that only steer the tools' own output; accepted and ignored.
const TOOL_KEYS: &[&str] = &["hidden", "skipProperties", "mergeProperties", "skip"];

static HELM_DOCS_PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^#\s*([A-Za-z0-9_.\-/\[\]]+)\s+--\s?(.*)$").unwrap());
static HELM_DOCS_TYPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\(([A-Za-z/]+)\)\s*(.*)$").unwrap());
static AT_WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^#+\s*@([A-Za-z][A-Za-z0-9_-]*)\b\s*(.*)$").unwrap());

/// Read every annotation of a values document from its text.
pub fn read_annotations(doc: &ValuesDoc, text: &str) -> Annotations {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Annotations::default();
    let key_lines = key_lines(doc);
    let file = &doc.file;

    // Annotations in the comment block right above each key, and inline on its line.
    for (&line, pointer) in &key_lines {
        let mut block = Vec::new();
        let mut l = line - 1; // 1-based line of the key; lines[l - 1] is the line above
        while l >= 1 {
            let t = lines[l - 1].trim();
            if !t.starts_with('#') {
                break;
            }
            block.push((l, t));
            l -= 1;
        }
        block.reverse();
        let mut ann = Annotation::default();
        read_block(&block, file, pointer, &mut ann, &mut out.warnings);
        if let Some(inline) = lines.get(line - 1).and_then(|t| inline_comment(t)) {
            read_block(&[(line, inline)], file, pointer, &mut ann, &mut out.warnings);
        }
        if ann != Annotation::default() {
            merge_annotation(out.by_pointer.entry(pointer.clone()).or_default(), ann);
        }
    }

    // Path-addressed annotations anywhere: bitnami `## @param` and helm-docs `# path -- text`.
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if !t.starts_with('#') {
            continue;
        }
        if let Some(c) = AT_WORD.captures(t) {
            let (word, rest) = (&c[1], c[2].trim());
            match word {
                "param" | "extra" => {
                    if let Some((pointer, ann)) = bitnami_param(rest, line, file, &mut out.warnings) {
                        if word == "param" && doc.value.pointer(&pointer).is_none() {
                            out.warnings.push(warn(file, line, Some(&pointer), "@param names a key that values.yaml does not have"));
                        }
                        merge_annotation(out.by_pointer.entry(pointer).or_default(), ann);
                    }
                }
                // Recognised and without effect on the schema.
                "section" | "skip" | "deprecated" | "descriptionStart" | "descriptionEnd" | "default" | "ignored" | "raw" | "notationType" | "schema" => {}
                other if t.starts_with("##") || t.starts_with("# @") => {
                    out.warnings.push(warn(file, line, None, &format!("unknown annotation @{other} (ignored)")));
                }
                _ => {}
            }
            continue;
        }
        if let Some(c) = HELM_DOCS_PATH.captures(t) {
            let path = &c[1];
            if path.contains('.') || doc.value.get(path).is_some() {
                let pointer = dotted_to_pointer(path);
                if doc.value.pointer(&pointer).is_some() {
                    let mut ann = Annotation { line, ..Default::default() };
                    set_helm_docs_description(&mut ann, c[2].trim());
                    merge_annotation(out.by_pointer.entry(pointer).or_default(), ann);
                }
            }
        }
    }
    out
}

/// 1-based line → pointer of the key written there (the outermost one if several start there).
fn key_lines(doc: &ValuesDoc) -> HashMap<usize, String> {
    let mut by_line: HashMap<usize, (usize, String)> = HashMap::new();
    for (pointer, pos) in doc.positions.iter() {
        let better = match by_line.get(&pos.line) {
            None => true,
            Some((col, p)) => pos.column < *col || (pos.column == *col && pointer.len() < p.len()),
        };
        if better {
            by_line.insert(pos.line, (pos.column, pointer.clone()));
        }
    }
    by_line.into_iter().map(|(l, (_, p))| (l, p)).collect()
}

/// The `# …` comment at the end of a YAML line, if any (a `#` after whitespace, outside quotes).
fn inline_comment(line: &str) -> Option<&str> {
    let (mut single, mut double) = (false, false);
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if !single && !double && i > 0 && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') => {
                let c = line[i..].trim();
                return (!line[..i].trim().is_empty()).then_some(c);
            }
            _ => {}
        }
    }
    None
}

fn read_block(block: &[(usize, &str)], file: &Path, pointer: &str, ann: &mut Annotation, warnings: &mut Vec<ContractWarning>) {
    let mut i = 0;
    let mut in_description = false;
    while i < block.len() {
        let (line, t) = block[i];
        if ann.line == 0 && (t.contains("@schema") || t.contains("# --")) {
            ann.line = line;
        }
        let body = t.trim_start_matches('#').trim();
        if body == "@schema" {
            // dadav/helm-schema block: YAML until the closing `# @schema`.
            let mut yaml = String::new();
            let mut j = i + 1;
            while j < block.len() && block[j].1.trim_start_matches('#').trim() != "@schema" {
                let raw = block[j].1.strip_prefix('#').unwrap_or(block[j].1);
                yaml.push_str(raw.strip_prefix(' ').unwrap_or(raw));
                yaml.push('\n');
                j += 1;
            }
            match serde_yaml::from_str::<Value>(&yaml) {
                Ok(Value::Object(map)) => apply_keywords(map, line, file, pointer, ann, warnings),
                Ok(Value::Null) => {}
                Ok(_) => warnings.push(warn(file, line, Some(pointer), "@schema block is not a map of keywords (ignored)")),
                Err(e) => warnings.push(warn(file, line, Some(pointer), &format!("@schema block is not valid YAML: {e} (ignored)"))),
            }
            in_description = false;
            i = j + 1;
            continue;
        }
        if let Some(rest) = body.strip_prefix("@schema ") {
            apply_keywords(losisin_keywords(rest, line, file, pointer, warnings), line, file, pointer, ann, warnings);
            in_description = false;
        } else if let Some(rest) = body.strip_prefix("--") {
            if body.starts_with("---") {
                in_description = false;
            } else {
                set_helm_docs_description(ann, rest.trim());
                in_description = true;
            }
        } else if body.starts_with("@deprecated") {
            ann.keywords.insert("deprecated".into(), Value::Bool(true));
            in_description = false;
        } else if body.starts_with('@') {
            in_description = false; // @default -- and friends; unknown words are reported file-wide
        } else if in_description && !t.starts_with("##") {
            let d = ann.description.get_or_insert_with(String::new);
            if !d.is_empty() {
                d.push(' ');
            }
            d.push_str(body);
        }
        i += 1;
    }
}

fn set_helm_docs_description(ann: &mut Annotation, text: &str) {
    let mut text = text.to_string();
    if let Some(c) = HELM_DOCS_TYPE.captures(&text.clone()) {
        if let Some(ty) = helm_docs_type(&c[1]) {
            ann.keywords.entry("type".to_string()).or_insert(Value::String(ty.into()));
        }
        text = c[2].to_string();
    }
    if !text.is_empty() {
        ann.description = Some(text);
    }
}

fn helm_docs_type(t: &str) -> Option<&'static str> {
    Some(match t {
        "string" | "tpl" | "tpl/string" => "string",
        "int" | "integer" => "integer",
        "float" | "number" => "number",
        "bool" | "boolean" => "boolean",
        "list" | "tpl/list" | "array" => "array",
        "object" | "dict" | "tpl/object" | "map" => "object",
        _ => return None,
    })
}

/// losisin inline form: `type:[string, null];pattern:^a$;required`.
fn losisin_keywords(text: &str, line: usize, file: &Path, pointer: &str, warnings: &mut Vec<ContractWarning>) -> Map<String, Value> {
    let mut map = Map::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, raw) = match part.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (part, "true"),
        };
        let mut value = if key == "pattern" || key == "description" || key == "title" {
            Value::String(raw.to_string())
        } else {
            serde_yaml::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
        };
        if key == "type" || key == "item" {
            value = null_type_named(value);
        }
        match key {
            "item" => {
                map.entry("items").or_insert_with(|| Value::Object(Map::new())).as_object_mut().map(|o| o.insert("type".into(), value));
            }
            "itemEnum" => {
                map.entry("items").or_insert_with(|| Value::Object(Map::new())).as_object_mut().map(|o| o.insert("enum".into(), value));
            }
            "itemRef" => {
                map.entry("items").or_insert_with(|| Value::Object(Map::new())).as_object_mut().map(|o| o.insert("$ref".into(), value));
            }
            "itemProperties" => {
                map.entry("items").or_insert_with(|| Value::Object(Map::new())).as_object_mut().map(|o| o.insert("properties".into(), value));
            }
            "ref" => {
                map.insert("$ref".into(), value);
            }
            _ => {
                if !SCHEMA_KEYWORDS.contains(&key) && !TOOL_KEYS.contains(&key) && key != "required" {
                    warnings.push(warn(file, line, Some(pointer), &format!("unknown @schema key `{key}` (ignored)")));
                    continue;
                }
                map.insert(key.to_string(), value);
            }
        }
    }
    map
}

/// `type: [string, null]` read as YAML holds a null: JSON Schema spells it `"null"`.
fn null_type_named(v: Value) -> Value {
    match v {
        Value::Null => Value::String("null".into()),
        Value::Array(items) => Value::Array(items.into_iter().map(null_type_named).collect()),
        other => other,
    }
}

fn apply_keywords(mut map: Map<String, Value>, line: usize, file: &Path, pointer: &str, ann: &mut Annotation, warnings: &mut Vec<ContractWarning>) {
    for r in strip_remote_refs(&mut map) {
        warnings.push(warn(file, line, Some(pointer), &format!("remote $ref {r} is not followed (chartproof works offline; vendor it into $defs) (ignored)")));
    }
    for (k, v) in map {
        if k == "required" {
            match v {
                Value::Bool(b) => ann.required = Some(b),
                Value::Array(_) => {
                    ann.keywords.insert(k, v);
                }
                _ => warnings.push(warn(file, line, Some(pointer), "@schema required must be true/false or a list of keys (ignored)")),
            }
        } else if k == "description" {
            if let Value::String(s) = v {
                ann.description = Some(s);
            }
        } else if TOOL_KEYS.contains(&k.as_str()) {
        } else if k == "type" {
            ann.keywords.insert(k, null_type_named(v));
        } else if SCHEMA_KEYWORDS.contains(&k.as_str()) || k.starts_with("x-") {
            ann.keywords.insert(k, v);
        } else {
            warnings.push(warn(file, line, Some(pointer), &format!("unknown @schema key `{k}` (ignored)")));
        }
    }
}

/// Remove `$ref`s that point outside the document (`$k8s/…`, URLs); returns them.
fn strip_remote_refs(map: &mut Map<String, Value>) -> Vec<String> {
    let mut removed = Vec::new();
    if let Some(Value::String(r)) = map.get("$ref")
        && !r.starts_with('#')
    {
        removed.push(r.clone());
        map.remove("$ref");
    }
    for v in map.values_mut() {
        match v {
            Value::Object(o) => removed.extend(strip_remote_refs(o)),
            Value::Array(items) => {
                for i in items {
                    if let Value::Object(o) = i {
                        removed.extend(strip_remote_refs(o));
                    }
                }
            }
            _ => {}
        }
    }
    removed
}

/// bitnami `## @param path [modifiers] description`.
fn bitnami_param(rest: &str, line: usize, file: &Path, warnings: &mut Vec<ContractWarning>) -> Option<(String, Annotation)> {
    let (path, mut text) = match rest.split_once(char::is_whitespace) {
        Some((p, t)) => (p, t.trim()),
        None => (rest, ""),
    };
    if path.is_empty() {
        warnings.push(warn(file, line, None, "@param without a key path (ignored)"));
        return None;
    }
    let mut ann = Annotation { line, ..Default::default() };
    if let Some(r) = text.strip_prefix('[')
        && let Some(end) = r.find(']')
    {
        let mut types: Vec<Value> = Vec::new();
        let mut nullable = false;
        for m in r[..end].split(',').map(str::trim) {
            match m {
                "array" | "object" | "string" | "integer" | "number" | "boolean" => types.push(Value::String(m.into())),
                "nullable" => nullable = true,
                m if m.starts_with("default:") => {}
                other => warnings.push(warn(file, line, Some(&dotted_to_pointer(path)), &format!("unknown @param modifier `{other}` (ignored)"))),
            }
        }
        if nullable && !types.is_empty() {
            types.push(Value::String("null".into()));
        }
        match types.len() {
            0 => {}
            1 => {
                ann.keywords.insert("type".into(), types.remove(0));
            }
            _ => {
                ann.keywords.insert("type".into(), Value::Array(types));
            }
        }
        text = r[end + 1..].trim();
    }
    if !text.is_empty() {
        ann.description = Some(text.to_string());
    }
    Some((dotted_to_pointer(path), ann))
}

/// `a.b[0].c` → `/a/b/0/c`.
pub fn dotted_to_pointer(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (name, idx) = match seg.find('[') {
            Some(i) => (&seg[..i], Some(&seg[i..])),
            None => (seg, None),
        };
        if !name.is_empty() {
            out.push('/');
            out.push_str(&pointer_segment(name));
        }
        if let Some(idx) = idx {
            for i in idx.split(['[', ']']).filter(|s| !s.is_empty()) {
                out.push('/');
                out.push_str(i);
            }
        }
    }
    out
}

fn merge_annotation(into: &mut Annotation, from: Annotation) {
    if from.description.is_some() {
        into.description = from.description;
    }
    into.keywords.extend(from.keywords);
    if from.required.is_some() {
        into.required = from.required;
    }
    if into.line == 0 {
        into.line = from.line;
    }
}

fn warn(file: &Path, line: usize, pointer: Option<&str>, message: &str) -> ContractWarning {
    ContractWarning { file: file.to_path_buf(), line, path: pointer.map(pointer_to_dotted), message: message.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Annotations {
        let doc = ValuesDoc::parse(text, Path::new("values.yaml")).unwrap();
        read_annotations(&doc, text)
    }

    #[test]
    fn helm_docs_descriptions_types_and_continuations() {
        let a = read("# -- Number of pods\n# kept small\nreplicaCount: 1\nimage:\n  # -- (string) tag to pull\n  # @default -- appVersion\n  tag:\n# service.port -- the port\nservice:\n  port: 80\n");
        assert_eq!(a.by_pointer["/replicaCount"].description.as_deref(), Some("Number of pods kept small"));
        assert_eq!(a.by_pointer["/image/tag"].description.as_deref(), Some("tag to pull"));
        assert_eq!(a.by_pointer["/image/tag"].keywords["type"], json!("string"));
        assert_eq!(a.by_pointer["/service/port"].description.as_deref(), Some("the port"));
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    }

    #[test]
    fn dadav_blocks_with_unknown_key_warning() {
        let a = read("# @schema\n# type: integer\n# minimum: 1\n# required: true\n# colour: red\n# @schema\n# -- pods\nreplicas: 2\n");
        let r = &a.by_pointer["/replicas"];
        assert_eq!(r.keywords["minimum"], json!(1));
        assert_eq!(r.required, Some(true));
        assert_eq!(r.description.as_deref(), Some("pods"));
        assert_eq!(a.warnings.len(), 1);
        assert_eq!(a.warnings[0].line, 1);
        assert!(a.warnings[0].to_string().starts_with("values.yaml:1: replicas: unknown @schema key `colour`"), "{}", a.warnings[0]);
    }

    #[test]
    fn losisin_inline_and_above() {
        let a = read("mode: fast # @schema enum:[fast, slow];required\n# @schema type:[string, null];pattern:^v[0-9]+$;bogus:1\ntag: v1\n");
        assert_eq!(a.by_pointer["/mode"].keywords["enum"], json!(["fast", "slow"]));
        assert_eq!(a.by_pointer["/mode"].required, Some(true));
        assert_eq!(a.by_pointer["/tag"].keywords["type"], json!(["string", "null"]));
        assert_eq!(a.by_pointer["/tag"].keywords["pattern"], json!("^v[0-9]+$"));
        assert_eq!(a.warnings.len(), 1);
        assert_eq!(a.warnings[0].line, 2);
    }

    #[test]
    fn bitnami_params_and_unknown_words() {
        let a = read("## @section Global\n## @param image.registry [string, nullable] Image registry\n## @param extraEnv Extra env vars\n## @frobnicate x\nimage:\n  registry: docker.io\nextraEnv: []\n");
        assert_eq!(a.by_pointer["/image/registry"].description.as_deref(), Some("Image registry"));
        assert_eq!(a.by_pointer["/image/registry"].keywords["type"], json!(["string", "null"]));
        assert_eq!(a.by_pointer["/extraEnv"].description.as_deref(), Some("Extra env vars"));
        assert_eq!(a.warnings.len(), 1);
        assert_eq!(a.warnings[0].line, 4);
    }

    #[test]
    fn inline_comment_respects_quotes() {
        assert_eq!(inline_comment("a: 'x # y' # @schema type:string"), Some("# @schema type:string"));
        assert_eq!(inline_comment("# whole line"), None);
        assert_eq!(dotted_to_pointer("a.b[0].c"), "/a/b/0/c");
    }
}
