//! One volatility reference render per side for `diff --each`: which templates of a chart can
//! produce volatile output (their actions, or the named templates they include, call a random,
//! clock or key-generating function, or `tpl`), and which values each of them may read. A values
//! file that sets none of those values cannot change what such a template renders, up to its
//! randomness: its second render is then as good as any other independent render of the chart at
//! the shared values, and one such reference render per side stands in for every file's second
//! render. A file that sets a value a volatile template may read (or a subchart condition or tag
//! that decides whether it renders at all) gets its own second render.
//!
//! The reads are found from the template text, conservatively: every `.Values.a.b` chain (and
//! `index`/`get` of `.Values` with literal keys) counts as reading everything under `a.b`; a bare
//! `.Values`, a `"Values"` string, `.Subcharts`, the whole context (`.`/`$`, or a variable bound to
//! it) handed to anything but `include`/`template`/`tpl`/`dict` outside a `with`/`range`, a
//! helper's use of a field of its argument (which may hold the context), and `tpl` in a volatile
//! template (a string may read any value) read everything in the template's scope (a subchart's
//! scope is its key plus `global`). Named templates are global across the chart and its subcharts,
//! each template file also named by its path (helm pkg/engine/engine.go: `Engine.render` parses
//! every file into one template set under its path); `include (print $.Template.BasePath
//! "/x.yaml")` names the rendered template's chart's file, any other computed name reaches them
//! all. `tpl` counts as volatile when a random function is named anywhere it could evaluate (the
//! chart's non-template files, the shared values). Templates write into the values map every later
//! template sees (`recAllTpls` hands all templates of a chart one map, a subchart's being a table
//! inside its parent's): a `set`/`unset`/`merge*` on `.Values.a` or on a variable bound to it
//! writes `a`, and a volatile template reading under a written path also reads whatever the writer
//! reads; a write whose target is not known (the context, a variable bound to it) adds the writer's
//! reads to every volatile template. A chart that imports values from a subchart (`import-values`)
//! moves values where this cannot follow: every file gets its own second render.

use std::collections::{BTreeMap, BTreeSet};

use crate::chart::Chart;
use crate::manifest::Manifest;
use crate::render::determinism::{action_names_nondeterministic_function, names_nondeterministic_function};

/// A path in the values, from the root of the top-level chart; empty = everything.
pub type KeyPath = Vec<String>;

/// What one chart (with its subcharts) allows to share.
#[derive(Debug, Clone, Default)]
pub struct VolatilityPlan {
    /// Rendered templates (as helm's `# Source:` names them) that may produce volatile output,
    /// with every values path they may read.
    volatile: BTreeMap<String, Vec<KeyPath>>,
    /// Why no file can share the reference render (values written by templates, imported values).
    pub unshareable: Option<String>,
}

impl VolatilityPlan {
    /// Analyse every template of `chart` and its subcharts; `shared_values` are the texts of the
    /// values files every render gets (a random function named there makes `tpl` volatile).
    pub fn of(chart: &Chart, shared_values: &[String]) -> VolatilityPlan {
        let mut units = Units::default();
        let mut rendered = Vec::new();
        let mut unshareable = None;
        collect(chart, &chart.meta.name, &[], &[], &mut units, &mut rendered, &mut unshareable);
        let tpl_volatile = units.nondeterministic_outside_templates || shared_values.iter().any(|t| names_nondeterministic_function(t));
        // Every rendered template's closure: what it reads and writes, from the top-level values.
        let mut closures = Vec::new();
        for t in rendered {
            // `$.Template.BasePath` is the rendered template's, in whatever helper it is read.
            let (mut closure, everything, _) = closure_of(&units.defines, &t.facts, Some(&t.base));
            if everything {
                for d in units.defines.values().flatten() {
                    closure.absorb(d);
                }
            }
            let mut reads: Vec<KeyPath> = Vec::new();
            for r in &closure.reads {
                scoped(&t.scope, r, &mut reads);
            }
            reads.extend(t.gates.iter().cloned());
            let mut writes: Vec<KeyPath> = Vec::new();
            for w in &closure.writes {
                scoped(&t.scope, w, &mut writes);
            }
            let volatile = closure.nondeterministic || (closure.uses_tpl && tpl_volatile);
            if volatile && closure.uses_tpl {
                // A string `tpl` evaluates may read any value (`"{{ .Values.other }}"` in values.yaml).
                reads.push(t.scope.clone());
                if !t.scope.is_empty() {
                    reads.push(vec!["global".into()]);
                }
            }
            closures.push((t.source, volatile, reads, writes, closure.unknown_write));
        }
        let mut volatile = BTreeMap::new();
        for (source, is_volatile, reads, _, _) in &closures {
            if !is_volatile {
                continue;
            }
            let mut reads = reads.clone();
            // Whatever a writer reads reaches the readers of what it writes (to a fixpoint).
            loop {
                let before = reads.len();
                for (_, _, w_reads, writes, unknown) in &closures {
                    if *unknown || writes.iter().any(|w| reads.iter().any(|r| overlap(r, w))) {
                        for r in w_reads {
                            if !reads.contains(r) {
                                reads.push(r.clone());
                            }
                        }
                    }
                }
                if reads.len() == before {
                    break;
                }
            }
            reads.sort();
            reads.dedup();
            volatile.insert(source.clone(), reads);
        }
        VolatilityPlan { volatile, unshareable }
    }

    /// Whether a file setting `keys` (every path it writes, see [`written_paths`]) needs its own
    /// second render: it may change what a volatile template renders.
    pub fn needs_own_second_render(&self, keys: &[KeyPath]) -> bool {
        self.unshareable.is_some() || self.volatile.values().flatten().any(|r| keys.iter().any(|k| overlap(k, r)))
    }

    /// Whether any template may render volatile output (else one render tells all).
    pub fn may_produce_volatile_output(&self) -> bool {
        !self.volatile.is_empty()
    }

    /// Whether resources rendered by `template` may be volatile.
    pub fn may_be_volatile(&self, template: Option<&str>) -> bool {
        template.is_some_and(|t| self.volatile.contains_key(t))
    }

