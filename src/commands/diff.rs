//! `chartproof diff OLD NEW`: what a release changes — in the values contract and in the cluster
//! objects — with breaking changes, noise, volatile output and secrets handled, and the rule delta.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, TemplateArgs, ValuesArgs, exit, print_stdout};
use crate::chart::Chart;
use crate::contract::{Contract, ContractSource};
use crate::chart::targets::{jobs_or_cores, run_in_parallel};
use crate::contract::compat::{ContractDiff, changed_defaults, compare, effective_defaults, ignores_values, recheck_removed_keys};
use crate::diff::impact::{ContractSide, ValuesImpact, assess};
use crate::diff::noise::IgnoreSet;
use crate::diff::references::reference_changes;
use crate::diff::resources::assume_release_namespace;
use crate::diff::volatile::{SideResource, stabilize};
use crate::diff::{Compared, DiffOptions, DiffReport, FindingsDelta, SideInfo, ValuesFileVerdict, diff_manifests, findings, summarize};
use crate::manifest::Manifest;
use crate::diff::shared_volatility::{KeyPath, VolatilityPlan, written_paths};
use crate::render::determinism::names_nondeterministic_function;
use crate::render::{Helm, RenderFailure, RenderRequest, render};
use crate::report;
use crate::rules::{Config, Finding, check_manifest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Markdown,
    /// JUnit XML (one testcase per values file with --each; one for the upgrade otherwise)
    Junit,
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
  chartproof diff ./old ./new --each 'teams/*.yaml' -o markdown  # one verdict per team's values

Each side is rendered twice: values that differ between two renders of the same input are
reported as volatile, never as changes. With --each, a chart none of whose templates calls a
random, clock or key-generating function is rendered once per side and file; otherwise one shared
reference render per side stands in for the second render of every file that sets no value the
volatile templates may read (the others are rendered twice).

With --each, every matching values file (applied after the -f files and the side's --old-values
or --new-values) gets its own verdict: valid under the old and the new contract, renders on both
sides, breaking or not with every reason at its file and line, its resource changes and findings
delta; exit 1 if any file breaks.

Exit codes:
  0  no breaking change and no new error finding
  1  a breaking contract change that reaches the given values (any, when none are given), an
     immutable field change, a new version that does not render, or a new error finding; with
     --each: a values file that breaks
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
    /// Judge each values file matching this glob on its own, after the -f files and the side's
    /// --old-values/--new-values (repeatable; quote it: `--each 'teams/*.yaml'`); a summary
    /// table and one verdict per file
    #[arg(long, value_name = "GLOB", conflicts_with = "manifests_only")]
    pub each: Vec<String>,
    /// Parallel helm renders with --each (default: number of cores)
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
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
    let each_files = expand_each(&args.each)?;
    let new_path = args.new.clone().unwrap_or_else(|| args.old.clone());
    if args.new.is_none() && args.old_values.is_empty() && args.new_values.is_empty() {
        bail!("give NEW (a second chart), or --old-values/--new-values to compare two values sets of one chart");
    }
    let old_chart = Chart::load(&args.old).context("cannot load OLD")?;
    let new_chart = Chart::load(&new_path).context("cannot load NEW")?;
    // Read every values file up front so a bad file is reported with its location.
    let shared = args.values.load()?;
    let load_all = |files: &[PathBuf]| files.iter().map(|f| crate::chart::values::ValuesDoc::load(f)).collect::<Result<Vec<_>>>();
    let side_docs = [load_all(&args.old_values)?, load_all(&args.new_values)?];
    // Per values file of --each: the values the old and the new release get. Helm's order: -f
    // files, the side's --old-values/--new-values, this file, then --set.
    let mut each_values = Vec::new();
    for f in &each_files {
        let doc = crate::chart::values::ValuesDoc::load(f)?;
        each_values.push(side_docs.clone().map(|docs| {
            let mut user = shared.clone();
            user.files.extend(docs);
            user.files.push(doc.clone());
            user
        }));
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
    let mut contracts = None;
    let mut contract = if args.manifests_only {
        ContractDiff::default()
    } else {
        let old_contract = chart_contract(&old_chart, "OLD")?;
        let new_contract = chart_contract(&new_chart, "NEW")?;
        old_info.contract_source = Some(contract_source(&old_contract));
        new_info.contract_source = Some(contract_source(&new_contract));
        let mut contract = compare(&old_contract.schema, &new_contract.schema, Some(&new_chart.values.value));
        recheck_removed_keys(&mut contract, &template_text(&new_chart.dir.join("templates")));
        contract.defaults = changed_defaults(&effective_defaults(&old_chart), &effective_defaults(&new_chart));
        contracts = Some((old_contract, new_contract));
        contract
    };
    let new_label = new_chart.meta.version.clone().unwrap_or_else(|| "NEW".into());
    let assess_values = |contract: &ContractDiff, old_user: &crate::chart::merge::UserValues, user: &crate::chart::merge::UserValues| {
        contracts.as_ref().map(|(o, n)| {
            assess(&ContractSide { contract: o, chart: &old_chart }, &ContractSide { contract: n, chart: &new_chart }, contract, old_user, user, &new_label)
        })
    };
    let ns = args.template.namespace.clone().unwrap_or_else(|| "default".into());

    if !each_files.is_empty() {
        let helm = if args.contract_only { None } else { Some(args.helm.discover()?) };
        let side_values = [args.old_values.as_slice(), args.new_values.as_slice()];
        let volatility = match &helm {
            Some(helm) => {
                let mut shared_texts: Vec<String> = args.values.values.iter().chain(&args.old_values).chain(&args.new_values).filter_map(|f| std::fs::read_to_string(f).ok()).collect();
                shared_texts.extend(shared.sets.iter().map(|s| s.text.clone()));
                let plans = [&old_chart, &new_chart].map(|chart| VolatilityPlan::of(chart, &shared_texts));
                side_volatility(helm, plans, [request(&args, &old_chart, side_values[0]), request(&args, &new_chart, side_values[1])])
            }
            None => Default::default(),
        };
        let impacts: Vec<Option<ValuesImpact>> = each_values.iter().map(|[o, n]| assess_values(&contract, o, n)).collect();
        let work: Vec<usize> = (0..each_files.len()).collect();
        let mut files: Vec<Option<ValuesFileVerdict>> = vec![None; each_files.len()];
        let judge = |i: &usize, _share: usize| {
            let judged = FileJudge { args: &args, old_chart: &old_chart, new_chart: &new_chart, config: &config, opts: &opts, ns: &ns, side_values, volatility: [&volatility[0], &volatility[1]] };
            judged.verdict(&each_files[*i], &each_values[*i][1], helm.as_ref(), impacts[*i].as_ref(), &contract)
        };
        run_in_parallel(&work, jobs_or_cores(args.jobs), judge, |i, v| files[i] = Some(v));
        let files: Vec<ValuesFileVerdict> = files.into_iter().map(|v| v.expect("every values file is judged")).collect();
        for (i, change) in contract.breaking.iter_mut().enumerate() {
            change.reaches = Some(impacts.iter().zip(&each_files).filter(|(m, _)| m.as_ref().is_some_and(|m| m.reached.iter().any(|(j, _)| *j == i))).map(|(_, f)| f.display().to_string()).collect());
        }
        for (i, d) in contract.defaults.iter_mut().enumerate() {
            d.relied_on_by = Some(impacts.iter().zip(&each_files).filter(|(m, _)| m.as_ref().is_some_and(|m| m.relied_defaults.contains(&i))).map(|(_, f)| f.display().to_string()).collect());
        }
        let mut summary = summarize(&contract, &[], &[], false);
        summary.files = files.len();
        summary.files_breaking = files.iter().filter(|f| f.breaking).count();
        summary.breaking_for_values = None;
        summary.reference_changes = files.iter().map(|f| f.references.len()).sum();
        summary.helm_renders = helm.is_some().then(|| volatility.iter().map(|v| v.reference_renders).sum::<usize>() + files.iter().flat_map(|f| f.helm_renders).sum::<usize>());
        summary.failed = summary.files_breaking > 0;
        let report = DiffReport {
            old: old_info,
            new: new_info,
            contract,
            resources: Vec::new(),
            unchanged_resources: 0,
            ignored: Vec::new(),
            volatile: Vec::new(),
            findings: FindingsDelta::default(),
            policies: None,
            new_render_failure: None,
            references: Vec::new(),
            files,
            compared: Compared { contract: true, manifests: !args.contract_only },
            summary,
        };
        return emit(&args, &report);
    }

    // Without --each: the shared values (-f, --set) are the values judged, when given and the
    // same on both sides.
    if !shared.is_empty() && args.old_values.is_empty() && args.new_values.is_empty()
        && let Some(impact) = assess_values(&contract, &shared, &shared)
    {
        for (i, change) in contract.breaking.iter_mut().enumerate() {
            change.affects_values = Some(impact.reached.iter().any(|(j, _)| *j == i));
        }
        for (i, d) in contract.defaults.iter_mut().enumerate() {
            d.relied_on_by_values = Some(impact.relied_defaults.contains(&i));
        }
    }

    let mut manifest = crate::diff::ManifestDiff::default();
    let mut findings = FindingsDelta::default();
    let mut policies = with_policies.then(FindingsDelta::default);
    let mut new_render_failure = None;
    let mut references = Vec::new();
    if !args.contract_only {
        let helm = args.helm.discover()?;
        let old_req = request(&args, &old_chart, &args.old_values);
        let new_req = request(&args, &new_chart, &args.new_values);
        let [o1, o2, n1, n2] = render_all(&helm, [&old_req, &old_req, &new_req, &new_req]);
        let old_pair = match (o1?, o2?) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => bail!("OLD does not render: {e}\n  command: {}\n  (values only NEW accepts belong in --new-values)", old_req.command_line(&helm)),
        };
        let old_side = side(&old_pair.0, Some(&old_pair.1), "OLD", &ns);
        match (n1?, n2?) {
            (Ok(a), Ok(b)) => {
                let new_side = side(&a, Some(&b), "NEW", &ns);
                manifest = diff_manifests(&old_side.resources, &new_side.resources, &opts);
                references = reference_changes(&old_side.resources, &new_side.resources);
                (findings, policies) = rule_delta(&old_side, &new_side, &config, &ns);
            }
            (Err(e), _) | (_, Err(e)) => new_render_failure = Some(format!("{e} (command: {})", new_req.command_line(&helm))),
        }
    }
    let mut summary = summarize(&contract, &manifest.resources, &[Some(&findings), policies.as_ref()].into_iter().flatten().collect::<Vec<_>>(), new_render_failure.is_some());
    summary.reference_changes = references.len();
    summary.helm_renders = (!args.contract_only).then_some(4);
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
        references,
        files: Vec::new(),
        compared: Compared { contract: !args.manifests_only, manifests: !args.contract_only },
        summary,
    };
    emit(&args, &report)
}

