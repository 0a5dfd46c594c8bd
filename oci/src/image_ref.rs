//! Image references as users type them (`ubuntu`, `org/app:1`, `host:5000/a/b@sha256:…`),
//! normalised by Docker's rules into registry, repository, tag and digest.
//!
//! The rules (those of `docker/distribution/reference.ParseNormalizedNamed`):
//! * the first `/`-separated component is a registry host when it contains a `.` or a `:`, or is
//!   `localhost`; otherwise the reference has no host and the default registry is used;
//! * `index.docker.io` is written `docker.io`, and a one-component name on `docker.io` gets the
//!   `library/` prefix (`ubuntu` → `docker.io/library/ubuntu`);
//! * `:tag` follows the name, `@digest` ends the reference; with neither, the tag is `latest`.

use std::fmt;

use crate::{Digest, DigestError, NameError, Reference, RepoName, Tag};

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";

/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// The tag used when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// Empty reference.
    #[error("invalid reference format: empty reference")]
    Empty,
    /// Upper-case letters in the repository name.
    #[error("invalid reference format: repository name {0:?} must be lowercase")]
    Uppercase(String),
    /// The registry host part is malformed.
    #[error("invalid reference format: bad registry host {0:?}")]
    InvalidHost(String),
    /// The repository name does not match the grammar.
    #[error("invalid reference format: {0}")]
    Name(#[from] NameError),
    /// The digest after `@` is invalid.
    #[error("invalid reference format: {0}")]
    Digest(#[from] DigestError),
}

/// A fully qualified image reference: registry, repository, and a tag and/or a digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host (with port), e.g. `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository within the registry, e.g. `library/ubuntu`.
    pub repository: RepoName,
    /// Tag, if one was given (or defaulted to `latest` when no digest was given).
    pub tag: Option<Tag>,
    /// Digest, if one was given.
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parses a reference with Docker Hub as the default registry.
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        Self::parse_with_default(s, DOCKER_HUB)
    }

    /// Parses a reference; names without a registry host go to `default_registry`.
    pub fn parse_with_default(s: &str, default_registry: &str) -> Result<Self, ImageRefError> {
        let mut r = Self::parse_bare(s, default_registry)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(Tag::latest());
        }
        Ok(r)
    }

    /// Parses a repository reference that may lack a tag (as `docker push --all-tags` or a tag
    /// listing takes it); no tag is defaulted.
    pub fn parse_repository(s: &str, default_registry: &str) -> Result<Self, ImageRefError> {
        Self::parse_bare(s, default_registry)
    }

    fn parse_bare(s: &str, default_registry: &str) -> Result<Self, ImageRefError> {
        if s.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d)?)),
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag.
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(Tag::parse(tag)?)),
            _ => (rest, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, remainder)) if is_host(first) => (first.to_owned(), remainder.to_owned()),
            _ => (normalise_host(default_registry), name.to_owned()),
        };
        let registry = normalise_host(&registry);
        if !valid_host(&registry) {
            return Err(ImageRefError::InvalidHost(registry));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ImageRefError::Uppercase(path));
        }
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(ImageRef {
            registry,
            repository: RepoName::parse(&path)?,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when there is one, else the tag (or `latest`).
    pub fn reference(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Reference::Digest(d.clone()),
            (None, Some(t)) => Reference::Tag(t.clone()),
            (None, None) => Reference::Tag(Tag::latest()),
        }
    }

    /// `registry/repository`, e.g. `docker.io/library/ubuntu`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host that serves the registry API (`registry-1.docker.io` for `docker.io`).
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: Tag) -> ImageRef {
        ImageRef {
            tag: Some(tag),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository by digest only.
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short form Docker shows: `docker.io/library/` and `docker.io/` are dropped — unless the
    /// repository's first component reads as a host (`docker.io/a.b/c`), where the short form would
    /// name another registry.
    pub fn familiar_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return self.name();
        }
        let repo = self.repository.as_str();
        let short = repo
            .strip_prefix("library/")
            .filter(|r| !r.contains('/'))
            .unwrap_or(repo);
        match short.split_once('/') {
            Some((first, _)) if is_host(first) => self.name(),
            _ => short.to_owned(),
        }
    }

    /// The familiar form of the whole reference (`ubuntu:latest`, `host:5000/a/b:1`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t.as_str());
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// The host that serves the registry API for a registry name.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API_HOST
    } else {
        registry
    }
}

