//! Branch-deciding values and an *estimate* of the template branches a value set reaches, with
//! no render: the chart's templates are parsed once (the audit's parser), and
//! - `mine` collects the literals the templates compare values keys with (`eq`/`ne` operands,
//!   `has`, `hasKey`, `contains`, `hasPrefix`/`hasSuffix`, `regexMatch`, `semverCompare`,
//!   `kindIs`, `eq (kindOf|typeOf X) "…"`, `default` fallbacks, `ternary`), the options a
//!   values.yaml comment lists next to a key (`# standalone or cluster`, `# one of: a, b, c`), and
//!   the values paths each `if`/`with`/`range` condition reads;
//! - `reach` evaluates the `if`/`with`/`range` conditions of the chart's own templates against one
//!   value set (a small evaluator of Go template pipelines over concrete values, helpers followed
//!   through `include`/`template`) and lists the branch outcomes taken.
//!
//! The estimate is not Helm: a condition that needs anything but the values (`.Capabilities`,
//! `lookup`, the output of `include`/`tpl`, a function the evaluator does not know) is left
//! undecided and the branches behind it are not counted as reached; subchart templates are not
//! read. Branches are counted per source position (`file:line`, branch index), whatever helper
//! call reached them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::audit::parser::{self, Node, Operand, Parsed, Pipeline, Term};

/// One outcome of an `if`/`with` chain (a branch, or its else, written or implied) or of a
/// `range` (its body, or the empty case).
#[derive(Debug, Clone, PartialEq)]
pub struct BranchSite {
    /// Template file, relative to the chart (`templates/service.yaml`).
    pub file: String,
    pub line: usize,
    /// What the branch is: the condition's source line, `else of …`, `range … (empty)`.
    pub label: String,
    /// Values paths the conditions deciding this outcome read (the chain's conditions up to it).
    pub paths: Vec<Vec<String>>,
    /// The chain (first outcome's id) this outcome belongs to.
    pub chain: usize,
}

/// What one evaluation found: outcomes taken, and chains whose conditions were all decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reach {
    pub taken: BTreeSet<usize>,
    pub decided: BTreeSet<usize>,
}

/// The chart's branches, the values its templates compare keys with, and the parsed templates
/// to evaluate conditions on.
#[derive(Default)]
pub struct BranchModel {
    pub sites: Vec<BranchSite>,
    /// Candidate values per values path (object keys from the root), in the order found.
    pub mined: BTreeMap<Vec<String>, Vec<Value>>,
    /// Values paths some branch condition reads.
    pub deciding: BTreeSet<Vec<String>>,
    files: Vec<(String, Parsed)>,
    defines: HashMap<String, (usize, usize)>,
    /// Site id of each `Cond`/`Range` node, by (file, node address).
    ids: HashMap<usize, usize>,
}

/// Literal text longer than this is not a candidate.
const MAX_LITERAL: usize = 200;
/// `include` depth followed when estimating.
const MAX_CALL_DEPTH: usize = 8;
/// Items of a `range` walked when estimating.
const RANGE_ITEMS: usize = 3;

impl BranchModel {
    /// Read the chart's own templates (`templates/**`) and values.yaml comments. Templates that
    /// do not parse are skipped (the render reports them).
    pub fn of_chart(chart_dir: &Path, values_text: Option<&str>) -> BranchModel {
        let mut paths = Vec::new();
        collect_template_files(&chart_dir.join("templates"), &mut paths);
        let files: Vec<(String, String)> = paths
            .into_iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).ok()?;
                Some((p.strip_prefix(chart_dir).unwrap_or(&p).to_string_lossy().into_owned(), text))
            })
            .collect();
        let mut model = BranchModel::of_sources(&files);
        if let Some(text) = values_text {
            for (path, options) in comment_options(text) {
                let entry = model.mined.entry(path).or_default();
                for o in options {
                    if !entry.contains(&o) {
                        entry.push(o);
                    }
                }
            }
        }
        model
    }

    /// The model of template sources (file name, text).
    pub fn of_sources(sources: &[(String, String)]) -> BranchModel {
        let mut model = BranchModel::default();
        for (name, text) in sources {
            if let Ok(parsed) = parser::parse(text) {
                model.files.push((name.clone(), parsed));
            }
        }
        let texts: HashMap<&str, Vec<&str>> = sources.iter().map(|(n, t)| (n.as_str(), t.lines().collect())).collect();
        let mut sites = Vec::new();
        let mut ids = HashMap::new();
        let mut miner = Miner { mined: BTreeMap::new(), deciding: BTreeSet::new() };
        for (fi, (name, parsed)) in model.files.iter().enumerate() {
            let lines = texts.get(name.as_str()).cloned().unwrap_or_default();
            let mut lister = Lister { file: name, lines: &lines, sites: &mut sites, ids: &mut ids, miner: &mut miner };
            lister.nodes(&parsed.nodes, &MineEnv::root());
            for (di, d) in parsed.defines.iter().enumerate() {
                lister.nodes(&d.body, &MineEnv::root());
                model.defines.entry(d.name.clone()).or_insert((fi, di));
            }
        }
        model.sites = sites;
        model.ids = ids;
        model.mined = miner.mined;
        model.deciding = miner.deciding;
        model
    }

    /// The branch outcomes `values` (the merged values of a case) reaches, as far as conditions
    /// on values decide them.
    pub fn reach(&self, values: &Value) -> Reach {
        let mut walk = Walk { model: self, values, reach: Reach::default(), depth: 0, seen_calls: HashSet::new() };
        for (name, parsed) in &self.files {
            let base = name.rsplit('/').next().unwrap_or(name);
            if base.starts_with('_') || base == "NOTES.txt" {
                continue;
            }
            let mut env = Env::root();
            walk.nodes(&parsed.nodes, &mut env);
        }
        walk.reach
    }
}

