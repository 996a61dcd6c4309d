//! Names others refer to: what an upgrade changes that objects outside the release may point at
//! by name. A Service port's `name` is what ServiceMonitor/PodMonitor `port`, Ingress
//! `backend.service.port.name`, Gateway API routes and NetworkPolicies (through the pods' named
//! container ports) use; a Service, Secret or ConfigMap name is a DNS name or a reference from other
//! releases (`envFrom`, volumes, `secretKeyRef`); a Service's selector decides which pods, in the
//! release or not, get its traffic. Each change is a compatibility finding: chartproof cannot see
//! the consumers, so it says who would break, and never fails the verdict on it alone.

use serde::Serialize;
use serde_json::Value;

use super::resources::{match_resources, rename_source};
use super::volatile::SideResource;

/// What changed about a name others refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceChangeKind {
    /// A Service port's name changed (same port number).
    PortRenamed,
    /// A named Service port is gone.
    PortRemoved,
    /// A Service, Secret or ConfigMap was removed and a near-identical one added under another name.
    Renamed,
    /// A Service, Secret or ConfigMap is gone.
    Removed,
    /// A Service's `spec.selector` changed.
    SelectorChanged,
}

/// One change to a name outside consumers may refer to.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReferenceChange {
    pub kind: String,
    pub namespace: Option<String>,
    /// The object's name on the old side.
    pub name: String,
    pub change: ReferenceChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// Who breaks, in words.
    pub consumers: String,
}

impl ReferenceChange {
    /// `Service ns/web` or `Service web`.
    pub fn display_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Kinds whose name is referred to from outside the release.
const REFERENCED_KINDS: &[&str] = &["Service", "Secret", "ConfigMap"];

/// Every reference-breaking change from `old` to `new` (resources already stabilized).
pub fn reference_changes(old: &[SideResource], new: &[SideResource]) -> Vec<ReferenceChange> {
    let pairs = match_resources(old, new);
    let core = |r: &SideResource| r.id.group.is_empty() && REFERENCED_KINDS.contains(&r.id.kind.as_str());
    let added: Vec<&SideResource> = pairs.iter().filter(|p| p.old.is_none()).filter_map(|p| p.new).filter(|r| core(r)).collect();
    let mut out = Vec::new();
    for pair in &pairs {
        match (pair.old, pair.new) {
            (Some(o), Some(n)) if o.id.kind == "Service" && o.id.group.is_empty() => service_changes(o, n, &mut out),
            (Some(o), None) if core(o) && o.id.template.is_none() => {
                let to = added.iter().find(|a| a.id.kind == o.id.kind && rename_source(a, &[o]).is_some());
                let what = name_consumers(&o.id.kind);
                let (change, new, consumers) = match to {
                    Some(a) => (ReferenceChangeKind::Renamed, Some(Value::String(a.id.name.clone())), format!("renamed to {}: {what} by the old name `{}` break", a.id.name, o.id.name)),
                    None => (ReferenceChangeKind::Removed, None, format!("removed: {what} by the name `{}` break", o.id.name)),
                };
                out.push(change_of(o, change, Some(Value::String(o.id.name.clone())), new, consumers));
            }
            _ => {}
        }
    }
    out
}

fn name_consumers(kind: &str) -> &'static str {
    match kind {
        "Service" => "clients outside the release that reach it by DNS name, and Ingresses, routes or monitors that name it,",
        "Secret" => "workloads outside the release that mount it or read it (envFrom, secretKeyRef, imagePullSecrets)",
        _ => "workloads outside the release that mount it or read it (envFrom, configMapKeyRef)",
    }
}

fn change_of(o: &SideResource, change: ReferenceChangeKind, old: Option<Value>, new: Option<Value>, consumers: String) -> ReferenceChange {
    ReferenceChange { kind: o.id.kind.clone(), namespace: o.resource.namespace.clone(), name: o.id.name.clone(), change, old, new, consumers }
}

