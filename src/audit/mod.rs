//! Template audit: a static reader of a chart's Go templates (and its subcharts') that finds
//! which values paths the templates read, and from that the chart's dead contract (values keys
//! no template reads), its undocumented inputs (keys templates read that values.yaml does not
//! declare) and references that render as empty/`<nil>` at the defaults.
//!
//! Precision comes before recall: whatever the reader cannot pin down either counts as read
//! (`toYaml .Values.x` reads the whole subtree, a computed `index` key reads any item) or is
//! listed as unresolved with its argument counted as read (`tpl` of unseen text, an `include`
//! with a computed name); a key is never reported unused because the reader lost track of it. `referenced_paths` is shared with `test`, which only varies keys
//! the templates read.

pub(crate) mod lexer;
pub(crate) mod parser;
mod reader;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chart::Chart;
use crate::chart::values::pointer_segment;
use reader::{ChartInfo, Reader, TemplateFile};

/// One step of a values path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    /// Any key of a map or item of a list (`range` items, `index` with a number).
    Any,
}

/// Printed form of a values path, the same in every output: `image.tag`, `ports.*.name`; a key
/// a dot would make ambiguous (it contains `.`, brackets or quotes, is empty or is `*`) is written
/// as a quoted index: `configs.params["server.insecure"]`.
pub fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for s in path {
        let word = match s {
            Seg::Key(k) if k.is_empty() || k == "*" || k.contains(['.', '[', ']', '"']) => {
                out.push_str(&format!("[{}]", serde_json::Value::String(k.clone())));
                continue;
            }
            Seg::Key(k) => k.as_str(),
            Seg::Any => "*",
        };
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(word);
    }
    out
}

/// One place a template reads a values path.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// Index of the chart whose templates' `.Values` it reads before mapping (0 = the audited
    /// chart); `referenced_paths` maps every path into the audited chart's values.
    pub chart: usize,
    /// The path read; in `ReferencedPaths` relative to the audited chart's values (subchart reads
    /// sit under the subchart's key, `global` stays at the top).
    pub path: Vec<Seg>,
    /// The whole subtree is read (printed, passed to a function), not just walked into or tested.
    pub whole: bool,
    /// Printed or turned into text (`toYaml`, `quote`, ...).
    pub renders: bool,
    /// The reader knows which chart's values this is; unresolved reads count as read but are
    /// never reported as undeclared.
    pub resolved: bool,
    /// Template file (relative to the audited chart) and line.
    pub file: String,
    pub line: usize,
    /// Read through `default`, `coalesce` or `dig` with a fallback.
    pub defaulted: bool,
    /// Read through `required`.
    pub required: bool,
    /// Inside an `if`/`with`/`range` that tests this exact path.
    pub guarded: bool,
    /// Read by a library chart's helper in a branch of its own that the reader cannot prove runs
    /// for this caller (bitnami common's `_warnings.tpl` probing `hasKey $section "enabled"`): the
    /// key may be read, which makes it neither unused nor an undeclared input of the chart.
    pub maybe: bool,
}

impl Read {
    /// A read the reader assumes rather than sees (Helm's own condition reads, a whole chart
    /// whose template cannot be parsed, a dependency missing from charts/).
    fn assumed(chart: usize, path: Vec<Seg>, whole: bool, file: String) -> Read {
        Read {
            chart,
            path,
            whole,
            renders: false,
            resolved: !whole,
            file,
            line: 1,
            defaulted: true,
            required: false,
            guarded: true,
            maybe: false,
        }
    }
}

/// Something the reader could not follow, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unresolved {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Which values paths a chart's templates read.
#[derive(Debug, Clone, Default)]
pub struct ReferencedPaths {
    /// Every read, with paths relative to the audited chart's values.
    pub reads: Vec<Read>,
    /// What the reader could not follow (deduplicated).
    pub unresolved: Vec<Unresolved>,
    trie: ReadTrie,
    /// The reads the reader saw (not those only text it cannot see may make: `tpl` of a file).
    seen: ReadTrie,
    /// What each template file reads (its helpers' reads and Helm's dependency conditions
    /// counted), by its path as helm names it without the chart name: `templates/a.yaml`,
    /// `charts/<dependency name or alias>/templates/b.yaml` (helm's pkg/chart/v2/chart.go
    /// `ChartFullPath`: parent path, `/charts/`, the chart's name, which an alias replaces).
    by_template: HashMap<String, ReadTrie>,
}

/// How much of a values path the templates read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Coverage {
    /// No template reads it.
    None,
    /// The key itself or some keys below it are read.
    Partial,
    /// The key or an ancestor is read as a whole subtree: everything below counts as read.
    Whole,
}

impl ReferencedPaths {
    /// How much of `path` (relative to the audited chart's values) templates read.
    pub fn coverage(&self, path: &[&str]) -> Coverage {
        self.trie.coverage(path)
    }

    /// Same as `coverage` for a JSON pointer (`/image/tag`; list indices match `range`/`index` reads).
    pub fn coverage_of_pointer(&self, pointer: &str) -> Coverage {
        let segs: Vec<String> =
            pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
        let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
        self.coverage(&refs)
    }

