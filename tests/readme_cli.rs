//! The README's figures are what chartproof prints: the rule count it states, and the
//! `chartproof test` example on `charts/fixtures/latent-defects`, run as the README shows it
//! (a copy of the chart at `/tmp/ld`, the same flags) with the real helm. A change that alters
//! what a user would see fails here until the README is rewritten from a run.

mod common;

fn readme() -> String {
    std::fs::read_to_string(common::repo().join("README.md")).unwrap()
}

/// The fenced block that starts with the command line `$ {command}`: its lines after the command.
fn example_block(readme: &str, command: &str) -> Vec<String> {
    let start = readme.find(&format!("$ {command}\n")).unwrap_or_else(|| panic!("README has no example `$ {command}`"));
    let body = &readme[start..];
    let end = body.find("```").expect("the example's fenced block is closed");
    body[..end].lines().skip(1).map(str::to_string).collect()
}

#[test]
fn readme_states_the_catalog_rule_count() {
    let text = readme();
    let stated: Vec<usize> = regex::Regex::new(r"lists the (\d+) rules").unwrap().captures_iter(&text).map(|c| c[1].parse().unwrap()).collect();
    assert!(!stated.is_empty(), "README no longer states how many rules `chartproof rules` lists");
    let helm = &common::helms()[0];
    let out = common::chartproof(helm).arg("rules").output().unwrap();
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(listed, chartproof::rules::catalog::RULES.len(), "`chartproof rules` prints one line per catalog rule");
    for n in stated {
        assert_eq!(n, listed, "README says `chartproof rules` lists {n} rules; it lists {listed}");
    }
}

#[test]
fn readme_latent_defects_example_is_what_a_run_prints() {
    let command = "chartproof test /tmp/ld --cases 300 --seed 7";
    let expected = example_block(&readme(), command);
    assert!(expected.iter().any(|l| l.starts_with("result: ")), "the example shows the run's result line");
    // The README's copy of the chart lives at /tmp/ld; this run's copy is a fresh temporary folder.
    let copy = common::copy_chart(&common::chart("fixtures/latent-defects"));
    let helm = &common::helms()[0];
    let out = common::chartproof(helm).args(["test"]).arg(copy.path()).args(["--cases", "300", "--seed", "7"]).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).replace(&copy.path().display().to_string(), "/tmp/ld");
    assert_eq!(out.status.code(), Some(1), "the example finds failures: {}", String::from_utf8_lossy(&out.stderr));
    // Every line the README shows appears in the run's output, in the same order (`…` elides).
    let lines: Vec<&str> = printed.lines().collect();
    let mut at = 0;
    for want in expected.iter().filter(|l| l.trim() != "…") {
        match lines[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => panic!("README example line not printed (in order) by `{command}`:\n  {want}\nthe run printed:\n{printed}"),
        }
    }
}
