//! `rreg commit [-m MESSAGE] [-a AUTHOR] [-c INSTRUCTION]… CONTAINER [NAME[:TAG]]`: a container's
//! changes become a new layer on its image.

use anyhow::Context as _;

use super::parse_ref;
use crate::output;
use crate::runtime::container::{self, CommitOptions};
use crate::settings::Settings;
use crate::store::Store;

/// Create a new image from a container's changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Commit message (the history entry's comment).
    #[arg(short, long)]
    pub message: Option<String>,
    /// Author.
    #[arg(short, long)]
    pub author: Option<String>,
    /// The container (name or ID prefix).
    pub container: String,
    /// Name for the new image.
    pub name: Option<String>,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let name = args.name.as_deref().map(|n| parse_ref(n, &settings)).transpose()?;
    let store = Store::open()?;
    let opts = CommitOptions {
        container: args.container.clone(),
        name,
        message: args.message.clone(),
        author: args.author.clone(),
    };
    let id = tokio::task::spawn_blocking(move || container::commit(&store, &opts))
        .await
        .context("the commit stopped")??;
    output::line(&id)
}
