//! The values contract of a chart: its values.schema.json (or one inferred from values.yaml),
//! and how two contracts compare (`compat`).

pub mod compat;
