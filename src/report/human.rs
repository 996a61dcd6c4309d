//! Human-readable report: findings grouped by resource (with its source template), each with
//! rule id, path, message and fix hint; QoS classes and a summary line. ANSI colors only when
//! the caller says so (a TTY without NO_COLOR).

use std::io::{self, Write};

use super::Report;
use crate::rules::{Finding, Severity};

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

/// Rules one root cause fires together: `resources: {}` leaves a container without requests and
/// limits, and so the pod BestEffort. Human output shows them as one item with its related rules.
const SAME_CAUSE: &[&str] = &["resources-requests", "resources-limits", "qos-best-effort"];

/// A finding shown with the findings of the same cause on the same resource (and container).
struct Item<'a> {
    main: &'a Finding,
    related: Vec<&'a Finding>,
}

/// The container a field path is in (`…containers[name=web]…` → `web`).
fn container(path: Option<&str>) -> Option<&str> {
    let rest = path?.split_once("ontainers[name=")?.1;
    rest.split_once(']').map(|(name, _)| name)
}

/// Findings in display order, those of one cause merged into one item: same resource, rules of
/// [`SAME_CAUSE`], same container (a pod-level finding joins the resource's first group).
fn items(findings: &[Finding]) -> Vec<Item<'_>> {
    let mut items: Vec<Item> = Vec::new();
    for f in findings {
        let joins = SAME_CAUSE.contains(&f.rule.as_str()).then(|| {
            items.iter().position(|item| {
                let m = item.main;
                let group_container = std::iter::once(m).chain(item.related.iter().copied()).find_map(|g| container(g.path.as_deref()));
                SAME_CAUSE.contains(&m.rule.as_str())
                    && m.resource_id() == f.resource_id()
                    && match (group_container, container(f.path.as_deref())) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
            })
        });
        match joins.flatten() {
            Some(i) => items[i].related.push(f),
            None => items.push(Item { main: f, related: Vec::new() }),
        }
    }
    for item in &mut items {
        // The most severe finding leads; among equals, the one listed first in SAME_CAUSE.
        let rank = |f: &Finding| (std::cmp::Reverse(f.severity), SAME_CAUSE.iter().position(|r| *r == f.rule));
        if let Some(best) = item.related.iter().copied().min_by_key(|f| rank(f)).filter(|best| rank(best) < rank(item.main)) {
            item.related.retain(|f| !std::ptr::eq(*f, best));
            item.related.insert(0, item.main);
            item.main = best;
        }
    }
    items
}

pub fn write(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let paint = Paint(color);
    let mut current: Option<String> = None;
    for Item { main: f, related } in items(report.findings) {
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
        let also = if related.is_empty() { String::new() } else { format!(" (+ {})", related.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>().join(", ")) };
        writeln!(out, "  {} {}{also}{}", paint.severity(f.severity), paint.code("1", &f.rule), path)?;
        writeln!(out, "          {}", f.message)?;
        for r in &related {
            let at = r.path.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
            writeln!(out, "          {} {}: {}{at}", paint.code("2", "same cause:"), r.rule, r.message)?;
        }
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
    fn one_cause_is_one_item_with_its_related_rules() {
        let finding = |rule: &str, name: &str, path: &str| Finding {
            rule: rule.into(),
            severity: if rule == "qos-best-effort" { Severity::Warning } else { Severity::Error },
            kind: "Deployment".into(),
            namespace: None,
            name: name.into(),
            template: None,
            path: Some(path.into()),
            message: format!("{rule} message"),
        };
        let f = vec![
            finding("qos-best-effort", "web", "spec.template.spec"),
            finding("resources-limits", "web", "spec.template.spec.containers[name=app].resources.limits.memory"),
            finding("resources-requests", "web", "spec.template.spec.containers[name=app].resources.requests"),
            finding("resources-requests", "web", "spec.template.spec.containers[name=sidecar].resources.requests"),
            finding("image-digest", "web", "spec.template.spec.containers[name=app].image"),
            finding("resources-requests", "api", "spec.template.spec.containers[name=app].resources.requests"),
        ];
        let shown: Vec<(String, Vec<String>)> = items(&f).iter().map(|i| (format!("{}/{}", i.main.name, i.main.rule), i.related.iter().map(|r| r.rule.clone()).collect())).collect();
        assert_eq!(
            shown,
            [
                ("web/resources-requests".to_string(), vec!["qos-best-effort".to_string(), "resources-limits".to_string()]),
                ("web/resources-requests".to_string(), vec![]),
                ("web/image-digest".to_string(), vec![]),
                ("api/resources-requests".to_string(), vec![]),
            ]
        );
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &[], qos: &[], resources: &[], sources: None };
        let mut buf = Vec::new();
        write(&r, false, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("error   resources-requests (+ qos-best-effort, resources-limits)  spec.template.spec.containers[name=app].resources.requests"), "{text}");
        assert!(text.contains("same cause: resources-limits: resources-limits message (spec.template.spec.containers[name=app].resources.limits.memory)"), "{text}");
        assert!(text.contains("FAILED demo: 5 error(s), 1 warning(s)"), "counts stay per finding: {text}");
    }

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
