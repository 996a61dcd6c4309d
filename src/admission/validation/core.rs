//! Core API validation (`pkg/apis/core/validation/validation.go`): pod specs (containers, ports,
//! env, volume mounts, probes, resources, volumes, restart/DNS policy, tolerations, topology
//! spread), Services, ConfigMaps, Secrets and PersistentVolumeClaims.

use std::collections::HashSet;

use serde_json::Value;

use super::names::{
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_env_var_name, is_qualified_name, is_relaxed_env_var_name, is_valid_port_name, is_valid_port_num,
    validate_label_selector, validate_labels, validate_requirement_values,
};
use super::{Errors, ValidationContext, child, index, int_at, key, list_at, map_at, nonnegative, present, quote, str_at};
use crate::rules::quantity::Quantity;

/// `supportedPortProtocols`.
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Volume sources in the order `validateVolumeSource` checks them.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath", "emptyDir", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi", "glusterfs", "flocker",
    "persistentVolumeClaim", "rbd", "quobyte", "cinder", "cephfs", "downwardAPI", "fc", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "configMap", "scaleIO", "projected", "storageos", "csi", "ephemeral", "image",
];

/// `fileModeErrorMsg`.
const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// `ValidatePodSpec`: the spec of a Pod or pod template. `claim_templates` are the names of a
/// StatefulSet's volumeClaimTemplates, which volumeMounts may name (the controller adds them as
/// volumes of each pod).
pub fn validate_pod_spec(errs: &mut Errors, spec: &Value, path: &str, ctx: &ValidationContext, claim_templates: &[&str]) {
    let mut volumes = validate_volumes(errs, list_at(spec, "volumes"), &child(path, "volumes"));
    volumes.extend(claim_templates.iter().map(|s| s.to_string()));
    let containers = list_at(spec, "containers");
    validate_containers(errs, containers, &volumes, &child(path, "containers"), ctx);
    validate_init_containers(errs, list_at(spec, "initContainers"), containers, &volumes, &child(path, "initContainers"), ctx);
    // validateRestartPolicy
    match str_at(spec, "restartPolicy") {
        Some("Always" | "OnFailure" | "Never") => {}
        None | Some("") => errs.required(&child(path, "restartPolicy"), ""),
        Some(other) => errs.not_supported(&child(path, "restartPolicy"), quote(other), &["Always", "OnFailure", "Never"]),
    }
    // validateDNSPolicy, validatePodDNSConfig
    let dns_policy = str_at(spec, "dnsPolicy").unwrap_or("");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.required(&child(path, "dnsPolicy"), ""),
        other => errs.not_supported(&child(path, "dnsPolicy"), quote(other), &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]),
    }
    validate_dns_config(errs, spec, dns_policy, &child(path, "dnsConfig"));
    validate_labels(errs, map_at(spec, "nodeSelector"), &child(path, "nodeSelector"));
    // ValidateServiceAccountName (DNS subdomain)
    if let Some(sa) = str_at(spec, "serviceAccountName").filter(|s| !s.is_empty()) {
        errs.each_invalid(&child(path, "serviceAccountName"), sa, is_dns1123_subdomain(sa));
    }
    if let Some(d) = int_at(spec, "activeDeadlineSeconds").filter(|d| *d < 1 || *d > i64::from(i32::MAX)) {
        errs.invalid(&child(path, "activeDeadlineSeconds"), d.to_string(), format!("must be between 1 and {}, inclusive", i32::MAX));
    }
    for field in ["hostname", "subdomain"] {
        if let Some(h) = str_at(spec, field).filter(|s| !s.is_empty()) {
            errs.each_invalid(&child(path, field), h, is_dns1123_label(h));
        }
    }
    validate_tolerations(errs, list_at(spec, "tolerations"), &child(path, "tolerations"));
    validate_topology_spread(errs, list_at(spec, "topologySpreadConstraints"), &child(path, "topologySpreadConstraints"));
    validate_affinity(errs, spec.get("affinity").unwrap_or(&Value::Null), &child(path, "affinity"));
    validate_pod_security_context(errs, spec.get("securityContext").unwrap_or(&Value::Null), &child(path, "securityContext"));
    validate_sysctls(errs, spec, &child(&child(path, "securityContext"), "sysctls"), ctx);
}

/// A sysctl name: dot- or slash-separated segments (`SysctlContainSlashFmt` with
/// `SysctlSegmentFmt`, pkg/apis/core/validation/validation.go), at most 253 characters.
const SYSCTL_REGEX: &str = r"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";

/// `validateSysctls` (pkg/apis/core/validation/validation.go, called by
/// `ValidatePodSecurityContext`): each `securityContext.sysctls[i].name` is required, a valid
/// sysctl name (`IsValidSysctlName`), and not a duplicate; and, from 1.27 (the API server's
/// `AllowNamespacedSysctlsForHostNetAndHostIPC` is false for new pods), a sysctl of the network
/// namespace is refused with `hostNetwork` and one of the IPC namespace with `hostIPC`
/// (`ValidateHostSysctl`; the namespace of a name as k8s.io/component-helpers
/// `node/util/sysctl` `GetNamespace` gives it, after `NormalizeName`).
fn validate_sysctls(errs: &mut Errors, spec: &Value, path: &str, ctx: &ValidationContext) {
    static NAME: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let name_syntax = NAME.get_or_init(|| regex::Regex::new(SYSCTL_REGEX).expect("the sysctl regex compiles"));
    let security = spec.get("securityContext").unwrap_or(&Value::Null);
    let mut names = HashSet::new();
    for (i, sysctl) in list_at(security, "sysctls").iter().enumerate() {
        let at = child(&index(path, i), "name");
        let name = str_at(sysctl, "name").unwrap_or("");
        if name.is_empty() {
            errs.required(&at, "");
        } else if name.len() > 253 || !name_syntax.is_match(name) {
            errs.invalid(&at, quote(name), format!("must have at most 253 characters and match regex {SYSCTL_REGEX}"));
        } else if names.contains(name) {
            errs.duplicate(&at, quote(name));
        }
        if ctx.minor >= 27 {
            match sysctl_namespace(name) {
                Some("Net") if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) => errs.invalid(&at, quote(name), "may not be specified when 'hostNetwork' is true"),
                Some("IPC") if spec.get("hostIPC").and_then(Value::as_bool) == Some(true) => errs.invalid(&at, quote(name), "may not be specified when 'hostIPC' is true"),
                _ => {}
            }
        }
        names.insert(name);
    }
}

/// The kernel namespace of a sysctl (k8s.io/component-helpers `node/util/sysctl/namespace.go`
/// `namespaceOf`, after `sysctl.go` `NormalizeName` turns a slash-first name into the dotted
/// form): the IPC names (`kernel.sem`, `kernel.shm*` and `kernel.msg*` limits) and prefixes
/// (`fs.mqueue.`), the network prefix `net.`; `None` when not known to be namespaced.
fn sysctl_namespace(name: &str) -> Option<&'static str> {
    let normalized: String = match name.find(['.', '/']) {
        Some(i) if name.as_bytes()[i] == b'/' => name.chars().map(|c| match c {
            '.' => '/',
            '/' => '.',
            other => other,
        }).collect(),
        _ => name.to_string(),
    };
    let ipc_names = ["kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.shm", "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.msg"];
    if ipc_names.contains(&normalized.as_str()) || normalized.starts_with("fs.mqueue.") {
        Some("IPC")
    } else if normalized.starts_with("net.") {
        Some("Net")
    } else {
        None
    }
}

