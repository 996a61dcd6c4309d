//! Helpers shared by the CLI tests: which helm binaries to test against, paths to the bundled
//! charts and the shared corpus, and a `chartproof` command builder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every helm to test against: `CHARTPROOF_TEST_HELMS` (colon-separated), else `HELM_BIN`.
/// Panics with instructions when there is none, so a missing helm is never a silent pass.
pub fn helms() -> Vec<PathBuf> {
    let list = std::env::var("CHARTPROOF_TEST_HELMS").ok().filter(|s| !s.is_empty()).or_else(|| std::env::var("HELM_BIN").ok());
    let helms: Vec<PathBuf> = list.unwrap_or_default().split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
    assert!(!helms.is_empty(), "no helm to test with: run the suite with scripts/test (it provisions helm 4 and helm 3)");
    for h in &helms {
        assert!(h.exists(), "helm binary {} does not exist", h.display());
    }
    helms
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A chart under `charts/`.
pub fn chart(name: &str) -> PathBuf {
    repo().join("charts").join(name)
}

/// A chart of the shared corpus of real public charts (read-only).
pub fn corpus(name: &str) -> PathBuf {
    repo().join("../shared/corpus").join(name)
}

/// `chartproof` with `--helm`-independent discovery pinned to `helm` through HELM_BIN.
pub fn chartproof(helm: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("chartproof").expect("chartproof binary");
    cmd.env("HELM_BIN", helm).env("NO_COLOR", "1");
    cmd
}

/// Copy a chart directory into a fresh temporary directory (for tests that write into charts).
pub fn copy_chart(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join(src.file_name().expect("chart dir name"));
    copy_dir(src, &dest);
    (tmp, dest)
}

fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("create dir");
    for entry in std::fs::read_dir(src).expect("read dir") {
        let entry = entry.expect("dir entry");
        let to = dest.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy file");
        }
    }
}