    /// A stand-in for a second render of the file whose first render is `first`: its resources
    /// from templates that cannot be volatile, and the reference render's resources from the
    /// ones that may be (an independent render of them, at values they do not tell apart).
    pub fn second_render(&self, first: &Manifest, reference: &Manifest) -> Manifest {
        let mut resources: Vec<_> = first.resources.iter().filter(|r| !self.may_be_volatile(r.template.as_deref())).cloned().collect();
        resources.extend(reference.resources.iter().filter(|r| self.may_be_volatile(r.template.as_deref())).cloned());
        Manifest { resources, problems: Vec::new() }
    }
}

/// What `chartproof unittest` must know of one template file (chart-relative, as the chart's
/// folders hold it: `templates/x.yaml`, `charts/sub/templates/y.yaml`) to render it together with
/// templates another test selected ([`TemplateIsolation`]). The facts of "its closure" are those
/// of the file's own actions and of every named template it may include, to a fixpoint; paths
/// are from the top-level values, as [`VolatilityPlan`] scopes them.
#[derive(Debug, Clone, Default)]
pub struct TemplateFile {
    /// A `_` partial: every render holds it, whatever the selection.
    pub partial: bool,
    /// The file `define`s (or `block`s) a named template, which may replace one of the same name.
    pub defines: bool,
    /// The file's text names `APIVersions` (the unittest chart copy then swaps `.Capabilities`
    /// for every template of the render: write_first_template in src/unittest/render.rs).
    pub mentions_api_versions: bool,
    /// Values paths its closure may read (empty path = everything); with `tpl`, its whole scope.
    pub reads: Vec<KeyPath>,
    /// Values paths its closure writes (`set`/`unset`/`merge*` on them).
    pub writes: Vec<KeyPath>,
    /// Its closure writes into something that may be the values or the context, path unknown.
    pub unknown_write: bool,
    /// Its closure includes a name computed other than `(print $.Template.BasePath "/x")`.
    pub dynamic_include: bool,
    /// Its closure calls `tpl`, whose string may include a template by name or write.
    pub uses_tpl: bool,
    /// The non-partial template files (chart-relative) its closure includes by their names.
    pub includes_files: BTreeSet<String>,
}

impl TemplateFile {
    /// Whether the file's writes may change what a template reading `reads` renders.
    pub fn may_write_into(&self, reads: &[KeyPath]) -> bool {
        self.unknown_write || self.writes.iter().any(|w| reads.iter().any(|r| overlap(r, w)))
    }
}

/// Which templates of a chart can be rendered together without changing each other's output
/// (for `chartproof unittest`'s shared renders): Helm gives every template of a chart one map
/// (engine.go `recAllTpls`; a subchart's values are a table inside its parent's), parses every
/// file into one template set under its path (a later `define` of a name replaces an earlier
/// one), and a template file is a named template (`include "app/templates/x.yaml"`). Err is why
/// the chart cannot be judged (a packaged subchart, whose files are not the chart's folders).
#[derive(Debug, Clone, Default)]
pub struct TemplateIsolation {
    pub files: BTreeMap<String, TemplateFile>,
    /// What the texts the chart may hand `tpl` do: the strings of every values.yaml, the string
    /// literals of the templates that hold `{{`, and (when a template names `Files`) every file
    /// outside the templates.
    pub chart_tpl: TplEffects,
    defines: BTreeMap<String, Vec<Facts>>,
    /// Helm's name of each non-partial template file → its chart-relative path.
    file_names: BTreeMap<String, String>,
}

/// What a text `tpl` evaluates may do beyond reading values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TplEffects {
    /// Non-partial template files it includes by name (through helpers too).
    pub includes_files: BTreeSet<String>,
    /// It includes a computed name (or one relative to `.Template.BasePath`).
    pub dynamic_include: bool,
    /// It writes into something that may be the values or the context.
    pub writes: bool,
}

impl TplEffects {
    pub fn absorb(&mut self, other: &TplEffects) {
        self.includes_files.extend(other.includes_files.iter().cloned());
        self.dynamic_include |= other.dynamic_include;
        self.writes |= other.writes;
    }
}

struct IsolationFile {
    rel: String,
    /// Its name in helm's template set (`app/charts/<key>/templates/x.yaml`).
    name: String,
    base: String,
    scope: KeyPath,
    top: Facts,
    defines: bool,
    text: String,
}

impl TemplateIsolation {
    pub fn of(chart: &Chart) -> Result<TemplateIsolation, String> {
        let mut units = Units::default();
        let mut files: Vec<IsolationFile> = Vec::new();
        let mut out = TemplateIsolation::default();
        let mut outside = Vec::new();
        let mut tpl_texts = Vec::new();
        isolation_collect(chart, &chart.dir, &chart.meta.name, &[], &mut units, &mut files, &mut outside, &mut tpl_texts)?;
        let is_partial = |rel: &str| rel.rsplit('/').next().is_some_and(|b| b.starts_with('_'));
        out.defines = units.defines;
        out.file_names = files.iter().filter(|f| !is_partial(&f.rel)).map(|f| (f.name.clone(), f.rel.clone())).collect();
        if files.iter().any(|f| f.text.contains("Files")) {
            tpl_texts.extend(outside.iter().filter_map(|p| std::fs::read(p).ok()).map(|b| String::from_utf8_lossy(&b).to_string()));
        }
        out.chart_tpl = out.tpl_effects(tpl_texts.iter().map(String::as_str));
        for f in &files {
            let (closure, dynamic, seen) = out.closure(&f.top, Some(&f.base));
            let includes_files: BTreeSet<String> = seen.iter().filter_map(|n| out.file_names.get(n)).cloned().collect();
            let mut reads = Vec::new();
            for r in &closure.reads {
                scoped(&f.scope, r, &mut reads);
            }
            if closure.uses_tpl {
                // A string `tpl` evaluates may read any value of the chart's scope.
                scoped(&f.scope, &[], &mut reads);
            }
            let mut writes = Vec::new();
            for w in &closure.writes {
                scoped(&f.scope, w, &mut writes);
            }
            // The same folder twice (one chart under two aliases): the facts of both.
            let entry = out.files.entry(f.rel.clone()).or_default();
            entry.partial = is_partial(&f.rel);
            entry.defines |= f.defines;
            entry.mentions_api_versions |= f.text.contains("APIVersions");
            entry.reads.extend(reads);
            entry.writes.extend(writes);
            entry.unknown_write |= closure.unknown_write || closure.opaque_write;
            entry.dynamic_include |= dynamic;
            entry.uses_tpl |= closure.uses_tpl;
            entry.includes_files.extend(includes_files);
        }
        Ok(out)
    }

