//! The other kinds charts ship: autoscaling (`pkg/apis/autoscaling/validation/validation.go`:
//! HorizontalPodAutoscaler), policy (`pkg/apis/policy/validation/validation.go`:
//! PodDisruptionBudget), networking (`pkg/apis/networking/validation/validation.go`: Ingress,
//! NetworkPolicy) and rbac (`pkg/apis/rbac/validation/validation.go`: roles and bindings).

use serde_json::Value;

use super::names::{is_dns1035_label, is_dns1123_subdomain, is_valid_path_segment_name, is_valid_port_name, is_valid_port_num, is_wildcard_dns1123_subdomain, validate_label_selector};
use crate::rules::quantity::Quantity;

use super::{Errors, child, index, int_at, int_or_string, list_at, present, quote, str_at};

/// `validateBehavior` / `validateScalingRules` / `validateScalingPolicy`
/// (pkg/apis/autoscaling/validation/validation.go) on the defaulted behavior: stabilization
/// windows 0–3600 s (`MaxStabilizationWindowSeconds`), selectPolicy Max, Min or Disabled, at
/// least one policy, each of type Pods or Percent with a value and a period above zero, the
/// period at most 1800 s (`MaxPeriodSeconds`).
fn validate_hpa_behavior(errs: &mut Errors, spec: &Value) {
    let Some(behavior) = spec.get("behavior").filter(|b| !b.is_null()) else { return };
    for direction in ["scaleUp", "scaleDown"] {
        let Some(rules) = behavior.get(direction).filter(|r| !r.is_null()) else { continue };
        let p = child("spec.behavior", direction);
        if let Some(window) = int_at(rules, "stabilizationWindowSeconds") {
            if window < 0 {
                errs.invalid(&child(&p, "stabilizationWindowSeconds"), window.to_string(), "must be greater than or equal to zero");
            }
            if window > 3600 {
                errs.invalid(&child(&p, "stabilizationWindowSeconds"), window.to_string(), "must be less than or equal to 3600");
            }
        }
        if let Some(select) = str_at(rules, "selectPolicy").filter(|s| !["Max", "Min", "Disabled"].contains(s)) {
            errs.not_supported(&child(&p, "selectPolicy"), quote(select), &["Disabled", "Max", "Min"]);
        }
        let policies = list_at(rules, "policies");
        if policies.is_empty() {
            errs.required(&child(&p, "policies"), "must specify at least one Policy");
        }
        for (i, policy) in policies.iter().enumerate() {
            let pp = index(&child(&p, "policies"), i);
            let kind = str_at(policy, "type").unwrap_or("");
            if !["Pods", "Percent"].contains(&kind) {
                errs.not_supported(&child(&pp, "type"), quote(kind), &["Percent", "Pods"]);
            }
            let value = int_at(policy, "value").unwrap_or(0);
            if value <= 0 {
                errs.invalid(&child(&pp, "value"), value.to_string(), "must be greater than zero");
            }
            let period = int_at(policy, "periodSeconds").unwrap_or(0);
            if period <= 0 {
                errs.invalid(&child(&pp, "periodSeconds"), period.to_string(), "must be greater than zero");
            }
            if period > 1800 {
                errs.invalid(&child(&pp, "periodSeconds"), period.to_string(), "must be less than or equal to 1800");
            }
        }
    }
}

/// `ValidateHorizontalPodAutoscalerSpec` (v2): minReplicas ≥ 1, maxReplicas ≥ 1 and ≥
/// minReplicas, the target reference, metrics.
pub fn validate_hpa(errs: &mut Errors, spec: &Value) {
    let min = int_at(spec, "minReplicas");
    let max = int_at(spec, "maxReplicas").unwrap_or(0);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.invalid("spec.minReplicas", m.to_string(), "must be greater than or equal to 1");
    }
    if max < 1 {
        errs.invalid("spec.maxReplicas", max.to_string(), "must be greater than 0");
    }
    if min.is_some_and(|m| max < m) {
        errs.invalid("spec.maxReplicas", max.to_string(), "must be greater than or equal to `minReplicas`");
    }
    validate_cross_version_object_reference(errs, spec.get("scaleTargetRef").unwrap_or(&Value::Null), "spec.scaleTargetRef");
    // validateMetrics
    for (i, metric) in list_at(spec, "metrics").iter().enumerate() {
        validate_metric_spec(errs, metric, &index("spec.metrics", i));
    }
    validate_hpa_behavior(errs, spec);
}

