//! NetworkPolicies: `networkpolicy-default-deny` (every pod of the release is isolated for
//! ingress, as Kubernetes decides isolation per pod) and `networkpolicy-dns` (egress restrictions
//! still allow DNS to kube-dns on UDP and TCP 53).

use serde_json::Value;

use super::Sink;
use super::selectors::{PodIndex, label_selector_matches, same_namespace, scalar_text};
use crate::manifest::{Manifest, Resource};

/// The policy's types as the API server defaults them (kubernetes/kubernetes
/// pkg/apis/networking/v1/defaults.go, `SetDefaults_NetworkPolicy`): when policyTypes is empty,
/// Ingress always, and Egress when spec.egress holds at least one rule (`egress: []` adds none).
fn policy_types(np: &Resource) -> Vec<String> {
    let spec = np.body.get("spec");
    match spec.and_then(|s| s.get("policyTypes")).and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list.iter().map(scalar_text).collect(),
        _ => {
            let mut t = vec!["Ingress".to_string()];
            if spec.and_then(|s| s.get("egress")).and_then(Value::as_array).is_some_and(|e| !e.is_empty()) {
                t.push("Egress".into());
            }
            t
        }
    }
}

/// Whether `np` isolates pods with these labels for ingress: it selects them (same namespace,
/// podSelector; an empty one selects every pod of the namespace) and has type Ingress. A pod is
/// isolated when any such policy exists (the NetworkPolicy API's isolation semantics). A policy
/// whose own ingress rule admits everything (`ingress: [{}]`: no `from`, no `ports`) selects
/// the pods without isolating anything and is not counted.
fn isolates_for_ingress(np: &Resource, owner: &Resource, labels: &serde_json::Map<String, Value>) -> bool {
    let spec = np.body.get("spec");
    let selector = spec.and_then(|s| s.get("podSelector"));
    let selects = selector_is_empty(selector) || label_selector_matches(selector.unwrap_or(&Value::Null), labels).unwrap_or(false);
    let empty = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty));
    let admits_all = spec.and_then(|s| s.get("ingress")).and_then(Value::as_array).is_some_and(|rules| rules.iter().any(|r| empty(r.get("from")) && empty(r.get("ports"))));
    same_namespace(np, owner) && selects && policy_types(np).iter().any(|t| t == "Ingress") && !admits_all
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
        default_deny(manifest, &policies, sink);
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

/// `networkpolicy-default-deny`: the workloads whose pods no policy of the release isolates for
/// ingress (an error: they accept traffic from any pod), else, when every pod is isolated by
/// policies that select the release's own pods, the SOP's namespace-wide default-deny as
/// information (it belongs to the namespace, not to one chart: inside a chart, `podSelector: {}`
/// would also cut off the other workloads of the namespace).
fn default_deny(manifest: &Manifest, policies: &[&Resource], sink: &mut Sink) {
    let no_labels = serde_json::Map::new();
    let workloads: Vec<(&Resource, bool)> = manifest
        .workloads()
        .map(|(w, t)| {
            let labels = t.labels().unwrap_or(&no_labels);
            (w, policies.iter().any(|p| isolates_for_ingress(p, w, labels)))
        })
        .collect();
    if workloads.is_empty() {
        return;
    }
    let mut open: Vec<String> = workloads.iter().filter(|(_, isolated)| !isolated).map(|(w, _)| w.display_id()).collect();
    open.sort();
    open.dedup();
    if !open.is_empty() {
        let shown = open.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = if open.len() > 5 { format!(" and {} more", open.len() - 5) } else { String::new() };
        sink.report_release(
            "networkpolicy-default-deny",
            format!("no NetworkPolicy of the release selects the pods of {shown}{more} for Ingress: they are not isolated and accept traffic from any pod (Kubernetes networking is default-allow)"),
        );
        return;
    }
    let namespace_wide = policies.iter().any(|p| is_default_deny_ingress(p));
    if !namespace_wide {
        sink.report_release_at(
            "networkpolicy-default-deny",
            super::Severity::Info,
            "every pod of the release is isolated for ingress by the release's own NetworkPolicies; the SOP's foundation, a namespace-wide default-deny policy (podSelector: {}, policyTypes: [Ingress]), is the namespace owner's to apply: inside this chart it would also cut off the other workloads of the namespace".into(),
        );
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
    use crate::rules::Severity;
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

    fn policy(name: &str, selector: &str, rest: &str) -> String {
        format!("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  podSelector: {selector}\n{rest}")
    }

    /// Isolation is per pod: the release's own policies selecting every pod for Ingress isolate
    /// them (information remains about the namespace-wide policy); a pod left out is reported.
    #[test]
    fn pods_isolated_by_the_release_policies_are_not_default_allow() {
        let b = DEPLOY.replace("name: a}", "name: b}").replace("app: a", "app: b");
        let own = policy("a", "{matchLabels: {app: a}}", "  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]\n");
        let own_b = policy("b", "{matchExpressions: [{key: app, operator: In, values: [b]}]}", "  policyTypes: [Ingress]\n");
        let both = rules_hit(&format!("{DEPLOY}{b}{own}{own_b}"), "networkpolicy-default-deny");
        assert_eq!(both.len(), 1, "{both:?}");
        assert_eq!(both[0].severity, Severity::Info);
        assert!(both[0].message.contains("namespace owner"), "{}", both[0].message);
        let one = rules_hit(&format!("{DEPLOY}{b}{own}"), "networkpolicy-default-deny");
        assert_eq!(one[0].severity, Severity::Error);
        assert!(one[0].message.contains("Deployment/b") && !one[0].message.contains("Deployment/a"), "{}", one[0].message);
        // An Egress-only policy does not isolate for ingress; without policyTypes, `egress: []`
        // keeps the default [Ingress] (defaults.go counts egress rules, not the key).
        let egress_only = policy("a", "{}", "  policyTypes: [Egress]\n");
        assert_eq!(rules_hit(&format!("{DEPLOY}{egress_only}"), "networkpolicy-default-deny")[0].severity, Severity::Error);
        let empty_egress = policy("a", "{matchLabels: {app: a}}", "  egress: []\n");
        assert_eq!(rules_hit(&format!("{DEPLOY}{empty_egress}"), "networkpolicy-default-deny")[0].severity, Severity::Info);
        // A policy in another namespace isolates nothing here.
        let placed = DEPLOY.replace("metadata: {name: a}", "metadata: {name: a, namespace: web}");
        let elsewhere = own.replace("metadata: {name: a}", "metadata: {name: a, namespace: other}");
        assert_eq!(rules_hit(&format!("{placed}{elsewhere}"), "networkpolicy-default-deny")[0].severity, Severity::Error);
        let beside = own.replace("metadata: {name: a}", "metadata: {name: a, namespace: web}");
        assert_eq!(rules_hit(&format!("{placed}{beside}"), "networkpolicy-default-deny")[0].severity, Severity::Info);
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
