//! GitHub Actions annotations: `::error file=<template>,line=<n>,title=<rule>::<message>` per finding
//! (located as [`location::locate`] says)
//! (warnings as `::warning`, infos as `::notice`), escaped as the workflow-command syntax requires.

use std::io::Write;

use super::{Report, location};
use crate::rules::Severity;

/// Escape data (the message) of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a property value (file, title) of a workflow command.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    for f in report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let at = location::locate(report, f);
        let mut props = vec![format!("file={}", escape_property(&at.file)), format!("line={}", at.line)];
        props.push(format!("title={}", escape_property(&format!("{} ({})", f.rule, f.resource_id()))));
        let mut message = f.message.clone();
        if let Some(p) = &f.path {
            message.push_str(&format!(" [at {p}]"));
        }
        if let Some(h) = f.hint() {
            message.push_str(&format!("\nfix: {h}"));
        }
        writeln!(out, "::{command} {}::{}", props.join(","), escape_data(&message))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn annotations_are_escaped() {
        let f = sample::findings();
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &[], qos: &[], resources: &[], sources: None };
        let mut buf = Vec::new();
        write(&r, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2, "one line per finding: {text}");
        assert!(lines[0].starts_with("::error file=demo/templates/deployment.yaml,line=1,title=image-digest (Deployment/prod/web)::"), "{}", lines[0]);
        assert!(lines[0].contains("%0Afix: "));
        assert!(lines[1].starts_with("::warning "));
    }
}
