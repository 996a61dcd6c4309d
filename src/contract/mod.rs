//! The values contract of a chart: the JSON Schema its values must satisfy. Either the chart ships
//! one (values.schema.json) or chartproof infers one from values.yaml and its comment annotations.
//! Subcharts keep their own contract and are validated the way Helm validates them: each chart's
//! schema against that chart's coalesced values (its defaults, the parent's values under its key,
//! and the globals).
//!
//! Submodules: `infer` (values → schema), `annotate` (comment annotations), `merge` (inferred
//! schema over a hand-written one), `lint` (contract traps), `validate` (values against the contract),
//! `compat` (two contracts compared: breaking or compatible for existing values), `dialect` (the
//! schema validator of the helm in use: Helm 3's or Helm 4's reading of a values.schema.json).

pub mod annotate;
pub mod compat;
pub mod dialect;
pub mod infer;
pub mod lint;
pub mod merge;
pub mod validate;

use std::fmt;
use std::path::PathBuf;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::chart::Chart;
use crate::chart::merge::coalesce;
use crate::chart::values::pointer_segment;
pub use dialect::HelmDialect;

/// JSON Schema dialect chartproof writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, schemars::JsonSchema)]
pub enum Draft {
    /// draft-07: what Helm up to 3.18.4 validates with (gojsonschema).
    #[default]
    #[value(name = "7")]
    #[serde(rename = "7")]
    Draft7,
    /// 2020-12: Helm 3.18.5+ and Helm 4 (santhosh-tekuri/jsonschema).
    #[value(name = "2020-12")]
    #[serde(rename = "2020-12")]
    Draft202012,
}

impl Draft {
    /// The `$schema` URI of this dialect.
    pub fn uri(self) -> &'static str {
        match self {
            Draft::Draft7 => "http://json-schema.org/draft-07/schema#",
            Draft::Draft202012 => "https://json-schema.org/draft/2020-12/schema",
        }
    }
}

/// The jsonschema draft to validate a schema with: the one its `$schema` names, else draft-07
/// (Helm 3's gojsonschema; the bare `http://json-schema.org/schema#` is read as draft-07 too).
pub fn validation_draft(schema: &Value) -> jsonschema::Draft {
    let uri = schema.get("$schema").and_then(Value::as_str).unwrap_or("");
    match uri.trim_end_matches('#').trim_end_matches('/') {
        "https://json-schema.org/draft/2020-12/schema" => jsonschema::Draft::Draft202012,
        "https://json-schema.org/draft/2019-09/schema" => jsonschema::Draft::Draft201909,
        "http://json-schema.org/draft-06/schema" => jsonschema::Draft::Draft6,
        "http://json-schema.org/draft-04/schema" => jsonschema::Draft::Draft4,
        _ => jsonschema::Draft::Draft7,
    }
}

/// A problem in a contract that is worth telling the chart author, with where it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ContractWarning {
    pub file: PathBuf,
    /// 1-based line; 0 when the place has no line (a key the file does not write).
    pub line: usize,
    /// Dotted key path the warning is about, when it is about one.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for ContractWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(p) = &self.path {
            write!(f, ": {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a chart's contract comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ContractSource {
    /// The chart's own values.schema.json.
    Shipped(PathBuf),
    /// Inferred by chartproof from values.yaml (no values.schema.json in the chart).
    Inferred,
}

/// A subchart's contract as the parent applies it.
#[derive(Debug, Clone)]
pub struct SubchartContract {
    /// The parent's values key for it (alias or name).
    pub key: String,
    /// Dependency condition (`kid.enabled`), evaluated on the parent's coalesced values.
    pub condition: Option<String>,
    pub tags: Vec<String>,
    pub contract: Contract,
}

/// A chart's values contract, compiled once and reusable for many validations.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The whole contract as one schema: the chart's own schema with each subchart's schema nested
    /// under its key (for generators and editors). Validation uses the per-chart schemas, like Helm.
    pub schema: Value,
    pub source: ContractSource,
    /// Chart name (the key for subcharts) used in messages.
    pub chart_name: String,
    /// The chart's own schema (without nested subcharts), as validated.
    pub own_schema: Value,
    /// The chart's default values (values.yaml).
    pub defaults: Value,
    pub subcharts: Vec<SubchartContract>,
    /// Whose validator a shipped schema is read and applied with.
    pub dialect: HelmDialect,
    validator: Arc<jsonschema::Validator>,
    plain_defaults: Arc<Value>,
    /// Defaults after dependency processing, by set of enabled subcharts.
    processed: Arc<Mutex<HashMap<String, Arc<Value>>>>,
}

