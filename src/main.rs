//! chartproof command line: parse arguments and dispatch to `commands`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use chartproof::commands;
use chartproof::commands::common::{EXIT_UNUSABLE, exit};

/// Make Helm charts provably safe to ship.
#[derive(Parser)]
#[command(name = "chartproof", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Audit(commands::audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Audit(args) => commands::audit::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit(EXIT_UNUSABLE)
        }
    }
}
