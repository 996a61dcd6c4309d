//! Evaluating compiled policies on a rendered manifest, as the API server would on install
//! (CREATE) or, given the release being upgraded, on `helm upgrade` (UPDATE with `oldObject`,
//! CREATE, and DELETE of the objects the new release drops): bindings and params select what
//! runs, matchConditions gate, variables are bound, and each failed validation becomes a
//! [`Verdict`] with the binding's action. The objects evaluated are the ones admission hands in
//! (`crate::admission` defaults them first); the rule engine turns verdicts into findings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::objects::Value as CelValue;
use cel::{Context, ExecutionError};
use serde_json::{Value, json};

use super::{PARAM_NOT_FOUND_DENY, Policies, PolicySet, RequestContext};
use super::compile::Expression;
use super::matching::{RequestFacts, is_namespaced, matches, resource_for_kind, selector_matches};
use super::objects::{BindingObject, FailurePolicy, ParamObject};
use crate::manifest::{Manifest, Resource};

/// The JSON `value` as a CEL value (integers stay `int` where they fit).
pub fn to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => CelValue::Int(i),
            (None, Some(u)) => CelValue::UInt(u),
            _ => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => CelValue::from(map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect::<HashMap<String, CelValue>>()),
    }
}

/// A rendered object as the API server decodes it: `key: null` in a map is an unset field (the
/// typed object drops it), so `has()` is false for it and a list macro never sees a null list.
fn object_to_cel(value: &Value) -> CelValue {
    match value {
        Value::Object(map) => CelValue::from(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), object_to_cel(v))).collect::<HashMap<String, CelValue>>()),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(object_to_cel).collect())),
        scalar => to_cel(scalar),
    }
}

/// A binding's strongest `validationAction`, in the API server's order of consequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Audit,
    Warn,
    Deny,
}

impl Action {
    /// The strongest of `actions` (Deny when there are none: an unbound policy run as bound).
    pub fn strongest(actions: &[String]) -> Action {
        let action_of = |action: &str| match action {
            "Deny" => Action::Deny,
            "Warn" => Action::Warn,
            _ => Action::Audit,
        };
        actions.iter().map(|a| action_of(a)).max().unwrap_or(Action::Deny)
    }
}

/// What a verdict means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A failed validation, or an evaluation error under `failurePolicy: Fail`: the binding's action.
    Enforced(Action),
    /// The expression cannot be evaluated offline (`authorizer`, a function chartproof lacks):
    /// not counted as a pass.
    NotEvaluable,
    /// Evaluation errors skipped under `failurePolicy: Ignore`, counted for the release.
    Ignored,
}

/// One policy's verdict on one admission request (or, for [`Effect::Ignored`], on the release).
#[derive(Debug, Clone)]
pub struct Verdict<'m> {
    /// The policy's name.
    pub policy: String,
    /// The rendered object the request is about (the old one for a DELETE); None: the release.
    pub resource: Option<&'m Resource>,
    pub effect: Effect,
    pub message: String,
}

/// How one policy runs on one object: the binding's action and the params it selected.
struct Run<'a> {
    policy_index: usize,
    binding: Option<&'a BindingObject>,
    action: Action,
}

/// One admission request for a rendered object, with its attributes and CEL variables.
struct Subject<'a> {
    /// Where verdicts are located: the rendered object, or the old one that a DELETE removes.
    resource: &'a Resource,
    /// `object` (None on DELETE) and `oldObject` (None on CREATE), as admission hands them in.
    object: Option<Value>,
    old_object: Option<Value>,
    facts: RequestFacts<'a>,
    /// The old object's labels on UPDATE: an objectSelector matches when either object matches.
    old_labels: Option<BTreeMap<String, String>>,
    namespace: Option<String>,
}

fn labels_of(value: Option<&serde_json::Map<String, Value>>) -> BTreeMap<String, String> {
    value.into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect()
}

/// The namespace a namespaced object lands in: its own, else the release's, else `default`.
fn namespace_of(resource: &Resource, release_namespace: Option<&str>) -> Option<String> {
    is_namespaced(&resource.kind).then(|| resource.namespace.clone().or(release_namespace.map(str::to_string)).unwrap_or_else(|| "default".into()))
}

/// The label every namespace carries, set by the API server (`NamespaceDefaultLabelName`,
/// k8s.io/api/core/v1 `LabelMetadataName`): namespace selectors can always select by name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The labels of namespace `namespace`: a Namespace the release renders has its own, any other
/// the ones given with `--namespace-labels`; both carry `kubernetes.io/metadata.name`.
fn namespace_labels(namespace: &str, manifest: &Manifest, context: &RequestContext) -> BTreeMap<String, String> {
    let rendered = manifest.of_kind("Namespace").find(|n| n.name == namespace);
    let mut labels = rendered.map_or_else(|| context.namespace_labels.clone(), |n| labels_of(n.labels()));
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string());
    labels
}

/// Turns a rendered object into the object the API server admits in the namespace given (for
/// namespaced kinds): `crate::admission` passes its `admitted_object`.
pub type AdmitObject = fn(&Resource, Option<&str>) -> Value;

