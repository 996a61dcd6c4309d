//! `.chartproof.yaml`: which rules run, at which severity, and the options some rules take
//! (minimum QoS class, GOMEMLIMIT window, drain margin, allow-lists). Its JSON Schema is
//! published in `schemas/chartproof-config.schema.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Finding, QosClass, Severity, Suppressed, catalog};

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
    /// Images that are not Go programs: a missing GOMEMLIMIT is not reported for them. A plain name
    /// (`nginx`) matches the last path component of the image repository, whatever the registry,
    /// project and tag (`docker.io/bitnami/nginx:1.27`); a pattern with `/`, `:`, `*`, `?` or `[` is a
    /// glob on the whole reference (`docker.io/bitnami/*`). Default: well-known non-Go images
    /// (nginx, envoy, rabbitmq, postgres, mysql, redis, elasticsearch, JVM, python, node…); setting
    /// the list replaces the default.
    pub non_go_images: Vec<String>,
}

impl Default for GoMemLimitOptions {
    fn default() -> Self {
        GoMemLimitOptions {
            min_percent: 80.0,
            max_percent: 95.0,
            require: true,
            non_go_images: super::gomemlimit::DEFAULT_NON_GO_IMAGES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One exclusion: findings of `rule` that match every given field are reported as excluded,
/// with the reason, and do not fail the run. For what cannot carry a `chartproof.io/ignore`
/// annotation (vendored subcharts, objects of a library chart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exclusion {
    /// Rule id, or `*` for every rule.
    pub rule: String,
    /// Resource kind (`Deployment`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Glob on the rendered resource name (`*-redis-master`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Glob on the template path inside the chart (`templates/*.yaml`, `charts/redis/**`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Name (glob) of the subchart whose templates produced the resource (`redis`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subchart: Option<String>,
    /// Glob on the field path (`spec.template.spec.containers[*].resources*`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the findings are accepted: shown in every report.
    pub reason: String,
}

/// A values key `audit` must not report: read by other tools (CI, a parent chart's tooling) or
/// intentionally unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditAllow {
    /// Glob on the dotted key (`ci.*` — which covers `ci` too —, `global.imageRegistry`).
    pub key: String,
    /// Why the key is not read by the chart's templates (shown by `audit`).
    pub reason: String,
}

/// Glob matching where `*` and `?` also match `/` and `.`-separated parts of names and paths
/// (`**` too); `[…]` in a pattern is a literal, since field paths are full of them.
fn literal_brackets_glob(pattern: &str) -> Result<globset::GlobMatcher> {
    let escaped = pattern.replace('[', "[[]");
    let glob = globset::GlobBuilder::new(&escaped).literal_separator(false).build().with_context(|| format!("bad glob pattern `{pattern}`"))?;
    Ok(glob.compile_matcher())
}

impl Exclusion {
    /// Whether the exclusion covers `f`.
    pub fn matches(&self, f: &Finding) -> bool {
        let glob = |pattern: &Option<String>, text: Option<&str>| match pattern {
            None => true,
            Some(p) => text.is_some_and(|t| literal_brackets_glob(p).is_ok_and(|g| g.is_match(t))),
        };
        // helm's template path starts with the chart name: match what is inside the chart.
        let template = f.template.as_deref().map(|t| t.split_once('/').map_or(t, |(_, rest)| rest));
        let subchart = template.and_then(|t| t.strip_prefix("charts/")).and_then(|t| t.split_once('/')).map(|(name, _)| name);
        (self.rule == "*" || self.rule == f.rule)
            && self.kind.as_deref().is_none_or(|k| k == f.kind)
            && glob(&self.name, Some(&f.name))
            && glob(&self.template, template)
            && glob(&self.subchart, subchart)
            && glob(&self.path, f.path.as_deref())
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
    /// Findings accepted by rule together with kind, name, template, subchart and field path,
    /// each with a reason reports show.
    pub exclusions: Vec<Exclusion>,
    /// Values keys `audit` does not report as unused or undeclared, each with a reason.
    pub audit_allow: Vec<AuditAllow>,
    /// ValidatingAdmissionPolicy files or directories evaluated on every render, relative to this
    /// file (with `--policies`, both are read).
    pub policies: Vec<std::path::PathBuf>,
    /// Platform policies (`--policies`) evaluated with the rules; set by the command.
    #[serde(skip)]
    pub platform_policies: crate::policy::PolicySet,
    /// The chart's shipped literals and the user's values, for `default-credential`; set by
    /// `check` (None: the rule does not run).
    #[serde(skip)]
    pub shipped_literals: Option<std::sync::Arc<super::ShippedLiterals>>,
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
            exclusions: Vec::new(),
            audit_allow: Vec::new(),
            policies: Vec::new(),
            platform_policies: Default::default(),
            shipped_literals: None,
        }
    }
}

