//! `kubernetes-schema`: built-in resources validated offline against the strict Kubernetes
//! OpenAPI definitions of the target version (unknown fields such as `imagePullPolicyy` are
//! errors, as are API versions the target no longer serves). The definitions ship gzipped in
//! `schemas/kubernetes/v1.NN.json.gz` (see `scripts/gen-kubernetes-schemas`). Custom resources
//! are validated against the openAPIV3Schema of a CustomResourceDefinition in the same release
//! (`--include-crds`); without one, each such kind gets one info note saying it was not validated.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
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

/// What an API server of Kubernetes 1.`minor` lists in discovery, as helm's cluster mode turns
/// it into `.Capabilities.APIVersions` (helm pkg/action/action.go `GetVersionSet`: every
/// `group/version`, and `group/version/Kind` for each resource): the resources of the shipped
/// OpenAPI definitions, alpha versions left out (off by default). Sorted.
pub fn served_api_versions(minor: u32) -> Vec<String> {
    definitions(minor).served.clone()
}

/// URI the shipped definitions are registered under.
const DEFS_URI: &str = "urn:chartproof:kubernetes";

/// One version's definitions (indexed once in a shared registry), the definition name of each
/// (group, version, kind), and the validators compiled so far.
struct Definitions {
    registry: jsonschema::Registry,
    by_gvk: HashMap<(String, String, String), String>,
    /// `group/version` and `group/version/Kind` of every resource served by default.
    served: Vec<String>,
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
            let mut served = std::collections::BTreeSet::new();
            for (name, def) in root["$defs"].as_object().into_iter().flatten() {
                let gvks = def.get("x-kubernetes-group-version-kind").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                for gvk in gvks {
                    let f = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    by_gvk.insert((f("group"), f("version"), f("kind")), name.clone());
                }
                // A resource's own definition names one kind (DeleteOptions and WatchEvent name
                // one per group version); alpha versions are off unless a cluster turns them on.
                if let [gvk] = gvks {
                    let f = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("");
                    let (group, version, kind) = (f("group"), f("version"), f("kind"));
                    if !version.contains("alpha") && !kind.ends_with("List") {
                        let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
                        served.insert(format!("{gv}/{kind}"));
                        served.insert(gv);
                    }
                }
            }
            let resource = jsonschema::Draft::Draft202012.create_resource(root);
            let registry = jsonschema::Registry::try_new(DEFS_URI, resource).expect("shipped schema indexes");
            Arc::new(Definitions { registry, by_gvk, served: served.into_iter().collect(), validators: Mutex::new(HashMap::new()) })
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

/// Validate one resource (its body as decoded); returns (path, message) problems.
fn validate(defs: &Definitions, minor: u32, r: &Resource, body: &Value) -> Vec<(Option<String>, String)> {
    let (group, version) = match r.api_version.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), r.api_version.clone()),
    };
    let Some(name) = defs.by_gvk.get(&(group, version, r.kind.clone())) else {
        return vec![(Some("apiVersion".into()), format!("{} {} is not served by Kubernetes 1.{minor}", r.api_version, r.kind))];
    };
    errors(&defs.validator(name), body)
}

