//! NetworkPolicies: `networkpolicy-default-deny` (the release's workloads sit behind a
//! default-deny ingress policy) and `networkpolicy-dns` (egress restrictions still allow DNS to
//! kube-dns on UDP and TCP 53).

use serde_json::Value;

use super::Sink;
use super::selectors::{PodIndex, label_selector_matches, same_namespace, scalar_text};
use crate::manifest::{Manifest, Resource};

fn policy_types(np: &Resource) -> Vec<String> {
    let spec = np.body.get("spec");
    match spec.and_then(|s| s.get("policyTypes")).and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list.iter().map(scalar_text).collect(),
        // Kubernetes default: Ingress always, Egress when egress rules are present.
        _ => {
            let mut t = vec!["Ingress".to_string()];
            if spec.and_then(|s| s.get("egress")).is_some_and(|e| !e.is_null()) {
                t.push("Egress".into());
            }
            t
        }
    }
}

fn selector_is_empty(sel: Option<&Value>) -> bool {
    match sel {
        None | Some(Value::Null) => true,
        Some(v) => {
            v.get("matchLabels").and_then(Value::as_object).is_none_or(|m| m.is_empty())
                && v.get("matchExpressions").and_then(Value::as_array).is_none_or(|m| m.is_empty())
        }
    }
}

fn is_default_deny_ingress(np: &Resource) -> bool {
    let spec = np.body.get("spec");
    selector_is_empty(spec.and_then(|s| s.get("podSelector")))
        && policy_types(np).iter().any(|t| t == "Ingress")
        && spec.and_then(|s| s.get("ingress")).and_then(Value::as_array).is_none_or(Vec::is_empty)
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    let policies: Vec<&Resource> = manifest.of_kind("NetworkPolicy").filter(|r| r.api_version.starts_with("networking.k8s.io/")).collect();
    if sink.enabled("networkpolicy-default-deny") {
        let deny: Vec<&Resource> = policies.iter().copied().filter(|p| is_default_deny_ingress(p)).collect();
        let mut uncovered: Vec<String> = manifest.workloads().filter(|(w, _)| !deny.iter().any(|p| same_namespace(p, w))).map(|(w, _)| w.display_id()).collect();
        uncovered.sort();
        if !uncovered.is_empty() {
            let shown = uncovered.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            let more = if uncovered.len() > 5 { format!(" and {} more", uncovered.len() - 5) } else { String::new() };
            sink.report_release(
                "networkpolicy-default-deny",
                format!("no NetworkPolicy with an empty podSelector denies ingress for {shown}{more}; Kubernetes networking stays default-allow"),
            );
        }
    }
    // Policies that restrict egress and allow DNS, computed once.
    let dns_policies: Vec<&Resource> = policies.iter().copied().filter(|p| policy_types(p).iter().any(|t| t == "Egress") && allows_dns(p)).collect();
    let index = PodIndex::new(manifest);
    for np in &policies {
        if policy_types(np).iter().any(|t| t == "Egress") && !dns_covered(&index, np, &dns_policies) {
            sink.report(
                np,
                "networkpolicy-dns",
                Some("spec.egress".into()),
                "restricts egress but neither this nor another policy for the same pods allows UDP and TCP 53 to kube-dns: name resolution fails".into(),
            );
        }
    }
}

/// Whether the pods `np` restricts can still reach DNS through one of `dns_policies` (policies add up).
fn dns_covered(index: &PodIndex, np: &Resource, dns_policies: &[&Resource]) -> bool {
    let np_sel = np.body.pointer("/spec/podSelector");
    let pods: Vec<_> = index
        .candidates(np_sel.and_then(|s| s.get("matchLabels")).and_then(Value::as_object))
        .into_iter()
        .filter(|t| same_namespace(t.owner, np) && t.labels().is_some_and(|l| label_selector_matches(np_sel.unwrap_or(&Value::Null), l).unwrap_or(false)))
        .collect();
    let dns_policies: Vec<&Resource> = dns_policies.iter().copied().filter(|p| same_namespace(p, np)).collect();
    if dns_policies.iter().any(|p| p.key() == np.key()) {
        return true;
    }
    let covers = |p: &Resource, labels: &serde_json::Map<String, Value>| label_selector_matches(p.body.pointer("/spec/podSelector").unwrap_or(&Value::Null), labels).unwrap_or(false);
    if !pods.is_empty() {
        return pods.iter().all(|t| t.labels().is_some_and(|l| dns_policies.iter().any(|p| covers(p, l))));
    }
    // No pod of the release is selected: accept a DNS policy selecting at least the same pods.
    dns_policies.iter().any(|p| {
        let sel = p.body.pointer("/spec/podSelector");
        selector_is_empty(sel) || sel == np_sel
    })
}

