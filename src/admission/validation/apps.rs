//! Controllers of pods: apps (`pkg/apis/apps/validation/validation.go`: Deployment, ReplicaSet,
//! DaemonSet, StatefulSet) and batch (`pkg/apis/batch/validation/validation.go`: Job, CronJob,
//! with robfig/cron's `ParseStandard` for schedules).

use serde_json::Value;

use super::core::validate_pod_spec;
use super::names::{validate_annotations, validate_label_selector, validate_labels};
use super::{Errors, ValidationContext, child, int_at, int_or_string, list_at, map_at, nonnegative, present, quote, str_at};

/// The selector checks every controller shares: required (except for DaemonSets:
/// `ValidateDaemonSetSpec` has no Required, a missing selector fails only its match with the
/// template), valid, not empty (`empty selector is invalid for <kind>`). Whether it selects the
/// template's labels is `selector-mismatch`'s finding, not repeated here.
fn validate_selector(errs: &mut Errors, spec: &Value, kind: &str) {
    match spec.get("selector").filter(|v| !v.is_null()) {
        None if kind == "daemonset" => {}
        None => errs.required("spec.selector", ""),
        Some(selector) => {
            validate_label_selector(errs, selector, "spec.selector");
            if map_at(selector, "matchLabels").is_none_or(|m| m.is_empty()) && list_at(selector, "matchExpressions").is_empty() {
                errs.invalid("spec.selector", "&v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}".into(), format!("empty selector is invalid for {kind}"));
            }
        }
    }
}

/// Template metadata (`ValidatePodTemplateSpec`: labels and annotations of spec.template.metadata).
fn validate_template_meta(errs: &mut Errors, template: &Value, path: &str) {
    validate_template_labels_and_annotations(errs, template, &child(path, "metadata"));
}

/// The labels and annotations of a template's metadata, reported under `path`: `<template>.metadata`
/// for `ValidatePodTemplateSpec`, the template itself for `ValidatePodTemplateSpecForStatefulSet`
/// (apps/validation/validation.go: `fldPath.Child("labels")`, so `spec.template.labels`).
fn validate_template_labels_and_annotations(errs: &mut Errors, template: &Value, path: &str) {
    let meta = template.get("metadata").unwrap_or(&Value::Null);
    validate_labels(errs, map_at(meta, "labels"), &child(path, "labels"));
    validate_annotations(errs, map_at(meta, "annotations"), &child(path, "annotations"));
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployment, ReplicaSet) and the DaemonSet equivalent:
/// the full pod spec, restartPolicy Always only, no activeDeadlineSeconds.
fn validate_long_running_template(errs: &mut Errors, spec: &Value, ctx: &ValidationContext, kind: &str) {
    let template = spec.get("template").unwrap_or(&Value::Null);
    validate_template_meta(errs, template, "spec.template");
    let pod = template.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(errs, pod, "spec.template.spec", ctx, &[]);
    restart_always_only(errs, pod, kind);
}

