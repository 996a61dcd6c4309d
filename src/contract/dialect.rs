//! Which JSON Schema validator the helm in use runs, and how chartproof compiles a chart's
//! values.schema.json so it judges values exactly like that validator. Measured on helm 3.17.3
//! and 4.1.4 (the truth table is `tests/contract_helm_agreement.rs`):
//!
//! | | Helm 3 (xeipuuv/gojsonschema) | Helm 4 (santhosh-tekuri/jsonschema v6) |
//! |---|---|---|
//! | `$schema` | `http://json-schema.org/draft-04`/`06`/`07/schema` (`#` optional) picks that draft; anything else (none, https, 2019-09, 2020-12) is its hybrid draft-04/06/07 mode | draft-04/06/07, 2019-09, 2020-12 (http or https, `#` optional); none or the bare `…/schema#` is 2020-12; any other URI is downloaded (and fails offline) |
//! | whole floats (`3.0`, `1e3`) | integers (helm re-encodes values as JSON: `3.0` becomes `3`) | same |
//! | `format` | asserted under every `$schema`, Go's parsers (`net/mail`, `time.Parse`…) | asserted under draft-04/06/07 only; an annotation under 2019-09, 2020-12 and none |
//! | the schema itself | no meta-schema check: only malformed keywords fail (`type: "integr"`, `minimum: "x"`, a bad regex or `$ref`); empty `enum`/`required` are ignored | checked against its draft's meta-schema |
//!
//! Both reject a schema whose keywords are malformed; chartproof then exits 2 like helm fails.

use anyhow::{Result, bail};
use serde_json::Value;

/// The schema validator of a Helm major version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HelmDialect {
    /// Helm 3: xeipuuv/gojsonschema.
    Helm3,
    /// Helm 4: santhosh-tekuri/jsonschema v6. The default when no helm is found.
    #[default]
    Helm4,
}

impl HelmDialect {
    /// The validator of a helm major version (Helm 4's for 4 and later).
    pub fn for_major(major: u32) -> HelmDialect {
        if major <= 3 { HelmDialect::Helm3 } else { HelmDialect::Helm4 }
    }

