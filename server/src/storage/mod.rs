//! Blob storage: the only module that imports object_store. It owns the key layout — callers name
//! blobs by digest and upload parts by session and part id, never by path — and streams every read
//! and write so that no blob is ever held in memory whole.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, PutPayload, WriteMultipart};
use rreg_oci::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Size of the chunks handed to an object store on upload: S3 refuses multipart parts under 5 MiB
/// (except the last), so each upload in flight holds up to this much.
const WRITE_CHUNK: usize = 5 * 1024 * 1024;
/// The same for a local disk (and memory), which takes parts of any size: an upload holds at most a
/// few of these, so dozens of concurrent uploads stay within a few MiB each instead of buffering
/// every blob under 5 MiB whole.
const LOCAL_WRITE_CHUNK: usize = 256 * 1024;
const READ_BUF: usize = 128 * 1024;
/// Parts of one upload in flight to the backend at once.
const WRITE_CONCURRENCY: usize = 2;

/// A boxed error from the request body stream.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong storing or reading blobs.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist.
    #[error("object not found")]
    NotFound,
    /// The incoming body failed (client went away, bad framing).
    #[error("request body: {0}")]
    Body(BodyError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] object_store::Error),
    /// Local file I/O failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The storage configuration is unusable.
    #[error("{0}")]
    Config(String),
}

/// A byte stream read from storage.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// The blob store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The folder of a local store, for removing emptied upload folders.
    local_root: Option<std::path::PathBuf>,
    /// Bytes buffered before a write is handed to the backend (`WRITE_CHUNK` or `LOCAL_WRITE_CHUNK`).
    write_chunk: usize,
}

impl Storage {
    /// A store in folder `root` (created if missing).
    pub fn local(root: &FsPath) -> Result<Storage, StorageError> {
        std::fs::create_dir_all(root)?;
        let fs = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(Storage {
            store: Arc::new(fs),
            local_root: Some(root.to_path_buf()),
            write_chunk: LOCAL_WRITE_CHUNK,
        })
    }

    /// A store named by URL (`s3://bucket/prefix`, `gs://…`, `az://…`, `file:///…`) with
    /// object_store options; a path in the URL becomes a key prefix.
    pub fn from_url(url: &str, options: &std::collections::BTreeMap<String, String>) -> Result<Storage, StorageError> {
        let parsed = url::Url::parse(url).map_err(|e| StorageError::Config(format!("storage.url {url:?}: {e}")))?;
        let (store, prefix) = object_store::parse_url_opts(&parsed, options.iter())?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        let write_chunk = if parsed.scheme() == "file" {
            LOCAL_WRITE_CHUNK
        } else {
            WRITE_CHUNK
        };
        Ok(Storage {
            store,
            local_root: None,
            write_chunk,
        })
    }

    /// A store in memory (tests).
    pub fn memory() -> Storage {
        Storage {
            store: Arc::new(InMemory::new()),
            local_root: None,
            write_chunk: LOCAL_WRITE_CHUNK,
        }
    }

    fn blob_key(d: &Digest) -> Path {
        let hex = d.hex();
        Path::from(format!("blobs/{}/{}/{}", d.algorithm().as_str(), &hex[..2], hex))
    }

    fn part_key(upload: &str, part: &str) -> Path {
        Path::from(format!("uploads/{upload}/{part}"))
    }

    /// Streams `body` into part `part` of upload `upload`; returns the bytes written. On any error
    /// the partial part is discarded.
    #[tracing::instrument(skip(self, body))]
    pub async fn write_part<S, E>(&self, upload: &str, part: &str, body: S) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<BodyError>,
    {
        let key = Self::part_key(upload, part);
        self.write_stream(&key, body).await
    }

