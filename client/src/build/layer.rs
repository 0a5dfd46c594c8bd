//! Layers on disk and as blobs. A *diff directory* is a layer in overlayfs form (whiteouts as
//! `0:0` character devices, opaque directories marked with `trusted.overlay.opaque=y`): the upper
//! directory of a RUN, or a layer blob extracted once into `build/layers/<diff_id hex>` to serve as
//! an overlay lower directory. [`write`] turns a diff directory into a deterministic tar + gzip blob
//! (entries sorted, OCI whiteouts `.wh.*` / `.wh..wh..opq`, hard links kept, uid/gid/mode and
//! xattrs preserved, mtimes clamped to `SOURCE_DATE_EPOCH` or the epoch, gzip level and header
//! pinned); [`extract`] goes the other way.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rreg_oci::digest::{Algorithm, Hasher};
use rreg_oci::{media_types as mt, Digest};
use serde::{Deserialize, Serialize};

use crate::store::Store;

/// The xattr overlayfs marks an opaque directory with.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The OCI whiteout prefix.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The OCI opaque-directory marker.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The gzip level every layer is written with (pinned: part of the reproducibility contract).
pub const GZIP_LEVEL: u32 = 6;
/// Layers are compressed in chunks of this many uncompressed bytes, each a gzip member of its own
/// (as `pigz --independent` does), several at a time. Fixed, so the bytes never depend on the
/// machine's core count; a layer smaller than one chunk is a plain single-member gzip.
pub const GZIP_CHUNK: usize = 4 << 20;

/// The level for one chunk: [`GZIP_LEVEL`], or 0 (stored) when four 16 KiB samples spread over the
/// chunk shrink by less than 3% at level 1 — already-compressed or random data, which deflate would
/// only spend time on. A function of the bytes alone, so still reproducible.
fn chunk_level(data: &[u8]) -> u32 {
    const PROBE: usize = 16 << 10;
    if data.len() < 4 * PROBE {
        return GZIP_LEVEL;
    }
    let mut e = flate2::write::DeflateEncoder::new(Vec::with_capacity(4 * PROBE), flate2::Compression::new(1));
    for i in 0..4 {
        let at = i * (data.len() / 4);
        if e.write_all(&data[at..at + PROBE]).is_err() {
            return GZIP_LEVEL;
        }
    }
    match e.finish() {
        Ok(out) if out.len() * 100 >= 4 * PROBE * 97 => 0,
        _ => GZIP_LEVEL,
    }
}

fn gzip_member(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::GzBuilder::new().mtime(0).operating_system(255).write(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::new(chunk_level(data)),
    );
    e.write_all(data)?;
    e.finish()
}

/// Gzip over fixed chunks compressed in parallel, written in order.
struct ParallelGz<W: Write> {
    out: W,
    buf: Vec<u8>,
    pending: Vec<Vec<u8>>,
    threads: usize,
    members: usize,
}

impl<W: Write> ParallelGz<W> {
    fn new(out: W) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        ParallelGz {
            out,
            buf: Vec::with_capacity(GZIP_CHUNK),
            pending: Vec::new(),
            threads,
            members: 0,
        }
    }

    fn compress_pending(&mut self) -> std::io::Result<()> {
        let chunks = std::mem::take(&mut self.pending);
        let results: Vec<std::io::Result<Vec<u8>>> = if chunks.len() == 1 {
            vec![gzip_member(&chunks[0])]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunks.iter().map(|c| scope.spawn(move || gzip_member(c))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(std::io::Error::other("compression thread panicked")))
                    })
                    .collect()
            })
        };
        for r in results {
            self.out.write_all(&r?)?;
            self.members += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        if !self.buf.is_empty() || (self.members == 0 && self.pending.is_empty()) {
            let last = std::mem::take(&mut self.buf);
            self.pending.push(last);
        }
        if !self.pending.is_empty() {
            self.compress_pending()?;
        }
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(GZIP_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == GZIP_CHUNK {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(GZIP_CHUNK));
            self.pending.push(full);
            if self.pending.len() >= self.threads {
                self.compress_pending()?;
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A layer as an image refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Digest of the blob (compressed).
    pub digest: Digest,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Blob size.
    pub size: u64,
    /// Blob media type.
    pub media_type: String,
}

/// The timestamp layer entries are clamped to: `SOURCE_DATE_EPOCH`, else 0 (1970-01-01).
pub fn epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Where extracted layers and build scratch space live.
pub fn layers_dir(store: &Store) -> PathBuf {
    store.root().join("build").join("layers")
}

/// Counts bytes and hashes them on their way to `inner`.
struct HashWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else { continue };
        if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
            continue;
        }
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::lgetxattr(path, name, &mut value) {
            value.truncate(len);
            out.push((name.to_owned(), value));
        }
    }
    out.sort();
    out
}

