//! `chartproof diff --output junit`: with `--each`, one testcase per values file (failed when the
//! upgrade breaks it, with every located reason); without, one testcase for the upgrade.

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::diff::DiffReport;

pub fn render(report: &DiffReport) -> anyhow::Result<String> {
    let name = |s: &crate::diff::SideInfo| format!("{} {}", s.chart, s.version.as_deref().unwrap_or(""));
    let mut suite = TestSuite::new(format!("chartproof diff {} -> {}", name(&report.old).trim(), name(&report.new).trim()));
    let case = |title: String, breaking: bool, reasons: &[String], notes: &[String]| {
        let status = if breaking {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(reasons.first().cloned().unwrap_or_default()).set_type("breaking upgrade");
            s.set_description(reasons.join("\n"));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut c = TestCase::new(title, status);
        if !notes.is_empty() {
            c.set_system_out(notes.join("\n"));
        }
        c
    };
    if report.files.is_empty() {
        let notes: Vec<String> = crate::diff::unaffected_note(&report.summary, false).into_iter().collect();
        suite.add_test_case(case("upgrade".into(), report.summary.failed, &report.failure_reasons(), &notes));
    }
    for f in &report.files {
        let mut notes = f.before.clone();
        if !f.relies_on_defaults.is_empty() {
            notes.push(format!("relies on changed defaults: {}", f.relies_on_defaults.join(", ")));
        }
        notes.extend(f.references.iter().map(|r| format!("{}: {}", r.display_id(), r.consumers)));
        suite.add_test_case(case(f.file.clone(), f.breaking, &f.reasons, &notes));
    }
    let mut out = Vec::new();
    super::junit::write_suites("diff", vec![suite], &mut out)?;
    Ok(String::from_utf8(out)?)
}
