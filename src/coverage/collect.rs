//! Collecting hits: the instrumented copy of a chart, the extra render of each distinct render a
//! command makes (observed in [`crate::render::render`] for `test` and `check`, driven per test
//! for `unittest`), counting the markers of each render, and the totals per file and chart.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use regex::Regex;

use super::instrument::{self, EMIT_PREFIX, INCLUDE_SEPARATOR, Instrumented, MARKER_RE, Probe};
use super::{BranchCov, ChartCov, Counts, FileCov, LineCov, Report};
use crate::render::{Helm, RenderRequest};

/// One instrumented template file.
#[derive(Debug)]
pub struct TemplateFile {
    /// Relative to the chart given on the command line.
    pub path: String,
    /// Index into [`InstrumentedChart::charts`].
    pub chart: usize,
    pub source: String,
    pub instrumented: Instrumented,
}

/// A chart or subchart folder.
#[derive(Debug)]
pub struct ChartDir {
    pub name: String,
    /// Relative to the chart given on the command line (`.` for it).
    pub path: String,
}

/// A temporary copy of a chart whose templates are instrumented.
pub struct InstrumentedChart {
    /// The chart as given.
    pub original: PathBuf,
    /// The copy to render.
    pub root: PathBuf,
    _dir: tempfile::TempDir,
    pub charts: Vec<ChartDir>,
    pub files: Vec<TemplateFile>,
    pub notes: Vec<String>,
}

#[derive(Default)]
struct Hits {
    /// Per file, per probe.
    counts: Vec<Vec<u64>>,
    /// (file, line) -> tests that ran it.
    tests: HashMap<(usize, usize), BTreeSet<String>>,
    seen: HashSet<String>,
    renders: usize,
    failed: usize,
    inexact: usize,
    notes: Vec<String>,
}

/// The instrumented chart and the hits counted so far.
pub struct Collector {
    pub chart: InstrumentedChart,
    canonical: PathBuf,
    hits: Mutex<Hits>,
}

fn marker_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(MARKER_RE).expect("marker regex"))
}

impl Collector {
    pub fn new(chart: &Path, exclude: &[String]) -> Result<Collector> {
        let chart = instrument_chart(chart, exclude)?;
        let canonical = chart
            .original
            .canonicalize()
            .unwrap_or_else(|_| chart.original.clone());
        let counts = chart
            .files
            .iter()
            .map(|f| vec![0; f.instrumented.probes.len()])
            .collect();
        Ok(Collector {
            chart,
            canonical,
            hits: Mutex::new(Hits {
                counts,
                ..Hits::default()
            }),
        })
    }

    /// Count the markers of one instrumented render; `test` names the unit test it was for.
    /// Returns whether markers showed outside the coverage comments.
    pub fn record(&self, manifest: &str, test: Option<&str>) -> bool {
        let mut hits = self.hits.lock().unwrap();
        hits.renders += 1;
        let mut leaked = false;
        for line in manifest.lines() {
            let emitted = line.starts_with(EMIT_PREFIX);
            // A define's separator in the output: an include the rewrite did not wrap (a `tpl`
            // of text calling `include`) returned its markers with its text.
            leaked |= line.contains(INCLUDE_SEPARATOR);
            for c in marker_re().captures_iter(line) {
                let (Ok(file), Ok(probe)) = (c[1].parse::<usize>(), c[2].parse::<usize>()) else {
                    continue;
                };
                let Some(slot) = hits.counts.get_mut(file).and_then(|f| f.get_mut(probe)) else {
                    continue;
                };
                *slot += 1;
                leaked |= !emitted;
                if let (Some(test), Some(Probe::Line(l))) =
                    (test, self.chart.files[file].instrumented.probes.get(probe))
                {
                    hits.tests
                        .entry((file, *l))
                        .or_default()
                        .insert(test.to_string());
                }
            }
        }
        if leaked {
            hits.inexact += 1;
        }
        leaked
    }

    /// An instrumented render failed where the real one succeeded.
    pub fn failed(&self, what: &str, message: &str) {
        let mut hits = self.hits.lock().unwrap();
        hits.renders += 1;
        hits.failed += 1;
        if hits.notes.len() < 5 {
            let first = message.lines().next().unwrap_or_default();
            hits.notes.push(format!(
                "{}: the instrumented render of {what} failed, its hits are not counted: {first}",
                self.chart.original.display()
            ));
        }
    }

