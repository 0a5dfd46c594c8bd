//! Blob uploads: sessions, chunks, cross-repository mounts, and the digest check that makes a blob
//! visible. Bytes are hashed as they arrive; the running hash is kept per session in memory only as an
//! optimisation — any instance can finish any session by re-reading its stored parts.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use rreg_oci::{Algorithm, Digest, Hasher, RepoName};

use super::{Registry, ServiceError};
use crate::db::DbError;
use crate::storage::BodyError;

/// Most sessions whose running hash is kept; beyond it the cache starts over (correctness does not
/// depend on it).
const MAX_CACHED_HASHES: usize = 4096;

/// Running SHA-256 states by upload id, with the offset they have hashed up to.
#[derive(Default)]
pub(crate) struct HashCache {
    inner: Mutex<HashMap<String, (u64, Hasher)>>,
}

impl HashCache {
    fn take(&self, id: &str, offset: u64) -> Option<Hasher> {
        let mut map = self.inner.lock().ok()?;
        match map.remove(id) {
            Some((at, h)) if at == offset => Some(h),
            _ => None,
        }
    }

    fn put(&self, id: &str, offset: u64, h: Hasher) {
        if let Ok(mut map) = self.inner.lock() {
            if map.len() >= MAX_CACHED_HASHES {
                map.clear();
            }
            map.insert(id.to_owned(), (offset, h));
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(id);
        }
    }
}

/// Feeds every chunk of a body stream to a hasher on its way to storage.
struct Hashing<S> {
    inner: S,
    hasher: Option<Hasher>,
}

impl<S, E> Stream for Hashing<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.poll_next_unpin(cx));
        if let (Some(Ok(b)), Some(h)) = (&item, self.hasher.as_mut()) {
            h.update(b);
        }
        Poll::Ready(item)
    }
}

/// Where an upload session stands.
#[derive(Debug, Clone)]
pub struct UploadState {
    /// Session id.
    pub id: String,
    /// Bytes received so far.
    pub size: u64,
}

/// The result of a mount request.
#[derive(Debug)]
pub enum MountOutcome {
    /// The blob is now linked to the target repository.
    Mounted(u64),
    /// It could not be mounted; an upload session was opened instead.
    Upload(UploadState),
}

impl Registry {
    /// Opens an upload session in `name`, creating the repository if needed.
    #[tracing::instrument(skip(self), fields(repo = %name))]
    pub async fn start_upload(&self, name: &RepoName) -> Result<UploadState, ServiceError> {
        let repo = self.db.ensure_repository(name.as_str()).await?;
        let id = uuid::Uuid::new_v4().to_string();
        self.db.create_upload(&id, repo).await?;
        self.hashes.put(&id, 0, Hasher::new(Algorithm::Sha256));
        Ok(UploadState { id, size: 0 })
    }

