//! The static reader: walks parsed templates with a symbolic `.` and `$` and records which
//! values paths are read, and how.
//!
//! Every expression evaluates to a [`Sym`]: the chart root, a path into some chart's `.Values`,
//! a `dict`/`list` built in the template, a union of those (after `default`, `or`, `merge`), or
//! something the reader cannot follow. Values paths are only recorded as read where they are
//! consumed: printed or passed to a function (a *whole-subtree* read), tested by `if`/`with`/
//! `range`/`hasKey` (a read of the key itself), or walked further with `.field`/`index`.
//! Helpers are followed through `include`/`template` with the argument as their `.` and `$`.
//! Whatever the reader cannot follow is either read as a whole subtree or recorded as unresolved,
//! so a key is never reported unused because the reader lost track of it. Conditions on constants
//! only (`eq . ""` over a literal list) are decided, and the branches they rule out are not read;
//! reads in a library chart helper's branches that may not run are marked as maybe reads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::parser::{Command, Define, Node, Operand, Parsed, Pipeline, Term};
use super::{Read, Seg, Unresolved};

/// What an expression evaluates to, as far as values are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Sym {
    /// The top-level context of chart `n` (`.Values`, `.Release`, ...).
    Root(usize),
    /// `.Subcharts` of chart `n`.
    Subcharts(usize),
    /// A path into chart `chart`'s values.
    Values { chart: usize, path: Vec<Seg>, defaulted: bool, required: bool },
    Dict(BTreeMap<String, Sym>),
    List(Vec<Sym>),
    Union(Vec<Sym>),
    /// A string constant written in the template (usable as an `index` key or template name).
    Str(String),
    /// A value that holds no values paths (`.Release.Name`, a number, a function's output).
    Scalar,
    /// `nil`, or a key a `dict` does not have.
    Nil,
    /// Something the reader cannot see into (`fromYaml`, `lookup`, a missing dict key).
    Unknown,
    /// `.Values…` read on an unknown context: which chart's values it is cannot be told.
    UnresolvedValues(Vec<Seg>),
}

impl Sym {
    fn values(chart: usize, path: Vec<Seg>) -> Sym {
        Sym::Values { chart, path, defaulted: false, required: false }
    }