fn collect_template_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_template_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

// ---------- static listing and mining ----------

/// What an operand is, statically: the root context, a values path, the kind of a values path
/// (`kindOf .Values.x`), a literal, or something else.
#[derive(Debug, Clone, PartialEq)]
enum Sym {
    Root,
    Path(Vec<String>),
    KindOf(Vec<String>),
    Lit(Value),
    Other,
}

#[derive(Clone)]
struct MineEnv {
    dot: Sym,
    vars: HashMap<String, Sym>,
}

impl MineEnv {
    fn root() -> MineEnv {
        MineEnv { dot: Sym::Root, vars: HashMap::new() }
    }
}

struct Miner {
    mined: BTreeMap<Vec<String>, Vec<Value>>,
    deciding: BTreeSet<Vec<String>>,
}

impl Miner {
    fn add(&mut self, path: &[String], v: Value) {
        if path.is_empty() || v.as_str().is_some_and(|s| s.len() > MAX_LITERAL) {
            return;
        }
        let entry = self.mined.entry(path.to_vec()).or_default();
        if !entry.contains(&v) {
            entry.push(v);
        }
    }

    /// The symbol of a pipeline, mining every command on the way; `read` collects the values
    /// paths it reads.
    fn pipe(&mut self, p: &Pipeline, env: &MineEnv, read: &mut Vec<Vec<String>>) -> Sym {
        let mut prev: Option<Sym> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(&cmd.args, prev, env, read));
        }
        prev.unwrap_or(Sym::Other)
    }

    fn operand(&mut self, op: &Operand, env: &MineEnv, read: &mut Vec<Vec<String>>) -> Sym {
        let base = match &op.term {
            Term::Dot => env.dot.clone(),
            Term::Var(v) if v == "$" => Sym::Root,
            Term::Var(v) => env.vars.get(v).cloned().unwrap_or(Sym::Other),
            Term::Str(s) => Sym::Lit(json!(s)),
            Term::Num(n) => number_literal(n).map(Sym::Lit).unwrap_or(Sym::Other),
            Term::Nil => Sym::Lit(Value::Null),
            Term::Bool => Sym::Other,
            Term::Ident(_) => self.command(std::slice::from_ref(op), None, env, read),
            Term::Sub(p) => self.pipe(p, env, read),
        };
        if op.fields.is_empty() || matches!(op.term, Term::Ident(_)) {
            if let Sym::Path(p) = &base {
                read.push(p.clone());
            }
            return base;
        }
        let out = match base {
            Sym::Root if op.fields[0] == "Values" => Sym::Path(op.fields[1..].to_vec()),
            Sym::Path(mut p) => {
                p.extend(op.fields.iter().cloned());
                Sym::Path(p)
            }
            _ => Sym::Other,
        };
        if let Sym::Path(p) = &out {
            read.push(p.clone());
        }
        out
    }

    fn command(&mut self, args: &[Operand], piped: Option<Sym>, env: &MineEnv, read: &mut Vec<Vec<String>>) -> Sym {
        let Some(first) = args.first() else { return piped.unwrap_or(Sym::Other) };
        let Term::Ident(f) = &first.term else { return self.operand(first, env, read) };
        let mut syms: Vec<Sym> = args[1..].iter().map(|a| self.operand(a, env, read)).collect();
        syms.extend(piped);
        let lits = || syms.iter().filter_map(|s| if let Sym::Lit(v) = s { Some(v.clone()) } else { None }).collect::<Vec<_>>();
        let paths = || syms.iter().filter_map(|s| if let Sym::Path(p) = s { Some(p.clone()) } else { None }).collect::<Vec<_>>();
        match f.as_str() {
            "eq" | "ne" => {
                for p in paths() {
                    for v in lits() {
                        self.add(&p, v);
                    }
                }
                for s in &syms {
                    if let Sym::KindOf(p) = s {
                        for v in lits() {
                            if let Some(sample) = v.as_str().and_then(kind_sample) {
                                self.add(p, sample);
                            }
                        }
                    }
                }
                Sym::Other
            }
            "has" | "mustHas" => {
                if let (Some(Sym::Lit(v)), Some(Sym::Path(p))) = (syms.first(), syms.get(1)) {
                    self.add(p, json!([v]));
                }
                Sym::Other
            }
            "hasKey" => {
                if let (Some(Sym::Path(p)), Some(Sym::Lit(Value::String(k)))) = (syms.first(), syms.get(1)) {
                    let mut key = p.clone();
                    key.push(k.clone());
                    self.deciding_read(&key);
                }
                Sym::Other
            }
            "contains" | "hasPrefix" | "hasSuffix" => {
                if let (Some(Sym::Lit(v @ Value::String(_))), Some(Sym::Path(p))) = (syms.first(), syms.get(1)) {
                    self.add(p, v.clone());
                }
                Sym::Other
            }
            "regexMatch" | "mustRegexMatch" => {
                if let (Some(Sym::Lit(Value::String(re))), Some(Sym::Path(p))) = (syms.first(), syms.get(1))
                    && let Some(s) = regex_example(re)
                {
                    self.add(p, json!(s));
                }
                Sym::Other
            }
            "semverCompare" => {
                if let (Some(Sym::Lit(Value::String(c))), Some(Sym::Path(p))) = (syms.first(), syms.get(1))
                    && let Some(v) = constraint_version(c)
                {
                    self.add(p, json!(v));
                }
                Sym::Other
            }
            "kindIs" | "typeIs" => {
                if let (Some(Sym::Lit(Value::String(k))), Some(Sym::Path(p))) = (syms.first(), syms.get(1))
                    && let Some(sample) = kind_sample(k)
                {
                    self.add(p, sample);
                }
                Sym::Other
            }
            "kindOf" | "typeOf" => match syms.first() {
                Some(Sym::Path(p)) => Sym::KindOf(p.clone()),
                _ => Sym::Other,
            },
            "default" => {
                // `default FALLBACK X`: the fallback is a value X may be compared against.
                if let (Some(Sym::Lit(v)), Some(Sym::Path(p))) = (syms.first(), syms.get(1)) {
                    self.add(p, v.clone());
                }
                syms.get(1).cloned().unwrap_or(Sym::Other)
            }
            "ternary" => {
                if let Some(Sym::Path(p)) = syms.get(2) {
                    self.add(p, json!(true));
                    self.add(p, json!(false));
                }
                Sym::Other
            }
            "toString" | "lower" | "upper" | "trim" | "quote" | "squote" | "required" => syms.last().cloned().unwrap_or(Sym::Other),
            _ => Sym::Other,
        }
    }

    fn deciding_read(&mut self, path: &[String]) {
        if !path.is_empty() {
            self.deciding.insert(path.to_vec());
        }
    }
}

