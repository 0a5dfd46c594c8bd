//! An image on a registry, read without pulling its layers: the manifest (the platform's, from an
//! index), its config, and the descriptor the local store would keep.

use anyhow::Context as _;
use rreg_oci::{Descriptor, ImageConfig, ImageRef, Manifest, Platform};

use super::{pull, Client};
use crate::store::Image;

/// Reads an image's manifest and config from its registry.
pub async fn remote_image(client: &Client, r: &ImageRef, platform: Option<&Platform>) -> anyhow::Result<Image> {
    let (fetched, index) = pull::resolve(client, r, platform).await?;
    let manifest =
        Manifest::parse(&fetched.bytes, Some(&fetched.media_type)).with_context(|| format!("manifest of {r}"))?;
    let config_desc = manifest.config.clone().context("manifest has no config")?;
    let config_raw = client.get_small_blob(r.repository.as_str(), &config_desc).await?;
    let config = ImageConfig::parse(&config_raw).with_context(|| format!("config of {r}"))?;
    let mut descriptor = Descriptor {
        media_type: fetched.media_type.clone(),
        digest: fetched.digest.clone(),
        size: fetched.bytes.len() as i64,
        artifact_type: None,
        annotations: None,
        platform: None,
        urls: None,
    };
    if let Some(i) = index {
        let mut a = std::collections::BTreeMap::new();
        a.insert(crate::store::INDEX_DIGEST.to_owned(), i.digest.to_string());
        descriptor.annotations = Some(a);
    }
    Ok(Image {
        name: Some(r.clone()),
        descriptor,
        manifest_raw: fetched.bytes,
        manifest,
        config_raw,
        config,
    })
}