    fn union(items: Vec<Sym>) -> Sym {
        let mut flat = Vec::new();
        for s in items {
            match s {
                Sym::Union(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        flat.sort();
        flat.dedup();
        match flat.len() {
            0 => Sym::Scalar,
            1 => flat.pop().unwrap(),
            _ => Sym::Union(flat),
        }
    }

    fn with_flags(self, defaulted: bool, required: bool) -> Sym {
        match self {
            Sym::Values { chart, path, defaulted: d, required: r } => {
                Sym::Values { chart, path, defaulted: d || defaulted, required: r || required }
            }
            Sym::Union(items) => Sym::Union(items.into_iter().map(|s| s.with_flags(defaulted, required)).collect()),
            other => other,
        }
    }
}

/// How a symbol is consumed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Use {
    /// Printed, or passed to a function that turns it into text (`toYaml`, `quote`): the whole subtree.
    Render,
    /// Read as a whole but not printed (`eq`, `semverCompare`).
    Whole,
    /// Only tested or walked into (`if`, `with`, `range`, `hasKey`, assignment).
    Test,
}

/// A chart of the tree as the reader needs it.
pub(crate) struct ChartInfo {
    pub values: Value,
    /// Subchart values keys to chart ids.
    pub subcharts: HashMap<String, usize>,
    /// `type: library` in Chart.yaml.
    pub library: bool,
}

/// A template file to read.
pub(crate) struct TemplateFile {
    pub chart: usize,
    /// Path shown in reports, relative to the audited chart.
    pub display: Rc<str>,
    pub parsed: Parsed,
}

/// Variables declared in one block; `conditional` blocks may not run, so assigning there to a
/// variable of an outer block keeps both the old and the new value.
#[derive(Default)]
struct Frame {
    vars: HashMap<String, Sym>,
    conditional: bool,
}

impl Frame {
    fn with(name: &str, s: Sym) -> Frame {
        Frame { vars: HashMap::from([(name.to_string(), s)]), conditional: false }
    }

    fn conditional() -> Frame {
        Frame { vars: HashMap::new(), conditional: true }
    }
}

struct Scope {
    dot: Sym,
    vars: Vec<Frame>,
    guards: Rc<HashSet<(usize, Vec<Seg>)>>,
    file: Rc<str>,
    chart: usize,
    /// Walking a library chart's helper.
    library: bool,
    /// Inside a branch, of library helpers only, that the reader cannot prove runs.
    uncertain: bool,
    /// Every enclosing `if`/`with` is known to hold at the chart's defaults (Go text/template
    /// truth of the default value), so what is printed here is printed at the defaults. A branch
    /// whose condition is false or cannot be told at the defaults does not render there.
    at_defaults: bool,
}

impl Scope {
    /// A template's top level: `.` and `$` are both `dot`.
    fn new(dot: Sym, file: Rc<str>, chart: usize) -> Scope {
        Scope { dot: dot.clone(), vars: vec![Frame::with("$", dot)], guards: Rc::default(), file, chart, library: false, uncertain: false, at_defaults: true }
    }

    /// Walk `nodes` as a branch that runs for sure (`certain`) or may not, and restore.
    fn branch(&mut self, certain: bool) -> bool {
        let outer = self.uncertain;
        self.uncertain = self.library && (outer || !certain);
        outer
    }

    fn var(&self, name: &str) -> Sym {
        for frame in self.vars.iter().rev() {
            if let Some(s) = frame.vars.get(name) {
                return s.clone();
            }
        }
        Sym::Unknown
    }

    fn declare(&mut self, name: &str, s: Sym) {
        self.vars.last_mut().expect("a variable frame").vars.insert(name.to_string(), s);
    }

    /// `$x = v`: replaces the value, unless a block between the declaration and here may not run.
    fn reassign(&mut self, name: &str, s: Sym) {
        let Some(i) = self.vars.iter().rposition(|f| f.vars.contains_key(name)) else {
            self.declare(name, s);
            return;
        };
        let maybe_skipped = self.vars[i + 1..].iter().any(|f| f.conditional);
        let old = self.vars[i].vars.get_mut(name).expect("found above");
        *old = if maybe_skipped { Sym::union(vec![old.clone(), s]) } else { s };
    }
}

const MAX_DEPTH: usize = 40;
const MAX_UNROLL: usize = 32;

pub(crate) struct Reader<'a> {
    charts: &'a [ChartInfo],
    defines: HashMap<String, (Rc<Define>, Rc<str>, usize)>,
    pub reads: Vec<Read>,
    pub unresolved: Vec<Unresolved>,
    /// Helpers already read with an argument, and whether in an uncertain library branch.
    memo: HashSet<(String, Sym, bool)>,
    depth: usize,
    collectors: Vec<Vec<(usize, Vec<Seg>)>>,
    /// Values strings already read as templates by `tpl`, with what that read (as `footprints`
    /// for helpers: a second file rendering the same string counts the same reads).
    tpl_seen: HashMap<TplSource, Option<Rc<Vec<Footprint>>>>,
    /// The values paths (chart, path, whole) each top-level file reads, helpers it includes
    /// counted, in `read_file` order: a helper read once (`memo`) counts for every file that
    /// includes it, through its footprint.
    pub by_file: Vec<Vec<Footprint>>,
    /// What each helper call read, its own and its nested calls' reads (by `memo` key).
    footprints: HashMap<(String, Sym, bool), Rc<Vec<Footprint>>>,
    /// The footprints of the helper calls being walked, innermost last.
    open_footprints: Vec<Vec<Footprint>>,
}

/// A values path read (chart, path, whole subtree), as `Reader::by_file` records it.
pub(crate) type Footprint = (usize, Vec<Seg>, bool);

/// A values string rendered by `tpl`: (chart, path of the string, the context it is rendered with).
type TplSource = (usize, Vec<Seg>, Sym);

impl<'a> Reader<'a> {
    pub fn new(charts: &'a [ChartInfo], files: &[TemplateFile]) -> Reader<'a> {
        let mut defines = HashMap::new();
        for f in files {
            for d in &f.parsed.defines {
                defines.entry(d.name.clone()).or_insert_with(|| (Rc::new(d.clone()), f.display.clone(), f.chart));
            }
        }
        Reader {
            charts,
            defines,
            reads: Vec::new(),
            unresolved: Vec::new(),
            memo: HashSet::new(),
            depth: 0,
            collectors: Vec::new(),
            tpl_seen: HashMap::new(),
            by_file: Vec::new(),
            footprints: HashMap::new(),
            open_footprints: Vec::new(),
        }
    }

    /// Read one file's top level with the chart root as `.` and `$`.
    pub fn read_file(&mut self, f: &TemplateFile) {
        let root = Sym::Root(f.chart);
        let mut scope = Scope::new(root, f.display.clone(), f.chart);
        self.by_file.push(Vec::new());
        self.walk(&f.parsed.nodes, &mut scope);
    }

    /// Read every helper of a file with the chart root as argument (for library charts, whose
    /// helpers run in the charts that use them).
    pub fn read_defines(&mut self, f: &TemplateFile) {
        let scope = Scope::new(Sym::Root(f.chart), f.display.clone(), f.chart);
        for d in &f.parsed.defines {
            self.call(&d.name, Sym::Root(f.chart), 1, &scope);
        }
    }

    fn unresolved(&mut self, scope: &Scope, line: usize, reason: String) {
        self.unresolved.push(Unresolved { file: scope.file.to_string(), line, reason });
    }

    fn walk(&mut self, nodes: &[Node], scope: &mut Scope) {
        for node in nodes {
            match node {
                Node::Output(p) => {
                    let v = self.pipeline(p, scope);
                    if p.decls.is_empty() {
                        self.mark(&v, Use::Render, p.line, scope);
                    } else {
                        self.mark(&v, Use::Test, p.line, scope);
                        self.bind(p, v, scope);
                    }
                }
                Node::Cond { branches, else_body } => {
                    let outer_guards = scope.guards.clone();
                    let mut guards = (*outer_guards).clone();
                    // A condition on constants only (`eq . ""` where `.` is a literal the caller
                    // passed) has one outcome: the branches it rules out never run, so what they
                    // read is not read.
                    let mut decided = false;
                    // Every condition so far is known to be false: the next branch runs if its condition holds.
                    let mut earlier_false = true;
                    // Every condition so far is known false at the defaults.
                    let mut earlier_known_false = true;
                    for b in branches {
                        scope.guards = Rc::new(guards.clone());
                        self.collectors.push(Vec::new());
                        let v = self.pipeline(&b.cond, scope);
                        self.mark(&v, Use::Test, b.cond.line, scope);
                        guards.extend(self.collectors.pop().unwrap_or_default());
                        let outcome = if b.with { None } else { self.constant_truth(&b.cond, scope) };
                        if outcome == Some(false) {
                            continue;
                        }
                        scope.guards = Rc::new(guards.clone());
                        scope.vars.push(Frame::conditional());
                        self.bind(&b.cond, v.clone(), scope);
                        let outer_uncertain = scope.branch(earlier_false && outcome == Some(true));
                        let truth = self.truth_at_defaults(&v).or(outcome);
                        let outer_at_defaults = scope.at_defaults;
                        scope.at_defaults = outer_at_defaults && earlier_known_false && truth == Some(true);
                        earlier_known_false &= truth == Some(false);
                        if b.with {
                            let outer = std::mem::replace(&mut scope.dot, v);
                            self.walk(&b.body, scope);
                            scope.dot = outer;
                        } else {
                            self.walk(&b.body, scope);
                        }
                        scope.uncertain = outer_uncertain;
                        scope.at_defaults = outer_at_defaults;
                        scope.vars.pop();
                        if outcome == Some(true) {
                            decided = true;
                            break;
                        }
                        earlier_false = false;
                    }
                    if !decided {
                        let outer_uncertain = scope.branch(earlier_false);
                        let outer_at_defaults = scope.at_defaults;
                        scope.at_defaults = outer_at_defaults && earlier_known_false;
                        self.walk_conditional(else_body, scope);
                        scope.at_defaults = outer_at_defaults;
                        scope.uncertain = outer_uncertain;
                    }
                    scope.guards = outer_guards;
                }
                Node::Range { pipe, body, else_body } => {
                    let outer_guards = scope.guards.clone();
                    self.collectors.push(Vec::new());
                    let v = self.pipeline(pipe, scope);
                    self.mark(&v, Use::Test, pipe.line, scope);
                    let mut guards = (*outer_guards).clone();
                    guards.extend(self.collectors.pop().unwrap_or_default());
                    scope.guards = Rc::new(guards);
                    // A literal list (`list "a" "b"`, `splitList "." "a.b"`) is unrolled: one pass per
                    // item, in order, so string keys stay exact. Anything else is one conditional pass.
                    let passes: Vec<(Sym, Sym, bool)> = match &v {
                        Sym::List(items) if items.len() <= MAX_UNROLL => {
                            items.iter().map(|i| (Sym::Scalar, i.clone(), false)).collect()
                        }
                        Sym::Dict(m) if m.len() <= MAX_UNROLL => {
                            m.iter().map(|(k, i)| (Sym::Str(k.clone()), i.clone(), false)).collect()
                        }
                        _ => vec![(Sym::Scalar, self.elem(&v), true)],
                    };
                    for (key_sym, item, conditional) in passes {
                        let outer_uncertain = scope.branch(!conditional);
                        scope.vars.push(Frame { vars: HashMap::new(), conditional });
                        match pipe.decls.as_slice() {
                            [one] => scope.declare(one, item.clone()),
                            [key, val, ..] => {
                                scope.declare(key, key_sym);
                                scope.declare(val, item.clone());
                            }
                            [] => {}
                        }
                        let outer = std::mem::replace(&mut scope.dot, item);
                        self.walk(body, scope);
                        scope.dot = outer;
                        scope.vars.pop();
                        scope.uncertain = outer_uncertain;
                    }
                    let outer_uncertain = scope.branch(false);
                    self.walk_conditional(else_body, scope);
                    scope.uncertain = outer_uncertain;
                    scope.guards = outer_guards;
                }
                Node::Template { name, arg, line } => {
                    let a = match arg {
                        Some(p) => self.pipeline(p, scope),
                        None => Sym::Scalar,
                    };
                    self.call(name, a, *line, scope);
                }
            }
        }
    }

    /// The value of an `if` condition that compares constants only: `eq`/`ne` of string literals
    /// (directly, or through `.` or a variable bound to one, as in a `range` over a literal list),
    /// `not`, `and` and `or` of such. None when anything in it depends on values or is unknown.
    /// The default value a symbol holds, when it is one values path of a chart (a missing key
    /// is nil, as Helm's missingkey=zero gives it). None when it cannot be told.
    fn default_of(&self, s: &Sym) -> Option<Value> {
        let Sym::Values { chart, path, .. } = s else {
            return match s {
                Sym::Nil => Some(Value::Null),
                Sym::Str(t) => Some(Value::String(t.clone())),
                _ => None,
            };
        };
        let mut v = &self.charts.get(*chart)?.values;
        for seg in path {
            let Seg::Key(k) = seg else { return None };
            match v {
                Value::Object(m) => match m.get(k) {
                    Some(c) => v = c,
                    None => return Some(Value::Null),
                },
                Value::Null => return Some(Value::Null),
                _ => return None,
            }
        }
        Some(v.clone())
    }

    /// Go text/template's truth (`template.IsTrue`) of a symbol at the chart's defaults: false
    /// for nil, false, 0, "" and empty maps and lists. None when it cannot be told.
    fn truth_at_defaults(&self, s: &Sym) -> Option<bool> {
        let v = self.default_of(s)?;
        Some(match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(t) => !t.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
        })
    }

