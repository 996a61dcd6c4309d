//! `coverage.json`: the [`Report`] as JSON: totals, then per chart and template the line and
//! branch counts, every counted line with its hits (and for `unittest` the tests that ran it),
//! every branch with the times it was taken.

use anyhow::Result;

use super::Report;

pub fn render(report: &Report) -> Result<String> {
    Ok(serde_json::to_string_pretty(report)? + "\n")
}
