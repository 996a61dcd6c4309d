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

/// A regular expression as Go's regexp (RE2 syntax) reads it. The Rust regex crate also speaks
/// RE2 but rejects a `{` that does not start a repetition, which Go's parser (regexp/syntax
/// parse.go `parseRepeat` failing, then the `{` taken as a literal) reads literally: escape it.
pub fn go_regex(pattern: &str) -> std::result::Result<Regex, regex::Error> {
    static REPEAT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"^\{[0-9]+(,[0-9]*)?\}").unwrap());
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal member.
                if let Some((_, '^')) = chars.peek() {
                    out.push('^');
                    chars.next();
                }
                if let Some((_, ']')) = chars.peek() {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class && !REPEAT.is_match(&pattern[i..]) => out.push_str("\\{"),
            '}' if !in_class => {
                // The closing brace of a repetition was pushed with it below; a lone one is literal.
                out.push_str("\\}");
            }
            '{' if !in_class => {
                let m = REPEAT.find(&pattern[i..]).map(|m| m.as_str().to_string()).unwrap_or_default();
                out.push_str(&m);
                for _ in 1..m.chars().count() {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    Regex::new(&out)
}

fn regex(params: &Value) -> Result<Regex> {
    let pattern = param_str(params, "pattern")?;
    go_regex(pattern).map_err(|e| anyhow!("bad `pattern`: {e}"))
}

/// Check one document. `negated` already folds `not:` and a negated type name.
pub fn check_document(kind: &str, params: &Value, negated: bool, doc: &Document) -> Result<Verdict> {
    let v = &doc.value;
    let flip = |ok: bool, msg: String| if ok != negated { Ok(()) } else { Err(msg) };
    Ok(match kind {
        "equal" => {
            let expected = param(params, "value").cloned().unwrap_or(Value::Null);
            let decode = param(params, "decodeBase64").and_then(Value::as_bool).unwrap_or(false);
            // EqualValidator.validateSingleActual: a string is decoded when asked, then made
            // uniform (uniformContent in validators/common.go) before the comparison.
            return each_match(v, params, negated, &format!("to equal:\n{}", yaml(&expected)), |m| {
                let m = if decode { decode_base64(m) } else { m.clone() };
                match m {
                    Value::String(s) => Value::String(uniform_content(&s)) == expected,
                    m => m == expected,
                }
            });
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
        // MatchRegexRawValidator / EqualRawValidator: the document's `raw` (a text template's
        // output; Go prints a missing one as `<nil>`), made uniform.
        "matchRegexRaw" => {
            let re = regex(params)?;
            let raw = uniform_content(&raw_text(doc));
            flip(re.is_match(&raw), format!("expected the raw text {}to match /{}/, actual:\n{raw}", if negated { "NOT " } else { "" }, re.as_str()))
        }
        "equalRaw" => {
            let raw = uniform_content(&raw_text(doc));
            flip(params.get("value") == Some(&Value::String(raw.clone())), format!("expected the raw text {}to equal:\n{}\nactual:\n{raw}", if negated { "NOT " } else { "" }, params.get("value").map(yaml).unwrap_or_default()))
        }
        "isType" => {
            let wanted = param_str(params, "type")?;
            return each_match(v, params, negated, &format!("to be of type {wanted}"), |m| go_type(m) == wanted);
        }
        "lengthEqual" => return length_equal(v, params, negated),
        "greaterOrEqual" | "lessOrEqual" => return greater_or_less(v, params, negated, kind == "greaterOrEqual"),
        other => bail!("`{other}` is not a per-document assertion"),
    })
}

/// helm-unittest's `uniformContent` (validators/common.go): spaces before a line end removed,
/// CRLF made LF, leading newlines trimmed.
pub fn uniform_content(s: &str) -> String {
    static TRAILING: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"(?m)[ ]+\r?\n").unwrap());
    TRAILING.replace_all(s, "\n").trim_start_matches('\n').to_string()
}

/// A document's `raw` field as helm-unittest formats it with `%v` (`<nil>` when absent).
pub fn raw_text(doc: &Document) -> String {
    match doc.value.get("raw") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => "<nil>".into(),
        Some(other) => yaml(other),
    }
}

/// `determineSuccess` (validators/common.go): the first verdict, then AND with each next one.
fn determine(index: usize, so_far: bool, next: bool) -> bool {
    if index == 0 { next } else { so_far && next }
}