    /// `Helm 3 (gojsonschema)` / `Helm 4 (santhosh-tekuri/jsonschema)`.
    pub fn describe(self) -> &'static str {
        match self {
            HelmDialect::Helm3 => "Helm 3 (gojsonschema)",
            HelmDialect::Helm4 => "Helm 4 (santhosh-tekuri/jsonschema)",
        }
    }

    /// How this helm reads `schema`: the draft, whether `format` is asserted, and for Helm 3
    /// whether it is gojsonschema's hybrid mode (no exact draft-04/06/07 `$schema`).
    fn reading(self, schema: &Value) -> Result<Reading> {
        use jsonschema::Draft::*;
        let uri = schema.get("$schema").and_then(Value::as_str);
        Ok(match self {
            HelmDialect::Helm3 => {
                let draft = match uri.map(|u| u.strip_suffix('#').unwrap_or(u)) {
                    Some("http://json-schema.org/draft-04/schema") => Some(Draft4),
                    Some("http://json-schema.org/draft-06/schema") => Some(Draft6),
                    Some("http://json-schema.org/draft-07/schema") => Some(Draft7),
                    _ => None,
                };
                // Hybrid mode: draft-07 keywords, with draft-04 boolean exclusive bounds
                // rewritten by `helm3_tolerances`.
                Reading { draft: draft.unwrap_or(Draft7), formats: true, hybrid: draft.is_none() }
            }
            HelmDialect::Helm4 => {
                let (draft, formats) = match uri {
                    None => (Draft202012, false),
                    Some(uri) => {
                        let bare = uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://")).unwrap_or(uri);
                        match bare.strip_suffix("#/").or_else(|| bare.strip_suffix('#')).unwrap_or(bare) {
                            "json-schema.org/draft-04/schema" => (Draft4, true),
                            "json-schema.org/draft-06/schema" => (Draft6, true),
                            "json-schema.org/draft-07/schema" => (Draft7, true),
                            "json-schema.org/draft/2019-09/schema" => (Draft201909, false),
                            "json-schema.org/draft/2020-12/schema" | "json-schema.org/schema" => (Draft202012, false),
                            _ => bail!("`$schema: {uri}` names no JSON Schema draft Helm 4 knows; Helm 4 would download it as a meta-schema (chartproof does not): use draft-04, -06, -07, 2019-09 or 2020-12"),
                        }
                    }
                };
                Reading { draft, formats, hybrid: false }
            }
        })
    }

    /// Compile a chart's own schema the way this helm reads it. Remote `$ref`s are not fetched.
    pub fn compile(self, schema: &Value) -> Result<jsonschema::Validator> {
        use jsonschema::Draft::*;
        let reading = self.reading(schema)?;
        let mut schema = schema.clone();
        if let Some(o) = schema.as_object_mut() {
            // The draft is chosen; a `$schema` jsonschema would read differently is left out.
            o.remove("$schema");
        }
        let mut options = jsonschema::options().with_draft(reading.draft).should_validate_formats(reading.formats).should_ignore_unknown_formats(true);
        // Both helms assert these under every draft they assert formats in; jsonschema knows
        // them only from a later draft on.
        for (name, since) in [("uuid", Draft201909), ("uri-reference", Draft7), ("uri-template", Draft7), ("json-pointer", Draft7), ("relative-json-pointer", Draft7)] {
            options = options.with_format(name, builtin_format(name, since));
        }
        options = match self {
            HelmDialect::Helm3 => {
                helm3_tolerances(&mut schema, reading.hybrid);
                options
                    .with_format("email", go_mail_address)
                    .with_format("date-time", |s: &str| go_time_parse(s, GoLayout::Rfc3339))
                    .with_format("date", |s: &str| go_time_parse(s, GoLayout::Date))
                    .with_format("time", |s: &str| go_time_parse(s, GoLayout::Time))
                    .with_format("hostname", |s: &str| hostname(s, HelmDialect::Helm3))
            }
            HelmDialect::Helm4 => {
                if reading.formats && let Some(at) = empty_enum(&schema, String::new()) {
                    bail!("at schema {at}: `enum` is empty; the {:?} meta-schema wants at least one item", reading.draft);
                }
                options
                    .with_format("hostname", |s: &str| hostname(s, HelmDialect::Helm4))
                    .with_format("email", santhosh_email)
                    .with_format("duration", builtin_format("duration", Draft201909))
            }
        };
        options.build(&schema).map_err(|e| {
            let at = e.instance_path.as_str();
            if at.is_empty() { anyhow::anyhow!("{e}") } else { anyhow::anyhow!("at schema {at}: {e}") }
        })
    }

    /// The values as this helm's validator receives them: helm re-encodes the values as JSON,
    /// so a whole float (`3.0`, `1e3`) arrives as an integer (`3`, `1000`).
    pub fn values_as_validated(self, values: &Value) -> std::borrow::Cow<'_, Value> {
        if has_whole_float(values) { std::borrow::Cow::Owned(whole_floats_as_integers(values)) } else { std::borrow::Cow::Borrowed(values) }
    }
}

/// jsonschema's own checker of format `name`, as it applies it from draft `since` on.
fn builtin_format(name: &str, since: jsonschema::Draft) -> impl Fn(&str) -> bool + Send + Sync + 'static {
    let checker = jsonschema::options().with_draft(since).should_validate_formats(true).build(&serde_json::json!({ "format": name })).expect("a format-only schema compiles");
    move |text: &str| checker.is_valid(&Value::String(text.to_string()))
}

/// The place of the first empty `enum` in a schema (a JSON pointer), if any.
fn empty_enum(schema: &Value, at: String) -> Option<String> {
    let Value::Object(o) = schema else { return None };
    if o.get("enum").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        return Some(if at.is_empty() { "/".into() } else { at });
    }
    o.iter().filter(|(k, _)| !DATA_KEYWORDS.contains(&k.as_str())).find_map(|(k, v)| match v {
        Value::Array(items) => items.iter().enumerate().find_map(|(i, s)| empty_enum(s, format!("{at}/{k}/{i}"))),
        other => empty_enum(other, format!("{at}/{k}")),
    })
}

struct Reading {
    draft: jsonschema::Draft,
    formats: bool,
    hybrid: bool,
}

fn is_whole_float(n: &serde_json::Number) -> bool {
    n.is_f64() && n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= i64::MIN as f64 && f < u64::MAX as f64)
}

fn has_whole_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => is_whole_float(n),
        Value::Array(a) => a.iter().any(has_whole_float),
        Value::Object(o) => o.values().any(has_whole_float),
        _ => false,
    }
}

