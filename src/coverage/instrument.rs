//! Rewriting one template file so that a render reports what ran, without changing what any
//! template or `include` produces.
//!
//! The file is read into `{{ }}` actions and text with byte positions (the same lexical rules as
//! Go's `text/template` lexer, `lexLeftDelim`/`lexComment`/`lexInsideAction` in
//! text/template/parse/lex.go: trim markers are `{{- ` and ` -}}`, comments `/* */`, strings,
//! raw strings and character constants may hold `}}`), then nested like `parse.(*Tree).itemList`
//! nests `if`/`with`/`range`/`define`/`else`/`end`. Every probe is an action that prints nothing:
//! `{{ $__cpcovm = print $__cpcovm "~cpcov-F-P~" }}` appends the probe's marker to a string
//! variable of the executing template (declared, with the dict `$__cpcov` that wrapped includes
//! record into, at the start of each top-level file and of each `define` body). One function call
//! per probe run: probes are most of what an instrumented render costs.
//!
//! Output is never changed, only added to at two places no template reads:
//! - a top-level file prints its markers once, as a YAML comment line at its end;
//! - a `define` body prints `~cpcov:end~` and its markers at its end, and every `include` call is
//!   wrapped so that the caller splits the included text at that separator (sprig `splitn`, no
//!   regular expression), records the markers after it and receives the text before it, i.e.
//!   exactly what the uninstrumented `include` returns (an uninstrumented define, with no
//!   separator, gives its whole text and no markers). A `template "x" ARG` call, at the top level
//!   or in a define, becomes the wrapped `include "x" ARG` (same text), so markers only ever
//!   follow the separator.
//!
//! Whitespace trimming is kept: a probe inserted right after an action carries that action's
//! right trim marker, one inserted right before an action carries its left trim marker, and a
//! probe inside text is only placed right before a non-blank character.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

/// Marker text of probe `probe` of file `file`.
pub fn marker(file: usize, probe: usize) -> String {
    format!("~cpcov-{file}-{probe}~")
}

/// The regular expression of every marker (Go RE2 syntax, also valid for the `regex` crate).
pub const MARKER_RE: &str = r"~cpcov-([0-9]+)-([0-9]+)~";
/// Prefix of the comment line a top-level file ends with in the instrumented render.
pub const EMIT_PREFIX: &str = "# chartproof-coverage ";

/// The dict a wrapped `include` records into (`"l"`: the split result, `"a"`: included markers).
const VAR: &str = "$__cpcov";
/// The string variable probes append their markers to (one `print` per probe run, no dict call).
const MARKS: &str = "$__cpcovm";
/// What a `define` prints between its text and its markers: a wrapped `include` splits its
/// value at the first one (sprig `splitn`, no regular expression). Seen in a render's output, it
/// means an include was not wrapped (the render is then counted as inexact).
pub const INCLUDE_SEPARATOR: &str = "~cpcov:end~";

/// What a probe stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The output of a line ran (text or a printing action on it).
    Line(usize),
    /// Branch `branch` of the control structure `block` (numbered in the file) at `line` ran.
    Branch {
        line: usize,
        block: usize,
        branch: usize,
        label: String,
    },
}

/// Probes of one file, by id, and the rewritten text.
#[derive(Debug, Clone, Default)]
pub struct Instrumented {
    pub text: String,
    pub probes: Vec<Probe>,
    /// Places where the result may not be exact (an `include` the rewrite could not wrap...).
    pub notes: Vec<String>,
}

