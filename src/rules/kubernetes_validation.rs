//! `kubernetes-validation`: every rendered object of a ported kind goes through the API server's
//! path offline — Kubernetes' defaulting functions ([`crate::admission::defaults`]), then its
//! built-in validation ([`crate::admission::validation`]) for the Kubernetes version of the render
//! — and each error is reported in the API server's own words at the field's template line.
//! Checks another rule already reports (a selector that does not select the template's labels:
//! `selector-mismatch`) are not repeated.

use super::Sink;
use crate::admission::{self, validation};
use crate::manifest::Manifest;

const RULE: &str = "kubernetes-validation";

/// Whether an error is only about helm-unittest's placeholder release name or namespace
/// (`RELEASE-NAME`, `NAMESPACE`: `unittest --check` renders with them, and no API server accepts
/// them as names); the chart's names are judged by `check` and `test`, which render a real name.
fn unittest_placeholder(e: &validation::FieldError) -> bool {
    e.value.as_deref().is_some_and(|v| v.contains("RELEASE-NAME") || v == "\"NAMESPACE\"")
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    if !sink.enabled(RULE) {
        return;
    }
    let Ok(minor) = super::kubernetes_schema::resolve_minor(sink.config().kubernetes_version.as_deref()) else { return };
    let ctx = validation::ValidationContext { minor: minor.clamp(validation::ValidationContext::OLDEST, validation::ValidationContext::NEWEST) };
    for r in &manifest.resources {
        if !super::kubernetes_schema::builtin_group(r.group()) {
            continue;
        }
        for e in admission::validate(&r.body, &ctx).into_iter().filter(|e| !unittest_placeholder(e)) {
            let mut message = e.to_string();
            if e.at_pod_creation {
                message.push_str(&format!(" (the API server accepts the {}, but refuses every pod its controller creates from this template)", r.kind));
            }
            let path = Some(e.field.clone()).filter(|f| !f.is_empty());
            sink.report(r, RULE, path, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    const DEPLOY: &str = "---\n# Source: c/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers:\n      - name: app\n        image: x:1\n        ports: [{name: http, containerPort: 8080}]\n";

    fn messages(yaml: &str) -> Vec<String> {
        rules_hit(yaml, "kubernetes-validation").into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn a_clean_object_passes_and_a_mistake_is_reported_in_the_api_servers_words() {
        assert!(messages(DEPLOY).is_empty(), "{:?}", messages(DEPLOY));
        let long = DEPLOY.replace("name: http,", "name: http-remote-write,");
        let f = rules_hit(&long, "kubernetes-validation");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].message, "spec.template.spec.containers[0].ports[0].name: Invalid value: \"http-remote-write\": must be no more than 15 characters");
        assert_eq!(f[0].path.as_deref(), Some("spec.template.spec.containers[0].ports[0].name"));
        assert_eq!(f[0].template.as_deref(), Some("c/templates/d.yaml"));
    }

    #[test]
    fn stateful_set_pod_errors_say_the_pods_are_refused_later() {
        let sts = DEPLOY.replace("kind: Deployment", "kind: StatefulSet").replace("        ports:", "        volumeMounts: [{name: data, mountPath: /d}, {name: gone, mountPath: /g}]\n        ports:")
            + "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n";
        let m = messages(&sts);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("spec.template.spec.containers[0].volumeMounts[1].name: Not found: \"gone\""), "{}", m[0]);
        assert!(m[0].contains("refuses every pod"), "{}", m[0]);
    }

    #[test]
    fn helm_unittests_placeholder_names_are_not_judged() {
        let placeholder = DEPLOY.replace("metadata: {name: d}", "metadata: {name: RELEASE-NAME-d, namespace: NAMESPACE}");
        assert!(messages(&placeholder).is_empty(), "{:?}", messages(&placeholder));
        assert_eq!(messages(&DEPLOY.replace("metadata: {name: d}", "metadata: {name: Release-d}")).len(), 1);
    }

    #[test]
    fn the_selector_mismatch_is_left_to_its_own_rule() {
        let mismatch = DEPLOY.replace("matchLabels: {app: d}", "matchLabels: {app: other}");
        assert!(messages(&mismatch).is_empty());
        assert!(!rules_hit(&mismatch, "selector-mismatch").is_empty());
    }
}
