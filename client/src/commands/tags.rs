//! `rreg tags REPO`: the repository's tags on its registry, each with its manifest digest. On
//! rreg-server the browsing API adds platforms, size, when and by whom each tag was pushed and when
//! it was last pulled; other registries answer through the distribution API.

use futures::{StreamExt as _, TryStreamExt as _};
use rreg_oci::{ImageRef, Reference, Tag};

use super::client_for;
use crate::output;
use crate::registry::auth::Scope;
use crate::registry::pull;
use crate::settings::Settings;

/// List a repository's tags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The repository (a tag, if given, is ignored).
    pub repository: String,
    /// Only tag names, without asking for digests.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let r = ImageRef::parse_repository(&args.repository, &settings.default_registry())?;
    let client = client_for(&r, &settings)?;
    let repo = r.repository.as_str();
    let rich = crate::explore::api::<rreg_oci::api::Tag>(&client, &format!("repositories/{repo}/-/tags?n=1000")).await;
    if let Some(items) = rich.transpose()? {
        return print_rich(&items, args.quiet);
    }
    let tags = client.list_tags(repo).await?;
    if args.quiet {
        for t in tags {
            output::line(t)?;
        }
        return Ok(());
    }
    let client = &client;
    let rows: Vec<Vec<String>> = futures::stream::iter(tags)
        .map(|t| async move {
            let reference = match Tag::parse(&t) {
                Ok(tag) => Reference::Tag(tag),
                Err(_) => return Ok::<_, anyhow::Error>(vec![t, String::new(), String::new()]),
            };
            let head = client.head_manifest(repo, &reference, &[Scope::pull(repo)]).await?;
            let (digest, media_type) = match head {
                Some(h) => (
                    h.digest.map(|d| d.to_string()).unwrap_or_default(),
                    h.media_type.unwrap_or_default(),
                ),
                None => (String::new(), String::new()),
            };
            Ok(vec![t, digest, media_type])
        })
        .buffered(pull::parallelism() * 2)
        .try_collect()
        .await?;
    let mut table = vec![vec!["TAG".to_owned(), "DIGEST".to_owned(), "MEDIA TYPE".to_owned()]];
    table.extend(rows);
    use std::io::Write as _;
    std::io::stdout().lock().write_all(output::table(&table).as_bytes())?;
    Ok(())
}

/// The browsing API's tags as a table.
fn print_rich(items: &[rreg_oci::api::Tag], quiet: bool) -> anyhow::Result<()> {
    if quiet {
        for t in items {
            output::line(&t.name)?;
        }
        return Ok(());
    }
    let mut table = vec![[
        "TAG",
        "DIGEST",
        "PLATFORMS",
        "SIZE",
        "LAST PUSHED",
        "PUSHED BY",
        "LAST PULLED",
    ]
    .map(str::to_owned)
    .to_vec()];
    for t in items {
        let platforms: Vec<String> = t.platforms.iter().map(ToString::to_string).collect();
        let when = |at: Option<&str>| match at {
            Some(s) => output::since(Some(s)),
            None => "never".to_owned(),
        };
        table.push(vec![
            t.name.clone(),
            t.digest.clone(),
            platforms.join(","),
            output::human_size(u64::try_from(t.size).unwrap_or(0)),
            when(Some(&t.last_pushed)),
            t.pushed_by.clone(),
            when(t.last_pulled.as_deref()),
        ]);
    }
    use std::io::Write as _;
    std::io::stdout().lock().write_all(output::table(&table).as_bytes())?;
    Ok(())
}
