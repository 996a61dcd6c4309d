//! Whom a contract change reaches: one values set (a team's file over the shared `-f` files and
//! `--set`) validated against the old and the new contract the way Helm validates (over each
//! chart's own defaults), each breaking change attributed to the values it rejects or silently
//! ignores, located at the file and line that wrote them, and the changed defaults the values
//! leave to the chart.

use serde_json::Value;

use crate::chart::Chart;
use crate::chart::merge::UserValues;
use crate::chart::values::{pointer_segment, pointer_to_dotted};
use crate::contract::Contract;
use crate::contract::compat::{ContractChange, ContractDiff, ignores_values, path_is_under};
use crate::contract::validate::{ValidationError, ValueLocation, validate_values};

/// One side's contract and chart.
pub struct ContractSide<'a> {
    pub contract: &'a Contract,
    pub chart: &'a Chart,
}

/// What the contract change means for one values set.
#[derive(Debug, Clone, Default)]
pub struct ValuesImpact {
    /// Why the values were already invalid under the old contract (located).
    pub invalid_before: Vec<String>,
    /// Why the new contract rejects values the old one accepted (located), breaking or not.
    pub rejected_after: Vec<String>,
    /// Indices into `ContractDiff::breaking` that reach these values, with the located reason.
    pub reached: Vec<(usize, String)>,
    /// Indices into `ContractDiff::defaults` that these values leave to the chart.
    pub relied_defaults: Vec<usize>,
}

impl ValuesImpact {
    /// Every located reason these values break: reached breaking changes, then rejections no
    /// breaking change explains (an unclassified change that turns out to reject them).
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self.reached.iter().map(|(_, r)| r.clone()).collect();
        for r in &self.rejected_after {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }
}

/// `file:line` (the reviewers read lines, not columns), `--set arg`, or `(not set)`.
pub fn short_location(l: &ValueLocation) -> String {
    match l {
        ValueLocation::File { file, line, .. } => format!("{}:{line}", file.display()),
        other => other.to_string(),
    }
}

/// The short name of a breaking change's reason (`key removed`, `enum value(s) removed`).
fn reason_head(c: &ContractChange) -> &str {
    c.reason.split(':').next().unwrap_or(&c.reason)
}

/// Judge a release's values against both contracts: `old_user` as the old release gets them,
/// `user` as the new one does (they differ by `--old-values`/`--new-values`; reasons, set keys
/// and relied-on defaults are the new side's). `new_label` names the new side in reasons.
pub fn assess(old: &ContractSide, new: &ContractSide, diff: &ContractDiff, old_user: &UserValues, user: &UserValues, new_label: &str) -> ValuesImpact {
    let before = validate_values(old.contract, old.chart, old_user);
    let after = validate_values(new.contract, new.chart, user);
    let same = |a: &ValidationError, b: &ValidationError| a.path == b.path && a.keyword == b.keyword;
    let fresh: Vec<&ValidationError> = after.iter().filter(|e| !before.iter().any(|b| same(b, e))).collect();
    let mut impact = ValuesImpact { invalid_before: before.iter().map(|e| format!("{}: {}: expected {}, got {}", short_location(&e.location), shown_path(&e.path), e.expected, e.got)).collect(), ..Default::default() };
    let overrides = user.overrides();
    let set_paths = set_pointers(&overrides);
    for (i, change) in diff.breaking.iter().enumerate() {
        let reason = if ignores_values(change) {
            set_paths.iter().find(|p| path_is_under(&pointer_to_dotted(p), &change.path)).map(|p| {
                format!("{}: {} is ignored by {new_label}: {}", short_location(&locate(user, p)), pointer_to_dotted(p), reason_head(change))
            })
        } else {
            fresh.iter().find(|e| path_is_under(&e.path, &change.path)).map(|e| format!("{}: {} is rejected by {new_label}: {}", short_location(&e.location), shown_path(&e.path), reason_head(change)))
        };
        if let Some(r) = reason {
            impact.reached.push((i, r));
        }
    }
    for e in &fresh {
        if !diff.breaking.iter().any(|c| !ignores_values(c) && path_is_under(&e.path, &c.path)) {
            impact.rejected_after.push(format!("{}: {} is rejected by {new_label}: expected {}, got {}", short_location(&e.location), shown_path(&e.path), e.expected, e.got));
        }
    }
    impact.relied_defaults = diff.defaults.iter().enumerate().filter(|(_, d)| d.relied_on_by(&overrides)).map(|(i, _)| i).collect();
    impact
}

fn shown_path(p: &str) -> &str {
    if p.is_empty() { "(root)" } else { p }
}

