//! Contract compatibility: the difference between two values schemas, each change classified as
//! breaking or compatible for the values existing users already have, with the key path and the
//! reason. A change chartproof cannot classify precisely (a changed pattern, a changed `oneOf`…) is
//! reported as unknown rather than guessed.

use serde::Serialize;
use serde_json::{Map, Value};

/// Changes between two schemas, by verdict.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ContractDiff {
    /// Existing values may stop validating or stop having an effect.
    pub breaking: Vec<ContractChange>,
    /// Every value valid before is still valid and means the same.
    pub compatible: Vec<ContractChange>,
    /// Changed in a way chartproof cannot classify; review by hand.
    pub unknown: Vec<ContractChange>,
    /// Leaves of values.yaml whose default differs between the two versions: every release that
    /// does not set the key gets the new value on upgrade.
    #[serde(default)]
    pub defaults: Vec<DefaultChange>,
}

impl ContractDiff {
    pub fn is_empty(&self) -> bool {
        self.breaking.is_empty() && self.compatible.is_empty() && self.unknown.is_empty() && self.defaults.is_empty()
    }
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ContractChangeKind {
    KeyRemoved,
    KeyAdded,
    RequiredAdded,
    RequiredRemoved,
    TypeNarrowed,
    TypeChanged,
    TypeWidened,
    EnumValueRemoved,
    EnumValueAdded,
    EnumAdded,
    EnumRemoved,
    ConstChanged,
    MinimumRaised,
    MinimumLowered,
    MaximumLowered,
    MaximumRaised,
    LengthTightened,
    LengthRelaxed,
    PatternAdded,
    PatternRemoved,
    PatternChanged,
    AdditionalPropertiesClosed,
    AdditionalPropertiesOpened,
    ConstraintAdded,
    ConstraintRemoved,
    DescriptionChanged,
    DefaultChanged,
    Unanalyzed,
}

/// One classified change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ContractChange {
    /// Values key path: `image.tag`, `hosts[]` for list items, `podLabels.*` for map entries, `(root)`.
    pub path: String,
    pub change: ContractChangeKind,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// With `--each`: the values files this change reaches (their values are rejected by, or
    /// ignored by, the new contract because of it), in argument order. Breaking changes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaches: Option<Vec<String>>,
    /// Without `--each`, when values were given (`-f`, `--set`): whether they are affected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affects_values: Option<bool>,
}

/// How a default changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DefaultChangeKind {
    /// The key has a default on both sides, and they differ.
    Changed,
    /// The new values.yaml has a default the old one did not have.
    Added,
    /// The old values.yaml had a default the new one does not have.
    Removed,
}

/// Why a changed default deserves a reviewer's attention (security, cost, exposure, supply chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DefaultRelevance {
    /// Service type, ports exposed, host networking: who can reach the workload.
    Exposure,
    /// securityContext, privileges, host namespaces.
    Security,
    /// Replicas, autoscaling, resources: what the release costs.
    Cost,
    /// The image, its registry, tag or digest: what runs.
    Image,
}

/// One leaf of values.yaml whose default differs between the two chart versions.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DefaultChange {
    /// Dotted key path (`service.type`).
    pub path: String,
    pub change: DefaultChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// The key names a credential: the report says it changed, never the values.
    pub redacted: bool,
    /// Set for security- or cost-relevant keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relevance: Option<DefaultRelevance>,
    /// With `--each`: the values files that do not set the key and so get the new default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relied_on_by: Option<Vec<String>>,
    /// Without `--each`, when values were given: whether they leave the key to the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relied_on_by_values: Option<bool>,
    /// The keys of `path` (a key may contain a dot).
    #[serde(skip)]
    pub keys: Vec<String>,
}

impl DefaultChange {
    /// `old -> new` for people (`(none)` for a side without the default).
    pub fn shown(&self) -> String {
        if self.redacted {
            return "(secret value changed)".into();
        }
        let v = |x: &Option<Value>| x.as_ref().map(show).unwrap_or_else(|| "(none)".into());
        format!("{} -> {}", v(&self.old), v(&self.new))
    }

    /// Whether values that override the defaults with `overrides` (the user's files and `--set`
    /// coalesced) leave this key to the chart: no key on the way to it is set. A key set to a
    /// non-map value above the leaf replaces the whole subtree, so the default does not reach it.
    pub fn relied_on_by(&self, overrides: &Value) -> bool {
        let mut cur = overrides;
        for k in &self.keys {
            match cur {
                Value::Object(m) => match m.get(k) {
                    Some(v) => cur = v,
                    None => return true,
                },
                _ => return false,
            }
        }
        false
    }
}

/// Every leaf default that differs between the old and the new values.yaml. A leaf is a value that
/// is not a map, or an empty map: Helm coalesces maps key by key and replaces everything else
/// (lists included) whole, so these are the units a release inherits (chartutil's coalesceValues
/// in helm/pkg/chartutil/coalesce.go). A key that is a map on one side and a leaf on the other
/// lists the leaf as removed (or added) and the map's leaves as added (or removed).
pub fn changed_defaults(old: &Value, new: &Value) -> Vec<DefaultChange> {
    let mut out = Vec::new();
    walk_defaults(&mut Vec::new(), Some(old), Some(new), &mut out);
    out
}

