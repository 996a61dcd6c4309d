//! The API server, offline: what happens to a rendered object between `helm install` and storage.
//! Kubernetes applies its defaulting functions (`defaults`), then its built-in validation
//! (`validation`), then admission policies (`crate::policy`). This module owns that pipeline; the
//! rule engine calls it, it never calls the rule engine.

pub mod defaults;
pub mod validation;