    /// Whether `key` is new (a render not seen yet).
    fn first_time(&self, key: String) -> bool {
        self.hits.lock().unwrap().seen.insert(key)
    }
}

/// Copy `chart` to a temporary folder and instrument every template file of it and of its
/// unpacked subcharts (`charts/*/`, nested), except NOTES.txt and the `exclude` paths.
pub fn instrument_chart(chart: &Path, exclude: &[String]) -> Result<InstrumentedChart> {
    if !chart.join("Chart.yaml").is_file() {
        anyhow::bail!(
            "--coverage: {} is not a chart folder (no Chart.yaml)",
            chart.display()
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("chartproof-coverage-")
        .tempdir()
        .context("cannot create a temporary folder")?;
    // CHARTPROOF_COVERAGE_KEEP=DIR keeps the instrumented copy in DIR, to read what was rendered.
    let base = std::env::var_os("CHARTPROOF_COVERAGE_KEEP")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let root = base.join(chart.file_name().unwrap_or(std::ffi::OsStr::new("chart")));
    copy_dir(chart, &root)?;
    let mut out = InstrumentedChart {
        original: chart.to_path_buf(),
        root: root.clone(),
        _dir: dir,
        charts: Vec::new(),
        files: Vec::new(),
        notes: Vec::new(),
    };
    let excluded = |rel: &str| {
        exclude.iter().any(|e| {
            let e = e.trim_start_matches("./").trim_end_matches('/');
            rel == e || rel.starts_with(&format!("{e}/"))
        })
    };
    let mut chart_dirs = vec![(String::new(), String::new())];
    while let Some((rel, parent)) = chart_dirs.pop() {
        let here = if rel.is_empty() {
            root.clone()
        } else {
            root.join(&rel)
        };
        let name = chart_name(&here)
            .unwrap_or_else(|| rel.rsplit('/').next().unwrap_or("chart").to_string());
        let name = if parent.is_empty() {
            name
        } else {
            format!("{parent}/{name}")
        };
        let chart_index = out.charts.len();
        out.charts.push(ChartDir {
            name: name.clone(),
            path: if rel.is_empty() {
                ".".into()
            } else {
                rel.clone()
            },
        });
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        let mut templates = Vec::new();
        list_files(
            &here.join("templates"),
            &format!("{prefix}templates"),
            &mut templates,
        );
        templates.sort();
        for path in templates {
            let base = path.rsplit('/').next().unwrap_or(&path).to_string();
            if excluded(&path) {
                continue;
            }
            if base == "NOTES.txt" {
                // Not counted (helm template never prints it), but its includes must get the
                // unmarked text, as everywhere.
                let full = root.join(&path);
                if let Ok(source) = std::fs::read_to_string(&full) {
                    match instrument::wrap_includes(&source, 0) {
                        Ok(w) => std::fs::write(&full, w.text)
                            .with_context(|| format!("cannot write {}", full.display()))?,
                        Err(e) => out.notes.push(format!(
                            "{path}: not rewritten ({e:#}); an include in it gets marked text"
                        )),
                    }
                }
                continue;
            }
            let full = root.join(&path);
            let Ok(source) = std::fs::read_to_string(&full) else {
                out.notes
                    .push(format!("{path}: not UTF-8 text, not counted"));
                continue;
            };
            let id = out.files.len();
            match instrument::instrument(&source, id, base.starts_with('_')) {
                Ok(instrumented) => {
                    std::fs::write(&full, &instrumented.text)
                        .with_context(|| format!("cannot write {}", full.display()))?;
                    out.files.push(TemplateFile {
                        path,
                        chart: chart_index,
                        source,
                        instrumented,
                    });
                }
                Err(e) => out
                    .notes
                    .push(format!("{path}: not instrumented, not counted: {e:#}")),
            }
        }
        let sub = here.join("charts");
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut subs: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        subs.sort();
        for s in subs.into_iter().rev() {
            let file = s
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let srel = format!("{prefix}charts/{file}");
            if excluded(&srel) {
                continue;
            }
            if s.join("Chart.yaml").is_file() {
                chart_dirs.push((srel, name.clone()));
            } else if file.ends_with(".tgz") {
                out.notes.push(format!("{srel}: a packaged subchart is not instrumented (unpack it under charts/ to count it)"));
            }
        }
    }
    Ok(out)
}

fn chart_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Chart.yaml")).ok()?;
    let v: serde_yaml::Value = serde_yaml::from_str(&text).ok()?;
    v.get("name")?.as_str().map(str::to_string)
}

fn list_files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        if path.is_dir() {
            list_files(&path, &format!("{rel}/{name}"), out);
        } else {
            out.push(format!("{rel}/{name}"));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = entry.path();
        let target = to.join(&name);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

/// Collectors of the running command, for [`observe`].
static REGISTRY: Mutex<Vec<Arc<Collector>>> = Mutex::new(Vec::new());

/// Registration of collectors; dropping it unregisters them.
pub struct Registration(Vec<Arc<Collector>>);

impl Drop for Registration {
    fn drop(&mut self) {
        REGISTRY
            .lock()
            .unwrap()
            .retain(|c| !self.0.iter().any(|r| Arc::ptr_eq(r, c)));
    }
}

pub fn register(collectors: &[Arc<Collector>]) -> Registration {
    REGISTRY.lock().unwrap().extend(collectors.iter().cloned());
    Registration(collectors.to_vec())
}

/// Called by [`crate::render::render`] after each successful render: when a collector is
/// registered for the rendered chart and this request was not seen yet, render it once more
/// against the instrumented copy and count its markers. The real render's result is untouched.
pub fn observe(helm: &Helm, req: &RenderRequest) {
    let collectors = {
        let registry = REGISTRY.lock().unwrap();
        if registry.is_empty() {
            return;
        }
        registry.clone()
    };
    let canonical = req
        .chart_dir
        .canonicalize()
        .unwrap_or_else(|_| req.chart_dir.clone());
    let Some(collector) = collectors.iter().find(|c| c.canonical == canonical) else {
        return;
    };
    let Ok(key) = request_key(helm, req) else {
        return;
    };
    if !collector.first_time(key) {
        return;
    }
    let mut instrumented = req.clone();
    instrumented.chart_dir = collector.chart.root.clone();
    match crate::render::render(helm, &instrumented) {
        Ok(Ok(rendered)) => {
            collector.record(&rendered.manifest, None);
        }
        Ok(Err(f)) => collector.failed(&req.command_line(helm), &f.to_string()),
        Err(e) => collector.failed(&req.command_line(helm), &format!("{e:#}")),
    }
}

/// What decides a render's output besides the chart: the render cache's key (flags and values
/// files' bytes) without a chart hash.
fn request_key(helm: &Helm, req: &RenderRequest) -> Result<String> {
    crate::render::cache::RenderCache::new(String::new()).key(helm, req)
}

/// `unittest --coverage`: render each test's input once more through a unit-test renderer of
/// the instrumented copy (identical inputs render once). `real` answers from its cache whether
/// the real render succeeded (an instrumented render that fails where the real one failed too
/// is not a coverage problem).
pub fn unittest(
    collector: &Collector,
    real: &crate::unittest::render::Renderer,
    suites: &[PathBuf],
    options: &crate::unittest::runner::RunOptions,
    timeout: std::time::Duration,
) -> Result<()> {
    use rayon::prelude::*;
    let mut renderer = crate::unittest::render::Renderer::new(
        real.helm().clone(),
        &collector.chart.root,
        timeout,
    )?;
    renderer.skip_schema_validation = real.skip_schema_validation;
    let chart_dir = &collector.chart.original;
    let mut tests = Vec::new();
    for file in suites {
        // A suite that does not load is reported by the real run.
        let Ok(suites) = crate::unittest::suite::Suite::load_all(file, options.strict) else {
            continue;
        };
        let label = crate::unittest::runner::display_path(chart_dir, file);
        for test in suites.into_iter().flat_map(|suite| suite.tests).filter(|t| t.skip.is_none()) {
            tests.push((format!("{label}: {}", test.name), test));
        }
    }
    tests.par_iter().for_each(|(label, test)| {
        let Ok(input) = crate::unittest::runner::render_input(test, options) else {
            return;
        };
        let real_ok = real.render(&input).map(|o| o.is_ok()).unwrap_or(false);
        match renderer.render(&input) {
            Ok(outcome) => match outcome.as_ref() {
                Ok(rendered) => {
                    collector.record(&rendered.manifest, Some(label));
                }
                Err(message) if real_ok => collector.failed(label, message),
                Err(_) => {}
            },
            Err(e) if real_ok => collector.failed(label, &format!("{e:#}")),
            Err(_) => {}
        }
    });
    // Shared inputs were counted once per test above; the renders made are the renderer's.
    let mut hits = collector.hits.lock().unwrap();
    hits.renders = renderer.helm_runs();
    Ok(())
}

/// The report over every collector.
pub fn report(command: &str, collectors: &[Arc<Collector>]) -> Report {
    let mut report = Report {
        command: command.to_string(),
        lines: Counts::default(),
        branches: Counts::default(),
        templates: 0,
        instrumented_renders: 0,
        failed_renders: 0,
        inexact_renders: 0,
        charts: Vec::new(),
        notes: Vec::new(),
    };
    for c in collectors {
        let hits = c.hits.lock().unwrap();
        report.instrumented_renders += hits.renders;
        report.failed_renders += hits.failed;
        report.inexact_renders += hits.inexact;
        report.notes.extend(hits.notes.iter().cloned());
        report.notes.extend(
            c.chart
                .notes
                .iter()
                .map(|n| format!("{}: {n}", c.chart.original.display())),
        );
        if hits.renders == 0 {
            report.notes.push(format!(
                "{}: no render of this chart was made, nothing is covered",
                c.chart.original.display()
            ));
        }
        let mut charts: Vec<ChartCov> = c
            .chart
            .charts
            .iter()
            .map(|d| ChartCov {
                name: d.name.clone(),
                path: d.path.clone(),
                root: c.chart.original.display().to_string(),
                lines: Counts::default(),
                branches: Counts::default(),
                files: Vec::new(),
            })
            .collect();
        for (id, f) in c.chart.files.iter().enumerate() {
            let file = file_coverage(f, &hits.counts[id], |line| {
                hits.tests
                    .get(&(id, line))
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default()
            });
            for n in &f.instrumented.notes {
                report
                    .notes
                    .push(format!("{}: {}: {n}", c.chart.original.display(), f.path));
            }
            let chart = &mut charts[f.chart];
            chart.lines.add(file.lines);
            chart.branches.add(file.branches);
            chart.files.push(file);
        }
        for chart in charts {
            report.lines.add(chart.lines);
            report.branches.add(chart.branches);
            report.templates += chart.files.len();
            report.charts.push(chart);
        }
    }
    report
}

/// Line and branch coverage of one file from its probe counts.
fn file_coverage(
    f: &TemplateFile,
    counts: &[u64],
    tests: impl Fn(usize) -> Vec<String>,
) -> FileCov {
    let mut lines: BTreeMap<usize, u64> = BTreeMap::new();
    let mut blocks: BTreeMap<usize, Vec<(usize, usize, String, u64)>> = BTreeMap::new();
    for (probe, n) in f.instrumented.probes.iter().zip(counts) {
        match probe {
            Probe::Line(l) => {
                let e = lines.entry(*l).or_default();
                *e = (*e).max(*n);
            }
            Probe::Branch {
                line,
                block,
                branch,
                label,
            } => blocks
                .entry(*block)
                .or_default()
                .push((*line, *branch, label.clone(), *n)),
        }
    }
    let line_hits: Vec<LineCov> = lines
        .into_iter()
        .map(|(line, hits)| LineCov {
            line,
            hits,
            tests: tests(line),
        })
        .collect();
    let mut branch_hits = Vec::new();
    for (block, mut branches) in blocks {
        branches.sort_by_key(|b| b.1);
        let reached = branches.iter().any(|b| b.3 > 0);
        for (line, branch, label, n) in branches {
            branch_hits.push(BranchCov {
                line,
                block,
                branch,
                label,
                taken: reached.then_some(n),
            });
        }
    }
    let lines = Counts {
        found: line_hits.len(),
        hit: line_hits.iter().filter(|l| l.hits > 0).count(),
    };
    let branches = Counts {
        found: branch_hits.len(),
        hit: branch_hits
            .iter()
            .filter(|b| b.taken.unwrap_or(0) > 0)
            .count(),
    };
    FileCov {
        path: f.path.clone(),
        lines,
        branches,
        line_hits,
        branch_hits,
        notes: f.instrumented.notes.clone(),
        source: f.source.clone(),
    }
}
