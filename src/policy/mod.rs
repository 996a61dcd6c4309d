//! Platform policies: the cluster's own ValidatingAdmissionPolicies (CEL), loaded from
//! `--policies` files, compiled once per run and evaluated offline on every render. Evaluation
//! gives verdicts of this module's own type ([`Verdict`]); `crate::admission` runs it on the
//! objects the API server would admit, and the rule engine turns each verdict into a
//! `policy/<policy name>` finding at its binding's action severity. This module uses neither.

pub mod compile;
pub mod evaluate;
pub mod formats;
pub mod library;
pub mod matching;
pub mod objects;
pub mod recursion;
pub mod typecheck;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use cel::Env;

pub use evaluate::{Action, AdmitObject, Effect, Verdict};
use compile::{Expression, Site, compile};
use objects::{BindingObject, ParamObject, PolicyFiles, PolicyObject};
use typecheck::{Declarations, Ty, Variable};

/// A validation with its compiled expressions.
#[derive(Debug)]
pub struct CompiledValidation {
    pub rule: Expression,
    pub message: Option<String>,
    pub message_expression: Option<Expression>,
    pub reason: Option<String>,
}

/// A policy whose expressions are compiled.
#[derive(Debug)]
pub struct CompiledPolicy {
    pub object: PolicyObject,
    pub match_conditions: Vec<Expression>,
    pub variables: Vec<(String, Expression)>,
    pub validations: Vec<CompiledValidation>,
}

/// Every policy, binding and param of a run, compiled once.
#[derive(Default)]
pub struct Policies {
    env: Arc<Env>,
    pub policies: Vec<CompiledPolicy>,
    pub bindings: Vec<BindingObject>,
    pub params: Vec<ParamObject>,
    /// Run policies without a binding as if bound with `validationActions: [Deny]`.
    pub run_unbound: bool,
}

/// Rule ids of policy findings are `policy/<policy name>`.
pub const RULE_PREFIX: &str = "policy/";

/// Who sends the release's requests and what the cluster knows beyond the chart: `--user`,
/// `--groups` and `--namespace-labels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// `request.userInfo.username`.
    pub user: String,
    /// `request.userInfo.groups`.
    pub groups: Vec<String>,
    /// Labels of the namespaces the release does not render (the release namespace, say);
    /// `kubernetes.io/metadata.name` is added to every namespace.
    pub namespace_labels: BTreeMap<String, String>,
}

/// The user chartproof's requests come from unless `--user` says otherwise: an authenticated
/// user with no other group, as `helm install` run by a person or a CI job is.
pub const DEFAULT_USER: &str = "chartproof";
/// Every authenticated user is in this group (Kubernetes adds it on authentication).
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

impl Default for RequestContext {
    fn default() -> Self {
        RequestContext { user: DEFAULT_USER.to_string(), groups: vec![AUTHENTICATED_GROUP.to_string()], namespace_labels: BTreeMap::new() }
    }
}

impl RequestContext {
    /// `request.userInfo` (authentication/v1 `UserInfo`; empty fields are omitted, as in the API).
    pub fn user_info(&self) -> serde_json::Value {
        serde_json::json!({"username": self.user, "groups": self.groups})
    }
}

/// The loaded policies of a run and the release namespace they see (`-n`), carried in the rule
/// configuration so every command that checks renders evaluates them.
#[derive(Clone, Default)]
pub struct PolicySet {
    pub policies: Arc<Policies>,
    pub release_namespace: Option<String>,
    /// The user and namespace labels the requests carry.
    pub request: RequestContext,
    /// The release being upgraded (`diff`'s old side): a rendered object with a matching old
    /// object is an UPDATE of it, any other a CREATE, and an old object the render no longer has
    /// is a DELETE. None: every object is a CREATE.
    pub upgrade_from: Option<Arc<crate::manifest::Manifest>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.policies.policies.iter().map(|p| p.object.name.as_str()).collect();
        f.debug_struct("PolicySet").field("policies", &names).field("release_namespace", &self.release_namespace).field("upgrade", &self.upgrade_from.is_some()).finish()
    }
}

impl PolicySet {
    /// What identifies the loaded set: each policy's and binding's file and name.
    fn identity(&self) -> (Vec<(&std::path::Path, &str)>, Vec<(&std::path::Path, &str)>, bool) {
        let p = &self.policies;
        (
            p.policies.iter().map(|c| (c.object.file.as_path(), c.object.name.as_str())).collect(),
            p.bindings.iter().map(|b| (b.file.as_path(), b.name.as_str())).collect(),
            p.run_unbound,
        )
    }
}

