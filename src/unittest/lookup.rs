//! helm-unittest's `kubernetesProvider`: a fake cluster that answers the templates' `lookup`
//! calls from the suite's and test's `objects`. helm-unittest renders such a test with
//! `engine.RenderWithClientProvider` and its `KubernetesFakeClientProvider` (pkg/unittest
//! k8s_fake_client.go `GetClientFor`): the `scheme` entry `apiVersion/kind` gives the resource
//! (`gvr`) and whether it is namespaced, and client-go's fake dynamic client holds the objects.
//! `helm template` answers every `lookup` with an empty map, so the chart copy answers them
//! itself: every `lookup A B C D` call in its templates becomes
//! `(include "<LOOKUP_TEMPLATE>" (list A B C D) | fromJson)`, and that named template, written
//! into the copy with the objects inlined, returns what helm's lookup function (helm
//! pkg/engine/lookup_func.go `newLookupFunction`) returns from the fake client:
//! - with a name: the object stored under the scheme's resource, in the lookup's namespace when
//!   the kind is namespaced (else cluster-wide, namespace ""), or an empty map;
//! - without a name: `{apiVersion, kind: <Kind>List, metadata: {continue: "", resourceVersion: ""},
//!   items}`, the items of that resource in that namespace (all namespaces when the kind is not
//!   namespaced or the namespace is ""), sorted by namespace then name (client-go
//!   testing/fixture.go `filterByNamespace`).
//!
//! The fake client stores each object under the resource client-go guesses from its kind
//! (apimachinery meta `UnsafeGuessKindToResource`), so an object is found only when the scheme
//! names that resource; listing a resource no object registered makes the fake client panic,
//! which the template engine reports as an error of the `lookup` call.
//!
//! A `lookup` given its last argument through a pipe (`$name | lookup "v1" "Secret" $ns`)
//! becomes `$name | list "v1" "Secret" $ns | include "<LOOKUP_TEMPLATE>" | fromJson`.
//!
//! Limit: the answer passes through JSON, so numbers come back as floats (`toYaml` prints them
//! as before; a number printed directly, such as 1000000, prints as 1e+06).

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{Value, json};

/// The named template every rewritten `lookup` call includes.
pub const LOOKUP_TEMPLATE: &str = "chartproof-unittest-lookup";
/// The partial that defines it, in the root chart's `templates/` of the copy.
pub const LOOKUP_FILE: &str = "_chartproof-unittest-lookup.tpl";

/// One `scheme` entry: `gvr` and `namespaced` (the `should_err` of helm-unittest cannot be
/// written in YAML as an error value and is not read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FakeKind {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespaced: bool,
}

/// `kubernetesProvider:` of a suite or test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KubernetesProvider {
    /// `apiVersion/kind` → resource.
    pub scheme: BTreeMap<String, FakeKind>,
    pub objects: Vec<Value>,
}

impl KubernetesProvider {
    /// helm-unittest test_suite.go `polishKubernetesProviderSettings`: the test's objects, then
    /// the suite's; the suite's scheme entries replace the test's of the same key.
    pub fn merged(test: &KubernetesProvider, suite: &KubernetesProvider) -> KubernetesProvider {
        let mut scheme = test.scheme.clone();
        scheme.extend(suite.scheme.iter().map(|(k, v)| (k.clone(), v.clone())));
        KubernetesProvider { scheme, objects: test.objects.iter().chain(&suite.objects).cloned().collect() }
    }