/// The defaults a release of `chart` inherits, as key paths from the top-level values: the
/// chart's values.yaml, and each subchart's own defaults (recursively, packaged ones included)
/// under the subchart's key with the parent's values for that key coalesced over them (the
/// parent wins, a null deletes), as Helm's `coalesceDeps` does (helm pkg/chartutil/coalesce.go).
/// A subchart's `global` defaults (which only the subchart sees) stand under the top-level
/// `global`, the key a user sets to override them, where the parent's globals win, as in
/// `coalesceGlobals`.
pub fn effective_defaults(chart: &crate::chart::Chart) -> Value {
    let mut out = chart.values.value.clone();
    if !out.is_object() {
        out = Value::Object(Map::new());
    }
    for sub in &chart.subcharts {
        let mut sub_defaults = effective_defaults(&sub.chart);
        let sub_globals = sub_defaults.as_object_mut().and_then(|m| m.remove("global"));
        let map = out.as_object_mut().expect("an object");
        if let Some(parent) = map.get(&sub.key) {
            if !parent.is_object() {
                // A parent value that is not a map replaces the subchart's defaults whole.
                continue;
            }
            crate::chart::merge::coalesce(&mut sub_defaults, parent);
        }
        if sub_defaults.as_object().is_some_and(|m| !m.is_empty()) || map.contains_key(&sub.key) {
            map.insert(sub.key.clone(), sub_defaults);
        }
        if let Some(globals) = sub_globals.filter(|g| g.as_object().is_some_and(|m| !m.is_empty())) {
            let mut merged = globals;
            if let Some(parent) = map.get("global") {
                crate::chart::merge::coalesce(&mut merged, parent);
            }
            map.insert("global".into(), merged);
        }
    }
    out
}

fn is_branch(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Object(m)) if !m.is_empty())
}

fn walk_defaults(keys: &mut Vec<String>, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<DefaultChange>) {
    if old == new {
        return;
    }
    match (is_branch(old), is_branch(new)) {
        (true, true) => walk_children(keys, old, new, out),
        // A map on one side, a leaf on the other: the leaf goes, the map's leaves come (or back).
        (true, false) => {
            walk_children(keys, old, None, out);
            if new.is_some() {
                push_default(keys, None, new, out);
            }
        }
        (false, true) => {
            if old.is_some() {
                push_default(keys, old, None, out);
            }
            walk_children(keys, None, new, out);
        }
        (false, false) => push_default(keys, old, new, out),
    }
}

fn walk_children(keys: &mut Vec<String>, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<DefaultChange>) {
    let (om, nm) = (old.and_then(Value::as_object), new.and_then(Value::as_object));
    let mut names: Vec<&String> = om.into_iter().flat_map(|m| m.keys()).collect();
    names.extend(nm.into_iter().flat_map(|m| m.keys()).filter(|k| !om.is_some_and(|m| m.contains_key(*k))));
    for k in names {
        keys.push(k.clone());
        walk_defaults(keys, om.and_then(|m| m.get(k)), nm.and_then(|m| m.get(k)), out);
        keys.pop();
    }
}

fn push_default(keys: &[String], old: Option<&Value>, new: Option<&Value>, out: &mut Vec<DefaultChange>) {
    let change = match (old, new) {
        (Some(_), Some(_)) => DefaultChangeKind::Changed,
        (None, _) => DefaultChangeKind::Added,
        (_, None) => DefaultChangeKind::Removed,
    };
    // A default under a key that names a credential is said to change, never shown.
    let secret = keys.last().is_some_and(|k| crate::rules::secrets::sensitive_key(k).is_some()) && [old, new].iter().flatten().any(|v| !v.is_object() && !v.is_array());
    let shown = |v: Option<&Value>| if secret { None } else { v.cloned() };
    out.push(DefaultChange {
        path: if keys.is_empty() { "(root)".into() } else { keys.join(".") },
        change,
        old: shown(old),
        new: shown(new),
        redacted: secret,
        relevance: default_relevance(keys),
        relied_on_by: None,
        relied_on_by_values: None,
        keys: keys.to_vec(),
    });
}

/// Which reviewer concern a values key belongs to, from the names chart authors use for the
/// Kubernetes fields they feed (core/v1 ServiceSpec.type, PodSpec.hostNetwork, SecurityContext…).
pub fn default_relevance(keys: &[String]) -> Option<DefaultRelevance> {
    let lower: Vec<String> = keys.iter().map(|k| k.to_ascii_lowercase()).collect();
    let any = |names: &[&str]| lower.iter().any(|k| names.contains(&k.as_str()));
    let last = lower.last().map(String::as_str).unwrap_or("");
    if any(&["hostnetwork", "hostpid", "hostipc", "hostport"]) || lower.iter().any(|k| k.contains("service")) && matches!(last, "type" | "loadbalancerip" | "loadbalancersourceranges" | "externaltrafficpolicy" | "nodeport" | "externalips") {
        return Some(DefaultRelevance::Exposure);
    }
    if lower.iter().any(|k| k.contains("securitycontext")) || any(&["privileged", "allowprivilegeescalation", "runasuser", "runasnonroot", "runasgroup", "readonlyrootfilesystem", "capabilities", "automountserviceaccounttoken", "seccompprofile"]) {
        return Some(DefaultRelevance::Security);
    }
    if any(&["replicas", "replicacount", "minreplicas", "maxreplicas", "autoscaling", "resources", "limits", "requests"]) {
        return Some(DefaultRelevance::Cost);
    }
    if lower.iter().any(|k| k == "image" || k == "images") || any(&["repository", "registry", "digest"]) || last == "tag" && lower.iter().any(|k| k.contains("image")) {
        return Some(DefaultRelevance::Image);
    }
    None
}

