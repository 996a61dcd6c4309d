//! `chartproof validate CHART [-f values.yaml]… [--set k=v]… [-o human|json]`: the user's values
//! merged in Helm's order over the defaults and checked against the chart's contract (its
//! values.schema.json, else the inferred one) and every enabled subchart's contract, with the
//! schema rules of the helm in use (`--helm`, `HELM_BIN`, PATH; Helm 4's when there is none).
//! Exit 0 valid, 1 invalid, 2 unusable input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::common::{EXIT_FAILED, EXIT_OK, HelmArgs, ValuesArgs, exit, print_stdout};
use crate::chart::Chart;
use crate::contract::validate::{ValidationError, validate_values};
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

The values are merged like Helm merges them (later files win, null deletes) and checked against
values.schema.json, or the contract inferred from values.yaml when the chart ships none. Every
error is listed with the file:line:column of the offending value.

The schema is read and applied like the validator of the helm in use (--helm, then HELM_BIN,
then `helm` on PATH; only `helm version` is run): Helm 3 asserts `format` under every $schema and
checks no meta-schema; Helm 4 reads a schema without $schema as 2020-12, asserts `format` only
under draft-04/06/07 and rejects a schema its meta-schema rejects. Without any helm, Helm 4's
rules apply.

Exit codes:
  0  the values satisfy the contract
  1  invalid values (every error listed)
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

pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let chart = Chart::load(&args.chart)?;
    let user = args.values.load()?;
    let helm = args.helm.discover_if_any()?;
    let dialect = helm.as_ref().map_or_else(HelmDialect::default, |h| HelmDialect::for_major(h.major));
    let contract = Contract::for_helm(&chart, dialect)?;
    let errors = validate_values(&contract, &chart, &user);
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