    /// Dotted paths templates read (a `range`/`index` item step ends the path: the whole list or
    /// map counts), for `test`, which varies only keys templates read. None when some template
    /// reads `.Values` as a whole (then every key matters).
    pub fn dotted_paths(&self) -> Option<std::collections::BTreeSet<String>> {
        let mut out = std::collections::BTreeSet::new();
        for r in &self.reads {
            let known: Vec<Seg> = r.path.iter().take_while(|s| **s != Seg::Any).cloned().collect();
            if known.is_empty() {
                return None;
            }
            out.insert(dotted(&known));
        }
        Some(out)
    }

    /// Does some template read the value at this path (or a key under it, or a subtree holding it)?
    pub fn is_read(&self, path: &[&str]) -> bool {
        self.coverage(path) != Coverage::None
    }

    /// How much of `path` one template file reads, helpers it includes counted; None for a file
    /// the reader has not read. `template` is helm's name for it (`# Source:`), with or without
    /// the leading chart name: `mychart/templates/a.yaml` or `templates/a.yaml`.
    pub fn template_coverage(&self, template: &str, path: &[&str]) -> Option<Coverage> {
        let trie = self.by_template.get(template).or_else(|| self.by_template.get(template.split_once('/')?.1))?;
        Some(trie.coverage(path))
    }
}

#[derive(Debug, Clone, Default)]
struct ReadTrie {
    whole: bool,
    children: HashMap<Seg, ReadTrie>,
}

impl ReadTrie {
    fn insert(&mut self, path: &[Seg], whole: bool) {
        let mut node = self;
        for s in path {
            if node.whole {
                return;
            }
            node = node.children.entry(s.clone()).or_default();
        }
        node.whole |= whole;
    }

    fn coverage(&self, path: &[&str]) -> Coverage {
        if self.whole {
            return Coverage::Whole;
        }
        let Some((first, rest)) = path.split_first() else { return Coverage::Partial };
        let by_key = self.children.get(&Seg::Key(first.to_string())).map(|c| c.coverage(rest));
        let by_any = self.children.get(&Seg::Any).map(|c| c.coverage(rest));
        by_key.into_iter().chain(by_any).max().unwrap_or(Coverage::None)
    }
}

/// A chart of the tree, flattened.
struct TreeChart {
    /// Values key path of this chart inside the audited chart's values.
    key_path: Vec<String>,
    /// Display prefix for its files (`""`, `charts/common/`).
    prefix: String,
    dir: std::path::PathBuf,
    info: ChartInfo,
    /// `condition:` paths of its dependencies (relative to this chart's values).
    conditions: Vec<Vec<Seg>>,
    /// Values keys of dependencies listed in Chart.yaml but missing from charts/.
    missing: Vec<String>,
}

fn flatten(chart: &Chart, key_path: Vec<String>, prefix: String, out: &mut Vec<TreeChart>) -> usize {
    let id = out.len();
    let mut conditions: Vec<Vec<Seg>> = chart
        .subcharts
        .iter()
        .filter_map(|s| s.condition.as_deref())
        .flat_map(|c| c.split(','))
        .map(|c| c.trim().split('.').map(|k| Seg::Key(k.to_string())).collect())
        .collect();
    // `tags:` of dependencies are read by Helm as `tags.<tag>`.
    for tag in chart.meta.dependencies.iter().flat_map(|d| &d.tags) {
        conditions.push(vec![Seg::Key("tags".into()), Seg::Key(tag.clone())]);
    }
    let missing = chart
        .meta
        .dependencies
        .iter()
        .map(|d| d.alias.clone().unwrap_or_else(|| d.name.clone()))
        .filter(|k| !chart.subcharts.iter().any(|s| &s.key == k))
        .collect();
    out.push(TreeChart {
        missing,
        key_path: key_path.clone(),
        prefix: prefix.clone(),
        dir: chart.dir.clone(),
        info: ChartInfo { values: chart.values.value.clone(), subcharts: HashMap::new(), library: chart.meta.chart_type.as_deref() == Some("library") },
        conditions,
    });
    for sub in &chart.subcharts {
        let mut kp = key_path.clone();
        kp.push(sub.key.clone());
        let name = sub.chart.source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| sub.key.clone());
        let child = flatten(&sub.chart, kp, format!("{prefix}charts/{name}/"), out);
        out[id].info.subcharts.insert(sub.key.clone(), child);
    }
    id
}

