//! `chartproof check CHART`: render once with real helm and assert the production SOP on every
//! resource; print findings in the chosen format. Exit 0 without error findings, 1 with, 2 when
//! the input is unusable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, TemplateArgs, ValuesArgs, exit};
use crate::chart::Chart;
use crate::manifest::Manifest;
use crate::render::render;
use crate::report::{self, Format, Report, SourceMap};
use crate::rules::{self, CheckOutcome, Config, Finding, Severity};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Chart directory or packaged .tgz
    pub chart: PathBuf,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// chartproof config (default: .chartproof.yaml in the chart directory, if present)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "human")]
    pub output: Format,
}

/// Everything `check` found, ready for a reporter.
pub struct CheckResult {
    pub subject: String,
    /// Chart directory and name, to map helm's template paths to files (None for a packaged chart).
    pub chart_dir: Option<PathBuf>,
    pub chart_name: String,
    pub outcome: CheckOutcome,
    /// Ids of every resource rendered.
    pub resources: Vec<String>,
}

/// Load, render and check; errors mean unusable input.
pub fn check(args: &CheckArgs) -> Result<CheckResult> {
    let chart = Chart::load(&args.chart)?;
    let mut config = Config::for_chart(args.config.as_deref(), &chart.dir)?;
    if let Some(v) = &args.template.kube_version {
        rules::kubernetes_schema::resolve_minor(Some(v)).map_err(|e| anyhow::anyhow!("--kube-version: {e}"))?;
        config.kubernetes_version = Some(v.clone());
    }
    // Read the values files and --set flags first so a typo is reported as unusable input.
    args.values.load()?;
    let helm = args.helm.discover()?;
    let mut req = args.template.request(chart.render_path(), &args.helm);
    args.values.apply_to(&mut req);
    let subject = args.chart.display().to_string();
    let rendered = render(&helm, &req).with_context(|| format!("cannot run {}", req.command_line(&helm)))?;
    let (outcome, resources) = match rendered {
        Ok(r) => {
            let manifest = Manifest::parse(&r.manifest);
            let mut outcome = rules::check_manifest(&manifest, &config);
            outcome.findings.extend(manifest.problems.iter().map(|p| problem_finding(p, &config)).filter(|f| config.enabled(&f.rule)));
            let mut ids: Vec<String> = manifest.resources.iter().map(|r| r.display_id()).collect();
            ids.sort();
            ids.dedup();
            (outcome, ids)
        }
        Err(failure) => (CheckOutcome { findings: vec![rules::render_error_finding(&failure, &chart.meta.name)], ..Default::default() }, Vec::new()),
    };
    let chart_dir = args.chart.is_dir().then(|| args.chart.clone());
    Ok(CheckResult { subject, chart_dir, chart_name: chart.meta.name.clone(), outcome, resources })
}

/// A rendered document that is not a Kubernetes object.
fn problem_finding(p: &crate::manifest::ManifestProblem, config: &Config) -> Finding {
    Finding {
        rule: "kubernetes-schema".into(),
        severity: config.severity("kubernetes-schema", Severity::Error),
        kind: "Document".into(),
        namespace: None,
        name: format!("line {}", p.line),
        template: p.template.clone(),
        path: None,
        message: p.message.clone(),
    }
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let result = check(&args)?;
    let o = &result.outcome;
    let report = Report { command: "check", subject: &result.subject, findings: &o.findings, suppressed: &o.suppressed, qos: &o.qos, resources: &result.resources, sources: None };
    let report = Report { sources: result.chart_dir.as_deref().map(|chart_dir| SourceMap { chart_dir, chart_name: &result.chart_name }), ..report };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    report::write(args.output, &report, report::stdout_wants_color(), &mut out)?;
    out.flush()?;
    Ok(exit(if o.has_errors() { EXIT_FAILED } else { EXIT_OK }))
}
