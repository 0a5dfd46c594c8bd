//! Two images compared without pulling them (`rreg_oci::compare` over the stored layer file lists,
//! each read once and kept): the service behind `GET /api/v1/repositories/{name}/-/compare`.

use rreg_oci::compare::{self, Comparison, ImageInput, LayerInput};
use rreg_oci::layers::LayerFiles;
use rreg_oci::{ImageConfig, Platform, Reference, RepoName};

use super::browse::ImageRefd;
use super::{Registry, ServiceError};

/// One side of a comparison: a repository the caller may read (the route checked) and a tag or
/// digest in it.
#[derive(Debug, Clone)]
pub struct CompareSide {
    /// The repository.
    pub name: RepoName,
    /// The tag or digest.
    pub reference: Reference,
    /// What the caller wrote, echoed in the answer.
    pub label: String,
}

/// What was loaded for one side.
struct Loaded {
    image: ImageRefd,
    config: ImageConfig,
    files: Vec<LayerFiles>,
}

impl Registry {
    /// Compares `from` with `to` (the platform `platform`, or for multi-platform images the one of
    /// this host when present, else the first). Every file change is listed; the caller pages.
    pub async fn compare(
        &self,
        from: &CompareSide,
        to: &CompareSide,
        platform: Option<&Platform>,
    ) -> Result<Comparison, ServiceError> {
        // Bounded: each comparison holds both images' merged file trees.
        let _permit = self
            .browse
            .compares
            .acquire()
            .await
            .map_err(|_| ServiceError::Internal("closed".into()))?;
        let a = self.load(from, platform).await?;
        let b = self.load(to, platform).await?;
        Ok(compare::compare(&input(from, &a), &input(to, &b)))
    }

    async fn load(&self, side: &CompareSide, platform: Option<&Platform>) -> Result<Loaded, ServiceError> {
        let mut images = self.images(&side.name, &side.reference, platform).await?;
        let host = Platform::host();
        let pick = images
            .iter()
            .position(|i| i.platform.as_ref().is_some_and(|p| host.matches(p)))
            .unwrap_or(0);
        if images.is_empty() {
            return Err(ServiceError::NotFound(format!("{} is not an image", side.label)));
        }
        let image = images.swap_remove(pick);
        let config = self.config(&image.manifest).await?.unwrap_or_default();
        let mut files = Vec::with_capacity(image.manifest.layers.len());
        for l in &image.manifest.layers {
            files.push(self.layer_files(l).await?);
        }
        Ok(Loaded { image, config, files })
    }
}

fn input<'a>(side: &CompareSide, l: &'a Loaded) -> ImageInput<'a> {
    let platform = l
        .image
        .platform
        .clone()
        .or_else(|| l.config.platform())
        .map(|p| p.to_string());
    ImageInput {
        reference: side.label.clone(),
        digest: l.image.digest.clone(),
        platform,
        config: &l.config,
        config_digest: l
            .image
            .manifest
            .config
            .as_ref()
            .map(|c| c.digest.to_string())
            .unwrap_or_default(),
        layers: l
            .image
            .manifest
            .layers
            .iter()
            .zip(&l.files)
            .map(|(d, files)| LayerInput {
                digest: d.digest.to_string(),
                size: d.size.max(0) as u64,
                files,
            })
            .collect(),
    }
}
