//! Baselines: the findings a chart already had when it adopted chartproof, so CI fails only on
//! new ones. A finding is known by its [`FindingKey`] — rule, template, kind, resource name with
//! the release name left out, field path — never by a line number or a rendered release name, so
//! the key survives unrelated edits. The file's JSON Schema is `schemas/baseline.schema.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Finding, Suppressed};

/// Version of the baseline file format.
pub const BASELINE_VERSION: u32 = 1;

/// What identifies a finding across commits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingKey {
    /// Rule id (`resources-limits`).
    pub rule: String,
    /// Template that produced the resource (`mychart/templates/deployment.yaml`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Resource kind (`Deployment`; `Release` for release-wide findings).
    pub kind: String,
    /// Resource name with the release name replaced by `{release}` (`{release}-web`).
    pub name: String,
    /// Field path inside the resource, if the finding has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The placeholder for the release name in [`FindingKey::name`].
const RELEASE_PLACEHOLDER: &str = "{release}";

impl FindingKey {
    /// The key of `f`, rendered with release name `release`.
    pub fn of(f: &Finding, release: &str) -> FindingKey {
        let name = match f.name.strip_prefix(release) {
            // Release-wide findings name the release as a whole, whatever it is called.
            _ if f.kind == crate::rules::RELEASE_KIND => RELEASE_PLACEHOLDER.to_string(),
            Some(rest) if !release.is_empty() && (rest.is_empty() || rest.starts_with('-')) => format!("{RELEASE_PLACEHOLDER}{rest}"),
            _ => f.name.clone(),
        };
        FindingKey { rule: f.rule.clone(), template: f.template.clone(), kind: f.kind.clone(), name, path: f.path.clone() }
    }

    /// A stable hash of the key, for SARIF's `partialFingerprints`.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        hex::encode(&Sha256::digest(text.as_bytes())[..16])
    }

    /// One line for people: `rule Kind/name at path (template)`.
    pub fn describe(&self) -> String {
        let path = self.path.as_deref().map(|p| format!(" at {p}")).unwrap_or_default();
        let template = self.template.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
        format!("{} {}/{}{path}{template}", self.rule, self.kind, self.name)
    }
}

/// One known finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// Command that reported it (`check`, `test`, `audit`): each command matches and updates only
    /// its own entries, so one file can serve all three.
    pub command: String,
    #[serde(flatten)]
    pub key: FindingKey,
    /// The finding's message when it was recorded (for people; not matched).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A baseline file (`--baseline`, written by `--write-baseline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format version (1).
    pub version: u32,
    /// Known findings, sorted.
    pub findings: Vec<BaselineEntry>,
}

/// Findings split by a baseline.
#[derive(Debug, Default)]
pub struct Split {
    /// Not in the baseline: these fail the run.
    pub new: Vec<Finding>,
    /// In the baseline: reported as known, not failing.
    pub known: Vec<Suppressed>,
    /// Baseline entries of this command no finding matched (fixed since: the baseline can shrink).
    pub gone: Vec<BaselineEntry>,
}

impl Baseline {
    /// Read a baseline file; errors name the file and line.
    pub fn read(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read baseline {}", path.display()))?;
        let baseline: Baseline = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}:{}:{}: invalid baseline: {e}", path.display(), e.line(), e.column()))?;
        if baseline.version != BASELINE_VERSION {
            bail!("{}: baseline version {} is not supported (expected {BASELINE_VERSION})", path.display(), baseline.version);
        }
        Ok(baseline)
    }

    /// Split `findings` of `command` into new and known, and list the entries no longer seen.
    pub fn split(&self, command: &str, findings: Vec<Finding>, release: &str, file: &Path) -> Split {
        let mine: Vec<&BaselineEntry> = self.findings.iter().filter(|e| e.command == command).collect();
        let mut seen = BTreeSet::new();
        let mut split = Split::default();
        let reason = format!("known: in baseline {}", file.display());
        for f in findings {
            let key = FindingKey::of(&f, release);
            if mine.iter().any(|e| e.key == key) {
                seen.insert(key);
                split.known.push(Suppressed { finding: f, reason: Some(reason.clone()) });
            } else {
                split.new.push(f);
            }
        }
        split.gone = mine.into_iter().filter(|e| !seen.contains(&e.key)).cloned().collect();
        split
    }

    /// Write (or update) `path` with the findings of `command`: entries of other commands in an
    /// existing file are kept, this command's are replaced.
    pub fn write(path: &Path, command: &str, findings: &[Finding], release: &str) -> Result<usize> {
        let mut baseline = if path.exists() { Baseline::read(path)? } else { Baseline { version: BASELINE_VERSION, findings: Vec::new() } };
        baseline.findings.retain(|e| e.command != command);
        let mut added = BTreeSet::new();
        for f in findings {
            let key = FindingKey::of(f, release);
            if added.insert(key.clone()) {
                baseline.findings.push(BaselineEntry { command: command.to_string(), key, message: f.message.clone() });
            }
        }
        baseline.findings.sort_by(|a, b| (&a.command, &a.key).cmp(&(&b.command, &b.key)));
        let text = serde_json::to_string_pretty(&baseline)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write baseline {}", path.display()))?;
        Ok(added.len())
    }
}