/// Whether a values path (`env[0].name`, `service.ports.http`) is at or under a contract change's
/// path (`env[].name`, `podLabels.*`, `service.ports.http`): `[]` stands for any list index, `*`
/// for any map key.
pub fn path_is_under(value_path: &str, change_path: &str) -> bool {
    if change_path == "(root)" {
        return true;
    }
    let (v, c) = (path_segments(value_path), path_segments(change_path));
    c.len() <= v.len()
        && c.iter().zip(&v).all(|(c, v)| match c.as_str() {
            "[]" => v.starts_with('[') && v != "[]",
            "*" => !v.starts_with('['),
            _ => c == v,
        })
}

/// `a.b[0].c` -> `a`, `b`, `[0]`, `c`.
fn path_segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.find('[').map(|i| part.split_at(i)).unwrap_or((part, ""));
        if !name.is_empty() {
            out.push(name.to_string());
        }
        let mut rest = rest;
        while let Some(end) = rest.find(']') {
            out.push(rest[..=end].to_string());
            rest = &rest[end + 1..];
        }
    }
    out
}

/// Whether a breaking change works by ignoring a key (a removed key the contract does not
/// reject): values that set it are not rejected, they silently lose their effect.
pub fn ignores_values(change: &ContractChange) -> bool {
    change.change == ContractChangeKind::KeyRemoved && change.reason.contains("silently ignored")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Breaking,
    Compatible,
    Unknown,
}

/// Keywords that only document.
const DOC_KEYWORDS: &[&str] = &["description", "title", "$comment", "examples", "markdownDescription", "deprecated", "readOnly", "writeOnly"];
/// Keywords compared structurally below, or not about validation.
const HANDLED: &[&str] = &[
    "type", "properties", "required", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "pattern", "additionalProperties", "items", "uniqueItems",
    "format", "multipleOf", "default", "$ref", "$schema", "$id", "id", "definitions", "$defs",
];

/// Compare two values schemas. `new_defaults` (the new chart's values.yaml) satisfies newly
/// required keys: Helm validates the user's values merged over the defaults.
pub fn compare(old: &Value, new: &Value, new_defaults: Option<&Value>) -> ContractDiff {
    let mut cx = Cx { old_root: old, new_root: new, new_defaults, out: ContractDiff::default() };
    cx.walk(&Loc { path: String::new(), values: Some(Vec::new()) }, old, new, 0);
    cx.out
}

/// Where in the values a schema applies: display path and, when it is a plain key path, the keys.
#[derive(Clone)]
struct Loc {
    path: String,
    values: Option<Vec<String>>,
}

impl Loc {
    fn key(&self, k: &str) -> Loc {
        let path = if self.path.is_empty() { k.to_string() } else { format!("{}.{k}", self.path) };
        Loc { path, values: self.values.as_ref().map(|v| v.iter().cloned().chain([k.to_string()]).collect()) }
    }
    fn items(&self) -> Loc {
        Loc { path: format!("{}[]", self.path), values: None }
    }
    fn entries(&self) -> Loc {
        let path = if self.path.is_empty() { "*".into() } else { format!("{}.*", self.path) };
        Loc { path, values: None }
    }
    fn shown(&self) -> String {
        if self.path.is_empty() { "(root)".into() } else { self.path.clone() }
    }
}

struct Cx<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    new_defaults: Option<&'a Value>,
    out: ContractDiff,
}

const MAX_DEPTH: usize = 64;

fn as_schema(v: &Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m.clone(),
        // `true` accepts everything; `false` is marked so it can be told apart from `{}`.
        Value::Bool(false) => Map::from_iter([("not".to_string(), Value::Object(Map::new()))]),
        _ => Map::new(),
    }
}

/// Follow a local `$ref` (`#/definitions/x`, `#/$defs/x`), keeping sibling keywords.
fn resolve(root: &Value, schema: &Value, depth: usize) -> Map<String, Value> {
    let mut m = as_schema(schema);
    let mut hops = 0;
    while let Some(Value::String(r)) = m.get("$ref").cloned() {
        let Some(target) = r.strip_prefix('#').and_then(|p| if p.is_empty() { Some(root) } else { root.pointer(p) }) else { break };
        hops += 1;
        if hops > 16 || depth > MAX_DEPTH {
            break;
        }
        let mut merged = as_schema(target);
        for (k, v) in m.into_iter().filter(|(k, _)| k != "$ref") {
            merged.insert(k, v);
        }
        m = merged;
    }
    m
}

fn types(s: &Map<String, Value>) -> Option<Vec<String>> {
    match s.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        _ => None,
    }
}

