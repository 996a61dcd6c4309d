//! Typed views of workloads: the pod template of Deployments, StatefulSets, DaemonSets,
//! ReplicaSets, Jobs, CronJobs and bare Pods, and the containers inside it.

use serde_json::{Map, Value};

use super::Resource;

/// Kinds that run pods through a pod template.
pub const WORKLOAD_KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"];

/// A pod template inside a resource, with the JSON pointer where it lives.
#[derive(Debug, Clone, Copy)]
pub struct PodTemplate<'a> {
    pub owner: &'a Resource,
    /// Pointer to the template object (`/spec/template`, `/spec/jobTemplate/spec/template`, or `` for a Pod).
    pub pointer: &'static str,
    pub metadata: Option<&'a Value>,
    pub spec: &'a Value,
}

/// One container (or init container) of a pod template.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    pub name: &'a str,
    pub init: bool,
    /// Index in `containers` or `initContainers`.
    pub index: usize,
    pub body: &'a Value,
}

impl Container<'_> {
    /// Dotted path of this container relative to the resource, e.g. `spec.template.spec.containers[name=app]`.
    pub fn path(&self, template: &PodTemplate) -> String {
        let list = if self.init { "initContainers" } else { "containers" };
        let prefix = pointer_to_path(template.pointer);
        let spec = if prefix.is_empty() { "spec".to_string() } else { format!("{prefix}.spec") };
        format!("{spec}.{list}[name={}]", self.name)
    }

    pub fn image(&self) -> Option<&str> {
        self.body.get("image").and_then(Value::as_str)
    }

    pub fn env(&self) -> impl Iterator<Item = &Value> {
        self.body.get("env").and_then(Value::as_array).into_iter().flatten()
    }

    /// containerPorts as (name, number, protocol).
    pub fn ports(&self) -> Vec<(Option<&str>, Option<i64>, &str)> {
        self.body
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p.get("name").and_then(Value::as_str),
                    p.get("containerPort").and_then(Value::as_i64),
                    p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
                )
            })
            .collect()
    }
}

/// `/spec/template` -> `spec.template`.
pub fn pointer_to_path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

impl<'a> PodTemplate<'a> {
    pub fn of(r: &'a Resource) -> Option<PodTemplate<'a>> {
        let pointer: &'static str = match r.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "ReplicationController" => "/spec/template",
            "CronJob" => "/spec/jobTemplate/spec/template",
            "Pod" => "",
            _ => return None,
        };
        let template = if pointer.is_empty() { &r.body } else { r.body.pointer(pointer)? };
        let spec = template.get("spec")?;
        Some(PodTemplate { owner: r, pointer, metadata: template.get("metadata"), spec })
    }

    pub fn labels(&self) -> Option<&'a Map<String, Value>> {
        self.metadata.and_then(|m| m.get("labels")).and_then(Value::as_object)
    }

    pub fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.metadata.and_then(|m| m.get("annotations")).and_then(Value::as_object)
    }

    /// Whether the pods run to completion (Jobs, CronJobs, Pods with restartPolicy other than Always).
    pub fn runs_to_completion(&self) -> bool {
        match self.owner.kind.as_str() {
            "Job" | "CronJob" => true,
            "Pod" => self.spec.get("restartPolicy").and_then(Value::as_str).is_some_and(|p| p != "Always"),
            _ => false,
        }
    }

    /// Regular containers, then init containers.
    pub fn containers(&self) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for (list, init) in [("containers", false), ("initContainers", true)] {
            for (index, body) in self.spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("");
                out.push(Container { name, init, index, body });
            }
        }
        out
    }

    /// Dotted path of the template relative to the resource (`spec.template`; empty for a Pod).
    pub fn path(&self) -> String {
        pointer_to_path(self.pointer)
    }
}