/// What kind of YAML value a document is, for messages.
fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "empty document",
        serde_yaml::Value::Bool(_) => "boolean",
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::String(_) => "string",
        serde_yaml::Value::Sequence(_) => "list",
        serde_yaml::Value::Mapping(_) => "map",
        serde_yaml::Value::Tagged(_) => "tagged value",
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
        let at = |e: &serde_yaml::Error| e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        // YAML syntax first: serde reads a document as a stream, so a field it does not know
        // (`this` of `this is: not: yaml`) would otherwise hide the syntax error after it.
        // An unclosed construct is reported where it ends (often the end of the file); libyaml's
        // "while parsing a flow sequence at line L column C" names where it opens: the mistake.
        let syntax_at = |e: &serde_yaml::Error| {
            let msg = e.to_string();
            let opened = msg.split_once(", while parsing ").and_then(|(_, rest)| rest.split_once(" at line ")).and_then(|(_, pos)| {
                let (line, col) = pos.split_once(" column ")?;
                Some(format!(":{}:{}", line.trim().parse::<usize>().ok()?, col.trim().parse::<usize>().ok()?))
            });
            opened.unwrap_or_else(|| at(e))
        };
        let document: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!("{}{}: not valid YAML: {e}", origin.display(), syntax_at(&e)))?;
        if !document.is_mapping() {
            bail!("{}:1:1: invalid chartproof config: the document must be a map of settings (rules:, exclusions:, …), not a {}", origin.display(), yaml_kind(&document));
        }
        let mut config: Config = serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!("{}{}: invalid chartproof config: {e}", origin.display(), at(&e)))?;
        config.validate().with_context(|| format!("{}: invalid chartproof config", origin.display()))?;
        let base = origin.parent().unwrap_or(Path::new("."));
        config.policies = config.policies.iter().map(|p| base.join(p)).collect();
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let unknown = |id: &str| {
            let suggestion = catalog::nearest(id).map(|n| format!("did you mean `{n}`? ")).unwrap_or_default();
            format!("unknown rule id `{id}` ({suggestion}run `chartproof rules` for the list)")
        };
        let is_known = |id: &str| catalog::lookup(id).is_some() || id.starts_with(crate::policy::RULE_PREFIX);
        if let Some(id) = self.rules.keys().find(|id| !is_known(id)) {
            bail!("rules.{id}: {}", unknown(id));
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
        for (i, e) in self.exclusions.iter().enumerate() {
            if e.rule != "*" && !is_known(&e.rule) {
                bail!("exclusions[{i}].rule: {}", unknown(&e.rule));
            }
            if e.reason.trim().is_empty() {
                bail!("exclusions[{i}].reason: say why these findings are accepted");
            }
            for pattern in [&e.name, &e.template, &e.subchart, &e.path].into_iter().flatten() {
                literal_brackets_glob(pattern).with_context(|| format!("exclusions[{i}]"))?;
            }
        }
        for (i, a) in self.audit_allow.iter().enumerate() {
            literal_brackets_glob(&a.key).with_context(|| format!("auditAllow[{i}]"))?;
            if a.reason.trim().is_empty() {
                bail!("auditAllow[{i}].reason: say why the key is not read by the chart");
            }
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

    /// Move findings an exclusion covers to the suppressed list, with its reason.
    pub fn exclude(&self, findings: Vec<Finding>) -> (Vec<Finding>, Vec<Suppressed>) {
        if self.exclusions.is_empty() {
            return (findings, Vec::new());
        }
        let mut kept = Vec::new();
        let mut excluded = Vec::new();
        for f in findings {
            match self.exclusions.iter().find(|e| e.matches(&f)) {
                Some(e) => excluded.push(Suppressed { finding: f, reason: Some(format!("excluded by config: {}", e.reason)) }),
                None => kept.push(f),
            }
        }
        (kept, excluded)
    }

    /// The audit allow-list entry for a values key, if any.
    /// `ci.*` also allows `ci` itself, which audit reports when no key below it is read.
    pub fn audit_allowed(&self, key: &str) -> Option<&AuditAllow> {
        self.audit_allow.iter().find(|a| {
            let parent = a.key.strip_suffix(".**").or_else(|| a.key.strip_suffix(".*"));
            [Some(a.key.as_str()), parent].into_iter().flatten().any(|p| literal_brackets_glob(p).is_ok_and(|g| g.is_match(key)))
        })
    }

    /// Whether an image is declared not to be a Go program.
    pub fn non_go_image(&self, image: &str) -> bool {
        let name = super::gomemlimit::image_repository_name(image);
        self.gomemlimit.non_go_images.iter().any(|p| match p.contains(['/', ':', '*', '?', '[']) {
            true => glob_any(std::slice::from_ref(p), image),
            false => p.eq_ignore_ascii_case(&name),
        })
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
    fn exclusions_match_every_given_field_and_carry_their_reason() {
        let c = Config::parse(
            "exclusions:\n  - {rule: resources-limits, kind: StatefulSet, subchart: redis, path: 'spec.template.spec.containers[*].resources*', reason: vendored redis}\n  - {rule: '*', template: 'templates/debug-*.yaml', reason: debug only}\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        let f = |rule: &str, kind: &str, template: &str, path: &str| Finding {
            rule: rule.into(),
            severity: Severity::Error,
            kind: kind.into(),
            namespace: None,
            name: "release-redis-master".into(),
            template: Some(template.into()),
            path: Some(path.into()),
            message: String::new(),
        };
        let redis = f("resources-limits", "StatefulSet", "app/charts/redis/templates/master.yaml", "spec.template.spec.containers[name=redis].resources.limits");
        let own = f("resources-limits", "StatefulSet", "app/templates/master.yaml", "spec.template.spec.containers[name=redis].resources.limits");
        let other_rule = f("probe-liveness", "StatefulSet", "app/charts/redis/templates/master.yaml", "spec.template.spec.containers[name=redis]");
        let debug = f("image-digest", "Pod", "app/templates/debug-pod.yaml", "spec.containers[name=x].image");
        let (kept, excluded) = c.exclude(vec![redis, own.clone(), other_rule.clone(), debug]);
        assert_eq!(kept, vec![own, other_rule]);
        assert_eq!(excluded.iter().map(|s| s.reason.clone().unwrap()).collect::<Vec<_>>(), ["excluded by config: vendored redis", "excluded by config: debug only"]);
        let e = Config::parse("exclusions:\n  - {rule: resources-limit, reason: x}\n", Path::new("c.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("did you mean `resources-limits`"), "{e:#}");
        let e = Config::parse("exclusions:\n  - {rule: resources-limits, reason: ' '}\n", Path::new("c.yaml")).unwrap_err();
        assert!(format!("{e:#}").contains("exclusions[0].reason"), "{e:#}");
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

impl crate::policy::PolicyArgs {
    /// Load and compile the policies of `config` and these arguments into `config` for a release
    /// in `namespace`; a policy that does not compile is unusable input.
    pub fn load_into(&self, config: &mut Config, namespace: Option<&str>) -> Result<()> {
        if let Some(set) = self.load(&config.policies, namespace)? {
            config.platform_policies = set;
        }
        Ok(())
    }
}
