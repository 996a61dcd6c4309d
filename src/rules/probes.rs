//! Health probes of long-running containers: `probe-liveness`, `probe-readiness` and
//! `probe-distinct` (liveness and readiness must be different checks).

use serde_json::Value;

use super::Sink;
use crate::manifest::Manifest;

/// Fields of a probe that say what it checks (timings excluded).
const HANDLERS: &[&str] = &["httpGet", "tcpSocket", "exec", "grpc"];

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        if t.runs_to_completion() {
            continue;
        }
        for c in t.containers().into_iter().filter(|c| !c.init) {
            let path = c.path(&t);
            let liveness = c.body.get("livenessProbe").filter(|v| !v.is_null());
            let readiness = c.body.get("readinessProbe").filter(|v| !v.is_null());
            if liveness.is_none() {
                sink.report(r, "probe-liveness", Some(format!("{path}.livenessProbe")), format!("container `{}` has no livenessProbe", c.name));
            }
            if readiness.is_none() {
                sink.report(r, "probe-readiness", Some(format!("{path}.readinessProbe")), format!("container `{}` has no readinessProbe", c.name));
            }
            if let (Some(l), Some(rd)) = (liveness, readiness)
                && let Some(h) = handler(l).filter(|h| Some(h) == handler(rd).as_ref()) {
                    sink.report(
                        r,
                        "probe-distinct",
                        Some(format!("{path}.readinessProbe")),
                        format!("container `{}`: livenessProbe and readinessProbe run the same check ({})", c.name, describe(&h)),
                    );
                }
        }
    }
}

/// The handler part of a probe, normalised so `port: 8080` and `port: "8080"` compare equal.
fn handler(probe: &Value) -> Option<Value> {
    let obj = probe.as_object()?;
    let (k, v) = HANDLERS.iter().find_map(|k| obj.get(*k).map(|v| (*k, v)))?;
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        if let Some(p) = m.get("port").map(super::selectors::scalar_text) {
            m.insert("port".into(), Value::String(p));
        }
        if k == "httpGet" {
            m.entry("path").or_insert(Value::String("/".into()));
            m.entry("scheme").or_insert(Value::String("HTTP".into()));
        }
    }
    Some(serde_json::json!({ k: v }))
}

fn describe(h: &Value) -> String {
    if let Some(g) = h.get("httpGet") {
        return format!("httpGet {} on port {}", g.get("path").and_then(Value::as_str).unwrap_or("/"), super::selectors::scalar_text(g.get("port").unwrap_or(&Value::Null)));
    }
    super::selectors::compact(h)
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    fn pod(kind: &str, probes: &str) -> String {
        let (sel, tmpl) = match kind {
            "CronJob" => ("", "jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: a}}\n        spec:\n          containers:\n          - name: app\n            image: x\n".to_string()),
            _ => ("selector: {matchLabels: {app: a}}\n  ", format!("template:\n    metadata: {{labels: {{app: a}}}}\n    spec:\n      initContainers: [{{name: init, image: x}}]\n      containers:\n      - name: app\n        image: x\n{probes}")),
        };
        format!("---\napiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: a}}\nspec:\n  {sel}{tmpl}")
    }

    #[test]
    fn long_running_containers_need_both_probes() {
        let f = rules_hit(&pod("Deployment", ""), "probe-liveness");
        assert_eq!(f.len(), 1, "init containers are exempt: {f:?}");
        assert_eq!(f[0].path.as_deref(), Some("spec.template.spec.containers[name=app].livenessProbe"));
        assert_eq!(rules_hit(&pod("StatefulSet", ""), "probe-readiness").len(), 1);
        assert!(rules_hit(&pod("CronJob", ""), "probe-liveness").is_empty());
        assert!(rules_hit(&pod("Job", ""), "probe-readiness").is_empty());
    }

    #[test]
    fn identical_checks_are_reported() {
        let same = "        livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 5}\n        readinessProbe: {httpGet: {path: /healthz, port: \"8080\"}, periodSeconds: 10}\n";
        assert_eq!(rules_hit(&pod("Deployment", same), "probe-distinct").len(), 1);
        let distinct = "        livenessProbe: {httpGet: {path: /healthz, port: 8080}}\n        readinessProbe: {httpGet: {path: /readyz, port: 8080}}\n";
        assert!(rules_hit(&pod("Deployment", distinct), "probe-distinct").is_empty());
        assert!(rules_hit(&pod("Deployment", distinct), "probe-liveness").is_empty());
    }
}
