//! One property run: render the base values twice (volatility; once for a chart with no random,
//! clock or DNS function), replay saved cases, render the planned value sets in one worker pool
//! through the verdict cache, shrink each new failure, believing it once a second render shows it
//! (the shrink's first attempt on other values, else a fresh re-render of the case; none for a
//! reproducible chart whose render was not killed), save it as a case, and summarize
//! coverage. Stops cleanly on Ctrl-C or when the time budget runs out, reporting what was found
//! so far.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cases::{self, SavedCase};
use super::identity::{Failing, FailureKey, expected_failure, expected_matches};
use super::overrides::{Change, apply_changes, as_rendered, changes_of_override, override_between, override_of, value_hash};
use super::plan::{PlanInput, PlannedCase, plan};
use super::shrink::shrink;
use crate::chart::Chart;
use crate::contract::Contract;
use crate::manifest::Manifest;
use crate::render::{Helm, RenderFailure, RenderRequest, Rendered, shell_quote};
use crate::rules::{self, Finding, Severity};

/// Which slice of the plan this process runs (`--shard K/N`, K from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("--shard wants K/N (like 2/4), got {s:?}"))?;
        let (index, count): (usize, usize) = (k.trim().parse().map_err(|_| format!("bad shard index {k:?}"))?, n.trim().parse().map_err(|_| format!("bad shard count {n:?}"))?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("--shard {s}: K must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Everything a run needs besides the chart.
pub struct RunConfig {
    pub helm: Helm,
    /// `helm template` request with the template flags and the `-f` base values files.
    pub request: RenderRequest,
    /// Chart defaults with the base values merged over them.
    pub base: Value,
    /// How the user named the chart and base values (`-f FILE`, `--set K=V` words), for replay commands.
    pub chart_arg: String,
    pub base_value_args: Vec<String>,
    pub seed: u64,
    pub cases: usize,
    pub jobs: usize,
    pub time_budget: Option<Duration>,
    pub shard: Option<Shard>,
    pub cases_dir: PathBuf,
    /// Write new failures to `cases_dir`.
    pub save_cases: bool,
    /// Delete saved cases that now pass.
    pub prune_cases: bool,
    /// Only replay this case file.
    pub replay_only: Option<PathBuf>,
    pub progress: bool,
    /// Set by Ctrl-C.
    pub stop: Arc<AtomicBool>,
    /// Rule configuration (enabled rules, severities, options).
    pub rules: rules::Config,
}

/// One distinct failure of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestFailure {
    pub rule: String,
    pub severity: Severity,
    pub kind: String,
    pub name: String,
    pub message: String,
    /// Template the finding points at, when known.
    pub template: Option<String>,
    /// Field the finding points at, when known (always for `kubernetes-schema`).
    #[serde(default)]
    pub path: Option<String>,
    /// The minimal values override (relative to the defaults and base values) producing it.
    pub values: Value,
    /// One command line that replays it.
    pub replay: String,
    /// Where the case was saved (or the saved case that was replayed).
    pub case_file: Option<String>,
    /// `saved-case` (a replayed regression case), `default` (occurs at the defaults, or the `-f`
    /// base values, with no override: reported once, never again for the cases that inherit it),
    /// `new` (found and shrunk by this run), `unshrunk` (found, but the run stopped before
    /// shrinking it).
    pub status: String,
    /// The planned case that found it (`defaults`, `readinessProbe.enabled=false`, …).
    pub found_by: String,
    /// How shrinking ended: `minimal`, `attempt cap reached after N attempts` (saved, may not be
    /// minimal), `stopped by the time budget` or `stopped by Ctrl-C` (status `unshrunk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink: Option<String>,
    /// Other resources and fields where the same rule fails with the same minimal override: one
    /// cause (one value breaking several places), reported once (`Kind/name field`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl TestFailure {
    fn of(finding: Finding, values: Value, replay: String, case_file: Option<String>, status: &str, found_by: String) -> TestFailure {
        let Finding { rule, severity, kind, name, template, path, message, .. } = finding;
        TestFailure { rule, severity, kind, name, message, template, path, values, replay, case_file, status: status.into(), found_by, shrink: None, also: Vec::new() }
    }

    /// `Kind/name` and the field, when known.
    pub fn location(&self) -> String {
        let field = self.path.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
        format!("{}/{}{field}", self.kind, self.name)
    }
}

/// One cause, one failure: failures of one rule whose minimal overrides are the same (one value
/// breaking several fields or resources) are reported once, the others listed in `also`.
fn merge_same_cause(failures: Vec<TestFailure>) -> Vec<TestFailure> {
    let mut merged: Vec<TestFailure> = Vec::new();
    for f in failures {
        let mergeable = |s: &str| s == "new" || s == "default";
        match merged.iter_mut().find(|m| mergeable(&f.status) && m.status == f.status && m.rule == f.rule && m.values == f.values) {
            Some(first) => first.also.push(f.location()),
            None => merged.push(f),
        }
    }
    merged
}

/// What the run covered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Coverage {
    /// Value sets planned for the whole run (all shards).
    pub cases_planned: usize,
    /// The planned cases this run was to check (its shard's part of `cases_planned`); fewer
    /// were checked (`cases_run`) when it stopped early.
    #[serde(default)]
    pub cases_to_check: usize,
    /// Dotted values keys changed by the cases that ran.
    pub paths_varied: Vec<String>,
    /// Values keys not varied because no template reads them.
    pub keys_not_read: usize,
    /// Distinct merged value sets rendered (helm processes started through the cache).
    pub distinct_renders: usize,
    /// Render requests answered from the cache.
    pub cache_hits: usize,
    /// Candidate value sets generated, and how many the contract rejected before rendering.
    pub candidates_generated: usize,
    pub candidates_rejected: usize,
    pub rejection_rate: f64,
    /// Paths of the default render that differ between two renders of the same values
    /// (random passwords, certificates, checksums): never treated as failures.
    pub volatile_paths: Vec<String>,
    pub replayed_cases: usize,
    pub replayed_still_failing: usize,
    /// Saved cases that passed and were deleted (`--prune-cases`).
    #[serde(default)]
    pub pruned_cases: usize,
    /// Failures that did not reproduce on a fresh render (not reported).
    pub flaky_failures: usize,
    /// Why the run stopped early (`time budget`, `interrupted`), if it did.
    pub stopped: Option<String>,
    /// Template branches the cases that ran reach: an estimate from evaluating the chart's
    /// `if`/`with`/`range` conditions on each case's values, without rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_branches: Option<EstimatedBranches>,
    pub shard: Option<String>,
}

