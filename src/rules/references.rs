//! `dangling-reference`: pod templates naming a ConfigMap, Secret, ServiceAccount or
//! PersistentVolumeClaim that the release does not create (and config does not allow-list).
//! Objects the release's Jobs and hooks are allowed by its RBAC to create count as created.

use std::collections::HashMap;

use serde_json::Value;

use super::Sink;
use super::selectors::same_namespace;
use crate::manifest::{Manifest, Resource};

/// Objects every namespace has, or that Kubernetes creates on its own.
fn builtin(kind: &str, name: &str) -> bool {
    matches!((kind, name), ("ConfigMap", "kube-root-ca.crt") | ("ServiceAccount", "default"))
}

/// Whether the release creates `kind/name` in `by`'s namespace, directly or through an object
/// known to create it (cert-manager Certificate, ExternalSecret, SealedSecret → Secret).
fn provided(index: &HashMap<(&str, &str), Vec<&Resource>>, by: &Resource, kind: &str, name: &str) -> bool {
    index.get(&(kind, name)).is_some_and(|rs| rs.iter().any(|r| same_namespace(r, by)))
}

/// Objects the release creates, by (kind, name), including Secrets made by cert-manager
/// Certificates, ExternalSecrets and SealedSecrets.
fn index(manifest: &Manifest) -> HashMap<(&str, &str), Vec<&Resource>> {
    let mut index: HashMap<(&str, &str), Vec<&Resource>> = HashMap::new();
    for r in &manifest.resources {
        index.entry((r.kind.as_str(), r.name.as_str())).or_default().push(r);
        let secret = match r.kind.as_str() {
            "Certificate" => r.body.pointer("/spec/secretName").and_then(Value::as_str),
            "ExternalSecret" => Some(r.body.pointer("/spec/target/name").and_then(Value::as_str).unwrap_or(&r.name)),
            "SealedSecret" => Some(r.name.as_str()),
            _ => None,
        };
        if let Some(s) = secret {
            index.entry(("Secret", s)).or_default().push(r);
        }
    }
    index
}

/// Whether a container of the release passes `name` on its command line (a hook Job such as
/// kube-webhook-certgen `--secret-name=<name>` creating the object at install time).
fn created_by_a_job(manifest: &Manifest, by: &Resource, name: &str) -> bool {
    let bounded = |text: &str| {
        text.match_indices(name).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + name.len()..].chars().next();
            let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
            !part(before) && !part(after)
        })
    };
    manifest.workloads().filter(|(w, t)| same_namespace(w, by) && t.runs_to_completion()).any(|(_, t)| {
        t.containers().iter().any(|c| {
            ["command", "args"].iter().any(|f| c.body.get(*f).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(bounded))
        })
    })
}

/// What the RBAC of the release's Jobs and hooks lets them create of one kind in a namespace.
#[derive(Debug, Default, PartialEq, Eq)]
enum CreateGrant {
    #[default]
    None,
    /// A bound rule grants `create` but only with resourceNames, which Kubernetes does not apply
    /// to create requests (the name is not known at authorization time): the create is denied.
    OnlyByName,
    Any,
}

/// Plural resource name of the kinds a pod references.
fn resource_of(kind: &str) -> &'static str {
    match kind {
        "ConfigMap" => "configmaps",
        "Secret" => "secrets",
        "ServiceAccount" => "serviceaccounts",
        _ => "persistentvolumeclaims",
    }
}

/// Whether a Job, CronJob or helm hook of the release runs under a ServiceAccount bound (by a
/// RoleBinding or ClusterRoleBinding of the release) to a Role or ClusterRole that grants
/// `create` (or `*`) on `kind` in `by`'s namespace: such a workload creates the object at
/// install time (a hook Job writing a generated Secret). Long-running workloads do not count.
fn create_grant(manifest: &Manifest, by: &Resource, kind: &str, name: &str) -> CreateGrant {
    let resource = resource_of(kind);
    let mut grant = CreateGrant::None;
    for (w, t) in manifest.workloads().filter(|(w, t)| same_namespace(w, by) && (t.runs_to_completion() || w.annotations().is_some_and(|a| a.contains_key("helm.sh/hook")))) {
        let account = ["serviceAccountName", "serviceAccount"].iter().find_map(|f| t.spec.get(*f).and_then(Value::as_str)).filter(|s| !s.is_empty()).unwrap_or("default");
        for binding in manifest.resources.iter().filter(|b| b.kind == "ClusterRoleBinding" || (b.kind == "RoleBinding" && same_namespace(b, by))) {
            let binds_account = binding.body.get("subjects").and_then(Value::as_array).into_iter().flatten().any(|s| {
                let text = |k: &str| s.get(k).and_then(Value::as_str);
                text("kind") == Some("ServiceAccount") && text("name") == Some(account) && text("namespace").is_none_or(|ns| w.namespace.as_deref().is_none_or(|wns| wns == ns))
            });
            if !binds_account {
                continue;
            }
            let role_kind = binding.body.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or("");
            let role_name = binding.body.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("");
            let roles = manifest.resources.iter().filter(|r| r.kind == role_kind && r.name == role_name && (r.kind == "ClusterRole" || same_namespace(r, binding)));
            for rule in roles.flat_map(|r| r.body.get("rules").and_then(Value::as_array).into_iter().flatten()) {
                let has = |field: &str, wanted: &str| rule.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).any(|v| v == wanted || v == "*");
                if !(has("apiGroups", "") && has("resources", resource) && has("verbs", "create")) {
                    continue;
                }
                let names: Vec<&str> = rule.get("resourceNames").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                if names.is_empty() {
                    return CreateGrant::Any;
                }
                if names.contains(&name) {
                    grant = CreateGrant::OnlyByName;
                }
            }
        }
    }
    grant
}

