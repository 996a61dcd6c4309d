//! Where a finding is in the chart's files, for reporters that must name a file and a line
//! (SARIF, GitHub annotations): the line helm or a rule gave (`(line N)` in the message), else the
//! line of the template that writes the finding's field (found by searching the template for the
//! field path's keys in order), else the template's first line; a finding with no template
//! (a release-wide finding, a helm timeout) is located at the chart's `Chart.yaml`.

use std::path::{Path, PathBuf};

use super::Report;
use crate::rules::{Finding, finding_line};

/// A file (relative to the current directory when below it, else absolute) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: String,
    pub line: u32,
}

impl SourceLocation {
    /// Whether `file` is relative to the current directory (the repository root in CI).
    pub fn is_relative(&self) -> bool {
        !Path::new(&self.file).is_absolute()
    }
}

/// The location of `f` in the report's chart.
pub fn locate(report: &Report, f: &Finding) -> SourceLocation {
    let given = finding_line(f);
    let Some(template) = &f.template else {
        let file = match &report.sources {
            Some(map) => shown(&map.chart_dir.join("Chart.yaml")),
            None => report.subject.to_string(),
        };
        return SourceLocation { file, line: given.unwrap_or(1) };
    };
    let file = report.source_file(template);
    let line = given.or_else(|| {
        let text = template_file(report, template).and_then(|p| std::fs::read_to_string(p).ok())?;
        let (first, document) = document_of(&text, &f.kind, &f.name);
        Some(first + field_line(document, f.path.as_deref()?)?)
    });
    SourceLocation { file, line: line.unwrap_or(1) }
}

/// The chart file of helm's template path, when the chart's files are at hand.
fn template_file(report: &Report, template: &str) -> Option<PathBuf> {
    let map = report.sources.as_ref()?;
    let rest = template.strip_prefix(map.chart_name)?.strip_prefix('/')?;
    Some(map.chart_dir.join(rest)).filter(|p| p.is_file())
}

/// `file` relative to the current directory when below it.
pub fn shown(file: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.as_deref().and_then(|c| file.strip_prefix(c).ok()).unwrap_or(file).display().to_string()
}

/// The 1-based line of `text` that writes the last key of `path` (`spec.template.spec.
/// containers[name=app].resources.limits` → `limits:`), searching for each key of the path after
/// the line of the one before it, so `limits:` under `resources:` wins over an earlier one. A
/// key the template does not write itself (`toYaml` or a helper writes it) gives the line of the
/// deepest key before it that it does write (`resources:`). None when no key is in the template.
pub fn field_line(text: &str, path: &str) -> Option<u32> {
    let keys: Vec<&str> = path_keys(path);
    let lines: Vec<&str> = text.lines().collect();
    let writes = |line: &str, key: &str| {
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")].iter().any(|k| t.starts_with(k.as_str()))
    };
    let mut from = 0;
    let mut found = None;
    for key in &keys {
        if let Some(i) = (from..lines.len()).find(|&i| writes(lines[i], key)) {
            found = Some(i);
            from = i + 1;
        }
    }
    u32::try_from(found? + 1).ok()
}

/// The document of a multi-document template (`---` lines part them) that renders the object
/// `kind`/`name`, as (lines before it, its text); the whole template when no document writes
/// `kind: <kind>`. Among several documents of that kind, the one whose `metadata.name` line has
/// the most literal text (outside `{{ }}`) that the name contains, in order: `{{ $fullname
/// }}-headless` renders `web-headless`, `{{ $fullname }}` renders `web`.
fn document_of<'t>(text: &'t str, kind: &str, name: &str) -> (u32, &'t str) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let separator = |line: &str| line.trim_end() == "---" || line.starts_with("--- ") || line.starts_with("---#");
    let mut documents = Vec::new();
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        if separator(line) {
            documents.push((start, i));
            start = i + 1;
        }
    }
    documents.push((start, lines.len()));
    let text_of = |(from, to): (usize, usize)| -> &'t str {
        let begin: usize = lines[..from].iter().map(|l| l.len()).sum();
        let length: usize = lines[from..to].iter().map(|l| l.len()).sum();
        &text[begin..begin + length]
    };
    let writes_kind = |document: &str| {
        document.lines().any(|l| {
            let value = l.trim().strip_prefix("kind:").map(|v| v.trim().trim_matches(['"', '\'']));
            l.starts_with("kind:") && value == Some(kind)
        })
    };
    let of_kind: Vec<(usize, usize)> = documents.into_iter().filter(|d| writes_kind(text_of(*d))).collect();
    let chosen = match of_kind.as_slice() {
        [] => return (0, text),
        [only] => *only,
        several => *several.iter().filter_map(|d| name_literal_match(text_of(*d), name).map(|score| (score, d))).max_by_key(|(score, d)| (*score, std::cmp::Reverse(d.0))).map(|(_, d)| d).unwrap_or(&several[0]),
    };
    (u32::try_from(chosen.0).unwrap_or(0), text_of(chosen))
}

