//! `chartproof test` end to end with real helm (every helm in CHARTPROOF_TEST_HELMS): latent
//! defects found, shrunk, saved and replayed; a guarded chart passing; determinism; sharding;
//! charts that need base values.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

fn chartproof_test(helm: &Path, chart: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::cargo_bin("chartproof")
        .unwrap()
        .arg("test")
        .arg(chart)
        .args(["--helm", helm.to_str().unwrap(), "-o", "json"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// Every file of a chart except its cases/ folder, with contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new("cases") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn failures(report: &Value) -> Vec<Value> {
    report["failures"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(fs: &'a [Value], rule: &str, template_suffix: Option<&str>) -> Option<&'a Value> {
    fs.iter().find(|f| f["rule"] == rule && template_suffix.is_none_or(|t| f["template"].as_str().is_some_and(|s| s.ends_with(t))))
}

#[test]
fn latent_defects_are_found_shrunk_saved_replayed_and_fixed() {
    for (i, helm) in common::helms().iter().enumerate() {
        let tmp = common::copy_chart(&common::chart("fixtures/latent-defects"));
        let chart = tmp.path().to_path_buf();
        let _ = std::fs::remove_dir_all(chart.join("cases")); // cases a local run may have left
        let before = snapshot(&chart);
        // The full 300-case acceptance run with the first helm; fewer cases (still past every
        // one-key change) with the others to keep the suite fast.
        let cases = if i == 0 { "300" } else { "50" };
        let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", cases, "--seed", "7"]);
        assert_eq!(code, 1, "{}: {stderr}", helm.display());
        assert_eq!(report["cases_run"], json!(cases.parse::<u64>().unwrap()));
        let fs = failures(&report);
        let expect = [
            ("selector-mismatch", None, json!({"canary": true})),
            ("probe-readiness", None, json!({"readinessProbe": {"enabled": false}})),
            ("render-error", Some("templates/deployment.yaml"), json!({"hosts": []})),
        ];
        for (rule, template, values) in expect {
            let f = find(&fs, rule, template).unwrap_or_else(|| panic!("{}: no {rule} in {fs:#?}", helm.display()));
            assert_eq!(f["values"], values, "{rule} shrunk to the responsible key");
            assert_eq!(f["status"], "new");
        }
        let greeting = find(&fs, "render-error", Some("templates/configmap.yaml")).expect("unquoted string found");
        assert_eq!(greeting["values"].as_object().unwrap().keys().collect::<Vec<_>>(), ["greeting"]);
        let resources = find(&fs, "resources-requests", None).expect("empty resources found");
        assert_eq!(resources["values"]["resources"]["requests"], Value::Null);
        assert_eq!(resources["values"].as_object().unwrap().keys().collect::<Vec<_>>(), ["resources"]);
        for f in &fs {
            assert_eq!(f["values"].as_object().unwrap().len(), 1, "one key per failure: {f}");
            assert!(f["replay"].as_str().unwrap().contains("--replay"), "{f}");
        }
        // Each saved as a case; nothing else in the chart changed.
        let saved: Vec<PathBuf> = std::fs::read_dir(chart.join("cases")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(saved.len(), fs.len());
        // Nothing else in the chart changed but `.helmignore`, which gained `cases/` (its old
        // content kept) so that `helm package` leaves the saved cases out.
        let (mut after, mut before) = (snapshot(&chart), before.clone());
        let old_ignore = before.remove(Path::new(".helmignore")).unwrap_or_default();
        let ignore = after.remove(Path::new(".helmignore")).expect(".helmignore written");
        assert!(ignore.starts_with(&old_ignore) && String::from_utf8_lossy(&ignore).ends_with("\ncases/\n"), "{}", String::from_utf8_lossy(&ignore));
        assert_eq!(after, before, "chart modified outside cases/ and .helmignore");
        if i == 0 {
            let packaged = tempfile::tempdir().unwrap();
            let out = std::process::Command::new(helm).arg("package").arg(&chart).arg("-d").arg(packaged.path()).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let tgz = std::fs::read_dir(packaged.path()).unwrap().next().unwrap().unwrap().path();
            let listing = std::process::Command::new("tar").arg("-tzf").arg(&tgz).output().unwrap();
            let listing = String::from_utf8_lossy(&listing.stdout);
            assert!(listing.contains("templates/deployment.yaml") && !listing.contains("/cases/"), "{listing}");
        }

        // Replaying reproduces each failure.
        let (code, replayed, _) = chartproof_test(helm, &chart, &["--cases", "1"]);
        assert_eq!(code, 1);
        assert_eq!(replayed["coverage"]["replayed_cases"], json!(fs.len()));
        assert_eq!(replayed["coverage"]["replayed_still_failing"], json!(fs.len()));
        assert!(failures(&replayed).iter().all(|f| f["status"] == "saved-case"));
        let one = saved.iter().find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("probe-readiness")).unwrap();
        let (code, single, _) = chartproof_test(helm, &chart, &["--replay", one.to_str().unwrap()]);
        assert_eq!((code, failures(&single).len()), (1, 1));

        // Fixing the chart makes the replay pass.
        let fix = |file: &str, from: &str, to: &str| {
            let p = chart.join("templates").join(file);
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.contains(from), "{file} lacks {from:?}");
            std::fs::write(&p, text.replace(from, to)).unwrap();
        };
        fix("deployment.yaml", "app.kubernetes.io/name: {{ .Chart.Name }}-canary", "app.kubernetes.io/name: {{ .Chart.Name }}\n        track: canary");
        fix("deployment.yaml", "{{- if .Values.readinessProbe.enabled }}", "{{- if true }}");
        fix("deployment.yaml", "{{ index .Values.hosts 0 | quote }}", "{{ first .Values.hosts | default \"\" | quote }}");
        // Resources default per key, and the memory limit is the request (never below it).
        fix("deployment.yaml", "{{- with .Values.resources }}", "{{- $resources := mergeOverwrite (dict \"requests\" (dict \"cpu\" \"100m\" \"memory\" \"128Mi\") \"limits\" (dict \"memory\" \"128Mi\")) .Values.resources }}\n          {{- $_ := set $resources.limits \"memory\" $resources.requests.memory }}\n          {{- with $resources }}");
        fix("configmap.yaml", "greeting: {{ .Values.greeting }}", "greeting: {{ .Values.greeting | quote }}");
        let (code, fixed, stderr) = chartproof_test(helm, &chart, &["--cases", "1"]);
        assert_eq!(code, 0, "{stderr}\n{fixed:#}");
        assert_eq!(fixed["coverage"]["replayed_cases"], json!(fs.len()));
        assert_eq!(fixed["coverage"]["replayed_still_failing"], json!(0));
        assert_eq!(fixed["coverage"]["pruned_cases"], json!(0), "cases are kept unless --prune-cases");
        // --prune-cases deletes the saved cases that now pass.
        let (code, pruned, stderr) = chartproof_test(helm, &chart, &["--cases", "1", "--prune-cases"]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(pruned["coverage"]["pruned_cases"], json!(fs.len()));
        assert_eq!(std::fs::read_dir(chart.join("cases")).unwrap().count(), 0);
    }
}

#[test]
fn a_contract_that_forbids_the_defects_passes() {
    for (i, helm) in common::helms().iter().enumerate() {
        let tmp = common::copy_chart(&common::chart("fixtures/latent-defects-guarded"));
        let chart = tmp.path().to_path_buf();
        let cases = if i == 0 { "300" } else { "50" };
        let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", cases, "--seed", "7"]);
        assert_eq!(code, 0, "{}: {stderr}\n{report:#}", helm.display());
        assert!(failures(&report).is_empty());
        assert_eq!(report["cases_run"], json!(cases.parse::<u64>().unwrap()));
        assert!(report["coverage"]["candidates_rejected"].as_u64().unwrap() > 0, "the contract rejected the defect values");
        assert!(!chart.join("cases").exists(), "nothing to save");
    }
}

#[test]
fn same_seed_same_report_whatever_the_job_count() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects");
    let args = |jobs: &'static str| ["--cases", "40", "--seed", "11", "--no-save", "--cases-dir", "/nonexistent-cases", "--jobs", jobs];
    let (c1, r1, _) = chartproof_test(helm, &chart, &args("1"));
    let (c2, r2, _) = chartproof_test(helm, &chart, &args("3"));
    assert_eq!(c1, 1);
    assert_eq!((c1, &r1), (c2, &r2));
    assert!(!chart.join("cases").exists());
}

#[test]
fn shards_split_the_plan() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects-guarded");
    let run = |shard: &str| chartproof_test(helm, &chart, &["--cases", "30", "--shard", shard, "--no-save"]).1;
    let (a, b) = (run("1/2"), run("2/2"));
    assert_eq!(a["coverage"]["cases_planned"], json!(30));
    assert_eq!(a["cases_run"].as_u64().unwrap() + b["cases_run"].as_u64().unwrap(), 30);
    assert_eq!(a["coverage"]["shard"], "1/2");
}

#[test]
fn human_output_has_override_and_replay_per_failure() {
    let helm = &common::helms()[0];
    let tmp = tempfile::tempdir().unwrap();
    let chart = common::chart("fixtures/latent-defects");
    let out = Command::cargo_bin("chartproof")
        .unwrap()
        .args(["test", chart.to_str().unwrap(), "--cases", "25", "--helm", helm.to_str().unwrap(), "--cases-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let blocks = text.matches("\nFAIL ").count() + usize::from(text.starts_with("FAIL "));
    assert!(blocks >= 2, "{text}");
    assert_eq!(text.matches("  minimal override:").count(), blocks);
    assert_eq!(text.matches("  replay: chartproof test ").count(), blocks);
    assert!(text.contains("values paths varied"), "{text}");
    assert!(text.contains("result: "), "{text}");
}

#[test]
fn chart_failing_at_defaults_says_so_in_one_line_and_runs_with_base_values() {
    let chart = common::chart("fixtures/needs-base-values");
    for helm in common::helms() {
        let (code, _, stderr) = chartproof_test(&helm, &chart, &["--cases", "5", "--no-save"]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("does not render at its defaults") && stderr.contains("Please define storage.bucket") && stderr.contains("-f FILE"), "{stderr}");
        let base = chart.join("ci/base-values.yaml");
        let (code, report, stderr) = chartproof_test(&helm, &chart, &["--cases", "20", "--no-save", "-f", base.to_str().unwrap()]);
        assert_eq!(report["cases_run"], json!(20), "{stderr}");
        // Emptying the bucket again is a real failure of a generated case, not of every case.
        let fs = failures(&report);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(fs.len(), 1, "{fs:#?}");
        assert_eq!(fs[0]["rule"], "render-error");
        let touched = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!((touched(&fs[0]["values"]), touched(&fs[0]["values"]["storage"])), (vec!["storage".to_string()], vec!["bucket".to_string()]));
        assert!(fs[0]["replay"].as_str().unwrap().contains("-f "), "replay keeps the base values");
    }
}

#[test]
fn ci_formats_carry_each_failure_with_its_override() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects");
    let run = |format: &str| {
        let out = Command::cargo_bin("chartproof")
            .unwrap()
            .args(["test", chart.to_str().unwrap(), "--cases", "12", "--seed", "3", "--no-save", "--helm", helm.to_str().unwrap(), "-o", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        String::from_utf8(out.stdout).unwrap()
    };
    let github = run("github");
    // Annotations point at the chart's real template file, relative to the working directory (the repository root here).
    assert!(github.lines().any(|l| l.starts_with("::error file=charts/fixtures/latent-defects/templates/deployment.yaml,") && l.contains("title=probe-readiness")), "{github}");
    assert!(github.contains("minimal override: {\"readinessProbe\":{\"enabled\":false}}"), "{github}");
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["runs"][0]["results"].as_array().unwrap().iter().any(|r| r["ruleId"] == "probe-readiness"));
    let junit = run("junit");
    assert!(junit.starts_with("<?xml") && junit.contains("probe-readiness") && junit.contains("<failure"), "{junit}");
}

#[test]
fn a_render_that_hangs_is_killed_and_fails_that_case() {
    let helm = &common::helms()[0];
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(
        tmp.path(),
        &[
            ("chart/Chart.yaml", "apiVersion: v2\nname: slow\nversion: 0.1.0\n"),
            ("chart/values.yaml", "slow: false\n"),
            ("chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-slow\ndata:\n  slow: {{ .Values.slow | quote }}\n"),
        ],
    );
    // The real helm, except that a render of `slow: true` never finishes (a sleep far beyond the
    // timeout, whatever the machine's speed); the timeout must kill it and fail that case.
    let wrapper = tmp.path().join("helm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\nfor arg in \"$@\"; do\n  if [ -f \"$arg\" ] && grep -q '\"slow\": true' \"$arg\"; then exec sleep 600; fi\ndone\nexec '{}' \"$@\"\n",
            helm.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let (code, report, stderr) = chartproof_test(&wrapper, &tmp.path().join("chart"), &["--cases", "3", "--helm-timeout", "1", "--no-save"]);
    assert_eq!(code, 1, "{stderr}");
    let fs = failures(&report);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0]["rule"], "render-error");
    assert!(fs[0]["message"].as_str().unwrap().contains("did not finish within 1s and was killed"), "{fs:#?}");
    assert_eq!(fs[0]["values"], json!({"slow": true}));
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "each hung render is killed after 1 s: {:?}", started.elapsed());
}

#[test]
fn time_budget_stops_cleanly_with_the_coverage_so_far() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects-guarded");
    let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", "300", "--time-budget", "1s", "--no-save"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["coverage"]["stopped"], "time budget");
    let run = report["cases_run"].as_u64().unwrap();
    assert!((1..300).contains(&run), "{run}");
    // However far planning got before the budget ran out (on a loaded machine, not far), what
    // could have been checked is the 300 asked for.
    assert_eq!(report["coverage"]["cases_to_check"], json!(300));
    assert!(report["coverage"]["cases_planned"].as_u64().unwrap() <= 300);
    // The human report says how much of the plan was checked.
    let out = Command::cargo_bin("chartproof").unwrap().args(["test", chart.to_str().unwrap(), "--cases", "300", "--time-budget", "1s", "--no-save", "--helm", helm.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.contains(" of 300 cases checked (time budget; ")), "{text}");
}

#[test]
fn a_run_that_checked_no_case_does_not_pass() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects-guarded");
    // Shard 2 of 2 does not hold the defaults case (already rendered before the budget counts):
    // with no time at all, it checks nothing.
    let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", "20", "--time-budget", "0", "--shard", "2/2", "--no-save"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!((&report["cases_run"], &report["coverage"]["cases_to_check"]), (&json!(0), &json!(10)));
    let out = Command::cargo_bin("chartproof")
        .unwrap()
        .args(["test", chart.to_str().unwrap(), "--cases", "20", "--time-budget", "0", "--shard", "2/2", "--no-save", "--helm", helm.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 of 10 cases checked (time budget; ") && text.contains("result: nothing checked"), "{text}");
    // The shard that holds the defaults has checked that case, whatever the budget.
    let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", "20", "--time-budget", "0", "--shard", "1/2", "--no-save"]);
    assert_eq!((code, &report["cases_run"]), (0, &json!(1)), "{stderr}");
}

#[test]
fn templates_that_do_not_parse_fail_like_check_does() {
    for helm in common::helms() {
        let tmp = tempfile::tempdir().unwrap();
        common::write_files(
            tmp.path(),
            &[
                ("Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n"),
                ("values.yaml", "name: x\n"),
                ("templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ nosuchfn .Values.name }}\n"),
            ],
        );
        let check = Command::cargo_bin("chartproof").unwrap().args(["check", tmp.path().to_str().unwrap(), "--helm", helm.to_str().unwrap()]).output().unwrap();
        let (code, report, stderr) = chartproof_test(&helm, tmp.path(), &["--cases", "5", "--no-save"]);
        assert_eq!(Some(code), check.status.code(), "{stderr}");
        assert_eq!(code, 1);
        let fs = failures(&report);
        assert_eq!(fs.len(), 1, "{fs:#?}");
        assert_eq!((&fs[0]["rule"], &fs[0]["status"], &fs[0]["template"]), (&json!("render-error"), &json!("default"), &json!("broken/templates/cm.yaml")));
        assert!(fs[0]["message"].as_str().unwrap().contains("function \"nosuchfn\" not defined"), "{fs:#?}");
        let out = Command::cargo_bin("chartproof").unwrap().args(["test", tmp.path().to_str().unwrap(), "--no-save", "--helm", helm.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("templates do not parse") && !text.contains("-f FILE") && !String::from_utf8_lossy(&out.stderr).contains("-f FILE"), "{text}");
    }
}

#[test]
fn ctrl_c_stops_the_workers_and_reports_what_was_found() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("chartproof"))
        .args(["test", chart.to_str().unwrap(), "--cases", "300", "--cases-dir", "/nonexistent-cases", "--helm", helm.to_str().unwrap(), "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["coverage"]["stopped"], "interrupted");
    assert!(report["cases_run"].as_u64().unwrap() < 300);
    // What was found is reported, unshrunk, and nothing is saved.
    assert!(failures(&report).iter().all(|f| f["status"] == "unshrunk" && f["case_file"].is_null()));
    assert!(!Path::new("/nonexistent-cases").exists());
}

/// `helm create`'s chart, generated by the helm under test.
fn helm_create_chart(helm: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(helm).arg("create").arg(tmp.path().join("mychart")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tmp
}

#[test]
fn failures_are_identified_by_cause_not_by_the_names_values_rename() {
    let helm = &common::helms()[0];
    let tmp = helm_create_chart(helm);
    let chart = tmp.path().join("mychart");
    let (code, report, stderr) = chartproof_test(helm, &chart, &["--cases", "120", "--seed", "1", "--no-save"]);
    assert_eq!(code, 1, "{stderr}");
    let fs = failures(&report);
    // The chart's default failures (no resources, no runAsNonRoot, no default-deny policy) are
    // each reported once, with no override, whatever nameOverride/fullnameOverride rename.
    for rule in ["resources-limits", "resources-requests", "run-as-non-root", "networkpolicy-default-deny"] {
        let of_rule: Vec<&Value> = fs.iter().filter(|f| f["rule"] == rule).collect();
        assert_eq!(of_rule.len(), 1, "{rule}: {of_rule:#?}");
        assert_eq!((&of_rule[0]["status"], &of_rule[0]["values"]), (&json!("default"), &json!({})), "{rule}");
    }
    // Shrinking drops the renaming keys: only a failure they cause themselves keeps them.
    for f in &fs {
        let keys: Vec<&String> = f["values"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
        if keys.iter().any(|k| *k == "nameOverride" || *k == "fullnameOverride") {
            assert_eq!(keys.len(), 1, "a rename is never part of another failure's minimal override: {f:#}");
        }
    }
    // One value breaking several fields is one failure; kubernetes-schema failures carry their field.
    let name_true = fs.iter().filter(|f| f["values"] == json!({"nameOverride": "true"})).count();
    assert!(name_true <= 1, "{fs:#?}");
    assert!(fs.iter().filter(|f| f["rule"] == "kubernetes-schema" && f["kind"] != "Document").all(|f| f["path"].is_string()), "{fs:#?}");
    // helm's whole cause, not only its location.
    if let Some(notes) = fs.iter().find(|f| f["template"].as_str().is_some_and(|t| t.ends_with("NOTES.txt"))) {
        assert!(notes["message"].as_str().unwrap().contains("wrong type for value"), "{notes:#}");
    }
}

#[test]
#[ignore = "needs ../shared/corpus: scripts/corpus runs it"]
fn planning_scales_with_the_cases_asked_for_not_the_values_tree() {
    // loki's values tree offers some 18,000 one-key changes; two cases validate a handful.
    let helm = &common::helms()[0];
    let loki = common::corpus("loki");
    let started = std::time::Instant::now();
    let (code, report, stderr) = chartproof_test(helm, &loki, &["--cases", "2", "--no-save", "-f", loki.join("ci/default-values.yaml").to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{stderr}");
    assert_eq!(report["cases_run"], json!(2), "{stderr}");
    let generated = report["coverage"]["candidates_generated"].as_u64().unwrap();
    assert!(generated <= 10, "{generated} candidates validated for 2 cases");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}

/// How many renders of each purpose a `CHARTPROOF_TRACE` run started (`Base`, `Case`, `Confirm`…).
fn renders_by_purpose(trace: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in trace.lines().filter(|l| l.starts_with("chartproof-trace ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.get(2) == Some(&"render-start") {
            *counts.entry(words[3].to_string()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn a_reproducible_chart_is_rendered_once_per_value_set_with_the_same_verdicts() {
    let helm = &common::helms()[0];
    let reproducible = common::copy_chart(&common::chart("fixtures/latent-defects"));
    // The same chart with a random value in a helper no template includes: its output is the
    // same, but nothing tells chartproof so, and it believes a failure only once a second render
    // shows it (the shrink's first attempt, else a fresh render of the case: some are needed).
    let maybe_random = common::copy_chart(&common::chart("fixtures/latent-defects"));
    std::fs::write(maybe_random.path().join("templates/_random.tpl"), "{{- define \"latent.token\" -}}{{ randAlphaNum 8 }}{{- end -}}\n").unwrap();
    let run = |chart: &Path| {
        let out = common::chartproof(helm)
            .env("CHARTPROOF_TRACE", "1")
            .arg("test")
            .arg(chart)
            .args(["--cases", "40", "--seed", "2", "--no-save", "--cases-dir", "/nonexistent-cases", "-o", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        (report, renders_by_purpose(&String::from_utf8_lossy(&out.stderr)))
    };
    let ((once, once_renders), (twice, twice_renders)) = (run(reproducible.path()), run(maybe_random.path()));
    assert!(!failures(&once).is_empty());
    // Everything but the replay command, which names the chart's (temporary) folder.
    let without_replay = |r: &Value| failures(r)
        .into_iter()
        .map(|mut f| {
            f.as_object_mut().unwrap().remove("replay");
            f
        })
        .collect::<Vec<_>>();
    let verdict = |r: &Value| (without_replay(r), r["cases_run"].clone(), r["coverage"]["volatile_paths"].clone(), r["coverage"]["flaky_failures"].clone());
    assert_eq!(verdict(&once), verdict(&twice));
    assert_eq!((once_renders.get("Base"), once_renders.get("Confirm")), (Some(&1), None), "{once_renders:?}");
    assert_eq!(twice_renders.get("Base"), Some(&2), "{twice_renders:?}");
    assert!(twice_renders.get("Confirm").is_some_and(|&n| n > 0), "{twice_renders:?}");
    assert_eq!(once["renders"].as_u64().unwrap() + 1 + twice_renders["Confirm"] as u64, twice["renders"].as_u64().unwrap());
}

#[test]
fn a_killed_render_is_confirmed_even_on_a_reproducible_chart() {
    let helm = &common::helms()[0];
    let tmp = tempfile::tempdir().unwrap();
    common::write_files(
        tmp.path(),
        &[
            ("chart/Chart.yaml", "apiVersion: v2\nname: once-slow\nversion: 0.1.0\n"),
            ("chart/values.yaml", "slow: false\n"),
            ("chart/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  slow: {{ .Values.slow | quote }}\n"),
        ],
    );
    // The real helm, except that the first render of `slow: true` hangs (a busy machine): the
    // timeout kills it, and the fresh confirming render shows there is no failure.
    let wrapper = tmp.path().join("helm");
    let marker = tmp.path().join("hung-once");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\nfor arg in \"$@\"; do\n  if [ -f \"$arg\" ] && grep -q '\"slow\": true' \"$arg\" && [ ! -e '{}' ]; then touch '{}'; exec sleep 600; fi\ndone\nexec '{}' \"$@\"\n",
            marker.display(),
            marker.display(),
            helm.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, report, stderr) = chartproof_test(&wrapper, &tmp.path().join("chart"), &["--cases", "3", "--helm-timeout", "1", "--no-save"]);
    assert!(marker.exists(), "the slow case was rendered");
    assert_eq!(code, 0, "{stderr}");
    assert!(failures(&report).is_empty(), "{report:#}");
    assert_eq!(report["coverage"]["flaky_failures"], 1);
}

#[test]
fn saved_cases_are_replayed_in_parallel_and_judged_in_order() {
    let helm = &common::helms()[0];
    let chart = common::chart("fixtures/latent-defects");
    let cases = tempfile::tempdir().unwrap();
    let cases_dir = cases.path().to_str().unwrap();
    let (code, _, stderr) = chartproof_test(helm, &chart, &["--cases", "40", "--seed", "2", "--cases-dir", cases_dir]);
    assert_eq!(code, 1, "{stderr}");
    let replay = |jobs: &str| {
        let out = common::chartproof(helm)
            .env("CHARTPROOF_TRACE", "1")
            .arg("test")
            .arg(&chart)
            .args(["--cases", "1", "--cases-dir", cases_dir, "--jobs", jobs, "-o", "json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        // The most Replay renders running at once.
        let (mut running, mut most) = (0, 0);
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["chartproof-trace", _, "render-start", "Replay", ..] => running += 1,
                ["chartproof-trace", _, "render-end", "Replay", ..] => running -= 1,
                _ => {}
            }
            most = most.max(running);
        }
        (report, most)
    };
    let ((one, one_at_once), (two, two_at_once)) = (replay("1"), replay("2"));
    assert!(one["coverage"]["replayed_still_failing"].as_u64().unwrap() >= 5, "{one:#}");
    assert_eq!(one, two);
    assert_eq!((one_at_once, two_at_once), (1, 2));
}

#[test]
fn branches_behind_string_comparisons_are_reached_and_their_defect_shrunk() {
    // charts/fixtures/branchy: the defect needs mode=cluster (a string comparison) and two
    // switches on; random strings never reach it, the values the templates compare with do.
    for (i, helm) in common::helms().iter().enumerate() {
        let seeds: &[&str] = if i == 0 { &["1", "2", "3"] } else { &["1"] };
        for seed in seeds {
            let tmp = common::copy_chart(&common::chart("fixtures/branchy"));
            let (code, report, stderr) = chartproof_test(helm, tmp.path(), &["--seed", seed]);
            assert_eq!(code, 1, "seed {seed}: {stderr}\n{report:#}");
            let fs = failures(&report);
            assert_eq!(fs.len(), 1, "seed {seed}: {fs:#?}");
            let f = &fs[0];
            assert_eq!((&f["rule"], &f["status"]), (&json!("service-target-port"), &json!("new")), "{f:#}");
            assert_eq!(f["values"], json!({"mode": "cluster", "metrics": {"enabled": true, "exporter": {"enabled": true}}}), "minimal override, seed {seed}");
            assert!(Path::new(f["case_file"].as_str().unwrap()).is_file());
            let branches = &report["coverage"]["estimated_branches"];
            assert!(branches["reached"].as_u64().unwrap() > 0 && branches["total"].as_u64().unwrap() >= branches["reached"].as_u64().unwrap(), "{branches:#}");
            // Every branch is reachable through values, and the search reaches them all.
            assert_eq!(branches["not_reached"], json!([]), "seed {seed}: {branches:#}");
        }
    }
}

#[test]
fn a_failing_string_under_a_pattern_shrinks_to_a_short_valid_string() {
    let pattern = regex::Regex::new("^[a-z0-9]+([._/-][a-z0-9]+)*$").unwrap();
    for helm in common::helms() {
        let tmp = common::copy_chart(&common::chart("fixtures/pattern-shrink"));
        let (code, report, stderr) = chartproof_test(&helm, tmp.path(), &["--seed", "1"]);
        assert_eq!(code, 1, "{stderr}\n{report:#}");
        let fs = failures(&report);
        let f = find(&fs, "render-error", Some("configmap.yaml")).unwrap_or_else(|| panic!("{fs:#?}"));
        assert_eq!(f["status"], "new", "shrunk to the end, not stopped: {f:#}");
        assert_eq!(f["shrink"], "minimal", "{f:#}");
        let saved = std::fs::read_to_string(f["case_file"].as_str().unwrap()).unwrap();
        let case: serde_yaml::Value = serde_yaml::from_str(&saved).unwrap();
        let repo = case["values"]["image"]["repository"].as_str().unwrap().to_string();
        assert!(repo.len() <= 5 && repo.contains('_') && pattern.is_match(&repo), "saved value {repo:?} is short and valid");
    }
}
