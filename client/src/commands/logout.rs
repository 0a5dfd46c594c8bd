//! `rreg logout [SERVER]`: removes the stored credentials (and the default registry if it was SERVER).

use rreg_oci::image_ref::normalise_host;

use crate::credentials::{config_key, DockerConfig};
use crate::output;
use crate::settings::Settings;

/// Log out from a registry.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host (default: the default registry).
    pub server: Option<String>,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    let registry = match &args.server {
        Some(s) => normalise_host(s),
        None => settings.default_registry(),
    };
    let mut config = DockerConfig::load()?;
    let found = config.erase(&registry)?;
    if settings.default_registry.as_deref() == Some(registry.as_str()) {
        settings.default_registry = None;
        settings.save()?;
    }
    if found {
        output::line(format!("Removing login credentials for {}", config_key(&registry)))
    } else {
        output::line(format!("Not logged in to {}", config_key(&registry)))
    }
}
