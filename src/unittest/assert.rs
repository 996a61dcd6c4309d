//! The assertions of helm-unittest, evaluated on the documents a test selected: each selected
//! document must pass, and so must every match of a multi-match path. A missing path fails a
//! positive assertion and passes a negated one; `not: true` negates any assertion.

use anyhow::{Result, anyhow, bail};
use regex::Regex;
use serde_json::Value;

use super::path;
use super::render::Document;

/// Why an assertion failed, or `Ok` when it passed.
pub type Verdict = Result<(), String>;

/// How an assertion type reads: which check, and whether it is a negated name (`notEqual`).
pub fn base_kind(kind: &str) -> (&str, bool) {
    match kind {
        "notEqual" => ("equal", true),
        "notEqualRaw" => ("equalRaw", true),
        "notContains" => ("contains", true),
        "isNotSubset" => ("isSubset", true),
        "notExists" => ("exists", true),
        "isNotNull" => ("isNull", true),
        "isNotEmpty" | "isEmpty" => ("isNullOrEmpty", kind == "isNotEmpty"),
        "isNotNullOrEmpty" => ("isNullOrEmpty", true),
        "notMatchRegex" => ("matchRegex", true),
        "notMatchRegexRaw" => ("matchRegexRaw", true),
        "notFailedTemplate" => ("failedTemplate", true),
        "isNotType" => ("isType", true),
        "notLengthEqual" => ("lengthEqual", true),
        "notGreaterOrEqual" => ("greaterOrEqual", true),
        "notLessOrEqual" => ("lessOrEqual", true),
        other => (other, false),
    }
}

fn param<'a>(params: &'a Value, key: &str) -> Option<&'a Value> {
    params.get(key).filter(|v| !v.is_null())
}

fn param_str<'a>(params: &'a Value, key: &str) -> Result<&'a str> {
    param(params, key).and_then(Value::as_str).ok_or_else(|| anyhow!("needs `{key}` (a string)"))
}

/// A path check on one document: the matches and a predicate on each.
fn each_match(doc: &Value, params: &Value, negated: bool, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Verdict> {
    let p = param_str(params, "path")?;
    let matches = path::lookup(doc, p)?;
    if matches.is_empty() {
        return Ok(if negated { Ok(()) } else { Err(format!("path `{p}` not found in the document")) });
    }
    for m in matches {
        if pred(m) == negated {
            return Ok(Err(format!("path `{p}`: expected {}{what}, actual:\n{}", if negated { "NOT " } else { "" }, yaml(m))));
        }
    }
    Ok(Ok(()))
}

/// A value as YAML for messages.
pub fn yaml(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_else(|_| v.to_string()).trim_end().to_string()
}

fn decode_base64(v: &Value) -> Value {
    use base64::Engine;
    match v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok()).and_then(|b| String::from_utf8(b).ok()) {
        Some(s) => Value::String(s),
        None => v.clone(),
    }
}

/// Go's notion of empty: null, "", 0, false, an empty list or map.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// `content` is contained in `actual`: equal, or for maps every key of `content` is a subset.
fn subset(actual: &Value, content: &Value) -> bool {
    match (actual, content) {
        (Value::Object(a), Value::Object(c)) => c.iter().all(|(k, v)| a.get(k).is_some_and(|av| subset(av, v))),
        (a, c) => a == c,
    }
}

/// Go type names helm-unittest's isType uses.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn compare(actual: &Value, expected: &Value) -> Option<std::cmp::Ordering> {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn regex(params: &Value) -> Result<Regex> {
    let pattern = param_str(params, "pattern")?;
    Regex::new(pattern).map_err(|e| anyhow!("bad `pattern`: {e}"))
}