fn template_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            template_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Read every template of the chart and its subcharts; return the values paths they read,
/// relative to the chart's own values.
pub fn referenced_paths(chart: &Chart) -> Result<ReferencedPaths> {
    let mut tree = Vec::new();
    flatten(chart, vec![], String::new(), &mut tree);
    let mut files = Vec::new();
    // helm's name of each file in `files` (without the chart name).
    let mut helm_names = Vec::new();
    let mut unreadable: Vec<(usize, Unresolved)> = Vec::new();
    for (id, tc) in tree.iter().enumerate() {
        let mut paths = Vec::new();
        template_files(&tc.dir.join("templates"), &mut paths)?;
        for p in paths {
            let rel = p.strip_prefix(&tc.dir).unwrap_or(&p).to_string_lossy().into_owned();
            let display: Rc<str> = format!("{}{}", tc.prefix, rel).into();
            let bytes = std::fs::read(&p).with_context(|| format!("cannot read template {}", p.display()))?;
            let Ok(text) = String::from_utf8(bytes) else { continue };
            match parser::parse(&text) {
                Ok(parsed) => {
                    let nested: String = tc.key_path.iter().map(|k| format!("charts/{k}/")).collect();
                    helm_names.push(format!("{nested}{}", rel.replace('\\', "/")));
                    files.push(TemplateFile { chart: id, display, parsed });
                }
                Err(e) => unreadable.push((
                    id,
                    Unresolved {
                        file: display.to_string(),
                        line: 1,
                        reason: format!("cannot parse the template ({e:#}); every value of its chart counts as read"),
                    },
                )),
            }
        }
    }
    let infos: Vec<ChartInfo> = tree
        .iter()
        .map(|t| ChartInfo { values: t.info.values.clone(), subcharts: t.info.subcharts.clone(), library: t.info.library })
        .collect();
    let mut reader = Reader::new(&infos, &files);
    for f in &files {
        reader.read_file(f);
    }
    if chart.meta.chart_type.as_deref() == Some("library") {
        for f in files.iter().filter(|f| f.chart == 0) {
            reader.read_defines(f);
        }
    }
    let by_file = std::mem::take(&mut reader.by_file);
    let mut reads = std::mem::take(&mut reader.reads);
    let mut unresolved = std::mem::take(&mut reader.unresolved);
    // Reads from here on are Helm's and the reader's assumptions, not any one template's.
    let first_assumed = reads.len();
    for (id, u) in unreadable {
        reads.push(Read::assumed(id, vec![], true, u.file.clone()));
        unresolved.push(u);
    }
    // Helm itself reads dependency conditions; a dependency missing from charts/ reads its
    // whole values key as far as anyone can tell.
    for (id, tc) in tree.iter().enumerate() {
        for key in &tc.missing {
            let file = format!("{}Chart.yaml", tc.prefix);
            unresolved.push(Unresolved {
                file: file.clone(),
                line: 1,
                reason: format!(
                    "dependency \"{key}\" is not in charts/ (run `helm dependency build`); its values key counts as read"
                ),
            });
            reads.push(Read::assumed(id, vec![Seg::Key(key.clone())], true, file));
        }
        for c in &tc.conditions {
            reads.push(Read::assumed(id, c.clone(), false, format!("{}Chart.yaml", tc.prefix)));
        }
    }
    // A subchart's path sits under its key in the audited chart's values; `global` stays on top.
    let to_audited = |chart: usize, path: &[Seg]| -> Vec<Seg> {
        let global = matches!(path.first(), Some(Seg::Key(k)) if k == "global");
        if chart == 0 || global {
            return path.to_vec();
        }
        tree[chart].key_path.iter().map(|k| Seg::Key(k.clone())).chain(path.iter().cloned()).collect()
    };
    for r in &mut reads {
        r.path = to_audited(r.chart, &r.path);
    }
    unresolved.sort();
    unresolved.dedup();
    // Per template: its own reads, and the reads every template shares (dependency conditions,
    // unparsable templates, missing dependencies).
    let mut shared = ReadTrie::default();
    for r in &reads[first_assumed..] {
        shared.insert(&r.path, r.whole);
    }
    let mut by_template = HashMap::new();
    for (name, footprint) in helm_names.into_iter().zip(by_file) {
        let mut t = shared.clone();
        for (chart, path, whole) in &footprint {
            t.insert(&to_audited(*chart, path), *whole);
        }
        by_template.insert(name, t);
    }
    let mut trie = ReadTrie::default();
    let mut seen = ReadTrie::default();
    for r in &reads {
        trie.insert(&r.path, r.whole);
        if !(r.maybe && !r.resolved) {
            seen.insert(&r.path, r.whole);
        }
    }
    Ok(ReferencedPaths { reads, unresolved, trie, seen, by_template })
}

/// A values key no template reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnusedKey {
    /// Dotted key path (`image.pullSecrets`).
    pub key: String,
    /// values.yaml and the key's line there.
    pub file: String,
    pub line: usize,
}

/// A values path templates read, with the first place it is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyReference {
    /// Dotted key path; `*` stands for any key or list item (`range`).
    pub key: String,
    /// Template file (relative to the chart) and line of the first read.
    pub file: String,
    pub line: usize,
    /// How many places read it.
    pub occurrences: usize,
    /// Every read goes through `default`, `coalesce`, `dig` or `required`.
    pub has_default: bool,
}

/// Counts of the report's lists.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditSummary {
    pub unused: usize,
    pub undeclared: usize,
    pub renders_empty: usize,
    pub maybe_read: usize,
    pub unresolved: usize,
}

