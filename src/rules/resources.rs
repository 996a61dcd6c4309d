//! Resource requests and limits: `resources-requests`, `resources-limits`, and the pod QoS class
//! computed exactly as Kubernetes does (`qos.ComputePodQOS`, init containers included, requests
//! defaulted from limits as the API server does), reported by `qos-best-effort`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Sink;
use super::quantity::Quantity;
use crate::manifest::{Manifest, PodTemplate};

/// Kubernetes pod QoS class, ordered from lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum QosClass {
    BestEffort,
    Burstable,
    Guaranteed,
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QosClass::BestEffort => "BestEffort",
            QosClass::Burstable => "Burstable",
            QosClass::Guaranteed => "Guaranteed",
        })
    }
}

const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// A container's (or the pod's) requests and limits for cpu and memory, as the API server stores
/// them: a limit without a request defaults the request to the limit.
#[derive(Debug, Default, Clone)]
pub struct Resources {
    pub requests: BTreeMap<&'static str, Quantity>,
    pub limits: BTreeMap<&'static str, Quantity>,
    /// Quantities that do not parse, as (field path, message).
    pub invalid: Vec<(String, String)>,
}

impl Resources {
    /// Read `resources` of a container (or `spec.resources` of a pod).
    pub fn of(resources: Option<&Value>, default_requests: bool) -> Resources {
        let mut out = Resources::default();
        for (field, target) in [("requests", &mut out.requests), ("limits", &mut out.limits)] {
            for name in QOS_RESOURCES {
                let Some(v) = resources.and_then(|r| r.get(field)).and_then(|m| m.get(name)) else { continue };
                match Quantity::from_json(v) {
                    Some(Ok(q)) => {
                        target.insert(name, q);
                    }
                    Some(Err(e)) => out.invalid.push((format!("resources.{field}.{name}"), e)),
                    None => {}
                }
            }
        }
        if default_requests {
            for (name, q) in out.limits.clone() {
                out.requests.entry(name).or_insert(q);
            }
        }
        out
    }
}

/// The QoS class of a pod template, per `ComputePodQOS`: pod-level resources when set, else every
/// container and init container (ephemeral containers cannot set resources).
pub fn pod_qos(t: &PodTemplate) -> QosClass {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let pod_level = t.spec.get("resources").filter(|r| r.get("requests").is_some_and(|v| !v.is_null()) || r.get("limits").is_some_and(|v| !v.is_null()));
    let sets: Vec<Resources> = match pod_level {
        Some(r) => vec![Resources::of(Some(r), true)],
        None => t.containers().iter().map(|c| Resources::of(c.body.get("resources"), true)).collect(),
    };
    for res in &sets {
        for (name, q) in &res.requests {
            if q.is_positive() {
                let sum = requests.entry(name).or_insert(Quantity::ZERO);
                *sum = *sum + *q;
            }
        }
        let mut limits_found = 0;
        for (name, q) in &res.limits {
            if q.is_positive() {
                limits_found += 1;
                let sum = limits.entry(name).or_insert(Quantity::ZERO);
                *sum = *sum + *q;
            }
        }
        if limits_found < QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QosClass::BestEffort;
    }
    if guaranteed && requests.iter().any(|(name, req)| limits.get(name) != Some(req)) {
        guaranteed = false;
    }
    if guaranteed && requests.len() == limits.len() { QosClass::Guaranteed } else { QosClass::Burstable }
}

