//! `chartproof audit CHART`: statically read the chart's templates and list its dead contract
//! (values keys no template reads), undocumented inputs and references that render empty.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::audit::{AuditReport, KeyReference, audit};
use crate::chart::Chart;
use crate::commands::common::{EXIT_FAILED, EXIT_OK, exit, print_stdout};
use crate::report::{Format, Report, SourceMap};
use crate::rules::{Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Human,
    Json,
    /// SARIF 2.1.0: unused keys at their values.yaml line, undeclared keys at their template line
    Sarif,
    /// GitHub Actions annotations
    Github,
}

/// List values keys no template reads, keys templates read that values.yaml does not declare,
/// and references that render empty at the defaults. Reads templates statically: no helm needed.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof audit ./mychart
  chartproof audit ./mychart -o json > audit.json
  chartproof audit ./mychart -o sarif > audit.sarif

What is read: every file under templates/ of the chart and its subcharts (charts/*), following
include/template into defined helpers, with/range scopes, variables, index, default, required,
hasKey, tpl of values strings, .Values.global and subchart keys. What it cannot follow is listed
as unresolved and counted as read, so a key is never called unused by mistake.

Exit codes:
  0  no unused and no undeclared keys (empty renders and unresolved references are informational)
  1  unused (dead) or undeclared keys found
  2  unusable input: chart not found, unreadable Chart.yaml or values.yaml")]
pub struct AuditArgs {
    /// Chart directory or packaged .tgz
    pub chart: PathBuf,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = AuditFormat::Human)]
    pub output: AuditFormat,
}

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    let chart = Chart::load(&args.chart)?;
    let report = audit(&chart)?;
    match args.output {
        AuditFormat::Json => print_stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?,
        AuditFormat::Human => print_stdout(&human(&report))?,
        AuditFormat::Sarif => print_findings(Format::Sarif, &report, &chart)?,
        AuditFormat::Github => print_findings(Format::Github, &report, &chart)?,
    }
    Ok(exit(if report.has_findings() { EXIT_FAILED } else { EXIT_OK }))
}

/// Rule id of a values key no template reads.
pub const UNUSED_KEY: &str = "unused-key";
/// Rule id of a key templates read that values.yaml does not declare.
pub const UNDECLARED_KEY: &str = "undeclared-key";

/// The audit's failing items as findings (kind `Values`, name = the key, located at their
/// file and line), for the shared reporters.
pub fn findings_of(r: &AuditReport) -> Vec<Finding> {
    let finding = |rule: &str, key: &str, file: &str, line: usize, message: String| Finding {
        rule: rule.into(),
        severity: Severity::Error,
        kind: "Values".into(),
        namespace: None,
        name: key.into(),
        template: Some(format!("{}/{file}", r.chart)),
        path: None,
        message: format!("{message} (line {line})"),
    };
    let unused = r.unused.iter().map(|u| finding(UNUSED_KEY, &u.key, &u.file, u.line, format!("`{}` is declared in {} but no template reads it", u.key, r.values_file)));
    let undeclared =
        r.undeclared.iter().map(|k| finding(UNDECLARED_KEY, &k.key, &k.file, k.line, format!("templates read `{}`, which {} does not declare", k.key, r.values_file)));
    unused.chain(undeclared).collect()
}

fn print_findings(format: Format, r: &AuditReport, chart: &Chart) -> Result<()> {
    let findings = findings_of(r);
    let sources = SourceMap { chart_dir: &chart.dir, chart_name: &r.chart };
    let report = Report { command: "audit", subject: &r.chart, release: "", findings: &findings, suppressed: &[], qos: &[], resources: &[], sources: Some(sources) };
    let mut out = Vec::new();
    crate::report::write(format, &report, false, &mut out)?;
    print_stdout(&String::from_utf8_lossy(&out))
}

const UNRESOLVED_SHOWN: usize = 10;

/// The report as text for a terminal.
pub fn human(r: &AuditReport) -> String {
    let mut out = format!("audit of chart {} ({})\n", r.chart, r.values_file);
    if r.unused.is_empty() {
        out += "\nunused keys: none, every values key is read by some template\n";
    } else {
        out += &format!("\nunused keys ({}): declared in {} but no template reads them\n", r.unused.len(), r.values_file);
        for u in &r.unused {
            out += &format!("  {}:{}  {}\n", u.file, u.line, u.key);
        }
    }
    let refs = |title: &str, list: &[KeyReference], out: &mut String| {
        *out += &format!("\n{title} ({})\n", list.len());
        for k in list {
            let more = if k.occurrences > 1 { format!(" (+{} more)", k.occurrences - 1) } else { String::new() };
            let dflt = if k.has_default { ", has a default in the template" } else { "" };
            *out += &format!("  {}:{}  {}{}{}\n", k.file, k.line, k.key, more, dflt);
        }
    };
    if r.undeclared.is_empty() {
        out += "\nundeclared keys: none\n";
    } else {
        refs("undeclared keys: read by templates, missing from values.yaml (document them)", &r.undeclared, &mut out);
    }
    if !r.renders_empty.is_empty() {
        refs(
            "renders empty at defaults: printed with no default/required/if and no value in values.yaml",
            &r.renders_empty,
            &mut out,
        );
    }
    if !r.maybe_read.is_empty() {
        refs(
            "maybe read: missing from values.yaml, read only by library chart helpers under conditions the reader cannot decide (not findings)",
            &r.maybe_read,
            &mut out,
        );
    }
    if !r.unresolved.is_empty() {
        out += &format!("\nunresolved ({}): references the reader could not follow (counted as read)\n", r.unresolved.len());
        for u in r.unresolved.iter().take(UNRESOLVED_SHOWN) {
            out += &format!("  {}:{}  {}\n", u.file, u.line, u.reason);
        }
        if r.unresolved.len() > UNRESOLVED_SHOWN {
            out += &format!("  ... {} more (-o json lists all)\n", r.unresolved.len() - UNRESOLVED_SHOWN);
        }
    }
    out
}