/// `validatePodDNSConfig`: None requires a dnsConfig; at most 3 nameservers, 32 search domains.
fn validate_dns_config(errs: &mut Errors, spec: &Value, policy: &str, path: &str) {
    let config = spec.get("dnsConfig").filter(|v| !v.is_null());
    if policy == "None" && config.is_none() {
        errs.required(path, "must provide `dnsConfig` when `dnsPolicy` is None");
    }
    let Some(config) = config else { return };
    let nameservers = list_at(config, "nameservers");
    if nameservers.len() > 3 {
        errs.invalid(&child(path, "nameservers"), format!("{:?}", nameservers.iter().filter_map(Value::as_str).collect::<Vec<_>>()), "must not have more than 3 nameservers");
    }
    if policy == "None" && nameservers.is_empty() {
        errs.required(&child(path, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None");
    }
    let searches = list_at(config, "searches");
    if searches.len() > 32 {
        errs.invalid(&child(path, "searches"), format!("{:?}", searches.iter().filter_map(Value::as_str).collect::<Vec<_>>()), "must not have more than 32 search paths");
    }
}

/// `ValidateVolumes`: each volume exactly one source, a DNS-1123 label name, names unique.
/// Returns the names.
fn validate_volumes(errs: &mut Errors, volumes: &[Value], path: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = index(path, i);
        validate_volume_source(errs, vol, &p);
        let name = str_at(vol, "name").unwrap_or("");
        let name_path = child(&p, "name");
        if name.is_empty() {
            errs.required(&name_path, "");
        } else {
            errs.each_invalid(&name_path, name, is_dns1123_label(name));
        }
        if !names.insert(name.to_string()) {
            errs.duplicate(&name_path, quote(name));
        }
    }
    names
}

/// `validateVolumeSource`: exactly one source (`may not specify more than 1 volume type` at each
/// extra one), then the source's own rules for the common ones.
fn validate_volume_source(errs: &mut Errors, vol: &Value, path: &str) {
    let mut count = 0;
    for source in VOLUME_SOURCES {
        let Some(body) = vol.get(*source).filter(|v| !v.is_null()) else { continue };
        let p = child(path, source);
        if count > 0 {
            errs.forbidden(&p, "may not specify more than 1 volume type");
            continue;
        }
        count += 1;
        match *source {
            // validateSecretVolumeSource
            "secret" => {
                if str_at(body, "secretName").unwrap_or("").is_empty() {
                    errs.required(&child(&p, "secretName"), "");
                }
                validate_mode_and_items(errs, body, &p);
            }
            // validateConfigMapVolumeSource
            "configMap" => {
                if str_at(body, "name").unwrap_or("").is_empty() {
                    errs.required(&child(&p, "name"), "");
                } else if let Some(n) = str_at(body, "name") {
                    errs.each_invalid(&child(&p, "name"), n, is_dns1123_subdomain(n));
                }
                validate_mode_and_items(errs, body, &p);
            }
            // validatePersistentClaimVolumeSource
            "persistentVolumeClaim" => {
                if str_at(body, "claimName").unwrap_or("").is_empty() {
                    errs.required(&child(&p, "claimName"), "");
                }
            }
            // validateHostPathVolumeSource
            "hostPath" => {
                if str_at(body, "path").unwrap_or("").is_empty() {
                    errs.required(&child(&p, "path"), "");
                }
                if let Some(t) = str_at(body, "type").filter(|t| !t.is_empty()) {
                    let types = ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"];
                    if !types.contains(&t) {
                        errs.not_supported(&child(&p, "type"), quote(t), &types);
                    }
                }
            }
            // validateEmptyDirVolumeSource (sizeLimit nonnegative)
            "emptyDir" => {
                if let Some(Ok(q)) = body.get("sizeLimit").and_then(Quantity::from_json)
                    && q.0 < 0
                {
                    errs.invalid(&child(&p, "sizeLimit"), quote(&canonical(body.get("sizeLimit").unwrap())), "must be greater than or equal to 0");
                }
            }
            // validateProjectedVolumeSource: each projection exactly one source
            "projected" => {
                for (j, projection) in list_at(body, "sources").iter().enumerate() {
                    let sp = index(&child(&p, "sources"), j);
                    let kinds = ["secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle", "podCertificate"];
                    let set: Vec<&&str> = kinds.iter().filter(|k| present(projection, k)).collect();
                    if set.is_empty() {
                        errs.required(&sp, "must specify exactly 1 of: secret, configMap, downwardAPI, serviceAccountToken, clusterTrustBundle");
                    }
                    for extra in set.iter().skip(1) {
                        errs.forbidden(&child(&sp, extra), "may not specify more than 1 volume type per source");
                    }
                }
                if let Some(m) = int_at(body, "defaultMode").filter(|m| !(0..=0o777).contains(m)) {
                    errs.invalid(&child(&p, "defaultMode"), m.to_string(), FILE_MODE_MSG);
                }
            }
            other => validate_rarer_volume_source(errs, other, body, &p),
        }
    }
    if count == 0 {
        errs.required(path, "must specify a volume type");
    }
}

/// The rules of the volume sources charts use less often (pkg/apis/core/validation/validation.go):
/// `validateNFSVolumeSource` (server and path required, the path absolute),
/// `validateGlusterfsVolumeSource` (endpoints and path required), `validateISCSIVolumeSource`
/// (targetPortal and iqn required, the iqn and initiatorName in iqn, eui or naa format, lun 0–255,
/// a secretRef with CHAP authentication), `validateFlockerVolumeSource`
/// (one of datasetName and datasetUUID, no `/` in the name) and
/// `validateDownwardAPIVolumeSource` / `validateDownwardAPIVolumeFile` (modes; each item's path
/// required and local, exactly one of fieldRef with a fieldPath and resourceFieldRef with a
/// resource; the fieldPath's set of allowed expressions is not checked), `validateFCVolumeSource`
/// (targetWWNs or wwids, not both; a lun 0–255 with targetWWNs), `validateAzureFile`,
/// `validateScaleIOVolumeSource` (their names required) and `validateQuobyteVolumeSource`
/// (registry `host:port` pairs, tenant at most 64 characters, volume).
fn validate_rarer_volume_source(errs: &mut Errors, source: &str, body: &Value, p: &str) {
    let required = |errs: &mut Errors, field: &str| {
        if str_at(body, field).unwrap_or("").is_empty() {
            errs.required(&child(p, field), "");
        }
    };
    match source {
        "nfs" => {
            required(errs, "server");
            required(errs, "path");
            let path = str_at(body, "path").unwrap_or("");
            if !path.starts_with('/') {
                errs.invalid(&child(p, "path"), quote(path), "must be an absolute path");
            }
        }
        "glusterfs" => {
            required(errs, "endpoints");
            required(errs, "path");
        }
        "iscsi" => {
            required(errs, "targetPortal");
            match str_at(body, "iqn").unwrap_or("") {
                "" => errs.required(&child(p, "iqn"), ""),
                iqn => validate_iscsi_name(errs, iqn, &child(p, "iqn")),
            }
            if let Some(lun) = int_at(body, "lun").filter(|l| !(0..=255).contains(l)) {
                errs.invalid(&child(p, "lun"), lun.to_string(), "must be between 0 and 255, inclusive");
            }
            let chap = ["chapAuthDiscovery", "chapAuthSession"].iter().any(|f| body.get(*f).and_then(Value::as_bool) == Some(true));
            if chap && body.get("secretRef").is_none_or(Value::is_null) {
                errs.required(&child(p, "secretRef"), "");
            }
            if let Some(initiator) = str_at(body, "initiatorName") {
                validate_iscsi_name(errs, initiator, &child(p, "initiatorname"));
            }
        }
        "flocker" => {
            let name = str_at(body, "datasetName").unwrap_or("");
            let uuid = str_at(body, "datasetUUID").unwrap_or("");
            if name.is_empty() && uuid.is_empty() {
                errs.required(p, "one of datasetName and datasetUUID is required");
            }
            if !name.is_empty() && !uuid.is_empty() {
                errs.invalid(p, quote("resource"), "datasetName and datasetUUID can not be specified simultaneously");
            }
            if name.contains('/') {
                errs.invalid(&child(p, "datasetName"), quote(name), "must not contain '/'");
            }
        }
        "downwardAPI" => {
            if let Some(m) = int_at(body, "defaultMode").filter(|m| !(0..=0o777).contains(m)) {
                errs.invalid(&child(p, "defaultMode"), m.to_string(), FILE_MODE_MSG);
            }
            // `validateDownwardAPIVolumeSource` passes the volume's own path to each file.
            for item in list_at(body, "items") {
                let target = str_at(item, "path").unwrap_or("");
                if target.is_empty() {
                    errs.required(&child(p, "path"), "");
                }
                validate_local_non_reserved_path(errs, target, &child(p, "path"));
                let field_ref = item.get("fieldRef").filter(|v| !v.is_null());
                let resource_ref = item.get("resourceFieldRef").filter(|v| !v.is_null());
                match (field_ref, resource_ref) {
                    (Some(field), resource) => {
                        if str_at(field, "fieldPath").unwrap_or("").is_empty() {
                            errs.required(&child(&child(p, "fieldRef"), "fieldPath"), "");
                        }
                        if resource.is_some() {
                            errs.invalid(p, quote("resource"), "fieldRef and resourceFieldRef can not be specified simultaneously");
                        }
                    }
                    (None, Some(resource)) => {
                        if str_at(resource, "resource").unwrap_or("").is_empty() {
                            errs.required(&child(&child(p, "resourceFieldRef"), "resource"), "");
                        }
                    }
                    (None, None) => errs.required(p, "one of fieldRef and resourceFieldRef is required"),
                }
                if let Some(m) = int_at(item, "mode").filter(|m| !(0..=0o777).contains(m)) {
                    errs.invalid(&child(p, "mode"), m.to_string(), FILE_MODE_MSG);
                }
            }
        }
        "fc" => {
            let wwns = list_at(body, "targetWWNs");
            if wwns.is_empty() && list_at(body, "wwids").is_empty() {
                errs.required(&child(p, "targetWWNs"), "must specify either targetWWNs or wwids, but not both");
            }
            if !wwns.is_empty() && !list_at(body, "wwids").is_empty() {
                let shown = format!("[]string{{{}}}", wwns.iter().filter_map(Value::as_str).map(quote).collect::<Vec<_>>().join(", "));
                errs.invalid(&child(p, "targetWWNs"), shown, "targetWWNs and wwids can not be specified simultaneously");
            }
            if !wwns.is_empty() {
                match int_at(body, "lun") {
                    None => errs.required(&child(p, "lun"), "lun is required if targetWWNs is specified"),
                    Some(lun) if !(0..=255).contains(&lun) => errs.invalid(&child(p, "lun"), lun.to_string(), "must be between 0 and 255, inclusive"),
                    Some(_) => {}
                }
            }
        }
        "azureFile" => {
            required(errs, "secretName");
            required(errs, "shareName");
        }
        "scaleIO" => {
            required(errs, "gateway");
            required(errs, "system");
            required(errs, "volumeName");
        }
        "quobyte" => {
            let registry = str_at(body, "registry").unwrap_or("");
            if registry.is_empty() {
                errs.required(&child(p, "registry"), "must be a host:port pair or multiple pairs separated by commas");
            } else if str_at(body, "tenant").unwrap_or("").len() >= 65 {
                errs.required(&child(p, "tenant"), "must be a UUID and may not exceed a length of 64 characters");
            } else {
                for _ in registry.split(',').filter(|pair| !is_host_port(pair)) {
                    errs.invalid(&child(p, "registry"), quote(registry), "must be a host:port pair or multiple pairs separated by commas");
                }
            }
            required(errs, "volume");
        }
        _ => {}
    }
}

/// Whether Go's `net.SplitHostPort` accepts `pair`: `host:port` with one colon, or `[host]:port`.
fn is_host_port(pair: &str) -> bool {
    match pair.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once("]:").is_some_and(|(host, port)| !host.contains(['[', ']']) && !port.contains(':')),
        None => pair.matches(':').count() == 1 && !pair.contains(['[', ']']),
    }
}

