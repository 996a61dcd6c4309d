//! Regression cases: each minimal failure saved as a YAML file under the chart's `cases/` (or
//! `--cases-dir`) holding the values override and the expected outcome, replayed first on every
//! run. Files are written atomically (temporary file in the same folder, then a no-clobber
//! rename); an existing file is never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rules::Severity;

/// What a saved case expects when replayed against the chart it was found on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// Rule id that fired (e.g. `probe-readiness`, `render-error`).
    pub rule: String,
    pub severity: Severity,
    /// Kind and name of the resource it fired on (`Chart` and the chart name for render errors).
    pub kind: String,
    pub name: String,
    /// Template of the finding (for render errors, part of what identifies the failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The resource's role in its template (`#0`: the first resource of this kind there), which
    /// identifies the failure whatever values rename the resource. Cases saved before roles
    /// existed have none and match by `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The field path of a `kubernetes-schema` failure (part of its identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The finding's message when the case was found (informational).
    pub message: String,
}

/// A regression case file (`cases/*.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedCase {
    /// Format version (1).
    pub version: u32,
    /// Chart name the case was found on.
    pub chart: String,
    /// Seed of the run that found it.
    pub seed: u64,
    /// The values override, relative to the chart defaults (and the run's `-f` base values);
    /// `null` deletes a key, as with helm.
    pub values: Value,
    /// The failure this override produced; when it no longer occurs the case passes.
    pub expect: ExpectedFailure,
}

/// A case file read back, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    pub path: PathBuf,
    pub case: SavedCase,
}

/// Read every `*.yaml`/`*.yml` case in `dir` (sorted by file name). A missing folder has no cases.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedCase>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list cases folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths.into_iter().map(|p| load_file(&p)).collect()
}

/// Read one case file.
pub fn load_file(path: &Path) -> Result<LoadedCase> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read case file {}", path.display()))?;
    let case: SavedCase = serde_yaml::from_str(&text).map_err(|e| {
        let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        anyhow::anyhow!("{}{}: not a chartproof case file: {}", path.display(), loc, e)
    })?;
    Ok(LoadedCase { path: path.to_path_buf(), case })
}

/// File name stem for a case: `<rule>-<kind>-<name>-<8 hex of the override>`.
fn stem(case: &SavedCase) -> String {
    let slug = |s: &str| -> String {
        let s: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
    };
    let hash = super::overrides::value_hash(&case.values);
    format!("{}-{}-{}-{}", slug(&case.expect.rule), slug(&case.expect.kind), slug(&case.expect.name), &hash[..8])
}

/// The YAML text of a case file.
pub fn to_yaml(case: &SavedCase) -> Result<String> {
    let header = "# chartproof regression case: replayed first by every `chartproof test` run.\n# `values` is the override (relative to the chart defaults); `expect` is the failure it produced.\n";
    Ok(format!("{header}{}", serde_yaml::to_string(case)?))
}

/// Save a case atomically. Returns the file written, or the existing file that already holds
/// the same case. Never overwrites a different file: a numbered name is chosen instead.
pub fn save(dir: &Path, case: &SavedCase) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create cases folder {}", dir.display()))?;
    let text = to_yaml(case)?;
    let stem = stem(case);
    for n in 0..1000 {
        let name = if n == 0 { format!("{stem}.yaml") } else { format!("{stem}-{n}.yaml") };
        let path = dir.join(&name);
        if path.exists() {
            if load_file(&path).map(|l| l.case.values == case.values && l.case.expect == case.expect).unwrap_or(false) {
                return Ok(path);
            }
            continue;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.error).with_context(|| format!("cannot write {}", path.display())),
        }
    }
    anyhow::bail!("{}: too many case files named {stem}-*.yaml", dir.display())
}

