//! One file per subcommand: its flags (clap) and a `run` that drives the pipeline and hands the
//! result to a reporter. `main.rs` only parses and dispatches here.

pub mod common;
pub mod check;
pub mod rules;
pub mod diff;
pub mod schema;
pub mod validate;
pub mod test;
pub mod audit;
pub mod completions;
pub mod unittest;