    fn closure(&self, top: &Facts, base: Option<&str>) -> (Facts, bool, BTreeSet<String>) {
        closure_of(&self.defines, top, base)
    }

    /// What `tpl` of any of `texts` may do (each read as a template of its own).
    pub fn tpl_effects<'a>(&self, texts: impl Iterator<Item = &'a str>) -> TplEffects {
        let mut out = TplEffects::default();
        for text in texts.filter(|t| t.contains("{{")) {
            let (top, defines) = scan(text);
            let mut all = top;
            for (_, d) in defines {
                all.absorb(&d);
                all.dynamic_include |= d.dynamic_include;
            }
            let (closure, dynamic, seen) = self.closure(&all, None);
            out.includes_files.extend(seen.iter().filter_map(|n| self.file_names.get(n)).cloned());
            out.dynamic_include |= dynamic;
            out.writes |= !closure.writes.is_empty() || closure.unknown_write || closure.opaque_write;
        }
        out
    }
}

/// The facts of `top` and of every named template it may include (to a fixpoint), whether a
/// name was computed, and the names reached. `base` is the including template's
/// `.Template.BasePath` (None: a name relative to it counts as computed).
fn closure_of(defines: &BTreeMap<String, Vec<Facts>>, top: &Facts, base: Option<&str>) -> (Facts, bool, BTreeSet<String>) {
    let mut closure = top.clone();
    let mut dynamic = top.dynamic_include;
    let mut seen = BTreeSet::new();
    let names = |x: &Facts, dynamic: &mut bool| {
        if base.is_none() && !x.includes_in_base.is_empty() {
            *dynamic = true;
        }
        x.includes.iter().cloned().chain(x.includes_in_base.iter().filter_map(|suffix| base.map(|b| format!("{b}{suffix}")))).collect::<Vec<_>>()
    };
    let mut todo = names(top, &mut dynamic);
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for d in defines.get(&name).into_iter().flatten() {
            closure.absorb(d);
            dynamic |= d.dynamic_include;
            todo.extend(names(d, &mut dynamic));
        }
    }
    (closure, dynamic, seen)
}

/// Every string of a values document (keys too).
pub fn value_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| value_strings(x, out)),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.push(k);
                value_strings(x, out);
            }
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn isolation_collect(chart: &Chart, root: &std::path::Path, source_prefix: &str, scope: &[String], units: &mut Units, files: &mut Vec<IsolationFile>, outside: &mut Vec<std::path::PathBuf>, tpl_texts: &mut Vec<String>) -> Result<(), String> {
    let rel_dir = chart.dir.strip_prefix(root).map_err(|_| format!("{} is not inside the chart's folder (packaged)", chart.dir.display()))?.to_string_lossy().replace('\\', "/");
    let packaged = std::fs::read_dir(chart.dir.join("charts")).into_iter().flatten().flatten().any(|e| e.path().is_file() && e.path().extension().is_some_and(|x| x == "tgz"));
    if packaged {
        return Err(format!("{} holds a packaged subchart", chart.meta.name));
    }
    let templates = chart.dir.join("templates");
    list_files_but(&chart.dir, &[templates.clone(), chart.dir.join("charts"), chart.dir.join("tests"), chart.dir.join("unittests")], outside);
    let mut strings = Vec::new();
    value_strings(&chart.values.value, &mut strings);
    tpl_texts.extend(strings.into_iter().map(String::from));
    let mut paths = Vec::new();
    list_files_but(&templates, &[], &mut paths);
    paths.sort();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let rel = path.strip_prefix(&templates).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        for a in actions(&text) {
            tpl_texts.extend(tokens(a).into_iter().filter_map(|t| match t {
                Tok::Str(s) if s.contains("{{") => Some(s),
                _ => None,
            }));
        }
        let (top, defines) = scan(&text);
        let has_defines = !defines.is_empty();
        for (name, facts) in defines {
            units.defines.entry(name).or_default().push(facts);
        }
        let name = format!("{source_prefix}/templates/{rel}");
        units.defines.entry(name.clone()).or_default().push(top.clone());
        let chart_rel = if rel_dir.is_empty() { format!("templates/{rel}") } else { format!("{rel_dir}/templates/{rel}") };
        files.push(IsolationFile { rel: chart_rel, name, base: format!("{source_prefix}/templates"), scope: scope.to_vec(), top, defines: has_defines, text });
    }
    for sub in &chart.subcharts {
        if sub.chart.dir.parent() != Some(chart.dir.join("charts").as_path()) {
            return Err(format!("subchart {} of {} is not a folder of its charts/", sub.key, chart.meta.name));
        }
        let mut sub_scope = scope.to_vec();
        sub_scope.push(sub.key.clone());
        isolation_collect(&sub.chart, root, &format!("{source_prefix}/charts/{}", sub.key), &sub_scope, units, files, outside, tpl_texts)?;
    }
    Ok(())
}

/// Every path a values document writes: its leaves, empty maps, lists and nulls (a null deletes
/// the key in Helm's merge).
pub fn written_paths(value: &serde_json::Value) -> Vec<KeyPath> {
    fn walk(v: &serde_json::Value, at: &mut KeyPath, out: &mut Vec<KeyPath>) {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    at.push(k.clone());
                    walk(x, at, out);
                    at.pop();
                }
            }
            _ => out.push(at.clone()),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// Whether one path is under the other (a write or read of either touches both).
