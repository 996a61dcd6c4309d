//! Parsing a template file's actions into a tree: output pipelines, `if`/`with` chains,
//! `range`, `template`/`block` calls, and the `define`d helpers, as `text/template` nests them.

use anyhow::{Result, anyhow, bail};

use super::lexer::{Action, Tok, Token, actions};

/// What starts an operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Dot,
    Var(String),
    Str(String),
    Num(String),
    Bool,
    Nil,
    /// A function name.
    Ident(String),
    /// A parenthesized pipeline.
    Sub(Box<Pipeline>),
}

/// A term followed by a field chain: `.Values.a.b`, `$x.c`, `(include "x" .).y`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub term: Term,
    pub fields: Vec<String>,
    pub line: usize,
}

/// Operands separated by spaces; the first is the function when it is an identifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Operand>,
}

/// `$a, $b := cmd | cmd ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub decls: Vec<String>,
    /// `=` (re-assignment) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Command>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Branch {
    /// `with` (rebinds `.`) rather than `if`.
    pub with: bool,
    pub cond: Pipeline,
    pub body: Vec<Node>,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// `{{ pipeline }}`: printed unless it declares variables.
    Output(Pipeline),
    /// `if`/`with` with `else if`/`else with` branches and a final `else`.
    Cond { branches: Vec<Branch>, else_body: Vec<Node> },
    Range { pipe: Pipeline, body: Vec<Node>, else_body: Vec<Node> },
    /// `template "name" arg`.
    Template { name: String, arg: Option<Pipeline>, line: usize },
}

/// A `define`d helper.
#[derive(Debug, Clone)]
pub struct Define {
    pub name: String,
    pub body: Vec<Node>,
}

/// A parsed template file.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    pub defines: Vec<Define>,
}

/// Parse a template file.
pub fn parse(src: &str) -> Result<Parsed> {
    let acts = actions(src)?;
    let mut p = TreeParser { acts, i: 0, defines: Vec::new() };
    let (nodes, stop) = p.list()?;
    match stop {
        Stop::Eof => Ok(Parsed { nodes, defines: p.defines }),
        Stop::End(line) => bail!("line {line}: unexpected {{{{ end }}}}"),
        Stop::Else(line, _) => bail!("line {line}: unexpected {{{{ else }}}}"),
    }
}

enum Stop {
    Eof,
    End(usize),
    Else(usize, Vec<Token>),
}

struct TreeParser {
    acts: Vec<Action>,
    i: usize,
    defines: Vec<Define>,
}