/// Whether one policy's egress rules allow both UDP 53 and TCP 53 towards kube-dns.
fn allows_dns(np: &Resource) -> bool {
    let mut udp = false;
    let mut tcp = false;
    for rule in np.body.pointer("/spec/egress").and_then(Value::as_array).into_iter().flatten() {
        let to = rule.get("to").and_then(Value::as_array);
        let reaches_dns = to.is_none_or(|peers| peers.is_empty() || peers.iter().any(peer_may_be_kube_dns));
        if !reaches_dns {
            continue;
        }
        match rule.get("ports").and_then(Value::as_array).filter(|p| !p.is_empty()) {
            None => return true,
            Some(ports) => {
                for p in ports {
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    let covers = match p.get("port") {
                        None | Some(Value::Null) => true,
                        Some(Value::String(name)) if name.parse::<i64>().is_err() => matches!(name.as_str(), "dns" | "dns-tcp" | "dns-udp"),
                        Some(v) => {
                            let start = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(-1);
                            let end = p.get("endPort").and_then(Value::as_i64).unwrap_or(start);
                            (start..=end).contains(&53)
                        }
                    };
                    if covers {
                        udp |= proto == "UDP";
                        tcp |= proto == "TCP";
                    }
                }
            }
        }
    }
    udp && tcp
}

/// A `to` peer that can include kube-dns: any namespace or kube-system, with a pod selector that
/// is empty or names kube-dns; or an ipBlock (the cluster DNS address is not known offline).
fn peer_may_be_kube_dns(peer: &Value) -> bool {
    if peer.get("ipBlock").is_some() {
        return true;
    }
    let ns = peer.get("namespaceSelector");
    let Some(ns) = ns else { return false }; // pods of the policy's own namespace only
    let ns_ok = selector_is_empty(Some(ns)) || {
        let mut kube_system = serde_json::Map::new();
        kube_system.insert("kubernetes.io/metadata.name".into(), "kube-system".into());
        kube_system.insert("name".into(), "kube-system".into());
        label_selector_matches(ns, &kube_system).unwrap_or(false)
    };
    let pod = peer.get("podSelector");
    let pod_ok = selector_is_empty(pod) || {
        let mut dns = serde_json::Map::new();
        dns.insert("k8s-app".into(), "kube-dns".into());
        label_selector_matches(pod.unwrap_or(&Value::Null), &dns).unwrap_or(false)
    };
    ns_ok && pod_ok
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    const DEPLOY: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: app, image: x}]\n";
    const DENY: &str = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n";

    #[test]
    fn default_deny_required_when_workloads_exist() {
        assert_eq!(rules_hit(DEPLOY, "networkpolicy-default-deny").len(), 1);
        assert!(rules_hit(&format!("{DEPLOY}{DENY}"), "networkpolicy-default-deny").is_empty());
        let allow_all = DENY.replace("policyTypes: [Ingress]", "policyTypes: [Ingress]\n  ingress: [{}]");
        assert_eq!(rules_hit(&format!("{DEPLOY}{allow_all}"), "networkpolicy-default-deny").len(), 1);
        assert!(rules_hit("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "networkpolicy-default-deny").is_empty());
    }

    fn egress(rules: &str) -> String {
        format!("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: eg}}\nspec:\n  podSelector: {{matchLabels: {{app: a}}}}\n  policyTypes: [Egress]\n  egress: {rules}\n")
    }

    const KUBE_DNS: &str = "{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}";

    #[test]
    fn egress_must_allow_dns() {
        assert!(rules_hit(&format!("{DEPLOY}{}", egress(&format!("[{KUBE_DNS}]"))), "networkpolicy-dns").is_empty());
        assert_eq!(rules_hit(&format!("{DEPLOY}{}", egress("[]")), "networkpolicy-dns").len(), 1);
        let udp_only = KUBE_DNS.replace(", {port: 53, protocol: TCP}", "");
        assert_eq!(rules_hit(&format!("{DEPLOY}{}", egress(&format!("[{udp_only}]"))), "networkpolicy-dns").len(), 1);
        let same_ns = "{to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{port: 53, protocol: UDP}, {port: 53}]}";
        assert_eq!(rules_hit(&format!("{DEPLOY}{}", egress(&format!("[{same_ns}]"))), "networkpolicy-dns").len(), 1);
        // A deny-all egress policy plus a separate DNS allow policy for the same pods is fine.
        let allow = egress(&format!("[{KUBE_DNS}]")).replace("name: eg", "name: dns");
        assert!(rules_hit(&format!("{DEPLOY}{}{allow}", egress("[]")), "networkpolicy-dns").is_empty());
    }
}