    /// The truth at the defaults of a condition written as `(empty X)`, `(not X)` or a
    /// comparison of X with a literal (`eq`, `ne`, `gt`, `ge`, `lt`, `le`), X a values path.
    fn condition_at_defaults(&mut self, op: &Operand, scope: &mut Scope) -> Option<bool> {
        let Term::Sub(p) = &op.term else { return None };
        let [cmd] = p.cmds.as_slice() else { return None };
        let (Term::Ident(name), []) = (&cmd.args.first()?.term, cmd.args[0].fields.as_slice()) else { return None };
        let pure = |o: &Operand| matches!(o.term, Term::Dot | Term::Var(_) | Term::Str(_) | Term::Num(_) | Term::Nil);
        let args = &cmd.args[1..];
        if !args.iter().all(pure) {
            return None;
        }
        let value = |reader: &mut Self, o: &Operand, scope: &mut Scope| -> Option<Value> {
            match &o.term {
                Term::Num(n) if o.fields.is_empty() => n.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
                _ => {
                    let s = reader.operand(o, scope);
                    reader.default_of(&s)
                }
            }
        };
        let truth = |reader: &mut Self, o: &Operand, scope: &mut Scope| -> Option<bool> {
            let s = reader.operand(o, scope);
            reader.truth_at_defaults(&s)
        };
        match (name.as_str(), args) {
            ("empty" | "not", [x]) => truth(self, x, scope).map(|t| !t),
            ("eq" | "ne", [a, b]) => {
                let equal = value(self, a, scope)? == value(self, b, scope)?;
                Some(equal == (name == "eq"))
            }
            ("gt" | "ge" | "lt" | "le", [a, b]) => {
                let (x, y) = (value(self, a, scope)?.as_f64()?, value(self, b, scope)?.as_f64()?);
                Some(match name.as_str() {
                    "gt" => x > y,
                    "ge" => x >= y,
                    "lt" => x < y,
                    _ => x <= y,
                })
            }
            _ => None,
        }
    }

