//! `chartproof diff OLD NEW`: what a release changes — in the values contract and in the cluster
//! objects — with breaking changes, noise, volatile output and secrets handled, and the rule delta.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, TemplateArgs, ValuesArgs, exit, print_stdout};
use crate::chart::Chart;
use crate::contract::{Contract, ContractSource};
use crate::contract::compat::{ContractDiff, compare, recheck_removed_keys};
use crate::diff::noise::IgnoreSet;
use crate::diff::resources::assume_release_namespace;
use crate::diff::volatile::{SideResource, stabilize};
use crate::diff::{Compared, DiffOptions, DiffReport, FindingsDelta, SideInfo, diff_manifests, findings, summarize};
use crate::manifest::Manifest;
use crate::render::{Helm, RenderFailure, RenderRequest, render};
use crate::report;
use crate::rules::{Config, Finding, check_manifest};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
}

/// Show what upgrading from OLD to NEW changes: values contract, cluster objects, rule findings.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof diff ./mychart-1.2.0.tgz ./mychart
  chartproof diff ./old ./new -f prod-values.yaml -o markdown > pr-comment.md
  chartproof diff ./mychart --old-values prod.yaml --new-values prod-next.yaml
  chartproof diff ./old ./new --contract-only
  chartproof diff ./old ./new --policies platform-policies/   # as helm upgrade sends it to admission

Each side is rendered twice: values that differ between two renders of the same input are
reported as volatile, never as changes.

Exit codes:
  0  no breaking change and no new error finding
  1  a breaking contract change, an immutable field change, a new version that does not render,
     or a new error finding
  2  unusable input: missing chart, bad values file, OLD does not render, no helm")]
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
    /// Rule configuration for the findings delta (default: .chartproof.yaml of NEW, if any)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    #[command(flatten)]
    pub template: TemplateArgs,
}

pub fn run(mut args: DiffArgs) -> Result<ExitCode> {
    // Every values file is read up to five times (checked, then four renders): pipes such as
    // `--new-values <(…)` are spooled to a temporary file first.
    let shown = (args.old_values.clone(), args.new_values.clone());
    let spool = tempfile::tempdir().context("cannot create a temporary directory")?;
    for list in [&mut args.values.values, &mut args.old_values, &mut args.new_values] {
        for path in list.iter_mut() {
            *path = rereadable(path, spool.path())?;
        }
    }
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
    // One rule configuration for both sides, so a config difference is never a finding delta.
    let mut config = Config::for_chart(args.config.as_deref(), &new_chart.dir)?;
    args.policies.load_into(&mut config, args.template.namespace.as_deref())?;
    let with_policies = !config.platform_policies.policies.policies.is_empty();
    let opts = DiffOptions { context: args.context, show_secrets: args.show_secrets, ignores: IgnoreSet::new(&ignore, args.no_default_ignores)? };

    let mut old_info = side_info(&args.old, &old_chart, &shown.0);
    let mut new_info = side_info(&new_path, &new_chart, &shown.1);
    let contract = if args.manifests_only {
        ContractDiff::default()
    } else {
        let (old_schema, old_src) = chart_contract(&old_chart, "OLD")?;
        let (new_schema, new_src) = chart_contract(&new_chart, "NEW")?;
        old_info.contract_source = Some(old_src);
        new_info.contract_source = Some(new_src);
        let mut contract = compare(&old_schema, &new_schema, Some(&new_chart.values.value));
        recheck_removed_keys(&mut contract, &template_text(&new_chart.dir.join("templates")));
        contract
    };

    let mut manifest = crate::diff::ManifestDiff::default();
    let mut findings = FindingsDelta::default();
    let mut policies = with_policies.then(FindingsDelta::default);
    let mut new_render_failure = None;
    if !args.contract_only {
        let helm = args.helm.discover()?;
        let old_req = request(&args, &old_chart, &args.old_values);
        let new_req = request(&args, &new_chart, &args.new_values);
        let [o1, o2, n1, n2] = render_all(&helm, [&old_req, &old_req, &new_req, &new_req]);
        let old_pair = match (o1?, o2?) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => bail!("OLD does not render: {e}\n  command: {}\n  (values only NEW accepts belong in --new-values)", old_req.command_line(&helm)),
        };
        let ns = args.template.namespace.as_deref().unwrap_or("default");
        let old_side = side(&old_pair.0, &old_pair.1, "OLD", ns);
        match (n1?, n2?) {
            (Ok(a), Ok(b)) => {
                let new_side = side(&a, &b, "NEW", ns);
                manifest = diff_manifests(&old_side.resources, &new_side.resources, &opts);
                (findings, policies) = rule_delta(&old_side, &new_side, &config, ns);
            }
            (Err(e), _) | (_, Err(e)) => new_render_failure = Some(format!("{e} (command: {})", new_req.command_line(&helm))),
        }
    }
    let summary = summarize(&contract, &manifest.resources, &[Some(&findings), policies.as_ref()].into_iter().flatten().collect::<Vec<_>>(), new_render_failure.is_some());
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
        policies,
        new_render_failure,
        compared: Compared { contract: !args.manifests_only, manifests: !args.contract_only },
        summary,
    };
    let text = match args.output {
        DiffFormat::Human => report::diff_human::render(&report, report::stdout_wants_color()),
        DiffFormat::Json => report::diff_json::render(&report),
        DiffFormat::Markdown => report::diff_markdown::render(&report),
    };
    print_stdout(&text)?;
    Ok(exit(if failed { EXIT_FAILED } else { EXIT_OK }))
}

