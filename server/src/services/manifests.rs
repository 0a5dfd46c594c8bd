//! Manifests: the checks before one is stored (size, digest, shape, every referenced blob and child
//! present in the repository), content negotiation on read, and deletion by tag or digest.

use bytes::Bytes;
use rreg_oci::{Digest, Manifest, ManifestError, Reference, RepoName};

use super::{Registry, ServiceError};
use crate::db::{ManifestRow, NewManifest};

/// What a manifest PUT stored.
#[derive(Debug, Clone)]
pub struct ManifestPut {
    /// The manifest's digest.
    pub digest: Digest,
    /// Its subject, if it has one (answered as `OCI-Subject`).
    pub subject: Option<Digest>,
}

/// A manifest as read back.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    /// Its digest.
    pub digest: String,
    /// Its stored media type.
    pub media_type: String,
    /// Its exact bytes.
    pub content: Bytes,
    /// Row ids of the manifest and its repository (for the pull counter).
    pub(crate) id: i64,
    pub(crate) repo_id: i64,
}

impl From<ManifestRow> for StoredManifest {
    fn from(r: ManifestRow) -> Self {
        StoredManifest {
            digest: r.digest,
            media_type: r.media_type,
            content: Bytes::from(r.content),
            id: r.id,
            repo_id: 0,
        }
    }
}

/// Layers that live outside the registry (Windows foreign layers) need not be uploaded.
fn is_foreign(d: &rreg_oci::Descriptor) -> bool {
    d.urls.as_ref().is_some_and(|u| !u.is_empty())
        && (d.media_type.contains("foreign") || d.media_type.contains("nondistributable"))
}

impl Registry {
    /// Checks and stores manifest `body` in `name` under `reference`.
    #[tracing::instrument(skip(self, body), fields(repo = %name, reference = %reference))]
    pub async fn put_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<ManifestPut, ServiceError> {
        let limit = self.limits.max_manifest_size;
        if body.len() > limit {
            return Err(ServiceError::ManifestTooLarge {
                size: body.len(),
                limit,
            });
        }
        let (digest, tag) = match reference {
            Reference::Digest(d) => {
                let actual = Digest::of(d.algorithm(), &body);
                if &actual != d {
                    return Err(ServiceError::DigestInvalid(format!(
                        "manifest has digest {actual}, not {d}"
                    )));
                }
                (actual, None)
            }
            Reference::Tag(t) => (Digest::sha256(&body), Some(t.as_str())),
        };
        let manifest = Manifest::parse(&body, content_type).map_err(|e| match e {
            ManifestError::Invalid(m) => ServiceError::ManifestInvalid(m),
            ManifestError::UnsupportedMediaType(m) => {
                ServiceError::ManifestInvalid(format!("media type {m:?} is not supported"))
            }
        })?;
        let repo = self.db.ensure_repository(name.as_str()).await?;
        let mut blobs: Vec<String> = manifest
            .blobs()
            .filter(|d| !is_foreign(d))
            .map(|d| d.digest.to_string())
            .collect();
        blobs.sort();
        blobs.dedup();
        let mut children: Vec<String> = manifest.manifests.iter().map(|d| d.digest.to_string()).collect();
        children.sort();
        children.dedup();
        let annotations = manifest
            .annotations
            .as_ref()
            .and_then(|a| serde_json::to_string(a).ok());
        let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
        let new = NewManifest {
            digest: digest.to_string(),
            media_type: manifest.media_type.clone(),
            artifact_type: manifest.effective_artifact_type().map(str::to_owned),
            subject_digest: subject.as_ref().map(|d| d.to_string()),
            annotations,
            content: body.to_vec(),
            blobs,
            children,
        };
        if let Some(missing) = self.db.put_manifest(repo, &new, tag).await? {
            return Err(ServiceError::ManifestBlobUnknown(missing));
        }
        Ok(ManifestPut { digest, subject })
    }

    /// Reads manifest `reference` of `name`. If `accept` names manifest media types and the stored
    /// type is not among them (nor a wildcard), the manifest is reported unknown, as distribution does.
    pub async fn get_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        accept: &[String],
    ) -> Result<StoredManifest, ServiceError> {
        let repo = self.repo_id(name).await?;
        let row = match reference {
            Reference::Tag(t) => self.db.manifest_by_tag(repo, t.as_str()).await?,
            Reference::Digest(d) => self.db.manifest_by_digest(repo, &d.to_string()).await?,
        }
        .ok_or(ServiceError::ManifestUnknown)?;
        let lists_manifest_types = accept.iter().any(|a| rreg_oci::media_types::is_manifest(a));
        let acceptable = !lists_manifest_types
            || accept
                .iter()
                .any(|a| a == &row.media_type || a == "*/*" || a == "application/*");
        // A by-digest read names the exact content: serve it whatever the Accept header says.
        if !acceptable && matches!(reference, Reference::Tag(_)) {
            return Err(ServiceError::NotAcceptable(row.media_type));
        }
        let mut m: StoredManifest = row.into();
        m.repo_id = repo;
        Ok(m)
    }

    /// Deletes a tag, or a manifest (and its tags) by digest.
    #[tracing::instrument(skip(self), fields(repo = %name, reference = %reference))]
    pub async fn delete_manifest(&self, name: &RepoName, reference: &Reference) -> Result<(), ServiceError> {
        let repo = self.repo_id(name).await?;
        let deleted = match reference {
            Reference::Tag(t) => self.db.delete_tag(repo, t.as_str()).await?,
            Reference::Digest(d) => self.db.delete_manifest(repo, &d.to_string()).await?,
        };
        if deleted {
            Ok(())
        } else {
            Err(ServiceError::ManifestUnknown)
        }
    }
}
