//! `run-as-non-root`: the pod or container securityContext must guarantee a non-root user.

use serde_json::Value;

use super::Sink;
use crate::manifest::Manifest;

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        if t.spec.pointer("/os/name").and_then(Value::as_str) == Some("windows") {
            continue;
        }
        let pod = t.spec.get("securityContext");
        for c in t.containers() {
            let own = c.body.get("securityContext");
            let field = |name: &str| own.and_then(|s| s.get(name)).filter(|v| !v.is_null()).or_else(|| pod.and_then(|s| s.get(name)).filter(|v| !v.is_null()));
            let non_root = field("runAsNonRoot").and_then(Value::as_bool);
            let user = field("runAsUser").and_then(Value::as_i64);
            let path = Some(format!("{}.securityContext", c.path(&t)));
            let what = if c.init { "init container" } else { "container" };
            match (non_root, user) {
                (_, Some(0)) => sink.report(
                    r,
                    "run-as-non-root",
                    path,
                    format!("{what} `{}` runs as root (runAsUser: 0){}", c.name, if non_root == Some(true) { "; with runAsNonRoot: true the kubelet refuses to start it" } else { "" }),
                ),
                (Some(true), _) | (_, Some(1..)) => {}
                _ => sink.report(
                    r,
                    "run-as-non-root",
                    path,
                    format!("{what} `{}`: neither pod nor container securityContext sets runAsNonRoot: true or a non-zero runAsUser; the image's user decides", c.name),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    fn pod(pod_sc: &str, c_sc: &str) -> String {
        format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  securityContext: {pod_sc}\n  containers:\n  - name: app\n    image: x\n    securityContext: {c_sc}\n")
    }

    #[test]
    fn pod_and_container_levels_combine() {
        assert!(rules_hit(&pod("{runAsNonRoot: true}", "{}"), "run-as-non-root").is_empty());
        assert!(rules_hit(&pod("{}", "{runAsUser: 65532}"), "run-as-non-root").is_empty());
        assert_eq!(rules_hit(&pod("{}", "{}"), "run-as-non-root").len(), 1);
        // Container runAsUser 0 overrides a pod-level non-root user.
        let root = rules_hit(&pod("{runAsUser: 1000}", "{runAsUser: 0}"), "run-as-non-root");
        assert!(root[0].message.contains("runs as root"));
        assert_eq!(rules_hit(&pod("{runAsNonRoot: true, runAsUser: 0}", "{}"), "run-as-non-root").len(), 1);
        assert_eq!(rules_hit(&pod("{runAsNonRoot: false}", "{}"), "run-as-non-root").len(), 1);
    }
}
