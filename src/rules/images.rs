//! `image-digest`: every container image must be pinned by `@sha256:` digest.

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

pub(super) fn check(manifest: &Manifest, sink: &mut Sink) {
    for (r, t) in manifest.workloads() {
        for c in t.containers() {
            let image = c.image().unwrap_or("");
            let path = Some(format!("{}.image", c.path(&t)));
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
    fn severities() {
        let pod = |img: &str| format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: a, image: \"{img}\"}}]\n");
        assert_eq!(rules_hit(&pod("nginx:1.25"), "image-digest")[0].severity, Severity::Warning);
        assert_eq!(rules_hit(&pod("nginx"), "image-digest")[0].severity, Severity::Error);
        assert!(rules_hit(&pod(&format!("nginx:1.25@{D}")), "image-digest").is_empty());
    }
}