fn accepts(types: &[String], t: &str) -> bool {
    types.iter().any(|x| x == t) || (t == "integer" && types.iter().any(|x| x == "number"))
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

impl Cx<'_> {
    fn push(&mut self, verdict: Verdict, loc: &Loc, change: ContractChangeKind, reason: String, old: Option<&Value>, new: Option<&Value>) {
        let c = ContractChange { path: loc.shown(), change, reason, old: old.cloned(), new: new.cloned(), reaches: None, affects_values: None };
        match verdict {
            Verdict::Breaking => self.out.breaking.push(c),
            Verdict::Compatible => self.out.compatible.push(c),
            Verdict::Unknown => self.out.unknown.push(c),
        }
    }

    /// A tightening that only constrains values of the `family` types: breaking when the old
    /// contract accepted such values, else compatible (no value valid before is affected).
    #[allow(clippy::too_many_arguments)]
    fn tighten(&mut self, o: &Map<String, Value>, family: &[&str], loc: &Loc, change: ContractChangeKind, reason: String, old: Option<&Value>, new: Option<&Value>) {
        match types(o) {
            Some(ts) if !ts.iter().any(|t| family.contains(&t.as_str())) => {
                let why = format!("{reason}; but it only constrains {} values, which the old contract did not accept", family[0]);
                self.push(Verdict::Compatible, loc, change, why, old, new);
            }
            _ => self.push(Verdict::Breaking, loc, change, reason, old, new),
        }
    }

    /// Whether the new chart supplies a value for this key itself (schema default or values.yaml).
    fn has_default(&self, loc: &Loc, schema: &Map<String, Value>) -> bool {
        if schema.contains_key("default") {
            return true;
        }
        let (Some(keys), Some(mut cur)) = (&loc.values, self.new_defaults) else { return false };
        for k in keys {
            match cur.get(k) {
                Some(v) => cur = v,
                None => return false,
            }
        }
        !cur.is_null()
    }

    fn walk(&mut self, loc: &Loc, old: &Value, new: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let o = resolve(self.old_root, old, depth);
        let n = resolve(self.new_root, new, depth);
        if o == n {
            return;
        }
        self.compare_types(loc, &o, &n);
        self.compare_properties(loc, &o, &n, depth);
        self.compare_required(loc, &o, &n);
        self.compare_enum(loc, &o, &n);
        self.compare_bounds(loc, &o, &n);
        self.compare_pattern_format(loc, &o, &n);
        self.compare_additional(loc, &o, &n, depth);
        if let (Some(oi), Some(ni)) = (o.get("items").filter(|v| !v.is_array()), n.get("items").filter(|v| !v.is_array())) {
            self.walk(&loc.items(), oi, ni, depth + 1);
        } else if o.get("items") != n.get("items") {
            let empty = Value::Object(Map::new());
            match (o.get("items"), n.get("items")) {
                (None, Some(ni)) if !ni.is_array() => self.walk(&loc.items(), &empty, ni, depth + 1),
                (Some(oi), None) if !oi.is_array() => self.walk(&loc.items(), oi, &empty, depth + 1),
                (oi, ni) => self.unanalyzed(loc, "items", oi, ni),
            }
        }
        let docs: Vec<&str> = DOC_KEYWORDS.iter().copied().filter(|k| o.get(*k) != n.get(*k)).collect();
        if !docs.is_empty() {
            let (od, nd) = (o.get("description"), n.get("description"));
            self.push(Verdict::Compatible, loc, ContractChangeKind::DescriptionChanged, format!("{} changed (documentation only)", docs.join(", ")), od, nd);
        }
        if o.get("default") != n.get("default") && o.get("default").is_some() && n.get("default").is_some() {
            self.push(
                Verdict::Compatible,
                loc,
                ContractChangeKind::DefaultChanged,
                "schema default changed: values that set the key are unaffected; users relying on the default get the new one".into(),
                o.get("default"),
                n.get("default"),
            );
        }
        let mut others: Vec<&String> = o.keys().chain(n.keys()).filter(|k| !HANDLED.contains(&k.as_str()) && !DOC_KEYWORDS.contains(&k.as_str())).collect();
        others.sort();
        others.dedup();
        for k in others {
            if o.get(k) != n.get(k) {
                self.unanalyzed(loc, k, o.get(k), n.get(k));
            }
        }
    }

    fn unanalyzed(&mut self, loc: &Loc, keyword: &str, old: Option<&Value>, new: Option<&Value>) {
        let how = match (old, new) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ => "changed",
        };
        let verdict = if keyword == "not" && new.is_none() { Verdict::Compatible } else { Verdict::Unknown };
        self.push(verdict, loc, ContractChangeKind::Unanalyzed, format!("`{keyword}` {how}; chartproof does not analyze this keyword, review it by hand"), old, new);
    }

    fn compare_types(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>) {
        let (ot, nt) = (types(o), types(n));
        let (ov, nv) = (o.get("type"), n.get("type"));
        match (&ot, &nt) {
            (None, None) => {}
            (None, Some(t)) => self.push(Verdict::Breaking, loc, ContractChangeKind::TypeNarrowed, format!("type restricted to {}: values of any other type are rejected", t.join("|")), ov, nv),
            (Some(_), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::TypeWidened, "type restriction removed".into(), ov, nv),
            (Some(ot), Some(nt)) => {
                let old_kept = ot.iter().filter(|t| accepts(nt, t)).count();
                let new_in_old = nt.iter().all(|t| accepts(ot, t));
                if old_kept == ot.len() {
                    if !new_in_old {
                        self.push(Verdict::Compatible, loc, ContractChangeKind::TypeWidened, format!("type widened from {} to {}", ot.join("|"), nt.join("|")), ov, nv);
                    }
                } else if old_kept > 0 || ot.iter().any(|t| t == "number") && nt.iter().any(|t| t == "integer") {
                    self.push(Verdict::Breaking, loc, ContractChangeKind::TypeNarrowed, format!("type narrowed from {} to {}: some existing values are rejected", ot.join("|"), nt.join("|")), ov, nv);
                } else {
                    self.push(Verdict::Breaking, loc, ContractChangeKind::TypeChanged, format!("type changed from {} to {}: existing values are rejected", ot.join("|"), nt.join("|")), ov, nv);
                }
            }
        }
    }

    fn compare_properties(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>, depth: usize) {
        let empty = Map::new();
        let op = o.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let np = n.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let new_required = required(n);
        let closed = n.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, ov) in op {
            let kl = loc.key(k);
            match np.get(k) {
                Some(nv) => self.walk(&kl, ov, nv, depth + 1),
                None => match n.get("additionalProperties").filter(|a| a.is_object()) {
                    // Still allowed as a map entry: compare with the entry schema.
                    Some(ap) => self.walk(&kl, ov, ap, depth + 1),
                    None => {
                        let why = if closed { "values that set it are now rejected (additionalProperties: false)" } else { "values that set it are silently ignored" };
                        self.push(Verdict::Breaking, &kl, ContractChangeKind::KeyRemoved, format!("key removed: {why}"), Some(ov), None);
                    }
                },
            }
        }
        for (k, nv) in np {
            if op.contains_key(k) {
                continue;
            }
            let kl = loc.key(k);
            if let Some(ap) = o.get("additionalProperties").filter(|a| a.is_object()) {
                self.walk(&kl, ap, nv, depth + 1);
                continue;
            }
            let schema = resolve(self.new_root, nv, depth);
            if new_required.contains(&k.as_str()) && !self.has_default(&kl, &schema) {
                self.push(Verdict::Breaking, &kl, ContractChangeKind::RequiredAdded, "new required key without a default: existing values that lack it are rejected".into(), None, Some(nv));
            } else {
                self.push(Verdict::Compatible, &kl, ContractChangeKind::KeyAdded, "optional key added".into(), None, Some(nv));
            }
        }
    }

    fn compare_required(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>) {
        let (or, nr) = (required(o), required(n));
        let old_props = o.get("properties").and_then(Value::as_object);
        let new_props = n.get("properties").and_then(Value::as_object);
        for k in nr.iter().filter(|k| !or.contains(k)) {
            let newly_added = new_props.is_some_and(|p| p.contains_key(*k)) && !old_props.is_some_and(|p| p.contains_key(*k));
            if newly_added {
                continue; // classified with the added key
            }
            let kl = loc.key(k);
            let schema = new_props.and_then(|p| p.get(*k)).map(|s| resolve(self.new_root, s, 0)).unwrap_or_default();
            if self.has_default(&kl, &schema) {
                self.push(Verdict::Compatible, &kl, ContractChangeKind::RequiredAdded, "key became required, but the chart supplies a default".into(), None, None);
            } else {
                self.push(Verdict::Breaking, &kl, ContractChangeKind::RequiredAdded, "key became required without a default: existing values that lack it are rejected".into(), None, None);
            }
        }
        for k in or.iter().filter(|k| !nr.contains(k)) {
            self.push(Verdict::Compatible, &loc.key(k), ContractChangeKind::RequiredRemoved, "key no longer required".into(), None, None);
        }
    }

    fn compare_enum(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>) {
        match (o.get("enum").and_then(Value::as_array), n.get("enum").and_then(Value::as_array)) {
            (Some(oe), Some(ne)) => {
                let removed: Vec<&Value> = oe.iter().filter(|v| !ne.contains(v)).collect();
                let added: Vec<&Value> = ne.iter().filter(|v| !oe.contains(v)).collect();
                if !removed.is_empty() {
                    let list = removed.iter().map(|v| show(v)).collect::<Vec<_>>().join(", ");
                    self.push(Verdict::Breaking, loc, ContractChangeKind::EnumValueRemoved, format!("enum value(s) removed: {list} are rejected"), o.get("enum"), n.get("enum"));
                }
                if !added.is_empty() {
                    let list = added.iter().map(|v| show(v)).collect::<Vec<_>>().join(", ");
                    self.push(Verdict::Compatible, loc, ContractChangeKind::EnumValueAdded, format!("enum value(s) added: {list}"), o.get("enum"), n.get("enum"));
                }
            }
            (None, Some(_)) => self.push(Verdict::Breaking, loc, ContractChangeKind::EnumAdded, "enum added: only the listed values are accepted".into(), None, n.get("enum")),
            (Some(_), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::EnumRemoved, "enum removed: any value of the type is accepted".into(), o.get("enum"), None),
            (None, None) => {}
        }
        match (o.get("const"), n.get("const")) {
            (a, b) if a == b => {}
            (Some(_), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::ConstraintRemoved, "const removed".into(), o.get("const"), None),
            (a, b) => self.push(Verdict::Breaking, loc, ContractChangeKind::ConstChanged, "const added or changed: other values are rejected".into(), a, b),
        }
    }

    fn compare_bounds(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>) {
        use ContractChangeKind::*;
        const NUMBER: &[&str] = &["number", "integer"];
        // (keyword, lower bound?, kind when tightened, kind when relaxed, what, types it constrains)
        let bounds: &[(&str, bool, ContractChangeKind, ContractChangeKind, &str, &[&str])] = &[
            ("minimum", true, MinimumRaised, MinimumLowered, "minimum", NUMBER),
            ("exclusiveMinimum", true, MinimumRaised, MinimumLowered, "exclusive minimum", NUMBER),
            ("maximum", false, MaximumLowered, MaximumRaised, "maximum", NUMBER),
            ("exclusiveMaximum", false, MaximumLowered, MaximumRaised, "exclusive maximum", NUMBER),
            ("minLength", true, LengthTightened, LengthRelaxed, "minimum length", &["string"]),
            ("maxLength", false, LengthTightened, LengthRelaxed, "maximum length", &["string"]),
            ("minItems", true, LengthTightened, LengthRelaxed, "minimum number of items", &["array"]),
            ("maxItems", false, LengthTightened, LengthRelaxed, "maximum number of items", &["array"]),
            ("minProperties", true, LengthTightened, LengthRelaxed, "minimum number of keys", &["object"]),
            ("maxProperties", false, LengthTightened, LengthRelaxed, "maximum number of keys", &["object"]),
        ];
        for (kw, lower, tight, relaxed, what, family) in bounds {
            let (ov, nv) = (o.get(*kw), n.get(*kw));
            if ov == nv {
                continue;
            }
            match (ov.and_then(Value::as_f64), nv.and_then(Value::as_f64)) {
                (None, Some(x)) if ov.is_none() => self.tighten(o, family, loc, *tight, format!("{what} {x} added: values outside it are rejected"), ov, nv),
                (Some(_), None) if nv.is_none() => self.push(Verdict::Compatible, loc, *relaxed, format!("{what} removed"), ov, nv),
                (Some(a), Some(b)) => {
                    let tighter = if *lower { b > a } else { b < a };
                    if tighter {
                        let how = if *lower { "raised" } else { "lowered" };
                        self.tighten(o, family, loc, *tight, format!("{what} {how} from {a} to {b}: values in between are rejected"), ov, nv);
                    } else {
                        self.push(Verdict::Compatible, loc, *relaxed, format!("{what} relaxed from {a} to {b}"), ov, nv);
                    }
                }
                // draft-04 boolean exclusiveMinimum/Maximum and other odd forms
                _ => self.unanalyzed(loc, kw, ov, nv),
            }
        }
        match (o.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false), n.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false)) {
            (false, true) => self.tighten(o, &["array"], loc, ContractChangeKind::ConstraintAdded, "uniqueItems added: lists with repeated items are rejected".into(), o.get("uniqueItems"), n.get("uniqueItems")),
            (true, false) => self.push(Verdict::Compatible, loc, ContractChangeKind::ConstraintRemoved, "uniqueItems removed".into(), o.get("uniqueItems"), n.get("uniqueItems")),
            _ => {}
        }
        match (o.get("multipleOf"), n.get("multipleOf")) {
            (a, b) if a == b => {}
            (Some(_), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::ConstraintRemoved, "multipleOf removed".into(), o.get("multipleOf"), None),
            (a, b) => self.unanalyzed(loc, "multipleOf", a, b),
        }
    }

    fn compare_pattern_format(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>) {
        match (o.get("pattern"), n.get("pattern")) {
            (a, b) if a == b => {}
            (None, Some(p)) => self.tighten(o, &["string"], loc, ContractChangeKind::PatternAdded, format!("pattern {} added: strings that do not match are rejected", show(p)), None, Some(p)),
            (Some(p), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::PatternRemoved, "pattern removed".into(), Some(p), None),
            (a, b) => self.push(
                Verdict::Unknown,
                loc,
                ContractChangeKind::PatternChanged,
                format!("pattern changed from {} to {}: chartproof cannot tell whether it is tighter or looser", show(a.unwrap()), show(b.unwrap())),
                a,
                b,
            ),
        }
        match (o.get("format"), n.get("format")) {
            (a, b) if a == b => {}
            (Some(_), None) => self.push(Verdict::Compatible, loc, ContractChangeKind::ConstraintRemoved, "format removed".into(), o.get("format"), None),
            (a, b) => self.push(
                Verdict::Unknown,
                loc,
                ContractChangeKind::Unanalyzed,
                "format added or changed: whether it rejects values depends on the validator's format assertion".into(),
                a,
                b,
            ),
        }
    }

    fn compare_additional(&mut self, loc: &Loc, o: &Map<String, Value>, n: &Map<String, Value>, depth: usize) {
        let (oa, na) = (o.get("additionalProperties"), n.get("additionalProperties"));
        if oa == na {
            return;
        }
        let is_false = |v: Option<&Value>| v == Some(&Value::Bool(false));
        let open = Value::Object(Map::new());
        match (is_false(oa), is_false(na)) {
            (false, true) => self.push(
                Verdict::Breaking,
                loc,
                ContractChangeKind::AdditionalPropertiesClosed,
                "additionalProperties closed: keys not declared in the schema are now rejected".into(),
                oa,
                na,
            ),
            (true, false) => self.push(Verdict::Compatible, loc, ContractChangeKind::AdditionalPropertiesOpened, "additionalProperties opened: undeclared keys are accepted".into(), oa, na),
            _ => {
                let (oa, na) = (oa.filter(|v| v.is_object()).unwrap_or(&open), na.filter(|v| v.is_object()).unwrap_or(&open));
                self.walk(&loc.entries(), oa, na, depth + 1);
            }
        }
    }
}