/// The length of each match of `path`, as `LengthEqualDocumentsValidator.singleValidateCounts`
/// counts it (length_equal_document_validator.go): a match that is not a list counts 0 when a
/// `count` is given (so null is 0) and is skipped otherwise; with `count`, each length must equal
/// it (`not`: differ). No match passes only a negated check.
fn length_counts(doc: &Value, p: &str, count: Option<i64>, negated: bool) -> Result<(bool, usize)> {
    let matches = path::lookup(doc, p)?;
    let mut ok = matches.is_empty() && negated;
    let mut length = 0;
    for (i, m) in matches.iter().enumerate() {
        let list = m.as_array();
        if list.is_none() && count.is_none() {
            continue;
        }
        length = list.map(Vec::len).unwrap_or(0);
        let single = count.is_none_or(|c| (length as i64 == c) != negated);
        ok = determine(i, ok, single);
    }
    Ok((ok, length))
}

/// `lengthEqual` on one document (`LengthEqualDocumentsValidator.Validate`): `path` with
/// `count`, or `paths` whose lists must all have one length (`not`: a different one), each
/// equal to `count` when given.
fn length_equal(doc: &Value, params: &Value, negated: bool) -> Result<Verdict> {
    let count = param(params, "count").and_then(Value::as_i64);
    let single = param(params, "path").and_then(Value::as_str).filter(|p| !p.is_empty());
    let paths: Vec<&str> = param(params, "paths").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if let Some(p) = single {
        if count.is_none_or(|c| c < 0) {
            return Ok(Err("'count' field must be set if 'path' is used".into()));
        }
        if !paths.is_empty() {
            return Ok(Err("'paths' couldn't be used with 'path'".into()));
        }
        let (ok, length) = length_counts(doc, p, count, negated)?;
        return Ok(if ok { Ok(()) } else { Err(format!("path `{p}`: expected {}count {}, actual: {length}", if negated { "NOT " } else { "" }, count.unwrap_or_default())) });
    }
    let mut lengths = Vec::new();
    for p in &paths {
        let (ok, length) = length_counts(doc, p, count, negated)?;
        if !ok {
            return Ok(Err(format!("path `{p}`: not a list of the expected length")));
        }
        lengths.push((*p, length));
    }
    // arraysValidateCounts: sorted by path, each compared with the first.
    lengths.sort();
    let Some((_, first)) = lengths.first().copied() else { return Ok(Err("`lengthEqual` needs `path` or `paths`".into())) };
    for (p, l) in &lengths[1..] {
        if (*l == first) == negated {
            return Ok(Err(format!("expected the lists {paths:?} {}to have the same length; `{p}` has {l}, the first {first}", if negated { "NOT " } else { "" })));
        }
    }
    Ok(Ok(()))
}

/// `greaterOrEqual` / `lessOrEqual` and their negations on one document, as operatorValidator
/// (operator_validator.go) behaves: each match must have the expected value's type (a match of
/// another type is skipped without a verdict of its own); strings, integers and floats compare.
/// helm-unittest's `compare*Values` read `(greater && a >= e) || (less && a <= e) == negative`,
/// which Go parses as `(greater && a >= e) || ((less && a <= e) == negative)`: so
/// `notGreaterOrEqual` passes on every match of the right type (a bug in helm-unittest that
/// chartproof keeps, so verdicts agree), while `notLessOrEqual` is a true negation.
fn greater_or_less(doc: &Value, params: &Value, negated: bool, greater: bool) -> Result<Verdict> {
    let p = param_str(params, "path")?;
    let expected = params.get("value").cloned().unwrap_or(Value::Null);
    let matches = path::lookup(doc, p)?;
    if matches.is_empty() && !negated {
        return Ok(Err(format!("unknown path '{p}'")));
    }
    let mut ok = matches.is_empty() && negated;
    let mut message = String::new();
    for (i, actual) in matches.iter().enumerate() {
        if go_type(actual) != go_type(&expected) {
            message = format!("actual '{}' and expected '{}' types do not match", go_type(actual), go_type(&expected));
            continue;
        }
        let ordering = match (*actual, &expected) {
            (Value::String(a), Value::String(e)) => Some(a.cmp(e)),
            (Value::Number(a), Value::Number(e)) => a.as_f64().and_then(|a| e.as_f64().and_then(|e| a.partial_cmp(&e))),
            _ => None,
        };
        let single = match ordering {
            None => false,
            Some(o) if greater => o.is_ge() || negated,
            Some(o) => o.is_le() != negated,
        };
        if !single {
            message = format!("the actual '{}' is not {} or equal to the expected '{}'", yaml(actual), if greater { "greater" } else { "less" }, yaml(&expected));
        }
        ok = determine(i, ok, single);
    }
    Ok(if ok { Ok(()) } else { Err(format!("path `{p}`: {message}")) })
}