impl Instrumented {
    /// Lines that write output, sorted.
    pub fn lines(&self) -> BTreeSet<usize> {
        self.probes
            .iter()
            .filter_map(|p| {
                if let Probe::Line(l) = p {
                    Some(*l)
                } else {
                    None
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Act {
    start: usize,
    end: usize,
    body_start: usize,
    body_end: usize,
    ltrim: bool,
    rtrim: bool,
    line: usize,
}

#[derive(Debug, Clone)]
enum Item {
    Text {
        start: usize,
        end: usize,
        line: usize,
    },
    Act(Act),
}

/// Split a template into text and actions, with byte positions.
fn scan(src: &str) -> Result<Vec<Item>> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        let Some(off) = find(b, i, b"{{") else {
            items.push(Item::Text {
                start: i,
                end: b.len(),
                line,
            });
            break;
        };
        if off > i {
            items.push(Item::Text {
                start: i,
                end: off,
                line,
            });
            line += count(&b[i..off]);
        }
        let mut j = off + 2;
        let ltrim =
            b.get(j) == Some(&b'-') && b.get(j + 1).is_some_and(|c| c.is_ascii_whitespace());
        if ltrim {
            j += 2;
        }
        let body_start = j;
        let (body_end, end, rtrim) = close(b, j)
            .ok_or_else(|| anyhow::anyhow!("line {line}: unclosed action (no matching }}}})"))?;
        items.push(Item::Act(Act {
            start: off,
            end,
            body_start,
            body_end,
            ltrim,
            rtrim,
            line,
        }));
        line += count(&b[off..end]);
        i = end;
    }
    Ok(items)
}

/// From inside an action, the end of its body, the offset after `}}` and whether it closes
/// with ` -}}`.
fn close(b: &[u8], mut k: usize) -> Option<(usize, usize, bool)> {
    // A comment: `/* ... */` then the close.
    let mut s = k;
    while s < b.len() && b[s].is_ascii_whitespace() {
        s += 1;
    }
    if b[s..].starts_with(b"/*") {
        k = find(b, s + 2, b"*/")? + 2;
    }
    while k < b.len() {
        match b[k] {
            b'}' if b.get(k + 1) == Some(&b'}') => return Some((k, k + 2, false)),
            c if c.is_ascii_whitespace()
                && b.get(k + 1) == Some(&b'-')
                && b[k + 2..].starts_with(b"}}") =>
            {
                return Some((k, k + 4, true));
            }
            b'"' => {
                k += 1;
                while k < b.len() && b[k] != b'"' && b[k] != b'\n' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
            }
            b'`' => k = find(b, k + 1, b"`")? + 1,
            b'\'' => {
                k += 1;
                while k < b.len() && b[k] != b'\'' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
            }
            _ => k += 1,
        }
    }
    None
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// One lexical token of an action body, with its byte range in the file.
#[derive(Debug, Clone, PartialEq)]
enum Tk {
    Ident,
    Var,
    Str,
    LParen,
    RParen,
    Pipe,
    Declare,
    Other,
}

fn tokens(src: &str, start: usize, end: usize) -> Vec<(Tk, usize, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut k = start;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while k < end {
        let c = b[k];
        let s = k;
        let tk = match c {
            c if c.is_ascii_whitespace() => {
                k += 1;
                continue;
            }
            b'(' => {
                k += 1;
                Tk::LParen
            }
            b')' => {
                k += 1;
                Tk::RParen
            }
            b'|' => {
                k += 1;
                Tk::Pipe
            }
            b':' if b.get(k + 1) == Some(&b'=') => {
                k += 2;
                Tk::Declare
            }
            b'=' => {
                k += 1;
                Tk::Declare
            }
            b'"' => {
                k += 1;
                while k < end && b[k] != b'"' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
                Tk::Str
            }
            b'`' => {
                k = find(b, k + 1, b"`").map_or(end, |e| e + 1);
                Tk::Str
            }
            b'\'' => {
                k += 1;
                while k < end && b[k] != b'\'' {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
                Tk::Other
            }
            b'$' => {
                k += 1;
                while k < end && ident(b[k]) {
                    k += 1;
                }
                Tk::Var
            }
            c if ident(c) && !c.is_ascii_digit() => {
                while k < end && ident(b[k]) {
                    k += 1;
                }
                Tk::Ident
            }
            _ => {
                k += 1;
                while k < end
                    && !b[k].is_ascii_whitespace()
                    && !b"()|\"`'$".contains(&b[k])
                    && !(b[k] == b':' && b.get(k + 1) == Some(&b'='))
                {
                    k += 1;
                }
                Tk::Other
            }
        };
        out.push((tk, s, k.min(end)));
    }
    out
}

/// What an action does.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Comment,
    If,
    With,
    Range,
    /// `else`, `else if`, `else with`.
    Else {
        chained: bool,
    },
    End,
    Define,
    Block,
    Template,
    /// `break`, `continue`, a declaration or assignment: prints nothing.
    Quiet,
    Output,
}

fn kind(src: &str, a: &Act) -> Kind {
    let body = src[a.body_start..a.body_end].trim_start();
    if body.starts_with("/*") {
        return Kind::Comment;
    }
    let toks = tokens(src, a.body_start, a.body_end);
    let word = |i: usize| {
        toks.get(i)
            .filter(|t| t.0 == Tk::Ident)
            .map(|t| &src[t.1..t.2])
    };
    match word(0) {
        Some("if") => Kind::If,
        Some("with") => Kind::With,
        Some("range") => Kind::Range,
        Some("else") => Kind::Else {
            chained: matches!(word(1), Some("if") | Some("with")),
        },
        Some("end") => Kind::End,
        Some("define") => Kind::Define,
        Some("block") => Kind::Block,
        Some("template") => Kind::Template,
        Some("break") | Some("continue") => Kind::Quiet,
        _ => {
            // `$x := …`, `$x = …`, `$a, $b := …`
            let mut i = 0;
            while toks.get(i).is_some_and(|t| t.0 == Tk::Var) {
                match toks.get(i + 1) {
                    Some((Tk::Declare, _, _)) => return Kind::Quiet,
                    Some((Tk::Other, s, e)) if &src[*s..*e] == "," => i += 2,
                    _ => break,
                }
            }
            Kind::Output
        }
    }
}

#[derive(Debug)]
enum Node {
    Text {
        start: usize,
        end: usize,
        line: usize,
    },
    Act(Act, Kind),
    /// `if`/`with` chain or `range`: the opening action, each `else`, their bodies, the `end`.
    Control {
        kind: Kind,
        heads: Vec<Act>,
        bodies: Vec<Vec<Node>>,
        end: Act,
    },
    Define {
        head: Act,
        body: Vec<Node>,
        end: Act,
    },
    /// `block "name" PIPE`: a define of the body and a template call where it stands.
    Block {
        head: Act,
        body: Vec<Node>,
        end: Act,
    },
}

struct Parser<'a> {
    src: &'a str,
    items: Vec<Item>,
    i: usize,
}

impl Parser<'_> {
    /// Nodes up to an `else` or `end` (returned, not consumed into the list) or the end of file.
    fn list(&mut self) -> Result<(Vec<Node>, Option<(Act, Kind)>)> {
        let mut nodes = Vec::new();
        while self.i < self.items.len() {
            let item = self.items[self.i].clone();
            self.i += 1;
            let act = match item {
                Item::Text { start, end, line } => {
                    nodes.push(Node::Text { start, end, line });
                    continue;
                }
                Item::Act(a) => a,
            };
            let k = kind(self.src, &act);
            match k {
                Kind::End | Kind::Else { .. } => return Ok((nodes, Some((act, k)))),
                Kind::If | Kind::With | Kind::Range => {
                    let mut heads = vec![act.clone()];
                    let mut bodies = Vec::new();
                    loop {
                        let (body, stop) = self.list()?;
                        bodies.push(body);
                        match stop {
                            Some((a, Kind::End)) => {
                                nodes.push(Node::Control {
                                    kind: k,
                                    heads,
                                    bodies,
                                    end: a,
                                });
                                break;
                            }
                            Some((a, Kind::Else { chained })) => {
                                if k == Kind::Range && chained {
                                    bail!("line {}: else if/with after range", a.line);
                                }
                                if heads.last().is_some_and(|h| {
                                    matches!(kind(self.src, h), Kind::Else { chained: false })
                                }) {
                                    bail!("line {}: else after else", a.line);
                                }
                                heads.push(a);
                            }
                            _ => bail!("line {}: no {{{{ end }}}} for this action", act.line),
                        }
                    }
                }
                Kind::Define | Kind::Block => {
                    let (body, stop) = self.list()?;
                    match stop {
                        Some((end, Kind::End)) => nodes.push(if k == Kind::Define {
                            Node::Define {
                                head: act,
                                body,
                                end,
                            }
                        } else {
                            Node::Block {
                                head: act,
                                body,
                                end,
                            }
                        }),
                        _ => bail!("line {}: define without {{{{ end }}}}", act.line),
                    }
                }
                other => nodes.push(Node::Act(act, other)),
            }
        }
        Ok((nodes, None))
    }
}

/// One text insertion. Insertions at one offset keep the order of `class`, then `sub`.
struct Edit {
    at: usize,
    class: u8,
    sub: i64,
    text: String,
}

struct Writer<'a> {
    src: &'a str,
    file: usize,
    probes: Vec<Probe>,
    edits: Vec<Edit>,
    blocks: usize,
    notes: Vec<String>,
    /// The defines of `block` bodies, instrumented, written at the end of the file.
    hoisted: Vec<String>,
    /// Probes are inserted (false: only `include` calls are wrapped, for NOTES.txt).
    counting: bool,
}

const AFTER: u8 = 1;
const BEFORE: u8 = 2;
const WRAP_END: u8 = 3;
const WRAP_START: u8 = 4;

impl Writer<'_> {
    fn probe_action(&mut self, probe: Probe, ltrim: bool, rtrim: bool) -> String {
        if !self.counting {
            return String::new();
        }
        let id = self.probes.len();
        self.probes.push(probe);
        format!(
            "{{{{{} {MARKS} = print {MARKS} \"{}\" {}}}}}",
            if ltrim { "-" } else { "" },
            marker(self.file, id),
            if rtrim { "-" } else { "" }
        )
    }

