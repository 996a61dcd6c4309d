//! `.chartproof.yaml`: which rules run, at which severity, and the options some rules take
//! (minimum QoS class, GOMEMLIMIT window, drain margin, allow-lists). Its JSON Schema is
//! published in `schemas/chartproof-config.schema.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{QosClass, Severity, catalog};

/// File name looked up in the chart directory when no `--config` is given.
pub const CONFIG_FILE_NAME: &str = ".chartproof.yaml";

/// What to do with one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleSetting {
    /// Do not run the rule.
    Off,
    /// Run it and report its findings at this severity.
    Info,
    Warning,
    Error,
}

/// The GOMEMLIMIT window, in percent of the container's memory limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GoMemLimitOptions {
    /// Lowest acceptable GOMEMLIMIT, percent of the memory limit (default 80).
    pub min_percent: f64,
    /// Highest acceptable GOMEMLIMIT, percent of the memory limit (default 95).
    pub max_percent: f64,
    /// Report containers with a memory limit but no GOMEMLIMIT (default true).
    pub require: bool,
    /// Images that are not Go programs (glob patterns on the image reference, e.g. `docker.io/bitnami/*`):
    /// a missing GOMEMLIMIT is not reported for them.
    pub non_go_images: Vec<String>,
}

impl Default for GoMemLimitOptions {
    fn default() -> Self {
        GoMemLimitOptions { min_percent: 80.0, max_percent: 95.0, require: true, non_go_images: Vec::new() }
    }
}

/// Contents of `.chartproof.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Per-rule setting by rule id: `off`, or a severity that replaces the rule's default.
    pub rules: BTreeMap<String, RuleSetting>,
    /// Lowest acceptable pod QoS class (`BestEffort` turns `qos-best-effort` into a no-op; default `Burstable`).
    pub minimum_qos: QosClass,
    pub gomemlimit: GoMemLimitOptions,
    /// Seconds the pod needs after its preStop hook to drain (default 5).
    pub drain_margin_seconds: u64,
    /// Objects created outside the release that references may name, as `Kind/name` globs
    /// (e.g. `Secret/tls-*`, `ServiceAccount/*`).
    pub allow_references: Vec<String>,
    /// Kubernetes version (`1.31`) whose schema `kubernetes-schema` validates against; `--kube-version`
    /// overrides it; default: the newest shipped schema.
    pub kubernetes_version: Option<String>,
    /// ValidatingAdmissionPolicy files or directories evaluated on every render, relative to this
    /// file (with `--policies`, both are read).
    pub policies: Vec<std::path::PathBuf>,
    /// Platform policies (`--policies`) evaluated with the rules; set by the command.
    #[serde(skip)]
    pub platform_policies: crate::policy::PolicySet,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rules: BTreeMap::new(),
            minimum_qos: QosClass::Burstable,
            gomemlimit: GoMemLimitOptions::default(),
            drain_margin_seconds: 5,
            allow_references: Vec::new(),
            kubernetes_version: None,
            policies: Vec::new(),
            platform_policies: Default::default(),
        }
    }
}

