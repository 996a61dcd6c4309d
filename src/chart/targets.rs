//! What a command runs on when given several charts: chart paths or directories of charts, those
//! with files changed since a git ref (`--changed-since`, as chart-testing does), and each chart's
//! scenarios — every `ci/*-values.yaml` on its own (chart-testing's convention), not merged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// chart-testing's scenario files, relative to the chart.
pub const DEFAULT_SCENARIOS: &str = "ci/*-values.yaml";

/// One chart, with one scenario's values file (None: the chart's defaults and the user's values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub chart: PathBuf,
    pub scenario: Option<PathBuf>,
}

impl Target {
    /// `chart` or `chart [ci/x-values.yaml]`, for headers and report subjects.
    pub fn label(&self) -> String {
        match &self.scenario {
            Some(s) => format!("{} [{}]", self.chart.display(), s.strip_prefix(&self.chart).unwrap_or(s).display()),
            None => self.chart.display().to_string(),
        }
    }
}

/// Expand chart arguments: a path with a Chart.yaml (or a packaged .tgz) is a chart; a directory
/// without one is a directory of charts (its subdirectories that have a Chart.yaml, sorted).
pub fn expand_charts(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut charts = Vec::new();
    for arg in args {
        if arg.is_dir() && !arg.join("Chart.yaml").is_file() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
                .with_context(|| format!("cannot list {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("Chart.yaml").is_file())
                .collect();
            if found.is_empty() {
                bail!("{}: no Chart.yaml there nor in any folder below it; give a chart or a directory of charts", arg.display());
            }
            found.sort();
            charts.extend(found);
        } else {
            charts.push(arg.clone());
        }
    }
    Ok(charts)
}

/// The charts with a file changed since `git_ref` (committed, staged, unstaged or untracked).
pub fn changed_since(charts: Vec<PathBuf>, git_ref: &str) -> Result<Vec<PathBuf>> {
    let Some(first) = charts.first() else { return Ok(charts) };
    let dir = if first.is_dir() { first.clone() } else { first.parent().map(Path::to_path_buf).unwrap_or_default() };
    let git = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("git").arg("-C").arg(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }).args(args).output().context("cannot run git for --changed-since")?;
        if !out.status.success() {
            bail!("--changed-since {git_ref}: git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    };
    let root = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
    for args in [&["diff", "--name-only", git_ref, "--"][..], &["ls-files", "--others", "--exclude-standard", "--full-name"][..]] {
        changed.extend(git(args)?.lines().filter(|l| !l.is_empty()).map(|l| root.join(l)));
    }
    // git prints the top level with symlinks resolved: compare with the charts' real paths.
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    Ok(charts.into_iter().filter(|c| changed.iter().any(|f| f.starts_with(real(c)))).collect())
}

/// Each chart's scenarios: the files matching `glob` (relative to the chart), one target each;
/// a chart without any runs once at its defaults.
pub fn with_scenarios(charts: Vec<PathBuf>, glob: Option<&str>) -> Result<Vec<Target>> {
    let Some(glob) = glob else { return Ok(charts.into_iter().map(|chart| Target { chart, scenario: None }).collect()) };
    let matcher = globset::GlobBuilder::new(glob).literal_separator(true).build().with_context(|| format!("--scenarios: bad glob `{glob}`"))?.compile_matcher();
    let mut targets = Vec::new();
    for chart in charts {
        let mut files = Vec::new();
        if chart.is_dir() {
            collect_files(&chart, &chart, &matcher, &mut files);
        }
        files.sort();
        if files.is_empty() {
            targets.push(Target { chart, scenario: None });
        } else {
            targets.extend(files.into_iter().map(|f| Target { chart: chart.clone(), scenario: Some(f) }));
        }
    }
    Ok(targets)
}

/// Files below `dir` (not in `charts/` subcharts) whose path relative to `root` matches.
fn collect_files(root: &Path, dir: &Path, matcher: &globset::GlobMatcher, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if path.is_dir() {
            if rel != Path::new("charts") {
                collect_files(root, &path, matcher, out);
            }
        } else if matcher.is_match(rel) {
            out.push(path);
        }
    }
}

/// The files a glob names (`teams/*.yaml`, `values/**/prod.yaml`), sorted; a pattern without
/// glob characters is the path itself, which must exist.
pub fn glob_files(pattern: &str) -> Result<Vec<PathBuf>> {
    let is_glob = |s: &str| s.contains(['*', '?', '[', '{']);
    if !is_glob(pattern) {
        let path = PathBuf::from(pattern);
        if !path.is_file() {
            bail!("{pattern}: no such values file");
        }
        return Ok(vec![path]);
    }
    let matcher = globset::GlobBuilder::new(pattern).literal_separator(true).build().with_context(|| format!("bad glob `{pattern}`"))?.compile_matcher();
    let base: PathBuf = Path::new(pattern).components().take_while(|c| !is_glob(&c.as_os_str().to_string_lossy())).collect();
    let (root, dir) = if base.as_os_str().is_empty() { (PathBuf::from("."), PathBuf::from(".")) } else { (PathBuf::new(), base) };
    let mut files = Vec::new();
    collect_files(&root, &dir, &matcher, &mut files);
    files.sort();
    if files.is_empty() {
        bail!("{pattern}: matches no file");
    }
    Ok(files)
}

/// The charts a command runs on (`CHART…`, `--scenarios`, `--changed-since`), for `check` and `test`.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Chart directories or packaged .tgz files; a directory without Chart.yaml stands for the
    /// charts in its subdirectories
    #[arg(required = true, value_name = "CHART")]
    pub charts: Vec<PathBuf>,
    /// Run each values file matching GLOB (`--scenarios=GLOB`, relative to the chart; default `ci/*-values.yaml`) as a
    /// scenario of its own, as chart-testing does; a chart without any runs at its defaults
    #[arg(long, value_name = "GLOB", num_args = 0..=1, require_equals = true, default_missing_value = DEFAULT_SCENARIOS)]
    pub scenarios: Option<String>,
    /// Run only on the charts with files changed since this git ref (committed or not)
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
}