/// `chartproof audit` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditReport {
    /// Chart name from Chart.yaml.
    pub chart: String,
    pub values_file: String,
    pub summary: AuditSummary,
    /// Dead contract: values.yaml keys no template (of the chart or its subcharts) reads.
    pub unused: Vec<UnusedKey>,
    /// Undocumented inputs: keys the chart's templates read that values.yaml does not declare.
    pub undeclared: Vec<KeyReference>,
    /// Keys printed with no `default`/`required`/guard whose default is missing or null: they
    /// render as empty (or `<nil>`/`null`) at the defaults.
    pub renders_empty: Vec<KeyReference>,
    /// Keys missing from values.yaml that only library chart helpers read, in branches the reader
    /// cannot prove run for this chart (a probe such as `hasKey $section "enabled"`): maybe read,
    /// not undeclared inputs of the chart (informational).
    pub maybe_read: Vec<KeyReference>,
    /// What the reader could not follow (never a reason to call a key unused).
    pub unresolved: Vec<Unresolved>,
    /// Unused or undeclared keys the `auditAllow` list of `.chartproof.yaml` accepts (not findings).
    #[serde(default)]
    pub allowed: Vec<AllowedKey>,
}

/// A key the audit allow-list accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AllowedKey {
    pub key: String,
    /// `unused` or `undeclared`: what it would have been reported as.
    pub was: String,
    pub file: String,
    pub line: usize,
    /// The reason the allow-list gives.
    pub reason: String,
}

impl AuditReport {
    /// Move the unused and undeclared keys `config.auditAllow` accepts to `allowed`.
    pub fn apply_allow_list(&mut self, config: &crate::rules::Config) {
        let mut allowed = Vec::new();
        self.unused.retain(|u| match config.audit_allowed(&u.key) {
            Some(a) => {
                allowed.push(AllowedKey { key: u.key.clone(), was: "unused".into(), file: u.file.clone(), line: u.line, reason: a.reason.clone() });
                false
            }
            None => true,
        });
        self.undeclared.retain(|k| match config.audit_allowed(&k.key) {
            Some(a) => {
                allowed.push(AllowedKey { key: k.key.clone(), was: "undeclared".into(), file: k.file.clone(), line: k.line, reason: a.reason.clone() });
                false
            }
            None => true,
        });
        self.summary.unused = self.unused.len();
        self.summary.undeclared = self.undeclared.len();
        self.allowed.extend(allowed);
    }

    /// Dead or undeclared keys found (the command exits 1).
    pub fn has_findings(&self) -> bool {
        !self.unused.is_empty() || !self.undeclared.is_empty()
    }
}

/// Audit a chart: dead keys, undeclared keys, empty renders, unresolved references.
pub fn audit(chart: &Chart) -> Result<AuditReport> {
    let refs = referenced_paths(chart)?;
    // Keys are declared by the chart's values.yaml or, under a subchart's key, by the subchart's.
    let (effective, unknown_keys) = effective_defaults(chart);
    let values = &effective;
    let values_file = chart
        .values
        .file
        .strip_prefix(&chart.dir)
        .unwrap_or(&chart.values.file)
        .to_string_lossy()
        .into_owned();

    let mut unused = Vec::new();
    let mut unseen = Vec::new();
    if let Value::Object(m) = &chart.values.value {
        collect_unused(m, &mut Vec::new(), &refs, chart, &values_file, &mut unused, &mut unseen);
    }

    let mut undeclared: BTreeMap<String, KeyReference> = BTreeMap::new();
    let mut maybe_read: BTreeMap<String, KeyReference> = BTreeMap::new();
    // Keys only text the reader cannot see may read (`tpl (.Files.Get …) .`): maybe read.
    for u in unseen {
        let at = refs.reads.iter().find(|r| r.maybe && !r.resolved).map(|r| (r.file.clone(), r.line)).unwrap_or_default();
        maybe_read.insert(u.key.clone(), KeyReference { key: u.key, file: at.0, line: at.1, occurrences: 1, has_default: false });
    }
    let mut renders_empty: BTreeMap<String, KeyReference> = BTreeMap::new();
    let mut own: Vec<&Read> = refs.reads.iter().filter(|r| r.chart == 0 && r.resolved && !r.path.is_empty()).collect();
    own.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    for r in own {
        if matches!(r.path.first(), Some(Seg::Key(k)) if unknown_keys.contains(k)) {
            continue;
        }
        let key = dotted(&r.path);
        let safe = r.defaulted || r.required;
        let add = |map: &mut BTreeMap<String, KeyReference>| {
            map.entry(key.clone())
                .and_modify(|k| {
                    k.occurrences += 1;
                    k.has_default &= safe;
                })
                .or_insert_with(|| KeyReference {
                    key: key.clone(),
                    file: r.file.clone(),
                    line: r.line,
                    occurrences: 1,
                    has_default: safe,
                });
        };
        if !declared(values, &r.path) {
            add(if r.maybe { &mut maybe_read } else { &mut undeclared });
        }
        if r.renders && !safe && !r.guarded && !r.maybe && missing_or_null(values, &r.path) {
            add(&mut renders_empty);
        }
    }
    // A key some template surely reads is undeclared, however else it is read.
    maybe_read.retain(|k, _| !undeclared.contains_key(k));
    // `args.*` says nothing more when `args` itself is listed.
    for map in [&mut undeclared, &mut maybe_read, &mut renders_empty] {
        let listed: Vec<String> = map.keys().cloned().collect();
        map.retain(|k, _| !k.find(".*").is_some_and(|i| listed.iter().any(|l| l == &k[..i])));
    }
    let report = AuditReport {
        chart: chart.meta.name.clone(),
        values_file,
        summary: AuditSummary {
            unused: unused.len(),
            undeclared: undeclared.len(),
            renders_empty: renders_empty.len(),
            maybe_read: maybe_read.len(),
            unresolved: refs.unresolved.len(),
        },
        unused,
        undeclared: undeclared.into_values().collect(),
        renders_empty: renders_empty.into_values().collect(),
        maybe_read: maybe_read.into_values().collect(),
        unresolved: refs.unresolved,
        allowed: Vec::new(),
    };
    Ok(report)
}