/// Template branch outcomes reached by a run's cases, estimated without instrumented renders:
/// each case's values are run through the chart's own `if`/`with`/`range` conditions
/// (`generate::branches`); a condition that needs more than the values (`.Capabilities`, the
/// output of `include`) is not decided, and what lies behind it is not counted as reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EstimatedBranches {
    /// Branch outcomes in the chart's templates (each `if`/`else if`/`with` branch, the `else`
    /// written or implied, a `range` with items and empty).
    pub total: usize,
    pub reached: usize,
    /// Outcomes never reached whose conditions some case decided (the others were never decided
    /// from values alone).
    pub decided_not_reached: usize,
    /// The outcomes never reached, with their template line.
    pub not_reached: Vec<BranchNotReached>,
}

/// One branch outcome no case reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BranchNotReached {
    pub template: String,
    pub line: usize,
    /// The condition's source line, or `else of …`, `(no branch taken) …`, `… (empty)`.
    pub branch: String,
    /// Some case's values decided its conditions (false every time); otherwise they were never
    /// decidable from values alone.
    pub decided: bool,
}

/// The result of `chartproof test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestReport {
    pub chart: String,
    pub cases_run: usize,
    pub seed: u64,
    /// helm processes started (cache misses, volatility and reproduction renders).
    pub renders: usize,
    pub failures: Vec<TestFailure>,
    pub coverage: Coverage,
}

/// `coverage.stopped` when the chart's templates do not parse (no case can render).
pub const TEMPLATES_DO_NOT_PARSE: &str = "templates do not parse";

/// A confirmed failure: its finding on the minimal case, the minimal changes, and how
/// shrinking ended.
type Shrunk = (Failing, Vec<Change>, ShrinkEnd);

/// Renders one failure's shrinking may make before it stops at the override it has.
pub const SHRINK_ATTEMPTS: usize = 150;

/// Why shrinking a failure ended: the truth the report states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShrinkEnd {
    /// No smaller override the contract accepts still fails (or nothing to shrink).
    Minimal,
    /// The attempt cap was reached after this many renders; the override fails but may not be minimal.
    AttemptCap(usize),
    TimeBudget,
    Interrupted,
}

impl ShrinkEnd {
    fn describe(self) -> String {
        match self {
            ShrinkEnd::Minimal => "minimal".into(),
            ShrinkEnd::AttemptCap(n) => format!("attempt cap reached after {n} attempts"),
            ShrinkEnd::TimeBudget => "stopped by the time budget".into(),
            ShrinkEnd::Interrupted => "stopped by Ctrl-C".into(),
        }
    }
}

/// A value set's verdict, computed once (an error: helm could not be run).
type VerdictSlot = Arc<OnceLock<Result<Vec<Failing>, String>>>;

/// Why a run started a helm process (the trace and the bench count renders by purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The two renders of the base values (the second finds volatile fields).
    Base,
    /// A saved regression case.
    Replay,
    /// A planned case.
    Case,
    /// A fresh re-render confirming a new failure.
    Confirm,
    /// A smaller value set tried while shrinking a failure.
    Shrink,
}

/// Environment variable: when set (to anything but `0` or empty), `test` prints on stderr when
/// each phase starts and each helm render starts and ends, with its purpose, in seconds since
/// the run began: to see where a run's wall time goes (`scripts/bench` counts renders from it).
pub const TRACE_ENV: &str = "CHARTPROOF_TRACE";

/// Environment variable: `random` plans cases as before the branch search (no values mined from
/// templates, no combinations aimed at branches), still estimating the branches reached: to
/// measure what the search adds (README, Search power).
pub const SEARCH_ENV: &str = "CHARTPROOF_SEARCH";

/// Timestamps of phases and renders on stderr, when [`TRACE_ENV`] is set.
struct Trace {
    started: Instant,
    on: bool,
}

impl Trace {
    fn from_env(started: Instant) -> Trace {
        Trace { started, on: std::env::var_os(TRACE_ENV).is_some_and(|v| !v.is_empty() && v != "0") }
    }

    fn event(&self, what: impl FnOnce() -> String) {
        if self.on {
            eprintln!("chartproof-trace {:8.3} {}", self.started.elapsed().as_secs_f64(), what());
        }
    }
}

/// Renders value sets (as overrides written to a scratch folder) and judges them.
struct Evaluator<'a> {
    chart_name: String,
    cfg: &'a RunConfig,
    /// Verdicts by override: each value set is rendered once, and only its verdict is kept (a
    /// big chart's manifest is megabytes; keeping every render made memory grow with the run).
    verdicts: Mutex<HashMap<String, VerdictSlot>>,
    /// Renders made for the verdict cache (one per distinct value set).
    distinct_renders: AtomicUsize,
    scratch: tempfile::TempDir,
    fresh_renders: AtomicUsize,
    /// Requests through the cache (hits = requests - renders, whatever the thread timing).
    cached_requests: AtomicUsize,
    /// (kind, template) of resources whose names change on every render (random suffixes):
    /// their findings are identified by template instead of name.
    volatile_names: HashSet<(String, Option<String>)>,
    trace: Trace,
    /// The chart renders the same output for the same values (no random, clock or DNS
    /// function anywhere): a fresh render cannot tell anything new, so none is made.
    reproducible: bool,
    /// Value sets whose render was killed or crashed (the machine, maybe not the chart).
    environmental: Mutex<HashSet<String>>,
}

