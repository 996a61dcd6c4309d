//! The values the Kubernetes CEL libraries wrap, parsed as the API server (Go) parses them: URLs
//! the way `net/url.ParseRequestURI` accepts them (absolute URI or absolute path), semantic
//! versions the way blang/semver does, with Kubernetes' optional normalization, and the named
//! formats of `format.<name>().validate(s)` as apimachinery's validators check them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::contract::dialect::{GoLayout, go_time_parse};

/// A URL accepted by Kubernetes' `url()`: an absolute URI or an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    pub scheme: String,
    /// `host[:port]` as written, `[::1]:80` for IPv6.
    pub host: String,
    /// The path as written (escaped), without query or fragment.
    raw_path: String,
    raw_query: String,
}

/// Go's `shouldEscape` in the modes used here: the characters a path keeps as they are.
fn path_keeps(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&c)
}

/// Characters Go lets stand in an already escaped path (`validEncoded`).
fn validly_encoded(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@[]/%".contains(&c)
}

/// Characters Go allows in a host (`shouldEscape` in host mode, and `%`).
fn host_allows(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || "-_.~!$&'()*+,;=:[]<>\"%".contains(c)
}

/// `%XX` decoding; `plus_is_space` for query components. None on a malformed escape.
fn unescape(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A port after a host: empty, or `:` and digits.
fn valid_optional_port(port: &str) -> bool {
    port.is_empty() || port.strip_prefix(':').is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

impl RequestUrl {
    /// Parse `text` as `url.ParseRequestURI` does (the fragment, which that keeps in the path or
    /// query, is dropped as `url.Parse` drops it).
    pub fn parse(text: &str) -> Result<RequestUrl, String> {
        if text.is_empty() {
            return Err("empty url".into());
        }
        if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(format!("parse {text:?}: net/url: invalid control character in URL"));
        }
        let (scheme, rest) = split_scheme(text)?;
        // ParseRequestURI takes what follows '?' as the query, fragment and all.
        let (rest, query) = rest.split_once('?').map_or((rest, None), |(r, q)| (r, Some(q)));
        if !rest.starts_with('/') {
            // An opaque URI (`mailto:x`) has a scheme; anything else relative is refused.
            if scheme.is_empty() {
                return Err(format!("parse {text:?}: invalid URI for request"));
            }
        }
        let (host, raw_path) = match rest.strip_prefix("//") {
            Some(authority_and_path) if !scheme.is_empty() => {
                let end = authority_and_path.find('/').unwrap_or(authority_and_path.len());
                let (authority, path) = authority_and_path.split_at(end);
                (parse_host(authority.rsplit_once('@').map_or(authority, |(_, host)| host), text)?, path)
            }
            _ => (String::new(), rest),
        };
        let raw_path = raw_path.split_once('#').map_or(raw_path, |(path, _)| path);
        if unescape(raw_path, false).is_none() {
            return Err(format!("parse {text:?}: invalid URL escape"));
        }
        let raw_query = query.map(|q| q.split_once('#').map_or(q, |(q, _)| q)).unwrap_or_default();
        Ok(RequestUrl { scheme: scheme.to_ascii_lowercase(), host, raw_path: raw_path.to_string(), raw_query: raw_query.to_string() })
    }

    /// The host without its port, and without the brackets of an IPv6 address.
    pub fn hostname(&self) -> &str {
        let host = &self.host;
        if let Some(bracketed) = host.strip_prefix('[') {
            return bracketed.split_once(']').map_or(bracketed, |(address, _)| address);
        }
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    }

    /// The port after the host, or "".
    pub fn port(&self) -> &str {
        let after_address = self.host.rsplit_once(']').map_or(self.host.as_str(), |(_, rest)| rest);
        match after_address.rsplit_once(':') {
            Some((_, port)) if port.bytes().all(|b| b.is_ascii_digit()) => port,
            _ => "",
        }
    }

    /// The path escaped as `URL.EscapedPath` does: as written when that is a valid encoding,
    /// else escaped anew (`/with space` → `/with%20space`).
    pub fn escaped_path(&self) -> String {
        if self.raw_path.bytes().all(validly_encoded) {
            return self.raw_path.clone();
        }
        let path = unescape(&self.raw_path, false).unwrap_or_default();
        path.bytes().map(|b| if path_keeps(b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
    }

    /// The query parameters, each key with its values in order (`url.ParseQuery`: pairs split on
    /// `&`, unescaped; a pair with `;` or a bad escape is skipped).
    pub fn query(&self) -> BTreeMap<String, Vec<String>> {
        let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in self.raw_query.split('&').filter(|p| !p.is_empty() && !p.contains(';')) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let (Some(key), Some(value)) = (unescape(key, true), unescape(value, true)) {
                query.entry(key).or_default().push(value);
            }
        }
        query
    }
}

/// Go's `getScheme`: the scheme and the rest, or no scheme when the text does not start with one.
fn split_scheme(text: &str) -> Result<(&str, &str), String> {
    for (i, c) in text.char_indices() {
        match c {
            c if c.is_ascii_alphabetic() => {}
            c if c.is_ascii_digit() || "+-.".contains(c) => {
                if i == 0 {
                    return Ok(("", text));
                }
            }
            ':' if i == 0 => return Err(format!("parse {text:?}: missing protocol scheme")),
            ':' => return Ok((&text[..i], &text[i + 1..])),
            _ => return Ok(("", text)),
        }
    }
    Ok(("", text))
}

/// Go's `parseHost`: a bracketed IPv6 address or a name, each with an optional numeric port.
fn parse_host(host: &str, text: &str) -> Result<String, String> {
    let port = if let Some(bracketed) = host.strip_prefix('[') {
        let (_, after) = bracketed.split_once(']').ok_or_else(|| format!("parse {text:?}: missing ']' in host"))?;
        after
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    if !valid_optional_port(port) {
        return Err(format!("parse {text:?}: invalid port {port:?} after host"));
    }
    if let Some(bad) = host.chars().find(|c| !host_allows(*c)) {
        return Err(format!("parse {text:?}: invalid character {bad:?} in host name"));
    }
    Ok(host.to_string())
}

/// A semantic version (semver.org 2.0.0); build metadata does not count in comparisons.
#[derive(Debug, Clone)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pre: Vec<String>,
}

impl PartialEq for Semver {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Semver {}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Semver {
    /// Precedence: major, minor, patch, then a pre-release is lower than none, compared by
    /// identifiers (numeric ones numerically and below alphanumeric ones).
    fn cmp(&self, other: &Self) -> Ordering {
        let numbers = (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        numbers.then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let identifier = |a: &String, b: &String| match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => a.cmp(b),
                };
                self.pre.iter().zip(&other.pre).map(|(a, b)| identifier(a, b)).find(|o| o.is_ne()).unwrap_or_else(|| self.pre.len().cmp(&other.pre.len()))
            }
        })
    }
}

