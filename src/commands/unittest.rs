//! `chartproof unittest CHART… [-f GLOB]… [-v FILE]… [-u] [--strict] [--failfast] [--check] [-o FORMAT]`: run a
//! chart's helm-unittest suites with the real helm. Exit 0 when every test passes (or is
//! skipped), 1 when one fails, 2 when the input is unusable, 3 when no suite file was found.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, exit, print_stdout};
use super::test::EXIT_NOTHING_CHECKED;
use crate::unittest::output::{self, ChartRun};
use crate::unittest::render::Renderer;
use crate::unittest::runner::{RunOptions, run_suites};
use crate::unittest::snapshot::SnapshotMode;
use crate::unittest::suite::find_suites_with_subcharts;

/// Output formats of `unittest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnittestFormat {
    Human,
    Json,
    Junit,
    /// GitHub Actions annotations on the suite lines, then the human summary
    Github,
    /// SARIF 2.1.0: failed assertions at their suite-file lines, `--check` findings in the templates
    Sarif,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof unittest ./mychart                         # tests/*_test.yaml
  chartproof unittest ./mychart -f 'tests/**/*_test.yaml' -o junit > junit.xml
  chartproof unittest ./mychart -u                      # rewrite __snapshot__/*.snap
  chartproof unittest ./mychart --check -o sarif > unittest.sarif
  chartproof unittest ./mychart --coverage coverage --coverage-min 80   # lcov, cobertura, json, html

Renders use the real `helm template` with helm-unittest's defaults: release RELEASE-NAME,
namespace NAMESPACE, Kubernetes v1.20.0, only the selected templates plus `_` partials.
A missing snapshot entry is written, except in CI (CI set) or with --fail-missing-snapshots.

Exit codes:
  0  every test passed or was skipped (and, with --check, no error finding)
  1  a test failed, a suite file is invalid, --check found an error, or line coverage is
     below --coverage-min
  2  unusable input: chart not found, no helm, bad flags
  3  nothing tested: no suite file matched the globs in any chart")]
pub struct UnittestArgs {
    /// Chart directories
    #[arg(required = true)]
    pub charts: Vec<PathBuf>,
    /// Suite files, globs relative to the chart, `**` allowed (repeatable; default tests/*_test.yaml)
    #[arg(short = 'f', long = "file", value_name = "GLOB")]
    pub files: Vec<String>,
    /// Values file applied to every test after its own values (repeatable)
    #[arg(short = 'v', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Rewrite snapshot entries with the current renders
    #[arg(short = 'u', long = "update-snapshot")]
    pub update_snapshot: bool,
    /// Fail a test whose snapshot entry is missing instead of writing it (default when CI is set)
    #[arg(long)]
    pub fail_missing_snapshots: bool,
    /// Reject suite and test keys helm-unittest does not know (typos such as `sett:`)
    #[arg(long)]
    pub strict: bool,
    /// Stop a test at its first failed assertion
    #[arg(long)]
    pub failfast: bool,
    /// Do not check values against the chart's values.schema.json (helm-unittest's
    /// --skip-schema-validation; helm's own flag)
    #[arg(long)]
    pub skip_schema_validation: bool,
    /// Also check every unit-test render with the `check` rules (.chartproof.yaml of the chart)
    /// and the --policies; error findings fail the run
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
    /// Also run the suites of enabled subchart folders (`charts/<name>/<globs>`, at any depth)
    /// through this chart, as helm-unittest does by default (`--with-subchart=false` to skip them)
    #[arg(short = 's', long = "with-subchart", value_name = "BOOL", num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub with_subchart: bool,
    /// A chart folder, relative to the chart, whose templates render to more suites
    /// (helm-unittest's --chart-tests-path)
    #[arg(long, value_name = "DIR")]
    pub chart_tests_path: Option<PathBuf>,
    /// Parallel renders (default: number of CPUs)
    #[arg(short = 'j', long, value_name = "N", value_parser = super::common::at_least_one, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "human")]
    pub output: UnittestFormat,
    #[command(flatten)]
    pub coverage: crate::coverage::CoverageArgs,
}