/// The request `operation` on `resource` (for DELETE, the old object), with the old object of an
/// UPDATE; namespace labels come from the Namespace objects of `manifest` and the context.
fn subject<'a>(resource: &'a Resource, old: Option<&'a Resource>, operation: &'static str, manifest: &Manifest, set: &PolicySet, admit: AdmitObject) -> Subject<'a> {
    let namespaced = is_namespaced(&resource.kind);
    let namespace = namespace_of(resource, set.release_namespace.as_deref());
    let namespace_labels = namespace.as_deref().map(|ns| namespace_labels(ns, manifest, &set.request)).unwrap_or_default();
    let group = resource.group();
    let version = resource.api_version.rsplit('/').next().unwrap_or_default();
    let facts = RequestFacts {
        group,
        version,
        resource: resource_for_kind(&resource.kind),
        name: &resource.name,
        operation,
        namespaced,
        labels: labels_of(resource.labels()),
        namespace_labels,
    };
    let object = (operation != "DELETE").then(|| admit(resource, namespace.as_deref()));
    let old_labels = old.filter(|_| operation == "UPDATE").map(|o| labels_of(o.labels()));
    let old_object = old.map(|o| admit(o, namespace.as_deref()));
    Subject { resource, object, old_object, facts, old_labels, namespace }
}

/// A scope of `root` with the subject's `object`, `oldObject`, `request` and `namespaceObject`.
fn subject_scope<'r>(root: &'r Context<'r, 'r>, subject: &Subject, context: &RequestContext) -> Context<'r, 'r> {
    let (resource, facts, namespace) = (subject.resource, &subject.facts, &subject.namespace);
    let (group, version) = (facts.group, facts.version);
    let request = json!({
        "operation": facts.operation,
        "kind": {"group": group, "version": version, "kind": resource.kind},
        "resource": {"group": group, "version": version, "resource": facts.resource},
        "requestKind": {"group": group, "version": version, "kind": resource.kind},
        "requestResource": {"group": group, "version": version, "resource": facts.resource},
        "name": resource.name,
        "namespace": namespace.clone().unwrap_or_default(),
        "dryRun": false,
        "userInfo": context.user_info(),
    });
    // The Namespace as the API server stores it (`SetDefaults_Namespace`, and its status).
    let namespace_object = match &namespace {
        Some(ns) => to_cel(&json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": facts.namespace_labels},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })),
        None => CelValue::Null,
    };
    let or_null = |body: Option<&Value>| body.map_or(CelValue::Null, object_to_cel);
    let mut scope = root.new_inner_scope();
    for (name, value) in [("object", or_null(subject.object.as_ref())), ("oldObject", or_null(subject.old_object.as_ref())), ("request", to_cel(&request)), ("namespaceObject", namespace_object)] {
        scope.add_variable_from_value(name, value);
    }
    scope
}

/// The param objects a binding selects for `subject` (None: the policy takes no params).
fn params_for<'p>(policies: &'p Policies, run: &Run, subject: &Subject) -> Option<Vec<&'p ParamObject>> {
    let policy = &policies.policies[run.policy_index].object;
    let (kind, param_ref) = (policy.spec.param_kind.as_ref()?, run.binding?.spec.param_ref.as_ref()?);
    let selected = policies.params.iter().filter(|p| p.api_version == kind.api_version && p.kind == kind.kind);
    let selected = selected.filter(|p| match (&param_ref.namespace, &p.metadata.namespace) {
        (Some(wanted), found) => found.as_ref() == Some(wanted),
        (None, Some(found)) => subject.namespace.as_ref() == Some(found),
        (None, None) => true,
    });
    let selected = selected.filter(|p| match (&param_ref.name, &param_ref.selector) {
        (Some(name), _) => p.metadata.name == *name,
        (None, selector) => selector_matches(selector.as_ref(), &p.metadata.labels),
    });
    Some(selected.collect())
}

/// Per-run counters: evaluation errors skipped under `failurePolicy: Ignore`, by policy.
#[derive(Default)]
struct Tally {
    ignored_errors: BTreeMap<String, usize>,
}

struct Evaluation<'a, 'm> {
    policies: &'a Policies,
    verdicts: Vec<Verdict<'m>>,
    tally: Tally,
}

fn describe(result: &Result<CelValue, ExecutionError>) -> String {
    match result {
        Ok(v) => format!("returned {v:?}, not a bool"),
        Err(e) => e.to_string(),
    }
}