/// `(name, port)` of each named port of a Service.
fn named_ports(r: &SideResource) -> Vec<(String, Option<Value>)> {
    let ports = r.resource.body.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
    ports.iter().filter_map(|p| Some((p.get("name")?.as_str()?.to_string(), p.get("port").cloned()))).collect()
}

fn service_changes(o: &SideResource, n: &SideResource, out: &mut Vec<ReferenceChange>) {
    let (old_ports, new_ports) = (named_ports(o), named_ports(n));
    for (name, port) in &old_ports {
        if new_ports.iter().any(|(m, _)| m == name) {
            continue;
        }
        let renamed = new_ports.iter().find(|(m, p)| p == port && port.is_some() && !old_ports.iter().any(|(x, _)| x == m));
        let monitors = "ServiceMonitors and PodMonitors (`port`), Ingress and Gateway backends (`port.name`) and NetworkPolicies";
        let change = match renamed {
            Some((to, _)) => change_of(
                o,
                ReferenceChangeKind::PortRenamed,
                Some(Value::String(name.clone())),
                Some(Value::String(to.clone())),
                format!("port `{name}` renamed to `{to}`: consumers outside the release that refer to port `{name}` by name break ({monitors})"),
            ),
            None => change_of(
                o,
                ReferenceChangeKind::PortRemoved,
                Some(Value::String(name.clone())),
                None,
                format!("port `{name}` removed: consumers outside the release that refer to port `{name}` by name break ({monitors})"),
            ),
        };
        out.push(change);
    }
    let selector = |r: &SideResource| r.resource.body.pointer("/spec/selector").cloned();
    let (os, ns) = (selector(o), selector(n));
    if os != ns {
        out.push(change_of(
            o,
            ReferenceChangeKind::SelectorChanged,
            os,
            ns,
            "selector changed: pods outside the release that carry the old labels stop getting its traffic, and NetworkPolicies, PodMonitors or PodDisruptionBudgets that select the pods by the old labels no longer match them".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn side(text: &str) -> Vec<SideResource> {
        let m = Manifest::parse(text);
        super::super::volatile::stabilize(&m, &m)
    }

    fn service(name: &str, ports: &str, selector: &str) -> String {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {selector}\n  ports: {ports}\n")
    }

    #[test]
    fn renamed_and_removed_ports_and_selector_changes() {
        let old = side(&service("web", "[{name: http, port: 80}, {name: metrics, port: 9090}, {port: 7000}]", "{app: web}"));
        let new = side(&service("web", "[{name: web, port: 80}, {port: 7000}]", "{app: web, tier: front}"));
        let got: Vec<(ReferenceChangeKind, Option<Value>, Option<Value>)> = reference_changes(&old, &new).into_iter().map(|c| (c.change, c.old, c.new)).collect();
        assert_eq!(got[0], (ReferenceChangeKind::PortRenamed, Some("http".into()), Some("web".into())));
        assert_eq!(got[1], (ReferenceChangeKind::PortRemoved, Some("metrics".into()), None));
        assert_eq!(got[2].0, ReferenceChangeKind::SelectorChanged);
        assert_eq!(got.len(), 3);
        assert!(reference_changes(&old, &old).is_empty());
    }

    #[test]
    fn renamed_and_removed_objects() {
        let cm = |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: '1', b: '2', c: '3', d: '4'}}\n");
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {x: y}\n";
        let old = side(&format!("{}---\n{secret}", cm("settings")));
        let new = side(&cm("settings-v2"));
        let got = reference_changes(&old, &new);
        assert_eq!(got.iter().map(|c| (c.kind.as_str(), c.change)).collect::<Vec<_>>(), [("ConfigMap", ReferenceChangeKind::Renamed), ("Secret", ReferenceChangeKind::Removed)]);
        assert!(got[0].consumers.contains("renamed to settings-v2"), "{}", got[0].consumers);
        // A Deployment removed is not a name others refer to.
        let deploy = side("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
        assert!(reference_changes(&deploy, &[]).is_empty());
    }
}
