//! The oracle: valid and invalid cases ported from Kubernetes' own validation tests
//! (`validation_test.go` next to each validation package), in `cases.yaml`. Each case names the
//! Go test and case it comes from; an invalid case must be refused with exactly the field paths
//! and reasons the Go test expects, a valid case must pass. Objects are defaulted first, as the
//! API server does (the Go tests build already-defaulted internal objects).

use serde::Deserialize;
use serde_json::Value;

use super::{ValidationContext, validate_object};

#[derive(Deserialize)]
struct Case {
    /// `TestValidateXxx / case name` in kubernetes/kubernetes.
    test: String,
    object: Value,
    /// `field: Reason` of every expected error; empty for a valid case.
    #[serde(default)]
    errors: Vec<String>,
    /// Kubernetes minor to validate for (default: newest).
    #[serde(default)]
    minor: Option<u32>,
}

fn cases() -> Vec<Case> {
    serde_yaml::from_str(include_str!("cases.yaml")).expect("cases.yaml parses")
}

#[test]
fn every_ported_case_agrees_with_kubernetes() {
    let mut disagreements = Vec::new();
    let mut per_kind: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for case in cases() {
        let mut object = case.object.clone();
        crate::admission::defaults::default_object(&mut object);
        let ctx = ValidationContext { minor: case.minor.unwrap_or(ValidationContext::NEWEST) };
        let mut got: Vec<String> = validate_object(&object, &ctx).iter().map(|e| format!("{}: {}", e.field, e.kind.name())).collect();
        got.sort();
        got.dedup();
        let mut want = case.errors.clone();
        want.sort();
        want.dedup();
        let kind = object["kind"].as_str().unwrap_or("?").to_string();
        let entry = per_kind.entry(kind).or_default();
        if want.is_empty() { entry.0 += 1 } else { entry.1 += 1 }
        if got != want {
            disagreements.push(format!("{}: want {want:?}, got {got:?}", case.test));
        }
    }
    eprintln!("ported cases per kind (valid, invalid): {per_kind:?}");
    assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
}
