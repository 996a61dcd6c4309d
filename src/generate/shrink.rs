//! Shrinking a failing value set to a minimal override relative to the base values: first the
//! fewest keys (dropping groups, then single changes), then the simplest value for each remaining
//! key — accepting a step only when the same rule still fires on the same resource (verdicts
//! compared by rule and resource, never by rendered bytes, so volatile charts shrink too).

use anyhow::Result;
use serde_json::{Value, json};

use super::overrides::{Change, ValueKey, canonical_json};

/// Asks whether a list of changes still produces the failure (`None` once the budget is spent).
pub trait FailureProbe {
    fn still_fails(&mut self, changes: &[Change]) -> Result<Option<bool>>;
}

impl<F: FnMut(&[Change]) -> Result<Option<bool>>> FailureProbe for F {
    fn still_fails(&mut self, changes: &[Change]) -> Result<Option<bool>> {
        self(changes)
    }
}

/// Reduce `changes` (which fail) to a smaller list that still fails. `unlikely`: changes to try
/// dropping all at once before anything else (those the failing resource's template does not
/// read); `moves`: keys under which the changes are dropped together next (the keys a planned
/// case changed).
pub fn shrink(mut changes: Vec<Change>, moves: &[Vec<String>], unlikely: &[Change], probe: &mut dyn FailureProbe) -> Result<Vec<Change>> {
    // Each candidate is asked about once (a string's reductions come back after every step).
    let mut tried: std::collections::HashSet<Vec<Change>> = std::collections::HashSet::new();
    let mut probe = |candidate: &[Change]| -> Result<Option<bool>> {
        if !tried.insert(candidate.to_vec()) {
            return Ok(Some(false));
        }
        probe.still_fails(candidate)
    };
    // A hint right costs one attempt for all the changes it names, and one attempt when wrong;
    // a hint naming every change is wrong.
    if !unlikely.is_empty() && changes.iter().any(|c| !unlikely.contains(c)) {
        let kept: Vec<Change> = changes.iter().filter(|c| !unlikely.contains(c)).cloned().collect();
        match probe(&kept)? {
            None => return Ok(changes),
            Some(true) => changes = kept,
            Some(false) => {}
        }
    }
    // Fewest keys: first whole moves (a planned `serviceMonitor: {}` over thirty defaults is
    // thirty deletions; dropping them one half at a time cost five renders on
    // kube-prometheus-stack where dropping the move costs one), then single changes.
    let units = by_move(&changes, moves);
    if units.len() > 1 && units.len() < changes.len() {
        let (kept, stopped) = drop_chunks(units, &mut probe)?;
        let kept: std::collections::HashSet<Change> = kept.into_iter().flatten().collect();
        changes.retain(|c| kept.contains(c));
        if stopped {
            return Ok(changes);
        }
    }
    let (kept, stopped) = drop_chunks(changes.into_iter().map(|c| vec![c]).collect(), &mut probe)?;
    changes = kept.concat();
    if stopped {
        return Ok(changes);
    }
    // Simplest values.
    for i in 0..changes.len() {
        let Some(current) = changes[i].value.clone() else { continue };
        let mut current = current.value();
        loop {
            let mut improved = false;
            for simpler in simpler_values(&current) {
                let mut candidate = changes.clone();
                candidate[i].value = Some(ValueKey::of(&simpler));
                match probe(&candidate)? {
                    None => return Ok(changes),
                    Some(true) => {
                        changes = candidate;
                        current = simpler;
                        improved = true;
                        break;
                    }
                    Some(false) => {}
                }
            }
            if !improved {
                break;
            }
        }
    }
    Ok(changes)
}

/// Drop chunks of `units` while the rest still fails, halving the chunk size down to single
/// units (delta debugging's complement step), and the units kept; `true` when the budget ran out.
fn drop_chunks(mut units: Vec<Vec<Change>>, probe: &mut dyn FnMut(&[Change]) -> Result<Option<bool>>) -> Result<(Vec<Vec<Change>>, bool)> {
    let mut chunk = units.len().div_ceil(2).max(1);
    loop {
        let mut start = 0;
        let mut removed_any = false;
        while start < units.len() {
            if units.len() == 1 {
                break;
            }
            let end = (start + chunk).min(units.len());
            let candidate: Vec<Vec<Change>> = units[..start].iter().chain(&units[end..]).cloned().collect();
            match probe(&candidate.concat())? {
                None => return Ok((units, true)),
                Some(true) => {
                    units = candidate;
                    removed_any = true;
                }
                Some(false) => start = end,
            }
        }
        if chunk == 1 && !removed_any {
            return Ok((units, false));
        }
        chunk = if removed_any { chunk.min(units.len().div_ceil(2)).max(1) } else { (chunk / 2).max(1) };
    }
}