/// `validateMetricSpec` (autoscaling/validation/validation.go): the type is one of the
/// sources; the first source present (in Go's order) is validated; the source of the type must
/// be present and no other.
fn validate_metric_spec(errs: &mut Errors, metric: &Value, path: &str) {
    let t = str_at(metric, "type").unwrap_or("");
    if t.is_empty() {
        errs.required(&child(path, "type"), "must specify a metric source type");
    }
    let types = ["ContainerResource", "External", "Object", "Pods", "Resource"];
    if !types.contains(&t) {
        errs.not_supported(&child(path, "type"), quote(t), &types);
    }
    let mut sources = Vec::new();
    for source in ["object", "external", "pods", "resource", "containerResource"] {
        let Some(body) = metric.get(source).filter(|v| !v.is_null()) else { continue };
        sources.push(source);
        if sources.len() == 1 {
            validate_metric_source(errs, source, body, &child(path, source));
        }
    }
    // `strings.ToLower(string(spec.Type))`, with containerResource's capital kept.
    let expected = if t == "ContainerResource" { "containerResource".to_string() } else { t.to_lowercase() };
    if !sources.contains(&expected.as_str()) {
        errs.required(&child(path, &expected), "must populate information for the given metric source");
    }
    if sources.len() != 1 {
        for other in sources.iter().filter(|s| **s != expected) {
            errs.forbidden(&child(path, other), "must populate the given metric source only");
        }
    }
}

/// `validateObjectSource`, `validateExternalSource`, `validatePodsSource`,
/// `validateResourceSource` and `validateContainerResourceSource`.
fn validate_metric_source(errs: &mut Errors, source: &str, body: &Value, path: &str) {
    let null = Value::Null;
    let target = body.get("target").unwrap_or(&null);
    let tp = child(path, "target");
    match source {
        "resource" | "containerResource" => {
            if str_at(body, "name").unwrap_or("").is_empty() {
                errs.required(&child(path, "name"), "must specify a resource name");
            }
            if source == "containerResource" && str_at(body, "container").unwrap_or("").is_empty() {
                errs.required(&child(path, "container"), "must specify a container");
            }
            validate_metric_target(errs, target, &tp);
            match (present(target, "averageUtilization"), present(target, "averageValue")) {
                (false, false) => errs.required(&child(&tp, "averageUtilization"), "must set either a target raw value or a target utilization"),
                (true, true) => errs.forbidden(&child(&tp, "averageValue"), "may not set both a target raw value and a target utilization"),
                _ => {}
            }
        }
        "pods" => {
            validate_metric_identifier(errs, body, path);
            validate_metric_target(errs, target, &tp);
            if !present(target, "averageValue") {
                errs.required(&child(&tp, "averageValue"), "must specify a positive target averageValue");
            }
        }
        "object" => {
            validate_cross_version_object_reference(errs, body.get("describedObject").unwrap_or(&null), &child(path, "describedObject"));
            validate_metric_identifier(errs, body, path);
            validate_metric_target(errs, target, &tp);
            if !present(target, "value") && !present(target, "averageValue") {
                errs.required(&child(&tp, "averageValue"), "must set either a target value or averageValue");
            }
        }
        _ => {
            validate_metric_identifier(errs, body, path);
            validate_metric_target(errs, target, &tp);
            match (present(target, "value"), present(target, "averageValue")) {
                (false, false) => errs.required(&child(&tp, "averageValue"), "must set either a target value for metric or a per-pod target"),
                (true, true) => errs.forbidden(&child(&tp, "value"), "may not set both a target value for metric and a per-pod target"),
                _ => {}
            }
        }
    }
}

/// `ValidateCrossVersionObjectReference`: kind and name, each a path segment name.
fn validate_cross_version_object_reference(errs: &mut Errors, reference: &Value, path: &str) {
    for field in ["kind", "name"] {
        match str_at(reference, field).unwrap_or("") {
            "" => errs.required(&child(path, field), ""),
            v => errs.each_invalid(&child(path, field), v, is_valid_path_segment_name(v)),
        }
    }
}

/// `validateMetricIdentifier`: a metric name, a path segment name.
fn validate_metric_identifier(errs: &mut Errors, source: &Value, path: &str) {
    let metric = source.get("metric").unwrap_or(&Value::Null);
    let p = child(&child(path, "metric"), "name");
    match str_at(metric, "name").unwrap_or("") {
        "" => errs.required(&p, "must specify a metric name"),
        n => errs.each_invalid(&p, n, is_valid_path_segment_name(n)),
    }
}

