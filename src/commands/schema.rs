//! `chartproof schema CHART [--write | --check] [--draft 7|2020-12]`: infer the values contract
//! from values.yaml and its annotations, merged into an existing values.schema.json without
//! losing hand-written content; print it, write it atomically, or check it is up to date.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value};

use super::common::{EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, exit, print_stdout};
use crate::chart::Chart;
use crate::chart::targets::{JobsArgs, charts, run_in_parallel};
use crate::contract::infer::StringTyping;
use crate::contract::merge::{ExistingSchema, merge_schemas_noting_stale};
use crate::contract::{Draft, compile, infer, lint};

#[derive(Args, Debug, Clone)]
#[command(after_help = "\
Examples:
  chartproof schema ./mychart                   # print the inferred contract
  chartproof schema ./mychart --write           # create or update values.schema.json
  chartproof schema ./mychart --check           # in CI: fail when values.schema.json is stale
  chartproof schema charts/ --check -j 4        # a directory of charts, four at once
  chartproof schema ./mychart --write --draft 2020-12

Types come from values.yaml; constraints from `# @schema` annotations above a key, e.g.
  # @schema minimum:1;required:true
  replicaCount: 3
--write merges into an existing values.schema.json: hand-written constraints win and conflicts
are reported; the file is replaced atomically and keeps its permissions.
A string default is typed `[string, integer]`: `--set image.tag=1234` passes an integer, and
users could pass it before the chart had a schema. `--strict-types` writes `string` (users then
need `--set-string`); a `# @schema type:string` annotation makes one key strict.

Exit codes:
  0  printed, written, or up to date
  1  --check: values.schema.json is missing or stale (the diff is printed); a schema that is the
     same JSON with another indentation or key order is up to date
  2  unusable input: chart not found, unreadable Chart.yaml/values.yaml, existing
     values.schema.json that is not JSON or not a JSON Schema, the file cannot be written
With several charts: 2 if any was unusable, else 1 if any is stale or missing (all still run).")]
pub struct SchemaArgs {
    /// Chart directories or packaged .tgz files (several only with --check or --write); a
    /// directory without Chart.yaml stands for the charts in its subdirectories
    #[arg(required = true, value_name = "CHART")]
    pub charts: Vec<PathBuf>,
    /// Only the charts with files changed since this git ref (committed or not)
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Write values.schema.json into the chart (atomically, keeping hand-written content)
    #[arg(long, conflicts_with = "check")]
    pub write: bool,
    /// Exit 1 with a diff when values.schema.json is missing or not what `--write` would write
    #[arg(long)]
    pub check: bool,
    /// JSON Schema dialect for a new file (an existing file keeps its `$schema`)
    #[arg(long, value_enum)]
    pub draft: Option<Draft>,
    #[command(flatten)]
    pub jobs: JobsArgs,
    /// Type a string default as `string` only. By default it also accepts an integer (and a
    /// `true`/`false` default a boolean), because that is what `--set key=1234` passes and what
    /// users could pass before the chart had a schema; with this flag they need `--set-string`
    #[arg(long)]
    pub strict_types: bool,
}

/// What `schema` computed for a chart: the text to write and what it noticed.
pub struct SchemaOutcome {
    pub path: PathBuf,
    pub existing: Option<String>,
    pub text: String,
    pub notes: Vec<String>,
}

