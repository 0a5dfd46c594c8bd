//! `rreg push NAME[:TAG]`.

use super::{client_for, parse_ref};
use crate::output;
use crate::progress::Progress;
use crate::registry::push;
use crate::settings::Settings;
use crate::store::Store;

/// Push an image.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The local image: NAME[:TAG].
    pub name: String,
    /// Print only the manifest digest.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let r = parse_ref(&args.name, &settings)?;
    let store = Store::open()?;
    let image = store
        .find(&r.to_string(), &settings.default_registry())?
        .ok_or_else(|| anyhow::anyhow!("An image does not exist locally with the tag: {}", r.familiar()))?;
    let client = client_for(&r, &settings)?;
    let progress = Progress::new(args.quiet);
    let result = push::push(&client, &store, &image, &r, &progress).await;
    progress.done();
    let pushed = result?;
    if args.quiet {
        return output::line(&pushed.digest);
    }
    let label = r
        .tag
        .as_ref()
        .map_or_else(|| pushed.digest.to_string(), |t| t.to_string());
    output::line(format!("{label}: digest: {} size: {}", pushed.digest, pushed.size))
}
