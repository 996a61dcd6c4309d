//! The oracle: valid and invalid cases ported from Kubernetes' own validation tests
//! (`validation_test.go` next to each validation package, and apimachinery's
//! `pkg/util/validation/validation_test.go`, `pkg/apis/meta/v1/validation/validation_test.go`,
//! `pkg/api/validation/objectmeta_test.go`), in `cases.yaml`.
//!
//! Each entry names the file (in kubernetes/kubernetes) and the Go test function with the case's
//! name or key as the Go file writes it (`TestValidatePorts / "name > 15 characters"`). An entry is
//! either one case (`object`, `errors`) or a value table: the Go test's list of good and bad values
//! (`goodValues`, `badValues`, `successCases`, `errorCases`), each value put at `$VALUE` (a string)
//! or `$INT` (a number) in the entry's object, so that one Go list item is one case. A string
//! `$REPEAT:<text>:<n>` stands for `strings.Repeat(text, n)` (a 256 KiB annotation stays short).
//!
//! An invalid case must be refused with exactly the field paths and reasons the Go test expects
//! (`field: Reason`, reason as its `field.Xxx` constructor), a valid case must pass. Objects are
//! defaulted first, as the API server does (the Go tests build already-defaulted internal objects).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{ValidationContext, validate_object};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The Go test file, a path in kubernetes/kubernetes.
    file: String,
    /// `TestValidateXxx / "case name"` for one case; the Go test function for a value table.
    test: String,
    /// The object (for a table: with `$VALUE` / `$INT` where each value goes).
    object: Value,
    /// `field: Reason` of every expected error; empty for a valid case. For a table: the errors of
    /// every bad value, unless `errors_for` names that value.
    #[serde(default)]
    errors: Vec<String>,
    /// Kubernetes minor to validate for (default: newest).
    #[serde(default)]
    minor: Option<u32>,
    /// Errors the Go test expects that chartproof reports through another rule instead (`field:
    /// Reason` → rule id): a selector that does not select the template's labels is
    /// `selector-mismatch`'s finding, not repeated by `kubernetes-validation`.
    #[serde(default)]
    reported_by_other_rule: BTreeMap<String, String>,
    /// Value table: Go list name → values that must pass.
    #[serde(default)]
    valid: BTreeMap<String, Vec<TableValue>>,
    /// Value table: Go list name → values that must be refused.
    #[serde(default)]
    invalid: BTreeMap<String, Vec<TableValue>>,
    /// Value table: a bad value whose errors differ from `errors` (e.g. "" is Required). `$VALUE`
    /// in an expected field path stands for the value (a map key: `data[$VALUE]`).
    #[serde(default)]
    errors_for: BTreeMap<String, Vec<String>>,
}

/// One value of a Go list: the literal, or the literal with the Go expression that makes it
/// (`strings.Repeat("a", 63)`), which then names the case.
#[derive(Deserialize)]
#[serde(untagged)]
enum TableValue {
    Expr { go: String, value: Value },
    Plain(Value),
}

impl TableValue {
    fn value(&self) -> &Value {
        match self {
            TableValue::Plain(v) | TableValue::Expr { value: v, .. } => v,
        }
    }
    fn label(&self) -> String {
        match self {
            TableValue::Plain(Value::String(s)) => format!("{s:?}"),
            TableValue::Plain(v) => v.to_string(),
            TableValue::Expr { go, .. } => go.clone(),
        }
    }
}

/// One case to run: its citation, the object, the expected `field: Reason` list.
struct Case {
    test: String,
    object: Value,
    errors: Vec<String>,
    minor: Option<u32>,
}

/// Puts `value` wherever the template has the string `$VALUE` (as a string) or `$INT` (as the
/// number), in values and in map keys.
fn substitute(template: &Value, value: &Value) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match template {
        Value::String(s) if s == "$VALUE" => Value::String(text),
        Value::String(s) if s == "$INT" => value.clone(),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, value)).collect()),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (if k == "$VALUE" { text.clone() } else { k.clone() }, substitute(v, value))).collect(),
        ),
        other => other.clone(),
    }
}

/// The cases, and how many expected errors another rule reports.
/// Expands every `$REPEAT:<text>:<n>` string of an object.
fn expand_repeats(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some((text, n)) = s.strip_prefix("$REPEAT:").and_then(|r| r.rsplit_once(':')) {
                *s = text.repeat(n.parse().expect("$REPEAT count"));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_repeats),
        Value::Object(map) => map.values_mut().for_each(expand_repeats),
        _ => {}
    }
}

