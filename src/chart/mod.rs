//! Loading a Helm chart from a directory or a packaged `.tgz`: Chart.yaml metadata, the default
//! values with key positions, its dependencies (subcharts in `charts/`, with aliases and
//! conditions), and a content hash for render caching.

pub mod libyaml;
pub mod helmignore;
pub mod merge;
pub mod setvals;
pub mod targets;
pub mod values;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use values::{Pos, PositionIndex, ValuesDoc};

/// A dependency entry of Chart.yaml (or requirements.yaml for apiVersion v1 charts).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The parts of Chart.yaml chartproof uses.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChartMeta {
    #[serde(default)]
    pub api_version: Option<String>,
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub app_version: Option<serde_yaml::Value>,
    #[serde(default, rename = "type")]
    pub chart_type: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

/// A subchart as the parent sees it: under which values key, enabled by which condition.
#[derive(Debug)]
pub struct Subchart {
    /// The values key the parent uses for it (the alias, else the chart name).
    pub key: String,
    pub condition: Option<String>,
    pub chart: Chart,
}

/// A loaded chart. For a `.tgz`, `dir` is a temporary extraction that lives as long as the chart.
#[derive(Debug)]
pub struct Chart {
    /// Directory holding Chart.yaml.
    pub dir: PathBuf,
    /// What the user named (directory or archive).
    pub source: PathBuf,
    pub meta: ChartMeta,
    /// values.yaml (an empty map when the chart has none).
    pub values: ValuesDoc,
    pub subcharts: Vec<Subchart>,
    _extracted: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Chart {
    /// Load a chart directory or a packaged `.tgz` chart.
    pub fn load(path: &Path) -> Result<Chart> {
        if !path.exists() {
            bail!("chart not found: {} (give a chart directory holding Chart.yaml, or a packaged .tgz)", path.display());
        }
        if path.is_file() {
            let tmp = std::sync::Arc::new(tempfile::tempdir().context("cannot create a temporary directory")?);
            let root = extract_chart_archive(path, tmp.path())?;
            let mut chart = Self::load_dir(&root, Some(tmp.clone()))?;
            chart.source = path.to_path_buf();
            return Ok(chart);
        }
        Self::load_dir(path, None)
    }

    fn load_dir(dir: &Path, keep: Option<std::sync::Arc<tempfile::TempDir>>) -> Result<Chart> {
        let chart_yaml = dir.join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml)
            .with_context(|| format!("{} is not a chart: cannot read {}", dir.display(), chart_yaml.display()))?;
        let mut meta: ChartMeta = serde_yaml::from_str(&text).map_err(|e| {
            let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
            anyhow::anyhow!("{}{}: invalid Chart.yaml: {}", chart_yaml.display(), loc, e)
        })?;
        if meta.dependencies.is_empty() {
            let req = dir.join("requirements.yaml");
            if let Ok(t) = std::fs::read_to_string(&req) {
                #[derive(Deserialize)]
                struct Req {
                    #[serde(default)]
                    dependencies: Vec<Dependency>,
                }
                if let Ok(r) = serde_yaml::from_str::<Req>(&t) {
                    meta.dependencies = r.dependencies;
                }
            }
        }
        let values_path = dir.join("values.yaml");
        let values = if values_path.exists() {
            ValuesDoc::load(&values_path)?
        } else {
            ValuesDoc { file: values_path, value: serde_json::Value::Object(Default::default()), positions: Default::default() }
        };
        let subcharts = load_subcharts(dir, &meta, keep.clone())?;
        Ok(Chart { dir: dir.to_path_buf(), source: dir.to_path_buf(), meta, values, subcharts, _extracted: keep })
    }

    /// Path of the chart's values.schema.json (it may not exist).
    pub fn schema_path(&self) -> PathBuf {
        self.dir.join("values.schema.json")
    }

    /// Path that `helm template` should be given (always a directory).
    pub fn render_path(&self) -> &Path {
        &self.dir
    }

