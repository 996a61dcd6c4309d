//! Platform policies: the cluster's own ValidatingAdmissionPolicies (CEL), loaded from
//! `--policies` files, compiled once per run and evaluated offline on every render.

pub mod compile;
pub mod library;
pub mod matching;
pub mod objects;
