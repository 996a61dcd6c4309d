//! Template coverage: which lines and branches of a chart's templates (its subcharts' and its
//! `_` helpers' `define`s included) the renders of a run exercised.
//!
//! Verdicts never come from here. The command renders as it always does; for each distinct
//! render that succeeds, this module renders once more, the same request against an
//! instrumented copy of the chart ([`instrument`]), and only counts the markers that render
//! carries ([`collect`]). The reports are written by one file per format: [`lcov`],
//! [`cobertura`], [`json`], [`html`].

pub mod cobertura;
pub mod collect;
pub mod html;
pub mod instrument;
pub mod json;
pub mod lcov;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

pub use collect::{Collector, InstrumentedChart};

/// `--coverage DIR`, `--coverage-min PCT`, `--coverage-exclude PATH`.
#[derive(Args, Debug, Clone, Default)]
pub struct CoverageArgs {
    /// Write template coverage (lcov.info, cobertura.xml, coverage.json, index.html) to DIR;
    /// costs one more helm render per distinct render of the run
    #[arg(long, value_name = "DIR")]
    pub coverage: Option<PathBuf>,
    /// Fail (exit 1) when line coverage is below PCT (needs --coverage)
    #[arg(long, value_name = "PCT", requires = "coverage")]
    pub coverage_min: Option<f64>,
    /// Leave a subchart (or any chart-relative folder or file) out of coverage, e.g. charts/redis (repeatable)
    #[arg(long, value_name = "PATH", requires = "coverage")]
    pub coverage_exclude: Vec<String>,
}

/// Found and hit counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Counts {
    /// Lines that write output, or branches, counted.
    pub found: usize,
    /// Of those, the ones that ran at least once.
    pub hit: usize,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.found += other.found;
        self.hit += other.hit;
    }
    /// Percentage (100 when nothing is found).
    pub fn percent(&self) -> f64 {
        if self.found == 0 {
            100.0
        } else {
            100.0 * self.hit as f64 / self.found as f64
        }
    }
    pub fn rate(&self) -> f64 {
        self.percent() / 100.0
    }
}

/// One line that writes output.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LineCov {
    pub line: usize,
    /// Times its most-run output element ran.
    pub hits: u64,
    /// `unittest`: the tests (`suite file: test name`) whose render ran it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<String>,
}

/// One branch of an `if`/`with`/`range`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BranchCov {
    /// Line of the `if`/`with`/`range`.
    pub line: usize,
    /// The control structure's number in the file.
    pub block: usize,
    /// The branch's number in the structure (in source order; the implicit or explicit else last).
    pub branch: usize,
    pub label: String,
    /// Times taken (for "range: some iterations", times the body ran); `None` when the
    /// structure itself never ran.
    pub taken: Option<u64>,
}

/// One template file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FileCov {
    /// Path relative to the chart given on the command line (`templates/x.yaml`,
    /// `charts/sub/templates/y.yaml`).
    pub path: String,
    pub lines: Counts,
    pub branches: Counts,
    pub line_hits: Vec<LineCov>,
    #[serde(rename = "branches_detail")]
    pub branch_hits: Vec<BranchCov>,
    /// Where the instrumentation is not exact for this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub source: String,
}

/// One chart or subchart.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChartCov {
    /// The chart's name (`Chart.yaml`), subcharts as `parent/sub`.
    pub name: String,
    /// Folder relative to the chart given on the command line (`.` for it).
    pub path: String,
    /// The chart given on the command line, as given.
    pub root: String,
    pub lines: Counts,
    pub branches: Counts,
    pub files: Vec<FileCov>,
}

/// The coverage of a run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// The command that ran (`unittest`, `test`, `check`).
    pub command: String,
    pub lines: Counts,
    pub branches: Counts,
    /// Template files counted, over every chart and subchart.
    pub templates: usize,
    /// Instrumented renders made (one per distinct successful render of the run).
    pub instrumented_renders: usize,
    /// Instrumented renders that failed (their hits are not counted; see `notes`).
    pub failed_renders: usize,
    /// Renders whose markers showed outside the coverage comments (through `tpl` of text that
    /// includes a template, or an `include` the rewrite could not wrap): their hits are counted,
    /// but that render's output differed from the real one, so its branches may differ too.
    pub inexact_renders: usize,
    pub charts: Vec<ChartCov>,
    pub notes: Vec<String>,
}

