//! `chartproof diff --output json`: the `DiffReport` as pretty JSON (schema: schemas/diff-report.schema.json).

use crate::diff::DiffReport;

pub fn render(report: &DiffReport) -> String {
    serde_json::to_string_pretty(report).expect("a diff report is always serializable") + "\n"
}