impl Contract {
    /// The contract of a chart: its values.schema.json if present, else the inferred one; the same
    /// for each subchart in `charts/`. Shipped schemas are read like Helm 4 reads them
    /// ([`HelmDialect::default`]); [`Contract::for_helm`] picks the helm in use.
    pub fn for_chart(chart: &Chart) -> Result<Contract> {
        Self::for_helm(chart, HelmDialect::default())
    }

    /// The contract of a chart with its shipped schemas read and applied like `dialect`'s
    /// validator does (which draft, `format`, the schema's own errors).
    pub fn for_helm(chart: &Chart, dialect: HelmDialect) -> Result<Contract> {
        let schema_path = chart.schema_path();
        let (own_schema, source) = if schema_path.exists() {
            (read_schema_file(&schema_path)?, ContractSource::Shipped(schema_path.clone()))
        } else {
            (infer::infer_own_schema(chart, Draft::Draft7, infer::StringTyping::default()).schema, ContractSource::Inferred)
        };
        let validator = match &source {
            ContractSource::Shipped(_) => dialect.compile(&own_schema),
            ContractSource::Inferred => compile(&own_schema),
        };
        let validator = validator.with_context(|| match &source {
            ContractSource::Shipped(p) => format!("{} is not a usable JSON Schema for {}", p.display(), dialect.describe()),
            ContractSource::Inferred => format!("the schema inferred for chart {} does not compile (a bug in an annotation?)", chart.meta.name),
        })?;
        let mut subcharts = Vec::new();
        for sub in &chart.subcharts {
            let dep = chart.meta.dependencies.iter().find(|d| d.alias.as_deref().unwrap_or(&d.name) == sub.key);
            let contract = Contract::for_helm(&sub.chart, dialect).with_context(|| format!("subchart {}", sub.key))?;
            subcharts.push(SubchartContract { key: sub.key.clone(), condition: sub.condition.clone(), tags: dep.map(|d| d.tags.clone()).unwrap_or_default(), contract });
        }
        let mut schema = own_schema.clone();
        for sub in &subcharts {
            infer::nest_subchart_schema(&mut schema, &sub.key, &sub.contract.schema, sub.condition.as_deref());
        }
        Ok(Contract { schema, source, chart_name: chart.meta.name.clone(), own_schema, defaults: chart.values.value.clone(),
            subcharts,
            dialect,
            validator: Arc::new(validator),
            plain_defaults: Arc::new(if chart.values.value.is_object() { chart.values.value.clone() } else { Value::Object(Default::default()) }),
            processed: Default::default(),
        })
    }

    /// Whether values satisfy the contract of the chart and of every enabled subchart, as Helm
    /// checks them. `values` are the user's values, alone (`UserValues::overrides`) or merged over
    /// the defaults (`UserValues::merged_over`). Cheap: validators are compiled once.
    pub fn is_valid(&self, values: &Value) -> bool {
        let (coalesced, enabled) = self.helm_values(values);
        self.is_valid_coalesced(&self.dialect.values_as_validated(&coalesced), &enabled)
    }

    fn is_valid_coalesced(&self, values: &Value, enabled: &[Enabled]) -> bool {
        self.validator.is_valid(values)
            && enabled.iter().all(|e| {
                let s = &self.subcharts[e.index];
                values.get(&s.key).is_none_or(|v| s.contract.is_valid_coalesced(v, &e.below))
            })
    }

    /// The values Helm validates and renders with for the user's `overrides`: Helm first drops
    /// disabled dependencies and replaces the chart's defaults with its defaults merged with every
    /// enabled subchart's defaults (globals copied in, nulls kept), then fills the user's values
    /// with those defaults (a user null deletes a key that has a default; other user nulls stay),
    /// then does the same for each subchart under its key, copying the parent's globals in.
    /// Also returns which subcharts are enabled.
    pub fn helm_values(&self, overrides: &Value) -> (Value, Vec<Enabled>) {
        let enabled = self.enabled_subcharts(&[overrides, &self.defaults]);
        let mut values = if overrides.is_object() { overrides.clone() } else { Value::Object(Default::default()) };
        fill_defaults(&mut values, &self.processed_defaults(&enabled));
        self.coalesce_deps(&mut values, &enabled);
        (values, enabled)
    }

    /// Which subcharts are on. `layers` are this chart's values by priority (user values, then
    /// the parents' defaults for it, then its own defaults); a condition is read from the first
    /// layer that has it, else from the subchart's own defaults.
    fn enabled_subcharts(&self, layers: &[&Value]) -> Vec<Enabled> {
        if self.subcharts.is_empty() {
            return Vec::new();
        }
        let lookup = |pointer: &str| -> Option<&Value> {
            layers.iter().find_map(|l| l.pointer(pointer)).or_else(|| {
                self.subcharts.iter().find_map(|s| {
                    let rest = pointer.strip_prefix(&format!("/{}", pointer_segment(&s.key)))?;
                    rest.starts_with('/').then(|| s.contract.defaults.pointer(rest)).flatten()
                })
            })
        };
        (0..self.subcharts.len())
            .filter(|&i| self.is_enabled_by(&self.subcharts[i], &lookup))
            .map(|index| {
                let s = &self.subcharts[index];
                let mut below_layers: Vec<&Value> = layers.iter().filter_map(|l| l.get(&s.key)).collect();
                below_layers.push(&s.contract.defaults);
                Enabled { index, below: s.contract.enabled_subcharts(&below_layers) }
            })
            .collect()
    }

