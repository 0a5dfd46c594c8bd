//! `push`: for each blob, `HEAD` first, then a cross-repository mount from a repository of the same
//! registry known to hold it, otherwise a streamed upload; blobs in parallel; then the manifest
//! (skipped when the tag already points at it, so a re-push sends nothing).

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use rreg_oci::{Descriptor, Digest, ImageRef, Reference};

use super::auth::Scope;
use super::blobs::Mount;
use super::pull::parallelism;
use super::Client;
use crate::progress::{short_id, Progress};
use crate::store::{Image, Store};

/// How one blob got to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// It was already there.
    Exists,
    /// Mounted from another repository.
    Mounted(String),
    /// Uploaded.
    Pushed,
}

/// What a push did.
pub struct Pushed {
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest size.
    pub size: usize,
    /// Per blob (config first, then layers).
    pub blobs: Vec<(Digest, BlobOutcome)>,
    /// Whether the manifest was sent.
    pub manifest_sent: bool,
}

async fn push_blob(
    client: &Client,
    store: &Store,
    repo: &str,
    desc: &Descriptor,
    progress: &Progress,
    show: bool,
) -> anyhow::Result<BlobOutcome> {
    let size = u64::try_from(desc.size).unwrap_or(0);
    let id = short_id(&desc.digest);
    let quiet = Progress::Quiet;
    let item = if show {
        progress.item(&id, size, "Preparing")
    } else {
        quiet.item(&id, size, "")
    };
    let digest = &desc.digest;
    let path = store.blob_path(digest);
    if !store.has_blob(digest, Some(size)) {
        anyhow::bail!("blob {digest} is missing from the local store");
    }
    if client.blob_exists(repo, digest, &[Scope::push(repo)]).await?.is_some() {
        item.finish("Layer already exists");
        return Ok(BlobOutcome::Exists);
    }
    let mut session = None;
    for from in store.sources(digest, &client.registry) {
        if from == repo {
            continue;
        }
        match client.mount_blob(repo, digest, &from).await {
            Ok(Mount::Mounted) => {
                item.finish(&format!("Mounted from {from}"));
                return Ok(BlobOutcome::Mounted(from));
            }
            Ok(Mount::Upload(loc)) => {
                session = Some(loc);
                break;
            }
            Err(_) => continue,
        }
    }
    let location = match session {
        Some(l) => l,
        None => client.start_upload(repo).await?,
    };
    item.message("Pushing");
    client.upload_blob(repo, location, &path, digest, size, &item).await?;
    item.finish("Pushed");
    Ok(BlobOutcome::Pushed)
}

/// Pushes `image` to `target` (a tag or, without one, by digest).
pub async fn push(
    client: &Client,
    store: &Store,
    image: &Image,
    target: &ImageRef,
    progress: &Progress,
) -> anyhow::Result<Pushed> {
    let repo = target.repository.as_str();
    progress.println(&format!("The push refers to repository [{}]", target.familiar_name()));
    let config = image.manifest.config.clone().context("manifest has no config")?;
    let layers: Vec<Descriptor> = image
        .manifest
        .layers
        .iter()
        .filter(|l| l.urls.is_none())
        .cloned()
        .collect();
    let jobs: Vec<(Descriptor, bool)> = layers
        .into_iter()
        .map(|l| (l, true))
        .chain(std::iter::once((config, false)))
        .collect();
    let blobs: Vec<(Digest, BlobOutcome)> = futures::stream::iter(jobs)
        .map(|(d, show)| async move {
            let outcome = push_blob(client, store, repo, &d, progress, show).await?;
            store.record_source(&d.digest, &client.registry, repo)?;
            Ok::<_, anyhow::Error>((d.digest, outcome))
        })
        .buffer_unordered(parallelism())
        .try_collect()
        .await?;

    let reference = match &target.tag {
        Some(t) => Reference::Tag(t.clone()),
        None => Reference::Digest(image.descriptor.digest.clone()),
    };
    let digest = Digest::sha256(&image.manifest_raw);
    let current = client.head_manifest(repo, &reference, &[Scope::push(repo)]).await?;
    let manifest_sent = current.and_then(|h| h.digest).as_ref() != Some(&digest);
    if manifest_sent {
        client
            .put_manifest(repo, &reference, &image.manifest_raw, &image.descriptor.media_type)
            .await?;
    }
    Ok(Pushed {
        digest,
        size: image.manifest_raw.len(),
        blobs,
        manifest_sent,
    })
}
