//! `chartproof audit CHART`: statically read the chart's templates and list its dead contract
//! (values keys no template reads), undocumented inputs and references that render empty.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::audit::{AuditReport, KeyReference, audit};
use crate::chart::Chart;
use crate::chart::targets::{JobsArgs, charts, run_in_parallel};
use crate::commands::common::{EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, exit, print_stdout};
use crate::report::json::{TargetReport, several_targets};
use crate::report::{Format, Report, SourceMap};
use crate::baseline::{BaselineArgs, Split, retain_new};
use crate::rules::{Finding, Severity, Suppressed};

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
  chartproof audit charts/ -j 4         # a directory of charts, four at once

What is read: every file under templates/ of the chart and its subcharts (charts/*), following
include/template into defined helpers, with/range scopes, variables, index, default, required,
hasKey, tpl of values strings, .Values.global and subchart keys. What it cannot follow is listed
as unresolved and counted as read, so a key is never called unused by mistake.

Exit codes:
  0  no unused and no undeclared keys (empty renders and unresolved references are informational)
  1  unused (dead) or undeclared keys found
  2  unusable input: chart not found, unreadable Chart.yaml or values.yaml
With several charts: 2 if any was unusable, else 1 if any has findings (all still run); one
--baseline file holds every chart's keys.")]
pub struct AuditArgs {
    /// Chart directories or packaged .tgz files; a directory without Chart.yaml stands for the
    /// charts in its subdirectories
    #[arg(required = true, value_name = "CHART")]
    pub charts: Vec<PathBuf>,
    /// Only the charts with files changed since this git ref (committed or not)
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = AuditFormat::Human)]
    pub output: AuditFormat,
    /// chartproof config with the `auditAllow` list (default: .chartproof.yaml in the chart directory, if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub jobs: JobsArgs,
}

pub fn run(args: AuditArgs) -> Result<ExitCode> {
    args.baseline.check_readable()?;
    let charts = charts(&args.charts, args.changed_since.as_deref())?;
    if charts.is_empty() {
        return Ok(exit(EXIT_OK));
    }
    if charts.len() == 1 {
        let (chart, report) = audited(&args, &charts[0])?;
        let split = args.baseline.apply("audit", findings_of(&report), "")?;
        let (code, text) = audit_text(&args, &chart, report, &split)?;
        print_stdout(&text)?;
        return Ok(exit(code));
    }
    let mut runs = Vec::new();
    run_in_parallel(&charts, args.jobs.count(), |chart, _| audited(&args, chart), |index, audited| runs.push((&charts[index], audited)));
    // One baseline over every chart, as `check` keeps it.
    let per_chart = runs.iter().map(|(_, run)| run.as_ref().map(|(_, report)| findings_of(report)).unwrap_or_default()).collect();
    let splits = args.baseline.apply_each("audit", per_chart, "")?;
    let (mut worst, mut sarif_runs, mut json_targets) = (EXIT_OK, Vec::new(), Vec::new());
    for ((chart_arg, run), split) in runs.into_iter().zip(splits) {
        let target = chart_arg.display().to_string();
        let (chart, report) = match run {
            Ok(done) => done,
            Err(e) => {
                eprintln!("error: {target}: {e:#}");
                worst = worst.max(EXIT_UNUSABLE);
                json_targets.push(TargetReport::unusable(target, format!("{e:#}")));
                continue;
            }
        };
        if args.output == AuditFormat::Json {
            let (report, known_in_baseline) = without_known(report, &split);
            let exit_code = if report.has_findings() { EXIT_FAILED } else { EXIT_OK };
            worst = worst.max(exit_code);
            json_targets.push(TargetReport::done(target, exit_code, known_in_baseline, report));
            continue;
        }
        let (code, text) = audit_text(&args, &chart, report, &split)?;
        worst = worst.max(code);
        match args.output {
            AuditFormat::Sarif => sarif_runs.push(serde_json::from_str::<serde_json::Value>(&text)?["runs"][0].take()),
            AuditFormat::Human => print_stdout(&format!("== {target}\n{text}\n"))?,
            AuditFormat::Github | AuditFormat::Json => print_stdout(&text)?,
        }
    }
    match args.output {
        AuditFormat::Sarif => print_stdout(&(serde_json::to_string_pretty(&crate::report::sarif::log_of_runs(sarif_runs))? + "\n"))?,
        AuditFormat::Json => print_stdout(&several_targets(json_targets)?)?,
        AuditFormat::Human | AuditFormat::Github => {}
    }
    Ok(exit(worst))
}

/// One chart audited, its allow-list applied.
fn audited(args: &AuditArgs, chart_arg: &Path) -> Result<(Chart, AuditReport)> {
    let chart = Chart::load(chart_arg)?;
    let config = crate::rules::Config::for_chart(args.config.as_deref(), &chart.dir)?;
    let mut report = audit(&chart)?;
    report.apply_allow_list(&config);
    Ok((chart, report))
}

/// The report with the keys the baseline knows left out, and how many were left out.
fn without_known(mut report: AuditReport, split: &Split) -> (AuditReport, usize) {
    let chart_name = report.chart.clone();
    let as_finding = |rule: &str, key: &str, file: &str, line: usize| finding(&chart_name, rule, key, file, line, String::new());
    let known = retain_new(&mut report.unused, split, "", |u| as_finding(UNUSED_KEY, &u.key, &u.file, u.line))
        + retain_new(&mut report.undeclared, split, "", |k| as_finding(UNDECLARED_KEY, &k.key, &k.file, k.line));
    report.summary.unused = report.unused.len();
    report.summary.undeclared = report.undeclared.len();
    (report, known)
}

/// One chart's report in `args.output`, keys the baseline knows left out; its exit code.
fn audit_text(args: &AuditArgs, chart: &Chart, report: AuditReport, split: &Split) -> Result<(u8, String)> {
    let (report, known) = without_known(report, split);
    let text = match args.output {
        AuditFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        AuditFormat::Human => {
            let known = if known > 0 { format!("\nknown: {known} key(s) in the baseline, not counted\n") } else { String::new() };
            human(&report) + &known
        }
        AuditFormat::Sarif => format_findings(Format::Sarif, &report, &split.known, chart)?,
        AuditFormat::Github => format_findings(Format::Github, &report, &split.known, chart)?,
    };
    Ok((if report.has_findings() { EXIT_FAILED } else { EXIT_OK }, text))
}

pub const UNUSED_KEY: &str = "unused-key";
/// Rule id of a key templates read that values.yaml does not declare.
pub const UNDECLARED_KEY: &str = "undeclared-key";

/// One failing audit item as a finding (kind `Values`, name = the key, located at its file and
/// line), for the shared reporters and the baseline.
fn finding(chart: &str, rule: &str, key: &str, file: &str, line: usize, message: String) -> Finding {
    Finding {
        rule: rule.into(),
        severity: Severity::Error,
        kind: "Values".into(),
        namespace: None,
        name: key.into(),
        template: Some(format!("{chart}/{file}")),
        path: None,
        message: format!("{message} (line {line})"),
    }
}

/// The audit's failing items as findings.
pub fn findings_of(r: &AuditReport) -> Vec<Finding> {
    let unused = r.unused.iter().map(|u| finding(&r.chart, UNUSED_KEY, &u.key, &u.file, u.line, format!("`{}` is declared in {} but no template reads it", u.key, r.values_file)));
    let undeclared = r
        .undeclared
        .iter()
        .map(|k| finding(&r.chart, UNDECLARED_KEY, &k.key, &k.file, k.line, format!("templates read `{}`, which {} does not declare", k.key, r.values_file)));
    unused.chain(undeclared).collect()
}

fn format_findings(format: Format, r: &AuditReport, known: &[Suppressed], chart: &Chart) -> Result<String> {
    let findings = findings_of(r);
    let sources = SourceMap { chart_dir: &chart.dir, chart_name: &r.chart };
    let report = Report { command: "audit", subject: &r.chart, release: "", findings: &findings, suppressed: known, qos: &[], resources: &[], sources: Some(sources) };
    let mut out = Vec::new();
    crate::report::write(format, &report, false, &mut out)?;
    Ok(String::from_utf8_lossy(&out).to_string())
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
            "maybe read: read only where the reader cannot see (tpl of a file; its location shown) or, missing from values.yaml, by library chart helpers under conditions the reader cannot decide (not findings)",
            &r.maybe_read,
            &mut out,
        );
    }
    if !r.allowed.is_empty() {
        out += &format!("\nallowed by auditAllow in .chartproof.yaml ({}): not findings\n", r.allowed.len());
        for a in &r.allowed {
            out += &format!("  {}:{}  {} ({}) — {}\n", a.file, a.line, a.key, a.was, a.reason);
        }
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
