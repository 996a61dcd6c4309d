//! Helpers shared by the CLI tests: which helm binaries to run against, repository paths.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every helm the tests must pass with: `CHARTPROOF_TEST_HELMS` (colon-separated), else `HELM_BIN`.
pub fn helms() -> Vec<PathBuf> {
    let list = std::env::var("CHARTPROOF_TEST_HELMS").ok().filter(|s| !s.is_empty()).or_else(|| std::env::var("HELM_BIN").ok());
    let helms: Vec<PathBuf> = list.unwrap_or_default().split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
    assert!(!helms.is_empty(), "set CHARTPROOF_TEST_HELMS or HELM_BIN to the helm binaries to test with (scripts/test does)");
    helms
}

/// A path inside the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Copy a directory tree (charts are copied before a test may write into them).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
