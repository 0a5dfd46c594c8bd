//! `rreg diff IMAGE_A IMAGE_B`: what changed between two images — layers shared and differing,
//! configuration changes, and the merged file trees compared — for local images, remote ones
//! (through rreg-server's compare API, or by reading the layers from any other registry), or one of
//! each. `--exit-code` exits 1 when they differ, as `git diff --exit-code`.

use anyhow::Context as _;
use rreg_oci::compare::{Comparison, FileChange, FileChangeKind, LayerStatus};
use rreg_oci::Platform;

use super::{client_for, parse_ref};
use crate::explore::compare::{compare_images, Source};
use crate::output;
use crate::settings::Settings;
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// The comparison as one JSON document (the shape of rreg-server's compare API).
    Json,
}

/// Show what changed between two images.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The older image (name, ID or digest).
    pub image_a: String,
    /// The newer image.
    pub image_b: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Show the file changes (with --layers and --config: only the sections asked for).
    #[arg(long)]
    pub files: bool,
    /// Show the layers.
    #[arg(long)]
    pub layers: bool,
    /// Show the configuration changes.
    #[arg(long)]
    pub config: bool,
    /// Read the images from their registries even when they are held locally.
    #[arg(long)]
    pub remote: bool,
    /// Platform to pick from multi-platform images.
    #[arg(long)]
    pub platform: Option<String>,
    /// Exit with status 1 when the images differ (and 0 when they do not).
    #[arg(long)]
    pub exit_code: bool,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).with_context(|| format!("invalid platform {p:?}"))?),
        None => None,
    };
    let settings = Settings::load()?;
    let store = Store::open()?;
    let a = source(&args.image_a, args.remote, &settings, &store)?;
    let b = source(&args.image_b, args.remote, &settings, &store)?;
    let c = compare_images(&store, (&args.image_a, &a), (&args.image_b, &b), platform.as_ref()).await?;
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&c)?),
        Format::Table => {
            let all = !(args.files || args.layers || args.config);
            table(&c, all || args.layers, all || args.config, all || args.files)
        }
    };
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    if args.exit_code && differ(&c) {
        return Err(output::SilentExit(1).into());
    }
    Ok(())
}

fn source(image: &str, remote: bool, settings: &Settings, store: &Store) -> anyhow::Result<Source> {
    if !remote {
        if let Some(img) = store.find(image, &settings.default_registry())? {
            return Ok(Source::Local(Box::new(img)));
        }
    }
    let r = parse_ref(image, settings)?;
    let client = client_for(&r, settings)?;
    Ok(Source::Remote(r, Box::new(client)))
}

/// Whether the two images differ at all.
pub fn differ(c: &Comparison) -> bool {
    c.from.digest != c.to.digest
        && (c.totals.layers_added + c.totals.layers_removed > 0 || !c.config.is_empty() || c.files_matching > 0)
}

fn short(d: &str) -> String {
    let hex = d.split_once(':').map_or(d, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn table(c: &Comparison, layers: bool, config: bool, files: bool) -> String {
    let mut out = String::new();
    for (what, s) in [("FROM", &c.from), ("TO", &c.to)] {
        out.push_str(&format!(
            "{what:<5} {}  {}{}\n",
            s.reference,
            short(&s.digest),
            s.platform.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
        ));
    }
    let t = &c.totals;
    if layers {
        out.push_str(&format!(
            "\nLAYERS: {} shared ({} from the base up), {} added ({}), {} removed ({})\n",
            t.layers_shared,
            t.base_layers_shared,
            t.layers_added,
            output::human_size(t.compressed_added),
            t.layers_removed,
            output::human_size(t.compressed_removed),
        ));
        let mut rows = vec![vec![
            "STATUS".into(),
            "LAYER".into(),
            "SIZE".into(),
            "CREATED BY".into(),
        ]];
        for l in &c.layers {
            let status = match l.status {
                LayerStatus::Shared => "shared",
                LayerStatus::Added => "added",
                LayerStatus::Removed => "removed",
            };
            rows.push(vec![
                status.into(),
                short(&l.digest),
                output::human_size(l.diff_size),
                output::ellipsis(&l.created_by.replace('\n', " "), 60),
            ]);
        }
        out.push_str(&output::table(&rows));
    }
    if config {
        out.push_str(&format!("\nCONFIG: {} changes\n", c.config.len()));
        if !c.config.is_empty() {
            let mut rows = vec![vec!["FIELD".into(), "KEY".into(), "FROM".into(), "TO".into()]];
            for x in &c.config {
                rows.push(vec![
                    x.field.clone(),
                    x.key.clone().unwrap_or_default(),
                    x.from.clone().unwrap_or_else(|| "-".into()),
                    x.to.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            out.push_str(&output::table(&rows));
        }
    }
    if files {
        out.push_str(&format!(
            "\nFILES: {} added, {} removed, {} modified (+{}, -{})\n",
            t.files_added,
            t.files_removed,
            t.files_modified,
            output::human_size(t.file_bytes_added),
            output::human_size(t.file_bytes_removed),
        ));
        for f in &c.files {
            out.push_str(&file_line(f));
        }
    }
    out
}

fn file_line(f: &FileChange) -> String {
    let (letter, detail) = match f.change {
        FileChangeKind::Added => (
            "A",
            f.to.as_ref().map(|s| output::human_size(s.size)).unwrap_or_default(),
        ),
        FileChangeKind::Removed => (
            "D",
            f.from.as_ref().map(|s| output::human_size(s.size)).unwrap_or_default(),
        ),
        FileChangeKind::Modified => ("M", f.differs.join(",")),
    };
    format!("{letter} /{}  {detail}\n", f.path)
}
