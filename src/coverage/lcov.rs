//! LCOV tracefile (`lcov.info`): `SF:` per template file (relative to the chart), `BRDA:` per
//! branch (`-` when its `if`/`with`/`range` never ran), `DA:` per line that writes output, as
//! geninfo(1) documents the format.

use super::{Report, report_path};

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for chart in &report.charts {
        for file in &chart.files {
            out.push_str(&format!("TN:{}\n", tn(&chart.name)));
            out.push_str(&format!("SF:{}\n", report_path(report, chart, file)));
            for b in &file.branch_hits {
                let taken = b.taken.map_or("-".to_string(), |n| n.to_string());
                out.push_str(&format!(
                    "BRDA:{},{},{},{}\n",
                    b.line, b.block, b.branch, taken
                ));
            }
            out.push_str(&format!(
                "BRF:{}\nBRH:{}\n",
                file.branches.found, file.branches.hit
            ));
            for l in &file.line_hits {
                out.push_str(&format!("DA:{},{}\n", l.line, l.hits));
            }
            out.push_str(&format!(
                "LF:{}\nLH:{}\nend_of_record\n",
                file.lines.found, file.lines.hit
            ));
        }
    }
    out
}

/// A test name LCOV accepts (letters, digits, underscores).
fn tn(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