    fn insert(&mut self, at: usize, class: u8, text: String) {
        self.edits.push(Edit {
            at,
            class,
            sub: 0,
            text,
        });
    }

    /// Probes for a node list: one line probe per line with output, at its first output
    /// element in this list; branch probes for control structures; wrapped includes.
    fn list(&mut self, nodes: &[Node]) {
        let mut probed: BTreeSet<usize> = BTreeSet::new();
        for node in nodes {
            match node {
                Node::Text { start, end, line } => {
                    let text = &self.src[*start..*end];
                    let mut l = *line;
                    for (i, c) in text.char_indices() {
                        if c == '\n' {
                            l += 1;
                            continue;
                        }
                        if !c.is_whitespace() && probed.insert(l) {
                            let p = self.probe_action(Probe::Line(l), false, false);
                            self.insert(start + i, BEFORE, p);
                        }
                    }
                }
                Node::Act(a, k) => {
                    self.includes(a, *k == Kind::Template);
                    if matches!(k, Kind::Output | Kind::Template) && probed.insert(a.line) {
                        let p = self.probe_action(Probe::Line(a.line), a.ltrim, false);
                        self.insert(a.start, BEFORE, p);
                    }
                }
                Node::Control {
                    kind,
                    heads,
                    bodies,
                    end,
                } => {
                    let block = self.blocks;
                    self.blocks += 1;
                    let line = heads[0].line;
                    for h in heads {
                        self.includes(h, false);
                    }
                    let word = if *kind == Kind::Range {
                        "range"
                    } else if *kind == Kind::With {
                        "with"
                    } else {
                        "if"
                    };
                    for (n, (head, body)) in heads.iter().zip(bodies).enumerate() {
                        let label = match (kind, n) {
                            (Kind::Range, 0) => {
                                "range: some iterations (counts iterations)".to_string()
                            }
                            (Kind::Range, _) => "range: no iteration (else)".to_string(),
                            (_, 0) => format!("{word} true"),
                            _ if matches!(
                                self::kind(self.src, head),
                                Kind::Else { chained: true }
                            ) =>
                            {
                                format!("else {word} (line {})", head.line)
                            }
                            _ => format!("else (line {})", head.line),
                        };
                        let p = self.probe_action(
                            Probe::Branch {
                                line,
                                block,
                                branch: n,
                                label,
                            },
                            false,
                            head.rtrim,
                        );
                        self.insert(head.end, AFTER, p);
                        self.list(body);
                    }
                    let has_else = heads.last().is_some_and(|h| {
                        matches!(self::kind(self.src, h), Kind::Else { chained: false })
                    });
                    if !has_else && self.counting {
                        let label = if *kind == Kind::Range {
                            "range: no iteration".to_string()
                        } else {
                            format!("{word}: no branch taken (implicit else)")
                        };
                        let p = self.probe_action(
                            Probe::Branch {
                                line,
                                block,
                                branch: heads.len(),
                                label,
                            },
                            false,
                            false,
                        );
                        let text = format!("{{{{{} else }}}}{p}", if end.ltrim { "-" } else { "" });
                        self.insert(end.start, BEFORE, text);
                    }
                }
                Node::Define { head, body, end } => self.define_body(head, body, end),
                Node::Block { head, body, end } => {
                    if probed.insert(head.line) {
                        let p = self.probe_action(Probe::Line(head.line), head.ltrim, false);
                        self.insert(head.start, BEFORE, p);
                    }
                    self.block(head, body, end, true);
                }
            }
        }
    }