/// Schema errors of one object as (dotted path, message), sorted and deduplicated.
fn errors(validator: &jsonschema::Validator, body: &Value) -> Vec<(Option<String>, String)> {
    if validator.is_valid(body) {
        return Vec::new();
    }
    let mut problems: Vec<(Option<String>, String)> = Vec::new();
    for e in validator.iter_errors(body) {
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
    let crd_schemas = crd_schemas(manifest);
    let mut compiled: HashMap<(String, String, String), Option<jsonschema::Validator>> = HashMap::new();
    let mut unvalidated: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
    for r in &manifest.resources {
        let body = if has_null_field(&r.body) { Cow::Owned(without_null_fields(&r.body)) } else { Cow::Borrowed(&r.body) };
        let (problems, source) = if builtin_group(r.group()) {
            (validate(&defs, minor, r, &body), format!("Kubernetes 1.{minor} schema"))
        } else {
            let version = r.api_version.rsplit_once('/').map(|(_, v)| v).unwrap_or("");
            let key = (r.group().to_string(), version.to_string(), r.kind.clone());
            let Some((crd, schema)) = crd_schemas.get(&key) else {
                unvalidated.entry((r.api_version.clone(), r.kind.clone())).or_default().push(r);
                continue;
            };
            let validator = compiled.entry(key).or_insert_with(|| {
                jsonschema::options().with_draft(jsonschema::Draft::Draft4).should_validate_formats(false).build(&structural(schema, true)).ok()
            });
            let Some(validator) = validator else {
                unvalidated.entry((r.api_version.clone(), r.kind.clone())).or_default().push(r);
                continue;
            };
            (errors(validator, &body), format!("schema of CustomResourceDefinition {crd}"))
        };
        let total = problems.len();
        for (i, (path, message)) in problems.into_iter().enumerate() {
            if i == MAX_ERRORS {
                sink.report(r, RULE, None, format!("{} more schema errors not shown", total - MAX_ERRORS));
                break;
            }
            sink.report(r, RULE, path, format!("{message} ({source})"));
        }
    }
    for ((api_version, kind), resources) in unvalidated {
        let first = resources.iter().min_by_key(|r| r.display_id()).unwrap();
        sink.report_at(
            first,
            RULE,
            Severity::Info,
            None,
            format!("{} {kind} object(s) of custom resource {api_version} not validated: no schema is shipped for it and the release has no CustomResourceDefinition with one", resources.len()),
        );
    }
}

/// Whether some object member anywhere in `v` is null.
fn has_null_field(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(|x| x.is_null() || has_null_field(x)),
        Value::Array(items) => items.iter().any(has_null_field),
        _ => false,
    }
}

/// The object as the API server decodes it: a field set to null is an unset field (`maxSurge:
/// null` is no maxSurge; a required field set to null is missing). Custom resources get the same,
/// as the API server prunes nulls of fields that are not `nullable` (only a field both `nullable`
/// and required, set to null, is judged stricter than the API server does). Null list items are
/// kept: they are not unset fields.
fn without_null_fields(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), without_null_fields(x))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(without_null_fields).collect()),
        other => other.clone(),
    }
}

/// openAPIV3Schema of every CustomResourceDefinition version in the release, by (group, version, kind).
fn crd_schemas(manifest: &Manifest) -> HashMap<(String, String, String), (String, Value)> {
    let mut out = HashMap::new();
    for crd in manifest.of_kind("CustomResourceDefinition") {
        let spec = crd.body.get("spec");
        let field = |p: &str| spec.and_then(|s| s.pointer(p)).and_then(Value::as_str).unwrap_or("").to_string();
        let (group, kind) = (field("/group"), field("/names/kind"));
        for v in spec.and_then(|s| s.get("versions")).and_then(Value::as_array).into_iter().flatten() {
            let (Some(name), Some(schema)) = (v.get("name").and_then(Value::as_str), v.pointer("/schema/openAPIV3Schema")) else { continue };
            out.insert((group.clone(), name.to_string(), kind.clone()), (crd.name.clone(), schema.clone()));
        }
    }
    out
}

