//! Kubernetes' defaulting functions (`pkg/apis/*/v1/defaults.go`), applied to a rendered object as
//! the API server applies them before admission and validation. Entry point: [`default_object`],
//! which reads apiVersion and kind from the object. Ported: core/v1 (Pod, pod templates,
//! containers, probes, volumes, Service, Secret, PersistentVolumeClaim), apps/v1 (Deployment,
//! StatefulSet, DaemonSet, ReplicaSet), batch/v1 (Job, CronJob), networking/v1 (NetworkPolicy),
//! autoscaling/v2 (HorizontalPodAutoscaler) and rbac/v1 (bindings, subjects). Each function names
//! the Go function it ports. Fields the chart set are never overwritten.

use serde_json::{Map, Value, json};

/// Set `field` of `obj` to `value` when it is absent, null, or Go's zero value for its type
/// (`""`, `0`): defaulting functions test `== ""` / `== 0` / `== nil`, and a rendered zero
/// decodes to the zero value.
fn default(obj: &mut Map<String, Value>, field: &str, value: Value) {
    let unset = match obj.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty() && value.is_string(),
        _ => false,
    };
    if unset {
        obj.insert(field.to_string(), value);
    }
}

/// Like [`default`], for pointer fields (`*int32`): only absent or null counts as unset.
fn default_pointer(obj: &mut Map<String, Value>, field: &str, value: Value) {
    if obj.get(field).is_none_or(Value::is_null) {
        obj.insert(field.to_string(), value);
    }
}

/// For non-pointer integer fields, 0 means unset (`if obj.TimeoutSeconds == 0`).
fn default_nonzero(obj: &mut Map<String, Value>, field: &str, value: i64) {
    if obj.get(field).is_none_or(|v| v.is_null() || v.as_i64() == Some(0)) {
        obj.insert(field.to_string(), json!(value));
    }
}

fn object_at<'a>(obj: &'a mut Map<String, Value>, field: &str) -> Option<&'a mut Map<String, Value>> {
    obj.get_mut(field).and_then(Value::as_object_mut)
}

/// The object at `field`, created empty when absent or null.
fn ensure_object<'a>(obj: &'a mut Map<String, Value>, field: &str) -> Option<&'a mut Map<String, Value>> {
    let v = obj.entry(field).or_insert_with(|| json!({}));
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
}

fn list_at<'a>(obj: &'a mut Map<String, Value>, field: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    obj.get_mut(field).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

/// Apply the defaulting functions of the object's group, version and kind, in place.
pub fn default_object(object: &mut Value) {
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let Some(obj) = object.as_object_mut() else { return };
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Pod") => {
            if let Some(spec) = object_at(obj, "spec") {
                set_defaults_pod(spec);
            }
        }
        ("v1", "Service") => set_defaults_service(obj),
        ("v1", "Secret") => default(obj, "type", json!("Opaque")),
        ("v1", "PersistentVolumeClaim") => {
            if let Some(spec) = object_at(obj, "spec") {
                set_defaults_pvc_spec(spec);
            }
        }
        ("apps/v1", "Deployment") => set_defaults_deployment(obj),
        ("apps/v1", "StatefulSet") => set_defaults_stateful_set(obj),
        ("apps/v1", "DaemonSet") => set_defaults_daemon_set(obj),
        ("apps/v1", "ReplicaSet") => {
            if let Some(spec) = object_at(obj, "spec") {
                default_pointer(spec, "replicas", json!(1));
                template_spec(spec);
            }
        }
        ("batch/v1", "Job") => {
            if let Some(spec) = object_at(obj, "spec") {
                set_defaults_job_spec(spec);
            }
        }
        ("batch/v1", "CronJob") => set_defaults_cron_job(obj),
        ("networking.k8s.io/v1", "NetworkPolicy") => set_defaults_network_policy(obj),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => set_defaults_hpa_v2(obj),
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            if let Some(spec) = object_at(obj, "spec") {
                default_pointer(spec, "minReplicas", json!(1));
            }
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => set_defaults_binding(obj),
        _ => {}
    }
}

/// The pod spec of `spec.template` (SetDefaults_PodTemplateSpec → SetDefaults_PodSpec and the
/// per-field functions). The template and its spec are Go value fields, never nil: the API server
/// defaults a template the chart left out as an empty one (restartPolicy, dnsPolicy, ...).
fn template_spec(spec: &mut Map<String, Value>) {
    if let Some(pod) = ensure_object(spec, "template").and_then(|t| ensure_object(t, "spec")) {
        set_defaults_pod_spec(pod);
    }
}