impl Evaluator<'_> {
    fn request_for(&self, changes: &[Change]) -> Result<RenderRequest> {
        let mut req = self.cfg.request.clone();
        if !changes.is_empty() {
            // JSON is YAML that no YAML 1.1 reader can retype (`"true"`, `"0x1"` stay strings).
            let text = serde_json::to_string_pretty(&override_of(changes))?;
            let path = self.scratch.path().join(format!("{}.json", &value_hash(&override_of(changes))[..32]));
            if !path.exists() {
                let mut tmp = tempfile::NamedTempFile::new_in(self.scratch.path())?;
                std::io::Write::write_all(&mut tmp, text.as_bytes())?;
                tmp.persist(&path).map_err(|e| e.error)?;
            }
            req.values_files.push(path);
        }
        Ok(req)
    }

    /// A render of the base values changed by `changes`, made now.
    fn render(&self, changes: &[Change], purpose: Purpose) -> Result<Result<Rendered, RenderFailure>> {
        let request = self.request_for(changes)?;
        let id = self.trace.on.then(|| format!("{purpose:?} {}", value_hash(&override_of(changes)).get(..8).unwrap_or_default()));
        self.trace.event(|| format!("render-start {}", id.clone().unwrap_or_default()));
        let rendered = crate::render::render(&self.cfg.helm, &request);
        self.trace.event(|| format!("render-end {}", id.unwrap_or_default()));
        rendered
    }

    fn slot(&self, changes: &[Change]) -> VerdictSlot {
        self.verdicts.lock().unwrap().entry(value_hash(&override_of(changes))).or_default().clone()
    }

    /// Record the verdict of a render already made (the base render) as its value set's.
    fn remember(&self, changes: &[Change], verdict: Vec<Failing>) {
        self.distinct_renders.fetch_add(1, Ordering::Relaxed);
        self.cached_requests.fetch_add(1, Ordering::Relaxed);
        let _ = self.slot(changes).set(Ok(verdict));
    }

    /// The failing findings (error severity) of a render with their identities, sorted, one per
    /// identity.
    fn verdict(&self, rendered: &Result<Rendered, RenderFailure>) -> Vec<Failing> {
        match rendered {
            Ok(r) => self.verdict_of_manifest(self.parse(&r.manifest)),
            Err(f) => self.judge(vec![rules::render_error_finding(f, &self.chart_name)], None),
        }
    }

    /// A rendered manifest, its unreadable documents located in the chart's templates.
    fn parse(&self, text: &str) -> Manifest {
        let mut manifest = Manifest::parse(text);
        if !manifest.problems.is_empty() && self.cfg.request.chart_dir.is_dir() {
            manifest.locate_problems(&self.cfg.request.chart_dir);
        }
        manifest
    }

    /// [`Evaluator::verdict`] of a manifest already parsed.
    fn verdict_of_manifest(&self, manifest: Manifest) -> Vec<Failing> {
        let mut findings = rules::check_manifest(&manifest, &self.cfg.rules).findings;
        findings.extend(rules::manifest_problem_findings(&manifest, &self.cfg.rules));
        self.judge(findings, Some(&manifest))
    }

    fn judge(&self, findings: Vec<Finding>, manifest: Option<&Manifest>) -> Vec<Failing> {
        let mut failing: Vec<Failing> = findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|mut finding| {
                let key = FailureKey::of(&finding, manifest);
                if self.volatile_names.contains(&(finding.kind.clone(), finding.template.clone())) {
                    finding.name = VOLATILE_NAME.into();
                }
                Failing { finding, key }
            })
            .collect();
        failing.sort_by(|a, b| (&a.key, &a.finding.message).cmp(&(&b.key, &b.finding.message)));
        failing.dedup_by(|a, b| a.key == b.key);
        failing
    }

    /// The failures of a value set: from its cached verdict, or (to confirm) from a new render.
    fn failures(&self, changes: &[Change], purpose: Purpose) -> Result<Vec<Failing>> {
        if purpose == Purpose::Confirm {
            self.fresh_renders.fetch_add(1, Ordering::Relaxed);
            return Ok(self.verdict(&self.render(changes, purpose)?));
        }
        self.cached_requests.fetch_add(1, Ordering::Relaxed);
        self.cached_verdict(changes, purpose)
    }

    /// The verdict of a value set, rendered the first time it is asked for (not counted as a
    /// request: rendering ahead of the requests that will use it).
    fn cached_verdict(&self, changes: &[Change], purpose: Purpose) -> Result<Vec<Failing>> {
        let slot = self.slot(changes);
        let verdict = slot.get_or_init(|| {
            self.distinct_renders.fetch_add(1, Ordering::Relaxed);
            let rendered = self.render(changes, purpose).map_err(|e| format!("{e:#}"))?;
            if matches!(&rendered, Err(failure) if failure.is_environmental()) {
                self.environmental.lock().unwrap().insert(value_hash(&override_of(changes)));
            }
            Ok(self.verdict(&rendered))
        });
        verdict.clone().map_err(|e| anyhow::anyhow!(e))
    }

    /// Whether a failure of this value set needs a fresh render to be believed: the chart may
    /// render differently each time, or its render was killed or crashed.
    fn needs_confirmation(&self, changes: &[Change]) -> bool {
        !self.reproducible || crate::render::determinism::names_nondeterministic_function(&override_of(changes).to_string()) || self.was_environmental(changes)
    }

    /// Whether the render of this value set was killed or crashed.
    fn was_environmental(&self, changes: &[Change]) -> bool {
        self.environmental.lock().unwrap().contains(&value_hash(&override_of(changes)))
    }

    fn renders(&self) -> usize {
        self.distinct_renders.load(Ordering::Relaxed) + self.fresh_renders.load(Ordering::Relaxed)
    }
}

/// The changes of a failing case that the failing resource's template does not read (its helpers
/// counted): shrinking tries dropping them all first. For a helm error, the template is the
/// innermost template file its chain of `executing "…"` names (an include of another file, a
/// `tpl`): the one that failed. None for a rule whose findings other objects decide too
/// (`Evidence::OtherObjects` in the catalog: a Service and its pods' templates). A hint from the
/// template reader, never a verdict: when the failure needs one of them after all (a read the
/// reader cannot see), that attempt fails and shrinking goes on as without it.
fn unread_by_template(referenced: Option<&crate::audit::ReferencedPaths>, failing: &Failing, changes: &[Change]) -> Vec<Change> {
    let Some(referenced) = referenced else { return Vec::new() };
    let finding = &failing.finding;
    if crate::rules::catalog::lookup(&finding.rule).is_some_and(|r| r.evidence == crate::rules::catalog::Evidence::OtherObjects) {
        return Vec::new();
    }
    let executed = finding.message.split("executing \"").skip(1).filter_map(|rest| rest.split_once('"').map(|(name, _)| name));
    let innermost = executed.collect::<Vec<_>>().into_iter().rev().find(|name| referenced.template_coverage(name, &[]).is_some());
    let Some(template) = innermost.or(finding.template.as_deref()) else { return Vec::new() };
    changes
        .iter()
        .filter(|c| {
            let path: Vec<&str> = c.path.iter().map(String::as_str).collect();
            referenced.template_coverage(template, &path) == Some(crate::audit::Coverage::None)
        })
        .cloned()
        .collect()
}

/// The name findings carry for a resource whose name changes on every render.
const VOLATILE_NAME: &str = "(random name)";

/// (kind, template) of resources present in only one of two renders of the same values.
fn volatile_names(ma: &Manifest, mb: &Manifest) -> HashSet<(String, Option<String>)> {
    let ids = |m: &Manifest| -> HashSet<String> { m.resources.iter().map(|r| r.display_id()).collect() };
    let (ia, ib) = (ids(ma), ids(mb));
    ma.resources
        .iter()
        .filter(|r| !ib.contains(&r.display_id()))
        .chain(mb.resources.iter().filter(|r| !ia.contains(&r.display_id())))
        .map(|r| (r.kind.clone(), r.template.clone()))
        .collect()
}

/// Pointers where two renders of the same values differ.
fn volatile_paths(ma: &Manifest, mb: &Manifest) -> Vec<String> {
    let index = |m: &Manifest| -> BTreeMap<String, Value> { m.resources.iter().map(|r| (r.display_id(), r.body.clone())).collect() };
    let (ia, ib) = (index(ma), index(mb));
    let mut out = Vec::new();
    for id in ia.keys().chain(ib.keys()).collect::<BTreeSet<_>>() {
        match (ia.get(id), ib.get(id)) {
            (Some(x), Some(y)) => diff_pointers(x, y, &mut String::new(), &mut |p| out.push(format!("{id} {p}"))),
            _ => out.push(format!("{id} (present in only one render)")),
        }
    }
    out.truncate(200);
    out
}