/// Check one document. `negated` already folds `not:` and a negated type name.
pub fn check_document(kind: &str, params: &Value, negated: bool, doc: &Document) -> Result<Verdict> {
    let v = &doc.value;
    let flip = |ok: bool, msg: String| if ok != negated { Ok(()) } else { Err(msg) };
    Ok(match kind {
        "equal" => {
            let expected = param(params, "value").cloned().unwrap_or(Value::Null);
            let decode = param(params, "decodeBase64").and_then(Value::as_bool).unwrap_or(false);
            return each_match(v, params, negated, &format!("to equal:\n{}", yaml(&expected)), |m| if decode { decode_base64(m) == expected } else { *m == expected });
        }
        "contains" => {
            let content = params.get("content").unwrap_or(&Value::Null);
            let any = param(params, "any").and_then(Value::as_bool).unwrap_or(false);
            let count = param(params, "count").and_then(Value::as_u64);
            let hits = |m: &Value| m.as_array().map(|a| a.iter().filter(|el| if any { subset(el, content) } else { *el == content }).count()).unwrap_or(0);
            return each_match(v, params, negated, &format!("to contain{}:\n{}", count.map(|c| format!(" {c} times")).unwrap_or_default(), yaml(content)), |m| match count {
                Some(c) => hits(m) as u64 == c,
                None => hits(m) > 0,
            });
        }
        "isSubset" => {
            let content = param(params, "content").ok_or_else(|| anyhow!("needs `content`"))?;
            return each_match(v, params, negated, &format!("to contain the subset:\n{}", yaml(content)), |m| subset(m, content));
        }
        "exists" => {
            let p = param_str(params, "path")?;
            let found = !path::lookup(v, p)?.is_empty();
            flip(found, format!("path `{p}` {}", if negated { "exists" } else { "does not exist" }))
        }
        "isNull" => {
            let p = param_str(params, "path")?;
            let matches = path::lookup(v, p)?;
            let null = matches.iter().all(|m| m.is_null());
            flip(null, format!("path `{p}`: expected {}null, actual: {}", if negated { "NOT " } else { "" }, matches.first().map(|m| yaml(m)).unwrap_or_else(|| "missing".into())))
        }
        "isNullOrEmpty" => {
            let p = param_str(params, "path")?;
            let matches = path::lookup(v, p)?;
            let empty = matches.iter().all(|m| is_empty(m));
            flip(empty, format!("path `{p}`: expected {}empty, actual: {}", if negated { "NOT " } else { "" }, matches.first().map(|m| yaml(m)).unwrap_or_else(|| "missing".into())))
        }
        "isKind" | "isAPIVersion" => {
            let field = if kind == "isKind" { "kind" } else { "apiVersion" };
            let of = param(params, "of").ok_or_else(|| anyhow!("needs `of`"))?;
            let actual = v.get(field).cloned().unwrap_or(Value::Null);
            flip(actual == *of, format!("expected {field} {}{}, actual: {}", if negated { "NOT " } else { "" }, yaml(of), yaml(&actual)))
        }
        "matchRegex" => {
            let re = regex(params)?;
            let decode = param(params, "decodeBase64").and_then(Value::as_bool).unwrap_or(false);
            return each_match(v, params, negated, &format!("to match /{}/", re.as_str()), |m| {
                let m = if decode { decode_base64(m) } else { m.clone() };
                m.as_str().is_some_and(|s| re.is_match(s))
            });
        }
        "matchRegexRaw" => {
            let re = regex(params)?;
            flip(re.is_match(&doc.raw), format!("expected the raw text {}to match /{}/, actual:\n{}", if negated { "NOT " } else { "" }, re.as_str(), doc.raw))
        }
        "equalRaw" => {
            let expected = param(params, "value").and_then(Value::as_str).unwrap_or_default();
            flip(doc.raw.trim() == expected.trim(), format!("expected the raw text {}to equal:\n{expected}\nactual:\n{}", if negated { "NOT " } else { "" }, doc.raw))
        }
        "isType" => {
            let wanted = param_str(params, "type")?;
            return each_match(v, params, negated, &format!("to be of type {wanted}"), |m| go_type(m) == wanted);
        }
        "lengthEqual" => {
            if let Some(Value::Array(paths)) = param(params, "paths") {
                let lens: Vec<Option<usize>> = paths.iter().filter_map(Value::as_str).map(|p| path::lookup(v, p).ok().and_then(|m| m.first().and_then(|x| x.as_array()).map(Vec::len))).collect();
                let same = lens.iter().all(|l| l.is_some() && *l == lens[0]) && param(params, "count").and_then(Value::as_u64).is_none_or(|c| lens[0] == Some(c as usize));
                flip(same, format!("expected the lists {paths:?} {}to have the same length, actual: {lens:?}", if negated { "NOT " } else { "" }))
            } else {
                let count = param(params, "count").and_then(Value::as_u64).ok_or_else(|| anyhow!("needs `count`"))?;
                return each_match(v, params, negated, &format!("to have {count} items"), |m| m.as_array().map(Vec::len) == Some(count as usize) || m.as_object().map(|o| o.len()) == Some(count as usize));
            }
        }
        "greaterOrEqual" | "lessOrEqual" => {
            let expected = param(params, "value").ok_or_else(|| anyhow!("needs `value`"))?.clone();
            let want_ge = kind == "greaterOrEqual";
            return each_match(v, params, negated, &format!("to be {} {}", if want_ge { ">=" } else { "<=" }, yaml(&expected)), |m| {
                compare(m, &expected).is_some_and(|o| if want_ge { o.is_ge() } else { o.is_le() })
            });
        }
        other => bail!("`{other}` is not a per-document assertion"),
    })
}

