//! `pull`: resolve a reference (picking the platform from an index), fetch the config and layers in
//! parallel into the local store — skipping blobs already held, resuming partial downloads,
//! verifying every digest — then name the image.

use anyhow::{bail, Context as _};
use futures::{StreamExt as _, TryStreamExt as _};
use rreg_oci::{media_types as mt, Descriptor, Digest, ImageRef, Manifest, ManifestKind, Platform, Reference};

use super::manifests::Fetched;
use super::Client;
use crate::progress::{short_id, Progress};
use crate::store::Store;

/// What a pull did.
pub struct Pulled {
    /// The digest the registry knows the reference by (the index's, when there was one).
    pub digest: Digest,
    /// The image manifest's digest.
    pub manifest_digest: Digest,
    /// Whether the name now points somewhere new.
    pub changed: bool,
    /// Layers downloaded.
    pub downloaded: usize,
}

/// Picks the manifest for `want` from an index.
pub fn select_platform(index: &Manifest, want: &Platform) -> anyhow::Result<Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| mt::is_manifest(&d.media_type) && !mt::is_index(&d.media_type))
        .collect();
    if let Some(d) = candidates.iter().find(|d| {
        d.platform
            .as_ref()
            .and_then(Platform::from_json)
            .is_some_and(|p| want.matches(&p))
    }) {
        return Ok((*d).clone());
    }
    let have: Vec<String> = candidates
        .iter()
        .filter_map(|d| d.platform.as_ref().and_then(Platform::from_json))
        .map(|p| p.to_string())
        .collect();
    bail!(
        "no matching manifest for {want} in the manifest list entries (available: {})",
        if have.is_empty() {
            "none".to_owned()
        } else {
            have.join(", ")
        }
    )
}

/// Resolves `r` to an image manifest: `(image manifest, index it came through)`.
pub async fn resolve(
    client: &Client,
    r: &ImageRef,
    platform: Option<&Platform>,
) -> anyhow::Result<(Fetched, Option<Fetched>)> {
    let repo = r.repository.as_str();
    let top = client.get_manifest(repo, &r.reference()).await?;
    if !mt::is_index(&top.media_type) {
        return Ok((top, None));
    }
    let index = Manifest::parse(&top.bytes, Some(&top.media_type)).with_context(|| format!("index of {r}"))?;
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let child = select_platform(&index, &want)?;
    let m = client
        .get_manifest(repo, &Reference::Digest(child.digest.clone()))
        .await?;
    Ok((m, Some(top)))
}

/// Pulls `r` into `store` and names it `r`.
pub async fn pull(
    client: &Client,
    store: &Store,
    r: &ImageRef,
    platform: Option<&Platform>,
    progress: &Progress,
) -> anyhow::Result<Pulled> {
    let repo = r.repository.as_str();
    let _writing = store.writing()?;
    let label = match (&r.tag, &r.digest) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".into(),
    };
    progress.println(&format!("{label}: Pulling from {}", r.familiar_name()));
    let (fetched, index) = resolve(client, r, platform).await?;
    let manifest =
        Manifest::parse(&fetched.bytes, Some(&fetched.media_type)).with_context(|| format!("manifest of {r}"))?;
    if manifest.kind != ManifestKind::Image {
        bail!("{r} is not an image");
    }
    let config = manifest.config.clone().context("manifest has no config")?;
    let layers: Vec<Descriptor> = manifest.layers.iter().filter(|l| l.urls.is_none()).cloned().collect();

    let fetch = |desc: Descriptor, show: bool| async move {
        let size = u64::try_from(desc.size).unwrap_or(0);
        let id = short_id(&desc.digest);
        if store.has_blob(&desc.digest, Some(size)) {
            if show {
                progress.item(&id, size, "").finish("Already exists");
            }
            store.record_source(&desc.digest, &client.registry, repo)?;
            return Ok::<usize, anyhow::Error>(0);
        }
        let item = if show {
            progress.item(&id, size, "Downloading")
        } else {
            Progress::Quiet.item(&id, size, "")
        };
        let partial = store.partial_path(&desc.digest);
        client.download_blob(repo, &desc, &partial, &item).await?;
        store.commit_blob(&partial, &desc.digest)?;
        store.record_source(&desc.digest, &client.registry, repo)?;
        if show {
            item.finish("Pull complete");
        }
        Ok(1)
    };
    let jobs = std::iter::once((config.clone(), false)).chain(layers.into_iter().map(|l| (l, true)));
    let downloaded: Vec<usize> = futures::stream::iter(jobs)
        .map(|(d, show)| fetch(d, show))
        .buffer_unordered(parallelism())
        .try_collect()
        .await?;
    let downloaded = downloaded.iter().sum::<usize>();

    let manifest_digest = store.put_blob_bytes(&fetched.bytes)?;
    let index_digest = match &index {
        Some(i) => Some(store.put_blob_bytes(&i.bytes)?),
        None => None,
    };
    let descriptor = Descriptor {
        media_type: fetched.media_type.clone(),
        digest: manifest_digest.clone(),
        size: fetched.bytes.len() as i64,
        artifact_type: None,
        annotations: None,
        platform: None,
        urls: None,
    };
    let before = store
        .entries()?
        .into_iter()
        .find(|e| e.name.as_ref() == Some(r))
        .map(|e| e.descriptor.digest);
    store.set_name(r, &descriptor, index_digest.as_ref())?;
    Ok(Pulled {
        digest: index_digest.unwrap_or_else(|| manifest_digest.clone()),
        changed: before.as_ref() != Some(&manifest_digest),
        manifest_digest,
        downloaded,
    })
}

/// Blobs transferred at once (`RREG_PARALLEL`, default 4).
pub fn parallelism() -> usize {
    std::env::var("RREG_PARALLEL")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}