/// `ValidateLocalNonReservedPath`: a local descending path that also does not start with `..`
/// (`..data` is the kubelet's own directory in these volumes).
fn validate_local_non_reserved_path(errs: &mut Errors, target: &str, path: &str) {
    validate_local_descending_path(errs, target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.invalid(path, quote(target), "must not start with '..'");
    }
}

/// An iSCSI qualified name as `validateISCSIVolumeSource` checks the iqn and initiatorName: it
/// starts with iqn, eui or naa and matches that format's regex (`iscsiInitiatorIqnRegex`,
/// `iscsiInitiatorEuiRegex`, `iscsiInitiatorNaaRegex`, validation.go).
fn validate_iscsi_name(errs: &mut Errors, name: &str, path: &str) {
    static FORMATS: std::sync::OnceLock<[(&str, regex::Regex); 3]> = std::sync::OnceLock::new();
    let formats = FORMATS.get_or_init(|| {
        let compile = |re: &str| regex::Regex::new(re).expect("the iSCSI name regexes compile");
        [("iqn", compile(r"iqn\.(?-u:\d){4}-(?-u:\d){2}\.([[:alnum:]-.]+)(:[^,;*&$|\s]+)$")), ("eui", compile(r"^eui.[[:alnum:]]{16}$")), ("naa", compile(r"^naa.[[:alnum:]]{32}$"))]
    });
    match formats.iter().find(|(prefix, _)| name.starts_with(prefix)) {
        None => errs.invalid(path, quote(name), "must be valid format starting with iqn, eui, or naa"),
        Some((_, format)) if !format.is_match(name) => errs.invalid(path, quote(name), "must be valid format"),
        Some(_) => {}
    }
}

/// defaultMode and items of secret/configMap volumes (`validateKeyToPath`).
fn validate_mode_and_items(errs: &mut Errors, body: &Value, path: &str) {
    if let Some(m) = int_at(body, "defaultMode").filter(|m| !(0..=0o777).contains(m)) {
        errs.invalid(&child(path, "defaultMode"), m.to_string(), FILE_MODE_MSG);
    }
    for (i, item) in list_at(body, "items").iter().enumerate() {
        let p = index(&child(path, "items"), i);
        if str_at(item, "key").unwrap_or("").is_empty() {
            errs.required(&child(&p, "key"), "");
        }
        match str_at(item, "path").unwrap_or("") {
            "" => errs.required(&child(&p, "path"), ""),
            path_text => validate_local_descending_path(errs, path_text, &child(&p, "path")),
        }
        if let Some(m) = int_at(item, "mode").filter(|m| !(0..=0o777).contains(m)) {
            errs.invalid(&child(&p, "mode"), m.to_string(), FILE_MODE_MSG);
        }
    }
}

/// `validateLocalDescendingPath`: relative, no `..` element.
fn validate_local_descending_path(errs: &mut Errors, target: &str, path: &str) {
    if target.starts_with('/') {
        errs.invalid(path, quote(target), "must be a relative path");
    }
    if target.split(['/', '\\']).any(|e| e == "..") {
        errs.invalid(path, quote(target), "must not contain '..'");
    }
}

/// `validateContainers`: at least one, then each container (names unique).
fn validate_containers(errs: &mut Errors, containers: &[Value], volumes: &HashSet<String>, path: &str, ctx: &ValidationContext) {
    if containers.is_empty() {
        errs.required(path, "");
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = index(path, i);
        validate_container_common(errs, c, volumes, &p, ctx, &mut names);
        // Regular containers may not set restartPolicy (ContainerRestartRules is alpha, off).
        if present(c, "restartPolicy") {
            errs.forbidden(&child(&p, "restartPolicy"), "may not be set for non-init containers");
        }
        validate_probe(errs, c, "livenessProbe", &p);
        validate_probe(errs, c, "readinessProbe", &p);
        validate_probe(errs, c, "startupProbe", &p);
        for probe in ["livenessProbe", "startupProbe"] {
            if let Some(t) = c.get(probe).and_then(|pr| int_at(pr, "successThreshold")).filter(|t| *t != 1) {
                errs.invalid(&child(&child(&p, probe), "successThreshold"), t.to_string(), "must be 1");
            }
        }
        validate_lifecycle(errs, c, &p);
    }
}

