//! Values checked against a chart's contract the way Helm checks them: the user's files and
//! `--set` arguments coalesced over the defaults, the chart's schema applied to the result, and
//! every enabled subchart's schema applied to that subchart's coalesced values (incl. globals).
//! Every error names the key path, what the contract expects and what it got, and where the
//! offending value was written (file:line:column, or the `--set` argument).

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::{Contract, Enabled};
use crate::chart::Chart;
use crate::chart::merge::UserValues;
use crate::chart::values::{ValuesDoc, json_type_name, pointer_segment, pointer_to_dotted};

/// Where an offending value was written.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueLocation {
    /// A values file (a `-f` file or a chart's values.yaml).
    File { file: PathBuf, line: usize, column: usize },
    /// A `--set`/`--set-string` argument, as written.
    Set { argument: String },
    /// Nowhere: a required key nobody wrote.
    Missing,
}

impl std::fmt::Display for ValueLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueLocation::File { file, line, column } => write!(f, "{}:{line}:{column}", file.display()),
            ValueLocation::Set { argument } => write!(f, "--set {argument}"),
            ValueLocation::Missing => write!(f, "(not set)"),
        }
    }
}

/// One way the values break the contract.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ValidationError {
    /// JSON pointer into the coalesced values of the top chart (`/image/tag`).
    pub pointer: String,
    /// Dotted key path (`image.tag`, `env[0].name`).
    pub path: String,
    /// The chart whose schema failed (the top chart, or a subchart's key path).
    pub chart: String,
    /// The schema keyword that failed (`type`, `enum`, `required`, `additionalProperties`…).
    pub keyword: String,
    /// What the contract expects.
    pub expected: String,
    /// What the values hold there.
    pub got: String,
    /// The validator's full message.
    pub message: String,
    pub location: ValueLocation,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{}: {path}: expected {}, got {}", self.location, self.expected, self.got)
    }
}

/// Validate the user's values over the chart's defaults; every error, in a stable order.
pub fn validate_values(contract: &Contract, chart: &Chart, user: &UserValues) -> Vec<ValidationError> {
    let (coalesced, enabled) = contract.helm_values(&user.overrides());
    let coalesced = contract.dialect.values_as_validated(&coalesced);
    let mut sources = Sources { sets: user.sets.iter().map(|s| (s.text.clone(), s.pointers())).collect(), files: user.files.iter().collect(), defaults: Vec::new() };
    collect_defaults(chart, "", &mut sources.defaults);
    let mut errors = Vec::new();
    validate_level(contract, &coalesced, &enabled, "", &contract.chart_name, &sources, &mut errors);
    // Files in line order, then `--set` arguments in command-line order, then missing keys.
    let set_index = |arg: &str| user.sets.iter().position(|s| s.text == arg).unwrap_or(usize::MAX);
    errors.sort_by_key(|e| match &e.location {
        ValueLocation::File { file, line, column } => (0, Some(file.clone()), *line, *column),
        ValueLocation::Set { argument } => (1, None, set_index(argument), 0),
        ValueLocation::Missing => (2, None, 0, 0),
    });
    errors
}

/// The name among `candidates` nearest to a mistyped `name` (Levenshtein distance at most a
/// third of its length, and at least 2), if one is that near.
pub fn nearest_key<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let (distance, best) = candidates.filter(|c| *c != name).map(|c| (crate::rules::catalog::edit_distance(&name.to_lowercase(), &c.to_lowercase()), c)).min()?;
    (distance <= (name.chars().count() / 3).max(2)).then_some(best)
}

/// Strict mode: every key the user wrote (files and `--set`) that the contract does not
/// describe, where the contract lists its object's keys (an object whose schema has
/// `properties` and neither an `additionalProperties` schema nor `patternProperties` that
/// takes the key). Open objects (an inferred empty map, a `type: object` alone) take any key.
/// `global` and each subchart's key are the subchart's business: its keys are checked against
/// its own contract. Each unknown key is an error with a "did you mean" and its file:line.
pub fn unknown_keys(contract: &Contract, chart: &Chart, user: &UserValues) -> Vec<ValidationError> {
    // The chart's own values.yaml is part of the contract: only the user's values can be unknown.
    let _ = chart;
    let sources = Sources { sets: user.sets.iter().map(|s| (s.text.clone(), s.pointers())).collect(), files: user.files.iter().collect(), defaults: Vec::new() };
    let mut errors = Vec::new();
    unknown_at_level(contract, &user.overrides(), "", &contract.chart_name, &sources, &mut errors);
    errors.sort_by(|a, b| (a.location.to_string(), &a.pointer).cmp(&(b.location.to_string(), &b.pointer)));
    errors
}

