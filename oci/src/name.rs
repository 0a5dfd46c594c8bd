//! Repository names and tags, validated against the OCI distribution grammar.

use std::fmt;

/// Longest repository name accepted (as CNCF distribution).
pub const MAX_NAME_LEN: usize = 255;

/// Why a string is not a repository name or tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, too long, or not matching the name grammar.
    #[error("invalid repository name {0:?}")]
    InvalidName(String),
    /// Not matching the tag grammar.
    #[error("invalid tag {0:?}")]
    InvalidTag(String),
}

/// A repository name such as `library/busybox` or `org/team/app`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    /// Parses a name: `/`-separated components of `[a-z0-9]+` joined by `.`, `_`, `__` or `-+`.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() || s.len() > MAX_NAME_LEN || !s.split('/').all(valid_component) {
            return Err(NameError::InvalidName(s.to_owned()));
        }
        Ok(RepoName(s.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first path component (the namespace in a Docker Hub-style registry).
    pub fn namespace(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }
}

fn valid_component(c: &str) -> bool {
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&first), Some(&last)) = (c.as_bytes().first(), c.as_bytes().last()) else {
        return false;
    };
    // Alphanumeric at both ends; between runs of them, separators: ".", "_", "__", or one or more "-".
    alnum(first)
        && alnum(last)
        && c.split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            .filter(|sep| !sep.is_empty())
            .all(|sep| sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-'))
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Parses a tag.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let first_ok = b.first().is_some_and(|&x| x.is_ascii_alphanumeric() || x == b'_');
        let rest_ok = b
            .iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-');
        if !first_ok || !rest_ok || b.len() > 128 {
            return Err(NameError::InvalidTag(s.to_owned()));
        }
        Ok(Tag(s.to_owned()))
    }

    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag `latest`.
    pub fn latest() -> Tag {
        Tag("latest".to_owned())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for n in ["a", "library/busybox", "org/team/app", "a.b_c__d---e/f0", "0abc"] {
            assert!(RepoName::parse(n).is_ok(), "{n}");
        }
        assert_eq!(
            RepoName::parse("org/team/app").map(|n| n.namespace().to_owned()),
            Ok("org".into())
        );
    }

    #[test]
    fn rejects_invalid_names() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for n in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a..b",
            "a___b",
            "-a",
            "a-",
            "a_.b",
            "a/../b",
            "a:b",
            long.as_str(),
        ] {
            assert!(RepoName::parse(n).is_err(), "{n}");
        }
    }

    #[test]
    fn tags() {
        for t in ["latest", "v1.0.0", "_x", "A-b_c.d"] {
            assert!(Tag::parse(t).is_ok(), "{t}");
        }
        let long = "a".repeat(129);
        for t in ["", ".x", "-x", "a/b", "a:b", long.as_str()] {
            assert!(Tag::parse(t).is_err(), "{t}");
        }
    }
}
