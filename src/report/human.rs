//! Human-readable report: findings grouped by resource (with its source template), each with
//! rule id, path, message and fix hint; QoS classes and a summary line. ANSI colors only when
//! the caller says so (a TTY without NO_COLOR).

use std::io::{self, Write};

use super::Report;
use crate::rules::Severity;

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
    fn severity(&self, s: Severity) -> String {
        let label = format!("{:<7}", s.to_string());
        match s {
            Severity::Error => self.code("1;31", &label),
            Severity::Warning => self.code("33", &label),
            Severity::Info => self.code("36", &label),
        }
    }
}

pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint(color);
    let mut current: Option<String> = None;
    for f in report.findings {
        let id = f.resource_id();
        if current.as_deref() != Some(id.as_str()) {
            if current.is_some() {
                writeln!(out)?;
            }
            let template = f.template.as_deref().map(|t| format!("  ({t})")).unwrap_or_default();
            writeln!(out, "{}{}", paint.code("1", &id), paint.code("2", &template))?;
            current = Some(id);
        }
        let path = f.path.as_deref().map(|p| format!("  {}", paint.code("2", p))).unwrap_or_default();
        writeln!(out, "  {} {}{}", paint.severity(f.severity), paint.code("1", &f.rule), path)?;
        writeln!(out, "          {}", f.message)?;
        if let Some(hint) = f.hint() {
            writeln!(out, "          {} {hint}", paint.code("32", "fix:"))?;
        }
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    if !report.suppressed.is_empty() {
        writeln!(out, "suppressed ({}, exclusions, baseline):", crate::rules::IGNORE_ANNOTATION)?;
        for s in report.suppressed {
            let reason = s.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
            writeln!(out, "  {} {}{reason}", s.finding.resource_id(), s.finding.rule)?;
        }
        writeln!(out)?;
    }
    if !report.qos.is_empty() {
        writeln!(out, "QoS classes:")?;
        for (id, class) in report.qos {
            writeln!(out, "  {class:<10} {id}")?;
        }
        writeln!(out)?;
    }
    let (e, w, i) = (report.count(Severity::Error), report.count(Severity::Warning), report.count(Severity::Info));
    let verdict = if e > 0 { paint.code("1;31", "FAILED") } else { paint.code("1;32", "PASSED") };
    let resources = if report.resources.is_empty() { String::new() } else { format!(" in {} resources", report.resources.len()) };
    writeln!(out, "{verdict} {}: {e} error(s), {w} warning(s), {i} info, {} suppressed{resources}", report.subject, report.suppressed.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn groups_by_resource_with_hints_and_no_color_when_asked() {
        let (f, s, q) = (sample::findings(), sample::suppressed(), sample::qos());
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &s, qos: &q, resources: &[], sources: None };
        let mut buf = Vec::new();
        write(&r, false, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.matches("Deployment/prod/web").count(), 3, "one header, the suppressed line, the QoS line:\n{text}");
        assert!(text.contains("(demo/templates/deployment.yaml)"));
        assert!(text.contains("fix: Reference images"));
        assert!(text.contains("probe-liveness — sidecar"));
        assert!(text.contains("FAILED demo: 1 error(s), 1 warning(s)"));
        assert!(!text.contains('\x1b'));
        let mut colored = Vec::new();
        write(&r, true, &mut colored).unwrap();
        assert!(String::from_utf8(colored).unwrap().contains("\x1b[1;31m"));
    }
}