    /// The data the lookup template reads (JSON), or None when there is no object: helm-unittest
    /// then renders with the plain engine (test_job.go `renderV3Chart`), whose lookup answers
    /// every call with an empty map as `helm template` does.
    pub fn database(&self) -> Option<String> {
        if self.objects.is_empty() {
            return None;
        }
        let resource_key = |group: &str, version: &str, resource: &str| format!("{group}/{version}/{resource}");
        let mut scheme = serde_json::Map::new();
        for (key, kind) in &self.scheme {
            let group_version = if kind.group.is_empty() { kind.version.clone() } else { format!("{}/{}", kind.group, kind.version) };
            scheme.insert(key.clone(), json!({"resource": resource_key(&kind.group, &kind.version, &kind.resource), "groupVersion": group_version, "namespaced": kind.namespaced}));
        }
        let mut stored: BTreeMap<String, BTreeMap<(String, String), Value>> = BTreeMap::new();
        let mut list_kinds = serde_json::Map::new();
        for object in &self.objects {
            let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let resource = resource_key(group, version, &guess_resource(kind));
            let meta = |k: &str| object.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or("").to_string();
            stored.entry(resource.clone()).or_default().insert((meta("namespace"), meta("name")), object.clone());
            list_kinds.insert(resource, Value::String(format!("{kind}List")));
        }
        // Items in namespace, then name order, as the tracker returns them.
        let objects: serde_json::Map<String, Value> = stored
            .into_iter()
            .map(|(resource, items)| (resource, Value::Array(items.into_iter().map(|((namespace, name), object)| json!({"namespace": namespace, "name": name, "object": object})).collect())))
            .collect();
        Some(json!({"scheme": scheme, "objects": objects, "listKinds": list_kinds}).to_string())
    }
}

