//! Label selectors: `selector-mismatch` (a workload's selector vs its own pod template),
//! `service-selector` (a Service selecting no pod of the release, counting the labels controllers
//! add to pods: StatefulSet pod names and ordinals, revision hashes) and
//! `service-target-port` (a named targetPort no selected container declares: an error; an
//! undeclared number, which Kubernetes still forwards: a warning), and `service-nodeport`.
//! Also the selector
//! evaluation other rule families share.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Severity, Sink};
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

/// Labels a controller adds to the pods it creates, which a pod template does not carry:
/// a Service may select on them (per-replica Services of a StatefulSet are a common HA pattern).
pub const CONTROLLER_LABELS: &[&str] = &[
    STS_POD_NAME,
    POD_INDEX,
    "controller-revision-hash",
    "pod-template-hash",
    JOB_COMPLETION_INDEX,
];
const STS_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX: &str = "apps.kubernetes.io/pod-index";
const JOB_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The release's pod templates, indexed by label so selector look-ups do not scan every
/// workload (a release of thousands of objects stays linear).
pub struct PodIndex<'a> {
    pub all: Vec<PodTemplate<'a>>,
    /// Ordinals (StatefulSet) or completion indexes (Indexed Job) the pods of each template can have.
    indexes: Vec<Option<std::ops::Range<i64>>>,
    by_label: HashMap<(&'a str, String), Vec<usize>>,
}

impl<'a> PodIndex<'a> {
    pub fn new(manifest: &'a Manifest) -> PodIndex<'a> {
        let all: Vec<PodTemplate<'a>> = manifest.workloads().map(|(_, t)| t).collect();
        let indexes = all.iter().map(|t| pod_indexes(manifest, t.owner)).collect();
        let mut by_label: HashMap<(&'a str, String), Vec<usize>> = HashMap::new();
        for (i, t) in all.iter().enumerate() {
            for (k, v) in t.labels().into_iter().flatten() {
                by_label.entry((k.as_str(), scalar_text(v))).or_default().push(i);
            }
        }
        PodIndex { all, indexes, by_label }
    }

    /// Pod templates that can match a selector whose matchLabels (or map form) are `required`:
    /// those carrying its first pair the template itself sets, or all when it has none.
    pub fn candidates(&self, required: Option<&Map<String, Value>>) -> Vec<PodTemplate<'a>> {
        self.candidate_indexes(required).into_iter().map(|i| self.all[i]).collect()
    }

    fn candidate_indexes(&self, required: Option<&Map<String, Value>>) -> Vec<usize> {
        match required.and_then(|m| m.iter().find(|(k, _)| !CONTROLLER_LABELS.contains(&k.as_str()))) {
            Some((k, v)) => self.by_label.get(&(k.as_str(), scalar_text(v))).cloned().unwrap_or_default(),
            None => (0..self.all.len()).collect(),
        }
    }

    /// Whether some pod created from template `i` carries every pair of a map selector, counting
    /// the labels its controller adds (a pod name or ordinal in range, any revision hash).
    fn pods_match(&self, i: usize, selector: &Map<String, Value>) -> bool {
        let t = &self.all[i];
        let labels = t.labels();
        selector.iter().all(|(k, v)| {
            let wanted = scalar_text(v);
            labels.and_then(|l| l.get(k)).is_some_and(|l| scalar_text(l) == wanted) || self.controller_label_matches(i, k, &wanted)
        })
    }

    /// Whether the controller of template `i` gives some pod the label `key=value`.
    fn controller_label_matches(&self, i: usize, key: &str, value: &str) -> bool {
        let owner = self.all[i].owner;
        // Ordinals and indexes are printed in decimal without leading zeros.
        let in_range = |text: &str| text.parse::<i64>().is_ok_and(|n| n.to_string() == text && self.indexes[i].as_ref().is_some_and(|r| r.contains(&n)));
        match (key, owner.kind.as_str()) {
            (STS_POD_NAME, "StatefulSet") => value.strip_prefix(owner.name.as_str()).and_then(|rest| rest.strip_prefix('-')).is_some_and(in_range),
            (POD_INDEX, "StatefulSet") | (JOB_COMPLETION_INDEX, "Job" | "CronJob") => in_range(value),
            ("controller-revision-hash", "StatefulSet" | "DaemonSet") | ("pod-template-hash", "Deployment" | "ReplicaSet") => true,
            _ => false,
        }
    }

    /// Pod templates a Service-style map selector selects, in `by`'s namespace, by identity.
    pub fn selected(&self, by: &Resource, selector: &Map<String, Value>) -> Vec<PodTemplate<'a>> {
        let mut out: Vec<PodTemplate<'a>> = self
            .candidate_indexes(Some(selector))
            .into_iter()
            .filter(|&i| same_namespace(self.all[i].owner, by) && self.pods_match(i, selector))
            .map(|i| self.all[i])
            .collect();
        out.sort_by_key(|t| t.owner.display_id());
        out
    }