impl TreeParser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while self.i < self.acts.len() {
            let act = self.acts[self.i].clone();
            self.i += 1;
            let line = act.line;
            let toks = act.tokens;
            let keyword = match toks.first() {
                Some(Token { tok: Tok::Ident(k), .. }) => k.as_str(),
                None => continue,
                _ => "",
            };
            let rest = toks[1.min(toks.len())..].to_vec();
            match keyword {
                "end" => return Ok((nodes, Stop::End(line))),
                "else" => return Ok((nodes, Stop::Else(line, rest))),
                "if" | "with" => nodes.push(self.cond(keyword == "with", &rest, line)?),
                "range" => {
                    let pipe = pipeline(&rest, line)?;
                    let (body, stop) = self.list()?;
                    let else_body = self.else_tail(stop, line, "range")?;
                    nodes.push(Node::Range { pipe, body, else_body });
                }
                "define" | "block" => {
                    let Some(Token { tok: Tok::Str(name), .. }) = rest.first() else {
                        bail!("line {line}: {keyword} needs a quoted template name")
                    };
                    let name = name.clone();
                    let (body, stop) = self.list()?;
                    if !matches!(stop, Stop::End(_)) {
                        bail!("line {line}: {keyword} \"{name}\" has no {{{{ end }}}}");
                    }
                    self.defines.push(Define { name: name.clone(), body });
                    if keyword == "block" {
                        let arg = if rest.len() > 1 { Some(pipeline(&rest[1..], line)?) } else { None };
                        nodes.push(Node::Template { name, arg, line });
                    }
                }
                "template" => {
                    let Some(Token { tok: Tok::Str(name), .. }) = rest.first() else {
                        bail!("line {line}: template needs a quoted template name")
                    };
                    let arg = if rest.len() > 1 { Some(pipeline(&rest[1..], line)?) } else { None };
                    nodes.push(Node::Template { name: name.clone(), arg, line });
                }
                "break" | "continue" => {}
                _ => nodes.push(Node::Output(pipeline(&toks, line)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn cond(&mut self, with: bool, rest: &[Token], line: usize) -> Result<Node> {
        let mut branches = vec![];
        let mut cond = pipeline(rest, line)?;
        let mut is_with = with;
        loop {
            let (body, stop) = self.list()?;
            branches.push(Branch { with: is_with, cond, body });
            match stop {
                Stop::Else(l, toks) => match toks.first() {
                    Some(Token { tok: Tok::Ident(k), .. }) if k == "if" || k == "with" => {
                        is_with = k == "with";
                        cond = pipeline(&toks[1..], l)?;
                    }
                    _ => {
                        let (else_body, stop) = self.list()?;
                        if !matches!(stop, Stop::End(_)) {
                            bail!("line {line}: {} has no {{{{ end }}}}", if with { "with" } else { "if" });
                        }
                        return Ok(Node::Cond { branches, else_body });
                    }
                },
                Stop::End(_) => return Ok(Node::Cond { branches, else_body: vec![] }),
                Stop::Eof => bail!("line {line}: {} has no {{{{ end }}}}", if with { "with" } else { "if" }),
            }
        }
    }

    fn else_tail(&mut self, stop: Stop, line: usize, what: &str) -> Result<Vec<Node>> {
        match stop {
            Stop::End(_) => Ok(vec![]),
            Stop::Else(..) => {
                let (body, stop) = self.list()?;
                match stop {
                    Stop::End(_) => Ok(body),
                    _ => bail!("line {line}: {what} has no {{{{ end }}}}"),
                }
            }
            Stop::Eof => bail!("line {line}: {what} has no {{{{ end }}}}"),
        }
    }
}

/// Parse a pipeline (with optional variable declarations) from an action's tokens.
pub fn pipeline(toks: &[Token], line: usize) -> Result<Pipeline> {
    let mut decls = Vec::new();
    let mut assign = false;
    let mut start = 0;
    // `$x :=`, `$x =`, `$i, $v :=`
    let mut k = 0;
    let mut vars = Vec::new();
    while let Some(Token { tok: Tok::Var(v), .. }) = toks.get(k) {
        vars.push(v.clone());
        match toks.get(k + 1).map(|t| &t.tok) {
            Some(Tok::Comma) => k += 2,
            Some(Tok::Declare) | Some(Tok::Assign) => {
                assign = toks[k + 1].tok == Tok::Assign;
                decls = std::mem::take(&mut vars);
                start = k + 2;
                break;
            }
            _ => break,
        }
    }
    let mut cur = Cursor { toks: &toks[start..], i: 0 };
    let p = cur.pipeline(line, decls, assign)?;
    if cur.i < cur.toks.len() {
        bail!("line {line}: unexpected {:?} in action", cur.toks[cur.i].tok);
    }
    Ok(p)
}

struct Cursor<'a> {
    toks: &'a [Token],
    i: usize,
}

impl Cursor<'_> {
    fn pipeline(&mut self, line: usize, decls: Vec<String>, assign: bool) -> Result<Pipeline> {
        let mut cmds = Vec::new();
        let mut args = Vec::new();
        while let Some(t) = self.toks.get(self.i) {
            match &t.tok {
                Tok::RParen => break,
                Tok::Pipe => {
                    self.i += 1;
                    cmds.push(Command { args: std::mem::take(&mut args) });
                }
                _ => args.push(self.operand()?),
            }
        }
        if !args.is_empty() || cmds.is_empty() {
            cmds.push(Command { args });
        }
        Ok(Pipeline { decls, assign, cmds, line })
    }

    fn operand(&mut self) -> Result<Operand> {
        let t = self.toks[self.i].clone();
        self.i += 1;
        let mut fields = Vec::new();
        let term = match t.tok {
            Tok::Dot => Term::Dot,
            Tok::Field(f) => {
                fields.push(f);
                Term::Dot
            }
            Tok::Var(v) => Term::Var(v),
            Tok::Str(s) => Term::Str(s),
            Tok::Num(n) => Term::Num(n),
            Tok::Ident(id) => match id.as_str() {
                "true" | "false" => Term::Bool,
                "nil" => Term::Nil,
                _ => Term::Ident(id),
            },
            Tok::LParen => {
                let decls_end = self.i;
                let sub_toks = &self.toks[decls_end..];
                let mut inner = Cursor { toks: sub_toks, i: 0 };
                let p = inner.pipeline(t.line, vec![], false)?;
                self.i += inner.i;
                match self.toks.get(self.i) {
                    Some(Token { tok: Tok::RParen, .. }) => self.i += 1,
                    _ => return Err(anyhow!("line {}: unclosed parenthesis", t.line)),
                }
                Term::Sub(Box::new(p))
            }
            other => bail!("line {}: unexpected {other:?} in action", t.line),
        };
        while let Some(Token { tok: Tok::Field(f), spaced: false, .. }) = self.toks.get(self.i) {
            fields.push(f.clone());
            self.i += 1;
        }
        Ok(Operand { term, fields, line: t.line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_control_structures_and_defines() {
        let src = r#"{{- define "x.name" -}}{{ .Values.a }}{{- end }}
{{ if .Values.b }}{{ with .Values.c }}{{ .d }}{{ else }}{{ .e }}{{ end }}{{ else if .Values.f }}x{{ end }}
{{ range $k, $v := .Values.g }}{{ $v.h }}{{ end }}
{{ template "x.name" . }}"#;
        let p = parse(src).unwrap();
        assert_eq!(p.defines.len(), 1);
        assert_eq!(p.defines[0].name, "x.name");
        assert_eq!(p.nodes.len(), 3);
        let Node::Cond { branches, .. } = &p.nodes[0] else { panic!() };
        assert_eq!(branches.len(), 2);
        let Node::Range { pipe, .. } = &p.nodes[1] else { panic!() };
        assert_eq!(pipe.decls, vec!["$k".to_string(), "$v".to_string()]);
        assert!(matches!(&p.nodes[2], Node::Template { name, arg: Some(_), line: 4 } if name == "x.name"));
    }

    #[test]
    fn pipes_and_parentheses() {
        let p = parse(r#"{{ (index .Values "a-b").c | default "x" | quote }}"#).unwrap();
        let Node::Output(pipe) = &p.nodes[0] else { panic!() };
        assert_eq!(pipe.cmds.len(), 3);
        let op = &pipe.cmds[0].args[0];
        assert_eq!(op.fields, vec!["c".to_string()]);
        assert!(matches!(&op.term, Term::Sub(_)));
    }

    #[test]
    fn spaced_field_is_a_separate_operand() {
        let p = parse("{{ $x .a }}").unwrap();
        let Node::Output(pipe) = &p.nodes[0] else { panic!() };
        assert_eq!(pipe.cmds[0].args.len(), 2);
    }

    #[test]
    fn missing_end_is_an_error() {
        assert!(parse("{{ if .Values.a }}x").is_err());
    }
}