/// Print the report in the asked format; the exit code follows its verdict.
fn emit(args: &DiffArgs, report: &DiffReport) -> Result<ExitCode> {
    let text = match args.output {
        DiffFormat::Human => report::diff_human::render(report, report::stdout_wants_color()),
        DiffFormat::Json => report::diff_json::render(report),
        DiffFormat::Markdown => report::diff_markdown::render(report),
        DiffFormat::Junit => report::diff_junit::render(report)?,
    };
    print_stdout(&text)?;
    Ok(exit(if report.summary.failed { EXIT_FAILED } else { EXIT_OK }))
}

/// The values files `--each` names: each pattern's matches sorted, patterns in argument order, a
/// file named twice judged once. A pattern without glob characters is a file that must exist; a
/// glob that matches nothing is an error (a typo would otherwise judge nobody).
fn expand_each(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let mut found = Vec::new();
        if !pattern.contains(['*', '?', '[', '{']) {
            let path = PathBuf::from(pattern);
            if !path.is_file() {
                bail!("--each {pattern}: no such values file");
            }
            found.push(path);
        } else {
            let glob = globset::GlobBuilder::new(pattern).literal_separator(true).build().with_context(|| format!("--each {pattern}: not a valid glob"))?.compile_matcher();
            // Walk from the longest leading part without glob characters.
            let fixed: PathBuf = Path::new(pattern).components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[', '{'])).collect();
            let root = if fixed.as_os_str().is_empty() { PathBuf::from(".") } else { fixed };
            walk_files(&root, &mut |p| {
                let shown = p.strip_prefix("./").unwrap_or(p);
                if glob.is_match(shown) {
                    found.push(shown.to_path_buf());
                }
            });
            if found.is_empty() {
                bail!("--each {pattern}: no file matches");
            }
            found.sort();
        }
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn walk_files(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_files(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// How one side gets the second render of each file (the volatility check).
#[derive(Default)]
struct SideVolatility {
    plan: VolatilityPlan,
    /// The side rendered at the shared values, standing in for the second render of files that
    /// cannot change what is volatile (None: not needed, or it did not render).
    reference: Option<Manifest>,
    /// helm renders made for `reference`.
    reference_renders: usize,
}

/// Plan each side's volatility check and make its reference render when a file may use it: the
/// two sides' reference renders run at the same time.
fn side_volatility(helm: &Helm, plans: [VolatilityPlan; 2], reqs: [RenderRequest; 2]) -> [SideVolatility; 2] {
    let wanted = plans.each_ref().map(|p| p.may_produce_volatile_output() && p.unshareable.is_none());
    let renders: [Option<Manifest>; 2] = std::thread::scope(|s| {
        let handles = [0, 1].map(|i| {
            let req = &reqs[i];
            let want = wanted[i];
            s.spawn(move || if want { render(helm, req).ok().and_then(|r| r.ok()).map(|ok| Manifest::parse(&ok.manifest)) } else { None })
        });
        handles.map(|h| h.join().ok().flatten())
    });
    for (i, side) in ["old", "new"].iter().enumerate() {
        if wanted[i] && renders[i].is_none() {
            eprintln!("warning: the {side} chart did not render at the shared values, so every --each file renders twice on that side to tell random output apart");
        }
    }
    let [old_ref, new_ref] = renders;
    let [old_plan, new_plan] = plans;
    [
        SideVolatility { plan: old_plan, reference: old_ref, reference_renders: usize::from(wanted[0]) },
        SideVolatility { plan: new_plan, reference: new_ref, reference_renders: usize::from(wanted[1]) },
    ]
}

/// What every values file of `--each` shares.
struct FileJudge<'a> {
    args: &'a DiffArgs,
    old_chart: &'a Chart,
    new_chart: &'a Chart,
    config: &'a Config,
    opts: &'a DiffOptions,
    ns: &'a str,
    /// `--old-values` and `--new-values`, applied before the file.
    side_values: [&'a [PathBuf]; 2],
    volatility: [&'a SideVolatility; 2],
}

/// One side of one file: its first render, a second one to tell volatile output apart (None
/// when nothing can be volatile), and the helm renders made.
struct FileRender {
    first: Manifest,
    second: Option<Manifest>,
    renders: usize,
}

impl FileJudge<'_> {
    /// One side's renders of this file: once when nothing can be volatile or the side's
    /// reference render stands in for the second, twice otherwise.
    fn render_side(&self, helm: &Helm, side: usize, file: &Path, file_keys: &[KeyPath], file_names_random: bool) -> Result<Result<FileRender, String>> {
        let chart = [self.old_chart, self.new_chart][side];
        let volatility = self.volatility[side];
        let mut files = self.side_values[side].to_vec();
        files.push(file.to_path_buf());
        let req = request(self.args, chart, &files);
        let once = |req: &RenderRequest| -> Result<Result<Manifest, String>> {
            Ok(render(helm, req)?.map(|r| Manifest::parse(&r.manifest)).map_err(|e| format!("{e} (command: {})", req.command_line(helm))))
        };
        let first = match once(&req)? {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if !volatility.plan.may_produce_volatile_output() && !file_names_random {
            return Ok(Ok(FileRender { first, second: None, renders: 1 }));
        }
        if let Some(reference) = volatility.reference.as_ref().filter(|_| !file_names_random && !volatility.plan.needs_own_second_render(file_keys)) {
            let second = volatility.plan.second_render(&first, reference);
            return Ok(Ok(FileRender { first, second: Some(second), renders: 1 }));
        }
        match once(&req)? {
            Ok(second) => Ok(Ok(FileRender { first, second: Some(second), renders: 2 })),
            Err(e) => Ok(Err(e)),
        }
    }

    /// `user` is the values the new release gets (the file's keys decide whether it may share
    /// the volatility reference render).
    fn verdict(&self, file: &Path, user: &crate::chart::merge::UserValues, helm: Option<&Helm>, impact: Option<&ValuesImpact>, contract: &ContractDiff) -> ValuesFileVerdict {
        let mut v = ValuesFileVerdict {
            file: file.display().to_string(),
            valid_old: impact.is_none_or(|m| m.invalid_before.is_empty()),
            valid_new: true,
            renders_old: None,
            renders_new: None,
            breaking: false,
            reasons: Vec::new(),
            before: impact.map(|m| m.invalid_before.clone()).unwrap_or_default(),
            breaking_contract: Vec::new(),
            relies_on_defaults: impact.map(|m| m.relied_defaults.iter().map(|i| contract.defaults[*i].path.clone()).collect()).unwrap_or_default(),
            resources: Vec::new(),
            unchanged_resources: 0,
            findings: FindingsDelta::default(),
            references: Vec::new(),
            helm_renders: [0, 0],
            summary: summarize(&ContractDiff::default(), &[], &[], false),
        };
        if let Some(m) = impact.filter(|_| v.valid_old) {
            v.reasons = m.reasons();
            v.valid_new = v.reasons.is_empty() || m.reached.iter().all(|(i, _)| ignores_values(&contract.breaking[*i])) && m.rejected_after.is_empty();
            v.breaking_contract = m.reached.iter().map(|(i, _)| contract.breaking[*i].path.clone()).collect();
        }
        let Some(helm) = helm else {
            v.breaking = !v.reasons.is_empty();
            return v;
        };
        let own = user.files.last().map(|doc| doc.value.clone()).unwrap_or_default();
        let keys = written_paths(&own);
        let names_random = names_nondeterministic_function(&own.to_string());
        let rendered = (self.render_side(helm, 0, file, &keys, names_random), self.render_side(helm, 1, file, &keys, names_random));
        let counted = |r: &Result<Result<FileRender, String>>| r.as_ref().ok().and_then(|r| r.as_ref().ok()).map_or(1, |r| r.renders);
        v.helm_renders = [counted(&rendered.0), counted(&rendered.1)];
        let (old, new) = match rendered {
            (Ok(Ok(o)), Ok(Ok(n))) => (o, n),
            (o, n) => {
                let why = |r: Result<Result<_, String>>| match r {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e),
                    Err(e) => Some(format!("{e:#}")),
                };
                v.renders_old = Some(matches!(o, Ok(Ok(_))));
                v.renders_new = Some(matches!(n, Ok(Ok(_))));
                if let Some(e) = why(o) {
                    v.before.push(format!("does not render on OLD: {e}"));
                } else if let Some(e) = why(n) {
                    v.reasons.push(format!("{}: the new version does not render with this file: {e}", v.file));
                }
                v.breaking = v.valid_old && v.renders_old == Some(true) && !v.reasons.is_empty();
                return v;
            }
        };
        v.renders_old = Some(true);
        v.renders_new = Some(true);
        let old_side = side_of(old.first, old.second.as_ref(), "OLD", self.ns);
        let new_side = side_of(new.first, new.second.as_ref(), "NEW", self.ns);
        let mut m = diff_manifests(&old_side.resources, &new_side.resources, self.opts);
        for r in &mut m.resources {
            r.text_diff = None;
        }
        v.references = reference_changes(&old_side.resources, &new_side.resources);
        let (findings, policies) = rule_delta(&old_side, &new_side, self.config, self.ns);
        let deltas: Vec<&FindingsDelta> = [Some(&findings), policies.as_ref()].into_iter().flatten().collect();
        v.summary = summarize(&ContractDiff::default(), &m.resources, &deltas, false);
        v.summary.reference_changes = v.references.len();
        for r in m.resources.iter().filter(|r| r.breaking) {
            for f in r.fields.iter().filter(|f| f.immutable.is_some()) {
                v.reasons.push(format!("{}: {} {}: {}", v.file, r.display_id(), f.path, f.immutable.as_deref().unwrap_or_default()));
            }
        }
        for f in deltas.iter().flat_map(|d| &d.introduced).filter(|f| f.severity == crate::rules::Severity::Error) {
            v.reasons.push(format!("{}: new error finding {} on {} {}: {}", v.file, f.rule, f.kind, f.name, f.message));
        }
        v.resources = m.resources;
        v.unchanged_resources = m.unchanged;
        v.findings = findings;
        v.breaking = v.valid_old && !v.reasons.is_empty();
        v.summary.failed = v.breaking;
        v
    }
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
    let mut req = args.template.request_for(chart, &args.helm, None);
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

/// One side from its render, stabilized over the second render when there is one (without one,
/// nothing is volatile: the chart is reproducible).
fn side(first: &str, second: Option<&str>, name: &str, release_namespace: &str) -> Side {
    side_of(Manifest::parse(first), second.map(Manifest::parse).as_ref(), name, release_namespace)
}

/// [`side`] from parsed renders.
fn side_of(manifest: Manifest, again: Option<&Manifest>, name: &str, release_namespace: &str) -> Side {
    for p in &manifest.problems {
        eprintln!("warning: {name} render: {}:{}: {}", p.template.as_deref().unwrap_or("manifest"), p.line, p.message);
    }
    let mut resources = stabilize(&manifest, again.unwrap_or(&manifest));
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

/// The chart's values contract (values.schema.json, else inferred).
fn chart_contract(chart: &Chart, side: &str) -> Result<Contract> {
    Contract::for_chart(chart).with_context(|| format!("cannot read the values contract of {side}"))
}

/// Where a contract came from, for the report.
fn contract_source(contract: &Contract) -> String {
    match contract.source {
        ContractSource::Shipped(_) => "values.schema.json",
        ContractSource::Inferred => "inferred from values.yaml",
    }
    .into()
}
