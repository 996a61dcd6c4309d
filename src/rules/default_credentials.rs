//! `default-credential`: a Secret of the release holds a credential (a key whose head noun is a
//! password, token, secret… as `secret-in-configmap` reads keys) whose value is a literal the
//! chart ships: a string of its own or a subchart's values.yaml, or text of their templates.
//!
//! Provenance. At `helm template` time a rendered string comes from the chart (values.yaml leaves,
//! template text), from the user (`-f`, `--set`, which includes ct's `ci/` scenarios), from the
//! release (name, namespace) or from a function (randAlphaNum, uuidv4…; `lookup` returns nothing
//! offline, so its fallback renders). The rule reports a value only when it is a literal of the
//! chart's files and no value the user gave: a generated string is fresh on every render
//! (render/determinism.rs lists those functions) and cannot equal a shipped literal except by
//! chance, so the chart's literals identify shipped defaults without a second render. Without
//! the chart at hand (`test`, `diff`, `unittest` check renders of generated or old values), the
//! rule does not run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine;
use serde_json::Value;

use super::Sink;
use super::secrets::sensitive_key;
use crate::chart::Chart;
use crate::chart::merge::UserValues;
use crate::manifest::Manifest;

const RULE: &str = "default-credential";

/// The string literals a chart ships and the strings its user gave, for one `check` run.
#[derive(Debug, Default, PartialEq)]
pub struct ShippedLiterals {
    /// Each string leaf of the values.yaml of the chart and its subcharts, with where it is
    /// (`values.yaml: auth.password`, `charts/db/values.yaml: password`); the first one wins.
    values: BTreeMap<String, String>,
    /// Text of every file under templates/ of the chart and its subcharts, by path in the chart.
    templates: Vec<(String, String)>,
    /// Every scalar of the user's values files and --set flags, as text.
    user: BTreeSet<String>,
}

impl ShippedLiterals {
    /// The literals of `chart` (subcharts included) and the strings of `user`.
    pub fn of_chart(chart: &Chart, user: &UserValues) -> ShippedLiterals {
        let mut out = ShippedLiterals::default();
        out.add_chart(chart, "");
        for doc in &user.files {
            leaves(&doc.value, "", &mut |_, text| {
                out.user.insert(text);
            });
        }
        for set in &user.sets {
            for (_, value) in &set.assignments {
                leaves(value, "", &mut |_, text| {
                    out.user.insert(text);
                });
            }
        }
        out
    }

    fn add_chart(&mut self, chart: &Chart, prefix: &str) {
        let file = format!("{prefix}values.yaml");
        leaves(&chart.values.value, "", &mut |key, text| {
            self.values.entry(text).or_insert_with(|| format!("{file}: {key}"));
        });
        read_templates(&chart.dir.join("templates"), &format!("{prefix}templates"), &mut self.templates);
        for sub in &chart.subcharts {
            let name = sub.chart.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| sub.key.clone());
            self.add_chart(&sub.chart, &format!("{prefix}charts/{name}/"));
        }
    }

    /// Where the chart ships `value`, when it does and the user did not give it.
    pub fn origin(&self, value: &str) -> Option<String> {
        if self.user.contains(value) {
            return None;
        }
        if let Some(at) = self.values.get(value) {
            return Some(at.clone());
        }
        self.templates.iter().find(|(_, text)| contains_token(text, value)).map(|(path, _)| path.clone())
    }
}

/// Every scalar under `value` with its dotted key (numbers and booleans as text, as they render).
fn leaves(value: &Value, key: &str, f: &mut dyn FnMut(String, String)) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| leaves(v, &if key.is_empty() { k.clone() } else { format!("{key}.{k}") }, f)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| leaves(v, &format!("{key}[{i}]"), f)),
        Value::String(s) => f(key.to_string(), s.clone()),
        Value::Number(n) => f(key.to_string(), n.to_string()),
        Value::Bool(_) | Value::Null => {}
    }
}

fn read_templates(dir: &Path, shown: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            read_templates(&path, &format!("{shown}/{name}"), out);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            out.push((format!("{shown}/{name}"), text));
        }
    }
}

/// Whether `needle` occurs in `text` as a whole token: not preceded or followed by a letter,
/// digit or `_` (so `admin` is not found in `administrator`).
fn contains_token(text: &str, needle: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(needle).any(|(at, _)| !word(text[..at].chars().next_back()) && !word(text[at + needle.len()..].chars().next()))
}

