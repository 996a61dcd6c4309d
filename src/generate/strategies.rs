//! Values generation from a JSON Schema: a proptest strategy per schema node (types, enum/const,
//! numeric bounds, string patterns and lengths, array and object sizes, required keys,
//! additionalProperties/propertyNames, oneOf/anyOf/allOf, `$ref`/`$defs`), and the bug-finding
//! candidate values for one key (flipped booleans, boundary numbers, empty and one-element lists,
//! empty maps, YAML-hostile strings). Keywords that cannot be generated directly (`not`,
//! `uniqueItems`, cross-branch combinations) are generated loosely and filtered afterwards by the
//! contract validator, which counts the rejections.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Number, Value, json};

/// Strings that break YAML when a template forgets `| quote`, or that change type when unquoted.
pub const YAML_HOSTILE_STRINGS: &[&str] =
    &["a: b", "# comment", "- item", "true", "null", "0x1", "1e3", "~", "ünïcödé ✓", "line1\nline2", "{x}", "*ref", "'", "\"", ""];

/// How deep `$ref` chains and nested structures are followed when generating.
const MAX_DEPTH: usize = 6;

/// A schema together with the document it came from, for resolving `$ref`.
#[derive(Clone, Copy)]
pub struct SchemaCtx<'a> {
    pub root: &'a Value,
}

impl<'a> SchemaCtx<'a> {
    pub fn new(root: &'a Value) -> Self {
        SchemaCtx { root }
    }

