//! helm-unittest's path dialect over a rendered document: dotted keys, `[N]` and negative
//! indices, `["k"]`/`['k']`, unquoted keys holding `/` or `-`, `[*]`, and filters
//! `[?(@.name == "x")]` (with `!=`, `<`, `<=`, `>`, `>=`, `=~ /re/`, existence `[?(@.k)]`,
//! `&&`, `||`), a leading `$`/`$.`. A path yields every match; a missing step yields none.
//! As helm-unittest's yaml-jsonpath fork evaluates filters (yaml-jsonpath pkg/yamlpath/filter.go
//! and the `$[?(…)]` form its README documents), a filter over a sequence keeps the elements that
//! pass it and a filter over a mapping tests the mapping itself, so
//! `$[?(@.kind == "Deployment")].spec` on a document reaches its `spec` only in a Deployment.

use anyhow::{Result, bail};
use serde_json::Value;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(i64),
    Wildcard,
    /// `[?(…)]`: sequence elements (or the mapping itself) the expression holds for.
    Filter(Filter),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `@.a.b OP literal`; with `op` None, `@.a.b` exists.
    Compare { path: Vec<Step>, op: Option<String>, value: Value },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Parse a path such as `spec.template.spec.containers[0].args` or `data["a.json"]`.
pub fn parse(path: &str) -> Result<Vec<Step>> {
    let trimmed = path.trim();
    let trimmed = trimmed.strip_prefix('$').unwrap_or(trimmed);
    let chars: Vec<char> = trimmed.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut key = String::new();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                key.push(chars[i + 1]);
                i += 2;
            }
            '.' => {
                flush(&mut key, &mut steps);
                i += 1;
            }
            '[' => {
                flush(&mut key, &mut steps);
                let (step, next) = parse_bracket(&chars, i, path)?;
                steps.push(step);
                i = next;
            }
            c => {
                key.push(c);
                i += 1;
            }
        }
    }
    flush(&mut key, &mut steps);
    Ok(steps)
}

/// Parse the bracket starting at `chars[start] == '['`; returns the step and the index after `]`.
fn parse_bracket(chars: &[char], start: usize, path: &str) -> Result<(Step, usize)> {
    let rest: String = chars[start + 1..].iter().collect();
    if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let body = &rest[1..];
        let Some(end) = body.find(quote) else { bail!("path '{path}': unterminated quote") };
        let after = &body[end + 1..];
        if !after.starts_with(']') {
            bail!("path '{path}': expected ']' after the quoted key");
        }
        let consumed = 1 + 1 + body[..end].chars().count() + 1 + 1;
        return Ok((Step::Key(body[..end].to_string()), start + consumed));
    }
    if rest.starts_with("?(") {
        let Some(close) = rest.find(")]") else { bail!("path '{path}': unterminated filter") };
        let expr = &rest[2..close];
        let consumed = 1 + rest[..close + 2].chars().count();
        return Ok((parse_filter(expr, path)?, start + consumed));
    }
    let Some(close) = rest.find(']') else { bail!("path '{path}': missing ']'") };
    let inner = rest[..close].trim();
    let consumed = 1 + rest[..=close].chars().count();
    let step = if inner == "*" {
        Step::Wildcard
    } else if let Ok(n) = inner.parse::<i64>() {
        Step::Index(n)
    } else if !inner.is_empty() {
        Step::Key(inner.to_string())
    } else {
        bail!("path '{path}': empty []")
    };
    Ok((step, start + consumed))
}

fn parse_filter(expr: &str, path: &str) -> Result<Step> {
    Ok(Step::Filter(parse_filter_expr(expr.trim(), path)?))
}

/// Split at the last top-level `op` outside quotes and slashes (so `||` binds loosest).
fn split_top(expr: &str, op: &str) -> Option<(String, String)> {
    let mut quote: Option<char> = None;
    let bytes: Vec<char> = expr.chars().collect();
    let mut found = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if bytes[i..].iter().take(op.len()).collect::<String>() == op => {
                found = Some(i);
                i += op.len();
                continue;
            }
            None => {}
        }
        i += 1;
    }
    found.map(|at| (bytes[..at].iter().collect(), bytes[at + op.len()..].iter().collect()))
}