/// Infer, merge with the existing file, lint; nothing is written.
pub fn compute(chart: &Chart, draft: Option<Draft>, typing: StringTyping) -> Result<SchemaOutcome> {
    let path = chart.schema_path();
    let inferred = infer::infer_schema(chart, draft.unwrap_or_default(), typing);
    let mut notes: Vec<String> = inferred.warnings.iter().map(|w| format!("warning: {w}")).collect();
    let existing = if path.exists() { Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?) } else { None };
    let mut conflict_paths: Vec<String> = Vec::new();
    let schema = match &existing {
        Some(text) => {
            let current: Value = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{}:{}:{}: not valid JSON: {e}", path.display(), e.line(), e.column()))?;
            compile(&current).with_context(|| format!("{} is not a usable JSON Schema; fix it before chartproof merges into it", path.display()))?;
            if let (Some(d), Some(have)) = (draft, current.get("$schema").and_then(Value::as_str))
                && have != d.uri()
            {
                notes.push(format!("note: {} declares $schema {have}; it is kept (hand-written content wins over --draft)", path.display()));
            }
            if current.get("$schema").is_none() {
                notes.push(format!(
                    "note: {} declares no $schema: Helm up to 3.18.4 reads it as draft-07, Helm 3.18.5+ and 4 as 2020-12 (they disagree on `format`, for one); chartproof adds {}",
                    path.display(),
                    draft.unwrap_or_default().uri()
                ));
            }
            // The hand-written schema answers "weakly typed" for the keys it describes.
            let answered: Vec<String> = inferred
                .warnings
                .iter()
                .filter(|w| w.message.starts_with("weakly typed") && w.path.as_deref().is_some_and(|p| describes(&current, p)))
                .map(|w| format!("warning: {w}"))
                .collect();
            notes.retain(|n| !answered.contains(n));
            let (merged, conflicts, stale) = merge_schemas_noting_stale(&ExistingSchema { file: &path, text, schema: &current }, &inferred.schema, &chart.values);
            notes.extend(conflicts.iter().map(|c| format!("conflict: {c}")));
            notes.extend(stale.iter().map(|s| format!("note: {}: {s}", path.display())));
            conflict_paths = conflicts.iter().map(|c| c.path.clone()).collect();
            with_schema_first(merged, draft.unwrap_or_default())
        }
        None => inferred.schema,
    };
    compile(&schema).context("the generated schema does not compile (check the @schema annotations)")?;
    let text = serde_json::to_string_pretty(&schema)? + "\n";
    // A hand-written type the default contradicts is already reported as a conflict.
    let lints = lint::lint_contract(&schema, &path, Some(&text), chart);
    let repeated = |w: &crate::contract::ContractWarning| w.message.starts_with(lint::DEFAULTS_REJECTED) && w.path.as_ref().is_some_and(|p| conflict_paths.contains(p));
    notes.extend(lints.iter().filter(|w| !repeated(w)).map(|w| format!("warning: {w}")));
    Ok(SchemaOutcome { path, existing, text, notes })
}

/// Whether `schema` has its own node for the dotted key `path` (local `$ref`s followed).
fn describes(schema: &Value, path: &str) -> bool {
    fn resolve<'a>(schema: &'a Value, mut node: &'a Value) -> Option<&'a Value> {
        for _ in 0..16 {
            match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(p) => node = schema.pointer(p)?,
                None => return Some(node),
            }
        }
        Some(node)
    }
    let mut node = schema;
    for seg in path.split('.') {
        let Some(n) = resolve(schema, node) else { return false };
        let (key, indexed) = match seg.find('[') {
            Some(i) => (&seg[..i], true),
            None => (seg, false),
        };
        let Some(mut next) = n.get("properties").and_then(|p| p.get(key)) else { return false };
        if indexed {
            match resolve(schema, next).and_then(|x| x.get("items")) {
                Some(items) => next = items,
                None => return false,
            }
        }
        node = next;
    }
    true
}

fn with_schema_first(schema: Value, draft: Draft) -> Value {
    match schema {
        Value::Object(o) if !o.contains_key("$schema") => {
            let mut out = Map::new();
            out.insert("$schema".into(), Value::String(draft.uri().into()));
            out.extend(o);
            Value::Object(out)
        }
        other => other,
    }
}

