//! chartproof: make Helm charts provably safe to ship.
//!
//! The pipeline, one module per stage:
//! `chart` (load chart, values with positions) → `contract` (infer, annotate, validate, compat)
//! → `generate` (strategies, shrink, cases) → `render` (real helm, parallel, cache)
//! → `manifest` (documents, typed workload views) → `rules` (invariants, catalog)
//! → `report` (one file per output format), plus `diff` between two releases.

pub mod admission;
pub mod audit;
pub mod baseline;
pub mod chart;
pub mod commands;
pub mod contract;
pub mod coverage;
pub mod diff;
pub mod generate;
pub mod manifest;
pub mod render;
pub mod report;
pub mod policy;
pub mod rules;
pub mod schemas;
pub mod unittest;
