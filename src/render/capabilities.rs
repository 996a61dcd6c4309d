//! `.Capabilities.APIVersions` of a render: what a cluster would say that `helm template` does
//! not. Offline, helm's set is client-go's scheme plus apiextensions.k8s.io, group/versions only
//! (`allKnownVersions` in helm 4's pkg/chart/common/capabilities.go, pkg/chartutil in helm 3),
//! so `Has "policy/v1/PodDisruptionBudget"` and `Has "apiregistration.k8s.io/v1"` are false where
//! every cluster serving them says true (helm's cluster mode lists each resource's
//! `group/version/Kind`: pkg/action/action.go `GetVersionSet`). Charts then render their fallback
//! for old clusters (traefik's PodDisruptionBudget as policy/v1beta1, prometheus-adapter's
//! APIService as v1beta1), which the Kubernetes version checked against no longer serves.
//! chartproof adds with `--api-versions` what that version serves and the chart's templates name
//! as a quoted string, so the render is a cluster's and the replay command stays short.

use std::collections::BTreeSet;
use std::path::Path;

use crate::chart::Chart;

/// The API versions Kubernetes 1.`minor` serves that the templates of `chart` or its subcharts
/// name in quotes (`"policy/v1/PodDisruptionBudget"`, `"autoscaling/v2"`), sorted.
pub fn served_and_named(chart: &Chart, minor: u32) -> Vec<String> {
    let mut texts = Vec::new();
    collect_templates(chart, &mut texts);
    crate::rules::kubernetes_schema::served_api_versions(minor)
        .into_iter()
        .filter(|api| {
            let quoted = format!("\"{api}\"");
            texts.iter().any(|t| t.contains(&quoted))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn collect_templates(chart: &Chart, out: &mut Vec<String>) {
    read_dir_texts(&chart.dir.join("templates"), out);
    for sub in &chart.subcharts {
        collect_templates(&sub.chart, out);
    }
}

fn read_dir_texts(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_dir_texts(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_versions_the_templates_name_are_added() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("Chart.yaml", "apiVersion: v2\nname: caps\nversion: 0.1.0\n");
        write(
            "templates/pdb.yaml",
            "{{- if .Capabilities.APIVersions.Has \"policy/v1/PodDisruptionBudget\" }}policy/v1{{ else }}policy/v1beta1{{ end }}\n\
             {{- if .Capabilities.APIVersions.Has \"policy/v1beta1/PodSecurityPolicy\" }}psp{{ end }}\n\
             {{- if .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}sm{{ end }}",
        );
        write("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n");
        write("charts/sub/templates/_caps.tpl", "{{ include \"has\" (dict \"version\" \"apiregistration.k8s.io/v1\") }}");
        let chart = Chart::load(tmp.path()).unwrap();
        // PodSecurityPolicy is not served by 1.37, a custom resource never by Kubernetes itself.
        assert_eq!(served_and_named(&chart, 37), ["apiregistration.k8s.io/v1", "policy/v1/PodDisruptionBudget"]);
        assert_eq!(served_and_named(&chart, 25), ["apiregistration.k8s.io/v1", "policy/v1/PodDisruptionBudget"]);
        let served = crate::rules::kubernetes_schema::served_api_versions(37);
        assert!(served.iter().any(|a| a == "apps/v1/Deployment") && served.iter().any(|a| a == "v1/Service"), "{served:?}");
        assert!(!served.iter().any(|a| a.contains("alpha") || a.ends_with("List") || a.ends_with("/DeleteOptions")), "{served:?}");
        assert!(!served.iter().any(|a| a.starts_with("autoscaling/v2beta2")), "removed in 1.26");
        assert!(crate::rules::kubernetes_schema::served_api_versions(25).iter().any(|a| a == "autoscaling/v2beta2/HorizontalPodAutoscaler"));
    }
}
