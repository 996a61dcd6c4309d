//! `gomemlimit`: a Go container's soft memory limit must sit inside a window below its memory
//! limit (default 80–95%), in units the Go runtime can parse; a missing GOMEMLIMIT is a warning.

use serde_json::Value;

use super::quantity::{GoMemLimit, Quantity, parse_go_memlimit};
use super::resources::Resources;
use super::{Severity, Sink};
use crate::manifest::{Container, Manifest, PodTemplate, Resource};

const RULE: &str = "gomemlimit";

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    if !sink.enabled(RULE) {
        return;
    }
    for (r, t) in manifest.workloads() {
        for c in super::selectors::serving_containers(&t) {
            let Some(limit) = Resources::of(c.body.get("resources"), false).limits.get("memory").copied().filter(|q| q.is_positive()) else {
                continue;
            };
            let limit_bytes = limit.ceil_units();
            let Some(env) = c.env().filter(|e| e.get("name").and_then(Value::as_str) == Some("GOMEMLIMIT")).last() else {
                let opts = &sink.config().gomemlimit;
                let image = c.image().unwrap_or("");
                if opts.require && !sink.config().non_go_image(image) {
                    sink.report_at(
                        r,
                        RULE,
                        Severity::Warning,
                        Some(format!("{}.env", c.path(&t))),
                        format!("container `{}` has a memory limit of {limit_bytes} bytes but no GOMEMLIMIT (if the image is not a Go program, list it under gomemlimit.nonGoImages)", c.name),
                    );
                }
                continue;
            };
            let path = Some(format!("{}.env[name=GOMEMLIMIT]", c.path(&t)));
            let bytes = match resolve(manifest, r, &t, &c, env) {
                Resolved::Bytes(b, how) => (b, how),
                Resolved::Unknown => continue,
                Resolved::Off => {
                    sink.report(r, RULE, path, format!("container `{}`: GOMEMLIMIT=off disables the soft limit; the GC ignores the {limit_bytes}-byte memory limit", c.name));
                    continue;
                }
                Resolved::Invalid(msg) => {
                    sink.report(r, RULE, path, format!("container `{}`: GOMEMLIMIT {msg}", c.name));
                    continue;
                }
            };
            let (bytes, how) = bytes;
            let percent = bytes as f64 * 100.0 / limit_bytes as f64;
            let opts = &sink.config().gomemlimit;
            let (lo, hi) = (opts.min_percent, opts.max_percent);
            let problem = if bytes as i128 > limit_bytes {
                Some("above the memory limit: the container is OOM-killed before the GC reacts")
            } else if percent > hi {
                Some("too close to the memory limit to leave headroom for non-heap memory")
            } else if percent < lo {
                Some("far below the memory limit: memory is wasted and the GC runs too often")
            } else {
                None
            };
            if let Some(problem) = problem {
                sink.report(
                    r,
                    RULE,
                    path,
                    format!("container `{}`: GOMEMLIMIT is {bytes} bytes{how}, {percent:.1}% of the memory limit {limit} ({limit_bytes} bytes); {problem} (window {lo}–{hi}%)", c.name),
                );
            }
        }
    }
}

enum Resolved {
    Bytes(i64, String),
    Off,
    Invalid(String),
    /// Set from something chartproof cannot evaluate (a $(VAR) reference, an object outside the release).
    Unknown,
}

