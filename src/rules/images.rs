//! `image-digest`: every container image must be pinned by `@sha256:` digest; a reference the
//! kubelet cannot parse is reported as malformed.

use std::sync::LazyLock;

use regex::Regex;

use super::{Severity, Sink};
use crate::manifest::Manifest;

/// How an image reference pins its content.
#[derive(Debug, PartialEq, Eq)]
pub enum ImagePin<'a> {
    Digest,
    Tag(&'a str),
    Latest,
    NoTag,
}

/// Classify an image reference (`registry:5000/repo/name:tag@sha256:…`).
pub fn image_pin(image: &str) -> ImagePin<'_> {
    if let Some((_, digest)) = image.split_once('@')
        && digest.starts_with("sha256:") && digest.len() == 7 + 64 && digest[7..].chars().all(|c| c.is_ascii_hexdigit()) {
            return ImagePin::Digest;
        }
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, "latest")) => ImagePin::Latest,
        Some((_, "")) | None => ImagePin::NoTag,
        Some((_, tag)) => ImagePin::Tag(tag),
    }
}

/// The reference grammar of distribution/reference, which the kubelet parses images with
/// (`name[:tag][@digest]`, the name an optional `host[:port]/` then lowercase path components).
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    let path_component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let host = format!(r"(?:{domain_component}(?:\.{domain_component})*|\[[a-fA-F0-9:]+\])");
    let name = format!(r"(?:{host}(?::[0-9]+)?/)?{path_component}(?:/{path_component})*");
    let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    Regex::new(&format!(r"^({name})(?::([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}))?(?:@({digest}))?$")).expect("reference grammar compiles")
});

/// Why the kubelet refuses an image reference (it fails the pod with InvalidImageName), or None
/// when the reference parses.
pub fn malformed(image: &str) -> Option<String> {
    let Some(parts) = REFERENCE.captures(image) else {
        return Some(if image.chars().any(|c| c.is_ascii_uppercase()) && REFERENCE.is_match(&image.to_ascii_lowercase()) {
            "the repository name must be lowercase".into()
        } else {
            "it does not follow the `[host[:port]/]name[:tag][@algorithm:hex]` grammar".into()
        });
    };
    let name = &parts[1];
    if name.len() > 255 {
        return Some(format!("the repository name is {} characters long; at most 255 are allowed", name.len()));
    }
    let digest = parts.get(3)?.as_str();
    let (algorithm, hex) = digest.split_once(':')?;
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Some(format!("digest algorithm `{algorithm}` is not supported (sha256, sha384, sha512)")),
    };
    if hex.len() != expected || !hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Some(format!("a {algorithm} digest is {expected} lowercase hex digits"));
    }
    None
}

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        for c in t.containers() {
            let image = c.image().unwrap_or("");
            let path = Some(format!("{}.image", c.path(&t)));
            if let Some(problem) = malformed(image).filter(|_| !image.is_empty()) {
                let message = format!("malformed image reference `{image}`: {problem}; the kubelet rejects it (InvalidImageName)");
                sink.report_at(r, "image-digest", Severity::Error, path, message);
                continue;
            }
            let (severity, message) = match image_pin(image) {
                ImagePin::Digest => continue,
                ImagePin::Tag(tag) => (Severity::Warning, format!("image `{image}` is pinned only by the mutable tag `{tag}`, not by @sha256 digest")),
                ImagePin::Latest => (Severity::Error, format!("image `{image}` uses `:latest`, which changes on every push")),
                ImagePin::NoTag if image.is_empty() => (Severity::Error, format!("container `{}` has no image", c.name)),
                ImagePin::NoTag => (Severity::Error, format!("image `{image}` has no tag or digest (means :latest)")),
            };
            sink.report_at(r, "image-digest", severity, path, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testutil::rules_hit;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn classify_references() {
        assert_eq!(image_pin(&format!("ghcr.io/a/b:1.2@{D}")), ImagePin::Digest);
        assert_eq!(image_pin(&format!("b@{D}")), ImagePin::Digest);
        assert_eq!(image_pin("b@sha256:short"), ImagePin::NoTag);
        assert_eq!(image_pin("registry:5000/b"), ImagePin::NoTag);
        assert_eq!(image_pin("registry:5000/b:1.0"), ImagePin::Tag("1.0"));
        assert_eq!(image_pin("nginx:latest"), ImagePin::Latest);
        assert_eq!(image_pin("nginx"), ImagePin::NoTag);
    }

    #[test]
    fn malformed_references_follow_the_kubelet_grammar() {
        for ok in ["nginx", "nginx:1.25", "registry:5000/team/app:v1", "localhost/a", "[::1]:5000/a:b", "a__b/c-d.e", &format!("b@{D}"), &format!("b:1@{D}")] {
            assert_eq!(malformed(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("repo@a", "grammar"),
            ("repo@sha256:abc", "grammar"),
            ("repo@@x", "grammar"),
            ("repo:", "grammar"),
            ("repo:-tag", "grammar"),
            ("repo:t\u{e9}", "grammar"),
            ("My/App:1", "lowercase"),
            ("repo@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "64 lowercase hex"),
            ("repo@sha256:0123456789abcdef0123456789abcdef", "64 lowercase hex"),
            ("repo@md5:0123456789abcdef0123456789abcdef", "not supported"),
        ] {
            let problem = malformed(bad).unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn severities() {
        let pod = |img: &str| format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: a, image: \"{img}\"}}]\n");
        assert_eq!(rules_hit(&pod("nginx:1.25"), "image-digest")[0].severity, Severity::Warning);
        assert_eq!(rules_hit(&pod("nginx"), "image-digest")[0].severity, Severity::Error);
        assert!(rules_hit(&pod(&format!("nginx:1.25@{D}")), "image-digest").is_empty());
        let f = rules_hit(&pod("nginx@a"), "image-digest");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].message.starts_with("malformed image reference `nginx@a`") && !f[0].message.contains("latest"), "{}", f[0].message);
    }
}
