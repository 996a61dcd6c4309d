//! The rule catalog: every rule's stable id, default severity, one-line summary, rationale (with
//! the SOP section it enforces) and fix hint. `chartproof rules` prints it; reporters take hints
//! from it.

use super::Severity;

/// One rule as documented to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: &'static str,
    /// Severity of its findings unless the rule picks another for a particular case or config overrides it.
    pub severity: Severity,
    pub summary: &'static str,
    /// One paragraph: why, citing the SOP section.
    pub rationale: &'static str,
    /// How to fix a finding.
    pub hint: &'static str,
    /// What decides a finding: the object it names alone, or other objects of the render too.
    pub evidence: Evidence,
}

/// What a rule's finding depends on. Shrinking uses it: values that the template of the named
/// object does not read can only change the finding when other objects are evidence too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The object the finding names, and nothing else of the render (for `render-error`: the
    /// template helm names in its error). A custom resource checked by `kubernetes-schema`
    /// against a CRD of the same release is the exception this leaves.
    TheObject,
    /// Other objects too, or their absence: a Service and the pods it selects, a NetworkPolicy
    /// for each pod, an HPA's replicas, the ConfigMap an env var comes from, a reference's target.
    OtherObjects,
}

use Evidence::{OtherObjects, TheObject};
use Severity::{Error, Warning};