impl<'m> Evaluation<'_, 'm> {
    fn report(&mut self, run: &Run, subject: &Subject<'m>, effect: Effect, message: String) {
        let policy = &self.policies.policies[run.policy_index].object;
        let message = match run.binding {
            Some(b) if self.policies.bindings_of(&policy.name) > 1 => format!("{message} (binding {})", b.name),
            _ => message,
        };
        self.verdicts.push(Verdict { policy: policy.name.clone(), resource: Some(subject.resource), effect, message });
    }

    /// An error evaluating the policy (an expression's, a missing param): a finding under
    /// `failurePolicy: Fail`, counted under `Ignore`.
    fn failure(&mut self, run: &Run, subject: &Subject<'m>, message: String) {
        let policy = &self.policies.policies[run.policy_index].object;
        match policy.spec.failure_policy {
            FailurePolicy::Fail => self.report(run, subject, Effect::Enforced(run.action), format!("{message} (failurePolicy: Fail)")),
            FailurePolicy::Ignore => *self.tally.ignored_errors.entry(policy.name.clone()).or_default() += 1,
        }
    }

    fn evaluation_error(&mut self, run: &Run, subject: &Subject<'m>, expression: &Expression, what: String) {
        self.failure(run, subject, format!("cannot evaluate `{}`: {what}", expression.source.trim()));
    }

    fn offline(&mut self, run: &Run, subject: &Subject<'m>, expression: &Expression, reason: &str) {
        let message = format!("cannot evaluate offline: `{}` {reason}; not counted as a pass", expression.source.trim());
        self.report(run, subject, Effect::NotEvaluable, message);
    }

    fn run(&mut self, run: &Run, subject: &Subject<'m>, scope: &Context) {
        match params_for(self.policies, run, subject) {
            None => self.run_with(run, subject, scope, CelValue::Null, None),
            Some(params) if params.is_empty() => {
                // As the API server does: with `Deny` a missing param is an error under the
                // policy's failurePolicy; with `Allow` the binding passes.
                let action = run.binding.and_then(|b| b.spec.param_ref.as_ref()).and_then(|p| p.parameter_not_found_action.as_deref());
                if action == Some(PARAM_NOT_FOUND_DENY) {
                    self.failure(run, subject, "no param object found for the binding's paramRef (parameterNotFoundAction: Deny)".into());
                }
            }
            Some(params) => {
                for param in params {
                    self.run_with(run, subject, scope, to_cel(&param.body), Some(&param.metadata.name));
                }
            }
        }
    }

    fn run_with(&mut self, run: &Run, subject: &Subject<'m>, subject_scope: &Context, params: CelValue, param_name: Option<&str>) {
        let policies = self.policies;
        let policy = &policies.policies[run.policy_index];
        let mut scope = subject_scope.new_inner_scope();
        scope.add_variable_from_value("params", params);
        scope.add_variable_from_value("authorizer", CelValue::Null);
        for condition in &policy.match_conditions {
            if let Some(reason) = &condition.offline {
                return self.offline(run, subject, condition, reason);
            }
            match condition.program.execute(&scope) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => return,
                other => return self.evaluation_error(run, subject, condition, describe(&other)),
            }
        }
        // Variables are evaluated when an expression first uses them, once per evaluation.
        let variables = LazyVariables::new(&policy.variables, &scope);
        let mut scope = scope.new_inner_scope();
        scope.set_variable_resolver(&variables);
        for validation in &policy.validations {
            if let Some(reason) = &validation.rule.offline {
                self.offline(run, subject, &validation.rule, reason);
                continue;
            }
            let result = validation.rule.program.execute(&scope);
            if let Ok(CelValue::Bool(true)) = result {
                continue;
            }
            if !matches!(result, Ok(CelValue::Bool(false))) {
                match variables.failure_used_by(&validation.rule) {
                    Some((expression, error)) => self.evaluation_error(run, subject, expression, error),
                    None => self.evaluation_error(run, subject, &validation.rule, describe(&result)),
                }
                continue;
            }
            let from_expression = validation.message_expression.as_ref().and_then(|m| match m.program.execute(&scope) {
                Ok(CelValue::String(s)) if !s.trim().is_empty() => Some(s.to_string()),
                _ => None,
            });
            let mut message = from_expression
                .or_else(|| validation.message.clone())
                .unwrap_or_else(|| format!("failed expression: {}", validation.rule.source.trim()));
            if let Some(reason) = &validation.reason {
                message = format!("{message} (reason: {reason})");
            }
            if let Some(name) = param_name {
                message = format!("{message} (params: {name})");
            }
            self.report(run, subject, Effect::Enforced(run.action), message);
        }
    }
}

/// Identity of an object across releases: API group, kind, namespace and name.
type ObjectKey = (String, String, Option<String>, String);

fn object_key(resource: &Resource, release_namespace: Option<&str>) -> ObjectKey {
    (resource.group().to_string(), resource.kind.clone(), namespace_of(resource, release_namespace), resource.name.clone())
}

/// Helm hooks are deleted and created again on every upgrade, never updated or left deleted.
fn is_hook(resource: &Resource) -> bool {
    resource.annotations().is_some_and(|a| a.contains_key("helm.sh/hook"))
}

/// The admission requests a release makes: without `upgrade_from`, a CREATE of every object;
/// with it, what `helm upgrade` sends — an UPDATE of each object the old release has (same group,
/// kind, namespace and name), a CREATE of each new one (and of hooks), and a DELETE of each old
/// object the new release drops (except hooks and `helm.sh/resource-policy: keep`).
fn requests<'a>(manifest: &'a Manifest, set: &'a PolicySet, admit: AdmitObject) -> Vec<Subject<'a>> {
    let (upgrade_from, release_namespace) = (set.upgrade_from.as_deref(), set.release_namespace.as_deref());
    let old_objects: HashMap<ObjectKey, &Resource> =
        upgrade_from.iter().flat_map(|m| &m.resources).filter(|r| !is_hook(r)).map(|r| (object_key(r, release_namespace), r)).collect();
    let mut updated = HashSet::new();
    let mut requests = Vec::new();
    for resource in &manifest.resources {
        let key = object_key(resource, release_namespace);
        let old = old_objects.get(&key).copied().filter(|_| !is_hook(resource));
        let operation = if old.is_some() { "UPDATE" } else { "CREATE" };
        requests.push(subject(resource, old, operation, manifest, set, admit));
        updated.insert(key);
    }
    if let Some(previous) = upgrade_from {
        let kept = |r: &Resource| r.annotations().and_then(|a| a.get("helm.sh/resource-policy")).and_then(Value::as_str) == Some("keep");
        for old in previous.resources.iter().filter(|r| !is_hook(r) && !kept(r) && !updated.contains(&object_key(r, release_namespace))) {
            requests.push(subject(old, Some(old), "DELETE", previous, set, admit));
        }
    }
    requests
}

