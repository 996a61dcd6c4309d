//! `chartproof check CHART`: render once with real helm and assert the production SOP on every
//! resource; print findings in the chosen format. Exit 0 without error findings, 1 with, 2 when
//! the input is unusable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, TemplateArgs, ValuesArgs, exit, print_stdout};
use crate::chart::Chart;
use crate::contract::{Contract, HelmDialect};
use crate::manifest::Manifest;
use crate::render::render;
use crate::report::{self, Format, Report, SourceMap};
use crate::rules::{self, CheckOutcome, Config};

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof check ./mychart
  chartproof check ./mychart -f prod-values.yaml --set replicaCount=3 --kube-version 1.31
  chartproof check ./mychart -o sarif > chartproof.sarif
  chartproof rules probe-readiness   # why a rule fired and how to fix it

Rules are configured in .chartproof.yaml next to Chart.yaml (or --config FILE); one object opts
out with the annotation `chartproof.io/ignore: <rule>; <reason>`. Colors only on a terminal
and never with NO_COLOR set.

Exit codes:
  0  no error finding (warnings and info do not fail)
  1  error findings, including a chart that does not render (render-error: helm failed, crashed
     or outlived --helm-timeout)
  2  unusable input: chart not found, unreadable Chart.yaml/values.yaml/-f file, bad --set,
     invalid .chartproof.yaml or values.schema.json, no helm")]
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
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
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
    // A values.schema.json that is not JSON is unusable input (as in validate/test/diff), not a
    // render error; whether it is a usable JSON Schema is up to the helm in use (below).
    crate::contract::read_schema_files(&chart)?;
    let mut config = Config::for_chart(args.config.as_deref(), &chart.dir)?;
    if let Some(v) = &args.template.kube_version {
        rules::kubernetes_schema::resolve_minor(Some(v)).map_err(|e| anyhow::anyhow!("--kube-version: {e}"))?;
        config.kubernetes_version = Some(v.clone());
    }
    args.policies.load_into(&mut config, args.template.namespace.as_deref())?;
    // Read the values files and --set flags first so a typo is reported as unusable input.
    args.values.load()?;
    let helm = args.helm.discover()?;
    Contract::for_helm(&chart, HelmDialect::for_major(helm.major))?;
    let mut req = args.template.request(chart.render_path(), &args.helm);
    args.values.apply_to(&mut req);
    let subject = args.chart.display().to_string();
    let rendered = render(&helm, &req).with_context(|| format!("cannot run {}", req.command_line(&helm)))?;
    let (mut outcome, resources) = match rendered {
        Ok(r) => {
            let mut manifest = Manifest::parse(&r.manifest);
            if args.chart.is_dir() {
                manifest.locate_problems(&args.chart);
            }
            let mut outcome = rules::check_manifest(&manifest, &config);
            outcome.findings.extend(rules::manifest_problem_findings(&manifest, &config));
            let mut ids: Vec<String> = manifest.resources.iter().map(|r| r.display_id()).collect();
            ids.sort();
            ids.dedup();
            (outcome, ids)
        }
        Err(failure) => (CheckOutcome { findings: vec![rules::render_error_finding(&failure, &chart.meta.name)], ..Default::default() }, Vec::new()),
    };
    let chart_dir = args.chart.is_dir().then(|| args.chart.clone());
    if let Some(dir) = &chart_dir {
        let prefix = format!("{}/", chart.meta.name);
        rules::locate_ignore_annotations(&mut outcome.findings, |template| std::fs::read_to_string(dir.join(template.strip_prefix(&prefix)?)).ok());
    }
    Ok(CheckResult { subject, chart_dir, chart_name: chart.meta.name.clone(), outcome, resources })
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let result = check(&args)?;
    let o = &result.outcome;
    let report = Report { command: "check", subject: &result.subject, findings: &o.findings, suppressed: &o.suppressed, qos: &o.qos, resources: &result.resources, sources: None };
    let report = Report { sources: result.chart_dir.as_deref().map(|chart_dir| SourceMap { chart_dir, chart_name: &result.chart_name }), ..report };
    let mut text = Vec::new();
    report::write(args.output, &report, report::stdout_wants_color(), &mut text)?;
    print_stdout(&String::from_utf8_lossy(&text))?;
    Ok(exit(if o.has_errors() { EXIT_FAILED } else { EXIT_OK }))
}
