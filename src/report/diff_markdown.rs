//! `chartproof diff --output markdown`: a pull-request comment — verdict first, then tables of
//! contract changes, changed resources (field changes and the text diff folded in `<details>`),
//! and the rule delta.

use std::fmt::Write;

use crate::diff::fields::FieldChangeKind;
use crate::diff::{DiffReport, FindingsDelta, ResourceChange, SideInfo};
use crate::rules::Finding;

use super::short_value;

/// Make text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s).replace('`', "'"))
}

fn side(s: &SideInfo) -> String {
    let mut t = format!("{} {}", s.chart, s.version.as_deref().unwrap_or(""));
    if !s.values.is_empty() {
        t.push_str(&format!(" ({})", s.values.join(", ")));
    }
    code(t.trim())
}

/// GitHub refuses comments longer than 65536 characters; stay below with room to spare.
pub const COMMENT_LIMIT: usize = 60_000;

/// The comment, with the text diffs left out when they would make it too long for a PR comment.
pub fn render(report: &DiffReport) -> String {
    let full = render_with(report, true);
    if full.chars().count() <= COMMENT_LIMIT {
        return full;
    }
    render_with(report, false)
}

fn render_with(report: &DiffReport, text_diffs: bool) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "## chartproof diff: {} → {}\n", side(&report.old), side(&report.new));
    if s.failed {
        let _ = writeln!(out, "**Breaking:** {}.\n", report.failure_reasons().join(", "));
    } else if let Some(note) = crate::diff::unaffected_note(s, !report.files.is_empty()) {
        let _ = writeln!(out, "**Not breaking for these values:** {note}.\n");
    } else {
        let _ = writeln!(out, "**No breaking change and no new error finding.**\n");
    }
    if s.unknown_contract > 0 {
        let _ = writeln!(out, "{} contract change(s) could not be classified: review them by hand.\n", s.unknown_contract);
    }
    if report.compared.contract {
        let _ = writeln!(out, "### Values contract\n");
        let c = &report.contract;
        if c.is_empty() {
            let _ = writeln!(out, "No changes.\n");
        } else {
            let _ = writeln!(out, "| verdict | key | change |\n|---|---|---|");
            for (tag, list) in [("**breaking**", &c.breaking), ("unknown", &c.unknown), ("compatible", &c.compatible)] {
                for ch in list {
                    let who = super::diff_human::reach(ch, report.files.len()).map(|w| format!(" — {}", cell(&w))).unwrap_or_default();
                    let _ = writeln!(out, "| {tag} | {} | {}{who} |", code(&ch.path), cell(&ch.reason));
                }
            }
            out.push('\n');
        }
        if !c.defaults.is_empty() {
            let _ = writeln!(out, "#### Changed defaults\n\nEvery release that does not set the key gets the new value.\n\n| key | old → new | concern | who relies on it |\n|---|---|---|---|");
            for d in &c.defaults {
                let concern = super::diff_human::relevance_tag(d).map(|t| format!("**{}**", t.trim_matches(['[', ']']))).unwrap_or_default();
                let who = super::diff_human::relied_on(d, report.files.len()).unwrap_or_else(|| "every release that does not set it".into());
                let _ = writeln!(out, "| {} | {} | {concern} | {} |", code(&d.path), code(&d.shown()), cell(&who));
            }
            out.push('\n');
        }
    }
    if !report.files.is_empty() {
        files(&mut out, report);
    } else if report.compared.manifests {
        references(&mut out, &report.references);
        if !text_diffs {
            let _ = writeln!(out, "_Text diffs left out to fit a pull-request comment; run `chartproof diff` for them._\n");
        }
        resources(&mut out, report, text_diffs);
        findings(&mut out, "Rule findings", &report.findings, false);
        if let Some(policies) = &report.policies {
            findings(&mut out, "Policy findings (checked as `helm upgrade` sends the new release)", policies, true);
        }
    }
    out
}