/// `SetDefaults_Pod` (core/v1/defaults.go): a Pod's requests default to its limits and, with
/// hostNetwork, hostPort to containerPort; then the pod spec. (Pod templates get neither: those
/// are defaulted when the controller creates the pods.)
fn set_defaults_pod(spec: &mut Map<String, Value>) {
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        for c in list_at(spec, list) {
            let limits = c.get("resources").and_then(|r| r.get("limits")).and_then(Value::as_object).cloned();
            if let Some(limits) = limits.filter(|l| !l.is_empty()) {
                if let Some(req) = ensure_object(c, "resources").and_then(|r| ensure_object(r, "requests")) {
                    for (k, v) in limits {
                        req.entry(k).or_insert(v);
                    }
                }
            }
            if host_network {
                // defaultHostNetworkPorts
                for p in list_at(c, "ports") {
                    if p.get("hostPort").is_none_or(|h| h.is_null() || h.as_i64() == Some(0))
                        && let Some(cp) = p.get("containerPort").cloned()
                    {
                        p.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
    // SetDefaults_Pod, not SetDefaults_PodSpec: pod templates keep enableServiceLinks unset
    // (TestSetDefaultDeployment's defaultTemplate has none).
    default_pointer(spec, "enableServiceLinks", json!(true));
    set_defaults_pod_spec(spec);
}

/// `SetDefaults_PodSpec`: dnsPolicy ClusterFirst, restartPolicy Always, securityContext {},
/// terminationGracePeriodSeconds 30, schedulerName default-scheduler; then every container and
/// volume.
fn set_defaults_pod_spec(spec: &mut Map<String, Value>) {
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "restartPolicy", json!("Always"));
    default_pointer(spec, "securityContext", json!({}));
    default_pointer(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in list_at(spec, list) {
            set_defaults_container(c);
        }
    }
    for v in list_at(spec, "volumes") {
        set_defaults_volume(v);
    }
}

/// `SetDefaults_Container`, `SetDefaults_ContainerPort`, `SetDefaults_Probe`,
/// `SetDefaults_HTTPGetAction`, `SetDefaults_ObjectFieldSelector`.
fn set_defaults_container(c: &mut Map<String, Value>) {
    if c.get("imagePullPolicy").is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image) == "latest" { "Always" } else { "IfNotPresent" };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    for p in list_at(c, "ports") {
        default(p, "protocol", json!("TCP"));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = object_at(c, probe) {
            default_nonzero(p, "timeoutSeconds", 1);
            default_nonzero(p, "periodSeconds", 10);
            default_nonzero(p, "successThreshold", 1);
            default_nonzero(p, "failureThreshold", 3);
            set_defaults_handler(p);
        }
    }
    if let Some(l) = object_at(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = object_at(l, hook) {
                set_defaults_handler(h);
            }
        }
    }
    for e in list_at(c, "env") {
        if let Some(f) = object_at(e, "valueFrom").and_then(|v| object_at(v, "fieldRef")) {
            default(f, "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_HTTPGetAction`: path `/`, scheme HTTP. (`SetDefaults_GRPCAction` leaves service
/// nil in v1.)
fn set_defaults_handler(h: &mut Map<String, Value>) {
    if let Some(g) = object_at(h, "httpGet") {
        default(g, "path", json!("/"));
        default(g, "scheme", json!("HTTP"));
    }
}

/// The tag `parsers.ParseImageName` finds: `latest` when the reference has neither tag nor
/// digest, empty when it has only a digest.
fn image_tag(image: &str) -> &str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    // A tag is after the last ':' that follows the last '/'.
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if digest => "",
        None => "latest",
    }
}

/// `SetDefaults_Volume` (no source → emptyDir) and the sources' modes
/// (`SetDefaults_SecretVolumeSource`, `SetDefaults_ConfigMapVolumeSource`,
/// `SetDefaults_DownwardAPIVolumeSource`, `SetDefaults_ProjectedVolumeSource`: 0644;
/// `SetDefaults_ServiceAccountTokenProjection`: 3600 s; `SetDefaults_HostPathVolumeSource`: type "").
fn set_defaults_volume(v: &mut Map<String, Value>) {
    if v.iter().all(|(k, val)| k == "name" || val.is_null()) {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = object_at(v, source) {
            default_pointer(s, "defaultMode", json!(0o644));
        }
    }
    if let Some(sources) = object_at(v, "projected").and_then(|p| p.get_mut("sources")).and_then(Value::as_array_mut) {
        for s in sources.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(t) = object_at(s, "serviceAccountToken") {
                default_pointer(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(h) = object_at(v, "hostPath") {
        default_pointer(h, "type", json!(""));
    }
}

/// `SetDefaults_Service`: sessionAffinity None, type ClusterIP, each port's protocol TCP and
/// targetPort = port, clusterIPs from clusterIP, ClientIP timeout, traffic policies and
/// allocateLoadBalancerNodePorts.
fn set_defaults_service(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "sessionAffinity", json!("None"));
    default(spec, "type", json!("ClusterIP"));
    for p in list_at(spec, "ports") {
        default(p, "protocol", json!("TCP"));
        let unset = p.get("targetPort").is_none_or(|t| t.is_null() || t.as_i64() == Some(0) || t.as_str() == Some(""));
        if unset && let Some(port) = p.get("port").cloned() {
            p.insert("targetPort".into(), port);
        }
    }
    if let Some(ip) = spec.get("clusterIP").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
        && spec.get("clusterIPs").and_then(Value::as_array).is_none_or(Vec::is_empty)
    {
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        if let Some(client) = ensure_object(spec, "sessionAffinityConfig").and_then(|c| ensure_object(c, "clientIP")) {
            default_pointer(client, "timeoutSeconds", json!(10800));
        }
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if service_type != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        default_pointer(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`: volumeMode Filesystem.
fn set_defaults_pvc_spec(spec: &mut Map<String, Value>) {
    default(spec, "volumeMode", json!("Filesystem"));
}

/// `SetDefaults_Deployment` (apps/v1/defaults.go): replicas 1, strategy RollingUpdate with
/// maxUnavailable and maxSurge 25%, revisionHistoryLimit 10, progressDeadlineSeconds 600.
fn set_defaults_deployment(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default_pointer(spec, "replicas", json!(1));
    if let Some(s) = ensure_object(spec, "strategy") {
        default(s, "type", json!("RollingUpdate"));
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(r) = ensure_object(s, "rollingUpdate") {
                default_pointer(r, "maxUnavailable", json!("25%"));
                default_pointer(r, "maxSurge", json!("25%"));
            }
        }
    }
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    default_pointer(spec, "progressDeadlineSeconds", json!(600));
    template_spec(spec);
}

/// `SetDefaults_StatefulSet`: podManagementPolicy OrderedReady, updateStrategy RollingUpdate
/// (partition 0), replicas 1, revisionHistoryLimit 10, persistentVolumeClaimRetentionPolicy
/// Retain/Retain (StatefulSetAutoDeletePVC, on from 1.27; the defaulted field is harmless before).
fn set_defaults_stateful_set(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(s) = ensure_object(spec, "updateStrategy") {
        // An unset type becomes RollingUpdate with a rollingUpdate to default; a type the chart
        // set keeps rollingUpdate as given (SetDefaults_StatefulSet).
        if s.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
            s.insert("type".into(), json!("RollingUpdate"));
            ensure_object(s, "rollingUpdate");
        }
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(r) = s.get_mut("rollingUpdate").and_then(Value::as_object_mut)
        {
            default_pointer(r, "partition", json!(0));
        }
    }
    if let Some(r) = ensure_object(spec, "persistentVolumeClaimRetentionPolicy") {
        default(r, "whenDeleted", json!("Retain"));
        default(r, "whenScaled", json!("Retain"));
    }
    default_pointer(spec, "replicas", json!(1));
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    for claim in list_at(spec, "volumeClaimTemplates") {
        if let Some(s) = object_at(claim, "spec") {
            set_defaults_pvc_spec(s);
        }
    }
    template_spec(spec);
}

/// `SetDefaults_DaemonSet`: updateStrategy RollingUpdate with maxUnavailable 1 and maxSurge 0,
/// revisionHistoryLimit 10.
fn set_defaults_daemon_set(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    if let Some(s) = ensure_object(spec, "updateStrategy") {
        default(s, "type", json!("RollingUpdate"));
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(r) = ensure_object(s, "rollingUpdate") {
                default_pointer(r, "maxUnavailable", json!(1));
                default_pointer(r, "maxSurge", json!(0));
            }
        }
    }
    default_pointer(spec, "revisionHistoryLimit", json!(10));
    template_spec(spec);
}

/// `SetDefaults_Job` (batch/v1/defaults.go): completions and parallelism 1 when both unset,
/// parallelism 1, backoffLimit 6, completionMode NonIndexed, suspend false, manualSelector false.
fn set_defaults_job_spec(spec: &mut Map<String, Value>) {
    let unset = |spec: &Map<String, Value>, f: &str| spec.get(f).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_pointer(spec, "parallelism", json!(1));
    if unset(spec, "backoffLimitPerIndex") {
        default_pointer(spec, "backoffLimit", json!(6));
    }
    default_pointer(spec, "completionMode", json!("NonIndexed"));
    default_pointer(spec, "suspend", json!(false));
    default_pointer(spec, "manualSelector", json!(false));
    template_spec(spec);
}

/// `SetDefaults_CronJob`: concurrencyPolicy Allow, suspend false, history limits 3 and 1; then
/// the job template's job spec.
fn set_defaults_cron_job(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default(spec, "concurrencyPolicy", json!("Allow"));
    default_pointer(spec, "suspend", json!(false));
    default_pointer(spec, "successfulJobsHistoryLimit", json!(3));
    default_pointer(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job) = object_at(spec, "jobTemplate").and_then(|t| object_at(t, "spec")) {
        set_defaults_job_spec(job);
    }
}

/// `SetDefaults_NetworkPolicyPort` (protocol TCP) and `SetDefaults_NetworkPolicy` (policyTypes:
/// Ingress, plus Egress when egress rules exist).
fn set_defaults_network_policy(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    for direction in ["ingress", "egress"] {
        for rule in list_at(spec, direction) {
            for p in list_at(rule, "ports") {
                default(p, "protocol", json!("TCP"));
            }
        }
    }
    if spec.get("policyTypes").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        let egress = spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
        let types = if egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
        spec.insert("policyTypes".into(), types);
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` (autoscaling/v2): minReplicas 1; no metrics → CPU
/// utilization 80%.
fn set_defaults_hpa_v2(obj: &mut Map<String, Value>) {
    let Some(spec) = object_at(obj, "spec") else { return };
    default_pointer(spec, "minReplicas", json!(1));
    if spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        spec.insert("metrics".into(), json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]));
    }
    set_defaults_hpa_behavior(spec);
}

/// `SetDefaults_HorizontalPodAutoscalerBehavior` (autoscaling/v2/defaults.go): a `behavior` gets
/// both rules, each unset field (absent or null: `copyHPAScalingRules` copies what is not nil, so
/// an empty `policies: []` stays) from `defaultHPAScaleUpRules` (no stabilization window, Max of
/// 4 pods and 100% per 15 s) or `defaultHPAScaleDownRules` (window left unset, Max of 100% per
/// 15 s).
fn set_defaults_hpa_behavior(spec: &mut Map<String, Value>) {
    let Some(behavior) = object_at(spec, "behavior") else { return };
    let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]});
    let down = json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]});
    for (rules, defaults) in [("scaleUp", up), ("scaleDown", down)] {
        let Some(rules) = ensure_object(behavior, rules) else { continue };
        for (field, value) in defaults.as_object().into_iter().flatten() {
            default_pointer(rules, field, value.clone());
        }
    }
}

