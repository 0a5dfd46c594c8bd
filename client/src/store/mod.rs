//! The local image store: an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`)
//! under the data folder. `index.json` lists one manifest descriptor per image name, the full
//! reference in the `org.opencontainers.image.ref.name` annotation; layers are shared between images.
//! Blobs are written to `tmp/` and renamed into place once verified, so a failure never leaves a
//! half-written blob; `index.json` changes happen under a lock (see [`lock`]).

pub mod lock;

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rreg_oci::{media_types as mt, Descriptor, Digest, ImageConfig, ImageRef, Manifest, ManifestKind};
use serde::{Deserialize, Serialize};

/// The annotation holding an image's name.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation holding the digest of the index an image was pulled through.
pub const INDEX_DIGEST: &str = "io.rreg.index.digest";

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir)?;
    tmp.1
        .write_all(bytes)
        .with_context(|| format!("writing {}", tmp.0.display()))?;
    tmp.1.sync_all().ok();
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).with_context(|| format!("writing {}", path.display()))
}

fn tempfile_in(dir: &Path) -> anyhow::Result<(PathBuf, std::fs::File)> {
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = dir.join(format!(".tmp-{}-{nanos}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating a file in {}", dir.display())),
        }
    }
    bail!("cannot create a temporary file in {}", dir.display())
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexFile {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// One named image in the store.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The image's full name.
    pub name: Option<ImageRef>,
    /// The manifest descriptor, with annotations.
    pub descriptor: Descriptor,
}

/// An image read from the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The name it was found under (None when found by ID).
    pub name: Option<ImageRef>,
    /// The manifest descriptor.
    pub descriptor: Descriptor,
    /// The manifest bytes.
    pub manifest_raw: Vec<u8>,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The config bytes.
    pub config_raw: Vec<u8>,
    /// The parsed config.
    pub config: ImageConfig,
}

impl Image {
    /// The image ID: the digest of its config.
    pub fn id(&self) -> Digest {
        self.manifest
            .config
            .as_ref()
            .map_or_else(|| self.descriptor.digest.clone(), |c| c.digest.clone())
    }

    /// The digest to show as the repository digest: the index it came through, else the manifest.
    pub fn repo_digest(&self) -> Digest {
        self.descriptor
            .annotations
            .as_ref()
            .and_then(|a| a.get(INDEX_DIGEST))
            .and_then(|d| Digest::parse(d).ok())
            .unwrap_or_else(|| self.descriptor.digest.clone())
    }
}