    fn constant_truth(&mut self, p: &Pipeline, scope: &mut Scope) -> Option<bool> {
        let [cmd] = p.cmds.as_slice() else { return None };
        let (Term::Ident(name), []) = (&cmd.args.first()?.term, cmd.args[0].fields.as_slice()) else { return None };
        let args = &cmd.args[1..];
        let truth = |reader: &mut Self, op: &Operand, scope: &mut Scope| match &op.term {
            Term::Sub(inner) if op.fields.is_empty() => reader.constant_truth(inner, scope),
            _ => None,
        };
        match name.as_str() {
            "eq" if args.len() >= 2 => self.constant_equality(args, scope),
            "ne" if args.len() == 2 => self.constant_equality(args, scope).map(|equal| !equal),
            "not" if args.len() == 1 => truth(self, &args[0], scope).map(|t| !t),
            // One argument decides `and` (false) or `or` (true) whatever the others are.
            "and" | "or" if !args.is_empty() => {
                let deciding = name == "or";
                let outcomes: Vec<Option<bool>> = args.iter().map(|op| truth(self, op, scope)).collect();
                if outcomes.contains(&Some(deciding)) {
                    Some(deciding)
                } else if outcomes.iter().all(|o| *o == Some(!deciding)) {
                    Some(!deciding)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// `eq a b c…` on string constants: whether `a` equals one of the others.
    fn constant_equality(&mut self, args: &[Operand], scope: &mut Scope) -> Option<bool> {
        let mut texts = Vec::new();
        for op in args {
            // Only literals, `.` and variables: evaluating them reads nothing.
            if !matches!(op.term, Term::Str(_) | Term::Dot | Term::Var(_)) {
                return None;
            }
            let Sym::Str(text) = self.operand(op, scope) else { return None };
            texts.push(text);
        }
        Some(texts[1..].contains(&texts[0]))
    }

    /// Walk a block that may not run, in its own variable frame.
    fn walk_conditional(&mut self, nodes: &[Node], scope: &mut Scope) {
        scope.vars.push(Frame::conditional());
        self.walk(nodes, scope);
        scope.vars.pop();
    }

    fn bind(&mut self, p: &Pipeline, v: Sym, scope: &mut Scope) {
        if let Some(name) = p.decls.first() {
            if p.assign {
                scope.reassign(name, v);
            } else {
                scope.declare(name, v);
            }
        }
    }

    /// Follow `include`/`template` into a helper with `arg` as its `.` and `$`.
    fn call(&mut self, name: &str, arg: Sym, line: usize, scope: &Scope) {
        let Some((def, file, def_chart)) = self.defines.get(name).cloned() else {
            // Helm fails to render when this runs, so it reads nothing.
            self.unresolved(scope, line, format!("template \"{name}\" is not defined in the chart or its subcharts (helm fails if this runs)"));
            return;
        };
        if self.depth >= MAX_DEPTH {
            self.unresolved(scope, line, format!("template \"{name}\" nests deeper than {MAX_DEPTH} calls; its argument is counted as read"));
            self.mark(&arg, Use::Whole, line, scope);
            return;
        }
        // A library helper called from a branch of another library helper stays uncertain; one
        // called by the chart's own templates runs where they call it.
        let library = self.charts.get(def_chart).is_some_and(|c| c.library);
        let uncertain = library && scope.library && scope.uncertain;
        let memo_key = (name.to_string(), arg.clone(), uncertain);
        if !self.memo.insert(memo_key.clone()) {
            // Read before (by this file or another): what it read counts for this file too (a
            // recursive call still being walked has no footprint yet, and its reads count anyway).
            if let Some(footprint) = self.footprints.get(&memo_key).cloned() {
                for (chart, path, whole) in footprint.iter() {
                    self.note(*chart, path, *whole);
                }
            }
            return;
        }
        self.depth += 1;
        self.open_footprints.push(Vec::new());
        let mut inner = Scope::new(arg, file, scope.chart);
        inner.library = library;
        inner.uncertain = uncertain;
        self.walk(&def.body, &mut inner);
        let footprint = self.open_footprints.pop().expect("pushed above");
        self.footprints.insert(memo_key, Rc::new(footprint));
        self.depth -= 1;
    }

    fn pipeline(&mut self, p: &Pipeline, scope: &mut Scope) -> Sym {
        let mut piped: Option<Sym> = None;
        for cmd in &p.cmds {
            piped = Some(self.command(cmd, piped, p.line, scope));
        }
        piped.unwrap_or(Sym::Scalar)
    }

    fn command(&mut self, cmd: &Command, piped: Option<Sym>, line: usize, scope: &mut Scope) -> Sym {
        let Some(first) = cmd.args.first() else { return piped.unwrap_or(Sym::Scalar) };
        if let (Term::Ident(name), true) = (&first.term, first.fields.is_empty()) {
            return self.function(name, &cmd.args[1..], piped, first.line, scope);
        }
        if cmd.args.len() == 1 && piped.is_none() {
            return self.operand(first, scope);
        }
        // A method call with arguments (`.Files.Get "x"`, `.Capabilities.APIVersions.Has "x"`).
        let target = self.operand(first, scope);
        let mut args: Vec<Sym> = cmd.args[1..].iter().map(|a| self.operand(a, scope)).collect();
        args.extend(piped);
        for a in &args {
            self.mark(a, Use::Whole, line, scope);
        }
        match target {
            Sym::Scalar => Sym::Scalar,
            _ => Sym::Unknown,
        }
    }

    fn operand(&mut self, op: &Operand, scope: &mut Scope) -> Sym {
        let base = match &op.term {
            Term::Dot => scope.dot.clone(),
            Term::Var(v) => scope.var(v),
            Term::Str(s) => Sym::Str(s.clone()),
            Term::Num(_) | Term::Bool => Sym::Scalar,
            Term::Nil => Sym::Nil,
            Term::Ident(name) => return self.function(name, &[], None, op.line, scope),
            Term::Sub(p) => self.pipeline(p, scope),
        };
        let mut s = base;
        for f in &op.fields {
            s = self.field(&s, f);
        }
        s
    }

    fn field(&self, s: &Sym, name: &str) -> Sym {
        match s {
            Sym::Root(c) => match name {
                "Values" => Sym::values(*c, vec![]),
                "Subcharts" => Sym::Subcharts(*c),
                _ => Sym::Scalar,
            },
            Sym::Subcharts(c) => match self.charts.get(*c).and_then(|ci| ci.subcharts.get(name)) {
                Some(id) => Sym::Root(*id),
                None => Sym::Unknown,
            },
            Sym::Values { chart, path, .. } => {
                let mut p = path.clone();
                p.push(Seg::Key(name.to_string()));
                Sym::values(*chart, p)
            }
            Sym::Dict(m) => m.get(name).cloned().unwrap_or(Sym::Nil),
            Sym::Union(items) => Sym::union(items.iter().map(|i| self.field(i, name)).collect()),
            Sym::List(_) | Sym::Scalar | Sym::Str(_) | Sym::Nil => Sym::Scalar,
            Sym::Unknown if name == "Values" => Sym::UnresolvedValues(vec![]),
            Sym::Unknown => Sym::Unknown,
            Sym::UnresolvedValues(p) => {
                let mut p = p.clone();
                p.push(Seg::Key(name.to_string()));
                Sym::UnresolvedValues(p)
            }
        }
    }

    /// What `range` binds to `.` for each item.
    fn elem(&self, s: &Sym) -> Sym {
        match s {
            Sym::Values { chart, path, .. } => {
                let mut p = path.clone();
                p.push(Seg::Any);
                Sym::values(*chart, p)
            }
            Sym::List(items) => Sym::union(items.clone()),
            Sym::Dict(m) => Sym::union(m.values().cloned().collect()),
            Sym::Union(items) => Sym::union(items.iter().map(|i| self.elem(i)).collect()),
            Sym::UnresolvedValues(p) => {
                let mut p = p.clone();
                p.push(Seg::Any);
                Sym::UnresolvedValues(p)
            }
            Sym::Root(_) | Sym::Subcharts(_) | Sym::Unknown => Sym::Unknown,
            Sym::Scalar | Sym::Str(_) | Sym::Nil => Sym::Scalar,
        }
    }

    /// Record that a symbol may be read as a whole (by text the reader cannot see).
    fn mark_maybe(&mut self, s: &Sym, line: usize, scope: &Scope) {
        let before = self.reads.len();
        self.mark(s, Use::Whole, line, scope);
        for r in &mut self.reads[before..] {
            r.maybe = true;
            r.resolved = false;
        }
    }

    /// Count a read for the file being read and every helper call being walked.
    fn note(&mut self, chart: usize, path: &[Seg], whole: bool) {
        let read = (chart, path.to_vec(), whole);
        for f in &mut self.open_footprints {
            f.push(read.clone());
        }
        if let Some(file) = self.by_file.last_mut() {
            file.push(read);
        }
    }

    /// Record how a symbol is consumed.
    fn mark(&mut self, s: &Sym, how: Use, line: usize, scope: &Scope) {
        match s {
            Sym::Values { chart, path, defaulted, required } => {
                for c in self.collectors.iter_mut() {
                    c.push((*chart, path.clone()));
                }
                self.note(*chart, path, how != Use::Test);
                self.reads.push(Read {
                    chart: *chart,
                    path: path.clone(),
                    whole: how != Use::Test,
                    renders: how == Use::Render,
                    resolved: true,
                    file: scope.file.to_string(),
                    line,
                    defaulted: *defaulted,
                    required: *required,
                    guarded: !scope.at_defaults || scope.guards.contains(&(*chart, path.clone())),
                    maybe: scope.uncertain,
                });
            }
            Sym::Dict(m) => {
                for v in m.values() {
                    self.mark(v, how, line, scope);
                }
            }
            Sym::List(items) | Sym::Union(items) => {
                for v in items {
                    self.mark(v, how, line, scope);
                }
            }
            Sym::Root(c) if how != Use::Test => {
                self.unresolved(scope, line, "the whole chart context is passed to a function; every value counts as read".into());
                self.mark(&Sym::values(*c, vec![]), how, line, scope);
            }
            Sym::UnresolvedValues(path) => {
                let shown = super::dotted(path);
                self.unresolved(
                    scope,
                    line,
                    format!(".Values.{shown} is read on a context the reader cannot follow; counted as read, not checked as declared"),
                );
                self.note(scope.chart, path, how != Use::Test);
                self.reads.push(Read {
                    chart: scope.chart,
                    path: path.clone(),
                    whole: how != Use::Test,
                    renders: false,
                    resolved: false,
                    file: scope.file.to_string(),
                    line,
                    defaulted: false,
                    required: false,
                    guarded: false,
                    maybe: scope.uncertain,
                });
            }
            Sym::Root(_) | Sym::Subcharts(_) | Sym::Scalar | Sym::Str(_) | Sym::Nil | Sym::Unknown => {}
        }
    }

    fn function(&mut self, name: &str, ops: &[Operand], piped: Option<Sym>, line: usize, scope: &mut Scope) -> Sym {
        if name == "tpl" {
            return self.tpl(ops, piped, line, scope);
        }
        // `and`/`or` stop at the first argument that decides them: when that one is a constant
        // condition, the arguments after it are never evaluated.
        let mut piped = piped;
        let mut ops = ops;
        if name == "and" || name == "or" {
            let deciding = name == "or";
            let cut = ops.iter().position(|op| matches!(&op.term, Term::Sub(p) if op.fields.is_empty() && self.constant_truth(p, scope) == Some(deciding)));
            if let Some(cut) = cut {
                ops = &ops[..=cut];
                piped = None;
            }
        }
        let mut args: Vec<Sym> = ops.iter().map(|o| self.operand(o, scope)).collect();
        args.extend(piped);
        match name {
            "include" if !args.is_empty() => {
                let tname = args.remove(0);
                let ctx = if args.is_empty() { Sym::Scalar } else { args.remove(0) };
                match str_keys(&tname) {
                    Some(names) => {
                        for n in names {
                            self.call(&n, ctx.clone(), line, scope);
                        }
                    }
                    // `include (print $.Template.BasePath "/configmap.yaml") .`: a template file,
                    // already read on its own with the same root context.
                    None if ops.first().is_some_and(mentions_template_path) => {}
                    None => {
                        self.mark(&tname, Use::Whole, line, scope);
                        self.unresolved(scope, line, "include with a computed template name; its argument counts as read".into());
                        self.mark(&ctx, Use::Whole, line, scope);
                    }
                }
                Sym::Scalar
            }
            "set" if args.len() == 3 => {
                let val = args.pop().unwrap();
                let key = args.pop().unwrap();
                let target = args.pop().unwrap();
                let var = match ops.first() {
                    Some(Operand { term: Term::Var(v), fields, .. }) if fields.is_empty() => Some(v.clone()),
                    _ => None,
                };
                if let (Sym::Dict(mut m), Some(k), Some(var)) = (target.clone(), single_str(&key), var) {
                    m.insert(k, val);
                    let d = Sym::Dict(m);
                    scope.reassign(&var, d.clone());
                    return d;
                }
                self.mark(&val, Use::Whole, line, scope);
                target
            }
            "default" if args.len() >= 2 => {
                let v = args.pop().unwrap();
                if v == Sym::Nil {
                    return Sym::union(args);
                }
                let d = Sym::union(args);
                // Sprig's `default d v` gives `d` only when `v` is empty: when `v` is set at the
                // defaults, the fallback is not what renders there.
                let d = if self.truth_at_defaults(&v) == Some(true) { d.with_flags(true, false) } else { d };
                Sym::union(vec![v.with_flags(true, false), d])
            }
            "required" if args.len() == 2 => args.pop().unwrap().with_flags(false, true),
            "coalesce" => Sym::union(args).with_flags(true, false),
            "ternary" if args.len() == 3 => {
                // Sprig's `ternary a b c`: `a` when `c` is true, else `b`. Only the one chosen at
                // the defaults renders there; when that cannot be told, neither is judged.
                let cond = args.pop().unwrap();
                self.mark(&cond, Use::Test, line, scope);
                let when_false = args.pop().unwrap();
                let when_true = args.pop().unwrap();
                let cond_truth = self.truth_at_defaults(&cond).or_else(|| ops.get(2).and_then(|op| self.condition_at_defaults(op, scope)));
                match cond_truth {
                    Some(true) => Sym::union(vec![when_true, when_false.with_flags(true, false)]),
                    Some(false) => Sym::union(vec![when_true.with_flags(true, false), when_false]),
                    None => Sym::union(vec![when_true.with_flags(true, false), when_false.with_flags(true, false)]),
                }
            }
            "and" | "or" | "merge" | "mergeOverwrite" | "mustMerge" | "mustMergeOverwrite" | "deepCopy" | "mustDeepCopy" => {
                Sym::union(args)
            }
            "not" | "empty" | "kindIs" | "kindOf" | "typeOf" | "typeIs" | "typeIsLike" | "len" => {
                for a in &args {
                    self.mark(a, Use::Test, line, scope);
                }
                Sym::Scalar
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "semverCompare" => {
                for a in &args {
                    self.mark(a, Use::Whole, line, scope);
                }
                Sym::Scalar
            }
            "hasKey" if args.len() == 2 => {
                let target = &args[0];
                match str_keys(&args[1]) {
                    Some(keys) => {
                        for k in keys {
                            let s = self.field(target, &k);
                            self.mark(&s, Use::Test, line, scope);
                        }
                    }
                    None => {
                        let e = self.elem(target);
                        self.mark(&e, Use::Test, line, scope);
                    }
                }
                Sym::Scalar
            }
            "keys" => {
                for a in &args {
                    let e = self.elem(a);
                    self.mark(&e, Use::Test, line, scope);
                }
                Sym::Scalar
            }
            "index" | "get" if !args.is_empty() => {
                let mut cur = args.remove(0);
                for (i, k) in args.iter().enumerate() {
                    if let Some(keys) = str_keys(k) {
                        cur = Sym::union(keys.iter().map(|key| self.field(&cur, key)).collect());
                    } else if let Some(Term::Num(n)) = ops.get(i + 1).map(|o| &o.term) {
                        cur = match (&cur, n.parse::<usize>()) {
                            (Sym::List(items), Ok(i)) => items.get(i).cloned().unwrap_or(Sym::Nil),
                            _ => self.elem(&cur),
                        };
                    } else {
                        // A computed key (a `range` key, a value): any item may be read, so the
                        // path goes on through `*` and whatever is then read of it counts for all.
                        self.mark(k, Use::Whole, line, scope);
                        cur = self.elem(&cur);
                    }
                }
                cur
            }
            "dig" if args.len() >= 2 => {
                let target = args.pop().unwrap();
                let default = args.pop().unwrap();
                let mut cur = target;
                for k in &args {
                    match single_str(k) {
                        Some(key) => cur = self.field(&cur, &key),
                        None => {
                            self.mark(&cur, Use::Whole, line, scope);
                            return Sym::Unknown;
                        }
                    }
                }
                Sym::union(vec![cur.with_flags(true, false), default])
            }
            "pluck" if !args.is_empty() => {
                let key = args.remove(0);
                match single_str(&key) {
                    Some(k) => Sym::union(args.iter().map(|d| self.field(d, &k)).collect()),
                    None => {
                        for d in &args {
                            self.mark(d, Use::Whole, line, scope);
                        }
                        Sym::Unknown
                    }
                }
            }
            "dict" => {
                let mut m = BTreeMap::new();
                let mut it = args.into_iter();
                while let Some(k) = it.next() {
                    let v = it.next().unwrap_or(Sym::Scalar);
                    match single_str(&k) {
                        Some(key) => {
                            m.insert(key, v);
                        }
                        None => {
                            self.mark(&k, Use::Whole, line, scope);
                            self.mark(&v, Use::Whole, line, scope);
                        }
                    }
                }
                Sym::Dict(m)
            }
            "list" | "tuple" => Sym::List(args),
            "splitList" | "split" if args.len() == 2 => match (single_str(&args[0]), single_str(&args[1])) {
                (Some(sep), Some(text)) if !sep.is_empty() => {
                    let parts = text.split(sep.as_str()).map(|p| Sym::Str(p.to_string()));
                    if name == "split" {
                        Sym::Dict(parts.enumerate().map(|(i, p)| (format!("_{i}"), p)).collect())
                    } else {
                        Sym::List(parts.collect())
                    }
                }
                _ => Sym::Scalar,
            },
            "first" | "last" | "mustFirst" | "mustLast" | "initial" | "rest" => {
                Sym::union(args.iter().map(|a| self.elem(a)).collect())
            }
            "fromYaml" | "fromJson" | "fromYamlArray" | "fromJsonArray" | "lookup" => {
                for a in &args {
                    self.mark(a, Use::Render, line, scope);
                }
                Sym::Unknown
            }
            _ => {
                for a in &args {
                    self.mark(a, Use::Render, line, scope);
                }
                Sym::Scalar
            }
        }
    }

    /// `tpl TEMPLATE CONTEXT`: when the template text comes from values, read the default strings
    /// as templates too (with CONTEXT as `.`), since the keys they read are read by the chart.
    fn tpl(&mut self, ops: &[Operand], piped: Option<Sym>, line: usize, scope: &mut Scope) -> Sym {
        self.collectors.push(Vec::new());
        let text = match ops.first() {
            Some(op) => self.operand(op, scope),
            None => Sym::Scalar,
        };
        self.mark(&text, Use::Render, line, scope);
        let sources = self.collectors.pop().unwrap_or_default();
        let ctx = match (ops.get(1), piped) {
            (Some(op), _) => self.operand(op, scope),
            (None, Some(p)) => p,
            (None, None) => Sym::Scalar,
        };
        // Text from the chart's files (`.Files.Get`, `.Files.Glob … .AsConfig`) or something the
        // reader cannot see into (`fromYaml`, `lookup`).
        let unseen = ops.first().is_some_and(reads_chart_files)
            || match &text {
                Sym::Unknown => true,
                Sym::Union(items) => items.contains(&Sym::Unknown),
                _ => false,
            };
        if sources.is_empty() && !unseen {
            // Text built in the templates (literals, `include` output): its reads are followed.
            self.unresolved(scope, line, "tpl renders text the reader cannot see; keys it reads are not known".into());
            return Sym::Scalar;
        }
        if sources.is_empty() {
            // `tpl (.Files.Get "x") .`: text from outside the templates and values may read
            // anything of its context, so every key under it is maybe read, never unused.
            self.unresolved(scope, line, "tpl renders text the reader cannot see; every value of its context counts as maybe read".into());
            let whole = match &ctx {
                Sym::Root(c) => Sym::values(*c, vec![]),
                other => other.clone(),
            };
            let outer = scope.uncertain;
            scope.uncertain = true;
            self.mark_maybe(&whole, line, scope);
            scope.uncertain = outer;
            return Sym::Scalar;
        }
        for (chart, path) in sources {
            let key = (chart, path.clone(), ctx.clone());
            if let Some(seen) = self.tpl_seen.get(&key) {
                // Read before: its reads count for this file too (none yet while it is being read).
                for (chart, path, whole) in seen.clone().iter().flat_map(|f| f.iter()) {
                    self.note(*chart, path, *whole);
                }
                continue;
            }
            self.tpl_seen.insert(key.clone(), None);
            self.open_footprints.push(Vec::new());
            let mut texts = Vec::new();
            if let Some(ci) = self.charts.get(chart) {
                collect_template_strings(&ci.values, &path, &mut texts);
            }
            for t in texts {
                match super::parser::parse(&t) {
                    Ok(parsed) => {
                        // Reads written in the values string are shown at the tpl call.
                        let marker: Rc<str> = format!("{}\u{0}tpl", scope.file).into();
                        let mut inner = Scope::new(ctx.clone(), marker.clone(), scope.chart);
                        let before = self.reads.len();
                        let before_u = self.unresolved.len();
                        self.walk(&parsed.nodes, &mut inner);
                        for r in &mut self.reads[before..] {
                            if *r.file == *marker {
                                r.file = scope.file.to_string();
                                r.line = line;
                            }
                        }
                        for u in &mut self.unresolved[before_u..] {
                            if *u.file == *marker {
                                u.file = scope.file.to_string();
                                u.line = line;
                            }
                        }
                    }
                    Err(e) => self.unresolved(scope, line, format!("tpl of .Values.{} cannot be read: {e}", super::dotted(&path))),
                }
            }
            let footprint = self.open_footprints.pop().expect("pushed above");
            self.tpl_seen.insert(key, Some(Rc::new(footprint)));
        }
        Sym::Scalar
    }
}

/// Whether an operand reads the chart's files (`.Files.Get "x"`, `$.Files.Glob`), directly or
/// in a parenthesized pipeline.
fn reads_chart_files(op: &Operand) -> bool {
    op.fields.iter().any(|f| f == "Files")
        || matches!(&op.term, Term::Sub(p) if p.cmds.iter().any(|c| c.args.iter().any(reads_chart_files)))
}

/// The string constants a symbol may be, when it can only be string constants.
fn str_keys(s: &Sym) -> Option<Vec<String>> {
    match s {
        Sym::Str(k) => Some(vec![k.clone()]),
        Sym::Union(items) => items.iter().filter(|i| **i != Sym::Nil).map(single_str).collect(),
        _ => None,
    }
}

fn single_str(s: &Sym) -> Option<String> {
    match s {
        Sym::Str(k) => Some(k.clone()),
        _ => None,
    }
}

/// Does the operand compute a template file name from `.Template.BasePath`?
fn mentions_template_path(op: &Operand) -> bool {
    if op.fields.iter().any(|f| f == "BasePath") {
        return true;
    }
    match &op.term {
        Term::Sub(p) => p.cmds.iter().any(|c| c.args.iter().any(mentions_template_path)),
        _ => false,
    }
}

/// Strings holding `{{` at or under `path` (with `Any` matching every key or item).
fn collect_template_strings(v: &Value, path: &[Seg], out: &mut Vec<String>) {
    match path.split_first() {
        Some((Seg::Key(k), rest)) => {
            if let Some(child) = v.get(k.as_str()) {
                collect_template_strings(child, rest, out);
            }
        }
        Some((Seg::Any, rest)) => match v {
            Value::Object(m) => m.values().for_each(|c| collect_template_strings(c, rest, out)),
            Value::Array(a) => a.iter().for_each(|c| collect_template_strings(c, rest, out)),
            _ => {}
        },
        None => match v {
            Value::String(s) if s.contains("{{") => out.push(s.clone()),
            Value::Object(m) => m.values().for_each(|c| collect_template_strings(c, &[], out)),
            Value::Array(a) => a.iter().for_each(|c| collect_template_strings(c, &[], out)),
            _ => {}
        },
    }
}