/// `containsDocument` over the selected documents of one template, as helm-unittest's
/// `ContainsDocumentValidator.Validate` (pkg/unittest/validators/contains_document_validator.go):
/// a document matches when its `kind` and `apiVersion` (each compared only when the document has
/// it as a string) equal the expected ones and, when given, `metadata.name` and
/// `metadata.namespace` do. Without `any: true` every document must match (with `not: true`,
/// none may); with `any: true` one match passes (with `not: true`, one non-match passes). No
/// document fails a positive check and passes a negated one. `failfast` stops at the first
/// failing document, as the validator's context does.
pub fn contains_document(params: &Value, negated: bool, docs: &[&Document], failfast: bool) -> Result<Verdict> {
    let kind = param(params, "kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = param(params, "apiVersion").and_then(Value::as_str).unwrap_or_default();
    let name = param(params, "name").and_then(Value::as_str).unwrap_or_default();
    let namespace = param(params, "namespace").and_then(Value::as_str).unwrap_or_default();
    let any = param(params, "any").and_then(Value::as_bool).unwrap_or(false);
    // matchKind / matchAPIVersion: only a string field that differs is a mismatch.
    let field_matches = |v: &Value, key: &str, want: &str| v.get(key).and_then(Value::as_str).is_none_or(|s| s == want);
    // matchName / matchNamespace: checked only when given; a missing field is a mismatch.
    let meta_matches = |v: &Value, key: &str, want: &str| want.is_empty() || v.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str) == Some(want);
    let matches = |v: &Value| field_matches(v, "kind", kind) && field_matches(v, "apiVersion", api_version) && meta_matches(v, "name", name) && meta_matches(v, "namespace", namespace);
    let mut described = format!("Kind = {kind}, apiVersion = {api_version}");
    if !name.is_empty() {
        described.push_str(&format!(", Name = {name}"));
    }
    if !namespace.is_empty() {
        described.push_str(&format!(", Namespace = {namespace}"));
    }
    let failure = || Err(format!("expected {}to contain document:\n{described}", if negated { "NOT " } else { "" }));
    if docs.is_empty() {
        return Ok(if negated { Ok(()) } else { failure() });
    }
    let mut passed = false;
    for (index, doc) in docs.iter().enumerate() {
        let doc_passed = if matches(&doc.value) == negated {
            if failfast {
                passed = false;
                break;
            }
            false
        } else {
            if any != negated {
                passed = true;
                break;
            }
            true
        };
        // determineSuccess (validators/common.go): the first document's verdict, then AND.
        passed = if index == 0 { doc_passed } else { passed && doc_passed };
    }
    Ok(if passed { Ok(()) } else { failure() })
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
        let re = go_regex(pattern).map_err(|e| anyhow!("bad `errorPattern`: {e}"))?;
        let matched = re.is_match(error) || one_line_template_error(error).is_some_and(|line| re.is_match(&line));
        return Ok(if matched { Ok(()) } else { Err(format!("expected the error to match /{pattern}/, actual:\n{error}")) });
    }
    Ok(Ok(()))
}

/// A template error as Go's text/template writes it on one line (`template: FILE:L:C: executing
/// "…" at <…>: error calling include: template: …: MESSAGE`), which is what helm-unittest's
/// engine.Render returns and its `errorPattern` is matched against (validateErrorPattern in
/// validators/failed_template_validator.go). Helm 4's CLI prints the same error over several
/// lines: each location on a line of its own, each action indented below it, a hint after a
/// blank line. None when the error holds no such location line.
fn one_line_template_error(error: &str) -> Option<String> {
    static LOCATION: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"^\S+:\d+:\d+$").unwrap());
    let paragraph = error.trim_start_matches("Error: ").split("\n\n").next().unwrap_or(error);
    let lines: Vec<&str> = paragraph.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if !lines.iter().any(|l| LOCATION.is_match(l)) {
        return None;
    }
    Some(lines.iter().map(|l| if LOCATION.is_match(l) { format!("template: {l}:") } else { l.to_string() }).collect::<Vec<_>>().join(" "))
}