/// Equal when the same policy and binding objects were loaded for the same namespace (and
/// upgrade the same old release).
impl PartialEq for PolicySet {
    fn eq(&self, other: &Self) -> bool {
        let upgrade = |s: &Self| s.upgrade_from.as_ref().map(Arc::as_ptr);
        self.identity() == other.identity() && self.release_namespace == other.release_namespace && self.request == other.request && upgrade(self) == upgrade(other)
    }
}

const VALIDATION_ACTIONS: &[&str] = &["Deny", "Warn", "Audit"];

fn compile_policy(env: &Arc<Env>, object: PolicyObject) -> Result<CompiledPolicy> {
    let site = |field: String| Site { at: object.at(&field), policy: &object.name, field };
    let has_params = object.spec.param_kind.is_some();
    let mut declared = BTreeMap::new();
    let mut match_conditions = Vec::new();
    for (i, condition) in object.spec.match_conditions.iter().enumerate() {
        let declarations = Declarations { has_params, variables: &declared };
        match_conditions.push(compile(env, &condition.expression, &site(format!("spec.matchConditions[{i}].expression")), &declarations, Ty::Bool)?);
    }
    let mut variables = Vec::new();
    for (i, variable) in object.spec.variables.iter().enumerate() {
        let declarations = Declarations { has_params, variables: &declared };
        let expression = compile(env, &variable.expression, &site(format!("spec.variables[{i}].expression")), &declarations, Ty::Dyn)?;
        declared.insert(variable.name.clone(), Variable { ty: expression.ty, offline: expression.offline.clone() });
        variables.push((variable.name.clone(), expression));
    }
    let declarations = Declarations { has_params, variables: &declared };
    let mut validations = Vec::new();
    for (i, validation) in object.spec.validations.iter().enumerate() {
        let message_expression = match &validation.message_expression {
            Some(source) => Some(compile(env, source, &site(format!("spec.validations[{i}].messageExpression")), &declarations, Ty::String)?),
            None => None,
        };
        validations.push(CompiledValidation {
            rule: compile(env, &validation.expression, &site(format!("spec.validations[{i}].expression")), &declarations, Ty::Bool)?,
            message: validation.message.clone(),
            message_expression,
            reason: validation.reason.clone(),
        });
    }
    if validations.is_empty() {
        bail!("{}: ValidatingAdmissionPolicy {}: `spec.validations` is empty", object.at("spec"), object.name);
    }
    Ok(CompiledPolicy { object, match_conditions, variables, validations })
}

/// A binding the API server would refuse, or whose params the policy files lack: the error,
/// naming the binding's file and line.
fn check_binding(binding: &BindingObject, files: &PolicyFiles) -> Result<()> {
    let what = |path: &str| format!("{}: ValidatingAdmissionPolicyBinding {}: `{path}`", binding.at(path), binding.name);
    let Some(policy) = files.policies.iter().find(|p| p.name == binding.spec.policy_name) else {
        bail!("{} {} is not a policy in the policy files", what("spec.policyName"), binding.spec.policy_name);
    };
    if binding.spec.validation_actions.is_empty() {
        bail!("{} is required (Deny, Warn or Audit)", what("spec.validationActions"));
    }
    if let Some(bad) = binding.spec.validation_actions.iter().find(|a| !VALIDATION_ACTIONS.contains(&a.as_str())) {
        bail!("{}: unknown validation action {bad:?} (Deny, Warn or Audit)", what("spec.validationActions"));
    }
    let Some(param_ref) = &binding.spec.param_ref else { return Ok(()) };
    // What the API server's validation of a binding requires of a paramRef.
    if param_ref.name.is_some() == param_ref.selector.is_some() {
        bail!("{}: exactly one of `name` or `selector` must be set", what("spec.paramRef"));
    }
    match param_ref.parameter_not_found_action.as_deref() {
        None | Some("") => bail!("{} is required (Allow or Deny)", what("spec.paramRef.parameterNotFoundAction")),
        Some(PARAM_NOT_FOUND_ALLOW | PARAM_NOT_FOUND_DENY) => {}
        Some(other) => bail!("{}: unsupported value {other:?} (Allow or Deny)", what("spec.paramRef.parameterNotFoundAction")),
    }
    // A named param that no policy file holds: offline, every matched object would be denied
    // for want of an object the cluster has (or the binding is wrong).
    if let (Some(kind), Some(name), Some(PARAM_NOT_FOUND_DENY)) = (&policy.spec.param_kind, &param_ref.name, param_ref.parameter_not_found_action.as_deref())
        && !files.params.iter().any(|p| p.api_version == kind.api_version && p.kind == kind.kind && p.metadata.name == *name)
    {
        bail!(
            "{} {name}: no {} {name} ({}) in the policy files; add the param object to them (with parameterNotFoundAction: Deny a missing param denies every object the binding matches)",
            what("spec.paramRef.name"),
            kind.kind,
            kind.api_version
        );
    }
    Ok(())
}

