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
        let text = to_snapshot_text(actual);
        self.current.lock().unwrap().entry(test.to_string()).or_default().insert(index, text.clone());
        let Some(stored) = self.stored.get(test).and_then(|e| e.get(&index)) else {
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

/// A value as snapshot text: YAML with sorted map keys, as helm-unittest writes it.
fn to_snapshot_text(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_yaml::to_string(&sorted(v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            SnapshotResult::Differs(d) => assert!(d.contains("-  - 2") && d.contains("+  - 3"), "{d}"),
            _ => panic!("an edited document must differ"),
        }
        let ci = SnapshotMode { update: false, fail_missing: true };
        assert!(matches!(again.compare("other", 1, &json!({}), ci), SnapshotResult::Missing));
    }
}
