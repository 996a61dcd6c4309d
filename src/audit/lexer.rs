//! Lexing Go templates the way `text/template` does, for static reading: find the `{{ }}`
//! actions in a file (trim markers `{{- -}}`, comments `{{/* */}}`, strings and raw strings that
//! may hold `}}`), then split each action into tokens, every token with its source line.

use anyhow::{Result, bail};

/// One token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// `.` alone.
    Dot,
    /// `.name` (a field or method on what precedes it, or on `.`).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    /// An identifier: a function name or a keyword (`if`, `range`, `end`, `nil`, `true`, ...).
    Ident(String),
    /// A string literal, already unquoted.
    Str(String),
    /// A number or character constant, as written.
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A token and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    /// White space precedes the token (`$x .a` is two operands, `$x.a` one).
    pub spaced: bool,
}

/// One `{{ ... }}` action (comments are dropped): its tokens and the line of its `{{`.
#[derive(Debug, Clone)]
pub struct Action {
    pub line: usize,
    pub tokens: Vec<Token>,
}

/// Find every action of a template file, in order.
pub fn actions(src: &str) -> Result<Vec<Action>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while let Some(off) = find(b, i, b"{{") {
        line += count_newlines(&b[i..off]);
        let start_line = line;
        let mut j = off + 2;
        // Left trim marker: "{{- " (a dash followed by white space).
        if b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 2;
        }
        let mut k = j;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if b[k..].starts_with(b"/*") {
            let Some(end) = find(b, k + 2, b"*/") else { bail!("line {start_line}: unclosed comment") };
            let Some(close) = find(b, end + 2, b"}}") else { bail!("line {start_line}: unclosed comment action") };
            line += count_newlines(&b[off..close + 2]);
            i = close + 2;
            continue;
        }
        let (tokens, close) = tokenize(src, j, start_line)?;
        line += count_newlines(&b[off..close]);
        out.push(Action { line: start_line, tokens });
        i = close;
    }
    Ok(out)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