/// `validateMetricTarget`: a type of the three, positive values, utilization above 0.
fn validate_metric_target(errs: &mut Errors, target: &Value, path: &str) {
    let t = str_at(target, "type").unwrap_or("");
    if t.is_empty() {
        errs.required(&child(path, "type"), "must specify a metric target type");
    }
    if !["Utilization", "Value", "AverageValue"].contains(&t) {
        errs.invalid(&child(path, "type"), quote(t), "must be either Utilization, Value, or AverageValue");
    }
    for field in ["value", "averageValue"] {
        if let Some(Ok(q)) = target.get(field).and_then(Quantity::from_json)
            && q.0 <= 0
        {
            errs.invalid(&child(path, field), quote(&super::core::canonical(&target[field])), "must be positive");
        }
    }
    if let Some(u) = int_at(target, "averageUtilization").filter(|u| *u < 1) {
        errs.invalid(&child(path, "averageUtilization"), u.to_string(), "must be greater than 0");
    }
}

/// `ValidatePodDisruptionBudgetSpec`: not both minAvailable and maxUnavailable; each a
/// nonnegative int or a percent ≤ 100%; the selector.
pub fn validate_pdb(errs: &mut Errors, spec: &Value) {
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if let (Some(a), Some(b)) = (min, max) {
        errs.invalid(
            "spec",
            format!("policy.PodDisruptionBudgetSpec{{MinAvailable:{}, MaxUnavailable:{}, ...}}", int_or_string(a), int_or_string(b)),
            "minAvailable and maxUnavailable cannot be both set",
        );
    }
    for (field, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        let Some(v) = v else { continue };
        let p = child("spec", field);
        match v {
            Value::String(s) => match s.strip_suffix('%').filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())) {
                None => errs.invalid(&p, int_or_string(v), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
                Some(d) if d.parse::<u64>().is_ok_and(|n| n > 100) => errs.invalid(&p, int_or_string(v), "must not be greater than 100%"),
                Some(_) => {}
            },
            other => {
                if let Some(n) = other.as_i64().filter(|n| *n < 0) {
                    errs.invalid(&p, n.to_string(), "must be greater than or equal to 0");
                }
            }
        }
    }
    if let Some(s) = spec.get("selector").filter(|v| !v.is_null()) {
        validate_label_selector(errs, s, "spec.selector");
    }
    if let Some(p) = str_at(spec, "unhealthyPodEvictionPolicy").filter(|p| !p.is_empty()) {
        let supported = ["AlwaysAllow", "IfHealthyBudget"];
        if !supported.contains(&p) {
            errs.not_supported("spec.unhealthyPodEvictionPolicy", quote(p), &supported);
        }
    }
}

/// `ValidateIngressSpec`: rules or a default backend; hosts; HTTP paths with a pathType and
/// an absolute path; backends; TLS hosts; the class name.
pub fn validate_ingress(errs: &mut Errors, spec: &Value) {
    let rules = list_at(spec, "rules");
    let default_backend = spec.get("defaultBackend").filter(|v| !v.is_null());
    if rules.is_empty() && default_backend.is_none() {
        errs.invalid("spec", "[]networking.IngressRule{}".into(), "either `defaultBackend` or `rules` must be specified");
    }
    if let Some(b) = default_backend {
        validate_ingress_backend(errs, b, "spec.defaultBackend");
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = index("spec.rules", i);
        if let Some(host) = str_at(rule, "host").filter(|h| !h.is_empty()) {
            validate_host(errs, host, &child(&p, "host"));
        }
        let Some(http) = rule.get("http").filter(|v| !v.is_null()) else { continue };
        let hp = child(&p, "http");
        let paths = list_at(http, "paths");
        if paths.is_empty() {
            errs.required(&child(&hp, "paths"), "");
        }
        for (j, path) in paths.iter().enumerate() {
            validate_http_path(errs, path, &index(&child(&hp, "paths"), j));
        }
    }
    for (i, tls) in list_at(spec, "tls").iter().enumerate() {
        for (j, host) in list_at(tls, "hosts").iter().enumerate() {
            let Some(h) = host.as_str() else { continue };
            let p = index(&child(&index("spec.tls", i), "hosts"), j);
            let messages = if h.contains('*') { is_wildcard_dns1123_subdomain(h) } else { is_dns1123_subdomain(h) };
            errs.each_invalid(&p, h, messages);
        }
    }
    if let Some(class) = str_at(spec, "ingressClassName") {
        errs.each_invalid("spec.ingressClassName", class, is_dns1123_subdomain(class));
    }
}