/// A value worth calling a shipped credential: not empty, not a placeholder a template renders
/// for a value to come (`${PASSWORD}`, `<password>`); any other literal is a known credential.
fn credential_literal(value: &str) -> bool {
    let v = value.trim();
    !(v.is_empty() || v.contains("${") || (v.starts_with('<') && v.ends_with('>')))
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    let Some(shipped) = sink.config().shipped_literals.clone() else { return };
    if !sink.enabled(RULE) {
        return;
    }
    for secret in manifest.of_kind("Secret") {
        for (field, encoded) in [("stringData", false), ("data", true)] {
            let Some(data) = secret.body.get(field).and_then(Value::as_object) else { continue };
            for (key, value) in data {
                let Some(what) = sensitive_key(key) else { continue };
                let text = super::selectors::scalar_text(value);
                let text = if encoded {
                    match base64::engine::general_purpose::STANDARD.decode(text.trim()).ok().and_then(|b| String::from_utf8(b).ok()) {
                        Some(t) => t,
                        None => continue,
                    }
                } else {
                    text
                };
                if !credential_literal(&text) {
                    continue;
                }
                let Some(origin) = shipped.origin(&text) else { continue };
                sink.report(
                    secret,
                    RULE,
                    Some(format!("{field}.{key}")),
                    format!("key `{key}` holds {what} that the chart ships as a literal ({origin}; value redacted): every installation that keeps the default shares a publicly known credential"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Config, Severity, check_manifest, testutil::manifest};
    use std::sync::Arc;

    fn literals(values: &str, template: &str, user: &[&str]) -> ShippedLiterals {
        let mut out = ShippedLiterals::default();
        let values: Value = serde_yaml::from_str(values).unwrap();
        leaves(&values, "", &mut |key, text| {
            out.values.entry(text).or_insert_with(|| format!("values.yaml: {key}"));
        });
        out.templates.push(("templates/secret.yaml".into(), template.into()));
        out.user = user.iter().map(|s| s.to_string()).collect();
        out
    }

    fn run(secret_data: &str, shipped: ShippedLiterals) -> Vec<crate::rules::Finding> {
        let yaml = format!("---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n{secret_data}\n");
        let config = Config { shipped_literals: Some(Arc::new(shipped)), ..Config::default() };
        check_manifest(&manifest(&yaml), &config).findings.into_iter().filter(|f| f.rule == RULE).collect()
    }

    const B64_HARBOR: &str = "SGFyYm9yMTIzNDU="; // Harbor12345

    #[test]
    fn values_and_template_literals_are_shipped_defaults() {
        let from_values = run(&format!("data: {{HARBOR_ADMIN_PASSWORD: {B64_HARBOR}}}"), literals("harborAdminPassword: Harbor12345", "", &[]));
        assert_eq!(from_values.len(), 1, "{from_values:?}");
        assert_eq!(from_values[0].severity, Severity::Error);
        assert!(from_values[0].message.contains("values.yaml: harborAdminPassword"), "{}", from_values[0].message);
        assert!(!from_values[0].message.contains("Harbor12345"));
        let from_template = run("stringData: {keystore-password: changeit}", literals("{}", "  keystore-password: {{ .Values.ks | default \"changeit\" }}", &[]));
        assert!(from_template[0].message.contains("templates/secret.yaml"), "{from_template:?}");
    }

    #[test]
    fn generated_user_given_and_non_credential_values_are_not_reported() {
        let values = literals("auth: {password: admin, username: admin}", "password: {{ randAlphaNum 16 | b64enc }}", &[]);
        // Generated: a random string is no literal of the chart.
        assert!(run("stringData: {password: Zq8xK2vLp0aB7cDe}", literals("{}", "", &[])).is_empty());
        // User-provided (-f / --set): the user's choice, even when it equals a default.
        assert!(run("stringData: {password: admin}", literals("auth: {password: admin}", "", &["admin"])).is_empty());
        // Not a credential key, or a placeholder.
        assert!(run("stringData: {username: admin}", values).is_empty());
        assert!(run("stringData: {password: \"\"}", literals("auth: {password: \"\"}", "", &[])).is_empty());
        // A whole token only: `admin` is not shipped by a template saying `administrator`.
        assert!(run("stringData: {password: admin}", literals("{}", "role: administrator", &[])).is_empty());
        // No chart at hand: the rule does not run.
        let yaml = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: admin}\n";
        assert!(check_manifest(&manifest(yaml), &Config::default()).findings.iter().all(|f| f.rule != RULE));
    }

    #[test]
    fn suppressed_by_annotation_like_every_rule() {
        let secret = format!("  annotations: {{chartproof.io/ignore: \"default-credential; demo chart\"}}\ndata: {{password: {B64_HARBOR}}}");
        let yaml = format!("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n{secret}\n");
        let config = Config { shipped_literals: Some(Arc::new(literals("pw: Harbor12345", "", &[]))), ..Config::default() };
        let out = check_manifest(&manifest(&yaml), &config);
        assert!(out.findings.iter().all(|f| f.rule != RULE));
        assert_eq!(out.suppressed.iter().filter(|s| s.finding.rule == RULE).count(), 1);
    }
}
