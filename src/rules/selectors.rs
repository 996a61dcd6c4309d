//! Label selectors: `selector-mismatch` (a workload's selector vs its own pod template),
//! `service-selector` (a Service selecting no pod template of the release) and
//! `service-target-port` (a targetPort no selected container declares), and `service-nodeport`.
//! Also the selector
//! evaluation other rule families share.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Sink;
use crate::manifest::{Container, Manifest, PodTemplate, Resource};

/// Evaluate a `LabelSelector` (matchLabels + matchExpressions) against labels, as
/// `metav1.LabelSelectorAsSelector` does. An empty selector selects everything.
pub fn label_selector_matches(selector: &Value, labels: &Map<String, Value>) -> Result<bool, String> {
    let Some(sel) = selector.as_object() else {
        return if selector.is_null() { Ok(true) } else { Err("selector is not a map".into()) };
    };
    if let Some(ml) = sel.get("matchLabels").filter(|v| !v.is_null()) {
        let ml = ml.as_object().ok_or("matchLabels is not a map")?;
        if !map_selector_matches(ml, labels) {
            return Ok(false);
        }
    }
    for (i, expr) in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let key = expr.get("key").and_then(Value::as_str).ok_or(format!("matchExpressions[{i}] has no key"))?;
        let op = expr.get("operator").and_then(Value::as_str).ok_or(format!("matchExpressions[{i}] has no operator"))?;
        let values: Vec<String> = expr.get("values").and_then(Value::as_array).into_iter().flatten().map(scalar_text).collect();
        let actual = labels.get(key).map(scalar_text);
        let ok = match op {
            "In" if values.is_empty() => return Err(format!("matchExpressions[{i}] ({key} In) needs values")),
            "NotIn" if values.is_empty() => return Err(format!("matchExpressions[{i}] ({key} NotIn) needs values")),
            "In" => actual.is_some_and(|a| values.contains(&a)),
            "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            other => return Err(format!("matchExpressions[{i}] has unknown operator `{other}`")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A plain map selector (Service `spec.selector`, matchLabels): every pair present in `labels`.
pub fn map_selector_matches(selector: &Map<String, Value>, labels: &Map<String, Value>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k).is_some_and(|l| scalar_text(l) == scalar_text(v)))
}

/// Label values as Kubernetes sees them (YAML may have turned `"1"` into a number).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether two objects can be in the same namespace. An unset namespace means "the release
/// namespace", which `helm template` does not tell us, so it is compatible with any.
pub fn same_namespace(a: &Resource, b: &Resource) -> bool {
    match (&a.namespace, &b.namespace) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// The release's pod templates, indexed by label so selector look-ups do not scan every
/// workload (a release of thousands of objects stays linear).
pub struct PodIndex<'a> {
    pub all: Vec<PodTemplate<'a>>,
    by_label: HashMap<(&'a str, String), Vec<usize>>,
}

impl<'a> PodIndex<'a> {
    pub fn new(manifest: &'a Manifest) -> PodIndex<'a> {
        let all: Vec<PodTemplate<'a>> = manifest.workloads().map(|(_, t)| t).collect();
        let mut by_label: HashMap<(&'a str, String), Vec<usize>> = HashMap::new();
        for (i, t) in all.iter().enumerate() {
            for (k, v) in t.labels().into_iter().flatten() {
                by_label.entry((k.as_str(), scalar_text(v))).or_default().push(i);
            }
        }
        PodIndex { all, by_label }
    }

    /// Pod templates that can match a selector whose matchLabels (or map form) are `required`:
    /// those carrying its first pair, or all when it has none.
    pub fn candidates(&self, required: Option<&Map<String, Value>>) -> Vec<PodTemplate<'a>> {
        match required.and_then(|m| m.iter().next()) {
            Some((k, v)) => self.by_label.get(&(k.as_str(), scalar_text(v))).into_iter().flatten().map(|&i| self.all[i]).collect(),
            None => self.all.clone(),
        }
    }

    /// Pod templates a Service-style map selector selects, in `by`'s namespace, by identity.
    pub fn selected(&self, by: &Resource, selector: &Map<String, Value>) -> Vec<PodTemplate<'a>> {
        let mut out: Vec<PodTemplate<'a>> = self
            .candidates(Some(selector))
            .into_iter()
            .filter(|t| same_namespace(t.owner, by) && t.labels().is_some_and(|l| map_selector_matches(selector, l)))
            .collect();
        out.sort_by_key(|t| t.owner.display_id());
        out
    }
}

/// Containers that serve traffic: regular containers and restartable (sidecar) init containers.
pub fn serving_containers<'a>(t: &PodTemplate<'a>) -> Vec<Container<'a>> {
    t.containers().into_iter().filter(|c| !c.init || c.body.get("restartPolicy").and_then(Value::as_str) == Some("Always")).collect()
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        workload_selector(r, &t, sink);
    }
    let pods = PodIndex::new(manifest);
    for svc in manifest.of_kind("Service") {
        service(manifest, &pods, svc, sink);
    }
}