impl Config {
    /// Load the configuration. `path` may name a config file (it must exist) or a chart
    /// directory (its `.chartproof.yaml` is read when present); `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        match path {
            None => Ok(Config::default()),
            Some(p) if p.is_dir() => {
                let file = p.join(CONFIG_FILE_NAME);
                if file.is_file() { Config::from_file(&file) } else { Ok(Config::default()) }
            }
            Some(p) => Config::from_file(p),
        }
    }

    /// `--config FILE` when given, else `.chartproof.yaml` in the chart directory, else defaults.
    pub fn for_chart(explicit: Option<&Path>, chart_dir: &Path) -> Result<Config> {
        match explicit {
            Some(p) if p.is_dir() => bail!("--config {} is a directory; give a .chartproof.yaml file", p.display()),
            Some(p) => Config::from_file(p),
            None => Config::load(Some(chart_dir)),
        }
    }

    /// Read and validate one config file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text, path)
    }

    /// Parse config text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
            anyhow::anyhow!("{}{loc}: invalid chartproof config: {e}", origin.display())
        })?;
        config.validate().with_context(|| format!("{}: invalid chartproof config", origin.display()))?;
        let base = origin.parent().unwrap_or(Path::new("."));
        config.policies = config.policies.iter().map(|p| base.join(p)).collect();
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        for id in self.rules.keys() {
            if catalog::lookup(id).is_none() && !id.starts_with(crate::policy::RULE_PREFIX) {
                let suggestion = catalog::nearest(id).map(|n| format!("did you mean `{n}`? ")).unwrap_or_default();
                bail!("rules.{id}: unknown rule id ({suggestion}run `chartproof rules` for the list)");
            }
        }
        let g = &self.gomemlimit;
        if !(0.0..=100.0).contains(&g.min_percent) || !(0.0..=100.0).contains(&g.max_percent) || g.min_percent > g.max_percent {
            bail!("gomemlimit: minPercent {} and maxPercent {} must satisfy 0 <= min <= max <= 100", g.min_percent, g.max_percent);
        }
        if let Some(v) = &self.kubernetes_version {
            super::kubernetes_schema::resolve_minor(Some(v)).map_err(|e| anyhow::anyhow!("kubernetesVersion: {e}"))?;
        }
        for pattern in self.gomemlimit.non_go_images.iter().chain(&self.allow_references) {
            globset::Glob::new(pattern).with_context(|| format!("bad glob pattern `{pattern}`"))?;
        }
        Ok(())
    }

    /// Whether the rule runs.
    pub fn enabled(&self, rule: &str) -> bool {
        self.rules.get(rule) != Some(&RuleSetting::Off)
    }

    /// Severity a finding of `rule` is reported at, given the severity the rule chose.
    pub fn severity(&self, rule: &str, chosen: Severity) -> Severity {
        match self.rules.get(rule) {
            Some(RuleSetting::Info) => Severity::Info,
            Some(RuleSetting::Warning) => Severity::Warning,
            Some(RuleSetting::Error) => Severity::Error,
            _ => chosen,
        }
    }

    /// Whether `Kind/name` is allow-listed as created outside the release.
    pub fn reference_allowed(&self, kind: &str, name: &str) -> bool {
        glob_any(&self.allow_references, &format!("{kind}/{name}"))
    }

    /// Whether an image is declared not to be a Go program.
    pub fn non_go_image(&self, image: &str) -> bool {
        glob_any(&self.gomemlimit.non_go_images, image)
    }
}

fn glob_any(patterns: &[String], text: &str) -> bool {
    patterns.iter().any(|p| globset::Glob::new(p).map(|g| g.compile_matcher().is_match(text)).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_overrides_and_options() {
        let c = Config::parse(
            "rules:\n  probe-liveness: off\n  image-digest: warning\nminimumQos: Guaranteed\ngomemlimit:\n  minPercent: 70\n  nonGoImages: ['docker.io/bitnami/*']\ndrainMarginSeconds: 3\nallowReferences: ['Secret/tls-*']\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        assert!(!c.enabled("probe-liveness"));
        assert_eq!(c.severity("image-digest", Severity::Error), Severity::Warning);
        assert_eq!(c.severity("selector-mismatch", Severity::Error), Severity::Error);
        assert_eq!(c.minimum_qos, QosClass::Guaranteed);
        assert_eq!(c.gomemlimit.min_percent, 70.0);
        assert_eq!(c.gomemlimit.max_percent, 95.0);
        assert!(c.non_go_image("docker.io/bitnami/nginx:1.2"));
        assert!(c.reference_allowed("Secret", "tls-web"));
        assert!(!c.reference_allowed("ConfigMap", "tls-web"));
        assert_eq!(c.drain_margin_seconds, 3);
    }

    #[test]
    fn rejects_unknown_rules_and_fields_with_location() {
        let e = Config::parse("rules:\n  probe-livenes: off\n", Path::new("c.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("probe-livenes"), "{e:#}");
        let e = Config::parse("minimumQoS: Guaranteed\n", Path::new("c.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("c.yaml:1"), "{e:#}");
        let e = Config::parse("gomemlimit: {minPercent: 96}\n", Path::new("c.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("minPercent"), "{e:#}");
    }

    #[test]
    fn chart_dir_without_config_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(Some(dir.path())).unwrap(), Config::default());
        std::fs::write(dir.path().join(CONFIG_FILE_NAME), "drainMarginSeconds: 9\n").unwrap();
        assert_eq!(Config::load(Some(dir.path())).unwrap().drain_margin_seconds, 9);
        assert_eq!(Config::load(None).unwrap(), Config::default());
    }
}