    /// The chart's defaults after Helm's dependency processing (`MergeValues`: nulls kept),
    /// computed once per set of enabled subcharts.
    fn processed_defaults(&self, enabled: &[Enabled]) -> Arc<Value> {
        if enabled.is_empty() {
            return self.plain_defaults.clone();
        }
        let key = enabled_key(enabled);
        if let Some(v) = self.processed.lock().unwrap().get(&key) {
            return v.clone();
        }
        let mut values = self.defaults.clone();
        if !values.is_object() {
            values = Value::Object(Default::default());
        }
        let global = values.get("global").cloned();
        for e in enabled {
            let s = &self.subcharts[e.index];
            let mut sub = (*s.contract.processed_defaults(&e.below)).clone();
            if let Some(under) = values.get(&s.key) {
                merge_keeping_nulls(&mut sub, under);
            }
            if let (Some(g), Some(obj)) = (&global, sub.as_object_mut()) {
                let sub_global = obj.entry("global").or_insert_with(|| Value::Object(Default::default()));
                merge_keeping_nulls(sub_global, g);
            }
            values.as_object_mut().unwrap().insert(s.key.clone(), sub);
        }
        let values = Arc::new(values);
        self.processed.lock().unwrap().insert(key, values.clone());
        values
    }

    /// Helm's `coalesceDeps`: each enabled subchart's values filled with its defaults, and the
    /// parent's globals copied into it.
    fn coalesce_deps(&self, values: &mut Value, enabled: &[Enabled]) {
        let Some(obj) = values.as_object_mut() else { return };
        let global = obj.get("global").cloned();
        for e in enabled {
            let s = &self.subcharts[e.index];
            let sub = obj.entry(s.key.clone()).or_insert_with(|| Value::Object(Default::default()));
            if !sub.is_object() {
                continue; // Helm warns and skips a subchart whose values are not a map.
            }
            fill_defaults(sub, &s.contract.processed_defaults(&e.below));
            if let Some(g) = &global {
                let sub_global = sub.as_object_mut().unwrap().entry("global").or_insert_with(|| Value::Object(Default::default()));
                coalesce(sub_global, g);
            }
            s.contract.coalesce_deps(sub, &e.below);
        }
    }

    /// Helm's dependency switch: the first condition path that resolves to a boolean decides, else
    /// the tags (any true tag enables, all-false disables), else enabled.
    pub fn is_enabled(&self, sub: &SubchartContract, values: &Value) -> bool {
        self.is_enabled_by(sub, &|p| values.pointer(p))
    }

    fn is_enabled_by<'v>(&self, sub: &SubchartContract, lookup: &dyn Fn(&str) -> Option<&'v Value>) -> bool {
        if let Some(cond) = &sub.condition {
            for path in cond.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let pointer: String = path.split('.').map(|s| format!("/{}", pointer_segment(s))).collect();
                if let Some(Value::Bool(b)) = lookup(&pointer) {
                    return *b;
                }
            }
        }
        let tag_values: Vec<bool> = sub.tags.iter().filter_map(|t| lookup(&format!("/tags/{}", pointer_segment(t))).and_then(Value::as_bool)).collect();
        if tag_values.is_empty() { true } else { tag_values.iter().any(|b| *b) }
    }

    pub(crate) fn validator(&self) -> &jsonschema::Validator {
        &self.validator
    }
}

/// An enabled subchart (index into `Contract::subcharts`) and which of its own are enabled.
#[derive(Debug, Clone)]
pub struct Enabled {
    pub index: usize,
    pub below: Vec<Enabled>,
}

fn enabled_key(enabled: &[Enabled]) -> String {
    enabled.iter().map(|e| format!("{}({})", e.index, enabled_key(&e.below))).collect::<Vec<_>>().join(",")
}

/// Helm's `coalesceValues`: fill `dest` (user values) with the `defaults` it lacks. A user null
/// deletes a key that has a default; a user null for a key without a default stays (and a closed
/// schema rejects that key, as Helm does).
fn fill_defaults(dest: &mut Value, defaults: &Value) {
    let (Value::Object(d), Value::Object(defs)) = (dest, defaults) else { return };
    for (k, dv) in defs {
        match d.get_mut(k) {
            Some(Value::Null) => {
                d.remove(k);
            }
            Some(uv @ Value::Object(_)) if dv.is_object() => fill_defaults(uv, dv),
            Some(_) => {}
            None => {
                d.insert(k.clone(), dv.clone());
            }
        }
    }
}

