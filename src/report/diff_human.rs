//! `chartproof diff` for people: contract changes, changed resources with their field changes and
//! text diff, noise and volatile counts, the rule delta, and the verdict. ANSI colors only when
//! asked (the caller decides: a terminal, and no `NO_COLOR`).

use std::fmt::Write;

use crate::contract::compat::{ContractChange, DefaultChange};
use crate::diff::references::ReferenceChange;
use crate::diff::fields::FieldChangeKind;
use crate::diff::{DiffReport, FieldChange, FindingsDelta, ResourceChange, ResourceDiff, SideInfo};
use crate::rules::Finding;

use super::short_value;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

fn side_name(s: &SideInfo) -> String {
    let mut name = format!("{} {}", s.chart, s.version.as_deref().unwrap_or("(no version)"));
    if !s.values.is_empty() {
        name.push_str(&format!(" with {}", s.values.join(", ")));
    }
    name
}

pub fn render(report: &DiffReport, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    let _ = writeln!(out, "{} {} -> {}", p.bold("chartproof diff:"), side_name(&report.old), side_name(&report.new));
    if report.compared.contract {
        contract_section(&mut out, report, &p);
        defaults_section(&mut out, report, &p);
    }
    if !report.files.is_empty() {
        files_section(&mut out, report, &p);
    } else if report.compared.manifests {
        references_section(&mut out, &report.references, "  ", &p);
        resources_section(&mut out, report, &p);
        findings_section(&mut out, "Findings (check rules):", &report.findings, false, &p);
        if let Some(policies) = &report.policies {
            findings_section(&mut out, "Policy findings (--policies; the new release checked as helm upgrade sends it):", policies, true, &p);
        }
    }
    verdict(&mut out, report, &p);
    out
}

fn contract_section(out: &mut String, report: &DiffReport, p: &Paint) {
    let src = |s: &SideInfo| s.contract_source.clone().unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "\n{} (old: {}; new: {})", p.bold("Contract"), src(&report.old), src(&report.new));
    let c = &report.contract;
    if c.is_empty() {
        let _ = writeln!(out, "  no changes");
        return;
    }
    let width = c.breaking.iter().chain(&c.unknown).chain(&c.compatible).map(|x| x.path.len()).max().unwrap_or(0).min(48);
    let line = |out: &mut String, tag: String, ch: &ContractChange| {
        let _ = writeln!(out, "  {tag} {:width$}  {}", ch.path, ch.reason);
    };
    for ch in &c.breaking {
        line(out, p.red("BREAKING  "), ch);
        if let Some(who) = reach(ch, report.files.len()) {
            let _ = writeln!(out, "  {:10} {:width$}  {}", "", "", p.dim(&who));
        }
    }
    for ch in &c.unknown {
        line(out, p.yellow("unknown   "), ch);
    }
    for ch in &c.compatible {
        line(out, p.green("compatible"), ch);
    }
}

/// Whom a breaking change reaches, in words (None when no values were judged).
pub fn reach(ch: &ContractChange, files: usize) -> Option<String> {
    if let Some(list) = &ch.reaches {
        return Some(match list.len() {
            0 => format!("reaches none of the {files} values file(s)"),
            n if n == files => format!("reaches all {files} values file(s)"),
            n => format!("reaches {n} of {files} values file(s): {}", list.join(", ")),
        });
    }
    ch.affects_values.map(|hit| if hit { "reaches these values".to_string() } else { "these values are unaffected".to_string() })
}

/// `[exposure]` for a highlighted default.
pub fn relevance_tag(d: &DefaultChange) -> Option<String> {
    d.relevance.map(|r| format!("[{}]", serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()))
}

/// Who gets a changed default, in words (None when no values were judged).
pub fn relied_on(d: &DefaultChange, files: usize) -> Option<String> {
    if let Some(list) = &d.relied_on_by {
        return Some(match list.len() {
            0 => format!("every one of the {files} values file(s) sets it"),
            n if n == files => format!("all {files} values file(s) rely on it"),
            n => format!("{n} of {files} values file(s) rely on it: {}", list.join(", ")),
        });
    }
    d.relied_on_by_values.map(|yes| if yes { "these values rely on it".to_string() } else { "these values set it".to_string() })
}