/// `SetDefaults_RoleBinding`/`SetDefaults_ClusterRoleBinding` (roleRef.apiGroup
/// rbac.authorization.k8s.io) and `SetDefaults_Subject` (User and Group subjects in that group).
fn set_defaults_binding(obj: &mut Map<String, Value>) {
    if let Some(r) = object_at(obj, "roleRef") {
        default(r, "apiGroup", json!("rbac.authorization.k8s.io"));
    }
    for s in list_at(obj, "subjects") {
        if matches!(s.get("kind").and_then(Value::as_str), Some("User" | "Group")) {
            default(s, "apiGroup", json!("rbac.authorization.k8s.io"));
        }
    }
}

/// The cases of Kubernetes' own defaulting tests (`pkg/apis/*/v1/defaults_test.go`), in
/// `defaults_cases.yaml`: each names its file and test, gives the object the Go test starts from
/// and the part it compares (the whole spec, or single fields by JSON pointer); the defaulted
/// object must equal it exactly.
#[cfg(test)]
mod go_cases {
    use serde::Deserialize;
    use serde_json::Value;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Case {
        file: String,
        test: String,
        original: Value,
        /// The expected `spec`, compared whole (the Go tests compare `got.Spec`).
        #[serde(default)]
        expected_spec: Option<Value>,
        /// JSON pointer → expected value (null: absent), for tests that check single fields.
        #[serde(default)]
        expected_at: BTreeMap<String, Value>,
    }

