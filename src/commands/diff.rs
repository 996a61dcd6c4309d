//! `chartproof diff OLD NEW`: what a release changes — in the values contract and in the cluster
//! objects — with breaking changes, noise, volatile output and secrets handled, and the rule delta.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, TemplateArgs, ValuesArgs, exit};
use crate::chart::Chart;
use crate::contract::compat::{ContractDiff, compare};
use crate::diff::noise::IgnoreSet;
use crate::diff::volatile::{SideResource, stabilize};
use crate::diff::{Compared, DiffOptions, DiffReport, FindingsDelta, SideInfo, diff_manifests, findings, summarize};
use crate::manifest::Manifest;
use crate::render::{Helm, RenderFailure, RenderRequest, render};
use crate::report;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
}

/// Show what upgrading from OLD to NEW changes: values contract, cluster objects, rule findings.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Old chart: a directory or a packaged .tgz
    pub old: PathBuf,
    /// New chart (omit it, or give OLD again, to compare --old-values with --new-values)
    pub new: Option<PathBuf>,
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Values file for the old side only, applied after -f (repeatable)
    #[arg(long, value_name = "FILE")]
    pub old_values: Vec<PathBuf>,
    /// Values file for the new side only, applied after -f (repeatable)
    #[arg(long, value_name = "FILE")]
    pub new_values: Vec<PathBuf>,
    /// Compare only the values contracts (no rendering)
    #[arg(long, conflicts_with = "manifests_only")]
    pub contract_only: bool,
    /// Compare only the rendered manifests
    #[arg(long)]
    pub manifests_only: bool,
    /// Lines of context in the text diffs
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub context: usize,
    /// Show secret values (Secret data, secret-looking ConfigMap entries) instead of "changed"
    #[arg(long)]
    pub show_secrets: bool,
    /// Ignore changes at paths matching this glob, e.g. 'spec.replicas' or '*.annotations.deploy/*' (repeatable)
    #[arg(long = "ignore", value_name = "PATH-GLOB")]
    pub ignore: Vec<String>,
    /// Ignore these labels wherever objects carry labels (comma-separated)
    #[arg(long, value_name = "LABEL,...", value_delimiter = ',')]
    pub ignore_labels: Vec<String>,
    /// Also show changes of helm.sh/chart and app.kubernetes.io/version labels and checksum/* annotations
    #[arg(long)]
    pub no_default_ignores: bool,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "human")]
    pub output: DiffFormat,
    #[command(flatten)]
    pub helm: HelmArgs,
    #[command(flatten)]
    pub template: TemplateArgs,
}

pub fn run(args: DiffArgs) -> Result<ExitCode> {
    let new_path = args.new.clone().unwrap_or_else(|| args.old.clone());
    if args.new.is_none() && args.old_values.is_empty() && args.new_values.is_empty() {
        bail!("give NEW (a second chart), or --old-values/--new-values to compare two values sets of one chart");
    }
    let old_chart = Chart::load(&args.old).context("cannot load OLD")?;
    let new_chart = Chart::load(&new_path).context("cannot load NEW")?;
    // Read every values file up front so a bad file is reported with its location.
    args.values.load()?;
    for f in args.old_values.iter().chain(&args.new_values) {
        crate::chart::values::ValuesDoc::load(f)?;
    }
    let mut ignore = args.ignore.clone();
    for label in args.ignore_labels.iter().filter(|l| !l.is_empty()) {
        ignore.push(format!("metadata.labels.{label}"));
        ignore.push(format!("*.metadata.labels.{label}"));
    }
    let opts = DiffOptions { context: args.context, show_secrets: args.show_secrets, ignores: IgnoreSet::new(&ignore, args.no_default_ignores)? };

    let mut old_info = side_info(&args.old, &old_chart, &args.old_values);
    let mut new_info = side_info(&new_path, &new_chart, &args.new_values);
    let contract = if args.manifests_only {
        ContractDiff::default()
    } else {
        let (old_schema, old_src) = chart_contract(&old_chart)?;
        let (new_schema, new_src) = chart_contract(&new_chart)?;
        old_info.contract_source = Some(old_src);
        new_info.contract_source = Some(new_src);
        compare(&old_schema, &new_schema, Some(&new_chart.values.value))
    };

    let mut manifest = crate::diff::ManifestDiff::default();
    let mut findings = FindingsDelta::default();
    let mut new_render_failure = None;
    if !args.contract_only {
        let helm = args.helm.discover()?;
        let old_req = request(&args, &old_chart, &args.old_values);
        let new_req = request(&args, &new_chart, &args.new_values);
        let [o1, o2, n1, n2] = render_all(&helm, [&old_req, &old_req, &new_req, &new_req]);
        let old_pair = match (o1?, o2?) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => bail!("OLD does not render: {e}\n  command: {}", old_req.command_line(&helm)),
        };
        let old_side = side_resources(&old_pair.0, &old_pair.1, "OLD");
        match (n1?, n2?) {
            (Ok(a), Ok(b)) => {
                let new_side = side_resources(&a, &b, "NEW");
                manifest = diff_manifests(&old_side, &new_side, &opts);
                findings = rule_delta(&old_pair.0, &old_side, &a, &new_side);
            }
            (Err(e), _) | (_, Err(e)) => new_render_failure = Some(format!("{e} (command: {})", new_req.command_line(&helm))),
        }
    }
    let summary = summarize(&contract, &manifest.resources, &findings, new_render_failure.is_some());
    let failed = summary.failed;
    let report = DiffReport {
        old: old_info,
        new: new_info,
        contract,
        resources: manifest.resources,
        unchanged_resources: manifest.unchanged,
        ignored: manifest.ignored,
        volatile: manifest.volatile,
        findings,
        new_render_failure,
        compared: Compared { contract: !args.manifests_only, manifests: !args.contract_only },
        summary,
    };
    let text = match args.output {
        DiffFormat::Human => report::diff_human::render(&report, report::stdout_wants_color()),
        DiffFormat::Json => report::diff_json::render(&report),
        DiffFormat::Markdown => report::diff_markdown::render(&report),
    };
    print!("{text}");
    Ok(exit(if failed { EXIT_FAILED } else { EXIT_OK }))
}