fn whole_floats_as_integers(v: &Value) -> Value {
    match v {
        Value::Number(n) if is_whole_float(n) => {
            let f = n.as_f64().unwrap_or_default();
            if f < 0.0 { Value::from(f as i64) } else { Value::from(f as u64) }
        }
        Value::Array(a) => Value::Array(a.iter().map(whole_floats_as_integers).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), whole_floats_as_integers(v))).collect()),
        other => other.clone(),
    }
}

/// Keywords whose values are data, not subschemas: left as written.
const DATA_KEYWORDS: [&str; 5] = ["enum", "const", "default", "examples", "required"];

/// What gojsonschema accepts that the meta-schemas reject: an empty `enum` or `required` is
/// ignored, and in hybrid mode a boolean `exclusiveMinimum`/`exclusiveMaximum` makes
/// `minimum`/`maximum` exclusive (draft-04 style).
fn helm3_tolerances(schema: &mut Value, hybrid: bool) {
    let Value::Object(o) = schema else { return };
    for key in ["enum", "required"] {
        if o.get(key).and_then(Value::as_array).is_some_and(Vec::is_empty) {
            o.remove(key);
        }
    }
    if hybrid {
        for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            if let Some(Value::Bool(on)) = o.get(exclusive).cloned() {
                o.remove(exclusive);
                if on && let Some(limit) = o.remove(bound) {
                    o.insert(exclusive.to_string(), limit);
                }
            }
        }
    }
    for (key, value) in o.iter_mut() {
        if !DATA_KEYWORDS.contains(&key.as_str()) {
            match value {
                Value::Array(items) => items.iter_mut().for_each(|s| helm3_tolerances(s, hybrid)),
                other => helm3_tolerances(other, hybrid),
            }
        }
    }
}

/// Go's `net/mail.ParseAddress` (gojsonschema's `email`): `addr-spec` or `name <addr-spec>`,
/// the local part a dot-atom or a quoted string, the domain a dot-atom or a `[literal]`.
fn go_mail_address(text: &str) -> bool {
    let text = text.trim();
    let addr = match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
        Some((name, addr)) => {
            if name.contains(['<', '>', '@']) {
                return false;
            }
            addr
        }
        None => text,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    let atext = |c: char| !c.is_ascii() || (c.is_ascii_graphic() && !"()<>[]:;@\\,\".".contains(c));
    let dot_atom = |s: &str| !s.is_empty() && s.split('.').all(|part| !part.is_empty() && part.chars().all(atext));
    let quoted = |s: &str| s.len() >= 2 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains(['"', '\\']);
    let literal = |s: &str| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')).is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    (dot_atom(local) || quoted(local)) && (dot_atom(domain) || literal(domain))
}

/// The Go `time.Parse` layouts gojsonschema checks `date-time`, `date` and `time` with.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum GoLayout {
    /// `2006-01-02T15:04:05Z07:00`
    Rfc3339,
    /// `2006-01-02`
    Date,
    /// `15:04:05Z07:00`, else `15:04:05`
    Time,
}

/// Go's `time.Parse` for gojsonschema's layouts: a 4-digit year, 2-digit month and day (the day
/// within the month), a 1- or 2-digit hour, 2-digit minutes and seconds, an optional fraction
/// (`.` or `,`), and `Z` or `±hh:mm` (hours <= 24, minutes <= 60) — optional for `time`.
pub(crate) fn go_time_parse(text: &str, layout: GoLayout) -> bool {
    fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
        let head = s.get(..n).filter(|h| h.bytes().all(|b| b.is_ascii_digit()))?;
        Some((head.parse().ok()?, &s[n..]))
    }
    fn date(s: &str) -> Option<&str> {
        let (year, s) = digits(s, 4)?;
        let (month, s) = digits(s.strip_prefix('-')?, 2)?;
        let (day, s) = digits(s.strip_prefix('-')?, 2)?;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&day).then_some(s)
    }
    fn time(s: &str, zone_required: bool) -> Option<&str> {
        let (hour, s) = digits(s, 2).or_else(|| digits(s, 1))?;
        let (minute, s) = digits(s.strip_prefix(':')?, 2)?;
        let (second, mut s) = digits(s.strip_prefix(':')?, 2)?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        if let Some(rest) = s.strip_prefix(['.', ',']).filter(|r| r.starts_with(|c: char| c.is_ascii_digit())) {
            s = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        if let Some(rest) = s.strip_prefix('Z') {
            return Some(rest);
        }
        let Some(offset) = s.strip_prefix(['+', '-']) else { return (!zone_required).then_some(s) };
        let (zone_hours, offset) = digits(offset, 2)?;
        let (zone_minutes, rest) = digits(offset.strip_prefix(':')?, 2)?;
        (zone_hours <= 24 && zone_minutes <= 60).then_some(rest)
    }
    let rest = match layout {
        GoLayout::Rfc3339 => date(text).and_then(|s| s.strip_prefix('T')).and_then(|s| time(s, true)),
        GoLayout::Date => date(text),
        GoLayout::Time => time(text, false),
    };
    rest == Some("")
}

