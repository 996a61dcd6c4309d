//! Secret values never reach a diff report: Secret `data`/`stringData` entries and ConfigMap
//! entries that look like secrets are replaced by a placeholder on both sides before diffing, so
//! the report says "changed" without the value (unless `--show-secrets`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::fields::FieldPath;

/// Placeholder for a secret value that is the same on both sides (or only on one side).
pub const REDACTED: &str = "(redacted)";
/// Placeholder for a secret value that differs between the sides.
pub const REDACTED_CHANGED: &str = "(redacted, changed)";

// TODO(rules): switch to the secret-in-configmap detection in `src/rules/secrets.rs` once the rules
// helper's branch is merged; this is a deliberately small stand-in (key names and PEM keys).
static SECRET_KEY_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|credential|access[_-]?key)").unwrap());

fn looks_secret(key: &str, value: &Value) -> bool {
    SECRET_KEY_NAME.is_match(key) || value.as_str().is_some_and(|s| s.contains("PRIVATE KEY-----"))
}

/// Paths of secret values in one object.
pub fn secret_paths(kind: &str, body: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    let root = FieldPath::default();
    match kind {
        "Secret" => {
            for section in ["data", "stringData"] {
                if let Some(m) = body.get(section).and_then(Value::as_object) {
                    out.extend(m.keys().map(|k| root.key(section).key(k)));
                }
            }
        }
        "ConfigMap" => {
            for section in ["data", "binaryData"] {
                if let Some(m) = body.get(section).and_then(Value::as_object) {
                    out.extend(m.iter().filter(|(k, v)| looks_secret(k, v)).map(|(k, _)| root.key(section).key(k)));
                }
            }
        }
        _ => {}
    }
    out
}

/// Replace the secret values of two versions of one object by placeholders; returns the masked paths.
pub fn mask_pair(kind: &str, old: &mut Value, new: &mut Value) -> Vec<FieldPath> {
    let mut paths = secret_paths(kind, old);
    for p in secret_paths(kind, new) {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    for p in &paths {
        let (o, n) = (p.get(old).cloned(), p.get(new).cloned());
        let changed = o.is_some() && n.is_some() && o != n;
        if o.is_some() {
            p.set(old, Some(Value::String(REDACTED.into())));
        }
        if n.is_some() {
            p.set(new, Some(Value::String(if changed { REDACTED_CHANGED } else { REDACTED }.into())));
        }
    }
    paths
}

/// Mask one object on its own (an added or removed resource).
pub fn mask_one(kind: &str, body: &mut Value) {
    for p in secret_paths(kind, body) {
        p.set(body, Some(Value::String(REDACTED.into())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_secret_looking_configmap_keys_are_masked() {
        let mut old = json!({"data": {"password": "b2xk", "user": "YQ=="}, "stringData": {"token": "t1"}});
        let mut new = json!({"data": {"password": "bmV3", "user": "YQ=="}, "stringData": {"token": "t1"}});
        let paths = mask_pair("Secret", &mut old, &mut new);
        assert_eq!(paths.len(), 3);
        assert_eq!(new["data"]["password"], REDACTED_CHANGED);
        assert_eq!(new["data"]["user"], REDACTED);
        assert_eq!(old["data"]["password"], REDACTED);
        assert!(!serde_json::to_string(&(old, new)).unwrap().contains("bmV3"));

        let mut cm = json!({"data": {"DB_PASSWORD": "hunter2", "LOG_LEVEL": "info", "tls.key": "-----BEGIN RSA PRIVATE KEY-----\nx"}});
        mask_one("ConfigMap", &mut cm);
        assert_eq!(cm["data"]["DB_PASSWORD"], REDACTED);
        assert_eq!(cm["data"]["LOG_LEVEL"], "info");
        assert_eq!(cm["data"]["tls.key"], REDACTED);
    }
}
