//! JSON Schemas of chartproof's own files (configuration, saved cases, JSON reports), generated
//! from the Rust types with schemars. The copies in `schemas/` are checked by a test;
//! `CHARTPROOF_BLESS=1 cargo test schemas` rewrites them after an intended change.

/// Every published schema: file name under `schemas/` and its generated content.
pub fn all() -> Vec<(&'static str, schemars::Schema)> {
    vec![
        // (file name, schemars::schema_for!(Type)) — one entry per file chartproof reads or writes.
        ("chartproof-config.schema.json", schemars::schema_for!(crate::rules::Config)),
        ("check-report.schema.json", schemars::schema_for!(crate::report::json::OneOrSeveral<crate::report::json::JsonReport>)),
        ("audit-report.schema.json", schemars::schema_for!(crate::report::json::OneOrSeveral<crate::audit::AuditReport>)),
        ("validate-report.schema.json", schemars::schema_for!(crate::commands::validate::ValidateReport)),
        ("test-case.schema.json", schemars::schema_for!(crate::generate::cases::SavedCase)),
        ("diff-report.schema.json", schemars::schema_for!(crate::diff::DiffReport)),
        ("test-report.schema.json", schemars::schema_for!(crate::commands::test::TestJsonReport)),
        ("baseline.schema.json", schemars::schema_for!(crate::baseline::Baseline)),
        ("coverage.schema.json", schemars::schema_for!(crate::coverage::Report)),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn schemas_folder_matches_the_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let bless = std::env::var_os("CHARTPROOF_BLESS").is_some();
        let mut stale = Vec::new();
        for (name, schema) in super::all() {
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            let path = dir.join(name);
            if bless {
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(name);
            }
        }
        assert!(stale.is_empty(), "schemas/ is stale for {stale:?}; run CHARTPROOF_BLESS=1 cargo test schemas and commit");
    }
}