fn overlap(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// A read `path` of a template in a chart at `scope` (its key path from the top-level values), as
/// paths from the top: a subchart's `.Values.global.x` is the parent's `global.x` too.
fn scoped(scope: &[String], path: &[String], out: &mut Vec<KeyPath>) {
    let mut p = scope.to_vec();
    p.extend(path.iter().cloned());
    out.push(p);
    if scope.is_empty() {
        return;
    }
    if path.is_empty() {
        out.push(vec!["global".into()]);
    } else if path[0] == "global" {
        out.push(path.to_vec());
    }
}

/// What the actions of one unit (a template file outside its `define`s, or one `define`) do.
#[derive(Debug, Clone, Default)]
struct Facts {
    includes: BTreeSet<String>,
    /// Names included as `(print $.Template.BasePath "/x.yaml")`: the suffixes.
    includes_in_base: BTreeSet<String>,
    dynamic_include: bool,
    nondeterministic: bool,
    uses_tpl: bool,
    /// `.Values` paths read (empty = everything), in the including template's scope.
    reads: BTreeSet<KeyPath>,
    /// `.Values` paths written (`set`, `unset`, `merge*` on them), in the same scope.
    writes: BTreeSet<KeyPath>,
    /// A write into something that may be the values or the context, at an unknown path.
    unknown_write: bool,
    /// A write into a variable not bound to a fresh object at every assignment in its file
    /// ([`fresh_variables`]): the analysis above may not know that it points into the values
    /// (`$x := pick .Values "a"`, then `set (get $x "a") …`). Only [`TemplateIsolation`] counts it.
    opaque_write: bool,
}

impl Facts {
    fn absorb(&mut self, other: &Facts) {
        self.includes.extend(other.includes.iter().cloned());
        self.includes_in_base.extend(other.includes_in_base.iter().cloned());
        self.nondeterministic |= other.nondeterministic;
        self.uses_tpl |= other.uses_tpl;
        self.reads.extend(other.reads.iter().cloned());
        self.writes.extend(other.writes.iter().cloned());
        self.unknown_write |= other.unknown_write;
        self.opaque_write |= other.opaque_write;
    }
}

/// A template Helm renders (not a partial, not NOTES.txt), with its chart's scope and the
/// condition and tag paths that decide whether it renders.
struct Rendered {
    source: String,
    /// Its chart's `.Template.BasePath` (`app/charts/sub/templates`).
    base: String,
    scope: KeyPath,
    gates: Vec<KeyPath>,
    facts: Facts,
}

#[derive(Default)]
struct Units {
    defines: BTreeMap<String, Vec<Facts>>,
    /// A random function is named in a file `tpl` may evaluate (values.yaml, files/, …).
    nondeterministic_outside_templates: bool,
}

fn collect(chart: &Chart, source_prefix: &str, scope: &[String], gates: &[KeyPath], units: &mut Units, rendered: &mut Vec<Rendered>, unshareable: &mut Option<String>) {
    if let Ok(text) = std::fs::read_to_string(chart.dir.join("Chart.yaml"))
        && text.contains("import-values")
    {
        unshareable.get_or_insert_with(|| format!("{} imports values from a subchart (import-values)", chart.meta.name));
    }
    let templates = chart.dir.join("templates");
    if !units.nondeterministic_outside_templates {
        let mut others = Vec::new();
        list_files_but(&chart.dir, &[templates.clone(), chart.dir.join("charts")], &mut others);
        units.nondeterministic_outside_templates = others.iter().any(|p| std::fs::read(p).is_ok_and(|b| names_nondeterministic_function(&String::from_utf8_lossy(&b))));
    }
    let mut files = Vec::new();
    list_files_but(&templates, &[], &mut files);
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let rel = path.strip_prefix(&templates).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let (top, defines) = scan(&text);
        for (name, facts) in defines {
            units.defines.entry(name).or_default().push(facts);
        }
        // A template file is a named template too, by its path: checksum annotations include
        // it (`include (print $.Template.BasePath "/secret.yaml") . | sha256sum`).
        units.defines.entry(format!("{source_prefix}/templates/{rel}")).or_default().push(top.clone());
        let base = rel.rsplit('/').next().unwrap_or(&rel);
        let is_library = chart.meta.chart_type.as_deref() == Some("library");
        if !base.starts_with('_') && base != "NOTES.txt" && !is_library {
            rendered.push(Rendered { source: format!("{source_prefix}/templates/{rel}"), base: format!("{source_prefix}/templates"), scope: scope.to_vec(), gates: gates.to_vec(), facts: top });
        }
    }
    for sub in &chart.subcharts {
        let mut sub_scope = scope.to_vec();
        sub_scope.push(sub.key.clone());
        let mut sub_gates = gates.to_vec();
        // Conditions are paths in the parent's values; tags live under the top-level `tags`.
        for c in sub.condition.iter().flat_map(|c| c.split(',')).map(str::trim).filter(|c| !c.is_empty()) {
            let mut p = scope.to_vec();
            p.extend(c.split('.').map(String::from));
            sub_gates.push(p);
        }
        if let Some(dep) = chart.meta.dependencies.iter().find(|d| d.alias.as_deref().unwrap_or(&d.name) == sub.key) {
            sub_gates.extend(dep.tags.iter().map(|t| vec!["tags".to_string(), t.clone()]));
        }
        collect(&sub.chart, &format!("{source_prefix}/charts/{}", sub.key), &sub_scope, &sub_gates, units, rendered, unshareable);
    }
}

/// Every file under `dir`, except under the `skip` folders and `.git`.
fn list_files_but(dir: &std::path::Path, skip: &[std::path::PathBuf], out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !skip.contains(&p) && p.file_name().is_none_or(|n| n != ".git") {
                list_files_but(&p, skip, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// One token of a template action.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A string or character literal (its content).
    Str(String),
    /// A word: identifier, keyword, number, field chain (`.Values.a`), variable (`$x.a`), `.`, `$`.
    Word(String),
    Open,
    Close,
    Pipe,
    Assign,
}

/// The actions of a template text, comments left out, trim markers removed.
fn actions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let mut body = &rest[open + 2..];
        body = body.strip_prefix('-').unwrap_or(body);
        let trimmed = body.trim_start();
        if trimmed.starts_with("/*") {
            let end = trimmed.find("*/").map(|i| i + 2).unwrap_or(trimmed.len());
            let after = &trimmed[end..];
            rest = after.find("}}").map(|i| &after[i + 2..]).unwrap_or("");
            continue;
        }
        let close = action_end(body);
        let mut action = body[..close].trim_end();
        if action.ends_with('-') && action[..action.len() - 1].ends_with(char::is_whitespace) {
            action = &action[..action.len() - 1];
        }
        out.push(action.trim());
        rest = body.get(close + 2..).unwrap_or("");
    }
    out
}

/// Where `}}` ends an action, outside string literals.
fn action_end(body: &str) -> usize {
    let bytes = body.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q != b'`' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'"' || c == b'`' || c == b'\'' => quote = Some(c),
            None if c == b'}' && bytes.get(i + 1) == Some(&b'}') => return i,
            None => {}
        }
        i += 1;
    }
    bytes.len()
}