pub fn run(args: UnittestArgs) -> Result<ExitCode> {
    if !args.check && !args.policies.policies.is_empty() {
        bail!("--policies needs --check: unit-test renders are checked only with --check");
    }
    let helm = args.helm.discover()?;
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let mut options = RunOptions {
        values_files: args.values.iter().map(|v| std::path::absolute(v).unwrap_or_else(|_| v.clone())).collect(),
        snapshots: SnapshotMode { update: args.update_snapshot, fail_missing: (args.fail_missing_snapshots || in_ci) && !args.update_snapshot },
        failfast: args.failfast,
        strict: args.strict,
        check: None,
        subchart_routes: Default::default(),
        rendered_suites: Vec::new(),
    };
    for v in &options.values_files {
        if !v.is_file() {
            bail!("values file not found: {}", v.display());
        }
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.jobs.unwrap_or(0)).build().context("cannot start the worker threads")?;
    let mut runs = Vec::new();
    let mut covered = Vec::new();
    for chart in &args.charts {
        if !chart.join("Chart.yaml").is_file() {
            bail!("chart not found: {} (give a chart directory holding Chart.yaml)", chart.display());
        }
        let start = Instant::now();
        options.check = None;
        if args.check {
            let mut config = crate::rules::Config::for_chart(None, chart)?;
            args.policies.load_into(&mut config, None)?;
            options.check = Some(config);
        }
        options.rendered_suites = Vec::new();
        if let Some(dir) = args.chart_tests_path.as_ref().map(|p| chart.join(p)).filter(|d| d.is_dir()) {
            let tests_renderer = Renderer::new(helm.clone(), &dir, args.helm.timeout())?;
            options.rendered_suites = crate::unittest::runner::rendered_suites(&tests_renderer, &dir, args.strict);
        }
        let found = find_suites_with_subcharts(chart, &args.files, args.with_subchart, &options.values_files)?;
        options.subchart_routes = found.iter().filter(|(_, route)| !route.is_empty()).cloned().collect();
        let files: Vec<PathBuf> = found.into_iter().map(|(f, _)| f).collect();
        if files.is_empty() && options.rendered_suites.is_empty() {
            let globs = if args.files.is_empty() { "tests/*_test.yaml".to_string() } else { args.files.join(", ") };
            eprintln!("chartproof unittest: no suite found in {} (looked for {globs})", chart.display());
        }
        let mut renderer = Renderer::new(helm.clone(), chart, args.helm.timeout())?;
        renderer.skip_schema_validation = args.skip_schema_validation;
        let suites = pool.install(|| run_suites(&renderer, &files, &options));
        // Coverage re-renders the chart's own suites: a subchart's suites run through the parent
        // with scoped values it does not apply.
        let own: Vec<PathBuf> = files.iter().filter(|f| !options.subchart_routes.contains_key(*f)).cloned().collect();
        covered.extend(pool.install(|| args.coverage.unittest(&renderer, chart, &own, &options, args.helm.timeout()))?);
        runs.push(ChartRun {
            chart: chart.display().to_string(),
            helm_version: helm.version.clone(),
            suites,
            renders: renderer.helm_runs(),
            render_requests: renderer.requests(),
            checked: args.check,
            duration: start.elapsed(),
        });
    }
    let text = match args.output {
        UnittestFormat::Human => output::human(&runs, std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none()),
        UnittestFormat::Json => output::json(&runs)?,
        UnittestFormat::Junit => output::junit(&runs)?,
        UnittestFormat::Github => output::github(&runs),
        UnittestFormat::Sarif => output::sarif(&runs)?,
    };
    print_stdout(&text)?;
    if runs.iter().all(|r| r.suites.is_empty()) {
        eprintln!("result: nothing tested: no suite file found (exit {EXIT_NOTHING_CHECKED})");
        return Ok(exit(EXIT_NOTHING_CHECKED));
    }
    let failed = runs.iter().flat_map(|r| &r.suites).any(|s| !s.passed())
        || runs.iter().flat_map(|r| &r.suites).flat_map(|s| &s.tests).flat_map(|t| &t.findings).any(|f| f.severity == crate::rules::Severity::Error);
    args.coverage.finish_collected("unittest", &covered, exit(if failed { EXIT_FAILED } else { EXIT_OK }))
}
