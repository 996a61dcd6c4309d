//! Values documents read the way Helm reads them, with the source position of every key.
//!
//! Helm parses values with go-yaml v2 semantics (YAML 1.1 plain-scalar resolution: `yes`/`on`/`off`
//! are booleans, `0755` is octal, `1_000` is an integer, timestamps stay strings) and then converts
//! them to JSON. serde_yaml follows YAML 1.2, so values are read here from libyaml's event stream
//! (the parser go-yaml v2 was ported from, see [`super::libyaml`]) with go-yaml v2's resolution
//! rules instead. The result is a `serde_json::Value` (key order kept)
//! plus a [`PositionIndex`] that maps every JSON pointer to the line and column of its key.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Number, Value};
use super::libyaml::{Event, EventParser, Mark, ScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Maps JSON pointers (`/image/tag`, `/env/0/name`) to where the key (or list item) is written.
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    positions: HashMap<String, Pos>,
}

impl PositionIndex {
    /// Position of the exact pointer.
    pub fn get(&self, pointer: &str) -> Option<Pos> {
        self.positions.get(pointer).copied()
    }

    /// Position of the pointer or of its nearest written ancestor (a key set to a whole map, say).
    pub fn nearest(&self, pointer: &str) -> Option<(String, Pos)> {
        let mut current = pointer.to_string();
        loop {
            if let Some(pos) = self.positions.get(&current) {
                return Some((current, *pos));
            }
            match current.rfind('/') {
                Some(i) => current.truncate(i),
                None => return None,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Pos)> {
        self.positions.iter()
    }
}

/// One values file: its parsed content and where each key sits.
#[derive(Debug, Clone)]
pub struct ValuesDoc {
    pub file: PathBuf,
    pub value: Value,
    pub positions: PositionIndex,
}

/// A YAML syntax or structure error with its location.
#[derive(Debug, Clone, thiserror::Error)]
pub struct YamlError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: invalid YAML: {}", self.file.display(), self.line, self.column, self.message)
    }
}

impl ValuesDoc {
    /// Read and parse a values file. An empty file is an empty map, as in Helm.
    pub fn load(path: &Path) -> Result<ValuesDoc> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read values file {}", path.display()))?;
        Ok(Self::parse(&text, path)?)
    }

    /// Parse values text; `file` is only used in positions and errors.
    pub fn parse(text: &str, file: &Path) -> Result<ValuesDoc, YamlError> {
        let (value, positions) = parse_helm_yaml(text, file)?;
        let value = match value {
            Value::Null => Value::Object(Map::new()),
            Value::Object(m) => Value::Object(m),
            other => {
                return Err(YamlError {
                    file: file.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!("values must be a map of keys, found {}", json_type_name(&other)),
                });
            }
        };
        Ok(ValuesDoc { file: file.to_path_buf(), value, positions: PositionIndex { positions } })
    }
}

/// Name of a JSON value's type as JSON Schema spells it.
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Escape one JSON pointer segment (RFC 6901).
pub fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Turn a JSON pointer into a dotted key path (`/image/tag` -> `image.tag`, `/env/0` -> `env[0]`).
pub fn pointer_to_dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// The JSON key sigs.k8s.io/yaml gives an infinite or NaN map key.
fn infinity_or_nan_key(s: &str) -> &'static str {
    match s.to_ascii_lowercase().as_str() {
        "-.inf" => "-.inf",
        ".nan" => ".nan",
        _ => ".inf",
    }
}

fn is_infinity_or_nan(s: &str) -> bool {
    matches!(s, ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
}

/// Resolve a plain (unquoted) scalar the way go-yaml v2 does, as Helm sees it after its JSON round trip.
pub fn resolve_plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => return Value::Bool(true),
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN" => {
            // Helm cannot turn these into JSON; it fails. Keep the text so nothing is lost.
            return Value::String(s.to_string());
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::String(s.to_string());
    }
    let plain = s.replace('_', "");
    if let Some(i) = parse_go_int(&plain) {
        return Value::Number(Number::from(i));
    }
    if let Some(u) = parse_go_uint(&plain) {
        return Value::Number(Number::from(u));
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(s.to_string())
}

/// strconv.ParseInt(s, 0, 64): sign, then 0x/0o/0b prefixes or a leading 0 for octal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_go_magnitude(body)?;
    if neg {
        if magnitude <= (i64::MAX as u128) + 1 { Some((magnitude as i128).wrapping_neg() as i64) } else { None }
    } else if magnitude <= i64::MAX as u128 {
        Some(magnitude as i64)
    } else {
        None
    }
}

