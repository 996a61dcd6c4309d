//! `kubernetes-schema`: built-in resources validated offline against the strict Kubernetes
//! OpenAPI definitions of the target version (unknown fields such as `imagePullPolicyy` are
//! errors, as are API versions the target no longer serves). The definitions ship gzipped in
//! `schemas/kubernetes/v1.NN.json.gz` (see `scripts/gen-kubernetes-schemas`). Custom resources
//! have no shipped schema: each such kind gets one info note saying it was not validated.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::Value;

use super::{Severity, Sink};
use crate::chart::values::pointer_to_dotted;
use crate::manifest::{Manifest, Resource};

const RULE: &str = "kubernetes-schema";
/// Most errors reported for one resource.
const MAX_ERRORS: usize = 8;

/// Shipped definitions, by minor version.
static SHIPPED: &[(u32, &[u8])] = &[
    (25, include_bytes!("../../schemas/kubernetes/v1.25.json.gz")),
    (26, include_bytes!("../../schemas/kubernetes/v1.26.json.gz")),
    (27, include_bytes!("../../schemas/kubernetes/v1.27.json.gz")),
    (28, include_bytes!("../../schemas/kubernetes/v1.28.json.gz")),
    (29, include_bytes!("../../schemas/kubernetes/v1.29.json.gz")),
    (30, include_bytes!("../../schemas/kubernetes/v1.30.json.gz")),
    (31, include_bytes!("../../schemas/kubernetes/v1.31.json.gz")),
    (32, include_bytes!("../../schemas/kubernetes/v1.32.json.gz")),
    (33, include_bytes!("../../schemas/kubernetes/v1.33.json.gz")),
    (34, include_bytes!("../../schemas/kubernetes/v1.34.json.gz")),
    (35, include_bytes!("../../schemas/kubernetes/v1.35.json.gz")),
    (36, include_bytes!("../../schemas/kubernetes/v1.36.json.gz")),
    (37, include_bytes!("../../schemas/kubernetes/v1.37.json.gz")),
];

/// Kubernetes minor versions with shipped schemas.
pub fn shipped_minors() -> impl Iterator<Item = u32> {
    SHIPPED.iter().map(|(m, _)| *m)
}

/// The shipped minor used for a requested version (`1.31`, `v1.31.2`; None = newest): the same
/// minor when shipped, else the nearest shipped one.
pub fn resolve_minor(requested: Option<&str>) -> Result<u32, String> {
    let newest = SHIPPED.last().unwrap().0;
    let Some(text) = requested else { return Ok(newest) };
    let t = text.trim().trim_start_matches('v');
    let mut parts = t.split('.');
    let (major, minor) = (parts.next().and_then(|p| p.parse::<u32>().ok()), parts.next().and_then(|p| p.trim_end_matches('+').parse::<u32>().ok()));
    match (major, minor) {
        (Some(1), Some(m)) => Ok(m.clamp(SHIPPED[0].0, newest)),
        _ => Err(format!("`{text}` is not a Kubernetes version like 1.31")),
    }
}

/// URI the shipped definitions are registered under.
const DEFS_URI: &str = "urn:chartproof:kubernetes";

/// One version's definitions (indexed once in a shared registry), the definition name of each
/// (group, version, kind), and the validators compiled so far.
struct Definitions {
    registry: jsonschema::Registry,
    by_gvk: HashMap<(String, String, String), String>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static LOADED: LazyLock<Mutex<HashMap<u32, Arc<Definitions>>>> = LazyLock::new(Default::default);

fn definitions(minor: u32) -> Arc<Definitions> {
    let mut loaded = LOADED.lock().unwrap();
    loaded
        .entry(minor)
        .or_insert_with(|| {
            let gz = SHIPPED.iter().find(|(m, _)| *m == minor).map(|(_, b)| *b).expect("shipped minor");
            let mut text = String::new();
            flate2::read::GzDecoder::new(gz).read_to_string(&mut text).expect("shipped schema is valid gzip");
            let root: Value = serde_json::from_str(&text).expect("shipped schema is valid JSON");
            let mut by_gvk = HashMap::new();
            for (name, def) in root["$defs"].as_object().into_iter().flatten() {
                for gvk in def.get("x-kubernetes-group-version-kind").and_then(Value::as_array).into_iter().flatten() {
                    let f = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    by_gvk.insert((f("group"), f("version"), f("kind")), name.clone());
                }
            }
            let resource = jsonschema::Draft::Draft202012.create_resource(root);
            let registry = jsonschema::Registry::try_new(DEFS_URI, resource).expect("shipped schema indexes");
            Arc::new(Definitions { registry, by_gvk, validators: Mutex::new(HashMap::new()) })
        })
        .clone()
}

impl Definitions {
    fn validator(&self, name: &str) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        cache
            .entry(name.to_string())
            .or_insert_with(|| {
                let schema = serde_json::json!({ "$ref": format!("{DEFS_URI}#/$defs/{name}") });
                let v = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .with_registry(self.registry.clone())
                    .should_validate_formats(false)
                    .build(&schema)
                    .expect("shipped Kubernetes schema compiles");
                Arc::new(v)
            })
            .clone()
    }
}

