//! Reporters: one file per output format of each command. They only format; they never decide.

pub mod diff_human;
pub mod diff_json;
pub mod diff_markdown;

/// Whether human output on stdout may use ANSI colors: only on a terminal, and not when the
/// `NO_COLOR` environment variable is set to a non-empty value (https://no-color.org).
pub fn stdout_wants_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A JSON value shortened for one line of text (strings quoted, long values cut with `…`).
pub fn short_value(v: &serde_json::Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
