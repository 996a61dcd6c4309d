//! A rendered release split into resources: each YAML document of `helm template` output with its
//! identity (apiVersion, kind, namespace, name), the template it came from (helm's `# Source:`
//! line) and its body, read with the same YAML 1.1 rules Kubernetes uses. Document order is kept
//! only for display; nothing downstream may depend on it.

pub mod quantity;
pub mod workload;

use std::path::Path;

use serde_json::Value;

pub use workload::{Container, PodTemplate};

/// One Kubernetes object of a rendered release.
#[derive(Debug, Clone)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as rendered (None when the template leaves it to the release namespace).
    pub namespace: Option<String>,
    /// Template path from helm's `# Source:` comment, e.g. `go-service/templates/deployment.yaml`.
    pub template: Option<String>,
    /// 1-based line of the document's first line in helm's output.
    pub line: usize,
    pub body: Value,
}

impl Resource {
    /// `Kind/namespace/name` (namespace omitted when unset).
    pub fn display_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// The API group (`apps`, `networking.k8s.io`; empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
    }

    /// Identity used to match resources across renders: group, kind, namespace, name.
    pub fn key(&self) -> (String, String, String, String) {
        (self.group().to_string(), self.kind.clone(), self.namespace.clone().unwrap_or_default(), self.name.clone())
    }

    pub fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.pointer("/metadata/labels").and_then(Value::as_object)
    }

    pub fn annotations(&self) -> Option<&serde_json::Map<String, Value>> {
        self.body.pointer("/metadata/annotations").and_then(Value::as_object)
    }

    /// The pod template of a workload (or the Pod itself).
    pub fn pod_template(&self) -> Option<PodTemplate<'_>> {
        PodTemplate::of(self)
    }
}

/// A document that is not a Kubernetes object (no kind, not a map, unreadable YAML).
#[derive(Debug, Clone)]
pub struct ManifestProblem {
    pub template: Option<String>,
    /// 1-based line in helm's output stream.
    pub line: usize,
    /// The text of the offending line as helm rendered it.
    pub rendered_line: String,
    /// 1-based line in the template file that produced it, once [`Manifest::locate_problems`] found it.
    pub template_line: Option<usize>,
    pub message: String,
}

/// All resources of one render.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub resources: Vec<Resource>,
    pub problems: Vec<ManifestProblem>,
}

impl Manifest {
    /// Split and parse `helm template` output.
    pub fn parse(text: &str) -> Manifest {
        let mut manifest = Manifest::default();
        for chunk in split_documents(text) {
            let source = chunk.text.lines().find_map(|l| l.strip_prefix("# Source: ")).map(|s| s.trim().to_string());
            let values = match crate::chart::values::parse_helm_yaml_documents(chunk.text, Path::new(source.as_deref().unwrap_or("manifest"))) {
                Ok(v) => v,
                Err(e) => {
                    let rendered_line = chunk.text.lines().nth(e.line.saturating_sub(1)).unwrap_or_default().to_string();
                    manifest.problems.push(ManifestProblem {
                        template: source,
                        line: chunk.line + e.line.saturating_sub(1),
                        rendered_line,
                        template_line: None,
                        message: e.message,
                    });
                    continue;
                }
            };
            for body in values {
                if body.is_null() {
                    continue;
                }
                let kind = body.get("kind").and_then(Value::as_str);
                let api_version = body.get("apiVersion").and_then(Value::as_str);
                let (Some(kind), Some(_)) = (kind, api_version) else {
                    let first = chunk.text.lines().position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or(0);
                    manifest.problems.push(ManifestProblem {
                        template: source.clone(),
                        line: chunk.line + first,
                        rendered_line: chunk.text.lines().nth(first).unwrap_or_default().to_string(),
                        template_line: None,
                        message: "document has no kind/apiVersion; it is not a Kubernetes object".into(),
                    });
                    continue;
                };
                // A List expands into its items, as kubectl does.
                if kind.ends_with("List") && body.get("items").is_some_and(Value::is_array) {
                    for item in body["items"].as_array().unwrap() {
                        if let Some(r) = resource_from(item.clone(), source.clone(), chunk.line) {
                            manifest.resources.push(r);
                        }
                    }
                    continue;
                }
                if let Some(r) = resource_from(body, source.clone(), chunk.line) {
                    manifest.resources.push(r);
                }
            }
        }
        manifest
    }

