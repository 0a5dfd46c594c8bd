//! `rreg tag SOURCE TARGET`: another name for a local image (no copying); with `--remote`, a retag
//! on the registry by manifest copy (blobs mounted, never transferred).

use anyhow::{bail, Context as _};

use super::{client_for, parse_ref};
use crate::output;
use crate::registry::auth::Scope;
use crate::registry::blobs::Mount;
use crate::settings::Settings;
use crate::store::Store;

/// Tag an image.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The existing image (name, ID or digest).
    pub source: String,
    /// The new name.
    pub target: String,
    /// Retag on the registry (both names on the same registry) without pulling.
    #[arg(long)]
    pub remote: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let target = parse_ref(&args.target, &settings)?;
    if target.digest.is_some() {
        bail!("refusing to create a tag with a digest reference: {}", args.target);
    }
    if args.remote {
        return remote(&args, &settings, &target).await;
    }
    let store = Store::open()?;
    let _w = store.writing()?;
    let image = store.get(&args.source, &settings.default_registry())?;
    store.set_name(&target, &image.descriptor, None)?;
    Ok(())
}

async fn remote(args: &Args, settings: &Settings, target: &rreg_oci::ImageRef) -> anyhow::Result<()> {
    let source = parse_ref(&args.source, settings)?;
    if source.registry != target.registry {
        bail!(
            "--remote retags within one registry; {} and {} are on different registries",
            source.registry,
            target.registry
        );
    }
    let client = client_for(&source, settings)?;
    let src_repo = source.repository.as_str();
    let dst_repo = target.repository.as_str();
    let m = client.get_manifest(src_repo, &source.reference()).await?;
    if src_repo != dst_repo {
        let parsed = rreg_oci::Manifest::parse(&m.bytes, Some(&m.media_type)).context("source manifest")?;
        let mut needed: Vec<rreg_oci::Digest> = parsed.blobs().map(|d| d.digest.clone()).collect();
        // Child manifests of an index must exist in the target repository too.
        for child in &parsed.manifests {
            let cm = client
                .get_manifest(src_repo, &rreg_oci::Reference::Digest(child.digest.clone()))
                .await?;
            let cp = rreg_oci::Manifest::parse(&cm.bytes, Some(&cm.media_type))?;
            needed.extend(cp.blobs().map(|d| d.digest.clone()));
        }
        for d in &needed {
            if client
                .blob_exists(dst_repo, d, &[Scope::push(dst_repo)])
                .await?
                .is_some()
            {
                continue;
            }
            match client.mount_blob(dst_repo, d, src_repo).await? {
                Mount::Mounted => {}
                Mount::Upload(_) => bail!(
                    "{} would not mount blob {d} from {src_repo} into {dst_repo}",
                    client.registry
                ),
            }
        }
        for child in &parsed.manifests {
            let cm = client
                .get_manifest(src_repo, &rreg_oci::Reference::Digest(child.digest.clone()))
                .await?;
            client
                .put_manifest(
                    dst_repo,
                    &rreg_oci::Reference::Digest(child.digest.clone()),
                    &cm.bytes,
                    &cm.media_type,
                )
                .await?;
        }
    }
    let reference = target.reference();
    let digest = client
        .put_manifest(dst_repo, &reference, &m.bytes, &m.media_type)
        .await?;
    output::line(format!("{}: digest: {digest}", target.familiar()))
}
