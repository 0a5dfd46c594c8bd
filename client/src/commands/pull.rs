//! `rreg pull NAME[:TAG|@DIGEST] [--platform os/arch]`.

use anyhow::Context as _;
use rreg_oci::Platform;

use super::{client_for, parse_ref};
use crate::output;
use crate::progress::Progress;
use crate::registry::pull;
use crate::settings::Settings;
use crate::store::Store;

/// Pull an image.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: NAME[:TAG|@DIGEST].
    pub name: String,
    /// Platform to pick from a multi-platform image (os/arch[/variant]; default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image name.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let r = parse_ref(&args.name, &settings)?;
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).with_context(|| format!("invalid platform {p:?}: use os/arch[/variant]"))?),
        None => None,
    };
    let store = Store::open()?;
    let client = client_for(&r, &settings)?;
    let progress = Progress::new(args.quiet);
    let result = pull::pull(&client, &store, &r, platform.as_ref(), &progress).await;
    progress.done();
    let pulled = result?;
    if progress.verbose() {
        output::line(format!("Digest: {}", pulled.digest))?;
        if pulled.changed || pulled.downloaded > 0 {
            output::line(format!("Status: Downloaded newer image for {}", r.familiar()))?;
        } else {
            output::line(format!("Status: Image is up to date for {}", r.familiar()))?;
        }
    }
    output::line(&r)
}