fn tokens(action: &str) -> Vec<Tok> {
    let chars: Vec<char> = action.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' {
            i += 1;
        } else if c == '"' || c == '`' || c == '\'' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == '|' {
            out.push(Tok::Pipe);
            i += 1;
        } else if c == ':' || c == '=' {
            while i < chars.len() && (chars[i] == ':' || chars[i] == '=') {
                i += 1;
            }
            out.push(Tok::Assign);
        } else {
            let mut w = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$' | '-' | '+')) {
                // `-` and `+` only inside numbers; a lone `-` ends a word.
                if matches!(chars[i], '-' | '+') && !w.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    break;
                }
                w.push(chars[i]);
                i += 1;
            }
            if w.is_empty() {
                i += 1;
            } else {
                out.push(Tok::Word(w));
            }
        }
    }
    out
}

/// The `.Values` path a word reads (Some(empty) = everything), if it reads the values.
fn values_read(word: &str) -> Option<KeyPath> {
    let segments: Vec<&str> = word.split('.').collect();
    let at = segments.iter().position(|s| *s == "Values" || *s == "Subcharts")?;
    // `.Values`, `$.Values`, `$root.Values`, `.ctx.Values`; not a map key named like it in a chain
    // of a variable's fields (still counted: conservative).
    if segments[at] == "Subcharts" {
        return Some(Vec::new());
    }
    Some(segments[at + 1..].iter().filter(|s| !s.is_empty()).map(|s| s.to_string()).collect())
}

/// Whether `word` is a field of a `define`'s argument other than the values and Helm's built-in
/// objects (`.ctx`, `$.root`): the argument may be (or hold) the whole context.
fn argument_field(word: &str) -> bool {
    let field = word.strip_prefix('$').unwrap_or(word);
    let Some(first) = field.strip_prefix('.').and_then(|f| f.split('.').next()) else { return false };
    !first.is_empty() && values_read(word).is_none() && !["Release", "Chart", "Capabilities", "Template", "Files"].contains(&first)
}

