//! `rreg inspect IMAGE…`: a JSON array describing each image, in the shape of `docker image inspect`
//! (Id, RepoTags, RepoDigests, Created, Architecture, Os, Config, RootFS, Size, …) plus the manifest.

use anyhow::bail;
use serde_json::{json, Value};

use super::{client_for, parse_ref};
use crate::registry::pull;
use crate::settings::Settings;
use crate::store::{Image, Store};

/// Inspect images.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images (names, IDs or digests).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Read the image from its registry instead of the local store.
    #[arg(long)]
    pub remote: bool,
    /// Platform to pick from a multi-platform image with --remote.
    #[arg(long)]
    pub platform: Option<String>,
}

fn describe(img: &Image, repo_tags: Vec<String>, repo_digests: Vec<String>) -> Value {
    let size: i64 = img.manifest.layers.iter().map(|l| l.size).sum();
    let cfg: Value = serde_json::from_slice(&img.config_raw).unwrap_or(Value::Null);
    let manifest: Value = serde_json::from_slice(&img.manifest_raw).unwrap_or(Value::Null);
    json!({
        "Id": img.id().to_string(),
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Created": img.config.created,
        "Author": img.config.author.clone().unwrap_or_default(),
        "Architecture": img.config.architecture,
        "Os": img.config.os,
        "Variant": img.config.variant,
        "Config": cfg.get("config").cloned().unwrap_or(Value::Null),
        "RootFS": {
            "Type": img.config.rootfs.kind,
            "Layers": img.config.rootfs.diff_ids,
        },
        "Size": size,
        "Descriptor": img.descriptor,
        "Manifest": manifest,
    })
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    if args.remote {
        let platform = args.platform.as_deref().and_then(rreg_oci::Platform::parse);
        for input in &args.images {
            let r = parse_ref(input, &settings)?;
            let client = client_for(&r, &settings)?;
            let img = crate::registry::remote::remote_image(&client, &r, platform.as_ref()).await?;
            let _ = pull::parallelism();
            out.push(describe(
                &img,
                vec![r.familiar()],
                vec![format!("{}@{}", r.familiar_name(), img.repo_digest())],
            ));
        }
    } else {
        let store = Store::open()?;
        let entries = store.entries()?;
        for input in &args.images {
            let Some(img) = store.find(input, &settings.default_registry())? else {
                missing.push(input.clone());
                continue;
            };
            let id = img.id();
            let mut tags = Vec::new();
            let mut digests = Vec::new();
            for e in &entries {
                let Some(n) = &e.name else { continue };
                let Ok(other) = store.load_image(Some(n.clone()), e.descriptor.clone()) else {
                    continue;
                };
                if other.id() == id {
                    if n.tag.is_some() {
                        tags.push(n.familiar());
                    }
                    let d = format!("{}@{}", n.familiar_name(), other.repo_digest());
                    if !digests.contains(&d) {
                        digests.push(d);
                    }
                }
            }
            out.push(describe(&img, tags, digests));
        }
    }
    crate::output::line(serde_json::to_string_pretty(&out)?)?;
    if !missing.is_empty() {
        bail!("No such image: {}", missing.join(", "));
    }
    Ok(())
}