fn workload_selector(r: &Resource, t: &PodTemplate, sink: &mut Sink) {
    let required = matches!(r.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet");
    let selector = match r.kind.as_str() {
        "Pod" | "CronJob" => return,
        _ => r.body.pointer("/spec/selector").filter(|v| !v.is_null()),
    };
    let empty = Map::new();
    let labels = t.labels().unwrap_or(&empty);
    let Some(selector) = selector else {
        if required {
            sink.report(r, "selector-mismatch", Some("spec.selector".into()), format!("{} has no spec.selector; apps/v1 requires one matching the pod template labels", r.kind));
        }
        return;
    };
    let is_empty = selector.as_object().is_some_and(|m| {
        m.get("matchLabels").and_then(Value::as_object).is_none_or(Map::is_empty)
            && m.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty)
    });
    if is_empty && required {
        sink.report(r, "selector-mismatch", Some("spec.selector".into()), "spec.selector is empty; the API server rejects an empty selector for this kind".into());
        return;
    }
    match label_selector_matches(selector, labels) {
        Ok(true) => {}
        Ok(false) => sink.report(
            r,
            "selector-mismatch",
            Some("spec.selector".into()),
            format!("spec.selector {} does not select the pod template labels {}", compact(selector), compact(&Value::Object(labels.clone()))),
        ),
        Err(e) => sink.report(r, "selector-mismatch", Some("spec.selector".into()), format!("spec.selector is invalid: {e}")),
    }
}

fn service(manifest: &Manifest, index: &PodIndex, svc: &Resource, sink: &mut Sink) {
    let spec = svc.body.get("spec");
    match spec.and_then(|s| s.get("type")).and_then(Value::as_str) {
        Some("ExternalName") => return,
        Some("NodePort") => sink.report(svc, "service-nodeport", Some("spec.type".into()), "Service type NodePort opens a static port on every node".into()),
        _ => {}
    }
    let Some(selector) = spec.and_then(|s| s.get("selector")).and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return;
    };
    let pods = index.selected(svc, selector);
    if pods.is_empty() {
        let elsewhere = index.candidates(Some(selector)).iter().any(|t| t.labels().is_some_and(|l| map_selector_matches(selector, l)));
        if (!elsewhere && foreign_namespace(manifest, svc)) || operator_managed(manifest, svc, selector) {
            return;
        }
        sink.report(
            svc,
            "service-selector",
            Some("spec.selector".into()),
            format!("selector {} matches no pod template in the release; the Service will have no endpoints", compact(&Value::Object(selector.clone()))),
        );
        return;
    }
    let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        let target = port.get("targetPort").filter(|v| !v.is_null()).or_else(|| port.get("port"));
        let label = port.get("name").and_then(Value::as_str).map(|n| format!("[name={n}]")).unwrap_or_else(|| format!("[{i}]"));
        let path = Some(format!("spec.ports{label}.targetPort"));
        let declared: Vec<(Option<String>, Option<i64>, String)> = pods
            .iter()
            .flat_map(|t| serving_containers(t))
            .flat_map(|c| c.ports().into_iter().map(|(n, p, proto)| (n.map(str::to_string), p, proto.to_string())).collect::<Vec<_>>())
            .collect();
        match target {
            Some(Value::String(name)) if name.parse::<i64>().is_err()
                && !declared.iter().any(|(n, _, proto)| n.as_deref() == Some(name.as_str()) && proto == protocol) => {
                    sink.report(
                        svc,
                        "service-target-port",
                        path,
                        format!("targetPort `{name}` ({protocol}) names no containerPort of the selected pods ({})", workload_list(&pods)),
                    );
                }
            Some(v) => {
                let Some(number) = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) else { continue };
                // Containers that declare no ports at all may still listen; only judge declared ports.
                if declared.is_empty() {
                    continue;
                }
                if !declared.iter().any(|(_, p, proto)| *p == Some(number) && proto == protocol) {
                    sink.report(
                        svc,
                        "service-target-port",
                        path,
                        format!("targetPort {number} ({protocol}) matches no containerPort of the selected pods ({})", workload_list(&pods)),
                    );
                }
            }
            None => {}
        }
    }
}

