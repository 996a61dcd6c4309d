//! Template branches a set of value overrides reaches, by the same estimate `chartproof test`
//! prints (`generate::branches`: the chart's own `if`/`with`/`range` conditions evaluated on the
//! merged values, no render). `scripts/search-power` runs it on the overrides each `test` run
//! rendered, so a build without the branch counter is measured the same way as one with it.
//!
//!   cargo run --release --example branch_reach -- CHART [-f BASE.yaml]… -- OVERRIDE.json…
//!
//! Prints `reached R of T` for the defaults plus every override (chart defaults, then the `-f`
//! files, then the override, coalesced as helm does: maps merge, `null` deletes). With
//! `BRANCH_REACH_LIST=1` it first lists the outcomes reached (`taken TEMPLATE:LINE BRANCH`), with
//! `BRANCH_REACH_LIST=all` every outcome of the chart too (`site …`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chartproof::chart::Chart;
use chartproof::chart::merge::coalesce;
use chartproof::chart::values::ValuesDoc;
use chartproof::generate::branches::BranchModel;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(split) = args.iter().position(|a| a == "--") else {
        bail!("usage: branch_reach CHART [-f BASE.yaml]… -- OVERRIDE.json…");
    };
    let (head, overrides) = (&args[..split], &args[split + 1..]);
    let Some(chart_arg) = head.first() else {
        bail!("usage: branch_reach CHART [-f BASE.yaml]… -- OVERRIDE.json…");
    };
    let chart = Chart::load(Path::new(chart_arg))?;
    let mut base = chart.values.value.clone();
    let mut rest = head[1..].iter();
    while let Some(flag) = rest.next() {
        let (Some(file), true) = (rest.next(), flag == "-f") else {
            bail!("unexpected argument {flag}: only `-f FILE` goes before `--`");
        };
        coalesce(&mut base, &ValuesDoc::load(&PathBuf::from(file))?.value);
    }
    let values_text = std::fs::read_to_string(&chart.values.file).ok();
    let model = BranchModel::of_chart(&chart.dir, values_text.as_deref());
    let mut taken: BTreeSet<usize> = model.reach(&base).taken;
    for file in overrides {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read override {file}"))?;
        let over: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{file}: not JSON"))?;
        let mut merged = base.clone();
        coalesce(&mut merged, &over);
        taken.extend(model.reach(&merged).taken);
    }
    // Which outcomes, to diff against a run's `coverage.estimated_branches.not_reached`.
    let list = std::env::var("BRANCH_REACH_LIST").unwrap_or_default();
    if list == "all" {
        for s in &model.sites {
            println!("site {}:{} {}", s.file, s.line, s.label);
        }
    }
    if !list.is_empty() {
        for s in taken.iter().map(|&i| &model.sites[i]) {
            println!("taken {}:{} {}", s.file, s.line, s.label);
        }
    }
    println!("reached {} of {}", taken.len(), model.sites.len());
    Ok(())
}
