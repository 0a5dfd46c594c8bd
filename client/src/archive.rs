//! Image archives: `save` writes a tar that is both an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/`) and, for the Docker format, a `docker load` archive (`manifest.json`, `repositories`),
//! as Docker 25+ writes them; `load` reads either shape (and Docker's older `<id>/layer.tar` one).
//! Blobs are streamed through, never held whole in memory; each is verified before it is stored.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context as _};
use rreg_oci::{media_types as mt, Descriptor, Digest, Hasher, ImageRef, Manifest, ManifestKind, Platform};
use serde_json::{json, Value};

use crate::store::{Image, Store, REF_NAME};

/// Which archive to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OCI layout plus Docker's `manifest.json`.
    Docker,
    /// OCI layout only.
    Oci,
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, bytes)
        .with_context(|| format!("writing {path}"))?;
    Ok(())
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_str(), d.hex())
}

/// Writes `images` as an archive to `out` (stdout when `None`).
pub fn save(store: &Store, images: &[Image], format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    let writer: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut b = tar::Builder::new(writer);
    let mut written: std::collections::HashSet<Digest> = Default::default();
    let mut index_entries = Vec::new();
    let mut docker_manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    b.append_dir("blobs", ".").ok();
    for img in images {
        let blobs = img
            .manifest
            .blobs()
            .map(|d| d.digest.clone())
            .chain(std::iter::once(img.descriptor.digest.clone()));
        for d in blobs {
            if !written.insert(d.clone()) {
                continue;
            }
            let path = store.blob_path(&d);
            let mut f =
                std::fs::File::open(&path).with_context(|| format!("blob {d} is missing from the local store"))?;
            let len = f.metadata()?.len();
            let mut h = tar::Header::new_gnu();
            h.set_size(len);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, blob_name(&d), &mut f)
                .with_context(|| format!("writing blob {d}"))?;
        }
        let mut desc = img.descriptor.clone();
        desc.annotations = None;
        let mut ann = BTreeMap::new();
        if let Some(n) = &img.name {
            ann.insert("io.containerd.image.name".to_owned(), n.to_string());
            if let Some(t) = &n.tag {
                ann.insert(REF_NAME.to_owned(), t.to_string());
            }
        }
        if !ann.is_empty() {
            desc.annotations = Some(ann);
        }
        index_entries.push(desc);
        let config = img.manifest.config.as_ref().context("manifest has no config")?;
        let repo_tags: Vec<String> = img
            .name
            .iter()
            .filter(|n| n.tag.is_some())
            .map(ImageRef::familiar)
            .collect();
        docker_manifest.push(json!({
            "Config": blob_name(&config.digest),
            "RepoTags": repo_tags,
            "Layers": img.manifest.layers.iter().map(|l| blob_name(&l.digest)).collect::<Vec<_>>(),
        }));
        if let Some(n) = &img.name {
            if let (Some(t), Some(top)) = (&n.tag, img.config.rootfs.diff_ids.last()) {
                let _ = top;
                repositories
                    .entry(n.familiar_name())
                    .or_default()
                    .insert(t.to_string(), img.id().hex().to_owned());
            }
        }
    }
    append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({"schemaVersion": 2, "mediaType": mt::OCI_INDEX, "manifests": index_entries});
    append_bytes(&mut b, "index.json", &serde_json::to_vec(&index)?)?;
    if format == Format::Docker {
        append_bytes(&mut b, "manifest.json", &serde_json::to_vec(&docker_manifest)?)?;
        append_bytes(&mut b, "repositories", &serde_json::to_vec(&repositories)?)?;
    }
    let mut w = b.into_inner().context("finishing the archive")?;
    w.flush().context("writing the archive")?;
    Ok(())
}

/// A file of the archive that is kept: blobs in the store, small JSON in memory.
enum Kept {
    Blob { digest: Digest, size: u64, gzip: bool },
    Json(Vec<u8>),
}

