//! The ordered list of value sets a property run renders, deterministic for a seed: the base
//! values first, then one key at a time changed from the base (booleans flipped, boundary
//! numbers, empty and one-element lists, empty maps, YAML-hostile strings, other allowed values,
//! removed keys), then combinations of several changes and freshly generated sub-trees. Every set
//! is checked against the contract before it is planned; rejected candidates are counted.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use proptest::prelude::Rng;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::overrides::{Change, apply_changes, changes_between, rendered_for, value_hash};
use super::branches::{BranchModel, Reach};
use super::strategies::{ChangeKind, SchemaCtx, candidates, mined_candidates, sample, strategy_for};

/// One planned value set.
#[derive(Debug, Clone)]
pub struct PlannedCase {
    /// Position in the plan (the same for every shard and job count).
    pub index: usize,
    /// What was changed, for humans (`readinessProbe.enabled=false`, `defaults`, `combination of 3`).
    pub label: String,
    /// Changes from the base values (the merged values are not kept: a big chart's values tree
    /// per case made memory grow with the number of cases).
    pub changes: Vec<Change>,
    /// The keys the plan changed (one for a one-key case, each key of a combination): one may
    /// stand for several of `changes` (`serviceMonitor: {}` deletes each of its default keys).
    pub moves: Vec<Vec<String>>,
}

/// The plan plus what generation cost.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub cases: Vec<PlannedCase>,
    /// Candidates generated (valid or not).
    pub generated: usize,
    /// Candidates the contract rejected.
    pub rejected: usize,
    /// Dotted key paths that some planned case changes.
    pub paths_varied: BTreeSet<String>,
    /// Valid one-key changes found (validation stops once there are as many as cases to plan).
    pub single_changes_available: usize,
    /// Keys left alone because no template reads them.
    pub keys_not_read: usize,
    /// The deadline stopped planning before the cases asked for were planned.
    pub cut_short: bool,
    /// With a branch model: the branch outcomes each planned case reaches (an estimate, see
    /// `branches`), by case index.
    pub reach: Vec<Reach>,
}

/// Whether templates read a key (path of object keys).
pub type KeyFilter<'f> = dyn Fn(&[String]) -> bool + Sync + 'f;

/// Inputs of planning.
pub struct PlanInput<'a> {
    pub base: &'a Value,
    pub schema: &'a Value,
    pub is_valid: &'a (dyn Fn(&Value) -> bool + Sync),
    pub seed: u64,
    pub cases: usize,
    /// When known, whether templates read a key (or something below it): keys they never read
    /// need not vary.
    pub is_read: Option<&'a KeyFilter<'a>>,
    /// Stop planning (with the cases planned so far) once this passes: the time budget bounds
    /// planning too.
    pub deadline: Option<std::time::Instant>,
    /// The chart's template branches and the values they compare keys with: mined values become
    /// candidates, and combinations aim at branches no earlier case reached.
    pub branches: Option<&'a BranchModel>,
    /// Use the branch model to search (mined candidates, aimed combinations); when false it only
    /// estimates each case's branches (the search as it was before, for comparisons).
    pub aim: bool,
}

