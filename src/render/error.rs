//! helm's error text turned into a structured error: template file, line, column and message,
//! for the forms Helm 3 and Helm 4 print (template parse/exec errors, `fail`, schema errors).

use regex::Regex;
use std::sync::LazyLock;

/// A helm failure, with the template location when helm gave one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HelmError {
    /// Template path as helm names it (`mychart/templates/deployment.yaml`).
    pub template: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The most specific message (for `fail`, the text passed to it).
    pub message: String,
    /// helm's whole stderr.
    pub raw: String,
    /// helm rejected the values against values.schema.json.
    pub schema_error: bool,
    /// A template does not parse (`parse error at (…)`): no values can make the chart render.
    pub parse_error: bool,
}

impl std::fmt::Display for HelmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.template, self.line) {
            (Some(t), Some(l)) => write!(f, "{t}:{l}: {}", self.message),
            (Some(t), None) => write!(f, "{t}: {}", self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

// The forms below are the ones helm's pkg/engine/engine.go writes: `cleanupParseError` ("parse
// error at (T:L): cause"), `cleanupExecError` ("execution error at (T:L:C): <the whole `fail`
// text>", several lines when the message has newlines), Go text/template's own "template: T:L:C:
// executing …" (Helm 3), and Helm 4's `reformatExecErrorMsg` ("T:L:C" alone on a line, then
// "executing \"T\" at <…>:" and the cause, indented, one per line). cmd/helm prints the error
// after "Error: "; anything before that line is a log line (Helm 3 `WARNING: …`, Helm 4 slog
// `level=WARN msg=…`), and helm's "Use --debug flag …" hint follows it.
static EXEC_ERROR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)^execution error at \(([^:()]+):(\d+):(\d+)\):\s*(.*)").unwrap());
static TEMPLATE_ERROR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"template: ([^:\s]+):(\d+)(?::(\d+))?: (.*)").unwrap());
static PARSE_ERROR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"parse error at \(([^:()]+):(\d+)\):\s*(.*)").unwrap());
/// Helm 4 puts the location alone on the first line and the cause on the next ones.
static LOCATION_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([^:\s]+):(\d+):(\d+):?\s*$").unwrap());
static YAML_ERROR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"YAML parse error on ([^:\s]+): (.*)").unwrap());

/// The error helm printed: from the last line that starts with `Error: ` (what cmd/helm writes)
/// to the end, without helm's `--debug` hint and without the log lines printed before it. With no
/// `Error: ` line, every line that is not a known log line.
fn error_body(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let is_hint = |l: &str| l.starts_with("Use --debug flag");
    let is_log = |l: &str| l.starts_with("WARNING:") || l.starts_with("walk.go") || l.starts_with("level=") || l.starts_with("time=");
    let body: Vec<&str> = match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(i) => {
            let mut v = vec![&lines[i]["Error: ".len()..]];
            v.extend(lines[i + 1..].iter().copied().filter(|l| !is_hint(l)));
            v
        }
        None => lines.into_iter().filter(|l| !is_hint(l) && !is_log(l)).collect(),
    };
    body.join("\n").trim_matches('\n').trim_end().to_string()
}

