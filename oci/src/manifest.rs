//! Image manifests and indexes (OCI and Docker schema 2): parsing with the checks a registry needs
//! before it stores one, and the descriptors a manifest references.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::media_types as mt;
use crate::Digest;

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: i64,
    /// Artifact type, for artifact manifests and referrers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform, in index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
    /// Alternative download locations (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

/// Whether a manifest describes an image or an index of manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// Image (or artifact) manifest: a config and layers.
    Image,
    /// Index or manifest list: child manifests.
    Index,
}

/// Why manifest bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The body is not valid JSON of the expected shape.
    #[error("manifest is not valid: {0}")]
    Invalid(String),
    /// Media type not supported (e.g. Docker schema 1).
    #[error("manifest media type {0:?} is not supported")]
    UnsupportedMediaType(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest or index, reduced to what the registry needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Image or index.
    pub kind: ManifestKind,
    /// The effective media type (from the body, or the Content-Type it was sent with).
    pub media_type: String,
    /// `artifactType`, if set.
    pub artifact_type: Option<String>,
    /// The config descriptor (images only).
    pub config: Option<Descriptor>,
    /// Layer descriptors (images only).
    pub layers: Vec<Descriptor>,
    /// Child manifests (indexes only).
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    pub subject: Option<Descriptor>,
    /// Annotations.
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Parses manifest bytes sent with `content_type` (may be empty or generic).
    ///
    /// The media type is taken from the body's `mediaType`, else from a manifest `content_type`,
    /// else inferred from the shape (`manifests` → OCI index, `config` → OCI manifest). A body
    /// `mediaType` that contradicts a manifest `content_type` is invalid.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| !c.is_empty());
        if let Some(c) = ct {
            if c == mt::DOCKER_MANIFEST_V1 || c == mt::DOCKER_MANIFEST_V1_SIGNED {
                return Err(ManifestError::UnsupportedMediaType(c.to_owned()));
            }
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if raw.schema_version != Some(2) {
            if raw.schema_version == Some(1) {
                return Err(ManifestError::UnsupportedMediaType(mt::DOCKER_MANIFEST_V1.into()));
            }
            return Err(ManifestError::Invalid("schemaVersion must be 2".into()));
        }
        let ct_manifest = ct.filter(|c| mt::is_manifest(c));
        let media_type = match (&raw.media_type, ct_manifest) {
            (Some(body), Some(header)) if body != header => {
                return Err(ManifestError::Invalid(format!(
                    "mediaType {body:?} does not match Content-Type {header:?}"
                )))
            }
            (Some(body), _) => body.clone(),
            (None, Some(header)) => header.to_owned(),
            (None, None) if raw.manifests.is_some() => mt::OCI_INDEX.to_owned(),
            (None, None) if raw.config.is_some() => mt::OCI_MANIFEST.to_owned(),
            (None, None) => return Err(ManifestError::Invalid("cannot tell the manifest's media type".into())),
        };
        if !mt::is_manifest(&media_type) {
            return Err(ManifestError::UnsupportedMediaType(media_type));
        }
        let kind = if mt::is_index(&media_type) {
            ManifestKind::Index
        } else {
            ManifestKind::Image
        };
        let m = match kind {
            ManifestKind::Image => {
                let config = raw
                    .config
                    .ok_or_else(|| ManifestError::Invalid("image manifest has no config".into()))?;
                if raw.manifests.is_some() {
                    return Err(ManifestError::Invalid("image manifest has a manifests list".into()));
                }
                if media_type == mt::DOCKER_MANIFEST && raw.layers.is_none() {
                    return Err(ManifestError::Invalid("manifest has no layers".into()));
                }
                Manifest {
                    kind,
                    media_type,
                    artifact_type: raw.artifact_type,
                    config: Some(config),
                    layers: raw.layers.unwrap_or_default(),
                    manifests: Vec::new(),
                    subject: raw.subject,
                    annotations: raw.annotations,
                }
            }
            ManifestKind::Index => {
                if raw.config.is_some() || raw.layers.is_some() {
                    return Err(ManifestError::Invalid("index has config or layers".into()));
                }
                let manifests = raw
                    .manifests
                    .ok_or_else(|| ManifestError::Invalid("index has no manifests list".into()))?;
                Manifest {
                    kind,
                    media_type,
                    artifact_type: raw.artifact_type,
                    config: None,
                    layers: Vec::new(),
                    manifests,
                    subject: raw.subject,
                    annotations: raw.annotations,
                }
            }
        };
        if m.descriptors().any(|d| d.size < 0) {
            return Err(ManifestError::Invalid("descriptor with negative size".into()));
        }
        Ok(m)
    }

    /// Every blob descriptor the manifest references (config, then layers). Layers with `urls`
    /// (foreign layers) are included; callers decide whether those must be present.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(self.layers.iter())
    }

    /// All descriptors: blobs, child manifests and subject.
    pub fn descriptors(&self) -> impl Iterator<Item = &Descriptor> {
        self.blobs().chain(self.manifests.iter()).chain(self.subject.iter())
    }

    /// The artifact type the referrers API reports: `artifactType`, else the config media type.
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or_else(|| self.config.as_ref().map(|c| c.media_type.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seed: &str) -> String {
        Digest::sha256(seed.as_bytes()).to_string()
    }

    #[test]
    fn parses_oci_image_with_subject() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x-sig",
            "config":{{"mediaType":"{}","digest":"{}","size":2}},
            "layers":[{{"mediaType":"{}","digest":"{}","size":10}}],
            "subject":{{"mediaType":"{}","digest":"{}","size":5}}}}"#,
            mt::OCI_MANIFEST,
            mt::OCI_EMPTY,
            d("c"),
            mt::OCI_LAYER_GZIP,
            d("l"),
            mt::OCI_MANIFEST,
            d("s")
        );
        let m = Manifest::parse(body.as_bytes(), Some(mt::OCI_MANIFEST)).expect("valid");
        assert_eq!(m.kind, ManifestKind::Image);
        assert_eq!(m.blobs().count(), 2);
        assert_eq!(m.effective_artifact_type(), Some("application/x-sig"));
        assert!(m.subject.is_some());
    }

    #[test]
    fn infers_index_and_refuses_mismatch() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":3,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            mt::OCI_MANIFEST,
            d("m")
        );
        let m = Manifest::parse(body.as_bytes(), None).expect("valid");
        assert_eq!(m.media_type, mt::OCI_INDEX);
        assert_eq!(m.manifests.len(), 1);
        let with_mt = body.replacen('{', &format!(r#"{{"mediaType":"{}","#, mt::OCI_INDEX), 1);
        assert!(matches!(
            Manifest::parse(with_mt.as_bytes(), Some(mt::DOCKER_MANIFEST)),
            Err(ManifestError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_garbage_and_schema1() {
        assert!(Manifest::parse(b"not json", None).is_err());
        assert!(Manifest::parse(b"{}", None).is_err());
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":1}"#, None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        let bad_digest = r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}"#;
        assert!(Manifest::parse(bad_digest.as_bytes(), None).is_err());
    }
}