/// A policy's `variables` as Kubernetes evaluates them: each when an expression first reads
/// `variables.<name>`, then cached for the rest of the evaluation; one that is never read is
/// never evaluated (so its errors do not count).
struct LazyVariables<'a> {
    definitions: &'a [(String, Expression)],
    /// The scope the variables are evaluated in: object, params, request, ...
    scope: &'a Context<'a, 'a>,
    values: Vec<OnceLock<Result<CelValue, String>>>,
}

impl<'a> LazyVariables<'a> {
    fn new(definitions: &'a [(String, Expression)], scope: &'a Context<'a, 'a>) -> LazyVariables<'a> {
        LazyVariables { definitions, scope, values: definitions.iter().map(|_| OnceLock::new()).collect() }
    }

    /// Variable `index`, evaluated on first use (it may read the variables declared before it).
    fn value(&self, index: usize) -> &Result<CelValue, String> {
        self.values[index].get_or_init(|| {
            let scope: &Context = self.scope;
            let mut scope = scope.new_inner_scope();
            scope.set_variable_resolver(self);
            let expression = &self.definitions[index].1;
            match expression.program.execute(&scope) {
                Err(e) => Err(self.failure_used_by(expression).map_or_else(|| e.to_string(), |(_, inner)| inner)),
                Ok(value) => Ok(value),
            }
        })
    }

    /// The first variable that `expression` reads and that failed to evaluate: its expression
    /// and error.
    fn failure_used_by(&self, expression: &Expression) -> Option<(&'a Expression, String)> {
        let reads = |name: &str| {
            let reference = format!("variables.{name}");
            expression.source.match_indices(&reference).any(|(at, _)| {
                let next = expression.source[at + reference.len()..].chars().next();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        };
        self.definitions.iter().zip(&self.values).find_map(|((name, definition), value)| match value.get() {
            Some(Err(error)) if reads(name) => Some((definition, error.clone())),
            _ => None,
        })
    }
}

impl VariableResolver for LazyVariables<'_> {
    /// `variables.<name>` (a qualified name the interpreter asks for whole), and `variables`
    /// alone as the map of them all.
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let value = if name == "variables" {
            let all: Option<HashMap<String, CelValue>> = (0..self.definitions.len()).map(|i| Some((self.definitions[i].0.clone(), self.value(i).clone().ok()?))).collect();
            CelValue::from(all?)
        } else {
            let wanted = name.strip_prefix("variables.")?;
            let index = self.definitions.iter().position(|(n, _)| n == wanted)?;
            self.value(index).clone().ok()?
        };
        value.try_into().ok().map(CowVal::Owned)
    }
}

/// The verdicts of every bound policy (and, when asked, every unbound one) on every admission
/// request the release makes, on the objects `admit` gives.
pub fn verdicts<'m>(manifest: &'m Manifest, set: &'m PolicySet, admit: AdmitObject) -> Vec<Verdict<'m>> {
    let policies = &*set.policies;
    if policies.policies.is_empty() {
        return Vec::new();
    }
    let root = super::library::root_context(policies.env.clone());
    let mut evaluation = Evaluation { policies, verdicts: Vec::new(), tally: Tally::default() };
    let runs = policies.runs();
    for subject in requests(manifest, set, admit) {
        let old_facts = subject.old_labels.clone().map(|labels| RequestFacts { labels, ..subject.facts.clone() });
        let selects = |constraints, empty_rules_match_all| {
            matches(constraints, &subject.facts, empty_rules_match_all) || old_facts.as_ref().is_some_and(|facts| matches(constraints, facts, empty_rules_match_all))
        };
        let matched: Vec<&Run> = runs
            .iter()
            .filter(|run| {
                let policy = &policies.policies[run.policy_index].object;
                let bound_match = run.binding.and_then(|b| b.spec.match_resources.as_ref()).is_none_or(|m| selects(m, true));
                selects(&policy.spec.match_constraints, false) && bound_match
            })
            .collect();
        if matched.is_empty() {
            continue;
        }
        // The object is converted to CEL once, for every policy that matched it.
        let scope = subject_scope(&root, &subject, &set.request);
        for run in matched {
            evaluation.run(run, &subject, &scope);
        }
    }
    for (policy, count) in evaluation.tally.ignored_errors {
        let message = format!("{count} evaluation error(s) ignored (failurePolicy: Ignore)");
        evaluation.verdicts.push(Verdict { policy, resource: None, effect: Effect::Ignored, message });
    }
    evaluation.verdicts
}

