//! Browsing what the registry holds, as Docker Hub's repository pages and Dive show it: repository
//! statistics, tags with their size, platforms, pusher and pull times, an image's layer history per
//! platform, a layer's file list (read once by streaming the layer, then kept), and an image's
//! per-layer changes, wasted bytes and efficiency. Also the cheap bookkeeping the manifest routes
//! call: who pushed a tag, and pull counters batched in memory so a manifest GET never waits on
//! the database.

use std::collections::HashMap;
use std::io::{Read, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use rreg_oci::layers::{self, ImageAnalysis, LayerFiles};
use rreg_oci::{Descriptor, Digest, ImageConfig, Manifest, ManifestKind, Platform, Reference, RepoName};
use serde::Serialize;

use super::{Registry, ServiceError};
use crate::db::{now_ms, Db, TagOrder, TagRow};

/// Pull counters are written at most once per manifest per this period.
const PULL_FLUSH: Duration = Duration::from_secs(5);
/// Largest config blob read into memory.
const MAX_CONFIG: i64 = 16 << 20;
/// Layers analysed at once (each keeps a core busy decompressing).
const ANALYSES_AT_ONCE: usize = 2;
/// Comparisons computed at once; more wait their turn.
const COMPARES_AT_ONCE: usize = 2;

/// Pulls of one manifest not yet written.
struct Pending {
    repo: i64,
    digest: String,
    by_digest: u64,
    tags: HashMap<String, u64>,
    at: i64,
    flushed: Option<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.by_digest == 0 && self.tags.values().all(|n| *n == 0)
    }

    /// Takes the counts, leaving zeros.
    fn take(&mut self) -> (i64, i64, String, u64, Vec<(String, u64)>, i64) {
        let tags: Vec<(String, u64)> = self
            .tags
            .iter_mut()
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| (t.clone(), std::mem::take(n)))
            .collect();
        self.tags.retain(|_, n| *n > 0);
        let by_digest = std::mem::take(&mut self.by_digest);
        self.flushed = Some(Instant::now());
        (self.repo, 0, self.digest.clone(), by_digest, tags, self.at)
    }
}

/// In-process state of browsing: pending pull counters and the layers being analysed.
pub(crate) struct BrowseState {
    pulls: Mutex<HashMap<i64, Pending>>,
    sweeper: AtomicBool,
    analysing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    analyses: tokio::sync::Semaphore,
    /// Comparisons computed at once (each holds two merged file trees in memory).
    pub(crate) compares: tokio::sync::Semaphore,
}

impl Default for BrowseState {
    fn default() -> Self {
        BrowseState {
            pulls: Mutex::new(HashMap::new()),
            sweeper: AtomicBool::new(false),
            analysing: Mutex::new(HashMap::new()),
            analyses: tokio::sync::Semaphore::new(ANALYSES_AT_ONCE),
            compares: tokio::sync::Semaphore::new(COMPARES_AT_ONCE),
        }
    }
}

type Flush = (i64, i64, String, u64, Vec<(String, u64)>, i64);

async fn write_pulls(db: &Db, manifest_id: i64, f: Flush) {
    let (repo, _, digest, by_digest, tags, at) = f;
    if let Err(e) = db.record_pulls(repo, manifest_id, &digest, by_digest, &tags, at).await {
        tracing::warn!(error = %e, repo, digest, "recording pulls failed");
    }
}

/// A tag as the browsing API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TagInfo {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    /// Bytes of the distinct blobs (config and layers, compressed) of the manifest and its children.
    pub size: i64,
    pub platforms: Vec<PlatformInfo>,
    /// Unix milliseconds.
    pub last_pushed: i64,
    pub pushed_by: String,
    /// Unix milliseconds.
    pub last_pulled: Option<i64>,
}

pub use rreg_oci::api::{HistoryEntry, ImageHistory, LayerInfo, PlatformInfo};

/// The platform as the browsing API shows it.
fn platform_info(p: &Platform) -> PlatformInfo {
    PlatformInfo {
        os: p.os.clone(),
        architecture: p.architecture.clone(),
        variant: p.variant.clone(),
    }
}