/// `parameterNotFoundAction` values.
pub const PARAM_NOT_FOUND_ALLOW: &str = "Allow";
pub const PARAM_NOT_FOUND_DENY: &str = "Deny";

impl Policies {
    /// Load and compile the policies under `paths`; any error is unusable input.
    pub fn load(paths: &[PathBuf], run_unbound: bool) -> Result<Policies> {
        let files = PolicyFiles::load(paths)?;
        let env = library::env();
        for binding in &files.bindings {
            check_binding(binding, &files)?;
        }
        let policies = files.policies.into_iter().map(|p| compile_policy(&env, p)).collect::<Result<_>>()?;
        Ok(Policies { env, policies, bindings: files.bindings, params: files.params, run_unbound })
    }
}

/// `--policies PATH` (repeatable), `--policy-unbound` and the request's user and namespace
/// labels, for commands that check renders.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// ValidatingAdmissionPolicy file or directory of YAML (with bindings and params) to evaluate on every render (repeatable)
    #[arg(long = "policies", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// Also run policies that have no binding, as if bound with validationActions [Deny]
    #[arg(long)]
    pub policy_unbound: bool,
    /// request.userInfo.username the policies see [default: chartproof]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// request.userInfo.groups the policies see, comma-separated [default: system:authenticated]
    #[arg(long, value_name = "GROUP,...", value_delimiter = ',')]
    pub groups: Option<Vec<String>>,
    /// Labels of the namespaces the chart does not render (the release namespace), for namespaceSelectors: k=v,... (kubernetes.io/metadata.name is always set)
    #[arg(long, value_name = "KEY=VALUE,...", value_delimiter = ',', value_parser = parse_label)]
    pub namespace_labels: Vec<(String, String)>,
}

/// One `key=value` of `--namespace-labels`.
fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.trim().to_string())),
        _ => Err(format!("`{text}` is not a label: expected key=value")),
    }
}

impl PolicyArgs {
    /// The request context these arguments give.
    pub fn request(&self) -> RequestContext {
        let default = RequestContext::default();
        RequestContext {
            user: self.user.clone().unwrap_or(default.user),
            groups: self.groups.clone().map(|g| g.into_iter().filter(|g| !g.is_empty()).collect()).unwrap_or(default.groups),
            namespace_labels: self.namespace_labels.iter().cloned().collect(),
        }
    }

    /// Load and compile the policies of `paths` and these arguments for a release in
    /// `namespace` (None: no policy files given); a policy that does not compile is unusable input.
    pub fn load(&self, paths: &[PathBuf], namespace: Option<&str>) -> Result<Option<PolicySet>> {
        let paths: Vec<PathBuf> = paths.iter().chain(&self.policies).cloned().collect();
        if paths.is_empty() {
            return Ok(None);
        }
        let policies = Policies::load(&paths, self.policy_unbound)?;
        Ok(Some(PolicySet { policies: Arc::new(policies), release_namespace: namespace.map(str::to_string), request: self.request(), upgrade_from: None }))
    }
}

impl Policies {
    /// One line per loaded policy for `chartproof rules`: rule id, severity of its bindings (or
    /// `unbound`), and what it checks.
    pub fn summaries(&self) -> Vec<(String, String, String)> {
        self.policies
            .iter()
            .map(|p| {
                let severity_of = |action| match action {
                    Action::Deny => "error",
                    Action::Warn => "warning",
                    Action::Audit => "info",
                };
                let actions: Vec<String> = self.bindings.iter().filter(|b| b.spec.policy_name == p.object.name).map(|b| severity_of(Action::strongest(&b.spec.validation_actions)).to_string()).collect();
                let severity = if actions.is_empty() { if self.run_unbound { "error".to_string() } else { "unbound".to_string() } } else { actions.join(",") };
                let checks = p.validations.iter().map(|v| v.message.clone().unwrap_or_else(|| v.rule.source.trim().to_string())).collect::<Vec<_>>().join("; ");
                (format!("{RULE_PREFIX}{}", p.object.name), severity, format!("{checks} ({})", p.object.file.display()))
            })
            .collect()
    }
}