/// A value of a Go kind name (`kindIs "map"`, `eq (kindOf .x) "slice"`).
fn kind_sample(kind: &str) -> Option<Value> {
    Some(match kind {
        "map" | "map[string]interface {}" => json!({}),
        "slice" | "[]interface {}" => json!([]),
        "string" => json!(""),
        "bool" => json!(true),
        "int" | "int64" | "float64" => json!(1),
        _ => return None,
    })
}

/// The version a semver constraint names (`>=1.21-0` -> `1.21.0`).
fn constraint_version(c: &str) -> Option<String> {
    let first = c.split(['|', ',', ' ']).find(|s| !s.is_empty())?;
    let v = first.trim_start_matches(['>', '<', '=', '~', '^', '!', 'v']).split('-').next()?;
    let parts: Vec<&str> = v.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|p| p.parse::<u64>().is_err() && *p != "x" && *p != "*") {
        return None;
    }
    let mut nums: Vec<String> = parts.iter().map(|p| if p.parse::<u64>().is_ok() { p.to_string() } else { "0".into() }).collect();
    nums.resize(3, "0".into());
    Some(nums.join("."))
}

/// A short string matching `re` (deterministic), when the generator can make one.
fn regex_example(re: &str) -> Option<String> {
    use proptest::strategy::{Strategy, ValueTree};
    let pattern = re.trim_start_matches('^').trim_end_matches('$');
    let strategy = proptest::string::string_regex(pattern).ok()?;
    let mut runner = super::plan::seeded_runner(0);
    let checker = regex::Regex::new(re).ok()?;
    (0..8).filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current())).filter(|s| checker.is_match(s)).min_by_key(|s| s.len())
}

fn number_literal(n: &str) -> Option<Value> {
    if let Ok(i) = n.parse::<i64>() {
        return Some(json!(i));
    }
    n.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number)
}

/// Lists the branch sites of a file (ids in walk order) and mines its pipelines.
struct Lister<'a> {
    file: &'a str,
    lines: &'a [&'a str],
    sites: &'a mut Vec<BranchSite>,
    ids: &'a mut HashMap<usize, usize>,
    miner: &'a mut Miner,
}

