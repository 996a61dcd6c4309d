//! Finding the helm binary (`--helm`, then `HELM_BIN`, then PATH), learning its version, and
//! running `helm template` under a timeout with its error text turned into a structured error.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A helm binary that answered `helm version`.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    /// As helm prints it, e.g. `v4.1.4`.
    pub version: String,
    pub major: u32,
}

const HOW_TO_GET_HELM: &str = "chartproof needs the helm binary (Helm 3 or 4).\n  - run `scripts/ensure-helm` in the chartproof repository: it uses helm from PATH or installs one into .tools/ and prints its path,\n  - or install helm (https://helm.sh/docs/intro/install/) and put it on PATH,\n  - then pass it with --helm PATH or HELM_BIN=PATH.";

impl Helm {
    /// Locate helm: an explicit path (from `--helm`), else `HELM_BIN`, else `helm` on PATH.
    pub fn discover(explicit: Option<&Path>) -> Result<Helm> {
        if let Some(p) = explicit {
            return Self::at(p).with_context(|| format!("--helm {} does not work", p.display()));
        }
        if let Some(p) = std::env::var_os("HELM_BIN").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            return Self::at(&p).with_context(|| format!("HELM_BIN={} does not work", p.display()));
        }
        match find_on_path("helm") {
            Some(p) => Self::at(&p),
            None => bail!("helm was not found: no --helm, no HELM_BIN, and no `helm` on PATH.\n{HOW_TO_GET_HELM}"),
        }
    }

    /// Use the helm at `path`, checking that it runs and reading its version.
    pub fn at(path: &Path) -> Result<Helm> {
        if !path.exists() && !path.components().count() == 1 {
            bail!("{} does not exist.\n{HOW_TO_GET_HELM}", path.display());
        }
        let out = run_with_timeout(path, &["version".into(), "--template".into(), "{{.Version}}".into()], Duration::from_secs(30))
            .with_context(|| format!("cannot run {}.\n{HOW_TO_GET_HELM}", path.display()))?;
        let version = out.stdout.trim().to_string();
        if !out.success || !version.starts_with('v') {
            bail!("{} version failed: {}{}", path.display(), out.stderr.trim(), version);
        }
        let major: u32 = version[1..].split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        if major < 3 {
            bail!("{} is helm {version}; chartproof needs Helm 3 or 4", path.display());
        }
        Ok(Helm { path: path.to_path_buf(), version, major })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// What a finished process printed.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// A process that did not finish in time (it was killed).
#[derive(Debug, thiserror::Error)]
#[error("{program} did not finish within {timeout:?} and was killed")]
pub struct TimedOut {
    pub program: String,
    pub timeout: Duration,
}

/// Run a program with captured output; kill it when it outlives `timeout`.
pub fn run_with_timeout(program: &Path, args: &[String], timeout: Duration) -> Result<ProcessOutput> {
    let start = Instant::now();
    let handle = duct::cmd(program, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .with_context(|| format!("cannot start {}", program.display()))?;
    match handle.wait_timeout(timeout)? {
        Some(out) => Ok(ProcessOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
        }),
        None => {
            let _ = handle.kill();
            Err(TimedOut { program: program.display().to_string(), timeout }.into())
        }
    }
}