/// A version number part: digits without a leading zero (except `0` itself).
fn number(part: &str) -> Option<u64> {
    let canonical = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'));
    canonical.then(|| part.parse().ok()).flatten()
}

fn identifiers(text: &str) -> Option<Vec<String>> {
    let valid = |id: &&str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let ids: Vec<&str> = text.split('.').collect();
    ids.iter().all(valid).then(|| ids.iter().map(|id| id.to_string()).collect())
}

impl Semver {
    /// Parse `text`; with `normalize` (Kubernetes' second argument) a leading `v` is dropped,
    /// missing minor and patch numbers are 0 and leading zeros are removed first.
    pub fn parse(text: &str, normalize: bool) -> Result<Semver, String> {
        let error = || format!("{text:?} is not a valid semantic version");
        let (core, build) = text.split_once('+').map_or((text, None), |(c, b)| (c, Some(b)));
        let (core, pre) = core.split_once('-').map_or((core, None), |(c, p)| (c, Some(p)));
        let mut parts: Vec<String> = core.split('.').map(str::to_string).collect();
        if normalize {
            if let Some(first) = parts.first_mut() {
                *first = first.strip_prefix('v').unwrap_or(first).to_string();
            }
            for part in &mut parts {
                let trimmed = part.trim_start_matches('0');
                *part = if trimmed.is_empty() && !part.is_empty() { "0".into() } else { trimmed.to_string() };
            }
            while parts.len() < 3 {
                parts.push("0".into());
            }
        }
        let [major, minor, patch] = parts.as_slice() else { return Err(error()) };
        let (major, minor, patch) = (number(major).ok_or_else(error)?, number(minor).ok_or_else(error)?, number(patch).ok_or_else(error)?);
        let pre = match pre {
            Some(pre) => identifiers(pre).filter(|ids| ids.iter().all(|id| id.parse::<u64>().is_err() || number(id).is_some())).ok_or_else(error)?,
            None => Vec::new(),
        };
        if let Some(build) = build {
            identifiers(build).ok_or_else(error)?;
        }
        Ok(Semver { major, minor, patch, pre })
    }
}