    /// A define's body: its probes, the declaration of the variables they record into and, at
    /// its end, the separator and its markers. An empty body (what Go's `parse.IsEmptyTree`
    /// calls empty: blank text and comments) is left empty: across files Go's
    /// `(*Template).associate` keeps an earlier definition over an empty one, and an
    /// instrumented empty body would no longer be empty.
    fn define_body(&mut self, head: &Act, body: &[Node], end: &Act) {
        if is_empty_tree(self.src, body) {
            return;
        }
        let decl = format!(
            "{{{{ {VAR} := dict \"a\" \"\" }}}}{{{{ {MARKS} := \"\" {}}}}}",
            if head.rtrim { "-" } else { "" }
        );
        self.insert(head.end, AFTER, decl);
        self.list(body);
        let emit = format!(
            "{{{{{} print \"{INCLUDE_SEPARATOR}\" {MARKS} (index {VAR} \"a\") }}}}",
            if end.ltrim { "-" } else { "" }
        );
        self.insert(end.start, BEFORE, emit);
    }

    /// `{{ block "name" PIPE }}BODY{{ end }}` is parsed by Go as `{{ define "name" }}BODY{{ end }}`
    /// plus `{{ template "name" PIPE }}` where the block stands (text/template/parse/parse.go,
    /// `(*Tree).blockControl`). The rewrite does the same so the body counts like a define's:
    /// the define, instrumented, moves to the end of the file (a `define` must be at the top
    /// level, a block need not be); the head becomes the wrapped `include "name" PIPE` (or, at
    /// the top level of a `_` file, which records nothing, a plain `template` call); the body
    /// is replaced by a comment holding as many newlines, so every later line keeps its number,
    /// which carries the `end`'s right trim marker.
    fn block(&mut self, head: &Act, body: &[Node], end: &Act, wrap: bool) {
        let toks = tokens(self.src, head.body_start, head.body_end);
        let Some(name) = toks.get(1).map(|t| &self.src[t.1..t.2]) else {
            self.notes.push(format!("line {}: a `block` without a name is not instrumented", head.line));
            return;
        };
        let saved = std::mem::take(&mut self.edits);
        self.define_body(head, body, end);
        let inner = std::mem::replace(&mut self.edits, saved);
        self.hoisted.push(format!(
            "{{{{ define {name}{}}}}}{}{{{{{}end }}}}",
            if head.rtrim { " -" } else { " " },
            apply_edits(self.src, head.end, end.start, inner),
            if end.ltrim { "- " } else { " " },
        ));
        if wrap {
            self.includes(head, true);
        } else if let Some(word) = toks.first() {
            self.edits.push(Edit { at: word.1, class: WRAP_START, sub: i64::MAX, text: "template".into() });
            self.edits.push(Edit { at: word.1, class: u8::MAX, sub: (word.2 - word.1) as i64, text: String::new() });
        }
        let newlines = self.src[head.end..end.end].matches('\n').count();
        self.insert(head.end, AFTER, format!("{{{{/*{}*/{}}}}}", "\n".repeat(newlines), if end.rtrim { " -" } else { "" }));
        self.edits.push(Edit { at: head.end, class: u8::MAX, sub: (end.end - head.end) as i64, text: String::new() });
    }

