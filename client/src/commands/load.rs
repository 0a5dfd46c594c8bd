//! `rreg load -i FILE`: reads a Docker archive or an OCI layout archive into the local store.

use std::path::PathBuf;

use crate::archive;
use crate::output;
use crate::store::Store;

/// Load images from an archive.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file (absent: standard input).
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print nothing.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let store = Store::open()?;
    let input = args.input.filter(|p| p.as_os_str() != "-");
    let names = tokio::task::spawn_blocking(move || archive::load(&store, input.as_deref())).await??;
    if !args.quiet {
        for n in names {
            output::line(format!("Loaded image: {n}"))?;
        }
    }
    Ok(())
}
