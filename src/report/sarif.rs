//! SARIF 2.1.0 report: one result per finding, located in the source template (helm's
//! `# Source:`), with the rule catalog as the tool's rules.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use super::Report;
use crate::rules::{Severity, catalog, finding_line};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The SARIF log as JSON.
pub fn to_value(report: &Report) -> Value {
    let ids: BTreeSet<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| match catalog::lookup(id) {
            Some(info) => json!({
                "id": id,
                "shortDescription": {"text": info.summary},
                "fullDescription": {"text": info.rationale},
                "help": {"text": info.hint},
                "defaultConfiguration": {"level": level(info.severity)},
            }),
            None => json!({"id": id}),
        })
        .collect();
    let index = |id: &str| ids.iter().position(|x| *x == id).unwrap_or(0);
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut text = format!("{}: {}", f.resource_id(), f.message);
            if let Some(p) = &f.path {
                text.push_str(&format!(" (at {p})"));
            }
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": index(&f.rule),
                "level": level(f.severity),
                "message": {"text": text},
                "properties": {"kind": f.kind, "namespace": f.namespace, "name": f.name, "path": f.path},
            });
            if let Some(t) = &f.template {
                let file = report.source_file(t);
                let uri = if file.starts_with('/') { format!("file://{file}") } else { file };
                let mut physical = json!({"artifactLocation": {"uri": uri}});
                if let Some(line) = finding_line(f) {
                    physical["region"] = json!({"startLine": line});
                }
                let mut location = json!({"physicalLocation": physical});
                location["logicalLocations"] = json!([{"name": f.resource_id(), "kind": "resource"}]);
                result["locations"] = json!([location]);
            }
            result
        })
        .collect();
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
            "automationDetails": {"id": format!("chartproof/{}/{}", report.command, report.subject)},
            "properties": {"qos": report.qos.iter().map(|(id, class)| (id.clone(), json!(class.to_string()))).collect::<serde_json::Map<_, _>>()},
            "results": results,
        }],
    })
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
        let r = Report { command: "check", subject: "demo", findings: &f, suppressed: &[], qos: &[], resources: &[], sources: None };
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
