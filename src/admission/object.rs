//! The object admission sees: a rendered object as the API server holds it when admission
//! policies run. The create handler puts it in the request's namespace, decoding reads every
//! `resource.Quantity` field (so `cpu: 1` becomes the string `"1"` and `1024Mi` becomes `"1Gi"`),
//! and the defaulting functions fill what the chart left out (`replicas: 1`, a Service's `type`).
//! Every object a policy sees passes through [`admitted_object`].

use serde_json::Value;

use crate::manifest::Resource;
use crate::manifest::quantity::canonical;

/// Kubernetes' defaulting functions, applied to every object before admission.
const DEFAULTING: fn(&mut Value) = super::defaults::default_object;

/// `resource` as the API server admits it into `namespace` (None for cluster-scoped kinds): in
/// its namespace, defaulted, its quantities canonical.
pub fn admitted_object(resource: &Resource, namespace: Option<&str>) -> Value {
    admitted_with(resource, namespace, DEFAULTING)
}

/// [`admitted_object`] with the defaulting functions given (tests pass their own).
pub(crate) fn admitted_with(resource: &Resource, namespace: Option<&str>, defaulting: fn(&mut Value)) -> Value {
    let mut object = resource.body.clone();
    if let (Some(namespace), Some(metadata)) = (namespace, object.get_mut("metadata").and_then(Value::as_object_mut)) {
        metadata.insert("namespace".into(), Value::String(namespace.to_string()));
    }
    defaulting(&mut object);
    canonicalize_quantities(&mut object, resource.group(), &resource.kind);
    object
}

/// Where the pod spec of a built-in workload kind sits.
fn pod_spec_path(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    Some(match (group, kind) {
        ("", "Pod") => &["spec"],
        ("", "PodTemplate") => &["template", "spec"],
        ("", "ReplicationController") | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") => &["spec", "template", "spec"],
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn at<'v>(value: &'v mut Value, path: &[&str]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, key| v.get_mut(*key))
}

fn items(value: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    value.and_then(Value::as_array_mut).into_iter().flatten()
}

/// The quantity `value` in canonical form: a string or a YAML number, as `Quantity.UnmarshalJSON`
/// reads it and `Quantity.String` writes it. Text that is no quantity is left for validation.
fn canonicalize(value: &mut Value) {
    let text = match value {
        Value::String(s) => s.clone(),
        // What a JSON encoder writes for the number (Go writes a whole float without `.0`).
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i128),
            _ => n.to_string(),
        },
        _ => return,
    };
    if let Some(canonical) = canonical(&text) {
        *value = Value::String(canonical);
    }
}

/// Every value of the map `value` (a `ResourceList`).
fn canonicalize_map(value: Option<&mut Value>) {
    for quantity in value.and_then(Value::as_object_mut).into_iter().flat_map(|m| m.values_mut()) {
        canonicalize(quantity);
    }
}

/// `requests` and `limits` of a `ResourceRequirements`.
fn canonicalize_requirements(value: Option<&mut Value>) {
    if let Some(requirements) = value {
        canonicalize_map(requirements.get_mut("requests"));
        canonicalize_map(requirements.get_mut("limits"));
    }
}

fn canonicalize_pod_spec(spec: &mut Value) {
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items(spec.get_mut(list)) {
            canonicalize_requirements(container.get_mut("resources"));
        }
    }
    canonicalize_requirements(spec.get_mut("resources"));
    canonicalize_map(spec.get_mut("overhead"));
    for volume in items(spec.get_mut("volumes")) {
        if let Some(size) = at(volume, &["emptyDir", "sizeLimit"]) {
            canonicalize(size);
        }
        canonicalize_requirements(at(volume, &["ephemeral", "volumeClaimTemplate", "spec", "resources"]));
    }
}

/// The `resource.Quantity` fields of the built-in kinds (k8s.io/api core/v1, apps/v1, batch/v1,
/// autoscaling/v2 types) in canonical form; custom resources are stored as written.
fn canonicalize_quantities(object: &mut Value, group: &str, kind: &str) {
    if let Some(path) = pod_spec_path(group, kind)
        && let Some(spec) = at(object, path)
    {
        canonicalize_pod_spec(spec);
    }
    match (group, kind) {
        ("apps", "StatefulSet") => {
            for claim in items(at(object, &["spec", "volumeClaimTemplates"])) {
                canonicalize_requirements(at(claim, &["spec", "resources"]));
            }
        }
        ("", "PersistentVolumeClaim") => canonicalize_requirements(at(object, &["spec", "resources"])),
        ("", "PersistentVolume") => canonicalize_map(at(object, &["spec", "capacity"])),
        ("", "ResourceQuota") => canonicalize_map(at(object, &["spec", "hard"])),
        ("", "LimitRange") => {
            for limit in items(at(object, &["spec", "limits"])) {
                for field in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
                    canonicalize_map(limit.get_mut(field));
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            for metric in items(at(object, &["spec", "metrics"])) {
                for source in ["resource", "pods", "object", "external", "containerResource"] {
                    for field in ["value", "averageValue"] {
                        if let Some(quantity) = at(metric, &[source, "target", field]) {
                            canonicalize(quantity);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest::Manifest;

    fn admitted(yaml: &str, namespace: Option<&str>) -> Value {
        admitted_object(&Manifest::parse(yaml).resources[0], namespace)
    }

    #[test]
    fn namespaced_objects_land_in_their_namespace() {
        let object = admitted("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", Some("shop"));
        assert_eq!(object["metadata"]["namespace"], "shop");
    }

    #[test]
    fn quantities_are_the_api_servers_strings() {
        let pod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          resources:\n            requests: {cpu: 1, memory: 1024Mi}\n            limits: {cpu: 0.5, memory: 1e3, ephemeral-storage: 2Gi}\n      volumes:\n        - name: v\n          emptyDir: {sizeLimit: 1000M}\n";
        let object = admitted(pod, Some("default"));
        let container = &object["spec"]["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(container["requests"], json!({"cpu": "1", "memory": "1Gi"}));
        assert_eq!(container["limits"], json!({"cpu": "500m", "memory": "1k", "ephemeral-storage": "2Gi"}));
        assert_eq!(object["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "1G");
        let quota = admitted("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec:\n  hard: {requests.cpu: 2000m, pods: 10}\n", Some("default"));
        assert_eq!(quota["spec"]["hard"], json!({"requests.cpu": "2", "pods": "10"}));
        // A custom resource is stored as written.
        let custom = admitted("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  resources: {requests: {cpu: 1}}\n", Some("default"));
        assert_eq!(custom["spec"]["resources"]["requests"]["cpu"], 1);
    }

    #[test]
    fn the_defaulting_call_site_sees_every_object() {
        fn replicas(object: &mut Value) {
            if object["kind"] == "Deployment" && object["spec"].get("replicas").is_none() {
                object["spec"]["replicas"] = json!(1);
            }
        }
        let resource = &Manifest::parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {}\n").resources[0];
        assert_eq!(admitted_with(resource, Some("default"), replicas)["spec"]["replicas"], 1);
    }
}