fn diff_pointers(a: &Value, b: &Value, path: &mut String, out: &mut dyn FnMut(String)) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()).collect::<BTreeSet<_>>() {
                let len = path.len();
                path.push('/');
                path.push_str(&crate::chart::values::pointer_segment(k));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => diff_pointers(p, q, path, out),
                    _ => out(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                diff_pointers(p, q, path, out);
                path.truncate(len);
            }
        }
        (x, y) if x != y => out(path.clone()),
        _ => {}
    }
}

/// A confirming render's failure keys, made once per case.
type ConfirmSlot = OnceLock<Result<HashSet<FailureKey>, String>>;

/// What a worker of the run does next.
enum Job {
    /// Check the planned case at this position.
    Case(usize),
    /// Confirm and shrink the new failures at these positions of `Schedule::new_failures`, all
    /// found by one case, one after the other: they share the case's confirming render and
    /// usually most shrink steps (from the verdict cache), so a second worker given one of them
    /// would only wait for the first's renders (on kube-prometheus-stack one did for 1.1 s).
    Shrink(std::ops::Range<usize>),
}

/// The work of a run's workers: planned cases to check in plan order, and each new failure to
/// confirm and shrink, queued once every case before the one that found it is checked: the plan
/// order, not thread timing, decides which case found a failure (as when shrinking waited for
/// all cases).
struct Schedule {
    /// The next planned case to start.
    next_case: usize,
    /// Cases started and not finished.
    in_flight: usize,
    /// No further case starts (all started, or the time budget or Ctrl-C came).
    cases_closed: bool,
    /// Verdicts of the checked cases, by position.
    results: Vec<Option<Vec<Failing>>>,
    /// Cases before this position are settled: their new failures are queued.
    settled: usize,
    /// Failure identities already found (saved cases, earlier cases).
    known: HashSet<FailureKey>,
    /// New failures in plan order (position of the case that found it, the failure), with the
    /// outcome of each (`None`: did not reproduce, or not done yet) and the next to start.
    new_failures: Vec<(usize, Failing)>,
    shrunk: Vec<Option<Shrunk>>,
    next_failure: usize,
    error: Option<anyhow::Error>,
}

impl Schedule {
    fn new(cases: usize, known: HashSet<FailureKey>) -> Schedule {
        Schedule {
            next_case: 0,
            in_flight: 0,
            cases_closed: false,
            results: vec![None; cases],
            settled: 0,
            known,
            new_failures: Vec::new(),
            shrunk: Vec::new(),
            next_failure: 0,
            error: None,
        }
    }

    /// Queue the new failures of the cases whose predecessors are all checked; once no case
    /// runs or starts any more, of all checked cases (the unchecked ones are skipped).
    fn settle(&mut self) {
        let all_done = self.cases_closed && self.in_flight == 0;
        while self.settled < self.results.len() && (all_done || self.results[self.settled].is_some()) {
            for f in self.results[self.settled].iter().flatten() {
                if self.known.insert(f.key.clone()) {
                    self.new_failures.push((self.settled, f.clone()));
                    self.shrunk.push(None);
                }
            }
            self.settled += 1;
        }
    }

    /// The next queued failures to confirm and shrink: the next one and the others its case found.
    fn next_failure(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.next_failure;
        let at = self.new_failures.get(start)?.0;
        let same_case = self.new_failures[start..].iter().take_while(|(a, _)| *a == at).count();
        self.next_failure += same_case;
        Some(start..self.next_failure)
    }
}

