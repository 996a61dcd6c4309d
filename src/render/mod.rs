//! Rendering charts with the real `helm template`: the request (release, namespace, values,
//! capabilities), the structured result or error, and a content-addressed render cache.

pub mod cache;
pub mod capabilities;
pub mod determinism;
pub mod error;
pub mod helm;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

pub use error::HelmError;
pub use helm::{Helm, TimedOut};

/// Default time a single `helm template` may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything `helm template` is told, besides the chart.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub chart_dir: PathBuf,
    pub release_name: String,
    pub namespace: Option<String>,
    /// Values files in order (`-f`).
    pub values_files: Vec<PathBuf>,
    /// `--set` arguments in order.
    pub sets: Vec<String>,
    /// `--set-string` arguments in order.
    pub set_strings: Vec<String>,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    /// `--is-upgrade`: `.Release.IsUpgrade` true, `.Release.IsInstall` false.
    pub is_upgrade: bool,
    /// `--skip-schema-validation` (helm 3.16 and later): values are not checked against
    /// `values.schema.json`.
    pub skip_schema_validation: bool,
    pub timeout: Duration,
}

impl RenderRequest {
    pub fn new(chart_dir: impl Into<PathBuf>) -> Self {
        RenderRequest {
            chart_dir: chart_dir.into(),
            release_name: "release".into(),
            namespace: None,
            values_files: Vec::new(),
            sets: Vec::new(),
            set_strings: Vec::new(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            is_upgrade: false,
            skip_schema_validation: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The argument list after `helm`.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["template".to_string(), self.release_name.clone(), self.chart_dir.display().to_string()];
        if let Some(ns) = &self.namespace {
            a.extend(["--namespace".into(), ns.clone()]);
        }
        for f in &self.values_files {
            a.extend(["--values".into(), f.display().to_string()]);
        }
        for s in &self.sets {
            a.extend(["--set".into(), s.clone()]);
        }
        for s in &self.set_strings {
            a.extend(["--set-string".into(), s.clone()]);
        }
        if let Some(k) = &self.kube_version {
            a.extend(["--kube-version".into(), k.clone()]);
        }
        for v in &self.api_versions {
            a.extend(["--api-versions".into(), v.clone()]);
        }
        if self.include_crds {
            a.push("--include-crds".into());
        }
        if self.is_upgrade {
            a.push("--is-upgrade".into());
        }
        if self.skip_schema_validation {
            a.push("--skip-schema-validation".into());
        }
        a
    }

    /// A command line a user can paste to reproduce this render.
    pub fn command_line(&self, helm: &Helm) -> String {
        std::iter::once(helm.path.display().to_string()).chain(self.args()).map(|a| shell_quote(&a)).collect::<Vec<_>>().join(" ")
    }
}

/// Quote a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Why a render produced no manifest.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderFailure {
    /// helm ran and failed (template error, schema error, `fail` call…).
    #[error("{0}")]
    Helm(HelmError),
    /// helm outlived the timeout and was killed.
    #[error("helm template did not finish within {0:?} and was killed")]
    Timeout(Duration),
}

impl RenderFailure {
    /// helm was killed (timeout, signal) or exited without a message: something about the
    /// machine at that moment, not necessarily about the chart and its values.
    pub fn is_environmental(&self) -> bool {
        match self {
            RenderFailure::Timeout(_) => true,
            RenderFailure::Helm(e) => e.message.starts_with(CRASHED) || e.message.ends_with(SILENT_EXIT),
        }
    }
}

const CRASHED: &str = "helm crashed";
const SILENT_EXIT: &str = "and printed no message";

/// Outcome of one `helm template` run.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub manifest: String,
    /// helm's stderr (warnings) even on success.
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `helm template`. `Err` is for problems running helm at all; a helm failure or timeout is
/// an `Ok(Err(RenderFailure))` so callers can turn it into a finding.
pub fn render(helm: &Helm, req: &RenderRequest) -> Result<Result<Rendered, RenderFailure>> {
    match helm::run_with_timeout(&helm.path, &req.args(), req.timeout, helm.memory_limit) {
        Ok(out) if out.success => {
            keep_render(&out.stdout)?;
            crate::coverage::collect::observe(helm, req);
            Ok(Ok(Rendered { manifest: out.stdout, stderr: out.stderr, elapsed: out.elapsed }))
        }
        Ok(out) => {
            let mut error = HelmError::parse(&out.stderr);
            if let Some(oom) = go_out_of_memory(&out.stderr) {
                let limit = helm.memory_limit.map(|l| format!("; a render may use {} of address space (--helm-memory)", human_bytes(l))).unwrap_or_default();
                error.message = format!("helm ran out of memory ({oom}){limit}");
                return Ok(Err(RenderFailure::Helm(error)));
            }
            // A crash (signal) or a silent non-zero exit says so instead of "failed without a message".
            match out.failure.as_deref() {
                Some(how) if how.starts_with("killed") && out.stderr.trim().is_empty() => error.message = format!("{CRASHED}: it was {how} {SILENT_EXIT}"),
                Some(how) if how.starts_with("killed") => error.message = format!("{CRASHED}: it was {how}: {}", error.message),
                Some(how) if out.stderr.trim().is_empty() => error.message = format!("helm {how} {SILENT_EXIT}"),
                _ => {}
            }
            Ok(Err(RenderFailure::Helm(error)))
        }
        Err(e) if e.downcast_ref::<TimedOut>().is_some() => Ok(Err(RenderFailure::Timeout(req.timeout))),
        Err(e) => Err(e),
    }
}

/// The Go runtime's own words when an allocation failed (`runtime: out of memory: cannot
/// allocate 1434451968-byte block (3589832704 in use)` before `fatal error: out of memory`, as
/// runtime/malloc.go throws it), or None when helm did not stop for that.
fn go_out_of_memory(stderr: &str) -> Option<String> {
    if !stderr.lines().any(|l| l.trim().starts_with("fatal error: out of memory")) {
        return None;
    }
    let detail = stderr.lines().find_map(|l| l.strip_prefix("runtime: out of memory: ")).unwrap_or("an allocation failed");
    Some(detail.trim().to_string())
}

/// `4 GiB`, `512 MiB`, `1500000 bytes`.
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Environment variable naming a folder where every successful render is kept (one file per
/// distinct manifest, named by its SHA-256), to inspect what chartproof checked or to feed the
/// renders to another tool. The YAML agreement test uses it to check every property render.
pub const KEEP_RENDERS_ENV: &str = "CHARTPROOF_KEEP_RENDERS";

fn keep_render(manifest: &str) -> Result<()> {
    use anyhow::Context;
    use sha2::Digest;
    let Some(dir) = std::env::var_os(KEEP_RENDERS_ENV).filter(|d| !d.is_empty()) else { return Ok(()) };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {KEEP_RENDERS_ENV} folder {}", dir.display()))?;
    let path = dir.join(format!("{}.yaml", hex::encode(sha2::Sha256::digest(manifest.as_bytes()))));
    std::fs::write(&path, manifest).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{go_out_of_memory, human_bytes};

    #[test]
    fn go_runtime_out_of_memory_is_read_from_its_own_words() {
        let stderr = "runtime: out of memory: cannot allocate 1434451968-byte block (3589832704 in use)\nfatal error: out of memory\n\ngoroutine 1 gp=0xc000002380 m=6 mp=0xc000293808 [running]:\nruntime.throw({0x2652ac3?, 0x2abf5?})\n";
        assert_eq!(go_out_of_memory(stderr).as_deref(), Some("cannot allocate 1434451968-byte block (3589832704 in use)"));
        assert_eq!(go_out_of_memory("fatal error: out of memory allocating heap arena map\n").as_deref(), Some("an allocation failed"));
        assert_eq!(go_out_of_memory("Error: template: x.yaml:1:2: out of memory in a message\n"), None, "helm's own errors are not the runtime's");
        assert_eq!((human_bytes(4 << 30), human_bytes(1536 << 20), human_bytes(1000)), ("4 GiB".into(), "1536 MiB".into(), "1000 bytes".into()));
    }
}