/// apimachinery meta `UnsafeGuessKindToResource`: the kind lower-cased and pluralised.
fn guess_resource(kind: &str) -> String {
    let singular = kind.to_lowercase();
    if singular.is_empty() || singular.ends_with("endpoints") {
        return singular;
    }
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

/// The partial defining [`LOOKUP_TEMPLATE`] over `database` (from [`KubernetesProvider::database`]).
pub fn lookup_partial(database: &str) -> String {
    // A JSON string is a valid Go string literal (serde_json escapes only what Go reads alike).
    let literal = serde_json::to_string(database).unwrap_or_default();
    format!(
        r#"{{{{- define "{LOOKUP_TEMPLATE}" -}}}}
{{{{- $db := fromJson {literal} -}}}}
{{{{- $apiVersion := index . 0 | toString -}}}}
{{{{- $kind := index . 1 | toString -}}}}
{{{{- $namespace := index . 2 | toString -}}}}
{{{{- $name := index . 3 | toString -}}}}
{{{{- $key := $kind -}}}}
{{{{- if $apiVersion -}}}}{{{{- $key = printf "%s/%s" $apiVersion $kind -}}}}{{{{- end -}}}}
{{{{- $props := dict "resource" "//" "groupVersion" "" "namespaced" false -}}}}
{{{{- if hasKey $db.scheme $key -}}}}{{{{- $props = get $db.scheme $key -}}}}{{{{- end -}}}}
{{{{- $scope := "" -}}}}
{{{{- if and $props.namespaced $namespace -}}}}{{{{- $scope = $namespace -}}}}{{{{- end -}}}}
{{{{- $stored := list -}}}}
{{{{- if hasKey $db.objects $props.resource -}}}}{{{{- $stored = get $db.objects $props.resource -}}}}{{{{- end -}}}}
{{{{- if $name -}}}}
{{{{- $found := dict -}}}}
{{{{- range $stored -}}}}{{{{- if and (eq .namespace $scope) (eq .name $name) -}}}}{{{{- $found = .object -}}}}{{{{- end -}}}}{{{{- end -}}}}
{{{{- toJson $found -}}}}
{{{{- else -}}}}
{{{{- if not (hasKey $db.listKinds $props.resource) -}}}}
{{{{- fail (printf "lookup %s %s: coding error: you must register resource to list kind for every resource you're going to LIST when creating the client (helm-unittest's fake client has no object of resource %s)" $apiVersion $kind $props.resource) -}}}}
{{{{- end -}}}}
{{{{- $items := list -}}}}
{{{{- range $stored -}}}}{{{{- if or (not $scope) (eq .namespace $scope) -}}}}{{{{- $items = append $items .object -}}}}{{{{- end -}}}}{{{{- end -}}}}
{{{{- toJson (dict "apiVersion" $props.groupVersion "kind" (get $db.listKinds $props.resource) "metadata" (dict "continue" "" "resourceVersion" "") "items" $items) -}}}}
{{{{- end -}}}}
{{{{- end -}}}}
"#
    )
}

/// Rewrite every `lookup A B C D` call in the actions of a template's text into an include of
/// [`LOOKUP_TEMPLATE`] (and `X | lookup A B C` into `X | list A B C | include …`). Text outside
/// actions, comments and string literals are left alone, as are `.lookup` and `$lookup`.
/// Returns None when nothing changed.
pub fn rewrite_lookups(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut changed = false;
    let mut i = 0;
    while let Some(open) = text[i..].find("{{").map(|p| p + i) {
        let mut j = open + 2;
        if text[j..].starts_with("- ") || text[j..].starts_with("-\t") || text[j..].starts_with("-\n") {
            j += 1;
        }
        let body = j + text[j..].len() - text[j..].trim_start().len();
        if text[body..].starts_with("/*") {
            i = text[body..].find("*/").map(|p| body + p + 2).unwrap_or(text.len());
            continue;
        }
        j = body;
        // Inside the action, up to its closing `}}`.
        while j < bytes.len() && !text[j..].starts_with("}}") {
            match bytes[j] {
                b'"' | b'\'' | b'`' => j = skip_literal(bytes, j),
                c if is_ident(c) => {
                    let start = j;
                    while j < bytes.len() && is_ident(bytes[j]) {
                        j += 1;
                    }
                    let before = if start == 0 { b' ' } else { bytes[start - 1] };
                    if &text[start..j] == "lookup" && before != b'.' && before != b'$' && !is_ident(before) {
                        // `X | lookup A B C`: the piped value is the last argument.
                        let piped = text[..start].trim_end().ends_with('|') && !text[..start].trim_end().ends_with("||");
                        let (args, end) = operands(text, j, if piped { 3 } else { 4 });
                        let replacement = match (piped, args.len()) {
                            (false, 4) => Some(format!("(include \"{LOOKUP_TEMPLATE}\" (list {}) | fromJson)", args.join(" "))),
                            (true, 3) => Some(format!("list {} | include \"{LOOKUP_TEMPLATE}\" | fromJson", args.join(" "))),
                            _ => None,
                        };
                        if let Some(replacement) = replacement {
                            out.push_str(&text[copied..start]);
                            out.push_str(&replacement);
                            copied = end;
                            changed = true;
                            j = end;
                        }
                    }
                }
                _ => j += 1,
            }
        }
        i = (j + 2).min(text.len());
    }
    if !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of the string, raw string or character literal starting at `at`.
fn skip_literal(bytes: &[u8], at: usize) -> usize {
    let quote = bytes[at];
    let mut j = at + 1;
    while j < bytes.len() && bytes[j] != quote {
        if bytes[j] == b'\\' && quote != b'`' {
            j += 1;
        }
        j += 1;
    }
    (j + 1).min(bytes.len())
}

/// Up to `max` operands of a command starting at `from` (Go text/template's terms: literals,
/// variables and fields with their field chains, parenthesised pipelines, identifiers), with
/// the position after the last one.
fn operands(text: &str, from: usize, max: usize) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut args = Vec::new();
    let mut j = from;
    let mut end = from;
    while args.len() < max {
        let start = j + text[j..].len() - text[j..].trim_start().len();
        if start == j && !args.is_empty() {
            break;
        }
        let Some(&c) = bytes.get(start) else { break };
        let mut k = start;
        match c {
            b'"' | b'\'' | b'`' => k = skip_literal(bytes, k),
            b'(' => {
                let mut depth = 0;
                while k < bytes.len() {
                    match bytes[k] {
                        b'"' | b'\'' | b'`' => {
                            k = skip_literal(bytes, k);
                            continue;
                        }
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                k += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    k += 1;
                }
            }
            b'$' | b'.' => k += 1,
            b'-' | b'+' if bytes.get(start + 1).is_some_and(u8::is_ascii_digit) => k += 1,
            c if is_ident(c) => {}
            _ => break,
        }
        // The rest of the term: identifier characters and `.field` chains.
        while k < bytes.len() && (is_ident(bytes[k]) || (bytes[k] == b'.' && (k == start || bytes.get(k + 1).is_some_and(|n| is_ident(*n))))) {
            k += 1;
        }
        if k == start {
            break;
        }
        args.push(text[start..k].to_string());
        j = k;
        end = k;
    }
    (args, end)
}

/// Write the lookup partial into the chart copy's `templates/` and rewrite the `lookup` calls
/// of every template file below `chart` (subcharts included).
pub fn install(chart: &std::path::Path, database: &str) -> Result<()> {
    use anyhow::Context;
    let templates = chart.join("templates");
    std::fs::create_dir_all(&templates).with_context(|| format!("cannot create {}", templates.display()))?;
    std::fs::write(templates.join(LOOKUP_FILE), lookup_partial(database)).with_context(|| format!("cannot write the lookup template in {}", templates.display()))?;
    rewrite_tree(chart)
}

fn rewrite_tree(dir: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            rewrite_tree(&path)?;
        } else if path.components().any(|c| c.as_os_str() == "templates") && path.file_name().is_some_and(|n| n != LOOKUP_FILE) {
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if let Some(rewritten) = rewrite_lookups(&text) {
                std::fs::write(&path, rewritten).with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_calls_are_rewritten_in_actions_only() {
        let t = r#"a: {{ (lookup "v1" "Pod" "default" "exists") | toYaml }}
{{- $s := lookup "v1" "Secret" (include "ns" .) $.Values.name -}}
{{ $x := lookup $n.apiVersion $n.kind $n.metadata.namespace $n.metadata.name }}
{{/* lookup "a" "b" "c" "d" */}} lookup "x" "y" "z" "w" {{ .Values.lookup }} {{ "lookup" }} {{ $name | lookup "v1" "Secret" "ns" | toYaml }}"#;
        let r = rewrite_lookups(t).unwrap();
        assert!(r.contains(r#"a: {{ ((include "chartproof-unittest-lookup" (list "v1" "Pod" "default" "exists") | fromJson)) | toYaml }}"#), "{r}");
        assert!(r.contains(r#"$s := (include "chartproof-unittest-lookup" (list "v1" "Secret" (include "ns" .) $.Values.name) | fromJson) -}}"#), "{r}");
        assert!(r.contains(r#"(list $n.apiVersion $n.kind $n.metadata.namespace $n.metadata.name) | fromJson) }}"#), "{r}");
        assert!(r.contains(r#"{{/* lookup "a" "b" "c" "d" */}} lookup "x" "y" "z" "w" {{ .Values.lookup }} {{ "lookup" }} "#), "{r}");
        assert!(r.contains(r#"{{ $name | list "v1" "Secret" "ns" | include "chartproof-unittest-lookup" | fromJson | toYaml }}"#), "{r}");
        assert_eq!(r.lines().count(), t.lines().count(), "line numbers are kept");
        assert!(rewrite_lookups("{{ .Values.x }}").is_none());
    }

    #[test]
    fn resources_are_guessed_like_client_go() {
        assert_eq!(guess_resource("Pod"), "pods");
        assert_eq!(guess_resource("Ingress"), "ingresses");
        assert_eq!(guess_resource("NetworkPolicy"), "networkpolicies");
        assert_eq!(guess_resource("Endpoints"), "endpoints");
    }

    #[test]
    fn the_database_keys_objects_by_guessed_resource_in_namespace_name_order() {
        let p = KubernetesProvider {
            scheme: BTreeMap::from([("v1/Namespace".to_string(), FakeKind { version: "v1".into(), resource: "namespaces".into(), ..FakeKind::default() })]),
            objects: vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}), json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})],
        };
        let db: Value = serde_json::from_str(&p.database().unwrap()).unwrap();
        assert_eq!(db["scheme"]["v1/Namespace"]["resource"], "/v1/namespaces");
        assert_eq!(db["objects"]["/v1/namespaces"][0]["name"], "a");
        assert_eq!(db["listKinds"]["/v1/namespaces"], "NamespaceList");
        assert!(KubernetesProvider { objects: vec![], ..p }.database().is_none());
    }
}