/// `validateInitContainers`: names unique among all containers, restartPolicy only Always
/// (sidecars, from 1.29), probes and lifecycle only on sidecars.
fn validate_init_containers(errs: &mut Errors, inits: &[Value], containers: &[Value], volumes: &HashSet<String>, path: &str, ctx: &ValidationContext) {
    let mut names: HashSet<String> = containers.iter().filter_map(|c| str_at(c, "name")).map(str::to_string).collect();
    for (i, c) in inits.iter().enumerate() {
        let p = index(path, i);
        validate_container_common(errs, c, volumes, &p, ctx, &mut names);
        // Before 1.29 (SidecarContainers off) the API server drops restartPolicy from init containers.
        let restart = if ctx.sidecars() { str_at(c, "restartPolicy") } else { None };
        let sidecar = restart == Some("Always");
        if let Some(other) = restart.filter(|r| *r != "Always") {
            errs.not_supported(&child(&p, "restartPolicy"), quote(other), &["Always"]);
        }
        if sidecar {
            validate_lifecycle(errs, c, &p);
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                validate_probe(errs, c, probe, &p);
            }
        } else {
            let detail = if ctx.sidecars() { "may not be set for init containers without restartPolicy=Always" } else { "must not be set for init containers" };
            for field in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if present(c, field) {
                    errs.forbidden(&child(&p, field), detail);
                }
            }
        }
    }
}

/// `validateContainerCommon` and the per-container checks shared by containers and init containers.
fn validate_container_common(errs: &mut Errors, c: &Value, volumes: &HashSet<String>, path: &str, ctx: &ValidationContext, names: &mut HashSet<String>) {
    let name = str_at(c, "name").unwrap_or("");
    let name_path = child(path, "name");
    if name.is_empty() {
        errs.required(&name_path, "");
    } else {
        errs.each_invalid(&name_path, name, is_dns1123_label(name));
    }
    if !name.is_empty() && !names.insert(name.to_string()) {
        errs.duplicate(&name_path, quote(name));
    }
    let image = str_at(c, "image").unwrap_or("");
    if image.is_empty() {
        errs.required(&child(path, "image"), "");
    } else if image.trim() != image {
        errs.invalid(&child(path, "image"), quote(image), "must not have leading or trailing whitespace");
    }
    match str_at(c, "imagePullPolicy").unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.required(&child(path, "imagePullPolicy"), ""),
        other => errs.not_supported(&child(path, "imagePullPolicy"), quote(other), &["Always", "IfNotPresent", "Never"]),
    }
    match str_at(c, "terminationMessagePolicy").unwrap_or("") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.required(&child(path, "terminationMessagePolicy"), "must be 'File' or 'FallbackToLogsOnError'"),
        other => errs.not_supported(&child(path, "terminationMessagePolicy"), quote(other), &["File", "FallbackToLogsOnError"]),
    }
    validate_container_ports(errs, list_at(c, "ports"), &child(path, "ports"));
    validate_env(errs, list_at(c, "env"), &child(path, "env"), ctx);
    validate_env_from(errs, list_at(c, "envFrom"), &child(path, "envFrom"), ctx);
    validate_volume_mounts(errs, list_at(c, "volumeMounts"), volumes, &child(path, "volumeMounts"));
    validate_resources(errs, c.get("resources").unwrap_or(&Value::Null), &child(path, "resources"));
    validate_security_context(errs, c.get("securityContext").unwrap_or(&Value::Null), &child(path, "securityContext"));
}

/// `validateContainerPorts`: name an IANA_SVC_NAME unique in the container, containerPort and
/// hostPort in range, protocol supported.
fn validate_container_ports(errs: &mut Errors, ports: &[Value], path: &str) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index(path, i);
        if let Some(name) = str_at(port, "name").filter(|n| !n.is_empty()) {
            let messages = is_valid_port_name(name);
            if !messages.is_empty() {
                errs.each_invalid(&child(&p, "name"), name, messages);
            } else if !names.insert(name) {
                errs.duplicate(&child(&p, "name"), quote(name));
            }
        }
        match int_at(port, "containerPort") {
            None | Some(0) => errs.required(&child(&p, "containerPort"), ""),
            Some(n) => {
                for m in is_valid_port_num(n) {
                    errs.invalid(&child(&p, "containerPort"), n.to_string(), m);
                }
            }
        }
        if let Some(n) = int_at(port, "hostPort").filter(|n| *n != 0) {
            for m in is_valid_port_num(n) {
                errs.invalid(&child(&p, "hostPort"), n.to_string(), m);
            }
        }
        validate_protocol(errs, port, &p);
    }
}

fn validate_protocol(errs: &mut Errors, port: &Value, path: &str) {
    match str_at(port, "protocol").unwrap_or("") {
        "" => errs.required(&child(path, "protocol"), ""),
        p if PROTOCOLS.contains(&p) => {}
        other => errs.not_supported(&child(path, "protocol"), quote(other), PROTOCOLS),
    }
}

fn env_name_messages(name: &str, ctx: &ValidationContext) -> Vec<String> {
    if ctx.relaxed_env_names() { is_relaxed_env_var_name(name) } else { is_env_var_name(name) }
}

/// `validateEnv` and `validateEnvVarValueFrom`.
fn validate_env(errs: &mut Errors, env: &[Value], path: &str, ctx: &ValidationContext) {
    for (i, var) in env.iter().enumerate() {
        let p = index(path, i);
        let name = str_at(var, "name").unwrap_or("");
        if name.is_empty() {
            errs.required(&child(&p, "name"), "");
        } else {
            errs.each_invalid(&child(&p, "name"), name, env_name_messages(name, ctx));
        }
        let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) else { continue };
        let fp = child(&p, "valueFrom");
        let mut sources = 0;
        for source in ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"] {
            let Some(body) = from.get(source).filter(|v| !v.is_null()) else { continue };
            sources += 1;
            let sp = child(&fp, source);
            match source {
                "fieldRef" => validate_object_field_selector(errs, body, &sp),
                // validateContainerResourceFieldSelector
                "resourceFieldRef" => {
                    if str_at(body, "resource").unwrap_or("").is_empty() {
                        errs.required(&child(&sp, "resource"), "");
                    }
                }
                // validateConfigMapKeySelector / validateSecretKeySelector
                "configMapKeyRef" | "secretKeyRef" => {
                    let n = str_at(body, "name").unwrap_or("");
                    if !n.is_empty() {
                        errs.each_invalid(&child(&sp, "name"), n, is_dns1123_subdomain(n));
                    }
                    match str_at(body, "key").unwrap_or("") {
                        "" => errs.required(&child(&sp, "key"), ""),
                        k => errs.each_invalid(&child(&sp, "key"), k, is_config_map_key(k)),
                    }
                }
                _ => {}
            }
        }
        let value = str_at(var, "value").unwrap_or("");
        if sources == 0 {
            errs.invalid(&fp, "\"\"".into(), "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`");
        } else if !value.is_empty() {
            errs.invalid(&fp, "\"\"".into(), "may not be specified when `value` is not empty");
        } else if sources > 1 {
            errs.invalid(&fp, "\"\"".into(), "may not have more than one field specified at a time");
        }
    }
}