/// Every rule, in the order `chartproof rules` lists them.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "selector-mismatch",
        severity: Error,
        summary: "a workload's spec.selector does not select its own pod template labels",
        rationale: "SOP 3.0 (Components of a Deployment manifest): spec.selector is the binding between a controller and its pods. If matchLabels/matchExpressions do not select the template's labels, the API server rejects the object or the controller never recognises its pods and keeps creating new ones.",
        hint: "Make spec.selector.matchLabels a subset of spec.template.metadata.labels (render both from the same selectorLabels helper) and check matchExpressions against the template labels.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "service-selector",
        severity: Error,
        summary: "a Service's selector selects no pod template in the release",
        rationale: "SOP 3.0 (Components of a Service manifest): spec.selector is how a Service discovers its pods and must match the labels of the pods the Deployment creates. A selector matching nothing gives a Service with no endpoints: every request fails although every object applied cleanly. Labels controllers add to the pods they create count: `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index` for ordinals below the replica count (or an HPA's maxReplicas), `controller-revision-hash`, `pod-template-hash`, an Indexed Job's completion index.",
        hint: "Use the same selector labels as the workload's pod template (e.g. include \"chart.selectorLabels\"), or drop the selector if endpoints are managed elsewhere.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "service-target-port",
        severity: Error,
        summary: "a Service's named targetPort matches no containerPort of the pods it selects (an undeclared number is a warning)",
        rationale: "SOP 3.0 (Components of a Service manifest): targetPort is the containerPort on the pods where traffic is forwarded. A named targetPort that no selected container declares (name and protocol) resolves to nothing and the Service gets no endpoints: an error. A number is forwarded to the pod as is, declared or not (the EndpointSlice controller resolves it with FindPort in kubernetes/kubernetes pkg/api/v1/pod/util.go, which returns a numeric targetPort without reading `ports:`), so an undeclared number is a warning that the port is undocumented.",
        hint: "Point targetPort at a port the selected containers declare under ports[].containerPort (by number) or ports[].name (by name, matching protocol); for a number, declare it in the container's ports.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "probe-liveness",
        severity: Error,
        summary: "a long-running container has no livenessProbe",
        rationale: "SOP 5.0 (A Deep Dive into Health Probes): the liveness probe is how the kubelet detects a deadlocked process and restarts it; without it a hung Go service keeps its pod Running and Ready forever.",
        hint: "Add livenessProbe (e.g. httpGet /healthz on the service port) that only checks the process itself, not its dependencies.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "probe-readiness",
        severity: Error,
        summary: "a long-running container has no readinessProbe",
        rationale: "SOP 5.0 (A Deep Dive into Health Probes) and 3.0 (Rolling Update): readiness decides whether a pod receives Service traffic and whether a rollout may proceed. Without it pods get traffic before they are initialised and rolling updates declare broken versions healthy.",
        hint: "Add readinessProbe (e.g. httpGet /readyz) that checks the critical dependencies and fails during shutdown.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "probe-distinct",
        severity: Warning,
        summary: "liveness and readiness probes perform the same check",
        rationale: "SOP 5.0 (A Deep Dive into Health Probes): liveness (/healthz) must stay lightweight and never check dependencies, while readiness (/readyz) must check them. Using one check for both either restarts every pod when a dependency blips (cascading failure) or routes traffic to pods that cannot serve.",
        hint: "Give the probes different handlers, e.g. liveness httpGet /healthz and readiness httpGet /readyz.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "resources-requests",
        severity: Error,
        summary: "a container declares no CPU or no memory request",
        rationale: "SOP 6.0 (Differentiating Resource Requests and Limits): requests are the scheduling contract; the memory request is the guarantee and the CPU request the weight under contention. Omitting them declares the workload the least important on the node.",
        hint: "Set resources.requests.cpu and resources.requests.memory (a limit alone also defaults the request to the limit).",
        evidence: TheObject,
    },
    RuleInfo {
        id: "resources-limits",
        severity: Error,
        summary: "a container declares no memory limit",
        rationale: "SOP 6.0 (Differentiating Resource Requests and Limits; Harmonizing the Go Runtime): the memory limit is the hard ceiling enforced by the OOM killer and the value GOMEMLIMIT is derived from. Without it one leaking container can starve the node.",
        hint: "Set resources.limits.memory (and derive GOMEMLIMIT from it, about 90%).",
        evidence: TheObject,
    },
    RuleInfo {
        id: "qos-best-effort",
        severity: Error,
        summary: "the pod's QoS class (computed exactly as Kubernetes does) is below the configured minimum (default: BestEffort is reported)",
        rationale: "SOP 6.0 (Impact on Quality of Service Classes): BestEffort pods are the first to be killed under node pressure. The class is computed from all containers and init containers as the kubelet does; `minimumQos` in .chartproof.yaml raises the bar to Burstable or Guaranteed.",
        hint: "Set requests (Burstable) or equal requests and limits for CPU and memory in every container and init container (Guaranteed).",
        evidence: TheObject,
    },
    RuleInfo {
        id: "gomemlimit",
        severity: Error,
        summary: "GOMEMLIMIT is above the memory limit, far below it, unparsable by Go, or missing",
        rationale: "SOP 6.0 (Harmonizing the Go Runtime with Kubernetes Limits): the Go GC is unaware of the cgroup limit; GOMEMLIMIT slightly below the container's memory limit (about 90%) makes it collect before the OOM killer strikes. Above the limit it is useless, far below it wastes memory and burns CPU in GC, and a value Go cannot parse (e.g. `1Gi`) aborts the program. The accepted band is minPercent (default 80) of the limit rounded down to a whole MiB to maxPercent (default 95) rounded up to a whole MiB, never above the limit: `limit * 80 / 100` in integer MiB passes. A missing GOMEMLIMIT is a warning, and only for Go programs: well-known non-Go images (nginx, envoy, rabbitmq, postgres, mysql, redis, elasticsearch, JVM, python, node…) are exempt by default, matched by the repository's last path component (gomemlimit.nonGoImages, configurable).",
        hint: "Set env GOMEMLIMIT to about 90% of resources.limits.memory in Go's units (e.g. limit 512Mi -> GOMEMLIMIT=460MiB); exempt non-Go images with gomemlimit.nonGoImages.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "run-as-non-root",
        severity: Error,
        summary: "neither pod nor container securityContext guarantees a non-root user, or runAsUser is 0",
        rationale: "SOP 2.0 (Image Security Hardening: Running as a Non-Root User): containers must not run as root. Only runAsNonRoot: true or a non-zero runAsUser in the pod or container securityContext makes Kubernetes guarantee it, whatever the image says.",
        hint: "Set securityContext.runAsNonRoot: true (and runAsUser to a non-zero UID such as 65532) at pod level or on every container.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "image-digest",
        severity: Error,
        summary: "an image is not pinned by @sha256 digest (`:latest`, no tag or a malformed reference is an error, another tag a warning)",
        rationale: "SOP 2.0 (Pinning Base Image Versions) and 10.0 (The Image is a Security Boundary): mutable tags silently change what runs; only an immutable digest makes a release reproducible. `:latest` or no tag changes on every push. A reference the kubelet cannot parse (`repo@a`, a sha256 digest that is not 64 lowercase hex digits) is an error of its own: the pod fails with InvalidImageName.",
        hint: "Reference images as registry/repo:tag@sha256:<digest> (e.g. a values.yaml `image.digest` field rendered after the tag).",
        evidence: TheObject,
    },
    RuleInfo {
        id: "prometheus-scrape",
        severity: Warning,
        summary: "a pod template lacks prometheus.io/scrape and prometheus.io/port, or the port names no containerPort",
        rationale: "SOP 7.0 (Procedure for Instrumenting with Prometheus Metrics): pods must carry prometheus.io/scrape and prometheus.io/port so Prometheus discovers and scrapes them; a port annotation that matches no containerPort scrapes nothing.",
        hint: "Add pod template annotations prometheus.io/scrape: \"true\" and prometheus.io/port: \"<metrics containerPort>\".",
        evidence: TheObject,
    },
    RuleInfo {
        id: "rolling-update",
        severity: Error,
        summary: "a Deployment's update strategy cannot progress or can drop all capacity (Recreate with replicas > 1 is a warning)",
        rationale: "SOP 3.0 (Standard Deployment Strategy: Rolling Update): zero-downtime rollouts need maxUnavailable below the replica count and a non-zero maxSurge or maxUnavailable. Percentages are resolved as Kubernetes does (maxSurge rounds up, maxUnavailable rounds down).",
        hint: "Use strategy RollingUpdate with maxSurge >= 1 (e.g. 25%) and maxUnavailable resolving below replicas (e.g. 0 with maxSurge 1).",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "graceful-shutdown",
        severity: Error,
        summary: "terminationGracePeriodSeconds is shorter than the preStop sleep plus the drain margin",
        rationale: "SOP 5.0 (Graceful Shutdown; Coordinated Interplay Between Probes and Graceful Shutdown): after SIGTERM the pod needs time to wait for endpoint removal (about 5 s) and drain in-flight requests. If the grace period does not cover the preStop delay plus that drain, the kubelet sends SIGKILL mid-request.",
        hint: "Raise terminationGracePeriodSeconds to at least the preStop sleep plus the drain margin (drainMarginSeconds, default 5), or shorten the preStop sleep.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "networkpolicy-default-deny",
        severity: Error,
        summary: "pods of the release that no NetworkPolicy isolates for ingress (default-allow); info when only the namespace-wide default-deny is missing",
        rationale: "SOP 8.0 (Procedure 7, Implementing Zero-Trust with Network Policies): Kubernetes networking is default-allow; a pod stops accepting traffic from anywhere once it is isolated for ingress, which happens when any NetworkPolicy of its namespace selects it (podSelector; an empty one selects every pod) with policy type Ingress (policyTypes defaulted as the API server does in pkg/apis/networking/v1/defaults.go: Ingress always, Egress when egress rules exist). Pods of the release no policy isolates are an error. When the release's own policies isolate every one of its pods, the SOP's foundation, a namespace-wide default-deny (podSelector: {}, policyTypes [Ingress], no rules) on which allows are layered, is reported as information: it is the namespace owner's to apply, since inside one chart it would also cut off the other workloads of the namespace. A policy whose ingress rule admits everything (`ingress: [{}]`) isolates nothing.",
        hint: "Add a NetworkPolicy selecting the release's pods (e.g. podSelector with the chart's selector labels) with policyTypes [Ingress] and only the ingress you need; a namespace-wide podSelector: {} default-deny belongs to the namespace's platform setup.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "networkpolicy-dns",
        severity: Error,
        summary: "a NetworkPolicy restricts egress without allowing UDP and TCP 53 to kube-dns",
        rationale: "SOP 8.0 (Implementing Zero-Trust with Network Policies): the common pitfall of egress policies is forgetting DNS; without UDP and TCP 53 to kube-dns in kube-system the pods cannot resolve any Service name.",
        hint: "Add an egress rule to namespaceSelector kubernetes.io/metadata.name: kube-system, podSelector k8s-app: kube-dns, ports 53/UDP and 53/TCP.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "secret-in-configmap",
        severity: Error,
        summary: "a ConfigMap key or value looks like a secret (value is never printed)",
        rationale: "SOP 4.0 (Standard Procedure for Using ConfigMaps / Kubernetes Secrets): ConfigMaps are for non-confidential data; passwords, tokens, API keys and private keys belong in Secrets with RBAC restricted access. Detection uses key names and well-known credential formats, not entropy: a key holds a credential when its head noun (its last word, as in `DB_PASSWORD`, `clientSecret`, `secret_access_key`) is one, the keyword model of secret scanners (detect-secrets, gitleaks) read as a compound noun; a key about a credential (`DB_USERNAME`, `CREDENTIALS_FILE`, `AUTH_TOKEN_HEADER`, `PASSWORD_MIN_LENGTH`, `TOKEN_TTL`, `SECRET_NAME`, `AWS_ACCESS_KEY_ID`) is not, and values shaped like paths, placeholders, references or URLs without a password are not secrets.",
        hint: "Move the value into a Secret (or an external secret store) and reference it with secretKeyRef or a secret volume.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "default-credential",
        severity: Error,
        summary: "a Secret holds a password, token or key that is a literal shipped in the chart (values.yaml or template text), not generated or given by the user",
        rationale: "SOP 4.0 (Standard Procedure for Using Kubernetes Secrets): Secrets are for sensitive data such as database passwords and API keys; a credential the chart ships as a literal (`Harbor12345`, `changeit`, `admin`) is public in the chart's source, so every installation that keeps the default shares a known password and the Secret protects nothing. Only literals of the chart's own values.yaml (and its subcharts') or template text are reported; a value the user gave with -f or --set (ct's ci/ scenarios included) or one a function generates (randAlphaNum, lookup with a generated fallback) is not. Keys are read as `secret-in-configmap` reads them; the rule runs in `check`, where the chart is at hand.",
        hint: "Render the credential from a required value (`required`), generate it once and keep it across upgrades (lookup of the existing Secret, else randAlphaNum), or reference an existing Secret (existingSecret); never ship a working default.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "service-nodeport",
        severity: Warning,
        summary: "a Service is of type NodePort",
        rationale: "SOP 3.0 (Services can be exposed in several ways): NodePort opens a static port on every node and is for development, not production traffic; use ClusterIP internally and a LoadBalancer or Ingress externally.",
        hint: "Use type ClusterIP (behind an Ingress/Gateway) or LoadBalancer.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "dangling-reference",
        severity: Warning,
        summary: "a pod references a ConfigMap, Secret, ServiceAccount or PersistentVolumeClaim the release does not create",
        rationale: "SOP 4.0 (Managing Application Configuration and Secrets) and 10.0 (Define State, Don't Script Actions): a release should carry the state it depends on. A reference to an object nobody creates leaves pods stuck in ContainerCreating or CreateContainerConfigError. Objects created elsewhere can be allow-listed. An object a Job or helm hook of the release may create (its ServiceAccount is bound to a Role or ClusterRole granting `create` on that resource, without resourceNames, which Kubernetes does not apply to create) counts as created.",
        hint: "Create the object in the chart, mark the reference optional: true, or allow-list it in .chartproof.yaml allowReferences (e.g. Secret/my-tls).",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "kubernetes-validation",
        severity: Error,
        summary: "the API server's built-in validation refuses an object (after Kubernetes' defaulting), for the target Kubernetes version",
        rationale: "SOP 10.0 (Define State, Don't Script Actions): the manifest is the contract with the control plane, and the control plane must accept it. Beyond the OpenAPI schema, the API server runs Kubernetes' built-in validation (pkg/apis/*/validation) on every object after applying its defaults; most everyday `helm install` refusals come from there (a port name over 15 characters, a volumeMount naming no volume, two containers with one name, a CPU request above its limit, a probe with two handlers, a Job with restartPolicy Always…). A chart that renders such an object fails at install time although every other check passed. Messages are the API server's own; a StatefulSet's pod template is only validated when its pods are created, and its findings say so.",
        hint: "Fix the field the message names, as the API server's message says (search the message text); values that switch the field on or off are where to look.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "kubernetes-schema",
        severity: Error,
        summary: "a resource is not valid against the Kubernetes OpenAPI schema (unknown fields included)",
        rationale: "SOP 10.0 (Define State, Don't Script Actions): the manifest is the contract with the control plane. Wrong types are rejected at apply time, and unknown fields (e.g. `imagePullPolicyy`) are silently dropped by non-strict clients, so the setting the author meant never takes effect. A field set to null is an unset field, as the API server decodes it (`maxSurge: null` is valid; a required field set to null is missing).",
        hint: "Fix the field name or type as the message says (compare with `kubectl explain <kind>.<path>`).",
        evidence: TheObject,
    },
    RuleInfo {
        id: "duplicate-resource",
        severity: Error,
        summary: "two documents define the same object (API group, kind, namespace, name)",
        rationale: "SOP 8.0 (Standardizing Deployments with Helm): a release is one versioned set of objects; two documents with the same identity make the install fail or one silently overwrite the other.",
        hint: "Give the objects distinct names (include the release fullname and a component suffix) or render only one of them.",
        evidence: OtherObjects,
    },
    RuleInfo {
        id: "ignore-annotation",
        severity: Warning,
        summary: "a `chartproof.io/ignore` annotation names a rule id that does not exist (it suppresses nothing)",
        rationale: "SOP 10.0 (The Holistic Approach): an exception to the standard must be explicit and deliberate. A misspelt rule id in the ignore annotation silently suppresses nothing, so the author believes a finding is waived while it still fails the release, or believes a check runs that was never named.",
        hint: "Use a rule id from `chartproof rules` (the message suggests the nearest one), `*` for all rules, or remove the annotation.",
        evidence: TheObject,
    },
    RuleInfo {
        id: "render-error",
        severity: Error,
        summary: "helm template failed",
        rationale: "SOP 8.0 (Standardizing Deployments with Helm): values.yaml is the chart's public API; a value set that makes the chart fail to render is a broken contract, reported with helm's message and template location.",
        hint: "Read helm's message at the template location; fix the template or reject the values in values.schema.json with a clear message.",
        evidence: TheObject,
    },
];

