//! `secret-in-configmap`: ConfigMap keys or values that look like credentials — keys whose head
//! noun is a credential (PASSWORD, TOKEN, SECRET, API_KEY…; not `…_USERNAME`, `…_FILE`,
//! `…_TTL`) with a value shaped like a secret, PEM private keys and well-known credential
//! formats. No entropy guessing. Values are never printed. The key model is shared with
//! `default-credential`.

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

/// Single words that name a credential (detect-secrets' keyword plugin denylist and gitleaks'
/// generic-api-key keywords, as whole words: `bypass` or `tokenizer` name none).
const SECRET_NOUNS: &[(&str, &str)] = &[
    ("password", "a password"),
    ("passwd", "a password"),
    ("pwd", "a password"),
    ("pass", "a password"),
    ("passphrase", "a password"),
    ("secret", "a secret"),
    ("secrets", "a secret"),
    ("token", "a token or credential"),
    ("tokens", "a token or credential"),
    ("credential", "a token or credential"),
    ("credentials", "a token or credential"),
    ("creds", "a token or credential"),
    ("apikey", "an API key"),
    ("privatekey", "a private key"),
    ("secretkey", "a secret"),
    ("accesskey", "a secret"),
    ("authkey", "a secret"),
];

/// Words that make `key` a credential when they precede it (`api_key`, `secret_access_key`,
/// `client-key`): a bare `key` names anything (a map key, a cache key, a TLS key file).
const KEY_QUALIFIERS: &[&str] = &["api", "private", "secret", "access", "auth", "client", "encryption", "signing", "master", "session", "service", "account", "hmac", "jwt", "ssh"];

/// Suffixes that still denote the credential itself (`PASSWORD_VALUE`, `token_b64`).
const VALUE_SUFFIXES: &[&str] = &["value", "val", "plain", "plaintext", "raw", "b64", "base64", "encoded", "literal", "str", "string"];

/// What a key name says it holds, when it names a credential rather than something about one.
///
/// The key is read as an English compound noun, whose head is its last word: it holds a
/// credential when its head is a secret noun (`DB_PASSWORD`, `clientSecret`, `api_key`,
/// `secret_access_key`), optionally followed by words that only say how the value is written
/// (`PASSWORD_B64`, digits). Any other head makes the key a property of the credential or of its
/// owner, not the credential: `REGISTRY_CREDENTIAL_USERNAME` (a username), `CREDENTIALS_FILE` (a
/// path), `AUTH_TOKEN_HEADER` (a header name), `PASSWORD_MIN_LENGTH`, `TOKEN_TTL`,
/// `SECRET_NAME` (the name of a Secret), `AWS_ACCESS_KEY_ID` (an id). This is the keyword model of
/// secret scanners (detect-secrets' keyword plugin, gitleaks' generic-api-key rule: a credential
/// keyword followed by an assignment) with the head-noun reading in place of their allowlists.
/// `existing…` before the noun names a reference to an existing object (`existingSecret`).
pub fn sensitive_key(key: &str) -> Option<&'static str> {
    let w = words(key);
    let mut end = w.len();
    while end > 0 && (VALUE_SUFFIXES.contains(&w[end - 1].as_str()) || w[end - 1].chars().all(|c| c.is_ascii_digit())) {
        end -= 1;
    }
    let head = w.get(end.checked_sub(1)?)?.as_str();
    let before = end.checked_sub(2).and_then(|i| w.get(i)).map(String::as_str);
    if before == Some("existing") {
        return None;
    }
    if let Some((_, what)) = SECRET_NOUNS.iter().find(|(noun, _)| *noun == head) {
        return Some(what);
    }
    match (before, head) {
        (Some("api"), "key") => Some("an API key"),
        (Some("private"), "key") => Some("a private key"),
        (Some(q), "key") if KEY_QUALIFIERS.contains(&q) => Some("a secret"),
        _ => None,
    }
}