fn resolve(manifest: &Manifest, r: &Resource, t: &PodTemplate, c: &Container, env: &Value) -> Resolved {
    if let Some(v) = env.get("value") {
        let text = super::selectors::scalar_text(v);
        if text.contains("$(") {
            return Resolved::Unknown;
        }
        return from_text(&text, String::new());
    }
    let Some(from) = env.get("valueFrom") else { return Resolved::Invalid("has neither value nor valueFrom".into()) };
    if let Some(rf) = from.get("resourceFieldRef") {
        let resource = rf.get("resource").and_then(Value::as_str).unwrap_or("");
        let target = match rf.get("containerName").and_then(Value::as_str) {
            Some(name) => t.containers().into_iter().find(|x| x.name == name),
            None => Some(*c),
        };
        let Some(target) = target else { return Resolved::Unknown };
        let res = Resources::of(target.body.get("resources"), true);
        let q = match resource {
            "limits.memory" => res.limits.get("memory"),
            "requests.memory" => res.requests.get("memory"),
            _ => return Resolved::Invalid(format!("comes from resourceFieldRef `{resource}`, which is not a memory amount")),
        };
        let Some(q) = q else { return Resolved::Unknown };
        let divisor = match rf.get("divisor").map(Quantity::from_json) {
            None | Some(None) => Quantity::parse("1").unwrap(),
            Some(Some(Ok(d))) => d,
            Some(Some(Err(e))) => return Resolved::Invalid(format!("resourceFieldRef divisor: {e}")),
        };
        if !divisor.is_positive() {
            return Resolved::Unknown;
        }
        // The kubelet writes ceil(value / divisor) as a bare number, which Go reads as bytes.
        let n = (q.0 + divisor.0 - 1) / divisor.0;
        let how = format!(" (resourceFieldRef {resource} / {divisor})");
        return i64::try_from(n).map(|b| Resolved::Bytes(b, how)).unwrap_or(Resolved::Unknown);
    }
    for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
        let Some(kr) = from.get(field) else { continue };
        let (Some(name), Some(key)) = (kr.get("name").and_then(Value::as_str), kr.get("key").and_then(Value::as_str)) else { return Resolved::Unknown };
        let Some(obj) = manifest.of_kind(kind).find(|o| o.name == name && super::selectors::same_namespace(o, r)) else { return Resolved::Unknown };
        if let Some(v) = obj.body.get("data").and_then(|d| d.get(key)) {
            let text = super::selectors::scalar_text(v);
            return if kind == "ConfigMap" { from_text(&text, format!(" (from ConfigMap {name} key {key})")) } else { Resolved::Unknown };
        }
        if let Some(v) = obj.body.get("stringData").and_then(|d| d.get(key)) {
            return from_text(&super::selectors::scalar_text(v), format!(" (from {kind} {name} key {key})"));
        }
        return Resolved::Unknown;
    }
    Resolved::Unknown
}

fn from_text(text: &str, how: String) -> Resolved {
    match parse_go_memlimit(text) {
        Ok(GoMemLimit::Bytes(b)) => Resolved::Bytes(b, if how.is_empty() { format!(" (`{text}`)") } else { how }),
        Ok(GoMemLimit::Off) => Resolved::Off,
        Err(e) => Resolved::Invalid(e),
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::Severity;
    use crate::rules::testutil::rules_hit;

    fn deploy(limit: &str, env: &str) -> String {
        format!("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec:\n      containers:\n      - name: app\n        image: x\n        resources: {{limits: {{memory: {limit}}}}}\n        env: {env}\n")
    }

    #[test]
    fn window_and_units() {
        assert!(rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, value: 920MiB}]"), "gomemlimit").is_empty());
        // 1G limit with 900MiB: 94.4% — inside; 1000MiB over 1G is above the limit.
        assert!(rules_hit(&deploy("1G", "[{name: GOMEMLIMIT, value: 900MiB}]"), "gomemlimit").is_empty());
        let above = rules_hit(&deploy("1G", "[{name: GOMEMLIMIT, value: 1000MiB}]"), "gomemlimit");
        assert!(above[0].message.contains("above the memory limit"), "{}", above[0].message);
        let low = rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, value: 256MiB}]"), "gomemlimit");
        assert!(low[0].message.contains("far below"));
        let k8s_units = rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, value: 900Mi}]"), "gomemlimit");
        assert!(k8s_units[0].message.contains("aborts"), "{}", k8s_units[0].message);
        assert_eq!(k8s_units[0].severity, Severity::Error);
    }

    #[test]
    fn missing_is_a_warning_and_resource_field_ref_is_resolved() {
        let missing = rules_hit(&deploy("1Gi", "[]"), "gomemlimit");
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].severity, Severity::Warning);
        // resourceFieldRef with divisor 1Mi writes "1024", which Go reads as 1024 bytes.
        let div = rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}]"), "gomemlimit");
        assert!(div[0].message.contains("1024 bytes"), "{}", div[0].message);
        let full = rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, valueFrom: {resourceFieldRef: {resource: limits.memory}}}]"), "gomemlimit");
        assert!(full[0].message.contains("100.0%"), "{}", full[0].message);
        assert!(rules_hit(&deploy("1Gi", "[{name: GOMEMLIMIT, value: \"$(LIMIT)\"}]"), "gomemlimit").is_empty());
    }
}