/// A proptest runner whose randomness is a function of the seed only.
pub fn seeded_runner(seed: u64) -> TestRunner {
    let bytes = Sha256::digest(seed.to_le_bytes());
    TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

const MAX_KEY_DEPTH: usize = 8;

/// A key of the values with its schema and current value.
struct KeySlot {
    path: Vec<String>,
    schema: Value,
    current: Option<Value>,
}

fn collect_keys(ctx: SchemaCtx, value: Option<&Value>, schema: &Value, path: &mut Vec<String>, out: &mut Vec<KeySlot>) {
    if path.len() >= MAX_KEY_DEPTH {
        return;
    }
    let flat = ctx.flatten(schema);
    let mut keys: Vec<String> = value.and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    if let Some(props) = flat.get("properties").and_then(Value::as_object) {
        for k in props.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    for k in keys {
        let child_value = value.and_then(|v| v.get(&k)).filter(|v| !v.is_null());
        let child_schema = ctx.property(&flat, &k);
        path.push(k);
        out.push(KeySlot { path: path.clone(), schema: child_schema.clone(), current: child_value.cloned() });
        let is_map = child_value.map(Value::is_object).unwrap_or_else(|| super::strategies::admitted_types(&child_schema) == ["object"]);
        if is_map {
            collect_keys(ctx, child_value, &child_schema, path, out);
        }
        path.pop();
    }
}

/// Build the plan.
pub fn plan(input: &PlanInput) -> Plan {
    let ctx = SchemaCtx::new(input.schema);
    let mut runner = seeded_runner(input.seed);
    let mut plan = Plan::default();
    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(value_hash(input.base));
    plan.cases.push(PlannedCase { index: 0, label: "defaults".into(), changes: Vec::new(), moves: Vec::new() });
    if input.cases <= 1 {
        return plan;
    }

    let mut slots = Vec::new();
    collect_keys(ctx, Some(input.base), input.schema, &mut Vec::new(), &mut slots);
    if let Some(is_read) = input.is_read {
        let before = slots.len();
        slots.retain(|s| is_read(&s.path));
        plan.keys_not_read = before - slots.len();
    }

    // One key at a time: every candidate change, cheap to list; merging, validating and hashing
    // a whole values tree per candidate is what costs, so only as many are checked, in plan
    // order, as the cases asked for (a large values tree has tens of thousands of candidates).
    let mut options: Vec<(ChangeKind, usize, Change)> = Vec::new();
    for (order, slot) in slots.iter().enumerate() {
        let mut values = candidates(ctx, &slot.schema, slot.current.as_ref(), &mut runner);
        let mined = input.branches.filter(|_| input.aim).and_then(|b| b.mined.get(&slot.path));
        if input.aim {
            mined_candidates(&slot.schema, mined.map(Vec::as_slice).unwrap_or_default(), slot.current.as_ref(), &mut values);
        }
        if slot.current.is_some() {
            values.push((ChangeKind::Removed, Value::Null));
        } else if let Some(v) = sample(&strategy_for(ctx, &slot.schema), &mut runner) {
            values.push((ChangeKind::Generated, v));
        }
        for (kind, v) in values {
            let change = if kind == ChangeKind::Removed { Change::delete(slot.path.clone()) } else { Change::set(slot.path.clone(), &v) };
            options.push((kind, order, change));
        }
    }
    options.sort_by_key(|o| (o.0, o.1));
    let remaining = input.cases - 1;
    let mut singles: Vec<(Change, Vec<Change>)> = Vec::new();
    // Removals the contract refused on their own (a required key): no aimed combination gets
    // them, as they would be refused there too (most of the aimed candidates refused on
    // latent-defects were such removals).
    let mut removals_refused: HashSet<Change> = HashSet::new();
    let out_of_time = || input.deadline.is_some_and(|d| std::time::Instant::now() >= d);
    for (_, _, change) in &options {
        if singles.len() == remaining || out_of_time() {
            break;
        }
        let merged = rendered_for(input.base, &apply_changes(input.base, std::slice::from_ref(change)));
        plan.generated += 1;
        if !(input.is_valid)(&merged) {
            plan.rejected += 1;
            if change.value.is_none() {
                removals_refused.insert(change.clone());
            }
            continue;
        }
        if seen.insert(value_hash(&merged)) {
            singles.push((change.clone(), changes_between(input.base, &merged)));
        }
    }
    plan.single_changes_available = singles.len();
    // Fewer valid one-key changes than cases: all of them; else three quarters of the cases,
    // leaving the rest to combinations.
    let single_budget = if singles.len() < remaining { singles.len() } else { remaining - remaining / 4 };
    // Combinations draw from every candidate change; each combination is validated as a whole.
    let pool: Vec<Change> = options.into_iter().map(|o| o.2).collect();
    let mut search = input.branches.map(|model| BranchSearch::new(model, &pool, &removals_refused));
    if let Some(search) = &mut search {
        let at_defaults = search.model.reach(input.base);
        search.accept(Vec::new(), &at_defaults);
        plan.reach.push(at_defaults);
    }
    // More valid one-key changes than room for them: those reaching a branch no earlier one
    // reached go first.
    let singles = match &search {
        Some(search) if input.aim && singles.len() > single_budget => novelty_first(search.model, input.base, singles),
        _ => singles,
    };
    for (change, changes) in singles.into_iter().take(single_budget) {
        let label = match &change.value {
            Some(v) => format!("{}={}", change.dotted(), short(&v.0)),
            None => format!("{} removed", change.dotted()),
        };
        if let Some(search) = &mut search {
            let reach = search.model.reach(&apply_changes(input.base, &changes));
            search.accept(changes.clone(), &reach);
            plan.reach.push(reach);
        }
        push_case(&mut plan, label, changes, vec![change.path]);
    }

    // Combinations: random ones (several keys, drawn from every candidate change or freshly
    // generated); with a branch model, three in four are aimed at branches (see `BranchSearch`),
    // each with one change of any key added.
    // Aimed attempts have their own budget, so the random ones keep theirs (a small value space
    // where aimed picks repeat still plans every case asked for).
    // A change of any key: a candidate change or a freshly generated value.
    let any_change = |runner: &mut TestRunner| -> Option<Change> {
        let fresh = pool.is_empty() || runner.rng().next_u32().is_multiple_of(3);
        if fresh {
            let slot = &slots[(runner.rng().next_u64() % slots.len() as u64) as usize];
            sample(&strategy_for(ctx, &slot.schema), runner).map(|v| Change::set(slot.path.clone(), &v))
        } else {
            Some(pool[(runner.rng().next_u64() % pool.len() as u64) as usize].clone())
        }
    };
    let mut attempts = 0;
    let mut aimed_attempts = 0;
    let mut stale = 0;
    while plan.cases.len() < input.cases && attempts < 30 * input.cases && !slots.is_empty() && !out_of_time() {
        let aimed = input.aim
            && aimed_attempts < 10 * input.cases
            && search.as_ref().is_some_and(|s| !s.deciding_pool.is_empty())
            && runner.rng().next_u32() % 4 != 0;
        if aimed {
            aimed_attempts += 1;
        } else {
            attempts += 1;
        }
        let picked = if aimed {
            // Plus one change of any key: aimed picks only set keys that conditions read, so
            // without it the combinations stop varying scalar values (an IngressClass name, a
            // `maxSurge`, container ports) where large charts' failures are. On traefik (200
            // cases, seed 1) it took the failures found from 14 to 25 (22 with the plan before
            // the search), with 514 branches estimated instead of 511; one of the 514 was never
            // rendered (`api={}`, see `rendered_for`), and estimated as rendered the same run
            // reaches 512 with 22 failures.
            let mut picked = search.as_ref().map(|s| s.pick(&mut runner)).unwrap_or_default();
            if let Some(change) = any_change(&mut runner).filter(|c| picked.iter().all(|p| !overlaps(p, c))) {
                picked.push(change);
            }
            picked
        } else {
            let k = 2 + (runner.rng().next_u32() % 3) as usize;
            let mut picked: Vec<Change> = Vec::new();
            for _ in 0..k {
                let Some(change) = any_change(&mut runner) else { continue };
                if picked.iter().all(|p| !overlaps(p, &change)) {
                    picked.push(change);
                }
            }
            picked
        };
        if picked.len() < if aimed { 1 } else { 2 } {
            continue;
        }
        // Validated, told apart and estimated as helm renders it (a map set whole keeps its
        // `null` defaults): on traefik (200 cases, seed 1) `api={}` was estimated as an empty
        // `api`, which the override written cannot give, and the summary counted the
        // `with .Values.api` of templates/_podtemplate.tpl:243 not taken, never rendered.
        let merged = rendered_for(input.base, &apply_changes(input.base, &picked));
        plan.generated += 1;
        if !(input.is_valid)(&merged) {
            plan.rejected += 1;
            continue;
        }
        let hash = value_hash(&merged);
        if seen.contains(&hash) {
            continue;
        }
        if let Some(search) = &mut search {
            let reach = search.model.reach(&merged);
            // An aimed case that reaches nothing new is skipped, unless eight in a row did not.
            if aimed && !search.is_new(&reach) && stale < 8 {
                stale += 1;
                continue;
            }
            stale = 0;
            search.accept(changes_between(input.base, &merged), &reach);
            plan.reach.push(reach);
        }
        seen.insert(hash);
        let label = format!("combination of {}", picked.iter().map(Change::dotted).collect::<Vec<_>>().join(", "));
        let changes = changes_between(input.base, &merged);
        push_case(&mut plan, label, changes, picked.into_iter().map(|c| c.path).collect());
    }
    plan.cut_short = plan.cases.len() < input.cases && out_of_time();
    plan
}

/// One-key changes reordered: each that reaches a branch outcome none before it reached first
/// (in their order), then the others (in their order).
fn novelty_first(model: &BranchModel, base: &Value, singles: Vec<(Change, Vec<Change>)>) -> Vec<(Change, Vec<Change>)> {
    let mut reached = model.reach(base).taken;
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for single in singles {
        let reach = model.reach(&apply_changes(base, &single.1));
        if reach.taken.iter().any(|t| !reached.contains(t)) {
            reached.extend(reach.taken);
            first.push(single);
        } else {
            rest.push(single);
        }
    }
    first.extend(rest);
    first
}

/// Two changes of the same key or of a key and one below it.
fn overlaps(a: &Change, b: &Change) -> bool {
    a.path.starts_with(&b.path) || b.path.starts_with(&a.path)
}

/// A search for value sets that reach template branches no earlier case reached (estimated from
/// conditions on values, see `branches`): cases that reach a new branch are kept as a corpus and
/// varied further; an aimed pick either takes a kept case that decided the chain of a branch not
/// yet reached and sets the keys that branch's conditions read (several at once: `and`/`or`
/// conditions need pairs and triples), or combines two or three branch-deciding changes with a
/// kept case. No render is needed: conditions are evaluated on the values.
struct BranchSearch<'m> {
    model: &'m BranchModel,
    /// Candidate changes of keys some condition reads.
    deciding_pool: Vec<Change>,
    /// Kept cases (changes from the base), the defaults first.
    corpus: Vec<Vec<Change>>,
    /// Outcomes reached so far.
    reached: BTreeSet<usize>,
    /// For each chain decided so far, the kept case that first decided it.
    decided_by: BTreeMap<usize, usize>,
}

impl<'m> BranchSearch<'m> {
    fn new(model: &'m BranchModel, pool: &[Change], removals_refused: &HashSet<Change>) -> BranchSearch<'m> {
        let deciding_pool = pool
            .iter()
            .filter(|c| !removals_refused.contains(c))
            .filter(|c| model.deciding.iter().any(|d| d.starts_with(&c.path) || c.path.starts_with(d)))
            .cloned()
            .collect();
        BranchSearch { model, deciding_pool, corpus: Vec::new(), reached: BTreeSet::new(), decided_by: BTreeMap::new() }
    }

    fn is_new(&self, reach: &Reach) -> bool {
        reach.taken.iter().any(|t| !self.reached.contains(t))
    }

    /// Record a planned case's reach; keep it when it reached something new.
    fn accept(&mut self, changes: Vec<Change>, reach: &Reach) {
        if !self.is_new(reach) && !self.corpus.is_empty() {
            return;
        }
        let index = self.corpus.len();
        self.corpus.push(changes);
        self.reached.extend(reach.taken.iter().copied());
        for chain in &reach.decided {
            self.decided_by.entry(*chain).or_insert(index);
        }
    }

    fn pick(&self, runner: &mut TestRunner) -> Vec<Change> {
        let mut draw = |n: usize| (runner.rng().next_u64() % n.max(1) as u64) as usize;
        let targets: Vec<usize> = (0..self.model.sites.len())
            .filter(|i| !self.reached.contains(i) && self.decided_by.contains_key(&self.model.sites[*i].chain) && !self.model.sites[*i].paths.is_empty())
            .collect();
        let mut picked: Vec<Change>;
        if !targets.is_empty() && draw(3) != 0 {
            let site = &self.model.sites[targets[draw(targets.len())]];
            picked = self.corpus[self.decided_by[&site.chain]].clone();
            for path in &site.paths {
                let options: Vec<&Change> = self.deciding_pool.iter().filter(|c| c.path.starts_with(path)).collect();
                if options.is_empty() || (site.paths.len() > 1 && draw(4) == 0) {
                    continue;
                }
                let change = options[draw(options.len())].clone();
                picked.retain(|p| !overlaps(p, &change));
                picked.push(change);
            }
        } else {
            let from_corpus = draw(2) == 0;
            picked = if from_corpus { self.corpus[draw(self.corpus.len())].clone() } else { Vec::new() };
            let add = if picked.is_empty() { 2 + draw(2) } else { 1 + draw(2) };
            for _ in 0..add {
                let change = self.deciding_pool[draw(self.deciding_pool.len())].clone();
                picked.retain(|p| !overlaps(p, &change));
                picked.push(change);
            }
        }
        picked
    }
}

fn push_case(plan: &mut Plan, label: String, changes: Vec<Change>, moves: Vec<Vec<String>>) {
    for c in &changes {
        plan.paths_varied.insert(c.dotted());
    }
    let index = plan.cases.len();
    plan.cases.push(PlannedCase { index, label, changes, moves });
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan_for(base: &Value, schema: &Value, seed: u64, cases: usize) -> Plan {
        let validator = jsonschema::validator_for(schema).unwrap();
        let is_valid = move |v: &Value| validator.is_valid(v);
        plan(&PlanInput { base, schema, is_valid: &is_valid, seed, cases, is_read: None, deadline: None, branches: None, aim: true })
    }

    fn schema() -> Value {
        json!({"type": "object", "required": ["enabled"], "properties": {
            "enabled": {"type": "boolean"},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 5},
            "hosts": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string"},
            "resources": {"type": "object"},
            "mode": {"enum": ["a", "b"]}
        }})
    }

    #[test]
    fn defaults_first_then_single_changes_in_order_then_combinations() {
        let base = json!({"enabled": true, "replicas": 2, "hosts": ["x"], "note": "hi", "resources": {"limits": {"cpu": 1}}, "mode": "a"});
        let p = plan_for(&base, &schema(), 1, 60);
        assert_eq!(p.cases[0].label, "defaults");
        assert!(p.cases[0].changes.is_empty());
        assert_eq!(p.cases[1].label, "enabled=false");
        let labels: Vec<&str> = p.cases.iter().map(|c| c.label.as_str()).collect();
        assert!(labels.contains(&"hosts=[]") && labels.contains(&"resources={}") && labels.contains(&"note=\"a: b\""), "{labels:?}");
        assert!(labels.iter().any(|l| l.starts_with("combination of")));
        let merged: Vec<Value> = p.cases.iter().map(|c| apply_changes(&base, &c.changes)).collect();
        let hashes: HashSet<String> = merged.iter().map(value_hash).collect();
        assert_eq!(hashes.len(), p.cases.len(), "no value set twice");
        let validator = jsonschema::validator_for(&schema()).unwrap();
        assert!(merged.iter().all(|m| validator.is_valid(m)));
        assert!(p.rejected > 0, "removing the required `enabled` is rejected");
        assert!(!merged.iter().any(|m| m.get("enabled").is_none()));
        assert!(!merged.iter().any(|m| m["replicas"] == json!(0)));
    }

    #[test]
    fn keys_no_template_reads_do_not_vary() {
        let base = json!({"enabled": true, "replicas": 2, "hosts": ["x"], "note": "hi", "resources": {}, "mode": "a"});
        let validator = jsonschema::validator_for(&schema()).unwrap();
        let is_valid = move |v: &Value| validator.is_valid(v);
        let is_read = |p: &[String]| p[0] != "note";
        let p = plan(&PlanInput { base: &base, schema: &schema(), is_valid: &is_valid, seed: 1, cases: 60, is_read: Some(&is_read), deadline: None, branches: None, aim: true });
        assert_eq!(p.keys_not_read, 1);
        assert!(p.cases.iter().all(|c| apply_changes(&base, &c.changes)["note"] == json!("hi")));
        assert!(p.paths_varied.contains("hosts") && !p.paths_varied.contains("note"));
    }

    #[test]
    fn planning_stops_at_the_deadline_with_the_defaults() {
        let base = json!({"enabled": true, "replicas": 2, "hosts": ["x"], "note": "hi", "resources": {}, "mode": "a"});
        let validator = jsonschema::validator_for(&schema()).unwrap();
        let is_valid = move |v: &Value| validator.is_valid(v);
        let past = std::time::Instant::now();
        let p = plan(&PlanInput { base: &base, schema: &schema(), is_valid: &is_valid, seed: 1, cases: 60, is_read: None, deadline: Some(past), branches: None, aim: true });
        assert_eq!(p.cases.len(), 1, "only the defaults");
        assert_eq!(p.generated, 0);
        assert!(p.cut_short);
    }

    #[test]
    fn validation_scales_with_the_cases_asked_for_not_the_values_tree() {
        // 400 keys, each with several candidate changes: 3 cases validate a handful of them.
        let base = Value::Object((0..400).map(|i| (format!("k{i}"), json!(true))).collect());
        let schema = json!({"type": "object", "properties": (0..400).map(|i| (format!("k{i}"), json!({"type": "boolean"}))).collect::<serde_json::Map<String, Value>>()});
        let validations = std::sync::atomic::AtomicUsize::new(0);
        let is_valid = |_: &Value| {
            validations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        };
        let p = plan(&PlanInput { base: &base, schema: &schema, is_valid: &is_valid, seed: 1, cases: 3, is_read: None, deadline: None, branches: None, aim: true });
        assert_eq!(p.cases.len(), 3);
        let n = validations.load(std::sync::atomic::Ordering::Relaxed);
        assert!(n <= 10, "{n} validations for 3 cases");
    }

    #[test]
    fn combinations_aim_at_branches_behind_compared_values() {
        let model = BranchModel::of_sources(&[(
            "templates/a.yaml".into(),
            r#"{{ if eq .Values.mode "cluster" }}{{ if and .Values.a .Values.b }}x{{ end }}{{ end }}"#.into(),
        )]);
        let mut props: serde_json::Map<String, Value> = (0..20).map(|i| (format!("k{i}"), json!({"type": "string"}))).collect();
        props.insert("mode".into(), json!({"type": "string"}));
        props.insert("a".into(), json!({"type": "boolean"}));
        props.insert("b".into(), json!({"type": "boolean"}));
        let schema = json!({"type": "object", "properties": props});
        let mut base: serde_json::Map<String, Value> = (0..20).map(|i| (format!("k{i}"), json!("v"))).collect();
        base.extend([("mode".to_string(), json!("standalone")), ("a".to_string(), json!(false)), ("b".to_string(), json!(false))]);
        let base = Value::Object(base);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let is_valid = move |v: &Value| validator.is_valid(v);
        let run = |aim: bool| {
            let p = plan(&PlanInput { base: &base, schema: &schema, is_valid: &is_valid, seed: 1, cases: 40, is_read: None, deadline: None, branches: Some(&model), aim });
            assert_eq!(p.reach.len(), p.cases.len());
            p.cases.iter().map(|c| apply_changes(&base, &c.changes)).collect::<Vec<_>>()
        };
        let bug = |m: &Value| m["mode"] == "cluster" && m["a"] == true && m["b"] == true;
        assert!(run(true).iter().any(bug), "the mined value and both switches are combined");
        let plain = run(false);
        assert!(!plain.iter().any(|m| m["mode"] == "cluster"), "random strings never compare equal");
    }

    #[test]
    fn each_case_is_estimated_on_the_values_helm_renders() {
        // Setting `api` to `{}` can only delete its non-null keys (an override cannot delete a
        // key whose default is `null`; changes_between), so helm renders `api` as `{debug: null}`:
        // the `with` is taken. Each case's estimate is of what the written override gives.
        let model = BranchModel::of_sources(&[("templates/a.yaml".into(), "{{ with .Values.api }}x{{ end }}{{ if .Values.on }}y{{ end }}".into())]);
        let schema = json!({"type": "object", "properties": {
            "api": {"type": "object", "properties": {"dashboard": {"type": "boolean"}, "debug": {"type": ["boolean", "null"]}}},
            "on": {"type": "boolean"},
            "name": {"type": "string"}
        }});
        let base = json!({"api": {"dashboard": true, "debug": null}, "on": false, "name": "x"});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let is_valid = move |v: &Value| validator.is_valid(v);
        let p = plan(&PlanInput { base: &base, schema: &schema, is_valid: &is_valid, seed: 1, cases: 60, is_read: None, deadline: None, branches: Some(&model), aim: true });
        assert_eq!(p.reach.len(), p.cases.len());
        let sets_api = |c: &PlannedCase| c.label.strip_prefix("combination of ").is_some_and(|keys| keys.split(", ").any(|k| k == "api"));
        assert!(p.cases.iter().any(sets_api), "a combination sets `api` whole");
        for (case, reach) in p.cases.iter().zip(&p.reach) {
            let mut rendered = base.clone();
            crate::chart::merge::coalesce(&mut rendered, &crate::generate::overrides::override_of(&case.changes));
            let at = model.reach(&rendered);
            assert_eq!((&reach.taken, &reach.decided), (&at.taken, &at.decided), "{}", case.label);
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let base = json!({"enabled": true, "replicas": 2, "hosts": ["x"], "note": "hi", "resources": {}, "mode": "a"});
        let labels = |seed| plan_for(&base, &schema(), seed, 40).cases.iter().map(|c| value_hash(&apply_changes(&base, &c.changes))).collect::<Vec<_>>();
        assert_eq!(labels(5), labels(5));
        assert_ne!(labels(5), labels(6));
    }
}