/// The value a scoped thread returned (its panic goes on in the caller).
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Run the property test.
pub fn run(chart: &Chart, cfg: &RunConfig) -> Result<TestReport> {
    let started = Instant::now();
    let contract = Contract::for_helm(chart, crate::contract::HelmDialect::for_major(cfg.helm.major))?;
    let chart_name = chart.meta.name.clone();
    // The contract judges user values coalesced over the chart defaults, as helm does: give it
    // the override that turns the defaults into the merged set (nulls for deleted keys).
    let is_valid = |merged: &Value| contract.is_valid(&override_between(&chart.values.value, merged));
    if !is_valid(&cfg.base) {
        bail!(
            "{}: the {} do not satisfy the chart's values contract; fix them before generating cases",
            chart.source.display(),
            if cfg.base_value_args.is_empty() { "chart defaults" } else { "defaults with the given base values" }
        );
    }
    let mut ev = Evaluator {
        chart_name: chart_name.clone(),
        cfg,
        verdicts: Mutex::new(HashMap::new()),
        distinct_renders: AtomicUsize::new(0),
        scratch: tempfile::tempdir().context("cannot create a scratch folder for values overrides")?,
        fresh_renders: AtomicUsize::new(0),
        cached_requests: AtomicUsize::new(0),
        volatile_names: HashSet::new(),
        trace: Trace::from_env(started),
        reproducible: cfg.request.chart_dir.is_dir()
            && crate::render::determinism::chart_is_reproducible(&cfg.request.chart_dir).unwrap_or(false)
            && !crate::render::determinism::names_nondeterministic_function(&cfg.base.to_string()),
        environmental: Mutex::new(HashSet::new()),
    };
    let mut coverage = Coverage { shard: cfg.shard.map(|s| s.to_string()), ..Default::default() };
    ev.trace.event(|| "phase base-renders (contract built)".into());

    // A shell command line: the program words, the chart, the base values, then `tail`.
    let command_line = |program: &[String], tail: &[String]| -> String {
        let base = cfg.base_value_args.iter().cloned();
        let words: Vec<String> = program.iter().cloned().chain([cfg.chart_arg.clone()]).chain(base).chain(tail.iter().cloned()).collect();
        words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ")
    };
    let helm_command = || command_line(&[cfg.helm.path.display().to_string(), "template".into(), cfg.request.release_name.clone()], &[]);

    // The base render, twice (at once: they are independent): it must work, and what differs
    // between the two is volatile. The second, a fresh render, confirms the defaults' failures.
    // The plan (this process's own work) is made meanwhile, on the core the renders leave.
    let generation_deadline = cfg.time_budget.map(|b| started + b.mul_f64(0.7));
    let make_plan = || {
        // Keys no template reads need not vary; when the audit cannot follow every read, all vary.
        ev.trace.event(|| "phase template-audit".into());
        let referenced = crate::audit::referenced_paths(chart).ok();
        let followed = referenced.as_ref().filter(|r| r.unresolved.is_empty());
        let is_read = |path: &[String]| {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            followed.is_none_or(|r| r.coverage(&path) != crate::audit::Coverage::None)
        };
        ev.trace.event(|| "phase plan".into());
        let values_text = std::fs::read_to_string(&chart.values.file).ok();
        let model = crate::generate::branches::BranchModel::of_chart(&chart.dir, values_text.as_deref());
        let planned = plan(&PlanInput {
            base: &cfg.base,
            schema: &contract.schema,
            is_valid: &is_valid,
            seed: cfg.seed,
            cases: cfg.cases,
            is_read: Some(&is_read),
            deadline: generation_deadline,
            branches: Some(&model),
            aim: std::env::var(SEARCH_ENV).map_or(true, |v| v != "random"),
        });
        ev.trace.event(|| "phase planned".into());
        (planned, model, referenced)
    };
    let (first, second, the_plan) = std::thread::scope(|s| {
        let second = (cfg.replay_only.is_none() && !ev.reproducible).then(|| s.spawn(|| ev.render(&[], Purpose::Base)));
        let planned = cfg.replay_only.is_none().then(|| s.spawn(make_plan));
        let first = ev.render(&[], Purpose::Base);
        (first, second.map(joined), planned.map(joined))
    });
    let first = match first? {
        Ok(r) => r,
        // No values can make templates that do not parse render: that is the chart's failure,
        // reported as `check` reports it, not a request for base values.
        Err(RenderFailure::Helm(e)) if e.parse_error => {
            coverage.stopped = Some(TEMPLATES_DO_NOT_PARSE.into());
            let failures = ev.verdict(&Err(RenderFailure::Helm(e))).into_iter().map(|f| TestFailure::of(f.finding, Value::Object(Default::default()), helm_command(), None, "default", "defaults".into()));
            return Ok(finish(&ev, chart_name, cfg, coverage, failures.collect(), 0));
        }
        Err(failure) => {
            let msg = failure.to_string();
            let msg = msg.lines().next().unwrap_or_default();
            if let RenderFailure::Timeout(_) = failure {
                bail!("{chart_name}: {msg} at the defaults; a slow machine or a large chart may need a longer --helm-timeout; no cases were run");
            }
            // helm's action.CheckDependencies (pkg/action/dependency.go) refuses a chart whose
            // Chart.yaml lists dependencies charts/ lacks: no values can fix that.
            if let Some(missing) = msg.split("missing in charts/ directory:").nth(1) {
                bail!("{chart_name}: dependencies listed in Chart.yaml are missing from charts/ ({}); run `helm dependency build` in the chart directory first; no cases were run", missing.trim());
            }
            if cfg.base_value_args.is_empty() {
                bail!("{chart_name} does not render at its defaults ({msg}); give base values with -f FILE (e.g. a ci/*values.yaml of the chart); no cases were run");
            }
            bail!("{chart_name} does not render with the given base values ({msg}); no cases were run");
        }
    };
    let second = match second {
        Some(second) => {
            ev.fresh_renders.fetch_add(1, Ordering::Relaxed);
            second?.ok()
        }
        None => None,
    };
    // Each base manifest is parsed once (two at once), for the volatility comparison and the verdicts.
    let (first_manifest, second_manifest) = std::thread::scope(|s| {
        let second = second.as_ref().map(|r| s.spawn(|| ev.parse(&r.manifest)));
        (ev.parse(&first.manifest), second.map(joined))
    });
    drop((first, second));
    if let Some(second) = &second_manifest {
        coverage.volatile_paths = volatile_paths(&first_manifest, second);
        ev.volatile_names = volatile_names(&first_manifest, second);
    }
    let ev = ev;
    let (base_failures, second_failures) = std::thread::scope(|s| {
        let second = second_manifest.map(|m| s.spawn(|| ev.verdict_of_manifest(m)));
        (ev.verdict_of_manifest(first_manifest), second.map(joined))
    });
    let mut defaults_confirmed: Option<HashSet<FailureKey>> = second_failures.map(|f| f.into_iter().map(|f| f.key).collect());
    if ev.reproducible {
        // A second render would be the same: nothing is volatile, every failure reproduces.
        ev.trace.event(|| "reproducible chart: no second base render, no confirming renders".into());
        defaults_confirmed = Some(base_failures.iter().map(|f| f.key.clone()).collect());
    }
    ev.remember(&[], base_failures.clone());

    let mut failures: Vec<TestFailure> = Vec::new();
    let mut known: HashSet<FailureKey> = HashSet::new();
    let replay_cmd = |file: &Path| command_line(&["chartproof".into(), "test".into()], &["--replay".into(), file.display().to_string()]);

    // Saved cases first.
    ev.trace.event(|| "phase replay".into());
    let saved = match &cfg.replay_only {
        Some(file) => vec![cases::load_file(file)?],
        None => cases::load_dir(&cfg.cases_dir)?,
    };
    // Their renders run `jobs` at a time (into the verdict cache); they are judged in order below.
    let replayed: Vec<Vec<Change>> = saved.iter().map(|loaded| changes_of_override(&cfg.base, &loaded.case.values)).collect();
    let renderable: Vec<&Vec<Change>> = replayed.iter().filter(|changes| is_valid(&apply_changes(&cfg.base, changes))).collect();
    let next_replay = AtomicUsize::new(0);
    let replay_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.max(1).min(renderable.len()) {
            s.spawn(|| {
                while let Some(changes) = renderable.get(next_replay.fetch_add(1, Ordering::SeqCst)) {
                    if let Err(e) = ev.cached_verdict(changes, Purpose::Replay) {
                        *replay_error.lock().unwrap() = Some(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = replay_error.into_inner().unwrap() {
        return Err(e);
    }
    for (loaded, changes) in saved.iter().zip(replayed) {
        coverage.replayed_cases += 1;
        // A case passes when the contract now forbids its values or its failure is gone.
        let still_failing = if is_valid(&apply_changes(&cfg.base, &changes)) {
            ev.failures(&changes, Purpose::Replay)?.into_iter().find(|f| expected_matches(&loaded.case.expect, f))
        } else {
            None
        };
        if still_failing.is_none() && cfg.prune_cases && cfg.replay_only.is_none() {
            std::fs::remove_file(&loaded.path).with_context(|| format!("cannot prune {}", loaded.path.display()))?;
            coverage.pruned_cases += 1;
        }
        if let Some(Failing { finding: f, key }) = still_failing {
            coverage.replayed_still_failing += 1;
            known.insert(key);
            failures.push(TestFailure::of(
                f,
                loaded.case.values.clone(),
                replay_cmd(&loaded.path),
                Some(loaded.path.display().to_string()),
                "saved-case",
                format!("saved case {}", loaded.path.file_name().unwrap_or_default().to_string_lossy()),
            ));
        }
    }
    if cfg.replay_only.is_some() {
        return Ok(finish(&ev, chart_name, cfg, coverage, failures, 0));
    }

    // The plan, and this shard's part of it.
    let (the_plan, branch_model, referenced) = the_plan.expect("planned beside the base renders unless only replaying");
    coverage.keys_not_read = the_plan.keys_not_read;
    coverage.cases_planned = the_plan.cases.len();
    coverage.candidates_generated = the_plan.generated;
    coverage.candidates_rejected = the_plan.rejected;
    coverage.rejection_rate = if the_plan.generated == 0 { 0.0 } else { (the_plan.rejected as f64 / the_plan.generated as f64 * 1000.0).round() / 1000.0 };
    let mine: Vec<&PlannedCase> = the_plan.cases.iter().filter(|c| cfg.shard.is_none_or(|s| c.index % s.count == s.index - 1)).collect();
    if !mine.iter().any(|c| c.index == 0) {
        // Another shard reports the default failures.
        known.extend(base_failures.iter().map(|f| f.key.clone()));
    }

    let deadline = cfg.time_budget.map(|b| started + b);
    // Cut short by the budget while planning: what was asked is what could have been checked.
    let asked = (0..cfg.cases).filter(|i| cfg.shard.is_none_or(|s| i % s.count == s.index - 1)).count();
    coverage.cases_to_check = if the_plan.cut_short { asked.max(mine.len()) } else { mine.len() };
    let progress = progress_bar(cfg.progress, mine.len());
    ev.trace.event(|| format!("phase cases ({} planned)", mine.len()));
    // The defaults case is the base render already made: it counts whatever the budget left.
    let defaults_checked = mine.first().is_some_and(|c| c.index == 0);
    let mut schedule = Schedule::new(mine.len(), known);
    if defaults_checked {
        schedule.next_case = 1;
        schedule.results[0] = Some(base_failures);
        schedule.settle();
        if let Some(pb) = &progress {
            pb.inc(1);
        }
    }

    // One pool of `jobs` workers: a worker confirms and shrinks a new failure when one is ready,
    // else checks the next planned case, so no core waits for the slowest render of a phase.
    let schedule = Mutex::new(schedule);
    let work_changed = std::sync::Condvar::new();
    let jobs = cfg.jobs.max(1);

    // Each new failure is confirmed by a fresh render and shrunk, as soon as every case before
    // the one that found it is checked. Failures of one case share its confirming render (the
    // defaults': the second base render).
    let confirmations: Mutex<HashMap<usize, Arc<ConfirmSlot>>> = Mutex::new(HashMap::new());
    if let Some(keys) = defaults_confirmed {
        confirmations.lock().unwrap().insert(0, Arc::new(OnceLock::from(Ok(keys))));
    }
    let confirm = |case: &PlannedCase, slot: &ConfirmSlot| {
        slot.get_or_init(|| ev.failures(&case.changes, Purpose::Confirm).map(|fs| fs.into_iter().map(|f| f.key).collect()).map_err(|e| format!("{e:#}")));
    };
    let shrink_confirmed = |case: &PlannedCase, finding: &Failing, confirmed: &dyn Fn() -> Result<bool>| -> Result<Option<Shrunk>> {
        let key = &finding.key;
        let case_values = as_rendered(&cfg.base, &case.changes).0;
        let mut unconfirmed = false;
        // Attempts are renders: candidates the contract rejects cost no render and are not counted.
        let mut probes = 0;
        let mut capped = false;
        let mut probe = |changes: &[Change]| -> Result<Option<bool>> {
            if cfg.stop.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            // Validated and rendered as helm merges it (a map emptied keeps its `null` defaults).
            let (merged, normalized) = as_rendered(&cfg.base, changes);
            if !is_valid(&merged) {
                return Ok(Some(false));
            }
            if probes >= SHRINK_ATTEMPTS {
                capped = true;
                return Ok(None);
            }
            probes += 1;
            let still_fails = ev.failures(&normalized, Purpose::Shrink)?.iter().any(|f| f.key == *key);
            // The first attempt confirms the failure when it still fails on other values, in a
            // render that was not killed; else the case's own fresh render must.
            let shown_again = still_fails && merged != case_values && !ev.was_environmental(&normalized);
            if probes == 1 && !shown_again && !confirmed()? {
                unconfirmed = true;
                return Ok(None);
            }
            Ok(Some(still_fails))
        };
        let unread = unread_by_template(referenced.as_ref(), finding, &case.changes);
        let minimal = shrink(case.changes.clone(), &case.moves, &unread, &mut probe)?;
        // Did not reproduce (found out after the first attempt, or now when there was none).
        if unconfirmed || (probes == 0 && !confirmed()?) {
            return Ok(None);
        }
        let end = if case.changes.is_empty() {
            ShrinkEnd::Minimal
        } else if cfg.stop.load(Ordering::SeqCst) {
            ShrinkEnd::Interrupted
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            ShrinkEnd::TimeBudget
        } else if capped {
            ShrinkEnd::AttemptCap(probes)
        } else {
            ShrinkEnd::Minimal
        };
        let minimal = as_rendered(&cfg.base, &minimal).1;
        // Report the message of the minimal case.
        let finding = ev.failures(&minimal, Purpose::Shrink)?.into_iter().find(|f| f.key == *key).unwrap_or_else(|| finding.clone());
        Ok(Some((finding, minimal, end)))
    };

    let confirm_and_shrink = |at: usize, finding: &Failing| -> Result<Option<Shrunk>> {
        let case = mine[at];
        let key = &finding.key;
        // Stopped by Ctrl-C: reported as found, unconfirmed and unshrunk.
        if cfg.stop.load(Ordering::SeqCst) {
            return Ok(Some((finding.clone(), case.changes.clone(), ShrinkEnd::Interrupted)));
        }
        // A failure is believed once a second render shows it. The shrink's first attempt is one
        // when it still fails; only when it does not (or there is none) is the case rendered
        // afresh (once for all its failures), and the shrink stops there if the failure did not
        // reproduce. Which renders are made depends on verdicts only, never on thread timing or
        // `--jobs`, so neither does the report.
        let slot = ev.needs_confirmation(&case.changes).then(|| confirmations.lock().unwrap().entry(case.index).or_default().clone());
        let confirmed = || -> Result<bool> {
            let Some(slot) = slot.as_deref() else { return Ok(true) };
            confirm(case, slot);
            let keys = slot.get().expect("initialized above");
            keys.as_ref().map(|k| k.contains(key)).map_err(|e| anyhow::anyhow!("{e}"))
        };
        shrink_confirmed(case, finding, &confirmed)
    };
    let failing_cases = AtomicUsize::new(0);
    let out_of_time = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let job = {
                        let mut st = schedule.lock().unwrap();
                        loop {
                            if st.error.is_some() {
                                return;
                            }
                            if let Some(failures) = st.next_failure() {
                                break Job::Shrink(failures);
                            }
                            if !st.cases_closed {
                                let out_of_cases = st.next_case >= mine.len();
                                let timed_out = generation_deadline.is_some_and(|d| Instant::now() >= d);
                                if cfg.stop.load(Ordering::SeqCst) || timed_out || out_of_cases {
                                    if timed_out && !out_of_cases {
                                        out_of_time.store(true, Ordering::SeqCst);
                                    }
                                    st.cases_closed = true;
                                    st.settle();
                                    work_changed.notify_all();
                                    continue;
                                }
                                st.next_case += 1;
                                st.in_flight += 1;
                                break Job::Case(st.next_case - 1);
                            }
                            // Only a case still running can bring new failures to shrink.
                            if st.in_flight == 0 {
                                return;
                            }
                            st = work_changed.wait(st).unwrap();
                        }
                    };
                    match job {
                        Job::Case(i) => {
                            let outcome = ev.failures(&mine[i].changes, Purpose::Case);
                            let mut st = schedule.lock().unwrap();
                            st.in_flight -= 1;
                            match outcome {
                                // A render interrupted by Ctrl-C says nothing about the chart.
                                Ok(_) if cfg.stop.load(Ordering::SeqCst) => {}
                                Ok(found) => {
                                    if !found.is_empty() {
                                        failing_cases.fetch_add(1, Ordering::Relaxed);
                                    }
                                    st.results[i] = Some(found);
                                    if let Some(pb) = &progress {
                                        pb.set_message(format!("{} failing", failing_cases.load(Ordering::Relaxed)));
                                        pb.inc(1);
                                    }
                                }
                                Err(e) => st.error = Some(e),
                            }
                            st.settle();
                            work_changed.notify_all();
                        }
                        Job::Shrink(failures) => {
                            for n in failures {
                                let (at, finding) = schedule.lock().unwrap().new_failures[n].clone();
                                let outcome = confirm_and_shrink(at, &finding);
                                let mut st = schedule.lock().unwrap();
                                match outcome {
                                    Ok(done) => st.shrunk[n] = done,
                                    Err(e) => {
                                        st.error = Some(e);
                                        break;
                                    }
                                }
                            }
                            work_changed.notify_all();
                        }
                    }
                }
            });
        }
    });
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let schedule = schedule.into_inner().unwrap();
    if let Some(e) = schedule.error {
        return Err(e);
    }
    let interrupted = cfg.stop.load(Ordering::SeqCst);
    if interrupted {
        coverage.stopped = Some("interrupted".into());
    } else if out_of_time.load(Ordering::SeqCst) || the_plan.cut_short {
        coverage.stopped = Some("time budget".into());
    }
    let mut varied = BTreeSet::new();
    let mut cases_run = 0;
    for (case, found) in mine.iter().zip(&schedule.results) {
        if found.is_some() {
            cases_run += 1;
            varied.extend(case.changes.iter().map(Change::dotted));
        }
    }
    coverage.paths_varied = varied.into_iter().collect();
    coverage.estimated_branches = estimated_branches(&branch_model, &the_plan, &mine, &schedule.results);
    let new_failures: Vec<(&PlannedCase, Failing)> = schedule.new_failures.into_iter().map(|(at, f)| (mine[at], f)).collect();
    // Interrupted: what was found is reported as found, unshrunk and unsaved (even the failures
    // shrunk before Ctrl-C, so an interrupted run reports the same way whatever the timing).
    let shrunk: Vec<Option<Shrunk>> = if interrupted { new_failures.iter().map(|(case, f)| Some((f.clone(), case.changes.clone(), ShrinkEnd::Interrupted))).collect() } else { schedule.shrunk };
    // Confirmed failures are shrunk; the others did not reproduce.
    coverage.flaky_failures = shrunk.iter().filter(|s| s.is_none()).count();
    ev.trace.event(|| "phase report".into());
    let mut case_file_count = 0usize;
    for ((case, _), done) in new_failures.iter().zip(shrunk) {
        let Some((failing, minimal, end)) = done else { continue };
        // Only Ctrl-C leaves a found failure unsaved (the user asked to stop); one cut short by
        // the time budget or the attempt cap is saved with the override it has.
        let complete = matches!(end, ShrinkEnd::Minimal | ShrinkEnd::AttemptCap(_));
        let values = override_of(&minimal);
        let mut case_file = None;
        if end != ShrinkEnd::Interrupted && cfg.save_cases {
            let saved = SavedCase { version: 1, chart: chart_name.clone(), seed: cfg.seed, values: values.clone(), expect: expected_failure(&failing) };
            if case_file_count == 0 && cfg.request.chart_dir.is_dir()
                && let Some(line) = cases::ensure_helmignored(&cfg.request.chart_dir, &cfg.cases_dir)?
            {
                eprintln!("chartproof: added `{line}` to {}/.helmignore so saved cases stay out of `helm package`", cfg.request.chart_dir.display());
            }
            case_file_count += 1;
            case_file = Some(cases::save(&cfg.cases_dir, &saved)?);
        }
        let replay = match &case_file {
            Some(p) => replay_cmd(p),
            None => {
                // Not saved: a bash line rendering the same values with helm.
                let cmd = helm_command();
                if minimal.is_empty() { cmd } else { format!("{cmd} -f <(echo {})", shell_quote(&serde_json::to_string(&values)?)) }
            }
        };
        let status = match (complete, minimal.is_empty()) {
            (false, _) => "unshrunk",
            (true, true) => "default",
            (true, false) => "new",
        };
        let mut failure = TestFailure::of(failing.finding, values, replay, case_file.map(|p| p.display().to_string()), status, case.label.clone());
        failure.shrink = (!minimal.is_empty() || end != ShrinkEnd::Minimal).then(|| end.describe());
        failures.push(failure);
    }
    Ok(finish(&ev, chart_name, cfg, coverage, merge_same_cause(failures), cases_run))
}

