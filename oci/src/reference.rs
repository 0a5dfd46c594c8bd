//! A manifest reference in a `/v2/<name>/manifests/<reference>` URL: a tag or a digest.

use std::fmt;

use crate::{Digest, DigestError, NameError, Tag};

/// Why a string is neither a tag nor a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Looked like a digest but was not valid.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// Not a valid tag.
    #[error(transparent)]
    Tag(#[from] NameError),
}

/// A tag or a digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// By tag.
    Tag(Tag),
    /// By digest.
    Digest(Digest),
}

impl Reference {
    /// Parses a reference: anything with a `:` is a digest, anything else a tag.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.contains(':') {
            Ok(Reference::Digest(Digest::parse(s)?))
        } else {
            Ok(Reference::Tag(Tag::parse(s)?))
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(t) => t.fmt(f),
            Reference::Digest(d) => d.fmt(f),
        }
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_or_digest() {
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        let d = Digest::sha256(b"x").to_string();
        assert!(matches!(Reference::parse(&d), Ok(Reference::Digest(_))));
        assert!(matches!(Reference::parse("sha256:zz"), Err(ReferenceError::Digest(_))));
        assert!(matches!(Reference::parse("-bad"), Err(ReferenceError::Tag(_))));
    }
}
