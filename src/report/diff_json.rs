//! `chartproof diff --output json`: the `DiffReport` as pretty JSON (schema: schemas/diff-report.schema.json).

use crate::diff::DiffReport;

pub fn render(report: &DiffReport) -> String {
    serde_json::to_string_pretty(report).expect("a diff report is always serializable") + "\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_matches_the_published_schema() {
        let report = crate::diff::sample_report();
        let value: serde_json::Value = serde_json::from_str(&super::render(&report)).unwrap();
        let (_, schema) = crate::schemas::all().into_iter().find(|(name, _)| *name == "diff-report.schema.json").unwrap();
        let validator = jsonschema::validator_for(&serde_json::to_value(schema).unwrap()).unwrap();
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(value["summary"]["failed"], true);
        assert!(!value.to_string().contains("new-pass"));
    }
}
