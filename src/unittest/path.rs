//! helm-unittest's path dialect over a rendered document: dotted keys, `[N]` and negative
//! indices, `["k"]`/`['k']`, unquoted keys holding `/` or `-`, `[*]`, and filters
//! `[?(@.name == "x")]`. A path yields every match; a missing step yields none.

use anyhow::{Result, bail};
use serde_json::Value;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(i64),
    Wildcard,
    /// `[?(@.a.b == value)]`: elements whose sub-path equals the value (`!=` negates).
    Filter { path: Vec<Step>, value: Value, equal: bool },
}

/// Parse a path such as `spec.template.spec.containers[0].args` or `data["a.json"]`.
pub fn parse(path: &str) -> Result<Vec<Step>> {
    let chars: Vec<char> = path.trim().chars().collect();
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
    let (lhs, rhs, equal) = if let Some((l, r)) = expr.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, r, false)
    } else {
        bail!("path '{path}': filter '{expr}' must compare with == or !=")
    };
    let lhs = lhs.trim();
    let Some(sub) = lhs.strip_prefix('@') else { bail!("path '{path}': filter '{expr}' must start with @") };
    let sub = sub.strip_prefix('.').unwrap_or(sub);
    let rhs = rhs.trim();
    let value = if (rhs.starts_with('"') && rhs.ends_with('"') || rhs.starts_with('\'') && rhs.ends_with('\'')) && rhs.len() >= 2 {
        Value::String(rhs[1..rhs.len() - 1].to_string())
    } else {
        crate::chart::values::resolve_plain_scalar(rhs)
    };
    Ok(Step::Filter { path: parse(sub)?, value, equal })
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
                (Step::Filter { path, value, equal }, Value::Array(a)) => {
                    next.extend(a.iter().filter(|el| select(el, path).iter().any(|found| loosely_equal(found, value)) == *equal));
                }
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
        assert!(parse("a[?(@.x ~ 1)]").is_err());
    }
}
