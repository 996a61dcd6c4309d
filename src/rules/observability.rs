//! `prometheus-scrape`: long-running pod templates carry `prometheus.io/scrape` and
//! `prometheus.io/port`, and the port is one a container declares.

use super::Sink;
use super::selectors::scalar_text;
use crate::manifest::Manifest;

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        if t.runs_to_completion() {
            continue;
        }
        let annotations = t.annotations();
        let get = |k: &str| annotations.and_then(|a| a.get(k)).map(scalar_text);
        let p = t.path();
        let path = Some(if p.is_empty() { "metadata.annotations".to_string() } else { format!("{p}.metadata.annotations") });
        let scrape = get("prometheus.io/scrape");
        match scrape.as_deref() {
            None => {
                sink.report(r, "prometheus-scrape", path, "pod template has no prometheus.io/scrape annotation".into());
                continue;
            }
            Some("false") => continue,
            Some(_) => {}
        }
        let Some(port) = get("prometheus.io/port") else {
            sink.report(r, "prometheus-scrape", path, "pod template has prometheus.io/scrape but no prometheus.io/port annotation".into());
            continue;
        };
        let containers = super::selectors::serving_containers(&t);
        let declared = containers.iter().flat_map(|c| c.ports()).any(|(name, number, _)| number.map(|n| n.to_string()) == Some(port.clone()) || name == Some(port.as_str()));
        if !declared {
            sink.report(r, "prometheus-scrape", path, format!("prometheus.io/port is `{port}`, which is no containerPort of the pod"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testutil::rules_hit;

    fn deploy(annotations: &str) -> String {
        format!("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata:\n      labels: {{app: a}}\n      annotations: {annotations}\n    spec:\n      containers:\n      - name: app\n        image: x\n        ports: [{{name: http, containerPort: 8080}}]\n")
    }

    #[test]
    fn annotations_and_port() {
        assert!(rules_hit(&deploy("{prometheus.io/scrape: \"true\", prometheus.io/port: \"8080\"}"), "prometheus-scrape").is_empty());
        assert_eq!(rules_hit(&deploy("{}"), "prometheus-scrape").len(), 1);
        assert_eq!(rules_hit(&deploy("{prometheus.io/scrape: \"true\"}"), "prometheus-scrape").len(), 1);
        let wrong = rules_hit(&deploy("{prometheus.io/scrape: \"true\", prometheus.io/port: \"9090\"}"), "prometheus-scrape");
        assert!(wrong[0].message.contains("9090"));
    }
}