    /// Wrap every `include` command of an action (and, when `template_to_include`, the
    /// `template` call itself) so the caller records its markers and gets its text without them.
    fn includes(&mut self, a: &Act, template_to_include: bool) {
        let toks = tokens(self.src, a.body_start, a.body_end);
        // Per parenthesis depth: where the current pipeline starts, the index of the current
        // command in it, and open wraps (start, depth) waiting for their command's end.
        let mut pipe_start: Vec<usize> = vec![toks.first().map_or(a.body_start, |t| t.1)];
        let mut cmd_index: Vec<usize> = vec![0];
        let mut at_head: Vec<bool> = vec![true];
        let mut open: Vec<(usize, usize)> = Vec::new();
        let mut first = true;
        let mut wraps: Vec<(usize, usize)> = Vec::new();
        let close_wraps = |open: &mut Vec<(usize, usize)>,
                           wraps: &mut Vec<(usize, usize)>,
                           depth: usize,
                           at: usize| {
            while open.last().is_some_and(|o| o.1 == depth) {
                let (s, _) = open.pop().unwrap();
                wraps.push((s, at));
            }
        };
        for (n, (tk, s, e)) in toks.iter().enumerate() {
            let depth = pipe_start.len() - 1;
            let word = &self.src[*s..*e];
            if first {
                first = false;
                if *tk == Tk::Ident
                    && matches!(
                        word,
                        "if" | "with" | "range" | "else" | "template" | "define" | "block" | "end"
                    )
                {
                    // The pipeline starts after the keyword (after `if` in `else if`, after the
                    // name of `template`).
                    let mut next = n + 1;
                    if word == "else"
                        && toks
                            .get(next)
                            .is_some_and(|t| matches!(&self.src[t.1..t.2], "if" | "with"))
                    {
                        next += 1;
                    }
                    if matches!(word, "template" | "define" | "block") {
                        next += 1;
                        if template_to_include && matches!(word, "template" | "block") {
                            let end = a.body_end;
                            let trimmed_end = self.src[..end].trim_end().len();
                            let arg = if toks.len() > next { "" } else { " nil" };
                            self.edits.push(Edit {
                                at: *s,
                                class: WRAP_START,
                                sub: -(trimmed_end as i64),
                                text: wrap_start(),
                            });
                            self.edits.push(Edit {
                                at: *s,
                                class: WRAP_START,
                                sub: i64::MAX,
                                text: "include".into(),
                            });
                            self.edits.push(Edit {
                                at: trimmed_end,
                                class: WRAP_END,
                                sub: -(*s as i64),
                                text: format!("{arg}{}", wrap_end()),
                            });
                            // Replace the word `template` (`block`) by `include`: drop its bytes.
                            self.edits.push(Edit {
                                at: *s,
                                class: u8::MAX,
                                sub: (*e - *s) as i64,
                                text: String::new(),
                            });
                        }
                    }
                    pipe_start[0] = toks.get(next).map_or(a.body_end, |t| t.1);
                    at_head[0] = true;
                    continue;
                }
            }
            match tk {
                Tk::LParen => {
                    pipe_start.push(*e);
                    cmd_index.push(0);
                    at_head.push(true);
                    continue;
                }
                Tk::RParen => {
                    close_wraps(&mut open, &mut wraps, depth, *s);
                    if depth > 0 {
                        pipe_start.pop();
                        cmd_index.pop();
                        at_head.pop();
                    }
                    let d = pipe_start.len() - 1;
                    at_head[d] = false;
                    continue;
                }
                Tk::Pipe => {
                    close_wraps(&mut open, &mut wraps, depth, trim_back(self.src, *s));
                    cmd_index[depth] += 1;
                    at_head[depth] = true;
                    continue;
                }
                Tk::Declare => {
                    pipe_start[depth] = toks.get(n + 1).map_or(a.body_end, |t| t.1);
                    cmd_index[depth] = 0;
                    at_head[depth] = true;
                    continue;
                }
                _ => {}
            }
            if at_head[depth] && *tk == Tk::Ident && word == "include" {
                let start = if cmd_index[depth] == 0 {
                    *s
                } else {
                    pipe_start[depth]
                };
                open.push((start, depth));
            }
            if *tk != Tk::Var
                || !toks
                    .get(n + 1)
                    .is_some_and(|t| matches!(t.0, Tk::Declare) || &self.src[t.1..t.2] == ",")
            {
                at_head[depth] = false;
            }
        }
        close_wraps(&mut open, &mut wraps, 0, trim_back(self.src, a.body_end));
        if !open.is_empty() {
            self.notes.push(format!("line {}: an include the rewrite could not delimit is not wrapped; its markers may show in the output", a.line));
        }
        for (s, e) in wraps {
            self.edits.push(Edit {
                at: s,
                class: WRAP_START,
                sub: -(e as i64),
                text: wrap_start(),
            });
            self.edits.push(Edit {
                at: e,
                class: WRAP_END,
                sub: -(s as i64),
                text: wrap_end(),
            });
        }
    }
}