/// The branch outcomes the cases that ran reach, from the plan's estimates.
fn estimated_branches(model: &crate::generate::branches::BranchModel, the_plan: &crate::generate::plan::Plan, mine: &[&PlannedCase], results: &[Option<Vec<Failing>>]) -> Option<EstimatedBranches> {
    if model.sites.is_empty() {
        return None;
    }
    let mut taken = BTreeSet::new();
    let mut decided = BTreeSet::new();
    for (case, result) in mine.iter().zip(results) {
        if let (Some(_), Some(reach)) = (result, the_plan.reach.get(case.index)) {
            taken.extend(reach.taken.iter().copied());
            decided.extend(reach.decided.iter().copied());
        }
    }
    let not_reached: Vec<BranchNotReached> = model
        .sites
        .iter()
        .enumerate()
        .filter(|(i, _)| !taken.contains(i))
        .map(|(_, s)| BranchNotReached { template: s.file.clone(), line: s.line, branch: s.label.clone(), decided: decided.contains(&s.chain) })
        .collect();
    Some(EstimatedBranches { total: model.sites.len(), reached: taken.len(), decided_not_reached: not_reached.iter().filter(|n| n.decided).count(), not_reached })
}

fn finish(ev: &Evaluator, chart: String, cfg: &RunConfig, mut coverage: Coverage, failures: Vec<TestFailure>, cases_run: usize) -> TestReport {
    coverage.distinct_renders = ev.distinct_renders.load(Ordering::Relaxed);
    coverage.cache_hits = ev.cached_requests.load(Ordering::Relaxed) - coverage.distinct_renders;
    TestReport { chart, cases_run, seed: cfg.seed, renders: ev.renders(), failures, coverage }
}

