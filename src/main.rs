//! chartproof command line: parse arguments and dispatch to `commands`.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use chartproof::commands;
use chartproof::commands::common::{EXIT_UNUSABLE, exit};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Make Helm charts provably safe to ship.
#[derive(Parser)]
#[command(name = "chartproof", version, about, long_about = None, after_help = "\
Examples:
  chartproof schema ./mychart --write     # derive values.schema.json from values.yaml
  chartproof check ./mychart              # render with helm, check the production SOP
  chartproof test ./mychart               # property-test: generated values, shrunk failures
  chartproof diff ./old.tgz ./mychart     # what an upgrade changes
  chartproof <COMMAND> --help             # examples for each command

helm is found through --helm, then HELM_BIN, then PATH. Colors only on a terminal, never with
NO_COLOR set.

Exit codes:
  0  ok
  1  the check failed (invalid values, error findings, test failures, breaking changes)
  2  unusable input (missing chart, unreadable YAML, bad flags, no helm); the message says
     which file, line and key
  3  test: no planned case was checked (the time budget or Ctrl-C came first) and no failure")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a chart with helm and check every resource against the production SOP
    Check(commands::check::CheckArgs),
    /// List the rules, or explain one
    Rules(commands::rules::RulesArgs),
    /// Infer the values contract (values.schema.json): print it, --write it, or --check it
    Schema(commands::schema::SchemaArgs),
    /// Validate values (-f, --set) against the chart's contract like Helm does
    Validate(commands::validate::ValidateArgs),
    /// Property-test a chart: render generated values with helm, check, shrink, save cases
    Test(commands::test::TestArgs),
    /// Show what upgrading a chart changes: values contract, cluster objects, rule findings
    Diff(commands::diff::DiffArgs),
    /// List values keys no template reads, undeclared keys and empty renders (static, no helm)
    Audit(commands::audit::AuditArgs),
    /// Run the chart's helm-unittest suites (tests/*_test.yaml) with the real helm
    Unittest(commands::unittest::UnittestArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(commands::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Rules(args) => commands::rules::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Unittest(args) => commands::unittest::run(args),
        Command::Completions(args) => commands::completions::run(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit(EXIT_UNUSABLE)
        }
    }
}
