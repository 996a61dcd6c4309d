//! `chartproof completions SHELL`: print a shell completion script (clap_complete).

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

use crate::commands::common::{EXIT_OK, exit, print_stdout};

/// Print a completion script for your shell.
#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  chartproof completions bash > ~/.local/share/bash-completion/completions/chartproof
  chartproof completions zsh > \"${fpath[1]}/_chartproof\"
  chartproof completions fish > ~/.config/fish/completions/chartproof.fish
  chartproof completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: Shell,
}

/// `cli` is the whole command tree (from `main.rs`).
pub fn run(args: CompletionsArgs, mut cli: clap::Command) -> Result<ExitCode> {
    let name = cli.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut buf);
    print_stdout(&String::from_utf8(buf)?)?;
    Ok(exit(EXIT_OK))
}
