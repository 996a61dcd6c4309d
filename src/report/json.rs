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