/// restartPolicy must be Always and activeDeadlineSeconds unset for long-running controllers.
fn restart_always_only(errs: &mut Errors, pod: &Value, kind: &str) {
    if let Some(p) = str_at(pod, "restartPolicy").filter(|p| *p != "Always" && !p.is_empty()) {
        // The pod-spec check already refused values outside Always/OnFailure/Never.
        if matches!(p, "OnFailure" | "Never") {
            errs.not_supported("spec.template.spec.restartPolicy", quote(p), &["Always"]);
        }
    }
    if present(pod, "activeDeadlineSeconds") {
        errs.forbidden("spec.template.spec.activeDeadlineSeconds", format!("activeDeadlineSeconds in {kind} is not Supported"));
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent` (apps/validation).
fn validate_int_or_percent(errs: &mut Errors, v: &Value, path: &str, at_most_100_percent: bool) {
    match v {
        Value::String(s) => {
            let percent = s.strip_suffix('%').filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
            match percent {
                None => errs.invalid(
                    path,
                    int_or_string(v),
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                ),
                Some(d) if at_most_100_percent && d.parse::<u64>().is_ok_and(|n| n > 100) => errs.invalid(path, int_or_string(v), "must not be greater than 100%"),
                Some(_) => {}
            }
        }
        Value::Number(_) => {
            if let Some(n) = v.as_i64().filter(|n| *n < 0) {
                errs.invalid(path, n.to_string(), "must be greater than or equal to 0");
            }
        }
        _ => {}
    }
}

/// The value of an int-or-percent, with percents as their number (`getIntOrPercentValue`).
fn int_or_percent_value(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.strip_suffix('%')?.parse().ok(),
        other => other.as_i64(),
    }
}

/// `ValidateRollingUpdateDeployment` / DaemonSet: maxUnavailable and maxSurge, not both 0.
fn validate_rolling_update(errs: &mut Errors, ru: &Value, path: &str) {
    let unavailable = ru.get("maxUnavailable").filter(|v| !v.is_null());
    let surge = ru.get("maxSurge").filter(|v| !v.is_null());
    if let Some(v) = unavailable {
        validate_int_or_percent(errs, v, &child(path, "maxUnavailable"), true);
    }
    if let Some(v) = surge {
        validate_int_or_percent(errs, v, &child(path, "maxSurge"), false);
    }
    if int_or_percent_value(unavailable) == Some(0) && int_or_percent_value(surge).unwrap_or(0) == 0 {
        errs.invalid(&child(path, "maxUnavailable"), int_or_string(unavailable.unwrap()), "may not be 0 when `maxSurge` is 0");
    }
}

/// `ValidateDeploymentSpec`.
pub fn validate_deployment(errs: &mut Errors, spec: &Value, ctx: &ValidationContext) {
    for field in ["replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"] {
        nonnegative(errs, spec, field, "spec");
    }
    validate_selector(errs, spec, "deployment");
    validate_long_running_template(errs, spec, ctx, "ReplicaSet");
    // ValidateDeploymentStrategy
    let strategy = spec.get("strategy").unwrap_or(&Value::Null);
    let rolling = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match str_at(strategy, "type").unwrap_or("") {
        "Recreate" => {
            if rolling.is_some() {
                errs.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = rolling {
                validate_rolling_update(errs, ru, "spec.strategy.rollingUpdate");
            }
        }
        "" => errs.required("spec.strategy.type", ""),
        other => errs.not_supported("spec.strategy.type", quote(other), &["Recreate", "RollingUpdate"]),
    }
    if let (Some(deadline), min_ready) = (int_at(spec, "progressDeadlineSeconds"), int_at(spec, "minReadySeconds").unwrap_or(0))
        && deadline <= min_ready
    {
        errs.invalid("spec.progressDeadlineSeconds", deadline.to_string(), "must be greater than minReadySeconds");
    }
}

/// `ValidateReplicaSetSpec`.
pub fn validate_replica_set(errs: &mut Errors, spec: &Value, ctx: &ValidationContext) {
    for field in ["replicas", "minReadySeconds"] {
        nonnegative(errs, spec, field, "spec");
    }
    validate_selector(errs, spec, "deployment");
    validate_long_running_template(errs, spec, ctx, "ReplicaSet");
}

/// `ValidateDaemonSetSpec` and `ValidateDaemonSetUpdateStrategy`.
pub fn validate_daemon_set(errs: &mut Errors, spec: &Value, ctx: &ValidationContext) {
    for field in ["minReadySeconds", "revisionHistoryLimit"] {
        nonnegative(errs, spec, field, "spec");
    }
    validate_selector(errs, spec, "daemonset");
    validate_long_running_template(errs, spec, ctx, "DaemonSet");
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    match str_at(strategy, "type").unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => {
            if let Some(ru) = strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                validate_rolling_update(errs, ru, "spec.updateStrategy.rollingUpdate");
            }
        }
        "" => errs.required("spec.updateStrategy.type", ""),
        other => errs.not_supported("spec.updateStrategy.type", quote(other), &["OnDelete", "RollingUpdate"]),
    }
}

/// `ValidateStatefulSetSpec`. Its pod template's spec is not validated on create
/// (`ValidatePodTemplateSpecForStatefulSet` validates only its metadata); the pod spec errors
/// come back when the controller creates the pods, and are marked so. volumeMounts may name
/// a volumeClaimTemplate.
pub fn validate_stateful_set(errs: &mut Errors, spec: &Value, ctx: &ValidationContext) {
    match str_at(spec, "podManagementPolicy").unwrap_or("") {
        "OrderedReady" | "Parallel" => {}
        "" => errs.required("spec.podManagementPolicy", ""),
        other => errs.not_supported("spec.podManagementPolicy", quote(other), &["OrderedReady", "Parallel"]),
    }
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    match str_at(strategy, "type").unwrap_or("") {
        "OnDelete" => {
            if present(strategy, "rollingUpdate") {
                errs.invalid("spec.updateStrategy.rollingUpdate", "\"\"".into(), "only allowed for updateStrategy 'RollingUpdate'");
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
                nonnegative(errs, ru, "partition", "spec.updateStrategy.rollingUpdate");
                if let Some(v) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    validate_int_or_percent(errs, v, "spec.updateStrategy.rollingUpdate.maxUnavailable", true);
                    if int_or_percent_value(Some(v)) == Some(0) {
                        errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", int_or_string(v), "must be greater than 0");
                    }
                }
            }
        }
        "" => errs.required("spec.updateStrategy", ""),
        other => errs.not_supported("spec.updateStrategy.type", quote(other), &["OnDelete", "RollingUpdate"]),
    }
    for field in ["replicas", "minReadySeconds"] {
        nonnegative(errs, spec, field, "spec");
    }
    validate_selector(errs, spec, "statefulset");
    let template = spec.get("template").unwrap_or(&Value::Null);
    validate_template_labels_and_annotations(errs, template, "spec.template");
    let pod = template.get("spec").unwrap_or(&Value::Null);
    restart_always_only(errs, pod, "StatefulSet");
    let claims: Vec<&str> = list_at(spec, "volumeClaimTemplates").iter().filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str)).collect();
    let mut pod_errs = Errors(Vec::new());
    validate_pod_spec(&mut pod_errs, pod, "spec.template.spec", ctx, &claims);
    let refused_now: Vec<String> = errs.0.iter().map(|e| e.field.clone()).collect();
    for mut e in pod_errs.0 {
        if !refused_now.contains(&e.field) {
            e.at_pod_creation = true;
            errs.0.push(e);
        }
    }
}

/// `validateJobSpec`: counts and deadlines nonnegative, completion mode, the pod template with
/// restartPolicy OnFailure or Never.
pub fn validate_job_spec(errs: &mut Errors, spec: &Value, path: &str, ctx: &ValidationContext) {
    for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"] {
        nonnegative(errs, spec, field, path);
    }
    match str_at(spec, "completionMode").unwrap_or("NonIndexed") {
        "NonIndexed" => {}
        "Indexed" => {
            if !present(spec, "completions") {
                errs.required(&child(path, "completions"), "when completion mode is Indexed");
            }
        }
        other => errs.not_supported(&child(path, "completionMode"), quote(other), &["NonIndexed", "Indexed"]),
    }
    let template_path = child(path, "template");
    let template = spec.get("template").unwrap_or(&Value::Null);
    validate_template_meta(errs, template, &template_path);
    let pod = template.get("spec").unwrap_or(&Value::Null);
    let pod_path = child(&template_path, "spec");
    validate_pod_spec(errs, pod, &pod_path, ctx, &[]);
    // validateJobSpec (batch/validation/validation.go): Always is Required ("valid values"),
    // other values NotSupported (the pod spec check already refused those outside
    // Always/OnFailure/Never, at the same path); a podFailurePolicy needs Never.
    match str_at(pod, "restartPolicy") {
        Some("Always") => errs.required(&child(&pod_path, "restartPolicy"), "valid values: \"OnFailure\", \"Never\""),
        Some("OnFailure") if present(spec, "podFailurePolicy") => {
            errs.invalid(&child(&pod_path, "restartPolicy"), quote("OnFailure"), "only \"Never\" is supported when podFailurePolicy is specified")
        }
        _ => {}
    }
}

/// `ValidateCronJobCreate`/`validateCronJobSpec`: name ≤ 52 characters, schedule, time zone,
/// concurrency policy, deadlines and history limits, the job template.
pub fn validate_cron_job(errs: &mut Errors, object: &Value, ctx: &ValidationContext) {
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str).filter(|n| n.len() > 52) {
        errs.invalid("metadata.name", quote(name), "must be no more than 52 characters");
    }
    let spec = object.get("spec").unwrap_or(&Value::Null);
    match str_at(spec, "schedule").unwrap_or("") {
        "" => errs.required("spec.schedule", ""),
        schedule => {
            if let Err(e) = parse_cron_standard(schedule) {
                errs.invalid("spec.schedule", quote(schedule), e);
            }
            if schedule.contains("TZ") {
                let detail = if present(spec, "timeZone") {
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule"
                } else {
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
                };
                errs.invalid("spec.schedule", quote(schedule), detail);
            }
        }
    }
    if let Some(tz) = str_at(spec, "timeZone") {
        validate_time_zone(errs, tz, "spec.timeZone");
    }
    nonnegative(errs, spec, "startingDeadlineSeconds", "spec");
    match str_at(spec, "concurrencyPolicy").unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.required("spec.concurrencyPolicy", ""),
        other => errs.not_supported("spec.concurrencyPolicy", quote(other), &["Allow", "Forbid", "Replace"]),
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        nonnegative(errs, spec, field, "spec");
    }
    let job_template = spec.get("jobTemplate").unwrap_or(&Value::Null);
    let meta = job_template.get("metadata").unwrap_or(&Value::Null);
    validate_labels(errs, map_at(meta, "labels"), "spec.jobTemplate.metadata.labels");
    validate_annotations(errs, map_at(meta, "annotations"), "spec.jobTemplate.metadata.annotations");
    // ValidateJobTemplateSpec: the job spec, and no selector of its own (the Job's is generated).
    let job = job_template.get("spec").unwrap_or(&Value::Null);
    validate_job_spec(errs, job, "spec.jobTemplate.spec", ctx);
    if present(job, "selector") {
        errs.invalid("spec.jobTemplate.spec.selector", "&v1.LabelSelector{...}".into(), "`selector` will be auto-generated");
    }
    if job.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.not_supported("spec.jobTemplate.spec.manualSelector", "true".into(), &["nil", "false"]);
    }
}

/// `validateTimeZone` (batch/validation/validation.go): not empty, not `Local` (in any case), and
/// a zone `time.LoadLocation` knows: the IANA tz database, case-sensitive (chrono-tz's names).
fn validate_time_zone(errs: &mut Errors, tz: &str, path: &str) {
    if tz.is_empty() {
        errs.invalid(path, quote(tz), "timeZone must be nil or non-empty string");
        return;
    }
    if tz.eq_ignore_ascii_case("local") {
        errs.invalid(path, quote(tz), "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
    }
    if tz != "Local" && tz.parse::<chrono_tz::Tz>().is_err() {
        errs.invalid(path, quote(tz), format!("unknown time zone {tz}"));
    }
}

/// One field of a standard cron spec: its bounds and names (robfig/cron `parser.go`).
struct Bounds {
    min: i64,
    max: i64,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// robfig/cron/v3 `ParseStandard`: five fields or a descriptor; errors worded as robfig's.
pub fn parse_cron_standard(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let mut spec = spec.trim();
    for prefix in ["TZ=", "CRON_TZ="] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            let end = rest.find(' ').unwrap_or(rest.len());
            spec = rest[end..].trim();
        }
    }
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => match spec.strip_prefix("@every ") {
                Some(d) if go_duration(d) => Ok(()),
                Some(d) => Err(format!("failed to parse duration {spec}: time: invalid duration {}", quote(d))),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let bounds = [
        Bounds { min: 0, max: 59, names: &[] },
        Bounds { min: 0, max: 23, names: &[] },
        Bounds { min: 1, max: 31, names: &[] },
        Bounds { min: 1, max: 12, names: MONTHS },
        Bounds { min: 0, max: 6, names: DAYS },
    ];
    for (field, b) in fields.iter().zip(&bounds) {
        for expr in field.split(',') {
            cron_range(expr, b)?;
        }
    }
    Ok(())
}

/// robfig/cron `getRange`.
fn cron_range(expr: &str, b: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (b.min, b.max)
    } else {
        let start = int_or_name(low_and_high[0], b.names)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => int_or_name(low_and_high[1], b.names)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn int_or_name(expr: &str, names: &[&str]) -> Result<i64, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(expr)) {
        // Months count from 1, days from 0.
        return Ok(i as i64 + if names.len() == 12 { 1 } else { 0 });
    }
    must_parse_int(expr)
}

/// robfig/cron `mustParseInt` (Go's `strconv.Atoi` errors).
fn must_parse_int(expr: &str) -> Result<i64, String> {
    let parsed = expr.parse::<i64>().map_err(|_| format!("failed to parse int from {expr}: strconv.Atoi: parsing {}: invalid syntax", quote(expr)))?;
    if parsed < 0 {
        return Err(format!("negative number ({parsed}) not allowed: {expr}"));
    }
    Ok(parsed)
}

/// Whether Go's `time.ParseDuration` accepts `text` (`1h30m`, `90s`, `1.5h`).
fn go_duration(text: &str) -> bool {
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 || rest[..digits] == *"." {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"].iter().filter(|u| rest.starts_with(**u)).max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}
