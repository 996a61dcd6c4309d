//! Changes every version bump causes and users asked to ignore: by default the `helm.sh/chart` and
//! `app.kubernetes.io/version` labels and `checksum/*` annotations (anywhere an object has
//! metadata), plus `--ignore PATH-GLOB`. Ignored changes are counted, never shown or counted as
//! breaking.

use anyhow::{Context, Result};
use globset::{GlobBuilder, GlobMatcher};

/// Patterns whose changes are ignored by default (`--no-default-ignores` turns them off).
/// (what it is called in reports, glob)
pub const DEFAULT_IGNORES: &[(&str, &str)] = &[
    ("label helm.sh/chart", "{metadata,*.metadata}.labels.helm.sh/chart"),
    ("label app.kubernetes.io/version", "{metadata,*.metadata}.labels.app.kubernetes.io/version"),
    ("annotation checksum/*", "{metadata,*.metadata}.annotations.checksum/*"),
];

/// One ignore pattern.
#[derive(Debug, Clone)]
pub struct IgnorePattern {
    /// As the user wrote it (or the default's name, e.g. `label helm.sh/chart`).
    pub text: String,
    pub default: bool,
    matcher: GlobMatcher,
}

/// The ignore patterns in force.
#[derive(Debug, Clone, Default)]
pub struct IgnoreSet {
    pub patterns: Vec<IgnorePattern>,
}

impl IgnoreSet {
    /// Defaults (unless `no_defaults`) plus the user's globs. In a glob `*` matches anything
    /// (dots included) and `[`/`]` are literal, so `spec.template.spec.containers[name=app].image` matches itself.
    pub fn new(user: &[String], no_defaults: bool) -> Result<IgnoreSet> {
        let mut patterns = Vec::new();
        if !no_defaults {
            for (name, glob) in DEFAULT_IGNORES {
                patterns.push(IgnorePattern { text: name.to_string(), default: true, matcher: compile(glob)? });
            }
        }
        for p in user {
            let matcher = compile(p).with_context(|| format!("--ignore {p}: not a usable glob"))?;
            patterns.push(IgnorePattern { text: p.clone(), default: false, matcher });
        }
        Ok(IgnoreSet { patterns })
    }

    /// The pattern that ignores this dotted path, if any (built-in ones only with `defaults`).
    pub fn matching(&self, path: &str, defaults: bool) -> Option<&IgnorePattern> {
        self.patterns.iter().find(|p| (defaults || !p.default) && p.matcher.is_match(path))
    }

    /// A pattern that ignores the first of these paths when some pattern ignores every one of them.
    pub fn matching_all<'a>(&self, paths: impl IntoIterator<Item = &'a str>, defaults: bool) -> Option<&IgnorePattern> {
        let paths: Vec<&str> = paths.into_iter().collect();
        let first = self.matching(paths.first()?, defaults)?;
        paths.iter().all(|p| self.matching(p, defaults).is_some()).then_some(first)
    }
}

fn compile(pattern: &str) -> Result<GlobMatcher> {
    let escaped: String = pattern
        .chars()
        .map(|c| match c {
            '[' => "[[]".to_string(),
            ']' => "[]]".to_string(),
            c => c.to_string(),
        })
        .collect();
    Ok(GlobBuilder::new(&escaped).literal_separator(false).backslash_escape(true).build()?.compile_matcher())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_labels_and_checksums_anywhere_but_not_selectors() {
        let s = IgnoreSet::new(&[], false).unwrap();
        assert!(s.matching("metadata.labels.helm.sh/chart", true).is_some());
        assert!(s.matching("spec.template.metadata.labels.app.kubernetes.io/version", true).is_some());
        assert!(s.matching("spec.template.metadata.annotations.checksum/config", true).is_some());
        assert!(s.matching("spec.selector.matchLabels.app.kubernetes.io/version", true).is_none());
        assert!(s.matching("metadata.labels.app.kubernetes.io/name", true).is_none());
        assert!(s.matching("metadata.labels.helm.sh/chart", false).is_none(), "defaults left out on request");
        assert!(IgnoreSet::new(&[], true).unwrap().matching("metadata.labels.helm.sh/chart", true).is_none());
    }

    #[test]
    fn user_globs_take_brackets_literally() {
        let s = IgnoreSet::new(&["spec.template.spec.containers[name=app].image".into(), "spec.replicas".into()], true).unwrap();
        assert!(s.matching("spec.template.spec.containers[name=app].image", true).is_some());
        assert!(s.matching("spec.template.spec.containers[name=web].image", true).is_none());
        assert!(s.matching("spec.replicas", false).is_some());
        assert!(s.matching_all(["spec.replicas", "spec.template.spec.containers[name=app].image"], true).is_some());
        assert!(s.matching_all(["spec.replicas", "spec.paused"], true).is_none());
    }
}
