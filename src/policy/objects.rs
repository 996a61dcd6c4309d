//! The admission objects read from `--policies` files: ValidatingAdmissionPolicy,
//! ValidatingAdmissionPolicyBinding, and every other object as a potential param.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::chart::libyaml::{Event, EventParser, ScalarStyle};

pub const POLICY_KIND: &str = "ValidatingAdmissionPolicy";
pub const BINDING_KIND: &str = "ValidatingAdmissionPolicyBinding";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub api_versions: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchResources {
    pub namespace_selector: Option<LabelSelector>,
    pub object_selector: Option<LabelSelector>,
    #[serde(default)]
    pub resource_rules: Vec<ResourceRule>,
    #[serde(default)]
    pub exclude_resource_rules: Vec<ResourceRule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedExpression {
    pub name: String,
    pub expression: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub expression: String,
    pub message: Option<String>,
    pub message_expression: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamKind {
    pub api_version: String,
    pub kind: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum FailurePolicy {
    #[default]
    Fail,
    Ignore,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    pub param_kind: Option<ParamKind>,
    #[serde(default)]
    pub match_constraints: MatchResources,
    #[serde(default)]
    pub match_conditions: Vec<NamedExpression>,
    #[serde(default)]
    pub variables: Vec<NamedExpression>,
    #[serde(default)]
    pub validations: Vec<Validation>,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamRef {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub selector: Option<LabelSelector>,
    /// `Allow` or `Deny` (the default).
    pub parameter_not_found_action: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingSpec {
    pub policy_name: String,
    pub param_ref: Option<ParamRef>,
    pub match_resources: Option<MatchResources>,
    #[serde(default)]
    pub validation_actions: Vec<String>,
}

/// A ValidatingAdmissionPolicy as written, with the file it came from.
#[derive(Debug, Clone)]
pub struct PolicyObject {
    pub file: PathBuf,
    pub name: String,
    pub spec: PolicySpec,
    /// The line of each of its scalar values, by YAML path (`spec.validations[0].expression`).
    pub lines: BTreeMap<String, usize>,
}

impl PolicyObject {
    /// `file:line` of the value at `path` (the file alone if unknown).
    pub fn at(&self, path: &str) -> String {
        located(&self.file, &self.lines, path)
    }
}

#[derive(Debug, Clone)]
pub struct BindingObject {
    pub file: PathBuf,
    pub name: String,
    pub spec: BindingSpec,
    /// The line of each of its scalar values, by YAML path (`spec.paramRef.name`).
    pub lines: BTreeMap<String, usize>,
}

impl BindingObject {
    /// `file:line` of the value at `path`, else of the nearest enclosing one that has a line.
    pub fn at(&self, path: &str) -> String {
        located(&self.file, &self.lines, path)
    }
}

/// `file:line` of the value at `path` or, when it has none (a missing field, a collection), of
/// the first value under it or under its nearest parent, else of the document's first value.
fn located(file: &Path, lines: &BTreeMap<String, usize>, path: &str) -> String {
    let mut path = path;
    let line = loop {
        let under = lines.range(path.to_string()..).next().filter(|(p, _)| p.starts_with(path)).map(|(_, l)| l);
        if let Some(line) = lines.get(path).or(under) {
            break Some(line);
        }
        match path.rfind(['.', '[']) {
            Some(end) => path = &path[..end],
            None => break lines.values().min(),
        }
    };
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

/// One open collection while walking a document's events.
enum Open {
    Mapping { path: String, key: Option<String> },
    Sequence { path: String, index: usize },
}

/// For each document of `text`, the line of every scalar value by its YAML path; a block scalar
/// (`|`, `>`) counts from its first content line. Empty when the text does not parse (the
/// document reader reports that).
fn value_lines(text: &str) -> Vec<BTreeMap<String, usize>> {
    let mut parser = EventParser::new(text);
    let (mut documents, mut open): (Vec<BTreeMap<String, usize>>, Vec<Open>) = (Vec::new(), Vec::new());
    while let Some(Ok((event, mark))) = parser.next_event() {
        if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
            open.pop();
            advance(&mut open);
            continue;
        }
        // The path of the value this event starts, if it is a value (not a mapping key).
        let path = match open.last_mut() {
            Some(Open::Mapping { key: key @ None, .. }) => {
                if let Event::Scalar { value, .. } = &event {
                    *key = Some(value.clone());
                }
                None
            }
            Some(Open::Mapping { path, key: Some(key) }) => Some(if path.is_empty() { key.clone() } else { format!("{path}.{key}") }),
            Some(Open::Sequence { path, index }) => Some(format!("{path}[{index}]")),
            None => Some(String::new()),
        };
        let Some(path) = path else { continue };
        match event {
            Event::DocumentStart => documents.push(BTreeMap::new()),
            Event::MappingStart { .. } => open.push(Open::Mapping { path, key: None }),
            Event::SequenceStart { .. } => open.push(Open::Sequence { path, index: 0 }),
            Event::Scalar { style, .. } => {
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                if let Some(lines) = documents.last_mut() {
                    lines.insert(path, mark.line + usize::from(block));
                }
                advance(&mut open);
            }
            Event::Alias { .. } => advance(&mut open),
            _ => {}
        }
    }
    documents
}

/// The enclosing collection moves past the value just read.
fn advance(open: &mut [Open]) {
    match open.last_mut() {
        Some(Open::Mapping { key, .. }) => *key = None,
        Some(Open::Sequence { index, .. }) => *index += 1,
        None => {}
    }
}

/// Any other object in the policy files: a candidate for a policy's `paramKind`.
#[derive(Debug, Clone)]
pub struct ParamObject {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub body: Value,
}

/// Everything read from the policy files.
#[derive(Debug, Clone, Default)]
pub struct PolicyFiles {
    pub policies: Vec<PolicyObject>,
    pub bindings: Vec<BindingObject>,
    pub params: Vec<ParamObject>,
}

/// The YAML files under `path` (itself when a file), sorted.
fn yaml_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        if !path.exists() {
            bail!("{}: no such policy file or directory", path.display());
        }
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("cannot read policy directory {}", path.display()))? {
        let entry_path = entry.with_context(|| format!("cannot read policy directory {}", path.display()))?.path();
        if entry_path.is_dir() {
            files.extend(yaml_files(&entry_path)?);
        } else if matches!(entry_path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(entry_path);
        }
    }
    files.sort();
    Ok(files)
}

/// A document's `spec`, read straight from the YAML so that errors carry a line and column.
#[derive(Deserialize)]
struct SpecOnly<T> {
    spec: T,
}

/// `spec` of document `index` of `text` as `T`; errors name the file, line, column and key.
fn spec<T: serde::de::DeserializeOwned>(text: &str, index: usize, file: &Path, what: &str) -> Result<T> {
    let document = serde_yaml::Deserializer::from_str(text).nth(index).expect("the document was read before");
    SpecOnly::<T>::deserialize(document).map(|d| d.spec).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        anyhow::anyhow!("{}{at}: {what}: invalid `spec`: {e}", file.display())
    })
}

/// The `spec` of an object: from its YAML `document` (text, index) when it has one, so errors
/// have a line and column, else (a List item at `at`) from the parsed object.
fn object_spec<T: serde::de::DeserializeOwned>(doc: &Value, document: Option<(&str, usize)>, file: &Path, at: &str, what: &str) -> Result<T> {
    match document {
        Some((text, index)) => spec(text, index, file, what),
        None => field(doc, "spec", file, &format!("{at}: {what}")),
    }
}

fn field<T: serde::de::DeserializeOwned>(doc: &Value, key: &str, file: &Path, what: &str) -> Result<T> {
    serde_json::from_value(doc.get(key).cloned().unwrap_or(Value::Null)).with_context(|| format!("{}: {what}: invalid `{key}`", file.display()))
}

impl PolicyFiles {
    /// Read every policy, binding and param object from `paths` (files or directories).
    pub fn load(paths: &[PathBuf]) -> Result<PolicyFiles> {
        let mut loaded = PolicyFiles::default();
        for path in paths {
            for file in yaml_files(path)? {
                loaded.read_file(&file)?;
            }
        }
        Ok(loaded)
    }

    fn read_file(&mut self, file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read policy file {}", file.display()))?;
        let mut lines = value_lines(&text).into_iter();
        for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let doc = Value::deserialize(document).with_context(|| format!("{}: document {} is not valid YAML", file.display(), index + 1))?;
            let lines = lines.next().unwrap_or_default();
            if doc.is_null() {
                continue;
            }
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
            let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
            // A `v1 List` (kubectl's list format, as in the Kubernetes documentation's examples):
            // each item is an object of its own, its lines those under `items[i]`.
            if kind == "List" && api_version == "v1" {
                let items = doc.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
                for (i, item) in items.into_iter().enumerate() {
                    let prefix = format!("items[{i}].");
                    let item_lines = lines.iter().filter_map(|(path, line)| Some((path.strip_prefix(&prefix)?.to_string(), *line))).collect();
                    self.read_object(file, item, item_lines, &format!("document {} item {i}", index + 1), None)?;
                }
                continue;
            }
            self.read_object(file, doc, lines, &format!("document {}", index + 1), Some((&text, index)))?;
        }
        Ok(())
    }

    /// One object of a policy file: `spec` is read from the YAML `document` (text and index)
    /// when given, so errors have a column, else from the parsed value.
    fn read_object(&mut self, file: &Path, doc: Value, lines: BTreeMap<String, usize>, at: &str, document: Option<(&str, usize)>) -> Result<()> {
        {
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
            let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
            let what = format!("{at} ({kind})");
            let metadata: Metadata = match doc.get("metadata") {
                Some(_) => field(&doc, "metadata", file, &what)?,
                None => Metadata::default(),
            };
            if metadata.name.is_empty() {
                bail!("{}: {what}: `metadata.name` is required", file.display());
            }
            let what = format!("{kind} {}", metadata.name);
            let is_admission = api_version.starts_with("admissionregistration.k8s.io/");
            match kind.as_str() {
                POLICY_KIND if is_admission => self.policies.push(PolicyObject { file: file.to_path_buf(), name: metadata.name, spec: object_spec(&doc, document, file, at, &what)?, lines }),
                BINDING_KIND if is_admission => self.bindings.push(BindingObject { file: file.to_path_buf(), name: metadata.name, spec: object_spec(&doc, document, file, at, &what)?, lines }),
                _ => self.params.push(ParamObject { api_version, kind, metadata, body: doc }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_specs_are_located_by_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n";
        std::fs::write(&file, format!("{other}apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: x}}\nspec:\n  validations: {{expression: 1}}\n")).unwrap();
        let e = PolicyFiles::load(std::slice::from_ref(&file)).unwrap_err().to_string();
        assert_eq!(e, format!("{}:9:16: ValidatingAdmissionPolicy x: invalid `spec`: spec.validations: invalid type: map, expected a sequence at line 9 column 16", file.display()));
    }

    /// The Kubernetes documentation's list-format example: a policy and its binding as the
    /// items of a `v1 List`.
    #[test]
    fn a_v1_list_of_policies_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list.yaml");
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: admissionregistration.k8s.io/v1\n  kind: ValidatingAdmissionPolicy\n  metadata:\n    name: demo\n  spec:\n    validations:\n    - expression: object.spec.replicas <= 5\n- apiVersion: admissionregistration.k8s.io/v1\n  kind: ValidatingAdmissionPolicyBinding\n  metadata:\n    name: demo-binding\n  spec:\n    policyName: demo\n    validationActions: [Deny]\n";
        std::fs::write(&file, list).unwrap();
        let loaded = PolicyFiles::load(std::slice::from_ref(&file)).unwrap();
        assert_eq!((loaded.policies.len(), loaded.bindings.len(), loaded.params.len()), (1, 1, 0));
        assert_eq!(loaded.policies[0].spec.validations[0].expression, "object.spec.replicas <= 5");
        assert_eq!(loaded.policies[0].at("spec.validations[0].expression"), format!("{}:10", file.display()));
        assert_eq!(loaded.bindings[0].spec.policy_name, "demo");
        std::fs::write(&file, list.replace("validationActions: [Deny]", "validationActions: Deny")).unwrap();
        let error = PolicyFiles::load(std::slice::from_ref(&file)).unwrap_err();
        assert!(format!("{error:#}").contains("document 1 item 1: ValidatingAdmissionPolicyBinding demo-binding: invalid `spec`"), "{error:#}");
    }

    #[test]
    fn values_are_located_by_their_yaml_path() {
        let text = "a: 1\n---\napiVersion: v1\nspec:\n  validations:\n    - expression: x\n    - message: m\n      expression: >-\n        y\n  list: [1, {k: v}]\n";
        let lines = value_lines(text);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], BTreeMap::from([("a".to_string(), 1)]));
        let second: Vec<(&str, usize)> = lines[1].iter().map(|(p, l)| (p.as_str(), *l)).collect();
        assert_eq!(
            second,
            [("apiVersion", 3), ("spec.list[0]", 10), ("spec.list[1].k", 10), ("spec.validations[0].expression", 6), ("spec.validations[1].expression", 9), ("spec.validations[1].message", 7)]
        );
    }
}