impl HelmError {
    /// Parse helm's stderr.
    pub fn parse(stderr: &str) -> HelmError {
        let body = error_body(stderr);
        let schema_error = body.contains("values don't meet the specifications of the schema");
        let mut err = HelmError { template: None, line: None, column: None, message: body.trim().to_string(), raw: stderr.to_string(), schema_error, parse_error: false };
        let (first, cause) = body.split_once('\n').unwrap_or((&body, ""));
        if let Some(c) = PARSE_ERROR.captures(&body) {
            err.template = Some(c[1].to_string());
            err.line = c[2].parse().ok();
            err.message = c[3].trim().to_string();
            err.parse_error = true;
        } else if let (Some(c), false) = (LOCATION_LINE.captures(first), cause.trim().is_empty()) {
            // Helm 4: `T:L:C` then `executing "T" at <.Values.x>:` then the cause, one per line.
            err.template = Some(c[1].to_string());
            err.line = c[2].parse().ok();
            err.column = c[3].parse().ok();
            err.message = cause.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        } else if let Some(c) = EXEC_ERROR.captures(&body) {
            // `fail`'s text, every line of it.
            err.template = Some(c[1].to_string());
            err.line = c[2].parse().ok();
            err.column = c[3].parse().ok();
            err.message = c[4].trim().to_string();
        } else if let Some(c) = TEMPLATE_ERROR.captures(&body) {
            err.template = Some(c[1].to_string());
            err.line = c[2].parse().ok();
            err.column = c.get(3).and_then(|m| m.as_str().parse().ok());
            err.message = c[4].trim().to_string();
        } else if let Some(c) = YAML_ERROR.captures(&body) {
            err.template = Some(c[1].to_string());
            err.message = c[2].trim().to_string();
        }
        if err.message.is_empty() {
            err.message = "helm failed without a message".into();
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_call_location() {
        let e = HelmError::parse("Error: execution error at (loki/templates/validate.yaml:19:4): Please define loki.storage.bucketNames.chunks\n");
        assert_eq!(e.template.as_deref(), Some("loki/templates/validate.yaml"));
        assert_eq!((e.line, e.column), (Some(19), Some(4)));
        assert_eq!(e.message, "Please define loki.storage.bucketNames.chunks");
    }

    #[test]
    fn template_exec_error() {
        let e = HelmError::parse("Error: template: demo/templates/deployment.yaml:30:28: executing \"demo/templates/deployment.yaml\" at <index .Values.hosts 0>: error calling index: index out of range: 0\n");
        assert_eq!(e.template.as_deref(), Some("demo/templates/deployment.yaml"));
        assert_eq!(e.line, Some(30));
        assert!(e.message.contains("index out of range"));
    }

    #[test]
    fn helm4_location_line_keeps_the_whole_cause() {
        let e = HelmError::parse("Error: mychart/templates/NOTES.txt:21:39\n  executing \"mychart/templates/NOTES.txt\" at <.Values.service.type>:\n    wrong type for value; expected string; got interface {}\n\nUse --debug flag to render out invalid YAML\n");
        assert_eq!(e.template.as_deref(), Some("mychart/templates/NOTES.txt"));
        assert_eq!((e.line, e.column), (Some(21), Some(39)));
        assert_eq!(e.message, "executing \"mychart/templates/NOTES.txt\" at <.Values.service.type>: wrong type for value; expected string; got interface {}");
        assert!(!e.parse_error);
    }

    #[test]
    fn template_parse_error_is_flagged() {
        let e = HelmError::parse("Error: parse error at (mychart/templates/bad.yaml:4): function \"nosuchfn\" not defined\n\nUse --debug flag to render out invalid YAML\n");
        assert!(e.parse_error);
        assert_eq!(e.template.as_deref(), Some("mychart/templates/bad.yaml"));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.message, "function \"nosuchfn\" not defined");
    }

    #[test]
    fn multi_line_fail_message_is_kept_whole() {
        // Real output of helm 3.17.3 and 4.1.4 for `fail (join "\n" (list "VALUES VALIDATION:" …))`.
        let e = HelmError::parse("Error: execution error at (f/templates/v.yaml:2:4): VALUES VALIDATION:\n  x: must be set\n  y: bad\n\nUse --debug flag to render out invalid YAML\n");
        assert_eq!(e.template.as_deref(), Some("f/templates/v.yaml"));
        assert_eq!((e.line, e.column), (Some(2), Some(4)));
        assert_eq!(e.message, "VALUES VALIDATION:\n  x: must be set\n  y: bad");
    }

    #[test]
    fn log_lines_before_the_error_are_skipped() {
        // helm 4.1.4 on a chart with `deprecated: true` (slog warning), then helm 3.17.3.
        let e = HelmError::parse("level=WARN msg=\"this chart is deprecated\"\nError: g/templates/a.yaml:1:10\n  executing \"g/templates/a.yaml\" at <.Values.x.y.z>:\n    can't evaluate field y in type interface {}\n\nUse --debug flag to render out invalid YAML\n");
        assert_eq!(e.template.as_deref(), Some("g/templates/a.yaml"));
        assert_eq!((e.line, e.column), (Some(1), Some(10)));
        assert!(e.message.ends_with("can't evaluate field y in type interface {}"), "{}", e.message);
        let e = HelmError::parse("WARNING: This chart is deprecated\nError: template: g/templates/a.yaml:1:10: executing \"g/templates/a.yaml\" at <.Values.x.y.z>: can't evaluate field y in type interface {}\n\nUse --debug flag to render out invalid YAML\n");
        assert_eq!((e.template.as_deref(), e.line), (Some("g/templates/a.yaml"), Some(1)));
    }

    #[test]
    fn yaml_parse_error_and_schema() {
        let e = HelmError::parse("Error: YAML parse error on demo/templates/cm.yaml: error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context\n");
        assert_eq!(e.template.as_deref(), Some("demo/templates/cm.yaml"));
        let s = HelmError::parse("Error: values don't meet the specifications of the schema(s) in the following chart(s):\ndemo:\n- at '/replicaCount': got string, want integer\n");
        assert!(s.schema_error);
        assert!(s.template.is_none());
    }
}