/// How much literal text of a document's `metadata.name` line the rendered `name` contains, in
/// order; `None` when some of it is missing.
fn name_literal_match(document: &str, name: &str) -> Option<usize> {
    let mut lines = document.lines().skip_while(|l| !l.starts_with("metadata:")).skip(1);
    let value = lines.find_map(|l| l.trim().strip_prefix("name:"))?.trim().trim_matches(['"', '\'']);
    let mut literals = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find("{{") {
        literals.push(&rest[..open]);
        rest = rest[open..].find("}}").map_or("", |close| &rest[open + close + 2..]);
    }
    literals.push(rest);
    let mut from = 0;
    let mut score = 0;
    for literal in literals.into_iter().filter(|l| !l.is_empty()) {
        from += name.get(from..)?.find(literal)? + literal.len();
        score += literal.len();
    }
    Some(score)
}

/// The map keys of a field path, without list selectors: `a.b[name=x].c["k.l"]` → a, b, c, k.l.
fn path_keys(path: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix("[\"") {
            let end = quoted.find("\"]").unwrap_or(quoted.len());
            keys.push(&quoted[..end]);
            rest = quoted.get(end + 2..).unwrap_or("");
        } else if let Some(selector) = rest.strip_prefix('[') {
            rest = selector.split_once(']').map(|(_, r)| r).unwrap_or("");
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            if end > 0 {
                keys.push(&rest_trimmed[..end]);
            }
            rest = &rest_trimmed[end..];
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: x\n          resources:\n            limits:\n              cpu: 1\n";

    #[test]
    fn keys_of_a_path() {
        assert_eq!(path_keys("spec.template.spec.containers[name=app].resources.limits"), ["spec", "template", "spec", "containers", "resources", "limits"]);
        assert_eq!(path_keys("metadata.annotations[\"chartproof.io/ignore\"]"), ["metadata", "annotations", "chartproof.io/ignore"]);
        assert_eq!(path_keys("spec.containers[0].image"), ["spec", "containers", "image"]);
    }

    #[test]
    fn the_field_is_found_under_its_parents() {
        assert_eq!(field_line(TEMPLATE, "spec.template.spec.containers[name=app].resources.limits"), Some(10));
        assert_eq!(field_line(TEMPLATE, "spec.template.spec.containers[name=app].image"), Some(8));
        assert_eq!(field_line(TEMPLATE, "spec.template.spec.containers[name=app].securityContext"), Some(6), "a field the template does not write: its parent");
        assert_eq!(field_line(TEMPLATE, "status.phase"), None);
    }

    /// Two Services in one template: each finding is located in its own document, told apart by
    /// the literal text of their names; a kind no document writes literally searches the whole.
    #[test]
    fn multi_document_templates_locate_the_object_s_own_document() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"app.fullname\" . }}\nspec:\n  ports:\n    - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"app.fullname\" . }}-headless\nspec:\n  clusterIP: None\n  ports:\n    - port: 80\n";
        let line = |kind: &str, name: &str, path: &str| {
            let (first, document) = document_of(text, kind, name);
            first + field_line(document, path).unwrap()
        };
        assert_eq!(line("Service", "rel-app", "spec.ports[0].port"), 7);
        assert_eq!(line("Service", "rel-app-headless", "spec.ports[0].port"), 16);
        assert_eq!(line("Service", "rel-app-headless", "spec.clusterIP"), 14);
        assert_eq!(line("ConfigMap", "rel-app", "spec.ports[0].port"), 7);
        assert_eq!(name_literal_match("metadata:\n  name: {{ $x }}-a-{{ $y }}-b\n", "r-a-s-b"), Some(5));
        assert_eq!(name_literal_match("metadata:\n  name: {{ $x }}-headless\n", "r-app"), None);
    }

    #[test]
    fn findings_without_template_or_line_are_located_at_chart_yaml_or_line_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/deployment.yaml"), TEMPLATE).unwrap();
        let mut f = crate::report::sample::findings();
        f[0].path = Some("spec.template.spec.containers[name=app].resources.limits".into());
        f[1].template = None;
        let map = crate::report::SourceMap { chart_dir: dir.path(), chart_name: "demo" };
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &[], qos: &[], resources: &[], sources: Some(map) };
        let at = locate(&r, &f[0]);
        assert_eq!((at.file.ends_with("templates/deployment.yaml"), at.line), (true, 10));
        let at = locate(&r, &f[1]);
        assert_eq!((at.file.ends_with("Chart.yaml"), at.line), (true, 1));
        let mut unlocatable = f[0].clone();
        unlocatable.path = Some("status.phase".into());
        assert_eq!(locate(&r, &unlocatable).line, 1);
    }
}