/// Helm's `MergeTables`: maps merge key by key, `over` wins, nulls are kept (not deletions).
fn merge_keeping_nulls(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv @ Value::Object(_)) if v.is_object() => merge_keeping_nulls(bv, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Compile a schema with the draft its `$schema` names. Remote `$ref`s are not fetched.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator> {
    let draft = validation_draft(schema);
    // A `$schema` jsonschema does not know (the bare `http://json-schema.org/schema#`) would be
    // fetched; the draft is already chosen, so it is left out of the compiled copy.
    let known = schema.get("$schema").and_then(Value::as_str).is_none_or(|u| jsonschema::Draft::default().detect(&serde_json::json!({"$schema": u})).is_ok());
    let stripped;
    let schema = if known {
        schema
    } else {
        let mut s = schema.clone();
        s.as_object_mut().map(|o| o.remove("$schema"));
        stripped = s;
        &stripped
    };
    jsonschema::options().with_draft(draft).build(schema).map_err(|e| {
        let at = e.instance_path.as_str();
        if at.is_empty() { anyhow::anyhow!("{e}") } else { anyhow::anyhow!("at schema {at}: {e}") }
    })
}

/// Read the values.schema.json of a chart and of each of its subcharts: each must be JSON
/// (whether it is a usable JSON Schema depends on the helm: [`Contract::for_helm`]).
pub fn read_schema_files(chart: &Chart) -> Result<()> {
    let path = chart.schema_path();
    if path.exists() {
        read_schema_file(&path)?;
    }
    chart.subcharts.iter().try_for_each(|s| read_schema_files(&s.chart).with_context(|| format!("subchart {}", s.key)))
}

/// Read a values.schema.json: a JSON document (with its line and column when it is not).
pub fn read_schema_file(path: &std::path::Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}:{}:{}: not valid JSON: {}", path.display(), e.line(), e.column(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::chart::chart_from_files as chart_with;

    #[test]
    fn subchart_contract_sees_globals_and_defaults_and_condition() {
        let (_t, chart) = chart_with(&[
            ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: 0.1.0\n  alias: kid\n  condition: kid.enabled\n"),
            ("values.yaml", "global:\n  region: eu\nkid:\n  enabled: true\n"),
            ("charts/child/Chart.yaml", "apiVersion: v2\nname: child\nversion: 0.1.0\n"),
            ("charts/child/values.yaml", "port: 80\n"),
            ("charts/child/values.schema.json", r#"{"type":"object","required":["global"],"properties":{"port":{"type":"integer"},"global":{"type":"object","required":["region"]}}}"#),
        ]);
        let c = Contract::for_chart(&chart).unwrap();
        assert_eq!(c.source, ContractSource::Inferred);
        assert!(matches!(c.subcharts[0].contract.source, ContractSource::Shipped(_)));
        assert!(c.is_valid(&chart.values.value));
        let mut bad = chart.values.value.clone();
        bad["kid"]["port"] = json!("eighty");
        assert!(!c.is_valid(&bad));
        // Disabled subcharts are not validated (Helm drops them first).
        bad["kid"]["enabled"] = json!(false);
        assert!(c.is_valid(&bad));
        assert_eq!(c.schema["properties"]["kid"]["properties"]["port"]["type"], json!("integer"));
    }

    #[test]
    fn contracts_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Contract>();
    }

    #[test]
    fn user_nulls_delete_defaults_but_stay_for_keys_without_one() {
        let mut user = json!({"a": null, "b": {"c": null, "x": null}, "new": null});
        fill_defaults(&mut user, &json!({"a": 1, "b": {"c": 2, "d": 3}, "e": null}));
        assert_eq!(user, json!({"b": {"x": null, "d": 3}, "new": null, "e": null}));
    }

    #[test]
    fn shipped_schema_that_is_not_json_schema_is_an_error() {
        let (_t, chart) = chart_with(&[("Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"), ("values.schema.json", r#"{"type": "integr"}"#)]);
        let err = format!("{:#}", Contract::for_chart(&chart).unwrap_err());
        assert!(err.contains("values.schema.json is not a usable JSON Schema"), "{err}");
        let (_t, chart) = chart_with(&[("Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"), ("values.schema.json", "{\"type\": \n")]);
        let err = format!("{:#}", Contract::for_chart(&chart).unwrap_err());
        assert!(err.contains("values.schema.json:2:") && err.contains("not valid JSON"), "{err}");
    }
}