/// The named formats of the Kubernetes format library (`format.dns1123Label()`, ...).
pub const NAMED_FORMATS: &[&str] = &[
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn matches_whole(pattern: &str, value: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(value))
}

/// apimachinery's `RegexError` and `MaxLenError` checks of one pattern.
fn pattern_errors(value: &str, max: usize, pattern: &str, what: &str, examples: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > max {
        errors.push(format!("must be no more than {max} characters"));
    }
    if !matches_whole(pattern, value) {
        errors.push(format!("{what} (e.g. {examples}, regex used for validation is '{pattern}')"));
    }
    errors
}

fn dns1123_label(value: &str) -> Vec<String> {
    let what = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
    pattern_errors(value, 63, DNS1123_LABEL, what, "'my-name',  or '123-abc'")
}

fn dns1123_subdomain(value: &str) -> Vec<String> {
    let what = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    pattern_errors(value, 253, DNS1123_SUBDOMAIN, what, "'example.com'")
}

fn dns1035_label(value: &str) -> Vec<String> {
    let what = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
    pattern_errors(value, 63, DNS1035_LABEL, what, "'my-name',  or 'abc-123'")
}

/// A generated-name prefix may end in '-' (apimachinery's `maskTrailingDash`).
fn mask_trailing_dash(value: &str) -> String {
    match value.strip_suffix('-') {
        Some(rest) if value.len() > 1 => format!("{rest}a"),
        _ => value.to_string(),
    }
}

/// apimachinery's `IsQualifiedName`: an optional DNS subdomain prefix and `/`, then a name.
fn qualified_name(value: &str) -> Vec<String> {
    let (prefix, name) = match value.split('/').collect::<Vec<_>>().as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => return vec!["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into()],
    };
    let mut errors = match prefix {
        Some("") => vec!["prefix part must be non-empty".to_string()],
        Some(prefix) => dns1123_subdomain(prefix).into_iter().map(|e| format!("prefix part {e}")).collect(),
        None => Vec::new(),
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".into());
    } else {
        let what = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
        errors.extend(pattern_errors(name, 63, QUALIFIED_NAME, what, "'MyName',  or 'my.name',  or '123-abc'").into_iter().map(|e| e.replace("must be no more", "name part must be no more")));
    }
    errors
}

fn label_value(value: &str) -> Vec<String> {
    let what = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    pattern_errors(value, 63, LABEL_VALUE, what, "'MyValue',  or 'my_value',  or '12345'")
}

