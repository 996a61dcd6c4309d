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

/// The API server's built-in validation of one rendered object, after its defaulting functions
/// ran (validation.go assumes defaulted objects: a port's protocol, a pod's restartPolicy).
pub fn validate(object: &serde_json::Value, ctx: &validation::ValidationContext) -> Vec<validation::FieldError> {
    let mut defaulted = object.clone();
    defaults::default_object(&mut defaulted);
    validation::validate_object(&defaulted, ctx)
}

/// Admission of a release: every request it makes (see `crate::policy::evaluate`), each object
/// as [`admitted_object`] gives it (in its namespace, defaulted, quantities canonical), judged by
/// the policies of `set`. Built-in validation ([`validate`]) runs on the same defaulted objects;
/// the rule engine reports both (`kubernetes-validation`, `policy/<name>`).
pub fn admit<'m>(manifest: &'m Manifest, set: &'m PolicySet) -> Vec<Verdict<'m>> {
    crate::policy::evaluate::verdicts(manifest, set, admitted_object)
}