/// The messages inside helm's error: after `execution error at (…):`, and each line after a location.
fn error_messages(error: &str) -> Vec<String> {
    static AT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(r"(?m)execution error at \([^)]*\):\s*(.*)$").unwrap());
    let mut out: Vec<String> = AT.captures_iter(error).map(|c| c[1].trim().to_string()).collect();
    out.extend(error.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()));
    let parsed = crate::render::HelmError::parse(error);
    out.push(parsed.message.trim().to_string());
    // helm-unittest's parseRenderError (test_job.go) keeps what follows the action that failed
    // (`… at <include "x" .>: MESSAGE`). Helm 4 prints the same error over several indented
    // lines and a hint after a blank line: join the first paragraph before looking.
    let paragraph = error.split("\n\n").next().unwrap_or(error);
    let joined = paragraph.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    if let Some((_, message)) = joined.split_once(">: ") {
        out.push(message.trim().to_string());
    }
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
    fn error_pattern_sees_helm_4s_template_error_on_one_line() {
        // helm 4.1.4's text for external-dns's `provider: null` (its suite's errorPattern is
        // written against the one-line form helm-unittest's engine returns).
        let helm4 = "external-dns/templates/service.yaml:2:21\n  executing \"external-dns/templates/service.yaml\" at <include \"external-dns.providerName\" .>:\n    error calling include:\nexternal-dns/templates/_helpers.tpl:92:11\n  executing \"external-dns.providerName\" at <.Values.provider.name>:\n    nil pointer evaluating interface {}.name\n\nUse --debug flag to render out invalid YAML";
        let one_line = "template: external-dns/templates/service.yaml:2:21: executing \"external-dns/templates/service.yaml\" at <include \"external-dns.providerName\" .>: error calling include: template: external-dns/templates/_helpers.tpl:92:11: executing \"external-dns.providerName\" at <.Values.provider.name>: nil pointer evaluating interface {}.name";
        assert_eq!(one_line_template_error(helm4).as_deref(), Some(one_line));
        let pattern = json!({"errorPattern": "executing \"external-dns.providerName\" at <.Values.provider.name>: nil pointer evaluating interface {}.name"});
        assert!(failed_template(&pattern, false, Some(helm4)).unwrap().is_ok());
        assert!(failed_template(&json!({"errorPattern": "at <.Values.other>: nil pointer"}), false, Some(helm4)).unwrap().is_err());
        assert_eq!(one_line_template_error("values don't meet the specifications"), None);
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
        let helm4 = "c/templates/a.yaml:7:8\n  executing \"c/templates/a.yaml\" at <include \"x\" .>:\n    error calling include:\ntemplate: no template \"x\" associated with template \"gotpl\"\n\nUse --debug flag to render out invalid YAML";
        assert!(failed_template(&json!({"errorMessage": "error calling include: template: no template \"x\" associated with template \"gotpl\""}), false, Some(helm4)).unwrap().is_ok());
        assert!(failed_template(&json!({}), false, None).unwrap().is_err());
        assert!(failed_template(&json!({}), true, None).unwrap().is_ok());
    }

    #[test]
    fn regular_expressions_read_braces_like_go() {
        assert!(go_regex("a{}b").unwrap().is_match("a{}b"));
        assert!(go_regex(r"^\{\{ x }}$").unwrap().is_match("{{ x }}"));
        assert!(go_regex("^a{2}$").unwrap().is_match("aa"));
        assert!(go_regex("^a{1,}b{,2}$").unwrap().is_match("ab{,2}"));
        assert!(go_regex("[{}]").unwrap().is_match("}"));
    }

    #[test]
    fn contains_document_compares_kind_and_api_version() {
        let docs = [doc(json!({"kind": "Role", "apiVersion": "v1", "metadata": {"name": "a"}})), doc(json!({"kind": "RoleBinding", "apiVersion": "v1"}))];
        let refs: Vec<&Document> = docs.iter().collect();
        let want = |kind: &str, any: bool, not: bool| contains_document(&json!({"kind": kind, "apiVersion": "v1", "any": any}), not, &refs, false).unwrap().is_ok();
        assert!(!want("Role", false, false), "not every document is a Role");
        assert!(want("Role", true, false));
        assert!(!want("Pod", true, false));
        assert!(want("Pod", false, true), "no document is a Pod");
        // ContainsDocumentValidator.Validate: with `not`, the first document that does not match
        // ends the search with success (`Any != Negative`), so a RoleBinding after the Role passes.
        assert!(want("Role", false, true));
        let roles = [doc(json!({"kind": "Role", "apiVersion": "v1"}))];
        let roles: Vec<&Document> = roles.iter().collect();
        assert!(contains_document(&json!({"kind": "Role", "apiVersion": "v1"}), true, &roles, false).unwrap().is_err());
        assert!(contains_document(&json!({"kind": "Role", "apiVersion": "v1", "name": "b", "any": true}), false, &refs, false).unwrap().is_err());
    }

    #[test]
    fn length_equal_counts_null_as_zero_and_not_greater_or_equal_keeps_helm_unittests_reading() {
        let d = json!({"a": null, "l": [1, 2], "m": [3, 4], "n": 5});
        assert!(length_equal(&d, &json!({"path": "a", "count": 0}), false).unwrap().is_ok());
        assert!(length_equal(&d, &json!({"paths": ["l", "m"]}), false).unwrap().is_ok());
        assert!(length_equal(&d, &json!({"paths": ["l", "m"]}), true).unwrap().is_err());
        assert!(greater_or_less(&d, &json!({"path": "n", "value": 9}), true, true).unwrap().is_ok(), "helm-unittest's notGreaterOrEqual passes on any int");
        assert!(greater_or_less(&d, &json!({"path": "n", "value": 9}), true, false).unwrap().is_err());
        assert!(greater_or_less(&d, &json!({"path": "n", "value": "9"}), false, true).unwrap().is_err(), "types must match");
    }
}