/// `src[from..to]` with the edits (all within it) applied.
fn apply_edits(src: &str, from: usize, to: usize, mut edits: Vec<Edit>) -> String {
    edits.sort_by(|a, b| (a.at, a.class, a.sub).cmp(&(b.at, b.class, b.sub)));
    let mut out = String::with_capacity((to - from) * 2);
    let mut pos = from;
    for e in edits {
        if e.at > pos {
            out.push_str(&src[pos..e.at]);
            pos = e.at;
        }
        if e.class == u8::MAX {
            // A deletion of `sub` bytes at `at`.
            pos = e.at + e.sub as usize;
            continue;
        }
        out.push_str(&e.text);
    }
    out.push_str(&src[pos..to]);
    out
}

/// Go's `parse.IsEmptyTree` on a list: only blank text and comments.
fn is_empty_tree(src: &str, nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text { start, end, .. } => src[*start..*end].trim().is_empty(),
        Node::Act(_, Kind::Comment) => true,
        _ => false,
    })
}

fn trim_back(src: &str, at: usize) -> usize {
    src[..at].trim_end().len()
}

fn wrap_start() -> String {
    format!("(index (set (set {VAR} \"l\" (splitn \"{INCLUDE_SEPARATOR}\" 2 (")
}

fn wrap_end() -> String {
    format!(
        "))) \"a\" (print (index {VAR} \"a\") (index {VAR} \"l\" \"_1\"))) \"l\" \"_0\")"
    )
}

