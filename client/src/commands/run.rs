//! `rreg run [--rm] [--name NAME] [-e K=V]… [-w DIR] [-u USER] [--entrypoint E] [--network host|none]
//! IMAGE [CMD…]`: runs a container from a local image (pulled when missing).

use anyhow::Context as _;

use crate::runtime::container::{self, RunOptions};
use crate::runtime::Network;
use crate::settings::Settings;
use crate::store::Store;

/// Run a command in a new container.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Name the container (for `rreg commit`).
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable, K=V (or K to take the value from the environment).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// User (name or uid, optionally :group).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Network: host (default) or none.
    #[arg(long, default_value = "host")]
    pub network: String,
    /// Keep stdin open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Write the container ID to this file.
    #[arg(long)]
    pub cidfile: Option<std::path::PathBuf>,
    /// The image.
    pub image: String,
    /// The command and its arguments (default: the image's CMD).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs the command; the container's exit code becomes rreg's.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let env = args
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some(_) => e.clone(),
            None => format!("{e}={}", std::env::var(e).unwrap_or_default()),
        })
        .collect();
    let opts = RunOptions {
        image: args.image.clone(),
        name: args.name.clone(),
        env,
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        entrypoint: args.entrypoint.clone(),
        command: args.command.clone(),
        network: Network::parse(&args.network)?,
        remove: args.rm,
        stdin: args.interactive,
        cidfile: args.cidfile.clone(),
    };
    let code = tokio::task::spawn_blocking(move || container::run(&store, &settings, &opts))
        .await
        .context("the container stopped")??;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
