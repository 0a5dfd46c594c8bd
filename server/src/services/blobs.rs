//! Reading and unlinking blobs of a repository, with byte ranges.

use std::ops::Range;

use bytes::Bytes;
use rreg_oci::{Digest, RepoName};

use super::{Registry, ServiceError};
use crate::storage::ByteStream;

/// A blob's identity and size.
#[derive(Debug, Clone)]
pub struct BlobInfo {
    /// Its digest.
    pub digest: Digest,
    /// Its full size.
    pub size: u64,
}

/// The bytes of a blob: streamed from storage, or in memory for a manifest read as a blob.
pub enum BlobBody {
    /// From storage.
    Stream(ByteStream),
    /// In memory.
    Bytes(Bytes),
}

/// A requested byte range, as in `bytes=a-b`, `bytes=a-` or `bytes=-n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// From `start` to `end` inclusive (or the end of the blob).
    From { start: u64, end: Option<u64> },
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open range within a blob of `size` bytes, or `None` if unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            ByteRange::From { start, end } => {
                let end = end.map_or(size, |e| e.saturating_add(1).min(size));
                (start < size && start < end).then_some(start..end)
            }
            ByteRange::Suffix(n) => (n > 0 && size > 0).then(|| size.saturating_sub(n)..size),
        }
    }
}

impl Registry {
    /// The blob `digest` as repository `name` serves it: a linked blob, or a manifest of the repository.
    pub async fn blob_info(&self, name: &RepoName, digest: &Digest) -> Result<BlobInfo, ServiceError> {
        let repo = self
            .db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::BlobUnknown)?;
        let d = digest.to_string();
        if let Some(size) = self.db.linked_blob_size(repo, &d).await? {
            return Ok(BlobInfo {
                digest: digest.clone(),
                size: size as u64,
            });
        }
        match self.db.manifest_by_digest(repo, &d).await? {
            Some(m) => Ok(BlobInfo {
                digest: digest.clone(),
                size: m.size as u64,
            }),
            None => Err(ServiceError::BlobUnknown),
        }
    }

    /// Opens blob `digest` of `name`, whole or the given range; returns the served range too.
    #[tracing::instrument(skip(self), fields(repo = %name, digest = %digest))]
    pub async fn get_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<(BlobInfo, Range<u64>, BlobBody), ServiceError> {
        let repo = self
            .db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::BlobUnknown)?;
        let d = digest.to_string();
        let (size, manifest) = match self.db.linked_blob_size(repo, &d).await? {
            Some(size) => (size as u64, None),
            None => match self.db.manifest_by_digest(repo, &d).await? {
                Some(m) => (m.size as u64, Some(m.content)),
                None => return Err(ServiceError::BlobUnknown),
            },
        };
        let served = match range {
            None => 0..size,
            Some(r) => r.resolve(size).ok_or(ServiceError::RangeInvalid { size })?,
        };
        let info = BlobInfo {
            digest: digest.clone(),
            size,
        };
        let body = match manifest {
            Some(content) => BlobBody::Bytes(Bytes::from(content).slice(served.start as usize..served.end as usize)),
            None => {
                let partial = served.start != 0 || served.end != size;
                let stream = match self.storage.get_blob(digest, partial.then(|| served.clone())).await {
                    Ok(s) => s,
                    Err(crate::storage::StorageError::NotFound) => {
                        tracing::error!(%digest, "blob recorded in the database is missing from storage");
                        return Err(ServiceError::BlobUnknown);
                    }
                    Err(e) => return Err(e.into()),
                };
                BlobBody::Stream(stream)
            }
        };
        Ok((info, served, body))
    }

    /// Unlinks blob `digest` from `name`; its bytes go when no repository or manifest needs them (GC).
    #[tracing::instrument(skip(self), fields(repo = %name, digest = %digest))]
    pub async fn delete_blob(&self, name: &RepoName, digest: &Digest) -> Result<(), ServiceError> {
        let repo = self
            .db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::BlobUnknown)?;
        if self.db.unlink_blob(repo, &digest.to_string()).await? {
            Ok(())
        } else {
            Err(ServiceError::BlobUnknown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_resolve() {
        assert_eq!(ByteRange::From { start: 0, end: Some(9) }.resolve(100), Some(0..10));
        assert_eq!(ByteRange::From { start: 90, end: None }.resolve(100), Some(90..100));
        assert_eq!(
            ByteRange::From {
                start: 90,
                end: Some(500)
            }
            .resolve(100),
            Some(90..100)
        );
        assert_eq!(ByteRange::From { start: 100, end: None }.resolve(100), None);
        assert_eq!(ByteRange::Suffix(10).resolve(100), Some(90..100));
        assert_eq!(ByteRange::Suffix(1000).resolve(100), Some(0..100));
        assert_eq!(ByteRange::Suffix(0).resolve(100), None);
    }
}