fn side_info(source: &Path, chart: &Chart, values: &[PathBuf]) -> SideInfo {
    SideInfo {
        source: source.display().to_string(),
        chart: chart.meta.name.clone(),
        version: chart.meta.version.clone(),
        values: values.iter().map(|v| v.display().to_string()).collect(),
        contract_source: None,
    }
}

fn request(args: &DiffArgs, chart: &Chart, side_values: &[PathBuf]) -> RenderRequest {
    let mut req = args.template.request(chart.render_path(), &args.helm);
    args.values.apply_to(&mut req);
    // Side-specific files come after the shared -f files but before --set, as helm orders them.
    req.values_files.extend(side_values.iter().cloned());
    req
}

type RenderOutcome = Result<Result<String, RenderFailure>>;

/// Render the four requests (each side twice) in parallel; helm is mostly process start-up.
fn render_all(helm: &Helm, reqs: [&RenderRequest; 4]) -> [RenderOutcome; 4] {
    std::thread::scope(|s| {
        let handles = reqs.map(|req| s.spawn(move || render(helm, req).map(|r| r.map(|ok| ok.manifest))));
        handles.map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("helm render thread panicked"))))
    })
}

fn side_resources(first: &str, second: &str, side: &str) -> Vec<SideResource> {
    let (a, b) = (Manifest::parse(first), Manifest::parse(second));
    for p in &a.problems {
        eprintln!("warning: {side} render: {}:{}: {}", p.template.as_deref().unwrap_or("manifest"), p.line, p.message);
    }
    stabilize(&a, &b)
}

/// Findings introduced and resolved by the upgrade.
// TODO(rules): run `rules::check_manifest(&manifest, &rules::Config::load(None)?)` on both sides once
// the rules engine is merged; until then the delta is reported as "not checked".
fn rule_delta(_old: &str, old_side: &[SideResource], _new: &str, new_side: &[SideResource]) -> FindingsDelta {
    let (mut old, mut new) = (Vec::new(), Vec::new());
    findings::normalize_names(&mut old, old_side);
    findings::normalize_names(&mut new, new_side);
    let mut delta = findings::delta(old, new);
    delta.checked = false;
    delta
}

/// The chart's values contract and where it came from.
// TODO(contract): replace with `contract::Contract::for_chart(chart)?.schema` once the contract
// module is merged; this stand-in reads values.schema.json or infers only types from values.yaml.
fn chart_contract(chart: &Chart) -> Result<(Value, String)> {
    let path = chart.schema_path();
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let schema = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
        return Ok((schema, "values.schema.json".into()));
    }
    Ok((infer_types(&chart.values.value), "inferred from values.yaml".into()))
}

fn infer_types(v: &Value) -> Value {
    let mut s = Map::new();
    let ty = crate::chart::values::json_type_name(v);
    if ty != "null" {
        s.insert("type".into(), Value::String(ty.into()));
    }
    if let Value::Object(m) = v {
        s.insert("properties".into(), Value::Object(m.iter().map(|(k, v)| (k.clone(), infer_types(v))).collect()));
    }
    Value::Object(s)
}