fn unknown_at_level(contract: &Contract, values: &Value, prefix: &str, chart_label: &str, sources: &Sources, errors: &mut Vec<ValidationError>) {
    let Some(map) = values.as_object() else { return };
    let mut own = serde_json::Map::new();
    for (k, v) in map {
        match contract.subcharts.iter().find(|s| &s.key == k) {
            Some(s) => unknown_at_level(&s.contract, v, &format!("{prefix}/{}", pointer_segment(k)), &format!("{chart_label}/{}", s.key), sources, errors),
            None if k == "global" => {}
            None => {
                own.insert(k.clone(), v.clone());
            }
        }
    }
    let schema = &contract.own_schema;
    unknown_in_node(schema, schema, &Value::Object(own), prefix, chart_label, sources, errors, 0);
}

#[allow(clippy::too_many_arguments)]
fn unknown_in_node(root: &Value, node: &Value, value: &Value, pointer: &str, chart_label: &str, sources: &Sources, errors: &mut Vec<ValidationError>, depth: usize) {
    if depth > 64 {
        return;
    }
    // Local `$ref`s are followed; anything else (allOf, anyOf, …) is left to the schema itself.
    let node = match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(p) => match root.pointer(p) {
            Some(n) => return unknown_in_node(root, n, value, pointer, chart_label, sources, errors, depth + 1),
            None => return,
        },
        None => node,
    };
    match value {
        Value::Object(map) => {
            let Some(props) = node.get("properties").and_then(Value::as_object) else { return };
            // An explicit `additionalProperties: true` or a schema for other keys opens the object.
            let extra = node.get("additionalProperties").filter(|a| a.is_object() || **a == Value::Bool(true));
            let patterns: Vec<regex::Regex> = node.get("patternProperties").and_then(Value::as_object).map(|pp| pp.keys().filter_map(|re| regex::Regex::new(re).ok()).collect()).unwrap_or_default();
            for (k, v) in map {
                let p = format!("{pointer}/{}", pointer_segment(k));
                match props.get(k) {
                    Some(child) => unknown_in_node(root, child, v, &p, chart_label, sources, errors, depth + 1),
                    None if extra.is_some() || patterns.iter().any(|re| re.is_match(k)) => {}
                    None => {
                        let hint = nearest_key(k, props.keys().map(String::as_str)).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
                        errors.push(ValidationError {
                            path: pointer_to_dotted(&p),
                            location: locate(&p, sources),
                            pointer: p.clone(),
                            chart: chart_label.to_string(),
                            keyword: "unknown-key".into(),
                            expected: format!("a key the contract lists{hint}"),
                            got: format!("unknown key `{k}`"),
                            message: format!("unknown key `{k}`{hint}"),
                        });
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    unknown_in_node(root, item_schema, item, &format!("{pointer}/{i}"), chart_label, sources, errors, depth + 1);
                }
            }
        }
        _ => {}
    }
}

struct Sources<'a> {
    sets: Vec<(String, Vec<String>)>,
    files: Vec<&'a ValuesDoc>,
    /// Each chart's values.yaml with the pointer prefix of its values in the top chart's values.
    defaults: Vec<(String, &'a ValuesDoc)>,
}

fn collect_defaults<'a>(chart: &'a Chart, prefix: &str, out: &mut Vec<(String, &'a ValuesDoc)>) {
    out.push((prefix.to_string(), &chart.values));
    for s in &chart.subcharts {
        collect_defaults(&s.chart, &format!("{prefix}/{}", pointer_segment(&s.key)), out);
    }
}

fn validate_level(contract: &Contract, values: &Value, enabled: &[Enabled], prefix: &str, chart_label: &str, sources: &Sources, errors: &mut Vec<ValidationError>) {
    for e in contract.validator().iter_errors(values) {
        errors.push(describe(&e, &contract.own_schema, prefix, chart_label, sources));
    }
    for e in enabled {
        let s = &contract.subcharts[e.index];
        if let Some(v) = values.get(&s.key) {
            let p = format!("{prefix}/{}", pointer_segment(&s.key));
            validate_level(&s.contract, v, &e.below, &p, &format!("{chart_label}/{}", s.key), sources, errors);
        }
    }
}