/// The text of every file under a chart's templates folder (empty when unreadable).
fn template_text(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return text };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&template_text(&path));
        } else if let Ok(t) = std::fs::read_to_string(&path) {
            text.push_str(&t);
            text.push('\n');
        }
    }
    text
}

/// `path` itself when it is a regular file, else a copy of what it yields in `spool`.
fn rereadable(path: &Path, spool: &Path) -> Result<PathBuf> {
    if std::fs::metadata(path).with_context(|| format!("cannot read values file {}", path.display()))?.is_file() {
        return Ok(path.to_path_buf());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read values file {}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "values".into());
    let copy = spool.join(format!("{}-{name}.yaml", std::fs::read_dir(spool)?.count()));
    std::fs::write(&copy, bytes).with_context(|| format!("cannot write {}", copy.display()))?;
    Ok(copy)
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

/// One side's first render and its resources stabilized over both renders.
struct Side {
    manifest: Manifest,
    resources: Vec<SideResource>,
}

fn side(first: &str, second: &str, name: &str, release_namespace: &str) -> Side {
    let (manifest, again) = (Manifest::parse(first), Manifest::parse(second));
    for p in &manifest.problems {
        eprintln!("warning: {name} render: {}:{}: {}", p.template.as_deref().unwrap_or("manifest"), p.line, p.message);
    }
    let mut resources = stabilize(&manifest, &again);
    assume_release_namespace(&mut resources, release_namespace);
    Side { manifest, resources }
}

/// Findings the `check` rules report on the new render but not the old one, and the other way
/// round; and the same for the platform policies when any are loaded (None otherwise). The old
/// release is checked as installed (CREATE), the new one as `helm upgrade` from the old one sends
/// its objects (UPDATE with `oldObject`, CREATE, DELETE).
fn rule_delta(old: &Side, new: &Side, config: &Config, release_namespace: &str) -> (FindingsDelta, Option<FindingsDelta>) {
    let mut upgrade = config.clone();
    upgrade.platform_policies.upgrade_from = Some(Arc::new(old.manifest.clone()));
    let mut old_findings = check_manifest(&old.manifest, config).findings;
    let mut new_findings = check_manifest(&new.manifest, &upgrade).findings;
    findings::normalize_names(&mut old_findings, &old.resources);
    findings::normalize_names(&mut new_findings, &new.resources);
    let is_policy = |f: &Finding| f.rule.starts_with(crate::policy::RULE_PREFIX);
    let (old_policy, old_rules): (Vec<Finding>, Vec<Finding>) = old_findings.into_iter().partition(is_policy);
    let (new_policy, new_rules): (Vec<Finding>, Vec<Finding>) = new_findings.into_iter().partition(is_policy);
    let policies = (!config.platform_policies.policies.policies.is_empty()).then(|| findings::delta(old_policy, new_policy, release_namespace));
    (findings::delta(old_rules, new_rules, release_namespace), policies)
}

/// The chart's values contract (values.schema.json, else inferred) and where it came from.
fn chart_contract(chart: &Chart, side: &str) -> Result<(Value, String)> {
    let contract = Contract::for_chart(chart).with_context(|| format!("cannot read the values contract of {side}"))?;
    let source = match contract.source {
        ContractSource::Shipped(_) => "values.schema.json",
        ContractSource::Inferred => "inferred from values.yaml",
    };
    Ok((contract.schema, source.into()))
}
