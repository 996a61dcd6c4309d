//! `chartproof validate CHART [-f values.yaml]… [--set k=v]… [-o human|json]`: the user's values
//! merged in Helm's order over the defaults and checked against the chart's contract (its
//! values.schema.json, else the inferred one) and every enabled subchart's contract, with the
//! schema rules of the helm in use (`--helm`, `HELM_BIN`, PATH; Helm 4's when there is none).
//! Exit 0 valid, 1 invalid, 2 unusable input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use super::common::{EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, HelmArgs, ValuesArgs, exit, print_stdout};
use crate::chart::Chart;
use crate::chart::targets::{DEFAULT_SCENARIOS, glob_files, with_scenarios};
use crate::contract::validate::{ValidationError, unknown_keys, validate_values};
use crate::contract::{Contract, ContractSource, HelmDialect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  chartproof validate ./mychart -f prod-values.yaml
  chartproof validate ./mychart -f base.yaml -f prod.yaml --set image.tag=1.2.3
  chartproof validate ./mychart --set-string podAnnotations.revision=42 -o json
  chartproof validate ./mychart --each 'teams/*.yaml'     # one verdict per file, no helm needed
  chartproof validate ./mychart --scenarios               # each ci/*-values.yaml on its own
  chartproof validate ./mychart -f prod.yaml --strict     # also typos: `replicaCont` (did you mean …)

The values are merged like Helm merges them (later files win, null deletes) and checked against
values.schema.json, or the contract inferred from values.yaml when the chart ships none. Every
error is listed with the file:line:column of the offending value.

--strict also reports every key the contract does not list, with the nearest listed key
(`replicaCont: did you mean replicaCount?`). To make it part of the contract for helm too, close
an object in values.yaml: `# @schema additionalProperties:false` above its key (the inferred
properties list every key its default has; the error then names the nearest one as well).
`global` and each subchart's key are never unknown: a subchart's keys are checked against the
subchart's own contract.

The schema is read and applied like the validator of the helm in use (--helm, then HELM_BIN,
then `helm` on PATH; only `helm version` is run): Helm 3 asserts `format` under every $schema and
checks no meta-schema; Helm 4 reads a schema without $schema as 2020-12, asserts `format` only
under draft-04/06/07 and rejects a schema its meta-schema rejects. Without any helm, Helm 4's
rules apply.

Exit codes:
  0  the values satisfy the contract
  1  invalid values (every error listed); with --each/--scenarios: any file invalid
  2  unusable input: chart not found, unreadable YAML, bad --set, values.schema.json that is not
     JSON or not a JSON Schema the helm in use accepts, a --helm or HELM_BIN that does not run")]
pub struct ValidateArgs {
    /// Chart directory or packaged .tgz
    pub chart: PathBuf,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub helm: HelmArgs,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Validate each values file these globs or paths name on its own (over the -f files and
    /// --set values, if any): one verdict per file, e.g. a folder of per-team values
    #[arg(long, value_name = "GLOB", num_args = 1.., conflicts_with = "scenarios")]
    pub each: Vec<String>,
    /// Validate each of the chart's scenario files (`--scenarios=GLOB` relative to the chart; default
    /// `ci/*-values.yaml`, chart-testing's convention) on its own
    #[arg(long, value_name = "GLOB", num_args = 0..=1, require_equals = true, default_missing_value = DEFAULT_SCENARIOS)]
    pub scenarios: Option<String>,
    /// Also report keys the contract does not list (typos such as `replicaCont`), with the
    /// nearest listed key; `global` and subcharts' keys are checked against their own contracts
    #[arg(long)]
    pub strict: bool,
}

/// The contract's errors, and with --strict the unknown keys too.
fn all_errors(args: &ValidateArgs, contract: &Contract, chart: &Chart, user: &crate::chart::merge::UserValues) -> Vec<ValidationError> {
    let mut errors = validate_values(contract, chart, user);
    if args.strict {
        // A closed object (`additionalProperties: false`) already reported the key.
        let unknown: Vec<ValidationError> = unknown_keys(contract, chart, user).into_iter().filter(|u| !errors.iter().any(|e| e.pointer == u.pointer)).collect();
        errors.extend(unknown);
    }
    errors
}

/// One file's verdict of `validate --each` / `--scenarios`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct FileVerdict {
    /// The values file validated (over the -f files and --set values).
    pub file: PathBuf,
    pub valid: bool,
    pub errors: Vec<ValidationError>,
    /// Why the file could not be validated (unreadable YAML…), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
}

/// The JSON report of `chartproof validate -o json`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ValidateReport {
    /// The chart as given on the command line.
    pub chart: String,
    /// `shipped` (the chart's values.schema.json) or `inferred` (from values.yaml).
    pub contract: ContractKind,
    /// The values.schema.json used, when the chart ships one.
    pub schema_file: Option<PathBuf>,
    /// Whose schema validator the values were judged by.
    pub rules: HelmDialect,
    /// The helm whose rules apply (`v4.1.4`), or none when no helm was found (Helm 4's rules).
    pub helm_version: Option<String>,
    pub valid: bool,
    /// Every error, not just the first.
    pub errors: Vec<ValidationError>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContractKind {
    Shipped,
    Inferred,
}

/// Each file of `--each` / `--scenarios` validated on its own against one contract.
fn run_each(args: &ValidateArgs) -> Result<ExitCode> {
    let chart = Chart::load(&args.chart)?;
    let files: Vec<PathBuf> = match &args.scenarios {
        Some(glob) => {
            let scenarios = with_scenarios(vec![args.chart.clone()], Some(glob))?;
            scenarios.into_iter().filter_map(|t| t.scenario).collect()
        }
        None => args.each.iter().map(|g| glob_files(g)).collect::<Result<Vec<_>>>()?.concat(),
    };
    if files.is_empty() {
        bail!("{}: no scenario file matches {}", args.chart.display(), args.scenarios.as_deref().unwrap_or_default());
    }
    let helm = args.helm.discover_if_any()?;
    let dialect = helm.as_ref().map_or_else(HelmDialect::default, |h| HelmDialect::for_major(h.major));
    let contract = Contract::for_helm(&chart, dialect)?;
    let verdicts: Vec<FileVerdict> = files
        .into_iter()
        .map(|file| {
            let mut values = args.values.clone();
            values.values.push(file.clone());
            match values.load() {
                Ok(user) => {
                    let errors = all_errors(args, &contract, &chart, &user);
                    FileVerdict { file, valid: errors.is_empty(), errors, unusable: None }
                }
                Err(e) => FileVerdict { file, valid: false, errors: Vec::new(), unusable: Some(format!("{e:#}")) },
            }
        })
        .collect();
    match args.output {
        OutputFormat::Json => print_stdout(&(serde_json::to_string_pretty(&verdicts)? + "\n"))?,
        OutputFormat::Human => {
            let mut out = String::new();
            for v in &verdicts {
                match &v.unusable {
                    Some(why) => out += &format!("unusable: {}: {why}\n", v.file.display()),
                    None if v.valid => out += &format!("ok: {}\n", v.file.display()),
                    None => {
                        out += &format!("invalid: {}: {} error(s)\n", v.file.display(), v.errors.len());
                        out += &v.errors.iter().map(|e| format!("  {e}\n")).collect::<String>();
                    }
                }
            }
            let invalid = verdicts.iter().filter(|v| !v.valid).count();
            out += &format!("{} file(s): {} valid, {invalid} not\n", verdicts.len(), verdicts.len() - invalid);
            print_stdout(&out)?;
        }
    }
    Ok(exit(if verdicts.iter().any(|v| v.unusable.is_some()) {
        EXIT_UNUSABLE
    } else if verdicts.iter().any(|v| !v.valid) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    if !args.each.is_empty() || args.scenarios.is_some() {
        return run_each(&args);
    }
    let chart = Chart::load(&args.chart)?;
    let user = args.values.load()?;
    let helm = args.helm.discover_if_any()?;
    let dialect = helm.as_ref().map_or_else(HelmDialect::default, |h| HelmDialect::for_major(h.major));
    let contract = Contract::for_helm(&chart, dialect)?;
    let errors = all_errors(&args, &contract, &chart, &user);
    let (kind, schema_file) = match &contract.source {
        ContractSource::Shipped(p) => (ContractKind::Shipped, Some(p.strip_prefix(&chart.dir).map(|r| args.chart.join(r)).unwrap_or_else(|_| p.clone()))),
        ContractSource::Inferred => (ContractKind::Inferred, None),
    };
    let report = ValidateReport { chart: args.chart.display().to_string(), contract: kind, schema_file, rules: dialect, helm_version: helm.map(|h| h.version), valid: errors.is_empty(), errors };
    match args.output {
        OutputFormat::Json => print_stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?,
        OutputFormat::Human => print_stdout(&human(&report))?,
    }
    Ok(exit(if report.valid { EXIT_OK } else { EXIT_FAILED }))
}

fn human(r: &ValidateReport) -> String {
    let against = match (&r.contract, &r.schema_file) {
        (ContractKind::Shipped, Some(f)) => {
            let helm = r.helm_version.as_ref().map_or_else(|| "no helm found".to_string(), |v| format!("helm {v}"));
            format!("{} as {} checks it ({helm})", f.display(), r.rules.describe())
        }
        _ => "the contract inferred from values.yaml".to_string(),
    };
    if r.valid {
        return format!("ok: values satisfy {against}\n");
    }
    let mut out = format!("invalid: {} error(s) against {against}\n", r.errors.len());
    for e in &r.errors {
        let chart = if e.chart.contains('/') { format!(" [subchart {}]", e.chart.split_once('/').map_or("", |x| x.1)) } else { String::new() };
        out += &format!("  {e}{chart}\n");
    }
    out
}
