//! `rreg images [REPOSITORY]`: the local images, as `docker images` lists them.

use super::parse_ref;
use crate::output;
use crate::settings::Settings;
use crate::store::Store;

/// List local images.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only images of this repository.
    pub repository: Option<String>,
    /// Only image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Do not truncate IDs.
    #[arg(long)]
    pub no_trunc: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let store = Store::open()?;
    let filter = match &args.repository {
        Some(r) => Some(parse_ref(r, &settings)?),
        None => None,
    };
    let mut header = vec!["REPOSITORY", "TAG"];
    if args.digests {
        header.push("DIGEST");
    }
    header.extend(["IMAGE ID", "CREATED", "SIZE"]);
    let mut rows = vec![header.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    let mut ids = Vec::new();
    for e in store.entries()? {
        let Some(name) = e.name.clone() else { continue };
        if let Some(f) = &filter {
            let tag_ok = args.repository.as_deref().is_some_and(|r| !r.contains(':')) || f.tag == name.tag;
            if f.name() != name.name() || !tag_ok {
                continue;
            }
        }
        let Ok(img) = store.load_image(Some(name.clone()), e.descriptor.clone()) else {
            continue;
        };
        let id = img.id();
        let id_text = if args.no_trunc {
            id.to_string()
        } else {
            id.hex().chars().take(12).collect()
        };
        let size: i64 = img.manifest.layers.iter().map(|l| l.size).sum::<i64>()
            + img.manifest.config.as_ref().map_or(0, |c| c.size);
        if args.quiet {
            if !ids.contains(&id_text) {
                ids.push(id_text);
            }
            continue;
        }
        let mut row = vec![
            name.familiar_name(),
            name.tag.as_ref().map_or("<none>".to_owned(), |t| t.to_string()),
        ];
        if args.digests {
            row.push(img.repo_digest().to_string());
        }
        row.extend([
            id_text,
            output::since(img.config.created.as_deref()),
            output::human_size(u64::try_from(size).unwrap_or(0)),
        ]);
        rows.push(row);
    }
    if args.quiet {
        for id in ids {
            output::line(id)?;
        }
        return Ok(());
    }
    print_table(&rows)
}

fn print_table(rows: &[Vec<String>]) -> anyhow::Result<()> {
    use std::io::Write as _;
    std::io::stdout().lock().write_all(output::table(rows).as_bytes())?;
    Ok(())
}