/// A CRD's structural schema as strict JSON Schema: unknown fields are errors where Kubernetes
/// would prune them (objects with `properties`, unless `x-kubernetes-preserve-unknown-fields`),
/// `nullable` allows null, int-or-string allows both, and the root (and embedded resources)
/// always allow apiVersion, kind and metadata.
fn structural(schema: &Value, root: bool) -> Value {
    let Some(obj) = schema.as_object() else { return schema.clone() };
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        let converted = match k.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                Value::Object(v.as_object().into_iter().flatten().map(|(name, s)| (name.clone(), structural(s, false))).collect())
            }
            "items" | "additionalProperties" | "not" if v.is_object() => structural(v, false),
            "allOf" | "anyOf" | "oneOf" => Value::Array(v.as_array().into_iter().flatten().map(|s| structural(s, false)).collect()),
            _ => v.clone(),
        };
        out.insert(k.clone(), converted);
    }
    let flag = |name: &str| obj.get(name).and_then(Value::as_bool) == Some(true);
    if flag("x-kubernetes-int-or-string") {
        out.remove("type");
        out.insert("anyOf".into(), serde_json::json!([{"type": "integer"}, {"type": "string"}]));
    }
    if flag("nullable")
        && let Some(t) = out.get("type").and_then(Value::as_str).map(str::to_string)
    {
        out.insert("type".into(), serde_json::json!([t, "null"]));
    }
    if root || flag("x-kubernetes-embedded-resource") {
        let props = out.entry("properties").or_insert_with(|| Value::Object(Default::default()));
        if let Some(p) = props.as_object_mut() {
            for field in ["apiVersion", "kind", "metadata"] {
                p.entry(field).or_insert_with(|| serde_json::json!({}));
            }
        }
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") && !flag("x-kubernetes-preserve-unknown-fields") {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
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
    fn null_fields_are_unset_fields() {
        let surge = DEPLOY.replace("spec:\n  selector:", "spec:\n  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: null, maxUnavailable: 1}}\n  replicas: null\n  selector:");
        assert!(rules_hit(&surge, RULE).is_empty(), "{:?}", rules_hit(&surge, RULE));
        let pdb = "---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p, annotations: null}\nspec:\n  minAvailable: null\n  maxUnavailable: 1\n  selector: {matchLabels: {app: a}}\n";
        assert!(rules_hit(pdb, RULE).is_empty(), "{:?}", rules_hit(pdb, RULE));
        // A required field set to null is missing, as the API server says.
        let unnamed = rules_hit(&DEPLOY.replace("- name: app", "- name: null"), RULE);
        assert_eq!(unnamed.len(), 1, "{unnamed:?}");
        assert!(unnamed[0].message.contains("\"name\" is a required property"), "{}", unnamed[0].message);
        // A wrong type is still wrong.
        assert_eq!(rules_hit(&pdb.replace("maxUnavailable: 1", "maxUnavailable: [1]"), RULE).len(), 1);
    }

    #[test]
    fn crd_schemas_with_description_fields_are_valid() {
        // Properties named `description` are schemas, not annotations (traefik's CRDs have them).
        let crd = "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\nspec:\n  group: example.com\n  names: {kind: Thing, plural: things}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        description: A thing.\n        type: object\n        properties:\n          description: {type: string, description: text}\n        x-kubernetes-preserve-unknown-fields: true\n";
        assert!(rules_hit(crd, RULE).is_empty(), "{:?}", rules_hit(crd, RULE));
    }

    #[test]
    fn custom_resources_are_validated_against_crds_in_the_release() {
        let crd = "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\nspec:\n  group: example.com\n  names: {kind: Thing, plural: things}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              port: {x-kubernetes-int-or-string: true}\n              size: {type: integer, nullable: true}\n              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
        let cr = |spec: &str| format!("{crd}---\napiVersion: example.com/v1\nkind: Thing\nmetadata: {{name: t}}\nspec: {spec}\n");
        assert!(rules_hit(&cr("{port: http, size: null, extra: {anything: 1}}"), RULE).is_empty(), "{:?}", rules_hit(&cr("{port: http}"), RULE));
        let typo = rules_hit(&cr("{prot: 80}"), RULE);
        assert_eq!(typo.len(), 1, "{typo:?}");
        assert!(typo[0].message.contains("`prot`") && typo[0].message.contains("things.example.com"), "{}", typo[0].message);
        assert_eq!(rules_hit(&cr("{size: big}"), RULE).len(), 1);
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
