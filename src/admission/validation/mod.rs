//! Kubernetes' built-in validation (`pkg/apis/*/validation` in kubernetes/kubernetes), ported:
//! the checks the API server runs on every object after defaulting, beyond the OpenAPI schema.
//! Entry point: [`validate_object`] on a defaulted object (see [`crate::admission::defaults`]);
//! each check cites the Go function it ports. Errors are [`FieldError`]s printed in the API
//! server's own form (`field.Error.Error()` in apimachinery `pkg/util/validation/field/errors.go`).
//!
//! Version awareness: [`ValidationContext::minor`] is the Kubernetes minor of the render; checks
//! whose rules changed between 1.25 and 1.37 (sidecar init containers, relaxed environment
//! variable names) follow the feature-gate defaults of that minor.

mod apps;
mod core;
mod names;
mod other;

use serde_json::Value;

pub use names::{is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, is_valid_port_name};

/// The kind of a field error: apimachinery `field.ErrorType`, with its `String()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
}

impl ErrorType {
    /// `field.ErrorType.String()`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }

    /// The Go constructor's name (`field.Invalid` → `Invalid`), as the oracle tables name reasons.
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::NotFound => "NotFound",
            ErrorType::Required => "Required",
            ErrorType::Duplicate => "Duplicate",
            ErrorType::Invalid => "Invalid",
            ErrorType::NotSupported => "NotSupported",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "TooLong",
            ErrorType::TooMany => "TooMany",
        }
    }
}

/// One validation error: the field path (`spec.template.spec.containers[0].ports[0].name`), the
/// reason, the bad value as Go prints it (None where the API server omits it) and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub kind: ErrorType,
    pub value: Option<String>,
    pub detail: String,
    /// The API server accepts the object itself and refuses only the pods made from it later
    /// (a StatefulSet's pod spec: `ValidatePodTemplateSpecForStatefulSet` leaves it to pod creation).
    pub at_pod_creation: bool,
}

impl std::fmt::Display for FieldError {
    /// `field.Error.Error()`: `<field>: <type>[: <value>][: <detail>]`; Required, Forbidden and
    /// TooLong never print the value (`ErrorBody` in field/errors.go).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.as_str())?;
        let omit = matches!(self.kind, ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong);
        if let (false, Some(v)) = (omit, &self.value) {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// What validation depends on besides the object: the Kubernetes minor version of the render.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext {
    pub minor: u32,
}

impl ValidationContext {
    /// Newest minor whose rules are ported.
    pub const NEWEST: u32 = 37;
    /// Oldest minor whose rules are ported.
    pub const OLDEST: u32 = 25;

    /// Sidecar containers (init containers with restartPolicy Always): feature gate
    /// SidecarContainers, beta and on by default from 1.29.
    pub fn sidecars(&self) -> bool {
        self.minor >= 29
    }

    /// RelaxedEnvironmentVariableValidation: on by default from 1.32 (beta), GA in 1.34.
    pub fn relaxed_env_names(&self) -> bool {
        self.minor >= 32
    }
}

impl Default for ValidationContext {
    fn default() -> Self {
        ValidationContext { minor: Self::NEWEST }
    }
}

/// Collects the errors of one object.
pub(crate) struct Errors(pub Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: &str, kind: ErrorType, value: Option<String>, detail: impl Into<String>) {
        self.0.push(FieldError { field: field.to_string(), kind, value, detail: detail.into(), at_pod_creation: false });
    }
    pub(crate) fn required(&mut self, field: &str, detail: impl Into<String>) {
        self.push(field, ErrorType::Required, None, detail)
    }
    pub(crate) fn forbidden(&mut self, field: &str, detail: impl Into<String>) {
        self.push(field, ErrorType::Forbidden, None, detail)
    }
    pub(crate) fn invalid(&mut self, field: &str, value: String, detail: impl Into<String>) {
        self.push(field, ErrorType::Invalid, Some(value), detail)
    }
    pub(crate) fn duplicate(&mut self, field: &str, value: String) {
        self.push(field, ErrorType::Duplicate, Some(value), "")
    }
    pub(crate) fn not_found(&mut self, field: &str, value: String) {
        self.push(field, ErrorType::NotFound, Some(value), "")
    }
    pub(crate) fn too_long(&mut self, field: &str, max: usize) {
        self.push(field, ErrorType::TooLong, None, format!("may not be more than {max} bytes"))
    }
    /// `field.NotSupported`: the value and `supported values: "a", "b"`.
    pub(crate) fn not_supported(&mut self, field: &str, value: String, supported: &[&str]) {
        let list = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        self.push(field, ErrorType::NotSupported, Some(value), format!("supported values: {list}"))
    }
    /// One `Invalid` per message of a validator (the `for _, msg := range IsXxx(v)` idiom).
    pub(crate) fn each_invalid(&mut self, field: &str, value: &str, messages: Vec<String>) {
        for m in messages {
            self.invalid(field, quote(value), m);
        }
    }
}

