//! What the property run asks of the rest of the pipeline, in one place: the values contract
//! (which generated sets are allowed) and the verdict on one render (the findings that count as a
//! failure). Until the contract and rules engines land in `main`, this holds small stand-ins with
//! the same signatures (`Contract::for_chart`/`is_valid`, `check_manifest`, `render_error_finding`).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use crate::chart::Chart;
use crate::manifest::Manifest;
use crate::render::RenderFailure;
use crate::rules::{Finding, Severity};

/// The values contract of a chart: its JSON Schema and a validator over merged values.
pub struct Contract {
    pub schema: Value,
    validator: jsonschema::Validator,
}

impl Contract {
    /// The chart's values.schema.json when it has one, else a schema inferred from its defaults
    /// (each default's type; open maps).
    pub fn for_chart(chart: &Chart) -> Result<Contract> {
        let path = chart.schema_path();
        let schema = if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?
        } else {
            infer(&chart.values.value)
        };
        // Same dialect choice as `contract::compile`: the bare `http://json-schema.org/schema#`
        // (nginx ships it) is read as draft-07 instead of being fetched.
        let draft = crate::contract::validation_draft(&schema);
        let mut compiled = schema.clone();
        let known = schema.get("$schema").and_then(Value::as_str).is_none_or(|u| draft.detect(&serde_json::json!({"$schema": u})).is_ok());
        if !known {
            compiled.as_object_mut().map(|o| o.remove("$schema"));
        }
        let validator = jsonschema::options()
            .with_draft(draft)
            .should_validate_formats(false)
            .build(&compiled)
            .map_err(|e| anyhow::anyhow!("{}: not a usable JSON Schema: {e}", path.display()))?;
        Ok(Contract { schema, validator })
    }

    /// Whether merged values satisfy the contract.
    pub fn is_valid(&self, merged: &Value) -> bool {
        self.validator.is_valid(merged)
    }
}

fn infer(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let props: Map<String, Value> = m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), infer(v))).collect();
            json!({"type": "object", "properties": props})
        }
        Value::Array(items) => match items.first() {
            Some(first) => json!({"type": "array", "items": infer(first)}),
            None => json!({"type": "array"}),
        },
        Value::Null => json!(true),
        Value::Number(n) if n.is_f64() => json!({"type": "number"}),
        other => json!({"type": crate::chart::values::json_type_name(other)}),
    }
}

/// The findings of one successful render.
pub fn check_manifest(manifest: &Manifest) -> Vec<Finding> {
    let mut out = Vec::new();
    for (res, pod) in manifest.workloads() {
        let finding = |rule: &str, message: String| Finding {
            rule: rule.into(),
            severity: Severity::Error,
            kind: res.kind.clone(),
            namespace: res.namespace.clone(),
            name: res.name.clone(),
            template: res.template.clone(),
            path: None,
            message,
        };
        let selector = res.body.pointer("/spec/selector/matchLabels").and_then(Value::as_object);
        if let (Some(sel), Some(labels)) = (selector, pod.labels())
            && sel.iter().any(|(k, v)| labels.get(k) != Some(v))
        {
            out.push(finding("selector-mismatch", "spec.selector.matchLabels does not select the pod template labels".into()));
        }
        if pod.runs_to_completion() {
            continue;
        }
        for c in pod.containers().into_iter().filter(|c| !c.init) {
            if c.body.get("readinessProbe").is_none() {
                out.push(finding("probe-readiness", format!("container {} has no readinessProbe", c.name)));
            }
            let requests = c.body.pointer("/resources/requests").and_then(Value::as_object);
            if !["cpu", "memory"].iter().all(|k| requests.is_some_and(|r| r.contains_key(*k))) {
                out.push(finding("resources-requests", format!("container {} does not request cpu and memory", c.name)));
            }
        }
    }
    out
}

/// The finding for a render that produced no manifest.
pub fn render_error_finding(failure: &RenderFailure, chart_name: &str) -> Finding {
    let (template, message) = match failure {
        RenderFailure::Helm(e) => (e.template.clone(), e.to_string()),
        RenderFailure::Timeout(_) => (None, failure.to_string()),
    };
    Finding {
        rule: "render-error".into(),
        severity: Severity::Error,
        kind: "Chart".into(),
        namespace: None,
        name: chart_name.into(),
        template,
        path: None,
        message,
    }
}

/// Values paths templates read (dotted, e.g. `image.tag`), when known: keys outside them need
/// not vary. From the audit's static template reader; None (every key varies) when it cannot tell.
pub fn referenced_paths(chart: &Chart) -> Option<BTreeSet<String>> {
    crate::audit::referenced_paths(chart).ok()?.dotted_paths()
}