fn cases() -> (Vec<Case>, usize) {
    let mut entries: Vec<Entry> = serde_yaml::from_str(include_str!("cases.yaml")).expect("cases.yaml parses");
    entries.iter_mut().for_each(|e| expand_repeats(&mut e.object));
    let mut out = Vec::new();
    let mut deferred = 0;
    for e in entries {
        assert!(e.file.ends_with("_test.go"), "{}: file must be a Go test file, got {}", e.test, e.file);
        assert!(e.test.starts_with("Test") && !e.test.contains('?'), "{}: every case names its Go test", e.test);
        if e.valid.is_empty() && e.invalid.is_empty() {
            let errors = e.errors.iter().filter(|f| !e.reported_by_other_rule.contains_key(*f)).cloned().collect();
            deferred += e.reported_by_other_rule.len();
            out.push(Case { test: format!("{} ({})", e.test, e.file), object: e.object, errors, minor: e.minor });
            continue;
        }
        for (list, values) in &e.valid {
            for v in values {
                let test = format!("{} / {list} {} ({})", e.test, v.label(), e.file);
                out.push(Case { test, object: substitute(&e.object, v.value()), errors: vec![], minor: e.minor });
            }
        }
        for (list, values) in &e.invalid {
            for v in values {
                let test = format!("{} / {list} {} ({})", e.test, v.label(), e.file);
                let key = match v.value() {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let errors: Vec<String> = e.errors_for.get(&key).unwrap_or(&e.errors).iter().map(|f| f.replace("$VALUE", &key)).collect();
                assert!(!errors.is_empty(), "{test}: a bad value needs its expected errors");
                out.push(Case { test, object: substitute(&e.object, v.value()), errors, minor: e.minor });
            }
        }
    }
    (out, deferred)
}

/// Defaults the case's object as the API server does (the Go tests build already-defaulted
/// internal objects), validates it, and returns it with the sorted `field: Reason` lists got and
/// wanted. Errors the API server gives only when the controller creates pods (a StatefulSet's pod
/// spec) are not the object's own: the Go tests of the object's kind do not expect them.
fn run_case(case: &Case) -> (Value, Vec<String>, Vec<String>) {
    let mut object = case.object.clone();
    crate::admission::defaults::default_object(&mut object);
    let ctx = ValidationContext { minor: case.minor.unwrap_or(ValidationContext::NEWEST) };
    let mut got: Vec<String> =
        validate_object(&object, &ctx).iter().filter(|e| !e.at_pod_creation).map(|e| format!("{}: {}", e.field, e.kind.name())).collect();
    got.sort();
    got.dedup();
    let mut want = case.errors.clone();
    want.sort();
    want.dedup();
    (object, got, want)
}

/// Cases known to disagree, each with its reason (a substring of the case's citation). The test
/// fails when one of them starts to agree, so the list never outlives its reason.
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[];

#[test]
fn every_ported_case_agrees_with_kubernetes() {
    let mut disagreements = Vec::new();
    let mut per_kind: BTreeMap<String, (usize, usize)> = Default::default();
    let (all, deferred) = cases();
    let mut excepted = 0;
    for case in &all {
        let (object, got, want) = run_case(case);
        let kind = object["kind"].as_str().unwrap_or("?").to_string();
        let entry = per_kind.entry(kind).or_default();
        if want.is_empty() { entry.0 += 1 } else { entry.1 += 1 }
        let known = KNOWN_DISAGREEMENTS.iter().find(|(k, _)| case.test.contains(k));
        match (got == want, known) {
            (true, None) => {}
            (false, Some(_)) => excepted += 1,
            (true, Some((k, _))) => disagreements.push(format!("{}: agrees now; remove {k:?} from KNOWN_DISAGREEMENTS", case.test)),
            (false, None) => disagreements.push(format!("{}: want {want:?}, got {got:?}", case.test)),
        }
    }
    eprintln!(
        "{} ported cases, {} agree, {excepted} known disagreements, {deferred} expected errors reported by another rule; per kind (valid, invalid): {per_kind:?}",
        all.len(),
        all.len() - disagreements.len() - excepted
    );
    assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
}

/// The sysctl checks (`validateSysctls`, `ValidateHostSysctl` in
/// pkg/apis/core/validation/validation.go) could not be matched to `TestValidateSysctls`' table:
/// the search index holds no version of it. These cases are written from the Go functions
/// instead, so they are kept apart from the ported cases and not counted with them.
#[test]
fn sysctl_cases_written_from_validate_sysctls() {
    #[derive(Deserialize)]
    struct Written {
        test: String,
        object: Value,
        errors: Vec<String>,
        #[serde(default)]
        minor: Option<u32>,
    }
    let written: Vec<Written> = serde_yaml::from_str(include_str!("sysctl_cases.yaml")).expect("sysctl_cases.yaml parses");
    assert!(written.len() >= 7);
    for w in written {
        let case = Case { test: w.test, object: w.object, errors: w.errors, minor: w.minor };
        let (_, got, want) = run_case(&case);
        assert_eq!(got, want, "{}", case.test);
    }
}
