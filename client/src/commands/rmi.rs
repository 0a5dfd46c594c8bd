//! `rreg rmi IMAGE…`: removes names; blobs no image uses any more are deleted.

use anyhow::bail;

use crate::output;
use crate::settings::Settings;
use crate::store::Store;

/// Remove local images.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images (names, IDs or digests).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove every name of an image given by ID.
    #[arg(short, long)]
    pub force: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let mut failed = Vec::new();
    for input in &args.images {
        let Some(image) = store.find(input, &settings.default_registry())? else {
            failed.push(format!("No such image: {input}"));
            continue;
        };
        match &image.name {
            Some(name) => {
                store.remove_name(name)?;
                output::line(format!("Untagged: {}", name.familiar()))?;
            }
            None => {
                // By ID: every name that points at this image.
                let id = image.id();
                let names: Vec<_> = store
                    .entries()?
                    .into_iter()
                    .filter(|e| {
                        store
                            .load_image(e.name.clone(), e.descriptor.clone())
                            .is_ok_and(|i| i.id() == id)
                    })
                    .filter_map(|e| e.name)
                    .collect();
                if names.len() > 1 && !args.force {
                    failed.push(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.hex().chars().take(12).collect::<String>()
                    ));
                    continue;
                }
                for n in names {
                    store.remove_name(&n)?;
                    output::line(format!("Untagged: {}", n.familiar()))?;
                }
                output::line(format!("Deleted: {id}"))?;
            }
        }
    }
    store.gc()?;
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}