    async fn write_stream<S, E>(&self, key: &Path, mut body: S) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<BodyError>,
    {
        // Small bodies (the common case for configs and chunks) go in one put.
        let mut first = Vec::new();
        let mut first_len = 0usize;
        loop {
            match body.next().await {
                None => {
                    let payload: PutPayload = first.into_iter().collect();
                    self.store.put(key, payload).await?;
                    return Ok(first_len as u64);
                }
                Some(Err(e)) => return Err(StorageError::Body(e.into())),
                Some(Ok(b)) => {
                    first_len += b.len();
                    first.push(b);
                    if first_len >= self.write_chunk {
                        break;
                    }
                }
            }
        }
        let upload = self.store.put_multipart(key).await?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, self.write_chunk);
        let mut total = 0u64;
        for b in first {
            total += b.len() as u64;
            w.put(b);
        }
        loop {
            match body.next().await {
                None => break,
                Some(Ok(b)) => {
                    total += b.len() as u64;
                    w.put(b);
                    if let Err(e) = w.wait_for_capacity(WRITE_CONCURRENCY).await {
                        return Err(e.into());
                    }
                }
                Some(Err(e)) => {
                    let _ = w.abort().await;
                    return Err(StorageError::Body(e.into()));
                }
            }
        }
        w.finish().await?;
        Ok(total)
    }

    /// Reads part `part` of upload `upload`.
    pub async fn read_part(&self, upload: &str, part: &str) -> Result<ByteStream, StorageError> {
        self.read(&Self::part_key(upload, part), None).await
    }

    /// Deletes the given parts of an upload (missing ones are fine).
    pub async fn delete_parts(&self, upload: &str, parts: &[String]) -> Result<(), StorageError> {
        for p in parts {
            match self.store.delete(&Self::part_key(upload, p)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Removes what is left of an ended upload's folder (a renamed part leaves it empty).
    pub fn forget_upload(&self, upload: &str) {
        if let Some(root) = &self.local_root {
            // Only an empty folder is removed; anything else is left for fsck to report.
            let _ = std::fs::remove_dir(root.join("uploads").join(upload));
        }
    }

    /// Makes the concatenation of `parts` the content of blob `digest`. A single part is copied (a
    /// hard link on a local disk, so free; the part stays until the caller deletes it, so a crash
    /// before the blob is recorded leaves a session that can still be finished); several are
    /// streamed into a new object; none makes an empty blob. The blob key is written atomically:
    /// readers see the whole blob or nothing. On a local disk the file and its folder are flushed
    /// (fsync) before this returns, so a blob recorded afterwards survives a power loss.
    #[tracing::instrument(skip(self, parts))]
    pub async fn commit_blob(&self, upload: &str, parts: &[String], digest: &Digest) -> Result<(), StorageError> {
        let key = Self::blob_key(digest);
        match parts {
            [] => {
                self.store.put(&key, PutPayload::new()).await?;
            }
            [one] => {
                self.store.copy(&Self::part_key(upload, one), &key).await?;
            }
            many => {
                let mut w =
                    WriteMultipart::new_with_chunk_size(self.store.put_multipart(&key).await?, self.write_chunk);
                for p in many {
                    let mut part = match self.read_part(upload, p).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = w.abort().await;
                            return Err(e);
                        }
                    };
                    while let Some(chunk) = part.next().await {
                        match chunk {
                            Ok(b) => w.put(b),
                            Err(e) => {
                                let _ = w.abort().await;
                                return Err(e);
                            }
                        }
                        w.wait_for_capacity(WRITE_CONCURRENCY).await?;
                    }
                }
                w.finish().await?;
            }
        }
        self.sync_local(digest).await
    }

    /// Flushes blob `digest`'s file, its folder and the folder above to disk (local store only;
    /// object stores acknowledge a write once it is durable).
    async fn sync_local(&self, digest: &Digest) -> Result<(), StorageError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let file = root.join(Self::blob_key(digest).as_ref());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            let mut dir = file.parent();
            for _ in 0..2 {
                if let Some(d) = dir {
                    std::fs::File::open(d)?.sync_all()?;
                    dir = d.parent();
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))??;
        Ok(())
    }

    /// Whether blob `digest` exists in the backend.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<bool, StorageError> {
        match self.store.head(&Self::blob_key(digest)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn trash_key(d: &Digest, mark: &str) -> Path {
        Path::from(format!("trash/{mark}/{}/{}", d.algorithm().as_str(), d.hex()))
    }

    /// Moves blob `digest` aside under the collector's `mark`; false if there was no object.
    pub async fn trash_blob(&self, digest: &Digest, mark: &str) -> Result<bool, StorageError> {
        match self
            .store
            .rename(&Self::blob_key(digest), &Self::trash_key(digest, mark))
            .await
        {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Puts a blob moved aside back in place (its content is the same whatever happened meanwhile).
    pub async fn restore_blob(&self, digest: &Digest, mark: &str) -> Result<(), StorageError> {
        match self
            .store
            .rename(&Self::trash_key(digest, mark), &Self::blob_key(digest))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a blob moved aside.
    pub async fn purge_trash(&self, digest: &Digest, mark: &str) -> Result<(), StorageError> {
        match self.store.delete(&Self::trash_key(digest, mark)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Blobs moved aside by collectors: `(digest, mark)`.
    pub async fn list_trash(&self) -> Result<Vec<(Digest, String)>, StorageError> {
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&Path::from("trash")));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let parts: Vec<_> = meta.location.parts().collect();
            // trash/<mark>/<algorithm>/<hex>
            if let [_, mark, alg, hex] = parts.as_slice() {
                if let Ok(d) = Digest::parse(&format!("{}:{}", alg.as_ref(), hex.as_ref())) {
                    out.push((d, mark.as_ref().to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// Every stored blob object with its last-modified time (Unix ms); keys that are not blobs are
    /// skipped.
    pub async fn list_blobs(&self) -> Result<Vec<(Digest, i64)>, StorageError> {
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&Path::from("blobs")));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let parts: Vec<_> = meta.location.parts().collect();
            // blobs/<algorithm>/<2 hex>/<hex>
            if let [_, alg, _, hex] = parts.as_slice() {
                if let Ok(d) = Digest::parse(&format!("{}:{}", alg.as_ref(), hex.as_ref())) {
                    out.push((d, meta.last_modified.timestamp_millis()));
                }
            }
        }
        Ok(out)
    }

    /// Size of blob `digest`'s object, or `None` if there is none.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, StorageError> {
        self.size_of(&Self::blob_key(digest)).await
    }

    /// Size of part `part` of upload `upload`, or `None` if there is none.
    pub async fn part_size(&self, upload: &str, part: &str) -> Result<Option<u64>, StorageError> {
        self.size_of(&Self::part_key(upload, part)).await
    }

    async fn size_of(&self, key: &Path) -> Result<Option<u64>, StorageError> {
        match self.store.head(key).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every stored upload part: `(upload, part, last modified in Unix ms)`.
    pub async fn list_upload_parts(&self) -> Result<Vec<(String, String, i64)>, StorageError> {
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&Path::from("uploads")));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let parts: Vec<_> = meta.location.parts().collect();
            // uploads/<session>/<part>
            if let [_, upload, part] = parts.as_slice() {
                out.push((
                    upload.as_ref().to_owned(),
                    part.as_ref().to_owned(),
                    meta.last_modified.timestamp_millis(),
                ));
            }
        }
        Ok(out)
    }

    /// Files a local store left half-written by a crash (object_store stages writes in
    /// `<key>#<n>` files and renames them into place): `(path under the root, modified in Unix ms)`.
    /// Other backends have none (their multipart uploads are aborted or expire).
    pub fn list_staged(&self) -> Result<Vec<(String, i64)>, StorageError> {
        let Some(root) = &self.local_root else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut stack = vec![root.join("blobs"), root.join("uploads"), root.join("trash")];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let entry = entry?;
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                if meta.is_dir() {
                    stack.push(entry.path());
                    continue;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let staged = name
                    .split_once('#')
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if !staged {
                    continue;
                }
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                if let Ok(rel) = entry.path().strip_prefix(root) {
                    out.push((rel.to_string_lossy().into_owned(), modified));
                }
            }
        }
        Ok(out)
    }

    /// Deletes a staged file `list_staged` reported (a path outside the store's folders is refused).
    pub fn delete_staged(&self, rel: &str) -> Result<(), StorageError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let rel = std::path::Path::new(rel);
        let inside = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)))
            && rel
                .components()
                .next()
                .is_some_and(|c| ["blobs", "uploads", "trash"].iter().any(|d| c.as_os_str() == *d));
        if !inside {
            return Err(StorageError::Config(format!("refusing to delete {}", rel.display())));
        }
        match std::fs::remove_file(root.join(rel)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams blob `digest`, or the byte range `range` of it.
    pub async fn get_blob(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<ByteStream, StorageError> {
        self.read(&Self::blob_key(digest), range).await
    }

    /// Deletes blob `digest` (missing is fine).
    pub async fn delete_blob(&self, digest: &Digest) -> Result<(), StorageError> {
        match self.store.delete(&Self::blob_key(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn read(&self, key: &Path, range: Option<Range<u64>>) -> Result<ByteStream, StorageError> {
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let res = match self.store.get_opts(key, opts).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(StorageError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let served = res.range.clone();
        match res.payload {
            // A local file: read it with large buffers rather than the backend's small chunks.
            GetResultPayload::File(file, _) => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(SeekFrom::Start(served.start)).await?;
                let reader = file.take(served.end - served.start);
                let stream = tokio_util::io::ReaderStream::with_capacity(reader, READ_BUF).map_err(StorageError::Io);
                Ok(stream.boxed())
            }
            GetResultPayload::Stream(s) => Ok(s.map_err(StorageError::Backend).boxed()),
        }
    }
}