/// A rule host: a DNS name (wildcard allowed as the first label), not an IP address.
fn validate_host(errs: &mut Errors, host: &str, path: &str) {
    if host.parse::<std::net::IpAddr>().is_ok() {
        errs.invalid(path, quote(host), "must be a DNS name, not an IP address");
    }
    let messages = if host.contains('*') { is_wildcard_dns1123_subdomain(host) } else { is_dns1123_subdomain(host) };
    errs.each_invalid(path, host, messages);
}

/// `validateHTTPIngressPath`.
fn validate_http_path(errs: &mut Errors, path: &Value, p: &str) {
    let text = str_at(path, "path").unwrap_or("");
    match str_at(path, "pathType") {
        None | Some("") => errs.required(&child(p, "pathType"), "pathType must be specified"),
        Some("Exact" | "Prefix") => {
            if !text.starts_with('/') {
                errs.invalid(&child(p, "path"), quote(text), "must be an absolute path");
            }
            if !text.is_empty() {
                for bad in ["//", "/./", "/../", "%2f", "%2F"] {
                    if text.contains(bad) {
                        errs.invalid(&child(p, "path"), quote(text), format!("must not contain '{bad}'"));
                    }
                }
                for bad in ["/..", "/."] {
                    if text.ends_with(bad) {
                        errs.invalid(&child(p, "path"), quote(text), format!("cannot end with '{bad}'"));
                    }
                }
            }
        }
        Some("ImplementationSpecific") => {
            if !text.is_empty() && !text.starts_with('/') {
                errs.invalid(&child(p, "path"), quote(text), "must be an absolute path");
            }
        }
        Some(other) => errs.not_supported(&child(p, "pathType"), quote(other), &["Exact", "ImplementationSpecific", "Prefix"]),
    }
    validate_ingress_backend(errs, path.get("backend").unwrap_or(&Value::Null), &child(p, "backend"));
}

/// `validateIngressBackend`: a service or a resource, not both; a service's name and exactly
/// one of port name and number.
fn validate_ingress_backend(errs: &mut Errors, backend: &Value, path: &str) {
    let service = backend.get("service").filter(|v| !v.is_null());
    let resource = backend.get("resource").filter(|v| !v.is_null());
    match (service, resource) {
        (Some(_), Some(_)) => errs.invalid(path, "\"\"".into(), "cannot set both resource and service backends"),
        (None, None) => errs.invalid(path, "\"\"".into(), "resource or service backend is required"),
        (None, Some(_)) => {}
        (Some(s), None) => {
            let sp = child(path, "service");
            match str_at(s, "name").unwrap_or("") {
                "" => errs.required(&child(&sp, "name"), ""),
                n => errs.each_invalid(&child(&sp, "name"), n, is_dns1035_label(n)),
            }
            let port = s.get("port").unwrap_or(&Value::Null);
            let name = str_at(port, "name").filter(|n| !n.is_empty());
            let number = int_at(port, "number").filter(|n| *n != 0);
            let pp = child(&sp, "port");
            match (name, number) {
                (Some(_), Some(_)) => errs.invalid(&pp, "\"\"".into(), "cannot set both port name & port number"),
                (Some(n), None) => errs.each_invalid(&child(&pp, "name"), n, is_valid_port_name(n)),
                (None, Some(n)) => {
                    for m in is_valid_port_num(n) {
                        errs.invalid(&child(&pp, "number"), n.to_string(), m);
                    }
                }
                (None, None) => errs.required(&pp, "port name or number is required"),
            }
        }
    }
}

/// `ValidateNetworkPolicySpec`: the pod selector, ports, peers, policyTypes.
pub fn validate_network_policy(errs: &mut Errors, spec: &Value) {
    validate_label_selector(errs, spec.get("podSelector").unwrap_or(&Value::Null), "spec.podSelector");
    for (direction, peers_field) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in list_at(spec, direction).iter().enumerate() {
            let rp = index(&child("spec", direction), i);
            for (j, port) in list_at(rule, "ports").iter().enumerate() {
                validate_network_policy_port(errs, port, &index(&child(&rp, "ports"), j));
            }
            for (j, peer) in list_at(rule, peers_field).iter().enumerate() {
                validate_network_policy_peer(errs, peer, &index(&child(&rp, peers_field), j));
            }
        }
    }
    let types = list_at(spec, "policyTypes");
    for (i, t) in types.iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if !["Ingress", "Egress"].contains(&t) {
            errs.not_supported(&index("spec.policyTypes", i), quote(t), &["Ingress", "Egress"]);
        }
    }
    if types.len() > 2 {
        errs.invalid("spec.policyTypes", format!("{:?}", types.iter().filter_map(Value::as_str).collect::<Vec<_>>()), "may not specify more than two policyTypes");
    }
}

