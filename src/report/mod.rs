//! Reporters: one small file per output format. Each takes a generic [`Report`] — a list of
//! findings plus metadata — so any command (`check`, `test`) can print its findings as human
//! text, JSON, JUnit, SARIF 2.1.0 or GitHub annotations.

pub mod diff_human;
pub mod diff_json;
pub mod diff_junit;
pub mod diff_markdown;
pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod location;
pub mod progress;
pub mod sarif;

use std::io::{self, IsTerminal, Write};

use crate::rules::{Finding, QosClass, Severity, Suppressed};

/// Output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Grouped by resource, with fix hints (colors on a TTY unless NO_COLOR is set)
    Human,
    /// `{"findings":[…],"suppressed":[…],"qos":{…},"summary":{…}}`
    Json,
    /// JUnit XML: one testcase per resource × rule
    Junit,
    /// SARIF 2.1.0 (file = source template)
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…::`)
    Github,
}

/// What a reporter prints.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// Command that produced the findings, e.g. `check` (used as tool/suite names).
    pub command: &'a str,
    /// What was checked (a chart path or name).
    pub subject: &'a str,
    /// Release name the chart was rendered with, left out of finding keys (baselines, SARIF
    /// fingerprints) so they do not depend on it.
    pub release: &'a str,
    /// Findings in display order.
    pub findings: &'a [Finding],
    pub suppressed: &'a [Suppressed],
    /// Computed QoS class per resource id (may be empty).
    pub qos: &'a [(String, QosClass)],
    /// Ids (`Kind/ns/name`) of every resource checked, for passing JUnit testcases (may be empty).
    pub resources: &'a [String],
    /// Where the chart's files are, so SARIF and GitHub annotations point at real files.
    pub sources: Option<SourceMap<'a>>,
}

impl Report<'_> {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// File a finding's template lives in: helm's `chart/templates/x.yaml` mapped into the chart
    /// directory (relative to the current directory when below it), else helm's path as is.
    pub fn source_file(&self, template: &str) -> String {
        let Some(map) = &self.sources else { return template.to_string() };
        let Some(rest) = template.strip_prefix(map.chart_name).and_then(|r| r.strip_prefix('/')) else { return template.to_string() };
        let file = map.chart_dir.join(rest);
        if !file.is_file() {
            return template.to_string();
        }
        location::shown(&file)
    }
}

/// Where helm's template paths (`<chart name>/templates/…`) are on disk.
#[derive(Debug, Clone, Copy)]
pub struct SourceMap<'a> {
    pub chart_dir: &'a std::path::Path,
    pub chart_name: &'a str,
}

/// Whether stdout should get ANSI colors: a terminal, and NO_COLOR unset or empty.
pub fn stdout_wants_color() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Write `report` in `format`. `color` only affects the human format.
pub fn write(format: Format, report: &Report, color: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Human => human::write(report, color, out)?,
        Format::Json => json::write(report, out)?,
        Format::Junit => junit::write(report, out)?,
        Format::Sarif => sarif::write(report, out)?,
        Format::Github => github::write(report, out)?,
    }
    Ok(())
}

/// A JSON value shortened for one line of text (strings quoted, long values cut with `…`).
pub fn short_value(v: &serde_json::Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
pub(crate) mod sample {
    use crate::rules::{Finding, QosClass, Severity, Suppressed};

    pub fn findings() -> Vec<Finding> {
        vec![
            Finding {
                rule: "image-digest".into(),
                severity: Severity::Error,
                kind: "Deployment".into(),
                namespace: Some("prod".into()),
                name: "web".into(),
                template: Some("demo/templates/deployment.yaml".into()),
                path: Some("spec.template.spec.containers[name=app].image".into()),
                message: "image `nginx:latest` uses `:latest`, which changes on every push".into(),
            },
            Finding {
                rule: "probe-distinct".into(),
                severity: Severity::Warning,
                kind: "Deployment".into(),
                namespace: Some("prod".into()),
                name: "web".into(),
                template: Some("demo/templates/deployment.yaml".into()),
                path: None,
                message: "same check <&> \"quoted\"".into(),
            },
        ]
    }

    pub fn suppressed() -> Vec<Suppressed> {
        let mut f = findings()[0].clone();
        f.rule = "probe-liveness".into();
        vec![Suppressed { finding: f, reason: Some("sidecar".into()) }]
    }

    pub fn qos() -> Vec<(String, QosClass)> {
        vec![("Deployment/prod/web".into(), QosClass::Burstable)]
    }
}
