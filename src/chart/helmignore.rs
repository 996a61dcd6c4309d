//! A chart's `.helmignore` as helm reads it when it loads a chart folder (helm pkg/ignore/rules.go
//! `Parse`, `parseRule`, `Ignore`; pkg/chart/loader/directory.go `LoadDir`): which files helm
//! leaves out of the chart. The root chart's rules apply to every path of the folder, subcharts'
//! folders included (LoadDir walks the whole tree with the root's rules only).

use std::path::Path;

use regex::Regex;

/// One rule of a `.helmignore`.
#[derive(Debug, Clone)]
struct Rule {
    /// The pattern as a regex over the path (or, for a rule without `/`, the base name).
    pattern: Regex,
    /// `/` in the rule (after a leading `/` is dropped): matched against the whole path.
    whole_path: bool,
    negate: bool,
    must_dir: bool,
}

/// The rules of one `.helmignore` plus helm's default `templates/.?*` (`AddDefaults`).
#[derive(Debug, Clone, Default)]
pub struct HelmIgnore {
    rules: Vec<Rule>,
}

impl HelmIgnore {
    /// The rules of `chart_dir/.helmignore` (none when the file is absent) and helm's default.
    pub fn load(chart_dir: &Path) -> HelmIgnore {
        let text = std::fs::read_to_string(chart_dir.join(".helmignore")).unwrap_or_default();
        HelmIgnore::parse(&text)
    }

    /// helm's `Parse` then `AddDefaults`. A rule helm refuses (`**`, a pattern `filepath.Match`
    /// cannot compile) makes helm refuse the chart; here it is left out, so helm reports it.
    pub fn parse(text: &str) -> HelmIgnore {
        let mut rules: Vec<Rule> = text.lines().filter_map(parse_rule).collect();
        rules.extend(parse_rule("templates/.?*"));
        HelmIgnore { rules }
    }

    /// helm's `Rules.Ignore` for one chart-relative, `/`-separated path. Rules are tried in
    /// order and the first match decides; a negated rule (`!x`) that does not match ignores the
    /// path (helm's own reading, kept as it is).
    pub fn ignores_entry(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        // filepath.Base: the last element, trailing slashes dropped
        let trimmed = path.trim_end_matches('/');
        let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
        for rule in &self.rules {
            let matches = || rule.pattern.is_match(if rule.whole_path { trimmed } else { base });
            if rule.negate {
                if (rule.must_dir && !is_dir) || !matches() {
                    return true;
                }
                continue;
            }
            if rule.must_dir && !is_dir {
                continue;
            }
            if matches() {
                return true;
            }
        }
        false
    }
}

/// helm's `parseRule`: blank lines and `#` comments are no rules; `!` negates, a trailing `/`
/// asks for a folder, a leading `/` anchors at the chart root, any other `/` makes the rule
/// match the whole path, else it matches the base name.
fn parse_rule(line: &str) -> Option<Rule> {
    let mut rule = line.trim();
    if rule.is_empty() || rule.starts_with('#') || rule.contains("**") {
        return None;
    }
    let negate = rule.starts_with('!');
    if negate {
        rule = &rule[1..];
    }
    let must_dir = rule.ends_with('/');
    rule = rule.trim_end_matches('/');
    let whole_path = rule.contains('/');
    let rule = rule.strip_prefix('/').unwrap_or(rule);
    Some(Rule { pattern: go_path_match(rule)?, whole_path, negate, must_dir })
}

/// Go's `filepath.Match` pattern (Unix separator) as an anchored regex: `*` any run of non-`/`
/// characters, `?` one non-`/` character, `[…]`/`[^…]` a class with ranges, `\` escapes.
/// `None` for a pattern Go reports as malformed (an unclosed class, a trailing `\`).
fn go_path_match(pattern: &str) -> Option<Regex> {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => out.push_str(&regex::escape(&chars.next()?.to_string())),
            '[' => {
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                let mut empty = true;
                loop {
                    match chars.next()? {
                        ']' if !empty => break,
                        '\\' => out.push_str(&regex::escape(&chars.next()?.to_string())),
                        '-' if !empty => out.push('-'),
                        c => out.push_str(&regex::escape(&c.to_string())),
                    }
                    empty = false;
                }
                out.push(']');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    Regex::new(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// helm's pkg/ignore/rules_test.go `TestIgnore`, every row (its testdata: `cargo` and
    /// `mast` are folders, the other names files), plus the README.md rule that leaves a
    /// non-template file of k8s-monitoring's templates/hooks out of helm's chart.
    #[test]
    fn helms_own_ignore_table() {
        let dirs = ["cargo", "cargo/", "mast/", ".", "./"];
        let cases: &[(&str, &str, bool)] = &[
            ("helm.txt", "helm.txt", true),
            ("helm.*", "helm.txt", true),
            ("helm.*", "rudder.txt", false),
            ("*.txt", "tiller.txt", true),
            ("*.txt", "cargo/a.txt", true),
            ("cargo/*.txt", "cargo/a.txt", true),
            ("cargo/*.*", "cargo/a.txt", true),
            ("cargo/*.txt", "mast/a.txt", false),
            ("ru[c-e]?er.txt", "rudder.txt", true),
            ("templates/.?*", "templates/.dotfile", true),
            (".*", ".", false),
            (".*", "./", false),
            (".*", ".joonix", true),
            (".*", "helm.txt", false),
            (".*", "", false),
            ("cargo/", "cargo", true),
            ("cargo/", "cargo/", true),
            ("cargo/", "mast/", false),
            ("helm.txt/", "helm.txt", false),
            ("!helm.txt", "helm.txt", false),
            ("!helm.txt", "tiller.txt", true),
            ("!*.txt", "cargo", true),
            ("!cargo/", "mast/", true),
            ("/a.txt", "a.txt", true),
            ("/a.txt", "cargo/a.txt", false),
            ("/cargo/a.txt", "cargo/a.txt", true),
            ("README.md", "templates/hooks/README.md", true),
        ];
        for (rule, path, ignored) in cases {
            assert_eq!(HelmIgnore::parse(rule).ignores_entry(path, dirs.contains(path)), *ignored, "rule {rule:?} on {path:?}");
        }
        assert!(parse_rule("foo/**/bar").is_none() && parse_rule("[z-").is_none(), "TestParseFail's rules");
    }
}
