//! helm-unittest's `postRenderer` (suite or test): a command given the rendered templates on
//! stdin, each after a `---` and a `#### file: <chart>/<template>` line in template order, whose
//! stdout is split back into templates at those lines. When the command drops them, its whole
//! output is one template, `manifest.yaml`, as in helm-unittest.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::render::{Document, Rendered};
use super::suite::PostRenderer;

/// The line before each template in the post-renderer's input and output.
const FILE_MARKER: &str = "#### file: ";
/// Where a post-renderer's output goes when it kept no file marker.
pub const UNMARKED_TEMPLATE: &str = "manifest.yaml";

/// The post-renderer's input: every template's text, trimmed, after its file marker.
pub fn merged_input(rendered: &Rendered) -> String {
    let mut out = String::new();
    for (template, docs) in &rendered.by_template {
        let text = if template.ends_with(".txt") {
            docs.iter().map(|d| d.raw.trim().to_string()).collect::<Vec<_>>().join("\n")
        } else {
            docs.iter().map(|d| d.raw.trim().to_string()).collect::<Vec<_>>().join("\n---\n")
        };
        out.push_str(&format!("---\n{FILE_MARKER}{}/{template}\n{text}\n", rendered.chart_name));
    }
    out
}

/// The post-renderer's output back as templates and documents.
pub fn split_output(output: &str, chart_name: &str) -> Result<Rendered> {
    let mut rendered = Rendered { chart_name: chart_name.to_string(), manifest: output.to_string(), ..Rendered::default() };
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = output.lines().peekable();
    while let Some(line) = lines.next() {
        let marker = if line == "---" { lines.peek().and_then(|next| next.strip_prefix(FILE_MARKER)).map(str::to_string) } else { None };
        match marker {
            Some(key) => {
                lines.next();
                let template = key.trim().strip_prefix(&format!("{chart_name}/")).unwrap_or(key.trim()).to_string();
                blocks.push((template, String::new()));
            }
            None => match blocks.last_mut() {
                Some((_, text)) => {
                    text.push_str(line);
                    text.push('\n');
                }
                None if line.trim().is_empty() => {}
                None => blocks.push((UNMARKED_TEMPLATE.into(), format!("{line}\n"))),
            },
        }
    }
    if blocks.iter().all(|(t, _)| t == UNMARKED_TEMPLATE) {
        blocks = vec![(UNMARKED_TEMPLATE.into(), output.to_string())];
    }
    for (template, text) in blocks {
        let docs = rendered.by_template.entry(template.clone()).or_default();
        if template.ends_with(".txt") {
            docs.push(Document { value: Value::String(text.clone()), raw: text });
            continue;
        }
        let values = crate::chart::values::parse_helm_yaml_documents(&text, Path::new(&template)).with_context(|| format!("the post-renderer printed YAML chartproof cannot read in {template}"))?;
        docs.extend(values.into_iter().filter(|v| !v.is_null()).map(|value| Document { value, raw: text.clone() }));
    }
    Ok(rendered)
}

/// Run `post` on a render: its templates through the command and back.
pub fn post_render(post: &PostRenderer, rendered: &Rendered) -> Result<Rendered> {
    let mut child = Command::new(&post.cmd)
        .args(&post.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("post-renderer `{}` cannot be started", post.cmd))?;
    let input = merged_input(rendered);
    let mut stdin = child.stdin.take().context("post-renderer stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().with_context(|| format!("post-renderer `{}` did not finish", post.cmd))?;
    // A command may exit without reading its input; its exit status tells whether it failed.
    let _ = writer.join();
    if !out.status.success() {
        bail!("post-renderer `{} {}` failed ({}): {}", post.cmd, post.args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    split_output(&String::from_utf8_lossy(&out.stdout), &rendered.chart_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unittest::render::split_manifest;

    const MANIFEST: &str = "---\n# Source: demo/templates/a.yaml\nkind: A\n---\n# Source: demo/templates/a.yaml\nkind: B\n---\n# Source: demo/templates/b.yaml\nkind: C\n";

    #[test]
    fn templates_go_through_with_file_markers_and_come_back() {
        let rendered = split_manifest(MANIFEST).unwrap();
        let input = merged_input(&rendered);
        assert_eq!(input, "---\n#### file: demo/templates/a.yaml\nkind: A\n---\nkind: B\n---\n#### file: demo/templates/b.yaml\nkind: C\n");
        let back = split_output(&input.replace("kind: C", "kind: D"), "demo").unwrap();
        let kinds = |t: &str| back.by_template[t].iter().map(|d| d.value["kind"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!((kinds("templates/a.yaml"), kinds("templates/b.yaml")), (vec!["A".to_string(), "B".to_string()], vec!["D".to_string()]));
    }

    #[test]
    fn output_without_markers_is_one_template() {
        let back = split_output("kind: A\n---\nkind: B\n", "demo").unwrap();
        assert_eq!(back.by_template.keys().collect::<Vec<_>>(), vec![UNMARKED_TEMPLATE]);
        assert_eq!(back.by_template[UNMARKED_TEMPLATE].len(), 2);
    }

    #[test]
    fn a_failing_command_names_itself_and_its_error() {
        let post = PostRenderer { cmd: "sh".into(), args: vec!["-c".into(), "echo broken >&2; exit 3".into()] };
        let e = post_render(&post, &split_manifest(MANIFEST).unwrap()).unwrap_err().to_string();
        assert!(e.contains("post-renderer `sh -c echo broken >&2; exit 3` failed") && e.contains("broken"), "{e}");
    }
}
