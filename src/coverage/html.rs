//! `index.html`: one self-contained page (inline CSS, no script, no network): a summary table
//! per chart and per template, then every template's source with each counted line shaded by its
//! hits (green run, red never run, plain for lines that write nothing) and each `if`/`with`/
//! `range` line marked with its branches and the times each was taken.

use std::collections::BTreeMap;

use super::cobertura::esc;
use super::{BranchCov, Counts, Report, pct, report_path};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
td.n{text-align:right}.bar{display:inline-block;width:8em;height:.8em;background:#f3c4c4;vertical-align:middle}\
.bar span{display:block;height:100%;background:#6cc070}\
pre{margin:0;font-size:13px;line-height:1.35}.src{border:1px solid #ccc;margin-bottom:2em}\
.l{display:flex;white-space:pre}.ln{width:4em;text-align:right;color:#888;padding-right:.6em;flex:none}\
.h{width:4em;text-align:right;color:#555;padding-right:.6em;flex:none}\
.hit{background:#dff5df}.miss{background:#f9d6d6}.partial{background:#fbefc5}\
.br{display:inline-block;margin-left:1em;padding:0 .4em;border-radius:3px;font-size:11px}\
.br.t{background:#6cc070;color:#fff}.br.f{background:#d9534f;color:#fff}.br.u{background:#999;color:#fff}\
h2{margin-top:2em}.notes li{color:#8a4b00}";

fn bar(c: Counts) -> String {
    format!(
        "<span class=\"bar\"><span style=\"width:{:.1}%\"></span></span>",
        c.percent()
    )
}

fn counts_cells(c: Counts) -> String {
    format!(
        "<td class=\"n\">{}</td><td class=\"n\">{}/{}</td>",
        pct(c),
        c.hit,
        c.found
    )
}

pub fn render(report: &Report) -> String {
    let mut h = String::new();
    h.push_str(&format!("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Template coverage</title><style>{STYLE}</style></head><body>\n"));
    h.push_str(&format!(
        "<h1>Template coverage</h1>\n<p id=\"summary\">{}</p>\n",
        esc(&report.summary())
    ));
    h.push_str(&format!(
        "<p>chartproof {}: {} instrumented renders.</p>\n",
        esc(&report.command),
        report.instrumented_renders
    ));
    h.push_str("<h2>Charts</h2>\n<table id=\"charts\"><tr><th>Chart</th><th>Folder</th><th>Templates</th><th></th><th>Lines</th><th></th><th></th><th>Branches</th><th></th></tr>\n");
    for c in &report.charts {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td>{}<td>{}</td>{}</tr>\n",
            esc(&c.name),
            esc(&c.path),
            c.files.len(),
            bar(c.lines),
            counts_cells(c.lines),
            bar(c.branches),
            counts_cells(c.branches)
        ));
    }
    h.push_str("</table>\n<h2>Templates</h2>\n<table id=\"templates\"><tr><th>Template</th><th>Chart</th><th></th><th>Lines</th><th></th><th></th><th>Branches</th><th></th></tr>\n");
    let mut anchor = 0;
    for c in &report.charts {
        for f in &c.files {
            let path = report_path(report, c, f);
            h.push_str(&format!(
                "<tr><td><a href=\"#f{anchor}\">{}</a></td><td>{}</td><td>{}</td>{}<td>{}</td>{}</tr>\n",
                esc(&path),
                esc(&c.name),
                bar(f.lines),
                counts_cells(f.lines),
                bar(f.branches),
                counts_cells(f.branches)
            ));
            anchor += 1;
        }
    }
    h.push_str("</table>\n");
    if !report.notes.is_empty() {
        h.push_str("<h2>Notes</h2>\n<ul class=\"notes\">\n");
        for n in &report.notes {
            h.push_str(&format!("<li>{}</li>\n", esc(n)));
        }
        h.push_str("</ul>\n");
    }
    let mut anchor = 0;
    for c in &report.charts {
        for f in &c.files {
            let path = report_path(report, c, f);
            h.push_str(&format!("<h3 id=\"f{anchor}\">{} <small>{} of lines, {} of branches</small></h3>\n<div class=\"src\"><pre>", esc(&path), pct(f.lines), pct(f.branches)));
            anchor += 1;
            let hits: BTreeMap<usize, u64> = f.line_hits.iter().map(|l| (l.line, l.hits)).collect();
            let mut branches: BTreeMap<usize, Vec<&BranchCov>> = BTreeMap::new();
            for b in &f.branch_hits {
                branches.entry(b.line).or_default().push(b);
            }
            for (i, text) in f.source.lines().enumerate() {
                let n = i + 1;
                let (class, count) = match (hits.get(&n), branches.get(&n)) {
                    (Some(0), _) => ("miss", "0".to_string()),
                    (Some(k), Some(bs)) if bs.iter().any(|b| b.taken.unwrap_or(0) == 0) => {
                        ("partial", k.to_string())
                    }
                    (Some(k), _) => ("hit", k.to_string()),
                    (None, Some(bs)) if bs.iter().all(|b| b.taken.unwrap_or(0) > 0) => {
                        ("hit", String::new())
                    }
                    (None, Some(bs)) if bs.iter().all(|b| b.taken.unwrap_or(0) == 0) => {
                        ("miss", String::new())
                    }
                    (None, Some(_)) => ("partial", String::new()),
                    (None, None) => ("", String::new()),
                };
                let marks: String = branches.get(&n).map(|bs| bs.iter().map(|b| {
                    let (cls, t) = match b.taken {
                        None => ("u", "never reached".to_string()),
                        Some(0) => ("f", "0".to_string()),
                        Some(k) => ("t", format!("{k}")),
                    };
                    format!("<span class=\"br {cls}\" title=\"branch {} of block {}\">{}: {t}</span>", b.branch, b.block, esc(&b.label))
                }).collect()).unwrap_or_default();
                h.push_str(&format!("<div class=\"l {class}\"><span class=\"ln\">{n}</span><span class=\"h\">{count}</span><span>{}{marks}</span></div>", esc(text)));
            }
            h.push_str("</pre></div>\n");
        }
    }
    h.push_str("</body></html>\n");
    h
}
