//! JUnit XML report: one testcase per resource × rule (failed for error findings, passed with
//! the message for warnings and infos), plus a passing testcase per clean resource.

use std::collections::BTreeMap;
use std::io::Write;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::rules::{Finding, Severity};

pub fn write(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    write_suites(report.command, vec![suite(report)], out)
}

/// One JUnit document of several suites (one per chart or scenario of a run).
pub fn write_suites(command: &str, suites: Vec<TestSuite>, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut junit = quick_junit::Report::new(format!("chartproof {command}"));
    junit.add_test_suites(suites);
    junit.serialize(&mut *out)?;
    writeln!(out)?;
    Ok(())
}

/// A suite that could not run: one errored testcase carrying why.
pub fn unusable_suite(command: &str, subject: &str, error: &str) -> TestSuite {
    let mut suite = TestSuite::new(format!("chartproof {command} {subject}"));
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(error.to_string()).set_type("unusable input");
    suite.add_test_case(TestCase::new(format!("{subject}: unusable input"), status));
    suite
}

/// The report's testsuite.
pub fn suite(report: &Report) -> TestSuite {
    let mut groups: BTreeMap<(String, String), Vec<&Finding>> = BTreeMap::new();
    for f in report.findings {
        groups.entry((f.resource_id(), f.rule.clone())).or_default().push(f);
    }
    let mut suite = TestSuite::new(format!("chartproof {} {}", report.command, report.subject));
    for (id, class) in report.qos {
        suite.add_property(quick_junit::Property::new(format!("qos {id}"), class.to_string()));
    }
    for ((resource, rule), findings) in &groups {
        let text = findings
            .iter()
            .map(|f| format!("[{}] {}{}", f.severity, f.path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default(), f.message))
            .collect::<Vec<_>>()
            .join("\n");
        let status = if findings.iter().any(|f| f.severity == Severity::Error) {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(findings[0].message.clone()).set_type(rule.clone());
            let hint = findings[0].hint().map(|h| format!("\nfix: {h}")).unwrap_or_default();
            s.set_description(format!("{text}{hint}"));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(format!("{resource}: {rule}"), status);
        case.set_classname(findings[0].template.clone().unwrap_or_else(|| resource.clone()));
        if !findings.iter().any(|f| f.severity == Severity::Error) {
            case.set_system_out(text);
        }
        suite.add_test_case(case);
    }
    let flagged: std::collections::BTreeSet<&str> = groups.keys().map(|(r, _)| r.as_str()).collect();
    for resource in report.resources.iter().filter(|r| !flagged.contains(r.as_str())) {
        let mut case = TestCase::new(format!("{resource}: all rules"), TestCaseStatus::success());
        case.set_classname(resource.clone());
        suite.add_test_case(case);
    }
    suite
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn one_case_per_resource_and_rule() {
        let f = sample::findings();
        let resources = vec!["Deployment/prod/web".to_string(), "Service/prod/web".to_string()];
        let r = Report { command: "check", subject: "demo", release: "release", findings: &f, suppressed: &[], qos: &[], resources: &resources, sources: None };
        let mut buf = Vec::new();
        write(&r, &mut buf).unwrap();
        let xml = String::from_utf8(buf).unwrap();
        assert!(xml.contains("tests=\"3\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("Deployment/prod/web: image-digest"));
        assert!(xml.contains("Service/prod/web: all rules"));
        assert!(xml.contains("&lt;&amp;&gt;"), "escaped: {xml}");
    }
}