impl TargetArgs {
    /// Every target these arguments name.
    pub fn targets(&self) -> Result<Vec<Target>> {
        targets(&self.charts, self.scenarios.as_deref(), self.changed_since.as_deref())
    }

    /// The chart of a single-target run.
    pub fn chart(&self) -> &Path {
        &self.charts[0]
    }
}

/// The charts of a command's chart arguments, only those changed since `changed` when given.
/// An empty list (nothing changed) is said on stderr.
pub fn charts(args: &[PathBuf], changed: Option<&str>) -> Result<Vec<PathBuf>> {
    let mut list = expand_charts(args)?;
    if let Some(git_ref) = changed {
        list = changed_since(list, git_ref)?;
        if list.is_empty() {
            eprintln!("no chart has changed since {git_ref}: nothing to do");
        }
    }
    Ok(list)
}

/// Every target of a command's chart arguments and flags.
pub fn targets(args: &[PathBuf], scenarios: Option<&str>, changed: Option<&str>) -> Result<Vec<Target>> {
    with_scenarios(charts(args, changed)?, scenarios)
}

/// How many things a command over several charts runs at once (`-j`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct JobsArgs {
    /// Charts run at once over several charts or scenarios (default: number of cores)
    #[arg(long, short = 'j', value_name = "N", value_parser = crate::commands::common::at_least_one, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
}

impl JobsArgs {
    /// `-j`, else the number of cores; at least 1.
    pub fn count(&self) -> usize {
        jobs_or_cores(self.jobs)
    }
}

/// `jobs`, else the number of cores; at least 1.
pub fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1)
}

/// How many of `items` things [`run_in_parallel`] runs at once with `jobs`.
pub fn parallel_items(jobs: usize, items: usize) -> usize {
    jobs.max(1).min(items.max(1))
}