const BLOCK_OPENERS: &[&str] = &["if", "range", "with", "define", "block"];
const MUTATORS: &[&str] = &["set", "unset", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite"];

/// What a variable or a write target may point into: values paths, or something unknown (the
/// context, or what a `define` was handed).
#[derive(Debug, Clone, PartialEq)]
enum Referent {
    Paths(Vec<KeyPath>),
    Unknown,
}

/// Functions whose result is (part of) an argument, not a fresh object: a variable bound to
/// their result may point into the values.
const PASS_THROUGH: &[&str] = &["default", "index", "get", "pluck", "dig", "coalesce", "first", "last", "ternary", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite", "required", "set", "unset"];

/// What the pipeline `toks` (right of `:=`, or a write's target) may point into; None when its
/// result is a fresh object (`dict`, `include`, `fromYaml`, a literal) or a local variable's.
fn referent(toks: &[Tok], vars: &BTreeMap<String, Referent>) -> Option<Referent> {
    let head = match toks.first()? {
        Tok::Word(w) => w.as_str(),
        _ => return None,
    };
    let pointer = |w: &str| -> Option<Referent> {
        if let Some(p) = values_read(w) {
            return Some(Referent::Paths(vec![p]));
        }
        if w == "." || w == "$" || (w.starts_with('.') && w.len() > 1) || w.starts_with("$.") {
            return Some(Referent::Unknown);
        }
        if w.starts_with('$') {
            let (var, fields) = w.split_once('.').map(|(v, f)| (v, Some(f))).unwrap_or((w, None));
            return vars.get(var).map(|r| match (r, fields) {
                (Referent::Paths(ps), Some(f)) => Referent::Paths(ps.iter().map(|p| p.iter().cloned().chain(f.split('.').filter(|s| !s.is_empty()).map(String::from)).collect()).collect()),
                (r, _) => r.clone(),
            });
        }
        None
    };
    if !PASS_THROUGH.contains(&head) {
        return pointer(head);
    }
    let mut paths = Vec::new();
    for t in &toks[1..] {
        match t {
            Tok::Pipe => break,
            Tok::Word(w) => match pointer(w) {
                Some(Referent::Unknown) => return Some(Referent::Unknown),
                Some(Referent::Paths(p)) => paths.extend(p),
                None => {}
            },
            _ => {}
        }
    }
    (!paths.is_empty()).then_some(Referent::Paths(paths))
}

/// Functions that return a new object (its top level not shared with an argument).
const FRESH: &[&str] = &["dict", "deepCopy", "mustDeepCopy", "fromYaml", "fromJson", "fromYamlArray", "fromJsonArray", "include", "tpl", "toYaml", "toJson", "list"];

/// The variables of a template text that every assignment in it binds to a fresh object: a
/// pipeline of one command whose function is in [`FRESH`] (a write into such a variable's own
/// top level changes nothing another template sees).
fn fresh_variables(text: &str) -> BTreeSet<String> {
    let mut fresh = BTreeSet::new();
    let mut tainted = BTreeSet::new();
    for action in actions(text) {
        let toks = tokens(action);
        let Some(at) = toks.iter().position(|t| *t == Tok::Assign) else { continue };
        let rhs = &toks[at + 1..];
        let is_fresh = matches!(rhs.first(), Some(Tok::Word(f)) if FRESH.contains(&f.as_str())) && !rhs.contains(&Tok::Pipe) && at == 1;
        for t in &toks[..at] {
            if let Tok::Word(var) = t
                && var.starts_with('$')
            {
                if is_fresh {
                    fresh.insert(var.clone());
                } else {
                    tainted.insert(var.clone());
                }
            }
        }
    }
    fresh.retain(|v| !tainted.contains(v));
    fresh
}

/// Facts of a template file: of its top level (outside `define`s), and of each `define`/`block`.
fn scan(text: &str) -> (Facts, Vec<(String, Facts)>) {
    enum Frame {
        Define(String, Facts),
        Rebind,
        Other,
    }
    let mut top = Facts::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut defines = Vec::new();
    // Variables that may point into the values or the context.
    let mut value_vars: BTreeMap<String, Referent> = BTreeMap::new();
    // Variables bound to the whole context (`$root := .`, outside a `with`/`range`; or `$`).
    let mut context_vars: BTreeSet<String> = BTreeSet::new();
    let fresh = fresh_variables(text);
    for action in actions(text) {
        let toks = tokens(action);
        let first = match toks.first() {
            Some(Tok::Word(w)) => w.as_str(),
            _ => "",
        };
        if first == "end" {
            if let Some(Frame::Define(name, facts)) = stack.pop() {
                defines.push((name, facts));
            }
            continue;
        }
        let rebound = stack.iter().rev().take_while(|f| !matches!(f, Frame::Define(..))).any(|f| matches!(f, Frame::Rebind));
        let in_define = stack.iter().any(|f| matches!(f, Frame::Define(..)));
        let mut facts = Facts::default();
        if action_names_nondeterministic_function(action) {
            facts.nondeterministic = true;
        }
        for (i, t) in toks.iter().enumerate() {
            match t {
                Tok::Word(w) if w == "tpl" => facts.uses_tpl = true,
                Tok::Word(w) if w == "include" || w == "template" || w == "block" => match toks.get(i + 1) {
                    Some(Tok::Str(name)) => {
                        facts.includes.insert(name.clone());
                    }
                    // A checksum over a file of the chart: `(print $.Template.BasePath "/x.yaml")`.
                    Some(Tok::Open) => match (toks.get(i + 2), toks.get(i + 3), toks.get(i + 4), toks.get(i + 5)) {
                        (Some(Tok::Word(print)), Some(Tok::Word(base)), Some(Tok::Str(suffix)), Some(Tok::Close)) if print == "print" && base.ends_with(".Template.BasePath") => {
                            facts.includes_in_base.insert(suffix.clone());
                        }
                        _ => facts.dynamic_include = true,
                    },
                    _ => facts.dynamic_include = true,
                },
                Tok::Word(w) if w == "." || w == "$" || context_vars.contains(w) || (in_define && !rebound && argument_field(w)) => {
                    // Handed to a helper, the target of a write (counted as a write below), or
                    // bound to a variable (`$root := .`, whose uses are judged the same way).
                    let handed_on = matches!(toks.get(i.wrapping_sub(1)), Some(Tok::Str(_) | Tok::Close))
                        || matches!(toks.get(i.wrapping_sub(1)), Some(Tok::Word(m)) if MUTATORS.contains(&m.as_str()))
                        || (i == 2 && toks.len() == 3 && toks[1] == Tok::Assign)
                        || toks[..i].iter().any(|t| matches!(t, Tok::Word(w) if w == "include" || w == "template" || w == "tpl"));
                    if !(handed_on || w == "." && rebound) {
                        facts.reads.insert(Vec::new());
                    }
                }
                Tok::Word(w) => {
                    if let Some(mut path) = values_read(w) {
                        // `index .Values "a" "b"`, `get .Values "a"`, `hasKey .Values "a"`: the
                        // literal keys extend the path.
                        let keys = match toks.get(i.wrapping_sub(1)) {
                            Some(Tok::Word(f)) if f == "index" => usize::MAX,
                            Some(Tok::Word(f)) if f == "get" || f == "hasKey" => 1,
                            _ => 0,
                        };
                        path.extend(toks[i + 1..].iter().map_while(|t| match t {
                            Tok::Str(k) => Some(k.clone()),
                            _ => None,
                        }).take(keys));
                        facts.reads.insert(path);
                    }
                }
                Tok::Str(s) if s == "Values" => {
                    facts.reads.insert(Vec::new());
                }
                Tok::Open | Tok::Close | Tok::Pipe | Tok::Assign | Tok::Str(_) => {}
            }
        }
        if let [Tok::Word(var), Tok::Assign, Tok::Word(w)] = toks.as_slice()
            && var.starts_with('$')
        {
            if w == "$" || (w == "." && !rebound) || context_vars.contains(w) {
                context_vars.insert(var.clone());
            } else {
                context_vars.remove(var);
            }
        }
        // `$x := <expr>` (also in `range $k, $v := …`, `with $x := …`): remember what the
        // variables may point into.
        if let Some(at) = toks.iter().position(|t| *t == Tok::Assign) {
            let bound = referent(&toks[at + 1..], &value_vars);
            for t in &toks[..at] {
                if let Tok::Word(var) = t
                    && var.starts_with('$')
                {
                    match &bound {
                        Some(r) => {
                            value_vars.insert(var.clone(), r.clone());
                        }
                        None => {
                            value_vars.remove(var);
                        }
                    }
                }
            }
        }
        for (i, t) in toks.iter().enumerate() {
            if let Tok::Word(w) = t
                && MUTATORS.contains(&w.as_str())
            {
                match toks.get(i + 1).map(|t| referent(std::slice::from_ref(t), &value_vars)) {
                    Some(Some(Referent::Paths(paths))) => facts.writes.extend(paths),
                    Some(Some(Referent::Unknown)) => facts.unknown_write = true,
                    // A variable not known to point into the values: fresh, or not known at all.
                    Some(None) if matches!(toks.get(i + 1), Some(Tok::Word(v)) if v.starts_with('$') && !fresh.contains(v)) => facts.opaque_write = true,
                    _ => {}
                }
                if toks.get(i + 1) == Some(&Tok::Open) {
                    facts.unknown_write = true;
                }
            }
        }
        let target = stack.iter_mut().rev().find_map(|f| match f {
            Frame::Define(_, facts) => Some(facts),
            _ => None,
        });
        match target {
            Some(d) => {
                d.absorb(&facts);
                d.dynamic_include |= facts.dynamic_include;
            }
            None => {
                top.absorb(&facts);
                top.dynamic_include |= facts.dynamic_include;
            }
        }
        if BLOCK_OPENERS.contains(&first) {
            stack.push(match (first, toks.get(1)) {
                ("define", Some(Tok::Str(name))) | ("block", Some(Tok::Str(name))) => Frame::Define(name.clone(), Facts::default()),
                ("with" | "range", _) => Frame::Rebind,
                _ => Frame::Other,
            });
        }
    }
    while let Some(f) = stack.pop() {
        if let Frame::Define(name, facts) = f {
            defines.push((name, facts));
        }
    }
    (top, defines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::chart::chart_from_files as chart;

    /// The volatile templates of an `app` chart made of `templates`, with their reads dotted.
    fn volatile_reads(templates: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut files = vec![("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n")];
        files.extend(templates.iter().map(|(p, t)| (*p, *t)));
        let (_d, c) = chart(&files);
        VolatilityPlan::of(&c, &[]).volatile.into_iter().map(|(t, r)| (t, r.iter().map(|p| p.join(".")).collect())).collect()
    }

    fn keys(v: serde_json::Value) -> Vec<KeyPath> {
        written_paths(&v)
    }

    #[test]
    fn template_isolation_finds_writes_defines_and_includes_by_path() {
        let (_d, c) = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("values.yaml", "name: '{{ include \"app.name\" . }}'\nsum: '{{ include \"app/templates/b.yaml\" . }}'\n"),
            ("templates/_helpers.tpl", "{{- define \"app.name\" -}}{{ .Values.prefix }}{{- end }}\n{{- define \"app.sum\" -}}{{ include (print $.Template.BasePath \"/b.yaml\") . | sha256sum }}{{- end }}\n"),
            ("templates/a.yaml", "a: {{ .Values.a.x }}\nsum: {{ include \"app.sum\" . }}\n"),
            ("templates/b.yaml", "{{- $d := dict }}{{ $_ := set $d \"k\" 1 }}\nb: {{ .Values.b }}\n"),
            ("templates/known.yaml", "{{- $n := .Values.node | default dict }}{{ $n = merge $n (dict) }}\n"),
            ("templates/picked.yaml", "{{- $p := pick .Values \"c\" }}{{ $c := get $p \"c\" }}{{ $_ := set $c \"k\" 1 }}\n"),
            ("templates/definer.yaml", "{{- define \"app.name\" }}other{{ end }}\n"),
            ("templates/tpl.yaml", "v: {{ tpl .Values.name . }}\n"),
        ]);
        let iso = TemplateIsolation::of(&c).unwrap();
        let f = |rel: &str| iso.files[rel].clone();
        // A write into a fresh dict is none; into a values path is known; into a variable the
        // analysis cannot follow (`pick` keeps the values' maps) is a write to anything.
        assert!(f("templates/b.yaml").writes.is_empty() && !f("templates/b.yaml").unknown_write);
        assert_eq!(f("templates/known.yaml").writes, vec![vec!["node".to_string()]]);
        assert!(!f("templates/known.yaml").may_write_into(&[vec!["a".into()]]));
        assert!(f("templates/known.yaml").may_write_into(&[vec!["node".into(), "x".into()]]));
        assert!(f("templates/picked.yaml").unknown_write);
        // A checksum through a helper names the file relative to the including template's base.
        assert_eq!(f("templates/a.yaml").includes_files.iter().collect::<Vec<_>>(), ["templates/b.yaml"]);
        assert!(f("templates/a.yaml").reads.contains(&vec!["b".to_string()]));
        assert!(f("templates/definer.yaml").defines && !f("templates/a.yaml").defines);
        assert!(f("templates/_helpers.tpl").partial);
        // What `tpl` may evaluate: values.yaml's strings include b.yaml by its path.
        assert!(f("templates/tpl.yaml").uses_tpl);
        assert_eq!(iso.chart_tpl.includes_files.iter().collect::<Vec<_>>(), ["templates/b.yaml"]);
        assert!(!iso.chart_tpl.dynamic_include && !iso.chart_tpl.writes);
        let e = iso.tpl_effects(["{{ include (printf \"%s\" .x) . }}", "{{ $_ := set .Values \"a\" 1 }}"].into_iter());
        assert!(e.dynamic_include && e.writes);
        // A packaged subchart's files are not the chart's folders.
        let (d, c) = chart(&[("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n")]);
        assert!(TemplateIsolation::of(&c).is_ok());
        std::fs::create_dir_all(d.path().join("charts")).unwrap();
        std::fs::write(d.path().join("charts/sub-1.0.0.tgz"), "").unwrap();
        assert!(TemplateIsolation::of(&c).is_err());
    }

    #[test]
    fn volatile_templates_and_what_they_read() {
        let (_d, c) = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("templates/_helpers.tpl", "{{- define \"app.password\" -}}{{ .Values.auth.password | default (randAlphaNum 16) }}{{- end }}\n{{- define \"app.name\" -}}{{ .Release.Name }}-{{ .Values.nameSuffix }}{{- end }}\n"),
            ("templates/secret.yaml", "{{- if .Values.auth.enabled }}\nkind: Secret\nmetadata:\n  name: {{ include \"app.name\" . }}\ndata:\n  p: {{ include \"app.password\" . | b64enc }}\n{{- end }}\n"),
            ("templates/deploy.yaml", "kind: Deployment\nspec:\n  replicas: {{ .Values.replicas }}\n{{- with .Values.labels }}\n  labels: {{ toYaml . | nindent 4 }}\n{{- end }}\n"),
        ]);
        let plan = VolatilityPlan::of(&c, &[]);
        assert!(plan.unshareable.is_none());
        assert!(plan.may_be_volatile(Some("app/templates/secret.yaml")));
        assert!(!plan.may_be_volatile(Some("app/templates/deploy.yaml")));
        let reads: Vec<String> = plan.volatile["app/templates/secret.yaml"].iter().map(|p| p.join(".")).collect();
        assert_eq!(reads, ["auth.enabled", "auth.password", "nameSuffix"]);
        assert!(!plan.needs_own_second_render(&keys(json!({"replicas": 3, "labels": {"team": "a"}}))));
        assert!(plan.needs_own_second_render(&keys(json!({"auth": {"enabled": false}}))));
        assert!(plan.needs_own_second_render(&keys(json!({"auth": null}))));
        assert!(plan.needs_own_second_render(&keys(json!({"nameSuffix": "x"}))));
        // A checksum over a volatile template file is volatile, by a computed or a literal name;
        // an include of a name computed otherwise reaches every named template and file.
        for include in ["(print $.Template.BasePath \"/secret.yaml\")", "\"app/templates/secret.yaml\"", "(printf \"%s/secret.yaml\" $.Template.BasePath)"] {
            let (_d, c) = chart(&[
                ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
                ("templates/secret.yaml", "kind: Secret\ndata:\n  p: {{ .Values.auth.password | default (randAlphaNum 16) }}\n"),
                ("templates/deploy.yaml", &format!("kind: Deployment\nmetadata:\n  annotations:\n    checksum/secret: {{{{ include {include} . | sha256sum }}}}\nspec:\n  replicas: {{{{ .Values.replicas }}}}\n")),
            ]);
            let plan = VolatilityPlan::of(&c, &[]);
            let reads: Vec<String> = plan.volatile["app/templates/deploy.yaml"].iter().map(|p| p.join(".")).collect();
            assert_eq!(reads, ["auth.password", "replicas"], "{include}");
        }
    }

    #[test]
    fn the_whole_context_subcharts_and_mutations() {
        let (_d, c) = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: db\n  version: 0.1.0\n  condition: db.enabled\n  tags: [storage]\n"),
            ("templates/cm.yaml", "kind: ConfigMap\ndata:\n  all: {{ toJson . | quote }}\n  at: {{ now | quote }}\n"),
            ("charts/db/Chart.yaml", "apiVersion: v2\nname: db\nversion: 0.1.0\n"),
            ("charts/db/templates/secret.yaml", "kind: Secret\ndata:\n  p: {{ genCA .Values.cn 3 | quote }}\n  r: {{ .Values.global.region }}\n"),
        ]);
        let plan = VolatilityPlan::of(&c, &[]);
        // toJson of the whole context reads every value.
        assert_eq!(plan.volatile["app/templates/cm.yaml"], vec![Vec::<String>::new()]);
        let reads: Vec<String> = plan.volatile["app/charts/db/templates/secret.yaml"].iter().map(|p| p.join(".")).collect();
        assert_eq!(reads, ["db.cn", "db.enabled", "db.global.region", "global.region", "tags.storage"]);
        // A template writing into the values: who reads what it writes also reads what it reads.
        let (_d, c) = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("templates/a.yaml", "{{- $cfg := .Values.config }}{{- $_ := set $cfg \"k\" .Values.other }}\n"),
            ("templates/b.yaml", "x: {{ uuidv4 }}-{{ .Values.config.k }}\n"),
            ("templates/c.yaml", "y: {{ uuidv4 }}-{{ .Values.unrelated }}\n"),
        ]);
        let plan = VolatilityPlan::of(&c, &[]);
        assert!(plan.unshareable.is_none(), "{:?}", plan.unshareable);
        let reads = |t: &str| plan.volatile[t].iter().map(|p| p.join(".")).collect::<Vec<_>>();
        assert_eq!(reads("app/templates/b.yaml"), ["config", "config.k", "other"]);
        assert_eq!(reads("app/templates/c.yaml"), ["unrelated"]);
        assert!(plan.needs_own_second_render(&keys(json!({"other": 1}))));
        // A write into whatever a helper was handed may be the values: it reaches every reader.
        let (_d, c) = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("templates/_h.tpl", "{{- define \"h\" }}{{- $_ := set . \"k\" $.Values.z }}{{- end }}\n"),
            ("templates/a.yaml", "{{- include \"h\" .Values.config }}\n"),
            ("templates/c.yaml", "y: {{ uuidv4 }}-{{ .Values.unrelated }}\n"),
        ]);
        let plan = VolatilityPlan::of(&c, &[]);
        assert_eq!(plan.volatile["app/templates/c.yaml"].iter().map(|p| p.join(".")).collect::<Vec<_>>(), ["config", "unrelated", "z"]);
        // The context bound to a variable reads nothing by itself; its fields and bare uses do.
        let reads = volatile_reads(&[
            ("templates/a.yaml", "{{- $root := . }}{{ with .Values.x }}{{ $root.Values.y }}{{ include \"h\" $root }}{{ uuidv4 }}{{ end }}\n"),
            ("templates/b.yaml", "{{- $top := . }}{{ toJson $top }}{{ now }}\n"),
        ]);
        assert_eq!(reads["app/templates/a.yaml"], ["x", "y"]);
        assert_eq!(reads["app/templates/b.yaml"], [""]);
        // Literal keys of index/get; a helper dumping a field of what it was handed reads all;
        // a volatile template evaluating `tpl` reads all.
        let reads = volatile_reads(&[
            ("templates/_h.tpl", "{{- define \"dump\" }}{{ toYaml .ctx }}{{ .name }}{{ include \"app.name\" .ctx }}{{ end }}\n"),
            ("templates/a.yaml", "{{ index .Values \"grafana.ini\" \"paths\" }}{{ get .Values \"b\" }}{{ now }}\n"),
            ("templates/b.yaml", "{{ include \"dump\" (dict \"ctx\" $ \"name\" \"x\") }}{{ now }}\n"),
            ("templates/c.yaml", "{{ tpl .Values.extra $ }}{{ now }}\n"),
        ]);
        assert_eq!(reads["app/templates/a.yaml"], ["b", "grafana.ini.paths"]);
        assert_eq!(reads["app/templates/b.yaml"], [""]);
        assert_eq!(reads["app/templates/c.yaml"], ["", "extra"]);
        // A local dict written by `set` is not the values; `tpl` is deterministic while no
        // random function is named where it could evaluate.
        let files = [
            ("Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("templates/a.yaml", "{{- $d := dict \"a\" 1 }}{{- $_ := set $d \"k\" .Values.other }}{{ tpl .Values.extra $ }}\n"),
            ("templates/b.yaml", "x: {{ uuidv4 }}-{{ .Values.k }}\n"),
        ];
        let (_d, c) = chart(&files);
        let plan = VolatilityPlan::of(&c, &[]);
        assert!(!plan.may_be_volatile(Some("app/templates/a.yaml")));
        assert_eq!(plan.volatile["app/templates/b.yaml"], vec![vec!["k".to_string()]]);
        assert!(VolatilityPlan::of(&c, &["extra: '{{ randAlpha 3 }}'".into()]).may_be_volatile(Some("app/templates/a.yaml")));
        let (_d, c) = chart(&[files[0], files[1], files[2], ("values.yaml", "extra: '{{ now }}'\n")]);
        assert!(VolatilityPlan::of(&c, &[]).may_be_volatile(Some("app/templates/a.yaml")));
    }

    #[test]
    fn actions_skip_comments_and_strings() {
        assert_eq!(actions("a {{- /* {{ now }} */ -}} b {{ printf \"}}\" .Values.x -}} c"), ["printf \"}}\" .Values.x"]);
        assert_eq!(tokens("$x := include \"n\" (dict \"ctx\" $) | indent -4"), vec![
            Tok::Word("$x".into()), Tok::Assign, Tok::Word("include".into()), Tok::Str("n".into()), Tok::Open, Tok::Word("dict".into()), Tok::Str("ctx".into()), Tok::Word("$".into()), Tok::Close, Tok::Pipe, Tok::Word("indent".into()), Tok::Word("-4".into()),
        ]);
    }
}