impl Lister<'_> {
    fn source(&self, line: usize) -> String {
        let text = self.lines.get(line.saturating_sub(1)).map(|l| l.trim()).unwrap_or_default();
        if text.chars().count() > 80 { format!("{}…", text.chars().take(80).collect::<String>()) } else { text.to_string() }
    }

    fn nodes(&mut self, nodes: &[Node], env: &MineEnv) {
        let mut env = env.clone();
        for node in nodes {
            match node {
                Node::Output(p) => {
                    let s = self.miner.pipe(p, &env, &mut Vec::new());
                    for d in &p.decls {
                        env.vars.insert(d.clone(), s.clone());
                    }
                }
                Node::Template { arg, .. } => {
                    if let Some(a) = arg {
                        self.miner.pipe(a, &env, &mut Vec::new());
                    }
                }
                Node::Cond { branches, else_body } => {
                    let chain = self.sites.len();
                    self.ids.insert(node as *const Node as usize, chain);
                    let mut paths: Vec<Vec<String>> = Vec::new();
                    let mut bodies = Vec::new();
                    for b in branches {
                        let mut read = Vec::new();
                        let s = self.miner.pipe(&b.cond, &env, &mut read);
                        for r in &read {
                            self.miner.deciding_read(r);
                        }
                        paths.extend(read);
                        paths.sort();
                        paths.dedup();
                        let line = b.cond.line;
                        self.sites.push(BranchSite { file: self.file.into(), line, label: self.source(line), paths: paths.clone(), chain });
                        let mut inner = env.clone();
                        if b.with {
                            inner.dot = s.clone();
                        }
                        for d in &b.cond.decls {
                            inner.vars.insert(d.clone(), s.clone());
                        }
                        bodies.push((b, inner));
                    }
                    let line = branches.first().map(|b| b.cond.line).unwrap_or(0);
                    let label = if else_body.is_empty() { format!("(no branch taken) {}", self.source(line)) } else { format!("else of {}", self.source(line)) };
                    self.sites.push(BranchSite { file: self.file.into(), line, label, paths, chain });
                    for (b, inner) in bodies {
                        self.nodes(&b.body, &inner);
                    }
                    self.nodes(else_body, &env);
                }
                Node::Range { pipe, body, else_body } => {
                    let chain = self.sites.len();
                    self.ids.insert(node as *const Node as usize, chain);
                    let mut read = Vec::new();
                    let s = self.miner.pipe(pipe, &env, &mut read);
                    for r in &read {
                        self.miner.deciding_read(r);
                    }
                    let label = self.source(pipe.line);
                    self.sites.push(BranchSite { file: self.file.into(), line: pipe.line, label: format!("{label} (items)"), paths: read.clone(), chain });
                    self.sites.push(BranchSite { file: self.file.into(), line: pipe.line, label: format!("{label} (empty)"), paths: read, chain });
                    let mut inner = env.clone();
                    inner.dot = match s {
                        Sym::Path(mut p) => {
                            p.push("*".into());
                            Sym::Path(p)
                        }
                        _ => Sym::Other,
                    };
                    for d in &pipe.decls {
                        inner.vars.insert(d.clone(), Sym::Other);
                    }
                    self.nodes(body, &inner);
                    self.nodes(else_body, &env);
                }
            }
        }
    }
}

// ---------- estimating the branches a value set reaches ----------

/// A value during evaluation: the root context, a known value, or unknown.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Root,
    Known(Value),
    Unknown,
}

#[derive(Clone)]
struct Env {
    dot: V,
    dollar: V,
    vars: HashMap<String, V>,
}

impl Env {
    fn root() -> Env {
        Env { dot: V::Root, dollar: V::Root, vars: HashMap::new() }
    }
}

struct Walk<'a> {
    model: &'a BranchModel,
    values: &'a Value,
    reach: Reach,
    depth: usize,
    /// Helper calls already walked with the same argument (helpers are called many times).
    seen_calls: HashSet<(String, String)>,
}

/// Whether a pipeline calls a helper (`include`, `template`) anywhere, whose branches count.
fn calls_helper(p: &Pipeline) -> bool {
    p.cmds.iter().flat_map(|c| &c.args).any(|a| match &a.term {
        Term::Ident(f) => f == "include" || f == "template",
        Term::Sub(inner) => calls_helper(inner),
        _ => false,
    })
}

/// Go's truth (`text/template` `isTrue`): false, 0, nil, and empty strings, lists and maps are false.
fn truth(v: &V) -> Option<bool> {
    match v {
        V::Root => Some(true),
        V::Unknown => None,
        V::Known(v) => Some(match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
        }),
    }
}

/// Go's `eq` on values decoded from YAML: numbers compare by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

