//! Fields the Kubernetes API server refuses to change in place: changing them makes `helm upgrade`
//! fail (or forces a delete and re-create). Such changes are breaking.

use serde_json::Value;

use super::fields::FieldPath;

/// (kinds, field path from the object root, why the change breaks the upgrade)
const IMMUTABLE: &[(&[&str], &[&str], &str)] = &[
    (
        &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
        &["spec", "selector"],
        "spec.selector is immutable: helm upgrade fails with `field is immutable`; the workload must be deleted and re-created",
    ),
    (
        &["StatefulSet"],
        &["spec", "volumeClaimTemplates"],
        "StatefulSet volumeClaimTemplates cannot be updated: helm upgrade fails; delete the StatefulSet (--cascade=orphan) and re-create it",
    ),
    (&["StatefulSet"], &["spec", "serviceName"], "StatefulSet serviceName is immutable: helm upgrade fails"),
    (&["StatefulSet"], &["spec", "podManagementPolicy"], "StatefulSet podManagementPolicy is immutable: helm upgrade fails"),
    (&["Job"], &["spec", "template"], "a Job's pod template is immutable: helm upgrade fails unless the Job is deleted first"),
    (&["Job"], &["spec", "selector"], "a Job's selector is immutable: helm upgrade fails"),
    (&["Service"], &["spec", "clusterIP"], "Service clusterIP is immutable once allocated: helm upgrade fails"),
    (&["Service"], &["spec", "clusterIPs"], "Service clusterIPs are immutable once allocated: helm upgrade fails"),
    (
        &["PersistentVolumeClaim"],
        &["spec", "storageClassName"],
        "a bound PersistentVolumeClaim's storageClassName is immutable: helm upgrade fails",
    ),
    (&["PersistentVolumeClaim"], &["spec", "accessModes"], "a PersistentVolumeClaim's accessModes are immutable: helm upgrade fails"),
];

/// Why changing `path` of a `kind` object breaks `helm upgrade`, if it does.
/// A Helm hook Job that is deleted before each hook run (`before-hook-creation`) is re-created, so its
/// template may change.
pub fn immutable_reason(kind: &str, body: &Value, path: &FieldPath) -> Option<&'static str> {
    if kind == "Job" && is_recreated_hook(body) {
        return None;
    }
    IMMUTABLE.iter().find(|(kinds, prefix, _)| kinds.contains(&kind) && path.starts_with_keys(prefix)).map(|(_, _, why)| *why)
}

/// A Helm hook whose delete policy removes the old object before the hook runs again.
fn is_recreated_hook(body: &Value) -> bool {
    let ann = |k: &str| body.pointer("/metadata/annotations").and_then(|a| a.get(k)).and_then(Value::as_str);
    // Helm's default delete policy for hooks is before-hook-creation.
    ann("helm.sh/hook").is_some() && ann("helm.sh/hook-delete-policy").is_none_or(|p| p.contains("before-hook-creation"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::fields::diff_values;
    use serde_json::json;

    fn first_path(old: Value, new: Value) -> FieldPath {
        diff_values(&old, &new).remove(0).path
    }

    #[test]
    fn selector_and_statefulset_fields() {
        let p = first_path(json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}}), json!({"spec": {"selector": {"matchLabels": {"app": "b"}}}}));
        assert!(immutable_reason("Deployment", &json!({}), &p).is_some());
        assert!(immutable_reason("Service", &json!({}), &p).is_none());
        let p = first_path(json!({"spec": {"serviceName": "a"}}), json!({"spec": {"serviceName": "b"}}));
        assert!(immutable_reason("StatefulSet", &json!({}), &p).unwrap().contains("serviceName"));
        let p = first_path(json!({"spec": {"replicas": 1}}), json!({"spec": {"replicas": 2}}));
        assert!(immutable_reason("StatefulSet", &json!({}), &p).is_none());
    }

    #[test]
    fn every_listed_field_of_every_listed_kind() {
        let cases = [
            ("DaemonSet", "/spec/selector/matchLabels/app"),
            ("ReplicaSet", "/spec/selector/matchLabels/app"),
            ("StatefulSet", "/spec/selector/matchLabels/app"),
            ("StatefulSet", "/spec/volumeClaimTemplates/0/spec/resources/requests/storage"),
            ("StatefulSet", "/spec/podManagementPolicy"),
            ("Job", "/spec/selector/matchLabels/app"),
            ("Service", "/spec/clusterIPs/0"),
            ("PersistentVolumeClaim", "/spec/accessModes/0"),
        ];
        for (kind, pointer) in cases {
            let mut new = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "1Gi"}}}}], "podManagementPolicy": "OrderedReady", "clusterIPs": ["10.0.0.1"], "accessModes": ["ReadWriteOnce"]}});
            let old = new.clone();
            *new.pointer_mut(pointer).unwrap() = json!("changed");
            let changes = diff_values(&old, &new);
            assert_eq!(changes.len(), 1);
            assert!(immutable_reason(kind, &new, &changes[0].path).is_some(), "{kind} {pointer}");
            assert!(immutable_reason("ConfigMap", &new, &changes[0].path).is_none());
        }
    }

    #[test]
    fn hook_jobs_that_are_recreated_may_change() {
        let p = first_path(json!({"spec": {"template": {"x": 1}}}), json!({"spec": {"template": {"x": 2}}}));
        assert!(immutable_reason("Job", &json!({}), &p).is_some());
        let hook = json!({"metadata": {"annotations": {"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}}});
        assert!(immutable_reason("Job", &hook, &p).is_none());
        let kept = json!({"metadata": {"annotations": {"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-failed"}}});
        assert!(immutable_reason("Job", &kept, &p).is_some());
    }
}