fn parse_go_uint(s: &str) -> Option<u64> {
    let body = s.strip_prefix('+').unwrap_or(s);
    let m = parse_go_magnitude(body)?;
    u64::try_from(m).ok()
}

fn parse_go_magnitude(body: &str) -> Option<u128> {
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u128::from_str_radix(digits, radix).ok()
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// A map key as sigs.k8s.io/yaml turns it into a JSON object key: integers in decimal, floats
/// with Go's shortest `%g` at 32-bit precision, booleans as `true`/`false`. A null key, or an
/// integer key above int64, has no JSON form: Kubernetes and Helm refuse the document.
fn key_to_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_f64() => Some(go_format_float_g32(n.as_f64().unwrap_or_default())),
        // go-yaml gives integers above int64 as uint64, which sigs.k8s.io/yaml has no key form for.
        Value::Number(n) if n.is_u64() && !n.is_i64() => None,
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that round-trip through a
/// 32-bit float, in `%e` form when the exponent is below -4 or at least 6.
fn go_format_float_g32(f: f64) -> String {
    let f = f as f32;
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` prints the shortest round-trip digits: `d.ddde[-]x`.
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{exp_sign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// What Kubernetes reads a number as after sigs.k8s.io/yaml's JSON round trip: Go's encoding/json
/// prints an integral float below 1e21 without a fraction, so `3.0` and `1e3` arrive as integers.
fn as_json_number(v: Value) -> Value {
    match &v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            if f.fract() == 0.0 && f.abs() < 1e21 {
                if f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    return Value::Number(Number::from(f as i64));
                }
                if f >= 0.0 && f < u64::MAX as f64 {
                    return Value::Number(Number::from(f as u64));
                }
            }
            v
        }
        _ => v,
    }
}

/// `!!binary`: go-yaml decodes standard base64 (line breaks ignored) into a Go string.
fn decode_binary(text: &str) -> Option<String> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(compact).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Resolve a scalar with its style and tag. Err is go-yaml's complaint about a tagged value.
fn resolve_scalar(text: String, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    if let Some(tag) = tag {
        return match tag.strip_prefix("tag:yaml.org,2002:") {
            Some("str" | "timestamp") => Ok(Value::String(text)),
            Some("binary") => decode_binary(&text).map(Value::String).ok_or_else(|| "!!binary value contains invalid base64 data".to_string()),
            Some(expected @ ("int" | "float" | "bool" | "null")) => {
                let v = resolve_plain_scalar(&text);
                let fits = match expected {
                    "int" => v.is_i64() || v.is_u64(),
                    // go-yaml converts an int64 to a float, but not a uint64.
                    "float" => v.is_f64() || v.is_i64(),
                    "bool" => v.is_boolean(),
                    _ => v.is_null(),
                };
                if fits { Ok(v) } else { Err(format!("cannot decode {text:?} as a !!{expected}")) }
            }
            // go-yaml resolves only the standard tags; any other tag leaves the text a string.
            _ => Ok(Value::String(text)),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => resolve_plain_scalar(&text),
        _ => Value::String(text),
    })
}

struct PendingKey {
    key: String,
    mark: Mark,
    /// A plain `<<`: YAML 1.1's merge key.
    is_merge: bool,
}

enum Frame {
    /// `pending_key` is the key whose value comes next, with where it is written.
    Map { map: Map<String, Value>, pending_key: Option<PendingKey>, anchor: Option<String>, pointer: String },
    Seq { items: Vec<Value>, anchor: Option<String>, pointer: String },
}

struct Builder<'a> {
    file: &'a Path,
    stack: Vec<Frame>,
    anchors: HashMap<String, Value>,
    positions: HashMap<String, Pos>,
    root: Option<Value>,
    documents: usize,
    multi: bool,
    roots: Vec<Value>,
    error: Option<YamlError>,
    /// The scalar being attached is plain and untagged (a `<<` key is then a merge key).
    plain_scalar: bool,
}

impl Builder<'_> {
    fn child_pointer(&self) -> Option<String> {
        match self.stack.last()? {
            Frame::Map { pending_key: Some(PendingKey { key, .. }), pointer, .. } => Some(format!("{}/{}", pointer, pointer_segment(key))),
            Frame::Map { .. } => None, // this node is a key
            Frame::Seq { items, pointer, .. } => Some(format!("{}/{}", pointer, items.len())),
        }
    }

    fn fail(&mut self, mark: Mark, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { file: self.file.to_path_buf(), line: mark.line, column: mark.column, message });
        }
    }

    /// Attach a finished node to its parent (or make it the document root).
    fn push_value(&mut self, value: Value, anchor: Option<String>, mark: Mark) {
        if let Some(anchor) = anchor {
            self.anchors.insert(anchor, value.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            if self.multi {
                self.roots.push(value);
            } else {
                self.root = Some(value);
            }
            return;
        };
        match top {
            Frame::Seq { items, .. } => items.push(value),
            Frame::Map { map, pending_key, .. } => match pending_key.take() {
                None => {
                    if !matches!(value, Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) {
                        self.fail(mark, "complex map keys are not supported by Kubernetes or Helm".into());
                        return;
                    }
                    let Some(key) = key_to_string(&value) else {
                        self.fail(mark, format!("map key {value} has no JSON form (null, or an integer above int64); Kubernetes and Helm refuse it"));
                        return;
                    };
                    let is_merge = key == "<<" && self.plain_scalar;
                    *pending_key = Some(PendingKey { key, mark, is_merge });
                }
                Some(PendingKey { is_merge: true, .. }) => {
                    if let Err(message) = merge_into(map, value) {
                        self.fail(mark, message);
                    }
                }
                Some(PendingKey { key, .. }) => {
                    map.insert(key, value);
                }
            },
        }
    }

    /// Record where the node that is about to start lives, if it is a map value or list item.
    fn record_position(&mut self, mark: Mark) {
        let Some(ptr) = self.child_pointer() else { return };
        let pos = match self.stack.last() {
            Some(Frame::Map { pending_key: Some(PendingKey { mark: key_mark, .. }), .. }) => *key_mark,
            _ => mark,
        };
        self.positions.entry(ptr).or_insert(Pos { line: pos.line, column: pos.column });
    }
}

impl Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Mark) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 && !self.multi {
                    self.fail(mark, "a values file must hold a single YAML document".into());
                }
            }
            Event::Scalar { value: text, style, anchor, tag } => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map { pending_key: None, .. }));
                let numeric_tag = tag.as_deref().is_none_or(|t| t == "tag:yaml.org,2002:float");
                let value = if style == ScalarStyle::Plain && numeric_tag && is_infinity_or_nan(&text) {
                    if !is_key {
                        // Helm and Kubernetes turn YAML into JSON, which has no infinity or NaN: they refuse it.
                        return self.fail(mark, format!("`{text}` is infinity or NaN, which has no JSON form; Helm and Kubernetes refuse it"));
                    }
                    // As a key it is formatted back to YAML's spelling (sigs.k8s.io/yaml).
                    Value::String(infinity_or_nan_key(&text).into())
                } else {
                    match resolve_scalar(text, style, tag.as_deref()) {
                        Ok(v) if self.multi && !is_key => as_json_number(v),
                        Ok(v) => v,
                        Err(message) => return self.fail(mark, message),
                    }
                };
                self.record_position(mark);
                self.plain_scalar = style == ScalarStyle::Plain && tag.is_none();
                self.push_value(value, anchor, mark);
                self.plain_scalar = false;
            }
            Event::Alias { anchor } => {
                self.record_position(mark);
                match self.anchors.get(&anchor).cloned() {
                    Some(v) => self.push_value(v, None, mark),
                    None => self.fail(mark, format!("unknown anchor '{anchor}' referenced")),
                }
            }
            Event::SequenceStart { anchor, .. } => {
                self.record_position(mark);
                let pointer = self.child_pointer().unwrap_or_default();
                self.stack.push(Frame::Seq { items: Vec::new(), anchor, pointer });
            }
            Event::MappingStart { anchor, .. } => {
                self.record_position(mark);
                let pointer = self.child_pointer().unwrap_or_default();
                self.stack.push(Frame::Map { map: Map::new(), pending_key: None, anchor, pointer });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, anchor, .. }) = self.stack.pop() {
                    self.push_value(Value::Array(items), anchor, mark);
                }
            }
            Event::DocumentEnd if self.multi && self.roots.len() < self.documents => self.roots.push(Value::Null),
            Event::MappingEnd => {
                if let Some(Frame::Map { map, anchor, .. }) = self.stack.pop() {
                    self.push_value(Value::Object(map), anchor, mark);
                }
            }
            _ => {}
        }
    }
}

/// YAML 1.1 merge keys (`<<: *base`) as go-yaml v2 applies them: at the point where the merge key
/// stands, overwriting keys set before it (later explicit keys overwrite merged ones); in a list of
/// maps, earlier maps win.
fn merge_into(map: &mut Map<String, Value>, value: Value) -> Result<(), String> {
    const WANT_MAP: &str = "map merge requires map or sequence of maps as the value";
    match value {
        Value::Object(source) => map.extend(source),
        Value::Array(items) => {
            if !items.iter().all(Value::is_object) {
                return Err(WANT_MAP.into());
            }
            for item in items.into_iter().rev() {
                if let Value::Object(source) = item {
                    map.extend(source);
                }
            }
        }
        _ => return Err(WANT_MAP.into()),
    }
    Ok(())
}

/// Parse a stream of YAML documents (a rendered manifest) with Helm's (go-yaml v2) semantics.
/// Empty documents come back as `Null`.
pub fn parse_helm_yaml_documents(text: &str, file: &Path) -> Result<Vec<Value>, YamlError> {
    let mut builder = Builder::new(file, true);
    run_parser(text, file, &mut builder)?;
    Ok(builder.roots)
}

impl<'a> Builder<'a> {
    fn new(file: &'a Path, multi: bool) -> Self {
        Builder { file, stack: Vec::new(), anchors: HashMap::new(), positions: HashMap::new(), root: None, documents: 0, multi, roots: Vec::new(), error: None, plain_scalar: false }
    }
}

fn run_parser(text: &str, file: &Path, builder: &mut Builder) -> Result<(), YamlError> {
    let mut parser = EventParser::new(text);
    while let Some(event) = parser.next_event() {
        match event {
            Ok((event, mark)) => builder.on_event(event, mark),
            Err(e) => return Err(YamlError { file: file.to_path_buf(), line: e.mark.line, column: e.mark.column, message: e.message }),
        }
        if builder.error.is_some() {
            break;
        }
    }
    if let Some(err) = builder.error.take() {
        return Err(err);
    }
    Ok(())
}

/// Parse YAML text with Helm's (go-yaml v2) semantics. Returns the value and the key positions.
pub fn parse_helm_yaml(text: &str, file: &Path) -> Result<(Value, HashMap<String, Pos>), YamlError> {
    let mut builder = Builder::new(file, false);
    run_parser(text, file, &mut builder)?;
    Ok((builder.root.unwrap_or(Value::Null), builder.positions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> ValuesDoc {
        ValuesDoc::parse(text, Path::new("values.yaml")).unwrap()
    }

    #[test]
    fn yaml_1_1_booleans_are_booleans() {
        let d = parse("a: yes\nb: off\nc: On\nd: y\ne: 'yes'\nf: NO\n");
        assert_eq!(d.value, json!({"a": true, "b": false, "c": true, "d": true, "e": "yes", "f": false}));
    }

    #[test]
    fn go_integer_forms() {
        let d = parse("oct: 0755\nhex: 0x1F\nunder: 1_000\nbin: 0b101\nneg: -0x10\nnotoct: 08\nplus: +12\no: 0o17\n");
        assert_eq!(d.value, json!({"oct": 493, "hex": 31, "under": 1000, "bin": 5, "neg": -16, "notoct": 8.0, "plus": 12, "o": 15}));
    }

    #[test]
    fn floats_nulls_and_strings() {
        let d = parse("f: 1.5\ne: 1e3\nnn: ~\nm:\nt: 2001-12-14\ns: 1:20\nv: 1.2.3\nd: .5\n");
        assert_eq!(d.value, json!({"f": 1.5, "e": 1000.0, "nn": null, "m": null, "t": "2001-12-14", "s": "1:20", "v": "1.2.3", "d": 0.5}));
    }

    #[test]
    fn huge_integers_fall_back_to_unsigned_then_float() {
        let d = parse("u: 18446744073709551615\nf: 18446744073709551616\n");
        assert_eq!(d.value["u"], json!(18446744073709551615u64));
        assert!(d.value["f"].is_f64());
    }

    #[test]
    fn keys_resolve_like_helm() {
        let d = parse("on: 1\n1: x\nn: 2\n");
        assert_eq!(d.value, json!({"true": 1, "1": "x", "false": 2}));
    }

    #[test]
    fn positions_of_keys_and_items() {
        let d = parse("image:\n  repository: nginx\n  tag: \"1.0\"\nenv:\n  - name: A\n    value: b\n");
        assert_eq!(d.positions.get("/image"), Some(Pos { line: 1, column: 1 }));
        assert_eq!(d.positions.get("/image/tag"), Some(Pos { line: 3, column: 3 }));
        assert_eq!(d.positions.get("/env/0").map(|p| p.line), Some(5));
        assert_eq!(d.positions.get("/env/0/value"), Some(Pos { line: 6, column: 5 }));
        assert_eq!(d.positions.nearest("/image/tag/extra").unwrap().0, "/image/tag");
    }

    #[test]
    fn anchors_and_merge_keys() {
        let d = parse("base: &b\n  a: 1\n  b: 2\nchild:\n  <<: *b\n  b: 3\nlist: [*b]\n");
        assert_eq!(d.value["child"], json!({"a": 1, "b": 3}));
        assert_eq!(d.value["list"], json!([{"a": 1, "b": 2}]));
    }

    #[test]
    fn merge_keys_apply_where_they_stand_as_in_go_yaml_v2() {
        // Checked against helm's fromYaml (sigs.k8s.io/yaml): a merge overwrites keys set before it.
        assert_eq!(parse("a: 1\n<<: {a: 2, b: 3}\n").value, json!({"a": 2, "b": 3}));
        assert_eq!(parse("<<: {a: 2, b: 3}\na: 1\n").value, json!({"a": 1, "b": 3}));
        assert_eq!(parse("x: &x {a: 1}\ny: &y {a: 2, b: 2}\nz: {<<: [*x, *y]}\n").value["z"], json!({"a": 1, "b": 2}));
        assert_eq!(parse("'<<': 1\n").value, json!({"<<": 1}));
        let err = ValuesDoc::parse("a: &a [1]\nb: {<<: [*a]}\n", Path::new("v.yaml")).unwrap_err();
        assert!(err.message.contains("map merge requires"), "{err}");
    }

    #[test]
    fn keys_and_tags_as_sigs_k8s_yaml_converts_them() {
        let d = parse("1e3: a\n0.1: b\n2.5: c\n1.0: d\n1e7: e\n0.00001: f\n");
        assert_eq!(d.value, json!({"1000": "a", "0.1": "b", "2.5": "c", "1": "d", "1e+07": "e", "1e-05": "f"}));
        assert!(ValuesDoc::parse("~: x\n", Path::new("v.yaml")).unwrap_err().message.contains("no JSON form"));
        assert!(ValuesDoc::parse("9223372036854775808: x\n", Path::new("v.yaml")).is_err());
        assert!(ValuesDoc::parse("k: !!float 9223372036854775808\n", Path::new("v.yaml")).is_err());
        assert_eq!(parse(".inf: a\n-.Inf: b\n.NaN: c\n").value, json!({".inf": "a", "-.inf": "b", ".nan": "c"}));
        let d = parse("t: !!binary aGVsbG8=\nu: !custom 12\nf: !!float \"1\"\ns: !!str 12\n");
        assert_eq!(d.value, json!({"t": "hello", "u": "12", "f": 1, "s": "12"}));
        assert!(ValuesDoc::parse("x: !!int abc\n", Path::new("v.yaml")).is_err());
    }

    #[test]
    fn manifests_read_integral_floats_as_integers_like_the_api_server() {
        let docs = parse_helm_yaml_documents("a: 3.0\nb: 1e3\nc: 0.5\nd: 1e22\n---\nx: .inf\n", Path::new("m")).unwrap_err();
        assert!(docs.message.contains("infinity"), "{docs}");
        let docs = parse_helm_yaml_documents("a: 3.0\nb: 1e3\nc: 0.5\nd: 1e22\n", Path::new("m")).unwrap();
        assert_eq!(docs[0]["a"], json!(3));
        assert_eq!(docs[0]["b"], json!(1000));
        assert_eq!(docs[0]["c"], json!(0.5));
        assert!(docs[0]["d"].is_f64());
    }

    #[test]
    fn empty_file_is_empty_map_and_scalar_root_is_an_error() {
        assert_eq!(parse("# only a comment\n").value, json!({}));
        let err = ValuesDoc::parse("just text\n", Path::new("v.yaml")).unwrap_err();
        assert!(err.message.contains("map"), "{err}");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = ValuesDoc::parse("a: 1\nb: [1, 2\n", Path::new("v.yaml")).unwrap_err();
        assert!(err.line >= 2, "{err}");
        assert!(err.to_string().starts_with("v.yaml:"), "{err}");
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(pointer_to_dotted("/image/tag"), "image.tag");
        assert_eq!(pointer_to_dotted("/env/0/name"), "env[0].name");
        assert_eq!(pointer_to_dotted("/a~1b"), "a/b");
    }
}
