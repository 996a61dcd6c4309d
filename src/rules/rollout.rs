//! Rollout and termination: `rolling-update` (a Deployment strategy that cannot progress or can
//! drop all capacity, with percentages resolved as Kubernetes rounds them) and
//! `graceful-shutdown` (grace period shorter than preStop delay plus drain margin).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{Severity, Sink};
use crate::manifest::{Manifest, Resource};

/// Resolve an int-or-percent against `total` as `intstr.GetScaledValueFromIntOrPercent`.
pub fn scaled_value(v: &Value, total: i64, round_up: bool) -> Result<i64, String> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s) => {
            let Some(p) = s.strip_suffix('%') else {
                return s.parse::<i64>().map_err(|_| format!("`{s}` is neither an integer nor a percentage"));
            };
            let p: i64 = p.parse().map_err(|_| format!("`{s}` is not a valid percentage"))?;
            let scaled = p * total;
            Ok(if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) })
        }
        other => Err(format!("{other} is neither an integer nor a percentage")),
    }
}

fn literal_zero(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.as_i64() == Some(0)) || matches!(v, Value::String(s) if s == "0%" || s == "0")
}

/// Replicas a Deployment runs with: spec.replicas, else the minReplicas of an HPA targeting it, else 1.
fn replicas(manifest: &Manifest, d: &Resource) -> i64 {
    if let Some(n) = d.body.pointer("/spec/replicas").and_then(Value::as_i64) {
        return n;
    }
    super::selectors::autoscalers(manifest, d)
        .map(|h| h.body.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1))
        .min()
        .unwrap_or(1)
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for d in manifest.of_kind("Deployment") {
        rolling_update(manifest, d, sink);
    }
    graceful_shutdown(manifest, sink);
}

fn rolling_update(manifest: &Manifest, d: &Resource, sink: &mut Sink) {
    const RULE: &str = "rolling-update";
    let replicas = replicas(manifest, d);
    let strategy = d.body.pointer("/spec/strategy");
    let kind = strategy.and_then(|s| s.get("type")).and_then(Value::as_str).unwrap_or("RollingUpdate");
    if kind == "Recreate" {
        if replicas > 1 {
            sink.report_at(d, RULE, Severity::Warning, Some("spec.strategy.type".into()), format!("strategy Recreate stops all {replicas} replicas before starting new ones: every rollout is an outage"));
        }
        return;
    }
    if replicas <= 0 {
        return;
    }
    let ru = strategy.and_then(|s| s.get("rollingUpdate"));
    let default = Value::String("25%".into());
    let surge_v = ru.and_then(|r| r.get("maxSurge")).filter(|v| !v.is_null()).unwrap_or(&default);
    let unav_v = ru.and_then(|r| r.get("maxUnavailable")).filter(|v| !v.is_null()).unwrap_or(&default);
    let path = Some("spec.strategy.rollingUpdate".to_string());
    if literal_zero(surge_v) && literal_zero(unav_v) {
        sink.report(d, RULE, path, "maxSurge and maxUnavailable are both 0: the rollout cannot make progress (the API server rejects it)".into());
        return;
    }
    let (surge, mut unav) = match (scaled_value(surge_v, replicas, true), scaled_value(unav_v, replicas, false)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) => return sink.report(d, RULE, Some("spec.strategy.rollingUpdate.maxSurge".into()), format!("maxSurge {e}")),
        (_, Err(e)) => return sink.report(d, RULE, Some("spec.strategy.rollingUpdate.maxUnavailable".into()), format!("maxUnavailable {e}")),
    };
    let show = |v: &Value| super::selectors::scalar_text(v);
    let mut note = String::new();
    if surge == 0 && unav == 0 {
        // Kubernetes' ResolveFenceposts: both rounding to zero makes maxUnavailable 1.
        unav = 1;
        note = " (both round to 0, so Kubernetes uses maxUnavailable 1)".into();
    }
    if unav >= replicas {
        sink.report(
            d,
            RULE,
            path,
            format!(
                "with {replicas} replica(s), maxSurge {} resolves to {surge} and maxUnavailable {} to {unav}{note}: a rollout may take every replica down at once",
                show(surge_v),
                show(unav_v)
            ),
        );
    }
}

static SLEEP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bsleep\s+([0-9]+(?:\.[0-9]+)?)s?\b").unwrap());

/// Seconds a preStop hook waits, when it can be read (sleep action or an exec running `sleep N`).
fn pre_stop_seconds(hook: &Value) -> Option<f64> {
    if let Some(s) = hook.pointer("/sleep/seconds").and_then(Value::as_f64) {
        return Some(s);
    }
    let cmd = hook.pointer("/exec/command")?.as_array()?;
    let text = cmd.iter().map(super::selectors::scalar_text).collect::<Vec<_>>().join(" ");
    SLEEP.captures_iter(&text).filter_map(|c| c[1].parse::<f64>().ok()).reduce(f64::max)
}

