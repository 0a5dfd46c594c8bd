//! `rreg login [SERVER]`: checks the credentials against the registry, stores them in Docker's
//! `config.json`, and makes SERVER the default registry.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};

use anyhow::{bail, Context as _};
use rreg_oci::image_ref::{normalise_host, DOCKER_HUB};

use crate::credentials::{Credentials, DockerConfig};
use crate::output;
use crate::registry::Client;
use crate::settings::Settings;

/// Log in to a registry.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host (default: the default registry, docker.io unless `rreg login` set another).
    pub server: Option<String>,
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password or personal access token (prefer --password-stdin).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

fn prompt(label: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("cannot prompt for {label}: standard input is not a terminal (use --username and --password-stdin)");
    }
    print!("{label}: ");
    std::io::stdout().flush()?;
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim().to_owned())
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    let registry = match &args.server {
        Some(s) => normalise_host(s),
        None => settings.default_registry(),
    };
    let mut config = DockerConfig::load()?;
    if args.password_stdin && args.password.is_some() {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("must provide --username with --password-stdin");
    }
    let existing = config.credentials(&registry)?;
    let creds = match (&args.username, &args.password, args.password_stdin, existing) {
        (None, None, false, Some(c)) => {
            output::line("Authenticating with existing credentials...")?;
            c
        }
        _ => {
            let username = match &args.username {
                Some(u) => u.clone(),
                None => prompt("Username")?,
            };
            let password = if args.password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from stdin")?;
                s.trim_end_matches(['\n', '\r']).to_owned()
            } else if let Some(p) = &args.password {
                p.clone()
            } else {
                if !std::io::stdin().is_terminal() {
                    bail!("cannot prompt for a password: standard input is not a terminal (use --password-stdin)");
                }
                rpassword::prompt_password("Password: ").context("reading the password")?
            };
            if username.is_empty() || password.is_empty() {
                bail!("username and password must not be empty");
            }
            Credentials {
                username,
                password,
                identity_token: None,
            }
        }
    };
    let client = Client::new(&registry, &settings, Some(creds.clone()))?;
    client
        .check_login()
        .await
        .with_context(|| format!("login to {registry} failed"))?;
    config.store(&registry, &creds)?;
    settings.default_registry = if registry == DOCKER_HUB {
        None
    } else {
        Some(registry.clone())
    };
    settings.save()?;
    output::line("Login Succeeded")
}
