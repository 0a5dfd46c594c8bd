//! `rreg save -o FILE IMAGE…`: a Docker archive (`docker load` reads it) or, with `--format oci`, an
//! OCI image layout archive.

use std::path::PathBuf;

use crate::archive;
use crate::settings::Settings;
use crate::store::Store;

/// Archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Docker's `docker save` format.
    Docker,
    /// OCI image layout.
    Oci,
}

/// Save images to an archive.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images to save.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Output file (`-` or absent: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format.
    #[arg(long, value_enum, default_value = "docker")]
    pub format: Format,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let images = args
        .images
        .iter()
        .map(|i| store.get(i, &settings.default_registry()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let format = match args.format {
        Format::Docker => archive::Format::Docker,
        Format::Oci => archive::Format::Oci,
    };
    let out = args.output.filter(|p| p.as_os_str() != "-");
    tokio::task::spawn_blocking(move || archive::save(&store, &images, format, out.as_deref())).await?
}