/// `containsDocument` over the documents of one template.
pub fn contains_document(params: &Value, negated: bool, docs: &[&Document]) -> Result<Verdict> {
    param(params, "kind").ok_or_else(|| anyhow!("needs `kind`"))?;
    let want = |key: &str, v: &Value| param(params, key).is_none_or(|w| Some(w) == v.pointer(key));
    let found = docs.iter().any(|d| {
        let v = &d.value;
        want("/kind", v) && want("/apiVersion", v) && param(params, "name").is_none_or(|n| v.pointer("/metadata/name") == Some(n)) && param(params, "namespace").is_none_or(|n| v.pointer("/metadata/namespace") == Some(n))
    });
    Ok(if found != negated { Ok(()) } else { Err(format!("expected {}a document matching:\n{}", if negated { "NO " } else { "" }, yaml(params))) })
}

/// `failedTemplate` against the render error (None when helm succeeded).
pub fn failed_template(params: &Value, negated: bool, error: Option<&str>) -> Result<Verdict> {
    let Some(error) = error else {
        return Ok(if negated { Ok(()) } else { Err("expected the render to fail, but it succeeded".into()) });
    };
    if negated {
        return Ok(Err(format!("expected the render to succeed, but it failed:\n{error}")));
    }
    if let Some(msg) = param(params, "errorMessage").and_then(Value::as_str) {
        let matched = error_messages(error).iter().any(|m| m == msg.trim()) || error.trim() == msg.trim();
        return Ok(if matched { Ok(()) } else { Err(format!("expected the error message:\n{msg}\nactual:\n{error}")) });
    }
    if let Some(pattern) = param(params, "errorPattern").and_then(Value::as_str) {
        let re = Regex::new(pattern).map_err(|e| anyhow!("bad `errorPattern`: {e}"))?;
        return Ok(if re.is_match(error) { Ok(()) } else { Err(format!("expected the error to match /{pattern}/, actual:\n{error}")) });
    }
    Ok(Ok(()))
}