/// Whether the first component of a name is a registry host.
fn is_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase())
}

/// Canonical spelling of a registry host: `index.docker.io` and `registry-1.docker.io` are `docker.io`.
pub fn normalise_host(host: &str) -> String {
    let h = host
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let h = h.strip_suffix("/v1").or_else(|| h.strip_suffix("/v2")).unwrap_or(h);
    match h {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.to_owned(),
        other => other.to_owned(),
    }
}

fn valid_host(h: &str) -> bool {
    if h.is_empty() {
        return false;
    }
    // IPv6 literals in brackets, or host[:port].
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':')),
            None => return false,
        }
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || (h.starts_with('[') && c == ':'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        ImageRef::parse(s)
            .map(|r| r.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn docker_normalisation() {
        assert_eq!(p("ubuntu"), "docker.io/library/ubuntu:latest");
        assert_eq!(p("ubuntu:22.04"), "docker.io/library/ubuntu:22.04");
        assert_eq!(p("org/app"), "docker.io/org/app:latest");
        assert_eq!(p("docker.io/ubuntu"), "docker.io/library/ubuntu:latest");
        assert_eq!(p("index.docker.io/library/ubuntu:1"), "docker.io/library/ubuntu:1");
        assert_eq!(p("localhost/app"), "localhost/app:latest");
        assert_eq!(p("localhost:5000/a/b/c:t"), "localhost:5000/a/b/c:t");
        assert_eq!(p("127.0.0.1:5000/app:1"), "127.0.0.1:5000/app:1");
        assert_eq!(p("ghcr.io/org/app"), "ghcr.io/org/app:latest");
        assert_eq!(p("[::1]:5000/app"), "[::1]:5000/app:latest");
        let d = Digest::sha256(b"x");
        assert_eq!(p(&format!("app@{d}")), format!("docker.io/library/app@{d}"));
        assert_eq!(p(&format!("h:1/app:t@{d}")), format!("h:1/app:t@{d}"));
    }

    #[test]
    fn rejects_bad_references() {
        for s in [
            "",
            "Ubuntu",
            "a//b",
            "app:",
            "app:-x",
            "app@sha256:zz",
            "org/App",
            "h:port/app",
        ] {
            assert!(ImageRef::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn default_registry_and_familiar_names() {
        let r = ImageRef::parse_with_default("org/app:1", "reg.example.com").expect("valid");
        assert_eq!(r.to_string(), "reg.example.com/org/app:1");
        let r = ImageRef::parse_with_default("app", "reg.example.com").expect("valid");
        assert_eq!(r.repository.as_str(), "app");
        assert_eq!(ImageRef::parse("ubuntu").expect("valid").familiar(), "ubuntu:latest");
        assert_eq!(ImageRef::parse("org/app:1").expect("valid").familiar(), "org/app:1");
        assert_eq!(ImageRef::parse("h:1/app").expect("valid").familiar(), "h:1/app:latest");
        assert_eq!(
            ImageRef::parse("ubuntu").expect("valid").api_host(),
            DOCKER_HUB_API_HOST
        );
        assert!(ImageRef::parse_repository("org/app", DOCKER_HUB)
            .expect("valid")
            .tag
            .is_none());
    }

    #[test]
    fn familiar_form_names_the_same_image() {
        // Found by fuzz/fuzz_targets/reference.rs: `or.io/orgwaptest` is a repository on the host
        // or.io, not on Docker Hub.
        for s in [
            "docker.io/or.io/orgwaptest",
            "docker.io/localhost/app:1",
            "ubuntu",
            "org/app:1",
        ] {
            let r = ImageRef::parse(s).expect("valid");
            let familiar = r.familiar();
            assert_eq!(ImageRef::parse(&familiar), Ok(r), "{s} via {familiar}");
        }
        assert_eq!(
            ImageRef::parse("docker.io/or.io/orgwaptest").expect("valid").familiar(),
            "docker.io/or.io/orgwaptest:latest"
        );
    }
}
