//! `secret-in-configmap`: ConfigMap keys or values that look like credentials — sensitive key
//! names (PASSWORD, TOKEN, SECRET, API_KEY…) with a literal value, PEM private keys and
//! well-known credential formats. No entropy guessing. Values are never printed.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::Sink;
use crate::manifest::Manifest;

/// Credential formats recognised inside any ConfigMap value.
static FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("a PEM private key", r"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----"),
        ("an AWS access key id", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("a Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("a Stripe live key", r"\b(sk|rk)_live_[0-9A-Za-z]{16,}"),
        ("a JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ("a URL with an embedded password", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<pw>[^/\s@]+)@"),
    ]
    .into_iter()
    .map(|(what, re)| (what, Regex::new(re).unwrap()))
    .collect()
});

/// `key: value` / `key = value` lines inside embedded config files.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?m)^[ \t]*["']?([A-Za-z0-9_.-]+)["']?[ \t]*[:=][ \t]*(.*?)[ \t\r]*$"#).unwrap());

/// Split a key into lowercase words: `dbPassword` -> [db, password], `API_KEY` -> [api, key].
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in key.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What a key name says it holds, when it names a credential (not a reference to one).
pub fn sensitive_key(key: &str) -> Option<&'static str> {
    let w = words(key);
    let last = w.last()?.as_str();
    // `password_file`, `secretName`, `token_ttl`: about a credential, not the credential.
    const NOT_A_VALUE: &[&str] = &[
        "file", "files", "path", "name", "names", "ref", "dir", "enabled", "enable", "env", "length", "len", "ttl", "expiry", "expiration", "header",
        "mode", "policy", "type", "url", "endpoint", "seconds", "timeout", "duration", "id", "key_id", "mount", "volume", "store", "provider", "required",
        "source", "format", "field", "regex", "pattern", "rotation", "min", "max", "hash", "algorithm",
    ];
    if NOT_A_VALUE.contains(&last) {
        return None;
    }
    let has = |s: &str| w.iter().any(|x| x == s);
    let pair = |a: &str, b: &str| w.windows(2).any(|p| p[0] == a && p[1] == b);
    if has("password") || has("passwd") || has("passphrase") {
        Some("a password")
    } else if pair("api", "key") || has("apikey") {
        Some("an API key")
    } else if pair("private", "key") || has("privatekey") {
        Some("a private key")
    } else if pair("access", "key") || pair("secret", "key") || has("secret") || has("secrets") {
        Some("a secret")
    } else if has("token") || has("credentials") || has("credential") {
        Some("a token or credential")
    } else {
        None
    }
}

/// A literal worth reporting: not empty, not a boolean, not a placeholder or reference.
fn literal(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if v.is_empty() || v.len() < 4 {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if ["true", "false", "null", "none", "~", "changeme", "<nil>"].contains(&lower.as_str()) {
        return false;
    }
    !(v.starts_with(['$', '<', '*', '/', '{', '[', '%', '#']) || v.contains("${") || v.contains("{{") || v.contains("__file{") || v.contains("__env{") || lower.starts_with("file:") || lower.starts_with("env:") || lower.starts_with("secret:"))
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    if !sink.enabled("secret-in-configmap") {
        return;
    }
    for cm in manifest.of_kind("ConfigMap") {
        for field in ["data", "binaryData"] {
            let Some(data) = cm.body.get(field).and_then(Value::as_object) else { continue };
            for (key, value) in data {
                let text = super::selectors::scalar_text(value);
                let path = Some(format!("{field}.{key}"));
                if field == "data"
                    && let Some(what) = sensitive_key(key).filter(|_| literal(&text) && !text.contains('\n')) {
                        sink.report(cm, "secret-in-configmap", path, format!("key `{key}` looks like {what} (value redacted, {} characters)", text.chars().count()));
                        continue;
                    }
                if let Some((what, _)) = FORMATS.iter().find(|(_, re)| re.captures(&text).is_some_and(|c| c.name("pw").is_none_or(|p| literal(p.as_str())))) {
                    sink.report(cm, "secret-in-configmap", path, format!("value of key `{key}` contains {what} (value redacted)"));
                    continue;
                }
                if text.contains('\n') {
                    for caps in ASSIGNMENT.captures_iter(&text) {
                        let (inner, v) = (&caps[1], &caps[2]);
                        if let Some(what) = sensitive_key(inner).filter(|_| literal(v)) {
                            let line = text[..caps.get(0).unwrap().start()].matches('\n').count() + 1;
                            sink.report(
                                cm,
                                "secret-in-configmap",
                                path.clone(),
                                format!("key `{key}`, line {line}: `{inner}` looks like {what} set to a literal (value redacted)"),
                            );
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::rules_hit;

    #[test]
    fn key_names() {
        assert!(sensitive_key("DB_PASSWORD").is_some());
        assert!(sensitive_key("dbPassword").is_some());
        assert!(sensitive_key("API_KEY").is_some());
        assert!(sensitive_key("client-secret").is_some());
        assert!(sensitive_key("GITHUB_TOKEN").is_some());
        assert!(sensitive_key("password_file").is_none());
        assert!(sensitive_key("existingSecretName").is_none());
        assert!(sensitive_key("tokenizer").is_none());
        assert!(sensitive_key("LOG_LEVEL").is_none());
    }

    fn cm(data: &str) -> String {
        format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {data}\n")
    }

    #[test]
    fn values_are_redacted() {
        let f = rules_hit(&cm("{DB_PASSWORD: hunter2hunter2}"), "secret-in-configmap");
        assert_eq!(f.len(), 1);
        assert!(!f[0].message.contains("hunter2"), "{}", f[0].message);
        assert!(rules_hit(&cm("{DB_PASSWORD: \"\"}"), "secret-in-configmap").is_empty());
        assert!(rules_hit(&cm("{DB_PASSWORD: \"${DB_PASSWORD}\"}"), "secret-in-configmap").is_empty());
        let pem = rules_hit(&cm("{tls.key: \"-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----\\n\"}"), "secret-in-configmap");
        assert!(pem[0].message.contains("PEM private key"));
        assert!(!pem[0].message.contains("MIIB"));
        let url = rules_hit(&cm("{DATABASE_URL: \"postgres://app:s3cr3tpw@db:5432/app\"}"), "secret-in-configmap");
        assert_eq!(url.len(), 1);
        assert!(!url[0].message.contains("s3cr3t"));
        assert!(rules_hit(&cm("{DATABASE_URL: \"postgres://app:${PW}@db:5432/app\"}"), "secret-in-configmap").is_empty());
        let embedded = rules_hit(&cm("{app.ini: \"[db]\\nhost = db\\npassword = topsecret1\\n\"}"), "secret-in-configmap");
        assert!(embedded[0].message.contains("line 3"), "{}", embedded[0].message);
        assert!(!embedded[0].message.contains("topsecret1"));
        assert!(rules_hit(&cm("{app.ini: \"[db]\\npassword = \\npassword_file = /run/secrets/pw\\n\"}"), "secret-in-configmap").is_empty());
    }
}
