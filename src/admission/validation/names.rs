//! Name and metadata syntax: apimachinery `pkg/util/validation/validation.go` (IsDNS1123Label,
//! IsDNS1123Subdomain, IsDNS1035Label, IsQualifiedName, IsValidLabelValue, IsValidPortName,
//! IsConfigMapKey, IsEnvVarName…), `pkg/api/validation/objectmeta.go` (ValidateObjectMeta,
//! ValidateAnnotations) and `pkg/apis/meta/v1/validation/validation.go` (ValidateLabels,
//! ValidateLabelSelector). Each validator returns the messages Go returns, in Go's order.

use serde_json::Value;

use super::{Errors, child, list_at, map_at, quote, str_at};

/// `MaxLenError`.
fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `RegexError(msg, fmt, examples...)`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
fn dns1123_label_matches(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && lower_alnum(b[0]) && lower_alnum(b[b.len() - 1]) && b.iter().all(|c| lower_alnum(*c) || *c == b'-')
}

fn dns1123_subdomain_matches(s: &str) -> bool {
    s.split('.').all(dns1123_label_matches)
}

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";

/// `IsDNS1123Label`.
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !dns1123_label_matches(s) {
        if dns1123_subdomain_matches(s) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len(253));
    }
    if !dns1123_subdomain_matches(s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            &format!("{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*"),
            &["example.com"],
        ));
    }
    errs
}

/// `IsWildcardDNS1123Subdomain`.
pub fn is_wildcard_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len(253));
    }
    if !s.strip_prefix("*.").is_some_and(dns1123_subdomain_matches) {
        errs.push(regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            &format!("\\*\\.{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*"),
            &["*.example.com"],
        ));
    }
    errs
}

/// `IsDNS1035Label`.
pub fn is_dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    let b = s.as_bytes();
    let ok = !b.is_empty() && b[0].is_ascii_lowercase() && lower_alnum(b[b.len() - 1]) && b.iter().all(|c| lower_alnum(*c) || *c == b'-');
    if !ok {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            "[a-z]([-a-z0-9]*[a-z0-9])?",
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn qualified_name_part_matches(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

/// `IsQualifiedName` (content.IsLabelKey): `[prefix/]name`, name ≤ 63, prefix a DNS subdomain.
pub fn is_qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".into());
            } else {
                errs.extend(is_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len(63)));
    }
    if !qualified_name_part_matches(name) {
        errs.push(format!("name part {}", regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])));
    }
    errs
}