/// Every pointer the values set (maps and list items included), parents before children.
fn set_pointers(v: &Value) -> Vec<String> {
    fn walk(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{at}/{}", pointer_segment(k));
                    out.push(p.clone());
                    walk(x, &p, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    walk(x, &p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// Where the value at `pointer` was written: the last `--set` naming it, else the last file that
/// holds it (later sources win in Helm).
fn locate(user: &UserValues, pointer: &str) -> ValueLocation {
    if let Some(s) = user.sets.iter().rev().find(|s| s.pointers().iter().any(|p| p == pointer || pointer.starts_with(&format!("{p}/")))) {
        return ValueLocation::Set { argument: s.text.clone() };
    }
    for doc in user.files.iter().rev() {
        if let Some(pos) = doc.positions.get(pointer) {
            return ValueLocation::File { file: doc.file.clone(), line: pos.line, column: pos.column };
        }
    }
    ValueLocation::Missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::values::ValuesDoc;
    use crate::contract::compat::{changed_defaults, compare};
    use serde_json::json;
    use std::path::Path;

    fn chart(dir: &Path, values: &str, schema: &Value) -> Chart {
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 1.0.0\n").unwrap();
        std::fs::write(dir.join("values.yaml"), values).unwrap();
        std::fs::write(dir.join("values.schema.json"), schema.to_string()).unwrap();
        Chart::load(dir).unwrap()
    }

    #[test]
    fn breaking_changes_reach_only_the_values_they_reject_or_ignore() {
        let tmp = tempfile::tempdir().unwrap();
        let old_schema = json!({"type": "object", "properties": {
            "mode": {"type": "string", "enum": ["a", "b"]},
            "legacy": {"type": "boolean"},
            "ports": {"type": "object", "additionalProperties": false, "properties": {"http": {"type": "integer"}}},
            "service": {"type": "object", "properties": {"type": {"type": "string"}}}
        }});
        let new_schema = json!({"type": "object", "properties": {
            "mode": {"type": "string", "enum": ["a"]},
            "ports": {"type": "object", "additionalProperties": false, "properties": {"web": {"type": "integer"}}},
            "service": {"type": "object", "properties": {"type": {"type": "string"}}}
        }});
        let old = chart(&tmp.path().join("old"), "mode: a\nlegacy: false\nports: {http: 80}\nservice: {type: ClusterIP}\n", &old_schema);
        let new = chart(&tmp.path().join("new"), "mode: a\nports: {web: 80}\nservice: {type: LoadBalancer}\n", &new_schema);
        let (oc, nc) = (Contract::for_chart(&old).unwrap(), Contract::for_chart(&new).unwrap());
        let mut diff = compare(&oc.schema, &nc.schema, Some(&new.values.value));
        diff.defaults = changed_defaults(&old.values.value, &new.values.value);
        let sides = (ContractSide { contract: &oc, chart: &old }, ContractSide { contract: &nc, chart: &new });
        let user = |name: &str, text: &str| UserValues { files: vec![ValuesDoc::parse(text, Path::new(name)).unwrap()], sets: Vec::new() };
        let judge = |u: &UserValues| assess(&sides.0, &sides.1, &diff, u, u, "2.0.0");

        let port = judge(&user("a.yaml", "mode: a\nports:\n  http: 8080\n"));
        assert_eq!(port.reasons(), ["a.yaml:3: ports.http is rejected by 2.0.0: key removed"]);
        let mode = judge(&user("b.yaml", "service:\n  type: NodePort\nmode: b\n"));
        assert_eq!(mode.reasons(), ["b.yaml:3: mode is rejected by 2.0.0: enum value(s) removed"]);
        assert!(!mode.relied_defaults.iter().any(|i| diff.defaults[*i].path == "service.type"), "b.yaml sets service.type");
        let legacy = judge(&user("c.yaml", "legacy: true\n"));
        assert_eq!(legacy.reasons(), ["c.yaml:1: legacy is ignored by 2.0.0: key removed"]);
        let fine = judge(&user("d.yaml", "mode: a\n"));
        assert!(fine.reasons().is_empty() && fine.invalid_before.is_empty());
        let relied: Vec<&str> = fine.relied_defaults.iter().map(|i| diff.defaults[*i].path.as_str()).collect();
        assert_eq!(relied, ["legacy", "ports.http", "ports.web", "service.type"]);
        let broken = judge(&user("e.yaml", "mode: c\n"));
        assert!(broken.reasons().is_empty() && broken.invalid_before.len() == 1, "already invalid before: {:?}", broken.invalid_before);
    }
}