/// Instrument one template file. `file` is the file's id in markers; `partial` is a `_` file
/// (its top level renders nothing: only its defines are instrumented).
pub fn instrument(src: &str, file: usize, partial: bool) -> Result<Instrumented> {
    instrument_with(src, file, partial, true)
}

/// Rewrite a file whose lines are not counted (NOTES.txt, which `helm template` renders but
/// never prints) so that it still gets the unmarked text from each `include` it calls.
pub fn wrap_includes(src: &str, file: usize) -> Result<Instrumented> {
    instrument_with(src, file, false, false)
}

fn instrument_with(src: &str, file: usize, partial: bool, counting: bool) -> Result<Instrumented> {
    let items = scan(src)?;
    let mut parser = Parser { src, items, i: 0 };
    let (nodes, stop) = parser.list()?;
    if let Some((a, _)) = stop {
        bail!(
            "line {}: unexpected {{{{{}}}}}",
            a.line,
            src[a.body_start..a.body_end].trim()
        );
    }
    let mut w = Writer {
        src,
        file,
        probes: Vec::new(),
        edits: Vec::new(),
        blocks: 0,
        notes: Vec::new(),
        hoisted: Vec::new(),
        counting,
    };
    if partial {
        for node in &nodes {
            match node {
                Node::Define { .. } => w.list(std::slice::from_ref(node)),
                Node::Block { head, body, end } => w.block(head, body, end, false),
                _ => {}
            }
        }
    } else {
        w.insert(0, 0, format!("{{{{ {VAR} := dict \"a\" \"\" }}}}{{{{ {MARKS} := \"\" }}}}"));
        w.list(&nodes);
    }
    if !partial && counting {
        w.edits.push(Edit {
            at: src.len(),
            class: 9,
            sub: 0,
            text: format!(
                "{{{{ print \"\\n{EMIT_PREFIX}{file} \" {MARKS} (index {VAR} \"a\") \"\\n\" }}}}"
            ),
        });
    }
    for (n, define) in w.hoisted.into_iter().enumerate() {
        w.edits.push(Edit { at: src.len(), class: 10, sub: n as i64, text: define });
    }
    Ok(Instrumented {
        text: apply_edits(src, 0, src.len(), w.edits),
        probes: w.probes,
        notes: w.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes(src: &str) -> Instrumented {
        instrument(src, 0, false).unwrap()
    }

    #[test]
    fn lines_with_output_and_branches() {
        let src = "a: 1\n{{- if .Values.x }}\nb: {{ .Values.x }}\n{{- else if .Values.y }}\n  {{- /* c */}}\n{{- end }}\n{{ $x := 1 }}\n";
        let i = probes(src);
        assert_eq!(i.lines().into_iter().collect::<Vec<_>>(), vec![1, 3]);
        let branches: Vec<_> = i
            .probes
            .iter()
            .filter_map(|p| {
                if let Probe::Branch { branch, .. } = p {
                    Some(*branch)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(branches, vec![0, 1, 2]);
    }

    #[test]
    fn trim_markers_are_mirrored() {
        let src = "x:\n{{- if .a -}}\n  y\n{{- end }}\n";
        let i = probes(src);
        // The probe after `{{- if .a -}}` trims the newline the `if` trimmed; the implicit else
        // before `{{- end }}` trims what the `end` trimmed.
        assert!(i.text.contains("-}}{{ $__cpcovm ="), "{}", i.text);
        assert!(i.text.contains("{{- else }}"), "{}", i.text);
    }

    #[test]
    fn includes_are_wrapped_and_template_becomes_include() {
        let src = "{{ define \"x\" }}1{{ end }}{{ if eq (include \"x\" .) \"1\" }}{{ include \"x\" . | nindent 2 }}{{ end }}{{ template \"x\" . }}";
        let i = probes(src);
        assert_eq!(i.text.matches("(splitn \"~cpcov:end~\" 2 (include \"x\" .))").count(), 3, "{}", i.text);
        assert!(!i.text.contains("template \"x\""), "{}", i.text);
        assert!(!i.text.contains("regex"), "no regular expression per include: {}", i.text);
    }

    #[test]
    fn template_in_a_define_becomes_include_so_markers_only_follow_the_separator() {
        let src = "{{ define \"y\" }}a{{ template \"x\" . }}b{{ end }}";
        let i = probes(src);
        assert!(!i.text.contains("template \"x\""), "{}", i.text);
        assert!(i.text.contains("(splitn \"~cpcov:end~\" 2 (include \"x\" .))"), "{}", i.text);
        assert!(i.text.contains("b{{ print \"~cpcov:end~\" $__cpcovm (index $__cpcov \"a\") }}{{ end }}"), "{}", i.text);
    }

    #[test]
    fn pipe_target_include_wraps_the_pipeline() {
        let src = "{{ . | include \"x\" | quote }}";
        let i = probes(src);
        assert!(
            i.text
                .contains("(set (set $__cpcov \"l\" (splitn \"~cpcov:end~\" 2 (. | include \"x\"))) \"a\""),
            "{}",
            i.text
        );
    }

    #[test]
    fn partial_top_level_is_not_instrumented() {
        let src = "{{/* c */}}\n{{- define \"a\" -}}\nv: 1\n{{- end }}\n";
        let i = instrument(src, 3, true).unwrap();
        assert_eq!(i.lines().into_iter().collect::<Vec<_>>(), vec![3]);
        assert!(!i.text.contains(EMIT_PREFIX));
    }

    #[test]
    fn block_is_a_define_at_the_end_and_a_wrapped_include_where_it_stands() {
        let src = "a: 1\n{{- if .x }}\n{{- block \"b\" .y -}}\n  v: {{ . }}\n  {{- if . }}\n  w: 1\n  {{- end }}\n{{- end }}\n{{- end }}\nz: 2\n";
        let i = probes(src);
        // Lines 1, 3 (the call), 4, 6 and 10; branches: the outer if, then the if in the body.
        assert_eq!(i.lines().into_iter().collect::<Vec<_>>(), vec![1, 3, 4, 6, 10]);
        let branches: Vec<(usize, usize)> = i.probes.iter().filter_map(|p| if let Probe::Branch { line, block, .. } = p { Some((*line, *block)) } else { None }).collect();
        assert_eq!(branches, vec![(2, 0), (5, 1), (5, 1), (2, 0)]);
        assert!(!i.text.contains("block"), "{}", i.text);
        assert!(i.text.contains("(splitn \"~cpcov:end~\" 2 (include \"b\" .y))"), "{}", i.text);
        // The body is replaced by a comment with its newlines (later lines keep their numbers)
        // and the `end`'s missing right trim; the define, with the head's and end's inner trims,
        // comes last.
        assert!(i.text.contains(" -}}{{/*\n\n\n\n\n*/}}\n{{- else }}"), "{}", i.text);
        let define = &i.text[i.text.find("{{ define \"b\" -}}").expect("the hoisted define")..];
        assert!(define.starts_with("{{ define \"b\" -}}{{ $__cpcov := dict \"a\" \"\" }}{{ $__cpcovm := \"\" -}}\n  {{ $__cpcovm = print $__cpcovm \"~cpcov-0-3~\" }}v: "), "{define}");
        assert!(define.ends_with("{{- print \"~cpcov:end~\" $__cpcovm (index $__cpcov \"a\") }}{{- end }}"), "{define}");
        assert_eq!(i.text[..i.text.find("{{ define").unwrap()].matches('\n').count(), src.matches('\n').count(), "{}", i.text);
    }

    #[test]
    fn block_in_a_partial_is_a_plain_template_call_and_an_empty_block_stays_empty() {
        let src = "{{- block \"b\" . -}}\nv: 1\n{{- end -}}\n{{ define \"e\" }}\n{{/* placeholder */}}\n{{ end }}";
        let i = instrument(src, 0, true).unwrap();
        assert_eq!(i.lines().into_iter().collect::<Vec<_>>(), vec![2]);
        assert!(i.text.starts_with("{{- template \"b\" . -}}{{/*\n\n*/ -}}\n"), "{}", i.text);
        assert!(i.text.contains("{{ define \"e\" }}\n{{/* placeholder */}}\n{{ end }}"), "an empty define gets no declaration: {}", i.text);
        let i = probes("{{ block \"p\" . }} {{ end }}");
        assert!(i.text.ends_with("{{ define \"p\" }} {{ end }}"), "{}", i.text);
    }

    #[test]
    fn unbalanced_is_an_error() {
        assert!(instrument("{{ if .a }}x", 0, false).is_err());
    }
}