/// Statistics of a repository.
#[derive(Debug, Clone, Default)]
pub struct RepoStats {
    pub pull_count: i64,
    pub last_pulled: Option<i64>,
    pub last_pushed: Option<i64>,
    pub tag_count: i64,
    pub size: i64,
}

/// An image's layers analysed as Dive does.
#[derive(Debug, Clone, Serialize)]
pub struct ImageLayers {
    pub digest: String,
    pub platform: Option<PlatformInfo>,
    pub config_digest: String,
    /// Per layer, base first: the layer and the instruction that made it.
    pub layers: Vec<(LayerInfo, String)>,
    pub analysis: ImageAnalysis,
}

/// An image manifest reached from a tag or digest (directly, or as a platform of an index).
pub(crate) struct ImageRefd {
    pub(crate) digest: String,
    pub(crate) media_type: String,
    pub(crate) platform: Option<Platform>,
    pub(crate) manifest: Manifest,
}

fn bad(m: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(m.into())
}

fn is_image_config(media_type: &str) -> bool {
    media_type == rreg_oci::media_types::OCI_CONFIG || media_type == rreg_oci::media_types::DOCKER_CONFIG
}

impl Registry {
    // --------------------------------------------------------------------------------------------
    // Bookkeeping on the manifest routes
    // --------------------------------------------------------------------------------------------