fn parse_filter_expr(expr: &str, path: &str) -> Result<Filter> {
    if let Some((l, r)) = split_top(expr, "||") {
        return Ok(Filter::Or(Box::new(parse_filter_expr(l.trim(), path)?), Box::new(parse_filter_expr(r.trim(), path)?)));
    }
    if let Some((l, r)) = split_top(expr, "&&") {
        return Ok(Filter::And(Box::new(parse_filter_expr(l.trim(), path)?), Box::new(parse_filter_expr(r.trim(), path)?)));
    }
    let expr = expr.trim();
    let expr = expr.strip_prefix('(').and_then(|e| e.strip_suffix(')')).unwrap_or(expr).trim();
    let ops = ["==", "!=", "=~", "<=", ">=", "<", ">"];
    let split = ops.iter().filter_map(|op| split_top(expr, op).map(|(l, r)| (op, l, r))).min_by_key(|(_, l, _)| l.len());
    let (lhs, op, rhs) = match split {
        Some((op, l, r)) => (l, Some(op.to_string()), Some(r)),
        None => (expr.to_string(), None, None),
    };
    let lhs = lhs.trim();
    let Some(sub) = lhs.strip_prefix('@') else { bail!("path '{path}': filter '{expr}' must start with @") };
    let sub = sub.strip_prefix('.').unwrap_or(sub);
    let value = match rhs.as_deref().map(str::trim) {
        None => Value::Null,
        Some(rhs) if op.as_deref() == Some("=~") => {
            let re = rhs.strip_prefix('/').and_then(|r| r.strip_suffix('/')).unwrap_or(rhs);
            super::assert::go_regex(re).map_err(|e| anyhow::anyhow!("path '{path}': bad regular expression in filter: {e}"))?;
            Value::String(re.to_string())
        }
        Some(rhs) if (rhs.starts_with('"') && rhs.ends_with('"') || rhs.starts_with('\'') && rhs.ends_with('\'')) && rhs.len() >= 2 => Value::String(rhs[1..rhs.len() - 1].to_string()),
        Some(rhs) => crate::chart::values::resolve_plain_scalar(rhs),
    };
    Ok(Filter::Compare { path: parse(sub)?, op, value })
}

/// Whether the filter holds for one node.
fn holds(filter: &Filter, node: &Value) -> bool {
    match filter {
        Filter::And(a, b) => holds(a, node) && holds(b, node),
        Filter::Or(a, b) => holds(a, node) || holds(b, node),
        Filter::Compare { path, op, value } => {
            let found = select(node, path);
            match op.as_deref() {
                None => !found.is_empty(),
                Some("==") => found.iter().any(|f| loosely_equal(f, value)),
                Some("!=") => !found.is_empty() && found.iter().all(|f| !loosely_equal(f, value)),
                Some("=~") => {
                    let re = super::assert::go_regex(value.as_str().unwrap_or_default());
                    re.is_ok_and(|re| found.iter().any(|f| f.as_str().is_some_and(|s| re.is_match(s))))
                }
                Some(op) => found.iter().any(|f| {
                    let ord = match (f, value) {
                        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                        _ => None,
                    };
                    ord.is_some_and(|o| match op {
                        "<" => o.is_lt(),
                        "<=" => o.is_le(),
                        ">" => o.is_gt(),
                        _ => o.is_ge(),
                    })
                }),
            }
        }
    }
}

