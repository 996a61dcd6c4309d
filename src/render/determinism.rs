//! Whether two renders of the same values can differ: a chart is reproducible when no template
//! action anywhere in its directory (templates, subcharts, files `tpl` may evaluate, values)
//! names a function whose result changes from one render to the next (random strings and
//! numbers, UUIDs, keys and certificates, bcrypt salts, AES IVs, the clock, DNS). A packaged
//! subchart (`.tgz`) is not read, so a chart holding one is never called reproducible; `.git`
//! folders are skipped.

use std::path::Path;

use anyhow::{Context, Result};

/// Template functions whose result differs between two renders of the same values.
pub const NONDETERMINISTIC_FUNCTIONS: &[&str] = &[
    "randAlphaNum",
    "randAlpha",
    "randNumeric",
    "randAscii",
    "randInt",
    "randBytes",
    "uuidv4",
    "shuffle",
    "now",
    "ago",
    "genPrivateKey",
    "genCA",
    "genCAWithKey",
    "genSelfSignedCert",
    "genSelfSignedCertWithKey",
    "genSignedCert",
    "genSignedCertWithKey",
    "htpasswd",
    "bcrypt",
    "encryptAES",
    "getHostByName",
];

/// Whether every file under `chart_dir` is free of template actions naming a
/// [`NONDETERMINISTIC_FUNCTIONS`] entry (`Ok(false)` also for a packaged subchart).
pub fn chart_is_reproducible(chart_dir: &Path) -> Result<bool> {
    let mut stack = vec![chart_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                // A chart at a repository's root: no template reads git's objects.
                if path.file_name().is_none_or(|name| name != ".git") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_some_and(|e| e == "tgz") {
                return Ok(false);
            }
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if names_nondeterministic_function(&String::from_utf8_lossy(&bytes)) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Whether a template action (`{{ … }}`) in `text` names a nondeterministic function, outside
/// string literals and not as a field (`.Values.now`) or variable (`$now`).
pub fn names_nondeterministic_function(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").unwrap_or(after.len());
        if action_names_nondeterministic_function(&after[..close]) {
            return true;
        }
        rest = &after[close..];
    }
    false
}

/// Whether one action's text (between `{{` and `}}`) names a [`NONDETERMINISTIC_FUNCTIONS`] entry as a call.
pub fn action_names_nondeterministic_function(action: &str) -> bool {
    let mut word = String::new();
    let mut before_word = ' ';
    let mut previous = ' ';
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in action.chars().chain([' ']) {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            previous = c;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            if word.is_empty() {
                before_word = previous;
            }
            word.push(c);
        } else {
            if !word.is_empty() && before_word != '.' && before_word != '$' && NONDETERMINISTIC_FUNCTIONS.contains(&word.as_str()) {
                return true;
            }
            word.clear();
            if c == '"' || c == '`' {
                quote = Some(c);
            }
        }
        previous = c;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_calls_in_actions_only() {
        assert!(names_nondeterministic_function("password: {{ randAlphaNum 16 | b64enc }}"));
        assert!(names_nondeterministic_function("{{- $ca := genCA \"ca\" 365 -}}"));
        assert!(names_nondeterministic_function("at: {{ now | date \"2006\" }}"));
        assert!(names_nondeterministic_function("{{ include \"x\" (dict \"t\" (now)) }}"));
        // Text outside actions, string literals, fields and variables are not calls.
        assert!(!names_nondeterministic_function("\"time\": {\"from\": \"now-1h\", \"to\": \"now\"}"));
        assert!(!names_nondeterministic_function("{{ .Values.now }} {{ $now := 1 }} {{ printf \"now %s\" .Values.x }}"));
        assert!(!names_nondeterministic_function("{{ include \"chart.fullname\" . }} {{ sha256sum .Values.password }}"));
        assert!(!names_nondeterministic_function("{{ `randAlphaNum` }} {{ \"a \\\" randAlpha\" }}"));
    }

    #[test]
    fn a_chart_with_a_random_value_anywhere_is_not_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n").unwrap();
        std::fs::write(dir.path().join("templates/cm.yaml"), "data:\n  a: {{ .Values.a | quote }}\n").unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/COMMIT_EDITMSG"), "use {{ now }} in docs\n").unwrap();
        assert!(chart_is_reproducible(dir.path()).unwrap());
        // A subchart's helper, or a file `tpl` evaluates, counts as much as a template.
        std::fs::create_dir_all(dir.path().join("charts/sub/files")).unwrap();
        std::fs::write(dir.path().join("charts/sub/files/conf.tpl"), "token: {{ uuidv4 }}\n").unwrap();
        assert!(!chart_is_reproducible(dir.path()).unwrap());
        std::fs::remove_dir_all(dir.path().join("charts/sub")).unwrap();
        std::fs::write(dir.path().join("charts/packaged-0.1.0.tgz"), b"").unwrap();
        assert!(!chart_is_reproducible(dir.path()).unwrap(), "a packaged subchart is not read");
    }
}