/// RFC 1123 host names: dot-separated labels of 1–63 letters, digits and inner hyphens.
/// gojsonschema allows no trailing dot and up to 255 characters; santhosh-tekuri/jsonschema
/// drops one trailing dot and allows up to 253.
fn hostname(text: &str, dialect: HelmDialect) -> bool {
    let (name, max) = match dialect {
        HelmDialect::Helm3 => (text, 255),
        HelmDialect::Helm4 => (text.strip_suffix('.').unwrap_or(text), 253),
    };
    name.len() <= max
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len()) && !label.starts_with('-') && !label.ends_with('-') && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// santhosh-tekuri/jsonschema's `email`: at most 254 characters, `local@domain` split at the last
/// `@`; the local part (at most 64) quoted without `\\` or `"` inside, or a dot-atom of letters,
/// digits and ``.!#$%&'*+-/=?^_`{|}~``; the domain a `[IPv4]`, `[IPv6:…]` or a host name.
fn santhosh_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else { return false };
    if text.len() > 254 || local.len() > 64 {
        return false;
    }
    let local_ok = if local.len() > 1 && local.starts_with('"') {
        !local[1..local.len() - 1].contains(['\\', '"'])
    } else {
        !local.starts_with('.') && !local.ends_with('.') && !local.contains("..") && local.chars().all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~".contains(c))
    };
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => match literal.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => literal.parse::<std::net::Ipv4Addr>().is_ok(),
        },
        None => hostname(domain, HelmDialect::Helm4),
    };
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid(dialect: HelmDialect, schema: Value, value: Value) -> bool {
        dialect.compile(&schema).unwrap().is_valid(&dialect.values_as_validated(&value))
    }

    #[test]
    fn whole_floats_are_integers_to_both_helms_in_every_draft_and_union() {
        for dialect in [HelmDialect::Helm3, HelmDialect::Helm4] {
            for uri in [None, Some("http://json-schema.org/draft-04/schema#"), Some("http://json-schema.org/draft-07/schema#"), Some("https://json-schema.org/draft/2020-12/schema")] {
                for ty in [json!("integer"), json!(["integer", "null"]), json!(["integer", "null", "string"])] {
                    let mut schema = json!({"properties": {"i": {"type": ty}}});
                    if let Some(u) = uri {
                        schema["$schema"] = json!(u);
                    }
                    assert!(valid(dialect, schema.clone(), json!({"i": 3.0})), "{dialect:?} {schema}");
                    assert!(valid(dialect, schema.clone(), json!({"i": 1e3})), "{dialect:?} {schema}");
                    assert!(!valid(dialect, schema.clone(), json!({"i": 3.5})), "{dialect:?} {schema}");
                }
            }
        }
        let v = json!({"a": [1.0, -2.0, 2.5], "b": 7});
        assert_eq!(HelmDialect::Helm4.values_as_validated(&v).into_owned(), json!({"a": [1, -2, 2.5], "b": 7}));
        assert!(matches!(HelmDialect::Helm4.values_as_validated(&json!({"b": 7})), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn format_is_asserted_by_helm_3_always_and_by_helm_4_under_draft_4_to_7() {
        let schema = |uri: Option<&str>| {
            let mut s = json!({"properties": {"e": {"format": "email"}}});
            if let Some(u) = uri {
                s["$schema"] = json!(u);
            }
            s
        };
        let bad = json!({"e": "notanemail"});
        for uri in [None, Some("http://json-schema.org/draft-04/schema#"), Some("https://json-schema.org/draft/2019-09/schema"), Some("https://json-schema.org/draft/2020-12/schema")] {
            assert!(!valid(HelmDialect::Helm3, schema(uri), bad.clone()), "{uri:?}");
        }
        assert!(!valid(HelmDialect::Helm4, schema(Some("http://json-schema.org/draft-07/schema")), bad.clone()));
        assert!(!valid(HelmDialect::Helm4, schema(Some("https://json-schema.org/draft-06/schema#")), bad.clone()));
        for uri in [None, Some("http://json-schema.org/schema#"), Some("https://json-schema.org/draft/2020-12/schema")] {
            assert!(valid(HelmDialect::Helm4, schema(uri), bad.clone()), "{uri:?}");
        }
        let err = HelmDialect::Helm4.compile(&schema(Some("http://example.com/meta"))).unwrap_err().to_string();
        assert!(err.contains("Helm 4 would download it"), "{err}");
        assert!(HelmDialect::Helm3.compile(&schema(Some("http://example.com/meta"))).is_ok());
    }

    #[test]
    fn helm_3_ignores_what_only_the_meta_schemas_forbid() {
        let d4 = json!({"$schema": "http://json-schema.org/draft-04/schema#", "required": [], "properties": {"i": {"enum": []}}});
        assert!(valid(HelmDialect::Helm3, d4.clone(), json!({"i": 1})));
        assert!(HelmDialect::Helm4.compile(&d4).is_err());
        let err = HelmDialect::Helm4.compile(&json!({"$schema": "http://json-schema.org/draft-07/schema#", "properties": {"i": {"enum": []}}})).unwrap_err().to_string();
        assert!(err.contains("/properties/i") && err.contains("`enum` is empty"), "{err}");
        // Hybrid mode (no draft-04/06/07 `$schema`): draft-04 boolean bounds still work.
        let hybrid = json!({"properties": {"i": {"minimum": 0, "exclusiveMinimum": true}}});
        assert!(!valid(HelmDialect::Helm3, hybrid.clone(), json!({"i": 0})));
        assert!(valid(HelmDialect::Helm3, hybrid.clone(), json!({"i": 1})));
        assert!(HelmDialect::Helm4.compile(&hybrid).is_err());
        // Malformed keywords fail for both.
        for broken in [json!({"type": "integr"}), json!({"properties": {"i": {"minimum": "x"}}}), json!({"properties": {"i": {"pattern": "("}}})] {
            assert!(HelmDialect::Helm3.compile(&broken).is_err() && HelmDialect::Helm4.compile(&broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn go_formats_of_gojsonschema() {
        for ok in ["a@b.c", "a@b", "A <a@b.c>", "<a@b.c>", "a@[1.2.3.4]", "\"a b\"@c.d", "a+b@c.d"] {
            assert!(go_mail_address(ok), "{ok}");
        }
        for bad in ["notanemail", "a.@b.c", "a b@c.d", ".a@b.c", "a@b..c", "a@", "@b"] {
            assert!(!go_mail_address(bad), "{bad}");
        }
        for ok in ["2020-01-01T00:00:00Z", "2020-01-01T00:00:00.123+01:00", "2020-01-01T1:00:00Z", "2020-02-29T00:00:00,5Z", "2020-01-01T00:00:00+24:00"] {
            assert!(go_time_parse(ok, GoLayout::Rfc3339), "{ok}");
        }
        for bad in ["2020-01-01t00:00:00z", "2020-01-01T00:00:00", "2020-02-30T00:00:00Z", "2020-01-01T00:00:60Z", "2020-01-01 00:00:00Z", "2021-02-29T00:00:00Z", "2020-1-01T00:00:00Z"] {
            assert!(!go_time_parse(bad, GoLayout::Rfc3339), "{bad}");
        }
        assert!(go_time_parse("10:00:00", GoLayout::Time) && go_time_parse("10:00:00Z", GoLayout::Time) && !go_time_parse("10:00", GoLayout::Time));
        assert!(go_time_parse("2020-02-29", GoLayout::Date) && !go_time_parse("2021-02-29", GoLayout::Date));
    }

    #[test]
    fn helm_4_email_and_host_names() {
        for ok in ["a@b.c", "a@b", "a@[1.2.3.4]", "a@[IPv6:::1]", "\"a b\"@c.d"] {
            assert!(santhosh_email(ok), "{ok}");
        }
        for bad in ["A <a@b.c>", "a.@b.c", "a..b@c.d", "a@-b.c", "a@[1.2.3]"] {
            assert!(!santhosh_email(bad), "{bad}");
        }
        assert!(hostname("a.com.", HelmDialect::Helm4) && !hostname("a.com.", HelmDialect::Helm3));
        for bad in ["-a.com", "a_b.com", "a..com", ""] {
            assert!(!hostname(bad, HelmDialect::Helm3) && !hostname(bad, HelmDialect::Helm4), "{bad}");
        }
    }
}
