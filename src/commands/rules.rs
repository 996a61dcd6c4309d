//! `chartproof rules [ID]`: list the rule catalog (id, default severity, summary), or print one
//! rule's rationale and fix.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use super::common::{EXIT_OK, exit, print_stdout};
use crate::rules::catalog;

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof rules                   # id, default severity and summary of every rule
  chartproof rules probe-readiness   # rationale, fix and how to suppress one rule

Exit codes:
  0  listed or explained
  2  unknown rule id")]
pub struct RulesArgs {
    /// Rule id to explain (omit to list all rules)
    pub id: Option<String>,
    /// Also list the ValidatingAdmissionPolicies loaded from these files, as `policy/<name>`
    #[command(flatten)]
    pub policies: crate::policy::PolicyArgs,
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    match args.id {
        None => {
            let policies = crate::policy::Policies::load(&args.policies.policies, args.policies.policy_unbound)?.summaries();
            let rules = catalog::RULES.iter().map(|r| (r.id.to_string(), r.severity.to_string(), r.summary.to_string())).chain(policies);
            let rules: Vec<(String, String, String)> = rules.collect();
            let width = rules.iter().map(|r| r.0.len()).max().unwrap_or(0);
            let list: String = rules.iter().map(|(id, severity, summary)| format!("{id:<width$}  {severity:<7}  {summary}\n")).collect();
            print_stdout(&list)?;
        }
        Some(id) => {
            let Some(r) = catalog::lookup(&id) else {
                bail!("unknown rule `{id}`; run `chartproof rules` for the list");
            };
            print_stdout(&format!(
                "{} ({})\n\n{}\n\nWhy: {}\n\nFix: {}\n\nSuppress on one object with the annotation `chartproof.io/ignore: {}; <reason>`,\nor everywhere with `rules: {{{}: off}}` in .chartproof.yaml.\n",
                r.id, r.severity, r.summary, r.rationale, r.hint, r.id, r.id
            ))?;
        }
    }
    Ok(exit(EXIT_OK))
}