/// Keep a cases folder that lives inside the chart out of `helm package`: add it to the chart's
/// `.helmignore` (kept content, atomic write) unless a line already names it. Returns the line
/// added, if any.
pub fn ensure_helmignored(chart_dir: &Path, cases_dir: &Path) -> Result<Option<String>> {
    std::fs::create_dir_all(cases_dir).with_context(|| format!("cannot create cases folder {}", cases_dir.display()))?;
    let (Ok(chart), Ok(cases)) = (chart_dir.canonicalize(), cases_dir.canonicalize()) else { return Ok(None) };
    let Ok(relative) = cases.strip_prefix(&chart) else { return Ok(None) };
    let Some(relative) = relative.to_str().filter(|r| !r.is_empty()) else { return Ok(None) };
    let ignore_file = chart.join(".helmignore");
    let existing = match std::fs::read_to_string(&ignore_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", ignore_file.display())),
    };
    let named = existing.lines().map(|l| l.trim().trim_start_matches('/').trim_end_matches('/')).any(|l| l == relative);
    if named {
        return Ok(None);
    }
    let line = format!("{relative}/");
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("# chartproof regression cases: kept out of `helm package`\n{line}\n"));
    let mut tmp = tempfile::NamedTempFile::new_in(&chart).with_context(|| format!("cannot create a temporary file in {}", chart.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    let mode = std::fs::metadata(&ignore_file).map(|m| m.permissions()).unwrap_or_else(|_| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o644)
    });
    std::fs::set_permissions(tmp.path(), mode)?;
    tmp.persist(&ignore_file).map_err(|e| e.error).with_context(|| format!("cannot write {}", ignore_file.display()))?;
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn case(values: Value) -> SavedCase {
        SavedCase {
            version: 1,
            chart: "demo".into(),
            seed: 3,
            values,
            expect: ExpectedFailure {
                rule: "probe-readiness".into(),
                severity: Severity::Error,
                kind: "Deployment".into(),
                name: "release-demo".into(),
                template: None,
                role: Some("#0".into()),
                path: None,
                message: "no probe".into(),
            },
        }
    }

    #[test]
    fn a_cases_folder_inside_the_chart_is_added_to_helmignore_once() {
        let chart = tempfile::tempdir().unwrap();
        std::fs::write(chart.path().join(".helmignore"), "*.tmp").unwrap();
        let cases = chart.path().join("cases");
        assert_eq!(ensure_helmignored(chart.path(), &cases).unwrap().as_deref(), Some("cases/"));
        assert_eq!(ensure_helmignored(chart.path(), &cases).unwrap(), None);
        let text = std::fs::read_to_string(chart.path().join(".helmignore")).unwrap();
        assert!(text.starts_with("*.tmp\n") && text.ends_with("cases/\n"), "{text}");
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(ensure_helmignored(chart.path(), outside.path()).unwrap(), None);
    }

    #[test]
    fn save_round_trips_and_never_clobbers() {
        let dir = tempfile::tempdir().unwrap();
        let a = case(json!({"readinessProbe": {"enabled": false}, "note": "a: b", "gone": null}));
        let p1 = save(dir.path(), &a).unwrap();
        assert_eq!(save(dir.path(), &a).unwrap(), p1, "same case is not written twice");
        assert!(p1.file_name().unwrap().to_str().unwrap().starts_with("probe-readiness-deployment-release-demo-"));
        // A different file squatting on the name is kept; the case goes to a numbered name.
        let squatter = dir.path().join(format!("{}.yaml", stem(&case(json!({"x": 1})))));
        std::fs::write(&squatter, "hand-written\n").unwrap();
        let p2 = save(dir.path(), &case(json!({"x": 1}))).unwrap();
        assert_ne!(p2, squatter);
        assert_eq!(std::fs::read_to_string(&squatter).unwrap(), "hand-written\n");
        std::fs::remove_file(&squatter).unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(loaded.len(), 2);
        assert!(loaded.iter().any(|l| l.case == a));
    }

    #[test]
    fn bad_case_file_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "version: 1\nchart: x\nseed: nope\n").unwrap();
        let err = format!("{:#}", load_dir(dir.path()).unwrap_err());
        assert!(err.contains("bad.yaml:") && err.contains("not a chartproof case file"), "{err}");
    }
}