/// Every value the path reaches in `doc` (none when a step is missing).
pub fn select<'a>(doc: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![doc];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Key(k), Value::Object(m)) => next.extend(m.get(k)),
                (Step::Index(i), Value::Array(a)) => {
                    let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                    if idx >= 0 {
                        next.extend(a.get(idx as usize));
                    }
                }
                (Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                (Step::Wildcard, Value::Object(m)) => next.extend(m.values()),
                (Step::Filter(f), Value::Array(a)) => next.extend(a.iter().filter(|el| holds(f, el))),
                (Step::Filter(f), Value::Object(_)) if holds(f, v) => next.push(v),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// Filter comparison: a quoted literal also matches a number or boolean with the same text.
fn loosely_equal(found: &Value, wanted: &Value) -> bool {
    found == wanted || matches!((found, wanted), (Value::Number(_) | Value::Bool(_), Value::String(s)) if found.to_string() == *s)
}

/// Parse and select in one go.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Result<Vec<&'a Value>> {
    Ok(select(doc, &parse(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "a-b": 1}},
               "spec": {"containers": [{"name": "a", "args": ["--v=2"]}, {"name": "b", "port": 80}]},
               "data": {"loki-chunks.json": "{}"}})
    }

    #[test]
    fn dotted_indexed_and_negative() {
        let d = doc();
        assert_eq!(lookup(&d, "spec.containers[0].args[0]").unwrap(), vec![&json!("--v=2")]);
        assert_eq!(lookup(&d, "spec.containers[-1].name").unwrap(), vec![&json!("b")]);
        assert!(lookup(&d, "spec.containers[5].name").unwrap().is_empty());
        assert!(lookup(&d, "spec.missing.name").unwrap().is_empty());
    }

    #[test]
    fn quoted_and_unquoted_keys_with_slash_and_dash() {
        let d = doc();
        assert_eq!(lookup(&d, r#"data["loki-chunks.json"]"#).unwrap(), vec![&json!("{}")]);
        assert_eq!(lookup(&d, "data['loki-chunks.json']").unwrap(), vec![&json!("{}")]);
        assert_eq!(lookup(&d, "metadata.labels.a-b").unwrap(), vec![&json!(1)]);
        assert_eq!(lookup(&d, r"metadata.labels.app\.kubernetes\.io/name").unwrap(), vec![&json!("x")]);
        assert_eq!(lookup(&d, r#"metadata.labels["app.kubernetes.io/name"]"#).unwrap(), vec![&json!("x")]);
    }

    #[test]
    fn wildcard_and_filter() {
        let d = doc();
        assert_eq!(lookup(&d, "spec.containers[*].name").unwrap(), vec![&json!("a"), &json!("b")]);
        assert_eq!(lookup(&d, r#"spec.containers[?(@.name == "b")].port"#).unwrap(), vec![&json!(80)]);
        assert_eq!(lookup(&d, "spec.containers[?(@.name == 'a')].args[0]").unwrap(), vec![&json!("--v=2")]);
        assert_eq!(lookup(&d, r#"spec.containers[?(@.name != "a")].name"#).unwrap(), vec![&json!("b")]);
        assert!(parse("a[?(x == 1)]").is_err());
    }

    #[test]
    fn a_filter_on_a_mapping_tests_the_mapping_itself() {
        let d = json!({"kind": "Deployment", "spec": {"replicas": 2, "containers": [{"name": "a", "port": 80}, {"name": "b", "port": 90}]}});
        assert_eq!(lookup(&d, r#"$[?(@.kind == "Deployment")].spec.replicas"#).unwrap(), vec![&json!(2)]);
        assert!(lookup(&d, r#"$[?(@.kind == "Service")].spec.replicas"#).unwrap().is_empty());
        assert_eq!(lookup(&d, "$.spec.replicas").unwrap(), vec![&json!(2)]);
        assert_eq!(lookup(&d, r#"spec.containers[?(@.port > 80 && @.name =~ /^b/)].name"#).unwrap(), vec![&json!("b")]);
        assert_eq!(lookup(&d, r#"spec.containers[?(@.name == "x" || @.port <= 80)].name"#).unwrap(), vec![&json!("a")]);
        assert_eq!(lookup(&d, "spec.containers[?(@.port)].name").unwrap().len(), 2);
    }
}