/// The catalog entry of a rule id.
pub fn lookup(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// Fix hint for a rule id (None for ids outside this catalog).
pub fn hint(id: &str) -> Option<&'static str> {
    lookup(id).map(|r| r.hint)
}

/// The catalog id closest to a misspelt one (by edit distance), when one is close enough to
/// be what was meant.
pub fn nearest(id: &str) -> Option<&'static str> {
    let (distance, best) = RULES.iter().map(|r| (edit_distance(id, r.id), r.id)).min()?;
    (distance <= (id.len() / 3).max(2)).then_some(best)
}

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            current.push((previous[j] + usize::from(ca != *cb)).min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Default severity of a rule id (Error for unknown ids).
pub fn default_severity(id: &str) -> Severity {
    lookup(id).map(|r| r.severity).unwrap_or(Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_cite_the_sop() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate id {}", r.id);
            assert!(r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", r.id);
            assert!(r.rationale.contains("SOP "), "{} rationale cites no SOP section", r.id);
            assert!(!r.hint.is_empty() && !r.summary.is_empty());
        }
        assert_eq!(RULES.len(), 26);
    }

    #[test]
    fn nearest_id_suggests_only_close_ids() {
        assert_eq!(nearest("probe-livness"), Some("probe-liveness"));
        assert_eq!(nearest("image_digest"), Some("image-digest"));
        assert_eq!(nearest("service-selectr"), Some("service-selector"));
        assert_eq!(nearest("everything-else"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
