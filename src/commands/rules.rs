//! `chartproof rules [ID]`: list the rule catalog (id, default severity, summary), or print one
//! rule's rationale and fix.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;

use super::common::{EXIT_OK, exit};
use crate::rules::catalog;

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Rule id to explain (omit to list all rules)
    pub id: Option<String>,
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    match args.id {
        None => {
            let width = catalog::RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
            for r in catalog::RULES {
                println!("{:<width$}  {:<7}  {}", r.id, r.severity.to_string(), r.summary);
            }
        }
        Some(id) => {
            let Some(r) = catalog::lookup(&id) else {
                bail!("unknown rule `{id}`; run `chartproof rules` for the list");
            };
            println!("{} ({})\n\n{}\n\nWhy: {}\n\nFix: {}", r.id, r.severity, r.summary, r.rationale, r.hint);
            println!("\nSuppress on one object with the annotation `chartproof.io/ignore: {}; <reason>`,\nor everywhere with `rules: {{{}: off}}` in .chartproof.yaml.", r.id, r.id);
        }
    }
    Ok(exit(EXIT_OK))
}
