//! Cobertura XML (`cobertura.xml`, coverage-04.dtd), as GitLab's and most CI coverage views read
//! it: one package per chart or subchart, one class per template file, a `<line>` per line that
//! writes output with its hits, and `branch="true"` with `condition-coverage` on the line of each
//! `if`/`with`/`range`. A control line that writes no output gets a `<line>` for its branches
//! (hits = times the structure ran); `lines-valid`/`line-rate` count only lines that write output.

use std::collections::BTreeMap;

use super::{Counts, FileCov, Report, report_path};

pub fn render(report: &Report) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" ?>\n<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n",
    );
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    out.push_str(&format!(
        "<coverage line-rate=\"{:.4}\" branch-rate=\"{:.4}\" lines-covered=\"{}\" lines-valid=\"{}\" branches-covered=\"{}\" branches-valid=\"{}\" complexity=\"0\" version=\"chartproof {}\" timestamp=\"{timestamp}\">\n",
        report.lines.rate(),
        report.branches.rate(),
        report.lines.hit,
        report.lines.found,
        report.branches.hit,
        report.branches.found,
        env!("CARGO_PKG_VERSION")
    ));
    let mut roots: Vec<&str> = report.charts.iter().map(|c| c.root.as_str()).collect();
    roots.dedup();
    out.push_str("  <sources>\n");
    for r in if roots.len() == 1 { roots } else { vec!["."] } {
        let abs = std::path::absolute(r)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| r.to_string());
        out.push_str(&format!("    <source>{}</source>\n", esc(&abs)));
    }
    out.push_str("  </sources>\n  <packages>\n");
    for chart in &report.charts {
        out.push_str(&format!(
            "    <package name=\"{}\" line-rate=\"{:.4}\" branch-rate=\"{:.4}\" complexity=\"0\">\n      <classes>\n",
            esc(&chart.name),
            chart.lines.rate(),
            chart.branches.rate()
        ));
        for file in &chart.files {
            let path = report_path(report, chart, file);
            out.push_str(&format!(
                "        <class name=\"{}\" filename=\"{}\" line-rate=\"{:.4}\" branch-rate=\"{:.4}\" complexity=\"0\">\n          <methods/>\n          <lines>\n",
                esc(&path),
                esc(&path),
                file.lines.rate(),
                file.branches.rate()
            ));
            for (line, (hits, branches)) in lines_of(file) {
                match branches {
                    Some(b) => out.push_str(&format!(
                        "            <line number=\"{line}\" hits=\"{hits}\" branch=\"true\" condition-coverage=\"{}% ({}/{})\"/>\n",
                        (b.percent()).floor() as u64,
                        b.hit,
                        b.found
                    )),
                    None => out.push_str(&format!("            <line number=\"{line}\" hits=\"{hits}\" branch=\"false\"/>\n")),
                }
            }
            out.push_str("          </lines>\n        </class>\n");
        }
        out.push_str("      </classes>\n    </package>\n");
    }
    out.push_str("  </packages>\n</coverage>\n");
    out
}

/// Every line with a `<line>` element: its hits and, on a control line, its branches.
fn lines_of(file: &FileCov) -> BTreeMap<usize, (u64, Option<Counts>)> {
    let mut lines: BTreeMap<usize, (u64, Option<Counts>)> = file
        .line_hits
        .iter()
        .map(|l| (l.line, (l.hits, None)))
        .collect();
    let mut reached: BTreeMap<usize, u64> = BTreeMap::new();
    for b in &file.branch_hits {
        let entry = lines.entry(b.line).or_insert((0, None));
        let counts = entry.1.get_or_insert_with(Counts::default);
        counts.found += 1;
        if b.taken.unwrap_or(0) > 0 {
            counts.hit += 1;
        }
        // Times the structure ran: the sum over its branches, except a range's "some
        // iterations", which counts iterations (then the structure ran at least once).
        let n = b.taken.unwrap_or(0);
        let r = reached.entry(b.line).or_default();
        *r += if b.label.starts_with("range: some") {
            n.min(1)
        } else {
            n
        };
    }
    let output_lines: std::collections::BTreeSet<usize> =
        file.line_hits.iter().map(|l| l.line).collect();
    for (line, n) in reached {
        if !output_lines.contains(&line) {
            lines.get_mut(&line).unwrap().0 = n;
        }
    }
    lines
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
