//! JSON report: `{"findings":[…],"suppressed":[…],"qos":{…},"summary":{…}}`. Its schema is
//! published as `schemas/check-report.schema.json`.

use std::collections::BTreeMap;
use std::io::Write;

use schemars::JsonSchema;
use serde::Serialize;

use super::Report;
use crate::rules::{Finding, QosClass, Severity, Suppressed};

/// A finding with its fix hint.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// How to fix it (from the rule catalog), when known.
    pub hint: Option<String>,
}

/// Counts and verdict.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonSummary {
    /// What was checked (chart path or name).
    pub subject: String,
    pub command: String,
    /// True when there is no error finding.
    pub passed: bool,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub suppressed: usize,
    /// Number of resources checked (0 when unknown).
    pub resources: usize,
}

/// The whole JSON report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonReport {
    pub findings: Vec<JsonFinding>,
    /// Findings silenced by `chartproof.io/ignore`, with the reason given.
    pub suppressed: Vec<Suppressed>,
    /// Computed pod QoS class by resource id (`Kind/namespace/name`).
    pub qos: BTreeMap<String, QosClass>,
    pub summary: JsonSummary,
}

impl JsonReport {
    pub fn from_report(r: &Report) -> JsonReport {
        JsonReport {
            findings: r.findings.iter().map(|f| JsonFinding { finding: f.clone(), hint: f.hint().map(str::to_string) }).collect(),
            suppressed: r.suppressed.to_vec(),
            qos: r.qos.iter().cloned().collect(),
            summary: JsonSummary {
                subject: r.subject.to_string(),
                command: r.command.to_string(),
                passed: r.count(Severity::Error) == 0,
                errors: r.count(Severity::Error),
                warnings: r.count(Severity::Warning),
                infos: r.count(Severity::Info),
                suppressed: r.suppressed.len(),
                resources: r.resources.len(),
            },
        }
    }
}

/// A command's `-o json`: one chart's report, or one entry per chart or scenario when several
/// are given (`check`, `test`, `audit`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrSeveral<R> {
    One(Box<R>),
    Several(TargetsReport<R>),
}

/// A run over several charts or scenarios.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TargetsReport<R> {
    /// One entry per chart or scenario, in the order they were given.
    pub targets: Vec<TargetReport<R>>,
}

/// One chart or scenario of a run over several.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TargetReport<R> {
    /// `chart` or `chart [ci/x-values.yaml]`.
    pub target: String,
    /// This target's exit code, as the command's exit codes (0 passed, 1 failed, 2 unusable input;
    /// `test`: 3 nothing checked).
    pub exit_code: u8,
    /// Findings left out of `report` because the baseline knows them (`check` lists them among
    /// `suppressed` instead, and counts 0 here).
    pub known_in_baseline: usize,
    /// Why the target could not be used (exit code 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The target's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<R>,
}

impl<R> TargetReport<R> {
    /// A target that could not be used.
    pub fn unusable(target: String, error: String) -> TargetReport<R> {
        TargetReport { target, exit_code: 2, known_in_baseline: 0, error: Some(error), report: None }
    }

    /// A target's report and verdict.
    pub fn done(target: String, exit_code: u8, known_in_baseline: usize, report: R) -> TargetReport<R> {
        TargetReport { target, exit_code, known_in_baseline, error: None, report: Some(report) }
    }
}

/// Print `targets` as one JSON document.
pub fn several_targets<R: Serialize>(targets: Vec<TargetReport<R>>) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&OneOrSeveral::Several(TargetsReport { targets }))? + "\n")
}

pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &JsonReport::from_report(report))?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn shape_matches_the_published_schema() {
        let (f, s, q) = (sample::findings(), sample::suppressed(), sample::qos());
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &s, qos: &q, resources: &[], sources: None };
        let mut buf = Vec::new();
        write(&r, &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["findings"][0]["rule"], "image-digest");
        assert_eq!(v["findings"][0]["namespace"], "prod");
        assert!(v["findings"][0]["hint"].as_str().unwrap().contains("sha256"));
        assert_eq!(v["suppressed"][0]["reason"], "sidecar");
        assert_eq!(v["qos"]["Deployment/prod/web"], "Burstable");
        assert_eq!(v["summary"]["errors"], 1);
        assert_eq!(v["summary"]["passed"], false);
        let schema = serde_json::to_value(schemars::schema_for!(JsonReport)).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&v));
    }
}