/// `validateEnvFrom`: a valid prefix, exactly one of configMapRef and secretRef.
fn validate_env_from(errs: &mut Errors, env_from: &[Value], path: &str, ctx: &ValidationContext) {
    for (i, source) in env_from.iter().enumerate() {
        let p = index(path, i);
        if let Some(prefix) = str_at(source, "prefix").filter(|s| !s.is_empty()) {
            errs.each_invalid(&child(&p, "prefix"), prefix, env_name_messages(prefix, ctx));
        }
        let refs: Vec<&str> = ["configMapRef", "secretRef"].into_iter().filter(|r| present(source, r)).collect();
        match refs.len() {
            0 => errs.invalid(&p, "\"\"".into(), "must specify one of: `configMapRef` or `secretRef`"),
            1 => {
                let r = &source[refs[0]];
                if let Some(n) = str_at(r, "name").filter(|n| !n.is_empty()) {
                    errs.each_invalid(&child(&child(&p, refs[0]), "name"), n, is_dns1123_subdomain(n));
                }
            }
            _ => errs.invalid(&p, "\"\"".into(), "may not have more than one field specified at a time"),
        }
    }
}

/// `ValidateVolumeMounts`: each mount names a volume, mount paths unique, subPath relative.
fn validate_volume_mounts(errs: &mut Errors, mounts: &[Value], volumes: &HashSet<String>, path: &str) {
    let mut mount_paths = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = index(path, i);
        let name = str_at(m, "name").unwrap_or("");
        if name.is_empty() {
            errs.required(&child(&p, "name"), "");
        }
        if !volumes.contains(name) {
            errs.not_found(&child(&p, "name"), quote(name));
        }
        let mount_path = str_at(m, "mountPath").unwrap_or("");
        if mount_path.is_empty() {
            errs.required(&child(&p, "mountPath"), "");
        }
        if !mount_paths.insert(mount_path) {
            errs.invalid(&child(&p, "mountPath"), quote(mount_path), "must be unique");
        }
        let sub_path = str_at(m, "subPath").unwrap_or("");
        if !sub_path.is_empty() {
            validate_local_descending_path(errs, sub_path, &child(&p, "subPath"));
        }
        if !sub_path.is_empty() && str_at(m, "subPathExpr").is_some_and(|s| !s.is_empty()) {
            errs.invalid(&child(&p, "subPathExpr"), quote(str_at(m, "subPathExpr").unwrap()), "subPathExpr and subPath are mutually exclusive");
        }
        if let Some(prop) = str_at(m, "mountPropagation").filter(|s| !s.is_empty()) {
            let modes = ["Bidirectional", "HostToContainer", "None"];
            if !modes.contains(&prop) {
                errs.not_supported(&child(&p, "mountPropagation"), quote(prop), &modes);
            }
        }
    }
}

/// `validateProbe` and `validateHandler`: exactly one handler, nonnegative timings.
fn validate_probe(errs: &mut Errors, container: &Value, field: &str, path: &str) {
    let Some(probe) = container.get(field).filter(|v| !v.is_null()) else { return };
    let p = child(path, field);
    validate_handler(errs, probe, &p, &["exec", "httpGet", "tcpSocket", "grpc"]);
    for timing in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        nonnegative(errs, probe, timing, &p);
    }
    if let Some(t) = int_at(probe, "terminationGracePeriodSeconds").filter(|t| *t <= 0) {
        errs.invalid(&child(&p, "terminationGracePeriodSeconds"), t.to_string(), "must be greater than 0");
    }
}