/// `--baseline` and `--write-baseline`, shared by `check`, `test` and `audit`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BaselineArgs {
    /// Known findings (a file --write-baseline wrote): they are reported as known and do not fail
    /// the run, new ones do; entries no longer found are listed on stderr
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write FILE with this run's findings (updating this command's entries of an existing file),
    /// then report them as known: adopt chartproof on a chart that has findings today
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

impl BaselineArgs {
    /// Read the baseline before the run, so a broken file is unusable input.
    pub fn check_readable(&self) -> Result<()> {
        if let Some(file) = &self.baseline {
            Baseline::read(file)?;
        }
        Ok(())
    }

    /// Split `findings` of `command` by the baseline (after writing it, with --write-baseline)
    /// and print the summary on stderr; without either flag every finding is new.
    pub fn apply(&self, command: &str, findings: Vec<Finding>, release: &str) -> Result<Split> {
        if let Some(file) = &self.write_baseline {
            let written = Baseline::write(file, command, &findings, release)?;
            eprintln!("baseline {}: wrote {written} {command} finding(s)", file.display());
        }
        let Some(file) = self.write_baseline.as_ref().or(self.baseline.as_ref()) else {
            return Ok(Split { new: findings, ..Split::default() });
        };
        let split = Baseline::read(file)?.split(command, findings, release, file);
        print_summary(&split, file);
        Ok(split)
    }
}

impl BaselineArgs {
    /// One baseline over several charts or scenarios: written from (and matched against) all
    /// their findings — a finding known in one is known in all; keys name the chart's template —
    /// with one summary on stderr. The split of each target's findings, in order.
    pub fn apply_each(&self, command: &str, per_target: Vec<Vec<Finding>>, release: &str) -> Result<Vec<Split>> {
        self.apply(command, per_target.iter().flatten().cloned().collect(), release)?;
        let Some(file) = self.write_baseline.as_ref().or(self.baseline.as_ref()) else {
            return Ok(per_target.into_iter().map(|new| Split { new, ..Split::default() }).collect());
        };
        let baseline = Baseline::read(file)?;
        Ok(per_target.into_iter().map(|findings| baseline.split(command, findings, release, file)).collect())
    }
}

/// Keep the items whose finding (by `finding_of`) is new in `split`; the number dropped.
pub fn retain_new<T>(items: &mut Vec<T>, split: &Split, release: &str, finding_of: impl Fn(&T) -> Finding) -> usize {
    let known: BTreeSet<FindingKey> = split.known.iter().map(|s| FindingKey::of(&s.finding, release)).collect();
    let before = items.len();
    items.retain(|item| !known.contains(&FindingKey::of(&finding_of(item), release)));
    before - items.len()
}

/// Print what a baseline run found on stderr: known and gone counts, each gone entry.
pub fn print_summary(split: &Split, file: &Path) {
    eprintln!("baseline {}: {} new, {} known finding(s)", file.display(), split.new.len(), split.known.len());
    if !split.gone.is_empty() {
        eprintln!("baseline {}: {} finding(s) no longer occur (rewrite it with --write-baseline to drop them):", file.display(), split.gone.len());
        for e in &split.gone {
            eprintln!("  {}", e.key.describe());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    fn finding(name: &str, path: &str) -> Finding {
        Finding {
            rule: "resources-limits".into(),
            severity: Severity::Error,
            kind: "Deployment".into(),
            namespace: None,
            name: name.into(),
            template: Some("x/templates/deployment.yaml".into()),
            path: Some(path.into()),
            message: "no limits (line 12)".into(),
        }
    }

    #[test]
    fn the_key_leaves_out_the_release_name_and_lines() {
        let a = FindingKey::of(&finding("prod-x", "spec.a"), "prod");
        let b = FindingKey::of(&finding("release-x", "spec.a"), "release");
        assert_eq!(a, b);
        assert_eq!(a.name, "{release}-x");
        assert_eq!(FindingKey::of(&finding("production", "spec.a"), "prod").name, "production", "only a whole word is the release");
        assert_ne!(a.fingerprint(), FindingKey::of(&finding("release-x", "spec.b"), "release").fingerprint());
    }

    #[test]
    fn written_baseline_splits_new_known_and_gone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("baseline.json");
        Baseline::write(&file, "check", &[finding("r-x", "spec.a"), finding("r-x", "spec.gone")], "r").unwrap();
        Baseline::write(&file, "audit", &[finding("k", "spec.a")], "r").unwrap();
        let baseline = Baseline::read(&file).unwrap();
        assert_eq!(baseline.findings.len(), 3, "audit entries are added beside check's");
        let split = baseline.split("check", vec![finding("other-x", "spec.a"), finding("other-x", "spec.new")], "other", &file);
        assert_eq!(split.new.len(), 1);
        assert_eq!(split.new[0].path.as_deref(), Some("spec.new"));
        assert_eq!(split.known.len(), 1);
        assert!(split.known[0].reason.as_deref().unwrap().contains("baseline"));
        assert_eq!(split.gone.len(), 1);
        assert_eq!(split.gone[0].key.path.as_deref(), Some("spec.gone"));
    }

    #[test]
    fn a_broken_baseline_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("b.json");
        std::fs::write(&file, "{\"version\": 1,\n \"findings\": [{\"rule\": 3}]}").unwrap();
        let e = format!("{:#}", Baseline::read(&file).unwrap_err());
        assert!(e.contains("b.json:2:"), "{e}");
    }
}