    #[test]
    fn every_defaults_test_case_agrees_with_kubernetes() {
        let cases: Vec<Case> = serde_yaml::from_str(include_str!("defaults_cases.yaml")).expect("defaults_cases.yaml parses");
        let mut disagreements = Vec::new();
        for case in &cases {
            assert!(case.file.ends_with("defaults_test.go") && case.test.starts_with("Test"), "{}: cite the Go test", case.test);
            assert!(case.expected_spec.is_some() || !case.expected_at.is_empty(), "{}: expects nothing", case.test);
            let mut got = case.original.clone();
            super::default_object(&mut got);
            if let Some(want) = &case.expected_spec
                && &got["spec"] != want
            {
                disagreements.push(format!("{} ({}): spec\n  want {want}\n  got  {}", case.test, case.file, got["spec"]));
            }
            for (pointer, want) in &case.expected_at {
                let have = got.pointer(pointer).cloned().unwrap_or(Value::Null);
                if &have != want {
                    disagreements.push(format!("{} ({}): {pointer} want {want}, got {have}", case.test, case.file));
                }
            }
        }
        eprintln!("{} defaults_test.go cases, {} agree", cases.len(), cases.len() - disagreements.len());
        assert!(disagreements.is_empty(), "{} disagreement(s):\n{}", disagreements.len(), disagreements.join("\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(yaml: &str) -> Value {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        default_object(&mut v);
        v
    }

    // core/v1/defaults_test.go: TestSetDefaultContainer, TestSetDefaultPodSpecHostNetwork…
    #[test]
    fn pod_spec_and_containers() {
        let d = defaulted("apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: 'x:latest', ports: [{containerPort: 80}], livenessProbe: {httpGet: {port: 80}}}\n      - {name: b, image: 'x:1.0'}\n      - {name: c, image: x}\n      - {name: d, image: 'x@sha256:abc'}\n      volumes: [{name: v}, {name: s, secret: {secretName: s}}]\n");
        let pod = &d["spec"]["template"]["spec"];
        // TestSetDefaultPodSpec / TestSetDefaultRestartPolicy: restartPolicy Always, dnsPolicy ClusterFirst.
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["schedulerName"], "default-scheduler");
        // TestSetDefaultImagePullPolicy: latest or no tag → Always; a tag or digest only → IfNotPresent.
        let policies: Vec<&str> = (0..4).map(|i| pod["containers"][i]["imagePullPolicy"].as_str().unwrap()).collect();
        assert_eq!(policies, ["Always", "IfNotPresent", "Always", "IfNotPresent"]);
        // TestSetDefaultContainer: terminationMessagePath/Policy.
        assert_eq!(pod["containers"][0]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(pod["containers"][0]["terminationMessagePolicy"], "File");
        // TestSetDefaultProtocol (container ports).
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        // TestSetDefaultProbe: timeout 1, period 10, success 1, failure 3; TestSetDefaultHTTPGetAction? (path /, scheme HTTP).
        let probe = &pod["containers"][0]["livenessProbe"];
        assert_eq!((probe["timeoutSeconds"].as_i64(), probe["periodSeconds"].as_i64(), probe["successThreshold"].as_i64(), probe["failureThreshold"].as_i64()), (Some(1), Some(10), Some(1), Some(3)));
        assert_eq!((probe["httpGet"]["path"].as_str(), probe["httpGet"]["scheme"].as_str()), (Some("/"), Some("HTTP")));
        // TestSetDefaulEmptyDir? / TestSetDefaultVolume: no source → emptyDir; TestSetDefaultSecretVolumeSource: 0644.
        assert_eq!(pod["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(pod["volumes"][1]["secret"]["defaultMode"], 0o644);
    }

    // core/v1/defaults_test.go: TestSetDefaultService, TestSetDefaultServiceTargetPort,
    // TestSetDefaultServicePort, TestSetDefaultServiceSessionAffinityConfig, TestSetDefaultServiceExternalTraffic.
    #[test]
    fn service() {
        let d = defaulted("apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 80}, {port: 81, targetPort: http, protocol: UDP}, {port: 82, targetPort: 0}]\n");
        assert_eq!(d["spec"]["type"], "ClusterIP");
        assert_eq!(d["spec"]["sessionAffinity"], "None");
        assert_eq!(d["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(d["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(d["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(d["spec"]["ports"][1]["targetPort"], "http");
        assert_eq!(d["spec"]["ports"][1]["protocol"], "UDP");
        assert_eq!(d["spec"]["ports"][2]["targetPort"], 82);
        let lb = defaulted("apiVersion: v1\nkind: Service\nspec: {type: LoadBalancer, sessionAffinity: ClientIP}\n");
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(lb["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800);
    }

    // core/v1/defaults_test.go: TestSetDefaultPodRequests? (SetDefaults_Pod: requests from limits);
    // TestSetDefaultHostPort? (hostNetwork → hostPort = containerPort). TestSetDefaultSecret: type Opaque.
    #[test]
    fn pods_and_secrets() {
        let d = defaulted("apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: true\n  containers: [{name: a, image: x, ports: [{containerPort: 8080}], resources: {limits: {cpu: 1}, requests: {memory: 1Gi}}}]\n");
        let c = &d["spec"]["containers"][0];
        assert_eq!(c["resources"]["requests"], json!({"memory": "1Gi", "cpu": 1}));
        assert_eq!(c["ports"][0]["hostPort"], 8080);
        assert_eq!(defaulted("apiVersion: v1\nkind: Secret\n")["type"], "Opaque");
        assert_eq!(defaulted("apiVersion: v1\nkind: PersistentVolumeClaim\nspec: {}\n")["spec"]["volumeMode"], "Filesystem");
    }

    // apps/v1/defaults_test.go: TestSetDefaultDeployment, TestSetDefaultStatefulSet?,
    // TestSetDefaultDaemonSetSpec, TestSetDefaultReplicaSetReplicas.
    #[test]
    fn apps() {
        let d = defaulted("apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {}}}\n");
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let recreate = defaulted("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 0, strategy: {type: Recreate}}\n");
        assert_eq!(recreate["spec"]["replicas"], 0, "an explicit 0 is kept");
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());
        let s = defaulted("apiVersion: apps/v1\nkind: StatefulSet\nspec: {}\n");
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(s["spec"]["updateStrategy"]["type"], "RollingUpdate");
        assert_eq!(s["spec"]["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        let ds = defaulted("apiVersion: apps/v1\nkind: DaemonSet\nspec: {}\n");
        assert_eq!(ds["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
        assert_eq!(defaulted("apiVersion: apps/v1\nkind: ReplicaSet\nspec: {}\n")["spec"]["replicas"], 1);
    }

    // batch/v1/defaults_test.go: TestSetDefaultJob (completions/parallelism, backoffLimit 6,
    // completionMode NonIndexed), TestSetDefaultCronJob.
    #[test]
    fn batch() {
        let j = defaulted("apiVersion: batch/v1\nkind: Job\nspec: {template: {spec: {restartPolicy: Never}}}\n");
        assert_eq!((j["spec"]["completions"].as_i64(), j["spec"]["parallelism"].as_i64(), j["spec"]["backoffLimit"].as_i64()), (Some(1), Some(1), Some(6)));
        assert_eq!(j["spec"]["completionMode"], "NonIndexed");
        assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
        let only_parallelism = defaulted("apiVersion: batch/v1\nkind: Job\nspec: {parallelism: 3}\n");
        assert!(only_parallelism["spec"].get("completions").is_none(), "completions stays nil when parallelism is set");
        let c = defaulted("apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {}}}}}\n");
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!((c["spec"]["successfulJobsHistoryLimit"].as_i64(), c["spec"]["failedJobsHistoryLimit"].as_i64()), (Some(3), Some(1)));
        assert_eq!(c["spec"]["jobTemplate"]["spec"]["backoffLimit"], 6);
        assert_eq!(c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "Always", "and validation then refuses it");
    }

    // networking/v1/defaults_test.go: TestSetDefaultNetworkPolicy; autoscaling/v2/defaults_test.go:
    // TestHorizontalPodAutoscalerDefaults? (minReplicas, CPU 80%); rbac/v1 defaults (SetDefaults_Subject).
    #[test]
    fn networking_autoscaling_rbac() {
        let np = defaulted("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nspec: {podSelector: {}, egress: [{ports: [{port: 53}]}]}\n");
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let ingress_only = defaulted("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nspec: {podSelector: {}}\n");
        assert_eq!(ingress_only["spec"]["policyTypes"], json!(["Ingress"]));
        let hpa = defaulted("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec: {maxReplicas: 3}\n");
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        let rb = defaulted("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nroleRef: {kind: Role, name: r}\nsubjects: [{kind: User, name: u}, {kind: ServiceAccount, name: s}]\n");
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(rb["subjects"][1].get("apiGroup").is_none());
    }
}