/// A Service placed in a namespace where the release runs no pods selects pods of others on
/// purpose (kube-prometheus-stack's kube-system Services for etcd, the scheduler, CoreDNS…),
/// unless its selector matches release pods in another namespace (then it is a mistake).
fn foreign_namespace(manifest: &Manifest, svc: &Resource) -> bool {
    let Some(ns) = &svc.namespace else { return false };
    let explicit: Vec<&String> = manifest.workloads().filter_map(|(w, _)| w.namespace.as_ref()).collect();
    !explicit.is_empty() && !explicit.contains(&ns) && manifest.workloads().all(|(w, _)| w.namespace.is_some())
}

/// Pods created by an operator from a custom resource of the release (Prometheus,
/// Alertmanager…): operators label them with the custom resource's name.
fn operator_managed(manifest: &Manifest, svc: &Resource, selector: &Map<String, Value>) -> bool {
    let values: Vec<String> = selector.values().map(scalar_text).collect();
    manifest.resources.iter().any(|r| !super::kubernetes_schema::builtin_group(r.group()) && same_namespace(r, svc) && values.contains(&r.name))
}

fn workload_list(pods: &[PodTemplate]) -> String {
    let mut ids: Vec<String> = pods.iter().map(|t| t.owner.display_id()).collect();
    ids.dedup();
    ids.join(", ")
}