fn defaults_section(out: &mut String, report: &DiffReport, p: &Paint) {
    let d = &report.contract.defaults;
    if d.is_empty() {
        return;
    }
    let _ = writeln!(out, "
{} (every release that does not set the key gets the new value)", p.bold(&format!("Changed defaults: {}", d.len())));
    let width = d.iter().map(|x| x.path.len()).max().unwrap_or(0).min(48);
    for x in d {
        let tag = relevance_tag(x).map(|t| format!("  {}", p.red(&t))).unwrap_or_default();
        let _ = writeln!(out, "  default    {:width$}  {}{tag}", x.path, x.shown());
        if let Some(who) = relied_on(x, report.files.len()) {
            let _ = writeln!(out, "  {:10} {:width$}  {}", "", "", p.dim(&who));
        }
    }
}

fn references_section(out: &mut String, refs: &[ReferenceChange], indent: &str, p: &Paint) {
    if refs.is_empty() {
        return;
    }
    let _ = writeln!(out, "
{indent}{}", p.bold("Names others refer to (compatibility findings):"));
    for r in refs {
        let _ = writeln!(out, "{indent}  {} {}: {}", p.yellow("!"), r.display_id(), r.consumers);
    }
}

/// `--each`: the summary table, then each file's verdict with its reasons and changes.
fn files_section(out: &mut String, report: &DiffReport, p: &Paint) {
    let width = report.files.iter().map(|f| f.file.len()).max().unwrap_or(4).clamp(4, 60);
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let opt = |b: Option<bool>| b.map(yes).unwrap_or("-");
    let _ = writeln!(out, "
{}", p.bold(&format!("Values files: {} ({} break)", report.summary.files, report.summary.files_breaking)));
    let _ = writeln!(out, "  {:width$}  {:9} {:9} {:11} {:11} {:9} {:>8}", "file", "valid old", "valid new", "renders old", "renders new", "verdict", "changes");
    for f in &report.files {
        let verdict = if f.breaking {
            p.red("BREAKING ")
        } else if !f.before.is_empty() {
            p.yellow("invalid  ")
        } else {
            p.green("ok       ")
        };
        let changes = f.summary.added + f.summary.removed + f.summary.modified;
        let _ = writeln!(out, "  {:width$}  {:9} {:9} {:11} {:11} {verdict} {changes:>8}", f.file, yes(f.valid_old), yes(f.valid_new), opt(f.renders_old), opt(f.renders_new));
    }
    for f in &report.files {
        let head = if f.breaking { p.red("BREAKING") } else { p.green("not breaking") };
        let _ = writeln!(out, "
{} {head}", p.bold(&f.file));
        for r in &f.reasons {
            let _ = writeln!(out, "  {r}");
        }
        for b in &f.before {
            let _ = writeln!(out, "  {} {b}", p.yellow("before the upgrade:"));
        }
        if !f.relies_on_defaults.is_empty() {
            let _ = writeln!(out, "  relies on changed defaults: {}", f.relies_on_defaults.join(", "));
        }
        if f.renders_new == Some(true) {
            let s = &f.summary;
            let _ = writeln!(out, "  resources: {} modified, {} added, {} removed, {} unchanged", s.modified, s.added, s.removed, f.unchanged_resources);
            for r in &f.resources {
                resource(out, r, p);
            }
            for x in &f.findings.introduced {
                let _ = writeln!(out, "  {} {}", p.red("introduced"), finding_line(x));
            }
            for x in &f.findings.resolved {
                let _ = writeln!(out, "  {}   {}", p.green("resolved"), finding_line(x));
            }
            references_section(out, &f.references, "  ", p);
        }
    }
}

fn resources_section(out: &mut String, report: &DiffReport, p: &Paint) {
    let s = &report.summary;
    if let Some(f) = &report.new_render_failure {
        let _ = writeln!(out, "\n{} not compared", p.bold("Resources:"));
        let _ = writeln!(out, "  {} the new version does not render with these values:\n    {}", p.red("BREAKING"), f.trim().replace('\n', "\n    "));
        return;
    }
    let _ = writeln!(
        out,
        "\n{} {} modified, {} added, {} removed, {} unchanged",
        p.bold("Resources:"),
        s.modified,
        s.added,
        s.removed,
        report.unchanged_resources
    );
    for r in &report.resources {
        resource(out, r, p);
    }
    if !report.ignored.is_empty() {
        let total: usize = report.ignored.iter().map(|i| i.count).sum();
        let per: Vec<String> = report.ignored.iter().map(|i| format!("{} x{}", i.pattern, i.count)).collect();
        let hint = if report.ignored.iter().any(|i| i.default) { "; show them with --no-default-ignores" } else { "" };
        let _ = writeln!(out, "  {}", p.dim(&format!("ignored: {total} change(s) ({}){hint}", per.join(", "))));
    }
    if !report.volatile.is_empty() {
        let _ = writeln!(out, "  {}", p.dim("volatile (differ between two renders of the same input; not compared):"));
        for v in &report.volatile {
            let id = match &v.namespace {
                Some(ns) => format!("{} {ns}/{}", v.kind, v.name),
                None => format!("{} {}", v.kind, v.name),
            };
            let _ = writeln!(out, "    {}", p.dim(&format!("{id}: {}", v.paths.join(", "))));
        }
    }
}

fn resource(out: &mut String, r: &ResourceDiff, p: &Paint) {
    let (mark, id) = match r.change {
        ResourceChange::Added => (p.green("+"), p.green(&r.display_id())),
        ResourceChange::Removed => (p.red("-"), p.red(&r.display_id())),
        ResourceChange::Modified => (p.yellow("~"), p.bold(&r.display_id())),
    };
    let mut extra = Vec::new();
    if let Some(t) = &r.template {
        extra.push(t.clone());
    }
    if let Some(h) = &r.rename_hint {
        extra.push(h.clone());
    }
    let extra = if extra.is_empty() { String::new() } else { p.dim(&format!("  ({})", extra.join("; "))) };
    let _ = writeln!(out, "  {mark} {id}{extra}");
    for f in &r.fields {
        field(out, f, p);
    }
    if let Some(text) = &r.text_diff {
        for line in text.lines() {
            let shown = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("@@") {
                p.dim(line)
            } else if line.starts_with('+') {
                p.green(line)
            } else if line.starts_with('-') {
                p.red(line)
            } else {
                line.to_string()
            };
            let _ = writeln!(out, "      {} {shown}", p.dim("|"));
        }
    }
}

fn field(out: &mut String, f: &FieldChange, p: &Paint) {
    let v = |x: &Option<serde_json::Value>| x.as_ref().map(|v| short_value(v, 70)).unwrap_or_default();
    let what = if f.redacted {
        format!("{} (secret value redacted; --show-secrets shows it)", match f.change {
            FieldChangeKind::Added => "added",
            FieldChangeKind::Removed => "removed",
            FieldChangeKind::Changed => "changed",
        })
    } else {
        match f.change {
            FieldChangeKind::Added => format!("added {}", v(&f.new)),
            FieldChangeKind::Removed => format!("removed (was {})", v(&f.old)),
            FieldChangeKind::Changed => format!("{} -> {}", v(&f.old), v(&f.new)),
        }
    };
    let sign = match f.change {
        FieldChangeKind::Added => "+",
        FieldChangeKind::Removed => "-",
        FieldChangeKind::Changed => "~",
    };
    let _ = writeln!(out, "      {sign} {}: {what}", f.path);
    if let Some(why) = &f.immutable {
        let _ = writeln!(out, "        {} {why}", p.red("BREAKING:"));
    }
}

fn finding_line(f: &Finding) -> String {
    let id = match &f.namespace {
        Some(ns) => format!("{} {ns}/{}", f.kind, f.name),
        None => format!("{} {}", f.kind, f.name),
    };
    let path = f.path.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
    format!("{:<7} {} {id}{path}: {}", f.severity.to_string(), f.rule, f.message)
}

/// Introduced and resolved findings of `f` under `title`, and with `show_unchanged` those the old
/// release already had.
fn findings_section(out: &mut String, title: &str, f: &FindingsDelta, show_unchanged: bool, p: &Paint) {
    let _ = writeln!(out, "\n{}", p.bold(title));
    if !f.checked {
        let _ = writeln!(out, "  not checked (the new version did not render)");
        return;
    }
    if f.introduced.is_empty() && f.resolved.is_empty() {
        let _ = writeln!(out, "  none introduced, none resolved");
    }
    for x in &f.introduced {
        let _ = writeln!(out, "  {} {}", p.red("introduced"), finding_line(x));
    }
    for x in &f.resolved {
        let _ = writeln!(out, "  {}   {}", p.green("resolved"), finding_line(x));
    }
    if show_unchanged {
        for x in &f.unchanged {
            let _ = writeln!(out, "  unchanged  {}", finding_line(x));
        }
    }
}

fn verdict(out: &mut String, report: &DiffReport, p: &Paint) {
    let s = &report.summary;
    let why = report.failure_reasons();
    let unknown = if s.unknown_contract > 0 { format!("; {} contract change(s) need review by hand", s.unknown_contract) } else { String::new() };
    if s.failed {
        let _ = writeln!(out, "\n{} {}{unknown}", p.red(&p.bold("Result: BREAKING -")), why.join(", "));
    } else if let Some(note) = crate::diff::unaffected_note(s, !report.files.is_empty()) {
        let _ = writeln!(out, "\n{} {note}{unknown}", p.green(&p.bold("Result: not breaking for these values -")));
    } else {
        let _ = writeln!(out, "\n{}{unknown}", p.green(&p.bold("Result: no breaking change, no new error finding")));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn colors_only_when_asked_and_everything_is_said() {
        let report = crate::diff::sample_report();
        let plain = super::render(&report, false);
        assert!(!plain.contains('\x1b'));
        for want in [
            "BREAKING   a ",
            "unknown    p ",
            "~ Deployment web",
            "~ spec.selector.matchLabels.app: \"web\" -> \"web2\"",
            "BREAKING: spec.selector is immutable",
            "~ stringData.password: changed (secret value redacted",
            "+ ConfigMap a|b",
            "ignored: 1 change(s) (label helm.sh/chart x1)",
            "introduced error   run-as-non-root Deployment web spec.template.spec: runs as root",
            "Result: BREAKING - 1 breaking contract change(s), 1 immutable field change(s), 1 new error finding(s); 1 contract change(s) need review by hand",
        ] {
            assert!(plain.contains(want), "missing {want:?} in\n{plain}");
        }
        assert!(!plain.contains("new-pass"));
        let colored = super::render(&report, true);
        assert!(colored.contains("\x1b[31m"), "{colored}");
    }
}