impl Policies {
    /// What runs: each binding of a loaded policy, and with `--policy-unbound` each policy that
    /// has no binding, as if bound with `validationActions: [Deny]`.
    fn runs(&self) -> Vec<Run<'_>> {
        let mut runs = Vec::new();
        for (policy_index, policy) in self.policies.iter().enumerate() {
            let bindings: Vec<&BindingObject> = self.bindings.iter().filter(|b| b.spec.policy_name == policy.object.name).collect();
            if bindings.is_empty() && self.run_unbound {
                runs.push(Run { policy_index, binding: None, action: Action::Deny });
            }
            runs.extend(bindings.into_iter().map(|b| Run { policy_index, binding: Some(b), action: Action::strongest(&b.spec.validation_actions) }));
        }
        runs
    }

    fn bindings_of(&self, policy: &str) -> usize {
        self.bindings.iter().filter(|b| b.spec.policy_name == policy).count()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::rules::{Finding, Severity};

    /// The findings the rule engine makes of the verdicts of `policies` on `manifest`.
    fn findings(manifest: &Manifest, policies: Arc<Policies>, namespace: Option<&str>) -> Vec<Finding> {
        crate::rules::admission_findings(manifest, PolicySet { policies, release_namespace: namespace.map(str::to_string), ..PolicySet::default() })
    }

    /// Findings of the policies in `policy_yaml` on the manifest `manifest_yaml`.
    fn run(policy_yaml: &str, manifest_yaml: &str, unbound: bool, namespace: Option<&str>) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.yaml");
        std::fs::write(&file, policy_yaml).unwrap();
        let policies = Policies::load(&[file], unbound).unwrap();
        findings(&Manifest::parse(manifest_yaml), Arc::new(policies), namespace)
    }

    fn shipped(manifest_yaml: &str, namespace: Option<&str>) -> Vec<Finding> {
        let policies = Policies::load(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")], false).unwrap();
        findings(&Manifest::parse(manifest_yaml), Arc::new(policies), namespace)
    }

    /// The ValidatingAdmissionPolicy and binding of the Kubernetes documentation's first example.
    const DOCS_DEMO_POLICY: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding-test.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
"#;

    fn deployment(namespace: &str, replicas: i64, extra: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {namespace}\n{extra}spec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/web:1\n"
        )
    }

    const TEST_NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: qa\n  labels:\n    environment: test\n---\n";

    #[test]
    fn kubernetes_docs_demo_policy_denies_more_than_five_replicas() {
        let failing = run(DOCS_DEMO_POLICY, &format!("{TEST_NAMESPACE}{}", deployment("qa", 6, "")), false, None);
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert_eq!(failing[0].rule, "policy/demo-policy.example.com");
        assert_eq!(failing[0].severity, Severity::Error);
        assert_eq!((failing[0].kind.as_str(), failing[0].name.as_str()), ("Deployment", "web"));
        assert_eq!(failing[0].message, "failed expression: object.spec.replicas <= 5");
        assert!(run(DOCS_DEMO_POLICY, &format!("{TEST_NAMESPACE}{}", deployment("qa", 5, "")), false, None).is_empty());
        // The binding's namespaceSelector: a namespace without `environment: test` is not checked.
        assert!(run(DOCS_DEMO_POLICY, &deployment("other", 6, ""), false, None).is_empty());
        // Other resources than deployments are not matched.
        let statefulset = deployment("qa", 6, "").replace("kind: Deployment", "kind: StatefulSet");
        assert!(run(DOCS_DEMO_POLICY, &format!("{TEST_NAMESPACE}{statefulset}"), false, None).is_empty());
    }

    /// The documentation's parameter example: ReplicaLimit params and a messageExpression.
    fn docs_params_policy(actions: &str, not_found: &str) -> String {
        format!(
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "replicalimit-policy.example.com"
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: rules.example.com/v1
    kind: ReplicaLimit
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= params.maxReplicas"
      messageExpression: "'object.spec.replicas must be no greater than ' + string(params.maxReplicas)"
      reason: Invalid
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "replicalimit-binding-test.example.com"
spec:
  policyName: "replicalimit-policy.example.com"
  validationActions: {actions}
  paramRef:
    name: "replica-limit-test.example.com"
    namespace: "default"
    parameterNotFoundAction: {not_found}
---
apiVersion: rules.example.com/v1
kind: ReplicaLimit
metadata:
  name: "replica-limit-test.example.com"
  namespace: "default"
maxReplicas: 3
"#
        )
    }

    #[test]
    fn params_message_expression_reason_and_actions() {
        let failing = run(&docs_params_policy("[Deny]", "Deny"), &deployment("default", 4, ""), false, None);
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert_eq!(failing[0].message, "object.spec.replicas must be no greater than 3 (reason: Invalid) (params: replica-limit-test.example.com)");
        assert_eq!(failing[0].severity, Severity::Error);
        assert!(run(&docs_params_policy("[Deny]", "Deny"), &deployment("default", 3, ""), false, None).is_empty());
        assert_eq!(run(&docs_params_policy("[Warn]", "Deny"), &deployment("default", 4, ""), false, None)[0].severity, Severity::Warning);
        assert_eq!(run(&docs_params_policy("[Audit]", "Deny"), &deployment("default", 4, ""), false, None)[0].severity, Severity::Info);
        assert_eq!(run(&docs_params_policy("[Warn, Audit]", "Deny"), &deployment("default", 4, ""), false, None)[0].severity, Severity::Warning);
        // The param lives in `default`; a binding in another namespace finds none.
        let missing = run(&docs_params_policy("[Deny]", "Deny").replace("namespace: \"default\"\nmaxReplicas", "namespace: \"other\"\nmaxReplicas"), &deployment("default", 1, ""), false, None);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].message.starts_with("no param object found"), "{missing:?}");
        let allowed = docs_params_policy("[Deny]", "Allow").replace("namespace: \"default\"\nmaxReplicas", "namespace: \"other\"\nmaxReplicas");
        assert!(run(&allowed, &deployment("default", 9, ""), false, None).is_empty());
    }

    /// What the API server does with params: a policy with a paramKind whose binding has no
    /// paramRef runs with `params` null; a missing param under `Deny` follows the failurePolicy;
    /// under `Allow` the binding passes.
    #[test]
    fn params_not_found_follow_the_action_and_the_failure_policy() {
        let no_param_ref = docs_params_policy("[Deny]", "Deny").replace("  paramRef:\n    name: \"replica-limit-test.example.com\"\n    namespace: \"default\"\n    parameterNotFoundAction: Deny\n", "");
        assert!(!no_param_ref.contains("paramRef"));
        let found = run(&no_param_ref, &deployment("default", 1, ""), false, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.starts_with("cannot evaluate `object.spec.replicas <= params.maxReplicas`: "), "{found:?}");
        let null_safe = no_param_ref.replace("object.spec.replicas <= params.maxReplicas", "params == null || object.spec.replicas <= params.maxReplicas");
        assert!(run(&null_safe, &deployment("default", 9, ""), false, None).is_empty());
        // The param exists, but in another namespace than the one the binding looks in.
        let elsewhere = |action: &str, failure_policy: &str| {
            docs_params_policy("[Deny]", action).replace("namespace: \"default\"\nmaxReplicas", "namespace: \"other\"\nmaxReplicas").replace("failurePolicy: Fail", &format!("failurePolicy: {failure_policy}"))
        };
        let denied = run(&elsewhere("Deny", "Fail"), &deployment("default", 1, ""), false, None);
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert_eq!(denied[0].message, "no param object found for the binding's paramRef (parameterNotFoundAction: Deny) (failurePolicy: Fail)");
        assert_eq!(denied[0].severity, Severity::Error);
        let ignored = run(&elsewhere("Deny", "Ignore"), &deployment("default", 1, ""), false, None);
        assert_eq!(ignored.len(), 1, "{ignored:?}");
        assert_eq!((ignored[0].severity, ignored[0].message.as_str()), (Severity::Info, "1 evaluation error(s) ignored (failurePolicy: Ignore)"));
        assert!(run(&elsewhere("Allow", "Fail"), &deployment("default", 9, ""), false, None).is_empty());
    }

    fn unbound_policy(failure_policy: &str, expression: &str) -> String {
        format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: p\nspec:\n  failurePolicy: {failure_policy}\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [\"*\"]\n      apiVersions: [\"*\"]\n      operations: [\"*\"]\n      resources: [\"*\"]\n  validations:\n    - expression: {expression:?}\n"
        )
    }

    #[test]
    fn unbound_policies_run_only_when_asked() {
        let policy = unbound_policy("Fail", "object.spec.replicas <= 5");
        assert!(run(&policy, &deployment("default", 6, ""), false, None).is_empty());
        let found = run(&policy, &deployment("default", 6, ""), true, None);
        assert_eq!((found.len(), found[0].severity), (1, Severity::Error), "{found:?}");
    }

    #[test]
    fn evaluation_errors_follow_the_failure_policy() {
        let found = run(&unbound_policy("Fail", "object.spec.missing.field == 1"), &deployment("default", 1, ""), true, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.starts_with("cannot evaluate `object.spec.missing.field == 1`: "), "{found:?}");
        assert!(found[0].message.ends_with("(failurePolicy: Fail)"), "{found:?}");
        let ignored = run(&unbound_policy("Ignore", "object.spec.missing.field == 1"), &deployment("default", 1, "") , true, None);
        assert_eq!(ignored.len(), 1, "{ignored:?}");
        assert_eq!((ignored[0].severity, ignored[0].kind.as_str()), (Severity::Info, crate::rules::RELEASE_KIND));
        assert_eq!(ignored[0].message, "1 evaluation error(s) ignored (failurePolicy: Ignore)");
        let not_bool = run(&unbound_policy("Fail", "object.spec.replicas"), &deployment("default", 1, ""), true, None);
        assert!(not_bool[0].message.contains("not a bool"), "{not_bool:?}");
    }

    #[test]
    fn authorizer_is_reported_as_not_evaluable_offline() {
        let policy = unbound_policy("Fail", "authorizer.group('apps').resource('deployments').check('create').allowed()");
        let found = run(&policy, &deployment("default", 1, ""), true, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.starts_with("cannot evaluate offline:"), "{found:?}");
        // A Kubernetes library function chartproof does not implement is not a pass either.
        let policy = unbound_policy("Fail", "object.metadata.labels.all(k, v, v != '')");
        let found = run(&policy, &deployment("default", 1, ""), true, None);
        assert_eq!((found.len(), found[0].severity), (1, Severity::Warning), "{found:?}");
        assert!(found[0].message.ends_with("uses `.all()`, a Kubernetes CEL function chartproof does not implement; not counted as a pass"), "{found:?}");
    }

    #[test]
    fn an_upgrade_updates_creates_and_deletes_except_hooks_and_kept_objects() {
        let object = |kind: &str, name: &str, annotations: &str| format!("apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\n---\n");
        let hook = object("Job", "migrate", "helm.sh/hook: pre-upgrade");
        let old = Manifest::parse(&[object("ConfigMap", "a", ""), object("ConfigMap", "kept", "helm.sh/resource-policy: keep"), hook.clone(), object("ConfigMap", "gone", "")].concat());
        let new = Manifest::parse(&[object("ConfigMap", "a", ""), hook, object("ConfigMap", "fresh", "")].concat());
        let as_rendered: AdmitObject = |resource, _| resource.body.clone();
        let operations = |upgrade_from: Option<&Manifest>| {
            let set = PolicySet { upgrade_from: upgrade_from.map(|m| Arc::new(m.clone())), ..PolicySet::default() };
            requests(&new, &set, as_rendered).iter().map(|s| (s.resource.name.clone(), s.facts.operation.to_string(), s.object.is_some(), s.old_object.is_some())).collect::<Vec<_>>()
        };
        let expected = [("a", "UPDATE", true, true), ("migrate", "CREATE", true, false), ("fresh", "CREATE", true, false), ("gone", "DELETE", false, true)];
        assert_eq!(operations(Some(&old)), expected.map(|(n, o, a, b)| (n.to_string(), o.to_string(), a, b)));
        assert!(operations(None).iter().all(|(_, operation, _, old)| *operation == "CREATE" && !old));
    }

    #[test]
    fn request_and_namespace_object_variables() {
        let policy = unbound_policy(
            "Fail",
            "request.operation == 'CREATE' && request.kind.kind == 'Deployment' && request.resource.resource == 'deployments' && request.namespace == 'shop' && request.name == 'web' && oldObject == null && namespaceObject.metadata.name == 'shop' && namespaceObject.metadata.labels == {'kubernetes.io/metadata.name': 'shop'} && namespaceObject.status.phase == 'Active' && request.userInfo.username == 'chartproof' && request.userInfo.groups == ['system:authenticated'] && object.metadata.namespace == 'shop'",
        );
        let no_namespace = deployment("default", 1, "").replace("  namespace: default\n", "");
        assert!(run(&policy, &no_namespace, true, Some("shop")).is_empty());
        assert_eq!(run(&policy, &no_namespace, true, Some("other")).len(), 1);
    }

    #[test]
    fn match_conditions_gate_and_variables_bind() {
        let policy = unbound_policy("Fail", "variables.doubled <= 6").replace(
            "  validations:",
            "  matchConditions:\n    - name: labelled\n      expression: \"has(object.metadata.labels) && object.metadata.labels.?checked.orValue('') == 'yes'\"\n  variables:\n    - name: doubled\n      expression: \"object.spec.replicas * 2\"\n  validations:",
        );
        let labelled = "  labels:\n    checked: \"yes\"\n";
        assert_eq!(run(&policy, &deployment("default", 4, labelled), true, None).len(), 1);
        assert!(run(&policy, &deployment("default", 3, labelled), true, None).is_empty());
        assert!(run(&policy, &deployment("default", 4, ""), true, None).is_empty());
    }

    /// An unbound policy validating `validation` with `variables` (name, expression).
    fn policy_with_variables(validation: &str, variables: &[(&str, &str)]) -> String {
        let declared: String = variables.iter().map(|(name, expression)| format!("    - name: {name}\n      expression: {expression:?}\n")).collect();
        unbound_policy("Fail", validation).replace("  validations:", &format!("  variables:\n{declared}  validations:"))
    }

    /// Kubernetes evaluates a variable only when an expression reads it: one that would fail
    /// is harmless while no validation uses it, and its error is the finding once one does.
    #[test]
    fn variables_are_evaluated_lazily() {
        let variables = [("missing", "object.spec.missing.field"), ("replicas", "object.spec.replicas"), ("doubled", "variables.replicas * 2")];
        let with_variables = |validation: &str| policy_with_variables(validation, &variables);
        // `missing` fails to evaluate, but nothing reads it.
        assert!(run(&with_variables("variables.doubled <= 6"), &deployment("default", 3, ""), true, None).is_empty());
        assert_eq!(run(&with_variables("variables.doubled <= 6"), &deployment("default", 4, ""), true, None).len(), 1);
        // Read behind a short-circuit that is not taken: still not evaluated.
        assert!(run(&with_variables("variables.replicas < 5 || variables.missing == 1"), &deployment("default", 3, ""), true, None).is_empty());
        // Read: the variable's error is the finding.
        let found = run(&with_variables("variables.replicas < 5 && variables.missing == 1"), &deployment("default", 3, ""), true, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.starts_with("cannot evaluate `object.spec.missing.field`: "), "{found:?}");
        assert!(found[0].message.ends_with("(failurePolicy: Fail)"), "{found:?}");
        // `variables` alone is the map of all of them (so every one is evaluated).
        let whole = with_variables("size(variables) == 3").replace("object.spec.missing.field", "1");
        assert!(run(&whole, &deployment("default", 3, ""), true, None).is_empty());
    }

    #[test]
    fn a_variable_not_evaluable_offline_matters_only_where_read() {
        let policy = |validation: &str| policy_with_variables(validation, &[("allowed", "authorizer.group('apps').resource('deployments').check('create').allowed()")]);
        assert!(run(&policy("object.spec.replicas < 5"), &deployment("default", 3, ""), true, None).is_empty());
        let found = run(&policy("variables.allowed"), &deployment("default", 3, ""), true, None);
        assert_eq!((found.len(), found[0].severity), (1, Severity::Warning), "{found:?}");
        assert!(found[0].message.contains("uses `variables.allowed`, which uses `authorizer`"), "{found:?}");
    }

    #[test]
    fn shipped_policies() {
        let labelled = "  labels:\n    team: payments\n";
        assert!(shipped(&deployment("default", 1, labelled), None).is_empty());
        let rules = |f: Vec<Finding>| f.into_iter().map(|f| f.rule).collect::<Vec<_>>();
        assert_eq!(rules(shipped(&deployment("default", 1, ""), None)), ["policy/required-team-label"]);
        let foreign = deployment("default", 2, labelled).replace("registry.example.com/web:1", "docker.io/library/nginx:1");
        let found = shipped(&foreign, None);
        assert_eq!(rules(found.clone()), ["policy/allowed-registries"]);
        assert!(found[0].message.contains("docker.io/library/nginx:1"), "{found:?}");
        let host_path = format!("{}      volumes:\n        - name: logs\n          hostPath:\n            path: /var/log\n", deployment("default", 2, labelled));
        let found = shipped(&host_path, None);
        assert_eq!(rules(found.clone()), ["policy/no-hostpath"]);
        assert!(found[0].message.starts_with("hostPath volumes are not allowed: logs"), "{found:?}");
        let found = shipped(&deployment("production", 1, labelled), None);
        assert_eq!(rules(found.clone()), ["policy/production-replicas"]);
        assert!(found[0].message.starts_with("replicas is 1 in production namespace production; at least 2 required"), "{found:?}");
        assert!(shipped(&deployment("production", 2, labelled), None).is_empty());
        let no_namespace = deployment("x", 1, labelled).replace("  namespace: x\n", "");
        assert_eq!(rules(shipped(&no_namespace, Some("prod"))), ["policy/production-replicas"]);
        // `volumes: null` (kube-prometheus-stack's operator in a ci/ scenario) is no volumes field,
        // as the API server decodes it: no evaluation error.
        let null_volumes = format!("{}      volumes: null\n", deployment("default", 2, labelled));
        assert!(shipped(&null_volumes, None).is_empty(), "{:?}", shipped(&null_volumes, None));
    }

    /// Validation expressions from the Kubernetes documentation's ValidatingAdmissionPolicy page
    /// ("Validation expression" examples), each with an object that passes and one that fails.
    #[test]
    fn kubernetes_docs_validation_expressions() {
        let cases: &[(&str, &str, &str)] = &[
            ("object.minReplicas <= object.replicas && object.replicas <= object.maxReplicas", "{minReplicas: 1, replicas: 2, maxReplicas: 3}", "{minReplicas: 1, replicas: 4, maxReplicas: 3}"),
            ("'Available' in object.stateCounts", "{stateCounts: {Available: 1}}", "{stateCounts: {Pending: 1}}"),
            ("(size(object.list1) == 0) != (size(object.list2) == 0)", "{list1: [], list2: [a]}", "{list1: [], list2: []}"),
            ("!('MY_KEY' in object.map1) || object['map1']['MY_KEY'].matches('^[a-zA-Z]*$')", "{map1: {MY_KEY: abc}}", "{map1: {MY_KEY: abc1}}"),
            ("object.envars.filter(e, e.name == 'MY_ENV').all(e, e.value.matches('^[a-zA-Z]*$'))", "{envars: [{name: MY_ENV, value: abc}]}", "{envars: [{name: MY_ENV, value: '1'}]}"),
            ("object.health.startsWith('ok')", "{health: ok-1}", "{health: bad}"),
            ("object.widgets.exists(w, w.key == 'x' && w.foo < 10)", "{widgets: [{key: x, foo: 9}]}", "{widgets: [{key: x, foo: 10}]}"),
            ("type(object.quota) == string ? object.quota == '100%' : object.quota == 1000", "{quota: '100%'}", "{quota: 999}"),
            ("object.metadata.name.startsWith(object.prefix)", "{prefix: wid}", "{prefix: abc}"),
            ("object.set1.all(e, !(e in object.set2))", "{set1: [a], set2: [b]}", "{set1: [a], set2: [a]}"),
            ("size(object.names) == size(object.details) && object.names.all(n, n in object.details)", "{names: [a], details: {a: 1}}", "{names: [a], details: {b: 1}}"),
            ("size(object.clusters.filter(c, c.name == object.primary)) == 1", "{primary: a, clusters: [{name: a}]}", "{primary: a, clusters: [{name: b}]}"),
        ];
        for (expression, passing, failing) in cases {
            let policy = unbound_policy("Fail", expression);
            let object = |fields: &str| {
                let fields: serde_json::Map<String, Value> = serde_yaml::from_str(fields).unwrap();
                let mut body = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "widget"}});
                body.as_object_mut().unwrap().extend(fields);
                serde_json::to_string(&body).unwrap()
            };
            assert!(run(&policy, &object(passing), true, None).is_empty(), "{expression} should pass on {passing}");
            let found = run(&policy, &object(failing), true, None);
            assert_eq!(found.len(), 1, "{expression} should fail on {failing}: {found:?}");
            assert_eq!(found[0].message, format!("failed expression: {expression}"));
        }
    }
}
