//! `chartproof check CHART`: render once with real helm and assert the production SOP on every
//! resource; print findings in the chosen format. Exit 0 without error findings, 1 with, 2 when
//! the input is unusable.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::common::{EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, HelmArgs, TemplateArgs, ValuesArgs, exit, print_stdout};
use crate::baseline::BaselineArgs;
use crate::chart::Chart;
use crate::chart::targets::{JobsArgs, TargetArgs, run_in_parallel};
use crate::contract::validate::{ValidationError, validate_values};
use crate::contract::{Contract, ContractSource, HelmDialect};
use crate::manifest::Manifest;
use crate::render::render;
use crate::report::{self, Format, Report, SourceMap};
use crate::rules::{self, CheckOutcome, Config};

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  chartproof check ./mychart
  chartproof check charts/ --changed-since origin/main --scenarios   # ct's ci/*-values.yaml, each on its own
  chartproof check charts/ -j 4                                       # four charts at once
  chartproof check ./mychart -f prod-values.yaml --set replicaCount=3 --kube-version 1.31
  chartproof check ./mychart -o sarif > chartproof.sarif
  chartproof check ./mychart --write-baseline chartproof-baseline.json   # accept today's findings
  chartproof check ./mychart --baseline chartproof-baseline.json         # fail on new ones only
  chartproof rules probe-readiness   # why a rule fired and how to fix it

Rules are configured in .chartproof.yaml next to Chart.yaml (or --config FILE); one object opts
out with the annotation `chartproof.io/ignore: <rule>; <reason>`; `exclusions:` in the config
accept findings by rule, kind, name, template, subchart and field path, with a reason. Colors only on a terminal
and never with NO_COLOR set.

Exit codes:
  0  no error finding (warnings and info do not fail; nor do findings excluded in
     .chartproof.yaml or known in --baseline)
  1  error findings, including a chart that does not render (render-error: helm failed, crashed
     or outlived --helm-timeout)
  2  unusable input: chart not found, unreadable Chart.yaml/values.yaml/-f file, bad --set,
     invalid .chartproof.yaml or values.schema.json, no helm
With several charts or scenarios: 2 if any was unusable, else 1 if any failed (all still run).")]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: TargetArgs,
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
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
    #[command(flatten)]
    pub jobs: JobsArgs,
    #[command(flatten)]
    pub coverage: crate::coverage::CoverageArgs,
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
    let chart = Chart::load(args.target.chart())?;
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
    let user_values = args.values.load()?;
    config.shipped_literals = Some(std::sync::Arc::new(rules::ShippedLiterals::of_chart(&chart, &user_values)));
    let helm = args.helm.discover()?;
    let contract = Contract::for_helm(&chart, HelmDialect::for_major(helm.major))?;
    let mut req = args.template.request_for(&chart, &args.helm, config.kubernetes_version.as_deref());
    args.values.apply_to(&mut req);
    let subject = args.target.chart().display().to_string();
    let rendered = render(&helm, &req).with_context(|| format!("cannot run {}", req.command_line(&helm)))?;
    let (mut outcome, resources) = match rendered {
        Ok(r) => {
            let mut manifest = Manifest::parse(&r.manifest);
            if args.target.chart().is_dir() {
                manifest.locate_problems(args.target.chart());
            }
            let mut outcome = rules::check_manifest(&manifest, &config);
            outcome.findings.extend(rules::manifest_problem_findings(&manifest, &config));
            let mut ids: Vec<String> = manifest.resources.iter().map(|r| r.display_id()).collect();
            ids.sort();
            ids.dedup();
            (outcome, ids)
        }
        Err(failure) => {
            // helm refuses values its schema rejects with the validator's raw text: say it as
            // `validate` does, at file:line:column of the offending value.
            let rejected = match contract.source {
                ContractSource::Shipped(_) => validate_values(&contract, &chart, &user_values),
                ContractSource::Inferred => Vec::new(),
            };
            let findings = if rejected.is_empty() {
                vec![rules::render_error_finding(&failure, &chart.meta.name)]
            } else {
                rejected.iter().map(|e| values_rejected_finding(e, &chart.meta.name)).collect()
            };
            (CheckOutcome { findings, ..Default::default() }, Vec::new())
        }
    };
    let chart_dir = args.target.chart().is_dir().then(|| args.target.chart().to_path_buf());
    if let Some(dir) = &chart_dir {
        let prefix = format!("{}/", chart.meta.name);
        rules::locate_ignore_annotations(&mut outcome.findings, |template| std::fs::read_to_string(dir.join(template.strip_prefix(&prefix)?)).ok());
    }
    Ok(CheckResult { subject, chart_dir, chart_name: chart.meta.name.clone(), outcome, resources })
}

/// A `render-error` for values the chart's values.schema.json rejects, located as `validate` does.
fn values_rejected_finding(error: &ValidationError, chart_name: &str) -> rules::Finding {
    rules::Finding {
        rule: "render-error".into(),
        severity: rules::Severity::Error,
        kind: "Chart".into(),
        namespace: None,
        name: chart_name.to_string(),
        template: None,
        path: None,
        message: format!("helm refused the values: they do not satisfy values.schema.json: {error}"),
    }
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    args.coverage.clone().around("check", &args.target.clone(), || run_uncovered(args))
}