/// Check requests/limits and QoS; returns the QoS class of every pod template.
pub(super) fn check(manifest: &Manifest, sink: &mut Sink) -> Vec<(String, QosClass)> {
    let mut qos = Vec::new();
    for (r, t) in manifest.workloads() {
        for c in t.containers() {
            let path = format!("{}.resources", c.path(&t));
            let res = Resources::of(c.body.get("resources"), true);
            for (field, e) in &res.invalid {
                sink.report(r, "resources-requests", Some(format!("{}.{}", c.path(&t), field)), format!("container `{}`: {e}", c.name));
            }
            let missing: Vec<&str> = QOS_RESOURCES.iter().copied().filter(|n| !res.requests.contains_key(n)).collect();
            if !missing.is_empty() {
                sink.report(
                    r,
                    "resources-requests",
                    Some(format!("{path}.requests")),
                    format!("{} `{}` has no {} request", if c.init { "init container" } else { "container" }, c.name, missing.join(" and ")),
                );
            }
            if !res.limits.contains_key("memory") {
                sink.report(
                    r,
                    "resources-limits",
                    Some(format!("{path}.limits.memory")),
                    format!("{} `{}` has no memory limit", if c.init { "init container" } else { "container" }, c.name),
                );
            }
        }
        let class = pod_qos(&t);
        qos.push((r.display_id(), class));
        let minimum = sink.config().minimum_qos;
        if class < minimum {
            let what = if class == QosClass::BestEffort { "no container or init container sets a cpu or memory request or limit" } else { "requests and limits are not equal for cpu and memory in every container" };
            let p = t.path();
            sink.report(
                r,
                "qos-best-effort",
                Some(if p.is_empty() { "spec".into() } else { format!("{p}.spec") }),
                format!("pod QoS class is {class} (minimum {minimum}): {what}"),
            );
        }
    }
    qos.sort();
    qos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::{manifest, rules_hit};

    fn deploy(containers: &str, init: &str) -> String {
        format!("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec:\n      containers: {containers}\n      initContainers: {init}\n")
    }

    fn qos_of(containers: &str, init: &str) -> QosClass {
        let m = manifest(&deploy(containers, init));
        let (_, t) = m.workloads().next().unwrap();
        pod_qos(&t)
    }

    const G: &str = "{requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: \"0.5\", memory: 1073741824}}";

    #[test]
    fn qos_follows_kubernetes() {
        assert_eq!(qos_of("[{name: a, image: x}]", "[]"), QosClass::BestEffort);
        assert_eq!(qos_of(&format!("[{{name: a, image: x, resources: {G}}}]"), "[]"), QosClass::Guaranteed);
        // Limits only: requests default to limits -> Guaranteed.
        assert_eq!(qos_of("[{name: a, image: x, resources: {limits: {cpu: 1, memory: 1Gi}}}]", "[]"), QosClass::Guaranteed);
        // 1Gi is not 1G.
        assert_eq!(qos_of("[{name: a, image: x, resources: {requests: {cpu: 1, memory: 1G}, limits: {cpu: 1, memory: 1Gi}}}]", "[]"), QosClass::Burstable);
        // An init container without resources breaks Guaranteed; with resources alone it lifts BestEffort.
        assert_eq!(qos_of(&format!("[{{name: a, image: x, resources: {G}}}]"), "[{name: i, image: x}]"), QosClass::Burstable);
        assert_eq!(qos_of("[{name: a, image: x}]", "[{name: i, image: x, resources: {requests: {memory: 1Mi}}}]"), QosClass::Burstable);
        // Zero requests do not count.
        assert_eq!(qos_of("[{name: a, image: x, resources: {requests: {cpu: 0, memory: \"0\"}}}]", "[]"), QosClass::BestEffort);
        // Only cpu and memory matter.
        assert_eq!(qos_of("[{name: a, image: x, resources: {requests: {ephemeral-storage: 1Gi}}}]", "[]"), QosClass::BestEffort);
    }

    #[test]
    fn qos_finding_and_minimum() {
        let d = deploy("[{name: a, image: x}]", "[]");
        let f = rules_hit(&d, "qos-best-effort");
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("BestEffort"));
        let burst = deploy("[{name: a, image: x, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 1Gi}}}]", "[]");
        assert!(rules_hit(&burst, "qos-best-effort").is_empty());
        let c = crate::rules::Config { minimum_qos: QosClass::Guaranteed, ..Default::default() };
        let out = crate::rules::check_manifest(&manifest(&burst), &c);
        assert_eq!(out.findings.iter().filter(|f| f.rule == "qos-best-effort").count(), 1);
        assert_eq!(out.qos, vec![("Deployment/a".to_string(), QosClass::Burstable)]);
    }

    #[test]
    fn requests_and_memory_limit() {
        let d = deploy("[{name: a, image: x, resources: {requests: {cpu: 100m}}}]", "[]");
        let f = rules_hit(&d, "resources-requests");
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("memory request"), "{}", f[0].message);
        assert_eq!(rules_hit(&d, "resources-limits").len(), 1);
        let ok = deploy("[{name: a, image: x, resources: {requests: {cpu: 100m}, limits: {memory: 64Mi}}}]", "[]");
        assert!(rules_hit(&ok, "resources-requests").is_empty(), "memory limit defaults the request");
        assert!(rules_hit(&ok, "resources-limits").is_empty());
        let bad = deploy("[{name: a, image: x, resources: {requests: {cpu: 1, memory: 1GB}, limits: {memory: 1Gi}}}]", "[]");
        assert!(rules_hit(&bad, "resources-requests").iter().any(|f| f.message.contains("1GB")));
    }
}