impl Walk<'_> {
    fn nodes(&mut self, nodes: &[Node], env: &mut Env) {
        for node in nodes {
            match node {
                // Printed output decides nothing: only variables and helper calls matter.
                Node::Output(p) if p.decls.is_empty() && !calls_helper(p) => {}
                Node::Output(p) => {
                    let v = self.pipe(p, env);
                    for d in &p.decls {
                        env.vars.insert(d.clone(), v.clone());
                    }
                }
                Node::Template { name, arg, .. } => {
                    let a = arg.as_ref().map(|a| self.pipe(a, env)).unwrap_or(V::Known(Value::Null));
                    self.call(name, a);
                }
                Node::Cond { branches, else_body } => {
                    let Some(&chain) = self.model.ids.get(&(node as *const Node as usize)) else { continue };
                    let mut taken = None;
                    for (i, b) in branches.iter().enumerate() {
                        let v = self.pipe(&b.cond, env);
                        match truth(&v) {
                            None => break,
                            Some(false) => {}
                            Some(true) => {
                                taken = Some((i, v));
                                break;
                            }
                        }
                        if i + 1 == branches.len() {
                            taken = Some((branches.len(), V::Unknown));
                        }
                    }
                    let Some((i, v)) = taken else { continue };
                    self.reach.decided.insert(chain);
                    self.reach.taken.insert(chain + i);
                    let mut inner = env.clone();
                    match branches.get(i) {
                        Some(b) => {
                            if b.with {
                                inner.dot = v.clone();
                            }
                            for d in &b.cond.decls {
                                inner.vars.insert(d.clone(), v.clone());
                            }
                            self.nodes(&b.body, &mut inner);
                        }
                        None => self.nodes(else_body, &mut inner),
                    }
                }
                Node::Range { pipe, body, else_body } => {
                    let Some(&chain) = self.model.ids.get(&(node as *const Node as usize)) else { continue };
                    let v = self.pipe(pipe, env);
                    let items: Option<Vec<(Value, Value)>> = match &v {
                        V::Known(Value::Array(a)) => Some(a.iter().enumerate().map(|(i, x)| (json!(i), x.clone())).collect()),
                        V::Known(Value::Object(m)) => Some(m.iter().map(|(k, x)| (json!(k), x.clone())).collect()),
                        V::Known(Value::Null) => Some(Vec::new()),
                        V::Known(Value::Number(n)) => n.as_u64().map(|n| (0..n.min(RANGE_ITEMS as u64)).map(|i| (json!(i), json!(i))).collect()),
                        _ => None,
                    };
                    let Some(items) = items else { continue };
                    self.reach.decided.insert(chain);
                    if items.is_empty() {
                        self.reach.taken.insert(chain + 1);
                        self.nodes(else_body, &mut env.clone());
                        continue;
                    }
                    self.reach.taken.insert(chain);
                    for (k, item) in items.into_iter().take(RANGE_ITEMS) {
                        let mut inner = env.clone();
                        inner.dot = V::Known(item.clone());
                        match pipe.decls.as_slice() {
                            [v] => {
                                inner.vars.insert(v.clone(), V::Known(item));
                            }
                            [i, v] => {
                                inner.vars.insert(i.clone(), V::Known(k));
                                inner.vars.insert(v.clone(), V::Known(item));
                            }
                            _ => {}
                        }
                        self.nodes(body, &mut inner);
                    }
                }
            }
        }
    }

    /// Walk a helper's branches with `arg` as its `.` and `$`.
    fn call(&mut self, name: &str, arg: V) {
        let Some(&(fi, di)) = self.model.defines.get(name) else { return };
        if self.depth >= MAX_CALL_DEPTH {
            return;
        }
        let key = match &arg {
            V::Root => "root".to_string(),
            V::Unknown => "unknown".to_string(),
            V::Known(v) => {
                let text = v.to_string();
                if text.len() > 4096 {
                    return;
                }
                text
            }
        };
        if !self.seen_calls.insert((name.to_string(), key)) {
            return;
        }
        let model = self.model;
        let body = &model.files[fi].1.defines[di].body;
        self.depth += 1;
        let mut env = Env { dot: arg.clone(), dollar: arg, vars: HashMap::new() };
        self.nodes(body, &mut env);
        self.depth -= 1;
    }

    fn pipe(&mut self, p: &Pipeline, env: &Env) -> V {
        let mut prev: Option<V> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(&cmd.args, prev, env));
        }
        prev.unwrap_or(V::Unknown)
    }

    fn operand(&mut self, op: &Operand, env: &Env) -> V {
        let base = match &op.term {
            Term::Dot => env.dot.clone(),
            Term::Var(v) if v == "$" => env.dollar.clone(),
            Term::Var(v) => env.vars.get(v).cloned().unwrap_or(V::Unknown),
            Term::Str(s) => V::Known(json!(s)),
            Term::Num(n) => number_literal(n).map(V::Known).unwrap_or(V::Unknown),
            Term::Nil => V::Known(Value::Null),
            Term::Bool => V::Unknown,
            Term::Ident(_) => return self.command(std::slice::from_ref(op), None, env),
            Term::Sub(p) => self.pipe(p, env),
        };
        let mut fields = op.fields.iter();
        let mut cur = match base {
            V::Root => match fields.next().map(String::as_str) {
                None => return V::Root,
                Some("Values") => self.values,
                Some(_) => return V::Unknown,
            },
            V::Known(v) => {
                // Field access on a known value: walk it (copying only what is addressed).
                let mut v = v;
                for f in fields {
                    v = match v {
                        Value::Object(mut m) => m.remove(f).unwrap_or(Value::Null),
                        Value::Null => Value::Null,
                        _ => return V::Unknown,
                    };
                }
                return V::Known(v);
            }
            V::Unknown => return V::Unknown,
        };
        for f in fields {
            cur = match cur {
                Value::Object(m) => m.get(f).unwrap_or(&Value::Null),
                Value::Null => &Value::Null,
                _ => return V::Unknown,
            };
        }
        V::Known(cur.clone())
    }

    fn command(&mut self, args: &[Operand], piped: Option<V>, env: &Env) -> V {
        let Some(first) = args.first() else { return piped.unwrap_or(V::Unknown) };
        let Term::Ident(f) = &first.term else { return self.operand(first, env) };
        let f = f.as_str();
        // `and`/`or` stop at the first deciding argument, as Go does.
        if f == "and" || f == "or" {
            let mut last = V::Unknown;
            let all = args[1..].iter().map(Some).chain(std::iter::once(None));
            for a in all {
                let v = match a {
                    Some(a) => self.operand(a, env),
                    None => match &piped {
                        Some(p) => p.clone(),
                        None => break,
                    },
                };
                match truth(&v) {
                    None => return V::Unknown,
                    Some(t) if t == (f == "or") => return v,
                    Some(_) => last = v,
                }
            }
            return last;
        }
        let mut vals: Vec<V> = args[1..].iter().map(|a| self.operand(a, env)).collect();
        vals.extend(piped);
        if f == "include" || f == "template" {
            if let (Some(V::Known(Value::String(name))), Some(arg)) = (vals.first(), vals.get(1)) {
                self.call(&name.clone(), arg.clone());
            }
            return V::Unknown;
        }
        if f == "default" {
            return match (vals.first(), vals.get(1)) {
                (Some(d), Some(v)) => match truth(v) {
                    Some(true) => v.clone(),
                    Some(false) => d.clone(),
                    None => V::Unknown,
                },
                (Some(_), None) => V::Unknown,
                _ => V::Unknown,
            };
        }
        if f == "ternary" {
            return match (vals.first(), vals.get(1), vals.get(2).map(truth)) {
                (Some(a), Some(_), Some(Some(true))) => a.clone(),
                (Some(_), Some(b), Some(Some(false))) => b.clone(),
                _ => V::Unknown,
            };
        }
        if f == "not" {
            return vals.first().and_then(truth).map(|t| V::Known(json!(!t))).unwrap_or(V::Unknown);
        }
        if f == "empty" {
            return vals.first().and_then(truth).map(|t| V::Known(json!(!t))).unwrap_or(V::Unknown);
        }
        if f == "coalesce" {
            for v in &vals {
                match truth(v) {
                    None => return V::Unknown,
                    Some(true) => return v.clone(),
                    Some(false) => {}
                }
            }
            return V::Known(Value::Null);
        }
        if f == "required" {
            return vals.get(1).cloned().unwrap_or(V::Unknown);
        }
        // The rest need known values.
        let mut known = Vec::new();
        for v in vals {
            match v {
                V::Known(v) => known.push(v),
                _ => return V::Unknown,
            }
        }
        apply(f, &known).map(V::Known).unwrap_or(V::Unknown)
    }
}