/// Run `work` on every item with at most `jobs` things running at once: up to `jobs` items in
/// parallel, each given its share of `jobs` (the second argument of `work`, at least 1) for its
/// own parallel work, so the shares add up to `jobs`. `emit` sees the results in the items' order,
/// each as soon as it and every item before it are done: output per item stays together and in
/// a stable order whatever finishes first.
pub fn run_in_parallel<T, R>(items: &[T], jobs: usize, work: impl Fn(&T, usize) -> R + Sync, emit: impl FnMut(usize, R) + Send)
where
    T: Sync,
    R: Send,
{
    struct InOrder<R, E> {
        next: usize,
        done: std::collections::BTreeMap<usize, R>,
        emit: E,
    }
    let workers = parallel_items(jobs, items.len());
    let next_item = std::sync::atomic::AtomicUsize::new(0);
    let state = std::sync::Mutex::new(InOrder { next: 0, done: std::collections::BTreeMap::new(), emit });
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let share = jobs.max(1) / workers + usize::from(worker < jobs.max(1) % workers);
            let (next_item, state, work) = (&next_item, &state, &work);
            scope.spawn(move || {
                loop {
                    let index = next_item.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = work(item, share);
                    let mut state = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    state.done.insert(index, result);
                    loop {
                        let at = state.next;
                        let Some(ready) = state.done.remove(&at) else { break };
                        (state.emit)(at, ready);
                        state.next += 1;
                    }
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_runs_stay_within_jobs_and_emit_in_order() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<u64> = vec![30, 5, 20, 1, 10, 2, 15];
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut emitted = Vec::new();
        let mut shares = Vec::new();
        run_in_parallel(
            &items,
            3,
            |ms, share| {
                let now = running.fetch_add(share, Ordering::SeqCst) + share;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(*ms));
                running.fetch_sub(share, Ordering::SeqCst);
                (*ms, share)
            },
            |i, (ms, share)| {
                emitted.push((i, ms));
                shares.push(share);
            },
        );
        assert_eq!(emitted, items.iter().copied().enumerate().collect::<Vec<_>>(), "in the items' order");
        assert!(most.load(Ordering::SeqCst) <= 3, "never more than -j at once");
        assert!(shares.iter().all(|s| *s == 1));
        // Fewer items than jobs: the jobs are shared out among the workers (2 and 3).
        let mut shares = Vec::new();
        run_in_parallel(&[1, 2], 5, |_, share| share, |_, share| shares.push(share));
        assert!(shares.len() == 2 && shares.iter().all(|s| [2, 3].contains(s)), "{shares:?}");
    }

    #[test]
    fn a_directory_of_charts_and_each_scenario_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in [("a/Chart.yaml", "name: a"), ("a/ci/small-values.yaml", ""), ("a/ci/large-values.yaml", ""), ("a/ci/notes.yaml", ""), ("b/Chart.yaml", "name: b"), ("notachart/x.txt", "")] {
            let p = dir.path().join(file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let found = targets(&[dir.path().to_path_buf()], Some(DEFAULT_SCENARIOS), None).unwrap();
        let labels: Vec<String> = found.iter().map(|t| t.label().replace(&dir.path().display().to_string(), "")).collect();
        assert_eq!(labels, ["/a [ci/large-values.yaml]", "/a [ci/small-values.yaml]", "/b"]);
        assert_eq!(targets(&[dir.path().join("a")], None, None).unwrap(), [Target { chart: dir.path().join("a"), scenario: None }]);
        let pattern = format!("{}/a/ci/*-values.yaml", dir.path().display());
        assert_eq!(glob_files(&pattern).unwrap(), [dir.path().join("a/ci/large-values.yaml"), dir.path().join("a/ci/small-values.yaml")]);
        assert!(glob_files(&format!("{}/none/*.yaml", dir.path().display())).is_err());
        let e = targets(&[dir.path().join("notachart")], None, None).unwrap_err();
        assert!(format!("{e:#}").contains("no Chart.yaml"), "{e:#}");
    }
}
