//! Blobs: existence checks, cross-repository mounts, streamed uploads (monolithic when small,
//! chunked with `Content-Range` when large, resumed from the registry's offset after a failure) and
//! verified, resumable downloads. No blob is ever held whole in memory.

use std::io::SeekFrom;
use std::path::Path;

use anyhow::Context as _;
use futures::StreamExt as _;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::StatusCode;
use rreg_oci::{Descriptor, Digest, Hasher};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use super::auth::Scope;
use super::{Client, RegistryError};
use crate::progress::Item;

/// Blobs up to this size are sent in one PUT; larger ones in chunks of this size.
pub fn chunk_size() -> u64 {
    std::env::var("RREG_CHUNK_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(64 << 20)
}

/// What a mount attempt gave.
pub enum Mount {
    /// The registry linked the blob: nothing to send.
    Mounted,
    /// The registry opened an upload session instead.
    Upload(url::Url),
}

impl Client {
    /// `HEAD` a blob: its size when the repository has it.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest, scopes: &[Scope]) -> anyhow::Result<Option<u64>> {
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let resp = self
            .send(scopes, &format!("blob {digest}"), |h| Ok(h.head(url.clone())))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(resp, &format!("blob {digest} in {repo}")).await),
        }
    }

    /// Asks the registry to mount `digest` from repository `from` into `repo`.
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> anyhow::Result<Mount> {
        let mut url = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let scopes = [Scope::push(repo), Scope::pull(from)];
        let resp = self
            .send(&scopes, &format!("a mount into {repo}"), |h| {
                Ok(h.post(url.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(&resp)?)),
            _ => Err(self.fail(resp, &format!("a mount of {digest} into {repo}")).await),
        }
    }

    /// Opens an upload session in `repo`.
    pub async fn start_upload(&self, repo: &str) -> anyhow::Result<url::Url> {
        let url = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        let resp = self
            .send(&[Scope::push(repo)], &format!("an upload to {repo}"), |h| {
                Ok(h.post(url.clone()).header(CONTENT_LENGTH, 0))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.fail(resp, &format!("an upload to {repo}")).await);
        }
        self.location(&resp)
    }

    fn location(&self, resp: &reqwest::Response) -> anyhow::Result<url::Url> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Protocol {
                host: self.registry.clone(),
                what: "an upload".into(),
                reason: "no Location header".into(),
            })?;
        self.resolve(loc)
    }

    /// Uploads the file at `path` (blob `digest`, `size` bytes) into the session at `location`.
    pub async fn upload_blob(
        &self,
        repo: &str,
        mut location: url::Url,
        path: &Path,
        digest: &Digest,
        size: u64,
        item: &Item<'_>,
    ) -> anyhow::Result<()> {
        let scopes = [Scope::push(repo)];
        let what = format!("the upload of {digest}");
        let chunk = chunk_size();
        if size <= chunk {
            let mut url = location.clone();
            url.query_pairs_mut().append_pair("digest", &digest.to_string());
            let resp = self
                .send(&scopes, &what, |h| {
                    Ok(h.put(url.clone())
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, size)
                        .body(file_body(path, 0, size, item)?))
                })
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(self.fail(resp, &what).await);
            }
            return Ok(());
        }
        let mut offset = 0u64;
        let mut failures = 0;
        while offset < size {
            let len = chunk.min(size - offset);
            let end = offset + len - 1;
            let url = location.clone();
            let result = self
                .send(&scopes, &what, |h| {
                    Ok(h.patch(url.clone())
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, len)
                        .header(CONTENT_RANGE, format!("{offset}-{end}"))
                        .body(file_body(path, offset, len, item)?))
                })
                .await;
            match result {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    location = self.location(&resp)?;
                    offset = end + 1;
                    failures = 0;
                }
                Ok(resp) if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE && failures < 3 => {
                    failures += 1;
                    offset = self.upload_offset(repo, &location).await?;
                    item.set_position(offset);
                }
                Ok(resp) => return Err(self.fail(resp, &what).await),
                Err(e) if failures < 3 && is_network(&e) => {
                    failures += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500 * failures)).await;
                    offset = self.upload_offset(repo, &location).await?;
                    item.set_position(offset);
                }
                Err(e) => return Err(e),
            }
        }
        let mut url = location.clone();
        url.query_pairs_mut().append_pair("digest", &digest.to_string());
        let resp = self
            .send(&scopes, &what, |h| Ok(h.put(url.clone()).header(CONTENT_LENGTH, 0)))
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(resp, &what).await);
        }
        Ok(())
    }

    /// How many bytes the registry holds of an upload session (`GET` status, `Range: 0-N`).
    async fn upload_offset(&self, repo: &str, location: &url::Url) -> anyhow::Result<u64> {
        let url = location.clone();
        let resp = self
            .send(&[Scope::push(repo)], "an upload status", |h| Ok(h.get(url.clone())))
            .await?;
        if resp.status() != StatusCode::NO_CONTENT {
            return Err(self.fail(resp, "an upload status").await);
        }
        let range = resp.headers().get(RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        Ok(range
            .split_once('-')
            .and_then(|(_, end)| end.parse::<u64>().ok())
            .map_or(0, |end| end + 1))
    }

    /// Fetches a small blob (a config) into memory, verified.
    pub async fn get_small_blob(&self, repo: &str, desc: &Descriptor) -> anyhow::Result<Vec<u8>> {
        let digest = &desc.digest;
        if desc.size > 16 << 20 {
            anyhow::bail!("blob {digest} is too large to read into memory");
        }
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let what = format!("blob {digest} of {repo}");
        let resp = self
            .send(&[Scope::pull(repo)], &what, |h| Ok(h.get(url.clone())))
            .await?;
        if !resp.status().is_success() {
            return Err(self.fail(resp, &what).await);
        }
        let bytes = resp.bytes().await.map_err(|e| self.network(e))?.to_vec();
        let actual = Digest::of(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                expected: digest.clone(),
                actual,
            }
            .into());
        }
        Ok(bytes)
    }

    /// A layer's size as `docker history` shows it, measured by streaming the layer once (nothing
    /// is stored).
    pub async fn layer_diff_size(&self, repo: &str, desc: &Descriptor) -> anyhow::Result<u64> {
        let digest = &desc.digest;
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let what = format!("blob {digest} of {repo}");
        let resp = self
            .send(&[Scope::pull(repo)], &what, |h| Ok(h.get(url.clone())))
            .await?;
        if !resp.status().is_success() {
            return Err(self.fail(resp, &what).await);
        }
        let stream = resp.bytes_stream().map(|r| r.map_err(std::io::Error::other));
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        let media_type = desc.media_type.clone();
        tokio::task::spawn_blocking(move || crate::store::diff_size(reader, &media_type)).await?
    }

    /// Downloads blob `desc` of `repo` into the store's partial file for it, resuming what an earlier
    /// attempt left there; verifies size and digest; returns the path of the verified file.
    pub async fn download_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
        partial: &Path,
        item: &Item<'_>,
    ) -> anyhow::Result<()> {
        let digest = &desc.digest;
        let size = u64::try_from(desc.size).unwrap_or(0);
        let what = format!("blob {digest} of {repo}");
        let mut failures = 0u64;
        loop {
            match self.download_attempt(repo, desc, partial, item).await {
                Ok(()) => break,
                Err(e) if failures < 3 && is_network(&e) => {
                    failures += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500 * failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
        // Verify, off the async threads.
        let path = partial.to_owned();
        let alg = digest.algorithm();
        let (len, actual) = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Digest)> {
            let mut f = std::fs::File::open(&path)?;
            let mut h = Hasher::new(alg);
            let mut buf = vec![0u8; 1 << 20];
            let mut len = 0u64;
            loop {
                let n = std::io::Read::read(&mut f, &mut buf)?;
                if n == 0 {
                    return Ok((len, h.finish()));
                }
                len += n as u64;
                h.update(&buf[..n]);
            }
        })
        .await?
        .with_context(|| format!("reading {}", partial.display()))?;
        if len != size {
            let _ = tokio::fs::remove_file(partial).await;
            return Err(RegistryError::Protocol {
                host: self.registry.clone(),
                what,
                reason: format!("got {len} bytes, the manifest says {size}"),
            }
            .into());
        }
        if &actual != digest {
            let _ = tokio::fs::remove_file(partial).await;
            return Err(RegistryError::DigestMismatch {
                expected: digest.clone(),
                actual,
            }
            .into());
        }
        Ok(())
    }

    async fn download_attempt(
        &self,
        repo: &str,
        desc: &Descriptor,
        partial: &Path,
        item: &Item<'_>,
    ) -> anyhow::Result<()> {
        let digest = &desc.digest;
        let size = u64::try_from(desc.size).unwrap_or(0);
        let what = format!("blob {digest} of {repo}");
        let have = tokio::fs::metadata(partial).await.map(|m| m.len()).unwrap_or(0);
        if have == size && size > 0 {
            item.set_position(have);
            return Ok(());
        }
        let have = if have > size { 0 } else { have };
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let resp = self
            .send(&[Scope::pull(repo)], &what, |h| {
                let rb = h.get(url.clone());
                Ok(if have > 0 {
                    rb.header(RANGE, format!("bytes={have}-"))
                } else {
                    rb
                })
            })
            .await?;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(partial)
            .await
            .with_context(|| format!("writing {}", partial.display()))?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                file.seek(SeekFrom::Start(have)).await?;
                item.set_position(have);
            }
            StatusCode::OK => {
                file.set_len(0).await?;
                item.set_position(0);
            }
            _ => return Err(self.fail(resp, &what).await),
        }
        let mut stream = resp.bytes_stream();
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Network {
                host: self.registry.clone(),
                source: e,
            })?;
            out.write_all(&chunk).await?;
            item.inc(chunk.len() as u64);
        }
        out.flush().await?;
        Ok(())
    }
}

fn is_network(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<RegistryError>(), Some(RegistryError::Network { .. }))
}

/// A request body streaming `len` bytes of the file at `path` from `offset`, counting progress.
fn file_body(path: &Path, offset: u64, len: u64, item: &Item<'_>) -> anyhow::Result<reqwest::Body> {
    use std::io::Seek as _;
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    f.seek(SeekFrom::Start(offset))?;
    let f = tokio::fs::File::from_std(f).take(len);
    let bar = item.bar_handle();
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 << 10).inspect(move |c| {
        if let (Ok(bytes), Some(b)) = (c, &bar) {
            b.inc(bytes.len() as u64);
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}