/// Whether `path` carries overlayfs's opaque mark.
pub fn is_opaque(path: &Path) -> bool {
    let mut v = [0u8; 4];
    matches!(rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut v), Ok(1) if v[0] == b'y')
}

/// Whether the metadata is an overlayfs whiteout (a 0:0 character device).
pub fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

struct TarWalk<'a, W: Write> {
    builder: tar::Builder<W>,
    root: &'a Path,
    epoch: u64,
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TarWalk<'_, W> {
    fn header(&self, md: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(md.mode() & 0o7777);
        h.set_uid(u64::from(md.uid()));
        h.set_gid(u64::from(md.gid()));
        h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0).min(self.epoch));
        h.set_size(0);
        h
    }

    fn pax(&mut self, path: &Path) -> anyhow::Result<()> {
        let x = xattrs(path);
        if !x.is_empty() {
            let keys: Vec<(String, Vec<u8>)> = x.into_iter().map(|(k, v)| (format!("SCHILY.xattr.{k}"), v)).collect();
            self.builder
                .append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        Ok(())
    }

    fn dir(&mut self, rel: &str) -> anyhow::Result<()> {
        let abs = if rel.is_empty() {
            self.root.to_owned()
        } else {
            self.root.join(rel)
        };
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(&abs)
            .with_context(|| format!("reading {}", abs.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            let name = name
                .to_str()
                .with_context(|| format!("file name {name:?} is not UTF-8"))?
                .to_owned();
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = self.root.join(&child_rel);
            let md = std::fs::symlink_metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            let ft = md.file_type();
            if is_whiteout(&md) {
                let wh = if rel.is_empty() {
                    format!("{WHITEOUT_PREFIX}{name}")
                } else {
                    format!("{rel}/{WHITEOUT_PREFIX}{name}")
                };
                let mut h = self.header(&md, tar::EntryType::Regular);
                h.set_mode(0o644);
                self.builder.append_data(&mut h, &wh, std::io::empty())?;
            } else if ft.is_dir() {
                self.pax(&path)?;
                let mut h = self.header(&md, tar::EntryType::Directory);
                self.builder
                    .append_data(&mut h, format!("{child_rel}/"), std::io::empty())?;
                if is_opaque(&path) {
                    let mut h = self.header(&md, tar::EntryType::Regular);
                    h.set_mode(0o644);
                    self.builder
                        .append_data(&mut h, format!("{child_rel}/{OPAQUE_MARKER}"), std::io::empty())?;
                }
                self.dir(&child_rel)?;
            } else if ft.is_symlink() {
                self.pax(&path)?;
                let target = std::fs::read_link(&path)?;
                let mut h = self.header(&md, tar::EntryType::Symlink);
                self.builder.append_link(&mut h, &child_rel, &target)?;
            } else if ft.is_file() {
                let key = (md.dev(), md.ino());
                if md.nlink() > 1 {
                    if let Some(first) = self.links.get(&key) {
                        let mut h = self.header(&md, tar::EntryType::Link);
                        let first = first.clone();
                        self.builder.append_link(&mut h, &child_rel, &first)?;
                        continue;
                    }
                    self.links.insert(key, child_rel.clone());
                }
                self.pax(&path)?;
                let mut h = self.header(&md, tar::EntryType::Regular);
                h.set_size(md.len());
                let f = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
                self.builder.append_data(&mut h, &child_rel, f)?;
            } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
                let kind = if ft.is_char_device() {
                    tar::EntryType::Char
                } else if ft.is_block_device() {
                    tar::EntryType::Block
                } else {
                    tar::EntryType::Fifo
                };
                let mut h = self.header(&md, kind);
                if !ft.is_fifo() {
                    h.set_device_major(rustix::fs::major(md.rdev()))?;
                    h.set_device_minor(rustix::fs::minor(md.rdev()))?;
                }
                self.builder.append_data(&mut h, &child_rel, std::io::empty())?;
            }
            // Sockets are not part of an image.
        }
        Ok(())
    }
}

/// Writes the diff directory `dir` as a gzip layer blob into the store.
pub fn write(store: &Store, dir: &Path) -> anyhow::Result<Layer> {
    let (tmp_path, tmp) = store.temp_file()?;
    let result = (|| {
        let compressed = HashWriter {
            inner: BufWriter::with_capacity(128 << 10, tmp),
            hasher: Hasher::new(Algorithm::Sha256),
            count: 0,
        };
        let gz = ParallelGz::new(compressed);
        let uncompressed = HashWriter {
            inner: BufWriter::with_capacity(128 << 10, gz),
            hasher: Hasher::new(Algorithm::Sha256),
            count: 0,
        };
        let mut walk = TarWalk {
            builder: tar::Builder::new(uncompressed),
            root: dir,
            epoch: epoch(),
            links: HashMap::new(),
        };
        walk.builder.mode(tar::HeaderMode::Complete);
        walk.dir("")?;
        let uncompressed = walk.builder.into_inner()?;
        let diff_id = uncompressed.hasher.finish();
        let gz = uncompressed.inner.into_inner().map_err(|e| e.into_error())?;
        let mut compressed = gz.finish()?;
        compressed.flush()?;
        let digest = compressed.hasher.finish();
        let size = compressed.count;
        compressed
            .inner
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .ok();
        Ok::<_, anyhow::Error>(Layer {
            digest,
            diff_id,
            size,
            media_type: mt::DOCKER_LAYER_GZIP.to_owned(),
        })
    })();
    match result {
        Ok(layer) => {
            if store.has_blob(&layer.digest, Some(layer.size)) {
                let _ = std::fs::remove_file(&tmp_path);
            } else {
                store.commit_blob(&tmp_path, &layer.digest)?;
            }
            Ok(layer)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp_path);
            Err(e.context(format!("writing a layer from {}", dir.display())))
        }
    }
}