/// Sprig and `text/template` functions on known values (the ones conditions use); None: not
/// known to the estimate, or an error.
fn apply(f: &str, a: &[Value]) -> Option<Value> {
    let s = |i: usize| a.get(i).and_then(Value::as_str);
    let num = |i: usize| a.get(i).and_then(Value::as_f64);
    Some(match f {
        "eq" => json!(a.len() >= 2 && a[1..].iter().any(|b| same(&a[0], b))),
        "ne" => json!(a.len() == 2 && !same(&a[0], &a[1])),
        "lt" => json!(num(0)? < num(1)?),
        "le" => json!(num(0)? <= num(1)?),
        "gt" => json!(num(0)? > num(1)?),
        "ge" => json!(num(0)? >= num(1)?),
        "len" => json!(match a.first()? {
            Value::String(x) => x.len(),
            Value::Array(x) => x.len(),
            Value::Object(x) => x.len(),
            Value::Null => 0,
            _ => return None,
        }),
        "hasKey" => json!(a.first()?.as_object()?.contains_key(s(1)?)),
        "has" | "mustHas" => json!(a.get(1)?.as_array().is_some_and(|l| l.iter().any(|x| same(x, &a[0])))),
        "contains" => json!(s(1)?.contains(s(0)?)),
        "hasPrefix" => json!(s(1)?.starts_with(s(0)?)),
        "hasSuffix" => json!(s(1)?.ends_with(s(0)?)),
        "regexMatch" | "mustRegexMatch" => json!(regex::Regex::new(s(0)?).ok()?.is_match(s(1)?)),
        "kindIs" | "typeIs" => json!(kind_name(a.get(1)?) == s(0)? || (s(0)? == "int" && kind_name(&a[1]) == "int64")),
        "kindOf" | "typeOf" => json!(kind_name(a.first()?)),
        "toString" => match a.first()? {
            Value::String(x) => json!(x),
            Value::Null => return None,
            other => json!(other.to_string()),
        },
        "lower" => json!(s(0)?.to_lowercase()),
        "upper" => json!(s(0)?.to_uppercase()),
        "trim" => json!(s(0)?.trim()),
        "quote" => json!(format!("{:?}", s(0)?)),
        "int" | "int64" => json!(num(0)? as i64),
        "float64" => json!(num(0)?),
        "index" => {
            let mut cur = a.first()?.clone();
            for k in &a[1..] {
                cur = match (&cur, k) {
                    (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
                    (Value::Array(l), Value::Number(n)) => l.get(n.as_u64()? as usize)?.clone(),
                    (Value::Null, _) => Value::Null,
                    _ => return None,
                };
            }
            cur
        }
        "dig" => {
            let (map, rest) = a.split_last()?;
            let (fallback, keys) = rest.split_last()?;
            let mut cur = map;
            for k in keys {
                match cur.as_object().and_then(|m| m.get(k.as_str()?)) {
                    Some(v) => cur = v,
                    None => return Some(fallback.clone()),
                }
            }
            cur.clone()
        }
        "list" => Value::Array(a.to_vec()),
        "dict" => {
            let mut m = Map::new();
            for pair in a.chunks(2) {
                m.insert(pair[0].as_str()?.to_string(), pair.get(1).cloned().unwrap_or(Value::Null));
            }
            Value::Object(m)
        }
        _ => return None,
    })
}

// ---------- values.yaml comments ----------

/// Options that comments next to keys of values.yaml list: a trailing comment (`mode: standalone
/// # standalone or cluster`, `# one of: a, b, c`) or the comment lines right above the key
/// (`# -- Options: a, b`). A trailing `a or b` list counts only when it names the key's current
/// value; comment lines above need a marker (`one of`, `options`, `possible`/`allowed`/`valid`/
/// `supported values`). Values keep the type of the key's current value where they parse as it.
pub fn comment_options(text: &str) -> BTreeMap<Vec<String>, Vec<Value>> {
    let key_line = regex::Regex::new(r#"^(\s*)("[^"]+"|'[^']+'|[A-Za-z0-9_.\-/]+):(.*)$"#).expect("valid regex");
    let mut out: BTreeMap<Vec<String>, Vec<Value>> = BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut above: Vec<String> = Vec::new();
    for raw in text.lines() {
        let trimmed = raw.trim_start();
        if let Some(comment) = trimmed.strip_prefix('#') {
            above.push(comment.trim().to_string());
            continue;
        }
        let Some(c) = key_line.captures(raw) else {
            above.clear();
            continue;
        };
        let indent = c[1].len();
        let key = c[2].trim_matches(['"', '\'']).to_string();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let mut path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
        path.push(key.clone());
        let rest = c[3].to_string();
        let (value_text, trailing) = split_comment(&rest);
        let current = value_text.trim().trim_matches(['"', '\'']).to_string();
        let mut options: Vec<String> = Vec::new();
        if let Some(t) = trailing {
            options = listed_options(&t, true);
            if !options.iter().any(|o| *o == current) && !has_marker(&t) {
                options.clear();
            }
        }
        if options.is_empty() {
            let joined = above.join(" ");
            if has_marker(&joined) {
                options = listed_options(&joined, false);
            }
        }
        above.clear();
        if !options.is_empty() && !current.is_empty() {
            let typed: Vec<Value> = options.iter().filter(|o| **o != current).map(|o| typed_like(o, value_text.trim())).collect();
            if !typed.is_empty() {
                out.entry(path.clone()).or_default().extend(typed);
            }
        }
        if value_text.trim().is_empty() {
            stack.push((indent, key));
        }
    }
    out
}

/// The value text and the trailing comment of the rest of a key line (a `#` after white space,
/// outside quotes).
fn split_comment(rest: &str) -> (String, Option<String>) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, ch) in rest.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == '#' && prev.is_whitespace() => return (rest[..i].to_string(), Some(rest[i + 1..].trim().to_string())),
            None => {}
        }
        prev = ch;
    }
    (rest.to_string(), None)
}

