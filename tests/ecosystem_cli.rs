//! Fitting the way people work: the Helm plugin (installed into a throw-away helm home with
//! every helm under test) and shell completions.

mod common;

use std::path::Path;

use common::{chartproof, helms, repo};

/// `helm plugin install` this repository into temporary helm homes; returns the env to use.
fn install_plugin(helm: &Path, home: &Path) -> Vec<(String, String)> {
    let env: Vec<(String, String)> = ["HELM_DATA_HOME", "HELM_CONFIG_HOME", "HELM_CACHE_HOME"]
        .iter()
        .map(|k| (k.to_string(), home.join(k).to_string_lossy().into_owned()))
        .collect();
    let out = std::process::Command::new(helm)
        .args(["plugin", "install"])
        .arg(repo())
        .envs(env.iter().cloned())
        .env_remove("HELM_PLUGINS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{} plugin install: {}", helm.display(), String::from_utf8_lossy(&out.stderr));
    env
}

#[test]
fn helm_plugin_runs_chartproof_with_the_calling_helm() {
    let binary = assert_cmd::cargo::cargo_bin("chartproof");
    for helm in helms() {
        let home = tempfile::tempdir().unwrap();
        let env = install_plugin(&helm, home.path());
        let run = |args: &[&str], bin: &Path| {
            std::process::Command::new(&helm)
                .args(args)
                .envs(env.iter().cloned())
                .env_remove("HELM_PLUGINS")
                .env_remove("HELM_BIN")
                .env("CHARTPROOF_BIN", bin)
                .current_dir(repo())
                .output()
                .unwrap()
        };
        let out = run(&["chartproof", "audit", "charts/go-service"], &binary);
        assert_eq!(out.status.code(), Some(0), "{}: {}", helm.display(), String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("audit of chart go-service"));

        // `helm chartproof check` renders with real helm; the reference chart passes.
        let out = run(&["chartproof", "check", "charts/go-service"], &binary);
        assert_eq!(out.status.code(), Some(0), "{}: {}", helm.display(), String::from_utf8_lossy(&out.stdout));

        // The helm that runs the plugin is the one chartproof is handed.
        let probe = home.path().join("probe.sh");
        std::fs::write(&probe, "#!/bin/sh\necho \"HELM_BIN=$HELM_BIN ARGS=$*\"\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = run(&["chartproof", "check", "./chart", "--rule", "x"], &probe);
        let text = String::from_utf8_lossy(&out.stdout);
        let helm_abs = std::fs::canonicalize(&helm).unwrap();
        assert!(text.contains(&format!("HELM_BIN={}", helm_abs.display())), "{text}");
        assert!(text.contains("ARGS=check ./chart --rule x"), "{text}");

        // Unusable input keeps exit code 2 through helm.
        let out = run(&["chartproof", "audit", "/nonexistent/chart"], &binary);
        assert_eq!(out.status.code(), Some(2), "{}", helm.display());
    }
}

#[test]
fn completions_name_every_command_for_each_shell() {
    let helm = &helms()[0];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = chartproof(helm).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for cmd in ["audit", "completions"] {
            assert!(script.contains(cmd), "{shell} completions lack {cmd}");
        }
    }
    let out = chartproof(helm).args(["completions", "bash"]).output().unwrap();
    let check = std::process::Command::new("bash")
        .args(["-n", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&out.stdout)?;
            c.wait()
        })
        .unwrap();
    assert!(check.success(), "bash completion script has a syntax error");
    let bad = chartproof(helm).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn plugin_manifest_is_legacy_format_both_helms_read() {
    let text = std::fs::read_to_string(repo().join("plugin.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(doc["name"], "chartproof");
    // Helm 4 refuses a manifest with both `command` and `platformCommand`.
    assert!(doc.get("command").is_none() && doc.get("platformCommand").is_some());
}