fn describe(e: &jsonschema::ValidationError, schema: &Value, prefix: &str, chart_label: &str, sources: &Sources) -> ValidationError {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let mut pointer = format!("{prefix}{}", e.instance_path.as_str());
    let got_value = e.instance.as_ref();
    let keyword = e.schema_path.as_str().rsplit('/').next().unwrap_or("").to_string();
    let short = |v: &Value| {
        let s = v.to_string();
        if s.len() > 60 { format!("{}…", &s[..s.char_indices().take(57).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0)]) } else { s }
    };
    let got_typed = || format!("{} {}", json_type_name(got_value), short(got_value));
    let (expected, got) = match &e.kind {
        K::Type { kind } => {
            let want = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            (want, got_typed())
        }
        K::Required { property } => {
            let name = property.as_str().map(str::to_string).unwrap_or_else(|| property.to_string());
            pointer = format!("{pointer}/{}", pointer_segment(&name));
            (format!("required key `{name}`"), "nothing".to_string())
        }
        K::AdditionalProperties { unexpected } | K::UnevaluatedProperties { unexpected } => {
            if let Some(first) = unexpected.first() {
                pointer = format!("{pointer}/{}", pointer_segment(first));
            }
            // The keys the closed object lists, for a "did you mean".
            let node_ptr = e.schema_path.as_str().rsplit_once('/').map_or("", |(p, _)| p);
            let listed: Vec<String> = schema.pointer(node_ptr).and_then(|n| n.get("properties")).and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default();
            let hints: Vec<String> = unexpected.iter().filter_map(|u| nearest_key(u, listed.iter().map(String::as_str)).map(|n| format!("`{u}`: did you mean `{n}`?"))).collect();
            let hint = if hints.is_empty() { String::new() } else { format!(" ({})", hints.join("; ")) };
            (format!("no keys other than the ones the schema lists{hint}"), format!("unexpected key(s) {}", unexpected.join(", ")))
        }
        K::Enum { options } => (format!("one of {}", short(options)), got_typed()),
        K::Constant { expected_value } => (format!("exactly {}", short(expected_value)), got_typed()),
        K::Pattern { pattern } => (format!("a string matching /{pattern}/"), got_typed()),
        K::Minimum { limit } => (format!(">= {limit}"), got_typed()),
        K::Maximum { limit } => (format!("<= {limit}"), got_typed()),
        K::ExclusiveMinimum { limit } => (format!("> {limit}"), got_typed()),
        K::ExclusiveMaximum { limit } => (format!("< {limit}"), got_typed()),
        K::MinLength { limit } => (format!("at least {limit} characters"), got_typed()),
        K::MaxLength { limit } => (format!("at most {limit} characters"), got_typed()),
        K::MinItems { limit } => (format!("at least {limit} items"), format!("{} items", got_value.as_array().map_or(0, Vec::len))),
        K::MaxItems { limit } => (format!("at most {limit} items"), format!("{} items", got_value.as_array().map_or(0, Vec::len))),
        _ => (format!("to satisfy `{keyword}` ({})", e.schema_path.as_str()), got_typed()),
    };
    ValidationError {
        path: pointer_to_dotted(&pointer),
        location: locate(&pointer, sources),
        pointer,
        chart: chart_label.to_string(),
        keyword,
        expected,
        got,
        message: e.to_string(),
    }
}

