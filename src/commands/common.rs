//! Command-line pieces shared by several commands: how to find helm, which values to apply,
//! how to call `helm template`, and the exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::chart::merge::UserValues;
use crate::render::{Helm, RenderRequest};

/// Exit code: success (valid, no error finding, no failure).
pub const EXIT_OK: u8 = 0;
/// Exit code: the check found a problem (invalid values, error findings, failures, breaking changes).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: chartproof could not do its job (missing chart, unreadable YAML, no helm, bad flags).
pub const EXIT_UNUSABLE: u8 = 2;

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// A count flag (`--cases`, `--jobs`): a whole number of at least 1. Its own message for 0, for
/// a negative number (the flag takes it as a value, not as another flag) and for the rest.
pub fn at_least_one(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<i128>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|_| format!("{text} is too large")),
        Ok(0) => Err("0 would do nothing; give at least 1".into()),
        Ok(_) => Err(format!("{text} is negative; give a whole number of at least 1")),
        Err(_) => Err(format!("`{text}` is not a whole number; give one of at least 1")),
    }
}

/// `--helm-timeout`: whole seconds, at least 1 (0 would kill every render at once).
pub fn timeout_seconds(text: &str) -> std::result::Result<u64, String> {
    at_least_one(text).map(|n| n as u64).map_err(|e| if text.trim() == "0" { "0 seconds would kill every render at once; give at least 1".into() } else { e })
}

/// Where helm is and how long it may take.
#[derive(Args, Debug, Clone)]
pub struct HelmArgs {
    /// helm binary to run (default: $HELM_BIN, then `helm` on PATH)
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
    /// Seconds one `helm template` may run before it is killed and reported
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = timeout_seconds, allow_negative_numbers = true)]
    pub helm_timeout: u64,
    /// Address space one `helm template` may use (e.g. 4G, 8G; at least 2G; 0: no limit); past it helm stops
    /// with "out of memory" at once instead of filling the machine's memory
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = memory_size)]
    pub helm_memory: u64,
}

/// `--helm-memory`: a byte count with an optional K, M or G suffix (powers of 1024; `Gi`,
/// `GiB` and `GB` read the same), or 0 for no limit.
pub fn memory_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let Ok(n) = number.parse::<u64>() else { return Err(format!("`{text}` is not a size like 4G or 512M")) };
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("`{text}` is not a size like 4G or 512M (units: K, M, G)")),
    };
    let bytes = n.checked_shl(shift).filter(|b| b >> shift == n).ok_or_else(|| format!("`{text}` is too large"))?;
    // helm's Go runtime reserves about 1.3 GB of address space as it starts (below that it stops
    // with `fatal error: failed to reserve page summary memory` or `out of memory allocating
    // heap arena map`, measured with helm 3.17.3 and 4.1.4 under `ulimit -v`).
    if bytes != 0 && bytes < 2 << 30 {
        return Err(format!("`{text}` is less than 2G, too little for helm's Go runtime to start; give 0 for no limit"));
    }
    Ok(bytes)
}

impl HelmArgs {
    pub fn discover(&self) -> Result<Helm> {
        Helm::discover_within(self.helm.as_deref(), self.timeout()).map(|h| self.limited(h))
    }

    /// [`HelmArgs::discover`], with `None` when neither --helm, HELM_BIN nor PATH names a helm.
    pub fn discover_if_any(&self) -> Result<Option<Helm>> {
        Helm::discover_if_any(self.helm.as_deref(), self.timeout()).map(|h| h.map(|h| self.limited(h)))
    }

    fn limited(&self, mut helm: Helm) -> Helm {
        helm.memory_limit = (self.helm_memory > 0).then_some(self.helm_memory);
        helm
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.helm_timeout.max(1))
    }
}

/// Values given on the command line, applied in Helm's order: files, then --set, then --set-string.
#[derive(Args, Debug, Clone, Default)]
pub struct ValuesArgs {
    /// Values file to apply over the chart defaults (repeatable; later files win)
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set a value like helm does: key=value, a.b[0]=x, list={a,b} (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Set a value and keep it a string (repeatable)
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
}

impl ValuesArgs {
    pub fn load(&self) -> Result<UserValues> {
        UserValues::load(&self.values, &self.set, &self.set_string)
    }

    pub fn apply_to(&self, req: &mut RenderRequest) {
        req.values_files.extend(self.values.iter().cloned());
        req.sets.extend(self.set.iter().cloned());
        req.set_strings.extend(self.set_string.iter().cloned());
    }
}

/// Flags passed through to `helm template`.
#[derive(Args, Debug, Clone)]
pub struct TemplateArgs {
    /// Release name for `helm template`
    #[arg(long, default_value = "release")]
    pub release_name: String,
    /// Namespace for `helm template`
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Kubernetes version for capabilities and schema checks (e.g. 1.31)
    #[arg(long, value_name = "X.Y")]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities (repeatable)
    #[arg(long = "api-versions", value_name = "GROUP/VERSION")]
    pub api_versions: Vec<String>,
    /// Render the chart's crds/ folder too
    #[arg(long)]
    pub include_crds: bool,
}

impl TemplateArgs {
    /// A render request for `chart_dir` with these flags and helm's timeout.
    pub fn request(&self, chart_dir: impl Into<PathBuf>, helm: &HelmArgs) -> RenderRequest {
        let mut req = RenderRequest::new(chart_dir);
        req.release_name = self.release_name.clone();
        req.namespace = self.namespace.clone();
        req.kube_version = self.kube_version.clone();
        req.api_versions = self.api_versions.clone();
        req.include_crds = self.include_crds;
        req.timeout = helm.timeout();
        req
    }

    /// [`TemplateArgs::request`] for a loaded chart, with the API versions a cluster of the
    /// Kubernetes version checked against (`--kube-version`, else `kubernetes_version`, else the
    /// newest shipped schema) serves and the templates ask for (`render::capabilities`).
    pub fn request_for(&self, chart: &crate::chart::Chart, helm: &HelmArgs, kubernetes_version: Option<&str>) -> RenderRequest {
        let mut req = self.request(chart.render_path(), helm);
        let minor = crate::rules::kubernetes_schema::resolve_minor(self.kube_version.as_deref().or(kubernetes_version))
            .unwrap_or_else(|_| crate::rules::kubernetes_schema::resolve_minor(None).expect("the newest shipped version"));
        for api in crate::render::capabilities::served_and_named(chart, minor) {
            if !req.api_versions.contains(&api) {
                req.api_versions.push(api);
            }
        }
        req
    }
}

/// Write a report to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write to stdout")?),
    }
}

#[cfg(test)]
mod tests {
    use super::memory_size;

    #[test]
    fn helm_memory_sizes_read_with_units_and_refuse_what_helm_cannot_start_under() {
        assert_eq!(memory_size("4G"), Ok(4 << 30));
        assert_eq!(memory_size("4GiB"), Ok(4 << 30));
        assert_eq!(memory_size("6gb"), Ok(6 << 30));
        assert_eq!(memory_size("3072M"), Ok(3 << 30));
        assert_eq!(memory_size("0"), Ok(0), "0: no limit");
        assert_eq!(memory_size(&(3u64 << 30).to_string()), Ok(3 << 30), "plain bytes");
        assert!(memory_size("1G").unwrap_err().contains("less than 2G"));
        assert!(memory_size("4T").unwrap_err().contains("units: K, M, G"));
        assert!(memory_size("G").unwrap_err().contains("not a size"));
        assert!(memory_size("99999999999G").unwrap_err().contains("too large"));
    }
}