fn optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool) == Some(true)
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    if !sink.enabled("dangling-reference") {
        return;
    }
    let index = index(manifest);
    for (r, t) in manifest.workloads() {
        let base = if t.path().is_empty() { "spec".to_string() } else { format!("{}.spec", t.path()) };
        // (kind, name, path)
        let mut refs: Vec<(&str, String, String)> = Vec::new();
        if let Some(sa) = t.spec.get("serviceAccountName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            refs.push(("ServiceAccount", sa.to_string(), format!("{base}.serviceAccountName")));
        }
        for v in t.spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
            let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
            let vpath = format!("{base}.volumes[name={vname}]");
            if let Some(cm) = v.get("configMap").filter(|c| !optional(c)).and_then(|c| c.get("name")).and_then(Value::as_str) {
                refs.push(("ConfigMap", cm.into(), format!("{vpath}.configMap.name")));
            }
            if let Some(s) = v.get("secret").filter(|c| !optional(c)).and_then(|c| c.get("secretName")).and_then(Value::as_str) {
                refs.push(("Secret", s.into(), format!("{vpath}.secret.secretName")));
            }
            if let Some(c) = v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str) {
                refs.push(("PersistentVolumeClaim", c.into(), format!("{vpath}.persistentVolumeClaim.claimName")));
            }
            for (i, src) in v.pointer("/projected/sources").and_then(Value::as_array).into_iter().flatten().enumerate() {
                for (field, kind) in [("configMap", "ConfigMap"), ("secret", "Secret")] {
                    if let Some(n) = src.get(field).filter(|c| !optional(c)).and_then(|c| c.get("name")).and_then(Value::as_str) {
                        refs.push((kind, n.into(), format!("{vpath}.projected.sources[{i}].{field}.name")));
                    }
                }
            }
        }
        for c in t.containers() {
            let cpath = c.path(&t);
            for (i, e) in c.body.get("envFrom").and_then(Value::as_array).into_iter().flatten().enumerate() {
                for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                    if let Some(n) = e.get(field).filter(|x| !optional(x)).and_then(|x| x.get("name")).and_then(Value::as_str) {
                        refs.push((kind, n.into(), format!("{cpath}.envFrom[{i}].{field}.name")));
                    }
                }
            }
            for e in c.env() {
                let ename = e.get("name").and_then(Value::as_str).unwrap_or("");
                for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
                    if let Some(n) = e.get("valueFrom").and_then(|v| v.get(field)).filter(|x| !optional(x)).and_then(|x| x.get("name")).and_then(Value::as_str) {
                        refs.push((kind, n.into(), format!("{cpath}.env[name={ename}].valueFrom.{field}.name")));
                    }
                }
            }
        }
        refs.sort();
        refs.dedup();
        for (kind, name, path) in refs {
            if builtin(kind, &name) || provided(&index, r, kind, &name) || created_by_a_job(manifest, r, &name) || sink.config().reference_allowed(kind, &name) {
                continue;
            }
            let why_not_created = match create_grant(manifest, r, kind, &name) {
                CreateGrant::Any => continue,
                CreateGrant::OnlyByName => format!(
                    "; a Job's Role grants `create` on {} only with resourceNames, which Kubernetes does not apply to create requests, so the create is denied",
                    resource_of(kind)
                ),
                CreateGrant::None => String::new(),
            };
            sink.report(
                r,
                "dangling-reference",
                Some(path),
                format!("references {kind} `{name}`, which the release does not create{why_not_created} (allow-list it as `{kind}/{name}` if it is created elsewhere)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::{manifest, rules_hit};

    const POD: &str = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  serviceAccountName: sa\n  volumes:\n  - {name: cfg, configMap: {name: cfg}}\n  - {name: tls, secret: {secretName: tls}}\n  - {name: opt, secret: {secretName: maybe, optional: true}}\n  - {name: data, persistentVolumeClaim: {claimName: data}}\n  containers:\n  - name: app\n    image: x\n    envFrom: [{secretRef: {name: env}}]\n";

    #[test]
    fn missing_objects_are_reported_unless_created_or_allowed() {
        let f = rules_hit(POD, "dangling-reference");
        let mut kinds: Vec<_> = f.iter().map(|f| f.message.split('`').nth(1).unwrap().to_string()).collect();
        kinds.sort();
        assert_eq!(kinds, ["cfg", "data", "env", "sa", "tls"]);
        let created = format!(
            "{POD}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: c}}\nspec: {{secretName: tls}}\n"
        );
        assert_eq!(rules_hit(&created, "dangling-reference").len(), 3);
        let job = "---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: certgen}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: x, args: [create, --secret-name=env]}]\n";
        assert_eq!(rules_hit(&format!("{created}{job}"), "dangling-reference").len(), 2);
        let c = crate::rules::Config {
            allow_references: vec!["Secret/*".into(), "ServiceAccount/sa".into(), "PersistentVolumeClaim/data".into()],
            ..Default::default()
        };
        let out = crate::rules::check_manifest(&manifest(&created), &c);
        assert!(out.findings.iter().all(|f| f.rule != "dangling-reference"), "{:?}", out.findings);
    }

    const CONSUMER: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      volumes: [{name: tls, secret: {secretName: web-tls}}]\n      containers: [{name: app, image: x}]\n";

    /// A pre-install hook Job running as `gen`, bound to a Role with `rule`.
    fn hook_with_role(rule: &str, binding_kind: &str) -> String {
        let role_kind = if binding_kind == "ClusterRoleBinding" { "ClusterRole" } else { "Role" };
        format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: gen\n  annotations: {{helm.sh/hook: pre-install}}\nspec:\n  template:\n    spec:\n      serviceAccountName: gen\n      restartPolicy: Never\n      containers: [{{name: gen, image: x, command: [/gen.sh]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {role_kind}\nmetadata: {{name: gen}}\nrules: [{rule}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {binding_kind}\nmetadata: {{name: gen}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: gen}}\nsubjects: [{{kind: ServiceAccount, name: gen, namespace: default}}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: gen}}\n"
        )
    }

    #[test]
    fn objects_a_hook_may_create_are_not_dangling() {
        let dangling = |extra: &str| rules_hit(&format!("{CONSUMER}{extra}"), "dangling-reference").into_iter().map(|f| f.message).collect::<Vec<_>>();
        assert_eq!(dangling("").len(), 1);
        for rule in ["{apiGroups: [\"\"], resources: [secrets], verbs: [get, create]}", "{apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}"] {
            for binding in ["RoleBinding", "ClusterRoleBinding"] {
                assert!(dangling(&hook_with_role(rule, binding)).is_empty(), "{rule} via {binding}");
            }
        }
        // Only `get`, another resource, another API group: the hook cannot create it.
        for rule in ["{apiGroups: [\"\"], resources: [secrets], verbs: [get, list]}", "{apiGroups: [\"\"], resources: [configmaps], verbs: [create]}", "{apiGroups: [apps], resources: [secrets], verbs: [create]}"] {
            assert_eq!(dangling(&hook_with_role(rule, "RoleBinding")).len(), 1, "{rule}");
        }
        // A binding of another ServiceAccount does not count.
        assert_eq!(dangling(&hook_with_role("{apiGroups: [\"\"], resources: [secrets], verbs: [create]}", "RoleBinding").replace("subjects: [{kind: ServiceAccount, name: gen", "subjects: [{kind: ServiceAccount, name: other")).len(), 1);
        // Kubernetes does not restrict create by resourceNames: such a rule denies the create, and the finding says so.
        let by_name = dangling(&hook_with_role("{apiGroups: [\"\"], resources: [secrets], resourceNames: [web-tls], verbs: [create, update]}", "RoleBinding"));
        assert_eq!(by_name.len(), 1);
        assert!(by_name[0].contains("only with resourceNames"), "{}", by_name[0]);
        // A long-running workload with the same rights is not a creator at install time.
        let deployment = hook_with_role("{apiGroups: [\"\"], resources: [secrets], verbs: [create]}", "RoleBinding")
            .replace("kind: Job\nmetadata:\n  name: gen\n  annotations: {helm.sh/hook: pre-install}\nspec:\n", "kind: Deployment\nmetadata:\n  name: gen\nspec:\n  selector: {matchLabels: {app: gen}}\n")
            .replace("  template:\n    spec:\n      serviceAccountName: gen\n      restartPolicy: Never\n", "  template:\n    metadata: {labels: {app: gen}}\n    spec:\n      serviceAccountName: gen\n");
        assert_eq!(dangling(&deployment).len(), 1);
    }
}