/// The store at one folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in the data folder.
    pub fn open() -> anyhow::Result<Store> {
        Self::open_at(&crate::settings::home()?)
    }

    /// Opens (creating if needed) the store at `root`.
    pub fn open_at(root: &Path) -> anyhow::Result<Store> {
        for d in ["blobs/sha256", "tmp", "sources", "sizes"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        }
        let layout = root.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        Ok(Store { root: root.to_owned() })
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm().as_str()).join(d.hex())
    }

    /// Whether the blob is held (with the expected size, when given).
    pub fn has_blob(&self, d: &Digest, size: Option<u64>) -> bool {
        std::fs::metadata(self.blob_path(d)).is_ok_and(|m| m.is_file() && size.is_none_or(|s| s == m.len()))
    }

    /// Where a download of `d` in progress is kept (resumable).
    pub fn partial_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}-{}.partial", d.algorithm().as_str(), d.hex()))
    }

    /// A fresh temporary file inside the store (same filesystem as the blobs).
    pub fn temp_file(&self) -> anyhow::Result<(PathBuf, std::fs::File)> {
        tempfile_in(&self.root.join("tmp"))
    }

    /// Moves a verified file into place as blob `d`.
    pub fn commit_blob(&self, from: &Path, d: &Digest) -> anyhow::Result<()> {
        let to = self.blob_path(d);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::rename(from, &to).with_context(|| format!("storing blob {d}"))
    }

    /// Stores small content (manifests, configs) and returns its SHA-256 digest.
    pub fn put_blob_bytes(&self, bytes: &[u8]) -> anyhow::Result<Digest> {
        let d = Digest::sha256(bytes);
        if !self.has_blob(&d, Some(bytes.len() as u64)) {
            let path = self.blob_path(&d);
            write_atomic(&path, bytes)?;
        }
        Ok(d)
    }

    /// Reads a whole (small) blob, checking its digest.
    pub fn read_blob(&self, d: &Digest) -> anyhow::Result<Vec<u8>> {
        let bytes =
            std::fs::read(self.blob_path(d)).with_context(|| format!("blob {d} is missing from the local store"))?;
        let actual = Digest::of(d.algorithm(), &bytes);
        if &actual != d {
            bail!("blob {d} in the local store is corrupt (its content hashes to {actual})");
        }
        Ok(bytes)
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    fn read_index(&self) -> anyhow::Result<Vec<Descriptor>> {
        match std::fs::read(self.index_path()) {
            Ok(b) => {
                let idx: IndexFile = serde_json::from_slice(&b).context("reading index.json of the local store")?;
                Ok(idx.manifests)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).context("reading index.json of the local store"),
        }
    }

    /// Changes `index.json` under the store's index lock.
    pub fn update_index<T>(&self, f: impl FnOnce(&mut Vec<Descriptor>) -> T) -> anyhow::Result<T> {
        let _guard = lock::exclusive(&self.root.join("index.lock"))?;
        let mut manifests = self.read_index()?;
        let out = f(&mut manifests);
        let idx = IndexFile {
            schema_version: 2,
            media_type: Some(mt::OCI_INDEX.to_owned()),
            manifests,
        };
        write_atomic(&self.index_path(), &serde_json::to_vec_pretty(&idx)?)?;
        Ok(out)
    }

    /// Every named image.
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        Ok(self
            .read_index()?
            .into_iter()
            .map(|d| Entry {
                name: d
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .and_then(|n| ImageRef::parse(n).ok()),
                descriptor: d,
            })
            .collect())
    }

    /// Names `name` the manifest `descriptor` (replacing what the name pointed to).
    pub fn set_name(
        &self,
        name: &ImageRef,
        descriptor: &Descriptor,
        index_digest: Option<&Digest>,
    ) -> anyhow::Result<()> {
        let mut d = descriptor.clone();
        let mut ann = BTreeMap::new();
        ann.insert(REF_NAME.to_owned(), name.to_string());
        if let Some(i) = index_digest {
            ann.insert(INDEX_DIGEST.to_owned(), i.to_string());
        }
        d.annotations = Some(ann);
        let full = name.to_string();
        self.update_index(|m| {
            m.retain(|e| ref_name(e) != Some(full.as_str()));
            m.push(d);
        })
    }

    /// Removes a name; false if it was not there.
    pub fn remove_name(&self, name: &ImageRef) -> anyhow::Result<bool> {
        let full = name.to_string();
        self.update_index(|m| {
            let before = m.len();
            m.retain(|e| ref_name(e) != Some(full.as_str()));
            m.len() != before
        })
    }

    /// Reads the image a manifest descriptor points to.
    pub fn load_image(&self, name: Option<ImageRef>, descriptor: Descriptor) -> anyhow::Result<Image> {
        let manifest_raw = self.read_blob(&descriptor.digest)?;
        let manifest = Manifest::parse(&manifest_raw, Some(&descriptor.media_type))
            .with_context(|| format!("manifest {} in the local store", descriptor.digest))?;
        if manifest.kind != ManifestKind::Image {
            bail!("{} is an index, not an image", descriptor.digest);
        }
        let config_desc = manifest.config.clone().context("manifest has no config")?;
        let config_raw = self.read_blob(&config_desc.digest)?;
        let config = ImageConfig::parse(&config_raw).with_context(|| format!("config {}", config_desc.digest))?;
        Ok(Image {
            name,
            descriptor,
            manifest_raw,
            manifest,
            config_raw,
            config,
        })
    }

    /// Finds a local image by name (normalised with `default_registry`), by ID (config digest or a
    /// prefix of at least 4 hex characters) or by manifest digest. `Ok(None)` when none matches.
    pub fn find(&self, input: &str, default_registry: &str) -> anyhow::Result<Option<Image>> {
        let entries = self.entries()?;
        if let Ok(r) = ImageRef::parse_with_default(input, default_registry) {
            let full = r.to_string();
            if let Some(e) = entries.iter().find(|e| ref_name(&e.descriptor) == Some(full.as_str())) {
                return self.load_image(Some(r), e.descriptor.clone()).map(Some);
            }
            if let Some(d) = &r.digest {
                // name@digest: any entry of that repository with that manifest digest.
                if let Some(e) = entries.iter().find(|e| {
                    e.name.as_ref().is_some_and(|n| n.name() == r.name())
                        && (e.descriptor.digest == *d || annotation(&e.descriptor, INDEX_DIGEST) == Some(d.to_string()))
                }) {
                    return self.load_image(Some(r), e.descriptor.clone()).map(Some);
                }
            }
        }
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            for e in &entries {
                if e.descriptor.digest.hex().starts_with(hex) {
                    return self.load_image(e.name.clone(), e.descriptor.clone()).map(Some);
                }
                if let Ok(img) = self.load_image(e.name.clone(), e.descriptor.clone()) {
                    if img.id().hex().starts_with(hex) {
                        return Ok(Some(Image { name: None, ..img }));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Like [`Store::find`], failing with `No such image` when nothing matches.
    pub fn get(&self, input: &str, default_registry: &str) -> anyhow::Result<Image> {
        self.find(input, default_registry)?
            .with_context(|| format!("No such image: {input}"))
    }

    /// Takes the lock that keeps garbage collection away while blobs are being added.
    pub fn writing(&self) -> anyhow::Result<lock::LockGuard> {
        lock::shared(&self.root.join("gc.lock"))
    }

    /// Deletes blobs no named image references. Skipped (returns 0) while another process is adding
    /// blobs.
    pub fn gc(&self) -> anyhow::Result<usize> {
        let Some(_gc) = lock::try_exclusive(&self.root.join("gc.lock"))? else {
            return Ok(0);
        };
        let _idx = lock::exclusive(&self.root.join("index.lock"))?;
        let mut keep: HashSet<Digest> = HashSet::new();
        for d in self.read_index()? {
            keep.insert(d.digest.clone());
            if let Some(i) = annotation(&d, INDEX_DIGEST).and_then(|s| Digest::parse(&s).ok()) {
                keep.insert(i);
            }
            let Ok(raw) = std::fs::read(self.blob_path(&d.digest)) else {
                continue;
            };
            if let Ok(m) = Manifest::parse(&raw, Some(&d.media_type)) {
                keep.extend(m.descriptors().map(|x| x.digest.clone()));
                for child in &m.manifests {
                    if let Ok(craw) = std::fs::read(self.blob_path(&child.digest)) {
                        if let Ok(cm) = Manifest::parse(&craw, Some(&child.media_type)) {
                            keep.extend(cm.descriptors().map(|x| x.digest.clone()));
                        }
                    }
                }
            }
        }
        let mut removed = 0;
        for alg in ["sha256", "sha512"] {
            let dir = self.root.join("blobs").join(alg);
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for f in rd.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let Ok(d) = Digest::parse(&format!("{alg}:{name}")) else {
                    continue;
                };
                if !keep.contains(&d) && std::fs::remove_file(f.path()).is_ok() {
                    let _ = std::fs::remove_file(self.root.join("sources").join(d.hex()));
                    let _ = std::fs::remove_file(self.root.join("sizes").join(d.hex()));
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Records that `registry/repo` holds blob `d` (a source for cross-repository mounts).
    pub fn record_source(&self, d: &Digest, registry: &str, repo: &str) -> anyhow::Result<()> {
        let line = format!("{registry}/{repo}");
        let path = self.root.join("sources").join(d.hex());
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        if existing.lines().any(|l| l == line) {
            return Ok(());
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    /// The repositories of `registry` known to hold blob `d`, most recent first.
    pub fn sources(&self, d: &Digest, registry: &str) -> Vec<String> {
        let text = std::fs::read_to_string(self.root.join("sources").join(d.hex())).unwrap_or_default();
        let prefix = format!("{registry}/");
        let mut out: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        out.reverse();
        out
    }

    /// A layer's size as `docker history` shows it (see [`diff_size`]), computed once and cached.
    pub fn diff_size(&self, layer: &Descriptor) -> anyhow::Result<u64> {
        let cache = self.root.join("sizes").join(layer.digest.hex());
        if let Some(n) = std::fs::read_to_string(&cache).ok().and_then(|s| s.trim().parse().ok()) {
            return Ok(n);
        }
        let f = std::fs::File::open(self.blob_path(&layer.digest))
            .with_context(|| format!("layer {} is missing from the local store", layer.digest))?;
        let n = diff_size(std::io::BufReader::with_capacity(1 << 20, f), &layer.media_type)?;
        let _ = write_atomic(&cache, n.to_string().as_bytes());
        Ok(n)
    }
}

/// The size `docker history` shows for a layer: the bytes of its regular files (each hard-linked
/// file once) plus the lengths of its symlink targets, as Docker's graph drivers measure a layer.
pub fn diff_size(r: impl std::io::Read, media_type: &str) -> anyhow::Result<u64> {
    let reader: Box<dyn std::io::Read> = if media_type.contains("gzip") {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if media_type.contains("zstd") {
        bail!("zstd layers are not supported");
    } else {
        Box::new(r)
    };
    let mut archive = tar::Archive::new(reader);
    let mut n = 0u64;
    for entry in archive.entries().context("reading a layer")? {
        let entry = entry.context("reading a layer")?;
        let h = entry.header();
        match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                n += entry.size();
            }
            tar::EntryType::Symlink => {
                n += entry.link_name_bytes().map_or(0, |l| l.len() as u64);
            }
            _ => {}
        }
    }
    Ok(n)
}

fn annotation(d: &Descriptor, key: &str) -> Option<String> {
    d.annotations.as_ref().and_then(|a| a.get(key)).cloned()
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.as_ref().and_then(|a| a.get(REF_NAME)).map(String::as_str)
}