fn count_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// Tokenize from `start` up to the closing `}}` (or ` -}}`); returns the tokens and the offset after `}}`.
fn tokenize(src: &str, start: usize, first_line: usize) -> Result<(Vec<Token>, usize)> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = start;
    let mut line = first_line;
    let mut spaced = true;
    macro_rules! push {
        ($toks:expr, $tok:expr, $line:expr) => {{
            $toks.push(Token { tok: $tok, line: $line, spaced });
            spaced = false;
        }};
    }
    loop {
        let Some(&c) = b.get(i) else { bail!("line {first_line}: unclosed action (no matching }}}})") };
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                spaced = true;
            }
            c if c.is_ascii_whitespace() => {
                spaced = true;
                // " -}}" closes with a right trim marker.
                if b.get(i + 1) == Some(&b'-') && b.get(i + 2..).is_some_and(|r| r.starts_with(b"}}")) {
                    return Ok((toks, i + 4));
                }
                i += 1;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Ok((toks, i + 2)),
            b'(' => {
                push!(toks, Tok::LParen, line);
                i += 1;
            }
            b')' => {
                push!(toks, Tok::RParen, line);
                i += 1;
            }
            b'|' => {
                push!(toks, Tok::Pipe, line);
                i += 1;
            }
            b',' => {
                push!(toks, Tok::Comma, line);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                push!(toks, Tok::Declare, line);
                i += 2;
            }
            b'=' => {
                push!(toks, Tok::Assign, line);
                i += 1;
            }
            b'"' => {
                let mut s = String::new();
                let mut k = i + 1;
                loop {
                    let Some(&d) = b.get(k) else { bail!("line {line}: unterminated string") };
                    match d {
                        b'"' => break,
                        b'\n' => bail!("line {line}: newline in string"),
                        b'\\' => {
                            let e = *b.get(k + 1).unwrap_or(&b'\\');
                            match e {
                                b'n' => s.push('\n'),
                                b't' => s.push('\t'),
                                b'"' => s.push('"'),
                                b'\\' => s.push('\\'),
                                other => {
                                    s.push('\\');
                                    s.push(other as char);
                                }
                            }
                            k += 2;
                        }
                        _ => {
                            let ch = src[k..].chars().next().unwrap();
                            s.push(ch);
                            k += ch.len_utf8();
                        }
                    }
                }
                push!(toks, Tok::Str(s), line);
                i = k + 1;
            }
            b'`' => {
                let Some(end) = find(b, i + 1, b"`") else { bail!("line {line}: unterminated raw string") };
                push!(toks, Tok::Str(src[i + 1..end].to_string()), line);
                line += count_newlines(&b[i..end]);
                i = end + 1;
            }
            b'\'' => {
                let mut k = i + 1;
                while k < b.len() && b[k] != b'\'' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                push!(toks, Tok::Num(src[i..(k + 1).min(src.len())].to_string()), line);
                i = k + 1;
            }
            b'$' => {
                let mut k = i + 1;
                while k < b.len() && is_ident_char(b[k]) {
                    k += 1;
                }
                push!(toks, Tok::Var(src[i..k].to_string()), line);
                i = k;
            }
            b'.' if !b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                let mut k = i + 1;
                while k < b.len() && is_ident_char(b[k]) {
                    k += 1;
                }
                if k == i + 1 {
                    push!(toks, Tok::Dot, line);
                } else {
                    push!(toks, Tok::Field(src[i + 1..k].to_string()), line);
                }
                i = k;
            }
            c if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                let mut k = i + 1;
                while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'.' || b[k] == b'_') {
                    k += 1;
                }
                push!(toks, Tok::Num(src[i..k].to_string()), line);
                i = k;
            }
            c if is_ident_char(c) => {
                let mut k = i;
                while k < b.len() && is_ident_char(b[k]) {
                    k += 1;
                }
                push!(toks, Tok::Ident(src[i..k].to_string()), line);
                i = k;
            }
            other => bail!("line {line}: unexpected character '{}' in action", other as char),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Vec<Tok>> {
        actions(src).unwrap().into_iter().map(|a| a.tokens.into_iter().map(|t| t.tok).collect()).collect()
    }

    #[test]
    fn fields_variables_and_trim_markers() {
        assert_eq!(
            toks("a {{- $.Values.x.y -}} b {{ $v := .Values.z }}"),
            vec![
                vec![Tok::Var("$".into()), Tok::Field("Values".into()), Tok::Field("x".into()), Tok::Field("y".into())],
                vec![Tok::Var("$v".into()), Tok::Declare, Tok::Field("Values".into()), Tok::Field("z".into())],
            ]
        );
    }

    #[test]
    fn comments_are_dropped_and_strings_may_hold_braces() {
        let src = "{{/* a\n comment {{ .Values.no }} */}}\n{{- /* trimmed */ -}}\n{{ printf \"}}%s\" `raw\n}}` .Values.yes }}";
        let acts = actions(src).unwrap();
        assert_eq!(acts.len(), 1);
        assert_eq!(acts[0].line, 4);
        assert!(acts[0].tokens.contains(&Token { tok: Tok::Field("yes".into()), line: 5, spaced: false }));
        assert!(acts[0].tokens.contains(&Token { tok: Tok::Str("}}%s".into()), line: 4, spaced: true }));
    }

    #[test]
    fn negative_number_is_not_a_trim_marker() {
        assert_eq!(toks("{{-3}}"), vec![vec![Tok::Num("-3".into())]]);
        assert_eq!(toks("{{ sub 1 2 -}}"), vec![vec![Tok::Ident("sub".into()), Tok::Num("1".into()), Tok::Num("2".into())]]);
    }

    #[test]
    fn unclosed_action_is_an_error() {
        assert!(actions("{{ .Values.a ").is_err());
    }
}