fn progress_bar(wanted: bool, len: usize) -> Option<indicatif::ProgressBar> {
    if !wanted {
        return None;
    }
    if !std::io::stderr().is_terminal() {
        return Some(crate::report::progress::plain_bar(len as u64, "chartproof test", "cases", "0 failing"));
    }
    let pb = indicatif::ProgressBar::new(len as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} cases, {msg}, {per_sec}, ETA {eta}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_and_rejects_nonsense() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        assert!("0/4".parse::<Shard>().is_err() && "5/4".parse::<Shard>().is_err() && "x".parse::<Shard>().is_err());
    }

    #[test]
    fn one_value_breaking_several_fields_is_one_failure() {
        let failure = |kind: &str, path: &str, rule: &str, values: Value| TestFailure {
            path: Some(path.into()),
            ..TestFailure::of(
                Finding { rule: rule.into(), severity: Severity::Error, kind: kind.into(), namespace: None, name: "n".into(), template: None, path: None, message: "m".into() },
                values,
                "replay".into(),
                None,
                "new",
                "case".into(),
            )
        };
        let name_true = serde_json::json!({"nameOverride": "true"});
        let merged = merge_same_cause(vec![
            failure("Deployment", "metadata.labels.app", "kubernetes-schema", name_true.clone()),
            failure("Service", "spec.selector.app", "kubernetes-schema", name_true.clone()),
            failure("Deployment", "spec.replicas", "kubernetes-schema", serde_json::json!({"replicaCount": 1.5})),
            failure("Deployment", "spec", "probe-readiness", name_true),
        ]);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0].also, vec!["Service/n spec.selector.app".to_string()]);
        assert!(merged[1].also.is_empty() && merged[2].also.is_empty());
    }

    fn failing(rule: &str) -> Failing {
        let finding = Finding { rule: rule.into(), severity: Severity::Error, kind: "Deployment".into(), namespace: None, name: "n".into(), template: None, path: None, message: "m".into() };
        Failing { key: FailureKey::of(&finding, None), finding }
    }

    #[test]
    fn shrinking_first_drops_what_the_failing_template_or_the_innermost_failed_file_does_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Chart.yaml"), "apiVersion: v2\nname: t\nversion: 0.1.0\n").unwrap();
        std::fs::write(tmp.path().join("values.yaml"), "x: 1\ny: 2\nz: 3\n").unwrap();
        std::fs::create_dir(tmp.path().join("templates")).unwrap();
        std::fs::write(tmp.path().join("templates/a.yaml"), "a: {{ .Values.x }}\n").unwrap();
        std::fs::write(tmp.path().join("templates/b.yaml"), "b: {{ .Values.y }}\n").unwrap();
        let referenced = crate::audit::referenced_paths(&Chart::load(tmp.path()).unwrap()).unwrap();
        let changes: Vec<Change> = ["x", "y", "z"].iter().map(|k| Change::set(vec![k.to_string()], &serde_json::json!(0))).collect();
        let unread = |template: Option<&str>, message: &str| {
            let mut f = failing("r");
            f.finding.template = template.map(str::to_string);
            f.finding.message = message.into();
            unread_by_template(Some(&referenced), &f, &changes).iter().map(Change::dotted).collect::<Vec<_>>()
        };
        assert_eq!(unread(Some("t/templates/a.yaml"), "m"), ["y", "z"]);
        // helm's error chain: a.yaml included b.yaml, which failed; `_helpers.tpl` is no file read.
        let chain = r#"executing "t/templates/a.yaml" at <include "x" .>: error calling include: template: t/templates/b.yaml:1:4: executing "t/templates/b.yaml" at <.Values.y.k>: error calling include: executing "t/templates/_helpers.tpl" at <.>: nil pointer"#;
        assert_eq!(unread(Some("t/templates/a.yaml"), chain), ["x", "z"]);
        assert_eq!(unread(None, "m"), Vec::<String>::new(), "no template: no hint");
        assert_eq!(unread(Some("t/templates/unknown.yaml"), "m"), Vec::<String>::new());
        // A Service's selector against the pods of another template: every change may matter.
        let mut f = failing("service-selector");
        f.finding.template = Some("t/templates/a.yaml".into());
        assert_eq!(unread_by_template(Some(&referenced), &f, &changes), Vec::<Change>::new());
        // A platform policy (not in the catalog) judges the one object admission sees.
        let mut f = failing("require-team-label");
        f.finding.template = Some("t/templates/a.yaml".into());
        assert_eq!(unread_by_template(Some(&referenced), &f, &changes).iter().map(Change::dotted).collect::<Vec<_>>(), ["y", "z"]);
    }

    #[test]
    fn new_failures_are_queued_in_plan_order_whatever_order_cases_finish_in() {
        let mut schedule = Schedule::new(4, HashSet::from([failing("known").key]));
        schedule.next_case = 4;
        schedule.in_flight = 3;
        // Case 2 finishes first: its failure waits, as case 1 might find the same one.
        schedule.results[0] = Some(vec![]);
        schedule.results[2] = Some(vec![failing("a"), failing("known")]);
        schedule.in_flight -= 1;
        schedule.settle();
        assert_eq!(schedule.next_failure(), None);
        schedule.results[1] = Some(vec![failing("a"), failing("b")]);
        schedule.in_flight -= 1;
        schedule.settle();
        let queued: Vec<(usize, String)> = schedule.new_failures.iter().map(|(at, f)| (*at, f.key.rule.clone())).collect();
        assert_eq!(queued, [(1, "a".to_string()), (1, "b".to_string())], "case 1 found `a`; case 2's `a` is not new");
        assert_eq!((schedule.next_failure(), schedule.next_failure()), (Some(0..2), None), "one job for the failures of one case");
        // Case 3 was never checked (time budget): once nothing runs, the rest settles past it.
        schedule.cases_closed = true;
        schedule.in_flight -= 1;
        schedule.settle();
        assert_eq!(schedule.settled, 4);
        assert_eq!(schedule.new_failures.len(), 2);
    }

    #[test]
    fn volatile_paths_name_resource_and_pointer() {
        let a = "---\n# Source: c/templates/s.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: abc\n  user: u\n";
        let b = a.replace("abc", "xyz");
        assert_eq!(volatile_paths(&Manifest::parse(a), &Manifest::parse(&b)), vec!["Secret/s /data/password".to_string()]);
        assert!(volatile_paths(&Manifest::parse(a), &Manifest::parse(a)).is_empty());
        let c = a.replace("name: s", "name: s-x1");
        assert_eq!(volatile_names(&Manifest::parse(a), &Manifest::parse(&c)), HashSet::from([("Secret".to_string(), Some("c/templates/s.yaml".to_string()))]));
    }
}
