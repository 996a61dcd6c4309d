//! The API server, offline: what happens to a rendered object between `helm install` and storage.
//! Kubernetes applies its defaulting functions (`defaults`), then its built-in validation
//! (`validation`), then admission policies (`crate::policy`). This module owns that pipeline; the
//! rule engine calls it, it never calls the rule engine.

pub mod defaults;
pub mod object;
pub mod validation;

use crate::manifest::Manifest;
use crate::policy::{PolicySet, Verdict};

pub use object::admitted_object;

/// Admission of a release: every request it makes (see `crate::policy::evaluate`), each object
/// as [`admitted_object`] gives it (in its namespace, defaulted, quantities canonical), judged by
/// the policies of `set`.
/// MERGE: built-in validation (`validation`, branch kvalidation) runs between defaulting and
/// the policies; its verdicts join these.
pub fn admit<'m>(manifest: &'m Manifest, set: &'m PolicySet) -> Vec<Verdict<'m>> {
    crate::policy::evaluate::verdicts(manifest, set, admitted_object)
}
