//! `kubernetes-schema`: validation of built-in resources against the Kubernetes OpenAPI schema,
//! strict about unknown fields. (Not implemented yet: no finding is produced.)

use super::Sink;
use crate::manifest::Manifest;

pub(super) fn check(_manifest: &Manifest, _sink: &mut Sink) {}

/// API groups served by Kubernetes itself (everything else is a custom resource).
pub const BUILTIN_GROUPS: &[&str] = &[
    "", "admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io", "apps", "authentication.k8s.io",
    "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io", "node.k8s.io", "policy",
    "rbac.authorization.k8s.io", "resource.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io",
];

/// Whether an API group is built into Kubernetes.
pub fn builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}