fn resources(out: &mut String, report: &DiffReport, text_diffs: bool) {
    let s = &report.summary;
    let _ = writeln!(out, "### Resources\n\n{} modified, {} added, {} removed, {} unchanged.\n", s.modified, s.added, s.removed, report.unchanged_resources);
    if let Some(f) = &report.new_render_failure {
        let _ = writeln!(out, "**The new version does not render with these values:** {}\n", cell(f));
    }
    if !report.resources.is_empty() {
        let _ = writeln!(out, "| change | resource | notes |\n|---|---|---|");
        for r in &report.resources {
            let change = match r.change {
                ResourceChange::Added => "added",
                ResourceChange::Removed => "removed",
                ResourceChange::Modified => "modified",
            };
            let mut notes = Vec::new();
            if r.breaking {
                notes.push("**breaking: immutable field**".to_string());
            }
            if !r.fields.is_empty() {
                notes.push(format!("{} field(s)", r.fields.len()));
            }
            if let Some(h) = &r.rename_hint {
                notes.push(cell(h));
            }
            let _ = writeln!(out, "| {change} | {} | {} |", code(&r.display_id()), notes.join("; "));
        }
        out.push('\n');
    }
    for r in report.resources.iter().filter(|r| r.change == ResourceChange::Modified) {
        let _ = writeln!(out, "<details><summary>{}</summary>\n", html_escape(&r.display_id()));
        let _ = writeln!(out, "| field | change |\n|---|---|");
        for f in &r.fields {
            let v = |x: &Option<serde_json::Value>| x.as_ref().map(|v| code(&short_value(v, 60))).unwrap_or_default();
            let mut what = match (f.redacted, f.change) {
                (true, k) => format!("{} (secret, redacted)", format!("{k:?}").to_lowercase()),
                (false, FieldChangeKind::Added) => format!("added {}", v(&f.new)),
                (false, FieldChangeKind::Removed) => format!("removed (was {})", v(&f.old)),
                (false, FieldChangeKind::Changed) => format!("{} → {}", v(&f.old), v(&f.new)),
            };
            if let Some(why) = &f.immutable {
                what.push_str(&format!(" — **breaking:** {}", cell(why)));
            }
            let _ = writeln!(out, "| {} | {what} |", code(&f.path));
        }
        if let Some(t) = r.text_diff.as_ref().filter(|_| text_diffs) {
            let _ = writeln!(out, "\n```diff\n{}```", t.replace("```", "'''"));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !report.ignored.is_empty() {
        let per: Vec<String> = report.ignored.iter().map(|i| format!("{} ×{}", code(&i.pattern), i.count)).collect();
        let _ = writeln!(out, "Ignored: {}.\n", per.join(", "));
    }
    if !report.volatile.is_empty() {
        let per: Vec<String> = report.volatile.iter().map(|v| format!("{} {} ({})", v.kind, code(&v.name), v.paths.iter().map(|p| code(p)).collect::<Vec<_>>().join(", "))).collect();
        let _ = writeln!(out, "Volatile (differ between two renders of the same input, not compared): {}.\n", per.join("; "));
    }
}

fn references(out: &mut String, refs: &[crate::diff::references::ReferenceChange]) {
    if refs.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Names others refer to\n\n| object | change | who breaks |\n|---|---|---|");
    for r in refs {
        let change = serde_json::to_value(r.change).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let _ = writeln!(out, "| {} | {change} | {} |", code(&r.display_id()), cell(&r.consumers));
    }
    out.push('\n');
}

/// `--each`: one row per values file, then the reasons of each breaking file.
fn files(out: &mut String, report: &DiffReport) {
    let s = &report.summary;
    let _ = writeln!(out, "### Values files ({} of {} break)\n", s.files_breaking, s.files);
    let _ = writeln!(out, "| file | valid old | valid new | renders old | renders new | verdict | resources | findings |\n|---|---|---|---|---|---|---|---|");
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    let opt = |b: Option<bool>| b.map(yes).unwrap_or("–");
    for f in &report.files {
        let verdict = if f.breaking { "**breaking**" } else if !f.before.is_empty() { "invalid before" } else { "ok" };
        let fs = &f.summary;
        let res = format!("{} modified, {} added, {} removed", fs.modified, fs.added, fs.removed);
        let finds = format!("+{} / −{}", f.findings.introduced.len(), f.findings.resolved.len());
        let _ = writeln!(out, "| {} | {} | {} | {} | {} | {verdict} | {res} | {finds} |", code(&f.file), yes(f.valid_old), yes(f.valid_new), opt(f.renders_old), opt(f.renders_new));
    }
    out.push('\n');
    for f in report.files.iter().filter(|f| f.breaking || !f.before.is_empty() || !f.references.is_empty()) {
        let _ = writeln!(out, "<details><summary>{}{}</summary>\n", html_escape(&f.file), if f.breaking { " — breaking" } else { "" });
        for r in f.reasons.iter().chain(&f.before) {
            let _ = writeln!(out, "- {}", cell(r));
        }
        for r in &f.references {
            let _ = writeln!(out, "- {}: {}", code(&r.display_id()), cell(&r.consumers));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A table of the introduced and resolved findings of `f`, and with `show_unchanged` those the old
/// release already had.
fn findings(out: &mut String, title: &str, f: &FindingsDelta, show_unchanged: bool) {
    let _ = writeln!(out, "### {title}\n");
    if !f.checked {
        let _ = writeln!(out, "Not checked (the new version did not render).\n");
        return;
    }
    let unchanged: &[Finding] = if show_unchanged { &f.unchanged } else { &[] };
    if f.introduced.is_empty() && f.resolved.is_empty() && unchanged.is_empty() {
        let _ = writeln!(out, "None introduced, none resolved.\n");
        return;
    }
    let _ = writeln!(out, "| | severity | rule | resource | message |\n|---|---|---|---|---|");
    let row = |out: &mut String, tag: &str, x: &Finding| {
        let id = format!("{} {}{}", x.kind, x.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(), x.name);
        let _ = writeln!(out, "| {tag} | {} | {} | {} | {} |", x.severity, code(&x.rule), code(&id), cell(&x.message));
    };
    for x in &f.introduced {
        row(out, "introduced", x);
    }
    for x in &f.resolved {
        row(out, "resolved", x);
    }
    for x in unchanged {
        row(out, "unchanged", x);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    #[test]
    fn pull_request_comment() {
        let md = super::render(&crate::diff::sample_report());
        assert!(md.starts_with("## chartproof diff: `web 1` → `web 2`\n"), "{md}");
        assert!(md.contains("**Breaking:** 1 breaking contract change(s), 1 immutable field change(s), 1 new error finding(s)."), "{md}");
        assert!(md.contains("| **breaking** | `a` | key removed"), "{md}");
        assert!(md.contains("| added | `ConfigMap a\\|b` |"), "table cells escape pipes: {md}");
        assert!(md.contains("<details><summary>Deployment web</summary>") && md.contains("```diff\n"), "{md}");
        assert!(md.contains("| introduced | error | `run-as-non-root` | `Deployment web` | runs as root |"), "{md}");
        assert!(!md.contains("new-pass"));
    }

    #[test]
    fn long_text_diffs_are_left_out_of_the_comment() {
        let mut report = crate::diff::sample_report();
        let long: String = (0..super::COMMENT_LIMIT / 10).map(|i| format!("+line {i}\n")).collect();
        report.resources.iter_mut().for_each(|r| if r.text_diff.is_some() { r.text_diff = Some(long.clone()) });
        let md = super::render(&report);
        assert!(md.len() < super::COMMENT_LIMIT, "{}", md.len());
        assert!(md.contains("Text diffs left out") && !md.contains("```diff") && md.contains("`spec.selector.matchLabels.app`"));
    }
}