    /// Counts a manifest GET (by `tag`, or by digest when `None`). Cheap: a map update; the count is
    /// written in the background at most once per manifest per 5 s.
    pub fn record_pull(&self, repo: i64, manifest_id: i64, digest: &str, tag: Option<&str>) {
        let now = Instant::now();
        let flush = {
            let Ok(mut map) = self.browse.pulls.lock() else {
                return;
            };
            let p = map.entry(manifest_id).or_insert_with(|| Pending {
                repo,
                digest: digest.to_owned(),
                by_digest: 0,
                tags: HashMap::new(),
                at: 0,
                flushed: None,
            });
            match tag {
                Some(t) => match p.tags.get_mut(t) {
                    Some(n) => *n += 1,
                    None => {
                        p.tags.insert(t.to_owned(), 1);
                    }
                },
                None => p.by_digest += 1,
            }
            p.at = now_ms();
            if p.flushed.is_none_or(|f| now.duration_since(f) >= PULL_FLUSH) {
                Some(p.take())
            } else {
                None
            }
        };
        if let Some(f) = flush {
            let db = self.db.clone();
            tokio::spawn(async move { write_pulls(&db, manifest_id, f).await });
        }
        if !self.browse.sweeper.swap(true, Ordering::Relaxed) {
            let reg = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PULL_FLUSH);
                loop {
                    tick.tick().await;
                    reg.flush_pulls(false).await;
                }
            });
        }
    }

    /// Writes the pending pull counts (all of them with `all`, else those not written for a
    /// period) and forgets manifests idle for a while.
    pub(crate) async fn flush_pulls(&self, all: bool) {
        let due: Vec<(i64, Flush)> = {
            let Ok(mut map) = self.browse.pulls.lock() else {
                return;
            };
            let now = Instant::now();
            map.retain(|_, p| !(p.is_empty() && p.flushed.is_some_and(|f| now.duration_since(f) > PULL_FLUSH * 4)));
            map.iter_mut()
                .filter(|(_, p)| {
                    !p.is_empty() && (all || p.flushed.is_none_or(|f| now.duration_since(f) >= PULL_FLUSH))
                })
                .map(|(id, p)| (*id, p.take()))
                .collect()
        };
        for (id, f) in due {
            write_pulls(&self.db, id, f).await;
        }
    }

    /// Records who pushed `tag` (after a successful manifest PUT); a failure is only logged.
    pub async fn record_pusher(&self, name: &RepoName, tag: &str, digest: &Digest, who: &str) {
        if who.is_empty() {
            return;
        }
        if let Err(e) = self
            .db
            .set_tag_pusher(name.as_str(), tag, &digest.to_string(), who)
            .await
        {
            tracing::warn!(error = %e, repo = %name, tag, "recording the pusher failed");
        }
    }

    // --------------------------------------------------------------------------------------------
    // Repositories and tags
    // --------------------------------------------------------------------------------------------

    /// Statistics of the named repositories.
    pub async fn repo_stats(&self, names: &[String]) -> Result<HashMap<String, RepoStats>, ServiceError> {
        Ok(self
            .db
            .repository_stats(names)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.name,
                    RepoStats {
                        pull_count: r.pull_count,
                        last_pulled: r.last_pulled_at,
                        last_pushed: r.last_pushed_at,
                        tag_count: r.tag_count,
                        size: r.size,
                    },
                )
            })
            .collect())
    }

    /// Up to `limit` tags of `name` after `after`, in `order`.
    pub async fn tags_page(
        &self,
        name: &RepoName,
        order: TagOrder,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<TagInfo>, ServiceError> {
        let repo = self.repo_id(name).await?;
        let rows = self.db.tags_page(repo, order, after, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut done: HashMap<i64, (i64, Vec<PlatformInfo>)> = HashMap::new();
        for r in rows {
            out.push(self.tag_info(repo, r, &mut done).await?);
        }
        Ok(out)
    }

    /// One tag of `name`.
    pub async fn tag(&self, name: &RepoName, tag: &str) -> Result<TagInfo, ServiceError> {
        let repo = self.repo_id(name).await?;
        let row = self
            .db
            .tag_row(repo, tag)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("tag {tag:?} not found")))?;
        self.tag_info(repo, row, &mut HashMap::new()).await
    }

    async fn tag_info(
        &self,
        repo: i64,
        r: TagRow,
        done: &mut HashMap<i64, (i64, Vec<PlatformInfo>)>,
    ) -> Result<TagInfo, ServiceError> {
        let (size, platforms) = match (r.size, r.platforms.as_deref()) {
            (Some(size), Some(p)) => (size, serde_json::from_str(p).unwrap_or_default()),
            _ => match done.get(&r.manifest_id) {
                Some(s) => s.clone(),
                None => {
                    let s = self.summarize(repo, r.manifest_id, &r.digest).await?;
                    done.insert(r.manifest_id, s.clone());
                    s
                }
            },
        };
        Ok(TagInfo {
            name: r.name,
            digest: r.digest,
            media_type: r.media_type,
            size,
            platforms,
            last_pushed: r.updated_at,
            pushed_by: r.pushed_by,
            last_pulled: r.last_pulled_at,
        })
    }

    /// Computes and keeps a manifest's size and platforms.
    async fn summarize(&self, repo: i64, id: i64, digest: &str) -> Result<(i64, Vec<PlatformInfo>), ServiceError> {
        let size = self.db.manifest_blob_bytes(repo, id).await?;
        let row = self
            .db
            .manifest_by_digest(repo, digest)
            .await?
            .ok_or(ServiceError::ManifestUnknown)?;
        let mut platforms = Vec::new();
        if let Ok(m) = Manifest::parse(&row.content, Some(&row.media_type)) {
            match m.kind {
                ManifestKind::Index => {
                    for c in &m.manifests {
                        if let Some(p) = c.platform.as_ref().and_then(Platform::from_json) {
                            if p.os != "unknown" {
                                platforms.push(platform_info(&p));
                            }
                        }
                    }
                }
                ManifestKind::Image => {
                    if let Some(cfg) = self.config(&m).await? {
                        platforms.push(PlatformInfo {
                            os: cfg.os,
                            architecture: cfg.architecture,
                            variant: cfg.variant,
                        });
                    }
                }
            }
        }
        let json = serde_json::to_string(&platforms).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.db.put_manifest_summary(id, size, &json).await?;
        Ok((size, platforms))
    }

    /// The image config of manifest `m`, if it has one (artifacts do not).
    pub(crate) async fn config(&self, m: &Manifest) -> Result<Option<ImageConfig>, ServiceError> {
        let Some(c) = m.config.as_ref().filter(|c| is_image_config(&c.media_type)) else {
            return Ok(None);
        };
        if c.size > MAX_CONFIG {
            return Ok(None);
        }
        let bytes: Vec<u8> = match self.storage.get_blob(&c.digest, None).await {
            Ok(s) => {
                s.try_fold(Vec::new(), |mut acc, b| async move {
                    acc.extend_from_slice(&b);
                    Ok(acc)
                })
                .await?
            }
            Err(crate::storage::StorageError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(ImageConfig::parse(&bytes).ok())
    }

    // --------------------------------------------------------------------------------------------
    // History and layers
    // --------------------------------------------------------------------------------------------

    /// The image manifests `reference` names: itself, or the platforms of an index (those matching
    /// `platform` when given; attestation entries are skipped).
    pub(crate) async fn images(
        &self,
        name: &RepoName,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<Vec<ImageRefd>, ServiceError> {
        let repo = self.repo_id(name).await?;
        let row = match reference {
            Reference::Tag(t) => self.db.manifest_by_tag(repo, t.as_str()).await?,
            Reference::Digest(d) => self.db.manifest_by_digest(repo, &d.to_string()).await?,
        }
        .ok_or(ServiceError::ManifestUnknown)?;
        let m = Manifest::parse(&row.content, Some(&row.media_type))
            .map_err(|e| ServiceError::Internal(format!("stored manifest {}: {e}", row.digest)))?;
        if m.kind == ManifestKind::Image {
            return Ok(vec![ImageRefd {
                digest: row.digest,
                media_type: row.media_type,
                platform: None,
                manifest: m,
            }]);
        }
        let mut out = Vec::new();
        for c in &m.manifests {
            let p = c.platform.as_ref().and_then(Platform::from_json);
            if p.as_ref().is_some_and(|p| p.os == "unknown") {
                continue;
            }
            if let Some(want) = platform {
                if !p.as_ref().is_some_and(|p| want.matches(p)) {
                    continue;
                }
            }
            let Some(child) = self.db.manifest_by_digest(repo, &c.digest.to_string()).await? else {
                continue;
            };
            let Ok(cm) = Manifest::parse(&child.content, Some(&child.media_type)) else {
                continue;
            };
            if cm.kind == ManifestKind::Image {
                out.push(ImageRefd {
                    digest: child.digest,
                    media_type: child.media_type,
                    platform: p,
                    manifest: cm,
                });
            }
        }
        if out.is_empty() && platform.is_some() {
            return Err(ServiceError::NotFound("no image for that platform".into()));
        }
        Ok(out)
    }

    /// The layers of `m` with what is known of their contents (reading them first with `read`).
    async fn layer_infos(&self, m: &Manifest, read: bool) -> Result<Vec<LayerInfo>, ServiceError> {
        if read {
            for l in &m.layers {
                self.layer_files(l).await?;
            }
        }
        let digests: Vec<String> = m.layers.iter().map(|l| l.digest.to_string()).collect();
        let known: HashMap<String, crate::db::LayerSizeRow> = self
            .db
            .layer_sizes(&digests)
            .await?
            .into_iter()
            .map(|r| (r.digest.clone(), r))
            .collect();
        Ok(m.layers
            .iter()
            .map(|l| {
                let k = known.get(&l.digest.to_string());
                let ok = k.filter(|k| k.error.is_none());
                LayerInfo {
                    digest: l.digest.to_string(),
                    media_type: l.media_type.clone(),
                    size: l.size,
                    diff_size: ok.map(|k| k.diff_size),
                    file_count: ok.map(|k| k.file_count),
                    error: k.and_then(|k| k.error.clone()),
                }
            })
            .collect())
    }

    /// The layer history of `reference` per platform. With `read_layers`, layers not read yet are
    /// read first so every layer has its uncompressed size.
    pub async fn history(
        &self,
        name: &RepoName,
        reference: &Reference,
        platform: Option<&Platform>,
        read_layers: bool,
    ) -> Result<Vec<ImageHistory>, ServiceError> {
        let mut out = Vec::new();
        for img in self.images(name, reference, platform).await? {
            let cfg = self.config(&img.manifest).await?.unwrap_or_default();
            let layers = self.layer_infos(&img.manifest, read_layers).await?;
            let mut history = Vec::new();
            let mut next = layers.into_iter();
            for h in &cfg.history {
                let layer = if h.is_empty_layer() { None } else { next.next() };
                history.push(HistoryEntry {
                    created: h.created.clone(),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    comment: h.comment.clone().unwrap_or_default(),
                    empty_layer: h.is_empty_layer(),
                    layer,
                });
            }
            // Layers the history does not account for.
            for l in next {
                history.push(HistoryEntry {
                    created: cfg.created.clone(),
                    created_by: String::new(),
                    comment: String::new(),
                    empty_layer: false,
                    layer: Some(l),
                });
            }
            out.push(ImageHistory {
                digest: img.digest,
                media_type: img.media_type,
                platform: img.platform.as_ref().map(platform_info).or_else(|| {
                    (!cfg.os.is_empty()).then(|| PlatformInfo {
                        os: cfg.os.clone(),
                        architecture: cfg.architecture.clone(),
                        variant: cfg.variant.clone(),
                    })
                }),
                config_digest: img
                    .manifest
                    .config
                    .as_ref()
                    .map(|c| c.digest.to_string())
                    .unwrap_or_default(),
                created: cfg.created.clone(),
                history,
            });
        }
        Ok(out)
    }

    /// Dive's analysis of `reference` per platform (layers read and kept first).
    pub async fn analyze(
        &self,
        name: &RepoName,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<Vec<ImageLayers>, ServiceError> {
        let mut out = Vec::new();
        for img in self.images(name, reference, platform).await? {
            let cfg = self.config(&img.manifest).await?.unwrap_or_default();
            let mut files = Vec::new();
            for l in &img.manifest.layers {
                files.push(self.layer_files(l).await?);
            }
            let refs: Vec<&LayerFiles> = files.iter().collect();
            let analysis = layers::analyze(&refs);
            let infos = self.layer_infos(&img.manifest, false).await?;
            let instructions: Vec<String> = cfg
                .history
                .iter()
                .filter(|h| !h.is_empty_layer())
                .map(|h| h.created_by.clone().unwrap_or_default())
                .collect();
            let layers = infos
                .into_iter()
                .enumerate()
                .map(|(i, l)| (l, instructions.get(i).cloned().unwrap_or_default()))
                .collect();
            out.push(ImageLayers {
                digest: img.digest,
                platform: img.platform.as_ref().map(platform_info).or_else(|| {
                    (!cfg.os.is_empty()).then(|| PlatformInfo {
                        os: cfg.os.clone(),
                        architecture: cfg.architecture.clone(),
                        variant: cfg.variant.clone(),
                    })
                }),
                config_digest: img
                    .manifest
                    .config
                    .as_ref()
                    .map(|c| c.digest.to_string())
                    .unwrap_or_default(),
                layers,
                analysis,
            });
        }
        Ok(out)
    }

    /// The file list of layer `digest` of `name` (which must hold the blob).
    pub async fn layer_file_list(&self, name: &RepoName, digest: &Digest) -> Result<LayerFiles, ServiceError> {
        let repo = self.repo_id(name).await?;
        if self.db.linked_blob_size(repo, &digest.to_string()).await?.is_none() {
            return Err(ServiceError::BlobUnknown);
        }
        // The media type decides decompression; find it in a manifest of the repository.
        let layer = match self.db.manifest_referencing(repo, &digest.to_string()).await? {
            Some(m) => Manifest::parse(&m.content, Some(&m.media_type))
                .ok()
                .and_then(|m| m.layers.into_iter().find(|l| &l.digest == digest)),
            None => None,
        };
        let Some(desc) = layer else {
            return Err(ServiceError::NotFound(format!(
                "{digest} is not a layer of an image in {name}"
            )));
        };
        self.layer_files(&desc).await
    }

    /// A layer's file list: stored, or read now by streaming the layer (once, whoever asks at the
    /// same time) and stored. A layer that cannot be read is recorded with its error.
    pub(crate) async fn layer_files(&self, l: &Descriptor) -> Result<LayerFiles, ServiceError> {
        let d = l.digest.to_string();
        if let Some(r) = self.db.layer_files(&d).await? {
            return decode_files(&r.files, r.error.as_deref());
        }
        let lock = {
            let mut m = self
                .browse
                .analysing
                .lock()
                .map_err(|_| ServiceError::Internal("poisoned lock".into()))?;
            m.entry(d.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        let result = self.read_layer(l).await;
        if let Ok(mut m) = self.browse.analysing.lock() {
            m.remove(&d);
        }
        result
    }

    async fn read_layer(&self, l: &Descriptor) -> Result<LayerFiles, ServiceError> {
        let d = l.digest.to_string();
        if let Some(r) = self.db.layer_files(&d).await? {
            return decode_files(&r.files, r.error.as_deref());
        }
        let _permit = self
            .browse
            .analyses
            .acquire()
            .await
            .map_err(|_| ServiceError::Internal("closed".into()))?;
        let stream = match self.storage.get_blob(&l.digest, None).await {
            Ok(s) => s,
            Err(crate::storage::StorageError::NotFound) => return Err(ServiceError::BlobUnknown),
            Err(e) => return Err(e.into()),
        };
        let started = Instant::now();
        let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
        let reader = tokio_util::io::SyncIoBridge::new(reader);
        let media_type = l.media_type.clone();
        let parsed = tokio::task::spawn_blocking(move || -> std::io::Result<LayerFiles> {
            let r: Box<dyn Read> = if media_type.contains("zstd") {
                return Err(std::io::Error::other("zstd-compressed layers are not supported"));
            } else if media_type.contains("gzip") {
                Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(
                    128 << 10,
                    reader,
                )))
            } else {
                Box::new(std::io::BufReader::with_capacity(128 << 10, reader))
            };
            layers::read_tar(r)
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (files, error) = match parsed {
            Ok(f) => (f, None),
            // A storage failure is not the layer's fault: do not record it.
            Err(e) if e.get_ref().is_some_and(|i| i.is::<crate::storage::StorageError>()) => {
                return Err(ServiceError::Internal(format!("reading layer {d}: {e}")));
            }
            Err(e) => (
                LayerFiles::default(),
                Some(format!("layer {d} is not a readable tar: {e}")),
            ),
        };
        let encoded = encode_files(&files)?;
        tracing::info!(
            target: "rreg::browse",
            digest = %d,
            files = files.entries.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "layer read"
        );
        self.db
            .put_layer_files(
                &d,
                files.entries.len() as i64,
                files.size() as i64,
                files.diff_size() as i64,
                &encoded,
                error.as_deref(),
            )
            .await?;
        match error {
            Some(e) => Err(bad(e)),
            None => Ok(files),
        }
    }
}

fn encode_files(files: &LayerFiles) -> Result<Vec<u8>, ServiceError> {
    let json = serde_json::to_vec(&files.entries).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&json)
        .and_then(|_| gz.finish())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

fn decode_files(bytes: &[u8], error: Option<&str>) -> Result<LayerFiles, ServiceError> {
    if let Some(e) = error {
        return Err(bad(e));
    }
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| ServiceError::Internal(format!("stored file list: {e}")))?;
    let entries =
        serde_json::from_slice(&json).map_err(|e| ServiceError::Internal(format!("stored file list: {e}")))?;
    Ok(LayerFiles { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lists_round_trip() {
        let files = LayerFiles {
            entries: vec![layers::FileEntry {
                path: "etc/os-release".into(),
                kind: layers::FileKind::File,
                size: 12,
                mode: 0o644,
                uid: 0,
                gid: 0,
                link: None,
                hash: Some("00".into()),
            }],
        };
        let enc = encode_files(&files).expect("encode");
        assert_eq!(decode_files(&enc, None).expect("decode"), files);
        assert!(decode_files(&enc, Some("bad")).is_err());
    }
}