/// The messages inside helm's error: after `execution error at (…):`, and each line after a location.
fn error_messages(error: &str) -> Vec<String> {
    static AT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"(?m)execution error at \([^)]*\):\s*(.*)$").unwrap());
    let mut out: Vec<String> = AT.captures_iter(error).map(|c| c[1].trim().to_string()).collect();
    out.extend(error.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()));
    let parsed = crate::render::HelmError::parse(error);
    out.push(parsed.message.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        Document { raw: yaml(&v), value: v }
    }

    fn check(kind: &str, params: Value, not: bool, v: Value) -> Verdict {
        let (base, negated) = base_kind(kind);
        check_document(base, &params, negated != not, &doc(v)).unwrap()
    }

    #[test]
    fn equal_is_deep_and_typed() {
        let d = json!({"a": {"n": 1, "f": 1.0, "s": "1"}});
        assert!(check("equal", json!({"path": "a.n", "value": 1}), false, d.clone()).is_ok());
        assert!(check("equal", json!({"path": "a.n", "value": 1.0}), false, d.clone()).is_err());
        assert!(check("equal", json!({"path": "a.n", "value": "1"}), false, d.clone()).is_err());
        assert!(check("equal", json!({"path": "a.f", "value": 1.0}), false, d.clone()).is_ok());
        assert!(check("notEqual", json!({"path": "a.s", "value": 1}), false, d.clone()).is_ok());
        assert!(check("equal", json!({"path": "a", "value": {"n": 1, "f": 1.0, "s": "1"}}), false, d).is_ok());
    }

    #[test]
    fn missing_path_fails_positive_and_passes_negated() {
        let d = json!({"a": 1});
        assert!(check("equal", json!({"path": "b", "value": 1}), false, d.clone()).is_err());
        assert!(check("equal", json!({"path": "b", "value": 1}), true, d.clone()).is_ok());
        assert!(check("notExists", json!({"path": "b"}), false, d.clone()).is_ok());
        assert!(check("exists", json!({"path": "a"}), true, d).is_err());
    }

    #[test]
    fn every_match_of_a_multi_match_path_must_pass() {
        let d = json!({"c": [{"n": "a"}, {"n": "b"}]});
        assert!(check("matchRegex", json!({"path": "c[*].n", "pattern": "^[ab]$"}), false, d.clone()).is_ok());
        assert!(check("equal", json!({"path": "c[*].n", "value": "a"}), false, d).is_err());
    }

    #[test]
    fn contains_with_any_and_count() {
        let d = json!({"l": [{"name": "x", "v": 1}, {"name": "x", "v": 2}, "s"]});
        assert!(check("contains", json!({"path": "l", "content": {"name": "x"}}), false, d.clone()).is_err());
        assert!(check("contains", json!({"path": "l", "content": {"name": "x"}, "any": true}), false, d.clone()).is_ok());
        assert!(check("contains", json!({"path": "l", "content": {"name": "x"}, "any": true, "count": 2}), false, d.clone()).is_ok());
        assert!(check("contains", json!({"path": "l", "content": "s", "count": 2}), false, d.clone()).is_err());
        assert!(check("notContains", json!({"path": "l", "content": "t"}), false, d).is_ok());
    }

    #[test]
    fn kinds_types_emptiness_and_order() {
        let d = json!({"kind": "Service", "apiVersion": "v1", "spec": {"r": 3, "e": "", "l": []}});
        assert!(check("isKind", json!({"of": "Service"}), false, d.clone()).is_ok());
        assert!(check("isKind", json!({"of": "Deployment"}), false, d.clone()).is_err());
        assert!(check("isAPIVersion", json!({"of": "v1"}), false, d.clone()).is_ok());
        assert!(check("isType", json!({"path": "spec.r", "type": "int"}), false, d.clone()).is_ok());
        assert!(check("isEmpty", json!({"path": "spec.e"}), false, d.clone()).is_ok());
        assert!(check("isNotEmpty", json!({"path": "spec.l"}), false, d.clone()).is_err());
        assert!(check("isNull", json!({"path": "spec.missing"}), false, d.clone()).is_ok());
        assert!(check("greaterOrEqual", json!({"path": "spec.r", "value": 3}), false, d.clone()).is_ok());
        assert!(check("lessOrEqual", json!({"path": "spec.r", "value": 2}), false, d.clone()).is_err());
        assert!(check("lengthEqual", json!({"path": "spec.l", "count": 0}), false, d.clone()).is_ok());
        assert!(check("isSubset", json!({"path": "spec", "content": {"r": 3}}), false, d).is_ok());
    }

    #[test]
    fn failed_template_matches_the_fail_message() {
        let err = "execution error at (c/templates/a.yaml:3:4): boom happened";
        assert!(failed_template(&json!({"errorMessage": "boom happened"}), false, Some(err)).unwrap().is_ok());
        assert!(failed_template(&json!({"errorMessage": "other"}), false, Some(err)).unwrap().is_err());
        assert!(failed_template(&json!({"errorPattern": "boom.*"}), false, Some(err)).unwrap().is_ok());
        assert!(failed_template(&json!({}), false, None).unwrap().is_err());
        assert!(failed_template(&json!({}), true, None).unwrap().is_ok());
    }
}
