//! `--set` / `--set-string` arguments parsed as Helm's strvals does: `a.b=c,d[0]=e,list={x,y}`,
//! backslash escapes for `.`, `,`, `=` and `[`, and typed scalars (`true`, `false`, `null`,
//! integers without a leading zero) unless the argument came from `--set-string`.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// One `--set` argument: the text as written and the assignments it makes.
#[derive(Debug, Clone)]
pub struct SetArg {
    pub text: String,
    pub as_string: bool,
    pub assignments: Vec<(Vec<PathPart>, Value)>,
}

/// A step of a `--set` path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

impl SetArg {
    pub fn parse(text: &str, as_string: bool) -> Result<SetArg> {
        let mut assignments = Vec::new();
        for item in split_unescaped(text, ',', true) {
            if item.is_empty() {
                continue;
            }
            let parts = split_unescaped(&item, '=', false);
            if parts.len() < 2 {
                bail!("--set '{text}': '{item}' has no '=' (expected key=value)");
            }
            let key = &parts[0];
            let raw = item[key.len() + 1..].to_string();
            let path = parse_path(key).map_err(|e| anyhow::anyhow!("--set '{text}': {e}"))?;
            let value = if raw.starts_with('{') && raw.ends_with('}') {
                let inner = &raw[1..raw.len() - 1];
                Value::Array(if inner.is_empty() { vec![] } else { inner.split(',').map(|v| typed(&unescape(v), as_string)).collect() })
            } else {
                typed(&unescape(&raw), as_string)
            };
            assignments.push((path, value));
        }
        if assignments.is_empty() {
            bail!("--set '{text}' sets nothing (expected key=value)");
        }
        Ok(SetArg { text: text.to_string(), as_string, assignments })
    }

    /// JSON pointers this argument writes, for error locations.
    pub fn pointers(&self) -> Vec<String> {
        self.assignments
            .iter()
            .map(|(path, _)| {
                path.iter()
                    .map(|p| match p {
                        PathPart::Key(k) => format!("/{}", super::values::pointer_segment(k)),
                        PathPart::Index(i) => format!("/{i}"),
                    })
                    .collect()
            })
            .collect()
    }
}

/// Split on `sep` outside `{…}` lists and not after a backslash. Escapes are kept for later.
fn split_unescaped(s: &str, sep: char, respect_braces: bool) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.last_mut().unwrap().push(c);
                if let Some(n) = chars.next() {
                    out.last_mut().unwrap().push(n);
                }
            }
            '{' if respect_braces => {
                depth += 1;
                out.last_mut().unwrap().push(c);
            }
            '}' if respect_braces => {
                depth -= 1;
                out.last_mut().unwrap().push(c);
            }
            c if c == sep && depth == 0 => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parse a `--set` key (`a.b[0].c`, `\.` escapes a dot) into its steps.
pub fn parse_path(key: &str) -> Result<Vec<PathPart>> {
    let mut parts = Vec::new();
    for seg in split_unescaped(key, '.', false) {
        let mut rest = seg.as_str();
        let name_end = find_unescaped(rest, '[').unwrap_or(rest.len());
        let name = unescape(&rest[..name_end]);
        if name.is_empty() {
            bail!("key '{key}' has an empty segment");
        }
        parts.push(PathPart::Key(name));
        rest = &rest[name_end..];
        while let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(|| anyhow::anyhow!("key '{key}': missing ']'"))?;
            let idx: usize = r[..close].parse().map_err(|_| anyhow::anyhow!("key '{key}': list index '{}' is not a number", &r[..close]))?;
            if idx > 65536 {
                bail!("key '{key}': list index {idx} is too large");
            }
            parts.push(PathPart::Index(idx));
            rest = &r[close + 1..];
        }
        if !rest.is_empty() {
            bail!("key '{key}': unexpected '{rest}' after a list index");
        }
    }
    Ok(parts)
}

fn find_unescaped(s: &str, c: char) -> Option<usize> {
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if ch == '\\' {
            escaped = true;
        } else if ch == c {
            return Some(i);
        }
    }
    None
}

/// Helm's typedVal: booleans, null, and base-10 int64 without a leading zero; else a string.
fn typed(v: &str, as_string: bool) -> Value {
    if as_string {
        return Value::String(v.to_string());
    }
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if v == "0" {
        return Value::from(0);
    }
    if !v.starts_with('0') {
        if let Ok(i) = v.parse::<i64>() {
            return Value::from(i);
        }
    }
    Value::String(v.to_string())
}

/// Write every assignment of `arg` into `target` (creating maps and growing lists as Helm does).
pub fn apply_set(target: &mut Value, arg: &SetArg) {
    for (path, value) in &arg.assignments {
        set_path(target, path, value.clone());
    }
}

fn set_path(target: &mut Value, path: &[PathPart], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *target = value;
        return;
    };
    match first {
        PathPart::Key(k) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let map = target.as_object_mut().unwrap();
            if rest.is_empty() {
                map.insert(k.clone(), value);
            } else {
                let child = map.entry(k.clone()).or_insert(Value::Null);
                set_path(child, rest, value);
            }
        }
        PathPart::Index(i) => {
            if !target.is_array() {
                *target = Value::Array(Vec::new());
            }
            let list = target.as_array_mut().unwrap();
            while list.len() <= *i {
                list.push(Value::Null);
            }
            set_path(&mut list[*i], rest, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(s: &str) -> Value {
        let mut v = json!({});
        apply_set(&mut v, &SetArg::parse(s, false).unwrap());
        v
    }

    #[test]
    fn nested_typed_and_lists() {
        assert_eq!(apply("a.b=1,c=true,d=null,e=010,f=x"), json!({"a": {"b": 1}, "c": true, "d": null, "e": "010", "f": "x"}));
        assert_eq!(apply("l={a,b}"), json!({"l": ["a", "b"]}));
        assert_eq!(apply("env[1].name=X"), json!({"env": [null, {"name": "X"}]}));
    }

    #[test]
    fn escapes() {
        assert_eq!(apply(r"annotations.prometheus\.io/scrape=true"), json!({"annotations": {"prometheus.io/scrape": true}}));
        assert_eq!(apply(r"a=x\,y"), json!({"a": "x,y"}));
    }

    #[test]
    fn set_string_keeps_text_and_bad_input_errors() {
        let mut v = json!({});
        apply_set(&mut v, &SetArg::parse("a=1", true).unwrap());
        assert_eq!(v, json!({"a": "1"}));
        assert!(SetArg::parse("novalue", false).is_err());
        assert!(SetArg::parse("a[x]=1", false).is_err());
    }
}
