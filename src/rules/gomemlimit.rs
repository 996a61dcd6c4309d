//! `gomemlimit`: a Go container's soft memory limit must sit inside a window below its memory
//! limit (default 80–95%, the lower bound rounded down and the upper one up to a whole MiB), in
//! units the Go runtime can parse; a missing GOMEMLIMIT is a warning. Well-known non-Go images
//! ([`DEFAULT_NON_GO_IMAGES`], matched by repository name) are not Go programs and are skipped.

use serde_json::Value;

use super::quantity::{GoMemLimit, Quantity, parse_go_memlimit};
use super::resources::Resources;
use super::{Severity, Sink};
use crate::manifest::{Container, Manifest, PodTemplate, Resource};

const RULE: &str = "gomemlimit";

/// Default `gomemlimit.nonGoImages`: last path component of the repository of images that are
/// not Go programs (web servers and proxies in C/C++, Erlang, JVM, Python, Node, Ruby, PHP
/// runtimes and the databases, brokers and caches built on them). Matched against the image's
/// repository name, so `nginx` covers `nginx:1.27`, `docker.io/bitnami/nginx:1.27@sha256:…` and
/// `registry.example.com/mirror/library/nginx`, but not `nginx-prometheus-exporter` (a Go program).
pub const DEFAULT_NON_GO_IMAGES: &[&str] = &[
    // Web servers, proxies, load balancers (C/C++).
    "nginx", "nginx-unprivileged", "openresty", "httpd", "apache", "haproxy", "envoy", "varnish", "squid",
    // Erlang/Elixir.
    "rabbitmq", "erlang", "elixir", "couchdb", "emqx",
    // Databases, caches and search engines (C/C++).
    "mongo", "mongodb", "postgres", "postgresql", "postgresql-repmgr", "postgis", "pgpool", "pgbouncer", "mysql", "mariadb", "mariadb-galera",
    "percona-server", "redis", "redis-sentinel", "redis-cluster", "valkey", "valkey-sentinel", "valkey-cluster", "memcached", "clickhouse",
    "clickhouse-server", "fluent-bit", "fluentd",
    // JVM.
    "elasticsearch", "opensearch", "logstash", "kafka", "zookeeper", "cassandra", "solr", "keycloak", "tomcat", "jenkins", "sonarqube",
    "openjdk", "eclipse-temurin", "amazoncorretto", "java", "neo4j", "flink", "spark", "nexus3", "activemq",
    // Interpreters and their runtimes.
    "python", "node", "ruby", "php", "php-fpm", "perl", "dotnet", "aspnet", "kibana", "opensearch-dashboards", "grafana-image-renderer",
];

/// Lowercased last path component of an image's repository (no registry, tag or digest):
/// `docker.io/bitnami/redis:7.2@sha256:…` -> `redis`.
pub fn image_repository_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last).to_ascii_lowercase()
}

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
            let (lowest, highest) = accepted_band(limit_bytes, lo, hi);
            let problem = if bytes as i128 > limit_bytes {
                Some("above the memory limit: the container is OOM-killed before the GC reacts")
            } else if (bytes as i128) > highest {
                Some("too close to the memory limit to leave headroom for non-heap memory")
            } else if (bytes as i128) < lowest {
                Some("far below the memory limit: memory is wasted and the GC runs too often")
            } else {
                None
            };
            if let Some(problem) = problem {
                sink.report(
                    r,
                    RULE,
                    path,
                    format!("container `{}`: GOMEMLIMIT is {bytes} bytes{how}, {percent:.1}% of the memory limit {limit} ({limit_bytes} bytes); {problem} (window {lo}–{hi}%: {lowest}–{highest} bytes, each bound rounded outwards to a whole MiB)", c.name),
                );
            }
        }
    }
}

const MIB: i128 = 1 << 20;

/// Accepted GOMEMLIMIT in bytes: from `lo`% of the limit rounded down to a whole MiB (charts
/// commonly compute `limit * 80 / 100` in integer MiB) to `hi`% rounded up to a whole MiB,
/// never above the limit itself.
fn accepted_band(limit_bytes: i128, lo: f64, hi: f64) -> (i128, i128) {
    let at = |percent: f64| limit_bytes as f64 * percent / 100.0;
    let lowest = (at(lo) / MIB as f64).floor() as i128 * MIB;
    let highest = ((at(hi) / MIB as f64).ceil() as i128 * MIB).min(limit_bytes);
    (lowest, highest)
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
    fn band_bounds_are_rounded_outwards_to_whole_mib() {
        // 80% of 1000M is 762.9MiB: `762MiB`, what `limit * 80 / 100` in integer MiB gives, is accepted.
        assert!(rules_hit(&deploy("1000M", "[{name: GOMEMLIMIT, value: 762MiB}]"), "gomemlimit").is_empty());
        let below = rules_hit(&deploy("1000M", "[{name: GOMEMLIMIT, value: 761MiB}]"), "gomemlimit");
        assert!(below[0].message.contains("far below") && below[0].message.contains("799014912–950009856 bytes"), "{}", below[0].message);
        // 95% of 1000M is 905.99MiB: 906MiB is inside, 907MiB too close.
        assert!(rules_hit(&deploy("1000M", "[{name: GOMEMLIMIT, value: 906MiB}]"), "gomemlimit").is_empty());
        assert!(rules_hit(&deploy("1000M", "[{name: GOMEMLIMIT, value: 907MiB}]"), "gomemlimit")[0].message.contains("too close"));
        // Never above the limit itself, however the rounding falls.
        let (_, highest) = super::accepted_band(100 * super::MIB + 1, 80.0, 100.0);
        assert_eq!(highest, 100 * super::MIB + 1);
    }

    #[test]
    fn well_known_non_go_images_are_not_asked_for_gomemlimit() {
        let with_image = |image: &str| rules_hit(&deploy("1Gi", "[]").replace("image: x", &format!("image: \"{image}\"")), "gomemlimit");
        for image in [
            "nginx:1.27",
            "docker.io/bitnami/nginx:1.27.3-debian-12-r0",
            "registry.example.com:5000/mirror/library/postgres:16@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "bitnami/rabbitmq",
            "docker.elastic.co/elasticsearch/elasticsearch:8.15.0",
            "eclipse-temurin:21-jre",
            "python:3.12-slim",
            "envoyproxy/envoy:v1.31.0",
        ] {
            assert!(with_image(image).is_empty(), "{image}");
        }
        // A Go program named after a non-Go one is still asked for: names match whole components.
        for image in ["nginx/nginx-prometheus-exporter:1.3.0", "prometheuscommunity/postgres-exporter", "goharbor/redis-photon:v2.11.0", "ghcr.io/acme/api:1.0"] {
            assert_eq!(with_image(image).len(), 1, "{image}");
        }
        assert_eq!(super::image_repository_name("Registry:5000/Bitnami/Redis:7@sha256:ab"), "redis");
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