/// The extracted form of a layer: `layers/<diff_id hex>`, extracted from its blob on first use.
pub fn extract(store: &Store, layer: &Layer) -> anyhow::Result<PathBuf> {
    let root = layers_dir(store);
    let dest = root.join(layer.diff_id.hex());
    if dest.is_dir() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&root)?;
    let tmp = root.join(format!("tmp-{}-{}", std::process::id(), layer.diff_id.hex()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let blob = File::open(store.blob_path(&layer.digest))
        .with_context(|| format!("layer {} is missing from the local store", layer.digest))?;
    let mut reader = BufReader::with_capacity(256 << 10, blob);
    let gz = {
        use std::io::BufRead as _;
        let buf = reader.fill_buf()?;
        buf.len() >= 2 && buf[0] == 0x1f && buf[1] == 0x8b
    };
    if layer.media_type.contains("zstd") {
        bail!("zstd-compressed layers are not supported");
    }
    let r: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    if let Err(e) = unpack(r, &tmp) {
        // Nothing of a refused or broken layer stays behind.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e.context(format!("extracting layer {}", layer.digest)));
    }
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => Ok(dest),
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dest)
        }
        Err(e) => Err(e).with_context(|| format!("storing extracted layer {}", dest.display())),
    }
}

pub use super::unpack::unpack;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tree_same_digest_and_whiteouts_round_trip() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open_at(home.path()).expect("store");
        let make = |root: &Path| {
            std::fs::create_dir_all(root.join("d/sub")).expect("mkdir");
            std::fs::write(root.join("d/a"), b"hello").expect("write");
            std::fs::hard_link(root.join("d/a"), root.join("d/b")).expect("link");
            std::os::unix::fs::symlink("a", root.join("d/s")).expect("symlink");
            std::fs::write(root.join("z"), b"zz").expect("write");
        };
        let one = tempfile::tempdir().expect("tempdir");
        let two = tempfile::tempdir().expect("tempdir");
        make(one.path());
        std::thread::sleep(std::time::Duration::from_millis(20));
        make(two.path());
        let l1 = write(&store, one.path()).expect("layer");
        let l2 = write(&store, two.path()).expect("layer");
        assert_eq!(l1, l2, "same content gives the same layer whatever the mtimes");
        let out = tempfile::tempdir().expect("tempdir");
        let f = File::open(store.blob_path(&l1.digest)).expect("blob");
        unpack(flate2::read::GzDecoder::new(f), out.path()).expect("unpack");
        assert_eq!(std::fs::read(out.path().join("d/b")).expect("read"), b"hello");
        let a = std::fs::metadata(out.path().join("d/a")).expect("md");
        assert_eq!(a.nlink(), 2, "hard link kept");
        assert_eq!(
            std::fs::read_link(out.path().join("d/s")).expect("link"),
            Path::new("a")
        );
    }

    #[test]
    fn large_layers_are_several_gzip_members_that_read_back() {
        let home = tempfile::tempdir().expect("tempdir");
        let store = Store::open_at(home.path()).expect("store");
        let dir = tempfile::tempdir().expect("tempdir");
        let data: Vec<u8> = (0..9_500_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(dir.path().join("big"), &data).expect("write");
        let l = write(&store, dir.path()).expect("layer");
        let out = tempfile::tempdir().expect("tempdir");
        let f = File::open(store.blob_path(&l.digest)).expect("blob");
        unpack(flate2::read::MultiGzDecoder::new(f), out.path()).expect("unpack");
        assert_eq!(std::fs::read(out.path().join("big")).expect("read"), data);
        assert_eq!(write(&store, dir.path()).expect("again"), l, "deterministic");
        assert!(l.size < 9_500_000 / 2, "compressible data is compressed: {}", l.size);
    }

    #[test]
    fn incompressible_chunks_are_stored() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..GZIP_CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(chunk_level(&noise), 0);
        assert_eq!(chunk_level(&vec![b'a'; GZIP_CHUNK]), GZIP_LEVEL);
        let member = gzip_member(&noise).expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&member[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, noise);
    }
}
