//! Image references in the docker grammar, normalised the way go-containerregistry (and so
//! cosign) names them: `ubuntu` is `index.docker.io/library/ubuntu`, `localhost:5000/a/b:v1` keeps
//! its registry and port, `@sha256:…` pins a digest.

use crate::error::{Error, Result};

/// The registry name cosign uses for Docker Hub.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn invalid(input: &str, reason: impl Into<String>) -> Error {
    Error::InvalidReference {
        reference: input.to_owned(),
        reason: reason.into(),
    }
}

/// One path component: `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_lowercase() && !bytes[0].is_ascii_digit()
        || !bytes[bytes.len() - 1].is_ascii_lowercase() && !bytes[bytes.len() - 1].is_ascii_digit()
    {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => crate::digest::is_sha256_hex(hex),
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

fn valid_registry(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl ImageRef {
    /// Parses `[registry/]repository[:tag][@digest]`.
    pub fn parse(input: &str) -> Result<Self> {
        if input.is_empty() {
            return Err(invalid(input, "empty reference"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(invalid(input, format!("invalid digest {digest:?}")));
                }
                (rest, Some(digest.to_owned()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !valid_tag(tag) {
                    return Err(invalid(input, format!("invalid tag {tag:?}")));
                }
                (&rest[..last_slash + i], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = if registry == "docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        if !valid_registry(&registry) {
            return Err(invalid(input, format!("invalid registry {registry:?}")));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.len() > 255 || !repository.split('/').all(valid_component) {
            return Err(invalid(
                input,
                format!(
                    "invalid repository {repository:?} (lower-case letters, digits and . _ - \
                     separators only)"
                ),
            ));
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry host (and port).
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// The repository path inside the registry.
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// The digest (`sha256:<hex>`), if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`, the name cosign puts in `docker-reference`.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at `digest`, without a tag.
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_owned()),
            tag: None,
            ..self.clone()
        }
    }

    /// The same repository at `tag`, without a digest.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// This reference in another repository, keeping tag and digest (for `COSIGN_REPOSITORY`).
    pub fn in_repository(&self, repo: &ImageRef) -> ImageRef {
        ImageRef {
            registry: repo.registry.clone(),
            repository: repo.repository.clone(),
            ..self.clone()
        }
    }

    /// What to ask the registry for: the digest if pinned, else the tag (default `latest`).
    pub fn identifier(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_like_ggcr() {
        let cases = [
            ("ubuntu", "index.docker.io", "library/ubuntu", None),
            (
                "docker.io/ubuntu:22.04",
                "index.docker.io",
                "library/ubuntu",
                Some("22.04"),
            ),
            ("user/app", "index.docker.io", "user/app", None),
            (
                "127.0.0.1:5000/team/app:v1",
                "127.0.0.1:5000",
                "team/app",
                Some("v1"),
            ),
            ("localhost/app", "localhost", "app", None),
            (
                "localhost:5000/a/b/c:t-1.2_x",
                "localhost:5000",
                "a/b/c",
                Some("t-1.2_x"),
            ),
            ("ghcr.io/o/r__x/y-z.q", "ghcr.io", "o/r__x/y-z.q", None),
        ];
        for (input, registry, repo, tag) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(
                (r.registry(), r.repository(), r.tag()),
                (registry, repo, tag),
                "{input}"
            );
        }
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("127.0.0.1:5000/app:v1@{d}")).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("v1"), Some(d.as_str())));
        assert_eq!(r.identifier(), d);
        assert_eq!(r.repo_name(), "127.0.0.1:5000/app");
        assert_eq!(ImageRef::parse("app").unwrap().identifier(), "latest");
    }

    #[test]
    fn invalid_references_are_refused() {
        for bad in [
            "",
            "UPPER/case",
            "reg:5000/app:bad tag",
            "app@sha256:short",
            "app@md5:abc",
            "a//b",
            "a/-b",
            "reg.io/a..b",
            "app:",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}
