//! helm-unittest's `postRenderer` (suite or test): a command given the rendered templates on
//! stdin and whose stdout is split back into templates (pkg/unittest/test_job.go
//! `MergeAndPostRender`, `SplitManifests`). Each template's output, trimmed, follows a
//! `---` line and a `#### file: <chart>/<template>` line, in name order; the output is cut
//! before each `---\n#### file:` and every block that names its file is that template's text.
//! When the command kept no file line, its whole output is one template, `manifest.yaml`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use regex::Regex;

use super::render::{Rendered, template_documents};
use super::suite::PostRenderer;

/// The line before each template in the post-renderer's input and output.
const FILE_MARKER: &str = "#### file:";
/// Where a post-renderer's output goes when it kept no file marker.
pub const UNMARKED_TEMPLATE: &str = "manifest.yaml";

static FILE_LINE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| Regex::new(&format!("{FILE_MARKER} (.*)")).unwrap());

/// The post-renderer's input: every template's output, trimmed, after its file line.
pub fn merged_input(rendered: &Rendered) -> String {
    let mut out = String::new();
    for (template, text) in &rendered.outputs {
        out.push_str(&format!("---\n{FILE_MARKER} {}/{template}\n{}\n", rendered.chart_name, text.trim()));
    }
    out
}

/// The post-renderer's output back as templates and documents.
pub fn split_output(output: &str, chart_name: &str) -> Result<Rendered> {
    let mut rendered = Rendered { chart_name: chart_name.to_string(), manifest: output.to_string(), ..Rendered::default() };
    let separator = format!("---\n{FILE_MARKER}");
    // internal/common `SplitBefore`: each block starts at a separator (the first at the start).
    let mut starts: Vec<usize> = output.match_indices(&separator).map(|(i, _)| i).filter(|i| *i > 0).collect();
    starts.insert(0, 0);
    starts.push(output.len());
    for pair in starts.windows(2) {
        let block = &output[pair[0]..pair[1]];
        let Some(found) = FILE_LINE.captures(block) else { continue };
        let key = found[1].to_string();
        let text = block.strip_prefix(&format!("---\n{}\n", &found[0])).unwrap_or(block);
        let template = key.strip_prefix(&format!("{chart_name}/")).unwrap_or(&key).to_string();
        rendered.outputs.insert(template, text.to_string());
    }
    if rendered.outputs.is_empty() {
        rendered.outputs.insert(UNMARKED_TEMPLATE.into(), output.to_string());
    }
    for (template, text) in &rendered.outputs {
        let docs = template_documents(template, text).with_context(|| format!("the post-renderer's output of {template}"))?;
        rendered.by_template.insert(template.clone(), docs.unwrap_or_default());
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
        // A .txt template comes back as one {raw: text} document.
        let notes = split_output("---\n#### file: demo/templates/NOTES.txt\nhello\n", "demo").unwrap();
        assert_eq!(notes.by_template["templates/NOTES.txt"][0].value, serde_json::json!({"raw": "hello\n"}));
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