fn graceful_shutdown(manifest: &Manifest, sink: &mut Sink) {
    let margin = sink.config().drain_margin_seconds as f64;
    for (r, t) in manifest.workloads() {
        if t.runs_to_completion() {
            continue;
        }
        let grace = t.spec.get("terminationGracePeriodSeconds").and_then(Value::as_f64).unwrap_or(30.0);
        let (pre_stop, who) = t
            .containers()
            .into_iter()
            .filter_map(|c| c.body.pointer("/lifecycle/preStop").and_then(pre_stop_seconds).map(|s| (s, Some(c.name.to_string()))))
            .fold((0.0, None), |a, b| if b.0 > a.0 { b } else { a });
        let needed = pre_stop + margin;
        if grace < needed {
            let p = t.path();
            let path = Some(if p.is_empty() { "spec.terminationGracePeriodSeconds".into() } else { format!("{p}.spec.terminationGracePeriodSeconds") });
            let hook = match who {
                Some(name) => format!("container `{name}`'s preStop sleep of {pre_stop}s plus "),
                None => String::new(),
            };
            sink.report(r, "graceful-shutdown", path, format!("terminationGracePeriodSeconds is {grace}s, shorter than {hook}the {margin}s drain margin ({needed}s): in-flight requests are killed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::rules_hit;
    use serde_json::json;

    #[test]
    fn percentages_round_like_kubernetes() {
        assert_eq!(scaled_value(&json!("25%"), 3, true), Ok(1));
        assert_eq!(scaled_value(&json!("25%"), 3, false), Ok(0));
        assert_eq!(scaled_value(&json!("50%"), 5, true), Ok(3));
        assert_eq!(scaled_value(&json!("50%"), 5, false), Ok(2));
        assert_eq!(scaled_value(&json!("100%"), 4, false), Ok(4));
        assert_eq!(scaled_value(&json!(2), 4, false), Ok(2));
        assert!(scaled_value(&json!("x%"), 4, false).is_err());
        assert!(scaled_value(&json!("abc"), 4, false).is_err());
    }

    fn deploy(replicas: &str, strategy: &str) -> String {
        format!("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: a}}\nspec:\n  {replicas}\n  strategy: {strategy}\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec:\n      containers: [{{name: app, image: x}}]\n")
    }

    #[test]
    fn strategies() {
        assert!(rules_hit(&deploy("replicas: 3", "{}"), "rolling-update").is_empty());
        assert!(rules_hit(&deploy("replicas: 1", "{}"), "rolling-update").is_empty(), "defaults: surge 1, unavailable 0");
        assert_eq!(rules_hit(&deploy("replicas: 3", "{rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}"), "rolling-update").len(), 1);
        assert_eq!(rules_hit(&deploy("replicas: 3", "{rollingUpdate: {maxUnavailable: 100%}}"), "rolling-update").len(), 1);
        // 1 replica, maxSurge 0, maxUnavailable 25% -> both 0 -> Kubernetes takes 1 down: all capacity.
        let f = rules_hit(&deploy("replicas: 1", "{rollingUpdate: {maxSurge: 0, maxUnavailable: 25%}}"), "rolling-update");
        assert!(f[0].message.contains("Kubernetes uses maxUnavailable 1"), "{}", f[0].message);
        assert!(rules_hit(&deploy("replicas: 4", "{rollingUpdate: {maxSurge: 0, maxUnavailable: 25%}}"), "rolling-update").is_empty());
        let recreate = rules_hit(&deploy("replicas: 2", "{type: Recreate}"), "rolling-update");
        assert_eq!(recreate[0].severity, Severity::Warning);
        assert!(rules_hit(&deploy("replicas: 1", "{type: Recreate}"), "rolling-update").is_empty());
    }

    fn pod(grace: &str, pre_stop: &str) -> String {
        format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  {grace}\n  containers:\n  - name: app\n    image: x\n    lifecycle: {{preStop: {pre_stop}}}\n")
    }

    #[test]
    fn grace_covers_pre_stop_and_margin() {
        assert!(rules_hit(&pod("terminationGracePeriodSeconds: 30", "{sleep: {seconds: 10}}"), "graceful-shutdown").is_empty());
        assert_eq!(rules_hit(&pod("terminationGracePeriodSeconds: 12", "{sleep: {seconds: 10}}"), "graceful-shutdown").len(), 1);
        assert_eq!(rules_hit(&pod("", "{exec: {command: [sh, -c, \"sleep 40\"]}}"), "graceful-shutdown").len(), 1);
        assert!(rules_hit(&pod("", "{exec: {command: [/bin/sleep, \"5\"]}}"), "graceful-shutdown").is_empty());
        assert_eq!(rules_hit(&pod("terminationGracePeriodSeconds: 2", "null"), "graceful-shutdown").len(), 1);
    }
}