    /// sha256 over every file of the chart (relative path and content), for render cache keys.
    pub fn content_hash(&self) -> Result<String> {
        let mut files = Vec::new();
        collect_files(&self.dir, &self.dir, &mut files)?;
        files.sort();
        let mut h = Sha256::new();
        for rel in files {
            let bytes = std::fs::read(self.dir.join(&rel)).with_context(|| format!("cannot read {}", rel.display()))?;
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(hex::encode(h.finalize()))
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if name == ".git" {
                continue;
            }
            collect_files(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

fn load_subcharts(dir: &Path, meta: &ChartMeta, keep: Option<std::sync::Arc<tempfile::TempDir>>) -> Result<Vec<Subchart>> {
    let charts_dir = dir.join("charts");
    let mut found: Vec<Chart> = Vec::new();
    if charts_dir.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(&charts_dir)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() && path.join("Chart.yaml").exists() {
                found.push(Chart::load_dir(&path, keep.clone())?);
            } else if path.is_file() && path.extension().is_some_and(|e| e == "tgz") {
                let tmp = std::sync::Arc::new(tempfile::tempdir()?);
                let root = extract_chart_archive(&path, tmp.path())?;
                let mut c = Chart::load_dir(&root, Some(tmp))?;
                c.source = path.clone();
                found.push(c);
            }
        }
    }
    let mut subcharts = Vec::new();
    let mut used = vec![false; found.len()];
    for dep in &meta.dependencies {
        if let Some(i) = found.iter().position(|c| c.meta.name == dep.name) {
            used[i] = true;
            // An independent copy per alias. A packaged subchart's copy shares its extraction:
            // without it the directory is deleted when `found` goes, and whatever reads the
            // subchart's files later (audit's templates) finds nothing (helm's loader reads the
            // archive's templates: pkg/chart/loader LoadArchive).
            let mut chart = Chart::load_dir(&found[i].dir, found[i]._extracted.clone().or_else(|| keep.clone()))?;
            chart.source = found[i].source.clone();
            subcharts.push(Subchart { key: dep.alias.clone().unwrap_or_else(|| dep.name.clone()), condition: dep.condition.clone(), chart });
        }
    }
    // Charts vendored without a dependency entry are still loaded by Helm, under their own name.
    for (i, chart) in found.into_iter().enumerate() {
        if !used[i] {
            subcharts.push(Subchart { key: chart.meta.name.clone(), condition: None, chart });
        }
    }
    Ok(subcharts)
}

/// Extract a packaged chart; returns the directory that holds its Chart.yaml.
fn extract_chart_archive(archive: &Path, into: &Path) -> Result<PathBuf> {
    let file = std::fs::File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.unpack(into).with_context(|| format!("{} is not a readable chart archive (.tgz)", archive.display()))?;
    for entry in std::fs::read_dir(into)? {
        let p = entry?.path();
        if p.join("Chart.yaml").exists() {
            return Ok(p);
        }
    }
    if into.join("Chart.yaml").exists() {
        return Ok(into.to_path_buf());
    }
    bail!("{} holds no Chart.yaml", archive.display())
}

/// A chart written from `(path, text)` pairs into a temporary directory, for unit tests.
#[cfg(test)]
pub(crate) fn chart_from_files(files: &[(&str, &str)]) -> (tempfile::TempDir, Chart) {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let chart = Chart::load(tmp.path()).unwrap();
    (tmp, chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_chart_is_a_clear_error() {
        let err = Chart::load(Path::new("/nonexistent/chart")).unwrap_err().to_string();
        assert!(err.contains("chart not found"), "{err}");
    }

    #[test]
    fn loads_dir_with_subchart_alias() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("Chart.yaml"), "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: 0.1.0\n  alias: kid\n  condition: kid.enabled\n").unwrap();
        std::fs::write(root.join("values.yaml"), "a: 1\n").unwrap();
        std::fs::create_dir_all(root.join("charts/child")).unwrap();
        std::fs::write(root.join("charts/child/Chart.yaml"), "apiVersion: v2\nname: child\nversion: 0.1.0\n").unwrap();
        std::fs::write(root.join("charts/child/values.yaml"), "b: true\n").unwrap();
        let c = Chart::load(root).unwrap();
        assert_eq!(c.meta.name, "parent");
        assert_eq!(c.subcharts.len(), 1);
        assert_eq!(c.subcharts[0].key, "kid");
        assert_eq!(c.subcharts[0].condition.as_deref(), Some("kid.enabled"));
        assert_eq!(c.subcharts[0].chart.values.value["b"], serde_json::json!(true));
        let h1 = c.content_hash().unwrap();
        std::fs::write(root.join("values.yaml"), "a: 2\n").unwrap();
        assert_ne!(h1, Chart::load(root).unwrap().content_hash().unwrap());
    }
}
