//! Invariant rules asserted on every render: the finding type the engine emits.
//! (The catalog and one file per rule family live beside this file.)

use serde::{Deserialize, Serialize};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One rule violation on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable rule id, e.g. `selector-mismatch`.
    pub rule: String,
    pub severity: Severity,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Template that produced the resource (helm's `# Source:`).
    pub template: Option<String>,
    /// Dotted path inside the resource, e.g. `spec.template.spec.containers[name=app].image`.
    pub path: Option<String>,
    pub message: String,
}
