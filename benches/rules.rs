//! Rule-evaluation time per 1,000 resources (`cargo bench --bench rules`).
//!
//! Builds a release of N copies of the clean fixture's objects (Deployment, Service,
//! NetworkPolicies, ConfigMap, ServiceAccount) with distinct names, then times `check_manifest`
//! with every rule, without `kubernetes-schema`, without `kubernetes-validation`, and the shipped platform policies (`policies/`) alone. Compare with helm's render time (60–450 ms
//! per chart on this machine).

use std::time::{Duration, Instant};

use chartproof::manifest::Manifest;
use chartproof::policy::PolicyArgs;
use chartproof::rules::{Config, check_manifest, config::RuleSetting};

fn release(copies: usize) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/fixtures/rules-clean/templates");
    let mut templates: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    templates.sort();
    let mut out = String::new();
    for i in 0..copies {
        for t in &templates {
            let text = std::fs::read_to_string(t).unwrap().replace("{{ .Release.Name }}", &format!("r{i}")).replace("app: web", &format!("app: web{i}"));
            for doc in text.split("---\n") {
                out.push_str(&format!("---\n# Source: rules-clean/templates/{}\n{doc}", t.file_name().unwrap().to_str().unwrap()));
            }
        }
    }
    out
}

fn time(manifest: &Manifest, config: &Config, rounds: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(check_manifest(manifest, config));
    }
    start.elapsed() / rounds
}

fn main() {
    // One-time cost per process: load the shipped schema, then compile one validator per kind.
    let one = |kind: &str| Manifest::parse(&format!("---\napiVersion: v1\nkind: {kind}\nmetadata: {{name: x}}\n"));
    let start = Instant::now();
    check_manifest(&one("ConfigMap"), &Config::default());
    let first_kind = start.elapsed();
    let start = Instant::now();
    check_manifest(&one("ServiceAccount"), &Config::default());
    println!("schema load + first validator: {:.1} ms; each further kind: {:.1} ms", first_kind.as_secs_f64() * 1e3, start.elapsed().as_secs_f64() * 1e3);
    // `cargo bench` passes --bench; under `cargo test --all-targets` run a quick smoke round.
    let full = std::env::args().any(|a| a == "--bench");
    let (copies, rounds) = if full { (200, 5) } else { (5, 1) };
    let manifest = Manifest::parse(&release(copies));
    let n = manifest.resources.len();
    let all = Config::default();
    let mut no_schema = Config::default();
    no_schema.rules.insert("kubernetes-schema".into(), RuleSetting::Off);
    // Warm up (loads and compiles the shipped Kubernetes schemas once per process).
    let first = Instant::now();
    check_manifest(&manifest, &all);
    let cold = first.elapsed();
    let per_k = |d: Duration| d.as_secs_f64() * 1000.0 * 1000.0 / n as f64;
    let warm = time(&manifest, &all, rounds);
    let without = time(&manifest, &no_schema, rounds);
    let mut no_validation = Config::default();
    no_validation.rules.insert("kubernetes-validation".into(), RuleSetting::Off);
    let without_validation = time(&manifest, &no_validation, rounds);
    println!("resources: {n}");
    println!("all rules, first run (schema load + compile): {:.1} ms per 1,000 resources", per_k(cold));
    println!("all rules:                                    {:.1} ms per 1,000 resources", per_k(warm));
    println!("without kubernetes-schema:                    {:.1} ms per 1,000 resources", per_k(without));
    println!("without kubernetes-validation:                {:.1} ms per 1,000 resources", per_k(without_validation));
    // Platform policies alone: every built-in rule off, the four shipped policies loaded once.
    let mut only_policies = Config::default();
    for rule in chartproof::rules::catalog::RULES {
        only_policies.rules.insert(rule.id.into(), RuleSetting::Off);
    }
    let shipped = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let start = Instant::now();
    PolicyArgs { policies: vec![shipped], ..PolicyArgs::default() }.load_into(&mut only_policies, Some("production")).unwrap();
    println!("policies/ load + compile (once per run):      {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    println!("policies/ (4 policies, 5 expressions each at most): {:.1} ms per 1,000 resources", per_k(time(&manifest, &only_policies, rounds)));
}