fn run_uncovered(args: CheckArgs) -> Result<ExitCode> {
    args.baseline.check_readable()?;
    let targets = args.target.targets()?;
    if targets.is_empty() {
        return Ok(exit(EXIT_OK));
    }
    if targets.len() == 1 && targets[0].scenario.is_none() {
        let mut one = args.clone();
        one.target.charts = vec![targets[0].chart.clone()];
        return run_one(&one);
    }
    let (mut sarif_runs, mut json_targets, mut junit_suites) = (Vec::new(), Vec::new(), Vec::new());
    let (mut failed, mut unusable) = (Vec::new(), Vec::new());
    // Results, with each one's index among the targets (the JSON and JUnit entries keep it).
    let (mut results, mut result_indexes) = (Vec::new(), Vec::new());
    let check_target = |target: &crate::chart::targets::Target, _jobs: usize| {
        let mut one = args.clone();
        one.target.charts = vec![target.chart.clone()];
        one.values.values.splice(0..0, target.scenario.clone());
        check(&one)
    };
    run_in_parallel(&targets, args.jobs.count(), check_target, |index, checked| {
        let label = targets[index].label();
        match checked {
            Ok(r) => {
                result_indexes.push(index);
                results.push((label, r));
            }
            Err(e) => {
                eprintln!("error: {label}: {e:#}");
                let error = format!("{e:#}");
                junit_suites.push((index, report::junit::unusable_suite("check", &label, &error)));
                json_targets.push((index, report::json::TargetReport::unusable(label.clone(), error)));
                unusable.push(label);
            }
        }
    });
    apply_baseline_to_all(&args, &mut results)?;
    for ((label, result), &index) in results.iter().zip(&result_indexes) {
        let label = label.clone();
        let o = &result.outcome;
        let sources = result.chart_dir.as_deref().map(|chart_dir| SourceMap { chart_dir, chart_name: &result.chart_name });
        let report = Report { command: "check", subject: &label, release: &args.template.release_name, findings: &o.findings, suppressed: &o.suppressed, qos: &o.qos, resources: &result.resources, sources };
        if o.has_errors() {
            failed.push(label.clone());
        }
        match args.output {
            Format::Sarif => sarif_runs.push(report::sarif::to_value(&report)["runs"][0].take()),
            Format::Json => {
                let exit_code = if o.has_errors() { EXIT_FAILED } else { EXIT_OK };
                json_targets.push((index, report::json::TargetReport::done(label.clone(), exit_code, 0, report::json::JsonReport::from_report(&report))));
            }
            Format::Junit => junit_suites.push((index, report::junit::suite(&report))),
            format => {
                let mut text = Vec::new();
                if format == Format::Human {
                    text.extend(format!("== {label}\n").bytes());
                }
                report::write(format, &report, report::stdout_wants_color(), &mut text)?;
                print_stdout(&(String::from_utf8_lossy(&text).to_string() + if format == Format::Human { "\n" } else { "" }))?;
            }
        }
    }
    // In target order: unusable targets were listed as they failed, before the others.
    json_targets.sort_by_key(|(index, _)| *index);
    junit_suites.sort_by_key(|(index, _)| *index);
    let (json_targets, junit_suites) = (json_targets.into_iter().map(|(_, t)| t).collect(), junit_suites.into_iter().map(|(_, s)| s).collect());
    match args.output {
        Format::Sarif => print_stdout(&(serde_json::to_string_pretty(&report::sarif::log_of_runs(sarif_runs))? + "\n"))?,
        Format::Json => print_stdout(&report::json::several_targets(json_targets)?)?,
        Format::Junit => {
            let mut out = Vec::new();
            report::junit::write_suites("check", junit_suites, &mut out)?;
            print_stdout(&String::from_utf8_lossy(&out))?;
        }
        _ => {}
    }
    eprintln!("checked {} target(s): {} failed, {} unusable", targets.len() - unusable.len(), failed.len(), unusable.len());
    for label in failed.iter().map(|l| ("FAILED", l)).chain(unusable.iter().map(|l| ("UNUSABLE", l))) {
        eprintln!("  {} {}", label.0, label.1);
    }
    Ok(exit(if !unusable.is_empty() {
        EXIT_UNUSABLE
    } else if !failed.is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}

/// One baseline over every chart and scenario (see [`BaselineArgs::apply_each`]).
fn apply_baseline_to_all(args: &CheckArgs, results: &mut [(String, CheckResult)]) -> Result<()> {
    let per_target = results.iter_mut().map(|(_, r)| std::mem::take(&mut r.outcome.findings)).collect();
    let splits = args.baseline.apply_each("check", per_target, &args.template.release_name)?;
    for ((_, r), split) in results.iter_mut().zip(splits) {
        r.outcome.findings = split.new;
        r.outcome.suppressed.extend(split.known);
    }
    Ok(())
}

fn run_one(args: &CheckArgs) -> Result<ExitCode> {
    let mut result = check(args)?;
    let split = args.baseline.apply("check", std::mem::take(&mut result.outcome.findings), &args.template.release_name)?;
    result.outcome.findings = split.new;
    result.outcome.suppressed.extend(split.known);
    let o = &result.outcome;
    let report = Report { command: "check", subject: &result.subject, release: &args.template.release_name, findings: &o.findings, suppressed: &o.suppressed, qos: &o.qos, resources: &result.resources, sources: None };
    let report = Report { sources: result.chart_dir.as_deref().map(|chart_dir| SourceMap { chart_dir, chart_name: &result.chart_name }), ..report };
    let mut text = Vec::new();
    report::write(args.output, &report, report::stdout_wants_color(), &mut text)?;
    print_stdout(&String::from_utf8_lossy(&text))?;
    Ok(exit(if o.has_errors() { EXIT_FAILED } else { EXIT_OK }))
}