/// A key that left the contract but that the new templates still read (`.Values.ui.color`) keeps
/// working for users who set it, unless the contract now rejects it: such removals are moved from
/// breaking to unknown. `templates` is the text of the new chart's templates.
pub fn recheck_removed_keys(diff: &mut ContractDiff, templates: &str) {
    let (keep, moved): (Vec<ContractChange>, Vec<ContractChange>) = std::mem::take(&mut diff.breaking).into_iter().partition(|c| {
        let ignored = ignores_values(c);
        !(ignored && !c.path.contains(['[', '*']) && still_read(templates, &c.path))
    });
    diff.breaking = keep;
    for mut c in moved {
        c.reason = format!("key removed from the contract, but the new templates still read .Values.{}: check whether it still has an effect", c.path);
        diff.unknown.push(c);
    }
}

/// Whether the template text reads `.Values.<path>` (not only a longer key that starts the same).
fn still_read(templates: &str, path: &str) -> bool {
    let needle = format!(".Values.{path}");
    templates.match_indices(&needle).any(|(i, _)| {
        templates[i + needle.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn required(s: &Map<String, Value>) -> Vec<&str> {
    s.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(list: &[ContractChange]) -> Vec<(String, ContractChangeKind)> {
        list.iter().map(|c| (c.path.clone(), c.change)).collect()
    }

    #[test]
    fn every_breaking_class() {
        use ContractChangeKind::*;
        let old = json!({"type": "object", "properties": {
            "gone": {"type": "string"},
            "port": {"type": ["integer", "string"]},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
            "name": {"type": "string", "maxLength": 63},
            "tag": {"type": "string"},
            "labels": {"type": "object"},
            "size": {"type": "string"}
        }});
        let new = json!({"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string"},
            "port": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a"]},
            "replicas": {"type": "integer", "minimum": 2, "maximum": 5},
            "name": {"type": "string", "maxLength": 40},
            "tag": {"type": "string", "pattern": "^v"},
            "labels": {"type": "object", "additionalProperties": false},
            "size": {"type": "integer"}
        }});
        let d = compare(&old, &new, None);
        let got = kinds(&d.breaking);
        for want in [
            ("gone", KeyRemoved),
            ("token", RequiredAdded),
            ("port", TypeNarrowed),
            ("mode", EnumValueRemoved),
            ("replicas", MinimumRaised),
            ("replicas", MaximumLowered),
            ("name", LengthTightened),
            ("tag", PatternAdded),
            ("labels", AdditionalPropertiesClosed),
            ("size", TypeChanged),
        ] {
            assert!(got.contains(&(want.0.to_string(), want.1)), "missing {want:?} in {got:?}");
        }
        assert_eq!(got.len(), 10, "{got:?}");
        assert!(d.compatible.is_empty() && d.unknown.is_empty());
    }

    #[test]
    fn every_compatible_class() {
        use ContractChangeKind::*;
        let old = json!({"type": "object", "required": ["mode"], "properties": {
            "port": {"type": "integer", "description": "the port"},
            "mode": {"type": "string", "enum": ["a"]},
            "replicas": {"type": "integer", "minimum": 2, "maximum": 5},
            "tag": {"type": "string", "pattern": "^v", "maxLength": 10},
            "labels": {"type": "object", "additionalProperties": false}
        }});
        let new = json!({"type": "object", "properties": {
            "port": {"type": "number", "description": "the port to listen on"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
            "tag": {"type": "string", "maxLength": 20},
            "labels": {"type": "object"},
            "extra": {"type": "boolean"}
        }});
        let d = compare(&old, &new, None);
        assert!(d.breaking.is_empty() && d.unknown.is_empty(), "{:?} {:?}", d.breaking, d.unknown);
        let got = kinds(&d.compatible);
        for want in [
            ("port", TypeWidened),
            ("port", DescriptionChanged),
            ("mode", EnumValueAdded),
            ("mode", RequiredRemoved),
            ("replicas", MinimumLowered),
            ("replicas", MaximumRaised),
            ("tag", PatternRemoved),
            ("tag", LengthRelaxed),
            ("labels", AdditionalPropertiesOpened),
            ("extra", KeyAdded),
        ] {
            assert!(got.contains(&(want.0.to_string(), want.1)), "missing {want:?} in {got:?}");
        }
    }

    #[test]
    fn required_key_with_a_default_is_compatible_and_unclear_changes_are_unknown() {
        let old = json!({"properties": {"a": {"type": "string", "pattern": "^x"}, "b": {"oneOf": [{"type": "string"}]}}});
        let new = json!({"required": ["c", "d"], "properties": {
            "a": {"type": "string", "pattern": "^y"},
            "b": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {"type": "string"},
            "d": {"type": "string", "default": "x"}
        }});
        let d = compare(&old, &new, Some(&json!({"c": "from values.yaml"})));
        assert!(d.breaking.is_empty(), "{:?}", d.breaking);
        assert_eq!(kinds(&d.unknown).iter().map(|k| k.0.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(d.compatible.len(), 2);
        // Without values.yaml supplying c, it breaks.
        assert_eq!(kinds(&compare(&old, &new, None).breaking), [("c".to_string(), ContractChangeKind::RequiredAdded)]);
    }

    #[test]
    fn constraints_on_types_the_old_contract_rejected_break_nothing() {
        let old = json!({"properties": {"surge": {"type": "string"}, "n": {"type": "integer"}}});
        let new = json!({"properties": {
            "surge": {"type": ["integer", "string"], "minimum": 1, "maximum": 100, "pattern": "^[0-9]+%$"},
            "n": {"type": "integer", "minimum": 1, "maxLength": 3}
        }});
        let d = compare(&old, &new, None);
        let b: Vec<_> = kinds(&d.breaking);
        assert_eq!(b, [("surge".to_string(), ContractChangeKind::PatternAdded), ("n".to_string(), ContractChangeKind::MinimumRaised)]);
        let c: Vec<_> = kinds(&d.compatible);
        for want in [("surge", ContractChangeKind::MinimumRaised), ("surge", ContractChangeKind::MaximumLowered), ("surge", ContractChangeKind::TypeWidened), ("n", ContractChangeKind::LengthTightened)] {
            assert!(c.contains(&(want.0.to_string(), want.1)), "missing {want:?} in {c:?}");
        }
        assert!(d.compatible.iter().any(|x| x.reason.contains("only constrains number values")));
    }

    #[test]
    fn removed_keys_the_templates_still_read_are_unknown() {
        let old = json!({"properties": {"ui": {"properties": {"color": {"type": "string"}, "logo": {"type": "string"}, "log": {"type": "string"}}}}});
        let new = json!({"properties": {"ui": {"properties": {}}}});
        let mut d = compare(&old, &new, None);
        recheck_removed_keys(&mut d, "value: {{ .Values.ui.color | quote }}\n{{ .Values.ui.logo }}");
        assert_eq!(kinds(&d.breaking), [("ui.log".to_string(), ContractChangeKind::KeyRemoved)]);
        assert_eq!(d.unknown.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["ui.color", "ui.logo"]);
        // A closed object rejects the key: still breaking.
        let closed = json!({"properties": {"ui": {"properties": {}, "additionalProperties": false}}});
        let mut d = compare(&old, &closed, None);
        recheck_removed_keys(&mut d, "{{ .Values.ui.color }}");
        assert!(d.breaking.iter().any(|c| c.path == "ui.color" && c.change == ContractChangeKind::KeyRemoved));
    }

    #[test]
    fn nested_items_maps_and_refs() {
        let old = json!({"definitions": {"port": {"type": "integer", "maximum": 65535}}, "properties": {
            "svc": {"properties": {"ports": {"type": "array", "items": {"$ref": "#/definitions/port"}}}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}}
        }});
        let new = json!({"$defs": {"port": {"type": "integer", "maximum": 1024}}, "properties": {
            "svc": {"properties": {"ports": {"type": "array", "items": {"$ref": "#/$defs/port"}}}},
            "env": {"type": "object", "additionalProperties": {"type": "integer"}}
        }});
        let d = compare(&old, &new, None);
        assert_eq!(
            kinds(&d.breaking),
            [("svc.ports[]".to_string(), ContractChangeKind::MaximumLowered), ("env.*".to_string(), ContractChangeKind::TypeChanged)]
        );
        assert!(compare(&old, &old, None).is_empty());
    }
    #[test]
    fn subchart_defaults_stand_under_their_key_with_the_parent_winning() {
        let (_d, c) = crate::chart::chart_from_files(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: db\n  version: 0.1.0\n  alias: store\n"),
            ("values.yaml", "store:\n  replicas: 3\n  gone: null\nglobal:\n  region: eu\n"),
            ("charts/db/Chart.yaml", "apiVersion: v2\nname: db\nversion: 0.1.0\n"),
            ("charts/db/values.yaml", "replicas: 1\nimage: {tag: '1.0'}\ngone: x\nglobal:\n  region: us\n  tier: small\n"),
        ]);
        assert_eq!(effective_defaults(&c), serde_json::json!({
            "store": {"replicas": 3, "image": {"tag": "1.0"}},
            "global": {"region": "eu", "tier": "small"},
        }));
    }

    #[test]
    fn changed_defaults_are_leaves_of_values_yaml() {
        let old = json!({"service": {"type": "ClusterIP", "ports": {"http": 80}}, "replicaCount": 1, "tolerations": [], "extra": {}, "same": {"a": 1}, "auth": {"password": "old-pw"}});
        let new = json!({"service": {"type": "LoadBalancer", "ports": {"web": 80}}, "replicaCount": 1, "tolerations": [{"key": "x"}], "extra": {"on": true}, "same": {"a": 1}, "image": {"tag": "2"}, "auth": {"password": "new-pw"}});
        let got: Vec<(String, DefaultChangeKind, Option<DefaultRelevance>)> = changed_defaults(&old, &new).into_iter().map(|d| (d.path, d.change, d.relevance)).collect();
        use DefaultChangeKind::*;
        assert_eq!(
            got,
            [
                ("service.type".to_string(), Changed, Some(DefaultRelevance::Exposure)),
                ("service.ports.http".to_string(), Removed, None),
                ("service.ports.web".to_string(), Added, None),
                ("tolerations".to_string(), Changed, None),
                ("extra".to_string(), Removed, None),
                ("extra.on".to_string(), Added, None),
                ("auth.password".to_string(), Changed, None),
                ("image.tag".to_string(), Added, Some(DefaultRelevance::Image)),
            ]
        );
        let pw = changed_defaults(&old, &new).into_iter().find(|d| d.path == "auth.password").unwrap();
        assert!(pw.redacted && pw.old.is_none() && pw.new.is_none() && !pw.shown().contains("pw"));
        let d = &changed_defaults(&old, &new)[0];
        assert!(d.relied_on_by(&json!({"service": {"ports": {"http": 1}}})));
        assert!(!d.relied_on_by(&json!({"service": {"type": "NodePort"}})));
        assert!(!d.relied_on_by(&json!({"service": "none"})), "a scalar above the leaf replaces the subtree");
        assert_eq!(default_relevance(&["securityContext".into(), "runAsUser".into()]), Some(DefaultRelevance::Security));
        assert_eq!(default_relevance(&["hostNetwork".into()]), Some(DefaultRelevance::Exposure));
        assert_eq!(default_relevance(&["resources".into(), "limits".into(), "cpu".into()]), Some(DefaultRelevance::Cost));
    }

    #[test]
    fn value_paths_under_change_paths() {
        assert!(path_is_under("env[0].name", "env[].name"));
        assert!(path_is_under("podLabels.team", "podLabels.*"));
        assert!(path_is_under("extraConfig.x", "extraConfig"));
        assert!(path_is_under("anything", "(root)"));
        assert!(!path_is_under("service.port", "service.ports"));
        assert!(!path_is_under("env", "env[].name"));
        assert!(!path_is_under("list[0]", "list.*"));
    }

}