pub fn run(args: SchemaArgs) -> Result<ExitCode> {
    let charts = charts(&args.charts, args.changed_since.as_deref())?;
    if charts.is_empty() {
        return Ok(exit(EXIT_OK));
    }
    if charts.len() > 1 && !args.check && !args.write {
        bail!("printing a schema takes one chart ({} given); use --check or --write for several", charts.len());
    }
    if charts.len() == 1 {
        let done = run_one(&args, &charts[0])?;
        eprint!("{}", done.stderr);
        print_stdout(&done.stdout)?;
        return Ok(exit(done.code));
    }
    let (mut worst, mut printed) = (EXIT_OK, Ok(()));
    run_in_parallel(&charts, args.jobs.count(), |chart, _| run_one(&args, chart), |index, done| match done {
        Ok(done) => {
            worst = worst.max(done.code);
            eprint!("{}", done.stderr);
            if printed.is_ok() {
                printed = print_stdout(&done.stdout);
            }
        }
        Err(e) => {
            eprintln!("error: {}: {e:#}", charts[index].display());
            worst = worst.max(EXIT_UNUSABLE);
        }
    });
    printed?;
    Ok(exit(worst))
}

/// What one chart's run printed, kept together, and its exit code.
struct ChartDone {
    code: u8,
    stdout: String,
    stderr: String,
}

/// One chart: print, write or check its schema.
fn run_one(args: &SchemaArgs, chart_arg: &Path) -> Result<ChartDone> {
    let chart = Chart::load(chart_arg)?;
    let typing = if args.strict_types { StringTyping::Strict } else { StringTyping::AsSetTypes };
    let outcome = compute(&chart, args.draft, typing)?;
    let mut stderr: String = outcome.notes.iter().map(|n| format!("{n}\n")).collect();
    let shown = display_path(chart_arg, &chart, &outcome.path);
    let done = |code: u8, stdout: String, stderr: String| Ok(ChartDone { code, stdout, stderr });
    if args.check {
        let (code, stdout, verdict) = match &outcome.existing {
            Some(t) if *t == outcome.text => (EXIT_OK, String::new(), "is up to date".to_string()),
            Some(t) if same_contract(t, &outcome.text) => (EXIT_OK, String::new(), "is up to date (formatted differently; --write would reformat it)".to_string()),
            Some(t) => {
                let (diff, changed) = contract_diff(t, &outcome.text, &shown);
                (EXIT_FAILED, diff, format!("is stale ({changed}): run `chartproof schema {} --write`", chart_arg.display()))
            }
            None => (EXIT_FAILED, unified_diff("", &outcome.text, &shown), format!("is missing: run `chartproof schema {} --write`", chart_arg.display())),
        };
        stderr += &format!("{shown} {verdict}\n");
        return done(code, stdout, stderr);
    }
    if args.write {
        if chart.source != chart.dir {
            bail!("{} is a packaged chart: --write needs a chart directory", chart_arg.display());
        }
        if outcome.existing.as_deref() == Some(outcome.text.as_str()) {
            stderr += &format!("{shown} is up to date\n");
        } else {
            write_atomically(&outcome.path, &outcome.text)?;
            stderr += &format!("wrote {shown}\n");
        }
        return done(EXIT_OK, String::new(), stderr);
    }
    done(EXIT_OK, outcome.text, stderr)
}

