//! Image references in the docker grammar, normalised the way go-containerregistry (and so
//! cosign) names them: `ubuntu` is `index.docker.io/library/ubuntu`, `localhost:5000/a/b:v1` keeps
//! its registry and port, `@sha256:…` pins a digest.

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The registry name cosign uses for Docker Hub.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn invalid(input: &str, reason: impl Into<String>) -> Error {
    Error::InvalidReference {
        reference: input.to_owned(),
        reason: reason.into(),
    }
}

/// Why `c` is not one path component `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, if it is not.
fn component_error(c: &str) -> Option<String> {
    if c.is_empty() {
        return Some("empty path component".into());
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!("repository name must be lowercase ({c:?})"));
    }
    if let Some(bad) = c.chars().find(|ch| {
        !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-'))
    }) {
        return Some(format!("invalid character {bad:?} in {c:?}"));
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some(format!("{c:?} must start and end with a letter or digit"));
    }
    // Every remaining run of non-alphanumerics is a separator: ".", "_", "__", or "-"s. Each
    // step consumes at least one byte, so this ends for any input.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return Some(format!("invalid separator {sep:?} in {c:?}"));
        }
    }
    None
}

/// Whether `path` is a repository path of the distribution spec (at most 255 bytes of
/// `/`-separated components of lower-case letters and digits, joined inside a component by
/// `.`, `_`, `__` or dashes): what a registry accepts after `/v2/`.
pub fn is_valid_repository_path(path: &str) -> bool {
    path.len() <= 255 && path.split('/').all(|c| component_error(c).is_none())
}

/// Whether `t` is a tag of the spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
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
                let digest = Digest::parse(digest)
                    .map_err(|_| invalid(input, format!("invalid digest {digest:?}")))?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_valid_tag(tag) {
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
        if repository.len() > 255 {
            return Err(invalid(input, "repository name longer than 255 characters"));
        }
        if let Some(reason) = repository.split('/').find_map(component_error) {
            return Err(invalid(
                input,
                format!("invalid repository {repository:?}: {reason}"),
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
    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, the name cosign puts in `docker-reference`.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at `digest`, without a tag.
    pub fn with_digest(&self, digest: &Digest) -> ImageRef {
        ImageRef {
            digest: Some(digest.clone()),
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
            .as_ref()
            .map(Digest::as_str)
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
        assert_eq!(
            (r.tag(), r.digest().map(Digest::as_str)),
            (Some("v1"), Some(d.as_str()))
        );
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

    /// Regression (hostile-input issue, item 1): a character outside the grammar inside a path
    /// component made the component check spin forever.
    #[test]
    fn names_with_foreign_characters_end_with_a_clear_error() {
        for (bad, says) in [
            ("registry.example/team/aPp:v1", "must be lowercase"),
            ("team/my app:v1", "invalid character ' '"),
            ("ghcr.io/org/a+b", "invalid character '+'"),
            ("reg/app:v1/x", "invalid character ':'"),
            ("reg.io/a%2e/b", "invalid character '%'"),
            ("reg.io/a._b", "invalid separator"),
        ] {
            let err = within_a_second(bad).expect_err(bad).to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// Parses `input` on another thread and fails the test if that takes more than a second,
    /// so a parser that loops is reported instead of hanging the test run.
    fn within_a_second(input: &str) -> Result<ImageRef> {
        let (tx, rx) = std::sync::mpsc::channel();
        let owned = input.to_owned();
        std::thread::spawn(move || {
            let _ = tx.send(ImageRef::parse(&owned));
        });
        rx.recv_timeout(std::time::Duration::from_secs(1))
            .unwrap_or_else(|_| panic!("parsing {input:?} did not return within a second"))
    }

    /// A small deterministic generator (xorshift), so the property test needs no extra crate
    /// and every run checks the same inputs.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn string(&mut self) -> String {
            // Weighted towards the characters the grammar cares about.
            const ALPHABET: &[char] = &[
                'a', 'b', 'z', '0', '9', 'A', 'Z', '.', '.', '_', '_', '-', '-', '/', '/', '/',
                ':', ':', '@', ' ', '+', '%', '\0', '[', ']', 'é', 's', 'h', '2', '5', '6',
            ];
            let len = (self.next() % 40) as usize;
            let mut s: String = (0..len)
                .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize])
                .collect();
            if self.next().is_multiple_of(8) {
                s.push_str(&format!("@sha256:{}", "ab".repeat(32)));
            }
            s
        }
    }

    /// Property: for any string the parser returns promptly, and an accepted name prints as a
    /// reference that parses back to the same name.
    #[test]
    fn any_string_returns_promptly_and_accepted_names_round_trip() {
        let mut generator = Gen(0x5eed_1234_abcd_0001);
        let inputs: Vec<String> = (0..20_000).map(|_| generator.string()).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = inputs.clone();
        let handle = std::thread::spawn(move || {
            let mut accepted = 0usize;
            for input in &worker {
                if let Ok(r) = ImageRef::parse(input) {
                    accepted += 1;
                    let again = ImageRef::parse(&r.to_string())
                        .unwrap_or_else(|e| panic!("{input:?} -> {r} does not parse: {e}"));
                    assert_eq!(again, r, "{input:?} does not round-trip");
                }
            }
            let _ = tx.send(accepted);
        });
        let accepted = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(n) => n,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                // The worker panicked: report its assertion, not a timeout.
                std::panic::resume_unwind(handle.join().expect_err("the worker panicked"))
            }
            Err(_) => panic!("the parser did not finish 20,000 inputs within 30 s (a loop?)"),
        };
        assert!(
            accepted > 100,
            "the generator should produce valid names too ({accepted})"
        );
    }
}
