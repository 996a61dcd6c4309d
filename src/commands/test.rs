//! `chartproof test CHART`: property-based rendering. Generates value sets from the contract,
//! renders each with real helm, checks every render, shrinks failures to minimal overrides, saves
//! them as regression cases under `cases/` and replays saved cases first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use super::common::{EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, HelmArgs, TemplateArgs, ValuesArgs, exit, print_stdout};
use crate::chart::targets::{Target, TargetArgs, jobs_or_cores, parallel_items, run_in_parallel};
use crate::chart::Chart;
use crate::baseline::{BaselineArgs, Split, retain_new};
use crate::generate::runner::{self, RunConfig, Shard, TEMPLATES_DO_NOT_PARSE, TestFailure, TestReport};
use crate::rules::{Finding, Suppressed};
use crate::report::json::{TargetReport, several_targets};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestOutput {
    /// One block per distinct failure with its minimal override and replay command, then coverage
    Human,
    /// `{"cases_run","seed","renders","failures":[…],"coverage":{…}}`; over several charts or
    /// scenarios `{"targets":[{"target","exit_code","report"},…]}` (schemas/test-report.schema.json)
    Json,
    /// JUnit XML: one testcase per failing resource × rule; one testsuite per chart or scenario
    Junit,
    /// SARIF 2.1.0 (file = source template)
    Sarif,
    /// GitHub Actions annotations
    Github,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  chartproof test ./mychart                           # 100 cases, saved failures replayed first
  chartproof test ./mychart --cases 500 --seed 7 -j 4
  chartproof test ./mychart --time-budget 5m --shard 2/4 -o json
  chartproof test ./loki -f ci/default-values.yaml    # a chart that needs base values
  chartproof test ./mychart --replay cases/<file>.yaml
  chartproof test ./mychart --seed 1 --baseline chartproof-baseline.json   # fail on new failures only
  chartproof test ./mychart --coverage coverage      # which template lines and branches the cases ran

Failures are shrunk to a minimal override and saved under cases/ (never overwriting a file).
Each helm run is killed after --helm-timeout and reported as a render-error.

Exit codes:
  0  no failure
  1  failures found (each with its minimal override and a replay command), including
     templates that do not parse (a render-error at the defaults)
  2  unusable input: chart not found, unreadable YAML, invalid .chartproof.yaml or
     values.schema.json, the chart does not render at its defaults (give -f), no helm
  3  no planned case was checked (the time budget or Ctrl-C came first) and no failure
     was found: nothing was shown, so the run does not pass. A run that checked some
     but not all cases says `N of M cases checked` and exits 0 or 1.
With several charts or scenarios: the worst of 2, 1, 3, 0 over the runs (all still run), one
baseline over all of them, and --replay FILE runs on the charts FILE is a saved case of (FILE in the
chart's folder or saved from a chart of that name; a FILE that does not exist is looked up in each
chart's cases/).")]
pub struct TestArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Number of value sets to plan (defaults first, then one-key changes, then combinations)
    #[arg(long, default_value_t = 100, value_parser = super::common::at_least_one, allow_negative_numbers = true)]
    pub cases: usize,
    /// Seed of the generator: the same seed and chart give the same cases and report
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Parallel helm renders (default: number of cores); over several charts or scenarios, also
    /// the charts run at once, which share the renders
    #[arg(long, short = 'j', value_parser = super::common::at_least_one, allow_negative_numbers = true)]
    pub jobs: Option<usize>,
    /// Stop cleanly after this long, planning included, and report what was covered (e.g. 90s, 5m, 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub time_budget: Option<Duration>,
    /// Run only part K of N of the planned cases (for CI matrices)
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Base values every case starts from (-f FILE, --set, --set-string; needed by charts that fail
    /// at their defaults)
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Where regression cases are read and saved (default: the chart's cases/)
    #[arg(long, value_name = "DIR")]
    pub cases_dir: Option<PathBuf>,
    /// Do not save new failures as cases
    #[arg(long)]
    pub no_save: bool,
    /// Delete saved cases that now pass (their defect is fixed, or the contract forbids their values)
    #[arg(long)]
    pub prune_cases: bool,
    /// Replay only this saved case file
    #[arg(long, value_name = "CASE_FILE")]
    pub replay: Option<PathBuf>,
    /// Rule configuration file (default: the chart's .chartproof.yaml, if any)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = TestOutput::Human)]
    pub output: TestOutput,
    #[command(flatten)]
    pub helm: HelmArgs,
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
    #[command(flatten)]
    pub coverage: crate::coverage::CoverageArgs,
}

/// `90`, `90s`, `5m`, `1h`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?}: use seconds or a number with s/m/h, like 90s, 5m, 1h30m");
    if let Ok(n) = s.trim().parse::<f64>() {
        return if n >= 0.0 { Ok(Duration::from_secs_f64(n)) } else { Err(bad()) };
    }
    let mut total = 0.0;
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

pub fn run(args: TestArgs) -> Result<ExitCode> {
    args.coverage.clone().around("test", &args.target.clone(), || run_uncovered(args))
}

fn run_uncovered(args: TestArgs) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Only one handler per process; a second run in the same process keeps the first.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    args.baseline.check_readable()?;
    let targets = args.target.targets()?;
    if targets.is_empty() {
        return Ok(exit(EXIT_OK));
    }
    let for_target = |target: &Target| {
        let mut one = args.clone();
        one.target.charts = vec![target.chart.clone()];
        one.values.values.splice(0..0, target.scenario.clone());
        one
    };
    if targets.len() == 1 && targets[0].scenario.is_none() {
        let one = for_target(&targets[0]);
        let mut tested = run_target(&one, stop, true)?;
        let split = args.baseline.apply("test", findings_of(&tested.report), &args.template.release_name)?;
        let known = retain_known(&one, &mut tested, &split);
        print_stdout(&target_text(&one, &tested, &split, known)?)?;
        return Ok(exit(exit_code(&tested.report)));
    }
    // `--replay FILE` replays on the targets it is a case of.
    let replays: Vec<Option<PathBuf>> = match &args.replay {
        None => vec![None; targets.len()],
        Some(file) => {
            let found = targets.iter().map(|t| replay_for(file, t, args.cases_dir.as_deref())).collect::<Result<Vec<_>>>()?;
            if found.iter().all(Option::is_none) {
                bail!("--replay {}: not a saved case of any of the {} charts or scenarios (neither in their folders, nor saved from a chart of theirs, nor in their cases/)", file.display(), targets.len());
            }
            found
        }
    };
    let work: Vec<(&Target, Option<PathBuf>)> = targets.iter().zip(replays).collect();
    // Charts run in parallel, each with its share of -j for its renders. Several at once share
    // one progress line (charts done) instead of one per chart.
    let jobs = jobs_or_cores(args.jobs);
    let one_at_a_time = parallel_items(jobs, targets.len()) == 1;
    let fleet_progress = (!one_at_a_time).then(|| crate::report::progress::plain_bar(targets.len() as u64, "chartproof test", "charts", "running"));
    let test_target = |(target, replay): &(&Target, Option<PathBuf>), share: usize| {
        if stop.load(Ordering::SeqCst) || (args.replay.is_some() && replay.is_none()) {
            return None;
        }
        let mut one = for_target(target);
        one.jobs = Some(share);
        one.replay = replay.clone();
        Some(run_target(&one, stop.clone(), one_at_a_time).map(|tested| (one, tested)))
    };
    let mut runs: Vec<(String, Result<(TestArgs, Tested)>)> = Vec::new();
    run_in_parallel(&work, jobs, test_target, |index, tested| {
        if let Some(pb) = &fleet_progress {
            pb.inc(1);
        }
        match tested {
            Some(run) => runs.push((targets[index].label(), run)),
            None if args.replay.is_some() && work[index].1.is_none() => eprintln!("{}: skipped, --replay names a case of another chart", targets[index].label()),
            None => {}
        }
    });
    if let Some(pb) = fleet_progress {
        pb.finish_and_clear();
    }
    report_targets(&args, runs)
}

/// Report the runs of several targets (in target order): one baseline over all of them, each
/// target's report (one JSON entry, JUnit testsuite or SARIF run each), one summary on stderr;
/// the worst exit code.
fn report_targets(args: &TestArgs, mut runs: Vec<(String, Result<(TestArgs, Tested)>)>) -> Result<ExitCode> {
    let per_target = runs.iter().map(|(_, run)| run.as_ref().map(|(_, t)| findings_of(&t.report)).unwrap_or_default()).collect();
    let splits = args.baseline.apply_each("test", per_target, &args.template.release_name)?;
    let (mut sarif_runs, mut json_entries, mut suites) = (Vec::new(), Vec::new(), Vec::new());
    let mut verdicts: Vec<(u8, String)> = Vec::new();
    for ((label, run), split) in runs.iter_mut().zip(splits) {
        let (one, tested) = match run {
            Ok(done) => done,
            Err(e) => {
                eprintln!("error: {label}: {e:#}");
                match args.output {
                    TestOutput::Json => json_entries.push(TargetReport::unusable(label.clone(), format!("{e:#}"))),
                    TestOutput::Junit => suites.push(crate::report::junit::unusable_suite("test", label, &format!("{e:#}"))),
                    _ => {}
                }
                verdicts.push((EXIT_UNUSABLE, label.clone()));
                continue;
            }
        };
        let known = retain_known(one, tested, &split);
        let code = exit_code(&tested.report);
        match args.output {
            TestOutput::Json => json_entries.push(TargetReport::done(label.clone(), code, known, tested.report.clone())),
            TestOutput::Junit => suites.push(with_findings_report(one, tested, &split.known, label, crate::report::junit::suite)),
            TestOutput::Sarif => {
                let log = with_findings_report(one, tested, &split.known, &tested.report.chart, crate::report::sarif::to_value);
                let mut run = log["runs"][0].clone();
                run["automationDetails"]["id"] = serde_json::json!(format!("chartproof/test/{label}/"));
                sarif_runs.push(run);
            }
            TestOutput::Human => print_stdout(&format!("== {label}\n{}\n", target_text(one, tested, &split, known)?))?,
            TestOutput::Github => print_stdout(&target_text(one, tested, &split, known)?)?,
        }
        verdicts.push((code, label.clone()));
    }
    match args.output {
        TestOutput::Sarif => print_stdout(&(serde_json::to_string_pretty(&crate::report::sarif::log_of_runs(sarif_runs))? + "\n"))?,
        TestOutput::Json => print_stdout(&several_targets(json_entries)?)?,
        TestOutput::Junit => {
            let mut out = Vec::new();
            crate::report::junit::write_suites("test", suites, &mut out)?;
            print_stdout(&String::from_utf8_lossy(&out))?;
        }
        TestOutput::Human | TestOutput::Github => {}
    }
    let count = |code: u8| verdicts.iter().filter(|(c, _)| *c == code).count();
    eprintln!("tested {} target(s): {} failed, {} unusable, {} with nothing checked", verdicts.len(), count(EXIT_FAILED), count(EXIT_UNUSABLE), count(EXIT_NOTHING_CHECKED));
    for (code, label) in verdicts.iter().filter(|(c, _)| *c != EXIT_OK) {
        eprintln!("  exit {code}: {label}");
    }
    // Unusable input first, then failures, then runs that checked nothing.
    let worst = [EXIT_UNUSABLE, EXIT_FAILED, EXIT_NOTHING_CHECKED].into_iter().find(|c| count(*c) > 0).unwrap_or(EXIT_OK);
    Ok(exit(worst))
}

/// `test -o json`: one chart's report, or with several charts or scenarios one entry per target
/// (schemas/test-report.schema.json).
/// `test -o json` (schemas/test-report.schema.json).
pub type TestJsonReport = crate::report::json::OneOrSeveral<TestReport>;

/// The case file `--replay FILE` replays on `target` in a run over several: FILE when it lies in
/// the target's chart folder or was saved from a chart of the target's name; a FILE that does not
/// exist as given is looked up in the target's cases folder. None: not this target's case.
fn replay_for(file: &Path, target: &Target, cases_dir: Option<&Path>) -> Result<Option<PathBuf>> {
    if !file.exists() {
        let in_cases = cases_dir.map(Path::to_path_buf).unwrap_or_else(|| target.chart.join("cases")).join(file);
        return Ok(in_cases.is_file().then_some(in_cases));
    }
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if real(file).starts_with(real(&target.chart)) {
        return Ok(Some(file.to_path_buf()));
    }
    let saved_from = crate::generate::cases::load_file(file)?.case.chart;
    Ok(Chart::load(&target.chart).is_ok_and(|c| c.meta.name == saved_from).then(|| file.to_path_buf()))
}

/// One chart or scenario tested, before its report is written.
struct Tested {
    chart: Chart,
    report: TestReport,
}

/// Test one chart (the first of `args.charts`).
fn run_target(args: &TestArgs, stop: Arc<AtomicBool>, progress: bool) -> Result<Tested> {
    let chart = Chart::load(args.target.chart())?;
    let mut rules = crate::rules::Config::for_chart(args.config.as_deref(), &chart.dir)?;
    args.policies.load_into(&mut rules, args.template.namespace.as_deref())?;
    let base_values = args.values.load()?;
    // Bad input is reported before a missing helm.
    let helm = args.helm.discover()?;
    let base = base_values.merged_over(&chart.values.value);
    let mut request = args.template.request_for(&chart, &args.helm, rules.kubernetes_version.as_deref());
    args.values.apply_to(&mut request);

    let jobs = jobs_or_cores(args.jobs);
    let cfg = RunConfig {
        helm,
        request,
        base,
        chart_arg: args.target.chart().display().to_string(),
        base_value_args: value_words(&args.values),
        seed: args.seed,
        cases: args.cases,
        jobs,
        time_budget: args.time_budget,
        shard: args.shard,
        cases_dir: args.cases_dir.clone().unwrap_or_else(|| chart.dir.join("cases")),
        save_cases: !args.no_save && !args.target.chart().is_file(),
        prune_cases: args.prune_cases,
        replay_only: args.replay.clone(),
        // On stderr: a bar on a terminal, a plain line every few seconds in a log.
        progress,
        stop,
        rules,
    };
    let report = runner::run(&chart, &cfg)?;
    Ok(Tested { chart, report })
}

/// Drop the failures `split` (a baseline's) knows from the report; how many.
fn retain_known(args: &TestArgs, tested: &mut Tested, split: &Split) -> usize {
    retain_new(&mut tested.report.failures, split, &args.template.release_name, finding_of)
}

/// One target's report in `args.output`, failures known in the baseline left out.
fn target_text(args: &TestArgs, tested: &Tested, split: &Split, known: usize) -> Result<String> {
    let report = &tested.report;
    let write = |format: crate::report::Format| -> Result<String> {
        let mut out = Vec::new();
        with_findings_report(args, tested, &split.known, &report.chart, |r| crate::report::write(format, r, false, &mut out))?;
        Ok(String::from_utf8_lossy(&out).to_string())
    };
    Ok(match args.output {
        TestOutput::Json => serde_json::to_string_pretty(&TestJsonReport::One(Box::new(report.clone())))? + "\n",
        TestOutput::Human => {
            let known = if known > 0 { format!("known: {known} failure(s) in the baseline, not counted\n") } else { String::new() };
            human(report) + &known
        }
        TestOutput::Junit => write(crate::report::Format::Junit)?,
        TestOutput::Sarif => write(crate::report::Format::Sarif)?,
        TestOutput::Github => write(crate::report::Format::Github)?,
    })
}

/// The base values as command-line words for replay commands: `-f FILE`, `--set K=V`, `--set-string K=V`.
fn value_words(values: &ValuesArgs) -> Vec<String> {
    let files = values.values.iter().flat_map(|p| ["-f".to_string(), p.display().to_string()]);
    let sets = values.set.iter().flat_map(|s| ["--set".to_string(), s.clone()]);
    let strings = values.set_string.iter().flat_map(|s| ["--set-string".to_string(), s.clone()]);
    files.chain(sets).chain(strings).collect()
}

/// Exit code: a run that checked no planned case has shown nothing, and must not pass.
pub const EXIT_NOTHING_CHECKED: u8 = 3;

fn exit_code(report: &TestReport) -> u8 {
    if !report.failures.is_empty() {
        EXIT_FAILED
    } else if report.cases_run == 0 && report.coverage.cases_to_check > 0 {
        EXIT_NOTHING_CHECKED
    } else {
        EXIT_OK
    }
}

/// The failures as a report for the shared finding reporters (JUnit, SARIF, GitHub), given to
/// `write`: each failure becomes a finding whose message carries the minimal override and the
/// replay command, located in the chart's own template files as `check` does.
fn with_findings_report<T>(args: &TestArgs, tested: &Tested, known: &[Suppressed], subject: &str, write: impl FnOnce(&crate::report::Report) -> T) -> T {
    let findings = findings_of(&tested.report);
    let sources = crate::report::SourceMap { chart_dir: &tested.chart.dir, chart_name: &tested.chart.meta.name };
    let release = &args.template.release_name;
    write(&crate::report::Report { command: "test", subject, release, findings: &findings, suppressed: known, qos: &[], resources: &[], sources: Some(sources) })
}

/// Each failure as a finding (with its field path) whose message carries the minimal override
/// and the replay command.
fn findings_of(report: &TestReport) -> Vec<Finding> {
    report.failures.iter().map(finding_of).collect()
}

fn finding_of(f: &TestFailure) -> Finding {
    Finding {
        rule: f.rule.clone(),
        severity: f.severity,
        kind: f.kind.clone(),
        namespace: None,
        name: f.name.clone(),
        template: f.template.clone(),
        path: f.path.clone(),
        message: format!(
            "{}{} (minimal override: {}; replay: {})",
            f.message,
            if f.also.is_empty() { String::new() } else { format!("; also {}", f.also.join(", ")) },
            serde_json::to_string(&f.values).unwrap_or_default(),
            f.replay
        ),
    }
}

/// The human report: one block per distinct failure, then a coverage summary.
pub fn human(report: &TestReport) -> String {
    let mut s = String::new();
    for f in &report.failures {
        let mut message = f.message.lines();
        s += &format!("FAIL {} [{}] {}/{}: {}\n", f.rule, f.severity, f.kind, f.name, message.next().unwrap_or_default());
        for line in message {
            s += &format!("  {line}\n");
        }
        if let Some(t) = &f.template {
            s += &format!("  template: {t}\n");
        }
        if let Some(p) = &f.path {
            s += &format!("  field: {p}\n");
        }
        for other in &f.also {
            s += &format!("  also: {other} (same rule, same override)\n");
        }
        if f.status == "default" {
            s += "  occurs with no override (at the defaults and any -f base values): every case inherits it; reported once\n";
        } else {
            let shrink_note = match (f.status.as_str(), f.shrink.as_deref()) {
                ("unshrunk", Some(why)) => format!(" (not shrunk: {why})"),
                (_, Some(why)) if why.starts_with("attempt cap") => format!(" (shrinking stopped: {why}; the override may not be minimal)"),
                _ => String::new(),
            };
            s += &format!("  found by: {}{shrink_note}\n", f.found_by);
            s += if f.status == "unshrunk" { "  override:\n" } else { "  minimal override:\n" };
            s += &readable_yaml(&f.values, 4);
        }
        if let Some(file) = &f.case_file {
            s += &format!("  case: {file}\n");
        }
        s += &format!("  replay: {}\n\n", f.replay);
    }
    let c = &report.coverage;
    let planned = format!("{} planned{}", c.cases_planned, c.shard.as_ref().map(|sh| format!(", shard {sh}")).unwrap_or_default());
    let checked = match &c.stopped {
        Some(why) if report.cases_run < c.cases_to_check => format!("{} of {} cases checked ({why}; {planned})", report.cases_run, c.cases_to_check),
        _ => format!("{} cases checked ({planned})", report.cases_run),
    };
    s += &format!(
        "{checked}, seed {}; {} helm renders ({} distinct value sets, {} cache hits)\n",
        report.seed,
        report.renders,
        c.distinct_renders,
        c.cache_hits
    );
    s += &format!(
        "coverage: {} values paths varied{}; {} of {} generated candidates rejected by the contract ({:.1}%)\n",
        c.paths_varied.len(),
        if c.keys_not_read > 0 { format!(" ({} keys no template reads left alone)", c.keys_not_read) } else { String::new() },
        c.candidates_rejected,
        c.candidates_generated,
        c.rejection_rate * 100.0
    );
    if let Some(b) = &c.estimated_branches {
        s += &format!(
            "template branches: {} of {} reached (estimated from the conditions on each case's values, no instrumented render; {} decided but never taken, {} never decidable from values alone)\n",
            b.reached,
            b.total,
            b.decided_not_reached,
            b.not_reached.len() - b.decided_not_reached
        );
    }
    if c.replayed_cases > 0 {
        s += &format!("saved cases: {} replayed, {} still failing\n", c.replayed_cases, c.replayed_still_failing);
    }
    if !c.volatile_paths.is_empty() {
        s += &format!(
            "volatile (differs between two renders of the same values, not a failure): {}{}\n",
            c.volatile_paths.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if c.volatile_paths.len() > 5 { format!(" and {} more", c.volatile_paths.len() - 5) } else { String::new() }
        );
    }
    if c.flaky_failures > 0 {
        s += &format!("{} failure(s) did not reproduce on a fresh render and were not reported\n", c.flaky_failures);
    }
    match c.stopped.as_deref() {
        Some(TEMPLATES_DO_NOT_PARSE) => s += "the chart's templates do not parse: no value set can render, no case was run; fix the template above\n",
        Some(why) => s += &format!("stopped early ({why}): the coverage above is what ran\n"),
        None => {}
    }
    s += &match (report.failures.len(), exit_code(report)) {
        (_, EXIT_NOTHING_CHECKED) => format!("result: nothing checked: no planned case finished before the run stopped (exit {EXIT_NOTHING_CHECKED})\n"),
        (0, _) => "result: no failures\n".to_string(),
        (n, _) => format!("result: {n} distinct failure(s)\n"),
    };
    s
}

/// Values as block YAML for reading: strings that hold newlines, tabs or only blanks, which YAML
/// block scalars make unreadable (`|2+` and an empty line), are shown as escaped double-quoted
/// strings (`"line1\nline2"`, still valid YAML).
fn readable_yaml(value: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value;
    let pad = " ".repeat(indent);
    let scalar = |v: &Value| -> String {
        match v {
            Value::String(text) if text.trim().is_empty() || text.chars().any(char::is_control) => v.to_string(),
            Value::Object(m) if m.is_empty() => "{}".into(),
            Value::Array(a) if a.is_empty() => "[]".into(),
            _ => serde_yaml::to_string(v).unwrap_or_default().trim_end().to_string(),
        }
    };
    let is_block = |v: &Value| matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty());
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = scalar(&Value::String(k.clone()));
                if is_block(v) {
                    out += &format!("{pad}{key}:\n{}", readable_yaml(v, indent + 2));
                } else {
                    out += &format!("{pad}{key}: {}\n", scalar(v));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for v in items {
                if is_block(v) {
                    let nested = readable_yaml(v, indent + 2);
                    out += &format!("{pad}- {}", &nested[indent + 2..]);
                } else {
                    out += &format!("{pad}- {}\n", scalar(v));
                }
            }
        }
        Value::Object(_) => out += &format!("{pad}{{}}\n"),
        other => out += &format!("{pad}{}\n", scalar(other)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_carries_the_field_path_and_the_other_places() {
        let failure = crate::generate::runner::TestFailure {
            rule: "kubernetes-schema".into(),
            severity: crate::rules::Severity::Error,
            kind: "Deployment".into(),
            name: "release-true".into(),
            message: "true is not of types \"null\", \"string\"".into(),
            template: Some("c/templates/deployment.yaml".into()),
            path: Some("metadata.labels.app".into()),
            values: serde_json::json!({"nameOverride": "true"}),
            replay: "chartproof test c --replay x.yaml".into(),
            case_file: None,
            status: "new".into(),
            found_by: "nameOverride=\"true\"".into(),
            shrink: None,
            also: vec!["Service/release-true spec.selector.app".into()],
        };
        let report = TestReport { chart: "c".into(), cases_run: 2, seed: 0, renders: 2, failures: vec![failure], coverage: Default::default() };
        let findings = findings_of(&report);
        assert_eq!(findings[0].path.as_deref(), Some("metadata.labels.app"));
        assert!(findings[0].message.contains("also Service/release-true spec.selector.app") && findings[0].message.contains("{\"nameOverride\":\"true\"}"));
        let text = human(&report);
        assert!(text.contains("  field: metadata.labels.app\n") && text.contains("  also: Service/release-true spec.selector.app"), "{text}");
    }

    #[test]
    fn values_with_newlines_and_blanks_print_readably() {
        let v = serde_json::json!({"image": {"repository": "line1\nline2", "tag": " "}, "hosts": [{"name": "a: b", "paths": ["/"]}], "empty": {}, "n": 1});
        let text = readable_yaml(&v, 2);
        assert_eq!(
            text,
            "  image:\n    repository: \"line1\\nline2\"\n    tag: \" \"\n  hosts:\n    - name: 'a: b'\n      paths:\n        - /\n  empty: {}\n  n: 1\n"
        );
        let back: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v, "what is shown is the override");
        assert_eq!(readable_yaml(&serde_json::json!({}), 4), "    {}\n");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2.5s").unwrap(), Duration::from_millis(2500));
        assert!(parse_duration("5x").is_err() && parse_duration("m").is_err() && parse_duration("5m3").is_err());
    }
}
