//! Snapshot files in helm-unittest's format: `__snapshot__/<suite file>.snap` next to the suite,
//! a map from test name to numbered entries (`1: |` then the document as YAML). Entries compare
//! by content; a mismatch shows a line diff. A new entry is written unless new entries are
//! forbidden (CI), and `-u` rewrites every entry.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::chart::values::parse_helm_yaml;

/// What to do with snapshot entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMode {
    /// `-u`: replace every compared entry with the current render.
    pub update: bool,
    /// A missing entry fails instead of being written (CI).
    pub fail_missing: bool,
}

/// The snapshot file of one suite: stored entries and what this run produced.
pub struct SnapshotFile {
    path: PathBuf,
    stored: BTreeMap<String, BTreeMap<u64, String>>,
    current: Mutex<BTreeMap<String, BTreeMap<u64, String>>>,
    changed: Mutex<bool>,
}

/// Outcome of one snapshot comparison.
pub enum SnapshotResult {
    Matched,
    Created,
    Updated,
    Missing,
    Differs(String),
}

impl SnapshotFile {
    /// The snapshot file of `suite_file` (absent is empty).
    pub fn for_suite(suite_file: &Path) -> Result<SnapshotFile> {
        let name = suite_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let path = suite_file.parent().unwrap_or(Path::new(".")).join("__snapshot__").join(format!("{name}.snap"));
        let mut stored = BTreeMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let (value, _) = parse_helm_yaml(&text, &path)?;
            if let Value::Object(tests) = value {
                for (test, entries) in tests {
                    let entries = entries.as_object().map(|m| m.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string()))).collect()).unwrap_or_default();
                    stored.insert(test, entries);
                }
            }
        }
        Ok(SnapshotFile { path, stored, current: Mutex::default(), changed: Mutex::new(false) })
    }

    /// Compare entry `index` of `test` with `actual`.
    pub fn compare(&self, test: &str, index: u64, actual: &Value, mode: SnapshotMode) -> SnapshotResult {
        self.compare_with(test, index, actual, mode, &SnapshotPatterns::default())
    }

    /// Compare entry `index` of `test` with `actual`, as helm-unittest's snapshot `Cache.Compare`
    /// (pkg/unittest/snapshot/cache.go): the value is written as `TrustedMarshalYAML` writes it,
    /// every string without its leading newlines; with a `matchRegex`/`notMatchRegex` pattern
    /// the text is matched against the patterns instead of the stored entry, and a stored entry
    /// is kept as it is.
    pub fn compare_with(&self, test: &str, index: u64, actual: &Value, mode: SnapshotMode, patterns: &SnapshotPatterns) -> SnapshotResult {
        let actual = &without_leading_newlines(actual);
        let text = to_snapshot_text(actual);
        let stored = self.stored.get(test).and_then(|e| e.get(&index));
        if patterns.enabled() {
            let kept = match (stored, mode.update) {
                (Some(s), false) => s.clone(),
                _ => text.clone(),
            };
            self.current.lock().unwrap().entry(test.to_string()).or_default().insert(index, kept);
            if stored.is_none() || mode.update {
                *self.changed.lock().unwrap() = true;
            }
            return match patterns.check(&text) {
                Ok(()) => SnapshotResult::Matched,
                Err(_) if mode.update => SnapshotResult::Updated,
                Err(e) => SnapshotResult::Differs(e),
            };
        }
        self.current.lock().unwrap().entry(test.to_string()).or_default().insert(index, text.clone());
        let Some(stored) = stored else {
            if mode.fail_missing {
                return SnapshotResult::Missing;
            }
            *self.changed.lock().unwrap() = true;
            return SnapshotResult::Created;
        };
        let same = parse_helm_yaml(stored, &self.path).map(|(v, _)| v == *actual).unwrap_or(false);
        if same {
            return SnapshotResult::Matched;
        }
        if mode.update {
            *self.changed.lock().unwrap() = true;
            return SnapshotResult::Updated;
        }
        let expected = parse_helm_yaml(stored, &self.path).map(|(v, _)| to_snapshot_text(&v)).unwrap_or_else(|_| stored.clone());
        let diff = similar::TextDiff::from_lines(&expected, &text).unified_diff().context_radius(3).header("snapshot", "rendered").to_string();
        SnapshotResult::Differs(diff)
    }

    /// Write the file when entries were created or updated: stored entries, replaced by this run's.
    pub fn save(&self) -> Result<bool> {
        if !*self.changed.lock().unwrap() {
            return Ok(false);
        }
        let mut all: HashMap<String, BTreeMap<u64, String>> = self.stored.clone().into_iter().collect();
        for (test, entries) in self.current.lock().unwrap().iter() {
            all.entry(test.clone()).or_default().extend(entries.clone());
        }
        let mut names: Vec<&String> = all.keys().collect();
        names.sort();
        let mut out = String::new();
        for name in names {
            out.push_str(&format!("{}:\n", serde_yaml::to_string(name)?.trim_end()));
            for (index, text) in &all[name] {
                out.push_str(&format!("  {index}: |\n"));
                for line in text.lines() {
                    out.push_str(if line.is_empty() { "\n" } else { "    " });
                    if !line.is_empty() {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&self.path, out).with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(true)
    }
}

/// `matchSnapshot`'s `matchRegex.pattern` and `notMatchRegex.pattern` (trimmed, as snapshot
/// cache.go `WithMatchRegexPattern` keeps them; empty is unset), matched with Go's RE2 syntax
/// against the snapshot text.
#[derive(Debug, Clone, Default)]
pub struct SnapshotPatterns {
    pub matching: Option<String>,
    pub not_matching: Option<String>,
}

impl SnapshotPatterns {
    /// The patterns of a `matchSnapshot` assertion's parameters.
    pub fn of(params: &Value) -> SnapshotPatterns {
        let pattern = |key: &str| params.pointer(&format!("/{key}/pattern")).and_then(Value::as_str).map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        SnapshotPatterns { matching: pattern("matchRegex"), not_matching: pattern("notMatchRegex") }
    }

    fn enabled(&self) -> bool {
        self.matching.is_some() || self.not_matching.is_some()
    }

    fn check(&self, text: &str) -> std::result::Result<(), String> {
        let compile = |p: &str| super::assert::go_regex(p).map_err(|e| format!("failed to compile regex pattern {p}: {e}"));
        if let Some(p) = &self.matching
            && !compile(p)?.is_match(text)
        {
            return Err(format!("pattern '{p}' not found in snapshot"));
        }
        if let Some(p) = &self.not_matching
            && compile(p)?.is_match(text)
        {
            return Err(format!("pattern '{p}' should not be in snapshot"));
        }
        Ok(())
    }
}

/// helm-unittest internal/common `removeLeadingNewLines`, which `TrustedMarshalYAML` applies
/// before writing: every string in maps and lists loses its leading newlines.
pub fn without_leading_newlines(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.trim_start_matches('\n').to_string()),
        Value::Array(items) => Value::Array(items.iter().map(without_leading_newlines).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), without_leading_newlines(v))).collect()),
        other => other.clone(),
    }
}

