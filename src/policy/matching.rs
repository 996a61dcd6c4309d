//! Which rendered objects a policy and binding apply to: `resourceRules` and
//! `excludeResourceRules` against the object's group, version, resource (mapped from kind as the
//! API server maps it) and operation (CREATE; UPDATE and DELETE for `diff`), and label selectors
//! on the object and namespace.

use std::collections::BTreeMap;

use super::objects::{LabelSelector, MatchResources, ResourceRule};

/// The request attributes a rendered object is matched on.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub resource: String,
    pub name: &'a str,
    pub operation: &'a str,
    pub namespaced: bool,
    pub labels: BTreeMap<String, String>,
    pub namespace_labels: BTreeMap<String, String>,
}

/// Built-in kinds whose resource name is not simply the lowercase kind plus `s`.
const IRREGULAR_RESOURCES: &[(&str, &str)] = &[
    ("Endpoints", "endpoints"),
    ("Ingress", "ingresses"),
    ("IngressClass", "ingressclasses"),
    ("NetworkPolicy", "networkpolicies"),
    ("PodSecurityPolicy", "podsecuritypolicies"),
    ("StorageClass", "storageclasses"),
    ("PriorityClass", "priorityclasses"),
    ("RuntimeClass", "runtimeclasses"),
    ("ResourceQuota", "resourcequotas"),
    ("ValidatingAdmissionPolicy", "validatingadmissionpolicies"),
    ("FlowSchema", "flowschemas"),
];

/// Built-in kinds that are not namespaced.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "RuntimeClass",
    "APIService",
    "CSIDriver",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// The resource name for `kind`, as the API server's RESTMapper guesses it: lowercase, then
/// English plural rules (`-y` → `-ies`, `-s`/`-x`/`-ch`/`-sh` → `-es`), with a table for built-ins.
pub fn resource_for_kind(kind: &str) -> String {
    if let Some((_, resource)) = IRREGULAR_RESOURCES.iter().find(|(k, _)| *k == kind) {
        return resource.to_string();
    }
    let lower = kind.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix('y').filter(|stem| !stem.ends_with(['a', 'e', 'i', 'o', 'u'])) {
        format!("{stem}ies")
    } else if lower.ends_with('s') || lower.ends_with('x') || lower.ends_with("ch") || lower.ends_with("sh") {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

pub fn is_namespaced(kind: &str) -> bool {
    !CLUSTER_SCOPED_KINDS.contains(&kind)
}

fn listed(values: &[String], value: &str) -> bool {
    values.iter().any(|v| v == "*" || v == value)
}

fn rule_matches(rule: &ResourceRule, facts: &RequestFacts) -> bool {
    let resource_ok = rule.resources.iter().any(|r| r == "*" || r == "*/*" || *r == facts.resource);
    let scope_ok = match rule.scope.as_deref() {
        Some("Cluster") => !facts.namespaced,
        Some("Namespaced") => facts.namespaced,
        _ => true,
    };
    listed(&rule.api_groups, facts.group)
        && listed(&rule.api_versions, facts.version)
        && resource_ok
        && listed(&rule.operations, facts.operation)
        && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == facts.name))
        && scope_ok
}

/// Whether `labels` satisfy `selector` (matchLabels and matchExpressions: In, NotIn, Exists,
/// DoesNotExist). An absent selector matches everything.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else { return true };
    selector.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        && selector.match_expressions.iter().all(|req| {
            let value = labels.get(&req.key);
            match req.operator.as_str() {
                "In" => value.is_some_and(|v| req.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !req.values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// Whether `constraints` select the request. With `empty_rules_match_all` (a binding's
/// `matchResources`), no resourceRules means every resource the policy matched.
pub fn matches(constraints: &MatchResources, facts: &RequestFacts, empty_rules_match_all: bool) -> bool {
    let included = if constraints.resource_rules.is_empty() { empty_rules_match_all } else { constraints.resource_rules.iter().any(|r| rule_matches(r, facts)) };
    included
        && !constraints.exclude_resource_rules.iter().any(|r| rule_matches(r, facts))
        && selector_matches(constraints.object_selector.as_ref(), &facts.labels)
        && (!facts.namespaced || selector_matches(constraints.namespace_selector.as_ref(), &facts.namespace_labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_resources_like_the_api_server() {
        assert_eq!(resource_for_kind("Deployment"), "deployments");
        assert_eq!(resource_for_kind("Ingress"), "ingresses");
        assert_eq!(resource_for_kind("NetworkPolicy"), "networkpolicies");
        assert_eq!(resource_for_kind("Endpoints"), "endpoints");
        assert_eq!(resource_for_kind("StorageClass"), "storageclasses");
        assert_eq!(resource_for_kind("Gateway"), "gateways");
        assert_eq!(resource_for_kind("Proxy"), "proxies");
        assert_eq!(resource_for_kind("Gateway"), "gateways");
        assert_eq!(resource_for_kind("Mesh"), "meshes");
    }

    fn facts(resource: &str, labels: &[(&str, &str)]) -> RequestFacts<'static> {
        RequestFacts {
            group: "apps",
            version: "v1",
            resource: resource.into(),
            name: "web",
            operation: "CREATE",
            namespaced: true,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            namespace_labels: BTreeMap::new(),
        }
    }

    fn rule(groups: &[&str], resources: &[&str]) -> ResourceRule {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ResourceRule { api_groups: strings(groups), api_versions: strings(&["v1"]), resources: strings(resources), operations: strings(&["CREATE", "UPDATE"]), ..Default::default() }
    }

    #[test]
    fn resource_rules_exclusions_and_selectors() {
        let deployments = MatchResources { resource_rules: vec![rule(&["apps"], &["deployments"])], ..Default::default() };
        assert!(matches(&deployments, &facts("deployments", &[]), false));
        assert!(!matches(&deployments, &facts("statefulsets", &[]), false));
        let everything = MatchResources { resource_rules: vec![rule(&["*"], &["*"])], exclude_resource_rules: vec![rule(&["apps"], &["statefulsets"])], ..Default::default() };
        assert!(matches(&everything, &facts("deployments", &[]), false));
        assert!(!matches(&everything, &facts("statefulsets", &[]), false));
        let selector = LabelSelector {
            match_labels: [("tier".to_string(), "web".to_string())].into(),
            match_expressions: vec![super::super::objects::LabelRequirement { key: "env".into(), operator: "NotIn".into(), values: vec!["dev".into()] }],
        };
        let selected = MatchResources { object_selector: Some(selector), ..everything.clone() };
        assert!(matches(&selected, &facts("deployments", &[("tier", "web")]), false));
        assert!(!matches(&selected, &facts("deployments", &[("tier", "web"), ("env", "dev")]), false));
        assert!(!matches(&selected, &facts("deployments", &[]), false));
        assert!(matches(&MatchResources::default(), &facts("deployments", &[]), true));
        assert!(!matches(&MatchResources::default(), &facts("deployments", &[]), false));
    }
}
