//! SARIF 2.1.0 report: one result per finding, located in the source template (helm's
//! `# Source:`), with the rule catalog as the tool's rules.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use super::{Report, location};
use crate::baseline::FindingKey;
use crate::rules::{Finding, Severity, catalog};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Key of the fingerprint in `partialFingerprints` (a hash of the baseline key: rule, template,
/// kind, name without the release name, field path), so code scanning tracks an alert across
/// commits that move its line.
pub const FINGERPRINT_KEY: &str = "chartproofFindingKey/v1";

/// Base id of URIs relative to the current directory (the repository root in CI).
pub const SRCROOT: &str = "%SRCROOT%";

/// A URI reference for a path: `/` separators, and the characters a URI cannot hold escaped.
fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for c in path.replace(std::path::MAIN_SEPARATOR, "/").chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' | '+' | '@' | '=' | ',' | ';' | ':' | '!' | '$' | '&' | '\'' | '(' | ')' | '*' => out.push(c),
            other => {
                let mut buf = [0; 4];
                for b in other.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

fn physical_location(report: &Report, f: &Finding) -> Value {
    let at = location::locate(report, f);
    let artifact = if at.is_relative() { json!({"uri": uri_path(&at.file), "uriBaseId": SRCROOT}) } else { json!({"uri": format!("file://{}", uri_path(&at.file))}) };
    json!({"artifactLocation": artifact, "region": {"startLine": at.line}})
}

fn result(report: &Report, f: &Finding, rule_index: usize, suppression: Option<&Option<String>>) -> Value {
    let mut text = format!("{}: {}", f.resource_id(), f.message);
    if let Some(p) = &f.path {
        text.push_str(&format!(" (at {p})"));
    }
    let mut result = json!({
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": {"text": text},
        "locations": [{
            "physicalLocation": physical_location(report, f),
            "logicalLocations": [{"name": f.resource_id(), "kind": "resource"}],
        }],
        "partialFingerprints": {FINGERPRINT_KEY: FindingKey::of(f, report.release).fingerprint()},
        "properties": {"kind": f.kind, "namespace": f.namespace, "name": f.name, "path": f.path},
    });
    if let Some(reason) = suppression {
        let mut s = json!({"kind": "external"});
        if let Some(r) = reason {
            s["justification"] = json!(r);
        }
        result["suppressions"] = json!([s]);
    }
    result
}

/// The SARIF log as JSON.
pub fn to_value(report: &Report) -> Value {
    let all = report.findings.iter().chain(report.suppressed.iter().map(|s| &s.finding));
    let ids: BTreeSet<&str> = all.map(|f| f.rule.as_str()).collect();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| match catalog::lookup(id) {
            Some(info) => json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.rationale},
                "help": {"text": info.hint},
                "defaultConfiguration": {"level": level(info.severity)},
            }),
            None => json!({"id": id, "name": id, "shortDescription": {"text": id}}),
        })
        .collect();
    let index = |id: &str| ids.iter().position(|x| *x == id).unwrap_or(0);
    let mut results: Vec<Value> = report.findings.iter().map(|f| result(report, f, index(&f.rule), None)).collect();
    results.extend(report.suppressed.iter().map(|s| result(report, &s.finding, index(&s.finding.rule), Some(&s.reason))));
    let srcroot = std::env::current_dir().map(|d| format!("file://{}/", uri_path(&d.display().to_string()).trim_end_matches('/'))).unwrap_or_else(|_| "file:///".into());
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "chartproof",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/chartproof/chartproof",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("chartproof/{}/{}/", report.command, report.subject)},
            "originalUriBaseIds": {SRCROOT: {"uri": srcroot}},
            "properties": {"qos": report.qos.iter().map(|(id, class)| (id.clone(), json!(class.to_string()))).collect::<serde_json::Map<_, _>>()},
            "results": results,
        }],
    })
}

/// One SARIF log holding several runs (one per chart or scenario), each keeping its own
/// `automationDetails.id`, which code scanning takes as the run's category.
pub fn log_of_runs(runs: Vec<Value>) -> Value {
    let empty = Report { command: "", subject: "", release: "", findings: &[], suppressed: &[], qos: &[], resources: &[], sources: None };
    let mut log = to_value(&empty);
    log["runs"] = Value::Array(runs);
    log
}

pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn results_point_at_templates() {
        let f = sample::findings();
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &[], qos: &[], resources: &[], sources: None };
        let v = to_value(&r);
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        assert_eq!(run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "demo/templates/deployment.yaml");
        assert_eq!(run["results"][1]["level"], "warning");
        assert_eq!(run["results"][1]["ruleIndex"], 1);
        let q = sample::qos();
        let with_qos = Report { qos: &q, ..r };
        assert_eq!(to_value(&with_qos)["runs"][0]["properties"]["qos"]["Deployment/prod/web"], "Burstable");
    }
}