    /// Follow a local `$ref` (`#/$defs/x`, `#/definitions/x`, `#`); remote refs resolve to `true`.
    pub fn resolve(&self, node: &'a Value) -> &'a Value {
        let mut node = node;
        for _ in 0..MAX_DEPTH {
            let Some(r) = node.get("$ref").and_then(Value::as_str) else { return node };
            let Some(ptr) = r.strip_prefix('#') else { return &Value::Bool(true) };
            let ptr = percent_decode(ptr);
            match self.root.pointer(&ptr) {
                Some(target) => node = target,
                None => return &Value::Bool(true),
            }
        }
        node
    }

    /// The node with `$ref` followed and `allOf` members folded in (object keywords merged,
    /// later members adding properties and required keys). Other keywords are checked by the
    /// validator afterwards.
    pub fn flatten(&self, node: &'a Value) -> Value {
        let node = self.resolve(node);
        let Some(all) = node.get("allOf").and_then(Value::as_array) else { return node.clone() };
        let mut out = node.clone();
        if let Some(o) = out.as_object_mut() {
            o.remove("allOf");
        }
        for member in all {
            let member = self.flatten(member);
            merge_schema(&mut out, &member);
        }
        out
    }

    /// The sub-schema for object key `key` of `node` (properties, patternProperties, additionalProperties).
    pub fn property(&self, node: &'a Value, key: &str) -> Value {
        let node = self.flatten(node);
        if let Some(p) = node.get("properties").and_then(|p| p.get(key)) {
            return self.flatten(p);
        }
        if let Some(pp) = node.get("patternProperties").and_then(Value::as_object) {
            for (pat, s) in pp {
                if regex::Regex::new(pat).map(|re| re.is_match(key)).unwrap_or(false) {
                    return self.flatten(s);
                }
            }
        }
        match node.get("additionalProperties") {
            Some(Value::Bool(false)) => Value::Bool(false),
            Some(s @ Value::Object(_)) => self.flatten(s),
            _ => Value::Bool(true),
        }
    }

    /// The sub-schema for array items of `node`.
    pub fn items(&self, node: &'a Value) -> Value {
        let node = self.flatten(node);
        match node.get("items") {
            Some(Value::Array(list)) => list.first().map(|s| self.flatten(s)).unwrap_or(Value::Bool(true)),
            Some(s) => self.flatten(s),
            None => Value::Bool(true),
        }
    }
}

fn percent_decode(s: &str) -> String {
    s.replace("%25", "%").replace("%7B", "{").replace("%7D", "}")
}

/// Fold `extra` into `base`: properties merged, required unioned, other keywords added when missing.
fn merge_schema(base: &mut Value, extra: &Value) {
    let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) else { return };
    for (k, v) in e {
        match (k.as_str(), b.get_mut(k)) {
            ("properties", Some(Value::Object(bp))) => {
                if let Some(ep) = v.as_object() {
                    for (pk, pv) in ep {
                        match bp.get_mut(pk) {
                            Some(existing) => merge_schema(existing, pv),
                            None => {
                                bp.insert(pk.clone(), pv.clone());
                            }
                        }
                    }
                }
            }
            ("required", Some(Value::Array(br))) => {
                for r in v.as_array().into_iter().flatten() {
                    if !br.contains(r) {
                        br.push(r.clone());
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                b.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The JSON types a schema node admits, in a fixed order.
pub fn admitted_types(node: &Value) -> Vec<&'static str> {
    const ALL: [&str; 6] = ["boolean", "integer", "number", "string", "array", "object"];
    match node.get("type") {
        Some(Value::String(t)) => ALL.iter().copied().filter(|a| a == t).collect(),
        Some(Value::Array(ts)) => ALL.iter().copied().filter(|a| ts.iter().any(|t| t == a)).collect(),
        _ => {
            if node.get("properties").is_some() || node.get("additionalProperties").is_some() || node.get("patternProperties").is_some() {
                vec!["object"]
            } else if node.get("items").is_some() || node.get("minItems").is_some() {
                vec!["array"]
            } else if node.get("pattern").is_some() || node.get("minLength").is_some() || node.get("maxLength").is_some() {
                vec!["string"]
            } else if node.get("minimum").is_some() || node.get("maximum").is_some() {
                vec!["number"]
            } else {
                vec!["boolean", "integer", "string"]
            }
        }
    }
}

fn num_bound(node: &Value, key: &str) -> Option<f64> {
    node.get(key).and_then(Value::as_f64)
}

/// Inclusive integer bounds of a node (exclusive bounds tightened), defaulting to a small window.
pub fn integer_bounds(node: &Value) -> (i64, i64) {
    let mut lo = num_bound(node, "minimum").map(|m| m.ceil() as i64);
    let mut hi = num_bound(node, "maximum").map(|m| m.floor() as i64);
    if let Some(x) = num_bound(node, "exclusiveMinimum") {
        lo = Some(lo.unwrap_or(i64::MIN).max(x.floor() as i64 + 1));
    }
    if let Some(x) = num_bound(node, "exclusiveMaximum") {
        hi = Some(hi.unwrap_or(i64::MAX).min(x.ceil() as i64 - 1));
    }
    let lo_v = lo.unwrap_or_else(|| hi.map(|h| h.saturating_sub(1000)).unwrap_or(-1000));
    let hi_v = hi.unwrap_or_else(|| lo_v.saturating_add(2000));
    (lo_v, hi_v.max(lo_v))
}

fn string_len_bounds(node: &Value) -> (usize, usize) {
    let min = node.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = node.get("maxLength").and_then(Value::as_u64).map(|m| m as usize).unwrap_or(min + 12).max(min);
    (min, max.min(min + 64))
}

/// A pattern made usable by proptest's regex generator (which has no anchors).
fn generator_pattern(pattern: &str) -> String {
    let p = pattern.strip_prefix('^').unwrap_or(pattern);
    let p = p.strip_prefix("\\A").unwrap_or(p);
    let p = if p.ends_with('$') && !p.ends_with("\\$") { &p[..p.len() - 1] } else { p };
    p.strip_suffix("\\z").unwrap_or(p).to_string()
}

/// The proptest strategy generating instances of `node`. Instances are *likely* valid; callers
/// verify with the validator (generate-then-filter for what cannot be generated directly).
pub fn strategy_for(ctx: SchemaCtx, node: &Value) -> BoxedStrategy<Value> {
    strategy_at(ctx, node, 0)
}

fn strategy_at(ctx: SchemaCtx, node: &Value, depth: usize) -> BoxedStrategy<Value> {
    let node = ctx.flatten(node);
    match &node {
        Value::Bool(false) => return Just(Value::Null).boxed(),
        Value::Bool(true) => return scalar_strategy().boxed(),
        _ => {}
    }
    if let Some(c) = node.get("const") {
        return Just(c.clone()).boxed();
    }
    if let Some(Value::Array(options)) = node.get("enum")
        && !options.is_empty()
    {
        return proptest::sample::select(options.clone()).boxed();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = node.get(key)
            && !branches.is_empty()
        {
            let mut rest = node.clone();
            rest.as_object_mut().map(|o| o.remove(key));
            let strategies: Vec<BoxedStrategy<Value>> = branches
                .iter()
                .map(|b| {
                    let mut merged = ctx.flatten(b);
                    merge_schema(&mut merged, &rest);
                    strategy_at(ctx, &merged, depth + 1)
                })
                .collect();
            return proptest::strategy::Union::new(strategies).boxed();
        }
    }
    let types = admitted_types(&node);
    // A type list's first type is the main one (an inferred `[string, integer]` is a string that
    // `--set` may pass as a number): drawn four times as often as each other type.
    let main = listed_first_type(&node).filter(|_| types.len() > 1);
    let strategies: Vec<(u32, BoxedStrategy<Value>)> =
        types.iter().map(|t| (if main == Some(*t) { 4 } else { 1 }, typed_strategy(ctx, &node, t, depth))).collect();
    if strategies.is_empty() {
        return Just(Value::Null).boxed();
    }
    proptest::strategy::Union::new_weighted(strategies).boxed()
}

/// The first type of a `type` list.
fn listed_first_type(node: &Value) -> Option<&str> {
    node.get("type")?.as_array()?.first()?.as_str()
}

fn scalar_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-100i64..100).prop_map(|n| json!(n)),
        "[a-z]{0,8}".prop_map(Value::String),
    ]
}

fn typed_strategy(ctx: SchemaCtx, node: &Value, ty: &str, depth: usize) -> BoxedStrategy<Value> {
    match ty {
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        "integer" => {
            let (lo, hi) = integer_bounds(node);
            let step = node.get("multipleOf").and_then(Value::as_i64).filter(|m| *m > 0).unwrap_or(1);
            let (klo, khi) = (div_ceil(lo, step), hi.div_euclid(step));
            prop_oneof![
                1 => Just(json!(klo * step)),
                1 => Just(json!(khi.max(klo) * step)),
                4 => (klo..=khi.max(klo)).prop_map(move |k| json!(k * step)),
            ]
            .boxed()
        }
        "number" => {
            let lo = num_bound(node, "minimum").or(num_bound(node, "exclusiveMinimum")).unwrap_or(-1000.0);
            let hi = num_bound(node, "maximum").or(num_bound(node, "exclusiveMaximum")).unwrap_or(lo + 2000.0).max(lo);
            prop_oneof![
                1 => Just(number(lo)),
                1 => Just(number(hi)),
                4 => (lo..=hi).prop_map(number),
            ]
            .boxed()
        }
        "string" => string_strategy(node),
        "array" => {
            let min = node.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = node.get("maxItems").and_then(Value::as_u64).map(|m| m as usize).unwrap_or(min + 3).clamp(min, min + 3);
            if depth >= MAX_DEPTH {
                return Just(Value::Array(Vec::new())).boxed();
            }
            let item = strategy_at(ctx, &ctx.items(node), depth + 1);
            proptest::collection::vec(item, min..=max).prop_map(Value::Array).boxed()
        }
        "object" => object_strategy(ctx, node, depth),
        _ => Just(Value::Null).boxed(),
    }
}

fn div_ceil(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

fn number(f: f64) -> Value {
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

fn string_strategy(node: &Value) -> BoxedStrategy<Value> {
    let (min, max) = string_len_bounds(node);
    if let Some(p) = node.get("pattern").and_then(Value::as_str)
        && let Ok(s) = proptest::string::string_regex(&generator_pattern(p))
    {
        return s.prop_map(Value::String).boxed();
    }
    let hostile: Vec<Value> =
        YAML_HOSTILE_STRINGS.iter().filter(|s| (min..=max).contains(&s.chars().count())).map(|s| json!(s)).collect();
    let plain = proptest::string::string_regex(&format!("[a-z0-9]{{{min},{max}}}")).unwrap().prop_map(Value::String);
    if hostile.is_empty() {
        plain.boxed()
    } else {
        prop_oneof![3 => plain, 1 => proptest::sample::select(hostile)].boxed()
    }
}

fn object_strategy(ctx: SchemaCtx, node: &Value, depth: usize) -> BoxedStrategy<Value> {
    if depth >= MAX_DEPTH {
        return Just(Value::Object(Map::new())).boxed();
    }
    let required: Vec<String> =
        node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.as_str().map(String::from)).collect();
    let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            let key = k.clone();
            let st = strategy_at(ctx, s, depth + 1).prop_map(move |v| (key.clone(), v));
            if required.contains(k) {
                fields.push(st.prop_map(Some).boxed());
            } else {
                fields.push(proptest::option::weighted(0.5, st).boxed());
            }
        }
    }
    let extra = match node.get("additionalProperties") {
        Some(Value::Bool(false)) => None,
        Some(s @ Value::Object(_)) => Some(strategy_at(ctx, s, depth + 1)),
        _ if node.get("properties").is_none() => Some(scalar_strategy().boxed()),
        _ => None,
    };
    let names = node
        .get("propertyNames")
        .and_then(|p| p.get("pattern"))
        .and_then(Value::as_str)
        .and_then(|p| proptest::string::string_regex(&generator_pattern(p)).ok().map(|s| s.boxed()))
        .unwrap_or_else(|| "[a-z][a-zA-Z0-9]{0,7}".boxed());
    let extras: BoxedStrategy<Vec<(String, Value)>> = match extra {
        Some(v) => proptest::collection::vec((names, v), 0..=2).boxed(),
        None => Just(Vec::new()).boxed(),
    };
    (fields, extras)
        .prop_map(|(fields, extras)| {
            let mut m = Map::new();
            for (k, v) in extras {
                m.insert(k, v);
            }
            for (k, v) in fields.into_iter().flatten() {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// Draw one value from a strategy with the given runner (deterministic for a seeded runner).
pub fn sample(strategy: &BoxedStrategy<Value>, runner: &mut TestRunner) -> Option<Value> {
    strategy.new_tree(runner).ok().map(|t| t.current())
}

/// What kind of change a candidate is, in the order the generator tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    BooleanFlip,
    /// A value the templates compare the key with, a values.yaml comment lists for it, or one
    /// of the schema's `examples`: the values that open branches.
    ComparedValue,
    BoundaryNumber,
    EmptyList,
    OneElementList,
    EmptyMap,
    HostileString,
    /// A value of another type the schema also admits (an integer for an inferred
    /// `[string, integer]` string, as `--set image.tag=1234` passes).
    OtherType,
    EnumValue,
    Removed,
    Generated,
}

/// Candidate replacement values for one key, given its schema and its current value.
pub fn candidates(ctx: SchemaCtx, node: &Value, current: Option<&Value>, runner: &mut TestRunner) -> Vec<(ChangeKind, Value)> {
    let node = ctx.flatten(node);
    if node == Value::Bool(false) {
        return Vec::new();
    }
    let mut out: Vec<(ChangeKind, Value)> = Vec::new();
    let mut push = |kind: ChangeKind, v: Value| {
        if Some(&v) != current && !out.iter().any(|(_, o)| *o == v) {
            out.push((kind, v));
        }
    };
    let enumerated = node.get("enum").and_then(Value::as_array).cloned().or_else(|| node.get("const").map(|c| vec![c.clone()]));
    if let Some(options) = enumerated {
        for o in options {
            push(ChangeKind::EnumValue, o);
        }
        return out;
    }
    let mut types = admitted_types(&node);
    // A key the schema does not type still varies by its default's type.
    if node.get("type").is_none()
        && let Some(t) = current.map(crate::chart::values::json_type_name).filter(|t| *t != "null")
    {
        types = vec![t];
    }
    // With a current value, the key varies mostly within its type: each other admitted type
    // gets one candidate.
    let main = current.map(crate::chart::values::json_type_name).and_then(|t| {
        let t = if t == "integer" && !types.contains(&"integer") { "number" } else { t };
        types.contains(&t).then_some(t)
    });
    if let Some(main) = main.filter(|_| types.len() > 1) {
        for other in types.iter().filter(|t| **t != main) {
            if let Some(v) = other_type_value(&node, other) {
                push(ChangeKind::OtherType, v);
            }
        }
        types = vec![main];
    }
    for ty in types {
        match ty {
            "boolean" => {
                let flipped = !current.and_then(Value::as_bool).unwrap_or(true);
                push(ChangeKind::BooleanFlip, Value::Bool(flipped));
                push(ChangeKind::BooleanFlip, Value::Bool(!flipped));
            }
            "integer" | "number" => {
                let (lo, hi) = integer_bounds(&node);
                let has_lo = node.get("minimum").is_some() || node.get("exclusiveMinimum").is_some();
                let has_hi = node.get("maximum").is_some() || node.get("exclusiveMaximum").is_some();
                for n in [0, 1, -1] {
                    if (lo..=hi).contains(&n) {
                        push(ChangeKind::BoundaryNumber, json!(n));
                    }
                }
                if has_lo {
                    push(ChangeKind::BoundaryNumber, json!(lo));
                }
                if has_hi {
                    push(ChangeKind::BoundaryNumber, json!(hi));
                } else {
                    push(ChangeKind::BoundaryNumber, json!(2147483647i64));
                }
            }
            "string" => {
                let (min, max) = string_len_bounds(&node);
                let pattern = node.get("pattern").is_some() || node.get("format").is_some();
                if !pattern {
                    for s in YAML_HOSTILE_STRINGS {
                        if (min..=max).contains(&s.chars().count()) {
                            push(ChangeKind::HostileString, json!(s));
                        }
                    }
                }
                if let Some(v) = sample(&string_strategy(&node), runner) {
                    push(ChangeKind::Generated, v);
                }
            }
            "array" => {
                let min = node.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                if min == 0 {
                    push(ChangeKind::EmptyList, json!([]));
                }
                let first = current.and_then(Value::as_array).and_then(|a| a.first()).cloned();
                let item = first.or_else(|| sample(&strategy_for(ctx, &ctx.items(&node)), runner));
                if let Some(item) = item {
                    push(ChangeKind::OneElementList, json!([item]));
                }
            }
            "object" => {
                push(ChangeKind::EmptyMap, json!({}));
            }
            _ => {}
        }
    }
    out
}

/// Add the branch-opening values of a key (mined from its templates and comments, and the
/// schema's `examples`) to its candidates, ahead of the other kinds; the contract still decides
/// which are allowed.
pub fn mined_candidates(node: &Value, mined: &[Value], current: Option<&Value>, out: &mut Vec<(ChangeKind, Value)>) {
    let examples = node.get("examples").and_then(Value::as_array).cloned().unwrap_or_default();
    for v in mined.iter().chain(&examples) {
        if Some(v) == current {
            continue;
        }
        out.retain(|(_, o)| o != v);
        out.push((ChangeKind::ComparedValue, v.clone()));
    }
}

/// One value of scalar type `ty` for a key whose main type is another one.
fn other_type_value(node: &Value, ty: &str) -> Option<Value> {
    match ty {
        "integer" | "number" => {
            let bounded = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].iter().any(|k| node.get(*k).is_some());
            let (lo, hi) = integer_bounds(node);
            Some(json!(if bounded { 1234i64.clamp(lo, hi) } else { 1234 }))
        }
        "boolean" => Some(json!(true)),
        "string" => Some(json!("1234")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng};

    fn runner(seed: u8) -> TestRunner {
        TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]))
    }

    fn draws(schema: &Value, n: usize) -> Vec<Value> {
        let ctx = SchemaCtx::new(schema);
        let st = strategy_for(ctx, schema);
        let mut r = runner(7);
        (0..n).filter_map(|_| sample(&st, &mut r)).collect()
    }

    #[test]
    fn generated_values_satisfy_generatable_schemas() {
        let schema = json!({
            "$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}},
            "type": "object",
            "required": ["name", "port", "mode"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,10}$"},
                "port": {"$ref": "#/$defs/port"},
                "mode": {"enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}, "minItems": 1, "maxItems": 3},
                "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "count": {"type": "integer", "multipleOf": 5, "minimum": 3, "maximum": 40},
                "either": {"oneOf": [{"type": "boolean"}, {"type": "string", "const": "x"}]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "propertyNames": {"pattern": "^[a-z]+$"}},
                "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]}
            }
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let values = draws(&schema, 200);
        assert_eq!(values.len(), 200);
        for v in &values {
            assert!(validator.is_valid(v), "invalid instance {v}");
        }
        assert!(values.iter().any(|v| v.get("tags").is_some()) && values.iter().any(|v| v.get("tags").is_none()));
    }

    #[test]
    fn not_is_left_to_the_filter_and_is_sometimes_violated() {
        let schema = json!({"type": "integer", "minimum": 0, "maximum": 3, "not": {"const": 2}});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let values = draws(&schema, 100);
        let rejected = values.iter().filter(|v| !validator.is_valid(v)).count();
        assert!(rejected > 0 && rejected < 100);
    }

    #[test]
    fn same_seed_same_values() {
        let schema = json!({"type": "object", "properties": {"s": {"type": "string"}, "n": {"type": "integer"}}});
        assert_eq!(draws(&schema, 20), draws(&schema, 20));
    }

    #[test]
    fn candidates_cover_the_bug_finding_shapes() {
        let schema = json!({"type": "object"});
        let ctx = SchemaCtx::new(&schema);
        let mut r = runner(1);
        let kinds = |node: Value, cur: Value, r: &mut TestRunner| -> Vec<(ChangeKind, Value)> { candidates(ctx, &node, Some(&cur), r) };
        assert_eq!(kinds(json!({"type": "boolean"}), json!(true), &mut r)[0], (ChangeKind::BooleanFlip, json!(false)));
        let nums = kinds(json!({"type": "integer", "minimum": 1, "maximum": 10}), json!(3), &mut r);
        assert!(nums.contains(&(ChangeKind::BoundaryNumber, json!(1))) && nums.contains(&(ChangeKind::BoundaryNumber, json!(10))));
        assert!(!nums.iter().any(|(_, v)| *v == json!(0)));
        let lists = kinds(json!({"type": "array"}), json!(["a", "b"]), &mut r);
        assert!(lists.contains(&(ChangeKind::EmptyList, json!([]))) && lists.contains(&(ChangeKind::OneElementList, json!(["a"]))));
        let strings = kinds(json!({"type": "string"}), json!("x"), &mut r);
        assert!(strings.iter().any(|(k, v)| *k == ChangeKind::HostileString && *v == json!("a: b")));
        let maps = kinds(json!({"type": "object"}), json!({"a": 1}), &mut r);
        assert!(maps.contains(&(ChangeKind::EmptyMap, json!({}))));
        assert_eq!(kinds(json!({"enum": ["x", "y"]}), json!("x"), &mut r), vec![(ChangeKind::EnumValue, json!("y"))]);
    }

    #[test]
    fn a_string_that_set_may_pass_as_an_integer_varies_mostly_as_a_string() {
        let schema = json!({"type": ["string", "integer"]});
        let values = draws(&schema, 400);
        let integers = values.iter().filter(|v| v.is_i64()).count();
        assert!(values.iter().all(|v| v.is_string() || v.is_i64()));
        assert!((40..=140).contains(&integers), "about one in five draws is an integer, got {integers} of 400");
        let ctx = SchemaCtx::new(&schema);
        let kinds = candidates(ctx, &schema, Some(&json!("v1")), &mut runner(1));
        let others: Vec<_> = kinds.iter().filter(|(k, _)| *k == ChangeKind::OtherType).collect();
        assert_eq!(others, vec![&(ChangeKind::OtherType, json!(1234))], "one integer, like --set image.tag=1234");
        assert!(!kinds.iter().any(|(k, _)| *k == ChangeKind::BoundaryNumber), "no boundary numbers for a string key");
        assert!(kinds.iter().any(|(k, _)| *k == ChangeKind::HostileString));
    }
}