/// The problems of `value` in the named `format` (none: it is valid), as the Kubernetes format
/// library reports them; None when there is no such format.
pub fn format_errors(format: &str, value: &str) -> Option<Vec<String>> {
    use base64::Engine;
    let invalid = |ok: bool, message: &str| if ok { Vec::new() } else { vec![message.to_string()] };
    Some(match format {
        "dns1123Label" => dns1123_label(value),
        "dns1123Subdomain" => dns1123_subdomain(value),
        "dns1035Label" => dns1035_label(value),
        "dns1123LabelPrefix" => dns1123_label(&mask_trailing_dash(value)),
        "dns1123SubdomainPrefix" => dns1123_subdomain(&mask_trailing_dash(value)),
        "dns1035LabelPrefix" => dns1035_label(&mask_trailing_dash(value)),
        "qualifiedName" => qualified_name(value),
        "labelValue" => label_value(value),
        "uri" => RequestUrl::parse(value).err().map(|e| vec![format!("invalid URI: {e}")]).unwrap_or_default(),
        "uuid" => invalid(matches_whole("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value), "does not match the UUID format"),
        "byte" => invalid(base64::engine::general_purpose::STANDARD.decode(value).is_ok(), "invalid base64"),
        "date" => invalid(go_time_parse(value, GoLayout::Date), "invalid date"),
        "datetime" => invalid(go_time_parse(value, GoLayout::Rfc3339), "invalid datetime"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_as_go_parses_them() {
        for good in ["https://user:pass@example.com:80/path?query=val#fragment", "/absolute-path", "https://[::1]:80/", "mailto:someone@example.com"] {
            assert!(RequestUrl::parse(good).is_ok(), "{good}");
        }
        for bad in ["https://a:b:c/", "../relative-path", "example.com", "", "https://exa mple.com/", ":x", "https://[::1/"] {
            assert!(RequestUrl::parse(bad).is_err(), "{bad}");
        }
        let url = RequestUrl::parse("https://example.com:80/a%2Fb?k=v#f").unwrap();
        assert_eq!((url.scheme.as_str(), url.host.as_str(), url.hostname(), url.port()), ("https", "example.com:80", "example.com", "80"));
        assert_eq!(url.escaped_path(), "/a%2Fb");
        assert_eq!(RequestUrl::parse("https://example.com/path with spaces/").unwrap().escaped_path(), "/path%20with%20spaces/");
        assert_eq!(RequestUrl::parse("https://example.com/p?a=1&b=x+y&a=2&c;d=3").unwrap().query(), BTreeMap::from([("a".to_string(), vec!["1".to_string(), "2".to_string()]), ("b".to_string(), vec!["x y".to_string()])]));
    }

    #[test]
    fn named_formats_as_apimachinery_validates_them() {
        let valid = |format: &str, value: &str| format_errors(format, value).unwrap().is_empty();
        assert!(valid("dns1123Label", "my-name") && valid("dns1123Label", "123-abc"));
        assert!(!valid("dns1123Label", "-invalid") && !valid("dns1123Label", "My-Name") && !valid("dns1123Label", &"a".repeat(64)));
        assert_eq!(format_errors("dns1123Label", &"a".repeat(64)).unwrap(), ["must be no more than 63 characters"]);
        assert!(valid("dns1123Subdomain", "example.com") && !valid("dns1123Subdomain", "example..com"));
        assert!(valid("dns1035Label", "abc-123") && !valid("dns1035Label", "123-abc"));
        assert!(valid("dns1123LabelPrefix", "my-name-") && !valid("dns1123Label", "my-name-"));
        assert!(valid("qualifiedName", "example.com/MyName") && valid("qualifiedName", "my.name") && !valid("qualifiedName", "a/b/c") && !valid("qualifiedName", "/name"));
        assert!(valid("labelValue", "") && valid("labelValue", "my_value") && !valid("labelValue", "-x"));
        assert!(valid("uri", "https://example.com/") && !valid("uri", "example.com"));
        assert!(valid("uuid", "123e4567-e89b-12d3-a456-426614174000") && !valid("uuid", "123e4567"));
        assert!(valid("byte", "aGVsbG8=") && !valid("byte", "not base64!"));
        assert!(valid("date", "2021-01-01") && valid("date", "2024-02-29") && !valid("date", "2023-02-29") && !valid("date", "2021-1-1"));
        assert!(valid("datetime", "2021-01-01T10:00:00Z") && valid("datetime", "2021-01-01T10:00:00.5+02:00") && !valid("datetime", "2021-01-01 10:00:00"));
        assert_eq!(format_errors("nope", "x"), None);
    }

    #[test]
    fn semantic_versions_parse_normalize_and_order() {
        let v = |text: &str| Semver::parse(text, false).unwrap();
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1") && v("1.0.0-alpha.1") < v("1.0.0-alpha.beta") && v("1.0.0-beta.11") < v("1.0.0-rc.1") && v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("1.2.3") < v("1.10.0") && v("1.0.0+build.1") == v("1.0.0"));
        for bad in ["1.0", "v1.0.0", "01.0.0", "1.0.0-01", "1.0.0-", "a.b.c"] {
            assert!(Semver::parse(bad, false).is_err(), "{bad}");
        }
        assert_eq!(Semver::parse("v01.01", true).unwrap(), v("1.1.0"));
        assert_eq!(Semver::parse("v2", true).unwrap(), v("2.0.0"));
    }
}