    /// Find, for each problem, the line of the template file that rendered the offending line:
    /// the template line with the same text, or the same text before its first `{{`; else line 1.
    /// `chart_dir` is the chart that was rendered (helm's `# Source:` starts with its name).
    pub fn locate_problems(&mut self, chart_dir: &Path) {
        for problem in &mut self.problems {
            let Some(source) = &problem.template else { continue };
            let Some((_, inside)) = source.split_once('/') else { continue };
            let Ok(text) = std::fs::read_to_string(chart_dir.join(inside)) else { continue };
            problem.template_line = Some(template_line_of(&text, &problem.rendered_line).unwrap_or(1));
        }
    }

    /// Resources that have a pod template, with it.
    pub fn workloads(&self) -> impl Iterator<Item = (&Resource, PodTemplate<'_>)> {
        self.resources.iter().filter_map(|r| r.pod_template().map(|p| (r, p)))
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.kind == kind)
    }
}

fn resource_from(body: Value, template: Option<String>, line: usize) -> Option<Resource> {
    let kind = body.get("kind")?.as_str()?.to_string();
    let api_version = body.get("apiVersion")?.as_str()?.to_string();
    let meta = body.get("metadata");
    let name = meta
        .and_then(|m| m.get("name").and_then(Value::as_str).or_else(|| m.get("generateName").and_then(Value::as_str)))
        .unwrap_or("")
        .to_string();
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).map(str::to_string);
    Some(Resource { api_version, kind, name, namespace, template, line, body })
}

/// The 1-based line of `template` that most likely rendered `rendered`: an identical line, else a
/// line whose literal text before its first action (`{{`) starts the rendered line.
fn template_line_of(template: &str, rendered: &str) -> Option<usize> {
    let wanted = rendered.trim();
    if wanted.is_empty() {
        return None;
    }
    let lines: Vec<&str> = template.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.trim() == wanted) {
        return Some(i + 1);
    }
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let literal = l.split("{{").next().unwrap_or_default().trim();
            (!literal.is_empty() && l.contains("{{") && wanted.starts_with(literal)).then_some((literal.len(), i))
        })
        .max_by_key(|(len, i)| (*len, std::cmp::Reverse(*i)))
        .map(|(_, i)| i + 1)
}

struct Chunk<'a> {
    text: &'a str,
    line: usize,
}

/// Split on `---` separator lines, keeping each document's starting line.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            if offset > start {
                chunks.push(Chunk { text: &text[start..offset], line: start_line });
            }
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    if text.len() > start {
        chunks.push(Chunk { text: &text[start..], line: start_line });
    }
    chunks.retain(|c| c.text.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')));
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "---\n# Source: demo/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo\nspec:\n  selector:\n    app: demo\n---\n# Source: demo/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: demo\n  namespace: prod\nspec:\n  template:\n    metadata:\n      labels: {app: demo}\n    spec:\n      containers:\n      - name: app\n        image: x\n---\n# Source: demo/templates/crd.yaml\napiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\nspec:\n  ops: [=, \"!=\"]\n";

    #[test]
    fn splits_and_identifies() {
        let m = Manifest::parse(OUT);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(m.resources.len(), 3);
        assert_eq!(m.resources[0].template.as_deref(), Some("demo/templates/svc.yaml"));
        assert_eq!(m.resources[1].display_id(), "Deployment/prod/demo");
        assert_eq!(m.resources[1].group(), "apps");
        assert_eq!(m.resources[1].line, 11);
        assert_eq!(m.resources[2].body["spec"]["ops"][0], "=");
        assert_eq!(m.workloads().count(), 1);
    }

    #[test]
    fn unreadable_documents_are_located_in_their_template() {
        let chart = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(chart.path().join("templates")).unwrap();
        let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.a }}\n  b: ok\n";
        std::fs::write(chart.path().join("templates/cm.yaml"), template).unwrap();
        let out = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [unclosed\n  b: ok\n";
        let mut m = Manifest::parse(out);
        assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
        m.locate_problems(chart.path());
        let p = &m.problems[0];
        assert!(p.template_line.is_some_and(|l| l == 6 || l == 7), "{p:?}");
        assert_eq!(template_line_of(template, "  b: ok"), Some(7));
        assert_eq!(template_line_of(template, "  a: [unclosed"), Some(6));
        assert_eq!(template_line_of(template, "zzz"), None);
    }

    #[test]
    fn bad_documents_are_problems_not_panics() {
        let m = Manifest::parse("---\n# Source: x/templates/a.yaml\nfoo: [1\n---\n# Source: x/templates/b.yaml\njust: data\n");
        assert_eq!(m.resources.len(), 0);
        assert_eq!(m.problems.len(), 2);
        assert_eq!(m.problems[0].template.as_deref(), Some("x/templates/a.yaml"));
    }
}