/// Where the value at `pointer` came from: the last `--set` that wrote it (or above or below
/// it), else the last `-f` file that wrote it, else the chart defaults that hold it.
fn locate(pointer: &str, sources: &Sources) -> ValueLocation {
    let touches = |p: &str| p == pointer || pointer.starts_with(&format!("{p}/")) || p.starts_with(&format!("{pointer}/")) || pointer.is_empty();
    for (text, pointers) in sources.sets.iter().rev() {
        if pointers.iter().any(|p| touches(p)) {
            return ValueLocation::Set { argument: text.clone() };
        }
    }
    let file_loc = |doc: &ValuesDoc, p: &str| -> Option<ValueLocation> {
        let pos = doc.positions.get(p).or_else(|| {
            // The file writes something under it (an object the schema rejects as a whole).
            let under = format!("{p}/");
            doc.positions.iter().filter(|(k, _)| k.starts_with(&under)).map(|(_, pos)| *pos).min_by_key(|pos| (pos.line, pos.column))
        })?;
        Some(ValueLocation::File { file: doc.file.clone(), line: pos.line, column: pos.column })
    };
    let by_ancestor = |doc: &ValuesDoc, p: &str| -> Option<ValueLocation> {
        let (_, pos) = doc.positions.nearest(p)?;
        Some(ValueLocation::File { file: doc.file.clone(), line: pos.line, column: pos.column })
    };
    let mut candidates: Vec<(&ValuesDoc, String)> = sources.files.iter().rev().map(|d| (*d, pointer.to_string())).collect();
    // The parent's values.yaml overrides a subchart's own defaults, so it is asked first.
    let mut defaults: Vec<_> = sources.defaults.iter().collect();
    defaults.sort_by_key(|(prefix, _)| prefix.len());
    for (prefix, doc) in defaults {
        if let Some(rel) = pointer.strip_prefix(prefix.as_str())
            && (rel.is_empty() || rel.starts_with('/'))
        {
            candidates.push((doc, rel.to_string()));
        }
    }
    for (doc, p) in &candidates {
        if let Some(l) = file_loc(doc, p) {
            return l;
        }
    }
    for (doc, p) in &candidates {
        if let Some(l) = by_ancestor(doc, p) {
            return l;
        }
    }
    ValueLocation::Missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::setvals::SetArg;
    use std::path::Path;

    fn chart(values: &str, schema: Option<&str>) -> (tempfile::TempDir, Chart) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.0.0\n").unwrap();
        std::fs::write(tmp.path().join("values.yaml"), values).unwrap();
        if let Some(s) = schema {
            std::fs::write(tmp.path().join("values.schema.json"), s).unwrap();
        }
        let c = Chart::load(tmp.path()).unwrap();
        (tmp, c)
    }

    #[test]
    fn every_error_with_file_line_column_or_set_argument() {
        let (_t, c) = chart("replicas: 1\nimage:\n  # @schema type:string\n  tag: v1\n", None);
        let contract = Contract::for_chart(&c).unwrap();
        let file = ValuesDoc::parse("image:\n  tag: 5\nreplicas: many\n", Path::new("my.yaml")).unwrap();
        let user = UserValues { files: vec![file], sets: vec![SetArg::parse("image.tag=7", false).unwrap()] };
        let errs = validate_values(&contract, &c, &user);
        assert_eq!(errs.len(), 2, "{errs:?}");
        let tag = errs.iter().find(|e| e.path == "image.tag").unwrap();
        assert_eq!(tag.location, ValueLocation::Set { argument: "image.tag=7".into() });
        assert_eq!((tag.expected.as_str(), tag.got.as_str()), ("string", "integer 7"));
        let r = errs.iter().find(|e| e.path == "replicas").unwrap();
        assert_eq!(r.location, ValueLocation::File { file: "my.yaml".into(), line: 3, column: 1 });
        assert_eq!(r.to_string(), "my.yaml:3:1: replicas: expected integer, got string \"many\"");
        assert!(!contract.is_valid(&user.merged_over(&c.values.value)));
        assert!(contract.is_valid(&c.values.value));
    }

    #[test]
    fn required_and_closed_objects_point_at_the_key() {
        let (_t, c) = chart("a: 1\n", Some(r#"{"type":"object","additionalProperties":false,"required":["a","b"],"properties":{"a":{"type":"integer"},"b":{"type":"string"}}}"#));
        let contract = Contract::for_chart(&c).unwrap();
        let file = ValuesDoc::parse("a: 2\ntypo: x\n", Path::new("u.yaml")).unwrap();
        let errs = validate_values(&contract, &c, &UserValues { files: vec![file], sets: vec![] });
        let typo = errs.iter().find(|e| e.keyword == "additionalProperties").unwrap();
        assert_eq!(typo.path, "typo");
        assert_eq!(typo.location, ValueLocation::File { file: "u.yaml".into(), line: 2, column: 1 });
        let req = errs.iter().find(|e| e.keyword == "required").unwrap();
        assert_eq!(req.path, "b");
        assert_eq!(req.location, ValueLocation::Missing);
    }
}