/// Whether two schema texts are the same contract: equal JSON, whatever the indentation, spacing
/// or key order.
fn same_contract(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The difference between two schema texts as a contract: a unified diff of both in one
/// normal form (parsed, keys sorted, pretty-printed), so indentation, spacing and key order do
/// not show, and how many JSON pointers changed. A text that is not JSON is diffed as it is.
fn contract_diff(old: &str, new: &str, name: &str) -> (String, String) {
    match (serde_json::from_str::<Value>(old), serde_json::from_str::<Value>(new)) {
        (Ok(a), Ok(b)) => {
            let mut changed = Vec::new();
            changed_pointers(&a, &b, "", &mut changed);
            let normal = |v: &Value| serde_json::to_string_pretty(&sorted(v)).unwrap_or_default() + "\n";
            let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
            let more = if changed.len() > shown.len() { format!(", and {} more", changed.len() - shown.len()) } else { String::new() };
            (unified_diff(&normal(&a), &normal(&b), name), format!("{} change(s): {}{more}", changed.len(), shown.join(", ")))
        }
        _ => (unified_diff(old, new, name), "not JSON".into()),
    }
}

/// `v` with every object's keys in sorted order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The JSON pointers where `a` and `b` differ (the highest one of each difference).
fn changed_pointers(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))).collect();
            keys.sort();
            for k in keys {
                let p = format!("{at}/{}", crate::chart::values::pointer_segment(k));
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => changed_pointers(l, r, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if a != b => out.push(if at.is_empty() { "/".into() } else { at.to_string() }),
        _ => {}
    }
}

fn display_path(arg: &Path, chart: &Chart, path: &Path) -> String {
    match path.strip_prefix(&chart.dir) {
        Ok(rel) if chart.source == chart.dir => arg.join(rel).display().to_string(),
        _ => path.display().to_string(),
    }
}

/// A unified diff (3 lines of context) from `old` to `new`, headed with `name`.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(&format!("a/{name}"), &format!("b/{name}")).to_string()
}

/// Replace `path` with `text` atomically: a temporary file in the same directory, the old file's
/// permissions (0644 for a new file), then a rename.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes()).with_context(|| format!("cannot write a temporary file in {}", dir.display()))?;
    tmp.as_file().sync_all()?;
    let perms = match std::fs::metadata(path) {
        Ok(m) => m.permissions(),
        Err(_) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::Permissions::from_mode(0o644)
            }
            #[cfg(not(unix))]
            {
                tmp.as_file().metadata()?.permissions()
            }
        }
    };
    std::fs::set_permissions(tmp.path(), perms)?;
    tmp.persist(path).map_err(|e| anyhow::anyhow!("cannot replace {}: {}", path.display(), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("values.schema.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        let fresh = tmp.path().join("fresh.json");
        write_atomically(&fresh, "x").unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2, "no temporary file left behind");
    }

    #[test]
    fn describes_follows_properties_items_and_local_refs() {
        let schema = serde_json::json!({"$ref": "#/$defs/root", "$defs": {"root": {"properties": {"a": {"$ref": "#/$defs/a"}}}, "a": {"properties": {"list": {"items": {"properties": {"x": {}}}}}}}});
        assert!(describes(&schema, "a"));
        assert!(describes(&schema, "a.list[0].x"));
        assert!(!describes(&schema, "a.other"));
        assert!(!describes(&schema, "b"));
    }

    #[test]
    fn check_diff_ignores_indentation_and_key_order() {
        let old = "{\n    \"type\": \"object\",\n    \"properties\": {\n        \"b\": {\"type\": \"string\"},\n        \"a\": {\"type\": \"integer\"}\n    }\n}\n";
        let new = "{\n  \"properties\": {\n    \"a\": {\n      \"type\": \"integer\"\n    },\n    \"c\": {\n      \"type\": \"boolean\"\n    }\n  },\n  \"type\": \"object\"\n}\n";
        let (diff, changed) = contract_diff(old, new, "values.schema.json");
        assert_eq!(changed, "2 change(s): /properties/b, /properties/c");
        let lines: Vec<&str> = diff.lines().filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---")).collect();
        assert_eq!(lines, ["-    \"b\": {", "-      \"type\": \"string\"", "+    \"c\": {", "+      \"type\": \"boolean\""], "only the two keys' lines: {diff}");
    }

    #[test]
    fn diff_names_the_file() {
        let d = unified_diff("a\nb\n", "a\nc\n", "chart/values.schema.json");
        assert!(d.contains("--- a/chart/values.schema.json") && d.contains("-b") && d.contains("+c"), "{d}");
    }
}