/// `validateHandler`: one handler of `kinds` (checked in Go's order), its own fields.
fn validate_handler(errs: &mut Errors, handler: &Value, path: &str, kinds: &[&str]) {
    let mut count = 0;
    for kind in kinds {
        let Some(body) = handler.get(*kind).filter(|v| !v.is_null()) else { continue };
        let p = child(path, kind);
        if count > 0 {
            errs.forbidden(&p, "may not specify more than 1 handler type");
            continue;
        }
        count += 1;
        match *kind {
            // validateExecAction
            "exec" => {
                if list_at(body, "command").is_empty() {
                    errs.required(&child(&p, "command"), "");
                }
            }
            // validateHTTPGetAction
            "httpGet" => {
                validate_port_num_or_name(errs, body.get("port").unwrap_or(&Value::Null), &child(&p, "port"));
                // IsHTTPHeaderName: a token of letters, digits and '-'.
                for h in list_at(body, "httpHeaders") {
                    let name = str_at(h, "name").unwrap_or("");
                    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                        errs.invalid(&child(&p, "httpHeaders"), quote(name), "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name',  regex used for validation is '[-A-Za-z0-9]+')");
                    }
                }
                if let Some(s) = str_at(body, "scheme").filter(|s| !["HTTP", "HTTPS"].contains(s)) {
                    errs.not_supported(&child(&p, "scheme"), quote(s), &["HTTP", "HTTPS"]);
                }
            }
            // validateTCPSocketAction
            "tcpSocket" => validate_port_num_or_name(errs, body.get("port").unwrap_or(&Value::Null), &child(&p, "port")),
            // validateGRPCAction
            "grpc" => {
                if let Some(n) = int_at(body, "port") {
                    for m in is_valid_port_num(n) {
                        errs.invalid(&child(&p, "port"), n.to_string(), m);
                    }
                }
            }
            // validateSleepAction
            "sleep" => {
                if let Some(s) = int_at(body, "seconds").filter(|s| *s < 0) {
                    errs.invalid(&child(&p, "seconds"), s.to_string(), "must be non-negative");
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.required(path, "must specify a handler type");
    }
}

/// `ValidatePortNumOrName`: a number in range, or an IANA_SVC_NAME.
pub fn validate_port_num_or_name(errs: &mut Errors, port: &Value, path: &str) {
    match port {
        Value::Number(_) => {
            let n = port.as_i64().unwrap_or(0);
            for m in is_valid_port_num(n) {
                errs.invalid(path, n.to_string(), m);
            }
        }
        Value::String(s) => errs.each_invalid(path, s, is_valid_port_name(s)),
        // An absent port is the IntOrString zero value: the number 0.
        _ => {
            for m in is_valid_port_num(0) {
                errs.invalid(path, "0".into(), m);
            }
        }
    }
}

/// `validateObjectFieldSelector` with the env's expressions (core/validation/validation.go): an
/// apiVersion and a fieldPath, which `ConvertDownwardAPIFieldLabel` (pkg/apis/core/pods/helpers.go)
/// must know for v1, and which must be one of `validEnvDownwardAPIFieldPathExpressions` or a
/// subscripted label or annotation with a qualified key.
fn validate_object_field_selector(errs: &mut Errors, selector: &Value, path: &str) {
    const CONVERTIBLE: &[&str] = &[
        "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.restartPolicy",
        "spec.serviceAccountName", "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", "spec.host",
    ];
    const ENV_EXPRESSIONS: &[&str] =
        &["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];
    let api_version = str_at(selector, "apiVersion").unwrap_or("");
    let field_path = str_at(selector, "fieldPath").unwrap_or("");
    let fp = child(path, "fieldPath");
    if api_version.is_empty() {
        errs.required(&child(path, "apiVersion"), "");
        return;
    }
    if field_path.is_empty() {
        errs.required(&fp, "");
        return;
    }
    // fieldpath.SplitMaybeSubscriptedPath: `path['subscript']`.
    let subscripted = field_path.strip_suffix("']").and_then(|s| s.split_once("['")).filter(|(p, _)| !p.is_empty());
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else if let Some((p, _)) = subscripted {
        (!matches!(p, "metadata.annotations" | "metadata.labels")).then(|| format!("field label does not support subscript: {field_path}"))
    } else {
        (!CONVERTIBLE.contains(&field_path)).then(|| format!("field label not supported: {field_path}"))
    };
    if let Some(e) = conversion_error {
        errs.invalid(&fp, quote(field_path), format!("error converting fieldPath: {e}"));
        return;
    }
    let internal = if field_path == "spec.host" { "spec.nodeName" } else { field_path };
    match subscripted {
        Some(("metadata.annotations", key)) => errs.each_invalid(&fp, &key.to_lowercase(), is_qualified_name(&key.to_lowercase())),
        Some(("metadata.labels", key)) => errs.each_invalid(&fp, key, is_qualified_name(key)),
        _ if !ENV_EXPRESSIONS.contains(&internal) => errs.not_supported(&fp, quote(internal), ENV_EXPRESSIONS),
        _ => {}
    }
}

/// `validateLifecycle`: postStart/preStop handlers (with sleep).
fn validate_lifecycle(errs: &mut Errors, container: &Value, path: &str) {
    let Some(lifecycle) = container.get("lifecycle").filter(|v| !v.is_null()) else { return };
    let p = child(path, "lifecycle");
    for hook in ["postStart", "preStop"] {
        if let Some(h) = lifecycle.get(hook).filter(|v| !v.is_null()) {
            validate_handler(errs, h, &child(&p, hook), &["exec", "httpGet", "tcpSocket", "sleep"]);
        }
    }
}

/// `isStandardContainerResourceName` plus hugepages: names without a domain must be standard.
fn standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// `IsOvercommitAllowed`: only native compute resources may have requests below limits.
fn overcommit_allowed(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || (!name.contains('/') && !name.starts_with("hugepages-"))
}

/// `ValidateResourceRequirements`: resource names, nonnegative quantities, requests ≤ limits
/// (equal for extended resources and hugepages).
fn validate_resources(errs: &mut Errors, resources: &Value, path: &str) {
    let limits_path = child(path, "limits");
    let requests_path = child(path, "requests");
    let limits = map_at(resources, "limits");
    for (name, q) in limits.into_iter().flatten() {
        let p = key(&limits_path, name);
        validate_resource_name(errs, name, &p);
        validate_quantity(errs, name, q, &p);
    }
    for (name, q) in map_at(resources, "requests").into_iter().flatten() {
        let p = key(&requests_path, name);
        validate_resource_name(errs, name, &p);
        validate_quantity(errs, name, q, &p);
        let Some(Ok(request)) = Quantity::from_json(q) else { continue };
        match limits.and_then(|l| l.get(name)) {
            Some(lq) => {
                let Some(Ok(limit)) = Quantity::from_json(lq) else { continue };
                if request != limit && !overcommit_allowed(name) {
                    errs.invalid(&requests_path, quote(&canonical(q)), format!("must be equal to {name} limit of {}", canonical(lq)));
                } else if request > limit {
                    errs.invalid(&requests_path, quote(&canonical(q)), format!("must be less than or equal to {name} limit of {}", canonical(lq)));
                }
            }
            None if !overcommit_allowed(name) => errs.required(&limits_path, "Limit must be set for non overcommitable resources"),
            None => {}
        }
    }
}

/// `validateContainerResourceName`: a standard name, or a qualified extended name.
fn validate_resource_name(errs: &mut Errors, name: &str, path: &str) {
    let messages = is_qualified_name(name);
    if !messages.is_empty() {
        errs.each_invalid(path, name, messages);
        return;
    }
    if !name.contains('/') && !standard_container_resource(name) {
        errs.invalid(path, quote(name), "must be a standard resource for containers");
    }
}

/// `ValidateResourceQuantityValue`: nonnegative; integer for resources other than cpu, memory,
/// storage and hugepages.
fn validate_quantity(errs: &mut Errors, name: &str, q: &Value, path: &str) {
    let Some(Ok(value)) = Quantity::from_json(q) else { return };
    if value.0 < 0 {
        errs.invalid(path, quote(&canonical(q)), "must be greater than or equal to 0");
    }
    let integer_only = !matches!(name, "cpu" | "memory" | "ephemeral-storage" | "storage") && !name.starts_with("hugepages-");
    if integer_only && value.0 % 1_000_000_000 != 0 {
        errs.invalid(path, quote(&canonical(q)), "must be an integer");
    }
}

/// `ValidateSecurityContext`: user and group IDs in range; allowPrivilegeEscalation false
/// contradicts privileged and CAP_SYS_ADMIN.
fn validate_security_context(errs: &mut Errors, sc: &Value, path: &str) {
    if sc.is_null() {
        return;
    }
    for field in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int_at(sc, field).filter(|id| !(0..=0xffff_ffff).contains(id)) {
            errs.invalid(&child(path, field), id.to_string(), "must be between 0 and 4294967295, inclusive");
        }
    }
    if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) == Some(false) {
        if sc.get("privileged").and_then(Value::as_bool) == Some(true) {
            errs.invalid(path, "core.SecurityContext{...}".into(), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true");
        }
        if sc.get("capabilities").map(|c| list_at(c, "add")).unwrap_or(&[]).iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")) {
            errs.invalid(path, "core.SecurityContext{...}".into(), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN");
        }
    }
    if let Some(t) = sc.get("seccompProfile").and_then(|s| str_at(s, "type")) {
        let types = ["Localhost", "RuntimeDefault", "Unconfined"];
        if !types.contains(&t) {
            errs.not_supported(&child(&child(path, "seccompProfile"), "type"), quote(t), &types);
        }
    }
}

/// `ValidatePodSecurityContext`: IDs in range.
fn validate_pod_security_context(errs: &mut Errors, sc: &Value, path: &str) {
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        if let Some(id) = int_at(sc, field).filter(|id| !(0..=0xffff_ffff).contains(id)) {
            errs.invalid(&child(path, field), id.to_string(), "must be between 0 and 4294967295, inclusive");
        }
    }
    for (i, g) in list_at(sc, "supplementalGroups").iter().enumerate() {
        if let Some(id) = g.as_i64().filter(|id| !(0..=0xffff_ffff).contains(id)) {
            errs.invalid(&index(&child(path, "supplementalGroups"), i), id.to_string(), "must be between 0 and 4294967295, inclusive");
        }
    }
}

/// `ValidateTolerations`.
fn validate_tolerations(errs: &mut Errors, tolerations: &[Value], path: &str) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = index(path, i);
        let k = str_at(t, "key").unwrap_or("");
        if !k.is_empty() {
            errs.each_invalid(&child(&p, "key"), k, is_qualified_name(k));
        }
        let op = str_at(t, "operator").unwrap_or("");
        if k.is_empty() && op != "Exists" {
            errs.invalid(&child(&p, "operator"), quote(op), "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
        }
        if present(t, "tolerationSeconds") && str_at(t, "effect") != Some("NoExecute") {
            errs.invalid(&child(&p, "effect"), quote(str_at(t, "effect").unwrap_or("")), "effect must be 'NoExecute' when `tolerationSeconds` is set");
        }
        match op {
            "" | "Equal" => {}
            "Exists" => {
                if let Some(v) = str_at(t, "value").filter(|v| !v.is_empty()) {
                    errs.invalid(&child(&p, "operator"), quote(v), "value must be empty when `operator` is 'Exists'");
                }
            }
            other => errs.not_supported(&child(&p, "operator"), quote(other), &["Equal", "Exists"]),
        }
        if let Some(e) = str_at(t, "effect").filter(|e| !e.is_empty()) {
            let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
            if !effects.contains(&e) {
                errs.not_supported(&child(&p, "effect"), quote(e), &effects);
            }
        }
    }
}

/// `validateTopologySpreadConstraints`.
fn validate_topology_spread(errs: &mut Errors, constraints: &[Value], path: &str) {
    let mut seen = HashSet::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = index(path, i);
        let skew = int_at(c, "maxSkew").unwrap_or(0);
        if skew <= 0 {
            errs.invalid(&child(&p, "maxSkew"), skew.to_string(), "must be greater than zero");
        }
        let topology_key = str_at(c, "topologyKey").unwrap_or("");
        if topology_key.is_empty() {
            errs.required(&child(&p, "topologyKey"), "can not be empty");
        } else {
            errs.each_invalid(&child(&p, "topologyKey"), topology_key, is_qualified_name(topology_key));
        }
        let when = str_at(c, "whenUnsatisfiable").unwrap_or("");
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&when) {
            errs.not_supported(&child(&p, "whenUnsatisfiable"), quote(when), &["DoNotSchedule", "ScheduleAnyway"]);
        }
        if !seen.insert((topology_key.to_string(), when.to_string())) {
            errs.duplicate(&p, format!("{{{topology_key}, {when}}}"));
        }
        if let Some(min) = int_at(c, "minDomains").filter(|m| *m <= 0) {
            errs.invalid(&child(&p, "minDomains"), min.to_string(), "must be greater than 0");
        }
        if let Some(selector) = c.get("labelSelector").filter(|v| !v.is_null()) {
            validate_label_selector(errs, selector, &child(&p, "labelSelector"));
        }
    }
}

