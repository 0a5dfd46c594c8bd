//! The command line: one subcommand per file in `commands/`, each with its own `Args`.

use clap::{Parser, Subcommand};

use crate::commands;

const REFERENCE_HELP: &str = "\
Image references follow Docker's rules: `ubuntu` is docker.io/library/ubuntu:latest, `org/app:1` is
docker.io/org/app:1, and a first component with a `.` or `:` or `localhost` is a registry host
(`reg.example.com/org/app:1`, `127.0.0.1:5000/app@sha256:…`). After `rreg login SERVER`, names
without a host go to SERVER instead of docker.io (the default registry; RREG_DEFAULT_REGISTRY
overrides it). Registries on localhost / 127.0.0.0/8 / ::1 and those listed in
RREG_INSECURE_REGISTRIES (comma-separated) are spoken to over plain HTTP, all others over TLS
(system roots, plus the PEM file in RREG_CA_FILE).

Local images live in an OCI image layout under RREG_HOME (default: $XDG_DATA_HOME/rreg or
~/.local/share/rreg); credentials in Docker's config.json under DOCKER_CONFIG (default ~/.docker).";

/// rreg: push, pull, tag and inspect container images without a daemon.
#[derive(Debug, Parser)]
#[command(name = "rreg", version, about, after_long_help = REFERENCE_HELP)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `rreg` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a registry (and make it the default registry).
    Login(commands::login::Args),
    /// Log out from a registry.
    Logout(commands::logout::Args),
    /// Pull an image from a registry into the local store.
    Pull(commands::pull::Args),
    /// Push a local image to a registry.
    Push(commands::push::Args),
    /// List local images.
    Images(commands::images::Args),
    /// Give a local image another name (or retag on the registry with --remote).
    Tag(commands::tag::Args),
    /// Remove local images.
    Rmi(commands::rmi::Args),
    /// Show the manifest and configuration of a local (or remote) image as JSON.
    Inspect(commands::inspect::Args),
    /// Show the history of an image, like `docker history`.
    History(commands::history::Args),
    /// List a repository's tags on its registry.
    Tags(commands::tags::Args),
    /// Show what each layer of an image adds, changes and deletes, and its wasted space (as Dive).
    Layers(commands::layers::Args),
    /// Show what changed between two images: layers, configuration and files.
    Diff(commands::diff::Args),
    /// Save images to a Docker archive (loadable by `docker load`) or an OCI layout archive.
    Save(commands::save::Args),
    /// Load images from a Docker archive or an OCI layout archive.
    Load(commands::load::Args),
    /// Build an image from a Dockerfile, without a daemon.
    Build(commands::build::Args),
    /// Run a command in a new container from an image.
    Run(commands::run::Args),
    /// Create a new image from a container's changes.
    Commit(commands::commit::Args),
}
