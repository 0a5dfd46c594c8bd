//! `rreg build [-t NAME:TAG]… [-f FILE|-] [--build-arg K=V]… [--target STAGE] [--no-cache]
//! [--label K=V]… [--network host|none] [--iidfile F] [-q] CONTEXT`.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use rreg_oci::Platform;

use super::parse_ref;
use crate::build::executor::{self, DockerfileSource, Options};
use crate::output;
use crate::runtime::Network;
use crate::settings::Settings;
use crate::store::Store;

/// Build an image from a Dockerfile.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The build context folder.
    pub context: PathBuf,
    /// Name (and tag) for the image; may be given several times.
    #[arg(short, long = "tag")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile; `-` reads it from stdin).
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// A build argument, K=V (or K to take the value from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Build only up to this stage.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// A label to set on the image, K=V.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Network for RUN steps: host (default) or none.
    #[arg(long, default_value = "host")]
    pub network: String,
    /// Write the image ID to this file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Platform of base images (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image ID.
    #[arg(short, long)]
    pub quiet: bool,
}

fn kv(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        None if !s.is_empty() && what == "build-arg" => Ok((s.to_owned(), std::env::var(s).unwrap_or_default())),
        _ => bail!("invalid --{what} {s:?}: use KEY=VALUE"),
    }
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let mut tags = Vec::new();
    for t in &args.tags {
        let r = parse_ref(t, &settings)?;
        if r.digest.is_some() {
            bail!("invalid tag {t:?}: a digest cannot be a tag");
        }
        tags.push(r);
    }
    if !args.context.is_dir() {
        bail!(
            "unable to prepare context: path {:?} not found",
            args.context.display().to_string()
        );
    }
    let dockerfile = match args.file.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the Dockerfile from stdin")?;
            DockerfileSource::Text(s)
        }
        Some(f) => DockerfileSource::Path(PathBuf::from(f)),
        None => DockerfileSource::Path(args.context.join("Dockerfile")),
    };
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).with_context(|| format!("invalid platform {p:?}: use os/arch[/variant]"))?),
        None => None,
    };
    let context = std::fs::canonicalize(&args.context)
        .with_context(|| format!("unable to prepare context: {}", args.context.display()))?;
    let opts = Options {
        context,
        dockerfile,
        tags: tags.clone(),
        build_args: args
            .build_args
            .iter()
            .map(|s| kv(s, "build-arg"))
            .collect::<Result<_, _>>()?,
        target: args.target.clone(),
        no_cache: args.no_cache,
        labels: args.labels.iter().map(|s| kv(s, "label")).collect::<Result<_, _>>()?,
        network: Network::parse(&args.network)?,
        quiet: args.quiet,
        platform,
    };
    let store = Store::open()?;
    let started = std::time::Instant::now();
    let built = tokio::task::spawn_blocking(move || executor::build(&store, &settings, &opts))
        .await
        .context("the build stopped")??;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, built.id.to_string()).with_context(|| format!("writing {}", f.display()))?;
    }
    if args.quiet {
        return output::line(&built.id);
    }
    output::line(format!(
        "Successfully built {} in {:.1}s",
        &built.id.hex()[..12],
        started.elapsed().as_secs_f64()
    ))?;
    for t in &tags {
        output::line(format!("Successfully tagged {}", t.familiar()))?;
    }
    Ok(())
}