/// A literal worth reporting as a credential: the shape of the value can be a secret. Filtered
/// like detect-secrets' heuristic filters (detect_secrets/filters/heuristic.py:
/// `is_templated_secret`, `is_prefixed_with_dollar_sign`, `is_indirect_reference`) plus what is
/// plainly not a secret in a configuration file: empty or under 4 characters, booleans and nulls,
/// placeholders, file paths and file/env references, and URLs without an embedded password.
fn literal(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if v.is_empty() || v.len() < 4 {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if ["true", "false", "null", "none", "~", "changeme", "<nil>"].contains(&lower.as_str()) {
        return false;
    }
    let templated = (v.starts_with('{') && v.ends_with('}')) || (v.starts_with('<') && v.ends_with('>')) || v.contains("${") || v.contains("{{") || v.starts_with('$');
    let indirect = v.find('(').is_some_and(|open| v[open..].contains(')')) || v.find('[').is_some_and(|open| v[open..].contains(']'));
    let path = v.starts_with(['/', '~']) || v.starts_with("./") || v.starts_with("../");
    let url_without_password = v.contains("://") && !FORMATS.iter().any(|(what, re)| what.contains("URL") && re.is_match(v));
    let reference = ["file:", "env:", "secret:"].iter().any(|p| lower.starts_with(p)) || v.contains("__file{") || v.contains("__env{");
    !(templated || indirect || path || url_without_password || reference || v.starts_with(['*', '%', '#']))
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
        assert!(sensitive_key("secret_access_key").is_some());
        assert!(sensitive_key("AWS_SECRET_ACCESS_KEY").is_some());
        assert!(sensitive_key("REGISTRY_CREDENTIAL_PASSWORD").is_some());
        assert!(sensitive_key("DB_PASS").is_some());
        assert!(sensitive_key("ADMIN_PASSWORD_B64").is_some());
        assert!(sensitive_key("token_2").is_some());
    }

    /// The head of the key decides: a word about the credential (its owner, file, header, length,
    /// lifetime, name, id) is not the credential.
    #[test]
    fn keys_about_a_credential_are_not_credentials() {
        for key in [
            "REGISTRY_CREDENTIAL_USERNAME",
            "DB_USERNAME",
            "CREDENTIALS_FILE",
            "AUTH_TOKEN_HEADER",
            "PASSWORD_MIN_LENGTH",
            "SECRET_NAME",
            "TOKEN_TTL",
            "AWS_ACCESS_KEY_ID",
            "existingSecret",
            "passwordPolicy",
            "tokenEndpoint",
            "MINIO_ACCESSKEY_SECRETKEY_TMP",
            "cache_key",
            "bypass",
            "auth_enabled",
        ] {
            assert_eq!(sensitive_key(key), None, "{key}");
        }
    }

    #[test]
    fn value_shapes_that_are_not_secrets() {
        for v in ["", "abc", "true", "${DB_PASSWORD}", "{{ .pw }}", "<password>", "$(cat /run/pw)", "/etc/creds/creds.json", "./pw.txt", "https://vault:8200/v1", "file:/pw", "get_password()"] {
            assert!(!literal(v), "{v}");
        }
        for v in ["Harbor12345", "supersecretpassword", "hunter2hunter2", "s3cr3t!x", "postgres://app:pw12@db/app"] {
            assert!(literal(v), "{v}");
        }
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
        // The issue's keys at the values they carry: none is a secret.
        let about = "{REGISTRY_CREDENTIAL_USERNAME: harbor_registry_user, DB_USERNAME: harbor, CREDENTIALS_FILE: /etc/creds/creds.json, AUTH_TOKEN_HEADER: X-Auth-Token, PASSWORD_MIN_LENGTH: \"12\", SECRET_NAME: my-tls, TOKEN_TTL: \"3600\"}";
        assert!(rules_hit(&cm(about), "secret-in-configmap").is_empty());
        assert_eq!(rules_hit(&cm("{REGISTRY_CREDENTIAL_PASSWORD: harbor_registry_password}"), "secret-in-configmap").len(), 1);
    }
}