/// A Go string as `%q` prints it.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An `intstr.IntOrString` printed with `%#v` (it has no value-receiver `String()`).
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}", quote(s)),
        other => format!("intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}", other.as_i64().unwrap_or(0)),
    }
}

/// Path helpers in `field.Path` notation: `Child` joins with `.`, `Index` as `[i]`, `Key` as `[k]`.
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

/// Typed reads of the decoded object.
pub(crate) fn str_at<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}
pub(crate) fn int_at(v: &Value, field: &str) -> Option<i64> {
    v.get(field).and_then(Value::as_i64)
}
pub(crate) fn list_at<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
pub(crate) fn map_at<'a>(v: &'a Value, field: &str) -> Option<&'a serde_json::Map<String, Value>> {
    v.get(field).and_then(Value::as_object)
}
pub(crate) fn present(v: &Value, field: &str) -> bool {
    v.get(field).is_some_and(|x| !x.is_null())
}

/// `ValidateNonnegativeField` (core/validation/validation.go).
pub(crate) fn nonnegative(errs: &mut Errors, v: &Value, field: &str, path: &str) {
    if let Some(n) = int_at(v, field).filter(|n| *n < 0) {
        errs.invalid(&child(path, field), n.to_string(), "must be greater than or equal to 0");
    }
}

/// Validate one defaulted object as the API server does on create. The object carries its own
/// apiVersion and kind; kinds outside the ported set give no errors.
pub fn validate_object(object: &Value, ctx: &ValidationContext) -> Vec<FieldError> {
    let kind = str_at(object, "kind").unwrap_or("");
    let group = str_at(object, "apiVersion").and_then(|a| a.rsplit_once('/')).map(|(g, _)| g).unwrap_or("");
    let mut errs = Errors(Vec::new());
    let Some(name_rule) = names::name_rule(group, kind) else { return errs.0 };
    names::validate_object_meta(&mut errs, object.get("metadata").unwrap_or(&Value::Null), name_rule, names::namespaced(kind), "metadata");
    let spec = object.get("spec").unwrap_or(&Value::Null);
    match (group, kind) {
        ("", "Pod") => core::validate_pod_spec(&mut errs, spec, "spec", ctx, &[]),
        ("", "Service") => core::validate_service(&mut errs, spec),
        ("", "ConfigMap") => core::validate_config_map(&mut errs, object),
        ("", "Secret") => core::validate_secret(&mut errs, object),
        ("", "PersistentVolumeClaim") => core::validate_pvc_spec(&mut errs, spec, "spec"),
        ("apps", "Deployment") => apps::validate_deployment(&mut errs, spec, ctx),
        ("apps", "ReplicaSet") => apps::validate_replica_set(&mut errs, spec, ctx),
        ("apps", "DaemonSet") => apps::validate_daemon_set(&mut errs, spec, ctx),
        ("apps", "StatefulSet") => apps::validate_stateful_set(&mut errs, spec, ctx),
        ("batch", "Job") => apps::validate_job_spec(&mut errs, spec, "spec", ctx),
        ("batch", "CronJob") => apps::validate_cron_job(&mut errs, object, ctx),
        ("autoscaling", "HorizontalPodAutoscaler") => other::validate_hpa(&mut errs, spec),
        ("policy", "PodDisruptionBudget") => other::validate_pdb(&mut errs, spec),
        ("networking.k8s.io", "Ingress") => other::validate_ingress(&mut errs, spec),
        ("networking.k8s.io", "NetworkPolicy") => other::validate_network_policy(&mut errs, spec),
        ("rbac.authorization.k8s.io", "Role") => other::validate_rules(&mut errs, object, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => other::validate_rules(&mut errs, object, false),
        ("rbac.authorization.k8s.io", "RoleBinding") => other::validate_binding(&mut errs, object, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => other::validate_binding(&mut errs, object, false),
        _ => {}
    }
    errs.0
}

#[cfg(test)]
mod cases;
