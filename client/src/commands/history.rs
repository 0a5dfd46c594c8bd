//! `rreg history IMAGE`: the columns of `docker history`, from the local store or — with `--remote`,
//! or when the image is not held — from the registry (manifest and config only; layer sizes are
//! measured by streaming each layer once, or taken from the manifest with `--compressed`).

use anyhow::{bail, Context as _};
use futures::{StreamExt as _, TryStreamExt as _};
use rreg_oci::{Descriptor, ImageConfig, ImageRef, Platform};

use super::{client_for, parse_ref};
use crate::history::{self, Style};
use crate::registry::remote::remote_image;
use crate::registry::{pull, Client};
use crate::settings::Settings;
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Docker's table.
    Table,
    /// One JSON object per line.
    Json,
}

/// Show the history of an image.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image (name, ID or digest).
    pub image: String,
    /// Do not truncate IDs and instructions.
    #[arg(long)]
    pub no_trunc: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Human-readable sizes and dates (`-H=false` prints bytes and RFC 3339 times).
    #[arg(short = 'H', long = "human", default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Read the image from its registry even when it is held locally.
    #[arg(long)]
    pub remote: bool,
    /// With --remote: show compressed layer sizes from the manifest instead of measuring layers.
    #[arg(long)]
    pub compressed: bool,
    /// Platform to pick from a multi-platform image with --remote.
    #[arg(long)]
    pub platform: Option<String>,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let local = if args.remote {
        None
    } else {
        store.find(&args.image, &settings.default_registry())?
    };
    let (image, sizes) = match local {
        Some(img) => {
            let sizes = img
                .manifest
                .layers
                .iter()
                .map(|l| store.diff_size(l))
                .collect::<anyhow::Result<Vec<u64>>>()?;
            (img, sizes)
        }
        None => {
            let r = parse_ref(&args.image, &settings)?;
            let client = client_for(&r, &settings)?;
            let platform = match &args.platform {
                Some(p) => Some(Platform::parse(p).with_context(|| format!("invalid platform {p:?}"))?),
                None => None,
            };
            // rreg-server has the history with every layer's size already measured.
            let api = api_history(&client, &r, platform.as_ref(), args.compressed).await;
            if let Some((config, id, sizes)) = api.transpose()? {
                let rows = history::rows(&config, &id, &sizes);
                return print(&rows, &args);
            }
            let img = remote_image(&client, &r, platform.as_ref()).await?;
            let sizes = if args.compressed {
                img.manifest
                    .layers
                    .iter()
                    .map(|l| u64::try_from(l.size).unwrap_or(0))
                    .collect()
            } else {
                remote_sizes(&client, &store, r.repository.as_str(), &img.manifest.layers).await?
            };
            (img, sizes)
        }
    };
    let rows = history::rows(&image.config, &image.id(), &sizes);
    print(&rows, &args)
}

/// Prints history rows as the arguments ask.
fn print(rows: &[history::Row], args: &Args) -> anyhow::Result<()> {
    let style = Style {
        truncate: !args.no_trunc,
        human: args.human,
    };
    let text = if args.quiet {
        history::ids(rows, style)
    } else {
        match args.format {
            Format::Table => history::table(rows, style),
            Format::Json => history::json_lines(rows, style)?,
        }
    };
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// The history from rreg-server's browsing API: a config holding just the history, the image ID,
/// and the layer sizes (as Docker measures them, or compressed). `None` elsewhere; an error when
/// the registry's answer is not the browsing API's.
async fn api_history(
    client: &Client,
    r: &ImageRef,
    platform: Option<&Platform>,
    compressed: bool,
) -> Option<anyhow::Result<(ImageConfig, rreg_oci::Digest, Vec<u64>)>> {
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let path = format!(
        "repositories/{}/-/history/{}?platform={want}{}",
        r.repository,
        r.reference(),
        if compressed { "" } else { "&sizes=1" }
    );
    let items = crate::explore::api::<rreg_oci::api::ImageHistory>(client, &path).await?;
    let item = match items {
        Ok(items) => items.into_iter().next()?,
        Err(e) => return Some(Err(e)),
    };
    let id = rreg_oci::Digest::parse(&item.config_digest).ok()?;
    let mut config = ImageConfig {
        created: item.created,
        ..Default::default()
    };
    let mut sizes = Vec::new();
    for e in item.history {
        if let Some(layer) = &e.layer {
            let size = if compressed { Some(layer.size) } else { layer.diff_size };
            sizes.push(u64::try_from(size?).ok()?);
        }
        config.history.push(rreg_oci::History {
            created: e.created,
            created_by: Some(e.created_by).filter(|s| !s.is_empty()),
            comment: Some(e.comment).filter(|s| !s.is_empty()),
            empty_layer: e.empty_layer.then_some(true),
            author: None,
        });
    }
    // Entries the API appended for layers without history carry no instruction.
    config
        .history
        .retain(|h| h.created_by.is_some() || h.empty_layer.is_some() || h.comment.is_some() || h.created.is_some());
    Some(Ok((config, id, sizes)))
}

/// Layer sizes as Docker measures them, for layers read from the registry (from the local store
/// when a layer is held there).
async fn remote_sizes(client: &Client, store: &Store, repo: &str, layers: &[Descriptor]) -> anyhow::Result<Vec<u64>> {
    futures::stream::iter(layers.iter().cloned())
        .map(|l| async move {
            if store.has_blob(&l.digest, u64::try_from(l.size).ok()) {
                return store.diff_size(&l);
            }
            client.layer_diff_size(repo, &l).await
        })
        .buffered(pull::parallelism())
        .try_collect()
        .await
}

#[allow(dead_code)]
fn unused() -> anyhow::Result<()> {
    bail!("unused")
}