/// A value as snapshot text, as helm-unittest (go-yaml v3) writes it: map keys sorted, list
/// items indented under their key, strings quoted only when YAML would read them otherwise
/// (then in double quotes), multi-line strings as literal blocks.
pub fn to_snapshot_text(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => emit_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => emit_list(a, 0, &mut out),
        // A top-level block string is indented as go-yaml indents it (matchSnapshotRaw).
        other => {
            out.push_str(&scalar(other, 2));
            out.push('\n');
        }
    }
    out
}

fn emit_map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        // The first key of a list item continues the `- ` line.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&plain_or_quoted(k));
        out.push(':');
        emit_value(&m[k], indent, out);
    }
}

fn emit_list(a: &[Value], indent: usize, out: &mut String) {
    for (i, item) in a.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => emit_map(m, indent + 2, out),
            Value::Array(l) if !l.is_empty() => emit_list(l, indent + 2, out),
            other => {
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// After `key:`: a nested block on the next lines, or ` scalar`.
fn emit_value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_list(a, indent + 2, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_scalar(s, indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn string_scalar(s: &str, indent: usize) -> String {
    let block_ok = s.contains('\n') && !s.starts_with([' ', '\t']) && s.lines().all(|l| !l.ends_with([' ', '\t'])) && !s.contains('\r');
    if !block_ok {
        return plain_or_quoted(s);
    }
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let pad = " ".repeat(indent);
    let mut out = chomp.to_string();
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// A string plain when YAML reads it back as the same string, else double-quoted.
fn plain_or_quoted(s: &str) -> String {
    let plain_safe = !s.is_empty()
        && !s.contains(['\n', '\t', '"', '\'', '#', '`'])
        && !s.contains(": ")
        && !s.ends_with(':')
        && !s.starts_with([' ', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '%', '@'])
        && !(s.starts_with(['-', '?', ':']) && s.chars().nth(1).is_none_or(|c| c == ' '))
        && !s.starts_with("---")
        && !s.ends_with(' ')
        && matches!(parse_helm_yaml(s, Path::new("")), Ok((Value::String(ref back), _)) if back == s)
        && !matches!(s.to_ascii_lowercase().as_str(), "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~");
    if plain_safe { s.to_string() } else { serde_json::to_string(s).unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    #[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
    fn written_text_is_what_helm_unittest_wrote_for_cert_manager() {
        let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/cert-manager/tests/controller/defaults_test.yaml");
        let snap = SnapshotFile::for_suite(&suite).unwrap();
        assert_eq!(snap.stored.len(), 3);
        for entries in snap.stored.values() {
            let stored = &entries[&1];
            let (value, _) = parse_helm_yaml(stored, Path::new("x")).unwrap();
            assert_eq!(&to_snapshot_text(&value), stored);
        }
    }

    #[test]
    fn strings_yaml_would_misread_are_quoted() {
        let v = json!({"a": "9402", "b": "true", "c": "plain text", "d": "", "e": "x: y", "f": "line1\nline2\n", "g": ["--v=2"], "h": [{"k": 1, "l": [2]}]});
        assert_eq!(to_snapshot_text(&v), "a: \"9402\"\nb: \"true\"\nc: plain text\nd: \"\"\ne: \"x: y\"\nf: |\n  line1\n  line2\ng:\n  - --v=2\nh:\n  - k: 1\n    l:\n      - 2\n");
    }

    #[test]
    fn raw_text_entries_are_block_strings_that_read_back() {
        let notes = json!("Thank you for installing.\n\n  kubectl get pods\n");
        let text = to_snapshot_text(&notes);
        assert_eq!(text, "|\n  Thank you for installing.\n\n    kubectl get pods\n");
        assert_eq!(parse_helm_yaml(&text, Path::new("x")).unwrap().0, notes);
    }

    #[test]
    fn new_entries_are_written_then_compared() {
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("a_test.yaml");
        let write = SnapshotMode { update: false, fail_missing: false };
        let snap = SnapshotFile::for_suite(&suite).unwrap();
        assert!(matches!(snap.compare("t", 1, &json!({"kind": "A", "spec": {"x": [1, 2]}}), write), SnapshotResult::Created));
        assert!(snap.save().unwrap());
        let again = SnapshotFile::for_suite(&suite).unwrap();
        assert!(matches!(again.compare("t", 1, &json!({"kind": "A", "spec": {"x": [1, 2]}}), write), SnapshotResult::Matched));
        match again.compare("t", 1, &json!({"kind": "A", "spec": {"x": [1, 3]}}), write) {
            SnapshotResult::Differs(d) => assert!(d.contains("-    - 2") && d.contains("+    - 3"), "{d}"),
            _ => panic!("an edited document must differ"),
        }
        let ci = SnapshotMode { update: false, fail_missing: true };
        assert!(matches!(again.compare("other", 1, &json!({}), ci), SnapshotResult::Missing));
    }

    #[test]
    fn strings_lose_leading_newlines_and_patterns_replace_the_comparison() {
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("a_test.yaml");
        let write = SnapshotMode { update: false, fail_missing: false };
        let snap = SnapshotFile::for_suite(&suite).unwrap();
        // An entry helm-unittest wrote without the leading newline `nindent` put there.
        assert!(matches!(snap.compare("t", 1, &json!({"data": {"f": "{}\n"}}), write), SnapshotResult::Created));
        snap.save().unwrap();
        let again = SnapshotFile::for_suite(&suite).unwrap();
        assert!(matches!(again.compare("t", 1, &json!({"data": {"f": "\n{}\n"}, }), write), SnapshotResult::Matched));
        // With patterns the stored entry is not compared, only the patterns.
        let patterns = SnapshotPatterns::of(&json!({"matchRegex": {"pattern": " .*f: .* "}, "notMatchRegex": {"pattern": "Secret"}}));
        assert!(matches!(again.compare_with("t", 1, &json!({"data": {"f": "other"}}), write, &patterns), SnapshotResult::Matched));
        assert!(matches!(again.compare_with("t", 1, &json!({"kind": "Secret", "data": {"f": "x"}}), write, &patterns), SnapshotResult::Differs(e) if e.contains("'Secret' should not be in snapshot")));
        assert!(matches!(again.compare_with("t", 1, &json!({"g": 1}), write, &patterns), SnapshotResult::Differs(e) if e.contains("not found in snapshot")));
    }
}