fn collect_unused(
    map: &serde_json::Map<String, Value>,
    prefix: &mut Vec<String>,
    refs: &ReferencedPaths,
    chart: &Chart,
    values_file: &str,
    out: &mut Vec<UnusedKey>,
    unseen: &mut Vec<UnusedKey>,
) {
    for (k, child) in map {
        prefix.push(k.clone());
        let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
        let conventional_empty_global = prefix.len() == 1 && k == "global" && child.as_object().is_some_and(|m| m.is_empty());
        let pointer: String = prefix.iter().map(|s| format!("/{}", pointer_segment(s))).collect();
        let line = chart.values.positions.get(&pointer).map(|p| p.line).unwrap_or(0);
        let key = dotted(&prefix.iter().map(|k| Seg::Key(k.clone())).collect::<Vec<_>>());
        match (refs.coverage(&path), refs.seen.coverage(&path)) {
            (Coverage::None, _) if !conventional_empty_global => out.push(UnusedKey { key, file: values_file.to_string(), line }),
            (Coverage::None, _) => {}
            // Read only by text the reader cannot see: maybe read, not unused.
            (_, Coverage::None) if !conventional_empty_global => unseen.push(UnusedKey { key, file: values_file.to_string(), line }),
            (_, Coverage::Whole) => {}
            _ => {
                if let Value::Object(m) = child {
                    collect_unused(m, prefix, refs, chart, values_file, out, unseen);
                }
            }
        }
        prefix.pop();
    }
}

/// The chart's default values with each subchart's defaults under its key (the parent's values
/// win), and the keys of dependencies missing from charts/ (whose defaults are unknown).
fn effective_defaults(chart: &Chart) -> (Value, Vec<String>) {
    let mut values = chart.values.value.clone();
    let mut unknown: Vec<String> = chart.meta.dependencies.iter().map(|d| d.alias.clone().unwrap_or_else(|| d.name.clone())).collect();
    for sub in &chart.subcharts {
        unknown.retain(|k| k != &sub.key);
        let (mut merged, _) = effective_defaults(&sub.chart);
        if let Value::Object(m) = &mut merged {
            m.remove("global");
        }
        if let Some(parent) = values.get(&sub.key) {
            crate::chart::merge::coalesce(&mut merged, parent);
        }
        if let Value::Object(m) = &mut values {
            m.insert(sub.key.clone(), merged);
        }
    }
    (values, unknown)
}

/// values.yaml declares the path, or a free-form parent of it (an empty map, null, a list).
fn declared(v: &Value, path: &[Seg]) -> bool {
    let Some((first, rest)) = path.split_first() else { return true };
    match (v, first) {
        (Value::Object(m), Seg::Key(k)) => match m.get(k) {
            Some(c) => declared(c, rest),
            None => m.is_empty(),
        },
        (Value::Object(m), Seg::Any) => m.is_empty() || m.values().any(|c| declared(c, rest)),
        _ => true,
    }
}

