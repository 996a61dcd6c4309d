//! Secret values never reach a diff report: Secret `data`/`stringData` entries and every ConfigMap
//! entry the `secret-in-configmap` rule flags are replaced by a placeholder on both sides before
//! diffing, so the report says "changed" without the value (unless `--show-secrets`).

use serde_json::Value;

use crate::manifest::Manifest;
use crate::rules::{Config, check_manifest};

use super::fields::{FieldPath, Seg};
use super::volatile::SideResource;

/// Placeholder for a secret value that is the same on both sides (or only on one side).
pub const REDACTED: &str = "(redacted)";
/// Placeholder for a secret value that differs between the sides.
pub const REDACTED_CHANGED: &str = "(redacted, changed)";

const SECRET_RULE: &str = "secret-in-configmap";

/// Paths of a Secret's values.
pub fn secret_paths(kind: &str, body: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    if kind == "Secret" {
        for section in ["data", "stringData"] {
            if let Some(m) = body.get(section).and_then(Value::as_object) {
                out.extend(m.keys().map(|k| FieldPath::default().key(section).key(k)));
            }
        }
    }
    out
}

/// For each ConfigMap of a side (by index into `side`), the entries the `secret-in-configmap` rule
/// flags — with the rule on whatever the user's configuration says, and suppressed findings included.
pub fn flagged_configmap_entries(side: &[SideResource]) -> Vec<(usize, FieldPath)> {
    let config_maps: Vec<usize> = (0..side.len()).filter(|&i| side[i].resource.kind == "ConfigMap").collect();
    if config_maps.is_empty() {
        return Vec::new();
    }
    let manifest = Manifest { resources: config_maps.iter().map(|&i| side[i].resource.clone()).collect(), problems: Vec::new() };
    let outcome = check_manifest(&manifest, &Config::default());
    let flagged = outcome.findings.iter().chain(outcome.suppressed.iter().map(|s| &s.finding)).filter(|f| f.rule == SECRET_RULE && f.kind == "ConfigMap");
    let mut out = Vec::new();
    for f in flagged {
        let Some((section, key)) = f.path.as_deref().and_then(|p| p.split_once('.')) else { continue };
        let found = config_maps.iter().copied().find(|&i| side[i].resource.name == f.name && side[i].resource.namespace == f.namespace);
        if let Some(i) = found {
            out.push((i, FieldPath(vec![Seg::Key(section.into()), Seg::Key(key.into())])));
        }
    }
    out
}

/// Replace the secret values of two versions of one object by placeholders (Secret values plus
/// `flagged` paths); returns the masked paths.
pub fn mask_pair(kind: &str, old: &mut Value, new: &mut Value, flagged: &[FieldPath]) -> Vec<FieldPath> {
    let mut paths = secret_paths(kind, old);
    for p in secret_paths(kind, new).into_iter().chain(flagged.iter().cloned()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_masked() {
        let mut old = json!({"data": {"password": "b2xk", "user": "YQ=="}, "stringData": {"token": "t1"}});
        let mut new = json!({"data": {"password": "bmV3", "user": "YQ=="}, "stringData": {"token": "t1"}});
        let paths = mask_pair("Secret", &mut old, &mut new, &[]);
        assert_eq!(paths.len(), 3);
        assert_eq!(new["data"]["password"], REDACTED_CHANGED);
        assert_eq!(new["data"]["user"], REDACTED);
        assert_eq!(old["data"]["password"], REDACTED);
        assert!(!serde_json::to_string(&(old, new)).unwrap().contains("bmV3"));
    }

    #[test]
    fn configmap_entries_flagged_by_the_rule_are_masked() {
        let m = Manifest::parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {chartproof.io/ignore: secret-in-configmap}}\ndata:\n  DB_PASSWORD: hunter2hunter2\n  LOG_LEVEL: info\n  tls.key: \"-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----\\n\"\n",
        );
        let side = crate::diff::volatile::stabilize(&m, &m);
        let flagged: Vec<String> = flagged_configmap_entries(&side).iter().map(|(_, p)| p.to_string()).collect();
        assert_eq!(flagged, ["data.DB_PASSWORD", "data.tls.key"], "suppressed findings still redact");
        let paths: Vec<FieldPath> = flagged_configmap_entries(&side).into_iter().map(|(_, p)| p).collect();
        let (mut old, mut new) = (side[0].resource.body.clone(), side[0].resource.body.clone());
        new["data"]["DB_PASSWORD"] = json!("other-password");
        mask_pair("ConfigMap", &mut old, &mut new, &paths);
        assert_eq!(new["data"]["DB_PASSWORD"], REDACTED_CHANGED);
        assert_eq!(new["data"]["LOG_LEVEL"], "info");
    }
}