/// Validate one resource; returns (path, message) problems.
fn validate(defs: &Definitions, minor: u32, r: &Resource) -> Vec<(Option<String>, String)> {
    let (group, version) = match r.api_version.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), r.api_version.clone()),
    };
    let Some(name) = defs.by_gvk.get(&(group, version, r.kind.clone())) else {
        return vec![(Some("apiVersion".into()), format!("{} {} is not served by Kubernetes 1.{minor}", r.api_version, r.kind))];
    };
    let validator = defs.validator(name);
    if validator.is_valid(&r.body) {
        return Vec::new();
    }
    let mut problems: Vec<(Option<String>, String)> = Vec::new();
    for e in validator.iter_errors(&r.body) {
        let pointer = e.instance_path.to_string();
        let message = match &e.kind {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                format!("unknown field{} {}", if unexpected.len() > 1 { "s" } else { "" }, unexpected.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "))
            }
            _ => e.to_string(),
        };
        let path = if pointer.is_empty() { None } else { Some(pointer_to_dotted(&pointer)) };
        if !problems.iter().any(|(p, m)| *p == path && *m == message) {
            problems.push((path, message));
        }
    }
    problems.sort();
    problems
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    if !sink.enabled(RULE) {
        return;
    }
    let minor = match resolve_minor(sink.config().kubernetes_version.as_deref()) {
        Ok(m) => m,
        Err(_) => return, // Config::validate rejects bad versions before we get here.
    };
    let defs = definitions(minor);
    let mut unvalidated: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
    for r in &manifest.resources {
        if !builtin_group(r.group()) {
            unvalidated.entry((r.api_version.clone(), r.kind.clone())).or_default().push(r);
            continue;
        }
        let problems = validate(&defs, minor, r);
        let total = problems.len();
        for (i, (path, message)) in problems.into_iter().enumerate() {
            if i == MAX_ERRORS {
                sink.report(r, RULE, None, format!("{} more schema errors not shown", total - MAX_ERRORS));
                break;
            }
            sink.report(r, RULE, path, format!("{message} (Kubernetes 1.{minor} schema)"));
        }
    }
    let crds: BTreeSet<String> = manifest.of_kind("CustomResourceDefinition").filter_map(|c| c.body.pointer("/spec/names/kind").and_then(Value::as_str).map(str::to_string)).collect();
    for ((api_version, kind), resources) in unvalidated {
        let first = resources.iter().min_by_key(|r| r.display_id()).unwrap();
        let defined = if crds.contains(&kind) { " (its CustomResourceDefinition is in the release, but custom schemas are not checked yet)" } else { "" };
        sink.report_at(
            first,
            RULE,
            Severity::Info,
            None,
            format!("{} {kind} object(s) of custom resource {api_version} not validated: no schema is shipped for it{defined}", resources.len()),
        );
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::rules_hit;

    #[test]
    fn versions_resolve_to_shipped_schemas() {
        assert_eq!(resolve_minor(Some("1.31")), Ok(31));
        assert_eq!(resolve_minor(Some("v1.30.4")), Ok(30));
        assert_eq!(resolve_minor(Some("1.10")), Ok(shipped_minors().next().unwrap()));
        assert!(resolve_minor(Some("latest")).is_err());
        assert_eq!(pointer_to_dotted("/spec/template/spec/containers/0/imagePullPolicyy"), "spec.template.spec.containers[0].imagePullPolicyy");
    }

    const DEPLOY: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      containers:\n      - name: app\n        image: x\n        imagePullPolicy: IfNotPresent\n        ports: [{containerPort: 80}]\n";

    #[test]
    fn unknown_fields_and_wrong_types_are_caught() {
        assert!(rules_hit(DEPLOY, RULE).is_empty(), "{:?}", rules_hit(DEPLOY, RULE));
        let typo = rules_hit(&DEPLOY.replace("imagePullPolicy:", "imagePullPolicyy:"), RULE);
        assert_eq!(typo.len(), 1, "{typo:?}");
        assert!(typo[0].message.contains("`imagePullPolicyy`"), "{}", typo[0].message);
        assert_eq!(typo[0].path.as_deref(), Some("spec.template.spec.containers[0]"));
        let wrong_type = rules_hit(&DEPLOY.replace("containerPort: 80", "containerPort: [80]"), RULE);
        assert_eq!(wrong_type.len(), 1, "{wrong_type:?}");
        let missing = rules_hit(&DEPLOY.replace("- name: app\n        image: x", "- image: x"), RULE);
        assert!(missing.iter().any(|f| f.message.contains("name")), "{missing:?}");
    }

    #[test]
    fn crd_schemas_with_description_fields_are_valid() {
        // Properties named `description` are schemas, not annotations (traefik's CRDs have them).
        let crd = "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\nspec:\n  group: example.com\n  names: {kind: Thing, plural: things}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        description: A thing.\n        type: object\n        properties:\n          description: {type: string, description: text}\n        x-kubernetes-preserve-unknown-fields: true\n";
        assert!(rules_hit(crd, RULE).is_empty(), "{:?}", rules_hit(crd, RULE));
    }

    #[test]
    fn removed_api_versions_and_custom_resources() {
        let old = "---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: p}\nspec: {}\n";
        let f = rules_hit(old, RULE);
        assert!(f[0].message.contains("not served"), "{f:?}");
        let cr = "---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\n---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: b}\n";
        let notes = rules_hit(cr, RULE);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].severity, Severity::Info);
        assert!(notes[0].message.contains("2 ServiceMonitor"));
    }
}