/// The changes grouped by the first move whose key holds theirs (in order of first appearance;
/// a change under no move is a group of its own).
fn by_move(changes: &[Change], moves: &[Vec<String>]) -> Vec<Vec<Change>> {
    let mut groups: Vec<(Option<usize>, Vec<Change>)> = Vec::new();
    for c in changes {
        let m = moves.iter().position(|m| c.path.starts_with(m));
        match groups.iter_mut().find(|(g, _)| m.is_some() && *g == m) {
            Some((_, g)) => g.push(c.clone()),
            None => groups.push((m, vec![c.clone()])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Values simpler than `v` (strictly shorter canonical text, or a "smaller" scalar), simplest first.
pub fn simpler_values(v: &Value) -> Vec<Value> {
    let size = |x: &Value| canonical_json(x).len();
    let mut out: Vec<Value> = match v {
        Value::Bool(true) => vec![json!(false)],
        Value::Number(n) => {
            let mut c = vec![json!(0), json!(1)];
            if let Some(i) = n.as_i64()
                && i.abs() > 1
            {
                c.push(json!(i / 2));
            }
            c
        }
        Value::String(s) => {
            let mut c = vec![json!(""), json!("a")];
            let chars: Vec<char> = s.chars().collect();
            if chars.len() > 1 {
                c.push(json!(chars[..chars.len() / 2].iter().collect::<String>()));
                c.push(json!(chars[1..].iter().collect::<String>()));
                c.push(json!(chars[..chars.len() - 1].iter().collect::<String>()));
            }
            c
        }
        Value::Array(items) => {
            let mut c = vec![json!([])];
            if items.len() > 1 {
                c.push(json!([items[0].clone()]));
            }
            c.extend(items.iter().enumerate().filter_map(|(i, item)| {
                let simpler = simpler_values(item).into_iter().next()?;
                let mut copy = items.clone();
                copy[i] = simpler;
                Some(Value::Array(copy))
            }));
            c
        }
        Value::Object(m) => {
            let mut c = vec![json!({})];
            for k in m.keys() {
                let mut copy = m.clone();
                copy.remove(k);
                c.push(Value::Object(copy));
            }
            c
        }
        _ => Vec::new(),
    };
    let own = size(v);
    out.retain(|c| c != v && (size(c) < own || matches!((v, c), (Value::Number(_), Value::Number(_)))));
    if let Value::String(s) = v {
        out.extend(string_reductions(s).into_iter().map(Value::String));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(canonical_json(c)));
    out
}

/// Smaller forms of a string, for strings a contract constrains (`pattern`, lengths, `format`),
/// where the simplest values are rarely valid: the string with a chunk deleted (halves, quarters,
/// … single characters, at every position), then with one character replaced by `a` or `0`.
/// The caller keeps only candidates the contract accepts, so a string under a pattern shrinks to
/// a short valid string one valid step at a time.
pub fn string_reductions(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut chunk = chars.len() / 2;
    while chunk >= 1 {
        let mut start = 0;
        while start < chars.len() {
            let end = (start + chunk).min(chars.len());
            out.push(chars[..start].iter().chain(&chars[end..]).collect());
            start += chunk;
        }
        chunk /= 2;
    }
    for (i, c) in chars.iter().enumerate() {
        for simple in ['a', '0'] {
            if *c != 'a' && *c != '0' && (simple == 'a' || !c.is_ascii_lowercase()) {
                let mut copy = chars.clone();
                copy[i] = simple;
                out.push(copy.into_iter().collect());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(path: &str, v: Value) -> Change {
        Change::set(path.split('.').map(String::from).collect(), &v)
    }

    #[test]
    fn keeps_only_the_responsible_key_with_the_simplest_value() {
        let changes = vec![
            set("a", json!(true)),
            set("b", json!("x")),
            set("list", json!([1, 2, 3])),
            set("c", json!(7)),
            set("note", json!("hello: world # yes")),
            set("d", json!({"k": 1})),
        ];
        let mut renders = 0;
        let mut probe = |cs: &[Change]| -> Result<Option<bool>> {
            renders += 1;
            let note = cs.iter().find(|c| c.path == ["note"]).and_then(|c| c.value.as_ref()).map(|v| v.value());
            Ok(Some(note.and_then(|n| n.as_str().map(|s| s.contains(": "))).unwrap_or(false)))
        };
        let out = shrink(changes, &[], &[], &mut probe).unwrap();
        assert_eq!(out, vec![set("note", json!(": "))]);
        assert!(renders < 40, "{renders} probes");
    }

    #[test]
    fn two_keys_needed_together_both_stay() {
        let changes = vec![set("a", json!(true)), set("x", json!(1)), set("b", json!(true)), set("y", json!(2))];
        let mut probe = |cs: &[Change]| -> Result<Option<bool>> {
            let has = |k: &str| cs.iter().any(|c| c.path == [k]);
            Ok(Some(has("a") && has("b")))
        };
        let out = shrink(changes, &[], &[], &mut probe).unwrap();
        assert_eq!(out.iter().map(Change::dotted).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_string_under_a_pattern_shrinks_to_a_short_valid_string() {
        // Valid: lowercase words joined by single `.`, `_` or `-`; fails when it holds `_`.
        let valid = regex::Regex::new("^[a-z0-9]+([._-][a-z0-9]+)*$").unwrap();
        let long: String = (0..120).map(|i| format!("seg{i}")).collect::<Vec<_>>().join("-") + "_tail-end";
        let changes = vec![set("image", json!(long))];
        let mut renders = 0;
        let mut probe = |cs: &[Change]| -> Result<Option<bool>> {
            let v = cs[0].value.as_ref().unwrap().value();
            let s = v.as_str().unwrap().to_string();
            if !valid.is_match(&s) {
                return Ok(Some(false));
            }
            renders += 1;
            Ok(Some(s.contains('_')))
        };
        let out = shrink(changes, &[], &[], &mut probe).unwrap();
        let s = out[0].value.as_ref().unwrap().value().as_str().unwrap().to_string();
        assert_eq!(s, "a_a", "shortest valid string holding `_`, simplified");
        assert!(renders < 150, "{renders} renders");
    }

    #[test]
    fn a_move_that_made_many_changes_is_dropped_whole_first() {
        // A planned `sm: {}` over sixteen defaults (sixteen deletions), `x`, and `y` that fails.
        let mut changes: Vec<Change> = (0..16).map(|i| Change::delete(vec!["sm".into(), format!("k{i}")])).collect();
        changes.extend([set("x", json!(1)), set("y", json!(true))]);
        let moves = [vec!["sm".to_string()], vec!["x".to_string()], vec!["y".to_string()]];
        let run = |moves: &[Vec<String>]| {
            let mut probes = 0;
            let mut probe = |cs: &[Change]| -> Result<Option<bool>> {
                probes += 1;
                Ok(Some(cs.iter().any(|c| c.path == ["y"])))
            };
            let out = shrink(changes.clone(), moves, &[], &mut probe).unwrap();
            (out, probes)
        };
        let ((by_move, by_move_probes), (flat, flat_probes)) = (run(&moves), run(&[]));
        assert_eq!(by_move, vec![set("y", json!(true))]);
        assert_eq!(by_move, flat, "the same minimal override");
        assert!(by_move_probes < flat_probes, "{by_move_probes} probes by move, {flat_probes} change by change");
    }

    #[test]
    fn changes_the_template_does_not_read_go_first_and_a_wrong_hint_costs_one_attempt() {
        let changes = vec![set("a", json!(1)), set("b", json!(2)), set("c", json!(true)), set("d", json!(3))];
        let run = |unlikely: &[Change]| {
            let mut probes = Vec::new();
            let mut probe = |cs: &[Change]| -> Result<Option<bool>> {
                probes.push(cs.iter().map(Change::dotted).collect::<Vec<_>>().join(","));
                Ok(Some(cs.iter().any(|c| c.path == ["c"])))
            };
            let out = shrink(changes.clone(), &[], unlikely, &mut probe).unwrap();
            (out, probes)
        };
        let (plain, plain_probes) = run(&[]);
        assert_eq!(plain, vec![set("c", json!(true))]);
        // Right: one attempt drops the three (`true` has no simpler value).
        let (hinted, hinted_probes) = run(&[changes[0].clone(), changes[1].clone(), changes[3].clone()]);
        assert_eq!(hinted, plain);
        assert_eq!(hinted_probes, ["c"], "one attempt: drop a, b and d");
        assert!(hinted_probes.len() < plain_probes.len(), "{hinted_probes:?} against {plain_probes:?}");
        // Wrong (it names `c`): one attempt more, the same result.
        let (wrong, wrong_probes) = run(&[changes[2].clone()]);
        assert_eq!(wrong, plain);
        assert_eq!(wrong_probes[0], "a,b,d");
        assert_eq!(wrong_probes[1..], plain_probes[..]);
        // Naming every change: no attempt spent on it.
        assert_eq!(run(&changes).1, plain_probes);
    }

    #[test]
    fn stops_when_the_budget_is_spent() {
        let changes = vec![set("a", json!(1)), set("b", json!(2))];
        let mut probe = |_: &[Change]| -> Result<Option<bool>> { Ok(None) };
        assert_eq!(shrink(changes.clone(), &[], &[], &mut probe).unwrap(), changes);
    }
}