/// `ValidateNetworkPolicyPort` (networking/validation/validation.go): protocol supported; a
/// numeric port in range with endPort ≥ port and in range; endPort only with a numeric port.
fn validate_network_policy_port(errs: &mut Errors, port: &Value, path: &str) {
    if let Some(p) = str_at(port, "protocol").filter(|p| !["TCP", "UDP", "SCTP"].contains(p)) {
        errs.not_supported(&child(path, "protocol"), quote(p), &["TCP", "UDP", "SCTP"]);
    }
    let end = int_at(port, "endPort");
    let end_path = child(path, "endPort");
    match port.get("port").filter(|v| !v.is_null()) {
        Some(Value::String(name)) => {
            if let Some(e) = end {
                errs.invalid(&end_path, e.to_string(), "may not be specified when `port` is non-numeric");
            }
            errs.each_invalid(&child(path, "port"), name, is_valid_port_name(name));
        }
        Some(number) => {
            let start = number.as_i64().unwrap_or(0);
            for m in is_valid_port_num(start) {
                errs.invalid(&child(path, "port"), start.to_string(), m);
            }
            if let Some(e) = end {
                if e < start {
                    errs.invalid(&end_path, start.to_string(), "must be greater than or equal to `port`");
                }
                for m in is_valid_port_num(e) {
                    errs.invalid(&end_path, e.to_string(), m);
                }
            }
        }
        None => {
            if let Some(e) = end {
                errs.invalid(&end_path, e.to_string(), "may not be specified when `port` is not specified");
            }
        }
    }
}

/// `ValidateNetworkPolicyPeer`: exactly one of a selector pair or an ipBlock.
fn validate_network_policy_peer(errs: &mut Errors, peer: &Value, path: &str) {
    let mut peers = 0;
    if let Some(s) = peer.get("podSelector").filter(|v| !v.is_null()) {
        peers += 1;
        validate_label_selector(errs, s, &child(path, "podSelector"));
    }
    if let Some(s) = peer.get("namespaceSelector").filter(|v| !v.is_null()) {
        peers += 1;
        validate_label_selector(errs, s, &child(path, "namespaceSelector"));
    }
    if let Some(block) = peer.get("ipBlock").filter(|v| !v.is_null()) {
        peers += 1;
        let cidr = str_at(block, "cidr").unwrap_or("");
        if cidr.is_empty() {
            errs.required(&child(&child(path, "ipBlock"), "cidr"), "");
        } else if !valid_cidr(cidr) {
            errs.invalid(&child(&child(path, "ipBlock"), "cidr"), quote(cidr), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
        }
        validate_ip_block_except(errs, block, &child(path, "ipBlock"));
    }
    if peers == 0 {
        errs.required(path, "must specify a peer");
    } else if present(peer, "ipBlock") && peers > 1 {
        errs.forbidden(path, "may not specify both ipBlock and another peer");
    }
}

/// The rest of `ValidateIPBlock` (pkg/apis/networking/validation/validation.go): once `cidr`
/// parses, each `except` entry must be a valid CIDR (`IsValidCIDRForLegacyField`) and a strict
/// subset of `cidr`: its network address inside `cidr` (`cidrIPNet.Contains(exceptCIDR.IP)`) and
/// its prefix longer than `cidr`'s.
fn validate_ip_block_except(errs: &mut Errors, block: &Value, path: &str) {
    let Some((network, prefix)) = str_at(block, "cidr").and_then(cidr_network) else { return };
    for (i, except) in list_at(block, "except").iter().enumerate() {
        let text = except.as_str().unwrap_or("");
        let at = index(&child(path, "except"), i);
        match cidr_network(text) {
            None => errs.invalid(&at, quote(text), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
            Some((inner, inner_prefix)) if inner_prefix <= prefix || mask(inner, prefix) != Some(network) => {
                errs.invalid(&at, quote(text), "must be a strict subset of `cidr`");
            }
            Some(_) => {}
        }
    }
}

/// A CIDR's network address (the address with the host bits cleared) and prefix length, as Go's
/// `net.ParseCIDR` gives them; `None` when it is not a valid CIDR.
fn cidr_network(cidr: &str) -> Option<(std::net::IpAddr, u8)> {
    if !valid_cidr(cidr) {
        return None;
    }
    let (ip, bits) = cidr.split_once('/')?;
    let prefix: u8 = bits.parse().ok()?;
    Some((mask(ip.parse().ok()?, prefix)?, prefix))
}

/// `address` with all but its first `prefix` bits cleared.
fn mask(address: std::net::IpAddr, prefix: u8) -> Option<std::net::IpAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match address {
        IpAddr::V4(v4) if prefix <= 32 => Some(IpAddr::V4(Ipv4Addr::from(u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)))),
        IpAddr::V6(v6) if prefix <= 128 => Some(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)))),
        _ => None,
    }
}