fn has_marker(text: &str) -> bool {
    let t = text.to_lowercase();
    ["one of", "options", "possible values", "allowed values", "valid values", "supported values", "either"].iter().any(|m| t.contains(m))
}

/// The option words of a comment: after a marker (`one of: a, b, c`) or, for a trailing comment,
/// the whole comment when it is a list (`a or b`, `a | b`, `a, b or c`).
fn listed_options(text: &str, trailing: bool) -> Vec<String> {
    let lower = text.to_lowercase();
    // Byte positions found in the lowercase text index the text only when lowercasing kept its length.
    let text: &str = if lower.len() == text.len() { text } else { &lower };
    let mut body = text.to_string();
    for m in ["one of", "options", "possible values", "allowed values", "valid values", "supported values", "either"] {
        if let Some(i) = lower.find(m) {
            body = text[i + m.len()..].to_string();
            break;
        }
    }
    let body = body.trim_start_matches([':', ' ']);
    let body = body.strip_prefix("are ").unwrap_or(body).trim_start_matches([':', ' ']).trim_end_matches(['.', ')']);
    let body = if lower.contains("one of") || !trailing { body.to_string() } else { text.to_string() };
    let word = regex::Regex::new(r"^[`'\x22]?([A-Za-z0-9][A-Za-z0-9._/\-]*)[`'\x22]?$").expect("valid regex");
    let parts: Vec<&str> = body.split([',', '|', '/']).flat_map(|p| p.split(" or ")).map(str::trim).filter(|p| !p.is_empty()).collect();
    let words: Vec<String> = parts.iter().filter_map(|p| word.captures(p.trim_start_matches("or ").trim()).map(|c| c[1].to_string())).collect();
    // Every part must be one word: a sentence is not a list.
    if words.len() < 2 || words.len() != parts.len() || words.len() > 12 {
        return Vec::new();
    }
    words
}