/// Reads an archive from `input` (stdin when `None`) into `store`; returns the names loaded.
pub fn load(store: &Store, input: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let reader: Box<dyn Read> = match input {
        Some(p) => Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let _writing = store.writing()?;
    let mut archive = tar::Archive::new(reader);
    let mut files: HashMap<String, Kept> = HashMap::new();
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?.to_string_lossy().trim_start_matches("./").to_owned();
        let size = entry.size();
        if size <= 4 << 20 && (path.ends_with(".json") || path == "repositories" || path == "oci-layout") {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            // A small config blob can be named *.json (old Docker archives): store it too.
            let d = store.put_blob_bytes(&buf)?;
            let _ = d;
            files.insert(path, Kept::Json(buf));
            continue;
        }
        let (tmp, mut f) = store.temp_file()?;
        let mut h = Hasher::new(rreg_oci::Algorithm::Sha256);
        let mut buf = vec![0u8; 1 << 20];
        let mut first = [0u8; 2];
        let mut n_total = 0u64;
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if n_total == 0 && n >= 2 {
                first.copy_from_slice(&buf[..2]);
            }
            n_total += n as u64;
            h.update(&buf[..n]);
            f.write_all(&buf[..n])?;
        }
        drop(f);
        let digest = h.finish();
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            if hex != digest.hex() {
                let _ = std::fs::remove_file(&tmp);
                bail!(
                    "archive blob {path} does not match its content (sha256:{})",
                    digest.hex()
                );
            }
        }
        store.commit_blob(&tmp, &digest)?;
        files.insert(
            path,
            Kept::Blob {
                digest,
                size: n_total,
                gzip: first == [0x1f, 0x8b],
            },
        );
    }
    let json_of = |p: &str| -> Option<Vec<u8>> {
        match files.get(p) {
            Some(Kept::Json(b)) => Some(b.clone()),
            Some(Kept::Blob { digest, .. }) => store.read_blob(digest).ok(),
            None => None,
        }
    };
    let mut names = Vec::new();
    if let Some(index) = json_of("index.json") {
        let idx = Manifest::parse(&index, Some(mt::OCI_INDEX)).context("index.json of the archive")?;
        for d in &idx.manifests {
            let name = entry_name(d);
            let image_desc = resolve_image(store, d)?;
            if let Some(n) = name {
                store.set_name(&n, &image_desc, (image_desc.digest != d.digest).then_some(&d.digest))?;
                names.push(n.familiar());
            } else {
                names.push(image_desc.digest.to_string());
            }
        }
        return Ok(names);
    }
    let manifest = json_of("manifest.json").context("the archive has neither index.json nor manifest.json")?;
    let entries: Vec<Value> = serde_json::from_slice(&manifest).context("manifest.json of the archive")?;
    for e in entries {
        let config_path = e
            .get("Config")
            .and_then(Value::as_str)
            .context("manifest.json entry without Config")?;
        let config = json_of(config_path).with_context(|| format!("{config_path} missing from the archive"))?;
        let config_digest = store.put_blob_bytes(&config)?;
        let mut layers = Vec::new();
        for l in e.get("Layers").and_then(Value::as_array).into_iter().flatten() {
            let p = l.as_str().context("bad layer path")?;
            let Some(Kept::Blob { digest, size, gzip }) = files.get(p) else {
                bail!("layer {p} missing from the archive");
            };
            layers.push(json!({
                "mediaType": if *gzip { mt::DOCKER_LAYER_GZIP } else { "application/vnd.docker.image.rootfs.diff.tar" },
                "size": size,
                "digest": digest.to_string(),
            }));
        }
        let m = json!({
            "schemaVersion": 2,
            "mediaType": mt::DOCKER_MANIFEST,
            "config": {"mediaType": mt::DOCKER_CONFIG, "size": config.len(), "digest": config_digest.to_string()},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&m)?;
        let digest = store.put_blob_bytes(&bytes)?;
        let desc = Descriptor {
            media_type: mt::DOCKER_MANIFEST.to_owned(),
            digest,
            size: bytes.len() as i64,
            artifact_type: None,
            annotations: None,
            platform: None,
            urls: None,
        };
        for t in e.get("RepoTags").and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = t.as_str().and_then(|s| ImageRef::parse(s).ok()) {
                store.set_name(&r, &desc, None)?;
                names.push(r.familiar());
            }
        }
    }
    Ok(names)
}

/// The name an index.json entry carries.
fn entry_name(d: &Descriptor) -> Option<ImageRef> {
    let a = d.annotations.as_ref()?;
    if let Some(full) = a.get("io.containerd.image.name") {
        if let Ok(r) = ImageRef::parse(full) {
            return Some(r);
        }
    }
    let rn = a.get(REF_NAME)?;
    ImageRef::parse(rn)
        .ok()
        .filter(|_| rn.contains('/') || rn.contains(':'))
}

/// Follows an index down to the image manifest for this platform.
fn resolve_image(store: &Store, d: &Descriptor) -> anyhow::Result<Descriptor> {
    let raw = store.read_blob(&d.digest)?;
    let m = Manifest::parse(&raw, Some(&d.media_type))?;
    if m.kind == ManifestKind::Image {
        let mut out = d.clone();
        out.annotations = None;
        out.media_type = m.media_type;
        return Ok(out);
    }
    let child = crate::registry::pull::select_platform(&m, &Platform::host())
        .or_else(|_| m.manifests.first().cloned().context("empty index"))?;
    resolve_image(store, &child)
}