impl Report {
    /// `coverage: 83.4% of lines, 71.0% of branches in 12 templates`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "coverage: {:.1}% of lines, {:.1}% of branches in {} templates",
            self.lines.percent(),
            self.branches.percent(),
            self.templates
        );
        if self.failed_renders > 0 {
            s.push_str(&format!(
                " ({} instrumented renders failed and are not counted)",
                self.failed_renders
            ));
        }
        if self.inexact_renders > 0 {
            s.push_str(&format!(
                " ({} renders inexact: markers reached the output)",
                self.inexact_renders
            ));
        }
        s
    }
}

/// Write every format into `dir` (created), each file atomically.
pub fn write_reports(report: &Report, dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the coverage folder {}", dir.display()))?;
    let files = [
        ("lcov.info", lcov::render(report)),
        ("cobertura.xml", cobertura::render(report)),
        ("coverage.json", json::render(report)?),
        ("index.html", html::render(report)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

impl CoverageArgs {
    /// Run `body` (a command's whole run) with coverage of the renders it makes of `charts`:
    /// every successful render of one of them is rendered once more, instrumented. Then the
    /// reports are written, the summary printed on stderr, and `--coverage-min` applied: a run
    /// that passed exits 1 when line coverage is below it. Without `--coverage`, just `body`.
    pub fn around(
        &self,
        command: &str,
        targets: &crate::chart::targets::TargetArgs,
        body: impl FnOnce() -> Result<ExitCode>,
    ) -> Result<ExitCode> {
        let Some(dir) = &self.coverage else {
            return body();
        };
        let mut charts: Vec<PathBuf> = targets.targets()?.into_iter().map(|t| t.chart).collect();
        charts.sort();
        charts.dedup();
        let collectors = charts
            .iter()
            .map(|c| Collector::new(c, &self.coverage_exclude).map(std::sync::Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let registered = collect::register(&collectors);
        let code = body();
        drop(registered);
        let code = code?;
        let report = collect::report(command, &collectors);
        self.finish(&report, dir, code)
    }

    /// `unittest --coverage`: render every test of `suites` once more against an instrumented
    /// copy of `chart`, through the same unit-test renderer (same selection, overrides, release).
    pub fn unittest(
        &self,
        real: &crate::unittest::render::Renderer,
        chart: &std::path::Path,
        suites: &[PathBuf],
        options: &crate::unittest::runner::RunOptions,
        timeout: std::time::Duration,
    ) -> Result<Option<std::sync::Arc<Collector>>> {
        if self.coverage.is_none() {
            return Ok(None);
        }
        let collector = std::sync::Arc::new(Collector::new(chart, &self.coverage_exclude)?);
        collect::unittest(&collector, real, suites, options, timeout)?;
        Ok(Some(collector))
    }

    /// Write the reports of the collected charts and apply `--coverage-min` to `code`.
    pub fn finish_collected(
        &self,
        command: &str,
        collectors: &[std::sync::Arc<Collector>],
        code: ExitCode,
    ) -> Result<ExitCode> {
        let Some(dir) = &self.coverage else {
            return Ok(code);
        };
        let report = collect::report(command, collectors);
        self.finish(&report, dir, code)
    }

    fn finish(&self, report: &Report, dir: &std::path::Path, code: ExitCode) -> Result<ExitCode> {
        write_reports(report, dir)?;
        eprintln!("{}", report.summary());
        for note in &report.notes {
            eprintln!("coverage: note: {note}");
        }
        if let Some(min) = self.coverage_min {
            if report.lines.percent() < min {
                eprintln!(
                    "coverage: line coverage {:.1}% is below --coverage-min {min}",
                    report.lines.percent()
                );
                if code == ExitCode::SUCCESS {
                    return Ok(ExitCode::from(crate::commands::common::EXIT_FAILED));
                }
            }
        }
        Ok(code)
    }
}

/// Format a percentage as the reports print it.
pub fn pct(c: Counts) -> String {
    format!("{:.1}%", c.percent())
}

/// A file's path as the reports name it: relative to its chart, prefixed with the chart as
/// given when the report covers several charts given on the command line.
pub fn report_path(report: &Report, chart: &ChartCov, file: &FileCov) -> String {
    let several = report.charts.iter().any(|c| c.root != chart.root);
    if several {
        format!("{}/{}", chart.root.trim_end_matches('/'), file.path)
    } else {
        file.path.clone()
    }
}