/// `IsValidLabelValue` (content.IsLabelValue): empty, or ≤ 63 characters of the qualified-name syntax.
pub fn is_valid_label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len(63));
    }
    if !s.is_empty() && !qualified_name_part_matches(s) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsValidPortName` (IANA_SVC_NAME).
pub fn is_valid_port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push(max_len(15));
    }
    if s.is_empty() || !s.bytes().all(|c| lower_alnum(c) || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `IsValidPortNum`.
pub fn is_valid_port_num(n: i64) -> Vec<String> {
    if (1..=65535).contains(&n) { Vec::new() } else { vec!["must be between 1 and 65535, inclusive".into()] }
}

/// `hasChDirPrefix`.
fn has_chdir_prefix(s: &str) -> Vec<String> {
    match s {
        "." => vec!["must not be '.'".into()],
        ".." => vec!["must not be '..'".into()],
        _ if s.starts_with("..") => vec!["must not start with '..'".into()],
        _ => Vec::new(),
    }
}

/// `IsConfigMapKey`.
pub fn is_config_map_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len(253));
    }
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')) {
        errs.push(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", "[-._a-zA-Z0-9]+", &["key.name", "KEY_NAME", "key-name"]));
    }
    errs.extend(has_chdir_prefix(s));
    errs
}

/// `IsEnvVarName`.
pub fn is_env_var_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let b = s.as_bytes();
    let ok = !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok {
        errs.push(regex_error(
            "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
            "[-._a-zA-Z][-._a-zA-Z0-9]*",
            &["my.env-name", "MY_ENV.NAME", "MyEnvName1"],
        ));
    }
    errs.extend(has_chdir_prefix(s));
    errs
}

/// `IsRelaxedEnvVarName`: printable ASCII other than '='.
pub fn is_relaxed_env_var_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.is_empty() {
        errs.push("environment variable name must be non-empty".into());
    }
    if s.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='".into());
    }
    errs
}

/// `IsValidPathSegmentName` (apimachinery api/validation/path): RBAC object names.
pub fn is_valid_path_segment_name(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// Which name syntax an object's `metadata.name` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    PathSegment,
}

/// The name rule of each ported kind (the `ValidateXxxName` each `ValidateXxx` passes to
/// ValidateObjectMeta); None for kinds not ported.
pub fn name_rule(group: &str, kind: &str) -> Option<NameRule> {
    use NameRule::*;
    Some(match (group, kind) {
        // core/validation: ValidateServiceName = NameIsDNS1035Label; ValidateNamespaceName = NameIsDNSLabel.
        ("", "Service") => Dns1035Label,
        ("", "Namespace") => Dns1123Label,
        ("", "Pod" | "ConfigMap" | "Secret" | "ServiceAccount" | "PersistentVolumeClaim" | "ReplicationController" | "Endpoints" | "LimitRange" | "ResourceQuota") => Dns1123Subdomain,
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet") => Dns1123Subdomain,
        ("batch", "Job" | "CronJob") => Dns1123Subdomain,
        ("autoscaling", "HorizontalPodAutoscaler") => Dns1123Subdomain,
        ("policy", "PodDisruptionBudget") => Dns1123Subdomain,
        ("networking.k8s.io", "Ingress" | "NetworkPolicy" | "IngressClass") => Dns1123Subdomain,
        ("scheduling.k8s.io", "PriorityClass") | ("storage.k8s.io", "StorageClass") => Dns1123Subdomain,
        // rbac/validation: ValidateRBACName = path.IsValidPathSegmentName.
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding") => PathSegment,
        _ => return None,
    })
}

/// Whether a ported kind is namespaced.
pub fn namespaced(kind: &str) -> bool {
    !matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "PriorityClass" | "StorageClass" | "IngressClass")
}

fn name_messages(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
        NameRule::Dns1123Label => is_dns1123_label(name),
        NameRule::Dns1035Label => is_dns1035_label(name),
        NameRule::PathSegment => is_valid_path_segment_name(name),
    }
}

/// `ValidateObjectMeta` (apimachinery api/validation/objectmeta.go, `ValidateObjectMetaAccessor`):
/// name (or generateName) by the kind's rule, namespace a DNS-1123 label, labels, annotations.
pub fn validate_object_meta(errs: &mut Errors, meta: &Value, rule: NameRule, namespaced: bool, path: &str) {
    let name = str_at(meta, "name").unwrap_or("");
    let generate = str_at(meta, "generateName").unwrap_or("");
    if !generate.is_empty() {
        // ValidateObjectMetaAccessor: the prefix is checked with the name function in prefix mode
        // (a trailing '-' is allowed: maskTrailingDash).
        let masked = generate.strip_suffix('-').filter(|s| !s.is_empty()).unwrap_or(generate);
        for m in name_messages(rule, masked) {
            errs.invalid(&child(path, "generateName"), quote(generate), m);
        }
    }
    if name.is_empty() {
        if generate.is_empty() {
            errs.required(&child(path, "name"), "name or generateName is required");
        }
    } else {
        errs.each_invalid(&child(path, "name"), name, name_messages(rule, name));
    }
    if namespaced {
        if let Some(ns) = str_at(meta, "namespace").filter(|ns| !ns.is_empty()) {
            errs.each_invalid(&child(path, "namespace"), ns, is_dns1123_label(ns));
        }
    } else if str_at(meta, "namespace").is_some_and(|ns| !ns.is_empty()) {
        // Cluster-scoped objects: the API server ignores metadata.namespace on create (the
        // request path has none), so nothing is reported.
    }
    validate_labels(errs, map_at(meta, "labels"), &child(path, "labels"));
    validate_annotations(errs, map_at(meta, "annotations"), &child(path, "annotations"));
}

/// `ValidateLabels` (meta/v1/validation): each key a qualified name, each value a label value; the
/// field is the labels map itself.
pub fn validate_labels(errs: &mut Errors, labels: Option<&serde_json::Map<String, Value>>, path: &str) {
    for (k, v) in labels.into_iter().flatten() {
        errs.each_invalid(path, k, is_qualified_name(k));
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        errs.each_invalid(path, &value, is_valid_label_value(&value));
    }
}

/// Most bytes of all annotations of an object (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// `ValidateAnnotations` (apimachinery api/validation/objectmeta.go): keys are qualified names
/// (checked lowercased), total size ≤ 256 KiB.
pub fn validate_annotations(errs: &mut Errors, annotations: Option<&serde_json::Map<String, Value>>, path: &str) {
    let mut total = 0;
    for (k, v) in annotations.into_iter().flatten() {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.invalid(path, quote(k), m);
        }
        total += k.len() + v.as_str().map(str::len).unwrap_or(0);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        errs.too_long(path, ANNOTATIONS_MAX_BYTES);
    }
}

/// `ValidateLabelSelector` (meta/v1/validation): matchLabels as labels, each matchExpression's
/// key a qualified name and its values as its operator requires.
pub fn validate_label_selector(errs: &mut Errors, selector: &Value, path: &str) {
    for (i, req) in list_at(selector, "matchExpressions").iter().enumerate() {
        let p = format!("{}[{i}]", child(path, "matchExpressions"));
        validate_requirement_values(errs, req, &p, &[]);
        let k = str_at(req, "key").unwrap_or("");
        errs.each_invalid(&child(&p, "key"), k, is_qualified_name(k));
    }
    validate_labels(errs, map_at(selector, "matchLabels"), &child(path, "matchLabels"));
}

/// The operator of a selector requirement and the values it needs (`ValidateLabelSelectorRequirement`,
/// `ValidateNodeSelectorRequirement`): In/NotIn need values, Exists/DoesNotExist take none;
/// `more` are further operators the caller handles itself (node selectors' Gt and Lt). Returns
/// the operator when it is one of `more`.
pub fn validate_requirement_values<'a>(errs: &mut Errors, req: &'a Value, path: &str, more: &[&str]) -> Option<&'a str> {
    let op = str_at(req, "operator").unwrap_or("");
    let values = list_at(req, "values");
    match op {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.required(&child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.forbidden(&child(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
            }
        }
        _ if more.contains(&op) => return Some(op),
        _ => errs.invalid(&child(path, "operator"), quote(op), "not a valid selector operator"),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_apimachinery() {
        // TestIsDNS1123Label / TestIsValidPortName in apimachinery util/validation/validation_test.go.
        assert!(is_dns1123_label("a-1").is_empty());
        assert_eq!(is_dns1123_label("a.b"), ["must not contain dots"]);
        assert_eq!(is_valid_port_name("http-remote-write"), ["must be no more than 15 characters"]);
        assert!(is_valid_port_name("abcdefghijklmno").is_empty());
        assert_eq!(is_valid_port_name("123"), ["must contain at least one letter (a-z)"]);
        assert!(is_dns1035_label("1svc")[0].starts_with("a DNS-1035 label must consist"));
        assert_eq!(
            is_dns1123_label("A")[0],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        );
    }
}
