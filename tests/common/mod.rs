//! Shared helpers for CLI tests: the helm binaries to test against, the corpus, fixture charts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// Every helm in CHARTPROOF_TEST_HELMS (colon-separated), else HELM_BIN. Tests that need helm
/// run against each of them; with none configured they fail and say how to configure one.
pub fn helms() -> Vec<PathBuf> {
    let list = std::env::var("CHARTPROOF_TEST_HELMS").ok().filter(|s| !s.is_empty()).or_else(|| std::env::var("HELM_BIN").ok().filter(|s| !s.is_empty()));
    let list = list.expect("set CHARTPROOF_TEST_HELMS (or HELM_BIN) to the helm binaries to test against; scripts/test does");
    list.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect()
}

/// The corpus of real public charts beside the repository (`../shared/corpus`, read-only). A
/// fresh clone has none: tests that use it are `#[ignore]`d and run by `scripts/corpus`.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    assert!(dir.is_dir(), "this test needs the corpus of real charts at {} (CI has it beside the repository; scripts/corpus runs these tests)", dir.display());
    dir
}

/// A chart of the shared corpus of real public charts (read-only).
pub fn corpus(name: &str) -> PathBuf {
    corpus_dir().join(name)
}

/// Every chart of the corpus.
pub fn corpus_charts() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut charts: Vec<PathBuf> = std::fs::read_dir(&dir).expect("the corpus at ../shared/corpus").filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("Chart.yaml").exists()).collect();
    charts.sort();
    charts
}

/// Write `files` (relative path, content) under `dir`, creating folders.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// `helm template release CHART ARGS…`.
pub fn helm_template(helm: &Path, chart: &Path, args: &[String]) -> Output {
    std::process::Command::new(helm).arg("template").arg("release").arg(chart).args(args).output().expect("run helm")
}

/// Copy a chart (read-only corpus data) into a temporary directory that tests may change.
pub fn copy_chart(src: &Path) -> tempfile::TempDir {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
                let mut perms = std::fs::metadata(&target).unwrap().permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                perms.set_readonly(false);
                std::fs::set_permissions(&target, perms).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(src, tmp.path());
    tmp
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A chart under `charts/`.
pub fn chart(name: &str) -> PathBuf {
    repo().join("charts").join(name)
}

/// The `chartproof` binary with helm pinned through HELM_BIN and colors off.
pub fn chartproof(helm: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("chartproof").expect("chartproof binary");
    cmd.env("HELM_BIN", helm).env("NO_COLOR", "1");
    cmd
}

/// The SARIF 2.1.0 JSON Schema, provisioned into `.tools/sarif/` by `scripts/ensure-sarif-schema`
/// (scripts/test and scripts/corpus run it).
pub fn sarif_schema_path() -> PathBuf {
    let path = repo().join(".tools/sarif/sarif-2.1.0-rtm.5.json");
    assert!(path.exists(), "{} is missing: run scripts/ensure-sarif-schema (scripts/test does)", path.display());
    path
}