/// An option as a value of the current value's type (`true` for a boolean key, `3` for a number).
fn typed_like(option: &str, current_text: &str) -> Value {
    let current: Value = serde_yaml::from_str(current_text).unwrap_or(Value::Null);
    match current {
        Value::Bool(_) if option == "true" || option == "false" => json!(option == "true"),
        Value::Number(_) => number_literal(option).unwrap_or_else(|| json!(option)),
        _ => json!(option),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(files: &[(&str, &str)]) -> BranchModel {
        BranchModel::of_sources(&files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect::<Vec<_>>())
    }

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn mines_compared_literals_with_their_keys() {
        let m = model(&[(
            "templates/a.yaml",
            r#"{{- if eq .Values.mode "cluster" }}x{{ end }}
{{- with .Values.storage }}{{ if eq .type "pvc" }}y{{ end }}{{ end }}
{{- if .Values.tag | hasPrefix "v2" }}{{ end }}
{{- if has "arm64" .Values.arches }}{{ end }}
{{- if semverCompare ">=1.21-0" .Values.kubeVersion }}{{ end }}
{{- if kindIs "map" .Values.extra }}{{ end }}
{{- if eq (kindOf .Values.env) "slice" }}{{ end }}
{{- $m := .Values.level | default "info" }}
{{- if ne .Values.replicas 3 }}{{ end }}"#,
        )]);
        assert_eq!(m.mined[&p("mode")], vec![json!("cluster")]);
        assert_eq!(m.mined[&p("storage.type")], vec![json!("pvc")]);
        assert_eq!(m.mined[&p("tag")], vec![json!("v2")]);
        assert_eq!(m.mined[&p("arches")], vec![json!(["arm64"])]);
        assert_eq!(m.mined[&p("kubeVersion")], vec![json!("1.21.0")]);
        assert_eq!(m.mined[&p("extra")], vec![json!({})]);
        assert_eq!(m.mined[&p("env")], vec![json!([])]);
        assert_eq!(m.mined[&p("level")], vec![json!("info")]);
        assert_eq!(m.mined[&p("replicas")], vec![json!(3)]);
        assert!(m.deciding.contains(&p("mode")) && m.deciding.contains(&p("storage")) && m.deciding.contains(&p("storage.type")));
    }

    #[test]
    fn estimates_the_branches_a_value_set_reaches() {
        let m = model(&[
            ("templates/_h.tpl", r#"{{- define "h" }}{{ if .Values.metrics.enabled }}m{{ end }}{{- end }}"#),
            (
                "templates/a.yaml",
                r#"{{- if eq .Values.mode "cluster" }}
{{- if and .Values.metrics.enabled .Values.metrics.exporter.enabled }}bug{{ end }}
{{- else if .Capabilities.APIVersions.Has "x/v1" }}
{{- end }}
{{ include "h" . }}
{{- range .Values.hosts }}{{ if eq . "a" }}{{ end }}{{ end }}"#,
            ),
        ]);
        // Sites: h's if (2), the mode chain (3), the nested and (2), the range (2), the inner if (2).
        assert_eq!(m.sites.len(), 11, "{:#?}", m.sites);
        let label_of = |r: &Reach| r.taken.iter().filter(|i| m.sites[**i].file == "templates/a.yaml").map(|i| format!("{}:{}", m.sites[*i].line, m.sites[*i].label)).collect::<Vec<_>>();
        let base = json!({"mode": "standalone", "metrics": {"enabled": false, "exporter": {"enabled": false}}, "hosts": []});
        let r = m.reach(&base);
        // mode != cluster, then `.Capabilities` is undecided: nothing of that chain is counted.
        assert!(!label_of(&r).iter().any(|l| l.starts_with("1:") || l.starts_with("3:")), "{:?}", label_of(&r));
        assert!(label_of(&r).iter().any(|l| l.contains("(empty)")));
        let bug = json!({"mode": "cluster", "metrics": {"enabled": true, "exporter": {"enabled": true}}, "hosts": ["a"]});
        let r = m.reach(&bug);
        let labels = label_of(&r);
        assert!(labels.iter().any(|l| l.starts_with("2:{{- if and")), "{labels:?}");
        assert!(labels.iter().any(|l| l.contains("(items)")) && labels.iter().any(|l| l.contains("eq . \"a\"")), "{labels:?}");
        let helper_if = m.sites.iter().position(|s| s.file == "templates/_h.tpl").unwrap();
        assert!(r.taken.contains(&helper_if), "the helper's branch is reached through include");
        // The nested condition reads both switches.
        let nested = m.sites.iter().find(|s| s.label.contains("if and")).unwrap();
        assert_eq!(nested.paths, vec![p("metrics.enabled"), p("metrics.exporter.enabled")]);
    }

    #[test]
    fn values_comments_list_options() {
        let text = "mode: standalone  # standalone or cluster\nstorage:\n  # -- one of: emptyDir, pvc, hostPath\n  type: emptyDir\n  size: 1Gi # the size, or nothing\nlevel: info # one of: debug, info, warn\nn: 1 # 1 or 3\nname: x # a name or an alias\n";
        let o = comment_options(text);
        assert_eq!(o[&p("mode")], vec![json!("cluster")]);
        assert_eq!(o[&p("storage.type")], vec![json!("pvc"), json!("hostPath")]);
        assert_eq!(o[&p("level")], vec![json!("debug"), json!("warn")]);
        assert_eq!(o[&p("n")], vec![json!(3)]);
        assert!(!o.contains_key(&p("storage.size")) && !o.contains_key(&p("name")), "{o:?}");
    }

    #[test]
    fn semver_constraints_name_a_version() {
        assert_eq!(constraint_version(">=1.21-0").as_deref(), Some("1.21.0"));
        assert_eq!(constraint_version("^2.x").as_deref(), Some("2.0.0"));
        assert_eq!(constraint_version("latest"), None);
    }
}