/// One-line JSON for messages.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::rules_hit;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn match_expressions_follow_kubernetes() {
        let l = labels(json!({"app": "web", "tier": "front"}));
        let t = |sel: Value| label_selector_matches(&sel, &l).unwrap();
        assert!(t(json!({"matchLabels": {"app": "web"}})));
        assert!(!t(json!({"matchLabels": {"app": "db"}})));
        assert!(t(json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]})));
        assert!(!t(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})));
        assert!(t(json!({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["x"]}]})));
        assert!(t(json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})));
        assert!(!t(json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]})));
        assert!(!t(json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "zone", "operator": "Exists"}]})));
        assert!(label_selector_matches(&json!({"matchExpressions": [{"key": "a", "operator": "Like"}]}), &l).is_err());
        assert!(label_selector_matches(&json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}), &l).is_err());
    }

    #[test]
    fn numeric_label_values_compare_as_text() {
        assert!(map_selector_matches(&labels(json!({"v": "1"})), &labels(json!({"v": 1}))));
    }

    const DEPLOY: &str = "---\n# Source: c/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector:\n    matchLabels: {app: web}\n    matchExpressions: [{key: tier, operator: In, values: [front]}]\n  template:\n    metadata: {labels: {app: web, tier: front}}\n    spec:\n      containers:\n      - name: app\n        image: x\n        ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]\n";

    #[test]
    fn workload_selector_with_expressions() {
        assert!(rules_hit(DEPLOY, "selector-mismatch").is_empty());
        let bad = DEPLOY.replace("values: [front]", "values: [back]");
        let f = rules_hit(&bad, "selector-mismatch");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path.as_deref(), Some("spec.selector"));
        let none = DEPLOY.replace("  selector:\n    matchLabels: {app: web}\n    matchExpressions: [{key: tier, operator: In, values: [front]}]\n", "");
        assert_eq!(rules_hit(&none, "selector-mismatch").len(), 1);
    }

    fn svc(selector: &str, ports: &str) -> String {
        format!("---\n# Source: c/templates/s.yaml\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  selector: {selector}\n  ports: {ports}\n")
    }

    #[test]
    fn services_and_named_ports() {
        let ok = format!("{DEPLOY}{}", svc("{app: web}", "[{port: 80, targetPort: http}, {port: 8080}, {port: 53, targetPort: dns, protocol: UDP}]"));
        assert!(rules_hit(&ok, "service-selector").is_empty());
        assert!(rules_hit(&ok, "service-target-port").is_empty());
        let wrong_name = format!("{DEPLOY}{}", svc("{app: web}", "[{name: web, port: 80, targetPort: htp}]"));
        let f = rules_hit(&wrong_name, "service-target-port");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path.as_deref(), Some("spec.ports[name=web].targetPort"));
        // A named port with the wrong protocol does not match.
        let wrong_proto = format!("{DEPLOY}{}", svc("{app: web}", "[{port: 53, targetPort: dns}]"));
        assert_eq!(rules_hit(&wrong_proto, "service-target-port").len(), 1);
        let wrong_number = format!("{DEPLOY}{}", svc("{app: web}", "[{port: 80, targetPort: 9090}]"));
        assert_eq!(rules_hit(&wrong_number, "service-target-port").len(), 1);
        let nothing = format!("{DEPLOY}{}", svc("{app: api}", "[{port: 80}]"));
        assert_eq!(rules_hit(&nothing, "service-selector").len(), 1);
        assert!(rules_hit(&nothing, "service-target-port").is_empty());
        let headless_no_selector = "---\napiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec:\n  type: ExternalName\n  externalName: example.com\n  selector: {app: zzz}\n";
        assert!(rules_hit(headless_no_selector, "service-selector").is_empty());
    }

    #[test]
    fn services_for_foreign_or_operator_pods_are_not_reported() {
        let d = DEPLOY.replace("metadata: {name: web}", "metadata: {name: web, namespace: default}");
        let etcd = svc("{component: etcd}", "[{port: 2379}]").replace("metadata: {name: web}", "metadata: {name: etcd, namespace: kube-system}");
        assert!(rules_hit(&format!("{d}{etcd}"), "service-selector").is_empty());
        let prom = svc("{app.kubernetes.io/name: prometheus, operator.prometheus.io/name: rel-prometheus}", "[{port: 9090}]");
        let cr = "---\napiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: rel-prometheus}\n";
        assert_eq!(rules_hit(&format!("{d}{prom}"), "service-selector").len(), 1);
        assert!(rules_hit(&format!("{d}{prom}{cr}"), "service-selector").is_empty());
    }

    #[test]
    fn namespaces_must_agree_when_both_are_set() {
        let d = DEPLOY.replace("metadata: {name: web}", "metadata: {name: web, namespace: a}");
        let s = svc("{app: web}", "[{port: 80, targetPort: http}]").replace("metadata: {name: web}", "metadata: {name: web, namespace: b}");
        assert_eq!(rules_hit(&format!("{d}{s}"), "service-selector").len(), 1);
        let s_unset = svc("{app: web}", "[{port: 80, targetPort: http}]");
        assert!(rules_hit(&format!("{d}{s_unset}"), "service-selector").is_empty());
    }
}
