//! One module per subcommand, each a clap `Args` struct and a `run` that parses what the user typed
//! and calls the library; the shared helpers below resolve names and open clients.

pub mod build;
pub mod commit;
pub mod diff;
pub mod history;
pub mod images;
pub mod inspect;
pub mod layers;
pub mod load;
pub mod login;
pub mod logout;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod run;
pub mod save;
pub mod tag;
pub mod tags;

use anyhow::Context as _;
use rreg_oci::ImageRef;

use crate::cli::{Cli, Command};
use crate::registry::Client;
use crate::settings::Settings;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Login(a) => login::run(a).await,
        Command::Logout(a) => logout::run(a).await,
        Command::Pull(a) => pull::run(a).await,
        Command::Push(a) => push::run(a).await,
        Command::Images(a) => images::run(a).await,
        Command::Tag(a) => tag::run(a).await,
        Command::Rmi(a) => rmi::run(a).await,
        Command::Inspect(a) => inspect::run(a).await,
        Command::History(a) => history::run(a).await,
        Command::Tags(a) => tags::run(a).await,
        Command::Layers(a) => layers::run(a).await,
        Command::Diff(a) => diff::run(a).await,
        Command::Save(a) => save::run(a).await,
        Command::Load(a) => load::run(a).await,
        Command::Build(a) => build::run(a).await,
        Command::Run(a) => run::run(a).await,
        Command::Commit(a) => commit::run(a).await,
    }
}

/// Parses a reference with the configured default registry.
pub fn parse_ref(s: &str, settings: &Settings) -> anyhow::Result<ImageRef> {
    ImageRef::parse_with_default(s, &settings.default_registry()).with_context(|| format!("{s:?}"))
}

/// A client for the registry of `r`, with the stored credentials.
pub fn client_for(r: &ImageRef, settings: &Settings) -> anyhow::Result<Client> {
    Client::for_registry(&r.registry, settings)
}