fn valid_cidr(cidr: &str) -> bool {
    let Some((ip, bits)) = cidr.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u8>() else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// `ValidateRole`/`ValidateClusterRole` → `ValidatePolicyRule`: verbs; resource rules need API
/// groups and resources; non-resource URLs only in cluster roles, never mixed.
pub fn validate_rules(errs: &mut Errors, object: &Value, namespaced: bool) {
    for (i, rule) in list_at(object, "rules").iter().enumerate() {
        let p = index("rules", i);
        if list_at(rule, "verbs").is_empty() {
            errs.required(&child(&p, "verbs"), "verbs must contain at least one value");
        }
        let urls = list_at(rule, "nonResourceURLs");
        if !urls.is_empty() {
            let shown = format!("[]string{{{}}}", urls.iter().filter_map(Value::as_str).map(quote).collect::<Vec<_>>().join(", "));
            if namespaced {
                errs.invalid(&child(&p, "nonResourceURLs"), shown.clone(), "namespaced rules cannot apply to non-resource URLs");
            }
            if !list_at(rule, "apiGroups").is_empty() || !list_at(rule, "resources").is_empty() || !list_at(rule, "resourceNames").is_empty() {
                errs.invalid(&child(&p, "nonResourceURLs"), shown, "rules cannot apply to both regular resources and non-resource URLs");
            }
            continue;
        }
        if list_at(rule, "apiGroups").is_empty() {
            errs.required(&child(&p, "apiGroups"), "resource rules must supply at least one api group");
        }
        if list_at(rule, "resources").is_empty() {
            errs.required(&child(&p, "resources"), "resource rules must supply at least one resource");
        }
    }
}

/// `ValidateRoleBinding`/`ValidateClusterRoleBinding`: the role reference and each subject
/// (`ValidateRoleBindingSubject`).
pub fn validate_binding(errs: &mut Errors, object: &Value, namespaced: bool) {
    let role_ref = object.get("roleRef").unwrap_or(&Value::Null);
    let group = str_at(role_ref, "apiGroup").unwrap_or("");
    if group != "rbac.authorization.k8s.io" {
        errs.not_supported("roleRef.apiGroup", quote(group), &["rbac.authorization.k8s.io"]);
    }
    let kind = str_at(role_ref, "kind").unwrap_or("");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errs.not_supported("roleRef.kind", quote(kind), kinds);
    }
    match str_at(role_ref, "name").unwrap_or("") {
        "" => errs.required("roleRef.name", ""),
        n => errs.each_invalid("roleRef.name", n, is_valid_path_segment_name(n)),
    }
    for (i, subject) in list_at(object, "subjects").iter().enumerate() {
        let p = index("subjects", i);
        let name = str_at(subject, "name").unwrap_or("");
        if name.is_empty() {
            errs.required(&child(&p, "name"), "");
        }
        let api_group = str_at(subject, "apiGroup").unwrap_or("");
        match str_at(subject, "kind").unwrap_or("") {
            "ServiceAccount" => {
                if !name.is_empty() {
                    errs.each_invalid(&child(&p, "name"), name, is_dns1123_subdomain(name));
                }
                if !api_group.is_empty() {
                    errs.not_supported(&child(&p, "apiGroup"), quote(api_group), &[""]);
                }
                if !namespaced && str_at(subject, "namespace").unwrap_or("").is_empty() {
                    errs.required(&child(&p, "namespace"), "");
                }
            }
            "User" | "Group" => {
                if api_group != "rbac.authorization.k8s.io" {
                    errs.not_supported(&child(&p, "apiGroup"), quote(api_group), &["rbac.authorization.k8s.io"]);
                }
            }
            other => errs.not_supported(&child(&p, "kind"), quote(other), &["ServiceAccount", "User", "Group"]),
        }
    }
}