    /// Whether the selector matches pods of the release in any namespace.
    fn matches_anywhere(&self, selector: &Map<String, Value>) -> bool {
        self.candidate_indexes(Some(selector)).into_iter().any(|i| self.pods_match(i, selector))
    }
}

/// HorizontalPodAutoscalers of the release that scale `target`.
pub fn autoscalers<'a>(manifest: &'a Manifest, target: &'a Resource) -> impl Iterator<Item = &'a Resource> + 'a {
    manifest.of_kind("HorizontalPodAutoscaler").filter(move |h| {
        same_namespace(h, target)
            && h.body.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str) == Some(target.kind.as_str())
            && h.body.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str) == Some(target.name.as_str())
    })
}

/// Ordinals a StatefulSet's pods can have (`spec.ordinals.start` up to the replica count, or up
/// to an HPA's maxReplicas when one scales it: those pods exist at peak), or the completion
/// indexes of an Indexed Job. Replicas default to 1, as the API server does; a count the render
/// does not give as a number (never the case after `helm template`) is treated as 1.
fn pod_indexes(manifest: &Manifest, owner: &Resource) -> Option<std::ops::Range<i64>> {
    let count = |v: Option<&Value>| v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    match owner.kind.as_str() {
        "StatefulSet" => {
            let replicas = count(owner.body.pointer("/spec/replicas")).unwrap_or(1);
            let scaled_max = autoscalers(manifest, owner).filter_map(|h| count(h.body.pointer("/spec/maxReplicas"))).max();
            let start = count(owner.body.pointer("/spec/ordinals/start")).unwrap_or(0);
            Some(start..start + replicas.max(scaled_max.unwrap_or(0)))
        }
        "Job" | "CronJob" => {
            let job = if owner.kind == "Job" { owner.body.pointer("/spec") } else { owner.body.pointer("/spec/jobTemplate/spec") }?;
            (job.get("completionMode").and_then(Value::as_str) == Some("Indexed")).then(|| 0..count(job.get("completions")).unwrap_or(1))
        }
        _ => None,
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
        let elsewhere = index.matches_anywhere(selector);
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
                // A number is forwarded as is: the EndpointSlice controller resolves targetPort with
                // podutil.FindPort (kubernetes/kubernetes pkg/api/v1/pod/util.go), which returns an
                // int targetPort without looking at the containers' `ports:` (they are informational);
                // only a name must match a declared port. An undeclared number still routes, so it is
                // a warning that the port is not documented, not an error.
                if !declared.iter().any(|(_, p, proto)| *p == Some(number) && proto == protocol) {
                    sink.report_at(
                        svc,
                        "service-target-port",
                        Severity::Warning,
                        path,
                        format!(
                            "targetPort {number} ({protocol}) is declared by no containerPort of the selected pods ({}); Kubernetes still forwards to it, so this only works if the container listens there",
                            workload_list(&pods)
                        ),
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
        assert_eq!(f[0].severity, Severity::Error);
        // A named port with the wrong protocol does not match.
        let wrong_proto = format!("{DEPLOY}{}", svc("{app: web}", "[{port: 53, targetPort: dns}]"));
        assert_eq!(rules_hit(&wrong_proto, "service-target-port").len(), 1);
        // An undeclared number still routes (FindPort returns it unchecked): a warning only.
        let wrong_number = format!("{DEPLOY}{}", svc("{app: web}", "[{port: 80, targetPort: 9090}]"));
        let f = rules_hit(&wrong_number, "service-target-port");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.contains("still forwards"), "{}", f[0].message);
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

    const STS: &str = "---\n# Source: c/templates/sts.yaml\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  replicas: 3\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: db, image: x, ports: [{name: pg, containerPort: 5432}]}]\n";

    fn per_replica(name: &str, selector_key: &str, value: &str, target: &str) -> String {
        svc(&format!("{{app: db, {selector_key}: \"{value}\"}}"), &format!("[{{port: 5432, targetPort: {target}}}]")).replace("metadata: {name: web}", &format!("metadata: {{name: {name}}}"))
    }

    #[test]
    fn per_replica_services_select_controller_labels() {
        let services: String = (0..4).map(|n| per_replica(&format!("db-{n}"), "statefulset.kubernetes.io/pod-name", &format!("db-{n}"), "pg")).collect();
        let f = rules_hit(&format!("{STS}{services}"), "service-selector");
        assert_eq!(f.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["db-3"], "{f:?}");
        // The selected pods' ports are still checked.
        let wrong_port = per_replica("db-1", "statefulset.kubernetes.io/pod-name", "db-1", "pgg");
        assert_eq!(rules_hit(&format!("{STS}{wrong_port}"), "service-target-port").len(), 1);
        // Ordinal labels: in range, written without leading zeros.
        let by_index = |v: &str| rules_hit(&format!("{STS}{}", per_replica("i", "apps.kubernetes.io/pod-index", v, "pg")), "service-selector").len();
        assert_eq!((by_index("2"), by_index("3"), by_index("02")), (0, 1, 1));
        // Another workload's pod name does not match.
        assert_eq!(rules_hit(&format!("{STS}{}", per_replica("o", "statefulset.kubernetes.io/pod-name", "dbx-0", "pg")), "service-selector").len(), 1);
        // Revision hashes: any value on StatefulSet/DaemonSet pods, pod-template-hash only on Deployment/ReplicaSet pods.
        assert!(rules_hit(&format!("{STS}{}", per_replica("h", "controller-revision-hash", "db-5d8f", "pg")), "service-selector").is_empty());
        assert_eq!(rules_hit(&format!("{STS}{}", per_replica("h", "pod-template-hash", "5d8f", "pg")), "service-selector").len(), 1);
        let deploy_hash = svc("{app: web, pod-template-hash: 7c9f}", "[{port: 80, targetPort: http}]");
        assert!(rules_hit(&format!("{DEPLOY}{deploy_hash}"), "service-selector").is_empty());
        // Replicas default to 1; an HPA raises the reachable ordinals to its maxReplicas.
        let one = STS.replace("  replicas: 3\n", "");
        let at = |sts: &str, n: u32| rules_hit(&format!("{sts}{}", per_replica("p", "statefulset.kubernetes.io/pod-name", &format!("db-{n}"), "pg")), "service-selector").len();
        assert_eq!((at(&one, 0), at(&one, 1)), (0, 1));
        let hpa = "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: db}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}\n  minReplicas: 1\n  maxReplicas: 5\n";
        let scaled = format!("{one}{hpa}");
        assert_eq!((at(&scaled, 4), at(&scaled, 5)), (0, 1));
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