/// The default at the path is missing or null. Paths through `*` are never judged: at the
/// defaults a `range` over a missing list does not run at all.
fn missing_or_null(v: &Value, path: &[Seg]) -> bool {
    if path.contains(&Seg::Any) {
        return false;
    }
    match path.split_first() {
        None => v.is_null(),
        Some((Seg::Any, _)) => false,
        Some((Seg::Key(k), rest)) => match v {
            Value::Object(m) => match m.get(k) {
                Some(c) => missing_or_null(c, rest),
                None => true,
            },
            Value::Null => true,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> AuditReport {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures").join(name);
        audit(&Chart::load(&dir).unwrap()).unwrap()
    }

    fn keys<T>(list: &[T], key: impl Fn(&T) -> String) -> Vec<String> {
        list.iter().map(key).collect()
    }

    /// A chart in a temporary directory with one template.
    fn chart_with(values: &str, template: &str) -> (tempfile::TempDir, Chart) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Chart.yaml"), "apiVersion: v2\nname: t\nversion: 0.1.0\n").unwrap();
        std::fs::write(tmp.path().join("values.yaml"), values).unwrap();
        std::fs::create_dir(tmp.path().join("templates")).unwrap();
        std::fs::write(tmp.path().join("templates/t.yaml"), template).unwrap();
        let chart = Chart::load(tmp.path()).unwrap();
        (tmp, chart)
    }

    #[test]
    fn scopes_fixture_lists_dead_undeclared_and_empty_keys() {
        let r = fixture("audit-scopes");
        assert_eq!(keys(&r.unused, |u| format!("{}:{}", u.key, u.line)), ["image.unusedPullPolicy:6", "deadMap:33"]);
        assert_eq!(
            keys(&r.undeclared, |k| format!("{}@{}:{} default={}", k.key, k.file, k.line, k.has_default)),
            ["undeclaredKey@templates/deployment.yaml:33 default=false", "undeclaredWithDefault@templates/deployment.yaml:37 default=true"]
        );
        assert_eq!(keys(&r.renders_empty, |k| k.key.clone()), ["nullKey", "undeclaredKey"]);
        assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
        assert!(r.has_findings());
        // `index .Values.dynamic .Release.Name`: any item of the map may be read.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures/audit-scopes");
        let refs = referenced_paths(&Chart::load(&dir).unwrap()).unwrap();
        assert_eq!(refs.coverage(&["dynamic", "a"]), Coverage::Whole);
    }

    #[test]
    fn helpers_fixture_follows_includes_and_never_guesses_unused() {
        let r = fixture("audit-helpers");
        assert_eq!(keys(&r.unused, |u| u.key.clone()), ["cfg.unusedInCfg", "neverCalled"]);
        assert!(r.undeclared.is_empty(), "{:?}", r.undeclared);
        let reasons = keys(&r.unresolved, |u| format!("{}:{} {}", u.file, u.line, u.reason));
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].starts_with("templates/_helpers.tpl:27 .Values.helperOnly.used"), "{reasons:?}");
        assert!(reasons[1].starts_with("templates/configmap.yaml:9 include with a computed template name"), "{reasons:?}");
    }

    #[test]
    fn subchart_fixture_maps_child_reads_under_its_key_and_global() {
        let r = fixture("audit-subchart");
        assert_eq!(keys(&r.unused, |u| u.key.clone()), ["global.unusedGlobal", "child.typo"]);
        assert!(r.undeclared.is_empty(), "{:?}", r.undeclared);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures/audit-subchart");
        let refs = referenced_paths(&Chart::load(&dir).unwrap()).unwrap();
        assert_eq!(refs.coverage(&["child", "x"]), Coverage::Whole);
        assert_eq!(refs.coverage(&["child", "enabled"]), Coverage::Partial, "condition read by helm");
        assert_eq!(refs.coverage(&["child", "typo"]), Coverage::None);
        assert_eq!(refs.coverage(&["global", "region"]), Coverage::Whole);
        assert!(refs.reads.iter().any(|r| r.file == "charts/child/templates/cm.yaml" && dotted(&r.path) == "child.fromParent"));
    }

    #[test]
    fn template_coverage_counts_a_shared_helper_for_every_file_that_includes_it() {
        // A chart with templates/t.yaml and templates/u.yaml, and what each reads.
        let two_files = |values: &str, t: &str, u: &str| {
            let (tmp, _) = chart_with(values, t);
            std::fs::write(tmp.path().join("templates/u.yaml"), u).unwrap();
            referenced_paths(&Chart::load(tmp.path()).unwrap()).unwrap()
        };
        let refs = two_files(
            "name: x\na: 1\nb: 2\nshared: {deep: 1}\n",
            "{{ define \"h\" }}{{ .Values.name }}{{ include \"inner\" . }}{{ end }}{{ define \"inner\" }}{{ toYaml .Values.shared }}{{ end }}a: {{ include \"h\" . }}{{ .Values.a }}",
            "b: {{ include \"h\" . }}{{ .Values.b }}",
        );
        for file in ["t/templates/t.yaml", "templates/u.yaml"] {
            // The helper (and the one it includes) was read once, for t.yaml: it counts for both.
            assert_eq!(refs.template_coverage(file, &["name"]), Some(Coverage::Whole), "{file}");
            assert_eq!(refs.template_coverage(file, &["shared", "deep"]), Some(Coverage::Whole), "{file}");
        }
        assert_eq!(refs.template_coverage("templates/t.yaml", &["a"]), Some(Coverage::Whole));
        assert_eq!(refs.template_coverage("templates/t.yaml", &["b"]), Some(Coverage::None));
        assert_eq!(refs.template_coverage("templates/u.yaml", &["a"]), Some(Coverage::None));
        assert_eq!(refs.template_coverage("templates/missing.yaml", &["a"]), None);

        // A values string rendered by `tpl` in two files: what it reads counts for both.
        let refs = two_files("greeting: \"hi {{ .Values.who }}\"\nwho: me\nother: 1\n", "a: {{ tpl .Values.greeting . }}", "b: {{ tpl .Values.greeting . }}{{ .Values.other }}");
        for file in ["templates/t.yaml", "templates/u.yaml"] {
            assert_eq!(refs.template_coverage(file, &["who"]), Some(Coverage::Whole), "{file}");
            assert_eq!(refs.template_coverage(file, &["greeting"]), Some(Coverage::Whole), "{file}");
        }
        assert_eq!(refs.template_coverage("templates/t.yaml", &["other"]), Some(Coverage::None));

        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/fixtures/audit-subchart");
        let refs = referenced_paths(&Chart::load(&dir).unwrap()).unwrap();
        let child = "audit-subchart/charts/child/templates/cm.yaml";
        assert_eq!(refs.template_coverage(child, &["child", "x"]), Some(Coverage::Whole));
        assert_eq!(refs.template_coverage(child, &["global", "region"]), Some(Coverage::Whole));
        assert_eq!(refs.template_coverage(child, &["child", "enabled"]), Some(Coverage::Partial), "helm reads the condition");
        assert_eq!(refs.template_coverage(child, &["own", "used"]), Some(Coverage::None));
        assert_eq!(refs.template_coverage("templates/cm.yaml", &["own", "used"]), Some(Coverage::Whole));
        assert_eq!(refs.template_coverage("templates/cm.yaml", &["child", "x"]), Some(Coverage::None));
    }

    #[test]
    fn dotted_paths_for_test_stop_at_list_items_and_give_up_on_whole_values() {
        let (_t, c) = chart_with("a: {b: 1}\nl: [{n: 1}]\n", "{{ .Values.a.b }}{{ range .Values.l }}{{ .n }}{{ end }}");
        let paths = referenced_paths(&c).unwrap().dotted_paths().unwrap();
        assert_eq!(paths.into_iter().collect::<Vec<_>>(), ["a.b", "l"]);
        let (_t, c) = chart_with("a: 1\n", "{{ toYaml .Values }}");
        assert_eq!(referenced_paths(&c).unwrap().dotted_paths(), None);
    }

    #[test]
    fn whole_subtree_reads_cover_everything_below() {
        let (_t, c) = chart_with("a:\n  b:\n    c: 1\nd:\n  e: 1\n  f: 2\n", "{{ toYaml .Values.a }}{{ .Values.d.e }}");
        let refs = referenced_paths(&c).unwrap();
        assert_eq!(refs.coverage(&["a", "b", "c"]), Coverage::Whole);
        assert_eq!(refs.coverage(&["d"]), Coverage::Partial);
        assert_eq!(refs.coverage_of_pointer("/d/f"), Coverage::None);
        assert_eq!(keys(&audit(&c).unwrap().unused, |u| u.key.clone()), ["d.f"]);
    }

    #[test]
    fn variables_with_and_range_rebind_dot_and_keep_root() {
        let values = "a:\n  b: 1\n  c: 2\nl:\n  - n: 1\nm:\n  k1: {v: 1}\nr: 1\n";
        let tpl = "{{ $x := .Values.a }}{{ $x.b }}{{ with .Values.l }}{{ range . }}{{ .n }}{{ $.Values.r }}{{ end }}{{ end }}\
                   {{ range $k, $v := .Values.m }}{{ $v.v }}{{ end }}";
        let (_t, c) = chart_with(values, tpl);
        let refs = referenced_paths(&c).unwrap();
        assert_eq!(refs.coverage(&["a", "b"]), Coverage::Whole);
        assert_eq!(refs.coverage(&["a", "c"]), Coverage::None);
        assert_eq!(refs.coverage(&["r"]), Coverage::Whole);
        assert_eq!(refs.coverage(&["m", "k1", "v"]), Coverage::Whole);
        assert!(refs.reads.iter().any(|r| dotted(&r.path) == "l.*.n"));
        assert!(refs.unresolved.is_empty(), "{:?}", refs.unresolved);
    }

    #[test]
    fn literal_lists_are_unrolled_for_exact_index_keys() {
        let values = "x:\n  p: 1\n  q: 2\n  unused: 3\n";
        let tpl = r#"{{ range list "p" "q" }}{{ index $.Values.x . }}{{ end }}{{ $o := $.Values }}{{ range splitList "." "x.p" }}{{ $o = index $o . }}{{ end }}{{ $o }}"#;
        let (_t, c) = chart_with(values, tpl);
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.unused, |u| u.key.clone()), ["x.unused"]);
        assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    }

    #[test]
    fn computed_keys_and_unknown_contexts_count_as_read() {
        let values = "m:\n  a: 1\nnn:\n  b: 1\nk: a\np:\n  px: {port: 1, name: a}\n  py: {port: 2, name: b}\n";
        let tpl = "{{ index .Values.m .Values.k }}{{ $u := lookup \"v1\" \"Pod\" \"\" \"\" }}{{ $u.Values.nn.b }}\
                   {{ range $k, $v := .Values.m }}{{ (index $.Values.p $k).port }}{{ end }}";
        let (_t, c) = chart_with(values, tpl);
        let r = audit(&c).unwrap();
        // Computed keys read any item (`p.*.port`), but only what is read of it: `name` stays unused.
        assert_eq!(keys(&r.unused, |u| u.key.clone()), ["p.px.name", "p.py.name"]);
        assert_eq!(r.unresolved.len(), 1, "{:?}", r.unresolved);
        assert!(r.unresolved[0].reason.contains(".Values.nn.b"), "{:?}", r.unresolved);
    }

    #[test]
    fn guards_defaults_and_required_silence_empty_renders() {
        let values = "a: null\n";
        let tpl = "{{ if .Values.a }}{{ .Values.a }}{{ end }}{{ .Values.b | default 1 }}{{ required \"c\" .Values.c }}\
                   {{ with .Values.d }}{{ . }}{{ end }}{{ .Values.e }}";
        let (_t, c) = chart_with(values, tpl);
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.renders_empty, |k| k.key.clone()), ["e"]);
        assert_eq!(keys(&r.undeclared, |k| k.key.clone()), ["b", "c", "d", "e"]);
    }

    #[test]
    fn branches_ruled_out_by_constant_conditions_read_nothing() {
        let values = "a: 1\nb: 1\nonlyForC: 1\nnotC: 1\nalways: 1\n";
        let tpl = r#"{{ range list "a" "b" }}{{ if eq . "c" }}{{ $.Values.onlyForC }}{{ else if or (ne . "c") $.Values.x }}{{ index $.Values . }}{{ $.Values.notC }}{{ else }}{{ $.Values.never }}{{ end }}{{ end }}{{ if not (eq "x" "x") }}{{ .Values.neverEither }}{{ else }}{{ .Values.always }}{{ end }}"#;
        let (_t, c) = chart_with(values, tpl);
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.unused, |u| u.key.clone()), ["onlyForC"]);
        assert!(r.undeclared.is_empty(), "{:?}", r.undeclared);
        // A condition on a value keeps both branches.
        let (_t, c) = chart_with("k: a\n", r#"{{ if eq .Values.k "a" }}{{ .Values.p }}{{ else }}{{ .Values.q }}{{ end }}"#);
        assert_eq!(keys(&audit(&c).unwrap().undeclared, |k| k.key.clone()), ["p", "q"]);
    }

    #[test]
    fn library_helpers_probing_keys_in_undecidable_branches_maybe_read_them() {
        let r = fixture("audit-library");
        // Root `resources` is read only for a section "" the chart never passes.
        assert_eq!(keys(&r.undeclared, |k| format!("{}@{}:{}", k.key, k.file, k.line)), ["server.tier@charts/lib/templates/_warnings.tpl:28"]);
        assert_eq!(keys(&r.maybe_read, |k| k.key.clone()), ["server.enabled", "worker.replicaCount"]);
        assert_eq!(r.summary.maybe_read, 2);
        assert!(r.unused.is_empty() && r.renders_empty.is_empty(), "{r:?}");
        // The chart's own templates never maybe-read: the same probe there is an undeclared input.
        let (_t, c) = chart_with("s: {a: 1}\n", r#"{{ if hasKey .Values.s "enabled" }}{{ .Values.s.enabled }}{{ end }}"#);
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.undeclared, |k| k.key.clone()), ["s.enabled"]);
        assert!(r.maybe_read.is_empty());
    }

    #[test]
    fn keys_with_dots_print_unambiguously() {
        let key = |k: &str| Seg::Key(k.to_string());
        assert_eq!(dotted(&[key("configs"), key("params"), key("server.insecure")]), r#"configs.params["server.insecure"]"#);
        assert_eq!(dotted(&[key("a.b"), key("c"), Seg::Any, key("")]), r#"["a.b"].c.*[""]"#);
        assert_eq!(dotted(&[key("*"), key("say \"hi\"")]), r#"["*"]["say \"hi\""]"#);
        let values = "configs:\n  params:\n    server.insecure: false\n    server.unused: 1\n";
        let (_t, c) = chart_with(values, r#"{{ index .Values.configs.params "server.insecure" }}{{ index .Values.configs "cm.yaml" }}"#);
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.unused, |u| u.key.clone()), [r#"configs.params["server.unused"]"#]);
        assert_eq!(keys(&r.undeclared, |k| k.key.clone()), [r#"configs["cm.yaml"]"#]);
    }

    #[test]
    fn an_undeclared_list_is_listed_once_not_per_item() {
        let (_t, c) = chart_with("a: 1\n", "{{ .Values.a }}{{ range .Values.args }}{{ .name }}{{ end }}");
        let r = audit(&c).unwrap();
        assert_eq!(keys(&r.undeclared, |k| format!("{}:{}", k.key, k.line)), ["args:1"]);
    }

    #[test]
    fn missing_dependency_counts_its_key_as_read_and_helm_reads_tags() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("Chart.yaml"),
            "apiVersion: v2\nname: t\nversion: 0.1.0\ndependencies:\n- name: dep\n  version: 1.0.0\n  tags: [backend]\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("values.yaml"), "dep:\n  x: 1\ntags:\n  backend: true\n").unwrap();
        let r = audit(&Chart::load(tmp.path()).unwrap()).unwrap();
        assert!(r.unused.is_empty(), "{:?}", r.unused);
        assert!(r.unresolved[0].reason.contains("helm dependency build"));
    }

    #[test]
    fn unparsable_template_counts_every_value_as_read() {
        let (_t, c) = chart_with("a: 1\n", "{{ if .Values.a }}never closed");
        let r = audit(&c).unwrap();
        assert!(r.unused.is_empty());
        assert!(r.unresolved[0].reason.contains("cannot parse"), "{:?}", r.unresolved);
    }
}
