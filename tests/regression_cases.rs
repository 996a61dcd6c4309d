//! The saved regression cases of the reference chart (`cases/go-service/`, found by
//! `chartproof test` on earlier versions of `charts/go-service`) replay without a failure on the
//! current chart, with every helm under test: each bug they once exposed stays fixed.

mod common;

use serde_json::Value;

#[test]
fn go_service_regression_cases_stay_fixed() {
    let cases_dir = common::repo().join("cases/go-service");
    let saved = std::fs::read_dir(&cases_dir).expect("cases/go-service").filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))).count();
    assert!(saved >= 10, "expected the saved go-service cases, found {saved}");
    for helm in common::helms() {
        let out = common::chartproof(&helm)
            .args(["test", common::chart("go-service").to_str().unwrap(), "--cases", "1", "--no-save", "--cases-dir", cases_dir.to_str().unwrap(), "-o", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(report["coverage"]["replayed_cases"], saved, "{}: every saved case is replayed", helm.display());
        assert_eq!(report["coverage"]["replayed_still_failing"], 0, "{}: {:#}", helm.display(), report["failures"]);
        assert_eq!(out.status.code(), Some(0), "{}", helm.display());
    }
}