/// `validateAffinity`: node selector terms and pod (anti-)affinity terms.
fn validate_affinity(errs: &mut Errors, affinity: &Value, path: &str) {
    if let Some(node) = affinity.get("nodeAffinity").filter(|v| !v.is_null()) {
        let np = child(path, "nodeAffinity");
        if let Some(required) = node.get("requiredDuringSchedulingIgnoredDuringExecution").filter(|v| !v.is_null()) {
            let rp = child(&np, "requiredDuringSchedulingIgnoredDuringExecution");
            let terms = list_at(required, "nodeSelectorTerms");
            if terms.is_empty() {
                errs.required(&child(&rp, "nodeSelectorTerms"), "must have at least one node selector term");
            }
            for (i, term) in terms.iter().enumerate() {
                validate_node_selector_term(errs, term, &index(&child(&rp, "nodeSelectorTerms"), i));
            }
        }
        for (i, pref) in list_at(node, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let pp = index(&child(&np, "preferredDuringSchedulingIgnoredDuringExecution"), i);
            let w = int_at(pref, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.invalid(&child(&pp, "weight"), w.to_string(), "must be in the range 1-100");
            }
            validate_node_selector_term(errs, pref.get("preference").unwrap_or(&Value::Null), &child(&pp, "preference"));
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(a) = affinity.get(kind).filter(|v| !v.is_null()) else { continue };
        let ap = child(path, kind);
        for (i, term) in list_at(a, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            validate_pod_affinity_term(errs, term, &index(&child(&ap, "requiredDuringSchedulingIgnoredDuringExecution"), i));
        }
        for (i, pref) in list_at(a, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let pp = index(&child(&ap, "preferredDuringSchedulingIgnoredDuringExecution"), i);
            let w = int_at(pref, "weight").unwrap_or(0);
            if !(1..=100).contains(&w) {
                errs.invalid(&child(&pp, "weight"), w.to_string(), "must be in the range 1-100");
            }
            validate_pod_affinity_term(errs, pref.get("podAffinityTerm").unwrap_or(&Value::Null), &child(&pp, "podAffinityTerm"));
        }
    }
}

/// `validatePodAffinityTerm`: a topologyKey, a valid selector.
fn validate_pod_affinity_term(errs: &mut Errors, term: &Value, path: &str) {
    if let Some(s) = term.get("labelSelector").filter(|v| !v.is_null()) {
        validate_label_selector(errs, s, &child(path, "labelSelector"));
    }
    match str_at(term, "topologyKey").unwrap_or("") {
        "" => errs.required(&child(path, "topologyKey"), "can not be empty"),
        k => errs.each_invalid(&child(path, "topologyKey"), k, is_qualified_name(k)),
    }
}

/// `ValidateNodeSelectorTerm` / `ValidateNodeSelectorRequirement`.
fn validate_node_selector_term(errs: &mut Errors, term: &Value, path: &str) {
    for (i, req) in list_at(term, "matchExpressions").iter().enumerate() {
        let p = index(&child(path, "matchExpressions"), i);
        if validate_requirement_values(errs, req, &p, &["Gt", "Lt"]).is_some() && list_at(req, "values").len() != 1 {
            errs.required(&child(&p, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'");
        }
        let k = str_at(req, "key").unwrap_or("");
        errs.each_invalid(&child(&p, "key"), k, is_qualified_name(k));
    }
}

/// A quantity as `Quantity.String()` prints it (canonical form: `0.5` → `500m`, `1024Mi` →
/// `1Gi`; values below 1024 in binary notation print as decimal, as `CanonicalizeBytes` does).
pub fn canonical(q: &Value) -> String {
    let text = match q {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Ok(value) = Quantity::parse(&text) else { return text };
    let nanos = value.0;
    let binary = text.trim().ends_with('i');
    const NANO: i128 = 1_000_000_000;
    if binary && nanos % NANO == 0 && nanos.abs() >= 1024 * NANO {
        let mut units = nanos / NANO;
        let mut suffix = 0;
        while suffix < 6 && units % 1024 == 0 {
            units /= 1024;
            suffix += 1;
        }
        return format!("{units}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][suffix]);
    }
    // Decimal SI: the largest exponent (multiple of 3) that divides the value.
    if nanos == 0 {
        return "0".into();
    }
    let suffixes = [(-9, "n"), (-6, "u"), (-3, "m"), (0, ""), (3, "k"), (6, "M"), (9, "G"), (12, "T"), (15, "P"), (18, "E")];
    for (exp, suffix) in suffixes.iter().rev() {
        let div = 10i128.pow((exp + 9) as u32);
        if nanos % div == 0 {
            return format!("{}{suffix}", nanos / div);
        }
    }
    text
}

/// `ValidateService` (spec part): type, ports, clusterIP/None by type, nodePort by type,
/// ExternalName, selector, session affinity.
pub fn validate_service(errs: &mut Errors, spec: &Value) {
    let path = "spec";
    let service_type = str_at(spec, "type").unwrap_or("");
    let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if service_type.is_empty() {
        errs.required(&child(path, "type"), "");
    } else if !types.contains(&service_type) {
        errs.not_supported(&child(path, "type"), quote(service_type), &types);
    }
    let cluster_ip = str_at(spec, "clusterIP").unwrap_or("");
    let headless = cluster_ip == "None";
    let ports = list_at(spec, "ports");
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        errs.required(&child(path, "ports"), "");
    }
    let ports_path = child(path, "ports");
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        validate_service_port(errs, port, ports.len() > 1, &mut names, &index(&ports_path, i));
    }
    // Duplicate (protocol, port) pairs.
    let mut pairs = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let (protocol, number) = (str_at(port, "protocol").unwrap_or(""), int_at(port, "port").unwrap_or(0));
        if !pairs.insert((protocol, number)) {
            errs.duplicate(
                &index(&ports_path, i),
                format!("core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{number}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}", quote(protocol)),
            );
        }
    }
    // Duplicate (protocol, nodePort) pairs (ValidateService).
    let mut node_ports = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let Some(node_port) = int_at(port, "nodePort").filter(|n| *n != 0) else { continue };
        if !node_ports.insert((str_at(port, "protocol").unwrap_or(""), node_port)) {
            errs.duplicate(&child(&index(&ports_path, i), "nodePort"), node_port.to_string());
        }
    }
    // validateServiceClusterIPsRelatedFields: a clusterIP other than None is an IP.
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<std::net::IpAddr>().is_err() {
        errs.invalid("spec.clusterIPs[0]", quote(cluster_ip), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    }
    // ValidateNonSpecialIP for each externalIP.
    for (i, ip) in list_at(spec, "externalIPs").iter().enumerate() {
        let text = ip.as_str().unwrap_or("");
        let p = index(&child(path, "externalIPs"), i);
        match text.parse::<std::net::IpAddr>() {
            Err(_) => errs.invalid(&p, quote(text), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
            Ok(addr) if addr.is_unspecified() => errs.invalid(&p, quote(text), "may not be unspecified (0.0.0.0)"),
            Ok(addr) if addr.is_loopback() => errs.invalid(&p, quote(text), "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
            Ok(std::net::IpAddr::V4(v4)) if v4.is_link_local() => errs.invalid(&p, quote(text), "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
            Ok(std::net::IpAddr::V6(v6)) if v6.segments()[0] & 0xffc0 == 0xfe80 => errs.invalid(&p, quote(text), "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
            Ok(_) => {}
        }
    }
    if service_type == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int_at(port, "nodePort").is_some_and(|n| n != 0) {
                errs.forbidden(&child(&index(&ports_path, i), "nodePort"), "may not be used when `type` is 'ClusterIP'");
            }
        }
    }
    if service_type == "ExternalName" {
        if !cluster_ip.is_empty() {
            errs.forbidden(&child(path, "clusterIPs"), "may not be set for ExternalName services");
        }
        let external = str_at(spec, "externalName").unwrap_or("");
        let clean = external.strip_suffix('.').unwrap_or(external);
        if clean.is_empty() {
            errs.required(&child(path, "externalName"), "");
        } else {
            errs.each_invalid(&child(path, "externalName"), clean, is_dns1123_subdomain(clean));
        }
    }
    if headless && matches!(service_type, "NodePort" | "LoadBalancer") {
        errs.invalid("spec.clusterIPs[0]", quote("None"), format!("may not be set to 'None' for {service_type} services"));
    }
    match str_at(spec, "sessionAffinity").unwrap_or("") {
        "ClientIP" | "None" => {}
        "" => errs.required(&child(path, "sessionAffinity"), ""),
        other => errs.not_supported(&child(path, "sessionAffinity"), quote(other), &["ClientIP", "None"]),
    }
    if let Some(policy) = str_at(spec, "externalTrafficPolicy").filter(|p| !p.is_empty()) {
        if !matches!(service_type, "NodePort" | "LoadBalancer") {
            errs.invalid(&child(path, "externalTrafficPolicy"), quote(policy), "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
        } else if !["Cluster", "Local"].contains(&policy) {
            errs.not_supported(&child(path, "externalTrafficPolicy"), quote(policy), &["Cluster", "Local"]);
        }
    }
    if service_type != "ExternalName" {
        validate_labels(errs, map_at(spec, "selector"), &child(path, "selector"));
    }
}

/// `validateServicePort`: names required when more than one port, DNS-1123 labels, unique;
/// port in range; protocol; targetPort a number or name.
fn validate_service_port(errs: &mut Errors, port: &Value, require_name: bool, names: &mut HashSet<String>, path: &str) {
    let name = str_at(port, "name").unwrap_or("");
    if require_name && name.is_empty() {
        errs.required(&child(path, "name"), "");
    } else if !name.is_empty() {
        errs.each_invalid(&child(path, "name"), name, is_dns1123_label(name));
        if !names.insert(name.to_string()) {
            errs.duplicate(&child(path, "name"), quote(name));
        }
    }
    let number = int_at(port, "port").unwrap_or(0);
    for m in is_valid_port_num(number) {
        errs.invalid(&child(path, "port"), number.to_string(), m);
    }
    validate_protocol(errs, port, path);
    validate_port_num_or_name(errs, port.get("targetPort").unwrap_or(&Value::Null), &child(path, "targetPort"));
    if let Some(app) = str_at(port, "appProtocol").filter(|s| !s.is_empty()) {
        errs.each_invalid(&child(path, "appProtocol"), app, is_qualified_name(app));
    }
    if let Some(n) = int_at(port, "nodePort").filter(|n| *n != 0) {
        for m in is_valid_port_num(n) {
            errs.invalid(&child(path, "nodePort"), n.to_string(), m);
        }
    }
}

/// Largest ConfigMap or Secret, in bytes (`core.MaxSecretSize`).
const MAX_DATA_BYTES: usize = 1024 * 1024;

/// `ValidateConfigMap`: keys are config keys, not in both data and binaryData, total ≤ 1 MiB.
pub fn validate_config_map(errs: &mut Errors, object: &Value) {
    let mut total = 0;
    let data = map_at(object, "data");
    for (k, v) in data.into_iter().flatten() {
        errs.each_invalid(&key("data", k), k, is_config_map_key(k));
        total += v.as_str().map(str::len).unwrap_or(0);
    }
    for (k, v) in map_at(object, "binaryData").into_iter().flatten() {
        errs.each_invalid(&key("binaryData", k), k, is_config_map_key(k));
        if data.is_some_and(|d| d.contains_key(k)) {
            errs.invalid(&key("binaryData", k), quote(k), "duplicate of key present in data");
        }
        total += v.as_str().map(|s| s.len() * 3 / 4).unwrap_or(0);
    }
    if total > MAX_DATA_BYTES {
        errs.too_long("", MAX_DATA_BYTES);
    }
}

/// `ValidateSecret`: keys, size, and the keys each type requires. `stringData` is merged into
/// `data` first, as the v1 conversion does.
pub fn validate_secret(errs: &mut Errors, object: &Value) {
    use base64::Engine;
    let mut data: Vec<(String, Vec<u8>)> = Vec::new();
    for (k, v) in map_at(object, "data").into_iter().flatten() {
        let bytes = v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok()).unwrap_or_default();
        data.push((k.clone(), bytes));
    }
    for (k, v) in map_at(object, "stringData").into_iter().flatten() {
        let bytes = v.as_str().map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        match data.iter_mut().find(|(dk, _)| dk == k) {
            Some(entry) => entry.1 = bytes,
            None => data.push((k.clone(), bytes)),
        }
    }
    let mut total = 0;
    for (k, v) in &data {
        errs.each_invalid(&key("data", k), k, is_config_map_key(k));
        total += v.len();
    }
    if total > MAX_DATA_BYTES {
        errs.too_long("data", MAX_DATA_BYTES);
    }
    let get = |k: &str| data.iter().find(|(dk, _)| dk == k).map(|(_, v)| v);
    match str_at(object, "type").unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let named = object.pointer("/metadata/annotations/kubernetes.io~1service-account.name").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
            if !named {
                errs.required("metadata.annotations[kubernetes.io/service-account.name]", "");
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let k = if t == "kubernetes.io/dockercfg" { ".dockercfg" } else { ".dockerconfigjson" };
            match get(k) {
                None => errs.required(&key("data", k), ""),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(bytes) {
                        errs.invalid(&key("data", k), quote("<secret contents redacted>"), e.to_string());
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" => {
            if get("username").is_none() && get("password").is_none() {
                errs.required("data[username]", "");
                errs.required("data[password]", "");
            }
        }
        "kubernetes.io/ssh-auth" => {
            if get("ssh-privatekey").is_none_or(|v| v.is_empty()) {
                errs.required("data[ssh-privatekey]", "");
            }
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if get(k).is_none() {
                    errs.required(&key("data", k), "");
                }
            }
        }
        _ => {}
    }
}

/// `ValidatePersistentVolumeClaimSpec`: access modes, a positive storage request, volumeMode.
pub fn validate_pvc_spec(errs: &mut Errors, spec: &Value, path: &str) {
    let modes = list_at(spec, "accessModes");
    if modes.is_empty() {
        errs.required(&child(path, "accessModes"), "at least 1 access mode is required");
    }
    let supported = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !supported.contains(&m) {
            errs.not_supported(&child(path, "accessModes"), quote(m), &supported);
        }
    }
    if let Some(selector) = spec.get("selector").filter(|v| !v.is_null()) {
        validate_label_selector(errs, selector, &child(path, "selector"));
    }
    let storage_path = key(&child(path, "resources"), "storage");
    match spec.pointer("/resources/requests/storage") {
        None | Some(Value::Null) => errs.required(&storage_path, ""),
        Some(q) => {
            if let Some(Ok(v)) = Quantity::from_json(q) {
                if v.0 < 0 {
                    errs.invalid(&storage_path, quote(&canonical(q)), "must be greater than or equal to 0");
                } else if v.0 == 0 {
                    errs.invalid(&storage_path, quote(&canonical(q)), "must be greater than zero");
                }
            }
        }
    }
    if let Some(mode) = str_at(spec, "volumeMode").filter(|m| !["Block", "Filesystem"].contains(m)) {
        errs.not_supported(&child(path, "volumeMode"), quote(mode), &["Block", "Filesystem"]);
    }
}