    /// The state of session `id`.
    pub async fn upload_status(&self, name: &RepoName, id: &str) -> Result<UploadState, ServiceError> {
        let repo = self
            .db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::UploadUnknown)?;
        let row = self.db.upload(repo, id).await?.ok_or(ServiceError::UploadUnknown)?;
        Ok(UploadState {
            id: row.id,
            size: row.size as u64,
        })
    }

    /// Appends `body` to session `id`. With `start`, the chunk must begin where the session ends;
    /// with `len`, it must be exactly that long. Nothing is recorded unless the whole chunk arrived.
    #[tracing::instrument(skip(self, body), fields(repo = %name))]
    pub async fn append_upload<S, E>(
        &self,
        name: &RepoName,
        id: &str,
        start: Option<u64>,
        len: Option<u64>,
        body: S,
    ) -> Result<UploadState, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<BodyError>,
    {
        let state = self.upload_status(name, id).await?;
        if let Some(start) = start {
            if start != state.size {
                return Err(ServiceError::UploadOutOfOrder {
                    expected: state.size,
                    id: id.to_owned(),
                });
            }
        }
        let part_id = uuid::Uuid::new_v4().simple().to_string();
        let mut hashing = Hashing {
            inner: body,
            hasher: self.hashes.take(id, state.size),
        };
        let written = self.storage.write_part(id, &part_id, &mut hashing).await?;
        let hasher = hashing.hasher;
        let part = std::slice::from_ref(&part_id);
        if let Some(len) = len {
            if written != len {
                self.storage.delete_parts(id, part).await?;
                return Err(ServiceError::SizeInvalid(format!(
                    "received {written} bytes where Content-Length or Content-Range said {len}"
                )));
            }
        }
        if written == 0 {
            self.storage.delete_parts(id, part).await?;
            if let Some(h) = hasher {
                self.hashes.put(id, state.size, h);
            }
            return Ok(state);
        }
        match self
            .db
            .append_upload_part(id, state.size as i64, written as i64, &part_id)
            .await
        {
            Ok(()) => {}
            Err(DbError::Conflict) => {
                self.storage.delete_parts(id, part).await?;
                let now = self.upload_status(name, id).await?;
                return Err(ServiceError::UploadOutOfOrder {
                    expected: now.size,
                    id: id.to_owned(),
                });
            }
            Err(e) => {
                self.storage.delete_parts(id, part).await?;
                return Err(e.into());
            }
        }
        let size = state.size + written;
        if let Some(h) = hasher {
            self.hashes.put(id, size, h);
        }
        Ok(UploadState {
            id: id.to_owned(),
            size,
        })
    }

    /// Appends the final chunk (if any), checks the content against `digest`, and makes the blob
    /// visible in `name`. On a digest mismatch the session and its bytes are discarded.
    #[tracing::instrument(skip(self, body), fields(repo = %name, digest = %digest))]
    pub async fn finish_upload<S, E>(
        &self,
        name: &RepoName,
        id: &str,
        digest: &Digest,
        start: Option<u64>,
        len: Option<u64>,
        body: S,
    ) -> Result<u64, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<BodyError>,
    {
        let state = self.append_upload(name, id, start, len, body).await?;
        let repo = self
            .db
            .repository_id(name.as_str())
            .await?
            .ok_or(ServiceError::UploadUnknown)?;
        let parts = self.db.upload_parts(id).await?;
        let part_ids: Vec<String> = parts.iter().map(|p| p.part_id.clone()).collect();
        let cached = self
            .hashes
            .take(id, state.size)
            .filter(|h| h.algorithm() == digest.algorithm());
        let computed = match cached {
            Some(h) => h.finish(),
            None => self.hash_parts(id, &part_ids, digest.algorithm()).await?,
        };
        if &computed != digest {
            self.discard_upload(id, &part_ids).await?;
            return Err(ServiceError::DigestInvalid(format!(
                "content has digest {computed}, not {digest}"
            )));
        }
        // Write the object unless it is there, record it, and if the collector was taking it away
        // meanwhile (the claim reports a fresh or marked row), make sure the bytes are in place.
        if !self.storage.blob_exists(digest).await? {
            self.storage.commit_blob(id, &part_ids, digest).await?;
        }
        let fresh = self.db.claim_blob(repo, &digest.to_string(), state.size as i64).await?;
        // (Even an object written just now may have been swept as an orphan by a collector whose
        // grace period is shorter than this push took; the parts are still here to write it again.)
        if fresh && !self.storage.blob_exists(digest).await? {
            self.storage.commit_blob(id, &part_ids, digest).await?;
        }
        // The session goes before its parts: a crash in between leaves only orphan part objects
        // (which gc and fsck remove), never a session whose parts are gone.
        self.db.delete_upload(id).await?;
        self.storage.delete_parts(id, &part_ids).await?;
        self.storage.forget_upload(id);
        Ok(state.size)
    }

    /// Cancels session `id`, discarding its bytes.
    pub async fn cancel_upload(&self, name: &RepoName, id: &str) -> Result<(), ServiceError> {
        self.upload_status(name, id).await?;
        let parts: Vec<String> = self.db.upload_parts(id).await?.into_iter().map(|p| p.part_id).collect();
        self.discard_upload(id, &parts).await
    }

    async fn discard_upload(&self, id: &str, parts: &[String]) -> Result<(), ServiceError> {
        self.hashes.forget(id);
        self.db.delete_upload(id).await?;
        self.storage.delete_parts(id, parts).await?;
        self.storage.forget_upload(id);
        Ok(())
    }

    async fn hash_parts(&self, id: &str, parts: &[String], alg: Algorithm) -> Result<Digest, ServiceError> {
        let mut h = Hasher::new(alg);
        for p in parts {
            let mut s = self.storage.read_part(id, p).await?;
            while let Some(chunk) = s.next().await {
                h.update(&chunk?);
            }
        }
        Ok(h.finish())
    }

    /// Uploads `body` as blob `digest` in one request (POST with `digest`).
    pub async fn upload_monolithic<S, E>(
        &self,
        name: &RepoName,
        digest: &Digest,
        len: Option<u64>,
        body: S,
    ) -> Result<u64, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<BodyError>,
    {
        let state = self.start_upload(name).await?;
        self.finish_upload(name, &state.id, digest, None, len, body).await
    }

    /// Links blob `digest` from repository `from` into `name` if the caller may (checked by the
    /// route) and `from` has it; otherwise opens an upload session.
    #[tracing::instrument(skip(self), fields(repo = %name, digest = %digest))]
    pub async fn mount_blob(
        &self,
        name: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<MountOutcome, ServiceError> {
        if let Some(from) = from {
            if let Some(from_id) = self.db.repository_id(from.as_str()).await? {
                let to = self.db.ensure_repository(name.as_str()).await?;
                let d = digest.to_string();
                if self.db.mount_blob(from_id, to, &d).await? {
                    let size = self.db.linked_blob_size(to, &d).await?.unwrap_or(0);
                    return Ok(MountOutcome::Mounted(size as u64));
                }
            }
        }
        Ok(MountOutcome::Upload(self.start_upload(name).await?))
    }
}
